/**
 * The key-value relay thread (see relay.ts): opens the configured backend, then answers each
 * worker's requests on that worker's port, one reply per request, counting every reply in the
 * channel's control block so that the blocked worker wakes.
 */
import { type MessagePort, parentPort, workerData } from 'node:worker_threads';
import { IsolaError, type SerializedError } from '../errors.js';
import { createBackend } from './create-store.js';
import type { KeyValueBackend } from './key-value-store.js';
import { kvError } from './kv-error.js';
import {
  type FromRelayThread,
  RELAY_CLOSED,
  REPLIES,
  type RelayReply,
  type RelayRequest,
  type RelayThreadSetup,
  type ToRelayThread,
} from './relay-protocol.js';
import { OPERATION_NAMES } from './store.js';

interface Channel {
  port: MessagePort;
  control: Int32Array;
}

if (parentPort) {
  const parent = parentPort;
  const { config } = workerData as RelayThreadSetup;
  try {
    const backend = await createBackend(config);
    const channels = new Set<Channel>();
    const inFlight = new Set<Promise<void>>();
    parent.on('message', (message: ToRelayThread) => {
      if (message.op === 'connect') {
        const channel = { port: message.port, control: new Int32Array(message.control) };
        channels.add(channel);
        channel.port.on('close', () => channels.delete(channel));
        channel.port.on('message', (request: RelayRequest) => {
          const call = answer(backend, channel, request);
          inFlight.add(call);
          void call.finally(() => inFlight.delete(call));
        });
      } else {
        void closeAll(parent, backend, channels, inFlight);
      }
    });
    parent.postMessage({ op: 'ready' } satisfies FromRelayThread);
  } catch (error) {
    parent.postMessage({ op: 'failed', error: serialize(error) } satisfies FromRelayThread);
  }
}

async function answer(backend: KeyValueBackend, channel: Channel, request: RelayRequest): Promise<void> {
  let reply: RelayReply;
  try {
    if (!OPERATION_NAMES.includes(request.op)) throw new Error(`unknown key-value operation ${request.op}`);
    const operation = backend[request.op] as (...args: unknown[]) => Promise<unknown>;
    const value = await operation.apply(backend, [request.bucket, ...request.args]);
    reply = { id: request.id, ok: true, value };
  } catch (error) {
    reply = { id: request.id, ok: false, error: serialize(error) };
  }
  channel.port.postMessage(reply);
  Atomics.add(channel.control, REPLIES, 1);
  Atomics.notify(channel.control, REPLIES);
}

/** Takes no new requests, lets those under way answer, then closes every channel and the backend. */
async function closeAll(
  parent: MessagePort,
  backend: KeyValueBackend,
  channels: Set<Channel>,
  inFlight: Set<Promise<void>>,
): Promise<void> {
  for (const channel of channels) channel.port.removeAllListeners('message');
  await Promise.all(inFlight);
  for (const channel of channels) {
    channel.port.close();
    Atomics.store(channel.control, RELAY_CLOSED, 1);
    Atomics.notify(channel.control, REPLIES);
  }
  await backend.close();
  parent.postMessage({ op: 'closed' } satisfies FromRelayThread);
  parent.close();
}

function serialize(error: unknown): SerializedError {
  if (error instanceof IsolaError) return error.toJSON();
  const message = error instanceof Error ? error.message : String(error);
  return kvError('E_KV_BACKEND_FAILED', `the key-value relay failed: ${message}`, {}, error).toJSON();
}
