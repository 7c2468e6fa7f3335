/** The filesystems behind isola's WASI descriptors: host directories and in-memory trees. */
export {
  type BundledFile,
  MEMORY_BUNDLE_DEFAULTS,
  MemoryBundle,
  type MemoryBundleLimits,
  type MemoryBundleOptions,
  type MemoryBundleTransfer,
} from './bundle.js';
export { type HostDirectoryOptions, openHostDirectory } from './host-fs.js';
export {
  createKeyValueDirectory,
  type KeyValueDirectoryBucket,
  type KeyValueDirectoryOptions,
  type KeyValueStoreFailure,
} from './kv-directory.js';
export { createMemoryDirectory, type MemoryDirectoryOptions } from './memory-fs.js';
export {
  checkSymlinkTarget,
  type DirectoryWalker,
  FollowSymlink,
  type LastStep,
  type ParsedPath,
  parseGuestPath,
  parseSymlinkTarget,
  type Step,
  walkPath,
} from './path.js';
