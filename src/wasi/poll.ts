/**
 * poll_oneoff semantics: any number of clock and descriptor subscriptions. Descriptor
 * subscriptions that are ready are reported at once, together with clocks already past their
 * deadline; with none ready, the call sleeps (Atomics.wait, blocking this thread only) until the
 * earliest clock deadline and reports every clock that has expired by then.
 */

import type { Clocks } from './clocks.js';
import { Errno, Eventtype, Rights, Subclockflags } from './defs.js';
import { WasiErrno } from './errno.js';
import type { FdTable } from './fd-table.js';

export type Subscription =
  | { userdata: bigint; type: typeof Eventtype.CLOCK; clockId: number; timeout: bigint; flags: number }
  | { userdata: bigint; type: typeof Eventtype.FD_READ | typeof Eventtype.FD_WRITE; fd: number };

export interface PollEvent {
  userdata: bigint;
  error: number;
  type: number;
  nbytes: bigint;
  flags: number;
}

export function pollOneoff(
  subscriptions: readonly Subscription[],
  fds: FdTable,
  clocks: Clocks,
): PollEvent[] {
  const events: PollEvent[] = [];
  const timers: { sub: Subscription; clockId: number; deadline: bigint }[] = [];
  let shortestWait: bigint | undefined;

  for (const sub of subscriptions) {
    if (sub.type !== Eventtype.CLOCK) {
      events.push(fdEvent(sub, fds));
      continue;
    }
    let now: bigint;
    try {
      now = clocks.now(sub.clockId);
    } catch (error) {
      if (!(error instanceof WasiErrno)) throw error;
      events.push(event(sub, error.errno));
      continue;
    }
    const absolute = (sub.flags & Subclockflags.SUBSCRIPTION_CLOCK_ABSTIME) !== 0;
    const deadline = absolute ? sub.timeout : now + sub.timeout;
    timers.push({ sub, clockId: sub.clockId, deadline });
    const wait = deadline - now;
    if (shortestWait === undefined || wait < shortestWait) shortestWait = wait;
  }

  // Descriptor events are ready (or failed) now: report them with any clock already expired.
  if (events.length === 0 && shortestWait !== undefined) clocks.sleep(shortestWait);
  for (const { sub, clockId, deadline } of timers) {
    if (clocks.now(clockId) >= deadline) events.push(event(sub, Errno.SUCCESS));
  }
  return events;
}

function fdEvent(sub: Subscription & { fd: number }, fds: FdTable): PollEvent {
  let entry: ReturnType<FdTable['get']>;
  try {
    entry = fds.checked(sub.fd, Rights.POLL_FD_READWRITE);
  } catch (error) {
    if (!(error instanceof WasiErrno)) throw error;
    return event(sub, error.errno);
  }
  if (sub.type === Eventtype.FD_READ) {
    const available = entry.descriptor.readable();
    // An unknown readiness (a host pipe) is reported ready: the guest's read then blocks, as a
    // level-triggered poll would let it.
    return { ...event(sub, Errno.SUCCESS), nbytes: available ?? 0n };
  }
  return event(sub, entry.descriptor.writable() ? Errno.SUCCESS : Errno.BADF);
}

function event(sub: Subscription, error: number): PollEvent {
  return { userdata: sub.userdata, error, type: sub.type, nbytes: 0n, flags: 0 };
}
