/**
 * The execution engine (load, invoke, pool, limits, metrics; wasi:http components through
 * loadComponent and invokeComponent) and the single-shot `runCommand` that `isola run` uses.
 */
export { ComponentInvocation, type ComponentInvocationResult } from './component-invocation.js';
export {
  type ComponentInvokeRequest,
  ENGINE_DEFAULTS,
  Engine,
  type EngineOptions,
  INLINE_WORKER,
  type InvokeRequest,
  type LoadComponentOptions,
  type LoadedBundle,
  type LoadedComponent,
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
