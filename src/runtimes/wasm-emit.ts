/**
 * Just enough of an assembler to write the few small functions a runtime adds to an existing
 * module: the instructions they use, encoded as the binary format defines them
 * (https://webassembly.github.io/spec/core/binary/instructions.html), and a function body with its
 * locals. Nothing here validates; the engine does when the module is compiled.
 */
import { encodeUnsigned } from '../wasm/binary-writer.js';

/** Value types (binary/types.html#number-types). */
export const ValType = Object.freeze({ I32: 0x7f, I64: 0x7e });
export type ValType = (typeof ValType)[keyof typeof ValType];

/** Signed LEB128 (binary/values.html#integers), for i32 and i64 constants. */
export function encodeSigned(value: number | bigint): number[] {
  let rest = BigInt(value);
  const out: number[] = [];
  for (;;) {
    const byte = Number(rest & 0x7fn);
    rest >>= 7n;
    const done = (rest === 0n && (byte & 0x40) === 0) || (rest === -1n && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return out;
  }
}

/** A block type for `block`, `loop` and `if` without results. */
const EMPTY_BLOCK = 0x40;

/** Natural alignment exponents for the memarg of each access width. */
const ALIGN = Object.freeze({ byte: 0, i32: 2, i64: 3 });

/** An instruction sequence, written in order; each method appends one instruction. */
export class Code {
  readonly #bytes: number[] = [];

  unreachable(): this {
    return this.#op(0x00);
  }
  block(): this {
    return this.#op(0x02, EMPTY_BLOCK);
  }
  loop(): this {
    return this.#op(0x03, EMPTY_BLOCK);
  }
  if(): this {
    return this.#op(0x04, EMPTY_BLOCK);
  }
  end(): this {
    return this.#op(0x0b);
  }
  /** Branch to the enclosing block `depth` levels out (0 is the innermost). */
  br(depth: number): this {
    return this.#op(0x0c, ...encodeUnsigned(depth));
  }
  brIf(depth: number): this {
    return this.#op(0x0d, ...encodeUnsigned(depth));
  }
  return(): this {
    return this.#op(0x0f);
  }
  call(func: number): this {
    return this.#op(0x10, ...encodeUnsigned(func));
  }
  drop(): this {
    return this.#op(0x1a);
  }
  localGet(index: number): this {
    return this.#op(0x20, ...encodeUnsigned(index));
  }
  localSet(index: number): this {
    return this.#op(0x21, ...encodeUnsigned(index));
  }
  localTee(index: number): this {
    return this.#op(0x22, ...encodeUnsigned(index));
  }
  globalGet(index: number): this {
    return this.#op(0x23, ...encodeUnsigned(index));
  }
  globalSet(index: number): this {
    return this.#op(0x24, ...encodeUnsigned(index));
  }
  i32Load(offset = 0): this {
    return this.#op(0x28, ALIGN.i32, ...encodeUnsigned(offset));
  }
  i32Load8U(offset = 0): this {
    return this.#op(0x2d, ALIGN.byte, ...encodeUnsigned(offset));
  }
  /** An i64 store that promises no alignment: the address is wherever a string happens to go. */
  i64StoreUnaligned(offset = 0): this {
    return this.#op(0x37, ALIGN.byte, ...encodeUnsigned(offset));
  }
  i32Store(offset = 0): this {
    return this.#op(0x36, ALIGN.i32, ...encodeUnsigned(offset));
  }
  i32Store8(offset = 0): this {
    return this.#op(0x3a, ALIGN.byte, ...encodeUnsigned(offset));
  }
  memoryGrow(): this {
    return this.#op(0x40, 0x00);
  }
  i32Const(value: number): this {
    return this.#op(0x41, ...encodeSigned(value | 0));
  }
  i64Const(value: bigint): this {
    return this.#op(0x42, ...encodeSigned(BigInt.asIntN(64, value)));
  }
  i32Eqz(): this {
    return this.#op(0x45);
  }
  i32Eq(): this {
    return this.#op(0x46);
  }
  i32GtU(): this {
    return this.#op(0x4b);
  }
  i32Add(): this {
    return this.#op(0x6a);
  }
  i32Sub(): this {
    return this.#op(0x6b);
  }
  i32Mul(): this {
    return this.#op(0x6c);
  }
  i32And(): this {
    return this.#op(0x71);
  }
  i32Shl(): this {
    return this.#op(0x74);
  }
  i32ShrU(): this {
    return this.#op(0x76);
  }

  /**
   * Writes `bytes` to memory at the address in local `base`, eight bytes per store and the rest
   * one by one; constant offsets from the one base keep the sequence short.
   */
  storeBytes(base: number, bytes: Uint8Array): this {
    const whole = bytes.length - (bytes.length % 8);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let offset = 0; offset < whole; offset += 8) {
      this.localGet(base).i64Const(view.getBigInt64(offset, true)).i64StoreUnaligned(offset);
    }
    for (let offset = whole; offset < bytes.length; offset++) {
      this.localGet(base).i32Const(bytes[offset]!).i32Store8(offset);
    }
    return this;
  }

  /** The instructions so far. */
  instructions(): number[] {
    return [...this.#bytes];
  }

  /** The instructions so far, with the `end` that closes a function body. */
  finish(): number[] {
    return [...this.#bytes, 0x0b];
  }

  #op(...bytes: number[]): this {
    for (const byte of bytes) this.#bytes.push(byte);
    return this;
  }
}

/** A function body (binary/modules.html#code-section) without its size: locals, then code. */
export function encodeBody(locals: readonly ValType[], code: Code): number[] {
  // One local declaration per run of equal types.
  const runs: [number, ValType][] = [];
  for (const type of locals) {
    const last = runs.at(-1);
    if (last !== undefined && last[1] === type) last[0]++;
    else runs.push([1, type]);
  }
  return [
    ...encodeUnsigned(runs.length),
    ...runs.flatMap(([count, type]) => [...encodeUnsigned(count), type]),
    ...code.finish(),
  ];
}
