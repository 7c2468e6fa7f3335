import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isolaErrorWith } from '../../test/support/errors.js';
import { Engine, type LoadedModule, type RunResult } from '../runtime/engine.js';
import { javaScriptModulePath, prepareJavaScript } from './javascript.js';

/** The app: test/fixtures/javascript, mounted at /app for every request. */
const APP_DIR = resolve(import.meta.dirname, '../../test/fixtures/javascript');
const APP_MOUNT = Object.freeze([{ hostPath: APP_DIR, guestPath: '/app', readOnly: true }]);
/** The first request starts the worker (~0.6 s under tsx) and compiles the engine's code lazily (~40 ms). */
const LIMITS = Object.freeze({ timeoutMs: 30_000 });

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

interface Request {
  args?: string[];
  env?: Record<string, string>;
  stdin?: string;
}

describe('the JavaScript runtime', () => {
  const engine = new Engine({ workers: 1, spareWorkers: 0 });
  let runner: LoadedModule;

  before(async () => {
    runner = await engine.load(await prepareJavaScript({ appDir: APP_DIR }));
  });
  after(() => engine.destroy());

  function request(script: string, options: Request = {}): Promise<RunResult> {
    return engine.run(runner, {
      args: ['js', `/app/${script}`, ...(options.args ?? [])],
      env: options.env ?? {},
      ...(options.stdin === undefined ? {} : { stdin: options.stdin }),
      dirs: APP_MOUNT,
      limits: LIMITS,
    });
  }

  /** The CGI response's body, after checking the script exited 0 and sent `contentType`. */
  function cgiBody(result: RunResult, contentType: string): string {
    assert.deepEqual(result.outcome, { kind: 'exit', code: 0 }, text(result.stderr));
    const output = text(result.stdout);
    const blank = output.indexOf('\n\n');
    assert.equal(output.slice(0, blank), `Content-Type: ${contentType}`);
    return output.slice(blank + 2);
  }

  test('the isola helper reads the request and writes a JSON response with its status and headers', async () => {
    const result = await request('helper-echo.js', {
      env: {
        REQUEST_METHOD: 'POST',
        PATH_INFO: '/x',
        QUERY_STRING: 'a=1&b=two%20words&c',
        X_PATH_PARAM_ID: '7',
      },
      stdin: '{"n": [1, 2]}',
    });
    assert.deepEqual(result.outcome, { kind: 'exit', code: 0 }, text(result.stderr));
    const [head, body] = text(result.stdout).split('\n\n');
    assert.equal(head, 'Status: 201\nContent-Type: application/json\nX-Echo: yes');
    assert.deepEqual(JSON.parse(body as string), {
      method: 'POST',
      path: '/x',
      query: { a: '1', b: 'two words', c: '' },
      params: { id: '7' },
      json: { n: [1, 2] },
    });
  });

  test('runs a script as a CGI handler with the request environment, arguments, stdin and a bundled file', async () => {
    const result = await request('hello-cgi.js', {
      args: ['extra'],
      env: { QUERY_STRING: 'name=ada', REQUEST_METHOD: 'POST' },
      stdin: 'the body',
    });
    assert.deepEqual(JSON.parse(cgiBody(result, 'application/json')), {
      greeting: 'Hello from a bundled file',
      query: 'name=ada',
      method: 'POST',
      body: 'the body',
      argv: ['js', '/app/hello-cgi.js', 'extra'],
      environ: ['QUERY_STRING', 'REQUEST_METHOD'],
      filename: '/app/hello-cgi.js',
      dirname: '/app',
    });
    assert.equal(text(result.stderr), '');
  });

  test('each request sees its own environment and arguments, not another request’s', async () => {
    const first = await request('hello-cgi.js', {
      args: ['one'],
      env: { QUERY_STRING: 'a=1', ONLY_FIRST: 'x' },
    });
    const second = await request('hello-cgi.js', { args: ['two', '2'], env: { QUERY_STRING: 'b=2' } });
    const [one, two] = [first, second].map((result) => JSON.parse(cgiBody(result, 'application/json')));
    assert.deepEqual(
      [one.query, one.argv, one.environ],
      ['a=1', ['js', '/app/hello-cgi.js', 'one'], ['ONLY_FIRST', 'QUERY_STRING']],
    );
    assert.deepEqual(
      [two.query, two.argv, two.environ],
      ['b=2', ['js', '/app/hello-cgi.js', 'two', '2'], ['QUERY_STRING']],
    );
  });

  test('echoes a JSON request body, and answers 400 to one that does not parse', async () => {
    const value = { name: 'ada', tags: ['x', 'y'], nested: { n: 1.5, ok: true, none: null } };
    const echoed = await request('json-echo.js', { stdin: JSON.stringify(value) });
    assert.deepEqual(JSON.parse(cgiBody(echoed, 'application/json')), {
      echo: value,
      type: 'object',
      bodyLength: JSON.stringify(value).length,
    });
    const invalid = await request('json-echo.js', { stdin: '{"unclosed": ' });
    assert.deepEqual(invalid.outcome, { kind: 'exit', code: 0 });
    assert.match(
      text(invalid.stdout),
      /^Status: 400 Bad Request\nContent-Type: text\/plain\n\ninvalid JSON: /,
    );
  });

  test('text crosses as UTF-8: characters outside the BMP are surrogate pairs inside, and invalid bytes U+FFFD', async () => {
    const result = await request('unicode-echo.js', { stdin: 'é€😀' });
    assert.deepEqual(result.outcome, { kind: 'exit', code: 0 }, text(result.stderr));
    assert.equal(text(result.stdout), `é€😀\n4 233,8364,128512\n😀 \uFFFD é\n`);
    const invalid = await engine.run(runner, {
      args: ['js', '/app/unicode-echo.js'],
      stdin: new Uint8Array([0x61, 0xff, 0xe2, 0x82, 0x62]),
      dirs: APP_MOUNT,
      limits: LIMITS,
    });
    assert.match(text(invalid.stdout), /^a\uFFFD\uFFFDb\n4 97,65533,65533,98\n/);
  });

  test('console.log prints strings as they are and other objects as JSON; console.error goes to stderr', async () => {
    const result = await request('console-values.js');
    assert.deepEqual(result.outcome, { kind: 'exit', code: 0 });
    assert.equal(
      text(result.stdout),
      'text 42 true null undefined {"a":[1,"two"]} [3] function named() { [ecmascript code] }\n[object Object]\n',
    );
    assert.equal(
      text(result.stderr),
      'to stderr TypeError: shown with its stack\n    at global (/app/console-values.js:6) preventsyield\n',
    );
  });

  test('an uncaught error exits with status 1 and the error’s stack on stderr, after the output so far', async () => {
    const result = await request('raise-error.js');
    assert.deepEqual(result.outcome, { kind: 'exit', code: 1 });
    assert.equal(text(result.stdout), 'before the error\n');
    assert.equal(
      text(result.stderr),
      'Error: the script failed on purpose\n' +
        '    at fail (/app/raise-error.js:3)\n' +
        '    at global (/app/raise-error.js:7) preventsyield\n',
    );
    const value = await request('throw-value.js');
    assert.deepEqual(value.outcome, { kind: 'exit', code: 1 });
    assert.equal(text(value.stderr), 'Uncaught {"reason":"not an Error"}\n');
  });

  test('a script that does not compile exits with status 1 and the SyntaxError with its line on stderr', async () => {
    // Written at run time: the linter would refuse a fixture that does not parse.
    const appDir = mkdtempSync(join(tmpdir(), 'isola-js-syntax-'));
    try {
      writeFileSync(join(appDir, 'syntax-error.js'), "print('fine');\nprint('unclosed'\nvar after = 1;\n");
      const result = await engine.run(runner, {
        args: ['js', '/app/syntax-error.js'],
        dirs: [{ hostPath: appDir, guestPath: '/app', readOnly: true }],
        limits: LIMITS,
      });
      assert.deepEqual(result.outcome, { kind: 'exit', code: 1 });
      assert.equal(text(result.stdout), '', 'nothing ran');
      assert.equal(text(result.stderr), '/app/syntax-error.js:3\nSyntaxError: parse error (line 3)\n');
    } finally {
      rmSync(appDir, { recursive: true, force: true });
    }
  });

  test('process.exit ends at once with its status, output flushed; process.exitCode sets the status of a normal end', async () => {
    const exited = await request('exit-status.js', { args: ['exit', '3'] });
    assert.deepEqual(exited.outcome, { kind: 'exit', code: 3 });
    assert.equal(text(exited.stdout), 'exiting\n');
    const coded = await request('exit-status.js', { args: ['code', '4'] });
    assert.deepEqual(coded.outcome, { kind: 'exit', code: 4 });
    const zero = await request('exit-status.js', { args: ['exit', '0'] });
    assert.deepEqual(zero.outcome, { kind: 'exit', code: 0 });
  });

  test('a script that does not exist exits with status 2 and says why', async () => {
    const result = await request('missing.js');
    assert.deepEqual(result.outcome, { kind: 'exit', code: 2 });
    assert.equal(
      text(result.stderr),
      "js: cannot open script '/app/missing.js': ENOENT: no such file or directory\n",
    );
  });

  test('reading outside the app directory throws an ordinary ENOENT, or EPERM for a ".." out of it', async () => {
    const result = await request('read-outside.js');
    assert.deepEqual(result.outcome, { kind: 'exit', code: 0 }, text(result.stderr));
    assert.equal(
      text(result.stdout),
      [
        "/etc/passwd ENOENT ENOENT: no such file or directory, open '/etc/passwd'",
        // The host refuses the escape; a path under no granted directory simply does not exist.
        "/app/../etc/passwd EPERM EPERM: operation not permitted, open '/app/../etc/passwd'",
        "../../etc/passwd ENOENT ENOENT: no such file or directory, open '../../etc/passwd'",
        "/tmp/isola-javascript-test ENOENT ENOENT: no such file or directory, open '/tmp/isola-javascript-test'",
        '',
      ].join('\n'),
    );
  });

  test('Math.random draws afresh in every request, and Date tells the host’s time', async () => {
    const before = Date.now();
    const draws = await Promise.all([request('random-draw.js'), request('random-draw.js')]);
    const after = Date.now();
    const [first, second] = draws.map((result) => text(result.stdout).trim().split(' '));
    assert.notEqual(first![0], second![0]);
    assert.notEqual(first![0], first![1]);
    for (const draw of [...first!.slice(0, 2), ...second!.slice(0, 2)]) {
      assert.ok(Number(draw) >= 0 && Number(draw) < 1, draw);
    }
    const now = Number(first![2]);
    assert.ok(Number.isInteger(now) && now >= before && now <= after, `${before} <= ${now} <= ${after}`);
    assert.equal(first![3], new Date(now).toISOString());
  });

  test('an infinite loop is stopped at the request’s deadline', async () => {
    const result = await engine.run(runner, {
      args: ['js', '/app/infinite-loop.js'],
      dirs: APP_MOUNT,
      limits: { timeoutMs: 300 },
    });
    assert.equal(result.outcome.kind, 'timeout');
  });

  test('reports the size of js.wasm and the median time of a CGI request', async (t) => {
    const times: number[] = [];
    await request('hello-cgi.js');
    for (let i = 0; i < 20; i++) {
      const started = performance.now();
      const result = await request('hello-cgi.js', { env: { QUERY_STRING: `i=${i}` }, stdin: 'body' });
      times.push(performance.now() - started);
      cgiBody(result, 'application/json');
    }
    const median = times.sort((a, b) => a - b)[times.length >> 1]!;
    t.diagnostic(
      `js.wasm ${statSync(javaScriptModulePath()).size} bytes; median of 20 fresh-instance requests via Engine.run ${median.toFixed(2)} ms`,
    );
  });
});

describe('prepareJavaScript refuses', () => {
  test('an app directory that does not exist', async () => {
    await assert.rejects(
      prepareJavaScript({ appDir: join(APP_DIR, 'no-such-dir') }),
      isolaErrorWith('E_APP_SOURCE_MISSING', /app directory ".*no-such-dir" does not exist: point appDir at/),
    );
  });

  test('a guest directory that is not a normalized absolute path', async () => {
    for (const guestDir of ['app', '/', '/app/../etc']) {
      await assert.rejects(
        prepareJavaScript({ appDir: APP_DIR, guestDir }),
        isolaErrorWith('E_PREOPEN_INVALID', /cannot hold the app: use a normalized absolute path/),
      );
    }
  });
});
