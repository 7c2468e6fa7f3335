/**
 * Bounds-checked access to a guest's linear memory. Every pointer the guest passes is checked
 * against the memory's current size; an out-of-range access is EFAULT for the guest, never a host
 * RangeError. Views are refreshed when `memory.grow` replaces the buffer.
 */
import { Errno } from './defs.js';
import { fail } from './errno.js';

const decoder = new TextDecoder('utf-8', { fatal: true });
const encoder = new TextEncoder();

export class GuestMemory {
  readonly #memory: WebAssembly.Memory;
  #buffer: ArrayBuffer;
  #view: DataView;
  #bytes: Uint8Array;

  constructor(memory: WebAssembly.Memory) {
    this.#memory = memory;
    this.#buffer = memory.buffer;
    this.#view = new DataView(this.#buffer);
    this.#bytes = new Uint8Array(this.#buffer);
  }

  /**
   * Re-reads the buffer if the guest grew its memory since the last call. Growing detaches the
   * old buffer (its byteLength becomes 0), which is cheaper to test than the `memory.buffer`
   * getter; a zero-page memory simply takes the getter every time.
   */
  #fresh(): void {
    if (this.#buffer.byteLength !== 0) return;
    const buffer = this.#memory.buffer;
    if (buffer !== this.#buffer) {
      this.#buffer = buffer;
      this.#view = new DataView(buffer);
      this.#bytes = new Uint8Array(buffer);
    }
  }

  /**
   * Checks `[ptr, ptr + length)` lies within memory and returns the address. Callers must read
   * `#view`/`#bytes` after this call, since it may replace them.
   */
  #check(ptr: number, length: number): number {
    this.#fresh();
    // Pointers arrive as i32; reinterpret as unsigned (wasm32 addresses are u32).
    const address = ptr >>> 0;
    if (address + length > this.#bytes.length) fail(Errno.FAULT);
    return address;
  }

  getU8(ptr: number): number {
    const address = this.#check(ptr, 1);
    return this.#view.getUint8(address);
  }
  getU16(ptr: number): number {
    const address = this.#check(ptr, 2);
    return this.#view.getUint16(address, true);
  }
  getU32(ptr: number): number {
    const address = this.#check(ptr, 4);
    return this.#view.getUint32(address, true);
  }
  getU64(ptr: number): bigint {
    const address = this.#check(ptr, 8);
    return this.#view.getBigUint64(address, true);
  }
  setU8(ptr: number, value: number): void {
    const address = this.#check(ptr, 1);
    this.#view.setUint8(address, value);
  }
  setU16(ptr: number, value: number): void {
    const address = this.#check(ptr, 2);
    this.#view.setUint16(address, value, true);
  }
  setU32(ptr: number, value: number): void {
    const address = this.#check(ptr, 4);
    this.#view.setUint32(address, value, true);
  }
  setU64(ptr: number, value: bigint): void {
    const address = this.#check(ptr, 8);
    this.#view.setBigUint64(address, BigInt.asUintN(64, value), true);
  }

  /** A live view of guest bytes (no copy): writes through it land in guest memory. */
  bytes(ptr: number, length: number): Uint8Array {
    const address = this.#check(ptr, length >>> 0);
    return this.#bytes.subarray(address, address + (length >>> 0));
  }

  /** Decodes a UTF-8 string the guest passed; invalid UTF-8 is EILSEQ. */
  string(ptr: number, length: number): string {
    try {
      return decoder.decode(this.bytes(ptr, length));
    } catch (error) {
      if (error instanceof TypeError) fail(Errno.ILSEQ);
      throw error;
    }
  }

  /** Copies `data` into guest memory at ptr. */
  write(ptr: number, data: Uint8Array): void {
    this.bytes(ptr, data.length).set(data);
  }

  /** Writes the iovec list at `iovs` as (buffer views) for scatter/gather, bounded by `maxBytes`. */
  iovecs(iovs: number, count: number, maxBytes: number): Uint8Array[] {
    const views: Uint8Array[] = [];
    let total = 0;
    for (let i = 0; i < count; i++) {
      const ptr = this.getU32(iovs + i * 8);
      let length = this.getU32(iovs + i * 8 + 4);
      // Bound what one call copies: the rest of the list is left for the guest's next call,
      // as a short read or write (POSIX allows either).
      if (total + length > maxBytes) length = maxBytes - total;
      views.push(this.bytes(ptr, length));
      total += length;
      if (total >= maxBytes) break;
    }
    return views;
  }
}

export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

/** Strings as the WASI ABI hands them over (argv, environ): UTF-8, each ended by a NUL, back to back. */
export interface StringBlock {
  /** Every string's bytes and its NUL. */
  readonly bytes: Uint8Array;
  /** Where each string starts in `bytes`. */
  readonly offsets: readonly number[];
}

/**
 * `texts` (none containing NUL) as one block: one encoding of them all, so that a CGI request's
 * ~25 environment variables cost one native call and one copy into the guest, not 25 of each.
 */
export function stringBlock(texts: readonly string[]): StringBlock {
  if (texts.length === 0) return { bytes: new Uint8Array(0), offsets: [] };
  const text = `${texts.join('\0')}\0`;
  const bytes = Buffer.from(text, 'utf8');
  const offsets: number[] = [0];
  if (bytes.length === text.length) {
    // All ASCII: each string's bytes are its characters.
    let start = 0;
    for (let i = 0; i < texts.length - 1; i++) {
      start += (texts[i] as string).length + 1;
      offsets.push(start);
    }
    return { bytes, offsets };
  }
  for (let i = 0; i < bytes.length - 1; i++) if (bytes[i] === 0) offsets.push(i + 1);
  return { bytes, offsets };
}
