/**
 * Runs one request through a fresh instance of a compiled `wasi:http` component: isola's host
 * imports built for this instance alone, core instances made from the modules compiled at deploy
 * (each handed a recycled, zeroed memory from a pool), `incoming-handler.handle` called once, and
 * the response read back. The glue jco generated runs synchronously, so `handle` returns only
 * when the guest is done. By default the whole response is known then; given a `ResponseStreamer`
 * (`RunOptions.response`), the head and the body's bytes go to it as the guest sets and writes
 * them, and it is told each time the guest is about to wait, so that it can pass on what it holds.
 * The request body is either all at hand or a `BlockingBody` read as the guest reads its stream.
 *
 * One `ComponentRunner` per thread: it holds the glue modules that thread has imported, and a
 * memory pool (its own, or the thread's, shared with preview1 instances). It works unchanged
 * inside a worker thread: post the `CompiledComponent` once (its `WebAssembly.Module`s are shared,
 * not copied), then call `run`, as the engine's workers do (src/runtime/component-task.ts).
 *
 * The deadline is checked in every blocking host call (`poll`, blocking reads) and after the
 * handler returns; a guest spinning in pure computation can only be stopped by terminating its
 * thread, as the engine does for preview1 workers.
 */
import { IsolaError, isIsolaError } from '../errors.js';
import { WASM_MAX_PAGES, WASM_PAGE_BYTES } from '../limits.js';
import { MemoryPool, type MemoryPoolOptions } from '../runtime/memory-pool.js';
import { GuestExit } from './host/cli.js';
import { COMPONENT_LIMIT_DEFAULTS, type ComponentLimits, HostContext } from './host/context.js';
import {
  IncomingRequest,
  type RequestHead,
  type ResponseListener,
  ResponseOutparam,
  ResponseState,
} from './host/http-types.js';
import { type ComponentGrants, componentImports } from './host/imports.js';
import {
  type ByteSource,
  ChunksSource,
  EMPTY_SOURCE,
  lastOperationFailed,
  onWaiting,
  type Readiness,
} from './host/io.js';
import type { CompiledComponent, CoreMemory } from './transpile.js';

/** A request as the HTTP layer hands it over. */
export interface ComponentRequest {
  method: string;
  /** Absolute URL: scheme, authority, path and query. */
  url: string;
  headers: Iterable<readonly [string, string]>;
  /** The body: bytes, chunks as they arrive, or none. */
  body?: Uint8Array | AsyncIterable<Uint8Array> | null;
}

export interface ComponentResponse {
  status: number;
  headers: [string, string][];
  /** The body as the guest wrote it, one chunk per write; empty when it went to a `ResponseStreamer`. */
  body: Uint8Array[];
  /** The guest sent trailers; isola does not forward them. */
  trailersIgnored: boolean;
}

/** What was measured of one run, whatever its end. */
export interface ComponentRunMeasures {
  stdout: string;
  stderr: string;
  /** The whole run: instantiation, the handler, and reading the response back. */
  durationMs: number;
  /** Of `durationMs`, building the host and instantiating the core modules. */
  instantiateMs: number;
  /** The instance's linear memories at the end, together. */
  memoryBytes: number;
}

export type ComponentResult =
  | ({ ok: true; response: ComponentResponse } & ComponentRunMeasures)
  | ({ ok: false; error: IsolaError } & ComponentRunMeasures);

/** Where a streamed response goes: its head and body as the guest answers (`ResponseListener`). */
export interface ResponseStreamer extends ResponseListener {
  /** The guest is about to wait (sleep in `poll`, read a request body still arriving): pass on what is held. */
  waiting(): void;
}

/**
 * A request body read on demand: `read` blocks the thread until it has put some bytes in
 * `buffer` (their count) or the body has ended (0). It may throw E_GUEST_INPUT_LIMIT when the
 * body passes the bytes the guest may be fed.
 */
export interface BlockingBody {
  read(buffer: Uint8Array): number;
}

export interface RunOptions {
  limits?: Partial<ComponentLimits>;
  grants?: ComponentGrants;
  /** Where the response goes as it is answered; default: kept whole, in the result. */
  response?: ResponseStreamer;
}

type CoreInstantiate = (module: WebAssembly.Module, imports: WebAssembly.Imports) => WebAssembly.Instance;
interface IncomingHandler {
  handle(request: IncomingRequest, responseOut: ResponseOutparam): void;
}
type Instantiate = (
  getCoreModule: (name: string) => WebAssembly.Module,
  imports: Record<string, Record<string, unknown>>,
  instantiateCore: CoreInstantiate,
) => Record<string, IncomingHandler | undefined>;

/** One component's memories, by compiled module, with the pool key each is recycled under. */
interface MemoryPlan {
  byModule: Map<WebAssembly.Module, { key: string; memory: CoreMemory }>;
}

export class ComponentRunner {
  readonly #pool: MemoryPool;
  /** Whether the pool is this runner's own, so that it zeroes returned memories itself. */
  readonly #ownsPool: boolean;
  readonly #glue = new Map<string, Instantiate>();
  readonly #plans = new WeakMap<CompiledComponent, MemoryPlan>();

  /**
   * `pool`: options for a pool of the runner's own, or a thread's pool to share; whoever owns a
   * shared pool zeroes what runs return to it (`MemoryPool.clean()`), off the response's path.
   */
  constructor(pool: MemoryPool | Partial<MemoryPoolOptions> = {}) {
    this.#ownsPool = !(pool instanceof MemoryPool);
    // A componentize-js instance starts at ~9.5 MB of memory: recycle up to 64 MiB by default.
    this.#pool =
      pool instanceof MemoryPool ? pool : new MemoryPool({ recycleMaxBytes: 64 * 1024 * 1024, ...pool });
  }

  /** Imports the component's glue on this thread (once per glue URL). */
  async load(component: CompiledComponent): Promise<void> {
    if (this.#glue.has(component.glueUrl)) return;
    const glue = (await import(component.glueUrl)) as { instantiate?: Instantiate };
    if (typeof glue.instantiate !== 'function') {
      throw new IsolaError(
        'E_INTERNAL',
        `the glue at ${component.glueUrl} exports no instantiate function`,
        {},
      );
    }
    this.#glue.set(component.glueUrl, glue.instantiate);
  }

  /** Buffers the body (up to `maxRequestBodyBytes`), loads the glue if needed, and runs. */
  async handle(
    component: CompiledComponent,
    request: ComponentRequest,
    options: RunOptions = {},
  ): Promise<ComponentResult> {
    const limits = { ...COMPONENT_LIMIT_DEFAULTS, ...options.limits };
    await this.load(component);
    const body = await collectBody(request.body, limits.maxRequestBodyBytes);
    if (body instanceof IsolaError) {
      return {
        ok: false,
        error: body,
        stdout: '',
        stderr: '',
        durationMs: 0,
        instantiateMs: 0,
        memoryBytes: 0,
      };
    }
    return this.run(component, requestHead(request), body, options);
  }

  /** Runs one fresh instance synchronously on a request whose body is in `body` or read from it. */
  run(
    component: CompiledComponent,
    head: RequestHead,
    body: readonly Uint8Array[] | BlockingBody,
    options: RunOptions = {},
  ): ComponentResult {
    const started = performance.now();
    const instantiate = this.#glue.get(component.glueUrl);
    if (instantiate === undefined) {
      throw new IsolaError(
        'E_MODULE_NOT_LOADED',
        `component ${component.digest} is not loaded on this thread: call load() first`,
        {
          digest: component.digest,
        },
      );
    }
    const limits = { ...COMPONENT_LIMIT_DEFAULTS, ...options.limits };
    const ctx = new HostContext(limits, started);
    const streamer = options.response;
    const state = new ResponseState(streamer);
    if (streamer !== undefined) onWaiting(ctx, () => streamer.waiting());
    const { imports, classes } = componentImports(ctx, options.grants ?? {}, state);
    const plan = this.#plan(component);
    const maxPages = Math.min(WASM_MAX_PAGES, Math.floor(limits.maxMemoryBytes / WASM_PAGE_BYTES));
    const taken: { key: string; memory: WebAssembly.Memory; initialBytes: number }[] = [];
    const instantiateCore: CoreInstantiate = (module, moduleImports) => {
      const planned = plan.byModule.get(module);
      if (planned === undefined) return new WebAssembly.Instance(module, moduleImports);
      const max = Math.min(maxPages, planned.memory.maxPages ?? WASM_MAX_PAGES);
      if (planned.memory.minPages > max) throw memoryLimit(planned.memory.minPages, limits.maxMemoryBytes);
      const key = `${planned.key}:${max}`;
      const memory = this.#pool.take(key, planned.memory.minPages, max);
      taken.push({ key, memory, initialBytes: planned.memory.minPages * 65536 });
      return new WebAssembly.Instance(module, { ...moduleImports, isola: { memory } });
    };
    let error: IsolaError | undefined;
    let instantiated = started;
    let memoryBytes = 0;
    try {
      const exports = instantiate((name) => moduleNamed(component, name), imports, instantiateCore);
      instantiated = performance.now();
      const handler = exports[component.handlerExport] ?? exports.incomingHandler;
      if (handler === undefined) {
        throw new IsolaError('E_MODULE_COMPONENT', `the glue exports no ${component.handlerExport}`, {});
      }
      const source = bodySource(ctx, body, () => streamer?.waiting());
      handler.handle(
        new IncomingRequest(ctx, head, source, classes.immutableFields),
        new ResponseOutparam(ctx, state),
      );
      ctx.checkDeadline();
    } catch (thrown) {
      error = guestError(thrown, state);
    } finally {
      const now = performance.now();
      for (const { key, memory, initialBytes } of taken) {
        memoryBytes += memory.buffer.byteLength;
        this.#pool.give(key, memory, now, initialBytes);
      }
      if (this.#ownsPool) this.#pool.clean();
    }
    const stdout = ctx.stdout.text();
    const stderr = ctx.stderr.text();
    const durationMs = performance.now() - started;
    const measures = { stdout, stderr, durationMs, instantiateMs: instantiated - started, memoryBytes };
    error ??= responseError(state);
    if (error) {
      if (stderr) error.details.stderr = stderr.slice(-4096);
      return { ok: false, error, ...measures };
    }
    const response: ComponentResponse = {
      status: state.status,
      headers: state.headers.map(([name, value]) => [name, Buffer.from(value).toString('latin1')]),
      body: state.chunks,
      trailersIgnored: state.trailersIgnored,
    };
    return { ok: true, response, ...measures };
  }

  /** Releases pooled memories unused for the pool's idle time. */
  sweep(now = performance.now()): void {
    this.#pool.sweep(now);
  }

  /** Drops the pooled memories of a component that was unloaded. */
  forget(digest: string): void {
    this.#pool.forget(`${digest}/`);
  }

  /** Pooled memories held, for metrics and tests. */
  get pooledMemories(): number {
    return this.#pool.size;
  }

  #plan(component: CompiledComponent): MemoryPlan {
    let plan = this.#plans.get(component);
    if (plan) return plan;
    plan = { byModule: new Map() };
    for (const [name, memory] of Object.entries(component.memories)) {
      const module = component.modules[name];
      if (module) plan.byModule.set(module, { key: `${component.digest}/${name}`, memory });
    }
    this.#plans.set(component, plan);
    return plan;
  }
}

function moduleNamed(component: CompiledComponent, name: string): WebAssembly.Module {
  const module = component.modules[name];
  if (module === undefined)
    throw new IsolaError('E_INTERNAL', `the glue asked for an unknown core module ${name}`, {});
  return module;
}

/** The request head the guest sees, from the HTTP layer's request. */
export function requestHead(request: Pick<ComponentRequest, 'method' | 'url' | 'headers'>): RequestHead {
  const url = new URL(request.url);
  const encoder = new TextEncoder();
  const headers: [string, Uint8Array][] = [];
  for (const [name, value] of request.headers) headers.push([name.toLowerCase(), encoder.encode(value)]);
  return {
    method: request.method,
    pathWithQuery: `${url.pathname}${url.search}`,
    scheme: url.protocol,
    authority: url.host,
    headers,
  };
}

/** The guest's view of the request body: chunks at hand, or a body read as the guest reads. */
function bodySource(
  ctx: HostContext,
  body: readonly Uint8Array[] | BlockingBody,
  beforeRead: () => void,
): ByteSource {
  if (!Array.isArray(body)) return new BlockingBodySource(ctx, body as BlockingBody, beforeRead);
  return body.length === 0 ? EMPTY_SOURCE : new ChunksSource(body);
}

/** Bytes asked of a `BlockingBody` per read, at most (the engine's stdin relay moves 64 KiB). */
const BLOCKING_READ_BYTES = 64 * 1024;

const READY_NOW: Readiness = Object.freeze({ kind: 'now' });

/**
 * A request body still arriving. A read blocks until bytes or the end are there, so the source
 * says it is always ready: a guest that polls the body stream with a timer waits in the read,
 * never past its deadline (the engine stops a thread blocked past it).
 */
class BlockingBodySource implements ByteSource {
  readonly #ctx: HostContext;
  readonly #body: BlockingBody;
  readonly #beforeRead: () => void;
  #ended = false;

  constructor(ctx: HostContext, body: BlockingBody, beforeRead: () => void) {
    this.#ctx = ctx;
    this.#body = body;
    this.#beforeRead = beforeRead;
  }

  read(max: number): Uint8Array | null {
    if (this.#ended) return null;
    if (max === 0) return new Uint8Array(0);
    this.#beforeRead();
    const buffer = new Uint8Array(Math.min(max, BLOCKING_READ_BYTES));
    let length: number;
    try {
      length = this.#body.read(buffer);
    } catch (error) {
      if (isIsolaError(error, 'E_GUEST_INPUT_LIMIT'))
        throw bodyTooLarge(this.#ctx.limits.maxRequestBodyBytes);
      const message = error instanceof Error ? error.message : String(error);
      throw lastOperationFailed(this.#ctx, `reading the request body failed: ${message}`);
    }
    if (length === 0) {
      this.#ended = true;
      return null;
    }
    return buffer.subarray(0, length);
  }

  readiness(): Readiness {
    return READY_NOW;
  }
}

function bodyTooLarge(limit: number): IsolaError {
  return new IsolaError(
    'E_GUEST_INPUT_LIMIT',
    `the request body is larger than maxRequestBodyBytes (${limit} bytes): send less or raise the limit`,
    { limit: 'maxRequestBodyBytes', value: limit },
  );
}

/** The body as chunks, refusing more than `limit` bytes. */
async function collectBody(
  body: ComponentRequest['body'],
  limit: number,
): Promise<Uint8Array[] | IsolaError> {
  if (body === undefined || body === null) return [];
  const chunks = body instanceof Uint8Array ? [body] : body;
  const collected: Uint8Array[] = [];
  let bytes = 0;
  for await (const chunk of chunks) {
    bytes += chunk.length;
    if (bytes > limit) return bodyTooLarge(limit);
    collected.push(chunk);
  }
  return collected;
}

function memoryLimit(minPages: number, maxMemoryBytes: number): IsolaError {
  return new IsolaError(
    'E_MEMORY_LIMIT',
    `the component needs ${minPages * WASM_PAGE_BYTES} bytes of memory to start, more than maxMemoryBytes ` +
      `(${maxMemoryBytes}): raise the limit`,
    { limit: 'maxMemoryBytes', value: maxMemoryBytes, required: minPages * WASM_PAGE_BYTES },
  );
}

/** What a throw out of the instance means. */
function guestError(thrown: unknown, state: ResponseState): IsolaError | undefined {
  if (thrown instanceof GuestExit) {
    if (thrown.code === 0 && state.set) return undefined;
    return new IsolaError(
      'E_GUEST_TRAP',
      `the component exited with code ${thrown.code} before it finished its response`,
      {
        exitCode: thrown.code,
      },
    );
  }
  if (isIsolaError(thrown)) return thrown;
  if (thrown instanceof WebAssembly.RuntimeError || thrown instanceof RangeError) {
    return new IsolaError(
      'E_GUEST_TRAP',
      `the component trapped: ${thrown.message}`,
      { trap: thrown.message },
      { cause: thrown },
    );
  }
  const message = thrown instanceof Error ? thrown.message : String(thrown);
  return new IsolaError('E_INTERNAL', `the component's host failed: ${message}`, {}, { cause: thrown });
}

/** Checks that the guest set a complete response before `handle` returned. */
function responseError(state: ResponseState): IsolaError | undefined {
  if (state.error) {
    return new IsolaError('E_GUEST_TRAP', `the component answered with the error-code ${state.error.tag}`, {
      errorCode: state.error,
    });
  }
  if (!state.set) {
    return new IsolaError(
      'E_GUEST_TRAP',
      'the component returned from incoming-handler.handle without setting a response: call ' +
        'response-outparam.set before returning',
      {},
    );
  }
  if (state.bodyStarted && !state.finished) {
    return new IsolaError(
      'E_GUEST_TRAP',
      'the component returned without finishing its response body: call outgoing-body.finish',
      {},
    );
  }
  return undefined;
}
