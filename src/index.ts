/**
 * isola's library entry point: the execution engine, the WASI preview1 host, module inspection
 * and rewriting, the app manifest and its lock, and the errors and limits they use.
 */

export {
  LOCK_DEFAULTS,
  LOCKED_APP_VERSION,
  type LockedApp,
  type LockedComponent,
  type LockedDirectoryEntry,
  type LockedExecutor,
  type LockedInstanceMode,
  type LockedMount,
  type LockedRoute,
  type LockedSource,
  type LockOptions,
  lockApp,
  lockManifest,
} from './app/index.js';
export type { ErrorCode, SerializedError } from './errors.js';
export { IsolaError, isIsolaError } from './errors.js';
export type { InvocationLimits, RunLimits, WasiLimits } from './limits.js';
export {
  INVOCATION_LIMIT_DEFAULTS,
  INVOCATION_LIMIT_RANGES,
  RUN_LIMIT_DEFAULTS,
  RUN_LIMIT_RANGES,
  resolveWasiLimits,
  WASI_LIMIT_DEFAULTS,
  WASI_LIMIT_RANGES,
} from './limits.js';
export {
  findManifest,
  MANIFEST_LIMITS,
  type Manifest,
  parseManifest,
  parseRoute,
  type RouteSegment,
  readManifest,
} from './manifest/index.js';
export {
  type CommandConfig,
  type CommandOutcome,
  type DirGrant,
  ENGINE_DEFAULTS,
  Engine,
  type EngineOptions,
  type Entry,
  type InstanceMode,
  Invocation,
  type InvocationMetrics,
  type InvocationResult,
  type InvokeRequest,
  type LimitName,
  type LoadedModule,
  type LoadOptions,
  type Outcome,
  type RunCommandOptions,
  type RunResult,
  runCommand,
} from './runtime/index.js';
export {
  bytesSource,
  CaptureSink,
  callbackSink,
  Descriptor,
  type DirEntry,
  type DirOptions,
  Errno,
  emptySource,
  type Filestat,
  Filetype,
  fdSink,
  fdSource,
  type InputSource,
  type MemoryDirOptions,
  nullSink,
  type OpenRequest,
  type OutputSink,
  PREVIEW1_FUNCTION_NAMES,
  ProcExit,
  Rights,
  type TimeUpdate,
  type TraceSink,
  Wasi,
  WasiBuilder,
  WasiErrno,
} from './wasi/index.js';
export {
  checkImportSignatures,
  checkImports,
  compileModule,
  describeModule,
  importMemory,
  limitMemory,
  type ModuleInfo,
  type ModuleKind,
  type PreinitOptions,
  preinitialize,
  readHeader,
  requireCommand,
} from './wasm/index.js';
