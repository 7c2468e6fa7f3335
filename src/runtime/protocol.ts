/**
 * What the engine and its worker threads say to each other, and the shapes an invocation is
 * described and reported in. Everything here is plain, structured-clonable data: a config crosses
 * the thread boundary with each invocation, an outcome and its metrics come back.
 *
 * Named operations, one reply per call (STYLE.md, habit 10):
 * - main → worker: `invoke` (with the compiled module, and the bundles it mounts, the first time
 *   this worker sees them), `component` (one wasi:http request for a component, with the compiled
 *   component the first time), `forget` (a module, component or bundle was unloaded: drop it and
 *   its pooled memories).
 * - worker → main: `output` (a chunk of stdout or stderr while the guest runs), `stdin-read` (the
 *   guest wants input, or a component's request body; answered through shared memory),
 *   `host-call` (a guest's host function needs the main thread, e.g. for an outbound request;
 *   answered on the worker's host-call channel, host-call.ts), `response-head` and then
 *   `response-body` chunks (a component's response as it streams, each a notice that needs no
 *   answer), then exactly one `done` per `invoke` or `component`. A component's `done` carries
 *   what of its response was not streamed yet: the head, if it was never sent, and the body's
 *   last bytes.
 */
import type { CompiledComponent } from '../component/transpile.js';
import type { SerializedError } from '../errors.js';
import type { SyncStoreHandle } from '../kv/index.js';
import type { InvocationLimits } from '../limits.js';
import type { MemoryBundleTransfer } from '../wasi/index.js';
import type { StdinChannel, StdinRequest } from './command-stdio.js';
import type { HostCallChannel, HostCallMessage } from './host-call.js';
import type { MemoryPoolOptions } from './memory-pool.js';
import type { OutputBuffers } from './output-buffer.js';

/** A host directory granted to the guest. */
export interface DirGrant {
  hostPath: string;
  guestPath: string;
  readOnly: boolean;
}

/**
 * Files from a bundle the engine holds in memory (`Engine.loadBundle`), mounted read-only at
 * `guestPath`: no host filesystem, no system call per file access.
 */
export interface BundleGrant {
  digest: string;
  guestPath: string;
}

/**
 * A key-value store granted to an invocation under its manifest label, holding `app`'s buckets
 * (the engine's store, `EngineOptions.keyValue`). A preview1 guest sees it as a directory at
 * `guestPath` (src/wasi/fs/kv-directory.ts); a component opens it by label (wasi:keyvalue).
 */
export interface KeyValueGrant {
  app: string;
  label: string;
  guestPath: string;
  readOnly: boolean;
}

/** A bundle as it is sent to a worker the first time one of its invocations mounts it. */
export interface BundleDelivery {
  digest: string;
  transfer: MemoryBundleTransfer;
}

/** What to run in the instance. */
export type Entry =
  /** A WASI command's `_start`: the outcome is its exit code. */
  | { kind: 'start' }
  /** An exported function of a reactor (after its `_initialize`), called with numeric arguments. */
  | { kind: 'function'; name: string; args: readonly (number | bigint)[] };

/** How instances are made. */
export type InstanceMode =
  /** A new instance per invocation: nothing one invocation writes is visible to the next. */
  | { kind: 'fresh' }
  /**
   * One instance serves up to `invocations` calls of an exported function, in the same worker, so
   * its memory and globals carry over between them. Opt-in, for apps that want it.
   */
  | { kind: 'reuse'; invocations: number };

/** How the guest's stdin is fed. */
export type StdinPlan =
  | { kind: 'none' }
  | { kind: 'bytes'; bytes: Uint8Array }
  /** Read from a stream on the main thread, on demand, through the worker's stdin channel. */
  | { kind: 'stream' };

/** Everything a worker needs to build one invocation's WASI context; plain data only. */
export interface InvocationConfig {
  /** The guest's argv, argv[0] included. */
  args: readonly string[];
  /** Environment variables, in order. */
  env: readonly (readonly [name: string, value: string])[];
  dirs: readonly DirGrant[];
  bundles: readonly BundleGrant[];
  keyValue: readonly KeyValueGrant[];
  limits: InvocationLimits;
  entry: Entry;
  instance: InstanceMode;
  stdin: StdinPlan;
}

/** How the module's linear memory is supplied: the import the engine fills with a pooled memory. */
export interface MemoryPlan {
  module: string;
  name: string;
  minPages: number;
  /** The module's own maximum, if it declares one; the invocation's limit may lower it. */
  maxPages: number | undefined;
}

/**
 * Why the host ended an invocation that broke one of its named limits. `fuel` is the inline
 * lane's budget (inline-lane.ts): the engine reruns such an invocation on a worker, so callers of
 * the engine never see it. The last five end a component (src/component/host/context.ts); a
 * preview1 guest gets an errno for the same excess instead.
 */
export type LimitName =
  | 'maxStdoutBytes'
  | 'maxStderrBytes'
  | 'maxStdinBytes'
  | 'fuel'
  | 'maxResources'
  | 'maxResponseBodyBytes'
  | 'maxFieldBytes'
  | 'maxPollables'
  | 'maxBytesPerCall';

/** How an invocation ended. Exactly one per invocation. */
export type Outcome =
  /** `_start` returned (code 0) or the guest called proc_exit. */
  | { kind: 'exit'; code: number }
  /** The exported function returned these values. */
  | { kind: 'return'; values: (number | bigint)[] }
  /** The guest trapped; `message` is the trap reason. */
  | { kind: 'trap'; message: string }
  /** The guest ran past its deadline and was stopped. */
  | { kind: 'timeout'; afterMs: number }
  /** The guest broke a limit the host enforces and was stopped. */
  | { kind: 'limit'; limit: LimitName; message: string }
  /** The host refused or failed: a link error, a crashed worker, a closed engine, a host bug. */
  | { kind: 'error'; error: SerializedError };

/** Where the time and memory of one invocation went. Times are in milliseconds, fractional. */
export interface InvocationMetrics {
  /** From `invoke()` until a worker took the invocation. */
  queueMs: number;
  /** Building the WASI context and instantiating (zero for a reused instance's later calls). */
  instantiateMs: number;
  /** Running the guest's entry point. */
  runMs: number;
  /** The guest's linear memory at its largest (memory only grows, so: at the end). */
  peakMemoryBytes: number;
  /**
   * The instance's memory maximum: the module's own, lowered to maxMemoryBytes. Memory grows in
   * steps, so a guest whose allocation failed at the cap shows a peak within one step below it.
   */
  maxMemoryBytes: number;
  stdoutBytes: number;
  stderrBytes: number;
  /** Whether an earlier invocation's instance served this one (reuse mode). */
  reusedInstance: boolean;
  /** Which worker ran it; -1 (`INLINE_WORKER`) when it ran inline, on the calling thread. */
  worker: number;
}

/** What a worker measures; the engine adds the queue wait and the worker number. */
export type WorkerMetrics = Omit<InvocationMetrics, 'queueMs' | 'worker' | 'stdoutBytes' | 'stderrBytes'>;

/**
 * One invocation on the wire. Flat, and without what the worker already has: structured clone
 * costs about a microsecond per object on each side, which at ~100k invocations a second is a
 * core's worth. `toInvokeMessage` and `fromInvokeMessage` convert.
 */
export interface InvokeMessage {
  op: 'invoke';
  id: number;
  digest: string;
  /** The compiled module and its memory plan, the first time this worker is asked to run it. */
  module: WebAssembly.Module | undefined;
  memory: MemoryPlan | undefined;
  args: readonly string[];
  /** Names and values, alternating: one array to clone instead of one per variable (a CGI request has ~25). */
  env: readonly string[];
  /** Undefined when there are none. */
  dirs: readonly DirGrant[] | undefined;
  /** Undefined when there are none. */
  bundles: readonly BundleGrant[] | undefined;
  /** Bundles this worker has not been sent yet; undefined when there are none. */
  deliveries: readonly BundleDelivery[] | undefined;
  /** Undefined when there are none. */
  keyValue: readonly KeyValueGrant[] | undefined;
  /** Undefined when the same (identical) limits went with this worker's previous invocation. */
  limits: InvocationLimits | undefined;
  /** Undefined for `_start`. */
  entry: Extract<Entry, { kind: 'function' }> | undefined;
  /** Calls one instance may serve (reuse mode); undefined for a fresh instance. */
  reuse: number | undefined;
  /** Bytes, `stream` for a streamed stdin, or undefined for none. */
  stdin: Uint8Array | 'stream' | undefined;
}

const START: Entry = Object.freeze({ kind: 'start' });
const FRESH: InstanceMode = Object.freeze({ kind: 'fresh' });
const NO_STDIN: StdinPlan = Object.freeze({ kind: 'none' });
const STREAM: StdinPlan = Object.freeze({ kind: 'stream' });
const NO_DIRS: readonly DirGrant[] = Object.freeze([]);
const NO_BUNDLES: readonly BundleGrant[] = Object.freeze([]);
const NO_STORES: readonly KeyValueGrant[] = Object.freeze([]);

/** The message for `config`, leaving out the limits when they are `lastLimits`. */
export function toInvokeMessage(
  id: number,
  digest: string,
  config: InvocationConfig,
  lastLimits: InvocationLimits | undefined,
  first: { module: WebAssembly.Module; memory: MemoryPlan | undefined } | undefined,
  deliveries?: readonly BundleDelivery[],
): InvokeMessage {
  return {
    op: 'invoke',
    id,
    digest,
    module: first?.module,
    memory: first?.memory,
    args: config.args,
    env: config.env.flat(),
    dirs: config.dirs.length === 0 ? undefined : config.dirs,
    bundles: config.bundles.length === 0 ? undefined : config.bundles,
    deliveries: deliveries?.length ? deliveries : undefined,
    keyValue: config.keyValue.length === 0 ? undefined : config.keyValue,
    limits: config.limits === lastLimits ? undefined : config.limits,
    entry: config.entry.kind === 'start' ? undefined : config.entry,
    reuse: config.instance.kind === 'reuse' ? config.instance.invocations : undefined,
    stdin:
      config.stdin.kind === 'bytes'
        ? config.stdin.bytes
        : config.stdin.kind === 'stream'
          ? 'stream'
          : undefined,
  };
}

/** The config a message describes, with `lastLimits` when it carries none. */
export function fromInvokeMessage(message: InvokeMessage, lastLimits: InvocationLimits): InvocationConfig {
  const { stdin } = message;
  return {
    args: message.args,
    env: pairs(message.env),
    dirs: message.dirs ?? NO_DIRS,
    bundles: message.bundles ?? NO_BUNDLES,
    keyValue: message.keyValue ?? NO_STORES,
    limits: message.limits ?? lastLimits,
    entry: message.entry ?? START,
    instance: message.reuse === undefined ? FRESH : { kind: 'reuse', invocations: message.reuse },
    stdin: stdin === undefined ? NO_STDIN : stdin === 'stream' ? STREAM : { kind: 'bytes', bytes: stdin },
  };
}

/** A module, a component or a bundle was unloaded: drop what is kept for it. */
export interface ForgetMessage {
  op: 'forget';
  digest: string;
}

/**
 * One wasi:http request for a component: a fresh instance handles it. Its response streams back
 * as `response-head` and `response-body` messages, and the worker ends it with one `done`.
 */
export interface ComponentMessage {
  op: 'component';
  id: number;
  digest: string;
  /** The compiled component, the first time this worker is asked to run it. */
  component: CompiledComponent | undefined;
  request: ComponentCall;
  /** Bundles this worker has not been sent yet; undefined when there are none. */
  deliveries: readonly BundleDelivery[] | undefined;
}

/** A request to a component, as plain data: the head, the body, and the instance's grants. */
export interface ComponentCall {
  method: string;
  /** Absolute: scheme, authority, path and query. */
  url: string;
  headers: readonly (readonly [name: string, value: string])[];
  /**
   * The whole body; `stream` for one read as the guest reads it, through the worker's stdin
   * channel (bounded by `limits.maxStdinBytes`); undefined for an empty body.
   */
  body: Uint8Array | 'stream' | undefined;
  env: readonly (readonly [name: string, value: string])[];
  bundles: readonly BundleGrant[];
  /** Stores the component may open with wasi:keyvalue (by label), holding `app`'s buckets; undefined for none. */
  keyValue: { app: string; labels: readonly string[] } | undefined;
  /** What wasi:config/store answers: the component's variables, by name. */
  config: readonly (readonly [name: string, value: string])[];
  /** Whether outgoing requests go to the main thread to be checked and sent; when false, each is denied here. */
  outbound: boolean;
  /** Always sent: a component request costs milliseconds, and one clone of its limits is noise there. */
  limits: InvocationLimits;
}

export type ToWorker = InvokeMessage | ComponentMessage | ForgetMessage;

export interface OutputMessage {
  op: 'output';
  id: number;
  stream: 1 | 2;
  chunk: Uint8Array;
}

/** A component's response head: status and header fields (names lowercase, values latin1). */
export interface ResponseHead {
  status: number;
  headers: [string, string][];
}

/** A component set its response: the head, sent before any of the body. */
export interface ResponseHeadMessage {
  op: 'response-head';
  id: number;
  head: ResponseHead;
}

/** Bytes of a component's response body, in order, after its `response-head`. */
export interface ResponseBodyMessage {
  op: 'response-body';
  id: number;
  chunk: Uint8Array;
}

/** What of a component's response its `done` brings that was not streamed before it. */
export interface ResponseRest {
  /** The head, when it was not sent in a `response-head`. */
  head: ResponseHead | undefined;
  /** The body's last bytes, not sent in a `response-body`. */
  body: Uint8Array | undefined;
  /** The component finished its body with trailers, which isola does not forward. */
  trailersIgnored: boolean;
}

/** The end of an invocation, with the worker's metrics as fields of the message itself (one object less to clone). */
export interface DoneMessage extends WorkerMetrics {
  op: 'done';
  id: number;
  outcome: Outcome;
  /** The output still buffered when the guest ended (most output of a small guest is only this). */
  stdout: Uint8Array | undefined;
  stderr: Uint8Array | undefined;
  /** The rest of a component's response, when its outcome is `return`; never set for a module's invocation. */
  response?: ResponseRest;
}

/** Sent once, when the worker listens: deadlines of invocations sent before it start only now. */
export interface ReadyMessage {
  op: 'ready';
}

export type FromWorker =
  | ReadyMessage
  | OutputMessage
  | ResponseHeadMessage
  | ResponseBodyMessage
  | DoneMessage
  | StdinRequest
  | HostCallMessage;

/** What a worker receives as `workerData`. */
export interface WorkerSetup {
  index: number;
  stdin: StdinChannel;
  /** One Int32: the worker stores the id of each invocation as it starts it. */
  running: SharedArrayBuffer;
  output: OutputBuffers;
  memoryPool: MemoryPoolOptions;
  /** The nice value the worker thread gives itself (Linux), so guests yield the CPU to the main thread. */
  nice: number;
  /** The engine's key-value store, opened in the worker when a guest is first granted one. */
  keyValue: SyncStoreHandle | undefined;
  /** Calls a guest's host functions make to the main thread (outbound HTTP). */
  hostCalls: HostCallChannel;
}

function pairs(flat: readonly string[]): [string, string][] {
  const result: [string, string][] = [];
  for (let i = 0; i < flat.length; i += 2) result.push([flat[i] as string, flat[i + 1] as string]);
  return result;
}
