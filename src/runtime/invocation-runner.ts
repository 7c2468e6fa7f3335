/**
 * The work one engine worker thread does for each invocation, kept apart from the message port so
 * that it reads (and can be tested) as plain synchronous code: build the WASI context from the
 * invocation's grants, take a zeroed memory from the pool, instantiate, run the entry point,
 * measure, and report one outcome. Output is coalesced into chunks and streamed through `post` as
 * the guest writes, so a large response flows before the guest finishes while a small one costs
 * a single message at the end.
 */
import { IsolaError } from '../errors.js';
import type { SyncKeyValueStore } from '../kv/key-value-store.js';
import type { SyncKeyValueBucket } from '../kv/store.js';
import {
  INVOCATION_LIMIT_DEFAULTS,
  type InvocationLimits,
  WASI_LIMIT_DEFAULTS,
  WASM_PAGE_BYTES,
  type WasiLimits,
} from '../limits.js';
import { ForwardingPreview1 } from '../wasi/forwarding.js';
import {
  bytesSource,
  createKeyValueDirectory,
  emptySource,
  type InputSource,
  MemoryBundle,
  type OutputSink,
  ProcExit,
  type Wasi,
  WasiBuilder,
} from '../wasi/index.js';
import { fuelGlobal } from '../wasm/fuel.js';
import { MemoryPool, type MemoryPoolOptions } from './memory-pool.js';
import { outcomeOf } from './outcome.js';
import { ChunkCoalescer, createOutputBuffers, type OutputBuffers, OutputRegion } from './output-buffer.js';
import type {
  BundleDelivery,
  DoneMessage,
  Entry,
  InvocationConfig,
  InvokeMessage,
  MemoryPlan,
  Outcome,
  OutputMessage,
  WorkerMetrics,
} from './protocol.js';
import { fromInvokeMessage } from './protocol.js';

interface LoadedModule {
  module: WebAssembly.Module;
  memory: MemoryPlan | undefined;
}

/** An instance kept for more invocations (reuse mode). */
interface ReusedInstance {
  instance: WebAssembly.Instance;
  memory: WebAssembly.Memory | undefined;
  remaining: number;
}

/** One invocation being run: its config, its output and what is measured. */
interface Running {
  config: InvocationConfig;
  stdout: ChunkedSink;
  stderr: ChunkedSink;
  metrics: WorkerMetrics;
}

export interface RunnerPorts {
  /** Sends an output chunk to the main thread. */
  post(message: OutputMessage): void;
  /** Stdin for an invocation fed from a stream (the worker's relayed channel). */
  streamedStdin(): InputSource;
  /** The engine's key-value store, for invocations granted buckets of it; absent: none is granted. */
  keyValue?(): SyncKeyValueStore;
}

export class InvocationRunner {
  readonly #ports: RunnerPorts;
  readonly #modules = new Map<string, LoadedModule>();
  readonly #bundles = new Map<string, MemoryBundle>();
  readonly #memories: MemoryPool;
  readonly #reused = new Map<string, ReusedInstance>();
  /** Every instance this worker makes imports these, so V8 sees the same functions each time. */
  readonly #preview1 = new ForwardingPreview1();
  /** Unsent stdout and stderr, shared with the main thread; allocated once, as zeroing 64 KiB costs more than hello. */
  readonly #output: readonly [OutputRegion, OutputRegion];
  /** The previous invocation's limits, for messages that leave them out. */
  #limits: InvocationLimits = INVOCATION_LIMIT_DEFAULTS;
  /** The WASI part of `#limits`, picked out once per change rather than per invocation. */
  #wasiLimits: WasiLimits = wasiLimitsOf(INVOCATION_LIMIT_DEFAULTS);

  /** Fuel each fresh instance starts with, for modules built with fuel metering (the inline lane). */
  readonly #fuel: bigint | undefined;
  /** Whether a guest call that would sleep ends the instance instead (the inline lane). */
  readonly #refuseWaiting: boolean;

  /** `memoryPool`: options for a pool of its own, or the thread's pool (shared with its components). */
  constructor(
    ports: RunnerPorts,
    output: OutputBuffers = createOutputBuffers(),
    memoryPool: MemoryPool | Partial<MemoryPoolOptions> = {},
    metering: { fuel?: bigint; refuseWaiting?: boolean } = {},
  ) {
    this.#ports = ports;
    this.#fuel = metering.fuel;
    this.#refuseWaiting = metering.refuseWaiting ?? false;
    this.#output = [new OutputRegion(output, 1), new OutputRegion(output, 2)];
    this.#memories = memoryPool instanceof MemoryPool ? memoryPool : new MemoryPool(memoryPool);
  }

  /** Runs one invocation to its end. Never throws: everything that happens is in the outcome. */
  run(message: InvokeMessage): DoneMessage {
    const first =
      message.module === undefined ? undefined : { module: message.module, memory: message.memory };
    const config = fromInvokeMessage(message, this.#limits);
    return this.runConfig(message.id, message.digest, config, first, message.deliveries);
  }

  /**
   * `run` for a caller on the same thread (the inline lane), with the config as it is rather than
   * flattened into a message.
   */
  runConfig(
    id: number,
    digest: string,
    config: InvocationConfig,
    first?: { module: WebAssembly.Module; memory: MemoryPlan | undefined },
    deliveries?: readonly BundleDelivery[],
  ): DoneMessage {
    if (config.limits !== this.#limits) {
      this.#limits = config.limits;
      this.#wasiLimits = wasiLimitsOf(config.limits);
    }
    if (first !== undefined) this.#modules.set(digest, first);
    if (deliveries !== undefined) this.receiveBundles(deliveries);
    const loaded = this.#modules.get(digest);
    const stdout = new ChunkedSink(id, 1, this.#ports, this.#output[0]);
    const stderr = new ChunkedSink(id, 2, this.#ports, this.#output[1]);
    const metrics: WorkerMetrics = {
      instantiateMs: 0,
      runMs: 0,
      peakMemoryBytes: 0,
      maxMemoryBytes: 0,
      reusedInstance: false,
    };
    let outcome: Outcome;
    if (loaded === undefined) {
      outcome = outcomeOf(new Error(`module ${digest} was never sent to this worker`));
    } else if (config.instance.kind === 'reuse') {
      outcome = this.#runReused(
        digest,
        loaded,
        { config, stdout, stderr, metrics },
        config.instance.invocations,
      );
    } else {
      outcome = this.#runFresh(digest, loaded, { config, stdout, stderr, metrics });
    }
    return { op: 'done', id, outcome, ...metrics, stdout: stdout.rest(), stderr: stderr.rest() };
  }

  /** A new instance on a pooled memory, dropped afterwards; the memory goes back zeroed. */
  #runFresh(digest: string, loaded: LoadedModule, invocation: Running): Outcome {
    const maxPages = memoryMaxPages(loaded.memory, invocation.config);
    const poolKey = `${digest}:${maxPages}`;
    let memory: WebAssembly.Memory | undefined;
    let fuel: WebAssembly.Global | undefined;
    let outcome = this.#execute(invocation, () => {
      if (loaded.memory !== undefined)
        memory = this.#memories.take(poolKey, loaded.memory.minPages, maxPages);
      const instance = new WebAssembly.Instance(loaded.module, this.#imports(loaded.memory, memory));
      if (this.#fuel !== undefined) {
        fuel = fuelGlobal(instance);
        fuel.value = this.#fuel;
      }
      return { instance, memory, initialize: true };
    });
    if (fuel !== undefined && outcome.kind === 'trap' && (fuel.value as bigint) < 0n) {
      outcome = { kind: 'limit', limit: 'fuel', message: `the guest used its ${this.#fuel} units of fuel` };
    }
    if (memory !== undefined) {
      measureMemory(memory, maxPages, invocation.metrics);
      this.#memories.give(
        poolKey,
        memory,
        performance.now(),
        (loaded.memory?.minPages ?? 0) * WASM_PAGE_BYTES,
      );
    }
    return outcome;
  }

  /**
   * An instance kept for up to `invocations` calls. Each call still gets its own descriptors,
   * environment and stdio (its own `Wasi`, attached to the worker's forwarding imports); memory
   * and globals carry over, which is what the app asked for. An instance whose call failed in any
   * way is dropped, never reused.
   */
  #runReused(digest: string, loaded: LoadedModule, invocation: Running, invocations: number): Outcome {
    const maxPages = memoryMaxPages(loaded.memory, invocation.config);
    const key = `${digest}:${maxPages}`;
    let kept = this.#reused.get(key);
    const outcome = this.#execute(invocation, () => {
      const fresh = kept === undefined;
      if (kept === undefined) kept = this.#instantiateForReuse(loaded, maxPages, invocations);
      else invocation.metrics.reusedInstance = true;
      return { instance: kept.instance, memory: kept.memory, initialize: fresh };
    });
    if (kept?.memory !== undefined) measureMemory(kept.memory, maxPages, invocation.metrics);
    const healthy = outcome.kind === 'return' || (outcome.kind === 'exit' && outcome.code === 0);
    if (kept !== undefined && healthy && --kept.remaining > 0) this.#reused.set(key, kept);
    else this.#reused.delete(key);
    return outcome;
  }

  /**
   * Builds the invocation's WASI context, attaches it, gets an instance from `instantiate`, runs
   * the entry point, and measures both steps. Anything thrown becomes the outcome.
   */
  #execute(
    { config, stdout, stderr, metrics }: Running,
    instantiate: () => {
      instance: WebAssembly.Instance;
      memory: WebAssembly.Memory | undefined;
      initialize: boolean;
    },
  ): Outcome {
    const started = performance.now();
    let wasi: Wasi | undefined;
    const buckets: SyncKeyValueBucket[] = [];
    try {
      wasi = buildWasi(
        config,
        this.#wasiLimits,
        stdout,
        stderr,
        this.#ports,
        this.#bundles,
        this.#refuseWaiting,
        buckets,
      );
      this.#preview1.attach(wasi.preview1);
      const { instance, memory, initialize } = instantiate();
      const running = performance.now();
      metrics.instantiateMs = running - started;
      try {
        return runEntry(config.entry, instance, memory, wasi, initialize);
      } finally {
        metrics.runMs = performance.now() - running;
      }
    } catch (error) {
      return outcomeOf(error);
    } finally {
      this.#preview1.attach(undefined);
      try {
        // Files still open are written back to their buckets here, so the buckets close after.
        wasi?.close();
      } finally {
        for (const bucket of buckets) bucket.close();
      }
    }
  }

  #instantiateForReuse(loaded: LoadedModule, maxPages: number, invocations: number): ReusedInstance {
    const memory =
      loaded.memory === undefined
        ? undefined
        : new WebAssembly.Memory({ initial: loaded.memory.minPages, maximum: maxPages });
    const instance = new WebAssembly.Instance(loaded.module, this.#imports(loaded.memory, memory));
    return { instance, memory, remaining: invocations };
  }

  #imports(plan: MemoryPlan | undefined, memory: WebAssembly.Memory | undefined): WebAssembly.Imports {
    const imports: WebAssembly.Imports = { wasi_snapshot_preview1: this.#preview1.imports };
    if (plan !== undefined && memory !== undefined) {
      imports[plan.module] = { ...imports[plan.module], [plan.name]: memory };
    }
    return imports;
  }

  /** Keeps bundles sent to this thread, for this and later invocations (components' too) to mount. */
  receiveBundles(deliveries: readonly BundleDelivery[]): void {
    for (const delivery of deliveries) {
      this.#bundles.set(delivery.digest, MemoryBundle.fromTransfer(delivery.transfer));
    }
  }

  /** A bundle this thread was sent, if it still holds it. */
  bundle(digest: string): MemoryBundle | undefined {
    return this.#bundles.get(digest);
  }

  /** Drops a module, its pooled memories and its kept instances, or a bundle. */
  forget(digest: string): void {
    this.#modules.delete(digest);
    this.#bundles.delete(digest);
    this.#memories.forget(`${digest}:`);
    for (const key of this.#reused.keys()) if (key.startsWith(`${digest}:`)) this.#reused.delete(key);
  }

  /** Zeroes the memories invocations returned (call it after their results are sent). */
  cleanMemories(): void {
    this.#memories.clean();
  }

  /** Releases memory pools that have been idle, so an idle app holds no memory. */
  sweep(now: number): void {
    this.#memories.sweep(now);
  }

  get sweepIntervalMs(): number {
    return this.#memories.idleMs;
  }

  /** Memories held in the pool (for tests and metrics). */
  get pooledMemories(): number {
    return this.#memories.size;
  }
}

/** The instance's memory maximum: the module's own, lowered to the invocation's limit. */
function memoryMaxPages(plan: MemoryPlan | undefined, config: InvocationConfig): number {
  const cap = Math.floor(config.limits.maxMemoryBytes / WASM_PAGE_BYTES);
  return plan?.maxPages === undefined ? cap : Math.min(plan.maxPages, cap);
}

function measureMemory(memory: WebAssembly.Memory, maxPages: number, metrics: WorkerMetrics): void {
  const bytes = memory.buffer.byteLength;
  metrics.peakMemoryBytes = bytes;
  metrics.maxMemoryBytes = maxPages * WASM_PAGE_BYTES;
}

function buildWasi(
  config: InvocationConfig,
  wasiLimits: WasiLimits,
  stdout: ChunkedSink,
  stderr: ChunkedSink,
  ports: RunnerPorts,
  bundles: ReadonlyMap<string, MemoryBundle>,
  refuseWaiting: boolean,
  buckets: SyncKeyValueBucket[],
): Wasi {
  const builder = new WasiBuilder()
    .args(config.args)
    .resolvedLimits(wasiLimits)
    .stdout(stdout)
    .stderr(stderr)
    .stdin(stdinSource(config, stdout, stderr, ports));
  for (const [name, value] of config.env) builder.env(name, value);
  if (refuseWaiting) builder.refuseWaiting(wouldBlock);
  for (const dir of config.dirs) builder.preopenDir(dir.hostPath, dir.guestPath, { readOnly: dir.readOnly });
  for (const grant of config.bundles) {
    const bundle = bundles.get(grant.digest);
    if (bundle === undefined) throw new Error(`bundle ${grant.digest} was never sent to this thread`);
    builder.preopenBundle(grant.guestPath, bundle);
  }
  if (config.keyValue.length > 0) {
    if (ports.keyValue === undefined)
      throw new Error('a key-value store was granted, but this thread has none');
    const store = ports.keyValue();
    for (const grant of config.keyValue) {
      const bucket = store.open(grant.app, grant.label);
      buckets.push(bucket);
      builder.preopen(grant.guestPath, (limits) =>
        createKeyValueDirectory(bucket, { readOnly: grant.readOnly, limits, storeLimits: store.limits }),
      );
    }
  }
  return builder.build();
}

/**
 * The invocation's stdin. A streamed stdin flushes the output first: a guest that prompts and
 * then waits for input must have its prompt seen, or a conversation over the streams deadlocks.
 */
function stdinSource(
  config: InvocationConfig,
  stdout: ChunkedSink,
  stderr: ChunkedSink,
  ports: RunnerPorts,
): InputSource {
  if (config.stdin.kind === 'none') return emptySource;
  if (config.stdin.kind === 'bytes') return bytesSource(config.stdin.bytes);
  const relayed = ports.streamedStdin();
  return {
    read(buffer) {
      stdout.flush();
      stderr.flush();
      return relayed.read(buffer);
    },
    available: () => relayed.available(),
    isTerminal: relayed.isTerminal,
  };
}

function wouldBlock(): IsolaError {
  return new IsolaError(
    'E_INLINE_WOULD_BLOCK',
    'the guest asked to sleep on a thread that must not wait: it is run again on a worker',
  );
}

const WASI_LIMIT_NAMES = Object.keys(WASI_LIMIT_DEFAULTS) as (keyof WasiLimits)[];

function wasiLimitsOf(limits: WasiLimits): WasiLimits {
  const picked = {} as WasiLimits;
  for (const name of WASI_LIMIT_NAMES) picked[name] = limits[name];
  return picked;
}

/** Runs the entry point; `initialize` runs a reactor's `_initialize` first (a new instance). */
function runEntry(
  entry: Entry,
  instance: WebAssembly.Instance,
  memory: WebAssembly.Memory | undefined,
  wasi: Wasi,
  initialize: boolean,
): Outcome {
  if (entry.kind === 'start') return { kind: 'exit', code: wasi.start(instance, memory) };
  try {
    if (initialize) wasi.initialize(instance, memory);
    else wasi.bind(memory ?? instance);
    const fn = instance.exports[entry.name] as (...args: (number | bigint)[]) => unknown;
    const result = fn(...entry.args);
    const values = result === undefined ? [] : Array.isArray(result) ? result : [result];
    return { kind: 'return', values: values as (number | bigint)[] };
  } catch (error) {
    if (error instanceof ProcExit) return { kind: 'exit', code: error.code };
    throw error;
  }
}

/**
 * Stdout or stderr of one invocation: small writes are coalesced into a chunk, which is posted
 * when it fills, when the guest writes again after `OUTPUT_FLUSH_MS`, and at the end (as part of
 * the `done` message, so a small guest costs no extra message).
 */
class ChunkedSink implements OutputSink {
  readonly isTerminal = false;
  readonly #chunks: ChunkCoalescer;

  constructor(id: number, stream: 1 | 2, ports: RunnerPorts, region: OutputRegion) {
    region.length = 0;
    this.#chunks = new ChunkCoalescer(
      () => region.bytes,
      (chunk) => ports.post({ op: 'output', id, stream, chunk }),
      // The region's length tells the main thread what is unsent if this thread is stopped.
      (length) => {
        region.length = length;
      },
    );
  }

  write(data: Uint8Array): void {
    this.#chunks.write(data);
  }

  /** Posts what is buffered, if anything. */
  flush(): void {
    this.#chunks.flush();
  }

  /** Takes what is buffered, for the `done` message (nothing, after `flush`). */
  rest(): Uint8Array | undefined {
    return this.#chunks.rest();
  }
}
