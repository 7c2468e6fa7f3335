/**
 * Deploying a locked app: every component's module is loaded into the engine (validated and
 * compiled now, so a bad module fails the deploy, not the first request), its files become a
 * read-only bundle, and its routes become an `HttpApp` the server can swap in whole.
 *
 * A component's files are read once, now, checked against the digests the lock recorded, and
 * held in memory as one bundle laid out by guest path and mounted at `/` (`Engine.loadBundle`):
 * the app runs the files it was locked with, and a guest reading them costs no system call. A
 * directory mount holding a symbolic link is the exception: it is granted as the host directory,
 * read-only, whose links the WASI host resolves inside the mount. Directories with no files in
 * them are not part of a lock, so they do not appear in a bundle.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import {
  KEY_VALUE_MOUNT_DIR,
  type LockedApp,
  type LockedComponent,
  type LockedRuntime,
  RUNTIME_APP_DIR,
} from '../app/index.js';
import { IsolaError } from '../errors.js';
import { parseTemplate, renderTemplate } from '../manifest/variable-template.js';
import { AllowList, OutboundPolicy, type OutboundPolicyOptions } from '../outbound/index.js';
import type { DirGrant, Engine, LoadedBundle, LoadedComponent, LoadedModule } from '../runtime/index.js';
import { scriptRuntime } from '../runtimes/registry.js';
import { resolveVariables, type VariableSources } from '../variables/index.js';
import type { HttpApp } from './server.js';
import type { WagiComponent } from './wagi.js';
import type { WasiHttpComponent } from './wasi-http.js';

export interface DeployedApp {
  http: HttpApp;
  /** The locked app it was deployed from, as JSON: equal JSON, equal app. */
  lockedJson: string;
  /** The modules it loaded, to unload when it is replaced. */
  modules: readonly LoadedModule[];
  /** The wasi:http components it loaded, likewise. */
  components: readonly LoadedComponent[];
  /** The bundles it loaded, to unload when it is replaced. */
  bundles: readonly LoadedBundle[];
}

export interface DeployOptions {
  /**
   * Where the app's variables get their values (see src/variables/resolve.ts). Default: the
   * environment of this process (`ISOLA_VARIABLE_<NAME>`), then the defaults.
   */
  variables?: VariableSources;
  /** The operator's side of every component's outbound policy (trusted private networks). Default: none. */
  outbound?: OutboundPolicyOptions;
  /**
   * Where prepared runtime modules (an interpreter snapshotted with an app, seconds to make) are
   * kept between deploys, by the digests they were made from. Default `defaultCacheDir()`.
   */
  cacheDir?: string;
}

/** `$ISOLA_CACHE_DIR`, else `$XDG_CACHE_HOME/isola`, else `~/.cache/isola`. */
export function defaultCacheDir(): string {
  const explicit = process.env.ISOLA_CACHE_DIR;
  if (explicit) return explicit;
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'isola');
}

/** Bumped when what a prepared runtime module holds changes, so older cached ones are not used. */
const PREPARED_FORMAT = 1;

export async function deployApp(
  engine: Engine,
  locked: LockedApp,
  options: DeployOptions = {},
): Promise<DeployedApp> {
  const cacheDir = options.cacheDir ?? defaultCacheDir();
  const values = resolveVariables(locked.variables, options.variables ?? { env: process.env });
  const modules: LoadedModule[] = [];
  const loadedComponents: LoadedComponent[] = [];
  const bundles: LoadedBundle[] = [];
  const loaded = { modules, components: loadedComponents, bundles };
  try {
    const components = new Map<string, WagiComponent | WasiHttpComponent>();
    const byName = new Map<string, WagiComponent | WasiHttpComponent>();
    const served = new Set(
      locked.routes.filter((route) => route.executor.type === 'wasi-http').map((route) => route.component),
    );
    for (const component of locked.components) {
      const root = component.runtime === undefined ? '/' : RUNTIME_APP_DIR;
      const { dirs, files } = await filesOf(component, root);
      const bundle = Object.keys(files).length === 0 ? undefined : engine.loadBundle(files);
      if (bundle !== undefined) bundles.push(bundle);
      const variables = renderVariables(component, values);
      const env = [
        ...Object.entries(component.environment),
        ...variables.map(([name, value]) => [name.toUpperCase(), value] as [string, string]),
      ];
      const stores = component.keyValueStores;
      if (stores.length > 0 && !engine.hasKeyValueStore) {
        throw new IsolaError(
          'E_KV_UNAVAILABLE',
          `component "${component.name}" is granted key-value stores (${stores.join(', ')}) but this isola has no ` +
            'key-value store: start it with one (isola up --key-value), or remove key_value_stores',
          { component: component.name },
        );
      }
      const mounts = bundle === undefined ? [] : [{ bundle, guestPath: root }];
      // Frozen, so the engine resolves it once, not per request.
      const limits = Object.freeze({ ...component.limits });
      if (served.has(component.name)) {
        const bytes = await lockedFile(component, component.source.path, component.source.sha256);
        const loadedComponent = await engine.loadComponent(bytes, { cacheDir: join(cacheDir, 'components') });
        loadedComponents.push(loadedComponent);
        byName.set(component.name, {
          executor: 'wasi-http',
          component: loadedComponent,
          env,
          bundles: mounts,
          limits,
          config: variables,
          ...(stores.length === 0 ? {} : { keyValue: { app: locked.application.name, labels: stores } }),
          outbound: new OutboundPolicy(
            AllowList.parse(
              component.allowedOutboundHosts,
              `component.${component.name}.allowed_outbound_hosts`,
            ),
            options.outbound ?? {},
          ),
        });
        continue;
      }
      const module =
        component.runtime === undefined
          ? await loadSource(engine, component)
          : await loadRuntime(engine, component, cacheDir);
      modules.push(module);
      byName.set(component.name, {
        module,
        env,
        dirs,
        bundles: mounts,
        limits,
        ...(stores.length === 0
          ? {}
          : {
              keyValue: stores.map((label) => ({
                app: locked.application.name,
                label,
                guestPath: `${KEY_VALUE_MOUNT_DIR}/${label}`,
                readOnly: false,
              })),
            }),
        ...(component.instance.kind === 'reuse'
          ? { instance: { reuse: component.instance.invocations } }
          : {}),
      });
    }
    const routes = locked.routes.map((route) => {
      const base = byName.get(route.component) as WagiComponent | WasiHttpComponent;
      if (route.executor.type === 'wasi-http') {
        components.set(route.component, base);
        return { pattern: route.route, component: route.component };
      }
      const { entrypoint, argv } = route.executor;
      const key = entrypoint === '_start' ? route.component : `${route.component}#${entrypoint}`;
      components.set(key, { ...(base as WagiComponent), entrypoint, argv });
      return { pattern: route.route, component: key };
    });
    return {
      http: { name: locked.application.name, routes, components },
      lockedJson: JSON.stringify(locked),
      ...loaded,
    };
  } catch (error) {
    undeployApp(engine, loaded);
    throw error;
  }
}

/**
 * The component's variables by name, rendered from the app's values: what wasi:config/store
 * answers, and, upper-cased, environment variables (the lock refused a key that `environment`
 * also sets).
 */
function renderVariables(
  component: LockedComponent,
  values: ReadonlyMap<string, string>,
): [string, string][] {
  return Object.entries(component.variables).map(([name, template]) => {
    const parsed = parseTemplate(template);
    if ('problem' in parsed) {
      throw new IsolaError(
        'E_INTERNAL',
        `component "${component.name}" was locked with a bad template for ${name}`,
        {},
      );
    }
    return [name, renderTemplate(parsed.parts, values)];
  });
}

/** Unloads an app's modules and bundles. */
export function undeployApp(
  engine: Engine,
  app: Pick<DeployedApp, 'modules' | 'components' | 'bundles'>,
): void {
  for (const module of app.modules) engine.unload(module);
  for (const component of app.components) engine.unloadComponent(component);
  for (const bundle of app.bundles) engine.unloadBundle(bundle);
}

async function loadSource(engine: Engine, component: LockedComponent): Promise<LoadedModule> {
  const bytes = await readFile(component.source.path);
  const module = await engine.load(bytes);
  if (module.digest !== component.source.sha256) {
    throw new IsolaError(
      'E_APP_SOURCE_MISSING',
      `component "${component.name}": ${component.source.path} changed after the app was locked: lock it again`,
      { component: component.name, path: component.source.path },
    );
  }
  return module;
}

/**
 * The component's files by bundle path (its guest path without the leading `/`), read and checked
 * against the lock, and the directory mounts that must stay host directories (they hold links).
 */
async function filesOf(
  component: LockedComponent,
  root: string,
): Promise<{ dirs: DirGrant[]; files: Record<string, Uint8Array> }> {
  const dirs: DirGrant[] = [];
  const files: Record<string, Uint8Array> = {};
  for (const mount of component.files) {
    if (mount.kind === 'file') {
      files[bundlePath(mount.guestPath, root)] = await lockedFile(component, mount.hostPath, mount.sha256);
      continue;
    }
    if (mount.entries.some((entry) => 'symlink' in entry)) {
      dirs.push({ hostPath: mount.hostPath, guestPath: mount.guestPath, readOnly: true });
      continue;
    }
    for (const entry of mount.entries) {
      if ('symlink' in entry) continue;
      const guestPath = `${mount.guestPath.replace(/\/+$/, '')}/${entry.path}`;
      files[bundlePath(guestPath, root)] = await lockedFile(
        component,
        join(mount.hostPath, entry.path),
        entry.sha256,
      );
    }
  }
  return { dirs, files };
}

/** `guestPath` relative to `root`, where the bundle is mounted (every mount lies beneath it). */
function bundlePath(guestPath: string, root: string): string {
  return posix.relative(root, guestPath);
}

/**
 * A runtime component's module: its interpreter (checked against the lock) prepared for its app
 * directory, taken from `cacheDir` when the same interpreter was prepared for the same files
 * before, else made now and kept there.
 */
async function loadRuntime(
  engine: Engine,
  component: LockedComponent,
  cacheDir: string,
): Promise<LoadedModule> {
  const runtime = scriptRuntime((component.runtime as LockedRuntime).name);
  const wasm = await lockedFile(component, component.source.path, component.source.sha256);
  const app = component.files[0];
  if (app?.kind !== 'directory') {
    throw new IsolaError(
      'E_INTERNAL',
      `component "${component.name}" was locked without its app directory`,
      {},
    );
  }
  const key = createHash('sha256')
    .update(JSON.stringify([PREPARED_FORMAT, runtime.name, component.source.sha256, app.entries]))
    .digest('hex');
  const path = join(cacheDir, 'prepared', `${runtime.name}-${key}.wasm`);
  const cached = await readFile(path).catch(() => undefined);
  if (cached !== undefined) return engine.load(cached);
  const prepared = await runtime.prepare(wasm, app.hostPath, RUNTIME_APP_DIR);
  const module = await engine.load(prepared);
  await keep(path, prepared);
  return module;
}

/** Writes `bytes` to `path` whole or not at all (a temporary file renamed over it); a cache that cannot be written is skipped. */
async function keep(path: string, bytes: Uint8Array): Promise<void> {
  const temporary = `${path}.${process.pid}.${Date.now()}.tmp`;
  try {
    await mkdir(dirname(path), { recursive: true });
    await writeFile(temporary, bytes);
    await rename(temporary, path);
  } catch {
    await rm(temporary, { force: true });
  }
}

/** A file's bytes, if they are still the ones the lock recorded. */
async function lockedFile(component: LockedComponent, path: string, sha256: string): Promise<Uint8Array> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (error) {
    throw changedSinceLock(component, path, error);
  }
  if (createHash('sha256').update(bytes).digest('hex') !== sha256) throw changedSinceLock(component, path);
  return bytes;
}

function changedSinceLock(component: LockedComponent, path: string, cause?: unknown): IsolaError {
  return new IsolaError(
    'E_APP_SOURCE_MISSING',
    `component "${component.name}": ${path} changed after the app was locked: lock it again`,
    { component: component.name, path },
    cause === undefined ? undefined : { cause },
  );
}
