import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { componentFixture } from '../../test/fixtures/components/build.js';
import { lockApp } from '../app/index.js';
import { Engine } from '../runtime/index.js';
import { deployApp, undeployApp } from './deploy.js';
import { IsolaServer } from './server.js';

describe('serving a wasi:http component', () => {
  const dir = mkdtempSync(join(tmpdir(), 'isola-wasi-http-'));
  const engine = new Engine({ workers: 1 });
  const failures: string[] = [];
  const server = new IsolaServer({
    engine,
    log: { access: (entry) => entry.reason !== undefined && failures.push(entry.reason), app: () => {} },
  });
  let deployed: Awaited<ReturnType<typeof deployApp>>;

  before(
    async () => {
      copyFileSync(await componentFixture('hello-http'), join(dir, 'hello.wasm'));
      writeFileSync(
        join(dir, 'isola.toml'),
        'manifest_version = 1\n[application]\nname = "component"\n[[trigger.http]]\nroute = "/..."\ncomponent = "hello"\n' +
          '[component.hello]\nsource = "hello.wasm"\n[component.hello.limits]\ntimeout_ms = 2000\n',
      );
      deployed = await deployApp(engine, await lockApp(dir), { cacheDir: join(dir, 'cache') });
      server.setApp(deployed.http);
    },
    { timeout: 240_000 },
  );
  after(async () => {
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
});
