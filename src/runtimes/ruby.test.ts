import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isolaErrorWith } from '../../test/support/errors.js';
import { wat } from '../../test/support/wat.js';
import { Engine, type EngineOptions, type LoadedModule, type RunResult } from '../runtime/engine.js';
import { prepareRuby, RUBY_WASM } from './ruby.js';
import { addRubyEntryPoints, RUBY_ENTRY } from './ruby-entry.js';
import { initializeSource } from './ruby-source.js';
import { Code, encodeBody } from './wasm-emit.js';
import { ModuleExtension } from './wasm-extend.js';

/** The app: test/fixtures/ruby, mounted at /app for the build and for every request. */
const APP_DIR = resolve(import.meta.dirname, '../../test/fixtures/ruby');
const APP_MOUNT = Object.freeze([{ hostPath: APP_DIR, guestPath: '/app', readOnly: true }]);
/** The first request compiles Ruby's code lazily, a second or two here; more on a busy machine. */
const LIMITS = Object.freeze({ timeoutMs: 30_000 });
/** One build of the snapshot takes 15-40 s on this 2-core machine (wizer compiles 11 MB of code). */
const BUILD_TIMEOUT_MS = 180_000;
/**
 * The snapshot's memory is about 70 MiB, past the engine's default for recycling memories
 * (16 MiB): a fresh memory per request costs ~20 ms of page faults here, a recycled one ~3 ms.
 * Memories that grew well past the snapshot's size are still dropped rather than recycled.
 */
const RECYCLING: EngineOptions = { memoryPool: { recycleMaxBytes: 96 * 1024 * 1024 } };

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

interface Request {
  args?: string[];
  env?: Record<string, string>;
  stdin?: string;
}

function run(
  engine: Engine,
  module: LoadedModule,
  script: string,
  request: Request = {},
): Promise<RunResult> {
  return engine.run(module, {
    args: ['ruby', `/app/${script}`, ...(request.args ?? [])],
    env: request.env ?? {},
    ...(request.stdin === undefined ? {} : { stdin: request.stdin }),
    dirs: APP_MOUNT,
    limits: LIMITS,
  });
}

/** ruby.wasm as a command that initializes Ruby and runs the script in every instance: what the snapshot saves. */
function withoutSnapshot(): Uint8Array {
  const wasm = readFileSync(createRequire(import.meta.url).resolve(RUBY_WASM));
  const entry = addRubyEntryPoints(wasm, initializeSource('/app', ['json', './_lib/preloaded'], true, false));
  const module = new ModuleExtension(entry);
  const start = new Code()
    .call(module.exportedFunction(RUBY_ENTRY.initialize)!)
    .call(module.exportedFunction(RUBY_ENTRY.resume)!);
  module.addFunction({ params: [], results: [] }, encodeBody([], start), '_start');
  return module.encode();
}

async function medianMs(runs: number, request: () => Promise<RunResult>): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    const result = await request();
    times.push(performance.now() - started);
    assert.deepEqual(result.outcome, { kind: 'exit', code: 0 }, text(result.stderr));
  }
  return times.sort((a, b) => a - b)[times.length >> 1]!;
}

describe('prepareRuby', () => {
  const engine = new Engine({ workers: 1, spareWorkers: 0, ...RECYCLING });
  let snapshotBytes: Uint8Array;
  let snapshot: LoadedModule;
  let buildMs: number;

  before(
    async () => {
      const started = performance.now();
      snapshotBytes = await prepareRuby({
        appDir: APP_DIR,
        preload: ['./_lib/preloaded'],
        checkSyntax: false,
      });
      buildMs = performance.now() - started;
      snapshot = await engine.load(snapshotBytes);
    },
    { timeout: BUILD_TIMEOUT_MS },
  );
  after(() => engine.destroy());

  const request = (script: string, options: Request = {}) => run(engine, snapshot, script, options);

  test('runs a script as a CGI handler with the request environment, arguments, stdin and a bundled file', async () => {
    const result = await request('hello-cgi.rb', {
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
      argv: ['extra'],
      environ: ['QUERY_STRING', 'REQUEST_METHOD'],
      program: '/app/hello-cgi.rb',
      file: '/app/hello-cgi.rb',
      main: true,
    });
    assert.equal(text(result.stderr), '');
  });

  test('each request sees its own environment and arguments, not the build’s or another request’s', async () => {
    const [first, second] = await Promise.all([
      request('hello-cgi.rb', { args: ['one'], env: { QUERY_STRING: 'a=1', ONLY_FIRST: 'x' } }),
      request('hello-cgi.rb', { args: ['two', '2'], env: { QUERY_STRING: 'b=2' } }),
    ]);
    const [one, two] = [first!, second!].map((result) => JSON.parse(text(result.stdout).split('\n\n')[1]!));
    assert.deepEqual([one.query, one.argv, one.environ], ['a=1', ['one'], ['ONLY_FIRST', 'QUERY_STRING']]);
    assert.deepEqual([two.query, two.argv, two.environ], ['b=2', ['two', '2'], ['QUERY_STRING']]);
  });

  test('Isola.request reads a JSON body and the request, and Isola.respond writes a JSON response', async () => {
    const result = await request('json-echo.rb', {
      env: {
        REQUEST_METHOD: 'PUT',
        PATH_INFO: '/items/7',
        QUERY_STRING: 'tag=a&tag=b&q=hello+world%21&season=%C3%A9t%C3%A9',
        CONTENT_TYPE: 'application/json',
        HTTP_X_TRACE_ID: 'abc',
        X_PATH_PARAM_ID: '7',
      },
      stdin: '{"name":"ada","tags":[1,2]}',
    });
    assert.deepEqual(result.outcome, { kind: 'exit', code: 0 }, text(result.stderr));
    const [head, body] = text(result.stdout).split('\n\n');
    assert.equal(head, 'Status: 201\nContent-Type: application/json\nX-Echo: yes');
    assert.deepEqual(JSON.parse(body!), {
      received: { name: 'ada', tags: [1, 2] },
      method: 'PUT',
      path: '/items/7',
      query: { tag: ['a', 'b'], q: 'hello world!', season: 'été' },
      headers: { 'x-trace-id': 'abc', 'content-type': 'application/json' },
      params: { id: '7' },
    });
  });

  test('an uncaught exception exits with status 1 and Ruby’s report, message and backtrace, on stderr', async () => {
    const result = await request('raise-error.rb');
    assert.deepEqual(result.outcome, { kind: 'exit', code: 1 });
    assert.equal(text(result.stdout), 'before the error\n');
    assert.equal(
      text(result.stderr),
      "/app/raise-error.rb:3:in 'Object#fail_on_purpose': the script failed on purpose (ArgumentError)\n" +
        '\n' +
        "  raise ArgumentError, 'the script failed on purpose'\n" +
        '        ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\n' +
        "\tfrom /app/raise-error.rb:6:in '<main>'\n",
    );
  });

  test('a script that does not compile exits with status 1 and the SyntaxError on stderr', async () => {
    const result = await request('syntax-error.rb');
    assert.deepEqual(result.outcome, { kind: 'exit', code: 1 });
    assert.equal(text(result.stdout), '');
    assert.match(
      text(result.stderr),
      /^\/app\/syntax-error\.rb: \/app\/syntax-error\.rb:2: syntax error, unexpected end-of-input, expecting '\)' \(SyntaxError\)\nputs\('unclosed'\n/,
    );
  });

  test('exit and abort set the exit status after at_exit handlers run and output is flushed', async () => {
    const status = await request('exit-status.rb', { args: ['3'] });
    assert.deepEqual(status.outcome, { kind: 'exit', code: 3 });
    assert.equal(text(status.stdout), 'exiting\nat_exit ran\n');
    const message = await request('exit-status.rb', { args: ['bye'] });
    assert.deepEqual(message.outcome, { kind: 'exit', code: 1 });
    assert.equal(text(message.stderr), 'bye\n');
    assert.deepEqual((await request('exit-status.rb', { args: ['0'] })).outcome, { kind: 'exit', code: 0 });
  });

  test('a script that does not exist exits with status 1, as ruby does', async () => {
    const result = await request('missing.rb');
    assert.deepEqual(result.outcome, { kind: 'exit', code: 1 });
    assert.equal(text(result.stderr), 'ruby: No such file or directory -- /app/missing.rb (LoadError)\n');
  });

  test('without the app directory mounted, a request exits with status 1 and says where to mount it', async () => {
    const result = await engine.run(snapshot, { args: ['ruby', '/app/hello-cgi.rb'], limits: LIMITS });
    assert.deepEqual(result.outcome, { kind: 'exit', code: 1 });
    assert.match(text(result.stderr), /needs the app directory mounted at \/app, as its only directory/);
  });

  test('reading outside the app directory raises Ruby’s ordinary Errno errors', async () => {
    const result = await request('read-outside.rb');
    assert.deepEqual(result.outcome, { kind: 'exit', code: 0 }, text(result.stderr));
    const lines = text(result.stdout).trimEnd().split('\n');
    assert.equal(lines.length, 4);
    for (const line of lines) assert.match(line, / Errno::(ENOENT|EACCES|EPERM|ENOTCAPABLE)$/);
  });

  test('Random is reseeded for each request, and SecureRandom reads WASI each time', async () => {
    const draws = await Promise.all([request('random-draw.rb'), request('random-draw.rb')]);
    const [first, second] = draws.map((result) => text(result.stdout).trim().split(' '));
    assert.equal(first![0], 'true', 'the build required securerandom, since random-draw.rb requires it');
    assert.notEqual(first![1], second![1], 'rand');
    assert.notEqual(first![2], second![2], 'SecureRandom.hex');
  });

  test('a preloaded app library was required by the build, with the build’s empty environment', async () => {
    const result = await request('use-preloaded.rb', { env: { REQUEST_METHOD: 'GET' } });
    assert.equal(text(result.stdout), 'already=true saw_request_environment=false\n');
  });

  test('a script that reaches for JavaScript traps, after saying why on stderr', async () => {
    const result = await request('js-interop.rb');
    assert.equal(result.outcome.kind, 'trap');
    assert.equal(text(result.stdout), 'before JavaScript\n');
    assert.match(text(result.stderr), /^isola: Ruby called rb-js-abi-host\.global-this, JavaScript interop/);
  });

  test('a script that never returns is stopped at the deadline', async () => {
    const result = await engine.run(snapshot, {
      args: ['ruby', '/app/loop-forever.rb'],
      dirs: APP_MOUNT,
      limits: { ...LIMITS, timeoutMs: 500 },
    });
    assert.equal(result.outcome.kind, 'timeout');
  });

  test('reports the time of a request from the snapshot and without one', { timeout: 120_000 }, async (t) => {
    // The engine's defaults here: a memory that grew is recycled at its grown size, where Ruby's
    // allocator would not find the pages it had before, so Ruby without a snapshot (which grows
    // its memory from a few pages to ~70 MiB) runs on fresh memories.
    const defaults = new Engine({ workers: 1, spareWorkers: 0 });
    try {
      const [unrecycled, plain] = [
        await defaults.load(snapshotBytes),
        await defaults.load(withoutSnapshot()),
      ];
      const hello = (on: Engine, module: LoadedModule, i: number) => () =>
        run(on, module, 'hello-cgi.rb', { env: { QUERY_STRING: `i=${i}` } });
      // One request each first, so that compiling the code lazily is not counted.
      await hello(engine, snapshot, -1)();
      await hello(defaults, unrecycled, -1)();
      await hello(defaults, plain, -1)();
      let i = 0;
      const recycledMs = await medianMs(20, () => hello(engine, snapshot, i++)());
      const unrecycledMs = await medianMs(20, () => hello(defaults, unrecycled, i++)());
      // Every run without the snapshot starts Ruby (seconds): a few are enough for a median.
      const withoutMs = await medianMs(3, () => hello(defaults, plain, i++)());
      t.diagnostic(
        `snapshot: built in ${(buildMs / 1000).toFixed(1)} s, ${(snapshotBytes.length / 1048576).toFixed(1)} MiB; ` +
          `median of 20 hello requests via Engine.run: ${recycledMs.toFixed(1)} ms with memories recycled, ` +
          `${unrecycledMs.toFixed(1)} ms with the engine's default memory pool; ` +
          `without the snapshot: ${withoutMs.toFixed(0)} ms (median of 3)`,
      );
    } finally {
      await defaults.destroy();
    }
  });
});

describe('prepareRuby refuses', () => {
  test('an app with a .rb file that does not compile, with Ruby’s report', {
    timeout: BUILD_TIMEOUT_MS,
  }, async () => {
    await assert.rejects(
      prepareRuby({ appDir: APP_DIR }),
      isolaErrorWith(
        'E_PREINIT_FAILED',
        /^initializing Ruby failed: \/app\/syntax-error\.rb:2: syntax error, .*\(SyntaxError\): fix the app .* and its \.rb files compile$/,
      ),
    );
  });

  test('a ruby.wasm without the exports it uses, before running anything', async () => {
    await assert.rejects(
      prepareRuby({ appDir: APP_DIR, wasm: await wat('(module (func (export "_initialize")))') }),
      isolaErrorWith('E_MODULE_UNSUPPORTED', /this ruby\.wasm does not export "ruby-init: func/),
    );
  });

  test('a preload entry that is neither a library name nor an app path', async () => {
    await assert.rejects(
      prepareRuby({ appDir: APP_DIR, preload: ['json', '../secrets', 'lib/x.rb; system("x")'] }),
      isolaErrorWith('E_ARGUMENT_INVALID', /cannot preload "\.\.\/secrets", "lib\/x\.rb; system\(\\"x\\"\)"/),
    );
  });

  test('a guest directory that is not a normalized absolute path', async () => {
    for (const guestDir of ['app', '/', '/app/../etc', "/it's"]) {
      await assert.rejects(
        prepareRuby({ appDir: APP_DIR, guestDir }),
        isolaErrorWith('E_PREOPEN_INVALID', /cannot hold the app: use a normalized absolute path/),
      );
    }
  });
});
