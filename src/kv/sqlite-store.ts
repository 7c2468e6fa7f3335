/**
 * The embedded key-value backend: one SQLite database file (better-sqlite3), in WAL mode, with
 * prepared statements.
 *
 * One table keyed by (app, bucket, key) rather than a file per app: opening a bucket costs
 * nothing (no file handle, WAL or page cache per app, so `maxOpenBuckets` is not bounded by
 * descriptors), each thread needs one connection for every app, an app's keys are one index
 * range (listing and removing an app are range scans), and the primary key keeps buckets apart
 * as surely as files would. What it gives up is per-app files to copy or size; SQLite's single
 * writer is shared either way within one process's disk.
 *
 * Durability: WAL with `synchronous = NORMAL` (default) writes each commit to the WAL before the
 * call returns, so a killed process loses no acknowledged write (https://sqlite.org/wal.html,
 * https://sqlite.org/pragma.html#pragma_synchronous); `full` adds an fsync per commit, which
 * also survives a power loss. Each worker thread opens its own connection to the same file
 * (worker-handle.ts); read-modify-write operations take the write lock up front (BEGIN
 * IMMEDIATE) so that they never fail on a lock upgrade.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { IsolaError } from '../errors.js';
import { SQLITE_CONFIG_DEFAULTS, type SqliteConfig } from './config.js';
import type { KeyValueBackend, SyncKeyValueBackend } from './key-value-store.js';
import { kvError } from './kv-error.js';
import type { BucketId, KeyPage, ListRequest, SwapResult } from './store.js';
import type { SyncBackendHandle } from './worker-handle.js';

/** Bumped when the table changes; a database from a newer isola is refused, not misread. */
const SCHEMA_VERSION = 1;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS kv (
  app TEXT NOT NULL,
  bucket TEXT NOT NULL,
  key TEXT NOT NULL,
  value BLOB NOT NULL,
  PRIMARY KEY (app, bucket, key)
) STRICT`;

type Entries = readonly (readonly [string, Uint8Array])[];

/** The synchronous backend: one connection, used from one thread. */
export class SqliteBackend implements SyncKeyValueBackend {
  readonly #db: Database.Database;
  readonly #get: Database.Statement<[string, string, string], Buffer>;
  readonly #exists: Database.Statement<[string, string, string], number>;
  readonly #set: Database.Statement<[string, string, string, Uint8Array]>;
  readonly #delete: Database.Statement<[string, string, string]>;
  /** Listing statements by [lower bound inclusive?][upper bound present?]. */
  readonly #list: Record<'from' | 'after', Record<'open' | 'bounded', Database.Statement<unknown[], string>>>;
  readonly #increment: (bucket: BucketId, key: string, delta: bigint) => bigint;
  readonly #compareAndSwap: (
    bucket: BucketId,
    key: string,
    expected: Uint8Array | undefined,
    value: Uint8Array,
  ) => SwapResult;
  readonly #getMany: (bucket: BucketId, keys: readonly string[]) => (Uint8Array | undefined)[];
  readonly #setMany: (bucket: BucketId, entries: Entries) => void;
  readonly #deleteMany: (bucket: BucketId, keys: readonly string[]) => void;

  constructor(config: SqliteConfig) {
    this.#db = openDatabase(config);
    const db = this.#db;
    const where = 'app = ? AND bucket = ? AND key = ?';
    this.#get = db.prepare<[string, string, string], Buffer>(`SELECT value FROM kv WHERE ${where}`).pluck();
    this.#exists = db.prepare<[string, string, string], number>(`SELECT 1 FROM kv WHERE ${where}`).pluck();
    this.#set = db.prepare(
      'INSERT INTO kv (app, bucket, key, value) VALUES (?, ?, ?, ?) ON CONFLICT (app, bucket, key) DO UPDATE SET value = excluded.value',
    );
    this.#delete = db.prepare(`DELETE FROM kv WHERE ${where}`);
    const list = (lower: string, upper: string) =>
      db
        .prepare<unknown[], string>(
          `SELECT key FROM kv WHERE app = ? AND bucket = ? AND ${lower}${upper} ORDER BY key LIMIT ?`,
        )
        .pluck();
    this.#list = {
      from: { open: list('key >= ?', ''), bounded: list('key >= ?', ' AND key < ?') },
      after: { open: list('key > ?', ''), bounded: list('key > ?', ' AND key < ?') },
    };
    this.#increment = db.transaction((bucket: BucketId, key: string, delta: bigint) => {
      const sum = parseInteger(bucket, key, this.#get.get(bucket.app, bucket.label, key)) + delta;
      if (sum < INT64_MIN || sum > INT64_MAX) {
        throw kvError('E_KV_NOT_INTEGER', `incrementing ${JSON.stringify(key)} by ${delta} would overflow`, {
          ...bucket,
          key,
        });
      }
      this.#set.run(bucket.app, bucket.label, key, Buffer.from(sum.toString()));
      return sum;
    }).immediate;
    this.#compareAndSwap = db.transaction(
      (bucket: BucketId, key: string, expected: Uint8Array | undefined, value: Uint8Array): SwapResult => {
        const current = this.#get.get(bucket.app, bucket.label, key);
        const matches = expected === undefined ? current === undefined : current?.equals(expected) === true;
        if (!matches) return { swapped: false, current };
        this.#set.run(bucket.app, bucket.label, key, value);
        return { swapped: true };
      },
    ).immediate;
    // A read transaction, so that the values are one snapshot.
    this.#getMany = db.transaction((bucket: BucketId, keys: readonly string[]) =>
      keys.map((key) => this.#get.get(bucket.app, bucket.label, key)),
    ).deferred;
    this.#setMany = db.transaction((bucket: BucketId, entries: Entries) => {
      for (const [key, value] of entries) this.#set.run(bucket.app, bucket.label, key, value);
    }).immediate;
    this.#deleteMany = db.transaction((bucket: BucketId, keys: readonly string[]) => {
      for (const key of keys) this.#delete.run(bucket.app, bucket.label, key);
    }).immediate;
  }

  get(bucket: BucketId, key: string): Uint8Array | undefined {
    return run(() => this.#get.get(bucket.app, bucket.label, key));
  }

  set(bucket: BucketId, key: string, value: Uint8Array): void {
    run(() => this.#set.run(bucket.app, bucket.label, key, value));
  }

  delete(bucket: BucketId, key: string): void {
    run(() => this.#delete.run(bucket.app, bucket.label, key));
  }

  exists(bucket: BucketId, key: string): boolean {
    return run(() => this.#exists.get(bucket.app, bucket.label, key) !== undefined);
  }

  /** Keys in UTF-8 byte order (SQLite's BINARY collation); the cursor is the last key listed. */
  listKeys(bucket: BucketId, { prefix, cursor, limit }: ListRequest): KeyPage {
    const afterCursor = cursor !== undefined && utf8Compare(cursor, prefix) >= 0;
    const lower = afterCursor ? cursor : prefix;
    const upper = prefixEnd(prefix);
    const statement = this.#list[afterCursor ? 'after' : 'from'][upper === undefined ? 'open' : 'bounded'];
    const params = upper === undefined ? [lower, limit + 1] : [lower, upper, limit + 1];
    const keys = run(() => statement.all(bucket.app, bucket.label, ...params));
    if (keys.length <= limit) return { keys, cursor: undefined };
    keys.length = limit;
    return { keys, cursor: keys[limit - 1] };
  }

  increment(bucket: BucketId, key: string, delta: bigint): bigint {
    return run(() => this.#increment(bucket, key, delta));
  }

  compareAndSwap(
    bucket: BucketId,
    key: string,
    expected: Uint8Array | undefined,
    value: Uint8Array,
  ): SwapResult {
    return run(() => this.#compareAndSwap(bucket, key, expected, value));
  }

  getMany(bucket: BucketId, keys: readonly string[]): (Uint8Array | undefined)[] {
    return run(() => this.#getMany(bucket, keys));
  }

  setMany(bucket: BucketId, entries: Entries): void {
    run(() => this.#setMany(bucket, entries));
  }

  deleteMany(bucket: BucketId, keys: readonly string[]): void {
    run(() => this.#deleteMany(bucket, keys));
  }

  close(): void {
    if (this.#db.open) this.#db.close();
  }
}

/** The main thread's view: the same calls as promises; workers open their own connections. */
export class AsyncSqliteBackend implements KeyValueBackend {
  readonly #sync: SqliteBackend;
  readonly #config: SqliteConfig;

  constructor(config: SqliteConfig) {
    this.#config = config;
    this.#sync = new SqliteBackend(config);
  }

  async get(bucket: BucketId, key: string): Promise<Uint8Array | undefined> {
    return this.#sync.get(bucket, key);
  }

  async set(bucket: BucketId, key: string, value: Uint8Array): Promise<void> {
    this.#sync.set(bucket, key, value);
  }

  async delete(bucket: BucketId, key: string): Promise<void> {
    this.#sync.delete(bucket, key);
  }

  async exists(bucket: BucketId, key: string): Promise<boolean> {
    return this.#sync.exists(bucket, key);
  }

  async listKeys(bucket: BucketId, request: ListRequest): Promise<KeyPage> {
    return this.#sync.listKeys(bucket, request);
  }

  async increment(bucket: BucketId, key: string, delta: bigint): Promise<bigint> {
    return this.#sync.increment(bucket, key, delta);
  }

  async compareAndSwap(
    bucket: BucketId,
    key: string,
    expected: Uint8Array | undefined,
    value: Uint8Array,
  ): Promise<SwapResult> {
    return this.#sync.compareAndSwap(bucket, key, expected, value);
  }

  async getMany(bucket: BucketId, keys: readonly string[]): Promise<(Uint8Array | undefined)[]> {
    return this.#sync.getMany(bucket, keys);
  }

  async setMany(bucket: BucketId, entries: Entries): Promise<void> {
    this.#sync.setMany(bucket, entries);
  }

  async deleteMany(bucket: BucketId, keys: readonly string[]): Promise<void> {
    this.#sync.deleteMany(bucket, keys);
  }

  async workerConnector(): Promise<() => SyncBackendHandle> {
    const config = this.#config;
    return () => ({ kind: 'sqlite', config: { ...config } });
  }

  async close(): Promise<void> {
    this.#sync.close();
  }
}

function openDatabase(config: SqliteConfig): Database.Database {
  const { synchronous, busyTimeoutMs } = { ...SQLITE_CONFIG_DEFAULTS, ...config };
  let db: Database.Database;
  try {
    mkdirSync(dirname(config.path), { recursive: true });
    db = new Database(config.path, { timeout: busyTimeoutMs });
  } catch (error) {
    throw kvError(
      'E_KV_UNAVAILABLE',
      `cannot open the key-value database ${config.path}: ${(error as Error).message}; check the path and its permissions`,
      { path: config.path },
      error,
    );
  }
  try {
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version > SCHEMA_VERSION) {
      throw kvError(
        'E_KV_UNAVAILABLE',
        `the key-value database ${config.path} has schema version ${version}, newer than this isola's ${SCHEMA_VERSION}: upgrade isola or use another file`,
        { path: config.path, version },
      );
    }
    db.exec(SCHEMA);
    if (version < SCHEMA_VERSION) db.pragma(`user_version = ${SCHEMA_VERSION}`);
  } catch (error) {
    db.close();
    if (error instanceof IsolaError) throw error;
    throw backendError(error, `preparing the key-value database ${config.path}`);
  }
  return db;
}

/** Runs one call, turning SQLite's errors into the key-value layer's. */
function run<T>(call: () => T): T {
  try {
    return call();
  } catch (error) {
    if (error instanceof IsolaError) throw error;
    throw backendError(error, 'a key-value call');
  }
}

function backendError(error: unknown, doing: string): Error {
  const code = (error as { code?: unknown }).code;
  if (typeof code !== 'string' || !code.startsWith('SQLITE_')) return error as Error;
  // BUSY and LOCKED mean another connection held the lock for the whole busy timeout.
  const busy = code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED');
  return kvError(
    busy ? 'E_KV_UNAVAILABLE' : 'E_KV_BACKEND_FAILED',
    `${doing} failed in SQLite (${code}): ${(error as Error).message}`,
    { sqliteCode: code },
    error,
  );
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
/** Decimal without a sign on zero, leading zeros or spaces: what Redis's INCRBY accepts. */
const INTEGER = /^(0|-?[1-9][0-9]{0,18})$/;

function parseInteger(bucket: BucketId, key: string, value: Buffer | undefined): bigint {
  if (value === undefined) return 0n;
  const text = value.length <= 20 ? value.toString('latin1') : '';
  const parsed = INTEGER.test(text) ? BigInt(text) : undefined;
  if (parsed === undefined || parsed < INT64_MIN || parsed > INT64_MAX) {
    throw kvError(
      'E_KV_NOT_INTEGER',
      `the value of ${JSON.stringify(key)} is not a signed 64-bit decimal integer, so it cannot be incremented`,
      { ...bucket, key },
    );
  }
  return parsed;
}

/** Orders as SQLite's BINARY collation does: by UTF-8 bytes, which is code point order. */
function utf8Compare(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/**
 * The least string above every string that starts with `prefix`: its last code point plus one
 * (skipping the surrogates, which UTF-8 cannot hold). Undefined when no bound is needed: for ""
 * and for prefixes made only of U+10FFFF, every greater string starts with the prefix.
 */
export function prefixEnd(prefix: string): string | undefined {
  const points = Array.from(prefix, (char) => char.codePointAt(0)!);
  while (points.length > 0) {
    const last = points.pop()!;
    if (last < 0x10ffff) {
      points.push(last === 0xd7ff ? 0xe000 : last + 1);
      return String.fromCodePoint(...points);
    }
  }
  return undefined;
}
