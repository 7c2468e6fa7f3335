import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { COMPONENTS_DIR, componentFixtureBytes } from '../../test/fixtures/components/build.js';
import { fixtureBytes } from '../../test/fixtures/paths.js';
import { HELLO_STDOUT } from '../../test/support/guests.js';
import { wat } from '../../test/support/wat.js';
import { isIsolaError } from '../errors.js';
import type { ComponentInvocationResult } from './component-invocation.js';
import { type ComponentInvokeRequest, Engine, type LoadedComponent } from './engine.js';

// Transpiled output is content-addressed, so a cache beside the built fixtures is safe to keep.
const cacheDir = join(COMPONENTS_DIR, 'transpiled');

function get(path: string): ComponentInvokeRequest {
  return { method: 'GET', url: `http://app.test${path}`, headers: [] };
}

function text(result: ComponentInvocationResult): string {
  return Buffer.concat(result.response?.body ?? []).toString('utf8');
}

/** The result of a request that must have answered, with its response. */
function answered(result: ComponentInvocationResult) {
  if (result.response === undefined) {
    assert.fail(`expected a response, got ${JSON.stringify(result.outcome)}\n${Buffer.from(result.stderr)}`);
  }
  assert.deepEqual(result.outcome, { kind: 'return', values: [] });
  return { ...result.response, text: text(result) };
}

function median(times: number[]): number {
  const sorted = [...times].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

async function load(engine: Engine, fixture: string): Promise<LoadedComponent> {
  return engine.loadComponent(await componentFixtureBytes(fixture), { cacheDir });
}

describe('components on the engine', () => {
  const engine = new Engine({ workers: 2, spareWorkers: 1 });
  let hello: LoadedComponent;
  let loop: LoadedComponent;
  before(async () => {
    mkdirSync(cacheDir, { recursive: true });
    hello = await load(engine, 'hello-http');
    loop = await load(engine, 'infinite-loop');
  });
  after(() => engine.destroy());

  test('the hello component answers through the engine, on a worker thread', async () => {
    const result = await engine.invokeComponent(hello, get('/')).result;
    const response = answered(result);
    assert.equal(response.status, 200);
    assert.equal(response.text, 'hello from a component\n');
    assert.deepEqual(new Map(response.headers).get('content-type'), 'text/plain');
    assert.ok(result.metrics.worker >= 0, 'it ran on a worker, never inline');
    assert.ok(result.metrics.peakMemoryBytes > 0);
    assert.ok(result.metrics.runMs > 0);
  });

  test('loading the same bytes again returns the same component, addressed by its sha256', async () => {
    const bytes = await componentFixtureBytes('hello-http');
    const again = await engine.loadComponent(bytes, { cacheDir });
    assert.deepEqual(again, hello);
    assert.match(hello.digest, /^[0-9a-f]{64}$/);
    assert.equal(hello.byteLength, bytes.length);
    assert.equal(hello.handlerExport, 'wasi:http/incoming-handler@0.2.10');
    assert.ok(hello.imports.some((name) => name.startsWith('wasi:http/types@0.2.')));
    engine.unloadComponent(again);
  });

  test('every request gets a fresh instance: the module-level counter stays at 1', async () => {
    const results = await Promise.all(
      Array.from({ length: 6 }, () => engine.invokeComponent(hello, get('/count')).result),
    );
    for (const result of results) assert.equal(answered(result).text, '1');
  });

  test('the request head and body reach the component, and its status and headers come back', async () => {
    const body = new TextEncoder().encode('ping '.repeat(10_000));
    const echoed = answered(
      await engine.invokeComponent(hello, {
        method: 'POST',
        url: 'http://app.test/echo',
        headers: [['content-type', 'text/x-ping']],
        body,
      }).result,
    );
    assert.equal(echoed.text, 'ping '.repeat(10_000));
    assert.equal(new Map(echoed.headers).get('content-type'), 'text/x-ping');
    const teapot = answered(await engine.invokeComponent(hello, get('/teapot')).result);
    assert.equal(teapot.status, 418);
    assert.equal(new Map(teapot.headers).get('x-fixture'), 'teapot');
  });

  test('a guest computing past its deadline times out, and the pool serves the next request', async () => {
    const started = performance.now();
    const stuck = engine.invokeComponent(loop, { ...get('/'), limits: { timeoutMs: 300 } });
    const behind = [0, 1, 2].map(() => engine.invokeComponent(hello, get('/')));
    const result = await stuck.result;
    assert.deepEqual(result.outcome, { kind: 'timeout', afterMs: 300 });
    assert.equal(result.response, undefined);
    assert.ok(performance.now() - started < 5000);
    for (const request of behind) assert.equal(answered(await request.result).status, 200);
    assert.equal(answered(await engine.invokeComponent(hello, get('/')).result).status, 200);
    assert.equal(engine.stats().workers, 2);
  });

  test('a trap in the handler is a trap outcome', async () => {
    const trapping = await load(engine, 'trap-unreachable');
    const result = await engine.invokeComponent(trapping, get('/')).result;
    assert.deepEqual(result.outcome, { kind: 'trap', message: 'wasm `unreachable` instruction executed' });
    assert.equal(result.response, undefined);
  });

  test('a handler that ends without a response is an error outcome naming the fix', async () => {
    const { outcome } = await engine.invokeComponent(hello, get('/never')).result;
    assert.equal(outcome.kind, 'error');
    assert.equal(outcome.kind === 'error' && outcome.error.code, 'E_GUEST_TRAP');
    assert.match(outcome.kind === 'error' ? outcome.error.message : '', /without (setting|finishing)/);
  });

  test('a handler that runs out of memory under maxMemoryBytes ends without a response, saying so on stderr', async () => {
    const result = await engine.invokeComponent(hello, {
      ...get('/oom'),
      limits: { maxMemoryBytes: 32 * 1024 * 1024 },
    }).result;
    // StarlingMonkey catches its own allocation failure and ends the handler: no trap reaches the host.
    assert.equal(result.outcome.kind === 'error' && result.outcome.error.code, 'E_GUEST_TRAP');
    assert.match(Buffer.from(result.stderr).toString(), /out of memory/);
  });

  test('a body over maxStdinBytes is refused at once, before anything runs', () => {
    const request = {
      ...get('/echo'),
      method: 'POST',
      body: new Uint8Array(2048),
      limits: { maxStdinBytes: 1024 },
    };
    assert.throws(
      () => engine.invokeComponent(hello, request),
      (error) => isIsolaError(error, 'E_GUEST_INPUT_LIMIT'),
    );
  });

  test('a memory limit below what the component starts with is refused at once', () => {
    assert.throws(
      () => engine.invokeComponent(hello, { ...get('/'), limits: { maxMemoryBytes: 4 * 1024 * 1024 } }),
      (error) => isIsolaError(error, 'E_MEMORY_LIMIT'),
    );
  });

  test('an unknown digest, a module digest and a malformed request are refused at once', async () => {
    assert.throws(
      () => engine.invokeComponent('0'.repeat(64), get('/')),
      (error) => isIsolaError(error, 'E_MODULE_NOT_LOADED') && /loadComponent/.test(error.message),
    );
    const module = await engine.load(await wat(HELLO_STDOUT));
    assert.throws(
      () => engine.invokeComponent(module.digest, get('/')),
      (error) => isIsolaError(error, 'E_MODULE_NOT_LOADED') && /core module/.test(error.message),
    );
    assert.throws(
      () => engine.invoke(hello.digest),
      (error) => isIsolaError(error, 'E_MODULE_NOT_LOADED') && /invokeComponent/.test(error.message),
    );
    assert.throws(
      () => engine.invokeComponent(hello, { ...get('/'), url: '/relative' }),
      (error) => isIsolaError(error, 'E_ARGUMENT_INVALID'),
    );
    assert.throws(
      () => engine.invokeComponent(hello, { ...get('/'), method: 'GET /' }),
      (error) => isIsolaError(error, 'E_ARGUMENT_INVALID'),
    );
  });

  test('components the transpiler refuses are refused at load with its codes', async () => {
    await assert.rejects(load(engine, 'unknown-imports'), (error) =>
      isIsolaError(error, 'E_MODULE_UNSUPPORTED_IMPORTS'),
    );
    await assert.rejects(load(engine, 'command-no-handler'), (error) =>
      isIsolaError(error, 'E_MODULE_COMPONENT'),
    );
    await assert.rejects(
      engine.load(await componentFixtureBytes('trap-unreachable')),
      (error) => isIsolaError(error, 'E_MODULE_COMPONENT') && /loadComponent/.test(error.message),
    );
  });

  test('a bundle is mounted read-only where the request says, and the component reads it', async () => {
    const reader = await load(engine, 'read-file-http');
    const bundle = engine.loadBundle({
      'greeting.txt': new TextEncoder().encode('hello from a bundle\n'),
      'nested/deep.txt': new TextEncoder().encode('deep\n'),
    });
    const mounted = { bundles: [{ bundle, guestPath: '/static' }] };
    // Twice each, so that both workers are sent the bundle, or one worker reuses it.
    for (let i = 0; i < 2; i++) {
      const greeting = await engine.invokeComponent(reader, { ...get('/static/greeting.txt'), ...mounted })
        .result;
      assert.equal(answered(greeting).text, 'hello from a bundle\n');
      const deep = await engine.invokeComponent(reader, { ...get('/static/nested/deep.txt'), ...mounted })
        .result;
      assert.equal(answered(deep).text, 'deep\n');
    }
    const missing = answered(
      await engine.invokeComponent(reader, { ...get('/static/nope'), ...mounted }).result,
    );
    assert.equal(missing.status, 404);
    assert.match(missing.text, /no-entry/);
    const ungranted = answered(await engine.invokeComponent(reader, get('/static/greeting.txt')).result);
    assert.equal(ungranted.status, 404);
    assert.match(ungranted.text, /preopens: none/);
    engine.unloadBundle(bundle);
  });

  test('per request through the engine: median of 100 after warm-up, one at a time and 8 at once', async (t) => {
    for (let i = 0; i < 20; i++) await engine.invokeComponent(hello, get('/')).result;
    const serial: number[] = [];
    for (let i = 0; i < 100; i++) {
      const started = performance.now();
      answered(await engine.invokeComponent(hello, get('/')).result);
      serial.push(performance.now() - started);
    }
    const batches: number[] = [];
    for (let i = 0; i < 100; i++) {
      const started = performance.now();
      const results = await Promise.all(
        Array.from({ length: 8 }, () => engine.invokeComponent(hello, get('/')).result),
      );
      for (const result of results) answered(result);
      batches.push(performance.now() - started);
    }
    t.diagnostic(
      `hello component, 2 workers: one at a time ${median(serial).toFixed(2)} ms per request; ` +
        `8 at once ${median(batches).toFixed(2)} ms per batch (${(median(batches) / 8).toFixed(2)} ms per request)`,
    );
    assert.ok(median(serial) < 1000);
  });
});

/** When each line of the `/stream` route's body was written, by the guest's clock (Date.now()). */
function writtenAt(text: string): number[] {
  return [...text.matchAll(/written at (\d+)/g)].map((match) => Number(match[1]));
}

describe('streamed component responses and request bodies', () => {
  const engine = new Engine({ workers: 2, spareWorkers: 1 });
  let hello: LoadedComponent;
  before(async () => {
    mkdirSync(cacheDir, { recursive: true });
    hello = await load(engine, 'hello-http');
  });
  after(() => engine.destroy());

  test('a body written in chunks with pauses arrives chunk by chunk, the first before the last is written', async () => {
    const invocation = engine.invokeComponent(hello, get('/stream?chunks=4&delay=150'));
    const head = await invocation.head;
    assert.equal(head?.status, 200);
    assert.equal(invocation.settled, undefined, 'the head came while the handler still ran');
    const arrivals: number[] = [];
    const chunks: Uint8Array[] = [];
    for await (const chunk of invocation.body()) {
      arrivals.push(Date.now());
      chunks.push(chunk);
    }
    const written = writtenAt(Buffer.concat(chunks).toString());
    assert.equal(written.length, 4);
    assert.ok(chunks.length >= 4, `${chunks.length} chunks for 4 writes 150 ms apart`);
    assert.ok(
      (arrivals[0] as number) < (written[3] as number),
      `the first chunk arrived at ${arrivals[0]}, before the last was written at ${written[3]}`,
    );
    const result = await invocation.result;
    assert.deepEqual(result.outcome, { kind: 'return', values: [] });
    assert.deepEqual(result.response?.body, [], 'the chunks went to the reader, not into the result');
  });

  test('a small response that ends at once comes whole with the outcome, the head and result together', async () => {
    const invocation = engine.invokeComponent(hello, get('/'));
    assert.equal((await invocation.head)?.status, 200);
    assert.ok(invocation.settled, 'the head came with the done message');
    assert.equal(text(await invocation.result), 'hello from a component\n');
  });

  test('a large request body stream is echoed while it is still being sent, not read whole first', async () => {
    const payload = randomBytes(6 * 1024 * 1024);
    let lastSent = 0;
    async function* slowly() {
      for (let offset = 0; offset < payload.length; offset += 256 * 1024) {
        await sleep(5);
        yield payload.subarray(offset, offset + 256 * 1024);
      }
      lastSent = performance.now();
    }
    const invocation = engine.invokeComponent(hello, {
      method: 'POST',
      url: 'http://app.test/echo',
      headers: [],
      body: Readable.from(slowly()),
    });
    let firstReceived = 0;
    const hash = createHash('sha256');
    let received = 0;
    for await (const chunk of invocation.body()) {
      firstReceived ||= performance.now();
      hash.update(chunk);
      received += chunk.length;
    }
    assert.deepEqual((await invocation.result).outcome, { kind: 'return', values: [] });
    assert.equal(received, payload.length);
    assert.equal(hash.digest('hex'), createHash('sha256').update(payload).digest('hex'));
    assert.ok(
      firstReceived < lastSent,
      `the echo began ${(lastSent - firstReceived).toFixed(0)} ms before the request body was all sent`,
    );
  });

  test('a request body stream past maxStdinBytes ends the component with that limit, before any head', async () => {
    const invocation = engine.invokeComponent(hello, {
      method: 'POST',
      url: 'http://app.test/size',
      headers: [],
      body: Readable.from([Buffer.alloc(600 * 1024), Buffer.alloc(600 * 1024)]),
      limits: { maxStdinBytes: 1024 * 1024 },
    });
    assert.equal(await invocation.head, undefined);
    const { outcome } = await invocation.result;
    assert.equal(outcome.kind === 'limit' && outcome.limit, 'maxStdinBytes');
    const within = await engine.invokeComponent(hello, {
      method: 'POST',
      url: 'http://app.test/size',
      headers: [],
      body: Readable.from([Buffer.alloc(600 * 1024), Buffer.alloc(400 * 1024)]),
      limits: { maxStdinBytes: 1024 * 1024 },
    }).result;
    assert.equal(answered(within).text, String(1000 * 1024));
  });

  test('a component stopped after its head cuts its body: the reader gets what was written, then an error', async () => {
    // It writes two lines, then without end, until the host stops it at maxResponseBodyBytes.
    const invocation = engine.invokeComponent(hello, get('/stream?chunks=2&delay=20&flood'));
    assert.equal((await invocation.head)?.status, 200);
    const chunks: Uint8Array[] = [];
    await assert.rejects(
      async () => {
        for await (const chunk of invocation.body()) chunks.push(chunk);
      },
      (error) => isIsolaError(error) && /cut off/.test(error.message),
    );
    assert.match(Buffer.from(chunks[0] ?? []).toString(), /^chunk 1 written at/);
    const result = await invocation.result;
    assert.equal(result.outcome.kind === 'limit' && result.outcome.limit, 'maxResponseBodyBytes');
    assert.equal(result.response, undefined);
  });

  test('the deadline mid-body cuts the body with E_GUEST_TIMEOUT; before any head, there is no head', async () => {
    const streaming = engine.invokeComponent(hello, {
      ...get('/stream?chunks=100&delay=100'),
      limits: { timeoutMs: 600 },
    });
    assert.equal((await streaming.head)?.status, 200);
    await assert.rejects(
      async () => {
        for await (const _ of streaming.body());
      },
      (error) => isIsolaError(error, 'E_GUEST_TIMEOUT'),
    );
    assert.deepEqual((await streaming.result).outcome, { kind: 'timeout', afterMs: 600 });
    const sleeping = engine.invokeComponent(hello, { ...get('/sleep?ms=5000'), limits: { timeoutMs: 300 } });
    assert.equal(await sleeping.head, undefined);
    assert.equal((await sleeping.result).outcome.kind, 'timeout');
  });
});

describe('components and the pool', () => {
  test('past the queue, a component request is refused with E_OVERLOADED', async () => {
    const engine = new Engine({ workers: 1, spareWorkers: 0, maxQueue: 1 });
    try {
      const hello = await load(engine, 'hello-http');
      // One runs, one waits in the worker's pipeline, one in the queue: the fourth is refused.
      const accepted = [0, 1, 2].map(() => engine.invokeComponent(hello, get('/')));
      assert.throws(
        () => engine.invokeComponent(hello, get('/')),
        (error) => isIsolaError(error, 'E_OVERLOADED'),
      );
      for (const request of accepted) assert.equal(answered(await request.result).status, 200);
    } finally {
      await engine.destroy();
    }
  });

  test('a worker importing a component keeps later messages in order, preview1 invocations included', async () => {
    const engine = new Engine({ workers: 1, spareWorkers: 0, inline: { enabled: false } });
    try {
      const hello = await load(engine, 'hello-http');
      const module = await engine.load(await wat(HELLO_STDOUT));
      const order: string[] = [];
      const component = engine.invokeComponent(hello, get('/'));
      const preview1 = engine.invoke(module);
      const done = await Promise.all([
        component.result.finally(() => order.push('component')),
        preview1.result.finally(() => order.push('preview1')),
      ]);
      assert.deepEqual(order, ['component', 'preview1']);
      assert.equal(answered(done[0]).status, 200);
      assert.deepEqual(done[1].outcome, { kind: 'exit', code: 0 });
    } finally {
      await engine.destroy();
    }
  });

  test('a preview1 guest and a component on one worker share the bundles it was sent', async () => {
    const engine = new Engine({ workers: 1, spareWorkers: 0, inline: { enabled: false } });
    try {
      const reader = await load(engine, 'read-file-http');
      const cat = await engine.load(fixtureBytes('cat-file'));
      const bundle = engine.loadBundle({ 'note.txt': new TextEncoder().encode('shared\n') });
      const bundles = [{ bundle, guestPath: '/data' }];
      const run = await engine.run(cat, { args: ['cat', '/data/note.txt'], bundles });
      assert.equal(Buffer.from(run.stdout).toString(), 'shared\n');
      const result = await engine.invokeComponent(reader, { ...get('/data/note.txt'), bundles }).result;
      assert.equal(answered(result).text, 'shared\n');
    } finally {
      await engine.destroy();
    }
  });

  test('an unloaded component evicted from the cache is dropped by the workers, and runs again once reloaded', async () => {
    const helloBytes = await componentFixtureBytes('hello-http');
    const readerBytes = await componentFixtureBytes('read-file-http');
    // Room for one of the two components at a time.
    const engine = new Engine({ workers: 1, spareWorkers: 0, moduleCacheBytes: 20_000_000 });
    try {
      const hello = await engine.loadComponent(helloBytes, { cacheDir });
      assert.equal(answered(await engine.invokeComponent(hello, get('/')).result).status, 200);
      engine.unloadComponent(hello);
      const reader = await engine.loadComponent(readerBytes, { cacheDir });
      assert.throws(
        () => engine.invokeComponent(hello, get('/')),
        (error) => isIsolaError(error, 'E_MODULE_NOT_LOADED'),
      );
      engine.unloadComponent(reader);
      const reloaded = await engine.loadComponent(helloBytes, { cacheDir });
      assert.equal(reloaded.digest, hello.digest);
      assert.equal(answered(await engine.invokeComponent(reloaded, get('/count')).result).text, '1');
      assert.equal(engine.stats().cachedModules, 1);
    } finally {
      await engine.destroy();
    }
  });

  test('close lets a component request in flight finish, then refuses more', async () => {
    const engine = new Engine({ workers: 1, spareWorkers: 0 });
    const hello = await load(engine, 'hello-http');
    const inFlight = engine.invokeComponent(hello, get('/'));
    const closed = engine.close();
    assert.throws(
      () => engine.invokeComponent(hello, get('/')),
      (error) => isIsolaError(error, 'E_ENGINE_CLOSED'),
    );
    assert.equal(answered(await inFlight.result).status, 200);
    await closed;
  });

  test('destroy ends a component request in flight with E_ENGINE_CLOSED', async () => {
    const engine = new Engine({ workers: 1, spareWorkers: 0 });
    const loop = await load(engine, 'infinite-loop');
    const running = engine.invokeComponent(loop, get('/'));
    const queued = engine.invokeComponent(loop, get('/'));
    await new Promise((resolve) => setTimeout(resolve, 100));
    await engine.destroy();
    for (const request of [running, queued]) {
      const { outcome } = await request.result;
      assert.equal(outcome.kind === 'error' && outcome.error.code, 'E_ENGINE_CLOSED');
    }
  });

  test("an engine's own transpile cache is private to it and removed when it closes", async () => {
    const engine = new Engine({ workers: 1, spareWorkers: 0 });
    const before = new Set(readdirSync(tmpdir()).filter((name) => name.startsWith('isola-components-')));
    const trapping = await engine.loadComponent(await componentFixtureBytes('trap-unreachable'));
    // Other test files may make engines of their own meanwhile: this one's holds this component.
    const made = readdirSync(tmpdir())
      .filter((name) => name.startsWith('isola-components-') && !before.has(name))
      .map((name) => join(tmpdir(), name))
      .filter((dir) => existsSync(join(dir, trapping.digest)));
    assert.equal(made.length, 1);
    const dir = made[0] as string;
    assert.equal((await engine.invokeComponent(trapping, get('/')).result).outcome.kind, 'trap');
    await engine.close();
    assert.equal(existsSync(dir), false);
  });
});
