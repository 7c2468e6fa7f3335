/** The filesystems behind isola's WASI descriptors: host directories and in-memory trees. */
export { type HostDirectoryOptions, openHostDirectory } from './host-fs.js';
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
