/**
 * Where a worker holds guest output it has not sent yet: memory shared with the main thread, one
 * region per stream. Small writes are coalesced here and posted as chunks; if the worker is
 * stopped at a deadline (or crashes) with bytes still unsent, the main thread reads them from
 * here once the thread is gone, so output written before the deadline is never lost.
 */

/** Bytes each stream's region holds; a chunk is posted when it would overflow. */
export const OUTPUT_CHUNK_BYTES = 64 * 1024;

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
