/**
 * An engine worker thread: runs invocations one at a time, as the main thread sends them, and
 * answers each with exactly one `done`. It runs at a lower priority than the main thread. Guest
 * output streams back as `output` messages, a component's response as `response-head` and
 * `response-body`; a guest reading a streamed stdin (or a component its streamed request body)
 * blocks in `Atomics.wait` on the worker's stdin channel, which `worker.terminate()` can interrupt
 * at the deadline.
 *
 * Preview1 invocations (`invoke`) and component requests (`component`) share the thread's memory
 * pool and bundles. A component's glue is imported the first time the thread runs it, which is
 * asynchronous: messages that arrive meanwhile wait here, so that they still run in order.
 */
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import type { SyncKeyValueStore } from '../kv/key-value-store.js';
import { relayedStdin } from './command-stdio.js';
import { ComponentTaskRunner } from './component-task.js';
import { HostCallClient } from './host-call.js';
import { InvocationRunner } from './invocation-runner.js';
import { MemoryPool } from './memory-pool.js';
import type { ComponentMessage, FromWorker, ToWorker, WorkerSetup } from './protocol.js';

if (parentPort) {
  const port = parentPort;
  const setup = workerData as WorkerSetup;
  lowerPriority(setup.nice);
  const memories = new MemoryPool(setup.memoryPool);
  // The store's modules (SQLite's binding, the relay client) load only in an engine that has one,
  // and the store opens at the first guest granted it.
  let keyValue: (() => SyncKeyValueStore) | undefined;
  const keyValueHandle = setup.keyValue;
  if (keyValueHandle !== undefined) {
    const { openSyncStore } = await import('../kv/open-sync-store.js');
    let store: SyncKeyValueStore | undefined;
    keyValue = () => {
      store ??= openSyncStore(keyValueHandle);
      return store;
    };
  }
  const runner = new InvocationRunner(
    {
      post: (message) => port.postMessage(message satisfies FromWorker),
      streamedStdin: () => relayedStdin(setup.stdin, port),
      ...(keyValue === undefined ? {} : { keyValue }),
    },
    setup.output,
    memories,
  );
  const hostCalls = new HostCallClient(setup.hostCalls, (message) =>
    port.postMessage(message satisfies FromWorker),
  );
  const components = new ComponentTaskRunner(memories, runner, {
    keyValue,
    hostCalls,
    post: (message, transfer) => port.postMessage(message satisfies FromWorker, transfer),
    requestBody: () => relayedStdin(setup.stdin, port),
  });
  const running = new Int32Array(setup.running);
  const sweeper = setInterval(() => runner.sweep(performance.now()), runner.sweepIntervalMs / 2);
  sweeper.unref();
  /** Whether a component's glue is being imported: messages wait in `backlog` meanwhile. */
  let importing = false;
  const backlog: ToWorker[] = [];

  const answer = (message: ComponentMessage): void => {
    const { done, transfer } = components.run(message);
    port.postMessage(done satisfies FromWorker, transfer);
    runner.cleanMemories();
  };
  const handle = (message: ToWorker): void => {
    if (message.op === 'forget') {
      runner.forget(message.digest);
      components.forget(message.digest);
      return;
    }
    Atomics.store(running, 0, message.id);
    if (message.op === 'invoke') {
      port.postMessage(runner.run(message) satisfies FromWorker);
      // Zeroing returned memories waits until the result is on its way.
      runner.cleanMemories();
      return;
    }
    const imported = components.prepare(message);
    if (imported === undefined) {
      answer(message);
      return;
    }
    importing = true;
    void imported.then(() => {
      answer(message);
      importing = false;
      // One of these may start another import; the rest then wait for it in turn.
      while (!importing && backlog.length > 0) handle(backlog.shift() as ToWorker);
    });
  };
  port.on('message', (message: ToWorker) => {
    if (importing) backlog.push(message);
    else handle(message);
  });
  port.postMessage({ op: 'ready' } satisfies FromWorker);
}

/**
 * Gives this thread the nice value `nice`, so that a guest burning a core (one looping into its
 * deadline) yields it to the main thread, which serves every other request. Linux schedules
 * threads on their own, and `/proc/thread-self` names this one; elsewhere, or when the process
 * already runs nicer, the thread keeps the process's priority.
 */
function lowerPriority(nice: number): void {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (Number.isInteger(tid) && tid > 0) setPriority(tid, nice);
  } catch {
    // Not Linux, or not permitted: nothing to do.
  }
}
