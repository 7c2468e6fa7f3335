/**
 * wasi:keyvalue 0.2.0-draft2 (`store`, `atomics`, `batch`; isola's WIT in `wit/wasi-keyvalue/`)
 * over the key-value layer (src/kv/). The component reaches only the stores its manifest grants,
 * as buckets of its own app: `open` of any other label, or of any label when no store is granted,
 * is `access-denied`. A refusal of the store layer (a limit, a value that is not an integer, a
 * backend that failed) is `other` with the store's message, which names the fix; anything else
 * thrown is a host bug and ends the instance.
 *
 * A `bucket` handle is a counted host resource, but the store's bucket behind it is open only
 * for the length of one call: componentize-js guests never drop their handles and an instance
 * has no teardown, so a bucket held for the handle's life would keep its place under the store's
 * `maxOpenBuckets` after the instance ended, and the thread's store would refuse every `open`
 * once enough instances had run.
 */
import { createHash } from 'node:crypto';
import type { IsolaError } from '../../errors.js';
import type { SyncKeyValueStore } from '../../kv/key-value-store.js';
import { kvCodeOf } from '../../kv/kv-error.js';
import type { SwapResult, SyncKeyValueBucket } from '../../kv/store.js';
import { DISPOSE, type HostContext, HostResource, WitError } from './context.js';

/** The key-value stores one component is granted: its app's buckets under `labels`. */
export interface KeyValueGrant {
  store: SyncKeyValueStore;
  /** The app whose keyspace the buckets are; another app's keys are never reachable. */
  app: string;
  /** The store labels of the component's `key_value_stores`, e.g. `["default"]`. */
  labels: readonly string[];
}

/** wasi:keyvalue/store `error`. isola never returns `no-such-store`: labels are checked at deploy. */
export type KeyValueError =
  | { tag: 'no-such-store' }
  | { tag: 'access-denied' }
  | { tag: 'other'; val: string };

/** wasi:keyvalue/atomics `cas-error`. */
export type CasError =
  | { tag: 'store-error'; val: KeyValueError }
  | { tag: 'cas-failed'; val: [Cas, Uint8Array | undefined] };

const ACCESS_DENIED: KeyValueError = Object.freeze({ tag: 'access-denied' });

/** The store layer's refusal as the guest's `error`; anything that is not one is rethrown. */
function storeError(thrown: unknown): KeyValueError {
  if (kvCodeOf(thrown) === undefined) throw thrown;
  return { tag: 'other', val: (thrown as IsolaError).message };
}

/**
 * Runs `operation` on the store's bucket `label` of the granted app, opened for this call alone
 * (see the module comment). A store refusal is thrown as the WIT `error`.
 */
function useBucket<T>(
  ctx: HostContext,
  grant: KeyValueGrant,
  label: string,
  operation: (bucket: SyncKeyValueBucket) => T,
): T {
  ctx.checkDeadline();
  let opened: SyncKeyValueBucket | undefined;
  try {
    opened = grant.store.open(grant.app, label);
    return operation(opened);
  } catch (thrown) {
    throw new WitError(storeError(thrown));
  } finally {
    opened?.close();
  }
}

/** wasi:keyvalue/store `bucket`: one granted label of the component's app. */
export class Bucket extends HostResource {
  readonly #grant: KeyValueGrant;
  readonly #label: string;

  constructor(ctx: HostContext, grant: KeyValueGrant, label: string) {
    super(ctx);
    this.#grant = grant;
    this.#label = label;
  }

  /** Runs `operation` on the store's bucket, opened for this call alone. */
  use<T>(operation: (bucket: SyncKeyValueBucket) => T): T {
    return useBucket(this.ctx, this.#grant, this.#label, operation);
  }

  get(key: string): Uint8Array | undefined {
    return this.use((bucket) => bucket.get(key));
  }

  set(key: string, value: Uint8Array): void {
    this.use((bucket) => bucket.set(key, value));
  }

  delete(key: string): void {
    this.use((bucket) => bucket.delete(key));
  }

  exists(key: string): boolean {
    return this.use((bucket) => bucket.exists(key));
  }

  /** One page of keys; the cursor is the store's own, handed back verbatim for the next page. */
  listKeys(cursor: string | undefined): { keys: string[]; cursor: string | undefined } {
    return this.use((bucket) => bucket.listKeys(cursor === undefined ? {} : { cursor }));
  }
}

/**
 * What a `cas` keeps of the value it read: its SHA-256, not the value itself, which may be as
 * large as the store's `maxValueBytes` while a guest may hold up to `maxResources` handles.
 * Undefined for an absent key.
 */
function fingerprint(value: Uint8Array | undefined): string | undefined {
  return value === undefined ? undefined : createHash('sha256').update(value).digest('base64');
}

/**
 * wasi:keyvalue/atomics `cas`: a key and (the fingerprint of) the value it had when the handle
 * was made. `swap` consumes it.
 */
export class Cas extends HostResource {
  readonly bucket: Bucket;
  readonly key: string;
  readonly read: string | undefined;

  constructor(bucket: Bucket, key: string, read: Uint8Array | undefined) {
    super(bucket.ctx);
    this.bucket = bucket;
    this.key = key;
    this.read = fingerprint(read);
  }

  static new(bucket: Bucket, key: string): Cas {
    return Cas.newWithRead(bucket, key)[0];
  }

  static newWithRead(bucket: Bucket, key: string): [Cas, Uint8Array | undefined] {
    const checked = asBucket(bucket);
    const current = checked.get(key);
    return [new Cas(checked, key, current), current];
  }
}

function asBucket(bucket: unknown): Bucket {
  if (!(bucket instanceof Bucket)) throw new TypeError('not a wasi:keyvalue bucket');
  return bucket;
}

/**
 * Sets the handle's key to `value` if it still holds the value the handle read. When another
 * write came first, `cas-failed` carries a fresh handle holding the value found, so the guest
 * can retry from it. The value is read again and compared with the handle's fingerprint; the
 * store's compare-and-swap against the value just read makes the whole swap atomic.
 */
function swap(cas: Cas, value: Uint8Array): void {
  if (!(cas instanceof Cas)) throw new TypeError('not a wasi:keyvalue cas');
  // The guest passed the handle by value: it is the host's now, and done with after this call.
  cas[DISPOSE]();
  let result: SwapResult;
  try {
    result = cas.bucket.use((bucket) => {
      const current = bucket.get(cas.key);
      if (fingerprint(current) !== cas.read) return { swapped: false, current };
      return bucket.compareAndSwap(cas.key, current, value);
    });
  } catch (thrown) {
    if (!(thrown instanceof WitError)) throw thrown;
    // The store's `error`, as useBucket made it, becomes cas-error's store-error case.
    throw new WitError({ tag: 'store-error', val: thrown.payload as KeyValueError } satisfies CasError);
  }
  if (result.swapped) return;
  const fresh = new Cas(cas.bucket, cas.key, result.current);
  throw new WitError({ tag: 'cas-failed', val: [fresh, result.current] } satisfies CasError);
}

export function keyValueImports(
  ctx: HostContext,
  grant: KeyValueGrant | undefined,
): Record<string, Record<string, unknown>> {
  return {
    'wasi:keyvalue/store': {
      Bucket,
      open: (label: string): Bucket => {
        if (grant === undefined || !grant.labels.includes(label)) throw new WitError(ACCESS_DENIED);
        // Opened once now, so that a bucket the store cannot open fails here, as the WIT has it.
        useBucket(ctx, grant, label, () => undefined);
        return new Bucket(ctx, grant, label);
      },
    },
    'wasi:keyvalue/atomics': {
      Cas,
      increment: (bucket: Bucket, key: string, delta: bigint): bigint =>
        asBucket(bucket).use((opened) => opened.increment(key, delta)),
      swap,
    },
    'wasi:keyvalue/batch': {
      getMany: (bucket: Bucket, keys: string[]): [string, Uint8Array | undefined][] => {
        const values = asBucket(bucket).use((opened) => opened.getMany(keys));
        return keys.map((key, index) => [key, values[index]]);
      },
      setMany: (bucket: Bucket, entries: [string, Uint8Array][]): void =>
        asBucket(bucket).use((opened) => opened.setMany(entries)),
      deleteMany: (bucket: Bucket, keys: string[]): void =>
        asBucket(bucket).use((opened) => opened.deleteMany(keys)),
    },
  };
}
