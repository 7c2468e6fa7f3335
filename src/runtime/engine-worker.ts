/**
 * An engine worker thread: runs invocations one at a time, as the main thread sends them, and
 * answers each with exactly one `done`. Guest output streams back as `output` messages; a guest
 * reading a streamed stdin blocks in `Atomics.wait` on the worker's stdin channel, which
 * `worker.terminate()` can interrupt at the deadline.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { relayedStdin } from './command-stdio.js';
import { InvocationRunner } from './invocation-runner.js';
import type { FromWorker, ToWorker, WorkerSetup } from './protocol.js';

if (parentPort) {
  const port = parentPort;
  const setup = workerData as WorkerSetup;
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
    }
  });
  port.postMessage({ op: 'ready' } satisfies FromWorker);
}
