/**
 * The worker thread behind `runCommand`: builds the guest's WASI context from the job's config,
 * instantiates the compiled module, runs `_start`, and posts back exactly one outcome. Guest
 * output goes straight to fds 1 and 2 with synchronous writes, not through the worker's
 * `process.stdout` (which the main thread relays asynchronously); stdin comes from the main
 * thread through shared memory (see command-stdio.ts).
 */
import { writeSync } from 'node:fs';
import { type MessagePort, parentPort, workerData } from 'node:worker_threads';
import { fdSink, type Wasi } from '../wasi/index.js';
import { relayedStdin } from './command-stdio.js';
import { outcomeOf } from './outcome.js';
import {
  type CommandJob,
  type CommandOutcome,
  type CommandWorkerMessage,
  commandWasiBuilder,
} from './run-command.js';

async function execute(job: CommandJob, port: MessagePort): Promise<CommandOutcome> {
  let wasi: Wasi | undefined;
  try {
    const builder = commandWasiBuilder(job.config)
      .stdin(relayedStdin(job.stdin, port))
      .stdout(fdSink(1))
      .stderr(fdSink(2));
    if (job.config.trace) builder.trace((line) => writeSync(2, `${line}\n`));
    wasi = builder.build();
    const instance = await WebAssembly.instantiate(job.module, wasi.imports);
    return { kind: 'exit', code: wasi.start(instance) };
  } catch (error) {
    return outcomeOf(error) as CommandOutcome;
  } finally {
    wasi?.close();
  }
}

if (parentPort) {
  const outcome = await execute(workerData as CommandJob, parentPort);
  parentPort.postMessage({ op: 'outcome', outcome } satisfies CommandWorkerMessage);
}
