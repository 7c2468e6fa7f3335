import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { wat } from '../../test/support/wat.js';
import { findCalls } from './wasm-code.js';
import { Code, encodeBody, encodeSigned, ValType } from './wasm-emit.js';
import { ModuleExtension } from './wasm-extend.js';

/**
 * `main` calls `log` three times between instructions with every kind of immediate the walker
 * skips; `log(n)` appends n to the bytes at 0 and moves the length at 100. A custom section rides
 * along.
 */
const LOGGER = `(module
  (type $unary (func (param i32)))
  (import "env" "unused" (func $unused))
  (memory (export "memory") 1)
  (table 1 funcref)
  (global $g (mut i32) (i32.const 0))
  (func $log (param i32)
    (i32.store8 (i32.load (i32.const 100)) (local.get 0))
    (i32.store (i32.const 100) (i32.add (i32.load (i32.const 100)) (i32.const 1))))
  (func $main (export "main") (local i64 f32 f64)
    (call $log (i32.const 1))
    (local.set 0 (i64.const -1234567890123))
    (local.set 1 (f32.const 1.5))
    (local.set 2 (f64.const 2.5))
    (block $out (loop $again (br_if $out (i32.const 1)) (br $again)))
    (block (br_table 0 0 0 (i32.const 2)))
    (if (i32.const 0) (then (call_indirect (type $unary) (i32.const 9) (i32.const 0))))
    (global.set $g (i32.load16_u offset=3 (i32.const 0)))
    (drop (memory.grow (i32.const 0)))
    (memory.fill (i32.const 200) (i32.const 0) (i32.const 4))
    (drop (i32.extend8_s (i32.const 1)))
    (call $log (i32.const 2))
    (call $log (i32.const 3))))`;

async function instantiate(bytes: Uint8Array): Promise<WebAssembly.Instance> {
  const module = await WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>);
  return WebAssembly.instantiate(module, { env: { unused: () => {} } });
}

function logged(instance: WebAssembly.Instance): number[] {
  const memory = new Uint8Array((instance.exports.memory as WebAssembly.Memory).buffer);
  const length = new DataView(memory.buffer).getUint32(100, true);
  return [...memory.subarray(0, length)];
}

/** LOGGER with the custom section wabt does not write, appended by hand. */
async function loggerModule(): Promise<Uint8Array> {
  const bytes = await wat(LOGGER, { bulk_memory: true, sign_extension: true });
  const name = new TextEncoder().encode('.debug_info');
  const custom = [0x00, name.length + 3, name.length, ...name, 1, 2];
  return new Uint8Array([...bytes, ...custom]);
}

describe('findCalls', () => {
  test('finds every call in a body, past the immediates of other instructions', async () => {
    const bytes = await loggerModule();
    const module = new ModuleExtension(bytes);
    const main = module.exportedFunction('main')!;
    const log = main - 1;
    assert.deepEqual(
      findCalls(bytes, module.body(main)).map((call) => call.callee),
      [log, log, log],
    );
  });
});

describe('ModuleExtension', () => {
  test('a patched copy runs the original with one call replaced', async () => {
    const bytes = await loggerModule();
    const module = new ModuleExtension(bytes);
    const main = module.exportedFunction('main')!;
    const second = findCalls(bytes, module.body(main))[1]!;
    // The second log(2) becomes drop: the argument is still on the stack.
    module.addPatchedCopy(main, [{ ...second, content: new Code().drop().instructions() }], 'patched');
    const instance = await instantiate(module.encode());
    (instance.exports.patched as () => void)();
    assert.deepEqual(logged(instance), [1, 3]);
  });

  test('added functions can call existing ones and each other, and keep existing indices', async () => {
    const module = new ModuleExtension(await loggerModule());
    const main = module.exportedFunction('main')!;
    const text = new TextEncoder().encode('isola, twelve');
    // store(address): writes the text at address, returns address + its length.
    const store = module.addFunction(
      { params: [ValType.I32], results: [ValType.I32] },
      encodeBody([], new Code().storeBytes(0, text).localGet(0).i32Const(text.length).i32Add()),
    );
    module.addFunction(
      { params: [], results: [ValType.I32] },
      encodeBody([], new Code().call(main).i32Const(300).call(store)),
      'run',
    );
    const instance = await instantiate(module.encode());
    assert.equal((instance.exports.run as () => number)(), 300 + text.length);
    const memory = new Uint8Array((instance.exports.memory as WebAssembly.Memory).buffer);
    assert.equal(new TextDecoder().decode(memory.subarray(300, 300 + text.length)), 'isola, twelve');
    assert.deepEqual(logged(instance), [1, 2, 3]);
  });

  test('drops the custom sections it is told to and keeps the rest', async () => {
    const bytes = await loggerModule();
    const kept = new ModuleExtension(bytes).encode();
    const dropped = new ModuleExtension(bytes).encode((name) => name.startsWith('.debug_'));
    assert.equal(WebAssembly.Module.customSections(new WebAssembly.Module(kept), '.debug_info').length, 1);
    assert.equal(WebAssembly.Module.customSections(new WebAssembly.Module(dropped), '.debug_info').length, 0);
  });
});

describe('encodeSigned', () => {
  test('encodes i32 and i64 constants as signed LEB128', () => {
    assert.deepEqual(encodeSigned(0), [0x00]);
    assert.deepEqual(encodeSigned(63), [0x3f]);
    assert.deepEqual(encodeSigned(64), [0xc0, 0x00]);
    assert.deepEqual(encodeSigned(-1), [0x7f]);
    assert.deepEqual(encodeSigned(-65), [0xbf, 0x7f]);
    assert.deepEqual(
      encodeSigned(-(2n ** 63n)),
      [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7f],
    );
  });
});
