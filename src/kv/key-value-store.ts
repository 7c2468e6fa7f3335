/**
 * The store layer over a backend: opens buckets (counted against `maxOpenBuckets`) and checks
 * every call against the limits before the backend sees it. `KeyValueStore` is the main
 * thread's (promises); `SyncKeyValueStore` is a worker thread's, for guests' host calls.
 */
import { kvError } from './kv-error.js';
import type { KeyValueLimits } from './limits.js';
import type {
  BackendOperations,
  BucketId,
  KeyPage,
  KeyValueBucket,
  ListOptions,
  SwapResult,
  SyncKeyValueBucket,
} from './store.js';
import {
  checkBatchBytes,
  checkBatchEntries,
  checkBatchKeys,
  checkBucketId,
  checkIncrement,
  checkKey,
  checkValue,
  resolveListOptions,
} from './validate.js';
import type { SyncBackendHandle } from './worker-handle.js';

/** A backend for the main thread. */
export interface KeyValueBackend extends BackendOperations<true> {
  /**
   * Once the backend is ready for worker threads (the relay thread started): a function that
   * makes, synchronously, the plain data with which one more worker thread reaches this backend
   * (see worker-handle.ts).
   */
  workerConnector(): Promise<() => SyncBackendHandle>;
  /** Waits for calls under way, then releases connections and threads. Idempotent. */
  close(): Promise<void>;
}

/** A backend for a worker thread: every call returns synchronously. */
export interface SyncKeyValueBackend extends BackendOperations<false> {
  /** Releases the connection or channel. Idempotent. */
  close(): void;
}

/** Plain data a worker thread turns into a `SyncKeyValueStore` with `openSyncStore`. */
export interface SyncStoreHandle {
  backend: SyncBackendHandle;
  limits: KeyValueLimits;
}

/** Open buckets of one store, and whether the store itself is closed. */
class BucketSlots {
  readonly #limit: number;
  #open = 0;
  closed = false;

  constructor(limit: number) {
    this.#limit = limit;
  }

  get open(): number {
    return this.#open;
  }

  take(bucket: BucketId): void {
    if (this.closed) throw closedError('store', bucket);
    if (this.#open >= this.#limit) {
      throw kvError(
        'E_KV_BUCKETS_LIMIT',
        `${this.#open} key-value buckets are open, the most maxOpenBuckets allows: close one first or raise the limit`,
        { open: this.#open, limit: this.#limit, ...bucket },
      );
    }
    this.#open++;
  }

  release(): void {
    this.#open--;
  }
}

function closedError(what: 'store' | 'bucket', bucket: BucketId): Error {
  return kvError(
    'E_KV_CLOSED',
    `the key-value ${what} is closed: open the bucket again (${bucket.app}/${bucket.label})`,
    { ...bucket },
  );
}

function byteLengthOf(values: readonly (Uint8Array | undefined)[]): number {
  let bytes = 0;
  for (const value of values) bytes += value?.byteLength ?? 0;
  return bytes;
}

export class KeyValueStore {
  readonly limits: Readonly<KeyValueLimits>;
  readonly #backend: KeyValueBackend;
  readonly #slots: BucketSlots;

  constructor(backend: KeyValueBackend, limits: KeyValueLimits) {
    this.#backend = backend;
    this.limits = Object.freeze({ ...limits });
    this.#slots = new BucketSlots(limits.maxOpenBuckets);
  }

  /** Buckets open now. */
  get openBuckets(): number {
    return this.#slots.open;
  }

  /** Opens `app`'s bucket under store label `label`; fails with E_KV_BUCKET_INVALID or E_KV_BUCKETS_LIMIT. */
  open(app: string, label: string): KeyValueBucket {
    const id = checkBucketId(app, label);
    this.#slots.take(id);
    return new AsyncBucket(id, this.#backend, this.limits, this.#slots);
  }

  /** Plain data for a worker thread's `openSyncStore`, with this store's limits. */
  async workerHandle(): Promise<SyncStoreHandle> {
    return (await this.workerConnector())();
  }

  /**
   * A function that makes a `workerHandle` synchronously, for each worker thread an engine starts
   * (`EngineOptions.keyValue`); resolves once the backend can serve worker threads.
   */
  async workerConnector(): Promise<() => SyncStoreHandle> {
    const connect = await this.#backend.workerConnector();
    const limits = this.limits;
    return () => ({ backend: connect(), limits: { ...limits } });
  }

  async close(): Promise<void> {
    this.#slots.closed = true;
    await this.#backend.close();
  }
}

export class SyncKeyValueStore {
  readonly limits: Readonly<KeyValueLimits>;
  readonly #backend: SyncKeyValueBackend;
  readonly #slots: BucketSlots;

  constructor(backend: SyncKeyValueBackend, limits: KeyValueLimits) {
    this.#backend = backend;
    this.limits = Object.freeze({ ...limits });
    this.#slots = new BucketSlots(limits.maxOpenBuckets);
  }

  get openBuckets(): number {
    return this.#slots.open;
  }

  open(app: string, label: string): SyncKeyValueBucket {
    const id = checkBucketId(app, label);
    this.#slots.take(id);
    return new SyncBucket(id, this.#backend, this.limits, this.#slots);
  }

  close(): void {
    this.#slots.closed = true;
    this.#backend.close();
  }
}

class AsyncBucket implements KeyValueBucket {
  readonly id: BucketId;
  readonly #backend: KeyValueBackend;
  readonly #limits: KeyValueLimits;
  readonly #slots: BucketSlots;
  #closed = false;

  constructor(id: BucketId, backend: KeyValueBackend, limits: KeyValueLimits, slots: BucketSlots) {
    this.id = id;
    this.#backend = backend;
    this.#limits = limits;
    this.#slots = slots;
  }

  #ready(): void {
    if (this.#closed) throw closedError('bucket', this.id);
    if (this.#slots.closed) throw closedError('store', this.id);
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    this.#ready();
    checkKey(this.#limits, key);
    return this.#backend.get(this.id, key);
  }

  async set(key: string, value: Uint8Array): Promise<void> {
    this.#ready();
    checkKey(this.#limits, key);
    checkValue(this.#limits, value);
    return this.#backend.set(this.id, key, value);
  }

  async delete(key: string): Promise<void> {
    this.#ready();
    checkKey(this.#limits, key);
    return this.#backend.delete(this.id, key);
  }

  async exists(key: string): Promise<boolean> {
    this.#ready();
    checkKey(this.#limits, key);
    return this.#backend.exists(this.id, key);
  }

  async listKeys(options?: ListOptions): Promise<KeyPage> {
    this.#ready();
    return this.#backend.listKeys(this.id, resolveListOptions(this.#limits, options));
  }

  async increment(key: string, delta: bigint): Promise<bigint> {
    this.#ready();
    checkKey(this.#limits, key);
    checkIncrement(delta);
    return this.#backend.increment(this.id, key, delta);
  }

  async compareAndSwap(
    key: string,
    expected: Uint8Array | undefined,
    value: Uint8Array,
  ): Promise<SwapResult> {
    this.#ready();
    checkKey(this.#limits, key);
    if (expected !== undefined) checkValue(this.#limits, expected);
    checkValue(this.#limits, value);
    return this.#backend.compareAndSwap(this.id, key, expected, value);
  }

  async getMany(keys: readonly string[]): Promise<(Uint8Array | undefined)[]> {
    this.#ready();
    checkBatchKeys(this.#limits, keys);
    if (keys.length === 0) return [];
    const values = await this.#backend.getMany(this.id, keys);
    checkBatchBytes(this.#limits, byteLengthOf(values));
    return values;
  }

  async setMany(entries: readonly (readonly [string, Uint8Array])[]): Promise<void> {
    this.#ready();
    checkBatchEntries(this.#limits, entries);
    if (entries.length > 0) await this.#backend.setMany(this.id, entries);
  }

  async deleteMany(keys: readonly string[]): Promise<void> {
    this.#ready();
    checkBatchKeys(this.#limits, keys);
    if (keys.length > 0) await this.#backend.deleteMany(this.id, keys);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#slots.release();
  }
}

class SyncBucket implements SyncKeyValueBucket {
  readonly id: BucketId;
  readonly #backend: SyncKeyValueBackend;
  readonly #limits: KeyValueLimits;
  readonly #slots: BucketSlots;
  #closed = false;

  constructor(id: BucketId, backend: SyncKeyValueBackend, limits: KeyValueLimits, slots: BucketSlots) {
    this.id = id;
    this.#backend = backend;
    this.#limits = limits;
    this.#slots = slots;
  }

  #ready(): void {
    if (this.#closed) throw closedError('bucket', this.id);
    if (this.#slots.closed) throw closedError('store', this.id);
  }

  get(key: string): Uint8Array | undefined {
    this.#ready();
    checkKey(this.#limits, key);
    return this.#backend.get(this.id, key);
  }

  set(key: string, value: Uint8Array): void {
    this.#ready();
    checkKey(this.#limits, key);
    checkValue(this.#limits, value);
    this.#backend.set(this.id, key, value);
  }

  delete(key: string): void {
    this.#ready();
    checkKey(this.#limits, key);
    this.#backend.delete(this.id, key);
  }

  exists(key: string): boolean {
    this.#ready();
    checkKey(this.#limits, key);
    return this.#backend.exists(this.id, key);
  }

  listKeys(options?: ListOptions): KeyPage {
    this.#ready();
    return this.#backend.listKeys(this.id, resolveListOptions(this.#limits, options));
  }

  increment(key: string, delta: bigint): bigint {
    this.#ready();
    checkKey(this.#limits, key);
    checkIncrement(delta);
    return this.#backend.increment(this.id, key, delta);
  }

  compareAndSwap(key: string, expected: Uint8Array | undefined, value: Uint8Array): SwapResult {
    this.#ready();
    checkKey(this.#limits, key);
    if (expected !== undefined) checkValue(this.#limits, expected);
    checkValue(this.#limits, value);
    return this.#backend.compareAndSwap(this.id, key, expected, value);
  }

  getMany(keys: readonly string[]): (Uint8Array | undefined)[] {
    this.#ready();
    checkBatchKeys(this.#limits, keys);
    if (keys.length === 0) return [];
    const values = this.#backend.getMany(this.id, keys);
    checkBatchBytes(this.#limits, byteLengthOf(values));
    return values;
  }

  setMany(entries: readonly (readonly [string, Uint8Array])[]): void {
    this.#ready();
    checkBatchEntries(this.#limits, entries);
    if (entries.length > 0) this.#backend.setMany(this.id, entries);
  }

  deleteMany(keys: readonly string[]): void {
    this.#ready();
    checkBatchKeys(this.#limits, keys);
    if (keys.length > 0) this.#backend.deleteMany(this.id, keys);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#slots.release();
  }
}
