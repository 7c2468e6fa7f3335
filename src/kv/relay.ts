/**
 * The key-value relay: a dedicated thread that owns an async backend (a Redis client) and serves
 * synchronous calls from worker threads, so that a guest's host call can block on a store that
 * only has an async client. Each worker gets its own channel (`connect()`); the relay thread
 * answers on the channel's port and counts the reply in shared memory, which the worker waits
 * on (relay-client.ts). The relay runs apart from the main thread, so a busy HTTP event loop
 * does not delay guests' store calls.
 */
import { MessageChannel, Worker, type WorkerOptions } from 'node:worker_threads';
import { IsolaError } from '../errors.js';
import type { KeyValueConfig } from './config.js';
import { kvError } from './kv-error.js';
import {
  CONTROL_SLOTS,
  type FromRelayThread,
  type RelayChannel,
  type RelayThreadSetup,
  type ToRelayThread,
} from './relay-protocol.js';

export interface RelayOptions {
  /** How long a worker's call waits for its reply before failing with E_KV_UNAVAILABLE. Default 10,000 ms, above Redis's own command timeout so that its error arrives first. */
  timeoutMs: number;
  /** How long `close()` waits for the relay thread to finish its calls before terminating it. Default 5000 ms. */
  closeTimeoutMs: number;
}

export const RELAY_DEFAULTS: Readonly<RelayOptions> = Object.freeze({
  timeoutMs: 10_000,
  closeTimeoutMs: 5000,
});

export class KeyValueRelay {
  readonly #worker: Worker;
  readonly #options: RelayOptions;
  readonly #exited: Promise<void>;
  #closing: Promise<void> | undefined;
  /** Why the thread ended on its own, if it did. */
  #failure: Error | undefined;

  private constructor(worker: Worker, options: RelayOptions) {
    this.#worker = worker;
    this.#options = options;
    this.#exited = new Promise((resolve) =>
      worker.once('exit', (code) => {
        this.#failure ??= new Error(`the relay thread exited with code ${code}`);
        resolve();
      }),
    );
    // Without a listener, an error thrown in the relay thread would end the whole process.
    worker.on('error', (error) => {
      this.#failure = error;
    });
  }

  /** Starts the relay thread and waits until its backend is connected; rejects with the backend's error. */
  static async start(config: KeyValueConfig, options: Partial<RelayOptions> = {}): Promise<KeyValueRelay> {
    const worker = spawnRelayThread({ workerData: { config } satisfies RelayThreadSetup });
    // The relay serves worker threads for as long as the store is open; it never holds the process.
    worker.unref();
    await new Promise<void>((resolve, reject) => {
      const onMessage = (message: FromRelayThread) => {
        if (message.op === 'ready') resolve();
        else if (message.op === 'failed') reject(IsolaError.fromJSON(message.error));
      };
      const onError = (error: Error) =>
        reject(
          kvError(
            'E_KV_UNAVAILABLE',
            `the key-value relay thread failed to start: ${error.message}`,
            {},
            error,
          ),
        );
      const onExit = (code: number) =>
        reject(
          kvError('E_KV_UNAVAILABLE', `the key-value relay thread exited (code ${code}) while starting`),
        );
      worker.on('message', onMessage);
      worker.once('error', onError);
      worker.once('exit', onExit);
    }).catch(async (error: unknown) => {
      await worker.terminate();
      throw error;
    });
    worker.removeAllListeners('message');
    worker.removeAllListeners('error');
    worker.removeAllListeners('exit');
    return new KeyValueRelay(worker, { ...RELAY_DEFAULTS, ...options });
  }

  /** A new channel for one worker thread; post it with `transferListOf` so that its port moves. */
  connect(): RelayChannel {
    if (this.#closing !== undefined) throw kvError('E_KV_CLOSED', 'the key-value relay is closed');
    if (this.#failure !== undefined) {
      throw kvError(
        'E_KV_UNAVAILABLE',
        `the key-value relay thread has failed: ${this.#failure.message}; close the store and create it again`,
        {},
        this.#failure,
      );
    }
    const { port1, port2 } = new MessageChannel();
    const control = new SharedArrayBuffer(CONTROL_SLOTS * Int32Array.BYTES_PER_ELEMENT);
    this.#worker.postMessage({ op: 'connect', port: port2, control } satisfies ToRelayThread, [port2]);
    return { port: port1, control, timeoutMs: this.#options.timeoutMs };
  }

  /** Lets calls under way finish, closes the backend and ends the thread. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#worker.postMessage({ op: 'close' } satisfies ToRelayThread);
      const timer = setTimeout(() => void this.#worker.terminate(), this.#options.closeTimeoutMs);
      timer.unref();
      await this.#exited;
      clearTimeout(timer);
    })();
    return this.#closing;
  }

  /** Ends the thread now; waiting workers fail at their timeout. Idempotent. */
  async destroy(): Promise<void> {
    this.#closing ??= this.#exited;
    await this.#worker.terminate();
  }
}

/**
 * Starts relay-thread from the built `.js` or, under tsx (tests and development), from the `.ts`
 * source through a bootstrap that registers tsx first: Node 20 does not apply tsx's loader to a
 * worker's entry file (as in runtime/spawn-worker.ts).
 */
function spawnRelayThread(options: WorkerOptions): Worker {
  const here = import.meta.url;
  if (here.endsWith('.ts')) {
    const source = new URL('./relay-thread.ts', here).href;
    const tsx = import.meta.resolve('tsx/esm/api');
    const bootstrap = `import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(source)}); });`;
    return new Worker(bootstrap, { ...options, eval: true });
  }
  return new Worker(new URL('./relay-thread.js', here), options);
}
