import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { wat } from '../../test/support/wat.js';
import { isIsolaError } from '../errors.js';
import { WASM_PAGE_BYTES } from '../limits.js';
import { limitMemory, readMemories } from './memory-limit.js';

/** A module whose `grow(pages)` returns memory.grow's result and `size()` the size in pages. */
function grower(memory: string): string {
  return `(module
    ${memory}
    (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
    (func (export "size") (result i32) (memory.size)))`;
}

interface Grower {
  grow(pages: number): number;
  size(): number;
}

async function instantiate(bytes: Uint8Array, imports: WebAssembly.Imports = {}): Promise<Grower> {
  const { instance } = await WebAssembly.instantiate(bytes as Uint8Array<ArrayBuffer>, imports);
  return instance.exports as unknown as Grower;
}

const MiB = 1024 * 1024;

describe('limitMemory', () => {
  test('memory.grow fails past the cap when the module declares no maximum', async () => {
    const bytes = limitMemory(await wat(grower('(memory (export "memory") 1)')), 4 * WASM_PAGE_BYTES);
    const guest = await instantiate(bytes);
    assert.equal(guest.grow(3), 1);
    assert.equal(guest.size(), 4);
    assert.equal(guest.grow(1), -1);
    assert.equal(guest.size(), 4);
  });

  test('memory.grow fails past the cap when the module declares a larger maximum', async () => {
    const bytes = limitMemory(await wat(grower('(memory (export "memory") 1 65536)')), MiB);
    const guest = await instantiate(bytes);
    assert.equal(guest.grow(15), 1);
    assert.equal(guest.grow(1), -1);
    assert.deepEqual(readMemories(bytes)[0]?.maxPages, 16);
  });

  test('a smaller declared maximum is kept and the bytes are returned unchanged', async () => {
    const original = await wat(grower('(memory (export "memory") 1 2)'));
    assert.equal(limitMemory(original, MiB), original);
  });

  test('a cap that is not a whole number of pages is rounded down', async () => {
    const bytes = limitMemory(await wat(grower('(memory 1)')), 2 * WASM_PAGE_BYTES + 100);
    assert.equal(readMemories(bytes)[0]?.maxPages, 2);
  });

  test('an imported memory is capped as well', async () => {
    const bytes = limitMemory(await wat(grower('(import "env" "memory" (memory 1))')), 2 * WASM_PAGE_BYTES);
    assert.deepEqual(readMemories(bytes), [
      { index: 0, importedFrom: 'env.memory', minPages: 1, maxPages: 2, shared: false, memory64: false },
    ]);
    // The capped import now requires a memory whose maximum is within the cap.
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 2 });
    const guest = await instantiate(bytes, { env: { memory } });
    assert.equal(guest.grow(1), 1);
    assert.equal(guest.grow(1), -1);
  });

  test('other sections survive the rewrite byte for byte', async () => {
    const original = await wat(`(module
      (import "env" "f" (func (param i32)))
      (import "env" "m" (memory 1))
      (global (export "g") i32 (i32.const 7))
      (data (i32.const 0) "hello")
      (func (export "peek") (result i32) (i32.load8_u (i32.const 4))))`);
    const bytes = limitMemory(original, 3 * WASM_PAGE_BYTES);
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 3 });
    const { instance } = await WebAssembly.instantiate(bytes as Uint8Array<ArrayBuffer>, {
      env: { f: () => {}, m: memory },
    });
    assert.equal((instance.exports.peek as () => number)(), 'o'.charCodeAt(0));
    assert.equal((instance.exports.g as WebAssembly.Global).value, 7);
    // Only the import's limits grew: flags 0x00 → 0x01 plus one LEB byte for the maximum.
    assert.equal(bytes.length, original.length + 1);
  });

  test('an initial size over the cap is refused, naming both numbers', async () => {
    const bytes = await wat(grower('(memory 20)'));
    assert.throws(
      () => limitMemory(bytes, MiB),
      (error: unknown) => {
        assert.ok(isIsolaError(error, 'E_MEMORY_LIMIT'));
        assert.match(
          error.message,
          /starts at 1310720 bytes \(20 pages\), more than the memory limit of 1048576 bytes/,
        );
        return true;
      },
    );
  });

  test('a shared memory is refused clearly', async () => {
    const bytes = await wat(grower('(memory 1 2 shared)'), { threads: true });
    assert.throws(
      () => limitMemory(bytes, MiB),
      (error: unknown) => isIsolaError(error, 'E_MODULE_UNSUPPORTED') && /shared/.test(error.message),
    );
  });

  test('a 64-bit memory is refused clearly', async () => {
    const bytes = await wat('(module (memory i64 1))', { memory64: true });
    assert.throws(
      () => limitMemory(bytes, MiB),
      (error: unknown) => isIsolaError(error, 'E_MODULE_UNSUPPORTED') && /memory64/.test(error.message),
    );
  });

  test('a cap outside 0..4 GiB is refused with the range', async () => {
    const bytes = await wat(grower('(memory 1)'));
    assert.throws(
      () => limitMemory(bytes, -1),
      (error: unknown) =>
        isIsolaError(error, 'E_LIMIT_OUT_OF_RANGE') && /from 0 to 4294967296/.test(error.message),
    );
  });

  test('a module without memory is returned unchanged', async () => {
    const original = await wat('(module (func (export "_start")))');
    assert.equal(limitMemory(original, 0), original);
  });
});
