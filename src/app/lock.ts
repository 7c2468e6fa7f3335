/**
 * Locking: an authored manifest → the locked app (locked.ts), the only form the runtime
 * consumes. Checks that need no disk run first (limits against their ranges), then every
 * component's source and files are read and digested, and each route's executor is chosen from
 * what its module exports. A lock either resolves everything or fails naming the key and the fix.
 */
import { dirname, posix, resolve } from 'node:path';
import { isIsolaError } from '../errors.js';
import type { InvocationLimits } from '../limits.js';
import { toInvocationLimits } from '../manifest/limits.js';
import type {
  ComponentManifest,
  FileMount,
  HttpTrigger,
  Manifest,
  ScriptRuntime,
} from '../manifest/manifest.js';
import { manifestError } from '../manifest/manifest-error.js';
import { readManifest } from '../manifest/read.js';
import { scriptRuntime } from '../runtimes/registry.js';
import { EntryBudget, lockFiles } from './files.js';
import {
  DEFAULT_WAGI_ARGV,
  KEY_VALUE_MOUNT_DIR,
  LOCKED_APP_VERSION,
  type LockedApp,
  type LockedComponent,
  type LockedExecutor,
  type LockedInstanceMode,
  type LockedMount,
  type LockedRoute,
  type LockedRuntime,
  RUNTIME_APP_DIR,
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
    const resolved = await lockSource(runtimeSourceOf(component, manifestPath), context);
    sources.set(component.name, resolved);
    const files = await lockFiles(filesOf(component), context);
    const locked: LockedComponent = {
      name: component.name,
      source: resolved.source,
      files,
      environment: { ...component.environment },
      variables: lockComponentVariables(component, manifestPath),
      allowedOutboundHosts: lockOutboundHosts(component, resolved, manifestPath),
      keyValueStores: lockKeyValueStores(component, files, manifestPath),
      limits: limits.get(component.name)!,
      instance: instanceMode(component),
    };
    if (component.runtime !== undefined) locked.runtime = lockRuntime(component, files, manifestPath);
    components.push(locked);
  }
  const reused = new Set(manifest.components.filter((c) => c.instanceReuse !== undefined).map((c) => c.name));
  const runtimes = new Map(components.map((component) => [component.name, component.runtime]));
  const routes = manifest.httpTriggers.map((trigger) =>
    lockRoute(
      trigger,
      sources.get(trigger.component)!,
      reused.has(trigger.component),
      runtimes.get(trigger.component),
      manifestPath,
    ),
  );
  return {
    lockedAppVersion: LOCKED_APP_VERSION,
    manifest: { path: manifestPath, format: manifest.format },
    application: { ...manifest.application, authors: [...manifest.application.authors] },
    variables: Object.fromEntries(
      Object.entries(manifest.variables).map(([name, variable]) => [
        name,
        {
          required: variable.required,
          secret: variable.secret,
          ...(variable.default === undefined ? {} : { default: variable.default }),
        },
      ]),
    ),
    components,
    routes,
  };
}

/**
 * Outbound hosts, which only a component can use: a WASI preview1 module has no way to open a
 * connection, so granting it hosts would only look like a grant.
 */
function lockOutboundHosts(component: ComponentManifest, source: ResolvedSource, file: string): string[] {
  const hosts = component.allowedOutboundHosts;
  if (hosts.length > 0 && source.httpHandler === undefined) {
    throw manifestError(
      file,
      `component.${component.name}.allowed_outbound_hosts: the component is a WASI preview1 module, which cannot make ` +
        'outbound requests (only a wasi:http component can): remove the entries, or build the component for wasi:http',
      { key: `component.${component.name}.allowed_outbound_hosts` },
    );
  }
  return [...hosts];
}

/**
 * Key-value stores. A preview1 guest sees each at `/kv/LABEL`, so none of its files may be placed
 * there (the store's directory would hide them).
 */
function lockKeyValueStores(
  component: ComponentManifest,
  files: readonly LockedMount[],
  file: string,
): string[] {
  const labels = component.keyValueStores;
  for (const label of labels) {
    const dir = `${KEY_VALUE_MOUNT_DIR}/${label}`;
    const hidden = files.find((mount) => mount.guestPath === dir || mount.guestPath.startsWith(`${dir}/`));
    if (hidden !== undefined) {
      throw manifestError(
        file,
        `component.${component.name}.files: ${hidden.guestPath} lies in ${dir}, where key-value store "${label}" is mounted: ` +
          'place the files somewhere else',
        { key: `component.${component.name}.files` },
      );
    }
  }
  return [...labels];
}

/**
 * The component with its `source` made the runtime's interpreter, for a runtime component (the
 * lock digests the interpreter like any module); the component itself otherwise.
 */
function runtimeSourceOf(component: ComponentManifest, file: string): ComponentManifest {
  if (component.runtime === undefined) return component;
  try {
    return { ...component, source: scriptRuntime(component.runtime.name).modulePath() };
  } catch (error) {
    if (!isIsolaError(error)) throw error;
    throw manifestError(file, error.message, { key: `component.${component.name}.runtime` }, error.code);
  }
}

/** A runtime component's files: its whole app directory, at /app. */
function filesOf(component: ComponentManifest): readonly FileMount[] {
  if (component.runtime === undefined) return component.files;
  return [
    {
      kind: 'placement',
      key: `component.${component.name}.app_dir`,
      source: component.runtime.appDir,
      destination: RUNTIME_APP_DIR,
    },
  ];
}

/** The script's guest path; it must be one of the app directory's files. */
function lockRuntime(
  component: ComponentManifest,
  files: readonly LockedMount[],
  file: string,
): LockedRuntime {
  const runtime = component.runtime as ScriptRuntime;
  const inside = posix.relative(runtime.appDir, runtime.script);
  const mount = files[0];
  const found =
    mount?.kind === 'directory' &&
    mount.entries.some((entry) => entry.path === inside && !('symlink' in entry));
  if (!found) {
    const key = `component.${component.name}.script`;
    throw manifestError(
      file,
      `${key} names ${runtime.script}, which is not a file in app_dir (${runtime.appDir}): create it, or fix the path`,
      { key, script: runtime.script },
    );
  }
  return { name: runtime.name, script: `${RUNTIME_APP_DIR}/${inside}` };
}

/** The meta-variables a WAGI request sets (RFC 3875 §4.1 and Spin's), which a variable may not shadow. */
const CGI_NAMES = new Set([
  'AUTH_TYPE',
  'CONTENT_LENGTH',
  'CONTENT_TYPE',
  'GATEWAY_INTERFACE',
  'PATH_INFO',
  'PATH_TRANSLATED',
  'QUERY_STRING',
  'REMOTE_ADDR',
  'REMOTE_HOST',
  'REMOTE_IDENT',
  'REMOTE_USER',
  'REQUEST_METHOD',
  'SCRIPT_NAME',
  'SERVER_NAME',
  'SERVER_PORT',
  'SERVER_PROTOCOL',
  'SERVER_SOFTWARE',
]);

/**
 * The component's variables, each of which reaches a WAGI guest as the environment variable of
 * its upper-cased key: one that `environment` also sets would be ambiguous, and one named like a
 * CGI variable (`HTTP_*` included) could be set by the client instead, so both are refused.
 */
function lockComponentVariables(component: ComponentManifest, file: string): Record<string, string> {
  for (const name of Object.keys(component.variables)) {
    const variable = name.toUpperCase();
    if (variable.startsWith('HTTP_') || CGI_NAMES.has(variable)) {
      const key = `component.${component.name}.variables.${name}`;
      throw manifestError(
        file,
        `${key} would reach the guest as the environment variable ${variable}, a name CGI gives the request: rename it`,
        { key },
      );
    }
    if (component.environment[variable] !== undefined) {
      const key = `component.${component.name}.variables.${name}`;
      throw manifestError(
        file,
        `${key} reaches the guest as the environment variable ${variable}, which component.${component.name}.environment also sets: rename one of them`,
        { key },
      );
    }
  }
  return { ...component.variables };
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
function lockRoute(
  trigger: HttpTrigger,
  source: ResolvedSource,
  reused: boolean,
  runtime: LockedRuntime | undefined,
  file: string,
): LockedRoute {
  if (source.httpHandler !== undefined) return lockComponentRoute(trigger, source.httpHandler, reused, file);
  const entrypoint = trigger.executor?.entrypoint ?? '_start';
  if (runtime !== undefined && entrypoint !== '_start') {
    throw manifestError(
      file,
      `${trigger.key}.executor.entrypoint cannot be set for component "${trigger.component}": its runtime runs the script; remove entrypoint`,
      { key: `${trigger.key}.executor.entrypoint` },
    );
  }
  // A runtime's interpreter gets its _start when it is prepared for the app (at deploy).
  if (runtime === undefined && !source.functionExports.has(entrypoint)) {
    throw missingEntrypoint(trigger, source, entrypoint, file);
  }
  if (reused && entrypoint === '_start') {
    const key = `component.${trigger.component}.instance_reuse`;
    throw manifestError(
      file,
      `${key} reuses an instance, but ${trigger.key} runs its _start, which a WASI command runs once per instance: ` +
        `name an exported function with executor = { type = "wagi", entrypoint = "..." } in ${trigger.key}, or remove instance_reuse`,
      { key, trigger: trigger.key },
    );
  }
  const defaultArgv =
    runtime === undefined ? DEFAULT_WAGI_ARGV : `${scriptRuntime(runtime.name).command} ${runtime.script}`;
  const executor: LockedExecutor = {
    type: 'wagi',
    entrypoint,
    argv: trigger.executor?.argv ?? defaultArgv,
  };
  return { route: trigger.route, component: trigger.component, executor };
}

/** A route to a component: served by its handler; WAGI's settings and instance reuse do not apply. */
function lockComponentRoute(
  trigger: HttpTrigger,
  handler: string,
  reused: boolean,
  file: string,
): LockedRoute {
  if (trigger.executor !== undefined) {
    throw manifestError(
      file,
      `${trigger.key}.executor is for WASI commands, and component "${trigger.component}" is a wasi:http component, served by its handler: remove executor`,
      { key: `${trigger.key}.executor` },
    );
  }
  if (reused) {
    const key = `component.${trigger.component}.instance_reuse`;
    throw manifestError(
      file,
      `${key} is for WASI commands' exported functions; a component gets a fresh instance per request: remove it`,
      { key },
    );
  }
  return { route: trigger.route, component: trigger.component, executor: { type: 'wasi-http', handler } };
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
