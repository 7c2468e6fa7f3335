/**
 * Key-value stores for guests (wasi:keyvalue, Spin's key-value, and preview1's mounted
 * directory, once wired): an embedded SQLite default and a Redis backend selected by runtime
 * config, buckets namespaced by app and store label, named limits, an async API for the main
 * thread and a synchronous one for guests' host calls in worker threads.
 */
export {
  checkKeyValueConfig,
  type KeyValueConfig,
  REDIS_CONFIG_DEFAULTS,
  type RedisConfig,
  SQLITE_CONFIG_DEFAULTS,
  type SqliteConfig,
} from './config.js';
export { createBackend, createStore, openSyncStore } from './create-store.js';
export {
  type KeyValueBackend,
  KeyValueStore,
  type SyncKeyValueBackend,
  SyncKeyValueStore,
  type SyncStoreHandle,
} from './key-value-store.js';
export { type KvErrorCode, kvCodeOf, kvError } from './kv-error.js';
export { type KeyValueLimits, KV_LIMIT_DEFAULTS, KV_LIMIT_RANGES, resolveKeyValueLimits } from './limits.js';
export { RedisBackend } from './redis-store.js';
export { KeyValueRelay, RELAY_DEFAULTS, type RelayOptions } from './relay.js';
export { RelayedBackend } from './relay-client.js';
export type { RelayChannel } from './relay-protocol.js';
export { AsyncSqliteBackend, SqliteBackend } from './sqlite-store.js';
export type {
  BackendOperations,
  BucketId,
  BucketOperations,
  KeyPage,
  KeyValueBucket,
  ListOptions,
  ListRequest,
  OperationName,
  SwapResult,
  SyncKeyValueBucket,
} from './store.js';
export { type SyncBackendHandle, transferListOf } from './worker-handle.js';
