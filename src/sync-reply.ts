/**
 * The waiting half of a synchronous call between threads: a thread that posted a request blocks
 * until the reply to it arrives on a port, the replier having counted each reply it posted in a
 * shared Int32 slot (`Atomics.add`, then `Atomics.notify`). Used by a worker's key-value relay
 * client (kv/relay-client.ts) and its host calls to the main thread (runtime/host-call.ts).
 * `worker.terminate()` interrupts the wait.
 */
import { type MessagePort, receiveMessageOnPort } from 'node:worker_threads';

export type WaitResult<Reply> =
  | { kind: 'reply'; reply: Reply }
  /** `deadline` passed with no reply. */
  | { kind: 'timeout' }
  /** `abandoned()` said no reply will come. */
  | { kind: 'abandoned' };

/**
 * Blocks until the reply whose `id` is `id` arrives on `port`, skipping replies to earlier calls
 * that gave up, or until `deadline` (a `performance.now()` time), or until `abandoned()` is true.
 */
export function waitForReply<Reply extends { id: number }>(
  port: MessagePort,
  control: Int32Array,
  slot: number,
  id: number,
  deadline: number,
  abandoned: () => boolean = () => false,
): WaitResult<Reply> {
  for (;;) {
    // Read the count before looking at the port: a reply that lands in between changes the
    // count, so the wait below returns at once instead of missing it.
    const replies = Atomics.load(control, slot);
    const received = receiveMessageOnPort(port);
    if (received !== undefined) {
      const reply = received.message as Reply;
      if (reply.id === id) return { kind: 'reply', reply };
      continue;
    }
    if (abandoned()) return { kind: 'abandoned' };
    const remaining = deadline - performance.now();
    if (remaining <= 0) return { kind: 'timeout' };
    Atomics.wait(control, slot, replies, remaining);
  }
}
