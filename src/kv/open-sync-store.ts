/**
 * A worker thread's store from the handle `KeyValueStore.workerHandle()` made. Apart from
 * create-store.ts so that a worker loads SQLite's binding or the relay client, never the Redis
 * client.
 */
import { SyncKeyValueStore, type SyncStoreHandle } from './key-value-store.js';
import { resolveKeyValueLimits } from './limits.js';
import { RelayedBackend } from './relay-client.js';
import { SqliteBackend } from './sqlite-store.js';

/**
 * In a worker thread: the store that `handle` describes, whose calls return synchronously
 * (SQLite on a connection of this thread's own; anything else through the relay thread).
 */
export function openSyncStore(handle: SyncStoreHandle): SyncKeyValueStore {
  const backend =
    handle.backend.kind === 'sqlite'
      ? new SqliteBackend(handle.backend.config)
      : new RelayedBackend(handle.backend.channel);
  return new SyncKeyValueStore(backend, resolveKeyValueLimits(handle.limits));
}
