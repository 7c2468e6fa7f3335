/**
 * isola's WASI preview1 host: a sandboxed, per-instance implementation of every
 * `wasi_snapshot_preview1` function, in TypeScript.
 */
export { type DirOptions, type MemoryDirOptions, Wasi, WasiBuilder } from './context.js';
export { Errno, Filetype, Rights } from './defs.js';
export { Descriptor, type DirEntry, type Filestat, type OpenRequest, type TimeUpdate } from './descriptor.js';
export { WasiErrno } from './errno.js';
export {
  type BundledFile,
  createKeyValueDirectory,
  type KeyValueDirectoryBucket,
  type KeyValueDirectoryOptions,
  type KeyValueStoreFailure,
  MEMORY_BUNDLE_DEFAULTS,
  MemoryBundle,
  type MemoryBundleLimits,
  type MemoryBundleOptions,
  type MemoryBundleTransfer,
} from './fs/index.js';
export { PREVIEW1_FUNCTION_NAMES, ProcExit } from './preview1.js';
export {
  bytesSource,
  CaptureSink,
  callbackSink,
  emptySource,
  fdSink,
  fdSource,
  type InputSource,
  nullSink,
  type OutputSink,
} from './stdio.js';
export type { TraceSink } from './trace.js';
