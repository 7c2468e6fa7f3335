import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { fixturePath } from '../../test/fixtures/paths.js';
import {
  ADDER_REACTOR,
  FD_PROBE,
  GROW_BY_ARG,
  PRINT_THEN_LOOP,
  STATE_PROBE,
} from '../../test/support/engine-guests.js';
import {
  BIG_STDOUT,
  CAT,
  COUNT_STDIN,
  HELLO_STDOUT,
  INFINITE_LOOP,
  UNREACHABLE,
} from '../../test/support/guests.js';
import { wat } from '../../test/support/wat.js';
import { isIsolaError } from '../errors.js';
import { Engine } from './engine.js';

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
const REFERENCE_TYPES = { reference_types: true, bulk_memory: true };

describe('Engine', () => {
  const engine = new Engine({ workers: 2, spareWorkers: 1 });
  const scratch = mkdtempSync(join(tmpdir(), 'isola-engine-'));
  after(async () => {
    await engine.destroy();
    rmSync(scratch, { recursive: true, force: true });
  });

  describe('load', () => {
    test('addresses a module by the sha256 of its bytes and classifies it', async () => {
      const bytes = await wat(HELLO_STDOUT);
      const module = await engine.load(bytes);
      assert.match(module.digest, /^[0-9a-f]{64}$/);
      assert.equal(module.kind, 'command');
      assert.equal(module.byteLength, bytes.length);
      assert.deepEqual(await engine.load(bytes.slice()), module, 'the same bytes load to the same module');
      const reactor = await engine.load(await wat(ADDER_REACTOR));
      assert.equal(reactor.kind, 'reactor');
    });

    test('refuses at load a module whose imports isola cannot satisfy, naming them', async () => {
      const bytes = await wat(`(module
        (import "env" "now" (func))
        (import "wasi_snapshot_preview1" "sock_connect" (func))
        (memory (export "memory") 1) (func (export "_start")))`);
      await assert.rejects(
        engine.load(bytes),
        (error) =>
          isIsolaError(error, 'E_MODULE_UNSUPPORTED_IMPORTS') &&
          /env\.now/.test(error.message) &&
          /wasi_snapshot_preview1\.sock_connect/.test(error.message),
      );
    });

    test('refuses at load a WASI import with the wrong signature', async () => {
      const bytes = await wat(`(module
        (import "wasi_snapshot_preview1" "fd_write" (func (param i32) (result i32)))
        (memory (export "memory") 1) (func (export "_start")))`);
      await assert.rejects(
        engine.load(bytes),
        (error) => isIsolaError(error, 'E_MODULE_IMPORT_SIGNATURE') && /fd_write/.test(error.message),
      );
    });

    test('refuses bytes that are not a module, and components', async () => {
      await assert.rejects(engine.load(new TextEncoder().encode('#!/bin/sh\n')), (error) =>
        isIsolaError(error, 'E_MODULE_INVALID'),
      );
      const component = new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00]);
      await assert.rejects(engine.load(component), (error) => isIsolaError(error, 'E_MODULE_COMPONENT'));
    });

    test('loads a module pre-initialized, so no invocation repeats its initialization', async () => {
      const original = await engine.load(readFileSync(fixturePath('preinit-table')));
      const snapshot = await engine.load(readFileSync(fixturePath('preinit-table')), {
        preinitialize: { renames: { _start: 'wizer.resume' }, env: { PREINIT_SEED: '42' } },
      });
      assert.notEqual(snapshot.digest, original.digest, 'the snapshot is a module of its own');
      const cold = await engine.run(original, { env: { PREINIT_SEED: '42' } });
      const warm = await engine.run(snapshot);
      assert.deepEqual(warm.outcome, { kind: 'exit', code: 0 });
      assert.equal(text(warm.stdout), text(cold.stdout), 'the same table either way');
      // The counters live in the snapshot: initialization ran once, when it was taken, never again.
      assert.match(text(warm.stderr), /preinitialized=yes init_runs=1 ctor_runs=1 main_runs=1/);
      assert.match(text(cold.stderr), /preinitialized=no/);
    });

    test('a module that is not loaded cannot be invoked', () => {
      assert.throws(
        () => engine.invoke('0'.repeat(64)),
        (error) => isIsolaError(error, 'E_MODULE_NOT_LOADED') && /engine\.load/.test(error.message),
      );
    });

    test('refuses to load past the cache bound while every cached module is in use', async () => {
      const hello = await wat(HELLO_STDOUT);
      const small = new Engine({ workers: 1, spareWorkers: 0, moduleCacheBytes: hello.length + 10 });
      try {
        const first = await small.load(hello);
        const other = await wat(UNREACHABLE);
        await assert.rejects(small.load(other), (error) => isIsolaError(error, 'E_MODULE_CACHE_FULL'));
        small.unload(first);
        const loaded = await small.load(other);
        assert.equal(small.stats().cachedModules, 1, 'the unloaded module was evicted to make room');
        assert.equal((await small.run(loaded)).outcome.kind, 'trap');
      } finally {
        await small.destroy();
      }
    });
  });

  describe('invoke', () => {
    test('runs a command and reports its output, exit code and metrics', async () => {
      const module = await engine.load(await wat(HELLO_STDOUT));
      const result = await engine.run(module, { args: ['hello'] });
      assert.deepEqual(result.outcome, { kind: 'exit', code: 0 });
      assert.equal(text(result.stdout), 'hello, world\n');
      const { metrics } = result;
      assert.equal(metrics.stdoutBytes, 13);
      assert.equal(metrics.stderrBytes, 0);
      assert.equal(metrics.peakMemoryBytes, 65536);
      assert.equal(metrics.maxMemoryBytes, 128 * 1024 * 1024, 'the default cap');
      assert.equal(metrics.reusedInstance, false);
      for (const time of [metrics.queueMs, metrics.instantiateMs, metrics.runMs]) {
        assert.ok(time >= 0 && time < 10_000, `a time in milliseconds, got ${time}`);
      }
      assert.ok(metrics.worker >= 0);
    });

    test('runs a C command built with wasi-libc', async () => {
      const module = await engine.load(readFileSync(fixturePath('hello-stdout')));
      const result = await engine.run(module, { args: ['hello-stdout'] });
      assert.deepEqual(result.outcome, { kind: 'exit', code: 0 });
      assert.match(text(result.stdout), /hello/i);
    });

    test('calls an exported function after the reactor initializes', async () => {
      const module = await engine.load(await wat(ADDER_REACTOR));
      const result = await engine.run(module, { entry: { function: 'add', args: [2, 3] } });
      assert.deepEqual(result.outcome, { kind: 'return', values: [1005] });
    });

    test('refuses entry points the module does not have', async () => {
      const reactor = await engine.load(await wat(ADDER_REACTOR));
      assert.throws(
        () => engine.invoke(reactor),
        (error) => isIsolaError(error, 'E_MODULE_NO_START'),
      );
      assert.throws(
        () => engine.invoke(reactor, { entry: { function: 'sub' } }),
        (error) => isIsolaError(error, 'E_ARGUMENT_INVALID') && /invoke one of add/.test(error.message),
      );
    });

    test('feeds stdin from bytes, and from a stream read on demand', async () => {
      const module = await engine.load(await wat(COUNT_STDIN));
      const fromBytes = await engine.run(module, { stdin: 'abcdefgh' });
      assert.deepEqual(fromBytes.outcome, { kind: 'exit', code: 97 * 1000 + 8 });
      const stream = new PassThrough();
      const invocation = engine.invoke(module, { stdin: stream });
      stream.write('xy');
      setTimeout(() => stream.end('z'), 20);
      assert.deepEqual((await invocation.result).outcome, { kind: 'exit', code: 120 * 1000 + 3 });
    });

    test('streams stdout while the guest is still running', async () => {
      const module = await engine.load(await wat(CAT));
      const stdin = new PassThrough();
      const invocation = engine.invoke(module, { stdin });
      stdin.write('first');
      const [chunk] = (await onceData(invocation.stdout)) as [Buffer];
      assert.equal(chunk.toString(), 'first', 'the echo arrives while stdin is still open');
      stdin.end('second');
      const rest: Buffer[] = [];
      for await (const more of invocation.stdout) rest.push(more as Buffer);
      assert.equal(Buffer.concat(rest).toString(), 'second');
      assert.deepEqual((await invocation.result).outcome, { kind: 'exit', code: 0 });
    });

    test('streams a large output in chunks and counts every byte', async () => {
      const module = await engine.load(await wat(BIG_STDOUT));
      const invocation = engine.invoke(module);
      let bytes = 0;
      let chunks = 0;
      for await (const chunk of invocation.stdout) {
        bytes += (chunk as Buffer).length;
        chunks++;
      }
      const { outcome, metrics } = await invocation.result;
      assert.deepEqual(outcome, { kind: 'exit', code: 0 });
      assert.equal(bytes, 4 * 1024 * 1024);
      assert.equal(metrics.stdoutBytes, bytes);
      assert.ok(chunks > 1, `output arrived in ${chunks} chunks`);
    });

    test('a trap is an outcome with the trap message', async () => {
      const module = await engine.load(await wat(UNREACHABLE));
      const { outcome } = await engine.run(module);
      assert.deepEqual(outcome, { kind: 'trap', message: 'wasm `unreachable` instruction executed' });
    });

    test('grants a host directory', async () => {
      const module = await engine.load(await wat(FD_PROBE));
      const result = await engine.run(module, {
        dirs: [{ hostPath: scratch, guestPath: '/data', readOnly: false }],
      });
      assert.deepEqual(result.outcome, { kind: 'exit', code: 8 });
      assert.equal(readFileSync(join(scratch, 'left-open'), 'utf8'), '');
    });
  });

  describe('isolation', () => {
    test('a fresh instance sees nothing an earlier invocation wrote: globals, memory, tables', async () => {
      const module = await engine.load(await wat(STATE_PROBE, REFERENCE_TYPES));
      for (let i = 0; i < 6; i++) {
        assert.deepEqual((await engine.run(module)).outcome, { kind: 'exit', code: 0 });
        const called = await engine.run(module, { entry: { function: 'probe' } });
        assert.deepEqual(called.outcome, { kind: 'return', values: [0] });
      }
    });

    test('a fresh instance sees no descriptor an earlier invocation left open', async () => {
      const module = await engine.load(await wat(FD_PROBE));
      const dirs = [{ hostPath: scratch, guestPath: '/data', readOnly: false }];
      for (let i = 0; i < 4; i++) {
        assert.deepEqual((await engine.run(module, { dirs })).outcome, { kind: 'exit', code: 8 });
      }
    });

    test('reuse mode keeps one instance for up to N calls, then starts a new one', async () => {
      const module = await engine.load(await wat(STATE_PROBE, REFERENCE_TYPES));
      const reuse = new Engine({ workers: 1, spareWorkers: 0 });
      try {
        const loaded = await reuse.load(await wat(STATE_PROBE, REFERENCE_TYPES));
        assert.equal(loaded.digest, module.digest);
        const seen: unknown[] = [];
        const reused: boolean[] = [];
        for (let i = 0; i < 4; i++) {
          const result = await reuse.run(loaded, { entry: { function: 'probe' }, instance: { reuse: 3 } });
          seen.push(result.outcome.kind === 'return' ? result.outcome.values[0] : result.outcome);
          reused.push(result.metrics.reusedInstance);
        }
        assert.deepEqual(seen, [0, 111, 122, 0]);
        assert.deepEqual(reused, [false, true, true, false]);
      } finally {
        await reuse.destroy();
      }
    });

    test("reuse mode is refused for a command's _start", async () => {
      const module = await engine.load(await wat(HELLO_STDOUT));
      assert.throws(
        () => engine.invoke(module, { instance: { reuse: 2 } }),
        (error) => isIsolaError(error, 'E_ARGUMENT_INVALID') && /_start runs once/.test(error.message),
      );
    });
  });

  describe('limits', () => {
    test('caps linear memory even when the module declares no maximum', async () => {
      const module = await engine.load(await wat(GROW_BY_ARG));
      const limits = { maxMemoryBytes: 8 * 65536 };
      const fits = await engine.run(module, { entry: { function: 'grow', args: [4] }, limits });
      assert.deepEqual(fits.outcome, { kind: 'return', values: [0] });
      assert.equal(fits.metrics.peakMemoryBytes, 8 * 65536);
      assert.equal(fits.metrics.maxMemoryBytes, 8 * 65536);
      const over = await engine.run(module, { entry: { function: 'grow', args: [5] }, limits });
      assert.deepEqual(over.outcome, { kind: 'return', values: [1] });
    });

    test('caps a C program that allocates until it fails', async () => {
      const module = await engine.load(readFileSync(fixturePath('memory-hog')));
      const result = await engine.run(module, { limits: { maxMemoryBytes: 16 * 1024 * 1024 } });
      assert.deepEqual(result.outcome, { kind: 'exit', code: 0 });
      assert.match(
        text(result.stdout),
        /failed at 242 pages/,
        '2 initial pages plus 15 MiB reach the 256-page cap; 16 more would pass it',
      );
      assert.equal(result.metrics.maxMemoryBytes, 16 * 1024 * 1024);
      assert.equal(result.metrics.peakMemoryBytes, 242 * 65536);
    });

    test('refuses a memory limit below what the module needs to start', async () => {
      const module = await engine.load(await wat(GROW_BY_ARG));
      assert.throws(
        () =>
          engine.invoke(module, {
            entry: { function: 'grow', args: [0] },
            limits: { maxMemoryBytes: 65536 },
          }),
        (error) => isIsolaError(error, 'E_MEMORY_LIMIT') && /at least 262144/.test(error.message),
      );
    });

    test('refuses limits out of range, naming the allowed range', async () => {
      const module = await engine.load(await wat(HELLO_STDOUT));
      assert.throws(
        () => engine.invoke(module, { limits: { timeoutMs: 0 } }),
        (error) => isIsolaError(error, 'E_LIMIT_OUT_OF_RANGE') && /from 1 to 2147483647/.test(error.message),
      );
      assert.throws(
        () => engine.invoke(module, { limits: { maxStdoutBytes: -1 } }),
        (error) => isIsolaError(error, 'E_LIMIT_OUT_OF_RANGE'),
      );
      assert.throws(
        () => new Engine({ workers: 0 }),
        (error) => isIsolaError(error, 'E_LIMIT_OUT_OF_RANGE') && /workers/.test(error.message),
      );
    });

    test("refuses limits above the operator's maxima", async () => {
      const capped = new Engine({ workers: 1, spareWorkers: 0, maxLimits: { timeoutMs: 1000 } });
      try {
        const module = await capped.load(await wat(HELLO_STDOUT));
        assert.equal(capped.limits.timeoutMs, 1000, 'the default is lowered to the maximum');
        assert.throws(
          () => capped.invoke(module, { limits: { timeoutMs: 5000 } }),
          (error) => isIsolaError(error, 'E_LIMIT_OUT_OF_RANGE') && /from 1 to 1000/.test(error.message),
        );
        assert.deepEqual((await capped.run(module, { limits: { timeoutMs: 500 } })).outcome, {
          kind: 'exit',
          code: 0,
        });
      } finally {
        await capped.destroy();
      }
    });

    test('ends a guest that writes past maxStdoutBytes, naming the limit', async () => {
      const module = await engine.load(await wat(BIG_STDOUT));
      const { outcome } = await engine.run(module, { limits: { maxStdoutBytes: 100_000 } });
      assert.equal(outcome.kind, 'limit');
      assert.equal(outcome.kind === 'limit' && outcome.limit, 'maxStdoutBytes');
    });

    test('ends a guest fed more than maxStdinBytes', async () => {
      const module = await engine.load(await wat(COUNT_STDIN));
      assert.throws(
        () => engine.invoke(module, { stdin: 'x'.repeat(10), limits: { maxStdinBytes: 5 } }),
        (error) => isIsolaError(error, 'E_GUEST_INPUT_LIMIT'),
      );
      const stream = new PassThrough();
      const invocation = engine.invoke(module, { stdin: stream, limits: { maxStdinBytes: 5 } });
      stream.end('x'.repeat(10));
      const { outcome } = await invocation.result;
      assert.equal(outcome.kind === 'limit' && outcome.limit, 'maxStdinBytes');
    });

    test('stops an infinite loop at its deadline, keeps its output, and keeps serving', async () => {
      const module = await engine.load(await wat(PRINT_THEN_LOOP));
      const hello = await engine.load(await wat(HELLO_STDOUT));
      const started = performance.now();
      const looping = engine.invoke(module, { limits: { timeoutMs: 200 } });
      const others = await Promise.all(Array.from({ length: 20 }, () => engine.run(hello)));
      for (const other of others) assert.deepEqual(other.outcome, { kind: 'exit', code: 0 });
      const { outcome, metrics } = await looping.result;
      const elapsed = performance.now() - started;
      assert.deepEqual(outcome, { kind: 'timeout', afterMs: 200 });
      assert.ok(elapsed >= 200, `stopped after ${elapsed} ms`);
      assert.ok(metrics.runMs >= 200);
      const output: Buffer[] = [];
      for await (const chunk of looping.stdout) output.push(chunk as Buffer);
      assert.equal(Buffer.concat(output).toString(), 'start', 'output written before the deadline arrives');
      assert.deepEqual((await engine.run(hello)).outcome, { kind: 'exit', code: 0 }, 'the pool healed');
    });
  });

  describe('pool', () => {
    let looping: Uint8Array;
    before(async () => {
      looping = await wat(INFINITE_LOOP);
    });

    test('refuses at once with E_OVERLOADED when the queue is full', async () => {
      const small = new Engine({ workers: 1, spareWorkers: 0, maxQueue: 1 });
      try {
        const module = await small.load(looping);
        const limits = { timeoutMs: 300 };
        const running = [small.invoke(module, { limits }), small.invoke(module, { limits })];
        const queued = small.invoke(module, { limits });
        assert.throws(
          () => small.invoke(module, { limits }),
          (error) => isIsolaError(error, 'E_OVERLOADED') && /retry later/.test(error.message),
        );
        for (const invocation of [...running, queued]) {
          assert.equal((await invocation.result).outcome.kind, 'timeout');
        }
      } finally {
        await small.destroy();
      }
    });

    test('close() lets running and queued invocations finish, then refuses new ones', async () => {
      const closing = new Engine({ workers: 1, spareWorkers: 0 });
      const module = await closing.load(await wat(HELLO_STDOUT));
      const invocations = Array.from({ length: 5 }, () => closing.invoke(module));
      const closed = closing.close();
      assert.throws(
        () => closing.invoke(module),
        (error) => isIsolaError(error, 'E_ENGINE_CLOSED'),
      );
      await closed;
      for (const invocation of invocations) {
        assert.deepEqual((await invocation.result).outcome, { kind: 'exit', code: 0 });
      }
      await closing.close();
      await closing.destroy();
    });

    test('destroy() fails running and queued invocations with E_ENGINE_CLOSED', async () => {
      const destroying = new Engine({ workers: 1, spareWorkers: 0 });
      const module = await destroying.load(looping);
      const invocations = Array.from({ length: 4 }, () => destroying.invoke(module));
      await destroying.destroy();
      for (const invocation of invocations) {
        const { outcome } = await invocation.result;
        assert.equal(outcome.kind === 'error' && outcome.error.code, 'E_ENGINE_CLOSED');
      }
    });

    test('an invocation waiting behind a timed-out one runs on another worker', async () => {
      const pooled = new Engine({ workers: 2, spareWorkers: 1 });
      try {
        const loop = await pooled.load(looping);
        const hello = await pooled.load(await wat(HELLO_STDOUT));
        const loops = [
          pooled.invoke(loop, { limits: { timeoutMs: 150 } }),
          pooled.invoke(loop, { limits: { timeoutMs: 150 } }),
        ];
        const waiting = Array.from({ length: 4 }, () => pooled.run(hello));
        for (const result of await Promise.all(waiting))
          assert.deepEqual(result.outcome, { kind: 'exit', code: 0 });
        for (const invocation of loops) assert.equal((await invocation.result).outcome.kind, 'timeout');
      } finally {
        await pooled.destroy();
      }
    });
  });
});

function onceData(stream: NodeJS.ReadableStream): Promise<unknown[]> {
  return new Promise((resolve) => stream.once('data', (...args) => resolve(args)));
}
