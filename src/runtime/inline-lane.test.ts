import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { after, describe, test } from 'node:test';
import { fixturePath } from '../../test/fixtures/paths.js';
import { isolaErrorWith } from '../../test/support/errors.js';
import { HELLO_STDOUT, INFINITE_LOOP } from '../../test/support/guests.js';
import { wat } from '../../test/support/wat.js';
import { Engine, INLINE_WORKER, type RunResult } from './engine.js';

/** `spin(n)` prints "x" and counts to n; a big n takes far more fuel than a small one. */
const PRINT_THEN_SPIN = `(module
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 8) "\\10\\00\\00\\00\\01\\00\\00\\00x")
  (func (export "spin") (param $n i32) (result i32) (local $i i32)
    (drop (call $write (i32.const 1) (i32.const 8) (i32.const 1) (i32.const 0)))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
    (local.get $i)))`;

/** Sleeps 0.1 ms with poll_oneoff (a relative clock subscription), then exits 0. */
const SLEEP_1MS = `(module
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  ;; subscription at 0: userdata 0, tag 0 (clock), clock id 1 (monotonic) at 16, timeout 100,000 ns at 24
  (data (i32.const 16) "\\01\\00\\00\\00")
  (data (i32.const 24) "\\a0\\86\\01\\00\\00\\00\\00\\00")
  (func (export "_start") (drop (call $poll (i32.const 0) (i32.const 128) (i32.const 1) (i32.const 256)))))`;

/** Runs `run` until a run is inline (at most 20 times, as early worker runs may be slow); returns them all. */
async function runUntilInline(run: () => Promise<RunResult>): Promise<RunResult[]> {
  const runs: RunResult[] = [];
  while (runs.length < 20) {
    const result = await run();
    runs.push(result);
    if (result.metrics.worker === INLINE_WORKER) return runs;
  }
  assert.fail('the module never ran inline');
}

describe('the inline lane', () => {
  const engine = new Engine({ workers: 1, inline: { promoteAfterRuns: 2, fuel: 100_000 } });
  after(() => engine.destroy());

  test('a module runs on the calling thread after a streak of short worker runs, with the same result', async () => {
    const module = await engine.load(await wat(HELLO_STDOUT));
    const runs = await runUntilInline(() => engine.run(module));
    assert.notEqual(runs[0]?.metrics.worker, INLINE_WORKER, 'a new module starts on the workers');
    runs.push(await engine.run(module));
    assert.equal(runs.at(-1)?.metrics.worker, INLINE_WORKER, 'and stays inline');
    for (const run of runs) {
      assert.deepEqual(run.outcome, { kind: 'exit', code: 0 });
      assert.equal(Buffer.from(run.stdout).toString(), 'hello, world\n');
    }
    assert.equal(engine.stats().inlineModules, 1);
  });

  test('an inline run that runs out of fuel starts over on a worker, its first output discarded', async () => {
    const module = await engine.load(await wat(PRINT_THEN_SPIN));
    const spin = (n: number) => engine.run(module, { entry: { function: 'spin', args: [n] } });
    await runUntilInline(() => spin(10));
    const long = await spin(1_000_000);
    assert.deepEqual(long.outcome, { kind: 'return', values: [1_000_000] });
    assert.notEqual(long.metrics.worker, INLINE_WORKER, 'it ran on a worker');
    assert.equal(Buffer.from(long.stdout).toString(), 'x', 'the stopped run printed nothing that was kept');
    const next = await spin(10);
    assert.notEqual(next.metrics.worker, INLINE_WORKER, 'the module went back to the workers');
  });

  test('a guest that asks to sleep is moved to a worker rather than block the calling thread', async () => {
    const module = await engine.load(await wat(SLEEP_1MS));
    const runs = [];
    for (let i = 0; i < 4; i++) runs.push(await engine.run(module));
    for (const run of runs) {
      assert.deepEqual(run.outcome, { kind: 'exit', code: 0 });
      assert.notEqual(run.metrics.worker, INLINE_WORKER);
    }
  });

  test('an invocation that could not be replayed never runs inline', async () => {
    const module = await engine.load(await wat(HELLO_STDOUT));
    for (let i = 0; i < 3; i++) await engine.run(module);
    const streamed = await engine.run(module, { stdin: Readable.from([Buffer.from('in')]) });
    assert.notEqual(streamed.metrics.worker, INLINE_WORKER, 'a streamed stdin cannot be read twice');
    const writable = await engine.run(module, {
      dirs: [{ hostPath: import.meta.dirname, guestPath: '/w', readOnly: false }],
    });
    assert.notEqual(writable.metrics.worker, INLINE_WORKER, 'a writable directory could be written twice');
    const bytes = await engine.run(module, { stdin: 'in' });
    assert.equal(bytes.metrics.worker, INLINE_WORKER, 'stdin given as bytes can');
  });

  test('a guest that never ends well is never moved inline', async () => {
    const module = await engine.load(await wat(INFINITE_LOOP));
    for (let i = 0; i < 3; i++) {
      const run = await engine.run(module, { limits: { timeoutMs: 30 } });
      assert.equal(run.outcome.kind, 'timeout');
      assert.notEqual(run.metrics.worker, INLINE_WORKER);
    }
  });

  test('an engine can run without the inline lane', async () => {
    const plain = new Engine({ workers: 1, inline: { enabled: false, promoteAfterRuns: 1 } });
    try {
      const module = await plain.load(await wat(HELLO_STDOUT));
      for (let i = 0; i < 3; i++) {
        assert.notEqual((await plain.run(module)).metrics.worker, INLINE_WORKER);
      }
    } finally {
      await plain.destroy();
    }
  });
});

describe('bundles', () => {
  const engine = new Engine({ workers: 1, inline: { promoteAfterRuns: 2 } });
  after(() => engine.destroy());

  test('a bundle reads the same on a worker and inline, and the same files make the same bundle', async () => {
    const module = await engine.load(readFileSync(fixturePath('cat-file')));
    const files = { 'www/a.txt': Buffer.from('A'), 'www/sub/b.txt': Buffer.from('B') };
    const bundle = engine.loadBundle(files);
    assert.equal(engine.loadBundle({ ...files }).digest, bundle.digest);
    assert.equal(bundle.files, 2);
    assert.equal(bundle.byteLength, 2);
    const runs = await runUntilInline(() =>
      engine.run(module, {
        args: ['cat', '/www/a.txt', '/www/sub/b.txt'],
        bundles: [{ bundle, guestPath: '/' }],
      }),
    );
    for (const run of runs) assert.equal(Buffer.from(run.stdout).toString(), 'AB');
    engine.unloadBundle(bundle);
    engine.unloadBundle(bundle);
    assert.throws(
      () => engine.invoke(module, { bundles: [{ bundle, guestPath: '/' }] }),
      isolaErrorWith('E_ARGUMENT_INVALID', /is not loaded/),
    );
  });
});

describe('the inline lane and deep recursion', () => {
  const engine = new Engine({ workers: 1, inline: { promoteAfterRuns: 2, fuel: 100_000_000 } });
  after(() => engine.destroy());

  test('a guest that exhausts the calling thread’s stack starts over on a worker, whose stack is larger', async () => {
    // recurse(n) calls itself n deep with a big frame; small n is quick, large n needs a worker's stack.
    const module = await engine.load(
      await wat(`(module
        (memory (export "memory") 1)
        (func $recurse (export "recurse") (param $n i32) (result i32)
          (local i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64)
          (if (result i32) (i32.eqz (local.get $n))
            (then (i32.const 0))
            (else (i32.add (i32.const 1) (call $recurse (i32.sub (local.get $n) (i32.const 1))))))))`),
    );
    const recurse = (n: number) => engine.run(module, { entry: { function: 'recurse', args: [n] } });
    await runUntilInline(() => recurse(10));
    let depth = 1000;
    let inline = await recurse(depth);
    // Deepen until the calling thread's stack gives out (a worker's holds more).
    while (inline.outcome.kind === 'return' && inline.metrics.worker === INLINE_WORKER && depth < 1_000_000) {
      depth *= 2;
      inline = await recurse(depth);
    }
    assert.notEqual(inline.metrics.worker, INLINE_WORKER, `depth ${depth} ran on a worker`);
    assert.deepEqual(inline.outcome, { kind: 'return', values: [depth] }, 'and returned there');
  });
});
