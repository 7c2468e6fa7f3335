/**
 * Encoding for the small rewrites isola makes to a module: LEB128 integers, limits, and
 * reassembling a module from its original bytes with some ranges replaced.
 */
import { type Limits, LimitsFlag } from './binary-reader.js';

/** Unsigned LEB128 (binary/values.html#integers), for values up to 2^53. */
export function encodeUnsigned(value: number): number[] {
  const out: number[] = [];
  let rest = value;
  do {
    let byte = rest % 128;
    rest = Math.floor(rest / 128);
    if (rest !== 0) byte |= 0x80;
    out.push(byte);
  } while (rest !== 0);
  return out;
}

/** Limits as a 32-bit memory or table declares them; shared/64-bit flags are kept as given. */
export function encodeLimits(limits: Limits): number[] {
  const flags =
    limits.max === undefined ? limits.flags & ~LimitsFlag.HAS_MAX : limits.flags | LimitsFlag.HAS_MAX;
  const out = [flags, ...encodeUnsigned(limits.min)];
  if (limits.max !== undefined) out.push(...encodeUnsigned(limits.max));
  return out;
}

/** A replacement of `bytes[start, end)` by `content`. */
export interface Patch {
  start: number;
  end: number;
  content: ArrayLike<number>;
}

/** `bytes` with each patch applied; patches must not overlap. */
export function applyPatches(bytes: Uint8Array, patches: readonly Patch[]): Uint8Array {
  const sorted = [...patches].sort((a, b) => a.start - b.start);
  let length = bytes.length;
  for (const patch of sorted) length += patch.content.length - (patch.end - patch.start);
  const out = new Uint8Array(length);
  let read = 0;
  let write = 0;
  for (const patch of sorted) {
    out.set(bytes.subarray(read, patch.start), write);
    write += patch.start - read;
    out.set(patch.content, write);
    write += patch.content.length;
    read = patch.end;
  }
  out.set(bytes.subarray(read), write);
  return out;
}

/** A whole section: id, size, content. */
export function encodeSection(id: number, content: ArrayLike<number>): Uint8Array {
  const size = encodeUnsigned(content.length);
  const out = new Uint8Array(1 + size.length + content.length);
  out[0] = id;
  out.set(size, 1);
  out.set(content, 1 + size.length);
  return out;
}

/** A name: its UTF-8 bytes as a vec(byte) (binary/values.html#names). */
export function encodeName(name: string): number[] {
  const utf8 = new TextEncoder().encode(name);
  return [...encodeUnsigned(utf8.length), ...utf8];
}
