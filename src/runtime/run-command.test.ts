import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { after, describe, test } from 'node:test';
import { wat } from '../../test/support/wat.js';
import { isIsolaError } from '../errors.js';
import { type CommandConfig, runCommand } from './run-command.js';

const NO_GRANTS: CommandConfig = { args: ['guest.wasm'], env: [], dirs: [], limits: {}, trace: false };

async function compile(source: string): Promise<WebAssembly.Module> {
  return WebAssembly.compile((await wat(source)) as Uint8Array<ArrayBuffer>);
}

const EXIT_7 = `(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (func (export "_start") (call $exit (i32.const 7))))`;

/** Creates `$path` (from argv[1]) under the first preopen, fd 3, and writes "hi" to it. */
const WRITE_FILE = `(module
  (import "wasi_snapshot_preview1" "args_get" (func $args_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 512) "hi")
  (func $strlen (param $p i32) (result i32) (local $n i32)
    (block $done (loop $next
      (br_if $done (i32.eqz (i32.load8_u (i32.add (local.get $p) (local.get $n)))))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br $next)))
    (local.get $n))
  (func (export "_start") (local $path i32) (local $errno i32)
    (drop (call $args_get (i32.const 0) (i32.const 64)))
    (local.set $path (i32.load (i32.const 4)))
    ;; oflags CREAT|TRUNC, rights FD_WRITE
    (local.set $errno (call $path_open (i32.const 3) (i32.const 0) (local.get $path) (call $strlen (local.get $path))
      (i32.const 9) (i64.const 64) (i64.const 0) (i32.const 0) (i32.const 256)))
    (if (local.get $errno) (then (call $exit (i32.add (i32.const 100) (local.get $errno)))))
    (i32.store (i32.const 300) (i32.const 512))
    (i32.store (i32.const 304) (i32.const 2))
    (call $exit (call $fd_write (i32.load (i32.const 256)) (i32.const 300) (i32.const 1) (i32.const 308)))))`;

/**
 * Reads stdin 3 bytes at a time until end of input; exits with 1000 * (first byte) + bytes read,
 * so the outcome shows both that data arrived and that it arrived whole across several reads.
 */
const COUNT_STDIN = `(module
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (func (export "_start") (local $total i32) (local $n i32)
    (i32.store (i32.const 0) (i32.const 100))
    (i32.store (i32.const 4) (i32.const 3))
    (loop $more
      (if (call $fd_read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8)) (then (call $exit (i32.const 1))))
      (local.set $n (i32.load (i32.const 8)))
      (if (i32.eqz (local.get $total)) (then (i32.store8 (i32.const 200) (i32.load8_u (i32.const 100)))))
      (local.set $total (i32.add (local.get $total) (local.get $n)))
      (i32.store (i32.const 0) (i32.add (i32.const 100) (i32.rem_u (local.get $total) (i32.const 64))))
      (br_if $more (local.get $n)))
    (call $exit (i32.add (i32.mul (i32.load8_u (i32.const 200)) (i32.const 1000)) (local.get $total)))))`;

describe('runCommand', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'isola-run-command-'));
  after(() => rmSync(scratch, { recursive: true, force: true }));

  test('the exit code of proc_exit is the outcome', async () => {
    const outcome = await runCommand({ module: await compile(EXIT_7), config: NO_GRANTS });
    assert.deepEqual(outcome, { kind: 'exit', code: 7 });
  });

  test('a _start that returns exits with code 0', async () => {
    const module = await compile('(module (memory (export "memory") 1) (func (export "_start")))');
    assert.deepEqual(await runCommand({ module, config: NO_GRANTS }), { kind: 'exit', code: 0 });
  });

  test('a trap is an outcome with the trap reason', async () => {
    const module = await compile(
      '(module (memory (export "memory") 1) (func (export "_start") unreachable))',
    );
    assert.deepEqual(await runCommand({ module, config: NO_GRANTS }), {
      kind: 'trap',
      message: 'wasm `unreachable` instruction executed',
    });
  });

  test('runaway recursion is a trap, not a host error', async () => {
    const module = await compile(
      '(module (memory (export "memory") 1) (func $f (export "_start") (call $f)))',
    );
    assert.deepEqual(await runCommand({ module, config: NO_GRANTS }), {
      kind: 'trap',
      message: 'call stack exhausted',
    });
  });

  test('an infinite loop is stopped at its deadline', async () => {
    const module = await compile(
      '(module (memory (export "memory") 1) (func (export "_start") (loop $forever (br $forever))))',
    );
    const started = performance.now();
    const outcome = await runCommand({ module, config: NO_GRANTS, timeoutMs: 200 });
    const elapsed = performance.now() - started;
    assert.deepEqual(outcome, { kind: 'timeout', afterMs: 200 });
    assert.ok(elapsed >= 200 && elapsed < 2000, `stopped after ${elapsed} ms`);
  });

  test('stdin is relayed from the given stream until its end', async () => {
    const stdin = Readable.from([Buffer.from('hello '), Buffer.from('world')]);
    const outcome = await runCommand({ module: await compile(COUNT_STDIN), config: NO_GRANTS, stdin });
    assert.deepEqual(outcome, { kind: 'exit', code: 'h'.charCodeAt(0) * 1000 + 11 });
  });

  test('a guest blocked reading an idle stdin is stopped at its deadline', async () => {
    const stdin = new PassThrough();
    const outcome = await runCommand({
      module: await compile(COUNT_STDIN),
      config: NO_GRANTS,
      stdin,
      timeoutMs: 200,
    });
    assert.deepEqual(outcome, { kind: 'timeout', afterMs: 200 });
    assert.equal(stdin.listenerCount('readable'), 0);
  });

  test('a guest that never reads stdin leaves the stream untouched', async () => {
    const stdin = new PassThrough();
    await runCommand({ module: await compile(EXIT_7), config: NO_GRANTS, stdin });
    assert.equal(stdin.listenerCount('readable'), 0);
    assert.equal(stdin.readableFlowing, null);
  });

  test('a granted directory is writable through its preopen', async () => {
    const config: CommandConfig = {
      ...NO_GRANTS,
      args: ['guest.wasm', 'out.txt'],
      dirs: [{ hostPath: scratch, guestPath: '/data', readOnly: false }],
    };
    const outcome = await runCommand({ module: await compile(WRITE_FILE), config });
    assert.deepEqual(outcome, { kind: 'exit', code: 0 });
    assert.equal(readFileSync(join(scratch, 'out.txt'), 'utf8'), 'hi');
  });

  test('a read-only directory refuses the write with an errno, not a crash', async () => {
    const config: CommandConfig = {
      ...NO_GRANTS,
      args: ['guest.wasm', 'refused.txt'],
      dirs: [{ hostPath: scratch, guestPath: '/data', readOnly: true }],
    };
    const outcome = await runCommand({ module: await compile(WRITE_FILE), config });
    assert.equal(outcome.kind, 'exit');
    assert.ok(outcome.kind === 'exit' && outcome.code > 100, `exit ${JSON.stringify(outcome)}`);
  });

  test('a missing directory is refused before any worker starts', async () => {
    const config: CommandConfig = {
      ...NO_GRANTS,
      dirs: [{ hostPath: join(scratch, 'missing'), guestPath: '/data', readOnly: false }],
    };
    await assert.rejects(runCommand({ module: await compile(EXIT_7), config }), (error: unknown) =>
      isIsolaError(error, 'E_PREOPEN_INVALID'),
    );
  });

  test('an import that does not link is an error outcome naming it', async () => {
    // A JS function links to any function signature, so the mismatch has to be in the kind.
    const module = await compile(`(module
      (import "wasi_snapshot_preview1" "fd_write" (global i32))
      (memory (export "memory") 1)
      (func (export "_start")))`);
    const outcome = await runCommand({ module, config: NO_GRANTS });
    assert.equal(outcome.kind, 'error');
    assert.ok(outcome.kind === 'error' && outcome.error.code === 'E_MODULE_UNSUPPORTED_IMPORTS');
    assert.match(outcome.kind === 'error' ? outcome.error.message : '', /fd_write/);
  });

  test('a timeout outside its range is refused', async () => {
    await assert.rejects(
      runCommand({ module: await compile(EXIT_7), config: NO_GRANTS, timeoutMs: 0 }),
      (error: unknown) => isIsolaError(error, 'E_LIMIT_OUT_OF_RANGE'),
    );
  });
});
