/**
 * Reading the code section (https://webassembly.github.io/spec/core/binary/modules.html#code-section):
 * where each function body lies, and its instructions, walked just far enough to find the `call`
 * instructions in it, so that a copy of a body can have one call replaced. Immediates are skipped
 * by their encoding (binary/instructions.html); an opcode this walker does not know (SIMD, threads,
 * GC) stops it with E_MODULE_UNSUPPORTED rather than a guess at its length.
 */
import { IsolaError } from '../errors.js';
import { ByteReader, type Section, skipValueType } from '../wasm/binary-reader.js';

/** One function body: `[start, end)` is the body after its size (locals, then code). */
export interface FunctionBody {
  start: number;
  end: number;
}

/** A `call` instruction inside a body: `[start, end)` covers the opcode and its function index. */
export interface CallSite {
  start: number;
  end: number;
  callee: number;
}

/** The bodies of the functions a module defines, in order (defined function `i` is body `i`). */
export function readFunctionBodies(bytes: Uint8Array, code: Section): FunctionBody[] {
  const reader = new ByteReader(bytes, code.contentStart, code.end);
  const count = reader.unsigned();
  const bodies: FunctionBody[] = [];
  for (let i = 0; i < count; i++) {
    const size = reader.unsigned();
    const start = reader.offset;
    reader.skip(size, 'a function body');
    bodies.push({ start, end: start + size });
  }
  return bodies;
}

/** Where a body's instructions start: after its vector of local declarations. */
export function codeStart(bytes: Uint8Array, body: FunctionBody): number {
  const reader = new ByteReader(bytes, body.start, body.end);
  const groups = reader.unsigned();
  for (let i = 0; i < groups; i++) {
    reader.unsigned();
    skipValueType(reader);
  }
  return reader.offset;
}

/** Every `call` in a body, in order. */
export function findCalls(bytes: Uint8Array, body: FunctionBody): CallSite[] {
  const reader = new ByteReader(bytes, codeStart(bytes, body), body.end);
  const calls: CallSite[] = [];
  while (!reader.done) {
    const start = reader.offset;
    const opcode = reader.byte();
    if (opcode === Op.CALL) {
      calls.push({ start, callee: reader.unsigned(), end: reader.offset });
    } else {
      skipImmediates(reader, opcode);
    }
  }
  return calls;
}

const Op = Object.freeze({
  CALL: 0x10,
  CALL_INDIRECT: 0x11,
  BR_TABLE: 0x0e,
  SELECT_TYPED: 0x1c,
  I32_CONST: 0x41,
  I64_CONST: 0x42,
  F32_CONST: 0x43,
  F64_CONST: 0x44,
  MEMORY_SIZE: 0x3f,
  MEMORY_GROW: 0x40,
  REF_NULL: 0xd0,
  REF_FUNC: 0xd2,
  PREFIX_FC: 0xfc,
});

/** Opcodes followed by one unsigned LEB128 index: br, br_if, local.*, global.*, table.get/set. */
const ONE_INDEX = new Set([0x0c, 0x0d, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26]);

function skipImmediates(reader: ByteReader, opcode: number): void {
  if (opcode >= 0x02 && opcode <= 0x04) {
    // block, loop, if: a block type, which is 0x40, a value type, or an s33 type index.
    reader.skipSigned();
  } else if (ONE_INDEX.has(opcode)) {
    reader.unsigned();
  } else if (opcode >= 0x28 && opcode <= 0x3e) {
    // Loads and stores: a memarg (alignment, then offset).
    reader.unsigned();
    reader.unsigned(64);
  } else if (opcode === Op.MEMORY_SIZE || opcode === Op.MEMORY_GROW) {
    reader.byte();
  } else if (opcode === Op.I32_CONST || opcode === Op.I64_CONST) {
    reader.skipSigned();
  } else if (opcode === Op.F32_CONST) {
    reader.skip(4, 'an f32 constant');
  } else if (opcode === Op.F64_CONST) {
    reader.skip(8, 'an f64 constant');
  } else if (opcode === Op.CALL_INDIRECT) {
    reader.unsigned();
    reader.unsigned();
  } else if (opcode === Op.BR_TABLE) {
    const targets = reader.unsigned();
    for (let i = 0; i <= targets; i++) reader.unsigned();
  } else if (opcode === Op.SELECT_TYPED) {
    const types = reader.unsigned();
    for (let i = 0; i < types; i++) skipValueType(reader);
  } else if (opcode === Op.REF_NULL) {
    reader.skipSigned();
  } else if (opcode === Op.REF_FUNC) {
    reader.unsigned();
  } else if (opcode === Op.PREFIX_FC) {
    skipPrefixedFC(reader);
  } else if (!hasNoImmediates(opcode)) {
    throw unknownOpcode(reader, opcode.toString(16));
  }
}

/** unreachable, nop, else, end, return, drop, select, and the numeric, conversion and sign-extension ops. */
function hasNoImmediates(opcode: number): boolean {
  return (
    opcode === 0x00 ||
    opcode === 0x01 ||
    opcode === 0x05 ||
    opcode === 0x0b ||
    opcode === 0x0f ||
    opcode === 0x1a ||
    opcode === 0x1b ||
    opcode === 0xd1 ||
    (opcode >= 0x45 && opcode <= 0xc4)
  );
}

/** The 0xFC prefix: saturating truncations (0-7), bulk memory and table operations (8-17). */
function skipPrefixedFC(reader: ByteReader): void {
  const sub = reader.unsigned();
  if (sub <= 7) return;
  switch (sub) {
    case 8: // memory.init data memory
    case 12: // table.init elem table
    case 14: // table.copy table table
      reader.unsigned();
      reader.unsigned();
      return;
    case 9: // data.drop
    case 11: // memory.fill memory
    case 13: // elem.drop
    case 15: // table.grow
    case 16: // table.size
    case 17: // table.fill
      reader.unsigned();
      return;
    case 10: // memory.copy memory memory
      reader.unsigned();
      reader.unsigned();
      return;
    default:
      throw unknownOpcode(reader, `fc ${sub}`);
  }
}

function unknownOpcode(reader: ByteReader, opcode: string): IsolaError {
  return new IsolaError(
    'E_MODULE_UNSUPPORTED',
    `cannot walk the function body at byte ${reader.offset}: opcode 0x${opcode} is not one this rewrite ` +
      'knows (only the MVP, sign-extension, saturating-truncation and bulk-memory instructions are)',
    { offset: reader.offset, opcode },
  );
}
