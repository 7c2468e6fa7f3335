/**
 * The Redis key-value backend, for fleets of stateless nodes that share their stores.
 *
 * Keys are `isola:<app>:<label>:<key>`: app names and labels hold no colon (validate.ts), so the
 * namespace of one bucket is never a prefix of another's. Values are Redis strings, byte for
 * byte. Listing uses SCAN with a MATCH on the bucket's escaped namespace, never KEYS, so a
 * listing never blocks the server; compare-and-swap is a Lua script (atomic on the server);
 * increment is INCRBY, whose decimal integer format the SQLite backend shares. Batches use MGET,
 * MSET (atomic) and DEL, so this backend needs one Redis server or a primary, not a cluster.
 *
 * The client is node-redis's core (`@redis/client`), used through `sendCommand` with values as
 * Buffers. Commands fail fast (no offline queue) with E_KV_UNAVAILABLE while the connection is
 * down, and each has a timeout; the client keeps reconnecting in the background.
 */
import { createHash } from 'node:crypto';
import { createClient, ErrorReply, RESP_TYPES } from '@redis/client';
import { IsolaError } from '../errors.js';
import { REDIS_CONFIG_DEFAULTS, type RedisConfig } from './config.js';
import type { KeyValueBackend } from './key-value-store.js';
import { kvError } from './kv-error.js';
import { KeyValueRelay } from './relay.js';
import type { BucketId, KeyPage, ListRequest, SwapResult } from './store.js';
import type { SyncBackendHandle } from './worker-handle.js';

type Client = ReturnType<typeof newClient>;
type Argument = string | Buffer;

/** Values as Buffers (binary-safe), integers as decimal strings (s64 does not fit a number). */
const REPLY_TYPES = { [RESP_TYPES.BLOB_STRING]: Buffer, [RESP_TYPES.NUMBER]: String };

/** SCAN calls one listing page may make before it returns what it has, with a cursor. */
const MAX_SCAN_ROUNDS = 16;
/** The least COUNT hint a SCAN gets, so that small pages do not scan a large keyspace in tiny steps. */
const MIN_SCAN_COUNT = 64;

/**
 * Sets KEYS[1] to ARGV[3] if it holds ARGV[2] (ARGV[1] = "1") or is absent (ARGV[1] = "0");
 * returns {1}, or {0, current} ({0} when absent). Lua compares strings byte for byte.
 */
const COMPARE_AND_SWAP = `
local current = redis.call('GET', KEYS[1])
local matches
if ARGV[1] == '1' then matches = current == ARGV[2] else matches = not current end
if matches then
  redis.call('SET', KEYS[1], ARGV[3])
  return {1}
end
if current then return {0, current} end
return {0}`;
const COMPARE_AND_SWAP_SHA = createHash('sha1').update(COMPARE_AND_SWAP).digest('hex');

export class RedisBackend implements KeyValueBackend {
  readonly #client: Client;
  readonly #config: RedisConfig;
  readonly #commandTimeoutMs: number;
  #relay: Promise<KeyValueRelay> | undefined;
  #closing: Promise<void> | undefined;
  #lastError: Error | undefined;

  private constructor(client: Client, config: RedisConfig, commandTimeoutMs: number) {
    this.#client = client;
    this.#config = config;
    this.#commandTimeoutMs = commandTimeoutMs;
  }

  /** Connects, failing with E_KV_UNAVAILABLE when the server cannot be reached in `connectTimeoutMs`. */
  static async connect(config: RedisConfig): Promise<RedisBackend> {
    const { connectTimeoutMs, commandTimeoutMs } = { ...REDIS_CONFIG_DEFAULTS, ...config };
    const client = newClient(config.url, connectTimeoutMs);
    const backend = new RedisBackend(client, config, commandTimeoutMs);
    // node-redis emits 'error' on every failed (re)connect; without a listener it would throw.
    client.on('error', (error: Error) => {
      backend.#lastError = error;
    });
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        client.connect(),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(backend.#lastError ?? new Error('timed out')), connectTimeoutMs);
        }),
      ]);
    } catch (error) {
      client.destroy();
      throw kvError(
        'E_KV_UNAVAILABLE',
        `cannot reach Redis at ${redactUrl(config.url)} within ${connectTimeoutMs} ms: ${(error as Error).message}; check the url and that the server is up`,
        { url: redactUrl(config.url) },
        error,
      );
    } finally {
      clearTimeout(timer);
    }
    return backend;
  }

  async get(bucket: BucketId, key: string): Promise<Uint8Array | undefined> {
    const value = await this.#send<Buffer | null>(['GET', redisKey(bucket, key)]);
    return value ?? undefined;
  }

  async set(bucket: BucketId, key: string, value: Uint8Array): Promise<void> {
    await this.#send(['SET', redisKey(bucket, key), asBuffer(value)]);
  }

  async delete(bucket: BucketId, key: string): Promise<void> {
    await this.#send(['DEL', redisKey(bucket, key)]);
  }

  async exists(bucket: BucketId, key: string): Promise<boolean> {
    return (await this.#send<string>(['EXISTS', redisKey(bucket, key)])) !== '0';
  }

  /**
   * One page from SCAN rounds. The cursor is SCAN's position, or, when a round found more keys
   * than the page had room for, `<position>/<count>/<last key listed>`: the next page repeats
   * that round (same position and COUNT, hence the same batch while the table is unchanged) and
   * skips the keys up to the last one listed, in byte order.
   */
  async listKeys(bucket: BucketId, { prefix, cursor, limit }: ListRequest): Promise<KeyPage> {
    const namespace = Buffer.from(namespaceOf(bucket));
    const match = `${escapeGlob(namespaceOf(bucket) + prefix)}*`;
    let { position, count, after } = parseCursor(cursor);
    const keys: string[] = [];
    const seen = new Set<string>();
    for (let round = 0; round < MAX_SCAN_ROUNDS; round++) {
      const scanCount = count ?? Math.max(limit - keys.length, MIN_SCAN_COUNT);
      const [next, batch] = await this.#send<[Buffer, Buffer[]]>([
        'SCAN',
        position,
        'MATCH',
        match,
        'COUNT',
        String(scanCount),
      ]);
      let found = batch.map((name) => name.subarray(namespace.length)).sort(Buffer.compare);
      if (after !== undefined) {
        const skipUpTo = Buffer.from(after);
        found = found.filter((name) => Buffer.compare(name, skipUpTo) > 0);
      }
      const fresh = found.map((name) => name.toString('utf8')).filter((name) => !seen.has(name));
      const room = limit - keys.length;
      if (fresh.length > room) {
        keys.push(...fresh.slice(0, room));
        return { keys, cursor: `${position}/${scanCount}/${keys.at(-1)}` };
      }
      for (const name of fresh) {
        keys.push(name);
        seen.add(name);
      }
      position = next.toString();
      count = undefined;
      after = undefined;
      if (position === '0') return { keys, cursor: undefined };
      if (keys.length === limit) break;
    }
    return { keys, cursor: position };
  }

  async increment(bucket: BucketId, key: string, delta: bigint): Promise<bigint> {
    try {
      return BigInt(await this.#send<string>(['INCRBY', redisKey(bucket, key), delta.toString()]));
    } catch (error) {
      if (error instanceof IsolaError && error.details.kvCode === 'E_KV_BACKEND_FAILED') {
        const message = (error.cause as Error | undefined)?.message ?? '';
        // Redis: "value is not an integer or out of range", "increment or decrement would overflow".
        if (/not an integer|overflow/i.test(message)) {
          throw kvError(
            'E_KV_NOT_INTEGER',
            `cannot increment ${JSON.stringify(key)} by ${delta}: its value is not a signed 64-bit decimal integer, or the sum would overflow`,
            { ...bucket, key },
            error.cause,
          );
        }
      }
      throw error;
    }
  }

  async compareAndSwap(
    bucket: BucketId,
    key: string,
    expected: Uint8Array | undefined,
    value: Uint8Array,
  ): Promise<SwapResult> {
    const args = [
      '1',
      redisKey(bucket, key),
      expected === undefined ? '0' : '1',
      asBuffer(expected ?? new Uint8Array(0)),
      asBuffer(value),
    ];
    let reply: [string, Buffer?];
    try {
      reply = await this.#send(['EVALSHA', COMPARE_AND_SWAP_SHA, ...args]);
    } catch (error) {
      // The server has not cached the script yet (or flushed it): send it whole, which caches it.
      if (!String((error as Error).cause ?? '').includes('NOSCRIPT')) throw error;
      reply = await this.#send(['EVAL', COMPARE_AND_SWAP, ...args]);
    }
    return reply[0] === '1' ? { swapped: true } : { swapped: false, current: reply[1] };
  }

  async getMany(bucket: BucketId, keys: readonly string[]): Promise<(Uint8Array | undefined)[]> {
    const values = await this.#send<(Buffer | null)[]>(['MGET', ...keys.map((key) => redisKey(bucket, key))]);
    return values.map((value) => value ?? undefined);
  }

  async setMany(bucket: BucketId, entries: readonly (readonly [string, Uint8Array])[]): Promise<void> {
    await this.#send([
      'MSET',
      ...entries.flatMap(([key, value]) => [redisKey(bucket, key), asBuffer(value)]),
    ]);
  }

  async deleteMany(bucket: BucketId, keys: readonly string[]): Promise<void> {
    await this.#send(['DEL', ...keys.map((key) => redisKey(bucket, key))]);
  }

  /** A relay channel; the relay thread (with its own connection) starts at the first call. */
  async workerConnector(): Promise<() => SyncBackendHandle> {
    if (this.#closing !== undefined) throw kvError('E_KV_CLOSED', 'the Redis key-value store is closed');
    this.#relay ??= KeyValueRelay.start(this.#config);
    const relay = await this.#relay;
    return () => ({ kind: 'relay', channel: relay.connect() });
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      const relay = this.#relay?.catch(() => undefined);
      await Promise.all([
        (async () => (await relay)?.close())(),
        this.#client.isOpen ? this.#client.close() : undefined,
      ]);
    })();
    return this.#closing;
  }

  async #send<T = unknown>(args: Argument[]): Promise<T> {
    try {
      return (await this.#client.sendCommand(args, {
        typeMapping: REPLY_TYPES,
        timeout: this.#commandTimeoutMs,
      })) as T;
    } catch (error) {
      throw redisError(error, args[0] as string, this.#lastError);
    }
  }
}

function newClient(url: string, connectTimeoutMs: number) {
  return createClient({
    url,
    disableOfflineQueue: true,
    socket: {
      connectTimeout: connectTimeoutMs,
      noDelay: true,
      reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 2000),
    },
  });
}

function redisError(error: unknown, command: string, lastError: Error | undefined): Error {
  if (error instanceof ErrorReply) {
    return kvError('E_KV_BACKEND_FAILED', `Redis refused ${command}: ${error.message}`, { command }, error);
  }
  const message = (error as Error).message;
  const why = lastError === undefined || lastError.message === message ? '' : ` (${lastError.message})`;
  return kvError(
    'E_KV_UNAVAILABLE',
    `Redis did not answer ${command}: ${message}${why}; check that the server is reachable`,
    { command },
    error,
  );
}

function namespaceOf(bucket: BucketId): string {
  return `isola:${bucket.app}:${bucket.label}:`;
}

function redisKey(bucket: BucketId, key: string): string {
  return namespaceOf(bucket) + key;
}

/** Escapes Redis glob specials, so that a prefix matches only itself (https://redis.io/commands/keys). */
function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

const CURSOR = /^(\d{1,20})(?:\/(\d{1,6})\/(.*))?$/s;

function parseCursor(cursor: string | undefined): { position: string; count?: number; after?: string } {
  if (cursor === undefined) return { position: '0' };
  const parts = CURSOR.exec(cursor);
  if (parts === null || BigInt(parts[1]!) >= 2n ** 64n || parts[2] === '0') {
    throw kvError('E_KV_CURSOR_INVALID', 'this key-value cursor was not returned by a Redis listing', {
      cursor,
    });
  }
  if (parts[2] === undefined) return { position: parts[1]! };
  return { position: parts[1]!, count: Number(parts[2]), after: parts[3]! };
}

/** The url without its password, for messages. */
function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(an unparsable url)';
  }
}
