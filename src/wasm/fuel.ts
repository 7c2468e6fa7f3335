/**
 * Fuel metering, the idea of wasmtime's `consume_fuel`: the module is rewritten so that it counts
 * a global down as it runs and traps with `unreachable` once the count goes below zero. A host
 * can then run a short guest on its own thread and still stop one that runs too long, with no
 * watchdog thread or timer, and deterministically: the same run uses the same fuel every time.
 *
 * Where fuel is charged: on entry to every function, the number of instructions of its body that
 * lie outside any loop; right after every `loop` header, the number of instructions of that
 * loop's body outside its nested loops. Every backward branch targets a loop and every call
 * enters a function, so no code runs twice without a charge, and fuel used is about the number of
 * instructions executed (an over-estimate when a branch skips code that was charged ahead).
 * A charge is
 *
 *     global.get $fuel  i64.const cost  i64.sub  global.set $fuel
 *     global.get $fuel  i64.const 0  i64.lt_s  if  unreachable  end
 *
 * (there is no global.tee). The counter is a new global that only the inserted code names, so a
 * guest cannot refill it; the host reads and sets it through the export `isola:fuel`.
 */
import { IsolaError } from '../errors.js';
import {
  ByteReader,
  ImportKind,
  readImportSection,
  readSections,
  type Section,
  SectionId,
} from './binary-reader.js';
import { applyPatches, encodeName, encodeSection, encodeUnsigned, type Patch } from './binary-writer.js';
import {
  EMPTY_BLOCK_TYPE,
  type FunctionBody,
  Opcode,
  readFunctionBodies,
  readInstruction,
} from './instructions.js';
import { readHeader } from './module-info.js';

/** The export under which an instrumented module's fuel counter, a `(mut i64)` global, is reached. */
export const FUEL_EXPORT = 'isola:fuel';

export interface FuelOptions {
  /**
   * The fuel the counter holds when an instance is created, before the host sets it: what the
   * module's start function (if it has one) may use. Default 0n, so an instance that the host
   * forgot to fuel traps on its first call instead of running unmetered; a module with a start
   * function needs enough here for it to finish. At most `MAX_FUEL`.
   */
  initialFuel?: bigint;
}

export const FUEL_DEFAULTS = Object.freeze({ initialFuel: 0n });

/**
 * The largest fuel an i64 counter holds. Charges are at most the size of a function body, far
 * below 2^63, so a counter that starts in [0, MAX_FUEL] goes negative before it can wrap.
 */
export const MAX_FUEL = 2n ** 63n - 1n;

/**
 * The extra charge of memory.fill, memory.copy, memory.init, table.fill, table.copy and
 * table.init on top of their one instruction. It is flat, not proportional to the length they
 * are given, so fuel does not bound the time spent inside one of them: the memory limit does,
 * since one operation touches at most the whole memory or table.
 */
export const BULK_OPERATION_FUEL = 16;

/** The counter's global type: i64, `var` (binary/types.html#global-types). */
const I64 = 0x7e;
const MUTABLE = 0x01;

/**
 * The module with fuel metering added: a new `(mut i64)` global appended after the existing
 * ones (so no global index moves), initialised to `initialFuel` and exported as `FUEL_EXPORT`,
 * and a charge at every function entry and loop header. Every function body is re-encoded;
 * every other section, custom sections included, is copied byte for byte. Offsets into the code
 * that custom sections record (DWARF, branch hints) therefore no longer match it.
 *
 * Refused: an opcode the walker does not know (E_MODULE_UNSUPPORTED, naming it and the
 * function), a module that already exports `FUEL_EXPORT` (E_MODULE_UNSUPPORTED: instrumented
 * twice), an `initialFuel` outside [0, MAX_FUEL] (E_LIMIT_OUT_OF_RANGE).
 */
export function instrumentFuel(bytes: Uint8Array, options: FuelOptions = {}): Uint8Array {
  const initialFuel = options.initialFuel ?? FUEL_DEFAULTS.initialFuel;
  requireFuelInRange(initialFuel);
  readHeader(bytes, { require: 'module' });
  const sections = readSections(bytes);
  const section = (id: number) => sections.find((candidate) => candidate.id === id);

  const importSection = section(SectionId.IMPORT);
  const imports = importSection ? readImportSection(bytes, importSection) : [];
  const importedFunctions = imports.filter((entry) => entry.kind === ImportKind.FUNC).length;
  const importedGlobals = imports.filter((entry) => entry.kind === ImportKind.GLOBAL).length;
  const globalSection = section(SectionId.GLOBAL);
  const fuelIndex = importedGlobals + (globalSection ? readCount(bytes, globalSection) : 0);

  const exportSection = section(SectionId.EXPORT);
  if (exportSection && exportNames(bytes, exportSection).includes(FUEL_EXPORT)) {
    throw new IsolaError(
      'E_MODULE_UNSUPPORTED',
      `the module already exports "${FUEL_EXPORT}": it was instrumented for fuel already; ` +
        'pass the module as built',
      { export: FUEL_EXPORT },
    );
  }

  const fuelGlobal = [I64, MUTABLE, Opcode.I64_CONST, ...encodeSigned(initialFuel), Opcode.END];
  // Export descriptors use the import kinds' codes (binary/modules.html#export-section).
  const fuelExport = [...encodeName(FUEL_EXPORT), ImportKind.GLOBAL, ...encodeUnsigned(fuelIndex)];
  // The new sections first: when one goes where the code section starts, it must come before the
  // code section's replacement, and applyPatches keeps patches at one offset in order.
  const patches: Patch[] = [
    appendEntry(bytes, sections, SectionId.GLOBAL, fuelGlobal),
    appendEntry(bytes, sections, SectionId.EXPORT, fuelExport),
  ];
  const codeSection = section(SectionId.CODE);
  if (codeSection) {
    const bodies = readFunctionBodies(bytes, codeSection, importedFunctions);
    const content = meterCode(bytes, codeSection, bodies, fuelIndex);
    patches.push({
      start: codeSection.start,
      end: codeSection.end,
      content: encodeSection(SectionId.CODE, content),
    });
  }
  return applyPatches(bytes, patches);
}

/** The fuel counter of an instance of an instrumented module, to read or set (as a bigint). */
export function fuelGlobal(instance: WebAssembly.Instance): WebAssembly.Global {
  const global = instance.exports[FUEL_EXPORT];
  if (global instanceof WebAssembly.Global) return global;
  throw new IsolaError(
    'E_ARGUMENT_INVALID',
    `the instance has no "${FUEL_EXPORT}" global export: instantiate the module instrumentFuel returned`,
    { export: FUEL_EXPORT },
  );
}

/** True when `instance` stopped because it ran out of fuel: its counter is below zero. */
export function outOfFuel(instance: WebAssembly.Instance): boolean {
  return (fuelGlobal(instance).value as bigint) < 0n;
}

function requireFuelInRange(fuel: bigint): void {
  if (typeof fuel === 'bigint' && fuel >= 0n && fuel <= MAX_FUEL) return;
  throw new IsolaError(
    'E_LIMIT_OUT_OF_RANGE',
    `initialFuel ${String(fuel)} is out of range: pass a bigint from 0n to ${MAX_FUEL}n`,
    { limit: 'initialFuel', value: String(fuel) },
  );
}

/** The entry count at the start of a vector section (globals, exports, code). */
function readCount(bytes: Uint8Array, section: Section): number {
  return new ByteReader(bytes, section.contentStart, section.end).unsigned();
}

function exportNames(bytes: Uint8Array, section: Section): string[] {
  const reader = new ByteReader(bytes, section.contentStart, section.end);
  const count = reader.unsigned();
  const names: string[] = [];
  for (let i = 0; i < count; i++) {
    names.push(reader.name());
    reader.byte();
    reader.unsigned();
  }
  return names;
}

/** Section ids in the order a module must have them (binary/modules.html#binary-module). */
const SECTION_ORDER: readonly number[] = [
  SectionId.TYPE,
  SectionId.IMPORT,
  SectionId.FUNCTION,
  SectionId.TABLE,
  SectionId.MEMORY,
  SectionId.TAG,
  SectionId.GLOBAL,
  SectionId.EXPORT,
  SectionId.START,
  SectionId.ELEMENT,
  SectionId.DATA_COUNT,
  SectionId.CODE,
  SectionId.DATA,
];

/**
 * The patch that appends `entry` to the vector section `id`, or creates the section before the
 * first section that must follow it. Custom sections may sit anywhere and stay where they are.
 */
function appendEntry(bytes: Uint8Array, sections: readonly Section[], id: number, entry: number[]): Patch {
  const existing = sections.find((candidate) => candidate.id === id);
  if (existing) {
    const reader = new ByteReader(bytes, existing.contentStart, existing.end);
    const count = reader.unsigned();
    const entries = bytes.subarray(reader.offset, existing.end);
    const head = encodeUnsigned(count + 1);
    const content = new Uint8Array(head.length + entries.length + entry.length);
    content.set(head);
    content.set(entries, head.length);
    content.set(entry, head.length + entries.length);
    return { start: existing.start, end: existing.end, content: encodeSection(id, content) };
  }
  const rank = SECTION_ORDER.indexOf(id);
  const next = sections.find(
    (candidate) => candidate.id !== SectionId.CUSTOM && SECTION_ORDER.indexOf(candidate.id) > rank,
  );
  const at = next?.start ?? bytes.length;
  return { start: at, end: at, content: encodeSection(id, [...encodeUnsigned(1), ...entry]) };
}

/** Where one function body is charged: `costs[i]` goes right after the byte before `points[i]`. */
interface Charges {
  points: number[];
  costs: number[];
}

/** The content of the code section with every body metered. Linear in the size of the section. */
function meterCode(
  bytes: Uint8Array,
  section: Section,
  bodies: readonly FunctionBody[],
  fuelIndex: number,
): Uint8Array {
  const index = encodeUnsigned(fuelIndex);
  const head = Uint8Array.from([Opcode.GLOBAL_GET, ...index, Opcode.I64_CONST]);
  const tail = Uint8Array.from([
    Opcode.I64_SUB,
    Opcode.GLOBAL_SET,
    ...index,
    Opcode.GLOBAL_GET,
    ...index,
    Opcode.I64_CONST,
    0x00,
    Opcode.I64_LT_S,
    Opcode.IF,
    EMPTY_BLOCK_TYPE,
    Opcode.UNREACHABLE,
    Opcode.END,
  ]);
  const sectionBytes = section.end - section.contentStart;
  const sink = new ByteSink(sectionBytes + (sectionBytes >>> 3) + 64);
  sink.unsigned(bodies.length);
  const charges: Charges = { points: [], costs: [] };
  const stack: number[] = [];
  for (const body of bodies) {
    findCharges(bytes, body, charges, stack);
    const { points, costs } = charges;
    let size = body.end - body.start;
    for (const cost of costs) size += head.length + signedLength(cost) + tail.length;
    sink.unsigned(size);
    let read = body.start;
    for (let i = 0; i < points.length; i++) {
      const point = points[i]!;
      sink.bytes(bytes.subarray(read, point));
      sink.bytes(head);
      sink.signed(costs[i]!);
      sink.bytes(tail);
      read = point;
    }
    sink.bytes(bytes.subarray(read, body.end));
  }
  return sink.result();
}

/**
 * Walks one body and fills `charges`: the function's entry first, then each loop's header in the
 * order they appear. Each instruction is counted in the innermost loop around it, or at entry
 * when there is none; `loop` itself counts outside its body and its `end` inside. `stack` holds,
 * for every open block, the region to return to at its `end` (or `delegate`, which closes a try).
 */
function findCharges(bytes: Uint8Array, body: FunctionBody, charges: Charges, stack: number[]): void {
  const { points, costs } = charges;
  points.length = 0;
  costs.length = 0;
  stack.length = 0;
  points.push(body.codeStart);
  costs.push(0);
  const reader = new ByteReader(bytes, body.codeStart, body.end);
  let region = 0;
  for (;;) {
    const opcode = readInstruction(reader, body.index);
    costs[region]! += 1;
    switch (opcode) {
      case Opcode.BLOCK:
      case Opcode.IF:
      case Opcode.TRY:
      case Opcode.TRY_TABLE:
        stack.push(region);
        break;
      case Opcode.LOOP:
        stack.push(region);
        region = costs.length;
        points.push(reader.offset);
        costs.push(0);
        break;
      case Opcode.END:
      case Opcode.DELEGATE: {
        const outer = stack.pop();
        if (outer !== undefined) {
          region = outer;
          break;
        }
        if (opcode === Opcode.END && reader.offset === body.end) return;
        throw new IsolaError(
          'E_MODULE_INVALID',
          `module is malformed: function ${body.index} has instructions after its final end ` +
            `(byte ${reader.offset}, body ends at byte ${body.end})`,
          { functionIndex: body.index, offset: reader.offset },
        );
      }
      case Opcode.MEMORY_INIT:
      case Opcode.MEMORY_COPY:
      case Opcode.MEMORY_FILL:
      case Opcode.TABLE_INIT:
      case Opcode.TABLE_COPY:
      case Opcode.TABLE_FILL:
        costs[region]! += BULK_OPERATION_FUEL;
        break;
    }
  }
}

/** The bytes of `value` (non-negative) as signed LEB128: bit 6 of the last byte must be clear, as it is the sign. */
function signedLength(value: number): number {
  let length = 1;
  for (let rest = value; rest >= 0x40; rest = Math.floor(rest / 128)) length++;
  return length;
}

/** Signed LEB128 of a bigint (binary/values.html#integers), for i64.const. */
function encodeSigned(value: bigint): number[] {
  const out: number[] = [];
  let rest = value;
  for (;;) {
    const byte = Number(rest & 0x7fn);
    rest >>= 7n;
    const last = (rest === 0n && (byte & 0x40) === 0) || (rest === -1n && (byte & 0x40) !== 0);
    out.push(last ? byte : byte | 0x80);
    if (last) return out;
  }
}

/** A growable byte buffer, so that a rewritten code section is built with one copy of each body. */
class ByteSink {
  #bytes: Uint8Array;
  #length = 0;

  constructor(capacity: number) {
    this.#bytes = new Uint8Array(capacity);
  }

  bytes(source: Uint8Array): void {
    this.#reserve(source.length);
    this.#bytes.set(source, this.#length);
    this.#length += source.length;
  }

  /** Unsigned LEB128 of a u32. */
  unsigned(value: number): void {
    this.#reserve(5);
    let rest = value;
    while (rest >= 0x80) {
      this.#bytes[this.#length++] = (rest % 128) | 0x80;
      rest = Math.floor(rest / 128);
    }
    this.#bytes[this.#length++] = rest;
  }

  /** Signed LEB128 of a non-negative integer below 2^32. */
  signed(value: number): void {
    this.#reserve(5);
    let rest = value;
    while (rest >= 0x40) {
      this.#bytes[this.#length++] = (rest % 128) | 0x80;
      rest = Math.floor(rest / 128);
    }
    this.#bytes[this.#length++] = rest;
  }

  result(): Uint8Array {
    return this.#bytes.subarray(0, this.#length);
  }

  #reserve(count: number): void {
    if (this.#length + count <= this.#bytes.length) return;
    const grown = new Uint8Array(Math.max(this.#bytes.length * 2, this.#length + count));
    grown.set(this.#bytes.subarray(0, this.#length));
    this.#bytes = grown;
  }
}
