import assert from 'node:assert/strict';
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
    id,
    digest: 'hello',
    module,
    memory: undefined,
    config,
    stdin: undefined,
    onOutput: () => {},
    onDone: (outcome) => settle(outcome),
    done,
  };
}

describe('WorkerPool', () => {
  test('a worker that crashes fails its invocation with E_WORKER_CRASHED and is replaced', async () => {
    const module = await WebAssembly.compile((await wat(HELLO_STDOUT)) as Uint8Array<ArrayBuffer>);
    const pool = new WorkerPool({ workers: 1, spares: 1, maxQueue: 10, memoryPool: MEMORY_POOL_DEFAULTS });
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
});
