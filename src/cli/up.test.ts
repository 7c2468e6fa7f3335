/**
 * `isola up` end to end: each test starts the CLI in a fresh Node process (through tsx, the same
 * `main(argv)` that bin/isola.js calls) on port 0, makes real HTTP requests, and stops it with
 * SIGTERM. The examples in examples/ are served as a user would serve them.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, test } from 'node:test';

const ROOT = resolve(import.meta.dirname, '../..');
const MAIN = new URL('./main.ts', import.meta.url).href;
const TSX = import.meta.resolve('tsx');
const ENTRY = `const { main } = await import(${JSON.stringify(MAIN)}); process.exitCode = await main(process.argv.slice(1));`;

interface Running {
  origin: string;
  child: ChildProcess;
  output: { stdout: string; stderr: string };
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
}

/** Starts `isola up` and resolves once it prints where it serves (or rejects with its output if it exits). */
function up(args: readonly string[]): Promise<Running> {
  const child = spawn(
    process.execPath,
    ['--import', TSX, '--input-type=module', '-e', ENTRY, '--', 'up', ...args],
    {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const output = { stdout: '', stderr: '' };
  const exited = new Promise<number | null>((resolveExit) => child.once('exit', (code) => resolveExit(code)));
  child.stdout?.on('data', (chunk) => {
    output.stdout += chunk;
  });
  child.stderr?.on('data', (chunk) => {
    output.stderr += chunk;
  });
  return new Promise((resolveUp, reject) => {
    const timer = setTimeout(() => reject(new Error(`isola up did not start:\n${output.stderr}`)), 240_000);
    const check = () => {
      const match = /serving \S+ on (http:\/\/\S+)/.exec(output.stdout);
      if (!match) return;
      clearTimeout(timer);
      child.stdout?.off('data', check);
      resolveUp({
        origin: match[1] as string,
        child,
        output,
        stop: () => {
          child.kill('SIGTERM');
          return exited;
        },
      });
    };
    child.stdout?.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(Object.assign(new Error(`isola up exited with ${code}:\n${output.stderr}`), { code, output }));
    });
  });
}

async function failedUp(args: readonly string[]): Promise<{ code: number; stderr: string }> {
  try {
    const running = await up(args);
    await running.stop();
    assert.fail('isola up should have refused to start');
  } catch (error) {
    const { code, output } = error as { code: number; output: { stderr: string } };
    return { code, stderr: output.stderr };
  }
}

describe('isola up', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'isola-up-'));
  // Prepared runtimes (Python snapshots) go to a cache of this run's own, inherited by each `up`.
  process.env.ISOLA_CACHE_DIR = join(scratch, 'cache');
  after(() => rmSync(scratch, { recursive: true, force: true }));

  test('serves the C hello example, logs each request as JSON, and exits 0 on SIGTERM', async () => {
    const running = await up(['examples/hello', '--listen', '127.0.0.1:0']);
    try {
      const response = await fetch(`${running.origin}/hello/world`);
      assert.equal(response.status, 200);
      const text = await response.text();
      assert.match(text, /^Hello from hello\.wasm/);
      assert.match(text, /You asked for \/world/);
      assert.match(text, /\/static\/motd\.txt: Only the files/);
      assert.match(text, /\/etc\/passwd is not visible/);
      assert.equal((await fetch(`${running.origin}/other`)).status, 404);
      assert.match(running.output.stdout, /→ {2}hello/, 'the routes are printed');
    } finally {
      assert.equal(await running.stop(), 0);
    }
    const entries = running.output.stdout
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { path: string; status: number; requestId: string });
    assert.deepEqual(
      entries.map(({ path, status }) => [path, status]),
      [
        ['/hello/world', 200],
        ['/other', 404],
      ],
    );
  });

  test('serves the C echo example: method, headers and body', async () => {
    const running = await up(['examples/echo', '--listen', '127.0.0.1:0']);
    try {
      const response = await fetch(`${running.origin}/some/path?x=1`, {
        method: 'PUT',
        headers: { 'x-greeting': 'hi', 'content-type': 'text/plain' },
        body: 'payload',
      });
      const text = await response.text();
      assert.match(text, /^PUT \/some\/path\?/);
      assert.match(text, /query: x=1/);
      assert.match(text, /X_GREETING=hi/);
      assert.match(text, /CONTENT_TYPE=text\/plain/);
      assert.match(text, /payload\n\(7 bytes\)/);
    } finally {
      assert.equal(await running.stop(), 0);
    }
  });

  test('serves the C key-value example: state lives in the store, across requests and restarts', async () => {
    const store = join(scratch, 'kv-counter.sqlite');
    const args = ['examples/kv-counter', '--listen', '127.0.0.1:0', '--key-value', store];
    let running = await up(args);
    try {
      assert.match(await (await fetch(`${running.origin}/counter`)).text(), /^visits: 1\nkeys: visits\n$/);
      const put = await fetch(`${running.origin}/counter/note`, { method: 'PUT', body: 'kept' });
      assert.equal(put.status, 201);
      assert.equal(await (await fetch(`${running.origin}/counter/note`)).text(), 'kept');
    } finally {
      assert.equal(await running.stop(), 0);
    }
    running = await up(args);
    try {
      assert.match(
        await (await fetch(`${running.origin}/counter`)).text(),
        /^visits: 2\nkeys: note visits\n$/,
      );
      assert.equal((await fetch(`${running.origin}/counter/note`, { method: 'DELETE' })).status, 200);
      assert.equal((await fetch(`${running.origin}/counter/note`)).status, 404);
      assert.equal((await fetch(`${running.origin}/counter/bad..name`)).status, 400);
    } finally {
      assert.equal(await running.stop(), 0);
    }
  });

  test('serves the JavaScript component example: routing, a wasi:keyvalue counter, a wasi:config greeting', async () => {
    const store = join(scratch, 'js-counter.sqlite');
    const running = await up([
      'examples/js-counter',
      '--listen',
      '127.0.0.1:0',
      '--key-value',
      store,
      '--variable',
      'greeting=Bonjour',
    ]);
    try {
      assert.match(
        await (await fetch(`${running.origin}/js/`)).text(),
        /^Bonjour from a JavaScript component/,
      );
      const counts = await Promise.all(
        Array.from({ length: 4 }, async () =>
          Number(await (await fetch(`${running.origin}/js/count`, { method: 'POST' })).text()),
        ),
      );
      assert.deepEqual(
        counts.sort((a, b) => a - b),
        [1, 2, 3, 4],
      );
      assert.equal(
        (await fetch(`${running.origin}/js/notes/todo`, { method: 'PUT', body: 'milk' })).status,
        201,
      );
      assert.deepEqual(await (await fetch(`${running.origin}/js/notes`)).json(), ['todo']);
      assert.equal(await (await fetch(`${running.origin}/js/notes/todo`)).text(), 'milk');
      assert.equal((await fetch(`${running.origin}/js/count`, { method: 'DELETE' })).status, 405);
      assert.equal((await fetch(`${running.origin}/js/nowhere`)).status, 404);
    } finally {
      assert.equal(await running.stop(), 0);
    }
  });

  test('serves the outbound example: a granted host is reached, others are refused and logged', async () => {
    const running = await up(['examples/outbound', '--listen', '127.0.0.1:0']);
    try {
      assert.match(
        await (await fetch(`${running.origin}/outbound/allowed`)).text(),
        /\/outbound\/time answered 200: \{"now":"/,
      );
      assert.match(
        await (await fetch(`${running.origin}/outbound/denied`)).text(),
        /example\.com\/ was refused/,
      );
      assert.match(await (await fetch(`${running.origin}/outbound/metadata`)).text(), /was refused/);
    } finally {
      assert.equal(await running.stop(), 0);
    }
    assert.match(
      running.output.stderr,
      /isola: outbound GET https:\/\/example\.com:443 -> HTTP-request-denied/,
    );
    assert.match(
      running.output.stderr,
      /isola: outbound GET http:\/\/169\.254\.169\.254:80 -> HTTP-request-denied/,
    );
    assert.match(
      running.output.stderr,
      /isola: outbound GET http:\/\/127\.0\.0\.1:\d+ via 127\.0\.0\.1 -> 200/,
    );
  });

  test('serves the Python example: CPython reads the query string and a bundled file', async () => {
    const running = await up(['examples/python', '--listen', '127.0.0.1:0']);
    try {
      const response = await fetch(`${running.origin}/greet?name=isola`);
      assert.equal(response.headers.get('content-type'), 'application/json');
      assert.deepEqual(await response.json(), { greeting: 'Hello, isola!', path: '/greet' });
    } finally {
      assert.equal(await running.stop(), 0);
    }
  });

  test('serves a directory of Python, Ruby and JavaScript scripts with no manifest: routes from paths, JSON helpers, errors to the log', async () => {
    const running = await up(['test/fixtures/scripts-app', '--listen', '127.0.0.1:0']);
    try {
      const hello = await fetch(`${running.origin}/api/hello?name=Ada`);
      assert.equal(hello.headers.get('content-type'), 'application/json');
      assert.deepEqual(await hello.json(), { hello: 'Ada', method: 'GET' });
      assert.deepEqual(await (await fetch(`${running.origin}/api/users/7`)).json(), {
        id: '7',
        greeting: 'Welcome',
        name: 'user #7',
      });
      const echo = await fetch(`${running.origin}/api/echo`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ a: [1, 2] }),
      });
      assert.equal(echo.status, 201);
      assert.deepEqual(await echo.json(), { echo: { a: [1, 2] }, type: 'application/json' });
      assert.equal(await (await fetch(`${running.origin}/`)).text(), 'the index\n');
      const time = (await (await fetch(`${running.origin}/api/time?zone=UTC&x=a%20b`)).json()) as Record<
        string,
        unknown
      >;
      assert.equal(time.runtime, 'javascript');
      assert.equal(time.method, 'GET');
      assert.deepEqual(time.query, { zone: 'UTC', x: 'a b' });
      assert.ok(
        Math.abs(Date.parse(time.time as string) - Date.now()) < 60_000,
        'the guest sees the time now',
      );
      assert.equal(await (await fetch(`${running.origin}/api/outside`)).text(), 'FileNotFoundError\n');
      assert.deepEqual(await (await fetch(`${running.origin}/api/greet?name=Ada`)).json(), {
        greeting: 'Hello, Ada!',
        runtime: 'ruby',
        method: 'GET',
      });
      const boom = await fetch(`${running.origin}/api/boom`);
      assert.equal(boom.status, 500);
      const body = await boom.text();
      assert.match(body, /request id: /);
      assert.doesNotMatch(body, /RuntimeError/, 'the traceback stays in the log');
      await new Promise((resolveWait) => setTimeout(resolveWait, 50));
      assert.match(running.output.stderr, /RuntimeError: the boom script always fails/);
      assert.equal(
        (await fetch(`${running.origin}/_lib/names`)).status,
        404,
        'modules under _ are not endpoints',
      );
    } finally {
      assert.equal(await running.stop(), 0);
    }
  });

  test('refuses to start an app whose Python script does not compile, naming the file and line', async () => {
    const dir = join(scratch, 'syntax');
    mkdirSync(join(dir, 'api'), { recursive: true });
    writeFileSync(join(dir, 'api/ok.py'), 'print("Content-Type: text/plain\\n\\nok")\n');
    writeFileSync(join(dir, 'api/broken.py'), 'def broken(:\n    pass\n');
    const { code, stderr } = await failedUp([dir, '--listen', '127.0.0.1:0']);
    assert.equal(code, 1);
    assert.match(stderr, /SyntaxError: .*broken\.py, line 1/);
  });

  test("takes the app's variables from --variable, and refuses to start without a required one, naming it", async () => {
    const dir = join(scratch, 'variables');
    mkdirSync(dir);
    cpSync(join(ROOT, 'examples/hello/hello.wasm'), join(dir, 'hello.wasm'));
    writeFileSync(
      join(dir, 'isola.toml'),
      'manifest_version = 1\n[application]\nname = "greeter"\n[variables]\ngreeting = { required = true, secret = true }\n' +
        '[[trigger.http]]\nroute = "/..."\ncomponent = "app"\n[component.app]\nsource = "hello.wasm"\n' +
        'variables = { greeting = "{{ greeting }}" }\n',
    );
    const refused = await failedUp([dir, '--listen', '127.0.0.1:0']);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /variable greeting.*ISOLA_VARIABLE_GREETING/);
    const running = await up([dir, '--listen', '127.0.0.1:0', '--variable', 'greeting=Ahoy']);
    try {
      assert.match(await (await fetch(`${running.origin}/`)).text(), /^Ahoy from hello\.wasm/);
    } finally {
      assert.equal(await running.stop(), 0);
    }
    assert.doesNotMatch(running.output.stdout + running.output.stderr, /Ahoy/, 'no value in the logs');
  });

  test('refuses to start when the manifest names a missing file, naming it', async () => {
    const dir = join(scratch, 'missing');
    mkdirSync(dir);
    writeFileSync(
      join(dir, 'isola.toml'),
      'manifest_version = 1\n[application]\nname = "missing"\n[[trigger.http]]\nroute = "/..."\ncomponent = "app"\n' +
        '[component.app]\nsource = "nowhere.wasm"\n',
    );
    const { code, stderr } = await failedUp([dir, '--listen', '127.0.0.1:0']);
    assert.equal(code, 1);
    assert.match(stderr, /nowhere\.wasm/);
    assert.equal(stderr.trim().split('\n').length, 1, `one line: ${stderr}`);
  });

  test('says in one line when the port is in use', async () => {
    const blocker = createServer();
    await new Promise<void>((resolveListen) => blocker.listen(0, '127.0.0.1', resolveListen));
    const { port } = blocker.address() as { port: number };
    try {
      const { code, stderr } = await failedUp(['examples/echo', '--listen', `127.0.0.1:${port}`]);
      assert.equal(code, 1);
      assert.match(stderr.trim().split('\n').at(-1) ?? '', new RegExp(`port ${port} is in use`));
    } finally {
      blocker.close();
    }
  });

  test('--watch swaps in a changed manifest without a restart', async () => {
    const dir = join(scratch, 'watched');
    cpSync(join(ROOT, 'examples/hello'), dir, { recursive: true });
    const running = await up([dir, '--listen', '127.0.0.1:0', '--watch']);
    try {
      assert.match(await (await fetch(`${running.origin}/hello`)).text(), /^Hello from/);
      const manifest = join(dir, 'isola.toml');
      writeFileSync(
        manifest,
        readFileSync(manifest, 'utf8').replace('GREETING = "Hello"', 'GREETING = "Howdy"'),
      );
      let text = '';
      for (let attempt = 0; attempt < 100 && !text.startsWith('Howdy'); attempt++) {
        await new Promise((resolveWait) => setTimeout(resolveWait, 100));
        text = await (await fetch(`${running.origin}/hello`)).text();
      }
      assert.match(text, /^Howdy from/);
      assert.match(running.output.stdout, /reloaded hello/);
    } finally {
      assert.equal(await running.stop(), 0);
    }
  });
});
