/**
 * isola's library entry point: the WASI preview1 host, and the errors and limits it uses.
 */
export { IsolaError, isIsolaError } from './errors.js';
export type { ErrorCode, SerializedError } from './errors.js';
export { resolveWasiLimits, WASI_LIMIT_DEFAULTS, WASI_LIMIT_RANGES } from './limits.js';
export type { WasiLimits } from './limits.js';
export {
  bytesSource,
  CaptureSink,
  callbackSink,
  Descriptor,
  type DirEntry,
  type DirOptions,
  emptySource,
  Errno,
  fdSink,
  fdSource,
  type Filestat,
  Filetype,
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
