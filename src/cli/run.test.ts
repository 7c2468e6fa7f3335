/**
 * `isola run` end to end: each test spawns the CLI in a fresh Node process (through tsx, the same
 * `main(argv)` that bin/isola.js calls, so no build step is needed) against guests assembled
 * from WAT into a scratch directory.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  BIG_STDOUT,
  CAT,
  EXIT_7,
  GROW_1MIB,
  HELLO_STDOUT,
  INFINITE_LOOP,
  PRINT_ARGS,
  PRINT_ENV,
  PRINT_PREOPEN,
  UNREACHABLE,
  WRITE_FILE,
} from '../../test/support/guests.js';
import { wat } from '../../test/support/wat.js';

const MAIN = new URL('./main.ts', import.meta.url).href;
const TSX = import.meta.resolve('tsx');
const ENTRY = `const { main } = await import(${JSON.stringify(MAIN)}); process.exitCode = await main(process.argv.slice(1));`;

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

interface IsolaOptions {
  input?: string;
  /** Start reading the child's stdout only after this many milliseconds, so its pipe fills. */
  readStdoutAfterMs?: number;
  env?: NodeJS.ProcessEnv;
  /** Leave stdin open (and idle) instead of closing it. */
  holdStdin?: boolean;
}

function isola(args: readonly string[], options: IsolaOptions = {}): Promise<Result> {
  const started = performance.now();
  const child = spawn(
    process.execPath,
    ['--import', TSX, '--input-type=module', '-e', ENTRY, '--', ...args],
    {
      cwd: scratch,
      env: options.env ?? process.env,
    },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8');
  const readStdout = () =>
    child.stdout.on('data', (chunk: string) => {
      stdout += chunk;
    });
  if (options.readStdoutAfterMs === undefined) readStdout();
  else setTimeout(readStdout, options.readStdoutAfterMs);
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  if (options.input !== undefined) child.stdin.end(options.input);
  else if (!options.holdStdin) child.stdin.end();
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      child.stdin.destroy();
      resolve({ code, stdout, stderr, ms: performance.now() - started });
    });
  });
}

/** Exactly one line on stderr, and no stack trace. */
function assertOneLine(result: Result, pattern: RegExp): void {
  const lines = result.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `expected one line on stderr, got:\n${result.stderr}`);
  assert.match(lines[0]!, pattern);
  assert.doesNotMatch(result.stderr, /^\s+at /m);
}

let scratch = '';

/** Guests by file name, assembled once. */
const GUESTS: Record<string, string> = {
  'hello.wasm': HELLO_STDOUT,
  'big-stdout.wasm': BIG_STDOUT,
  'exit-7.wasm': EXIT_7,
  'print-args.wasm': PRINT_ARGS,
  'print-env.wasm': PRINT_ENV,
  'print-preopen.wasm': PRINT_PREOPEN,
  'write-file.wasm': WRITE_FILE,
  'cat.wasm': CAT,
  'infinite-loop.wasm': INFINITE_LOOP,
  'unreachable.wasm': UNREACHABLE,
  'grow-1mib.wasm': GROW_1MIB,
  'env-imports.wasm': `(module
    (import "env" "foo" (func))
    (import "wasi_unstable" "fd_write" (func (param i32 i32 i32 i32) (result i32)))
    (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))
    (import "env" "bar" (func))
    (memory (export "memory") 1)
    (func (export "_start")))`,
  'reactor.wasm': '(module (memory (export "memory") 1) (func (export "_initialize")) (func (export "add")))',
  'big-memory.wasm': '(module (memory (export "memory") 32) (func (export "_start")))',
};

before(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'isola-cli-'));
  for (const [name, source] of Object.entries(GUESTS)) writeFileSync(join(scratch, name), await wat(source));
  const hello = readFileSync(join(scratch, 'hello.wasm'));
  writeFileSync(join(scratch, 'truncated.wasm'), hello.subarray(0, hello.length - 5));
  writeFileSync(join(scratch, 'notes.txt'), 'just some text\n');
  // A component's preamble (version 0x0d, layer 1) and an empty body.
  writeFileSync(join(scratch, 'component.wasm'), new Uint8Array([0, 0x61, 0x73, 0x6d, 0x0d, 0, 1, 0]));
  mkdirSync(join(scratch, 'data'));
});

after(() => rmSync(scratch, { recursive: true, force: true }));

describe('isola run', { concurrency: 3 }, () => {
  test('runs a command, passing its stdout through', async () => {
    const result = await isola(['run', 'hello.wasm']);
    assert.equal(result.stdout, 'hello, world\n');
    assert.equal(result.stderr, '');
    assert.equal(result.code, 0);
  });

  test('large output to a slow reader arrives whole', async () => {
    const result = await isola(['run', 'big-stdout.wasm'], { readStdoutAfterMs: 500 });
    assert.equal(result.stderr, '');
    assert.equal(result.code, 0);
    assert.equal(result.stdout.length, 4 * 1024 * 1024);
  });

  test("exits with the guest's exit code", async () => {
    const result = await isola(['run', 'exit-7.wasm']);
    assert.equal(result.code, 7);
    assert.equal(result.stderr, '');
  });

  test("argv[0] is the module's file name and options after MODULE belong to the guest", async () => {
    const result = await isola(['run', join(scratch, 'print-args.wasm'), '--foo', 'bar baz', '--trace']);
    assert.equal(result.stdout, 'print-args.wasm\n--foo\nbar baz\n--trace\n');
    assert.equal(result.code, 0);
  });

  test('--argv0 replaces the guest argv[0]', async () => {
    const result = await isola(['run', '--argv0', 'tool', 'print-args.wasm', 'x']);
    assert.equal(result.stdout, 'tool\nx\n');
  });

  test('--env sets variables and --env NAME passes the host value through', async () => {
    const result = await isola(
      ['run', '--env', 'A=1', '--env', 'B=x=y', '--env', 'FROM_HOST', 'print-env.wasm'],
      {
        env: { ...process.env, FROM_HOST: 'host value' },
      },
    );
    assert.equal(result.stdout, 'A=1\nB=x=y\nFROM_HOST=host value\n');
  });

  test('the guest sees no host environment unless granted', async () => {
    const result = await isola(['run', 'print-env.wasm'], { env: { ...process.env, SECRET: 'x' } });
    assert.equal(result.stdout, '');
    assert.equal(result.code, 0);
  });

  test('stdin is the process stdin', async () => {
    const result = await isola(['run', 'cat.wasm'], { input: 'line one\nline two\n' });
    assert.equal(result.stdout, 'line one\nline two\n');
    assert.equal(result.code, 0);
  });

  test('--dir grants a directory read-write, under its own path by default', async () => {
    const dir = join(scratch, 'data');
    const result = await isola(['run', '--dir', dir, 'write-file.wasm', 'dir.txt']);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(readFileSync(join(dir, 'dir.txt'), 'utf8'), 'hi');
    assert.equal((await isola(['run', '--dir', dir, 'print-preopen.wasm'])).stdout, `${dir}\n`);
  });

  test('--dir HOST::GUEST mounts the host directory at the guest path', async () => {
    const result = await isola(['run', '--dir', 'data::/mnt/data', 'print-preopen.wasm']);
    assert.equal(result.stdout, '/mnt/data\n');
  });

  test('--ro-dir grants a directory the guest cannot write', async () => {
    const result = await isola(['run', '--ro-dir', 'data::/data', 'write-file.wasm', 'refused.txt']);
    assert.ok(result.code !== null && result.code > 100, `exit ${result.code}: ${result.stderr}`);
    assert.throws(() => readFileSync(join(scratch, 'data', 'refused.txt')));
  });

  test('--trace logs each WASI call to stderr', async () => {
    const result = await isola(['run', '--trace', 'hello.wasm']);
    assert.equal(result.stdout, 'hello, world\n');
    assert.match(result.stderr, /^wasi: fd_write\(1, \d+, 1, \d+\) -> success$/m);
  });

  test('a trap prints one line with the reason and exits 134', async () => {
    const result = await isola(['run', 'unreachable.wasm']);
    assertOneLine(result, /^isola: trap: wasm `unreachable` instruction executed$/);
    assert.equal(result.code, 134);
  });

  test('--timeout stops an infinite loop and exits 124', async () => {
    const result = await isola(['run', '--timeout', '300ms', 'infinite-loop.wasm']);
    assertOneLine(result, /^isola: timeout: guest ran past 300ms$/);
    assert.equal(result.code, 124);
    assert.ok(result.ms < 5000, `took ${result.ms} ms`);
  });

  test('--timeout stops a guest waiting on an idle stdin, and the process exits', async () => {
    const result = await isola(['run', '--timeout', '300ms', 'cat.wasm'], { holdStdin: true });
    assertOneLine(result, /^isola: timeout: guest ran past 300ms$/);
    assert.equal(result.code, 124);
    assert.ok(result.ms < 5000, `took ${result.ms} ms`);
  });

  test('-W timeout= is accepted as wasmtime spells it', async () => {
    const result = await isola(['run', '-W', 'timeout=1', 'infinite-loop.wasm']);
    assertOneLine(result, /^isola: timeout: guest ran past 1s$/);
    assert.equal(result.code, 124);
  });

  test('--max-memory-size makes memory.grow fail past the cap', async () => {
    assert.equal((await isola(['run', 'grow-1mib.wasm'])).code, 0);
    assert.equal((await isola(['run', '--max-memory-size', '512K', 'grow-1mib.wasm'])).code, 1);
    assert.equal((await isola(['run', '-W', 'max-memory-size=2097152', 'grow-1mib.wasm'])).code, 0);
  });

  test('a module whose initial memory is over --max-memory-size is refused, naming both sizes', async () => {
    const result = await isola(['run', '--max-memory-size', '1M', 'big-memory.wasm']);
    assertOneLine(
      result,
      /^isola: big-memory\.wasm: memory 0 starts at 2097152 bytes \(32 pages\), more than the memory limit of 1048576 bytes: raise/,
    );
    assert.equal(result.code, 1);
  });
});

describe('isola run with bad input', { concurrency: 3 }, () => {
  test('a file that is not Wasm is refused, showing its first bytes', async () => {
    const result = await isola(['run', 'notes.txt']);
    assertOneLine(
      result,
      /^isola: notes\.txt: not a WebAssembly module: it starts with 6a 75 73 74 .*: pass a compiled/,
    );
    assert.equal(result.code, 1);
  });

  test('a truncated module is reported as truncated', async () => {
    const result = await isola(['run', 'truncated.wasm']);
    assertOneLine(result, /^isola: truncated\.wasm: module is truncated: .*copy or build it again$/);
    assert.equal(result.code, 1);
  });

  test('a component is refused as not supported yet', async () => {
    const result = await isola(['run', 'component.wasm']);
    assertOneLine(result, /^isola: component\.wasm: .*components are not supported by `isola run` yet/);
    assert.equal(result.code, 1);
  });

  test('every import isola does not provide is named in one line', async () => {
    const result = await isola(['run', 'env-imports.wasm']);
    assertOneLine(
      result,
      /^isola: env-imports\.wasm: module imports functions isola does not provide: env\.foo, wasi_unstable\.fd_write, env\.bar: /,
    );
    assert.equal(result.code, 1);
  });

  test('a module without _start is refused as not a command', async () => {
    const result = await isola(['run', 'reactor.wasm']);
    assertOneLine(
      result,
      /^isola: reactor\.wasm: module exports no _start function, so it is not a WASI command/,
    );
    assert.equal(result.code, 1);
  });

  test('a missing module file is named', async () => {
    const result = await isola(['run', 'missing.wasm']);
    assertOneLine(result, /^isola: missing\.wasm: no such file: check the path$/);
    assert.equal(result.code, 1);
  });

  test('a --dir that does not exist is refused before the guest runs', async () => {
    const result = await isola(['run', '--dir', 'nowhere::/data', 'hello.wasm']);
    assertOneLine(result, /^isola: --dir nowhere::\/data: directory nowhere does not exist: /);
    assert.equal(result.stdout, '');
    assert.equal(result.code, 1);
  });

  test('--env with an empty name is a usage error', async () => {
    const result = await isola(['run', '--env', '=x', 'hello.wasm']);
    assertOneLine(
      result,
      /^isola: --env =x: the variable name is empty: use --env NAME=VALUE or --env NAME$/,
    );
    assert.equal(result.code, 2);
  });

  test('--env passing through an unset variable is a usage error', async () => {
    const env = { ...process.env };
    delete env.ISOLA_TEST_UNSET;
    const result = await isola(['run', '--env', 'ISOLA_TEST_UNSET', 'hello.wasm'], { env });
    assertOneLine(
      result,
      /^isola: --env ISOLA_TEST_UNSET: ISOLA_TEST_UNSET is not set in isola's environment: /,
    );
    assert.equal(result.code, 2);
  });

  test('a bad --timeout is a usage error that shows the expected form', async () => {
    const result = await isola(['run', '--timeout', '5 parsecs', 'hello.wasm']);
    assertOneLine(result, /^isola: --timeout "5 parsecs" is not a valid duration .*: use e\.g\. 500ms, 2s/);
    assert.equal(result.code, 2);
    assert.equal((await isola(['run', '--timeout', '0s', 'hello.wasm'])).code, 2);
  });

  test('a bad --max-memory-size is a usage error that shows the expected form', async () => {
    const result = await isola(['run', '--max-memory-size', 'lots', 'hello.wasm']);
    assertOneLine(result, /^isola: --max-memory-size "lots" is not a valid size: use a number of bytes/);
    assert.equal(result.code, 2);
    assert.equal((await isola(['run', '--max-memory-size', '5G', 'hello.wasm'])).code, 2);
  });

  test('an unknown option before MODULE is a usage error', async () => {
    const result = await isola(['run', '--fuel', '10', 'hello.wasm']);
    assertOneLine(result, /^isola: unknown option '--fuel': see `isola run --help`$/);
    assert.equal(result.code, 2);
  });

  test('--debug adds the stack trace', async () => {
    const result = await isola(['run', '--debug', 'notes.txt']);
    assert.match(result.stderr, /^isola: notes\.txt: not a WebAssembly module/);
    assert.match(result.stderr, /^code: E_MODULE_INVALID$/m);
    assert.match(result.stderr, /^\s+at /m);
    assert.equal(result.code, 1);
  });
});

describe('isola --help', () => {
  test('lists the commands', async () => {
    const result = await isola(['--help']);
    assert.match(result.stdout, /^Usage: isola /);
    assert.match(result.stdout, /^ {2}run \[options\] <module> \[args\.\.\.\]/m);
    assert.equal(result.code, 0);
  });

  test('isola run --help documents the flags and the exit codes', async () => {
    const result = await isola(['run', '--help']);
    for (const flag of [
      '--dir',
      '--ro-dir',
      '--env',
      '--max-memory-size',
      '--timeout',
      '--trace',
      '--debug',
    ]) {
      assert.ok(result.stdout.includes(flag), `help lacks ${flag}`);
    }
    assert.match(result.stdout, /^ {2}124 +the guest ran past --timeout$/m);
    assert.match(result.stdout, /^ {2}134 +the guest trapped/m);
    assert.equal(result.code, 0);
  });
});
