import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MemoryPool } from './memory-pool.js';

describe('MemoryPool', () => {
  test('hands back a kept memory zeroed, with the same maximum', () => {
    const pool = new MemoryPool();
    const memory = pool.take('m:4', 1, 4);
    new Uint8Array(memory.buffer).fill(7);
    pool.give('m:4', memory, 0);
    const again = pool.take('m:4', 1, 4);
    assert.equal(again, memory);
    assert.ok(new Uint8Array(again.buffer).every((byte) => byte === 0));
    assert.equal(again.grow(3), 1);
    assert.throws(() => again.grow(1), RangeError, 'the maximum still holds');
  });

  test('keeps memories per key, within the per-key and total bounds', () => {
    const pool = new MemoryPool({ perKey: 2, total: 3 });
    const memories = Array.from({ length: 4 }, () => pool.take('a:1', 1, 1));
    for (const memory of memories) pool.give('a:1', memory, 0);
    assert.equal(pool.size, 2);
    for (let i = 0; i < 3; i++) pool.give('b:1', pool.take('b:1', 1, 1), 0);
    pool.give('b:1', new WebAssembly.Memory({ initial: 1, maximum: 1 }), 0);
    assert.equal(pool.size, 3, 'the total bound holds across keys');
    assert.notEqual(pool.take('c:1', 1, 1), memories[0], 'another key never gets them');
  });

  test('drops a memory that grew past recycleMaxBytes', () => {
    const pool = new MemoryPool({ recycleMaxBytes: 2 * 65536 });
    const memory = pool.take('m:8', 1, 8);
    memory.grow(2);
    pool.give('m:8', memory, 0);
    assert.equal(pool.size, 0);
  });

  test('releases pools idle for idleMs, and a forgotten module at once', () => {
    const pool = new MemoryPool({ idleMs: 1000 });
    pool.give('a:1', pool.take('a:1', 1, 1), 0);
    pool.give('b:1', pool.take('b:1', 1, 1), 900);
    pool.sweep(1500);
    assert.equal(pool.size, 1, 'a was idle for 1500 ms, b for 600 ms');
    pool.forget('b:');
    assert.equal(pool.size, 0);
  });
});
