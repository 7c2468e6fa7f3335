import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fixtureBytes } from '../../test/fixtures/paths.js';
import { isolaErrorWith } from '../../test/support/errors.js';
import { INFINITE_LOOP } from '../../test/support/guests.js';
import { wat } from '../../test/support/wat.js';
import { CaptureSink, WasiBuilder } from '../wasi/index.js';
import { readSections, SectionId } from './binary-reader.js';
import { encodeName, encodeSection } from './binary-writer.js';
import { BULK_OPERATION_FUEL, FUEL_EXPORT, fuelGlobal, instrumentFuel, MAX_FUEL, outOfFuel } from './fuel.js';

const FUEL = 1_000_000n;

/** An instance of the instrumented module with `fuel` in its counter. */
async function fueled(
  bytes: Uint8Array,
  fuel = FUEL,
  imports: WebAssembly.Imports = {},
): Promise<WebAssembly.Instance> {
  const module = new WebAssembly.Module(instrumentFuel(bytes) as Uint8Array<ArrayBuffer>);
  const instance = await WebAssembly.instantiate(module, imports);
  fuelGlobal(instance).value = fuel;
  return instance;
}

function fuelUsed(instance: WebAssembly.Instance, fuel = FUEL): bigint {
  return fuel - (fuelGlobal(instance).value as bigint);
}

function exported<T>(instance: WebAssembly.Instance, name: string): T {
  return instance.exports[name] as T;
}

/** A module's sections, as the bytes of each, with their ids. */
function sectionBytes(bytes: Uint8Array): { id: number; bytes: number[] }[] {
  return readSections(bytes).map((section) => ({
    id: section.id,
    bytes: Array.from(bytes.subarray(section.start, section.end)),
  }));
}

/**
 * Sums 0..n-1. At entry it charges `loop`, `local.get $s` and the function's `end` (3); each
 * iteration charges the loop's 12 instructions and its `end` (13).
 */
const COUNTED_LOOP = `(module
  (func (export "sum") (param $n i32) (result i32) (local $i i32) (local $s i32)
    loop $next
      local.get $s  local.get $i  i32.add  local.set $s
      local.get $i  i32.const 1  i32.add  local.set $i
      local.get $i  local.get $n  i32.lt_u  br_if $next
    end
    local.get $s))`;
const COUNTED_LOOP_ENTRY_COST = 3n;
const COUNTED_LOOP_ITERATION_COST = 13n;

const RECURSION = `(module
  (func $depth (export "depth") (param $n i32) (result i32)
    (if (result i32) (local.get $n)
      (then (i32.add (i32.const 1) (call $depth (i32.sub (local.get $n) (i32.const 1)))))
      (else (i32.const 0))))
  (func $forever (export "forever") (call $forever)))`;

describe('instrumentFuel', () => {
  test('an infinite loop traps with unreachable when its fuel runs out', async () => {
    const instance = await fueled(await wat(INFINITE_LOOP), 100_000n);
    assert.equal(outOfFuel(instance), false);
    assert.throws(() => exported<() => void>(instance, '_start')(), /unreachable/);
    assert.equal(outOfFuel(instance), true);
  });

  test('a counted loop with enough fuel returns its result and uses fuel for each iteration', async () => {
    const instance = await fueled(await wat(COUNTED_LOOP));
    const iterations = 1000;
    assert.equal(exported<(n: number) => number>(instance, 'sum')(iterations), (iterations * 999) / 2);
    const perIteration = COUNTED_LOOP_ITERATION_COST * BigInt(iterations);
    const used = fuelUsed(instance);
    assert.ok(used >= perIteration && used <= perIteration + COUNTED_LOOP_ENTRY_COST, `used ${used}`);
    assert.equal(used, COUNTED_LOOP_ENTRY_COST + perIteration);
    assert.equal(outOfFuel(instance), false);
  });

  test('a loop stops after the iteration that takes its fuel below zero', async () => {
    const fuel = COUNTED_LOOP_ENTRY_COST + 10n * COUNTED_LOOP_ITERATION_COST;
    const instance = await fueled(await wat(COUNTED_LOOP), fuel);
    assert.equal(exported<(n: number) => number>(instance, 'sum')(10), 45);
    assert.equal(fuelGlobal(instance).value, 0n);
    assert.throws(() => exported<(n: number) => number>(instance, 'sum')(1), /unreachable/);
    assert.equal(fuelGlobal(instance).value, -COUNTED_LOOP_ENTRY_COST);
  });

  test('recursion is charged at every function entry, so unbounded recursion runs out of fuel', async () => {
    const instance = await fueled(await wat(RECURSION));
    const depth = exported<(n: number) => number>(instance, 'depth');
    assert.equal(depth(0), 0);
    const perCall = fuelUsed(instance);
    assert.ok(perCall > 0n);
    assert.equal(depth(1000), 1000);
    assert.equal(fuelUsed(instance), perCall * 1002n);

    const forever = await fueled(await wat(RECURSION), 5_000n);
    assert.throws(() => exported<() => void>(forever, 'forever')(), /unreachable/);
    assert.equal(outOfFuel(forever), true);
  });

  test('imported globals and existing global and export sections keep working', async () => {
    const original = await wat(`(module
      (import "env" "base" (global $base i32))
      (import "env" "counter" (global $counter (mut i32)))
      (global $own (mut i32) (i32.const 5))
      (global $k (export "k") i32 (i32.const 11))
      (func (export "bump") (result i32)
        (global.set $own (i32.add (global.get $own) (global.get $base)))
        (global.set $counter (i32.add (global.get $counter) (i32.const 1)))
        (global.get $own))
      (export "own" (global $own)))`);
    const counter = new WebAssembly.Global({ value: 'i32', mutable: true }, 40);
    const instance = await fueled(original, FUEL, {
      env: { base: new WebAssembly.Global({ value: 'i32' }, 100), counter },
    });
    assert.equal(exported<() => number>(instance, 'bump')(), 105);
    assert.equal(counter.value, 41);
    assert.equal(exported<WebAssembly.Global>(instance, 'own').value, 105);
    assert.equal(exported<WebAssembly.Global>(instance, 'k').value, 11);
    assert.ok(fuelUsed(instance) > 0n);
    const exports = WebAssembly.Module.exports(
      new WebAssembly.Module(instrumentFuel(original) as Uint8Array<ArrayBuffer>),
    );
    assert.deepEqual(exports, [
      { name: 'k', kind: 'global' },
      { name: 'bump', kind: 'function' },
      { name: 'own', kind: 'global' },
      { name: FUEL_EXPORT, kind: 'global' },
    ]);
  });

  test('a module without global and export sections gets them, in section order, holding initialFuel', async () => {
    const original = await wat(`(module
      (table 1 funcref)
      (func $init)
      (start $init)
      (elem (i32.const 0) $init))`);
    const instrumented = instrumentFuel(original, { initialFuel: 42n });
    assert.deepEqual(
      readSections(instrumented).map((section) => section.id),
      [
        SectionId.TYPE,
        SectionId.FUNCTION,
        SectionId.TABLE,
        SectionId.GLOBAL,
        SectionId.EXPORT,
        SectionId.START,
        SectionId.ELEMENT,
        SectionId.CODE,
      ],
    );
    const { instance } = await WebAssembly.instantiate(instrumented as Uint8Array<ArrayBuffer>);
    assert.ok((fuelGlobal(instance).value as bigint) < 42n, 'the start function was charged');

    const empty = instrumentFuel(await wat('(module)'), { initialFuel: 7n });
    const { instance: bare } = await WebAssembly.instantiate(empty as Uint8Array<ArrayBuffer>);
    assert.equal(fuelGlobal(bare).value, 7n);
  });

  test('with the default initial fuel of zero a start function runs out at instantiation', async () => {
    const bytes = instrumentFuel(await wat('(module (func $init) (start $init))'));
    await assert.rejects(WebAssembly.instantiate(bytes as Uint8Array<ArrayBuffer>), /unreachable/);
  });

  test('SIMD and bulk memory functions are instrumented and still validate', async () => {
    const original = await wat(
      `(module (memory 1)
        (func (export "splat") (param $n i32) (result i32) (local $v v128)
          (loop $next
            (local.set $v (i32x4.add (local.get $v)
              (i8x16.shuffle 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 (v128.const i32x4 1 1 1 1) (local.get $v))))
            (v128.store (i32.const 0) (v128.load32_lane 0 (i32.const 0) (local.get $v)))
            (br_if $next (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
          (i32x4.extract_lane 3 (local.get $v)))
        (func (export "fill") (param $n i32) (result i32)
          (loop $next
            (memory.fill (i32.const 0) (local.get $n) (i32.const 1024))
            (memory.copy (i32.const 2048) (i32.const 0) (i32.const 1024))
            (br_if $next (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
          (i32.load8_u (i32.const 3071))))`,
      { simd: true, bulk_memory: true },
    );
    assert.ok(WebAssembly.validate(instrumentFuel(original) as Uint8Array<ArrayBuffer>));
    const instance = await fueled(original);
    assert.equal(exported<(n: number) => number>(instance, 'splat')(5), 5);
    const before = fuelUsed(instance);
    assert.equal(exported<(n: number) => number>(instance, 'fill')(3), 1);
    assert.ok(fuelUsed(instance) - before >= 3n * 2n * BigInt(BULK_OPERATION_FUEL));
  });

  test('an unknown opcode is refused with E_MODULE_UNSUPPORTED naming it and its function', async () => {
    const bytes = await wat('(module (import "env" "f" (func)) (func nop nop nop))');
    const at = bytes.length - 3;
    assert.deepEqual(Array.from(bytes.subarray(at - 1)), [0x01, 0x01, 0x01, 0x0b]);
    const patched = bytes.slice();
    patched[at] = 0xc5;
    assert.throws(
      () => instrumentFuel(patched),
      isolaErrorWith('E_MODULE_UNSUPPORTED', /function 1 uses opcode 0xc5/),
    );
  });

  test('data and custom sections are copied byte for byte', async () => {
    const built = await wat(`(module (memory 1) (data (i32.const 16) "kept as is")
      (func (export "f") (result i32) (i32.load8_u (i32.const 16))))`);
    const custom = (name: string) => encodeSection(SectionId.CUSTOM, [...encodeName(name), 1, 2, 3]);
    const original = new Uint8Array([
      ...built.subarray(0, 8),
      ...custom('first'),
      ...built.subarray(8),
      ...custom('last'),
    ]);
    const rewritten: readonly number[] = [SectionId.GLOBAL, SectionId.EXPORT, SectionId.CODE];
    const unchanged = (bytes: Uint8Array) =>
      sectionBytes(bytes).filter((section) => !rewritten.includes(section.id));
    assert.deepEqual(unchanged(instrumentFuel(original)), unchanged(original));
    assert.equal(exported<() => number>(await fueled(original), 'f')(), 'k'.charCodeAt(0));
  });

  test('the hello-stdout fixture prints the same with fuel, and nothing when the fuel is too little', async () => {
    const run = async (fuel: bigint) => {
      const stdout = new CaptureSink(1024, 'stdout');
      const wasi = new WasiBuilder().args(['hello']).stdout(stdout).build();
      const instance = await fueled(fixtureBytes('hello-stdout'), fuel, wasi.imports);
      let result: number | Error;
      try {
        result = wasi.start(instance);
      } catch (error) {
        result = error as Error;
      }
      return { result, stdout: stdout.text(), outOfFuel: outOfFuel(instance) };
    };
    assert.deepEqual(await run(10_000_000n), { result: 0, stdout: 'hello, world\n', outOfFuel: false });
    const starved = await run(100n);
    assert.match(String(starved.result), /unreachable/);
    assert.deepEqual([starved.stdout, starved.outOfFuel], ['', true]);
  });

  test('a module that already has the fuel export is refused', async () => {
    const once = instrumentFuel(await wat('(module (func))'));
    assert.throws(
      () => instrumentFuel(once),
      isolaErrorWith('E_MODULE_UNSUPPORTED', /instrumented for fuel already/),
    );
  });

  test('initialFuel outside 0 to 2^63-1 is refused', async () => {
    const bytes = await wat('(module)');
    for (const initialFuel of [-1n, MAX_FUEL + 1n]) {
      assert.throws(
        () => instrumentFuel(bytes, { initialFuel }),
        isolaErrorWith('E_LIMIT_OUT_OF_RANGE', /initialFuel .* is out of range/),
      );
    }
  });
});

describe('outOfFuel', () => {
  test('an instance of a module that was not instrumented is refused', async () => {
    const { instance } = await WebAssembly.instantiate((await wat('(module)')) as Uint8Array<ArrayBuffer>);
    assert.throws(() => outOfFuel(instance), isolaErrorWith('E_ARGUMENT_INVALID', /instrumentFuel/));
  });
});
