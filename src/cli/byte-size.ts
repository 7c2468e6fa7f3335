/**
 * Byte sizes as `isola run --max-memory-size` takes them. wasmtime takes a plain number of bytes
 * (decimal, or hex with `0x`; `_` separators ignored); isola also accepts the binary suffixes
 * `K`/`KiB`, `M`/`MiB` and `G`/`GiB` (powers of 1024, as memory is counted).
 */
import { IsolaError } from '../errors.js';

const SUFFIX_BYTES: Readonly<Record<string, number>> = Object.freeze({
  '': 1,
  b: 1,
  k: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gib: 1024 ** 3,
});

/** Bytes for `text`; throws E_ARGUMENT_INVALID saying what a size looks like. */
export function parseByteSize(text: string): number {
  const cleaned = text.trim().replaceAll('_', '');
  const hex = /^0x([0-9a-f]+)$/i.exec(cleaned);
  if (hex) return Number.parseInt(hex[1]!, 16);
  const match = /^(\d+)\s*([a-z]*)$/i.exec(cleaned);
  const scale = match ? SUFFIX_BYTES[match[2]!.toLowerCase()] : undefined;
  if (!match || scale === undefined) {
    throw new IsolaError(
      'E_ARGUMENT_INVALID',
      `"${text}" is not a valid size: use a number of bytes, e.g. 67108864, 0x4000000 or 64M`,
      { value: text },
    );
  }
  return Number(match[1]) * scale;
}
