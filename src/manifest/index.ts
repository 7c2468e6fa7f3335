/**
 * The authored manifest: `isola.toml` (or a Spin `spin.toml` v2) read, checked and normalized,
 * with every complaint naming the key and the fix. src/app locks it into the form the runtime
 * runs.
 */

export { MAX_INSTANCE_REUSE } from './component.js';
export {
  MANIFEST_LIMIT_KEYS,
  MANIFEST_LIMITS,
  type ManifestLimitKey,
  type ManifestLimits,
  manifestLimitRange,
  toInvocationLimits,
} from './limits.js';
export type {
  ApplicationInfo,
  BuildSettings,
  ComponentManifest,
  FileMount,
  HttpTrigger,
  Manifest,
  ManifestFormat,
  WagiExecutorSettings,
} from './manifest.js';
export { parseManifest } from './parse.js';
export { findManifest, MANIFEST_FILE_NAMES, MAX_MANIFEST_BYTES, readManifest } from './read.js';
export {
  parseRoute,
  RESERVED_ROUTE_PREFIX,
  type RouteCheck,
  type RouteSegment,
  routeShape,
} from './route.js';
