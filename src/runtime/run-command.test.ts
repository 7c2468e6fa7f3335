import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { after, describe, test } from 'node:test';
import { COUNT_STDIN, EXIT_7, INFINITE_LOOP, UNREACHABLE, WRITE_FILE } from '../../test/support/guests.js';
import { wat } from '../../test/support/wat.js';
import { isIsolaError } from '../errors.js';
import { type CommandConfig, runCommand } from './run-command.js';

const NO_GRANTS: CommandConfig = { args: ['guest.wasm'], env: [], dirs: [], limits: {}, trace: false };

async function compile(source: string): Promise<WebAssembly.Module> {
  return WebAssembly.compile((await wat(source)) as Uint8Array<ArrayBuffer>);
}

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
    const module = await compile(UNREACHABLE);
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
    const module = await compile(INFINITE_LOOP);
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
