/**
 * The runtime configuration that selects a key-value backend: the embedded SQLite default, or
 * Redis for a fleet of stateless nodes. It is operator configuration, not part of an app's
 * manifest: apps name store labels, the runtime decides where the buckets live.
 */
import { kvError } from './kv-error.js';

export interface SqliteConfig {
  backend: 'sqlite';
  /** The database file, e.g. `<data dir>/kv.sqlite`; created with its directory when missing. */
  path: string;
  /**
   * SQLite's `PRAGMA synchronous` in WAL mode. `normal` (default) keeps every acknowledged write
   * when the process is killed; `full` also keeps it through a power loss or an OS crash, at the
   * cost of an fsync per write.
   */
  synchronous?: 'normal' | 'full';
  /** How long a write waits for another thread's or process's write lock. Default 5000 ms. */
  busyTimeoutMs?: number;
}

export interface RedisConfig {
  backend: 'redis';
  /** `redis[s]://[[user][:password]@]host[:port][/db]`. */
  url: string;
  /** How long connecting may take before the store fails with E_KV_UNAVAILABLE. Default 5000 ms. */
  connectTimeoutMs?: number;
  /** How long one command may take before it fails with E_KV_UNAVAILABLE. Default 5000 ms. */
  commandTimeoutMs?: number;
}

export type KeyValueConfig = SqliteConfig | RedisConfig;

export const SQLITE_CONFIG_DEFAULTS = Object.freeze({ synchronous: 'normal', busyTimeoutMs: 5000 } as const);
export const REDIS_CONFIG_DEFAULTS = Object.freeze({
  connectTimeoutMs: 5000,
  commandTimeoutMs: 5000,
} as const);

/** Checks a configuration read from a file or flags, naming the field to fix. */
export function checkKeyValueConfig(config: unknown): KeyValueConfig {
  if (typeof config !== 'object' || config === null) {
    throw invalid(
      'a key-value config must be an object such as { backend: "sqlite", path: "data/kv.sqlite" }',
    );
  }
  const fields = config as Record<string, unknown>;
  if (fields.backend === 'sqlite') {
    if (typeof fields.path !== 'string' || fields.path === '' || fields.path === ':memory:') {
      throw invalid(
        'key-value config: sqlite needs a database file path, e.g. path = "data/kv.sqlite"',
        'path',
      );
    }
    if (
      fields.synchronous !== undefined &&
      fields.synchronous !== 'normal' &&
      fields.synchronous !== 'full'
    ) {
      throw invalid('key-value config: synchronous must be "normal" or "full"', 'synchronous');
    }
    checkMilliseconds(fields, 'busyTimeoutMs');
    return config as SqliteConfig;
  }
  if (fields.backend === 'redis') {
    if (typeof fields.url !== 'string' || !/^rediss?:\/\//.test(fields.url)) {
      throw invalid('key-value config: redis needs a url such as "redis://127.0.0.1:6379"', 'url');
    }
    checkMilliseconds(fields, 'connectTimeoutMs');
    checkMilliseconds(fields, 'commandTimeoutMs');
    return config as RedisConfig;
  }
  throw invalid(
    `key-value config: backend ${JSON.stringify(fields.backend)} is not one isola has: use "sqlite" or "redis"`,
    'backend',
  );
}

function checkMilliseconds(fields: Record<string, unknown>, name: string): void {
  const value = fields[name];
  if (value === undefined) return;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 600_000) {
    throw invalid(`key-value config: ${name} must be a whole number of milliseconds from 1 to 600000`, name);
  }
}

function invalid(message: string, field?: string): Error {
  return kvError('E_KV_CONFIG_INVALID', message, field === undefined ? {} : { field });
}
