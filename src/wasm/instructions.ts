/**
 * Function bodies, one instruction at a time (binary/instructions.html): for every opcode isola
 * knows, which immediates follow it, so that a rewrite can find instruction boundaries without
 * understanding what the instructions do. Covered: the core instruction set with sign extension,
 * saturating truncation, bulk memory and reference types; SIMD and relaxed SIMD (0xfd); threads
 * (0xfe); tail calls; the typed function references that need no GC; and both exception-handling
 * encodings (legacy try/catch/delegate and try_table/throw_ref). GC (0xfb) and anything else
 * unknown is refused rather than guessed at, since a wrong guess about immediates would
 * desynchronise the walk and turn a rewrite into a broken module.
 */
import { IsolaError } from '../errors.js';
import { ByteReader, type Section, skipValueType } from './binary-reader.js';

/**
 * The opcodes rewrites look at. A prefixed instruction is reported as `prefix << 16 | subopcode`
 * (memory.fill, 0xfc 11, is 0xfc000b), so every opcode is one small integer.
 */
export const Opcode = Object.freeze({
  UNREACHABLE: 0x00,
  BLOCK: 0x02,
  LOOP: 0x03,
  IF: 0x04,
  TRY: 0x06,
  END: 0x0b,
  DELEGATE: 0x18,
  TRY_TABLE: 0x1f,
  GLOBAL_GET: 0x23,
  GLOBAL_SET: 0x24,
  I64_CONST: 0x42,
  I64_LT_S: 0x53,
  I64_SUB: 0x7d,
  MEMORY_INIT: 0xfc0008,
  MEMORY_COPY: 0xfc000a,
  MEMORY_FILL: 0xfc000b,
  TABLE_INIT: 0xfc000c,
  TABLE_COPY: 0xfc000e,
  TABLE_FILL: 0xfc0011,
});

/** The block type that declares no parameters and no results (binary/instructions.html#control-instructions). */
export const EMPTY_BLOCK_TYPE = 0x40;

const MISC_PREFIX = 0xfc;
const SIMD_PREFIX = 0xfd;
const ATOMIC_PREFIX = 0xfe;
const GC_PREFIX = 0xfb;

/** What follows an opcode. 0 marks an opcode isola does not know. */
const UNKNOWN = 0;
const NONE = 1;
const BLOCK_TYPE = 2;
const INDEX = 3;
const TWO_INDICES = 4;
const BR_TABLE = 5;
const MEMARG = 6;
/** A signed LEB128 integer: i32.const, i64.const, and the heap type of ref.null. */
const SIGNED = 7;
const BYTES_4 = 8;
const BYTES_8 = 9;
const SELECT_TYPES = 10;
const TRY_TABLE = 11;
const LANE = 12;
const MEMARG_LANE = 13;
const BYTES_16 = 14;
/** atomic.fence: one reserved 0x00 byte. */
const ZERO_BYTE = 15;

function table(size: number, ranges: readonly (readonly [from: number, to: number, kind: number])[]) {
  const kinds = new Uint8Array(size);
  for (const [from, to, kind] of ranges) kinds.fill(kind, from, to + 1);
  return kinds;
}

/** One-byte opcodes (binary/instructions.html), with the proposals named where they come from. */
const SINGLE = table(256, [
  [0x00, 0x01, NONE], // unreachable, nop
  [0x02, 0x04, BLOCK_TYPE], // block, loop, if
  [0x05, 0x05, NONE], // else
  [0x06, 0x06, BLOCK_TYPE], // try (legacy exceptions)
  [0x07, 0x09, INDEX], // catch, throw, rethrow
  [0x0a, 0x0b, NONE], // throw_ref, end
  [0x0c, 0x0d, INDEX], // br, br_if
  [0x0e, 0x0e, BR_TABLE],
  [0x0f, 0x0f, NONE], // return
  [0x10, 0x10, INDEX], // call
  [0x11, 0x11, TWO_INDICES], // call_indirect
  [0x12, 0x12, INDEX], // return_call
  [0x13, 0x13, TWO_INDICES], // return_call_indirect
  [0x14, 0x15, INDEX], // call_ref, return_call_ref
  [0x18, 0x18, INDEX], // delegate
  [0x19, 0x1b, NONE], // catch_all, drop, select
  [0x1c, 0x1c, SELECT_TYPES],
  [0x1f, 0x1f, TRY_TABLE],
  [0x20, 0x26, INDEX], // local.get/set/tee, global.get/set, table.get/set
  [0x28, 0x3e, MEMARG], // loads and stores
  [0x3f, 0x40, INDEX], // memory.size, memory.grow (a memory index, 0x00 before multi-memory)
  [0x41, 0x42, SIGNED], // i32.const, i64.const
  [0x43, 0x43, BYTES_4], // f32.const
  [0x44, 0x44, BYTES_8], // f64.const
  [0x45, 0xc4, NONE], // numeric instructions, sign extension up to i64.extend32_s
  [0xd0, 0xd0, SIGNED], // ref.null heaptype
  [0xd1, 0xd1, NONE], // ref.is_null
  [0xd2, 0xd2, INDEX], // ref.func
  [0xd3, 0xd4, NONE], // ref.eq, ref.as_non_null
  [0xd5, 0xd6, INDEX], // br_on_null, br_on_non_null
]);

/** 0xfc: saturating truncation (0-7), bulk memory and reference types (8-17). */
const MISC = table(18, [
  [0, 7, NONE],
  [8, 8, TWO_INDICES], // memory.init data memory
  [9, 9, INDEX], // data.drop
  [10, 10, TWO_INDICES], // memory.copy
  [11, 11, INDEX], // memory.fill
  [12, 12, TWO_INDICES], // table.init elem table
  [13, 13, INDEX], // elem.drop
  [14, 14, TWO_INDICES], // table.copy
  [15, 17, INDEX], // table.grow, table.size, table.fill
]);

/**
 * 0xfd: SIMD (0x00-0xff) and relaxed SIMD (0x100-0x113). The gaps are the opcodes the final
 * SIMD proposal left unassigned; V8 rejects each of them as an invalid SIMD opcode.
 */
const SIMD = table(0x114, [
  [0x00, 0x0b, MEMARG], // v128.load ... v128.store
  [0x0c, 0x0c, BYTES_16], // v128.const
  [0x0d, 0x0d, BYTES_16], // i8x16.shuffle: 16 lane indices
  [0x0e, 0x14, NONE], // swizzle, splats
  [0x15, 0x22, LANE], // extract_lane / replace_lane
  [0x23, 0x53, NONE],
  [0x54, 0x5b, MEMARG_LANE], // v128.load8_lane ... v128.store64_lane
  [0x5c, 0x5d, MEMARG], // v128.load32_zero, v128.load64_zero
  [0x5e, 0x113, NONE],
]);
for (const gap of [
  0x9a, 0xa2, 0xa5, 0xa6, 0xaf, 0xb0, 0xb2, 0xb3, 0xb4, 0xbb, 0xc2, 0xc5, 0xc6, 0xcf, 0xd0, 0xd2, 0xd3, 0xd4,
  0xe2, 0xee,
]) {
  SIMD[gap] = UNKNOWN;
}

/** 0xfe: threads. Every atomic access has a memarg; atomic.fence has a reserved byte. */
const ATOMIC = table(0x4f, [
  [0x00, 0x02, MEMARG], // memory.atomic.notify, wait32, wait64
  [0x03, 0x03, ZERO_BYTE], // atomic.fence
  [0x10, 0x4e, MEMARG], // atomic loads, stores, read-modify-write, cmpxchg
]);

/**
 * Reads the instruction at the reader's offset and leaves the reader after its immediates.
 * Returns its opcode (see `Opcode` for how prefixed ones are numbered). An opcode isola does not
 * know is refused with E_MODULE_UNSUPPORTED naming it and `functionIndex`.
 */
export function readInstruction(reader: ByteReader, functionIndex: number): number {
  const start = reader.offset;
  const first = reader.byte();
  let opcode = first;
  let kind: number;
  if (first >= MISC_PREFIX && first <= ATOMIC_PREFIX) {
    const sub = reader.unsigned();
    const kinds = first === MISC_PREFIX ? MISC : first === SIMD_PREFIX ? SIMD : ATOMIC;
    kind = sub < kinds.length ? kinds[sub]! : UNKNOWN;
    opcode = (first << 16) | sub;
  } else {
    kind = SINGLE[first]!;
  }
  switch (kind) {
    case NONE:
      break;
    case INDEX:
      reader.unsigned();
      break;
    case SIGNED:
      reader.skipSigned();
      break;
    case MEMARG:
      skipMemarg(reader);
      break;
    case BLOCK_TYPE:
      skipBlockType(reader);
      break;
    case TWO_INDICES:
      reader.unsigned();
      reader.unsigned();
      break;
    case BR_TABLE: {
      const labels = reader.unsigned();
      for (let i = 0; i <= labels; i++) reader.unsigned();
      break;
    }
    case BYTES_4:
      reader.skip(4, 'an f32 constant');
      break;
    case BYTES_8:
      reader.skip(8, 'an f64 constant');
      break;
    case SELECT_TYPES: {
      const types = reader.unsigned();
      for (let i = 0; i < types; i++) skipValueType(reader);
      break;
    }
    case TRY_TABLE:
      skipBlockType(reader);
      skipCatchClauses(reader, functionIndex);
      break;
    case LANE:
      reader.skip(1, 'a lane index');
      break;
    case MEMARG_LANE:
      skipMemarg(reader);
      reader.skip(1, 'a lane index');
      break;
    case BYTES_16:
      reader.skip(16, 'a v128 immediate');
      break;
    case ZERO_BYTE:
      reader.skip(1, 'the reserved byte of atomic.fence');
      break;
    default:
      throw unknownOpcode(reader, start, functionIndex);
  }
  return opcode;
}

/** A memarg: alignment, a memory index when bit 6 of the alignment says so (multi-memory), offset. */
function skipMemarg(reader: ByteReader): void {
  const align = reader.unsigned();
  if (align & 0x40) reader.unsigned();
  reader.unsigned(64);
}

/** A block type: 0x40 (empty), a value type, or a non-negative s33 type index. */
function skipBlockType(reader: ByteReader): void {
  if ((reader.bytes[reader.offset] ?? 0) & 0x80) reader.skipSigned();
  else skipValueType(reader);
}

/** try_table's catch clauses: catch and catch_ref name a tag and a label, the catch_all forms a label. */
function skipCatchClauses(reader: ByteReader, functionIndex: number): void {
  const clauses = reader.unsigned();
  for (let i = 0; i < clauses; i++) {
    const kind = reader.byte();
    if (kind > 0x03) {
      throw new IsolaError(
        'E_MODULE_INVALID',
        `module is malformed: function ${functionIndex} has a try_table catch clause of unknown kind ` +
          `0x${kind.toString(16)} at byte ${reader.offset - 1}`,
        { functionIndex, offset: reader.offset - 1 },
      );
    }
    if (kind <= 0x01) reader.unsigned();
    reader.unsigned();
  }
}

function unknownOpcode(reader: ByteReader, start: number, functionIndex: number): IsolaError {
  const opcode = Array.from(
    reader.bytes.subarray(start, reader.offset),
    (byte) => `0x${byte.toString(16).padStart(2, '0')}`,
  ).join(' ');
  const feature = reader.bytes[start] === GC_PREFIX ? ' (the GC proposal)' : '';
  return new IsolaError(
    'E_MODULE_UNSUPPORTED',
    `function ${functionIndex} uses opcode ${opcode}${feature} at byte ${start}, which isola cannot decode: ` +
      'build the module without that feature, or run it without fuel metering',
    { functionIndex, opcode, offset: start },
  );
}

/** One entry of the code section (binary/modules.html#code-section). */
export interface FunctionBody {
  /** The function's index, counting imported functions first. */
  index: number;
  /** Offset of the body's first byte (its local declarations), just after its size prefix. */
  start: number;
  /** Offset of the first instruction, after the local declarations. */
  codeStart: number;
  /** Offset just past the body (its final `end`). */
  end: number;
}

/** Every body of a code section; `firstIndex` is the number of imported functions. */
export function readFunctionBodies(bytes: Uint8Array, section: Section, firstIndex: number): FunctionBody[] {
  const reader = new ByteReader(bytes, section.contentStart, section.end);
  const count = reader.unsigned();
  const bodies: FunctionBody[] = [];
  for (let i = 0; i < count; i++) {
    const size = reader.unsigned();
    const start = reader.offset;
    const end = start + size;
    if (end > section.end) {
      throw new IsolaError(
        'E_MODULE_INVALID',
        `module is malformed: the body of function ${firstIndex + i} (${size} bytes from byte ${start}) ` +
          `runs past the end of the code section (byte ${section.end})`,
        { functionIndex: firstIndex + i, offset: start },
      );
    }
    const locals = new ByteReader(bytes, start, end);
    const groups = locals.unsigned();
    for (let j = 0; j < groups; j++) {
      locals.unsigned();
      skipValueType(locals);
    }
    bodies.push({ index: firstIndex + i, start, codeStart: locals.offset, end });
    reader.offset = end;
  }
  return bodies;
}
