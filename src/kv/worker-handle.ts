/**
 * How a worker thread reaches a store synchronously, as plain data that travels in `workerData`
 * or a message: SQLite is opened again in the worker (its own connection to the same file, which
 * WAL mode lets many threads share), anything else is reached through the relay thread.
 */
import type { MessagePort } from 'node:worker_threads';
import type { SqliteConfig } from './config.js';
import type { RelayChannel } from './relay-protocol.js';

export type SyncBackendHandle =
  | { kind: 'sqlite'; config: SqliteConfig }
  | { kind: 'relay'; channel: RelayChannel };

/** The objects to list in `postMessage`'s or `new Worker`'s transfer list along with `handle`. */
export function transferListOf(handle: SyncBackendHandle | { backend: SyncBackendHandle }): MessagePort[] {
  const backend = 'backend' in handle ? handle.backend : handle;
  return backend.kind === 'relay' ? [backend.channel.port] : [];
}
