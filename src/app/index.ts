/**
 * The locked app: an authored manifest resolved into absolute paths, digests of every byte a
 * guest can see, checked limits and routes with their executors. The runtime, the server and
 * the registry consume only this form.
 */
export { digestFile, type FileDigest } from './digest.js';
export { EntryBudget, type FilesContext, lockFiles } from './files.js';
export { globBase, globToRegExp, hasGlobSyntax } from './glob.js';
export { LOCK_DEFAULTS, type LockOptions, lockApp, lockManifest } from './lock.js';
export {
  DEFAULT_WAGI_ARGV,
  KEY_VALUE_MOUNT_DIR,
  LOCKED_APP_VERSION,
  type LockedApp,
  type LockedApplication,
  type LockedComponent,
  type LockedDirectoryEntry,
  type LockedDirectoryMount,
  type LockedExecutor,
  type LockedFileMount,
  type LockedInstanceMode,
  type LockedMount,
  type LockedRoute,
  type LockedRuntime,
  type LockedSource,
  type LockedVariable,
  type LockedWagiExecutor,
  type LockedWasiHttpExecutor,
  RUNTIME_APP_DIR,
} from './locked.js';
export { MAX_SCRIPTS, routeOf, SCRIPT_EXTENSIONS, SCRIPTS_MANIFEST, scriptsManifest } from './scripts.js';
