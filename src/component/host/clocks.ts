/**
 * wasi:clocks 0.2: `monotonic-clock` (nanoseconds from an arbitrary start, with pollables that
 * become ready at an instant or after a duration) and `wall-clock` (time since the Unix epoch).
 * Both are read from the host; a pollable never fires past the instance's deadline (see io.ts).
 */
import type { HostContext } from './context.js';
import { Pollable } from './io.js';

/** Nanosecond resolution reported to the guest: the host clocks are read at microsecond precision. */
const RESOLUTION_NS = 1_000n;

function monotonicNow(): bigint {
  return process.hrtime.bigint();
}

/** `performance.now()` milliseconds at which `instant` (a monotonic-clock value) is reached. */
function instantToPerformance(instant: bigint): number {
  const remainingNs = instant - monotonicNow();
  return performance.now() + Number(remainingNs) / 1e6;
}

export function clocksImports(ctx: HostContext): Record<string, Record<string, unknown>> {
  return {
    'wasi:clocks/monotonic-clock': {
      now: monotonicNow,
      resolution: () => RESOLUTION_NS,
      subscribeInstant: (instant: bigint) => Pollable.at(ctx, instantToPerformance(instant)),
      subscribeDuration: (duration: bigint) => Pollable.at(ctx, performance.now() + Number(duration) / 1e6),
    },
    'wasi:clocks/wall-clock': {
      now: () => {
        const ns = BigInt(Date.now()) * 1_000_000n;
        return { seconds: ns / 1_000_000_000n, nanoseconds: Number(ns % 1_000_000_000n) };
      },
      resolution: () => ({ seconds: 0n, nanoseconds: 1_000_000 }),
    },
  };
}
