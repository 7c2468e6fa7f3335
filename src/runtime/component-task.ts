/**
 * What an engine worker thread does for a `component` message: keep the compiled components it is
 * sent, import each one's glue once, mount the bundles the request is granted, run a fresh
 * instance with the thread's `ComponentRunner`, and sort what happened into the `Outcome`s a
 * preview1 invocation ends in, so that callers map them to statuses the same way:
 *
 * - a complete response → `return` (no values), with the rest of the response beside it;
 * - a trap → `trap`; the deadline seen in a blocking host call → `timeout` (a guest computing
 *   past it is stopped by the pool, which terminates the thread);
 * - a component host limit → `limit`;
 * - no valid response (none set, an error-code, an unfinished body, an exit) → `error` with code
 *   E_GUEST_TRAP; a host failure → `error` with its own code.
 *
 * The response streams to the main thread while the guest runs (`StreamedResponse`), and a
 * request body sent as `stream` is read through the thread's stdin relay as the guest reads it.
 */
import type { ComponentLimits } from '../component/host/context.js';
import type { ComponentPreopen } from '../component/host/filesystem.js';
import type { OutgoingOutcome } from '../component/host/http-types.js';
import type { ComponentGrants } from '../component/host/imports.js';
import { type OutboundHttp, witErrorCode } from '../component/host/outgoing-handler.js';
import {
  type BlockingBody,
  type ComponentResult,
  ComponentRunner,
  type ResponseStreamer,
  requestHead,
} from '../component/run.js';
import type { CompiledComponent } from '../component/transpile.js';
import { IsolaError } from '../errors.js';
import type { SyncKeyValueStore } from '../kv/key-value-store.js';
import type { InvocationLimits } from '../limits.js';
import type { MemoryBundle } from '../wasi/index.js';
import type { HostCallClient, OutboundReply } from './host-call.js';
import type { MemoryPool } from './memory-pool.js';
import { outcomeOf } from './outcome.js';
import { ChunkCoalescer, OUTPUT_CHUNK_BYTES } from './output-buffer.js';
import type {
  BundleDelivery,
  ComponentCall,
  ComponentMessage,
  DoneMessage,
  LimitName,
  Outcome,
  ResponseBodyMessage,
  ResponseHead,
  ResponseHeadMessage,
  ResponseRest,
  WorkerMetrics,
} from './protocol.js';

/** What a component's host reaches beyond its own thread. */
export interface ComponentServices {
  /** The engine's key-value store, opened on this thread when first needed; absent: none. */
  keyValue: (() => SyncKeyValueStore) | undefined;
  /** Calls to the main thread (outbound requests). */
  hostCalls: HostCallClient;
  /** Sends part of a streaming response to the main thread, transferring `transfer`. */
  post(message: ResponseHeadMessage | ResponseBodyMessage, transfer: ArrayBuffer[]): void;
  /** A request body sent as `stream`, read from the main thread on demand (the thread's stdin relay). */
  requestBody(): BlockingBody;
}

/** Where the thread keeps the bundles it was sent (the preview1 runner's, so each is sent once). */
export interface BundleShelf {
  receiveBundles(deliveries: readonly BundleDelivery[]): void;
  bundle(digest: string): MemoryBundle | undefined;
}

/** A `done` message and the buffers to transfer with it (the response body's, never copied). */
export interface ComponentDone {
  done: DoneMessage;
  transfer: ArrayBuffer[];
}

/** The host limits a component host names in an error's `details.limit`, as an outcome names them. */
const LIMIT_NAMES: Readonly<Record<string, LimitName>> = {
  maxResources: 'maxResources',
  maxResponseBodyBytes: 'maxResponseBodyBytes',
  'maxFieldEntries/maxFieldBytes': 'maxFieldBytes',
  maxPollables: 'maxPollables',
  maxBytesPerCall: 'maxBytesPerCall',
  maxRequestBodyBytes: 'maxStdinBytes',
};

const EMPTY: readonly Uint8Array[] = Object.freeze([]);

/**
 * A component's response as it streams to the main thread, coalesced as preview1 output is
 * (output-buffer.ts, `ChunkCoalescer`): body bytes go in chunks of up to
 * OUTPUT_CHUNK_BYTES, when the guest writes again with the oldest held byte OUTPUT_FLUSH_MS old,
 * and whenever the guest is about to wait (a sleep, a request body read, an outbound request).
 * The head is held with the first bytes, so a guest that answers at once and ends costs the
 * `done` message alone, and one that fails before anything was sent is still answered with an
 * error status. What is held at the end goes with `done` (`rest`).
 */
class StreamedResponse implements ResponseStreamer {
  readonly #id: number;
  readonly #post: ComponentServices['post'];
  /** Set and not sent yet. */
  #head: ResponseHead | undefined;
  readonly #body: ChunkCoalescer;

  constructor(id: number, post: ComponentServices['post']) {
    this.#id = id;
    this.#post = post;
    let buffer: Uint8Array | undefined;
    this.#body = new ChunkCoalescer(
      () => {
        buffer ??= new Uint8Array(OUTPUT_CHUNK_BYTES);
        return buffer;
      },
      (chunk) => {
        // The head always goes before the first bytes.
        this.#sendHead();
        this.#post({ op: 'response-body', id: this.#id, chunk }, [chunk.buffer as ArrayBuffer]);
      },
    );
  }

  head(status: number, headers: readonly (readonly [string, Uint8Array])[]): void {
    this.#head = {
      status,
      headers: headers.map(([name, value]) => [name, Buffer.from(value).toString('latin1')]),
    };
  }

  body(chunk: Uint8Array): void {
    this.#body.write(chunk);
  }

  /** Sends what is held: the head, if set, and the body's bytes. */
  waiting(): void {
    this.#sendHead();
    this.#body.flush();
  }

  /** What is held, for `done`. */
  rest(trailersIgnored: boolean): ResponseRest {
    const head = this.#head;
    this.#head = undefined;
    return { head, body: this.#body.rest(), trailersIgnored };
  }

  #sendHead(): void {
    if (this.#head === undefined) return;
    this.#post({ op: 'response-head', id: this.#id, head: this.#head }, []);
    this.#head = undefined;
  }
}

export class ComponentTaskRunner {
  readonly #runner: ComponentRunner;
  readonly #bundles: BundleShelf;
  readonly #components = new Map<string, CompiledComponent>();
  /** Components whose glue this thread has imported. */
  readonly #ready = new Set<string>();
  /** Why a component's glue could not be imported, for the request that asked for it. */
  readonly #failed = new Map<string, unknown>();
  /** The glue import the next request pays for, counted as its instantiation. */
  #importMs = 0;
  readonly #services: ComponentServices;

  constructor(pool: MemoryPool, bundles: BundleShelf, services: ComponentServices) {
    this.#runner = new ComponentRunner(pool);
    this.#bundles = bundles;
    this.#services = services;
  }

  /**
   * Keeps what the message brings. Undefined when the request can run at once; otherwise a promise
   * that settles, never rejecting, once the component's glue is imported on this thread: the
   * caller must run nothing else meanwhile, so that messages keep their order.
   */
  prepare(message: ComponentMessage): Promise<void> | undefined {
    const { digest } = message;
    if (message.component !== undefined) this.#components.set(digest, message.component);
    if (message.deliveries !== undefined) this.#bundles.receiveBundles(message.deliveries);
    const component = this.#components.get(digest);
    if (component === undefined || this.#ready.has(digest)) return undefined;
    const started = performance.now();
    return this.#runner.load(component).then(
      () => {
        this.#ready.add(digest);
        this.#importMs = performance.now() - started;
      },
      (error: unknown) => {
        this.#failed.set(digest, error);
      },
    );
  }

  /** Runs the request to its end (after `prepare`). Never throws: everything is in the outcome. */
  run(message: ComponentMessage): ComponentDone {
    const { id, digest, request } = message;
    const metrics: WorkerMetrics = {
      instantiateMs: this.#importMs,
      runMs: 0,
      peakMemoryBytes: 0,
      maxMemoryBytes: request.limits.maxMemoryBytes,
      reusedInstance: false,
    };
    this.#importMs = 0;
    const component = this.#components.get(digest);
    let result: ComponentResult | undefined;
    let outcome: Outcome;
    const streamed = new StreamedResponse(id, this.#services.post);
    if (component === undefined) {
      outcome = outcomeOf(new Error(`component ${digest} was never sent to this worker`));
    } else if (!this.#ready.has(digest)) {
      outcome = glueFailure(digest, this.#failed.get(digest));
      // The next request tries again.
      this.#failed.delete(digest);
    } else {
      try {
        const deadline = performance.now() + request.limits.timeoutMs;
        result = this.#runner.run(component, requestHead(request), this.#body(request), {
          limits: componentLimits(request.limits),
          grants: {
            env: request.env,
            preopens: this.#preopens(request),
            config: request.config,
            ...this.#keyValue(request),
            ...(request.outbound ? { outbound: this.#outbound(id, deadline, streamed) } : {}),
          },
          response: streamed,
        });
        outcome = result.ok ? RESPONDED : componentOutcome(result.error, request.limits.timeoutMs);
        metrics.instantiateMs += result.instantiateMs;
        metrics.runMs = result.durationMs - result.instantiateMs;
        metrics.peakMemoryBytes = result.memoryBytes;
      } catch (error) {
        outcome = outcomeOf(error);
      }
    }
    const done: DoneMessage = {
      op: 'done',
      id,
      outcome,
      ...metrics,
      stdout: encoded(result?.stdout),
      stderr: encoded(result?.stderr),
    };
    const transfer: ArrayBuffer[] = [];
    if (result?.ok) {
      done.response = streamed.rest(result.response.trailersIgnored);
      // The held bytes are a copy of their own, so their buffer moves rather than being cloned.
      if (done.response.body !== undefined) transfer.push(done.response.body.buffer as ArrayBuffer);
    }
    return { done, transfer };
  }

  /** The request body as the guest reads it: all here, or read on demand from the main thread. */
  #body(request: ComponentCall): readonly Uint8Array[] | BlockingBody {
    if (request.body === 'stream') return this.#services.requestBody();
    return request.body === undefined ? EMPTY : [request.body];
  }

  /** Drops a component and its pooled memories. */
  forget(digest: string): void {
    if (!this.#components.delete(digest)) return;
    this.#ready.delete(digest);
    this.#failed.delete(digest);
    this.#runner.forget(digest);
  }

  /** The stores the request may open, on this thread's connection to the engine's store. */
  #keyValue(request: ComponentCall): Pick<ComponentGrants, 'keyValue'> {
    const granted = request.keyValue;
    if (granted === undefined) return {};
    if (this.#services.keyValue === undefined) {
      throw new Error('a key-value store was granted, but this thread has none');
    }
    return { keyValue: { store: this.#services.keyValue(), app: granted.app, labels: granted.labels } };
  }

  /** Outgoing requests of invocation `id`, each checked, sent and read whole on the main thread. */
  #outbound(id: number, deadline: number, streamed: StreamedResponse): OutboundHttp {
    const hostCalls = this.#services.hostCalls;
    return {
      send: (request): OutgoingOutcome => {
        // The guest waits for the reply: what it has answered so far goes first.
        streamed.waiting();
        const reply = hostCalls.call(id, { kind: 'outbound', request }, deadline) as OutboundReply;
        return reply.ok
          ? { ok: true, status: reply.status, headers: reply.headers, body: reply.body }
          : { ok: false, error: witErrorCode(reply.error) };
      },
    };
  }

  /** The request's bundles, each mounted read-only at its guest path. */
  #preopens(request: ComponentCall): ComponentPreopen[] {
    return request.bundles.map((grant) => {
      const bundle = this.#bundles.bundle(grant.digest);
      if (bundle === undefined) throw new Error(`bundle ${grant.digest} was never sent to this thread`);
      return { guestPath: grant.guestPath, directory: bundle.mount(request.limits) };
    });
  }
}

/** A component's complete response (it crosses to the main thread as a copy). */
const RESPONDED: Outcome = { kind: 'return', values: [] };

/**
 * The component host's limits from an invocation's: the ones both hosts have, by the same name
 * or its counterpart (the request body is what stdin is to a CGI guest); the component host's own
 * keep their defaults.
 */
function componentLimits(limits: InvocationLimits): Partial<ComponentLimits> {
  return {
    timeoutMs: limits.timeoutMs,
    maxMemoryBytes: limits.maxMemoryBytes,
    maxBytesPerCall: limits.maxBytesPerCall,
    maxStdoutBytes: limits.maxStdoutBytes,
    maxStderrBytes: limits.maxStderrBytes,
    maxRequestBodyBytes: limits.maxStdinBytes,
    maxPollables: limits.maxPollSubscriptions,
  };
}

/** The outcome of a run that ended without a response. */
function componentOutcome(error: IsolaError, timeoutMs: number): Outcome {
  if (error.code === 'E_GUEST_TIMEOUT') return { kind: 'timeout', afterMs: timeoutMs };
  // A trap is wrapped with the engine's exception as its cause: sorted as a preview1 trap is.
  if (error.code === 'E_GUEST_TRAP' && error.details.trap !== undefined) {
    const outcome = outcomeOf(error.cause);
    if (outcome.kind === 'trap') return outcome;
  }
  if (error.code === 'E_GUEST_OUTPUT_LIMIT' || error.code === 'E_GUEST_INPUT_LIMIT') {
    const limit = LIMIT_NAMES[String(error.details.limit)];
    if (limit !== undefined) return { kind: 'limit', limit, message: error.message };
  }
  return { kind: 'error', error: error.toJSON() };
}

function glueFailure(digest: string, cause: unknown): Outcome {
  const reason = cause instanceof Error ? cause.message : String(cause);
  const error = new IsolaError(
    'E_INTERNAL',
    `the glue of component ${digest} could not be imported on this worker: ${reason}: load the component again`,
    { digest },
    { cause },
  );
  return { kind: 'error', error: error.toJSON() };
}

const encoder = new TextEncoder();

function encoded(text: string | undefined): Uint8Array | undefined {
  return text ? encoder.encode(text) : undefined;
}
