/**
 * Stdio for a command running in a worker thread.
 *
 * Stdin is relayed by the main thread. The worker cannot
 * read fd 0 itself: a guest blocked in `read(2)` on a terminal or an idle pipe sits in a system
 * call that `worker.terminate()` cannot interrupt, so a timed-out guest would hold the process
 * open until input arrives. Instead the worker asks the main thread for bytes and blocks in
 * `Atomics.wait`, which termination does interrupt; the main thread reads its stream only on
 * demand, so a guest that never reads stdin never touches it.
 *
 * Stdout and stderr are written by the worker itself, straight to fds 1 and 2, with the WASI
 * host's `fdSink`, which waits out a full non-blocking pipe in `Atomics.wait` as well.
 */
import type { Readable } from 'node:stream';
import type { MessagePort } from 'node:worker_threads';
import { IsolaError } from '../errors.js';
import type { InputSource } from '../wasi/index.js';

/** Bytes moved per request; the guest's read returns at most this much, as a short read. */
export const STDIN_CHUNK_BYTES = 64 * 1024;

/** Slots of the control block (Int32). */
const STATE = 0;
const LENGTH = 1;
/** The byte cap, set by the relay so that the worker can name it. */
const LIMIT = 2;
/** STATE values. */
const IDLE = 0;
const REQUESTED = 1;
const FILLED = 2;
/** LENGTH values besides a byte count. */
const END_OF_INPUT = -1;
const READ_FAILED = -2;
const LIMIT_EXCEEDED = -3;

/** The shared memory both sides use; plain data, so it travels in `workerData`. */
export interface StdinChannel {
  control: SharedArrayBuffer;
  data: SharedArrayBuffer;
  isTerminal: boolean;
}

/** The message a worker posts to ask for bytes. */
export interface StdinRequest {
  op: 'stdin-read';
  max: number;
}

export function createStdinChannel(isTerminal: boolean): StdinChannel {
  return {
    control: new SharedArrayBuffer(3 * Int32Array.BYTES_PER_ELEMENT),
    data: new SharedArrayBuffer(STDIN_CHUNK_BYTES),
    isTerminal,
  };
}

/** The worker's side: an `InputSource` whose reads block until the main thread answers. */
export function relayedStdin(channel: StdinChannel, port: MessagePort): InputSource {
  const control = new Int32Array(channel.control);
  const data = new Uint8Array(channel.data);
  let ended = false;
  return {
    read(buffer) {
      if (ended || buffer.length === 0) return 0;
      const max = Math.min(buffer.length, STDIN_CHUNK_BYTES);
      Atomics.store(control, STATE, REQUESTED);
      port.postMessage({ op: 'stdin-read', max } satisfies StdinRequest);
      while (Atomics.load(control, STATE) === REQUESTED) Atomics.wait(control, STATE, REQUESTED);
      const length = Atomics.load(control, LENGTH);
      Atomics.store(control, STATE, IDLE);
      if (length === READ_FAILED) throw Object.assign(new Error('reading stdin failed'), { code: 'EIO' });
      if (length === LIMIT_EXCEEDED) {
        const limit = Atomics.load(control, LIMIT);
        throw new IsolaError(
          'E_GUEST_INPUT_LIMIT',
          `the guest was fed more than ${limit} bytes of stdin: raise maxStdinBytes or send less`,
          { limit },
        );
      }
      if (length === END_OF_INPUT) {
        ended = true;
        return 0;
      }
      buffer.set(data.subarray(0, length));
      return length;
    },
    // Whether bytes are waiting is known only to the main thread; poll_oneoff treats null as "may block".
    available: () => null,
    isTerminal: channel.isTerminal,
  };
}

/** The main thread's side: answers each request from `stream`, reading it only when asked. */
export class StdinRelay {
  readonly #control: Int32Array;
  readonly #data: Uint8Array;
  readonly #stream: Readable;
  #pending: Uint8Array = new Uint8Array(0);
  #ended = false;
  #touched = false;
  #stopWaiting: (() => void) | undefined;
  #closed = false;
  readonly #maxBytes: number;
  #served = 0;

  /** `maxBytes`: stdin bytes the guest may be fed in all; one more ends it (E_GUEST_INPUT_LIMIT). */
  constructor(channel: StdinChannel, stream: Readable, maxBytes = Number.POSITIVE_INFINITY) {
    this.#control = new Int32Array(channel.control);
    this.#data = new Uint8Array(channel.data);
    this.#stream = stream;
    this.#maxBytes = maxBytes;
  }

  /** Serves one request; the worker is blocked until this answers. */
  async serve(request: StdinRequest): Promise<void> {
    let length: number;
    try {
      if (this.#pending.length === 0) this.#pending = await this.#next();
      length = this.#pending.length === 0 ? END_OF_INPUT : Math.min(request.max, this.#pending.length);
      if (length > 0 && this.#served + length > this.#maxBytes) {
        Atomics.store(this.#control, LIMIT, Math.min(this.#maxBytes, 2 ** 31 - 1));
        length = LIMIT_EXCEEDED;
      } else if (length > 0) {
        this.#served += length;
        this.#data.set(this.#pending.subarray(0, length));
        this.#pending = this.#pending.subarray(length);
      }
    } catch {
      length = READ_FAILED;
    }
    if (this.#closed) return;
    Atomics.store(this.#control, LENGTH, length);
    Atomics.store(this.#control, STATE, FILLED);
    Atomics.notify(this.#control, STATE);
  }

  /** The next chunk from the stream (paused mode), or an empty one at end of input. */
  #next(): Promise<Uint8Array> {
    const stream = this.#stream;
    if (this.#ended || stream.readableEnded) return Promise.resolve(new Uint8Array(0));
    this.#touched = true;
    return new Promise((resolve, reject) => {
      const stop = () => {
        stream.off('readable', attempt);
        stream.off('end', onEnd);
        stream.off('error', onError);
        this.#stopWaiting = undefined;
      };
      const attempt = () => {
        const chunk: unknown = stream.read();
        if (chunk === null) return;
        stop();
        resolve(typeof chunk === 'string' ? new TextEncoder().encode(chunk) : (chunk as Uint8Array));
      };
      const onEnd = () => {
        this.#ended = true;
        stop();
        resolve(new Uint8Array(0));
      };
      const onError = (error: Error) => {
        stop();
        reject(error);
      };
      stream.on('readable', attempt);
      stream.on('end', onEnd);
      stream.on('error', onError);
      this.#stopWaiting = stop;
      attempt();
    });
  }

  /**
   * Stops serving. A stream the relay has read from is paused and unref'd (not destroyed, so the
   * caller may still use it), so that an idle terminal or pipe does not keep the process alive
   * after the guest is gone.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#stopWaiting?.();
    if (!this.#touched) return;
    this.#stream.pause();
    (this.#stream as Readable & { unref?: () => void }).unref?.();
  }
}
