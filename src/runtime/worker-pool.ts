/**
 * The engine's worker threads, seen from the main thread: a fixed number of busy-able workers plus
 * warm spares, a bounded queue in front of them, and the deadline of every running invocation.
 *
 * - A worker runs one invocation at a time; the main thread dispatches the next as soon as it
 *   reports `done`. The deadline is armed at dispatch, so time spent queued does not count.
 * - A guest past its deadline is stopped by terminating its worker (nothing else interrupts Wasm
 *   code); a warm spare takes the worker's place at once, and a new spare starts a second later,
 *   so other invocations keep flowing.
 * - A worker that crashes fails its invocation with E_WORKER_CRASHED and is replaced the same way.
 * - Past `maxQueue` waiting invocations, `submit` refuses at once with E_OVERLOADED rather than
 *   buffer without end.
 * - `close()` lets queued and running invocations finish, then stops the workers; `destroy()`
 *   fails them with E_ENGINE_CLOSED and stops the workers now. Both are idempotent.
 *
 * A task is a preview1 module's invocation or a component's request; all of the above holds for
 * both, and only the message that carries a task to its worker differs.
 */
import type { Readable } from 'node:stream';
import type { Worker } from 'node:worker_threads';
import type { CompiledComponent } from '../component/transpile.js';
import { IsolaError } from '../errors.js';
import type { SyncStoreHandle } from '../kv/key-value-store.js';
import { transferListOf } from '../kv/worker-handle.js';
import type { InvocationLimits } from '../limits.js';
import { createStdinChannel, type StdinChannel, StdinRelay } from './command-stdio.js';
import { createHostCallChannel, type HostCall, type HostCallServerEnd } from './host-call.js';
import type { MemoryPoolOptions } from './memory-pool.js';
import { createOutputBuffers, type OutputBuffers, unsentOutput } from './output-buffer.js';
import type {
  BundleDelivery,
  ComponentCall,
  DoneMessage,
  FromWorker,
  InvocationConfig,
  MemoryPlan,
  Outcome,
  ResponseHead,
  ToWorker,
  WorkerSetup,
} from './protocol.js';
import { toInvokeMessage } from './protocol.js';
import { spawnWorker } from './spawn-worker.js';

export interface WorkerPoolOptions {
  /** Workers running invocations. */
  workers: number;
  /** Started, idle workers kept to replace a terminated or crashed one at once. */
  spares: number;
  /** Invocations that may wait for a worker; one more is refused with E_OVERLOADED. */
  maxQueue: number;
  /** How each worker keeps recycled memories. */
  memoryPool: MemoryPoolOptions;
  /** The nice value of worker threads. */
  nice: number;
  /** Makes each new worker its handle on the engine's key-value store. Default: no store. */
  keyValue?: () => SyncStoreHandle;
}

/** One invocation as the pool handles it. */
export type Task = ModuleTask | ComponentTask;

interface TaskBase {
  id: number;
  /** The module's or component's digest: a worker is sent the compiled code once per digest. */
  digest: string;
  /** The invocation's limits; its deadline is `limits.timeoutMs` from when it starts. */
  limits: InvocationLimits;
  /** Every bundle the invocation mounts, to send to a worker that has not had it yet. */
  bundles: readonly BundleDelivery[];
  onOutput(stream: 1 | 2, chunk: Uint8Array): void;
  /** Serves a call the guest's host functions make to the main thread; none: every call fails. */
  onHostCall?(call: HostCall): Promise<unknown>;
  /** `done` is the worker's answer; undefined when the task ended without one (deadline, crash, destroy). */
  onDone(outcome: Outcome, done: DoneMessage | undefined, worker: number, startedAt: number): void;
}

/** A preview1 module's invocation. */
export interface ModuleTask extends TaskBase {
  kind: 'module';
  module: WebAssembly.Module;
  memory: MemoryPlan | undefined;
  config: InvocationConfig;
  /** The stream a `stream` stdin plan reads from. */
  stdin: Readable | undefined;
}

/** A request to a wasi:http component. */
export interface ComponentTask extends TaskBase {
  kind: 'component';
  component: CompiledComponent;
  request: ComponentCall;
  /** The stream a `stream` request body is read from, as the guest reads it. */
  body: Readable | undefined;
  /** The component set its response: the head, before any of the body. */
  onHead(head: ResponseHead): void;
  /** Bytes of the response body, in order. */
  onBody(chunk: Uint8Array): void;
}

interface Slot {
  worker: Worker;
  index: number;
  stdin: StdinChannel;
  /** Slot 0: the id of the invocation the worker is running now, written by the worker. */
  running: Int32Array;
  /** Digests whose compiled module or component this worker already holds. */
  modules: Set<string>;
  /** Digests of the bundles this worker already holds. */
  bundles: Set<string>;
  /** Sent and not yet done, in order: the first is running, the rest wait inside the worker. */
  tasks: Task[];
  /** When the first task started, as far as this thread knows. */
  startedAt: number;
  /**
   * Whether the worker has said it listens. Invocations may be sent before (they wait in its
   * port), but a deadline starts only once the worker can run: booting (~60 ms, more under tsx)
   * is not the guest's time.
   */
  ready: boolean;
  relay: StdinRelay | undefined;
  /** Where the answers to the worker's host calls go. */
  hostCalls: HostCallServerEnd;
  timer: NodeJS.Timeout | undefined;
  /** Unsent guest output, readable here once the worker has stopped. */
  output: OutputBuffers;
  /** The limits that went with this worker's previous module invocation (sent again only when they change). */
  limits: InvocationLimits | undefined;
  /** Set once the worker is being stopped: the invocation it was running, settled when it exits. */
  stopping: { task: Task; outcome: Outcome; startedAt: number } | undefined;
}

/** How long after a spare is used its replacement starts (see `#topUpSparesLater`). */
const SPARE_TOP_UP_DELAY_MS = 1000;

/** How long a stopped worker may take to exit before its invocation is settled without it. */
const EXIT_GRACE_MS = 1000;

/**
 * Invocations sent to one worker ahead of time. With one, a worker sleeps through a message round
 * trip between invocations (~50 µs here, more than hello's own work); with two, the next one is
 * already waiting when it finishes. A second invocation only goes to a worker when every worker
 * is busy, and one stuck behind a guest that is stopped at its deadline is sent elsewhere.
 */
const PIPELINE_DEPTH = 2;

export class WorkerPool {
  readonly #options: WorkerPoolOptions;
  readonly #slots: Slot[] = [];
  readonly #spares: Slot[] = [];
  readonly #queue: Task[] = [];
  #nextIndex = 0;
  #closing: Promise<void> | undefined;
  #drained: (() => void) | undefined;
  #destroyed = false;
  #spareTimer: NodeJS.Timeout | undefined;
  /** Workers stopped at a deadline whose invocation is settled when they exit. */
  readonly #stoppingSlots = new Set<Slot>();

  constructor(options: WorkerPoolOptions) {
    this.#options = options;
    for (let i = 0; i < options.workers; i++) this.#slots.push(this.#spawn());
    for (let i = 0; i < options.spares; i++) this.#spares.push(this.#spawn());
  }

  /** Runs the task on a worker, or queues it; throws E_OVERLOADED or E_ENGINE_CLOSED. */
  submit(task: Task): void {
    if (this.#closing !== undefined || this.#destroyed) {
      throw new IsolaError(
        'E_ENGINE_CLOSED',
        'the engine is closed: create a new one to run more invocations',
      );
    }
    const slot = this.#slotFor();
    if (slot !== undefined) {
      this.#send(slot, task);
      return;
    }
    if (this.queued >= this.#options.maxQueue) {
      throw new IsolaError(
        'E_OVERLOADED',
        `all ${this.#slots.length} workers are busy and ${this.queued} invocations are waiting: retry later, or raise maxQueue or workers`,
        { workers: this.#slots.length, queued: this.queued, maxQueue: this.#options.maxQueue },
      );
    }
    this.#queue.push(task);
  }

  /** An idle worker, else one with room in its pipeline, else none. */
  #slotFor(): Slot | undefined {
    let candidate: Slot | undefined;
    for (const slot of this.#slots) {
      if (slot.tasks.length === 0) return slot;
      if (candidate === undefined && slot.tasks.length < PIPELINE_DEPTH) candidate = slot;
    }
    return candidate;
  }

  /** Tells every worker to drop a module or a bundle. */
  forget(digest: string): void {
    for (const slot of [...this.#slots, ...this.#spares]) {
      if (!slot.modules.delete(digest) && !slot.bundles.delete(digest)) continue;
      slot.worker.postMessage({ op: 'forget', digest } satisfies ToWorker);
    }
  }

  get queued(): number {
    return this.#queue.length;
  }

  get running(): number {
    let running = 0;
    for (const slot of this.#slots) running += slot.tasks.length;
    return running;
  }

  get workers(): number {
    return this.#slots.length;
  }

  close(): Promise<void> {
    if (this.#closing === undefined) {
      this.#closing = new Promise<void>((resolve) => {
        this.#drained = resolve;
      }).then(() => this.#stopAll());
      this.#checkDrained();
    }
    return this.#closing;
  }

  async destroy(): Promise<void> {
    if (this.#destroyed) return;
    this.#destroyed = true;
    const error = new IsolaError(
      'E_ENGINE_CLOSED',
      'the engine was destroyed before this invocation finished',
    );
    for (const task of this.#queue.splice(0)) this.#fail(task, error, -1, performance.now());
    for (const slot of this.#slots) {
      const tasks = slot.tasks.splice(0);
      const startedAt = slot.startedAt;
      this.#stopDeadline(slot);
      for (const task of tasks) this.#fail(task, error, slot.index, startedAt);
    }
    await this.#stopAll();
    for (const slot of this.#stoppingSlots) this.#settleStopped(slot);
    this.#drained?.();
  }

  #spawn(): Slot {
    const stdin = createStdinChannel(false);
    const output = createOutputBuffers();
    const running = new Int32Array(new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT));
    const index = this.#nextIndex++;
    const hostCalls = createHostCallChannel();
    const keyValue = this.#options.keyValue?.();
    const worker = spawnWorker('engine-worker', {
      workerData: {
        index,
        stdin,
        running: running.buffer as SharedArrayBuffer,
        output,
        memoryPool: this.#options.memoryPool,
        nice: this.#options.nice,
        keyValue,
        hostCalls: hostCalls.worker,
      } satisfies WorkerSetup,
      transferList: [hostCalls.worker.port, ...(keyValue === undefined ? [] : transferListOf(keyValue))],
      // Guest output reaches the main thread as messages, never through the worker's own stdio.
      stdout: true,
      stderr: true,
    });
    const slot: Slot = {
      worker,
      index,
      stdin,
      running,
      modules: new Set(),
      bundles: new Set(),
      tasks: [],
      startedAt: 0,
      ready: false,
      relay: undefined,
      hostCalls: hostCalls.main,
      timer: undefined,
      output,
      limits: undefined,
      stopping: undefined,
    };
    worker.on('message', (message: FromWorker) => this.#onMessage(slot, message));
    worker.once('error', (error) => this.#onCrash(slot, `failed: ${error.message}`));
    worker.once('exit', (code) => {
      slot.hostCalls.close();
      if (slot.stopping !== undefined) this.#settleStopped(slot);
      else this.#onCrash(slot, `exited with code ${code}`);
    });
    worker.unref();
    return slot;
  }

  #send(slot: Slot, task: Task): void {
    slot.tasks.push(task);
    // A worker with work keeps the process alive (its deadline timer may not be armed yet).
    if (slot.tasks.length === 1) slot.worker.ref();
    if (slot.tasks.length === 1 && slot.ready) this.#started(slot);
    const first = !slot.modules.has(task.digest);
    if (first) slot.modules.add(task.digest);
    const deliveries = task.bundles.filter((bundle) => !slot.bundles.has(bundle.digest));
    for (const delivery of deliveries) slot.bundles.add(delivery.digest);
    if (task.kind === 'component') {
      slot.worker.postMessage({
        op: 'component',
        id: task.id,
        digest: task.digest,
        component: first ? task.component : undefined,
        request: task.request,
        deliveries: deliveries.length > 0 ? deliveries : undefined,
      } satisfies ToWorker);
      return;
    }
    const module = first ? { module: task.module, memory: task.memory } : undefined;
    slot.worker.postMessage(
      toInvokeMessage(task.id, task.digest, task.config, slot.limits, module, deliveries) satisfies ToWorker,
    );
    slot.limits = task.config.limits;
  }

  /** The slot's first task has started: arm its deadline and its stdin relay. */
  #started(slot: Slot): void {
    const task = slot.tasks[0] as Task;
    slot.startedAt = performance.now();
    const stream = task.kind === 'module' ? task.config.stdin.kind === 'stream' && task.stdin : task.body;
    if (stream) slot.relay = new StdinRelay(slot.stdin, stream, task.limits.maxStdinBytes);
    const timeoutMs = task.limits.timeoutMs;
    slot.timer = setTimeout(() => this.#onTimeout(slot, task, timeoutMs), timeoutMs);
  }

  #onMessage(slot: Slot, message: FromWorker): void {
    if (message.op === 'ready') {
      slot.ready = true;
      if (slot.tasks.length > 0 && slot.stopping === undefined) this.#started(slot);
      return;
    }
    if (message.op === 'stdin-read') {
      if (slot.relay !== undefined) void slot.relay.serve(message);
      return;
    }
    if (message.op === 'host-call') {
      const task = slot.stopping === undefined ? slot.tasks[0] : undefined;
      void slot.hostCalls.answer(message.seq, async () => {
        if (task?.id !== message.id || task.onHostCall === undefined) {
          throw new IsolaError(
            'E_INTERNAL',
            `invocation ${message.id} made a ${message.call.kind} call the engine cannot serve`,
            { id: message.id },
          );
        }
        return task.onHostCall(message.call);
      });
      return;
    }
    // What the worker sent before it was stopped still belongs to the stopped invocation.
    const task = slot.stopping === undefined ? slot.tasks[0] : slot.stopping.task;
    if (task === undefined || message.id !== task.id) return;
    if (message.op === 'output') {
      task.onOutput(message.stream, message.chunk);
      return;
    }
    if (message.op === 'response-head' || message.op === 'response-body') {
      if (task.kind !== 'component') return;
      if (message.op === 'response-head') task.onHead(message.head);
      else task.onBody(message.chunk);
      return;
    }
    if (slot.stopping === undefined) this.#finish(slot, task, message);
  }

  #finish(slot: Slot, task: Task, done: DoneMessage): void {
    const startedAt = slot.startedAt;
    this.#stopDeadline(slot);
    slot.tasks.shift();
    if (slot.tasks.length > 0) this.#started(slot);
    else slot.worker.unref();
    if (done.stdout !== undefined) task.onOutput(1, done.stdout);
    if (done.stderr !== undefined) task.onOutput(2, done.stderr);
    task.onDone(done.outcome, done, slot.index, startedAt);
    this.#refill(slot);
  }

  /** Stops the first task's deadline and stdin relay. */
  #stopDeadline(slot: Slot): void {
    clearTimeout(slot.timer);
    slot.timer = undefined;
    slot.relay?.close();
    slot.relay = undefined;
  }

  /** Sends queued tasks to the slot while it has room. */
  #refill(slot: Slot): void {
    if (this.#destroyed) return;
    while (slot.tasks.length < PIPELINE_DEPTH) {
      const task = this.#queue.shift();
      if (task === undefined) break;
      this.#send(slot, task);
    }
    this.#checkDrained();
  }

  /**
   * The first task ran past its deadline: its worker is terminated and replaced now, and the task
   * is settled when the worker has exited, with the output it wrote before the deadline.
   */
  #onTimeout(slot: Slot, task: Task, timeoutMs: number): void {
    if (slot.tasks[0] !== task) return;
    slot.stopping = { task, outcome: { kind: 'timeout', afterMs: timeoutMs }, startedAt: slot.startedAt };
    this.#stoppingSlots.add(slot);
    const waiting = this.#evict(slot);
    setTimeout(() => this.#settleStopped(slot), EXIT_GRACE_MS).unref();
    this.#rescue(slot, waiting);
  }

  /** Settles a stopped worker's invocation once, with the output it left unsent. */
  #settleStopped(slot: Slot): void {
    const stopping = slot.stopping;
    if (stopping === undefined) return;
    slot.stopping = undefined;
    this.#stoppingSlots.delete(slot);
    for (const stream of [1, 2] as const) {
      const unsent = unsentOutput(slot.output, stream);
      if (unsent !== undefined) stopping.task.onOutput(stream, unsent);
    }
    stopping.task.onDone(stopping.outcome, undefined, slot.index, stopping.startedAt);
    this.#checkDrained();
  }

  #onCrash(slot: Slot, how: string): void {
    const spare = this.#spares.indexOf(slot);
    if (spare !== -1) {
      // A spare that dies idle is simply replaced.
      this.#spares.splice(spare, 1);
      this.#topUpSparesLater();
      return;
    }
    if (!this.#slots.includes(slot)) return;
    const task = slot.tasks[0];
    const startedAt = slot.startedAt;
    const waiting = this.#evict(slot);
    if (task !== undefined) {
      const error = new IsolaError(
        'E_WORKER_CRASHED',
        `the worker running this invocation ${how}; the pool replaced it`,
        { worker: slot.index },
      );
      slot.stopping = { task, outcome: { kind: 'error', error: error.toJSON() }, startedAt };
      this.#settleStopped(slot);
    }
    this.#rescue(slot, waiting);
  }

  /**
   * Takes a slot's tasks away and terminates its worker, putting a warm spare (or a new worker)
   * in its place. Returns the tasks that were waiting behind the first.
   */
  #evict(slot: Slot): Task[] {
    this.#stopDeadline(slot);
    const waiting = slot.tasks.splice(0).slice(1);
    const position = this.#slots.indexOf(slot);
    void slot.worker.terminate();
    if (position !== -1 && !this.#destroyed) {
      this.#slots[position] = this.#spares.shift() ?? this.#spawn();
      this.#topUpSparesLater();
    }
    return waiting;
  }

  /**
   * Starts the spares that are missing, a little later. Booting a worker costs ~60 ms of CPU
   * here; a guest that loops into its deadline over and over would otherwise have a spare booting
   * beside every invocation it makes, taking a core from the other apps. Meanwhile a worker that
   * must be replaced is started cold.
   */
  #topUpSparesLater(): void {
    if (this.#spareTimer !== undefined || this.#stopped) return;
    this.#spareTimer = setTimeout(() => {
      this.#spareTimer = undefined;
      if (this.#stopped) return;
      while (this.#spares.length < this.#options.spares) this.#spares.push(this.#spawn());
    }, SPARE_TOP_UP_DELAY_MS);
    this.#spareTimer.unref();
  }

  /**
   * Tasks that waited behind an evicted task go back to the front of the queue, unless the worker
   * had already started one (its first task finished as it was being stopped): that one may have
   * had effects, so it fails rather than run twice.
   */
  #rescue(slot: Slot, waiting: Task[]): void {
    const startedId = Atomics.load(slot.running, 0);
    const requeue: Task[] = [];
    for (const task of waiting) {
      if (task.id !== startedId) {
        requeue.push(task);
        continue;
      }
      const error = new IsolaError(
        'E_WORKER_CRASHED',
        'the worker running this invocation was stopped as it began (the invocation before it ran past its deadline); retry it',
        { worker: slot.index },
      );
      this.#fail(task, error, slot.index, performance.now());
    }
    this.#queue.unshift(...requeue);
    for (const other of this.#slots) if (!this.#destroyed) this.#refill(other);
  }

  #fail(task: Task, error: IsolaError, worker: number, startedAt: number): void {
    task.onDone({ kind: 'error', error: error.toJSON() }, undefined, worker, startedAt);
  }

  #checkDrained(): void {
    if (this.#drained !== undefined && this.queued === 0 && this.running === 0 && !this.#stopping)
      this.#drained();
  }

  /** Whether a stopped worker's invocation is still to be settled. */
  get #stopping(): boolean {
    return this.#stoppingSlots.size > 0;
  }

  get #stopped(): boolean {
    return this.#destroyed || (this.#closing !== undefined && this.queued === 0 && this.running === 0);
  }

  async #stopAll(): Promise<void> {
    clearTimeout(this.#spareTimer);
    const all = [...this.#slots, ...this.#spares];
    this.#slots.length = 0;
    this.#spares.length = 0;
    await Promise.all(all.map((slot) => slot.worker.terminate()));
  }
}
