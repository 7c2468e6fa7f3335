/**
 * Factories from the runtime configuration: `createStore` for the main thread, and, for a worker
 * thread, `openSyncStore` from the handle that `KeyValueStore.workerHandle()` made.
 */
import { checkKeyValueConfig, type KeyValueConfig } from './config.js';
import { type KeyValueBackend, KeyValueStore } from './key-value-store.js';
import { type KeyValueLimits, resolveKeyValueLimits } from './limits.js';
import { RedisBackend } from './redis-store.js';
import { AsyncSqliteBackend } from './sqlite-store.js';

export { openSyncStore } from './open-sync-store.js';

/**
 * Opens the configured store, checking the configuration and reaching the backend now (a
 * database file that cannot be opened, a Redis server that does not answer), so that a bad
 * configuration fails at startup rather than at a guest's first call.
 */
export async function createStore(
  config: KeyValueConfig,
  limits: Partial<KeyValueLimits> = {},
): Promise<KeyValueStore> {
  const resolved = resolveKeyValueLimits(limits);
  return new KeyValueStore(await createBackend(config), resolved);
}

/** The raw backend, without limits; the relay thread serves one. */
export async function createBackend(config: KeyValueConfig): Promise<KeyValueBackend> {
  const checked = checkKeyValueConfig(config);
  return checked.backend === 'sqlite' ? new AsyncSqliteBackend(checked) : RedisBackend.connect(checked);
}
