/**
 * Named limits of the key-value stores, with documented defaults (STYLE habit 6). The store layer
 * enforces them before a call reaches a backend, so every backend refuses the same inputs with
 * the same error.
 */
import { IsolaError } from '../errors.js';

export interface KeyValueLimits {
  /** Longest key, in UTF-8 bytes; also bounds a listing prefix. Default 256. */
  maxKeyBytes: number;
  /** Largest value, in bytes. Default 1 MiB (Spin's and wasmtime's key-value hosts use 1 MiB too). */
  maxValueBytes: number;
  /** Keys one listing page may return; a listing asks for at most this many. Default 1000. */
  maxKeysPerPage: number;
  /** Keys one batch call (getMany, setMany, deleteMany) may name. Default 1000. */
  maxBatchKeys: number;
  /** Value bytes one batch call may carry, in or out. Default 16 MiB. */
  maxBatchValueBytes: number;
  /** Buckets open at once on one store object (one per thread that holds a store). Default 1024. */
  maxOpenBuckets: number;
}

export const KV_LIMIT_DEFAULTS: Readonly<KeyValueLimits> = Object.freeze({
  maxKeyBytes: 256,
  maxValueBytes: 1024 * 1024,
  maxKeysPerPage: 1000,
  maxBatchKeys: 1000,
  maxBatchValueBytes: 16 * 1024 * 1024,
  maxOpenBuckets: 1024,
});

/** Inclusive ranges an override must fall within. */
export const KV_LIMIT_RANGES: Readonly<Record<keyof KeyValueLimits, readonly [number, number]>> =
  Object.freeze({
    maxKeyBytes: [1, 64 * 1024],
    // Redis refuses strings over 512 MiB.
    maxValueBytes: [0, 512 * 1024 * 1024],
    maxKeysPerPage: [1, 100_000],
    maxBatchKeys: [1, 100_000],
    maxBatchValueBytes: [0, 1024 * 1024 * 1024],
    maxOpenBuckets: [1, 1_000_000],
  });

/** Merges overrides onto the defaults, refusing an unknown name or a value outside its range. */
export function resolveKeyValueLimits(overrides: Partial<KeyValueLimits> = {}): KeyValueLimits {
  const limits: KeyValueLimits = { ...KV_LIMIT_DEFAULTS };
  for (const [name, value] of Object.entries(overrides) as [keyof KeyValueLimits, number | undefined][]) {
    if (value === undefined) continue;
    const range = KV_LIMIT_RANGES[name];
    if (range === undefined) {
      throw new IsolaError('E_LIMIT_OUT_OF_RANGE', `unknown key-value limit "${name}"`, { limit: name });
    }
    const [min, max] = range;
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new IsolaError(
        'E_LIMIT_OUT_OF_RANGE',
        `key-value limit ${name} = ${value} is out of range: use a whole number from ${min} to ${max}`,
        { limit: name, value, min, max },
      );
    }
    limits[name] = value;
  }
  return limits;
}
