/**
 * Just enough of the WebAssembly binary format to check a header, walk sections and read the
 * import and memory sections (https://webassembly.github.io/spec/core/binary/). Everything
 * else is left to the engine's own validation; this reader only has to be right about sizes so
 * that a rewrite can copy untouched sections byte for byte.
 */
import { IsolaError } from '../errors.js';

/** `\0asm`: every WebAssembly binary, module or component, starts with it. */
export const WASM_MAGIC = Object.freeze([0x00, 0x61, 0x73, 0x6d]);
export const HEADER_BYTES = 8;

/** Section ids of the core module format (binary/modules.html#sections). */
export const SectionId = Object.freeze({
  CUSTOM: 0,
  TYPE: 1,
  IMPORT: 2,
  FUNCTION: 3,
  TABLE: 4,
  MEMORY: 5,
  GLOBAL: 6,
  EXPORT: 7,
  START: 8,
  ELEMENT: 9,
  CODE: 10,
  DATA: 11,
  DATA_COUNT: 12,
  TAG: 13,
});

/** Import descriptor kinds (binary/modules.html#import-section; 0x04 is the exception-handling tag). */
export const ImportKind = Object.freeze({ FUNC: 0x00, TABLE: 0x01, MEMORY: 0x02, GLOBAL: 0x03, TAG: 0x04 });

/** The error for bytes that end before a value or section does: the file was cut short. */
export function truncated(bytes: Uint8Array, offset: number, what: string): IsolaError {
  return new IsolaError(
    'E_MODULE_INVALID',
    `module is truncated: ${what} runs past the end of the file (${bytes.length} bytes) at byte ${offset}: ` +
      'the file was cut short; copy or build it again',
    { truncated: true, offset, byteLength: bytes.length },
  );
}

/** A cursor over bytes that reads LEB128 integers and names, refusing to read past its end. */
export class ByteReader {
  readonly bytes: Uint8Array;
  readonly end: number;
  offset: number;

  constructor(bytes: Uint8Array, offset = 0, end = bytes.length) {
    this.bytes = bytes;
    this.offset = offset;
    this.end = end;
  }

  get done(): boolean {
    return this.offset >= this.end;
  }

  byte(): number {
    if (this.offset >= this.end) throw this.#pastEnd('a value');
    return this.bytes[this.offset++]!;
  }

  /** An unsigned LEB128 integer of at most `bits` bits, as a number (so at most 53 bits are exact). */
  unsigned(bits: 32 | 64 = 32): number {
    let result = 0;
    let scale = 1;
    const start = this.offset;
    for (let i = 0; i < Math.ceil(bits / 7); i++) {
      const byte = this.byte();
      result += (byte & 0x7f) * scale;
      if ((byte & 0x80) === 0) return result;
      scale *= 128;
    }
    throw new IsolaError(
      'E_MODULE_INVALID',
      `LEB128 integer at offset ${start} is longer than ${bits} bits`,
      {
        offset: start,
      },
    );
  }

  /** Skips a signed LEB128 integer (a block type or heap type index); its value is never needed. */
  skipSigned(): void {
    while (this.byte() & 0x80);
  }

  skip(count: number, what: string): void {
    if (count > this.end - this.offset) throw this.#pastEnd(what);
    this.offset += count;
  }

  /** Past the end of the file is truncation; past the end of a section inside it is a malformed module. */
  #pastEnd(what: string): IsolaError {
    if (this.end >= this.bytes.length) return truncated(this.bytes, this.offset, what);
    return new IsolaError(
      'E_MODULE_INVALID',
      `module is malformed: ${what} at byte ${this.offset} runs past the end of its section (byte ${this.end})`,
      { offset: this.offset },
    );
  }

  /** A name (vec(byte) holding UTF-8). */
  name(): string {
    const length = this.unsigned();
    const start = this.offset;
    this.skip(length, 'a name');
    return new TextDecoder().decode(this.bytes.subarray(start, start + length));
  }
}

export interface Section {
  id: number;
  /** Offset of the section id byte. */
  start: number;
  /** Offset of the first content byte (after the id and the size). */
  contentStart: number;
  /** Offset just past the section. */
  end: number;
}

/**
 * The sections of a core module, in order, after its 8-byte header. A section whose declared
 * size runs past the end of the bytes is reported as truncation with the numbers involved.
 */
export function readSections(bytes: Uint8Array): Section[] {
  const reader = new ByteReader(bytes, HEADER_BYTES);
  const sections: Section[] = [];
  while (!reader.done) {
    const start = reader.offset;
    const id = reader.byte();
    const size = reader.unsigned();
    const contentStart = reader.offset;
    if (size > bytes.length - contentStart) {
      throw truncated(
        bytes,
        bytes.length,
        `the ${sectionName(id)} section (${size} bytes from byte ${contentStart})`,
      );
    }
    sections.push({ id, start, contentStart, end: contentStart + size });
    reader.offset = contentStart + size;
  }
  return sections;
}

export function sectionName(id: number): string {
  const entry = Object.entries(SectionId).find(([, value]) => value === id);
  return entry ? entry[0].toLowerCase() : `#${id}`;
}

/** Memory and table limits (binary/types.html#limits) with the flag bits of threads and memory64. */
export interface Limits {
  flags: number;
  min: number;
  max: number | undefined;
}

export const LimitsFlag = Object.freeze({ HAS_MAX: 0x01, SHARED: 0x02, IS_64: 0x04 });

export function readLimits(reader: ByteReader): Limits {
  const flags = reader.byte();
  const bits = flags & LimitsFlag.IS_64 ? 64 : 32;
  const min = reader.unsigned(bits);
  const max = flags & LimitsFlag.HAS_MAX ? reader.unsigned(bits) : undefined;
  return { flags, min, max };
}

/** Skips a value or reference type, including the typed-reference forms `(ref null? ht)`. */
export function skipValueType(reader: ByteReader): void {
  const code = reader.byte();
  if (code === 0x63 || code === 0x64) reader.skipSigned();
}

export interface ImportEntry {
  module: string;
  name: string;
  kind: number;
  /** Offset of the descriptor's first byte after the kind byte. */
  descriptorStart: number;
  /** Offset just past the whole entry. */
  end: number;
  /** Present for memory imports. */
  limits?: Limits;
}

/** Every entry of an import section, with where each one's descriptor lies. */
export function readImportSection(bytes: Uint8Array, section: Section): ImportEntry[] {
  const reader = new ByteReader(bytes, section.contentStart, section.end);
  const count = reader.unsigned();
  const entries: ImportEntry[] = [];
  for (let i = 0; i < count; i++) {
    const module = reader.name();
    const name = reader.name();
    const kind = reader.byte();
    const descriptorStart = reader.offset;
    let limits: Limits | undefined;
    switch (kind) {
      case ImportKind.FUNC:
        reader.unsigned();
        break;
      case ImportKind.TABLE:
        skipValueType(reader);
        readLimits(reader);
        break;
      case ImportKind.MEMORY:
        limits = readLimits(reader);
        break;
      case ImportKind.GLOBAL:
        skipValueType(reader);
        reader.byte();
        break;
      case ImportKind.TAG:
        reader.byte();
        reader.unsigned();
        break;
      default:
        throw new IsolaError(
          'E_MODULE_INVALID',
          `import ${module}.${name} has unknown kind 0x${kind.toString(16)} at offset ${descriptorStart - 1}`,
          { offset: descriptorStart - 1 },
        );
    }
    entries.push({ module, name, kind, descriptorStart, end: reader.offset, ...(limits ? { limits } : {}) });
  }
  return entries;
}

/** The limits of every memory a memory section defines. */
export function readMemorySection(bytes: Uint8Array, section: Section): Limits[] {
  const reader = new ByteReader(bytes, section.contentStart, section.end);
  const count = reader.unsigned();
  const memories: Limits[] = [];
  for (let i = 0; i < count; i++) memories.push(readLimits(reader));
  return memories;
}
