/**
 * The inline lane: invocations of modules that have proven short run on the calling thread
 * instead of a worker. A thread hop costs two cross-thread wake-ups (~50–90 µs here, several
 * times a small guest's whole instantiate-and-run), so for a CGI hello the hop, not the guest, is
 * the price of a request.
 *
 * A guest on the calling thread must not be able to hold it: every module that may run inline is
 * compiled a second time with fuel metering (src/wasm/fuel.ts), and an inline run gets a fixed
 * budget of fuel (about one unit per Wasm instruction). A run that exhausts it is stopped where it
 * is (a trap, on this thread, in microseconds), its output is discarded, and it is run again from
 * the start on a worker, under the invocation's real deadline (so is one that exhausts the
 * calling thread's smaller stack). That is only sound for an invocation nothing can observe
 * twice, so the engine sends an invocation here only when it is *replayable*: a fresh instance, stdin given as bytes (or none), and read-only directories.
 * Blocking is also refused inline: a guest that asks to sleep stops the same way.
 *
 * Which modules run inline is learned, per module: every module starts on the workers; after
 * `promoteAfterRuns` worker runs in a row that each finished well within `promoteBelowMs`, its
 * replayable invocations run inline. A module whose inline run ran out of fuel, blocked, or took
 * longer than `promoteBelowMs` several times in a row goes back to the workers and must earn its place again with twice
 * as long a streak each time, so a module that loops on some inputs costs the calling thread at
 * most one fuel budget now and then.
 */
import { IsolaError } from '../errors.js';
import { instrumentFuel } from '../wasm/fuel.js';
import { compileModule } from '../wasm/module-info.js';
import { InvocationRunner } from './invocation-runner.js';
import type { MemoryPoolOptions } from './memory-pool.js';
import { CALL_STACK_EXHAUSTED } from './outcome.js';
import type {
  BundleDelivery,
  DoneMessage,
  InvocationConfig,
  MemoryPlan,
  Outcome,
  OutputMessage,
} from './protocol.js';

export interface InlineOptions {
  /** Run proven-short invocations on the calling thread. Default true. */
  enabled: boolean;
  /** Fuel (about one unit per Wasm instruction executed) one inline run may use. Default 5,000,000. */
  fuel: number;
  /** Worker runs in a row, each within `promoteBelowMs`, before a module runs inline. Default 16. */
  promoteAfterRuns: number;
  /** Instantiate-and-run time, in ms, below which a run counts as short. Default 1. */
  promoteBelowMs: number;
  /** Modules larger than this (bytes) are never compiled for the inline lane. Default 8 MiB. */
  maxModuleBytes: number;
}

export const INLINE_DEFAULTS: Readonly<InlineOptions> = Object.freeze({
  enabled: true,
  fuel: 5_000_000,
  promoteAfterRuns: 16,
  promoteBelowMs: 1,
  maxModuleBytes: 8 * 1024 * 1024,
});

/** The longest streak a demoted module must show again (promoteAfterRuns × 2^this). */
const MAX_DEMOTION_DOUBLINGS = 10;

/** Inline runs in a row over `promoteBelowMs` that send a module back to the workers. */
const SLOW_RUNS_TO_DEMOTE = 4;

interface ModuleLane {
  /** The fuel-metered build of the module, once compiled. */
  module: WebAssembly.Module | undefined;
  memory: MemoryPlan | undefined;
  /** Whether replayable invocations of the module run inline now. */
  inline: boolean;
  /** Short worker runs in a row since the module last went to (or back to) the workers. */
  streak: number;
  demotions: number;
  /** Inline runs in a row that took longer than `promoteBelowMs`. */
  slow: number;
}

/** What an inline run produced: the worker-shaped `done` message and the output, in order. */
export interface InlineResult {
  done: DoneMessage;
  output: OutputMessage[];
}

export class InlineLane {
  readonly #options: InlineOptions;
  readonly #runner: InvocationRunner;
  readonly #modules = new Map<string, ModuleLane>();
  /** Output of the run in progress, kept until it is known whether the run counts. */
  #output: OutputMessage[] = [];
  #cleaning = false;
  /** Modules and bundles that have been sent to the runner (it keeps them by digest). */
  readonly #sent = new Set<string>();

  constructor(options: InlineOptions, memoryPool: MemoryPoolOptions) {
    this.#options = options;
    this.#runner = new InvocationRunner(
      {
        post: (message) => this.#output.push(message),
        streamedStdin: () => {
          throw new IsolaError('E_INTERNAL', 'a streamed stdin was sent to the inline lane', {});
        },
      },
      undefined,
      memoryPool,
      { fuel: BigInt(options.fuel), refuseWaiting: true },
    );
  }

  /**
   * Prepares the fuel-metered build of a module as it is loaded, if it may ever run inline.
   * `bytes` is the module as the workers run it (memory imported).
   */
  async prepare(digest: string, bytes: Uint8Array, memory: MemoryPlan | undefined): Promise<void> {
    if (!this.#options.enabled || bytes.byteLength > this.#options.maxModuleBytes) return;
    if (this.#modules.has(digest)) return;
    const lane: ModuleLane = {
      module: undefined,
      memory,
      inline: false,
      streak: 0,
      demotions: 0,
      slow: 0,
    };
    this.#modules.set(digest, lane);
    try {
      lane.module = await compileModule(instrumentFuel(bytes, { initialFuel: BigInt(this.#options.fuel) }));
    } catch {
      // A module the metering cannot handle (an instruction it does not know) runs on workers only.
      this.#modules.delete(digest);
    }
  }

  /** Whether `digest`'s replayable invocations run inline now. */
  admits(digest: string): boolean {
    const lane = this.#modules.get(digest);
    return lane?.inline === true && lane.module !== undefined;
  }

  /**
   * Runs a replayable invocation here. Undefined when it was stopped (fuel, or it would block):
   * nothing it did is kept, the module goes back to the workers, and the caller runs it there.
   */
  run(
    id: number,
    digest: string,
    config: InvocationConfig,
    bundles: readonly BundleDelivery[],
  ): InlineResult | undefined {
    const lane = this.#modules.get(digest);
    if (lane?.module === undefined) return undefined;
    const first = this.#sent.has(digest) ? undefined : { module: lane.module, memory: lane.memory };
    this.#sent.add(digest);
    const deliveries = bundles.filter((bundle) => !this.#sent.has(bundle.digest));
    for (const delivery of deliveries) this.#sent.add(delivery.digest);
    this.#output = [];
    const done = this.#runner.runConfig(id, digest, config, first, deliveries);
    this.#scheduleClean();
    const output = this.#output;
    this.#output = [];
    if (stoppedInline(done.outcome)) {
      this.#demote(lane);
      return undefined;
    }
    // A module's first inline runs compile its code on this thread (V8 compiles lazily), so only a
    // run of slow ones sends it back.
    if (done.instantiateMs + done.runMs <= this.#options.promoteBelowMs) lane.slow = 0;
    else if (++lane.slow >= SLOW_RUNS_TO_DEMOTE) this.#demote(lane);
    return { done, output };
  }

  /** Counts a worker run of a module towards (or against) running it inline. */
  observe(digest: string, outcome: Outcome, elapsedMs: number): void {
    const lane = this.#modules.get(digest);
    if (lane === undefined || lane.inline) return;
    const ended = outcome.kind === 'exit' || outcome.kind === 'return';
    if (!ended || elapsedMs > this.#options.promoteBelowMs) {
      lane.streak = 0;
      return;
    }
    lane.streak += 1;
    const needed = this.#options.promoteAfterRuns * 2 ** Math.min(lane.demotions, MAX_DEMOTION_DOUBLINGS);
    if (lane.streak >= needed) lane.inline = true;
  }

  /** Drops a module or a bundle and whatever the lane kept for it. */
  forget(digest: string): void {
    this.#modules.delete(digest);
    if (this.#sent.delete(digest)) this.#runner.forget(digest);
  }

  /** Releases memory pools that have been idle. */
  sweep(now: number): void {
    this.#runner.sweep(now);
  }

  get sweepIntervalMs(): number {
    return this.#runner.sweepIntervalMs;
  }

  /** Modules running inline now (for stats). */
  get inlineModules(): number {
    let count = 0;
    for (const lane of this.#modules.values()) if (lane.inline) count += 1;
    return count;
  }

  /** Zeroes returned memories once the calling thread is idle, not on a response's path. */
  #scheduleClean(): void {
    if (this.#cleaning) return;
    this.#cleaning = true;
    setImmediate(() => {
      this.#cleaning = false;
      this.#runner.cleanMemories();
    });
  }

  #demote(lane: ModuleLane): void {
    lane.inline = false;
    lane.streak = 0;
    lane.slow = 0;
    lane.demotions += 1;
  }
}

/**
 * Whether an inline run was stopped by the lane itself rather than ended by the guest. A call
 * stack exhausted counts: the calling thread's stack (~1 MB on Node's main thread) is smaller
 * than a worker's, and the guest must get the same answer in either lane.
 */
function stoppedInline(outcome: Outcome): boolean {
  if (outcome.kind === 'limit') return outcome.limit === 'fuel';
  if (outcome.kind === 'trap') return outcome.message === CALL_STACK_EXHAUSTED;
  return outcome.kind === 'error' && outcome.error.code === 'E_INLINE_WOULD_BLOCK';
}
