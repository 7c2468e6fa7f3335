import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import { fixturePath } from '../../test/fixtures/paths.js';
import { INFINITE_LOOP, UNREACHABLE, writesStdout } from '../../test/support/guests.js';
import { wat } from '../../test/support/wat.js';
import { Engine, INLINE_WORKER, type LoadedModule, type Outcome } from '../runtime/index.js';
import type { CgiRequest } from './cgi-env.js';
import { fromWebRequest, toWebResponse } from './message.js';
import { serveWagi, type WagiComponent, type WagiResult } from './wagi.js';

function cgiRequest(request: Request, pattern = '/echo/...', matched = '/echo'): CgiRequest {
  const url = new URL(request.url);
  return {
    method: request.method,
    url,
    headers: request.headers,
    remoteAddr: '127.0.0.1',
    protocol: 'HTTP/1.1',
    route: { base: '', pattern, matched, pathInfo: url.pathname.slice(matched.length) },
  };
}

describe('serveWagi', () => {
  const engine = new Engine({ workers: 2, spareWorkers: 1 });
  after(() => engine.destroy());
  const logged: { stderr: string[]; failures: string[] } = { stderr: [], failures: [] };
  const log = {
    stderr: (line: string) => logged.stderr.push(line),
    failure: (reason: string) => logged.failures.push(reason),
  };
  const component = (module: LoadedModule, extra: Partial<WagiComponent> = {}): WagiComponent => ({
    module,
    env: [],
    dirs: [],
    ...extra,
  });

  async function serve(module: LoadedModule, request: Request, extra: Partial<WagiComponent> = {}) {
    return serveWagi(
      engine,
      component(module, extra),
      fromWebRequest(request),
      cgiRequest(request),
      'req-1',
      log,
    );
  }

  function response(result: WagiResult): Response {
    assert.equal(result.kind, 'response');
    return toWebResponse((result as Extract<WagiResult, { kind: 'response' }>).response);
  }

  test('passes the request as CGI variables and stdin, and streams the response back', async () => {
    const module = await engine.load(readFileSync(fixturePath('cgi-echo')));
    const request = new Request('http://localhost:3000/echo/a%20b/c?x=1&y=2', {
      method: 'POST',
      headers: { 'content-type': 'text/plain', 'x-custom': 'yes', 'user-agent': 'test' },
      body: 'the body',
    });
    const reply = response(
      await serve(module, request, { env: [['REQUEST_METHOD', 'app cannot override']] }),
    );
    assert.equal(reply.status, 200);
    assert.equal(reply.headers.get('content-type'), 'text/plain; charset=utf-8');
    assert.equal(reply.headers.get('x-echo-method'), 'POST');
    const text = await reply.text();
    for (const line of [
      'method=POST',
      'script_name=/echo',
      'path_info=/a b/c',
      'query=x=1&y=2',
      'route=/echo/...',
      'content_type=text/plain',
      'HTTP_X_CUSTOM=yes',
      'HTTP_USER_AGENT=test',
      'body=the body',
    ]) {
      assert.ok(text.includes(`${line}\n`), `${line} in:\n${text}`);
    }
  });

  test('keeps an encoded slash encoded in PATH_INFO, so it cannot become a parent path', async () => {
    const module = await engine.load(readFileSync(fixturePath('cgi-echo')));
    const reply = response(await serve(module, new Request('http://localhost/echo/..%2Fadmin')));
    assert.match(await reply.text(), /^path_info=\/..%2Fadmin$/m);
  });

  test("uses the app's Status and sends its stderr to the log", async () => {
    const module = await engine.load(readFileSync(fixturePath('cgi-echo')));
    logged.stderr.length = 0;
    const result = await serve(module, new Request('http://localhost/echo?status=418&stderr=1'));
    const reply = response(result);
    assert.equal(reply.status, 418);
    await reply.text();
    assert.deepEqual(await (result as { outcome: Promise<Outcome> }).outcome, { kind: 'exit', code: 0 });
    assert.deepEqual(logged.stderr, ['cgi-echo: a line for the log']);
  });

  test('a Location path alone asks the server to serve that path instead', async () => {
    const module = await engine.load(await wat(writesStdout('Location: /elsewhere\n\n')));
    assert.deepEqual(await serve(module, new Request('http://localhost/echo')), {
      kind: 'local-redirect',
      location: '/elsewhere',
    });
  });

  const failures: [string, () => Promise<Uint8Array>, number, RegExp][] = [
    [
      'output without the blank line',
      () => wat(writesStdout('Content-Type: text/plain\nhello')),
      502,
      /blank line/,
    ],
    ['a bad Status', () => wat(writesStdout('Status: ok\n\n')), 502, /Status field/],
    ['no output at all', () => wat(writesStdout('')), 500, /wrote nothing/],
    ['a trap', () => wat(UNREACHABLE), 500, /trapped/],
  ];
  for (const [what, guest, status, reason] of failures) {
    test(`answers ${what} with ${status}, the request id, and the reason in the log only`, async () => {
      const module = await engine.load(await guest());
      logged.failures.length = 0;
      const reply = response(await serve(module, new Request('http://localhost/echo')));
      assert.equal(reply.status, status);
      const body = await reply.text();
      assert.match(body, /request id: req-1/);
      assert.doesNotMatch(body, reason, 'the reason is not shown to the client');
      assert.match(logged.failures.join('\n'), reason);
    });
  }

  test('answers a guest past its deadline with 504', async () => {
    const module = await engine.load(await wat(INFINITE_LOOP));
    const reply = response(
      await serve(module, new Request('http://localhost/echo'), { limits: { timeoutMs: 100 } }),
    );
    assert.equal(reply.status, 504);
  });

  test('answers a body past maxStdinBytes with 413', async () => {
    const module = await engine.load(readFileSync(fixturePath('cgi-echo')));
    const request = new Request('http://localhost/echo', { method: 'POST', body: 'x'.repeat(5000) });
    const reply = response(await serve(module, request, { limits: { maxStdinBytes: 1000 } }));
    assert.equal(reply.status, 413);
  });

  test('answers 503 with Retry-After when the queue is full', async () => {
    const small = new Engine({ workers: 1, spareWorkers: 0, maxQueue: 0 });
    try {
      const module = await small.load(await wat(INFINITE_LOOP));
      const limits = { timeoutMs: 200 };
      const request = () => new Request('http://localhost/echo');
      const busy = [1, 2].map(() =>
        serveWagi(
          small,
          component(module, { limits }),
          fromWebRequest(request()),
          cgiRequest(request()),
          'r',
          log,
        ),
      );
      const refused = response(
        await serveWagi(
          small,
          component(module, { limits }),
          fromWebRequest(request()),
          cgiRequest(request()),
          'r',
          log,
        ),
      );
      assert.equal(refused.status, 503);
      assert.equal(refused.headers.get('retry-after'), '1');
      await Promise.all(busy);
    } finally {
      await small.destroy();
    }
  });
});

describe('serveWagi, for a module that runs inline', () => {
  const engine = new Engine({ workers: 1, inline: { promoteAfterRuns: 1 } });
  after(() => engine.destroy());
  const failures: string[] = [];
  const stderr: string[] = [];
  const log = {
    stderr: (line: string) => stderr.push(line),
    failure: (reason: string) => failures.push(reason),
  };

  /** Loads `source` and runs it until the engine runs it inline. */
  async function inlineModule(source: string): Promise<LoadedModule> {
    const module = await engine.load(await wat(source));
    for (let i = 0; i < 20; i++) {
      if ((await engine.run(module)).metrics.worker === INLINE_WORKER) return module;
    }
    return assert.fail('the module never ran inline');
  }

  async function serve(module: LoadedModule): Promise<Response> {
    const request = new Request('http://localhost/echo/x?q=1');
    const component: WagiComponent = { module, env: [], dirs: [] };
    const result = await serveWagi(
      engine,
      component,
      fromWebRequest(request),
      cgiRequest(request),
      'req-2',
      log,
    );
    assert.equal(result.kind, 'response');
    return toWebResponse((result as Extract<WagiResult, { kind: 'response' }>).response);
  }

  test('answers from the whole output at once, with its status, reason, fields and body', async () => {
    const module = await inlineModule(
      writesStdout('Status: 201 Made\nContent-Type: text/plain\nX-Kind: inline\n\nall of it'),
    );
    const reply = await serve(module);
    assert.equal(reply.status, 201);
    assert.equal(reply.statusText, 'Made');
    assert.equal(reply.headers.get('x-kind'), 'inline');
    assert.equal(await reply.text(), 'all of it');
  });

  const bad: [string, string, number, RegExp][] = [
    ['output without the blank line', 'Content-Type: text/plain\nhello', 502, /blank line/],
    ['a bad Status', 'Status: ok\n\n', 502, /Status field/],
    ['no output at all', '', 500, /wrote nothing/],
  ];
  for (const [what, output, status, reason] of bad) {
    test(`answers ${what} with ${status} and the reason in the log only`, async () => {
      const module = await inlineModule(writesStdout(output));
      failures.length = 0;
      const reply = await serve(module);
      assert.equal(reply.status, status);
      const body = await reply.text();
      assert.match(body, /request id: req-2/);
      assert.doesNotMatch(body, reason);
      assert.match(failures.join('\n'), reason);
    });
  }

  test('a small body is read whole before the guest starts, so the invocation can run inline', async () => {
    const module = await engine.load(readFileSync(fixturePath('cgi-echo')));
    for (let i = 0; i < 20; i++) {
      if ((await engine.run(module, { stdin: 'warm' })).metrics.worker === INLINE_WORKER) break;
    }
    const seen: unknown[] = [];
    const spy = Object.create(engine) as Engine;
    spy.invoke = (target, options) => {
      seen.push(options?.stdin);
      return engine.invoke(target, options);
    };
    const request = new Request('http://localhost/echo/x', {
      method: 'POST',
      body: 'small body',
      headers: { 'content-length': '10' },
    });
    const result = await serveWagi(
      spy,
      { module, env: [], dirs: [] },
      fromWebRequest(request),
      cgiRequest(request),
      'r',
      log,
    );
    assert.ok(seen[0] instanceof Uint8Array, 'stdin went as bytes');
    const reply = toWebResponse((result as Extract<WagiResult, { kind: 'response' }>).response);
    assert.match(await reply.text(), /small body/);
  });
});
