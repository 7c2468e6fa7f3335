/**
 * Where a worker holds guest output it has not sent yet: memory shared with the main thread, one
 * region per stream. Small writes are coalesced here and posted as chunks; if the worker is
 * stopped at a deadline (or crashes) with bytes still unsent, the main thread reads them from
 * here once the thread is gone, so output written before the deadline is never lost.
 */

/** Bytes each stream's region holds; a chunk is posted when it would overflow. */
export const OUTPUT_CHUNK_BYTES = 64 * 1024;

/** Output is posted in chunks of at most OUTPUT_CHUNK_BYTES, or as soon as the oldest unsent byte is this old when the guest writes again. */
export const OUTPUT_FLUSH_MS = 5;

/** Plain data, so it travels in `workerData`. Stream 1 is stdout, 2 is stderr. */
export interface OutputBuffers {
  data: SharedArrayBuffer;
  /** One Int32 per stream: how many bytes of its region are unsent. */
  lengths: SharedArrayBuffer;
}

export function createOutputBuffers(): OutputBuffers {
  return {
    data: new SharedArrayBuffer(2 * OUTPUT_CHUNK_BYTES),
    lengths: new SharedArrayBuffer(2 * Int32Array.BYTES_PER_ELEMENT),
  };
}

/** One stream's region, as the worker writes it. */
export class OutputRegion {
  readonly bytes: Uint8Array;
  readonly #lengths: Int32Array;
  readonly #slot: number;

  constructor(buffers: OutputBuffers, stream: 1 | 2) {
    this.#slot = stream - 1;
    this.bytes = new Uint8Array(buffers.data, this.#slot * OUTPUT_CHUNK_BYTES, OUTPUT_CHUNK_BYTES);
    this.#lengths = new Int32Array(buffers.lengths);
  }

  get length(): number {
    return Atomics.load(this.#lengths, this.#slot);
  }

  set length(value: number) {
    Atomics.store(this.#lengths, this.#slot, value);
  }
}

/** The main thread's side, once the worker has stopped: the unsent bytes of a stream, if any. */
export function unsentOutput(buffers: OutputBuffers, stream: 1 | 2): Uint8Array | undefined {
  const region = new OutputRegion(buffers, stream);
  const length = region.length;
  if (length === 0) return undefined;
  region.length = 0;
  return region.bytes.slice(0, length);
}

/**
 * Coalesces a guest's small writes into chunks: a chunk is sent when the next write would
 * overflow `storage` (OUTPUT_CHUNK_BYTES), when a write finds the oldest held byte
 * `OUTPUT_FLUSH_MS` old, or on `flush()`; a write of a whole chunk or more is sent as is (a
 * copy). `rest()` takes what is held, for the message that ends the invocation. Preview1 output
 * (invocation-runner.ts) and a component's streamed response body (component-task.ts) use it.
 */
export class ChunkCoalescer {
  readonly #storage: () => Uint8Array;
  readonly #send: (chunk: Uint8Array) => void;
  readonly #held: (length: number) => void;
  #length = 0;
  #oldest = 0;

  /**
   * `storage` gives the buffer to hold bytes in (called at a write that holds some), `send` sends
   * a chunk the coalescer will not touch again, `held` is told how many bytes are held after each
   * change.
   */
  constructor(
    storage: () => Uint8Array,
    send: (chunk: Uint8Array) => void,
    held: (length: number) => void = () => {},
  ) {
    this.#storage = storage;
    this.#send = send;
    this.#held = held;
  }

  write(data: Uint8Array): void {
    if (this.#length + data.length > OUTPUT_CHUNK_BYTES) this.flush();
    if (data.length >= OUTPUT_CHUNK_BYTES) {
      this.#send(data.slice());
      return;
    }
    if (this.#length === 0) this.#oldest = performance.now();
    this.#storage().set(data, this.#length);
    this.#length += data.length;
    this.#held(this.#length);
    if (performance.now() - this.#oldest >= OUTPUT_FLUSH_MS) this.flush();
  }

  /** Sends what is held, if anything. */
  flush(): void {
    const rest = this.rest();
    if (rest !== undefined) this.#send(rest);
  }

  /** Takes what is held (nothing, after `flush`). */
  rest(): Uint8Array | undefined {
    if (this.#length === 0) return undefined;
    const rest = this.#storage().slice(0, this.#length);
    this.#length = 0;
    this.#held(0);
    return rest;
  }
}
