/**
 * The execution engine: what the HTTP layer, the CLI and embedders call to run Wasm.
 *
 * ```ts
 * const engine = new Engine({ workers: 2 });
 * const app = await engine.load(bytes);            // validate, compile, cache (at deploy)
 * const run = engine.invoke(app, { args: ['app'], stdin: body });
 * run.stdout.pipe(response);                        // flows while the guest runs
 * const { outcome, metrics } = await run.result;    // exit code, trap, timeout, broken limit
 * await engine.close();                             // drain; destroy() aborts
 * ```
 *
 * Load checks everything that can be checked without running: the bytes are a core Wasm module,
 * every import is one isola provides, with the signature the WASI ABI gives it. Modules are
 * content-addressed by sha256 and compiled once; the request path only looks them up. Each module
 * is rewritten to import its memory, so that every fresh instance runs on a pooled, zeroed memory
 * (see memory-pool.ts) with the invocation's memory limit as its maximum.
 *
 * Invocations run in a pool of worker threads (worker-pool.ts), a fresh instance each by default,
 * or, for apps that opt in, a reused instance for up to N calls of an exported function.
 *
 * wasi:http components run on the same workers, under the same queue, deadlines and limits:
 *
 * ```ts
 * const api = await engine.loadComponent(bytes);   // world check, jco transpile, compile (at deploy)
 * const call = engine.invokeComponent(api, { method: 'GET', url: 'http://app.test/', headers: [] });
 * const { outcome, response } = await call.result; // response set when outcome.kind is 'return'
 * ```
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { OutboundRequest } from '../component/host/outgoing-handler.js';
import { type CompiledComponent, compileComponent, transpileComponent } from '../component/transpile.js';
import { IsolaError } from '../errors.js';
import type { SyncStoreHandle } from '../kv/key-value-store.js';
import {
  INVOCATION_LIMIT_DEFAULTS,
  type InvocationLimits,
  resolveInvocationLimits,
  resolveLimitMaxima,
  WASM_PAGE_BYTES,
} from '../limits.js';
import { OutboundClient, type OutboundClientOptions } from '../outbound/client.js';
import { OutboundError } from '../outbound/error-code.js';
import { MemoryBundle, type MemoryBundleOptions } from '../wasi/index.js';
import { importMemory } from '../wasm/import-memory.js';
import { checkImportSignatures, WASI_PREVIEW1_SIGNATURES } from '../wasm/import-signatures.js';
import {
  checkImports,
  compileModule,
  describeModule,
  type ModuleExport,
  type ModuleImport,
  type ModuleKind,
  readHeader,
} from '../wasm/module-info.js';
import { type PreinitOptions, preinitialize } from '../wasm/preinit.js';
import { ComponentInvocation } from './component-invocation.js';
import type { OutboundReply } from './host-call.js';
import { INLINE_DEFAULTS, InlineLane, type InlineOptions } from './inline-lane.js';
import { Invocation, type InvocationResult } from './invocation.js';
import { MEMORY_POOL_DEFAULTS, type MemoryPoolOptions } from './memory-pool.js';
import { ModuleCache } from './module-cache.js';
import type {
  BundleDelivery,
  BundleGrant,
  ComponentCall,
  DirGrant,
  DoneMessage,
  Entry,
  InstanceMode,
  InvocationConfig,
  InvocationMetrics,
  KeyValueGrant,
  MemoryPlan,
  StdinPlan,
} from './protocol.js';
import { WorkerPool } from './worker-pool.js';

export interface EngineOptions {
  /** Worker threads running invocations. Default: one per core (`os.availableParallelism()`). */
  workers?: number;
  /** Idle workers kept warm to replace one stopped at a deadline or crashed. Default 1. */
  spareWorkers?: number;
  /** Invocations that may wait for a worker before `invoke` refuses with E_OVERLOADED. Default 1024. */
  maxQueue?: number;
  /** Bytes of Wasm the module cache holds, loaded and recently unloaded. Default 1 GiB. */
  moduleCacheBytes?: number;
  /** Limits every invocation gets unless it overrides them. Default `INVOCATION_LIMIT_DEFAULTS`. */
  limits?: Partial<InvocationLimits>;
  /** The operator's maxima: no invocation may raise a limit above these. Default: each limit's range. */
  maxLimits?: Partial<InvocationLimits>;
  /** How each worker keeps recycled memories. Default `MEMORY_POOL_DEFAULTS`. */
  memoryPool?: Partial<MemoryPoolOptions>;
  /**
   * The nice value (Linux, 0–19) of worker threads: above the main thread's, so that guests
   * running on workers, a runaway one included, yield the CPU to the thread that serves requests
   * and runs the inline lane. Default 10.
   */
  workerNice?: number;
  /** Running proven-short invocations on the calling thread (inline-lane.ts). Default `INLINE_DEFAULTS`. */
  inline?: Partial<InlineOptions>;
  /**
   * The key-value store guests are granted buckets of (`InvokeRequest.keyValue`): the connector
   * `KeyValueStore.workerConnector()` resolves to, called once per worker thread. Default: none,
   * and an invocation granted a store is refused.
   */
  keyValue?: () => SyncStoreHandle;
}

export const ENGINE_DEFAULTS = Object.freeze({
  spareWorkers: 1,
  workerNice: 10,
  maxQueue: 1024,
  moduleCacheBytes: 1024 * 1024 * 1024,
});

/** A module the engine has loaded: what callers pass to `invoke`. */
export interface LoadedModule {
  /** sha256 of the module's bytes, hex. */
  readonly digest: string;
  readonly kind: ModuleKind;
  readonly byteLength: number;
  readonly imports: readonly ModuleImport[];
  readonly exports: readonly ModuleExport[];
}

/** Files the engine holds in memory for guests to mount read-only: what `loadBundle` returns. */
export interface LoadedBundle {
  /** sha256 of the bundle's paths and contents, hex. */
  readonly digest: string;
  readonly byteLength: number;
  readonly files: number;
}

interface HeldBundle {
  handle: LoadedBundle;
  delivery: BundleDelivery;
  pins: number;
}

export interface InvokeRequest {
  /** The guest's argv, argv[0] included. Default: none. */
  args?: readonly string[];
  /** Environment variables. Default: none. */
  env?: Readonly<Record<string, string>> | readonly (readonly [string, string])[];
  /** Host directories to mount. Default: none. */
  dirs?: readonly DirGrant[];
  /** Bundles (`loadBundle`) to mount read-only, each at its guest path. Default: none. */
  bundles?: readonly { bundle: LoadedBundle | string; guestPath: string }[];
  /**
   * Buckets of the engine's key-value store (`EngineOptions.keyValue`), each mounted as a
   * directory at its guest path (src/wasi/fs/kv-directory.ts). Default: none.
   */
  keyValue?: readonly KeyValueGrant[];
  /** Stdin: bytes, a string (UTF-8) or a stream read on demand. Default: at end of input. */
  stdin?: Uint8Array | string | Readable;
  /** `_start` (the default for a command), or an exported function with numeric arguments. */
  entry?: '_start' | { function: string; args?: readonly (number | bigint)[] };
  /** A fresh instance (the default), or reuse one instance for up to `reuse` calls. */
  instance?: 'fresh' | { reuse: number };
  /** Overrides of the engine's limits, within the operator's maxima. */
  limits?: Partial<InvocationLimits>;
}

export interface LoadOptions {
  /**
   * Snapshot the module after running its initialization function once (with wizer; see
   * src/wasm/preinit.ts), so that no invocation repeats that work. The loaded module is the
   * snapshot, addressed by the snapshot's digest.
   */
  preinitialize?: PreinitOptions;
}

export interface RunResult extends InvocationResult {
  stdout: Uint8Array;
  stderr: Uint8Array;
}

/** A wasi:http component the engine has loaded: what callers pass to `invokeComponent`. */
export interface LoadedComponent {
  /** sha256 of the component's bytes, hex. */
  readonly digest: string;
  readonly byteLength: number;
  /** The incoming-handler export, with its version (e.g. `wasi:http/incoming-handler@0.2.10`). */
  readonly handlerExport: string;
  /** The interfaces the component imports, each one isola provides. */
  readonly imports: readonly string[];
}

export interface LoadComponentOptions {
  /**
   * Where jco's output is kept, one directory per component digest, so that a component is
   * transpiled once per directory. Default: a private directory of this engine's, removed when it
   * is closed or destroyed. A shared directory must be writable by this process alone: the glue
   * in it runs as host code.
   */
  cacheDir?: string;
}

/** A request to a component: the head, the body, and what the instance is granted. */
export interface ComponentInvokeRequest {
  method: string;
  /** Absolute: scheme, authority, path and query. */
  url: string;
  headers: readonly (readonly [name: string, value: string])[];
  /**
   * The whole body, or a stream read as the component reads its body (its end is the body's).
   * At most `limits.maxStdinBytes` either way: a stream that passes it ends the invocation with
   * the `maxStdinBytes` limit outcome. Default: empty.
   */
  body?: Uint8Array | Readable;
  /** Environment variables (wasi:cli/environment). Default: none. */
  env?: readonly (readonly [name: string, value: string])[];
  /** Bundles (`loadBundle`) to mount read-only, each at its guest path. Default: none. */
  bundles?: readonly { bundle: LoadedBundle | string; guestPath: string }[];
  /** Stores of the engine's key-value store the component may open (wasi:keyvalue), by label. Default: none. */
  keyValue?: { app: string; labels: readonly string[] };
  /** What wasi:config/store answers: the component's variables by name. Default: none. */
  config?: readonly (readonly [name: string, value: string])[];
  /**
   * How the component's outgoing requests are checked and sent: one `OutboundClient` per request
   * is made from these options when the component first calls out, and closed when it ends.
   * Default: every outgoing request is denied (`HTTP-request-denied`).
   */
  outbound?: OutboundClientOptions;
  /** Overrides of the engine's limits, within the operator's maxima. */
  limits?: Partial<InvocationLimits>;
}

interface CachedModule {
  kind: 'module';
  module: WebAssembly.Module;
  memory: MemoryPlan | undefined;
  handle: LoadedModule;
}

interface CachedComponent {
  kind: 'component';
  compiled: CompiledComponent;
  handle: LoadedComponent;
  /** The largest initial memory among its core modules: what maxMemoryBytes must allow. */
  initialMemoryBytes: number;
}

/** Distinct sets of limit overrides whose resolution is kept (a bound, not a tuning knob). */
const RESOLVED_LIMITS_KEPT = 1024;

/** Calls through one reused instance, at most. */
export const MAX_REUSE_INVOCATIONS = 1_000_000;

export class Engine {
  readonly #pool: WorkerPool;
  readonly #cache: ModuleCache<CachedModule | CachedComponent>;
  readonly #loading = new Map<string, Promise<LoadedModule>>();
  readonly #loadingComponents = new Map<string, Promise<LoadedComponent>>();
  /** The engine's own transpile cache (`LoadComponentOptions.cacheDir`), made when first needed. */
  #componentCacheDir: string | undefined;
  readonly #limits: Readonly<InvocationLimits>;
  readonly #maxima: Readonly<InvocationLimits>;
  readonly #resolvedLimits = new Map<string, InvocationLimits>();
  readonly #frozenLimits = new WeakMap<object, InvocationLimits>();
  readonly #bundles = new Map<string, HeldBundle>();
  readonly #inline: InlineLane | undefined;
  readonly #sweeper: NodeJS.Timeout | undefined;
  /** Whether the engine has a key-value store to grant. */
  readonly #keyValue: boolean;
  #nextId = 1;

  constructor(options: EngineOptions = {}) {
    const workers = options.workers ?? availableParallelism();
    const spares = options.spareWorkers ?? ENGINE_DEFAULTS.spareWorkers;
    const maxQueue = options.maxQueue ?? ENGINE_DEFAULTS.maxQueue;
    const cacheBytes = options.moduleCacheBytes ?? ENGINE_DEFAULTS.moduleCacheBytes;
    checkOption('workers', workers, 1, 256);
    checkOption('spareWorkers', spares, 0, 64);
    checkOption('maxQueue', maxQueue, 0, 1_000_000);
    checkOption('moduleCacheBytes', cacheBytes, 0, Number.MAX_SAFE_INTEGER);
    const memoryPool = { ...MEMORY_POOL_DEFAULTS, ...options.memoryPool };
    checkOption('memoryPool.perKey', memoryPool.perKey, 0, 1024);
    checkOption('memoryPool.total', memoryPool.total, 0, 65_536);
    checkOption('memoryPool.recycleMaxBytes', memoryPool.recycleMaxBytes, 0, 4 * 1024 * 1024 * 1024);
    checkOption(
      'memoryPool.recycleInitialMaxBytes',
      memoryPool.recycleInitialMaxBytes,
      0,
      4 * 1024 * 1024 * 1024,
    );
    checkOption('memoryPool.maxPooledBytes', memoryPool.maxPooledBytes, 0, Number.MAX_SAFE_INTEGER);
    checkOption('memoryPool.idleMs', memoryPool.idleMs, 1, 24 * 60 * 60 * 1000);
    this.#maxima = Object.freeze(resolveLimitMaxima(options.maxLimits));
    // A default above the operator's maximum is lowered to it; an explicit override must fit.
    const defaults = { ...INVOCATION_LIMIT_DEFAULTS };
    for (const name of Object.keys(defaults) as (keyof InvocationLimits)[]) {
      defaults[name] = Math.min(defaults[name], this.#maxima[name]);
    }
    this.#limits = Object.freeze(resolveInvocationLimits(options.limits ?? {}, defaults, this.#maxima));
    this.#cache = new ModuleCache(cacheBytes, (entry) => {
      this.#pool.forget(entry.digest);
      this.#inline?.forget(entry.digest);
    });
    const nice = options.workerNice ?? ENGINE_DEFAULTS.workerNice;
    checkOption('workerNice', nice, 0, 19);
    this.#keyValue = options.keyValue !== undefined;
    this.#pool = new WorkerPool({
      workers,
      spares,
      maxQueue,
      memoryPool,
      nice,
      ...(options.keyValue === undefined ? {} : { keyValue: options.keyValue }),
    });
    const inline = { ...INLINE_DEFAULTS, ...options.inline };
    checkOption('inline.fuel', inline.fuel, 1, Number.MAX_SAFE_INTEGER);
    checkOption('inline.promoteAfterRuns', inline.promoteAfterRuns, 1, 1_000_000);
    checkOption('inline.maxModuleBytes', inline.maxModuleBytes, 0, Number.MAX_SAFE_INTEGER);
    if (!(inline.promoteBelowMs > 0 && inline.promoteBelowMs <= 1000)) {
      throw new IsolaError(
        'E_LIMIT_OUT_OF_RANGE',
        `engine option inline.promoteBelowMs = ${inline.promoteBelowMs} is out of range: use a number of milliseconds above 0, at most 1000`,
        { option: 'inline.promoteBelowMs', value: inline.promoteBelowMs },
      );
    }
    if (inline.enabled) {
      const lane = new InlineLane(inline, memoryPool);
      this.#inline = lane;
      this.#sweeper = setInterval(() => lane.sweep(performance.now()), lane.sweepIntervalMs).unref();
    }
  }

  /**
   * Validates, compiles and caches a module, and pins it until `unload`. Loading the same bytes
   * again returns the cached module (pinned once more). Throws an IsolaError that names the fix
   * for anything isola cannot run.
   */
  async load(bytes: Uint8Array, options: LoadOptions = {}): Promise<LoadedModule> {
    if (options.preinitialize !== undefined) bytes = await preinitialize(bytes, options.preinitialize);
    const digest = createHash('sha256').update(bytes).digest('hex');
    const cached = this.#cache.get(digest)?.value;
    if (cached?.kind === 'module') {
      this.#cache.pin(digest);
      return cached.handle;
    }
    let loading = this.#loading.get(digest);
    if (loading === undefined) {
      loading = this.#compile(digest, bytes).finally(() => this.#loading.delete(digest));
      this.#loading.set(digest, loading);
      return loading;
    }
    const handle = await loading;
    this.#cache.pin(digest);
    return handle;
  }

  async #compile(digest: string, bytes: Uint8Array): Promise<LoadedModule> {
    const header = readHeader(bytes);
    if (header.layer === 'component') {
      throw new IsolaError(
        'E_MODULE_COMPONENT',
        'the file is a WebAssembly component, not a core module: load it with engine.loadComponent(), or build a ' +
          'WASI preview1 core module (e.g. for the wasm32-wasip1 target)',
        { layer: header.layer },
      );
    }
    const rewritten = importMemory(bytes);
    const module = await compileModule(rewritten.bytes);
    const info = describeModule(module);
    const memory = rewritten.memory;
    const imports = info.imports.filter(
      (entry) => !(entry.kind === 'memory' && entry.module === memory?.module && entry.name === memory.name),
    );
    checkImports(imports);
    checkImportSignatures(bytes, WASI_PREVIEW1_SIGNATURES);
    await this.#inline?.prepare(digest, rewritten.bytes, memory);
    const handle: LoadedModule = Object.freeze({
      digest,
      kind: info.kind,
      byteLength: bytes.byteLength,
      imports: Object.freeze(imports),
      exports: Object.freeze(info.exports),
    });
    this.#cache.add({
      digest,
      byteLength: bytes.byteLength,
      value: { kind: 'module', module, memory, handle },
    });
    return handle;
  }

  /**
   * Checks a wasi:http component's world (every import one isola provides, an incoming-handler
   * export), transpiles it with jco, compiles its core modules, and caches and pins it like a
   * module until `unloadComponent`. Loading the same bytes again returns the cached component
   * (pinned once more). Refusals keep the transpiler's codes: E_MODULE_UNSUPPORTED_IMPORTS,
   * E_MODULE_COMPONENT (no handler), E_MODULE_INVALID.
   */
  async loadComponent(bytes: Uint8Array, options: LoadComponentOptions = {}): Promise<LoadedComponent> {
    const digest = createHash('sha256').update(bytes).digest('hex');
    const cached = this.#cache.get(digest)?.value;
    if (cached?.kind === 'component') {
      this.#cache.pin(digest);
      return cached.handle;
    }
    let loading = this.#loadingComponents.get(digest);
    if (loading === undefined) {
      loading = this.#compileComponent(digest, bytes, options).finally(() =>
        this.#loadingComponents.delete(digest),
      );
      this.#loadingComponents.set(digest, loading);
      return loading;
    }
    const handle = await loading;
    this.#cache.pin(digest);
    return handle;
  }

  async #compileComponent(
    digest: string,
    bytes: Uint8Array,
    options: LoadComponentOptions,
  ): Promise<LoadedComponent> {
    const cacheDir = options.cacheDir ?? this.#ownComponentCacheDir();
    const transpiled = await transpileComponent(bytes, { cacheDir });
    const compiled = await compileComponent(transpiled);
    const handle: LoadedComponent = Object.freeze({
      digest,
      byteLength: bytes.byteLength,
      handlerExport: compiled.handlerExport,
      imports: Object.freeze([...transpiled.world.imports]),
    });
    let initialMemoryBytes = 0;
    for (const memory of Object.values(compiled.memories)) {
      initialMemoryBytes = Math.max(initialMemoryBytes, memory.minPages * WASM_PAGE_BYTES);
    }
    this.#cache.add({
      digest,
      byteLength: bytes.byteLength,
      value: { kind: 'component', compiled, handle, initialMemoryBytes },
    });
    return handle;
  }

  #ownComponentCacheDir(): string {
    this.#componentCacheDir ??= mkdtempSync(join(tmpdir(), 'isola-components-'));
    return this.#componentCacheDir;
  }

  /** Unpins a loaded component; it stays cached until the cache needs the room. */
  unloadComponent(component: LoadedComponent | string): void {
    this.#cache.unpin(typeof component === 'string' ? component : component.digest);
  }

  /**
   * Holds `files` (relative path → contents) in memory as one bundle that invocations mount
   * read-only (`InvokeRequest.bundles`): the bytes are shared with every worker, never copied per
   * instance, and reading them costs no system call. Loading the same files again returns the
   * same bundle (held once more). Throws E_APP_FILES_LIMIT past `MEMORY_BUNDLE_DEFAULTS.maxBytes`
   * and E_ARGUMENT_INVALID for a path that is not relative.
   */
  loadBundle(files: Readonly<Record<string, Uint8Array>>, options: MemoryBundleOptions = {}): LoadedBundle {
    const digest = bundleDigest(files);
    const held = this.#bundles.get(digest);
    if (held !== undefined) {
      held.pins += 1;
      return held.handle;
    }
    const bundle = MemoryBundle.from({ ...files }, options);
    const handle: LoadedBundle = Object.freeze({
      digest,
      byteLength: bundle.byteLength,
      files: Object.keys(files).length,
    });
    this.#bundles.set(digest, { handle, delivery: { digest, transfer: bundle.toTransfer() }, pins: 1 });
    return handle;
  }

  /** Lets go of a bundle; once nothing holds it, every thread drops it. */
  unloadBundle(bundle: LoadedBundle | string): void {
    const digest = typeof bundle === 'string' ? bundle : bundle.digest;
    const held = this.#bundles.get(digest);
    if (held === undefined || --held.pins > 0) return;
    this.#bundles.delete(digest);
    this.#pool.forget(digest);
    this.#inline?.forget(digest);
  }

  /** Unpins a loaded module; it stays cached until the cache needs the room. */
  unload(module: LoadedModule | string): void {
    this.#cache.unpin(typeof module === 'string' ? module : module.digest);
  }

  /**
   * Starts an invocation and returns at once. Throws (before anything runs) when the request is
   * invalid, the module is not loaded, the queue is full (E_OVERLOADED) or the engine is closed;
   * everything that happens to the guest is in the invocation's result.
   */
  invoke(module: LoadedModule | string, request: InvokeRequest = {}): Invocation {
    const digest = typeof module === 'string' ? module : module.digest;
    const cached = this.#cache.peek(digest)?.value;
    if (cached?.kind !== 'module') {
      throw new IsolaError(
        'E_MODULE_NOT_LOADED',
        cached === undefined
          ? `module ${digest} is not loaded: load it with engine.load() before invoking it`
          : `${digest} is a component: invoke it with engine.invokeComponent()`,
        { digest },
      );
    }
    const limits = request.limits === undefined ? this.#limits : this.#resolveLimits(request.limits);
    checkMemoryFits(cached.memory, limits);
    const entry = entryOf(request.entry, cached.handle);
    const instance = instanceModeOf(request.instance, entry);
    const { plan: stdin, stream } = stdinOf(request.stdin, limits);
    const deliveries = this.#deliveriesFor(request.bundles);
    const config: InvocationConfig = {
      args: request.args ?? [],
      env: envOf(request.env),
      dirs: request.dirs ?? [],
      bundles: bundleGrantsOf(request.bundles),
      keyValue: this.#keyValueGrants(request.keyValue),
      limits,
      entry,
      instance,
      stdin,
    };
    const invocation = new Invocation(this.#nextId++);
    const replayable = isReplayable(config);
    if (replayable && this.#inline?.admits(digest)) {
      const ran = this.#inline.run(invocation.id, digest, config, deliveries);
      if (ran !== undefined) {
        for (const message of ran.output) invocation.output(message.stream, message.chunk);
        const { done } = ran;
        if (done.stdout !== undefined) invocation.output(1, done.stdout);
        if (done.stderr !== undefined) invocation.output(2, done.stderr);
        invocation.settle(done.outcome, {
          queueMs: 0,
          instantiateMs: done.instantiateMs,
          runMs: done.runMs,
          peakMemoryBytes: done.peakMemoryBytes,
          maxMemoryBytes: done.maxMemoryBytes,
          reusedInstance: false,
          worker: INLINE_WORKER,
        });
        return invocation;
      }
    }
    const submittedAt = performance.now();
    this.#pool.submit({
      kind: 'module',
      id: invocation.id,
      digest,
      limits,
      module: cached.module,
      memory: cached.memory,
      config,
      stdin: stream,
      bundles: deliveries,
      onOutput: (which, chunk) => invocation.output(which, chunk),
      onDone: (outcome, done, worker, startedAt) => {
        if (replayable && done !== undefined) {
          this.#inline?.observe(digest, outcome, done.instantiateMs + done.runMs);
        }
        invocation.settle(outcome, settledMetrics(done, worker, startedAt, submittedAt));
      },
    });
    return invocation;
  }

  /**
   * Starts a request to a loaded component on a worker (components never run inline) and returns
   * at once; the response streams through the invocation's `head` and `body()` (a body stream is
   * read as the component reads it). Throws, like `invoke`, before anything runs: when the request
   * is invalid, its body bytes are over maxStdinBytes (E_GUEST_INPUT_LIMIT), the component is not loaded (E_MODULE_NOT_LOADED),
   * the queue is full (E_OVERLOADED) or the engine is closed (E_ENGINE_CLOSED). Everything that
   * happens to the guest is in the invocation's result, which never rejects.
   */
  invokeComponent(component: LoadedComponent | string, request: ComponentInvokeRequest): ComponentInvocation {
    const digest = typeof component === 'string' ? component : component.digest;
    const cached = this.#cache.peek(digest)?.value;
    if (cached?.kind !== 'component') {
      throw new IsolaError(
        'E_MODULE_NOT_LOADED',
        cached === undefined
          ? `component ${digest} is not loaded: load it with engine.loadComponent() before invoking it`
          : `${digest} is a core module, not a component: invoke it with engine.invoke()`,
        { digest },
      );
    }
    const limits = request.limits === undefined ? this.#limits : this.#resolveLimits(request.limits);
    if (cached.initialMemoryBytes > limits.maxMemoryBytes) {
      throw new IsolaError(
        'E_MEMORY_LIMIT',
        `the component's memory starts at ${cached.initialMemoryBytes} bytes, more than maxMemoryBytes ` +
          `(${limits.maxMemoryBytes}): raise maxMemoryBytes to at least ${cached.initialMemoryBytes}`,
        { initialBytes: cached.initialMemoryBytes, limitBytes: limits.maxMemoryBytes },
      );
    }
    const call = componentCallOf(request, limits);
    if (request.keyValue !== undefined && request.keyValue.labels.length > 0) {
      const { app, labels } = request.keyValue;
      this.#keyValueGrants(labels.map((label) => ({ app, label })));
    }
    const deliveries = this.#deliveriesFor(request.bundles);
    const invocation = new ComponentInvocation(this.#nextId++);
    const submittedAt = performance.now();
    const outbound = request.outbound;
    let client: OutboundClient | undefined;
    this.#pool.submit({
      kind: 'component',
      id: invocation.id,
      digest,
      limits,
      component: cached.compiled,
      request: call,
      bundles: deliveries,
      body: request.body instanceof Readable ? request.body : undefined,
      onOutput: (which, chunk) => invocation.output(which, chunk),
      onHead: (head) => invocation.respond(head),
      onBody: (chunk) => invocation.bodyChunk(chunk),
      onHostCall: (hostCall) => {
        if (outbound === undefined) throw new Error('the component was granted no outbound requests');
        client ??= new OutboundClient(outbound);
        return sendOutbound(client, hostCall.request);
      },
      onDone: (outcome, done, worker, startedAt) => {
        client?.close();
        invocation.settle(outcome, done?.response, settledMetrics(done, worker, startedAt, submittedAt));
      },
    });
    return invocation;
  }

  /** Checks key-value grants: each needs the engine's store, an app and a label. */
  #keyValueGrants<Grant extends { app: string; label: string }>(
    grants: readonly Grant[] | undefined,
  ): readonly Grant[] {
    if (grants === undefined || grants.length === 0) return [];
    if (!this.#keyValue) {
      throw new IsolaError(
        'E_ARGUMENT_INVALID',
        `the invocation is granted key-value store "${grants[0]?.label}" but the engine has none: ` +
          'create the engine with a store (EngineOptions.keyValue)',
        { label: grants[0]?.label },
      );
    }
    for (const grant of grants) {
      if (
        typeof grant.app !== 'string' ||
        grant.app === '' ||
        typeof grant.label !== 'string' ||
        grant.label === ''
      ) {
        throw new IsolaError(
          'E_ARGUMENT_INVALID',
          'a key-value grant needs an app and a store label, e.g. { app: "shop", label: "default" }',
          {},
        );
      }
    }
    return grants;
  }

  /** The bundles a request mounts, as they are sent to a worker; throws for one not loaded. */
  #deliveriesFor(grants: InvokeRequest['bundles']): BundleDelivery[] {
    if (grants === undefined || grants.length === 0) return NO_DELIVERIES;
    return grants.map(({ bundle }) => {
      const digest = typeof bundle === 'string' ? bundle : bundle.digest;
      const held = this.#bundles.get(digest);
      if (held === undefined) {
        throw new IsolaError(
          'E_ARGUMENT_INVALID',
          `bundle ${digest} is not loaded: load it with engine.loadBundle() before mounting it`,
          { digest },
        );
      }
      return held.delivery;
    });
  }

  /**
   * An invocation's limits, resolved once per distinct set of overrides: an app sends the same
   * overrides with every request, and the one resolved object lets the pool send limits to a
   * worker only when they change.
   */
  #resolveLimits(overrides: Partial<InvocationLimits>): InvocationLimits {
    // A frozen overrides object cannot change, so it is looked up by identity, not by its JSON.
    const frozen = Object.isFrozen(overrides);
    if (frozen) {
      const known = this.#frozenLimits.get(overrides);
      if (known !== undefined) return known;
    }
    const key = JSON.stringify(overrides);
    let resolved = this.#resolvedLimits.get(key);
    if (resolved === undefined) {
      resolved = Object.freeze(resolveInvocationLimits(overrides, this.#limits, this.#maxima));
      if (this.#resolvedLimits.size >= RESOLVED_LIMITS_KEPT) this.#resolvedLimits.clear();
      this.#resolvedLimits.set(key, resolved);
    }
    if (frozen) this.#frozenLimits.set(overrides, resolved);
    return resolved;
  }

  /** Invokes and waits, collecting stdout and stderr as bytes. */
  async run(module: LoadedModule | string, request: InvokeRequest = {}): Promise<RunResult> {
    const invocation = this.invoke(module, request);
    const result = await invocation.result;
    return { ...result, ...invocation.collected() };
  }

  /** Whether the engine has a key-value store to grant buckets of (`EngineOptions.keyValue`). */
  get hasKeyValueStore(): boolean {
    return this.#keyValue;
  }

  /** The engine's resolved default limits. */
  get limits(): Readonly<InvocationLimits> {
    return this.#limits;
  }

  /** A snapshot of the engine's load: for health checks and metrics. */
  stats(): {
    workers: number;
    running: number;
    queued: number;
    cachedModules: number;
    cachedBytes: number;
    inlineModules: number;
  } {
    return {
      inlineModules: this.#inline?.inlineModules ?? 0,
      workers: this.#pool.workers,
      running: this.#pool.running,
      queued: this.#pool.queued,
      cachedModules: this.#cache.size,
      cachedBytes: this.#cache.bytes,
    };
  }

  /** Refuses new invocations, lets queued and running ones finish, then stops the workers. */
  async close(): Promise<void> {
    clearInterval(this.#sweeper);
    await this.#pool.close();
    this.#removeComponentCache();
  }

  /** Fails queued and running invocations with E_ENGINE_CLOSED and stops the workers now. */
  async destroy(): Promise<void> {
    clearInterval(this.#sweeper);
    await this.#pool.destroy();
    this.#removeComponentCache();
  }

  /** Removes the engine's own transpile cache, once no worker can import glue from it. */
  #removeComponentCache(): void {
    if (this.#componentCacheDir === undefined) return;
    rmSync(this.#componentCacheDir, { recursive: true, force: true });
    this.#componentCacheDir = undefined;
  }
}

/** An invocation's metrics, from the worker's `done` (none when it was stopped or never ran). */
function settledMetrics(
  done: DoneMessage | undefined,
  worker: number,
  startedAt: number,
  submittedAt: number,
): Omit<InvocationMetrics, 'stdoutBytes' | 'stderrBytes'> {
  return {
    queueMs: Math.max(0, startedAt - submittedAt),
    instantiateMs: done?.instantiateMs ?? 0,
    runMs: done?.runMs ?? performance.now() - startedAt,
    peakMemoryBytes: done?.peakMemoryBytes ?? 0,
    maxMemoryBytes: done?.maxMemoryBytes ?? 0,
    reusedInstance: done?.reusedInstance ?? false,
    worker,
  };
}

/** The request as it crosses to a worker, checked; throws for a malformed one or a body over maxStdinBytes. */
function componentCallOf(request: ComponentInvokeRequest, limits: InvocationLimits): ComponentCall {
  const { method, url, headers, body } = request;
  if (typeof method !== 'string' || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(method)) {
    const message = `"${method}" is not an HTTP method: pass a token such as GET`;
    throw new IsolaError('E_ARGUMENT_INVALID', message, { method });
  }
  if (typeof url !== 'string' || !URL.canParse(url)) {
    throw new IsolaError(
      'E_ARGUMENT_INVALID',
      `"${url}" is not an absolute URL: pass scheme, authority and path (http://host/path)`,
      { url },
    );
  }
  for (const header of headers) {
    if (!Array.isArray(header) || typeof header[0] !== 'string' || typeof header[1] !== 'string') {
      throw new IsolaError('E_ARGUMENT_INVALID', 'each header must be a [name, value] pair of strings', {});
    }
  }
  if (body instanceof Uint8Array && body.length > limits.maxStdinBytes) {
    throw new IsolaError(
      'E_GUEST_INPUT_LIMIT',
      `the request body is ${body.length} bytes, more than maxStdinBytes (${limits.maxStdinBytes}): raise the limit or send less`,
      { bytes: body.length, limit: limits.maxStdinBytes },
    );
  }
  return {
    method,
    url,
    headers,
    body: body instanceof Readable ? 'stream' : body === undefined || body.length === 0 ? undefined : body,
    env: request.env ?? [],
    bundles: bundleGrantsOf(request.bundles),
    keyValue:
      request.keyValue === undefined || request.keyValue.labels.length === 0
        ? undefined
        : { app: request.keyValue.app, labels: [...request.keyValue.labels] },
    config: request.config ?? [],
    outbound: request.outbound !== undefined,
    limits,
  };
}

/**
 * Sends a component's outgoing request through the invocation's client and reads the response
 * whole (the client bounds it by maxResponseBodyBytes); a failure is the wasi:http error-code it
 * is named after, for the guest to handle.
 */
async function sendOutbound(client: OutboundClient, request: OutboundRequest): Promise<OutboundReply> {
  const latin1 = new TextDecoder('latin1');
  try {
    const body = request.body.length === 0 ? undefined : Buffer.concat(request.body);
    const response = await client.fetch({
      method: request.method,
      url: `${request.scheme}://${request.authority}${request.pathWithQuery}`,
      headers: request.headers.map(([name, value]) => [name, latin1.decode(value)] as const),
      body,
    });
    const chunks: Uint8Array[] = [];
    for await (const chunk of response.body) chunks.push(chunk);
    return {
      ok: true,
      status: response.status,
      headers: response.headers.map(([name, value]) => [name, Buffer.from(value, 'latin1')]),
      body: chunks,
    };
  } catch (error) {
    if (error instanceof OutboundError) return { ok: false, error: error.toJSON() };
    throw error;
  }
}

function checkOption(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new IsolaError(
      'E_LIMIT_OUT_OF_RANGE',
      `engine option ${name} = ${value} is out of range: use a whole number from ${min} to ${max}`,
      { option: name, value, min, max },
    );
  }
}

function checkMemoryFits(memory: MemoryPlan | undefined, limits: InvocationLimits): void {
  if (memory === undefined) return;
  const needBytes = memory.minPages * WASM_PAGE_BYTES;
  if (needBytes <= limits.maxMemoryBytes) return;
  throw new IsolaError(
    'E_MEMORY_LIMIT',
    `the module's memory starts at ${needBytes} bytes, more than maxMemoryBytes (${limits.maxMemoryBytes}): ` +
      `raise maxMemoryBytes to at least ${needBytes}`,
    { initialBytes: needBytes, limitBytes: limits.maxMemoryBytes },
  );
}

const START: Entry = Object.freeze({ kind: 'start' });

function entryOf(entry: InvokeRequest['entry'], module: LoadedModule): Entry {
  if (entry === undefined || entry === '_start') {
    if (module.kind !== 'command') {
      throw new IsolaError(
        'E_MODULE_NO_START',
        'the module exports no _start function, so it is not a WASI command: invoke one of its exported functions',
        { exports: module.exports.filter((e) => e.kind === 'function').map((e) => e.name) },
      );
    }
    return START;
  }
  const exported = module.exports.find((e) => e.name === entry.function && e.kind === 'function');
  if (exported === undefined) {
    throw new IsolaError(
      'E_ARGUMENT_INVALID',
      `the module exports no function named "${entry.function}": invoke one of ${module.exports
        .filter((e) => e.kind === 'function' && e.name !== '_initialize')
        .map((e) => e.name)
        .join(', ')}`,
      { function: entry.function },
    );
  }
  return { kind: 'function', name: entry.function, args: entry.args ?? [] };
}

const FRESH: InstanceMode = Object.freeze({ kind: 'fresh' });

function instanceModeOf(mode: InvokeRequest['instance'], entry: Entry): InstanceMode {
  if (mode === undefined || mode === 'fresh') return FRESH;
  checkOption('instance.reuse', mode.reuse, 1, MAX_REUSE_INVOCATIONS);
  if (entry.kind === 'start') {
    throw new IsolaError(
      'E_ARGUMENT_INVALID',
      "a WASI command's _start runs once per instance, so its instance cannot be reused: " +
        'export a function from a reactor and invoke that, or use a fresh instance',
      {},
    );
  }
  return { kind: 'reuse', invocations: mode.reuse };
}

/** `metrics.worker` of an invocation that ran inline, on the calling thread. */
export const INLINE_WORKER = -1;

/**
 * Whether running `config` twice is the same as running it once, so that an inline run stopped
 * midway can start over on a worker: a fresh instance, stdin that is all there (bytes), and
 * nothing it can write to but its own output (a key-value store is shared state: never replayable).
 */
function isReplayable(config: InvocationConfig): boolean {
  return (
    config.instance.kind === 'fresh' &&
    config.stdin.kind !== 'stream' &&
    config.dirs.every((dir) => dir.readOnly) &&
    config.keyValue.length === 0
  );
}

const NO_DELIVERIES: BundleDelivery[] = [];
const NO_BUNDLE_GRANTS: readonly BundleGrant[] = Object.freeze([]);

function bundleGrantsOf(grants: InvokeRequest['bundles']): readonly BundleGrant[] {
  if (grants === undefined || grants.length === 0) return NO_BUNDLE_GRANTS;
  return grants.map(({ bundle, guestPath }) => ({
    digest: typeof bundle === 'string' ? bundle : bundle.digest,
    guestPath,
  }));
}

/** sha256 over the files in path order, each as its path, a NUL, its length, a NUL and its bytes. */
function bundleDigest(files: Readonly<Record<string, Uint8Array>>): string {
  const hash = createHash('sha256');
  for (const path of Object.keys(files).sort()) {
    const bytes = files[path] as Uint8Array;
    hash.update(`${path}\0${bytes.byteLength}\0`).update(bytes);
  }
  return hash.digest('hex');
}

const NO_STDIN: StdinPlan = Object.freeze({ kind: 'none' });

function stdinOf(
  stdin: InvokeRequest['stdin'],
  limits: InvocationLimits,
): { plan: StdinPlan; stream: Readable | undefined } {
  if (stdin === undefined) return { plan: NO_STDIN, stream: undefined };
  if (stdin instanceof Readable) return { plan: { kind: 'stream' }, stream: stdin };
  const bytes = typeof stdin === 'string' ? new TextEncoder().encode(stdin) : stdin;
  if (bytes.length > limits.maxStdinBytes) {
    throw new IsolaError(
      'E_GUEST_INPUT_LIMIT',
      `stdin is ${bytes.length} bytes, more than maxStdinBytes (${limits.maxStdinBytes}): raise the limit or send less`,
      { bytes: bytes.length, limit: limits.maxStdinBytes },
    );
  }
  return { plan: { kind: 'bytes', bytes }, stream: undefined };
}

function envOf(env: InvokeRequest['env']): readonly (readonly [string, string])[] {
  if (env === undefined) return [];
  return Array.isArray(env) ? env : Object.entries(env);
}
