/**
 * Checks of bucket names, keys, values and batches against the key-value limits, shared by the
 * async and the sync store so that both refuse the same inputs with the same errors.
 */
import { kvError } from './kv-error.js';
import type { KeyValueLimits } from './limits.js';
import type { BucketId, ListOptions, ListRequest } from './store.js';

/**
 * App names: letters, digits and `. _ - /` (so a tenant-qualified "tenant/app" works), at most
 * 128 bytes. No colon: Redis keys are `isola:<app>:<label>:<key>`, and a colon in the app or the
 * label would let two buckets share keys.
 */
const APP_NAME = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,127}$/;
/** Store labels as the manifest accepts them (kebab-case or snake_case, as in "default"), at most 128 bytes. */
const STORE_LABEL = /^(?=.{1,128}$)[a-z][a-z0-9]*([-_][a-z0-9]+)*$/;
/** A lone surrogate has no UTF-8 form: two such keys would be stored as the same bytes. */
const LONE_SURROGATE = /\p{Surrogate}/u;

export function checkBucketId(app: string, label: string): BucketId {
  if (typeof app !== 'string' || !APP_NAME.test(app)) {
    throw kvError(
      'E_KV_BUCKET_INVALID',
      `app name ${JSON.stringify(app)} cannot name a key-value bucket: use 1 to 128 letters, digits, ".", "_", "-" or "/", starting with a letter or digit`,
      { app },
    );
  }
  if (typeof label !== 'string' || !STORE_LABEL.test(label)) {
    throw kvError(
      'E_KV_BUCKET_INVALID',
      `store label ${JSON.stringify(label)} is not a store label: use kebab-case or snake_case of at most 128 characters, as in "default"`,
      { label },
    );
  }
  return Object.freeze({ app, label });
}

/** `what` names the argument in the message ("key", "prefix"). */
export function checkKey(limits: KeyValueLimits, key: string, what = 'key'): void {
  if (typeof key !== 'string') {
    throw kvError('E_KV_KEY_INVALID', `a key-value ${what} must be a string, not ${typeof key}`);
  }
  // A UTF-16 code unit takes at most 3 UTF-8 bytes, so most keys skip the byte count.
  if (key.length * 3 > limits.maxKeyBytes) {
    const bytes = Buffer.byteLength(key);
    if (bytes > limits.maxKeyBytes) {
      throw kvError(
        'E_KV_KEY_INVALID',
        `a key-value ${what} of ${bytes} bytes is longer than maxKeyBytes (${limits.maxKeyBytes}): use a shorter ${what} or raise the limit`,
        { bytes, limit: limits.maxKeyBytes },
      );
    }
  }
  if (LONE_SURROGATE.test(key)) {
    throw kvError(
      'E_KV_KEY_INVALID',
      `a key-value ${what} must be well-formed Unicode: ${JSON.stringify(key)} has a lone surrogate`,
    );
  }
}

export function checkValue(limits: KeyValueLimits, value: Uint8Array): void {
  if (!(value instanceof Uint8Array)) {
    throw kvError('E_KV_VALUE_TOO_LARGE', 'a key-value value must be a Uint8Array');
  }
  if (value.byteLength > limits.maxValueBytes) {
    throw kvError(
      'E_KV_VALUE_TOO_LARGE',
      `a key-value value of ${value.byteLength} bytes is larger than maxValueBytes (${limits.maxValueBytes}): store less or raise the limit`,
      { bytes: value.byteLength, limit: limits.maxValueBytes },
    );
  }
}

export function checkBatchKeys(limits: KeyValueLimits, keys: readonly string[]): void {
  if (!Array.isArray(keys)) throw kvError('E_KV_KEY_INVALID', 'a key-value batch must be an array');
  if (keys.length > limits.maxBatchKeys) {
    throw kvError(
      'E_KV_BATCH_TOO_LARGE',
      `a key-value batch of ${keys.length} keys is larger than maxBatchKeys (${limits.maxBatchKeys}): split it or raise the limit`,
      { keys: keys.length, limit: limits.maxBatchKeys },
    );
  }
  for (const key of keys) checkKey(limits, key);
}

export function checkBatchEntries(
  limits: KeyValueLimits,
  entries: readonly (readonly [string, Uint8Array])[],
): void {
  checkBatchKeys(
    limits,
    entries.map(([key]) => key),
  );
  let bytes = 0;
  for (const [, value] of entries) {
    checkValue(limits, value);
    bytes += value.byteLength;
  }
  checkBatchBytes(limits, bytes);
}

/** Checks the value bytes a batch carries, in (setMany) or out (getMany). */
export function checkBatchBytes(limits: KeyValueLimits, bytes: number): void {
  if (bytes > limits.maxBatchValueBytes) {
    throw kvError(
      'E_KV_VALUE_TOO_LARGE',
      `a key-value batch carrying ${bytes} value bytes is larger than maxBatchValueBytes (${limits.maxBatchValueBytes}): split it or raise the limit`,
      { bytes, limit: limits.maxBatchValueBytes },
    );
  }
}

export function checkIncrement(delta: bigint): void {
  if (typeof delta !== 'bigint' || delta < -(2n ** 63n) || delta >= 2n ** 63n) {
    throw kvError('E_KV_NOT_INTEGER', `an increment must be a signed 64-bit bigint, not ${String(delta)}`);
  }
}

/** Cursors are a key plus a little (Redis prefixes its SCAN position), never more. */
const CURSOR_EXTRA_BYTES = 32;

export function resolveListOptions(limits: KeyValueLimits, options: ListOptions = {}): ListRequest {
  const { prefix = '', cursor, limit = limits.maxKeysPerPage } = options;
  checkKey(limits, prefix, 'prefix');
  if (cursor !== undefined) {
    if (typeof cursor !== 'string' || LONE_SURROGATE.test(cursor)) {
      throw kvError('E_KV_CURSOR_INVALID', 'a key-value cursor must be a string that a listing returned');
    }
    if (Buffer.byteLength(cursor) > limits.maxKeyBytes + CURSOR_EXTRA_BYTES) {
      throw kvError('E_KV_CURSOR_INVALID', 'this key-value cursor is longer than any a listing returns', {
        bytes: Buffer.byteLength(cursor),
      });
    }
  }
  if (!Number.isInteger(limit) || limit < 1 || limit > limits.maxKeysPerPage) {
    throw kvError(
      'E_KV_BATCH_TOO_LARGE',
      `a key-value listing page of ${limit} keys is out of range: ask for 1 to maxKeysPerPage (${limits.maxKeysPerPage})`,
      { limit, max: limits.maxKeysPerPage },
    );
  }
  return { prefix, cursor, limit };
}
