import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isIsolaError } from '../errors.js';
import { type CacheEntry, ModuleCache } from './module-cache.js';

const entry = (digest: string, byteLength: number): CacheEntry<string> => ({
  digest,
  byteLength,
  value: digest,
});

describe('ModuleCache', () => {
  test('evicts unpinned entries least recently used first, and reports them', () => {
    const evicted: string[] = [];
    const cache = new ModuleCache<string>(30, (gone) => evicted.push(gone.digest));
    for (const digest of ['a', 'b', 'c']) {
      cache.add(entry(digest, 10));
      cache.unpin(digest);
    }
    cache.get('a');
    cache.add(entry('d', 10));
    assert.deepEqual(evicted, ['b']);
    assert.equal(cache.peek('b'), undefined);
    assert.equal(cache.bytes, 30);
  });

  test('never evicts a pinned entry; refuses when pinned entries fill it', () => {
    const cache = new ModuleCache<string>(20, () => assert.fail('nothing may be evicted'));
    cache.add(entry('a', 10));
    cache.add(entry('b', 10));
    cache.pin('a');
    cache.unpin('a');
    assert.ok(cache.isPinned('a'), 'pinned twice, unpinned once');
    assert.throws(
      () => cache.add(entry('c', 5)),
      (error) =>
        isIsolaError(error, 'E_MODULE_CACHE_FULL') &&
        /unload some, or raise moduleCacheBytes/.test(error.message),
    );
  });
});
