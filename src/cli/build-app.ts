/**
 * Finding an app, running its components' `build` commands and locking it: what `isola build`
 * does once and `isola up` does before it serves (and again on each change with `--watch`).
 *
 * A build command runs in `sh -c` in the component's `workdir`, with stdout and stderr going to
 * this process's, and with an `isola` first on its PATH that runs this same isola (same Node,
 * same code), so that a manifest's `command = "isola componentize index.js -o app.wasm"` works
 * from a checkout with no global install.
 */
import { spawn } from 'node:child_process';
import { chmod, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, delimiter, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  globToRegExp,
  type LockedApp,
  lockManifest,
  SCRIPT_EXTENSIONS,
  SCRIPTS_MANIFEST,
  scriptsManifest,
} from '../app/index.js';
import { IsolaError, isIsolaError } from '../errors.js';
import { findManifest, type Manifest, readManifest } from '../manifest/index.js';

export interface BuiltApp {
  manifest: Manifest;
  locked: LockedApp;
  /** The components whose build commands ran, in manifest order. */
  built: string[];
}

/**
 * The app `appPath` names: its manifest, or, for a directory with none that holds scripts, the
 * directory as an app of scripts (src/app/scripts.ts), named `DIR/(scripts)`.
 */
export async function findApp(appPath: string): Promise<string> {
  try {
    return await findManifest(appPath);
  } catch (error) {
    if (!isIsolaError(error, 'E_MANIFEST_READ') || !(await isDirectory(appPath))) throw error;
    if ((await scriptsManifest(appPath)) === undefined) {
      throw new IsolaError(
        'E_MANIFEST_READ',
        `${resolve(appPath)} holds no isola.toml, no spin.toml and no scripts (${Object.keys(SCRIPT_EXTENSIONS).join(', ')}): ` +
          'create a manifest or a script, or pass the path of one',
        { path: resolve(appPath) },
      );
    }
    return join(resolve(appPath), SCRIPTS_MANIFEST);
  }
}

/**
 * Runs the components' builds (all of them, or, given the files that `changed`, those whose
 * inputs changed), then locks the app.
 */
export async function buildAndLock(
  manifestPath: string,
  changed: ReadonlySet<string> | undefined,
): Promise<BuiltApp> {
  const { path, manifest } = await readApp(manifestPath);
  const root = dirname(path);
  const built: string[] = [];
  let pathDir: string | undefined;
  try {
    for (const component of manifest.components) {
      const { name, build } = component;
      if (build === undefined) continue;
      const workdir = resolve(root, build.workdir ?? '.');
      if (
        changed !== undefined &&
        !needsBuild(changed, workdir, build.watch, resolve(root, component.source))
      )
        continue;
      pathDir ??= await isolaPathDirectory();
      for (const command of build.commands) await runBuild(name, command, workdir, pathDir);
      built.push(name);
    }
  } finally {
    if (pathDir !== undefined) await rm(pathDir, { recursive: true, force: true });
  }
  return { manifest, locked: await lockManifest(manifest, path), built };
}

async function readApp(path: string): Promise<{ path: string; manifest: Manifest }> {
  if (basename(path) !== SCRIPTS_MANIFEST) return readManifest(path);
  const manifest = await scriptsManifest(dirname(path));
  if (manifest === undefined) {
    throw new IsolaError('E_MANIFEST_READ', `${dirname(path)} holds no scripts any more: add one`, { path });
  }
  return { path, manifest };
}

function isDirectory(path: string): Promise<boolean> {
  return stat(path).then(
    (info) => info.isDirectory(),
    () => false,
  );
}

/**
 * Whether a change calls for a component's build: a changed file matching its watch globs, or,
 * with none, any changed file but its own output (which the build itself just wrote).
 */
function needsBuild(
  changed: ReadonlySet<string>,
  workdir: string,
  globs: readonly string[],
  output: string,
): boolean {
  for (const file of changed) {
    if (file === output) continue;
    if (globs.length === 0) return true;
    const path = relative(workdir, file);
    if (globs.some((glob) => globToRegExp(glob).test(path))) return true;
  }
  return false;
}

function runBuild(component: string, command: string, cwd: string, pathDir: string): Promise<void> {
  process.stderr.write(`isola: building ${component}: ${command}\n`);
  const env = { ...process.env, PATH: `${pathDir}${delimiter}${process.env.PATH ?? ''}` };
  return new Promise((resolvePromise, reject) => {
    const child = spawn('sh', ['-c', command], { cwd, env, stdio: ['ignore', 'inherit', 'inherit'] });
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      if (code === 0) resolvePromise();
      else
        reject(
          new IsolaError(
            'E_APP_BUILD_FAILED',
            `the build of component "${component}" failed (${signal ?? `exit code ${code}`}): fix \`${command}\` in ${cwd}`,
            { component, command, code, signal },
          ),
        );
    });
  });
}

/**
 * A fresh directory holding an executable `isola` that runs this isola: bin/isola.js (which runs
 * dist/) when this module runs from dist/, or src/cli/main.ts through tsx when it runs from src/,
 * as a checkout's tests do with no dist/ built. (bin/ itself holds `isola.js`, not `isola`.)
 */
async function isolaPathDirectory(): Promise<string> {
  const fromSource = import.meta.url.endsWith('.ts');
  const command = fromSource
    ? [
        process.execPath,
        '--import',
        import.meta.resolve('tsx'),
        '--input-type=module',
        '-e',
        `const { main } = await import(${JSON.stringify(new URL('./main.ts', import.meta.url).href)}); ` +
          'process.exitCode = await main(process.argv.slice(1));',
        '--',
      ]
    : [process.execPath, fileURLToPath(new URL('../../bin/isola.js', import.meta.url))];
  const dir = await mkdtemp(join(tmpdir(), 'isola-bin-'));
  const script = join(dir, 'isola');
  await writeFile(script, `#!/bin/sh\nexec ${command.map(shellQuote).join(' ')} "$@"\n`);
  await chmod(script, 0o755);
  return dir;
}

function shellQuote(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`;
}
