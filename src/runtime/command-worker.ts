/**
 * The worker thread behind `runCommand`: builds the guest's WASI context from the job's config,
 * instantiates the compiled module, runs `_start`, and posts back exactly one outcome. Guest
 * output goes straight to fds 1 and 2 with synchronous writes, not through the worker's
 * `process.stdout` (which the main thread relays asynchronously); stdin comes from the main
 * thread through shared memory (see command-stdio.ts).
 */
import { writeSync } from 'node:fs';
import { type MessagePort, parentPort, workerData } from 'node:worker_threads';
import { IsolaError } from '../errors.js';
import { fdSink, type Wasi } from '../wasi/index.js';
import { relayedStdin } from './command-stdio.js';
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
    return outcomeOf(error);
  } finally {
    wasi?.close();
  }
}

/** Sorts what ended the guest into a trap, a host error, or a host bug. */
function outcomeOf(error: unknown): CommandOutcome {
  if (error instanceof WebAssembly.RuntimeError) return { kind: 'trap', message: trapReason(error.message) };
  // V8 reports a guest's runaway recursion as a RangeError, not a RuntimeError; it is a trap all the same.
  if (error instanceof RangeError && /call stack/i.test(error.message)) {
    return { kind: 'trap', message: 'call stack exhausted' };
  }
  if (error instanceof IsolaError) return { kind: 'error', error: error.toJSON() };
  if (error instanceof WebAssembly.LinkError) {
    const reason = error.message.replace(/^WebAssembly\.instantiate\(\): /, '');
    return {
      kind: 'error',
      error: new IsolaError(
        'E_MODULE_UNSUPPORTED_IMPORTS',
        `module cannot be linked: ${reason}: check that it was built for WASI preview1`,
        { reason },
      ).toJSON(),
    };
  }
  const message = error instanceof Error ? error.message : String(error);
  return {
    kind: 'error',
    error: new IsolaError('E_INTERNAL', `host error while running the guest: ${message}`, {
      stack: error instanceof Error ? error.stack : undefined,
    }).toJSON(),
  };
}

/** V8's trap messages are clear except the bare "unreachable"; say it the way wasmtime does. */
function trapReason(message: string): string {
  return message === 'unreachable' ? 'wasm `unreachable` instruction executed' : message;
}

if (parentPort) {
  const outcome = await execute(workerData as CommandJob, parentPort);
  parentPort.postMessage({ op: 'outcome', outcome } satisfies CommandWorkerMessage);
}
