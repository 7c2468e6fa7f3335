import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MemoryPool } from './memory-pool.js';

/** One page: the initial size of every memory these tests make. */
const PAGE = 65536;

describe('MemoryPool', () => {
  test('hands back a kept memory zeroed, with the same maximum', () => {
    const pool = new MemoryPool();
    const memory = pool.take('m:4', 1, 4);
    new Uint8Array(memory.buffer).fill(7);
    pool.give('m:4', memory, 0, PAGE);
    const again = pool.take('m:4', 1, 4);
    assert.equal(again, memory);
    assert.ok(new Uint8Array(again.buffer).every((byte) => byte === 0));
    assert.equal(again.grow(3), 1);
    assert.throws(() => again.grow(1), RangeError, 'the maximum still holds');
  });

  test('keeps memories per key, within the per-key and total bounds', () => {
    const pool = new MemoryPool({ perKey: 2, total: 3 });
    const memories = Array.from({ length: 4 }, () => pool.take('a:1', 1, 1));
    for (const memory of memories) pool.give('a:1', memory, 0, PAGE);
    assert.equal(pool.size, 2);
    for (let i = 0; i < 3; i++) pool.give('b:1', pool.take('b:1', 1, 1), 0, PAGE);
    pool.give('b:1', new WebAssembly.Memory({ initial: 1, maximum: 1 }), 0, PAGE);
    assert.equal(pool.size, 3, 'the total bound holds across keys');
    assert.notEqual(pool.take('c:1', 1, 1), memories[0], 'another key never gets them');
  });

  test('drops a memory that grew past recycleMaxBytes', () => {
    const pool = new MemoryPool({ recycleMaxBytes: 2 * 65536 });
    const memory = pool.take('m:8', 1, 8);
    memory.grow(2);
    pool.give('m:8', memory, 0, PAGE);
    assert.equal(pool.size, 0);
  });

  test('releases pools idle for idleMs, and a forgotten module at once', () => {
    const pool = new MemoryPool({ idleMs: 1000 });
    pool.give('a:1', pool.take('a:1', 1, 1), 0, PAGE);
    pool.give('b:1', pool.take('b:1', 1, 1), 900, PAGE);
    pool.sweep(1500);
    assert.equal(pool.size, 1, 'a was idle for 1500 ms, b for 600 ms');
    pool.forget('b:');
    assert.equal(pool.size, 0);
  });

  test('keeps a large memory still at its initial size, up to recycleInitialMaxBytes, within maxPooledBytes', () => {
    const pool = new MemoryPool({
      recycleMaxBytes: PAGE,
      recycleInitialMaxBytes: 8 * PAGE,
      maxPooledBytes: 12 * PAGE,
    });
    const big = pool.take('big:8', 8, 8);
    pool.give('big:8', big, 0, 8 * PAGE);
    assert.equal(pool.size, 1, 'eight pages at its initial size is kept');
    const grown = pool.take('g:8', 1, 8);
    grown.grow(1);
    pool.give('g:8', grown, 0, PAGE);
    assert.equal(pool.size, 1, 'two pages grown from one is past recycleMaxBytes');
    pool.give('big:8', new WebAssembly.Memory({ initial: 8, maximum: 8 }), 0, 8 * PAGE);
    assert.equal(pool.size, 1, 'a second one would pass maxPooledBytes');
  });

  test('zeroes returned memories in clean(), or in take() when none is clean yet', () => {
    const pool = new MemoryPool();
    const first = pool.take('m:1', 1, 1);
    const second = pool.take('m:1', 1, 1);
    new Uint8Array(first.buffer).fill(1);
    new Uint8Array(second.buffer).fill(2);
    pool.give('m:1', first, 0, PAGE);
    pool.clean();
    assert.ok(
      new Uint8Array(first.buffer).every((byte) => byte === 0),
      'clean() zeroed it',
    );
    pool.give('m:1', second, 0, PAGE);
    assert.equal(pool.take('m:1', 1, 1), first, 'a clean one is taken first');
    const dirty = pool.take('m:1', 1, 1);
    assert.equal(dirty, second);
    assert.ok(
      new Uint8Array(dirty.buffer).every((byte) => byte === 0),
      'take() zeroed the dirty one',
    );
  });
});
