/**
 * `isola build` and `isola componentize` end to end: each test runs the CLI in a fresh Node
 * process (through tsx, the same `main(argv)` that bin/isola.js calls). componentize-js takes
 * 10-15 s per build, so one app is built once (its build command runs `isola componentize`) and
 * the tests share it; the failures are caught before componentize-js runs, and cost little.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { checkComponentWorld, readComponentWorld } from '../component/world.js';

const MAIN = new URL('./main.ts', import.meta.url).href;
const TSX = import.meta.resolve('tsx');
const ENTRY = `const { main } = await import(${JSON.stringify(MAIN)}); process.exitCode = await main(process.argv.slice(1));`;

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `isola ARGS` in `cwd` to its end. */
function isola(args: readonly string[], cwd: string): Promise<Result> {
  const child = spawn(
    process.execPath,
    ['--import', TSX, '--input-type=module', '-e', ENTRY, '--', ...args],
    {
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const result: Result = { code: null, stdout: '', stderr: '' };
  child.stdout.on('data', (chunk) => {
    result.stdout += chunk;
  });
  child.stderr.on('data', (chunk) => {
    result.stderr += chunk;
  });
  return new Promise((resolveRun, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolveRun({ ...result, code }));
  });
}

const HANDLER = `addEventListener('fetch', (event) =>
  event.respondWith(new Response('hello from a built component\\n')),
);
`;

function manifest(name: string, command: string): string {
  return [
    'manifest_version = 1',
    '[application]',
    `name = "${name}"`,
    '[[trigger.http]]',
    'route = "/..."',
    'component = "x"',
    '[component.x]',
    'source = "app.wasm"',
    '[component.x.build]',
    `command = ${JSON.stringify(command)}`,
    '',
  ].join('\n');
}

describe('isola build and isola componentize', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'isola-build-'));
  after(() => rmSync(scratch, { recursive: true, force: true }));

  const app = join(scratch, 'app');
  let built: Result;
  before(async () => {
    mkdirSync(app);
    writeFileSync(join(app, 'index.js'), HANDLER);
    writeFileSync(join(app, 'isola.toml'), manifest('js-app', 'isola componentize index.js -o app.wasm'));
    built = await isola(['build', app], scratch);
  });

  test('isola build runs a build command that calls isola componentize (this isola, first on PATH) and prints what it built', () => {
    assert.equal(built.code, 0, built.stderr);
    assert.ok(existsSync(join(app, 'app.wasm')), 'app.wasm is written');
    assert.match(built.stderr, /building x: isola componentize index\.js -o app\.wasm/);
    assert.match(built.stdout, /index\.js → app\.wasm \(\d+\.\d MB in [\d.]+ s\)/, 'componentize reports');
    assert.match(built.stdout, /built x: app\/app\.wasm \(\d+\.\d MB\)/);
    assert.match(built.stdout, /js-app is built and locks \(1 component, 1 route\)/);
    assert.deepEqual(
      readFileSync(join(app, 'isola.toml'), 'utf8'),
      manifest('js-app', 'isola componentize index.js -o app.wasm'),
    );
  });

  test("isola componentize's component exports wasi:http/incoming-handler and imports only what isola provides", () => {
    assert.equal(built.code, 0, built.stderr);
    const world = readComponentWorld(new Uint8Array(readFileSync(join(app, 'app.wasm'))));
    assert.match(checkComponentWorld(world), /^wasi:http\/incoming-handler@0\.2\.\d+$/);
    assert.ok(world.imports.includes('wasi:http/types@0.2.10'), world.imports.join(', '));
  });

  test('isola componentize refuses a syntax error with exit 1, naming the file and line, without a stack trace', async () => {
    const dir = join(scratch, 'syntax');
    mkdirSync(dir);
    writeFileSync(
      join(dir, 'broken.js'),
      "addEventListener('fetch', (event) => {\n  event.respondWith(;\n});\n",
    );
    const result = await isola(['componentize', 'broken.js', '-o', 'broken.wasm'], dir);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^isola: broken\.js:2: SyntaxError: /);
    assert.match(result.stderr, /fix the syntax error in broken\.js/);
    assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
    assert.ok(!existsSync(join(dir, 'broken.wasm')), 'nothing is written');
  });

  test('isola componentize refuses a wasi: import isola does not provide, naming it and what isola provides', async () => {
    const dir = join(scratch, 'imports');
    mkdirSync(dir);
    writeFileSync(
      join(dir, 'sockets.js'),
      `import { createTcpSocket } from 'wasi:sockets/tcp-create-socket@0.2.10';\n${HANDLER}`,
    );
    const result = await isola(['componentize', 'sockets.js'], dir);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /wasi:sockets\/tcp-create-socket@0\.2\.10 \(isola does not provide it\)/);
    assert.match(result.stderr, /isola provides .*wasi:http\/types@0\.2\.10/);
    assert.ok(!existsSync(join(dir, 'sockets.wasm')));
  });

  test('isola componentize says when the source does not exist', async () => {
    const result = await isola(['componentize', 'nowhere.js'], scratch);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /nowhere\.js: no such file: check the path/);
  });

  test('isola build reports a failing build command with exit 1, naming the component and the command', async () => {
    const dir = join(scratch, 'failing');
    mkdirSync(dir);
    writeFileSync(join(dir, 'isola.toml'), manifest('failing', 'echo compiling; exit 3'));
    const result = await isola(['build', dir], scratch);
    assert.equal(result.code, 1);
    assert.match(result.stdout, /^compiling$/m, "the command's output is shown");
    assert.match(
      result.stderr,
      /the build of component "x" failed \(exit code 3\): fix `echo compiling; exit 3` in /,
    );
  });
});
