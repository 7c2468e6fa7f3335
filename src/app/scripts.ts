/**
 * An app made of scripts alone, with no manifest: every script under the directory becomes an
 * endpoint, routed by its path, run by the runtime its extension names, with the whole directory
 * bundled read-only at /app.
 *
 * - `api/hello.py` → `/api/hello`; `index.py` → its directory (`/`, `/api`).
 * - `api/users/[id].rb` → `/api/users/:id` (the value reaches the script as `X_PATH_PARAM_ID`);
 *   a last segment `[...rest]` → `/...` (everything below).
 * - Files and directories whose name starts with `_` or `.`, and `node_modules` and `__pycache__`,
 *   are not endpoints: that is where a script's own modules and data go.
 *
 * The result is an ordinary `Manifest`, locked like any other.
 */
import { readdir } from 'node:fs/promises';
import { basename, extname, join, posix, resolve } from 'node:path';
import { IsolaError } from '../errors.js';
import type { ComponentManifest, HttpTrigger, Manifest, RuntimeName } from '../manifest/manifest.js';
import { parseRoute } from '../manifest/route.js';

/** Which runtime runs a script, by extension. */
export const SCRIPT_EXTENSIONS: Readonly<Record<string, RuntimeName>> = Object.freeze({
  '.py': 'python',
  '.rb': 'ruby',
  '.js': 'javascript',
});

/**
 * What stands for the manifest's file name when an app of scripts is locked (`dir/(scripts)`):
 * errors name it, and its directory is the app's.
 */
export const SCRIPTS_MANIFEST = '(scripts)';

/** Scripts looked at, at most; a larger tree is not an app of scripts. */
export const MAX_SCRIPTS = 1000;

const SKIPPED_DIRECTORIES = new Set(['node_modules', '__pycache__']);

/** The manifest for the scripts under `dir`, or undefined when it holds none. */
export async function scriptsManifest(dir: string): Promise<Manifest | undefined> {
  const root = resolve(dir);
  const scripts = (await findScripts(root, '')).sort();
  if (scripts.length === 0) return undefined;
  const names = new Set<string>();
  const components: ComponentManifest[] = [];
  const httpTriggers: HttpTrigger[] = [];
  for (const script of scripts) {
    const name = componentName(script, names);
    components.push({
      name,
      source: '',
      runtime: { name: SCRIPT_EXTENSIONS[extname(script)] as RuntimeName, script, appDir: '.' },
      files: [],
      environment: {},
      variables: {},
      allowedOutboundHosts: [],
      keyValueStores: [],
      limits: {},
    });
    const route = routeOf(script);
    const check = parseRoute(route);
    if (!check.ok) {
      throw new IsolaError(
        'E_MANIFEST_INVALID',
        `${join(root, script)} would serve route "${route}", which ${check.problem}: rename the script`,
        { script, route },
      );
    }
    httpTriggers.push({ key: `script ${script}`, route, component: name });
  }
  return {
    format: 'isola',
    application: { name: applicationName(root), authors: [] },
    variables: {},
    httpTriggers,
    components,
  };
}

async function findScripts(root: string, relative: string): Promise<string[]> {
  const found: string[] = [];
  const entries = await readdir(join(root, relative), { withFileTypes: true });
  for (const entry of entries) {
    if (entry.name.startsWith('.') || entry.name.startsWith('_')) continue;
    const path = relative === '' ? entry.name : `${relative}/${entry.name}`;
    if (entry.isDirectory()) {
      if (!SKIPPED_DIRECTORIES.has(entry.name)) found.push(...(await findScripts(root, path)));
    } else if (entry.isFile() && SCRIPT_EXTENSIONS[extname(entry.name)] !== undefined) {
      found.push(path);
    }
    if (found.length > MAX_SCRIPTS) return found.slice(0, MAX_SCRIPTS);
  }
  return found;
}

/** `api/users/[id].rb` → `/api/users/:id`; `index` names its directory; `[...rest]` last → `/...`. */
export function routeOf(script: string): string {
  const segments = script.slice(0, -extname(script).length).split('/');
  if (segments.at(-1) === 'index') segments.pop();
  const route = segments.map((segment, index) => {
    const rest = /^\[\.\.\.[^\]]*\]$/.exec(segment);
    if (rest && index === segments.length - 1) return '...';
    const param = /^\[([^\]]+)\]$/.exec(segment);
    return param ? `:${param[1]}` : segment;
  });
  return `/${route.join('/')}`;
}

/** A kebab-case component name from the script's path, unique among `taken`. */
function componentName(script: string, taken: Set<string>): string {
  const base =
    posix
      .normalize(script)
      .toLowerCase()
      .replace(/\.[a-z0-9]+$/, '')
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '') || 'index';
  const start = /^[a-z]/.test(base) ? base : `script-${base}`;
  let name = start;
  for (let n = 2; taken.has(name); n++) name = `${start}-${n}`;
  taken.add(name);
  return name;
}

function applicationName(root: string): string {
  return basename(root).replace(/[^A-Za-z0-9_-]+/g, '-') || 'scripts';
}
