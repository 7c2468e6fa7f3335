/**
 * clock_res_get / clock_time_get semantics, in nanoseconds. Realtime is anchored once per
 * instance to `Date.now()` and advanced by the monotonic clock, giving nanosecond resolution
 * without the precision loss of a double. Node 20 has no per-thread CPU clock, so the thread
 * CPU clock reads the process's (`process.cpuUsage`, microsecond resolution).
 */
import { Clockid, Errno } from './defs.js';
import { fail } from './errno.js';

/** The longest single sleep slice; long waits are split so a huge timeout cannot overflow. */
const MAX_SLEEP_MS = 2 ** 31 - 1;

export class Clocks {
  readonly #realtimeBase: bigint;
  readonly #monotonicBase: bigint;
  readonly #refuseWait: (() => Error) | undefined;

  /** `refuseWait`: what `sleep` throws instead of blocking (see `WasiBuilder.refuseWaiting`). */
  constructor(refuseWait?: () => Error) {
    this.#monotonicBase = process.hrtime.bigint();
    this.#realtimeBase = BigInt(Date.now()) * 1_000_000n;
    this.#refuseWait = refuseWait;
  }

  /** Blocks this thread for `ns` nanoseconds of monotonic time (Atomics.wait), unless waiting is refused. */
  sleep(ns: bigint): void {
    if (ns <= 0n) return;
    if (this.#refuseWait !== undefined) throw this.#refuseWait();
    const cell = new Int32Array(new SharedArrayBuffer(4));
    const end = process.hrtime.bigint() + ns;
    for (;;) {
      const remaining = end - process.hrtime.bigint();
      if (remaining <= 0n) return;
      Atomics.wait(cell, 0, 0, Math.min(Number(remaining) / 1e6, MAX_SLEEP_MS));
    }
  }

  resolution(id: number): bigint {
    switch (id) {
      case Clockid.REALTIME:
      case Clockid.MONOTONIC:
        return 1n;
      case Clockid.PROCESS_CPUTIME_ID:
      case Clockid.THREAD_CPUTIME_ID:
        return 1000n;
      default:
        return fail(Errno.INVAL);
    }
  }

  now(id: number): bigint {
    switch (id) {
      case Clockid.REALTIME:
        return this.#realtimeBase + (process.hrtime.bigint() - this.#monotonicBase);
      case Clockid.MONOTONIC:
        return process.hrtime.bigint();
      case Clockid.PROCESS_CPUTIME_ID:
      case Clockid.THREAD_CPUTIME_ID: {
        const usage = process.cpuUsage();
        return BigInt(usage.user + usage.system) * 1000n;
      }
      default:
        return fail(Errno.INVAL);
    }
  }
}
