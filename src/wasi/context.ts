/**
 * `WasiBuilder` grants a WASI instance its capabilities, explicitly; `build()` makes a `Wasi` for
 * exactly one instance. Defaults, each deliberate:
 *
 * - no arguments (argv is empty unless `args()` is called; `isola run` passes the module's name);
 * - no environment variables;
 * - no preopened directories, so no filesystem access at all;
 * - stdin at end of input; stdout and stderr discarded;
 * - no sockets (isola grants none), no signals to the host, no process control beyond exit;
 * - the limits in `WASI_LIMIT_DEFAULTS` (src/limits.ts);
 * - no tracing.
 */
import { statSync } from 'node:fs';
import { IsolaError } from '../errors.js';
import { resolveWasiLimits, WASI_LIMIT_DEFAULTS, type WasiLimits } from '../limits.js';
import { Clocks } from './clocks.js';
import {
  Filetype,
  RIGHTS_DIRECTORY_BASE,
  RIGHTS_DIRECTORY_INHERITING,
  RIGHTS_TTY_BASE,
  RIGHTS_WRITE,
  Rights,
} from './defs.js';
import type { Descriptor } from './descriptor.js';
import { WasiErrno } from './errno.js';
import { FdTable } from './fd-table.js';
import { createMemoryDirectory, type MemoryBundle, openHostDirectory } from './fs/index.js';
import { GuestMemory, stringBlock } from './memory-view.js';
import { createPreview1, type Preview1Imports, ProcExit } from './preview1.js';
import type { WasiState } from './state.js';
import {
  emptySource,
  fdSink,
  fdSource,
  type InputSource,
  nullSink,
  OutputDescriptor,
  type OutputSink,
  StdinDescriptor,
} from './stdio.js';
import { type TraceSink, traceImports } from './trace.js';

export interface DirOptions {
  /** Refuse every write beneath this mount. Default false. */
  readOnly?: boolean;
}

export interface MemoryDirOptions extends DirOptions {
  /** Files by relative path (`static/index.html`); parent directories are implied. */
  files?: Record<string, Uint8Array | string>;
}

type PreopenFactory = (limits: WasiLimits) => Descriptor;

export class WasiBuilder {
  #args: string[] = [];
  #env = new Map<string, string>();
  #preopens: { guestPath: string; open: PreopenFactory }[] = [];
  #stdin: InputSource = emptySource;
  #stdout: OutputSink = nullSink;
  #stderr: OutputSink = nullSink;
  #limits: Partial<WasiLimits> = {};
  #resolvedLimits: WasiLimits = WASI_LIMIT_DEFAULTS;
  #trace: TraceSink | undefined;
  #refuseWait: (() => Error) | undefined;

  /** The guest's argv, argv[0] included. */
  args(args: readonly string[]): this {
    for (const arg of args) rejectNul(arg, 'argument');
    this.#args = [...args];
    return this;
  }

  /** Grants one environment variable. */
  env(name: string, value: string): this {
    if (name === '' || name.includes('=')) {
      throw new IsolaError(
        'E_ARGUMENT_INVALID',
        `environment variable name "${name}" is invalid: use a non-empty name without "="`,
        { name },
      );
    }
    rejectNul(name, 'environment variable name');
    rejectNul(value, 'environment variable value');
    this.#env.set(name, value);
    return this;
  }

  /** Grants several environment variables. */
  envs(variables: Record<string, string>): this {
    for (const [name, value] of Object.entries(variables)) this.env(name, value);
    return this;
  }

  /** Mounts a host directory at `guestPath`. The directory must exist. */
  preopenDir(hostPath: string, guestPath: string, options: DirOptions = {}): this {
    let isDirectory: boolean;
    try {
      isDirectory = statSync(hostPath).isDirectory();
    } catch {
      throw new IsolaError(
        'E_PREOPEN_INVALID',
        `directory ${hostPath} does not exist: create it or mount another`,
        { hostPath, guestPath },
      );
    }
    if (!isDirectory) {
      throw new IsolaError('E_PREOPEN_INVALID', `${hostPath} is not a directory: mount a directory`, {
        hostPath,
        guestPath,
      });
    }
    const readOnly = options.readOnly ?? false;
    return this.preopen(guestPath, (limits) => openHostDirectory(hostPath, { readOnly, limits }));
  }

  /** Mounts an in-memory directory (files bundled with an app) at `guestPath`. */
  preopenMemory(guestPath: string, options: MemoryDirOptions = {}): this {
    const readOnly = options.readOnly ?? false;
    const files = options.files ?? {};
    return this.preopen(guestPath, (limits) => createMemoryDirectory({ readOnly, limits, files }));
  }

  /**
   * Mounts a `MemoryBundle` at `guestPath`, always read-only. Every `build()` shares the bundle's
   * files and node tree: a mount costs O(1), whatever the bundle holds.
   */
  preopenBundle(guestPath: string, bundle: MemoryBundle): this {
    return this.preopen(guestPath, (limits) => bundle.mount(limits));
  }

  /** Mounts any directory descriptor, made fresh for each `build()`. */
  preopen(guestPath: string, open: PreopenFactory): this {
    rejectNul(guestPath, 'guest path');
    if (guestPath === '') {
      throw new IsolaError('E_PREOPEN_INVALID', 'a guest path cannot be empty: use "/" or a directory name', {
        guestPath,
      });
    }
    this.#preopens.push({ guestPath, open });
    return this;
  }

  stdin(source: InputSource): this {
    this.#stdin = source;
    return this;
  }
  stdout(sink: OutputSink): this {
    this.#stdout = sink;
    return this;
  }
  stderr(sink: OutputSink): this {
    this.#stderr = sink;
    return this;
  }
  /** Stdin, stdout and stderr are this process's own (as `isola run` does). */
  inheritStdio(): this {
    return this.stdin(fdSource(0)).stdout(fdSink(1)).stderr(fdSink(2));
  }

  /** Overrides limits; values outside their range are refused with the range named. */
  limits(limits: Partial<WasiLimits>): this {
    this.#resolvedLimits = resolveWasiLimits({ ...this.#limits, ...limits });
    this.#limits = { ...this.#limits, ...limits };
    return this;
  }

  /**
   * Sets every limit from a complete set that `resolveWasiLimits` already checked (a host that
   * builds a context per request checks its limits once, not per build).
   */
  resolvedLimits(limits: Readonly<WasiLimits>): this {
    this.#resolvedLimits = limits;
    this.#limits = limits;
    return this;
  }

  /** Logs each call with its arguments and errno. */
  trace(sink: TraceSink): this {
    this.#trace = sink;
    return this;
  }

  /**
   * For a host running the guest on a thread that must not wait: a call that would sleep
   * (poll_oneoff on a clock that has not expired) throws `error()` instead, which ends the
   * instance. By default such a call blocks the thread until the clock expires.
   */
  refuseWaiting(error: () => Error): this {
    this.#refuseWait = error;
    return this;
  }

  /** A `Wasi` for one instance: its own descriptor table, preopens opened now. */
  build(): Wasi {
    const limits = { ...this.#resolvedLimits };
    const fds = new FdTable(limits.maxOpenDescriptors);
    for (const descriptor of [
      new StdinDescriptor(this.#stdin),
      new OutputDescriptor(this.#stdout, limits.maxStdoutBytes, 'stdout'),
      new OutputDescriptor(this.#stderr, limits.maxStderrBytes, 'stderr'),
    ]) {
      const terminal = descriptor.filetype === Filetype.CHARACTER_DEVICE;
      const rightsBase = RIGHTS_TTY_BASE | (terminal ? 0n : Rights.FD_SEEK | Rights.FD_TELL);
      fds.insert({ descriptor, rightsBase, rightsInheriting: 0n });
    }
    try {
      for (const { guestPath, open } of this.#preopens) {
        const descriptor = open(limits);
        const mask = descriptor.readOnly ? ~RIGHTS_WRITE : ~0n;
        fds.insert({
          descriptor,
          rightsBase: RIGHTS_DIRECTORY_BASE & mask,
          rightsInheriting: RIGHTS_DIRECTORY_INHERITING & mask,
          preopenPath: guestPath,
        });
      }
    } catch (error) {
      for (const [, entry] of fds.entries()) entry.descriptor.close();
      throw error;
    }
    const state: WasiState = {
      args: stringBlock(this.#args),
      env: stringBlock(Array.from(this.#env, ([name, value]) => `${name}=${value}`)),
      fds,
      limits,
      clocks: new Clocks(this.#refuseWait),
    };
    return new Wasi(state, this.#trace);
  }
}

function rejectNul(value: string, what: string): void {
  if (value.includes('\0')) {
    throw new IsolaError('E_ARGUMENT_INVALID', `${what} contains a NUL byte: remove it`, { what });
  }
}

/** One instance's WASI: its imports, and `start()` / `initialize()` to run it. */
export class Wasi {
  readonly #state: WasiState;
  #memory: GuestMemory | undefined;
  readonly #imports: Preview1Imports;
  #closed = false;

  constructor(state: WasiState, trace: TraceSink | undefined) {
    this.#state = state;
    const imports = createPreview1(state, () => this.#guestMemory());
    this.#imports = trace ? traceImports(imports, trace) : imports;
  }

  /** The import object to instantiate with: `{ wasi_snapshot_preview1: {...} }`. */
  get imports(): WebAssembly.Imports {
    return { wasi_snapshot_preview1: this.#imports };
  }

  /** The raw preview1 functions, for embedding into a larger import object. */
  get preview1(): Preview1Imports {
    return this.#imports;
  }

  /**
   * Runs a command's `_start` and returns its exit code (0 when `_start` returns). A trap
   * propagates as the engine's `WebAssembly.RuntimeError`. Descriptors are closed afterwards.
   */
  start(instance: WebAssembly.Instance, memory?: WebAssembly.Memory): number {
    const start = instance.exports._start;
    if (typeof start !== 'function') {
      throw new IsolaError(
        'E_MODULE_NO_START',
        'module exports no _start function: it is not a WASI command',
        {},
      );
    }
    this.bind(memory ?? instance);
    try {
      (start as () => void)();
      return 0;
    } catch (error) {
      if (error instanceof ProcExit) return error.code;
      throw error;
    } finally {
      this.close();
    }
  }

  /** Runs a reactor's `_initialize` (if exported); the instance stays usable afterwards. */
  initialize(instance: WebAssembly.Instance, memory?: WebAssembly.Memory): void {
    this.bind(memory ?? instance);
    const init = instance.exports._initialize;
    if (typeof init === 'function') (init as () => void)();
  }

  /**
   * Binds to the guest's memory without running anything (for embedders calling exports): the
   * memory itself, or an instance exporting it as "memory".
   */
  bind(target: WebAssembly.Instance | WebAssembly.Memory): void {
    if (target instanceof WebAssembly.Memory) {
      this.#memory = new GuestMemory(target);
      return;
    }
    const memory = target.exports.memory;
    if (!(memory instanceof WebAssembly.Memory)) {
      throw new IsolaError('E_MODULE_INVALID', 'module exports no memory named "memory": WASI needs one', {});
    }
    this.#memory = new GuestMemory(memory);
  }

  /** Closes every descriptor the instance holds. Idempotent. */
  /**
   * Closes every descriptor the instance still holds. An errno from one (a key-value file that
   * could not be saved) has no guest left to be told, and the descriptor reports it itself; the
   * others are closed all the same. A host error still surfaces, once all are closed.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    let failure: unknown;
    for (const [, entry] of this.#state.fds.entries()) {
      try {
        entry.descriptor.close();
      } catch (error) {
        if (!(error instanceof WasiErrno) && failure === undefined) failure = error;
      }
    }
    if (failure !== undefined) throw failure;
  }

  #guestMemory(): GuestMemory {
    if (this.#memory === undefined) {
      throw new IsolaError('E_INTERNAL', 'a WASI function was called before the instance was started', {});
    }
    return this.#memory;
  }
}
