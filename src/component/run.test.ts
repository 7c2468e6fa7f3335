import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { COMPONENTS_DIR, componentFixtureBytes } from '../../test/fixtures/components/build.js';
import { type ComponentRequest, type ComponentResult, ComponentRunner, type RunOptions } from './run.js';
import { type CompiledComponent, compileComponent, transpileComponent } from './transpile.js';

let hello: CompiledComponent;
const runner = new ComponentRunner();
// Transpiled output is content-addressed, so a cache beside the built fixtures is safe to keep.
const cacheDir = join(COMPONENTS_DIR, 'transpiled');

before(async () => {
  mkdirSync(cacheDir, { recursive: true });
  hello = await compileComponent(
    await transpileComponent(await componentFixtureBytes('hello-http'), { cacheDir }),
  );
  await runner.load(hello);
});

function get(path: string, headers: [string, string][] = []): ComponentRequest {
  return { method: 'GET', url: `http://app.test${path}`, headers };
}

async function ok(request: ComponentRequest, options?: RunOptions) {
  const result = await runner.handle(hello, request, options);
  if (!result.ok) assert.fail(`${result.error.code}: ${result.error.message}\n${result.stderr}`);
  const { status, headers, body } = result.response;
  return {
    status,
    headers: new Map(headers),
    text: Buffer.concat(body).toString('utf8'),
    body: Buffer.concat(body),
  };
}

function failed(result: ComponentResult) {
  if (result.ok) assert.fail(`expected an error result, got status ${result.response.status}`);
  return result;
}

describe('wasi:http components', () => {
  test('the hello component answers with its greeting', async () => {
    const response = await ok(get('/'));
    assert.equal(response.status, 200);
    assert.equal(response.text, 'hello from a component\n');
    assert.equal(response.headers.get('content-type'), 'text/plain');
  });

  test('the component routes on the request path', async () => {
    assert.equal((await ok(get('/teapot'))).status, 418);
    const missing = await ok(get('/no/such/route?x=1'));
    assert.equal(missing.status, 404);
    assert.equal(missing.text, 'no such route\n');
  });

  test('a request body streamed in chunks is echoed back whole', async () => {
    const payload = randomBytes(300_000);
    async function* chunks() {
      for (let offset = 0; offset < payload.length; offset += 65_536)
        yield payload.subarray(offset, offset + 65_536);
    }
    const response = await ok({
      method: 'POST',
      url: 'http://app.test/echo',
      headers: [['content-type', 'application/x-test']],
      body: chunks(),
    });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'application/x-test');
    assert.ok(response.body.equals(payload), `echoed ${response.body.length} of ${payload.length} bytes`);
  });

  test('status and headers the component sets reach the response, and it sees the request headers', async () => {
    const teapot = await ok(get('/teapot'));
    assert.equal(teapot.status, 418);
    assert.equal(teapot.headers.get('x-fixture'), 'teapot');
    assert.equal(teapot.text, "I'm a teapot\n");
    const reflected = await ok(get('/headers', [['User-Agent', 'isola-test/1']]));
    assert.deepEqual(JSON.parse(reflected.text), { method: 'GET', agent: 'isola-test/1' });
    assert.equal(reflected.headers.get('content-type'), 'application/json');
  });

  test('every request gets a fresh instance: a module-level counter stays at 1', async () => {
    for (let i = 0; i < 3; i++) assert.equal((await ok(get('/count'))).text, '1');
  });

  test('a trap in the handler is a clear error result, and the next request still works', async () => {
    const trapping = await compileComponent(
      await transpileComponent(await componentFixtureBytes('trap-unreachable'), { cacheDir }),
    );
    const result = failed(await runner.handle(trapping, get('/')));
    assert.equal(result.error.code, 'E_GUEST_TRAP');
    assert.equal(result.error.message, 'the component trapped: unreachable');
    assert.equal((await ok(get('/'))).status, 200);
  });

  test('a handler that runs out of memory under maxMemoryBytes ends in an error result', async () => {
    const limits = { maxMemoryBytes: 32 * 1024 * 1024 };
    const result = failed(await runner.handle(hello, get('/oom'), { limits }));
    assert.equal(result.error.code, 'E_GUEST_TRAP');
    assert.match(result.stderr, /out of memory/);
  });

  test('a handler that ends without finishing its response is an error result naming the fix', async () => {
    const result = failed(await runner.handle(hello, get('/never')));
    assert.equal(result.error.code, 'E_GUEST_TRAP');
    assert.match(result.error.message, /without (setting a response|finishing its response body)/);
  });

  test('a request body over maxRequestBodyBytes is refused before the instance runs', async () => {
    const request = { ...get('/echo'), method: 'POST', body: new Uint8Array(2048) };
    const result = failed(await runner.handle(hello, request, { limits: { maxRequestBodyBytes: 1024 } }));
    assert.equal(result.error.code, 'E_GUEST_INPUT_LIMIT');
  });

  test('a fresh instance per request takes a few milliseconds once warm (median of 50)', async (t) => {
    for (let i = 0; i < 10; i++) await ok(get('/'));
    const times: number[] = [];
    for (let i = 0; i < 50; i++) {
      const result = await runner.handle(hello, get('/'));
      assert.ok(result.ok);
      times.push(result.durationMs);
    }
    times.sort((a, b) => a - b);
    const median = times[25]!;
    t.diagnostic(
      `per request: median ${median.toFixed(2)} ms, min ${times[0]!.toFixed(2)} ms, p90 ${times[45]!.toFixed(2)} ms`,
    );
    assert.ok(median < 1000, `median ${median} ms`);
  });
});
