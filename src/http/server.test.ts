import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { fixturePath } from '../../test/fixtures/paths.js';
import { writesStdout } from '../../test/support/guests.js';
import { wat } from '../../test/support/wat.js';
import { Engine, type LoadedModule } from '../runtime/index.js';
import { type AccessLogEntry, type HttpApp, IsolaServer } from './server.js';
import type { WagiComponent } from './wagi.js';

const component = (module: LoadedModule): WagiComponent => ({ module, env: [], dirs: [] });

describe('IsolaServer', () => {
  const engine = new Engine({ workers: 2 });
  const access: AccessLogEntry[] = [];
  const appLines: string[] = [];
  const server = new IsolaServer({
    engine,
    log: { access: (entry) => access.push(entry), app: (_app, _component, _id, line) => appLines.push(line) },
    maxBodyBytes: 1000,
  });
  let base = '';
  let echo: LoadedModule;
  let hello: LoadedModule;

  before(async () => {
    echo = await engine.load(readFileSync(fixturePath('cgi-echo')));
    hello = await engine.load(await wat(writesStdout('Content-Type: text/plain\n\nhello\n')));
    const redirect = await engine.load(await wat(writesStdout('Location: /hello\n\n')));
    server.setApp({
      name: 'main',
      routes: [
        { pattern: '/echo/...', component: 'echo' },
        { pattern: '/hello', component: 'hello' },
        { pattern: '/go', component: 'redirect' },
      ],
      components: new Map([
        ['echo', component(echo)],
        ['hello', component(hello)],
        ['redirect', component(redirect)],
      ]),
    });
    const address = await server.listen(0);
    base = `http://127.0.0.1:${address.port}`;
  });
  after(async () => {
    await server.close();
    await engine.destroy();
  });

  test('routes a request to its component and answers with its response and a request id', async () => {
    const response = await fetch(`${base}/echo/x?q=1`, { method: 'POST', body: 'hi' });
    assert.equal(response.status, 200);
    assert.match(response.headers.get('x-request-id') ?? '', /^[0-9a-f]{8}-[0-9a-z]+$/);
    const text = await response.text();
    assert.match(text, /^path_info=\/x$/m);
    assert.match(text, /^body=hi$/m);
    const entry = access.find((line) => line.requestId === response.headers.get('x-request-id'));
    assert.equal(entry?.status, 200);
    assert.equal(entry?.app, 'main');
    assert.equal(entry?.component, 'echo');
  });

  test('answers 404 for a path no route matches, and serves health under /.well-known/isola/', async () => {
    assert.equal((await fetch(`${base}/nothing`)).status, 404);
    const health = await fetch(`${base}/.well-known/isola/health`);
    assert.equal(health.status, 200);
    const body = (await health.json()) as { status: string; apps: number };
    assert.equal(body.status, 'ok');
    assert.equal(body.apps, 1);
  });

  test('follows a local redirect inside the server', async () => {
    const response = await fetch(`${base}/go`);
    assert.equal(response.status, 200);
    assert.equal(await response.text(), 'hello\n');
  });

  test('refuses a declared body past maxBodyBytes with 413 before any app runs', async () => {
    const response = await fetch(`${base}/echo`, { method: 'POST', body: 'x'.repeat(2000) });
    assert.equal(response.status, 413);
  });

  test('refuses oversized header fields with 431', async () => {
    const reply = await rawRequest(
      base,
      `GET /hello HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
    );
    assert.match(reply, /^HTTP\/1\.1 431 /);
  });

  test('refuses a malformed request with 400', async () => {
    const reply = await rawRequest(base, 'NOT A REQUEST\r\n\r\n');
    assert.match(reply, /^HTTP\/1\.1 400 /);
  });

  test('chooses apps by host and by path prefix, and swaps an app atomically', async () => {
    const shop: HttpApp = {
      name: 'shop',
      prefix: '/shop',
      routes: [{ pattern: '/...', component: 'echo' }],
      components: new Map([['echo', component(echo)]]),
    };
    server.setApp(shop);
    const text = await (await fetch(`${base}/shop/cart`)).text();
    assert.match(text, /^script_name=\/shop$/m);
    assert.match(text, /^path_info=\/cart$/m);
    assert.throws(() => server.setApp({ ...shop, routes: [{ pattern: '/a', component: 'missing' }] }), {
      code: 'E_ROUTE_INVALID',
    });
    assert.equal((await fetch(`${base}/shop/cart`)).status, 200, 'the old version keeps serving');
    server.removeApp('shop');
    assert.equal((await fetch(`${base}/shop/cart`)).status, 404);
  });
});

function rawRequest(base: string, text: string): Promise<string> {
  const { port } = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1', () => socket.write(text));
    let reply = '';
    socket.on('data', (chunk) => {
      reply += chunk.toString();
    });
    socket.on('end', () => resolve(reply));
    socket.on('error', reject);
  });
}
