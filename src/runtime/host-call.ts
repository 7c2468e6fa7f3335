/**
 * Synchronous calls from a guest's host function on a worker thread to the main thread, for
 * host services that live there (a component's outbound HTTP: the allow-list, the DNS pinning and
 * the sockets belong to the thread that owns the event loop and the app's log).
 *
 * The worker posts a `host-call` message on its port to the engine (so the pool knows which
 * invocation asks) and blocks in `Atomics.wait` on its channel's control block. The main thread
 * serves the call asynchronously, posts the reply on the channel's own port and counts it in the
 * control block; the worker takes it off the port with `receiveMessageOnPort`. The wait is
 * bounded by the invocation's deadline, and `worker.terminate()` interrupts it, so a call the main
 * thread never answers cannot hold a worker past its deadline. (The pattern of command-stdio.ts's
 * stdin relay and of the key-value relay client, kv/relay-client.ts.)
 */
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import type { OutboundRequest } from '../component/host/outgoing-handler.js';
import { IsolaError, type SerializedError } from '../errors.js';
import type { SerializedOutboundError } from '../outbound/index.js';
import { waitForReply } from '../sync-reply.js';

/** Slot of the control block (Int32): replies posted so far. */
const REPLIES = 0;

/** What a worker asks the main thread for. */
export type HostCall = { kind: 'outbound'; request: OutboundRequest };

/** The main thread's answer to an `outbound` call. */
export type OutboundReply =
  | {
      ok: true;
      status: number;
      headers: [string, Uint8Array][];
      body: Uint8Array[];
    }
  | { ok: false; error: SerializedOutboundError };

/** The worker's message asking for a call; `id` is the invocation's, `seq` the call's. */
export interface HostCallMessage {
  op: 'host-call';
  id: number;
  seq: number;
  call: HostCall;
}

/** The reply to call `id` (the call's `seq`), on the channel's port. */
export type HostCallReply =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; error: SerializedError };

/** The worker's end, plain data plus a port (in `workerData`, the port in the transfer list). */
export interface HostCallChannel {
  port: MessagePort;
  control: SharedArrayBuffer;
}

/** Both ends of a new channel: `worker` goes to the worker thread, `main` stays. */
export function createHostCallChannel(): { worker: HostCallChannel; main: HostCallServerEnd } {
  const { port1, port2 } = new MessageChannel();
  const control = new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT);
  // The main end must not keep the process alive on its own: a worker's end is what holds it.
  port1.unref();
  return { worker: { port: port2, control }, main: new HostCallServerEnd(port1, control) };
}

/** The main thread's end: posts replies and wakes the worker. */
export class HostCallServerEnd {
  readonly #port: MessagePort;
  readonly #control: Int32Array;

  constructor(port: MessagePort, control: SharedArrayBuffer) {
    this.#port = port;
    this.#control = new Int32Array(control);
  }

  /** Answers call `seq` with the value `serve` settles to, or its error. Never rejects. */
  async answer(seq: number, serve: () => Promise<unknown>): Promise<void> {
    let reply: HostCallReply;
    try {
      reply = { id: seq, ok: true, value: await serve() };
    } catch (error) {
      const failure =
        error instanceof IsolaError
          ? error
          : new IsolaError('E_INTERNAL', `a host call failed: ${String(error)}`, {}, { cause: error });
      reply = { id: seq, ok: false, error: failure.toJSON() };
    }
    this.#port.postMessage(reply);
    Atomics.add(this.#control, REPLIES, 1);
    Atomics.notify(this.#control, REPLIES);
  }

  close(): void {
    this.#port.close();
  }
}

/** The worker's end: `call` blocks until the main thread answers or the deadline passes. */
export class HostCallClient {
  readonly #channel: HostCallChannel;
  readonly #post: (message: HostCallMessage) => void;
  readonly #control: Int32Array;
  #nextSeq = 1;

  /** `post` sends a message to the engine on the worker's own port. */
  constructor(channel: HostCallChannel, post: (message: HostCallMessage) => void) {
    this.#channel = channel;
    this.#post = post;
    this.#control = new Int32Array(channel.control);
  }

  /**
   * Asks the main thread to serve `call` for invocation `id`; throws E_GUEST_TIMEOUT when no
   * answer comes by `deadline` (a `performance.now()` time), or the main thread's error.
   */
  call(id: number, call: HostCall, deadline: number): unknown {
    const seq = this.#nextSeq++;
    this.#post({ op: 'host-call', id, seq, call });
    const result = waitForReply<HostCallReply>(this.#channel.port, this.#control, REPLIES, seq, deadline);
    if (result.kind !== 'reply') {
      throw new IsolaError(
        'E_GUEST_TIMEOUT',
        `the guest's ${call.kind} call was still unanswered at its deadline: raise timeoutMs or make the call faster`,
        { call: call.kind },
      );
    }
    const { reply } = result;
    if (reply.ok) return reply.value;
    throw IsolaError.fromJSON(reply.error);
  }
}
