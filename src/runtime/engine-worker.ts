/**
 * An engine worker thread: runs invocations one at a time, as the main thread sends them, and
 * answers each with exactly one `done`. It runs at a lower priority than the main thread. Guest output streams back as `output` messages; a guest
 * reading a streamed stdin blocks in `Atomics.wait` on the worker's stdin channel, which
 * `worker.terminate()` can interrupt at the deadline.
 */
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { relayedStdin } from './command-stdio.js';
import { InvocationRunner } from './invocation-runner.js';
import type { FromWorker, ToWorker, WorkerSetup } from './protocol.js';

if (parentPort) {
  const port = parentPort;
  const setup = workerData as WorkerSetup;
  lowerPriority(setup.nice);
  const runner = new InvocationRunner(
    {
      post: (message) => port.postMessage(message satisfies FromWorker),
      streamedStdin: () => relayedStdin(setup.stdin, port),
    },
    setup.output,
    setup.memoryPool,
  );
  const running = new Int32Array(setup.running);
  const sweeper = setInterval(() => runner.sweep(performance.now()), runner.sweepIntervalMs / 2);
  sweeper.unref();
  port.on('message', (message: ToWorker) => {
    if (message.op === 'forget') runner.forget(message.digest);
    else {
      Atomics.store(running, 0, message.id);
      port.postMessage(runner.run(message) satisfies FromWorker);
      // Zeroing returned memories waits until the result is on its way.
      runner.cleanMemories();
    }
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
