import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { componentFixture } from '../../test/fixtures/components/build.js';
import { lockApp } from '../app/index.js';
import { Engine } from '../runtime/index.js';
import { deployApp, undeployApp } from './deploy.js';
import { IsolaServer } from './server.js';

/** The component's max_stdin_bytes in these tests. */
const MAX_BODY_BYTES = 8 * 1024 * 1024;

/** When each line of the `/stream` route's body was written, by the guest's clock (Date.now()). */
function writtenAt(text: string): number[] {
  return [...text.matchAll(/written at (\d+)/g)].map((match) => Number(match[1]));
}

/** A body in `pieces` of `size` bytes, sent `pauseMs` apart, as a Web stream with no length. */
function slowBody(
  payload: Buffer,
  size: number,
  pauseMs: number,
  sent: { at: number },
): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream({
    async pull(controller) {
      if (offset >= payload.length) {
        sent.at = performance.now();
        controller.close();
        return;
      }
      await sleep(pauseMs);
      controller.enqueue(payload.subarray(offset, offset + size));
      offset += size;
    },
  });
}

describe('serving a wasi:http component', () => {
  const dir = mkdtempSync(join(tmpdir(), 'isola-wasi-http-'));
  const engine = new Engine({ workers: 1 });
  const failures: string[] = [];
  const server = new IsolaServer({
    engine,
    log: { access: (entry) => entry.reason !== undefined && failures.push(entry.reason), app: () => {} },
  });
  let deployed: Awaited<ReturnType<typeof deployApp>>;
  let base: string;

  before(
    async () => {
      copyFileSync(await componentFixture('hello-http'), join(dir, 'hello.wasm'));
      writeFileSync(
        join(dir, 'isola.toml'),
        'manifest_version = 1\n[application]\nname = "component"\n[[trigger.http]]\nroute = "/..."\ncomponent = "hello"\n' +
          '[component.hello]\nsource = "hello.wasm"\n[component.hello.limits]\ntimeout_ms = 2000\n' +
          `max_stdin_bytes = ${MAX_BODY_BYTES}\n`,
      );
      deployed = await deployApp(engine, await lockApp(dir), { cacheDir: join(dir, 'cache') });
      server.setApp(deployed.http);
      base = `http://127.0.0.1:${(await server.listen(0)).port}`;
    },
    { timeout: 240_000 },
  );
  after(async () => {
    await server.close();
    undeployApp(engine, deployed);
    await engine.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  const get = (path: string, init?: RequestInit) =>
    server.handle(new Request(`http://app.test${path}`, init), '127.0.0.1');

  test('answers with the response the handler set: status, headers and body', async () => {
    const hello = await get('/');
    assert.equal(hello.status, 200);
    assert.equal(hello.headers.get('content-type'), 'text/plain');
    assert.equal(await hello.text(), 'hello from a component\n');
    const teapot = await get('/teapot');
    assert.equal(teapot.status, 418);
    assert.equal(teapot.headers.get('x-fixture'), 'teapot');
  });

  test('passes the request body and headers to the handler', async () => {
    const echoed = await get('/echo', {
      method: 'POST',
      body: 'the body',
      headers: { 'content-type': 'text/x-test' },
    });
    assert.equal(await echoed.text(), 'the body');
    assert.equal(echoed.headers.get('content-type'), 'text/x-test');
  });

  test('gives each request a fresh instance', async () => {
    for (let i = 0; i < 3; i++) assert.equal(await (await get('/count')).text(), '1');
  });

  test('answers a handler that ends without a response with 500, the reason in the log only', async () => {
    failures.length = 0;
    const reply = await get('/never');
    assert.equal(reply.status, 500);
    const body = await reply.text();
    assert.match(body, /request id: /);
    assert.equal(failures.length, 1);
    assert.ok(!body.includes(failures[0] as string), 'the reason is not shown to the client');
  });

  test('answers a handler that runs out of memory with 500', async () => {
    assert.equal((await get('/oom')).status, 500);
    assert.equal((await get('/')).status, 200, 'and the next request is served');
  });
  test('streams a body written in chunks with pauses to an HTTP client, the first before the last is written', async () => {
    const response = await fetch(`${base}/stream?chunks=4&delay=150`);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('transfer-encoding'), 'chunked');
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    let firstArrival = 0;
    const chunks: Uint8Array[] = [];
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      firstArrival ||= Date.now();
      chunks.push(value);
    }
    const written = writtenAt(Buffer.concat(chunks).toString());
    assert.equal(written.length, 4);
    assert.ok(
      firstArrival < (written[3] as number),
      `the first bytes reached the client at ${firstArrival}, before the last were written at ${written[3]}`,
    );
  });

  test('echoes a request body of several MiB over HTTP as it arrives, not read whole first', async () => {
    const payload = randomBytes(6 * 1024 * 1024);
    const { port } = new URL(base);
    let lastSent = 0;
    let firstReceived = 0;
    const hash = createHash('sha256');
    let received = 0;
    await new Promise<void>((resolve, reject) => {
      const request = httpRequest({ port, host: '127.0.0.1', path: '/echo', method: 'POST' }, (response) => {
        assert.equal(response.statusCode, 200);
        response.on('data', (chunk: Buffer) => {
          firstReceived ||= performance.now();
          hash.update(chunk);
          received += chunk.length;
        });
        response.on('end', resolve);
        response.on('error', reject);
      });
      request.on('error', reject);
      void (async () => {
        for (let offset = 0; offset < payload.length; offset += 256 * 1024) {
          request.write(payload.subarray(offset, offset + 256 * 1024));
          await sleep(5);
        }
        lastSent = performance.now();
        request.end();
      })();
    });
    assert.equal(received, payload.length);
    assert.equal(hash.digest('hex'), createHash('sha256').update(payload).digest('hex'));
    assert.ok(firstReceived < lastSent, 'the echo began before the request body was all sent');
  });

  test('answers 413 to a streamed body that passes max_stdin_bytes before the head, or one declared larger', async () => {
    failures.length = 0;
    const sent = { at: 0 };
    const streamed = await get('/size', {
      method: 'POST',
      body: slowBody(Buffer.alloc(MAX_BODY_BYTES + 1024 * 1024), 1024 * 1024, 1, sent),
      duplex: 'half',
    } as RequestInit);
    assert.equal(streamed.status, 413);
    assert.match(failures.join('\n'), /maxRequestBodyBytes/);
    const declared = await get('/size', {
      method: 'POST',
      body: new Uint8Array(16),
      headers: { 'content-length': String(MAX_BODY_BYTES + 1) },
    });
    assert.equal(declared.status, 413);
    const within = await get('/size', { method: 'POST', body: Buffer.alloc(MAX_BODY_BYTES) });
    assert.equal(await within.text(), String(MAX_BODY_BYTES));
  });

  test('cuts the connection when the component is stopped after its head, never a clean short body', async () => {
    // Two lines, then without end, until the host stops it at maxResponseBodyBytes.
    const response = await fetch(`${base}/stream?chunks=2&delay=20&flood`);
    assert.equal(response.status, 200);
    await assert.rejects(response.arrayBuffer(), /terminated/, 'the client sees the connection cut');
  });

  test('cuts the connection at the deadline mid-body, and answers 504 when nothing was sent', async () => {
    const response = await fetch(`${base}/stream?chunks=100&delay=100`);
    assert.equal(response.status, 200);
    await assert.rejects(response.text(), /terminated/, 'the client sees the connection cut');
    assert.equal((await fetch(`${base}/sleep?ms=5000`)).status, 504);
  });
});
