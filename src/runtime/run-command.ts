/**
 * Runs one WASI command (`_start`) in a worker thread of its own, so that a wall-clock deadline
 * can stop it even in an infinite loop: `worker.terminate()` interrupts Wasm code, while nothing
 * on the thread that runs the guest could. The worker gets a plain, structured-clonable config
 * and the compiled module (code is shared with the worker, not copied), inherits the process's
 * stdio, and reports one structured outcome.
 *
 * This is the single-shot path `isola run` uses; the pooled engine keeps warm workers instead.
 */
import type { Readable } from 'node:stream';
import { isatty } from 'node:tty';
import type { Worker } from 'node:worker_threads';
import { IsolaError } from '../errors.js';
import type { WasiLimits } from '../limits.js';
import { WasiBuilder } from '../wasi/index.js';
import { createStdinChannel, type StdinChannel, StdinRelay, type StdinRequest } from './command-stdio.js';
import type { DirGrant, Outcome } from './protocol.js';
import { spawnWorker } from './spawn-worker.js';

export type { DirGrant };

/** Everything the worker needs to build the guest's WASI context; plain data only. */
export interface CommandConfig {
  /** The guest's argv, argv[0] included. */
  args: readonly string[];
  /** Environment variables, in order. */
  env: readonly (readonly [name: string, value: string])[];
  dirs: readonly DirGrant[];
  limits: Partial<WasiLimits>;
  /** Log every WASI call to stderr. */
  trace: boolean;
}

/** How a command ended: any outcome but an exported function's return. Exactly one per run. */
export type CommandOutcome = Exclude<Outcome, { kind: 'return' }>;

export interface RunCommandOptions {
  module: WebAssembly.Module;
  config: CommandConfig;
  /** Wall-clock deadline in milliseconds, counted from when the worker is up. None by default. */
  timeoutMs?: number;
  /**
   * The guest's stdin, read only if the guest reads it, and paused and unref'd once the run
   * ends. Default: this process's stdin. Stdout and stderr are always fds 1 and 2.
   */
  stdin?: Readable;
  /** Whether stdin is a terminal, as the guest's fd_fdstat_get reports it. Default: isatty(0). */
  stdinIsTerminal?: boolean;
}

/** What the worker receives as `workerData`. */
export interface CommandJob {
  module: WebAssembly.Module;
  config: CommandConfig;
  stdin: StdinChannel;
}

/** What the worker posts: requests for stdin while it runs, then exactly one outcome. */
export type CommandWorkerMessage = StdinRequest | { op: 'outcome'; outcome: CommandOutcome };

/**
 * The builder for a config, with stdio left to the caller. Building it validates the config
 * (names, NUL bytes, missing directories, limit ranges) without opening anything.
 */
export function commandWasiBuilder(config: CommandConfig): WasiBuilder {
  const builder = new WasiBuilder().args(config.args).limits(config.limits);
  for (const [name, value] of config.env) builder.env(name, value);
  for (const dir of config.dirs) builder.preopenDir(dir.hostPath, dir.guestPath, { readOnly: dir.readOnly });
  return builder;
}

/**
 * Runs the command and resolves with its outcome. Rejects (before starting a worker) only when
 * the config itself is invalid; everything that happens to the guest is an outcome.
 */
export async function runCommand(options: RunCommandOptions): Promise<CommandOutcome> {
  const { module, config, timeoutMs } = options;
  if (
    timeoutMs !== undefined &&
    !(Number.isFinite(timeoutMs) && timeoutMs > 0 && timeoutMs <= MAX_TIMEOUT_MS)
  ) {
    throw new IsolaError(
      'E_LIMIT_OUT_OF_RANGE',
      `timeout ${timeoutMs} ms is out of range: use a duration above 0 and at most ${MAX_TIMEOUT_MS} ms`,
      { limit: 'timeoutMs', value: timeoutMs, min: 0, max: MAX_TIMEOUT_MS },
    );
  }
  commandWasiBuilder(config);
  const channel = createStdinChannel(options.stdinIsTerminal ?? (options.stdin === undefined && isatty(0)));
  const relay = new StdinRelay(channel, options.stdin ?? process.stdin);
  const worker = spawnCommandWorker({ module, config, stdin: channel });
  return new Promise<CommandOutcome>((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    let settled = false;
    const settle = (outcome: CommandOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      relay.close();
      resolve(outcome);
    };
    worker.once('online', () => {
      if (timeoutMs === undefined) return;
      timer = setTimeout(() => {
        settle({ kind: 'timeout', afterMs: timeoutMs });
        stopWorker(worker);
      }, timeoutMs);
    });
    worker.on('message', (message: CommandWorkerMessage) => {
      if (message.op === 'stdin-read') void relay.serve(message);
      else settle(message.outcome);
    });
    worker.once('error', (error) => {
      settle({
        kind: 'error',
        error: new IsolaError('E_INTERNAL', `the guest's worker thread failed: ${error.message}`, {
          stack: error.stack,
        }).toJSON(),
      });
    });
    worker.once('exit', (code) => {
      settle({
        kind: 'error',
        error: new IsolaError(
          'E_INTERNAL',
          `the guest's worker thread exited (code ${code}) without an outcome`,
          {
            exitCode: code,
          },
        ).toJSON(),
      });
    });
  });
}

/** setTimeout's ceiling (2^31 - 1 ms, about 24.8 days); a longer timer fires at once. */
export const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/**
 * Terminates the worker, unref'd so that it cannot hold the process open even if it were stuck
 * in a system call (a write to a full pipe) that termination cannot interrupt.
 */
function stopWorker(worker: Worker): void {
  worker.unref();
  void worker.terminate();
}

/**
 * The worker's own `process.stdout`/`stderr` are not piped into this thread's: the guest writes
 * fds 1 and 2 directly, and piping would make this thread open `process.stdout`, which turns a
 * stdout pipe non-blocking under the guest's synchronous writes.
 */
const WORKER_STDIO = Object.freeze({ stdout: true, stderr: true });

function spawnCommandWorker(job: CommandJob): Worker {
  return spawnWorker('command-worker', { workerData: job, ...WORKER_STDIO });
}
