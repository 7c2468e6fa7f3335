import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isolaErrorWith } from '../../test/support/errors.js';
import { wat } from '../../test/support/wat.js';
import { ByteReader, readSections, SectionId } from './binary-reader.js';
import { type FunctionBody, Opcode, readFunctionBodies, readInstruction } from './instructions.js';

/** The bodies of a module's defined functions. */
function bodiesOf(bytes: Uint8Array): FunctionBody[] {
  const code = readSections(bytes).find((section) => section.id === SectionId.CODE);
  assert.ok(code, 'the module has a code section');
  return readFunctionBodies(bytes, code, 0);
}

/** Every opcode of a body, checking that the walk ends exactly at its end. */
function opcodesOf(bytes: Uint8Array, body: FunctionBody): number[] {
  const reader = new ByteReader(bytes, body.codeStart, body.end);
  const opcodes: number[] = [];
  while (!reader.done) opcodes.push(readInstruction(reader, body.index));
  assert.equal(reader.offset, body.end);
  return opcodes;
}

/** The opcodes of the instructions in `code`, a function body without local declarations. */
function walk(code: readonly number[]): number[] {
  const bytes = Uint8Array.from(code);
  return opcodesOf(bytes, { index: 0, start: 0, codeStart: 0, end: bytes.length });
}

async function onlyBody(source: string, features: Parameters<typeof wat>[1] = {}): Promise<number[]> {
  const bytes = await wat(source, features);
  const [body] = bodiesOf(bytes);
  assert.ok(body);
  return opcodesOf(bytes, body);
}

describe('readInstruction', () => {
  test('control, constants, memory and table instructions are read with their immediates', async () => {
    const opcodes = await onlyBody(`(module
      (type $pair (func (param i32) (result i32 i32)))
      (memory 1) (table 2 funcref)
      (func (param i32) (result f64)
        (block $a (block $b (br_table $a $b $a (local.get 0))))
        (drop (call_indirect (param i32) (result i32) (i32.const 7) (i32.const 0)))
        i32.const -100000
        block (type $pair) (param i32) (result i32 i32)
          i32.const 1
        end
        drop
        drop
        (i64.store offset=100000 (i32.const 8) (i64.const -1))
        (drop (select (result i32) (i32.const 1) (i32.const 2) (local.get 0)))
        (drop (f32.const 1.5))
        (f64.const 2.5)))`);
    assert.deepEqual(
      opcodes.map((opcode) => opcode.toString(16)),
      '2 2 20 e b b 41 41 11 1a 41 2 41 b 1a 1a 41 42 37 41 41 20 1c 1a 43 1a 44 b'.split(' '),
    );
  });

  test('SIMD immediates are read: memargs, lane indices, v128 constants and shuffles', async () => {
    const opcodes = await onlyBody(
      `(module (memory 1)
        (func (result i32)
          (v128.store offset=16 (i32.const 0) (v128.const i32x4 1 2 3 4))
          (drop (v128.load8_lane 3 (i32.const 0) (v128.load32_zero (i32.const 0))))
          (i8x16.extract_lane_s 15
            (i8x16.shuffle 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 31
              (v128.load (i32.const 0)) (i32x4.splat (i32.const 9))))))`,
      { simd: true },
    );
    const simd = (sub: number) => 0xfd0000 | sub;
    assert.deepEqual(opcodes, [
      0x41,
      simd(0x0c),
      simd(0x0b),
      0x41,
      0x41,
      simd(0x5c),
      simd(0x54),
      0x1a,
      0x41,
      simd(0x00),
      0x41,
      simd(0x11),
      simd(0x0d),
      simd(0x15),
      Opcode.END,
    ]);
  });

  test('bulk memory, reference types and saturating truncation are read', async () => {
    const opcodes = await onlyBody(
      `(module (memory 1) (table $t 4 funcref) (elem $e func $f) (data $d "abc")
        (func $f (param f32) (result i32)
          (memory.init $d (i32.const 0) (i32.const 0) (i32.const 3))
          (data.drop $d)
          (memory.copy (i32.const 8) (i32.const 0) (i32.const 3))
          (memory.fill (i32.const 0) (i32.const 0) (i32.const 3))
          (table.init $t $e (i32.const 0) (i32.const 0) (i32.const 1))
          (elem.drop $e)
          (table.copy (i32.const 1) (i32.const 0) (i32.const 1))
          (drop (table.grow $t (ref.null func) (i32.const 1)))
          (table.fill $t (i32.const 0) (ref.func $f) (i32.const 1))
          (table.set $t (i32.const 0) (table.get $t (i32.const 1)))
          (drop (ref.is_null (ref.null extern)))
          (drop (table.size $t))
          (i32.trunc_sat_f32_s (local.get 0))))`,
      { bulk_memory: true, reference_types: true },
    );
    assert.deepEqual(
      opcodes.filter((opcode) => opcode > 0xff || opcode === 0xd0 || opcode === 0xd2 || opcode === 0x25),
      [
        Opcode.MEMORY_INIT,
        0xfc0009,
        Opcode.MEMORY_COPY,
        Opcode.MEMORY_FILL,
        Opcode.TABLE_INIT,
        0xfc000d,
        Opcode.TABLE_COPY,
        0xd0,
        0xfc000f,
        0xd2,
        Opcode.TABLE_FILL,
        0x25,
        0xd0,
        0xfc0010,
        0xfc0000,
      ],
    );
  });

  test('atomic accesses are read with their memargs, and atomic.fence with its reserved byte', async () => {
    const opcodes = await onlyBody(
      `(module (memory 1 1 shared)
        (func (result i32)
          (atomic.fence)
          (drop (memory.atomic.notify (i32.const 0) (i32.const 1)))
          (i32.atomic.rmw.cmpxchg offset=4 (i32.const 0) (i32.const 1) (i32.const 2))))`,
      { threads: true },
    );
    assert.deepEqual(opcodes, [0xfe0003, 0x41, 0x41, 0xfe0000, 0x1a, 0x41, 0x41, 0x41, 0xfe0048, Opcode.END]);
  });

  test('exception handling instructions are read: try, catch, throw, rethrow, delegate, catch_all', async () => {
    const opcodes = await onlyBody(
      `(module (tag $e (param i32))
        (func
          (try $outer
            (do (try (do (throw $e (i32.const 1))) (delegate $outer)))
            (catch $e (drop) (rethrow $outer))
            (catch_all))))`,
      { exceptions: true },
    );
    assert.deepEqual(
      opcodes.map((opcode) => opcode.toString(16)),
      '6 6 41 8 18 7 1a 9 19 b b'.split(' '),
    );
  });

  test('encodings wabt does not write are read too: s33 type indices, multi-memory memargs, try_table', () => {
    // block with type index 200 (s33: c8 01); i32.load with memory index 1 (align | 0x40); select t.
    assert.deepEqual(
      walk([0x02, 0xc8, 0x01, 0x0b, 0x28, 0x42, 0x01, 0x08, 0x1c, 0x01, 0x7f, 0x0b]),
      [0x02, 0x0b, 0x28, 0x1c, 0x0b],
    );
    // block (result (ref null 3)); ref.null of type index 130; try_table with catch 0 0 and catch_all_ref 1.
    assert.deepEqual(
      walk([0x02, 0x63, 0x03, 0x0b, 0xd0, 0x82, 0x01, 0x1f, 0x40, 0x02, 0x00, 0x00, 0x00, 0x03, 0x01]),
      [0x02, 0x0b, 0xd0, Opcode.TRY_TABLE],
    );
    // return_call_indirect, call_ref, br_on_null.
    assert.deepEqual(walk([0x13, 0x01, 0x00, 0x14, 0x05, 0xd5, 0x00]), [0x13, 0x14, 0xd5]);
  });

  test('an unknown opcode is refused, named with its function', () => {
    const body = (code: number[]) => ({ index: 7, start: 0, codeStart: 0, end: code.length });
    const read = (code: number[]) =>
      readInstruction(new ByteReader(Uint8Array.from(code), body(code).codeStart, body(code).end), 7);
    assert.throws(() => read([0xc5]), isolaErrorWith('E_MODULE_UNSUPPORTED', /function 7 uses opcode 0xc5 /));
    assert.throws(
      () => read([0xfd, 0x9a, 0x01]),
      isolaErrorWith('E_MODULE_UNSUPPORTED', /opcode 0xfd 0x9a 0x01/),
    );
    assert.throws(() => read([0xfe, 0x04]), isolaErrorWith('E_MODULE_UNSUPPORTED', /opcode 0xfe 0x04/));
    assert.throws(() => read([0xfc, 0x12]), isolaErrorWith('E_MODULE_UNSUPPORTED', /opcode 0xfc 0x12/));
    assert.throws(
      () => read([0xfb, 0x00]),
      isolaErrorWith('E_MODULE_UNSUPPORTED', /0xfb \(the GC proposal\)/),
    );
  });

  test('an immediate that runs past the end of the body is reported as malformed', () => {
    const bytes = Uint8Array.from([0x44, 0x00, 0x00, 0x0b, 0x0b]);
    const reader = new ByteReader(bytes, 0, 3);
    assert.throws(() => readInstruction(reader, 0), isolaErrorWith('E_MODULE_INVALID', /f64 constant/));
  });
});

describe('readFunctionBodies', () => {
  test('bodies are numbered after the imported functions and their code starts after the locals', async () => {
    const bytes = await wat(`(module
      (import "env" "f" (func))
      (func (local i32 i64) (local f32) nop)
      (func))`);
    const code = readSections(bytes).find((section) => section.id === SectionId.CODE);
    assert.ok(code);
    const bodies = readFunctionBodies(bytes, code, 1);
    assert.deepEqual(
      bodies.map((body) => body.index),
      [1, 2],
    );
    const [first, second] = bodies;
    assert.ok(first && second);
    // Three local groups ((1 i32) (1 i64) (1 f32)) are a count and three pairs: 7 bytes.
    assert.equal(first.codeStart - first.start, 7);
    assert.deepEqual(Array.from(bytes.subarray(first.codeStart, first.end)), [0x01, 0x0b]);
    assert.deepEqual(Array.from(bytes.subarray(second.start, second.end)), [0x00, 0x0b]);
  });
});
