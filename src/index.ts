/**
 * isola's library entry point: the WASI preview1 host, module inspection, running a command
 * under a deadline, and the errors and limits they use.
 */

export type { ErrorCode, SerializedError } from './errors.js';
export { IsolaError, isIsolaError } from './errors.js';
export type { WasiLimits } from './limits.js';
export { resolveWasiLimits, WASI_LIMIT_DEFAULTS, WASI_LIMIT_RANGES } from './limits.js';
export {
  type CommandConfig,
  type CommandOutcome,
  type DirGrant,
  type RunCommandOptions,
  runCommand,
} from './runtime/run-command.js';
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
  checkImports,
  compileModule,
  describeModule,
  limitMemory,
  type ModuleInfo,
  type ModuleKind,
  readHeader,
  requireCommand,
} from './wasm/index.js';
