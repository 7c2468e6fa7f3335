/**
 * Deploying a locked app: every component's module is loaded into the engine (validated and
 * compiled now, so a bad module fails the deploy, not the first request), its files become
 * read-only mounts, and its routes become an `HttpApp` the server can swap in whole.
 *
 * Directory mounts are granted as they are. Single-file mounts (and the matches of a glob) cannot
 * be granted one by one, since a guest is granted directories: they are copied into a staging
 * directory laid out by guest path, granted read-only at `/`. `undeploy` removes it.
 */
import { copyFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { LockedApp, LockedComponent } from '../app/index.js';
import { IsolaError } from '../errors.js';
import type { DirGrant, Engine, LoadedModule } from '../runtime/index.js';
import type { HttpApp } from './server.js';
import type { WagiComponent } from './wagi.js';

export interface DeployedApp {
  http: HttpApp;
  /** The locked app it was deployed from, as JSON: equal JSON, equal app. */
  lockedJson: string;
  /** The modules it loaded, to unload when it is replaced. */
  modules: readonly LoadedModule[];
  /** Staging directories to remove when it is replaced. */
  staging: readonly string[];
}

export async function deployApp(engine: Engine, locked: LockedApp): Promise<DeployedApp> {
  const modules: LoadedModule[] = [];
  const staging: string[] = [];
  try {
    const components = new Map<string, WagiComponent>();
    const byName = new Map<string, WagiComponent>();
    for (const component of locked.components) {
      const module = await loadSource(engine, component);
      modules.push(module);
      const dirs = await grantsFor(component, staging);
      byName.set(component.name, {
        module,
        env: Object.entries(component.environment),
        dirs,
        limits: component.limits,
        ...(component.instance.kind === 'reuse'
          ? { instance: { reuse: component.instance.invocations } }
          : {}),
      });
    }
    const routes = locked.routes.map((route) => {
      const base = byName.get(route.component) as WagiComponent;
      const { entrypoint, argv } = route.executor;
      const key = entrypoint === '_start' ? route.component : `${route.component}#${entrypoint}`;
      components.set(key, { ...base, entrypoint, argv });
      return { pattern: route.route, component: key };
    });
    return {
      http: { name: locked.application.name, routes, components },
      lockedJson: JSON.stringify(locked),
      modules,
      staging,
    };
  } catch (error) {
    await undeployApp(engine, { modules, staging });
    throw error;
  }
}

/** Unloads an app's modules and removes its staging directories. */
export async function undeployApp(
  engine: Engine,
  app: Pick<DeployedApp, 'modules' | 'staging'>,
): Promise<void> {
  for (const module of app.modules) engine.unload(module);
  await Promise.all(app.staging.map((dir) => rm(dir, { recursive: true, force: true })));
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

async function grantsFor(component: LockedComponent, staging: string[]): Promise<DirGrant[]> {
  const dirs: DirGrant[] = [];
  let stage: string | undefined;
  for (const mount of component.files) {
    if (mount.kind === 'directory') {
      dirs.push({ hostPath: mount.hostPath, guestPath: mount.guestPath, readOnly: true });
      continue;
    }
    if (stage === undefined) {
      stage = await mkdtemp(join(tmpdir(), 'isola-files-'));
      staging.push(stage);
      dirs.push({ hostPath: stage, guestPath: '/', readOnly: true });
    }
    const target = join(stage, mount.guestPath);
    await mkdir(dirname(target), { recursive: true });
    await copyFile(mount.hostPath, target);
  }
  return dirs;
}
