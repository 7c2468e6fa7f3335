/**
 * The worker thread's side of the key-value relay: a synchronous backend whose every call posts a
 * request to the relay thread and blocks in `Atomics.wait` until the reply's arrival is counted
 * in the channel's control block, then takes the reply off the port with `receiveMessageOnPort`
 * (the pattern of command-stdio.ts's stdin relay, and of jco's synchronous worker calls).
 * `worker.terminate()` interrupts the wait, so a guest stuck on a slow store still meets its
 * deadline.
 */
import type { MessagePort } from 'node:worker_threads';
import { IsolaError } from '../errors.js';
import { waitForReply } from '../sync-reply.js';
import type { SyncKeyValueBackend } from './key-value-store.js';
import { kvError } from './kv-error.js';
import {
  RELAY_CLOSED,
  REPLIES,
  type RelayChannel,
  type RelayReply,
  type RelayRequest,
} from './relay-protocol.js';
import type { BucketId, KeyPage, ListRequest, OperationName, SwapResult } from './store.js';

export class RelayedBackend implements SyncKeyValueBackend {
  readonly #port: MessagePort;
  readonly #control: Int32Array;
  readonly #timeoutMs: number;
  #nextId = 1;
  #closed = false;

  constructor(channel: RelayChannel) {
    this.#port = channel.port;
    this.#control = new Int32Array(channel.control);
    this.#timeoutMs = channel.timeoutMs;
  }

  get(bucket: BucketId, key: string): Uint8Array | undefined {
    return this.#call('get', bucket, [key]);
  }

  set(bucket: BucketId, key: string, value: Uint8Array): void {
    this.#call('set', bucket, [key, value]);
  }

  delete(bucket: BucketId, key: string): void {
    this.#call('delete', bucket, [key]);
  }

  exists(bucket: BucketId, key: string): boolean {
    return this.#call('exists', bucket, [key]);
  }

  listKeys(bucket: BucketId, request: ListRequest): KeyPage {
    return this.#call('listKeys', bucket, [request]);
  }

  increment(bucket: BucketId, key: string, delta: bigint): bigint {
    return this.#call('increment', bucket, [key, delta]);
  }

  compareAndSwap(
    bucket: BucketId,
    key: string,
    expected: Uint8Array | undefined,
    value: Uint8Array,
  ): SwapResult {
    return this.#call('compareAndSwap', bucket, [key, expected, value]);
  }

  getMany(bucket: BucketId, keys: readonly string[]): (Uint8Array | undefined)[] {
    return this.#call('getMany', bucket, [keys]);
  }

  setMany(bucket: BucketId, entries: readonly (readonly [string, Uint8Array])[]): void {
    this.#call('setMany', bucket, [entries]);
  }

  deleteMany(bucket: BucketId, keys: readonly string[]): void {
    this.#call('deleteMany', bucket, [keys]);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#port.close();
  }

  #call<T>(op: OperationName, bucket: BucketId, args: unknown[]): T {
    if (this.#closed) {
      throw kvError('E_KV_CLOSED', 'this key-value relay client is closed: open a new store from its handle');
    }
    const id = this.#nextId;
    this.#nextId = id === 0x7fffffff ? 1 : id + 1;
    this.#port.postMessage({ id, op, bucket, args } satisfies RelayRequest);
    const result = waitForReply<RelayReply>(
      this.#port,
      this.#control,
      REPLIES,
      id,
      performance.now() + this.#timeoutMs,
      () => Atomics.load(this.#control, RELAY_CLOSED) === 1,
    );
    if (result.kind === 'abandoned') {
      throw kvError('E_KV_UNAVAILABLE', `the key-value relay closed before answering ${op}`, {
        op,
        ...bucket,
      });
    }
    if (result.kind === 'timeout') {
      throw kvError(
        'E_KV_UNAVAILABLE',
        `the key-value relay did not answer ${op} within ${this.#timeoutMs} ms: check that the store's backend is reachable`,
        { op, timeoutMs: this.#timeoutMs, ...bucket },
      );
    }
    const { reply } = result;
    if (reply.ok) return reply.value as T;
    throw IsolaError.fromJSON(reply.error);
  }
}
