import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { getPriority } from 'node:os';
import { describe, test } from 'node:test';
import { HELLO_STDOUT } from '../../test/support/guests.js';
import { wat } from '../../test/support/wat.js';
import { INVOCATION_LIMIT_DEFAULTS } from '../limits.js';
import { MEMORY_POOL_DEFAULTS } from './memory-pool.js';
import type { InvocationConfig, Outcome } from './protocol.js';
import { type Task, WorkerPool } from './worker-pool.js';

const CONFIG: InvocationConfig = {
  args: [],
  env: [],
  dirs: [],
  bundles: [],
  keyValue: [],
  limits: INVOCATION_LIMIT_DEFAULTS,
  entry: { kind: 'start' },
  instance: { kind: 'fresh' },
  stdin: { kind: 'none' },
};

function task(
  module: WebAssembly.Module,
  id: number,
  config: InvocationConfig,
): Task & { done: Promise<Outcome> } {
  let settle!: (outcome: Outcome) => void;
  const done = new Promise<Outcome>((resolve) => {
    settle = resolve;
  });
  return {
    kind: 'module',
    id,
    digest: 'hello',
    limits: config.limits,
    module,
    memory: undefined,
    config,
    stdin: undefined,
    bundles: [],
    onOutput: () => {},
    onDone: (outcome) => settle(outcome),
    done,
  };
}

describe('WorkerPool', () => {
  test('a worker that crashes fails its invocation with E_WORKER_CRASHED and is replaced', async () => {
    const module = await WebAssembly.compile((await wat(HELLO_STDOUT)) as Uint8Array<ArrayBuffer>);
    const pool = new WorkerPool({
      workers: 1,
      spares: 1,
      maxQueue: 10,
      memoryPool: MEMORY_POOL_DEFAULTS,
      nice: 10,
    });
    try {
      // An id the worker cannot record (a BigInt in its Int32 slot) makes it throw outside any
      // guest: a host bug, which kills the thread.
      const broken = task(module, 1n as unknown as number, CONFIG);
      const after = task(module, 2, CONFIG);
      pool.submit(broken);
      pool.submit(after);
      const outcome = await broken.done;
      assert.equal(outcome.kind === 'error' && outcome.error.code, 'E_WORKER_CRASHED');
      assert.deepEqual(
        await after.done,
        { kind: 'exit', code: 0 },
        'the invocation queued behind it ran elsewhere',
      );
      assert.equal(pool.workers, 1);
      const later = task(module, 3, CONFIG);
      pool.submit(later);
      assert.deepEqual(await later.done, { kind: 'exit', code: 0 }, 'the pool healed');
    } finally {
      await pool.destroy();
    }
  });

  test('worker threads run at the nice value they were given, below the main thread', {
    skip: process.platform !== 'linux',
  }, async () => {
    const module = await WebAssembly.compile((await wat(HELLO_STDOUT)) as Uint8Array<ArrayBuffer>);
    const pool = new WorkerPool({
      workers: 1,
      spares: 0,
      maxQueue: 10,
      memoryPool: MEMORY_POOL_DEFAULTS,
      nice: 7,
    });
    try {
      const ran = task(module, 1, CONFIG);
      pool.submit(ran);
      await ran.done;
      const nices = readdirSync('/proc/self/task').map((tid) => {
        const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
        // Field 19 (nice) counts from the end of the command name, which is in parentheses.
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
      });
      assert.ok(nices.includes(7), `a thread has nice 7 (${nices.join(', ')})`);
      assert.equal(nices[0], getPriority(), 'the main thread keeps its priority');
    } finally {
      await pool.destroy();
    }
  });
});
