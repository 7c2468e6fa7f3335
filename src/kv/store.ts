/**
 * The key-value store interface that guests' host services are built on.
 *
 * The vocabulary is wasi:keyvalue's (0.2.0-draft2): a *store* is a backend (embedded SQLite, or
 * Redis), and a *bucket* is one keyspace in it, opened by an app under one of the store labels
 * its manifest grants (`key_value_stores = ["default"]`). Buckets are namespaced by app and
 * label, so an app never sees another app's keys, nor one label another's. The operations cover
 * wasi:keyvalue's `store` (get, set, delete, exists, list-keys with a cursor), `atomics`
 * (increment, compare-and-swap) and `batch` (get-many, set-many, delete-many), which is a superset
 * of Spin's key-value interface (its get-keys is a listing read to the end).
 *
 * Every operation exists twice, with one shape: `KeyValueBucket` returns promises, for the main
 * thread; `SyncKeyValueBucket` returns values, for a guest's host call in a worker thread, where
 * guest code cannot await. SQLite is synchronous already; Redis reaches worker threads through a
 * relay thread (relay.ts) that the sync side blocks on with `Atomics.wait`.
 */

/** One bucket: an app's keyspace under one store label. */
export interface BucketId {
  readonly app: string;
  readonly label: string;
}

/** What a listing asks for; every field is optional. */
export interface ListOptions {
  /** Only keys that start with this. Default: every key. */
  prefix?: string;
  /** Where the previous page stopped, as it returned it. Default: the first page. */
  cursor?: string;
  /** Most keys on this page, at most `maxKeysPerPage`. Default `maxKeysPerPage`. */
  limit?: number;
}

/** A listing request with every field resolved, as backends receive it. */
export interface ListRequest {
  prefix: string;
  cursor: string | undefined;
  limit: number;
}

/**
 * One page of keys. `cursor` is undefined on the last page; otherwise pass it to get the next,
 * which may be empty. Backends promise that a key present for the whole listing is listed at
 * least once and that no listed key lies outside the bucket or the prefix; SQLite lists in
 * UTF-8 byte order exactly once, while Redis (SCAN) may repeat a key when its table is resized
 * during the listing and lists in no particular order.
 */
export interface KeyPage {
  keys: string[];
  cursor: string | undefined;
}

/** The outcome of compare-and-swap; a failed swap returns the value it found (wasi:keyvalue's cas-failed). */
export type SwapResult = { swapped: true } | { swapped: false; current: Uint8Array | undefined };

/** A promise on the async side, the value itself on the sync side. */
export type Reply<Async extends boolean, T> = Async extends true ? Promise<T> : T;

export interface BucketOperations<Async extends boolean> {
  /** The value, or undefined when the key is absent. */
  get(key: string): Reply<Async, Uint8Array | undefined>;
  set(key: string, value: Uint8Array): Reply<Async, void>;
  /** Deleting an absent key succeeds. */
  delete(key: string): Reply<Async, void>;
  exists(key: string): Reply<Async, boolean>;
  listKeys(options?: ListOptions): Reply<Async, KeyPage>;
  /**
   * Adds `delta` to the key's value, read as a signed 64-bit decimal integer ("42", "-7"; an
   * absent key counts as 0), stores the sum the same way and returns it. Fails with
   * E_KV_NOT_INTEGER when the value is not such an integer or the sum would overflow (Redis's
   * INCRBY semantics, which wasi:keyvalue's `increment` follows).
   */
  increment(key: string, delta: bigint): Reply<Async, bigint>;
  /**
   * Sets the key to `value` only if it currently holds `expected` (byte for byte), or is absent
   * when `expected` is undefined; atomic with respect to every other operation on the store.
   */
  compareAndSwap(key: string, expected: Uint8Array | undefined, value: Uint8Array): Reply<Async, SwapResult>;
  /** Values in the order of `keys`, undefined where a key is absent. */
  getMany(keys: readonly string[]): Reply<Async, (Uint8Array | undefined)[]>;
  /** Sets every entry at once (all or none); when a key repeats, its last entry wins. */
  setMany(entries: readonly (readonly [string, Uint8Array])[]): Reply<Async, void>;
  deleteMany(keys: readonly string[]): Reply<Async, void>;
}

/** A bucket for the main thread. */
export interface KeyValueBucket extends BucketOperations<true> {
  readonly id: BucketId;
  /** Frees the bucket's place under `maxOpenBuckets`; later calls fail with E_KV_CLOSED. Idempotent. */
  close(): void;
}

/** A bucket for a guest's host calls: every call returns synchronously. */
export interface SyncKeyValueBucket extends BucketOperations<false> {
  readonly id: BucketId;
  /** Frees the bucket's place under `maxOpenBuckets`; later calls fail with E_KV_CLOSED. Idempotent. */
  close(): void;
}

/**
 * What a backend implements: the bucket operations with the bucket named in each call. Inputs
 * are already checked against the limits by the store layer (key-value-store.ts).
 */
export interface BackendOperations<Async extends boolean> {
  get(bucket: BucketId, key: string): Reply<Async, Uint8Array | undefined>;
  set(bucket: BucketId, key: string, value: Uint8Array): Reply<Async, void>;
  delete(bucket: BucketId, key: string): Reply<Async, void>;
  exists(bucket: BucketId, key: string): Reply<Async, boolean>;
  listKeys(bucket: BucketId, request: ListRequest): Reply<Async, KeyPage>;
  increment(bucket: BucketId, key: string, delta: bigint): Reply<Async, bigint>;
  compareAndSwap(
    bucket: BucketId,
    key: string,
    expected: Uint8Array | undefined,
    value: Uint8Array,
  ): Reply<Async, SwapResult>;
  getMany(bucket: BucketId, keys: readonly string[]): Reply<Async, (Uint8Array | undefined)[]>;
  setMany(bucket: BucketId, entries: readonly (readonly [string, Uint8Array])[]): Reply<Async, void>;
  deleteMany(bucket: BucketId, keys: readonly string[]): Reply<Async, void>;
}

/** The names of the operations, as the relay sends them between threads. */
export type OperationName = keyof BackendOperations<false>;

export const OPERATION_NAMES: readonly OperationName[] = Object.freeze([
  'get',
  'set',
  'delete',
  'exists',
  'listKeys',
  'increment',
  'compareAndSwap',
  'getMany',
  'setMany',
  'deleteMany',
]);
