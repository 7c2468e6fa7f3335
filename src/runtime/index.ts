/**
 * The execution engine (load, invoke, pool, limits, metrics) and the single-shot `runCommand`
 * that `isola run` uses.
 */
export {
  ENGINE_DEFAULTS,
  Engine,
  type EngineOptions,
  INLINE_WORKER,
  type InvokeRequest,
  type LoadedBundle,
  type LoadedModule,
  type LoadOptions,
  MAX_REUSE_INVOCATIONS,
  type RunResult,
} from './engine.js';
export { INLINE_DEFAULTS, type InlineOptions } from './inline-lane.js';
export { Invocation, type InvocationResult } from './invocation.js';
export { MEMORY_POOL_DEFAULTS, type MemoryPoolOptions } from './memory-pool.js';
export type {
  BundleGrant,
  DirGrant,
  Entry,
  InstanceMode,
  InvocationMetrics,
  LimitName,
  Outcome,
} from './protocol.js';
export {
  type CommandConfig,
  type CommandOutcome,
  type RunCommandOptions,
  runCommand,
} from './run-command.js';
