/**
 * The one contract every key-value store keeps, written once and run by each backend's test file
 * (as src/wasi/fs/descriptor-contract.ts is for filesystems), against the async store and the
 * sync one alike: every call is awaited, which a sync store's plain values survive.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import type { KeyValueStore, SyncKeyValueStore } from './key-value-store.js';
import { type KvErrorCode, kvCodeOf } from './kv-error.js';
import type { KeyValueLimits } from './limits.js';
import type { KeyValueBucket, ListOptions, SyncKeyValueBucket } from './store.js';

export type AnyStore = KeyValueStore | SyncKeyValueStore;
type AnyBucket = KeyValueBucket | SyncKeyValueBucket;

/**
 * Opens a store on the backend under test. Every store a factory opens shares that backend's
 * data (one database file, one Redis server), so a second store sees the first one's writes.
 */
export type StoreFactory = (limits?: Partial<KeyValueLimits>) => Promise<AnyStore>;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function bytes(text: string): Uint8Array {
  return encoder.encode(text);
}

/** A value as text, for comparisons (Buffers and Uint8Arrays alike). */
export function text(value: Uint8Array | undefined): string | undefined {
  return value === undefined ? undefined : decoder.decode(value);
}

/** Fails unless `call` throws or rejects with the key-value error `kvCode`. */
export async function rejectsWith(call: () => unknown, kvCode: KvErrorCode): Promise<void> {
  await assert.rejects(
    async () => {
      await call();
    },
    (error: unknown) => {
      assert.equal(kvCodeOf(error), kvCode, `expected ${kvCode}, got ${String(error)}`);
      return true;
    },
  );
}

/** Every key of a listing, page by page, checking each page's size. */
export async function listAll(bucket: AnyBucket, options: ListOptions = {}): Promise<string[]> {
  const keys: string[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < 10_000; page++) {
    const result = await bucket.listKeys({ ...options, cursor });
    if (options.limit !== undefined)
      assert.ok(result.keys.length <= options.limit, 'a page is at most its limit');
    keys.push(...result.keys);
    cursor = result.cursor;
    if (cursor === undefined) return keys;
  }
  assert.fail('the listing did not end');
}

/** Sorted and without repeats: what every backend's listing must come to. */
function keySet(keys: string[]): string[] {
  return [...new Set(keys)].sort();
}

let apps = 0;
/** A fresh app name, so that tests sharing a backend never see each other's keys. */
function freshApp(): string {
  apps++;
  return `contract-${process.pid}-${apps}`;
}

/** Registers the shared contract suite for one store implementation. */
export function describeKeyValueContract(name: string, factory: StoreFactory): void {
  describe(`${name} key-value contract`, () => {
    const open = storesOf(factory);
    const bucket = async (limits?: Partial<KeyValueLimits>) =>
      (await open(limits)).open(freshApp(), 'default');
    describeStore(bucket, open);
    describeListing(bucket);
    describeAtomics(bucket);
    describeBatch(bucket);
    describeLimits(bucket, open);
  });
}

type OpenStore = (limits?: Partial<KeyValueLimits>) => Promise<AnyStore>;
type OpenBucket = (limits?: Partial<KeyValueLimits>) => Promise<AnyBucket>;

/** Stores made by `factory`, each closed after the test that made it. */
function storesOf(factory: StoreFactory): OpenStore {
  const stores: AnyStore[] = [];
  afterEach(async () => {
    for (const store of stores.splice(0)) await store.close();
  });
  return async (limits) => {
    const store = await factory(limits);
    stores.push(store);
    return store;
  };
}

function describeStore(open: OpenBucket, openStore: OpenStore): void {
  describe('store', () => {
    it('returns undefined for a key that was never set', async () => {
      const bucket = await open();
      assert.equal(await bucket.get('missing'), undefined);
      assert.equal(await bucket.exists('missing'), false);
    });

    it('gets back exactly the bytes that were set, empty and binary values included', async () => {
      const bucket = await open();
      const binary = Uint8Array.from({ length: 256 }, (_, index) => index);
      await bucket.set('binary', binary);
      await bucket.set('empty', new Uint8Array(0));
      await bucket.set('text', bytes('héllo'));
      assert.deepEqual([...((await bucket.get('binary')) ?? [])], [...binary]);
      assert.equal((await bucket.get('empty'))?.byteLength, 0);
      assert.equal(await bucket.exists('empty'), true);
      assert.equal(text(await bucket.get('text')), 'héllo');
    });

    it('replaces a value when the key is set again', async () => {
      const bucket = await open();
      await bucket.set('k', bytes('first'));
      await bucket.set('k', bytes('second, longer'));
      assert.equal(text(await bucket.get('k')), 'second, longer');
    });

    it('deletes a key, and deleting an absent key succeeds', async () => {
      const bucket = await open();
      await bucket.set('k', bytes('v'));
      await bucket.delete('k');
      assert.equal(await bucket.get('k'), undefined);
      assert.equal(await bucket.exists('k'), false);
      await bucket.delete('k');
      await bucket.delete('never-set');
    });

    it('keeps keys apart that differ only in punctuation, case or non-ASCII characters', async () => {
      const bucket = await open();
      const keys = [
        'a:b',
        'a/b',
        'a b',
        'A:B',
        'é',
        'e\u0301',
        '日本',
        '😀',
        'a*',
        'a?',
        '[x]',
        'back\\slash',
        '',
      ];
      for (const [index, key] of keys.entries()) await bucket.set(key, bytes(String(index)));
      for (const [index, key] of keys.entries())
        assert.equal(text(await bucket.get(key)), String(index), key);
      assert.deepEqual(keySet(await listAll(bucket)), keySet(keys));
    });

    it('never shows one app the keys of another app under the same label', async () => {
      const store = await openStore();
      const mine = store.open(freshApp(), 'default');
      const theirs = store.open(freshApp(), 'default');
      await mine.set('shared-name', bytes('mine'));
      assert.equal(await theirs.get('shared-name'), undefined);
      assert.equal(await theirs.exists('shared-name'), false);
      assert.deepEqual((await theirs.listKeys()).keys, []);
      await theirs.delete('shared-name');
      assert.equal(text(await mine.get('shared-name')), 'mine');
    });

    it('keeps the buckets of one app apart by label, even when one label extends another', async () => {
      const store = await openStore();
      const app = freshApp();
      const plain = store.open(app, 'cache');
      const longer = store.open(app, 'cache_2');
      await plain.set('k', bytes('plain'));
      await longer.set('k', bytes('longer'));
      assert.equal(text(await plain.get('k')), 'plain');
      assert.equal(text(await longer.get('k')), 'longer');
      assert.deepEqual(await listAll(plain), ['k']);
    });

    it('lets another store on the same backend read every acknowledged write', async () => {
      const store = await openStore();
      const app = freshApp();
      await store.open(app, 'default').set('k', bytes('written'));
      const other = await openStore();
      assert.equal(text(await other.open(app, 'default').get('k')), 'written');
    });
  });
}

function describeListing(open: OpenBucket): void {
  describe('listing keys', () => {
    it('lists an empty bucket as one empty, last page', async () => {
      const bucket = await open();
      assert.deepEqual(await bucket.listKeys(), { keys: [], cursor: undefined });
    });

    it('lists every key of a bucket once it is read to the end, and nothing else', async () => {
      const bucket = await open();
      const keys = Array.from({ length: 40 }, (_, index) => `key-${index}`);
      for (const key of keys) await bucket.set(key, bytes(key));
      assert.deepEqual(keySet(await listAll(bucket)), keySet(keys));
    });

    it('pages through keys with a cursor, no page longer than its limit', async () => {
      const bucket = await open();
      const keys = Array.from({ length: 25 }, (_, index) => `k${String(index).padStart(2, '0')}`);
      for (const key of keys) await bucket.set(key, bytes('v'));
      assert.deepEqual(keySet(await listAll(bucket, { limit: 7 })), keys);
      assert.deepEqual(keySet(await listAll(bucket, { limit: 1 })), keys);
      assert.deepEqual(keySet(await listAll(bucket, { limit: 25 })), keys);
    });

    it('lists only the keys that start with a prefix, glob characters taken literally', async () => {
      const bucket = await open();
      const keys = [
        'a*b',
        'a*c',
        'ab',
        'a?x',
        'a[1]',
        'a1',
        'a\\z',
        'user:1',
        'user:2',
        'users',
        'é1',
        'é2',
        'f',
      ];
      for (const key of keys) await bucket.set(key, bytes(key));
      const listed = async (prefix: string) => keySet(await listAll(bucket, { prefix }));
      assert.deepEqual(await listed('a*'), ['a*b', 'a*c']);
      assert.deepEqual(await listed('a?'), ['a?x']);
      assert.deepEqual(await listed('a['), ['a[1]']);
      assert.deepEqual(await listed('a\\'), ['a\\z']);
      assert.deepEqual(await listed('user:'), ['user:1', 'user:2']);
      assert.deepEqual(await listed('é'), ['é1', 'é2']);
      assert.deepEqual(await listed('nothing'), []);
      assert.deepEqual(await listed(''), keySet(keys));
    });

    it('pages through a prefix listing without leaving the prefix', async () => {
      const bucket = await open();
      for (let index = 0; index < 30; index++)
        await bucket.set(`${index % 2 ? 'odd' : 'even'}-${index}`, bytes('v'));
      const odd = await listAll(bucket, { prefix: 'odd-', limit: 4 });
      assert.equal(keySet(odd).length, 15);
      assert.ok(odd.every((key) => key.startsWith('odd-')));
    });

    it('refuses a page larger than maxKeysPerPage and a cursor longer than any it hands out', async () => {
      const bucket = await open({ maxKeysPerPage: 10, maxKeyBytes: 16 });
      await rejectsWith(() => bucket.listKeys({ limit: 11 }), 'E_KV_BATCH_TOO_LARGE');
      await rejectsWith(() => bucket.listKeys({ limit: 0 }), 'E_KV_BATCH_TOO_LARGE');
      await rejectsWith(() => bucket.listKeys({ cursor: 'x'.repeat(100) }), 'E_KV_CURSOR_INVALID');
      await rejectsWith(() => bucket.listKeys({ prefix: 'p'.repeat(17) }), 'E_KV_KEY_INVALID');
    });
  });
}

function describeAtomics(open: OpenBucket): void {
  describe('atomics', () => {
    it('increments an absent key from zero and stores each sum as decimal text', async () => {
      const bucket = await open();
      assert.equal(await bucket.increment('counter', 5n), 5n);
      assert.equal(await bucket.increment('counter', -7n), -2n);
      assert.equal(text(await bucket.get('counter')), '-2');
      await bucket.set('set-by-hand', bytes('41'));
      assert.equal(await bucket.increment('set-by-hand', 1n), 42n);
    });

    it('increments up to the edges of the signed 64-bit range and refuses to overflow', async () => {
      const bucket = await open();
      await bucket.set('big', bytes('9223372036854775806'));
      assert.equal(await bucket.increment('big', 1n), 2n ** 63n - 1n);
      await rejectsWith(() => bucket.increment('big', 1n), 'E_KV_NOT_INTEGER');
      assert.equal(text(await bucket.get('big')), '9223372036854775807');
      assert.equal(await bucket.increment('small', -(2n ** 63n)), -(2n ** 63n));
      await rejectsWith(() => bucket.increment('small', -1n), 'E_KV_NOT_INTEGER');
    });

    it('refuses to increment a value that is not a decimal integer, and leaves it as it was', async () => {
      const bucket = await open();
      for (const value of ['abc', '1.5', ' 1', '1 ', '', '99999999999999999999']) {
        await bucket.set('k', bytes(value));
        await rejectsWith(() => bucket.increment('k', 1n), 'E_KV_NOT_INTEGER');
        assert.equal(text(await bucket.get('k')), value);
      }
    });

    it('counts every one of many concurrent increments', async () => {
      const bucket = await open();
      await Promise.all(Array.from({ length: 50 }, () => bucket.increment('hits', 1n)));
      assert.equal(text(await bucket.get('hits')), '50');
    });

    it('swaps only when the value matches, and returns the value it found when not', async () => {
      const bucket = await open();
      await bucket.set('k', bytes('one'));
      assert.deepEqual(await bucket.compareAndSwap('k', bytes('one'), bytes('two')), { swapped: true });
      assert.equal(text(await bucket.get('k')), 'two');
      const failed = await bucket.compareAndSwap('k', bytes('one'), bytes('three'));
      assert.equal(failed.swapped, false);
      assert.equal(text(failed.swapped ? undefined : failed.current), 'two');
      assert.equal(text(await bucket.get('k')), 'two');
    });

    it('swaps an absent key only when no value is expected, and compares empty values exactly', async () => {
      const bucket = await open();
      assert.deepEqual(await bucket.compareAndSwap('new', undefined, bytes('created')), { swapped: true });
      assert.deepEqual(await bucket.compareAndSwap('new', undefined, bytes('again')), {
        swapped: false,
        current: await bucket.get('new'),
      });
      const missing = await bucket.compareAndSwap('absent', bytes('x'), bytes('y'));
      assert.deepEqual(missing, { swapped: false, current: undefined });
      assert.equal(await bucket.exists('absent'), false);
      await bucket.set('empty', new Uint8Array(0));
      assert.equal((await bucket.compareAndSwap('empty', undefined, bytes('x'))).swapped, false);
      assert.equal((await bucket.compareAndSwap('empty', new Uint8Array(0), bytes('x'))).swapped, true);
    });
  });
}

function describeBatch(open: OpenBucket): void {
  describe('batch', () => {
    it('gets many values in the order asked, undefined where a key is absent', async () => {
      const bucket = await open();
      await bucket.set('a', bytes('A'));
      await bucket.set('c', bytes('C'));
      const values = await bucket.getMany(['c', 'b', 'a', 'c']);
      assert.deepEqual(values.map(text), ['C', undefined, 'A', 'C']);
    });

    it('sets many at once, the last entry of a repeated key winning', async () => {
      const bucket = await open();
      await bucket.setMany([
        ['x', bytes('1')],
        ['y', bytes('2')],
        ['x', bytes('3')],
      ]);
      assert.deepEqual((await bucket.getMany(['x', 'y'])).map(text), ['3', '2']);
    });

    it('deletes many at once, absent keys included', async () => {
      const bucket = await open();
      await bucket.setMany([
        ['a', bytes('1')],
        ['b', bytes('2')],
        ['c', bytes('3')],
      ]);
      await bucket.deleteMany(['a', 'c', 'never-set']);
      assert.deepEqual(await listAll(bucket), ['b']);
    });

    it('treats empty batches as calls that do nothing', async () => {
      const bucket = await open();
      assert.deepEqual(await bucket.getMany([]), []);
      await bucket.setMany([]);
      await bucket.deleteMany([]);
      assert.deepEqual((await bucket.listKeys()).keys, []);
    });
  });
}

function describeLimits(open: OpenBucket, openStore: OpenStore): void {
  describe('limits', () => {
    it('refuses a key longer than maxKeyBytes, counted in UTF-8 bytes', async () => {
      const bucket = await open({ maxKeyBytes: 8 });
      await bucket.set('abcdefgh', bytes('fits'));
      await bucket.set('éééé', bytes('fits, 8 bytes'));
      await rejectsWith(() => bucket.set('abcdefghi', bytes('v')), 'E_KV_KEY_INVALID');
      await rejectsWith(() => bucket.get('ééééé'), 'E_KV_KEY_INVALID');
      await rejectsWith(() => bucket.increment('😀😀😀', 1n), 'E_KV_KEY_INVALID');
      await rejectsWith(() => bucket.getMany(['ok', 'abcdefghi']), 'E_KV_KEY_INVALID');
    });

    it('refuses a key that is not well-formed Unicode', async () => {
      const bucket = await open();
      await rejectsWith(() => bucket.set('lone \ud800', bytes('v')), 'E_KV_KEY_INVALID');
      await rejectsWith(() => bucket.exists('\udc00'), 'E_KV_KEY_INVALID');
    });

    it('refuses a value larger than maxValueBytes, and leaves the stored value as it was', async () => {
      const bucket = await open({ maxValueBytes: 16 });
      await bucket.set('k', new Uint8Array(16));
      await rejectsWith(() => bucket.set('k', new Uint8Array(17)), 'E_KV_VALUE_TOO_LARGE');
      await rejectsWith(() => bucket.setMany([['k', new Uint8Array(17)]]), 'E_KV_VALUE_TOO_LARGE');
      await rejectsWith(
        () => bucket.compareAndSwap('k', new Uint8Array(16), new Uint8Array(17)),
        'E_KV_VALUE_TOO_LARGE',
      );
      assert.equal((await bucket.get('k'))?.byteLength, 16);
    });

    it('refuses a batch naming more keys than maxBatchKeys', async () => {
      const bucket = await open({ maxBatchKeys: 3 });
      const four = ['a', 'b', 'c', 'd'];
      await rejectsWith(() => bucket.getMany(four), 'E_KV_BATCH_TOO_LARGE');
      await rejectsWith(() => bucket.deleteMany(four), 'E_KV_BATCH_TOO_LARGE');
      await rejectsWith(
        () => bucket.setMany(four.map((key) => [key, bytes('v')] as const)),
        'E_KV_BATCH_TOO_LARGE',
      );
      assert.deepEqual((await bucket.listKeys()).keys, []);
    });

    it('refuses a batch carrying more value bytes than maxBatchValueBytes, in or out', async () => {
      const bucket = await open({ maxBatchValueBytes: 25 });
      const entries = ['a', 'b', 'c'].map((key) => [key, new Uint8Array(10)] as const);
      await rejectsWith(() => bucket.setMany(entries), 'E_KV_VALUE_TOO_LARGE');
      for (const [key, value] of entries) await bucket.set(key, value);
      await rejectsWith(() => bucket.getMany(['a', 'b', 'c']), 'E_KV_VALUE_TOO_LARGE');
      assert.equal((await bucket.getMany(['a', 'b'])).length, 2);
    });

    it('refuses to open more than maxOpenBuckets buckets, and opens another once one closes', async () => {
      const store = await openStore({ maxOpenBuckets: 2 });
      const app = freshApp();
      const first = store.open(app, 'one');
      store.open(app, 'two');
      assert.throws(
        () => store.open(app, 'three'),
        (error: unknown) => kvCodeOf(error) === 'E_KV_BUCKETS_LIMIT',
      );
      first.close();
      first.close();
      assert.equal(store.openBuckets, 1);
      store.open(app, 'three');
    });

    it('refuses calls on a closed bucket and on a bucket of a closed store', async () => {
      const store = await openStore();
      const bucket = store.open(freshApp(), 'default');
      const other = store.open(freshApp(), 'default');
      bucket.close();
      await rejectsWith(() => bucket.get('k'), 'E_KV_CLOSED');
      await store.close();
      await rejectsWith(() => other.set('k', bytes('v')), 'E_KV_CLOSED');
      assert.throws(
        () => store.open(freshApp(), 'default'),
        (error: unknown) => kvCodeOf(error) === 'E_KV_CLOSED',
      );
    });

    it('refuses app names and store labels that could not keep buckets apart', async () => {
      const store = await openStore();
      for (const [app, label] of [
        ['', 'default'],
        ['a:b', 'default'],
        ['app', 'a:b'],
        ['app', 'Default'],
        ['app', ''],
        ['app name', 'default'],
        ['x'.repeat(129), 'default'],
      ] as const) {
        assert.throws(
          () => store.open(app, label),
          (error: unknown) => kvCodeOf(error) === 'E_KV_BUCKET_INVALID',
          `${app}/${label}`,
        );
      }
      store.open('tenant/app.v2_x-y', 'snake_case-and-kebab');
    });
  });
}
