/**
 * clock_res_get / clock_time_get semantics, in nanoseconds. Realtime is anchored once per
 * instance to `Date.now()` and advanced by the monotonic clock, giving nanosecond resolution
 * without the precision loss of a double. Node 20 has no per-thread CPU clock, so the thread
 * CPU clock reads the process's (`process.cpuUsage`, microsecond resolution).
 */
import { Clockid, Errno } from './defs.js';
import { fail } from './errno.js';

export class Clocks {
  readonly #realtimeBase: bigint;
  readonly #monotonicBase: bigint;

  constructor() {
    this.#monotonicBase = process.hrtime.bigint();
    this.#realtimeBase = BigInt(Date.now()) * 1_000_000n;
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
