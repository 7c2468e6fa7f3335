/**
 * Locking: an authored manifest → the locked app (locked.ts), the only form the runtime
 * consumes. Checks that need no disk run first (limits against their ranges), then every
 * component's source and files are read and digested, and each route's executor is chosen from
 * what its module exports. A lock either resolves everything or fails naming the key and the fix.
 */
import { dirname, resolve } from 'node:path';
import type { InvocationLimits } from '../limits.js';
import { toInvocationLimits } from '../manifest/limits.js';
import type { ComponentManifest, HttpTrigger, Manifest } from '../manifest/manifest.js';
import { manifestError } from '../manifest/manifest-error.js';
import { readManifest } from '../manifest/read.js';
import { EntryBudget, lockFiles } from './files.js';
import {
  DEFAULT_WAGI_ARGV,
  LOCKED_APP_VERSION,
  type LockedApp,
  type LockedComponent,
  type LockedExecutor,
  type LockedInstanceMode,
  type LockedRoute,
} from './locked.js';
import { lockSource, type ResolvedSource } from './source.js';

export interface LockOptions {
  /** Host entries (files, directories, links) the app's `files` may reach, walked or matched. Default 100,000. */
  maxFileEntries?: number;
  /** Bytes a component's .wasm file may have. Default 1 GiB. */
  maxSourceBytes?: number;
}

export const LOCK_DEFAULTS = Object.freeze({
  maxFileEntries: 100_000,
  maxSourceBytes: 1024 * 1024 * 1024,
});

/** Reads, checks and locks the manifest at `manifestPath` (a file, or a directory holding one). */
export async function lockApp(manifestPath: string, options: LockOptions = {}): Promise<LockedApp> {
  const { path, manifest } = await readManifest(manifestPath);
  return lockManifest(manifest, path, options);
}

/** Locks an already parsed manifest; its relative paths start at `manifestPath`'s directory. */
export async function lockManifest(
  manifest: Manifest,
  path: string,
  options: LockOptions = {},
): Promise<LockedApp> {
  const manifestPath = resolve(path);
  const limits = new Map(
    manifest.components.map((component) => [component.name, lockLimits(component, manifestPath)]),
  );
  const context = {
    file: manifestPath,
    dir: dirname(manifestPath),
    budget: new EntryBudget(options.maxFileEntries ?? LOCK_DEFAULTS.maxFileEntries),
    maxSourceBytes: options.maxSourceBytes ?? LOCK_DEFAULTS.maxSourceBytes,
  };
  const components: LockedComponent[] = [];
  const sources = new Map<string, ResolvedSource>();
  for (const component of manifest.components) {
    const resolved = await lockSource(component, context);
    sources.set(component.name, resolved);
    components.push({
      name: component.name,
      source: resolved.source,
      files: await lockFiles(component.files, context),
      environment: { ...component.environment },
      limits: limits.get(component.name)!,
      instance: instanceMode(component),
    });
  }
  const reused = new Set(manifest.components.filter((c) => c.instanceReuse !== undefined).map((c) => c.name));
  const routes = manifest.httpTriggers.map((trigger) =>
    lockRoute(trigger, sources.get(trigger.component)!, reused.has(trigger.component), manifestPath),
  );
  return {
    lockedAppVersion: LOCKED_APP_VERSION,
    manifest: { path: manifestPath, format: manifest.format },
    application: { ...manifest.application, authors: [...manifest.application.authors] },
    components,
    routes,
  };
}

function lockLimits(component: ComponentManifest, file: string): Partial<InvocationLimits> {
  return toInvocationLimits(component.limits, `component.${component.name}.limits`, file);
}

function instanceMode(component: ComponentManifest): LockedInstanceMode {
  return component.instanceReuse === undefined
    ? { kind: 'fresh' }
    : { kind: 'reuse', invocations: component.instanceReuse };
}

/**
 * The route's executor: WAGI for a WASI command. The module must export the entry point, which
 * is `_start` unless the trigger names another.
 */
function lockRoute(trigger: HttpTrigger, source: ResolvedSource, reused: boolean, file: string): LockedRoute {
  const entrypoint = trigger.executor?.entrypoint ?? '_start';
  if (!source.functionExports.has(entrypoint)) throw missingEntrypoint(trigger, source, entrypoint, file);
  if (reused && entrypoint === '_start') {
    const key = `component.${trigger.component}.instance_reuse`;
    throw manifestError(
      file,
      `${key} reuses an instance, but ${trigger.key} runs its _start, which a WASI command runs once per instance: ` +
        `name an exported function with executor = { type = "wagi", entrypoint = "..." } in ${trigger.key}, or remove instance_reuse`,
      { key, trigger: trigger.key },
    );
  }
  const executor: LockedExecutor = {
    type: 'wagi',
    entrypoint,
    argv: trigger.executor?.argv ?? DEFAULT_WAGI_ARGV,
  };
  return { route: trigger.route, component: trigger.component, executor };
}

function missingEntrypoint(trigger: HttpTrigger, source: ResolvedSource, entrypoint: string, file: string) {
  const key = `component.${trigger.component}.source`;
  const fix =
    entrypoint === '_start'
      ? 'build it as a WASI command (a program with a main function), or name an exported function with ' +
        `executor = { type = "wagi", entrypoint = "..." } in ${trigger.key}`
      : `export it, or fix ${trigger.key}.executor.entrypoint`;
  return manifestError(
    file,
    `${key} names ${source.source.path}, which exports no function ${entrypoint} for ${trigger.key} to call: ${fix}`,
    { key, entrypoint, trigger: trigger.key },
    'E_MODULE_NO_START',
  );
}
