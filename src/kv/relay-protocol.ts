/**
 * The messages of the key-value relay (relay.ts): named operations, one reply per request
 * (STYLE habit 10), errors serialized explicitly so that they keep their code across threads.
 */
import type { MessagePort } from 'node:worker_threads';
import type { SerializedError } from '../errors.js';
import type { KeyValueConfig } from './config.js';
import type { BucketId, OperationName } from './store.js';

/** Slots of a channel's control block (Int32). */
export const REPLIES = 0;
/** Set to 1 when the relay thread has closed; a waiting client fails at once instead of at its timeout. */
export const RELAY_CLOSED = 1;
export const CONTROL_SLOTS = 2;

/**
 * What a worker thread needs to call the relay synchronously: plain data plus a port, posted to
 * the worker with the port in the transfer list (`transferListOf`).
 */
export interface RelayChannel {
  port: MessagePort;
  /** Int32 slots: REPLIES counts replies posted (the client waits on it), RELAY_CLOSED. */
  control: SharedArrayBuffer;
  /** How long a call waits for its reply before failing with E_KV_UNAVAILABLE. */
  timeoutMs: number;
}

/** A client's call; `args` are the operation's arguments after the bucket. */
export interface RelayRequest {
  id: number;
  op: OperationName;
  bucket: BucketId;
  args: unknown[];
}

export type RelayReply =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; error: SerializedError };

/** What the relay thread starts with, in `workerData`. */
export interface RelayThreadSetup {
  config: KeyValueConfig;
}

/** Main thread → relay thread. */
export type ToRelayThread =
  | { op: 'connect'; port: MessagePort; control: SharedArrayBuffer }
  | { op: 'close' };

/** Relay thread → main thread. */
export type FromRelayThread = { op: 'ready' } | { op: 'failed'; error: SerializedError } | { op: 'closed' };
