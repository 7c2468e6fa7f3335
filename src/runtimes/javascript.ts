/**
 * JavaScript apps: scripts run by `js`, a runner built on the Duktape engine compiled to a WASI
 * command (runtimes/javascript/, built into build/runtimes/js.wasm by
 * scripts/build-javascript-runtime.ts). Each request is a fresh instance running `js SCRIPT`.
 *
 * ```ts
 * const module = await engine.load(await prepareJavaScript({ appDir: 'app' }));
 * await engine.run(module, {
 *   args: ['js', '/app/api/hello.js'], env: cgiEnv, stdin: body,
 *   dirs: [{ hostPath: 'app', guestPath: '/app', readOnly: true }],
 * });
 * ```
 *
 * Unlike Python's, the module is not pre-initialized: Duktape creates its heap and the runner's
 * globals in about 0.4 ms of a request, so a snapshot would save little, and wizer (wasmtime)
 * cannot run the module anyway, as it uses Wasm exception handling for setjmp/longjmp (see
 * runtimes/javascript/README.md). Nothing of the app is baked in, so every JavaScript app runs
 * the same bytes, which the engine compiles once for all of them (modules are content-addressed).
 *
 * What a script gets: ECMAScript 5.1 and the parts of ES2015+ that Duktape 2.7 has, plus
 * print/console, process.argv/env/exit/exitCode, readStdin() and readFile(path), as listed in
 * runtimes/javascript/api.c.
 */
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { posix, resolve } from 'node:path';
import { IsolaError } from '../errors.js';

export interface JavaScriptAppOptions {
  /** The app's directory on the host: its scripts and data files. Must exist. */
  appDir: string;
  /** Where requests mount the app directory. Default `/app`. Checked, not baked in. */
  guestDir?: string;
  /** The runner to use. Default: the one the build left at build/runtimes/js.wasm. */
  wasm?: Uint8Array;
}

export const JAVASCRIPT_DEFAULTS = Object.freeze({ guestDir: '/app' });

/** argv[0] of every request: `js /app/api/hello.js`. */
export const JAVASCRIPT_COMMAND = 'js';

/** Extensions of the scripts the runner runs. */
export const JAVASCRIPT_EXTENSIONS: readonly string[] = Object.freeze(['.js']);

/** Where scripts/build-javascript-runtime.ts writes the runner, from src/runtimes/ or dist/runtimes/. */
const RUNNER_PATH = resolve(import.meta.dirname, '../../build/runtimes/js.wasm');

/** The host path of js.wasm; throws E_MANIFEST_UNSUPPORTED, with the command that builds it, when it is missing. */
export function javaScriptModulePath(): string {
  if (!existsSync(RUNNER_PATH)) {
    throw new IsolaError(
      'E_MANIFEST_UNSUPPORTED',
      `runtime "javascript" needs its runner, ${RUNNER_PATH}, which has not been built: run ` +
        '`npx tsx scripts/build-javascript-runtime.ts` (it needs `bash scripts/setup-toolchain.sh` first)',
      { runtime: 'javascript', path: RUNNER_PATH },
    );
  }
  return RUNNER_PATH;
}

/**
 * The module each request of the app runs: the runner itself, after checking what a deploy can
 * check (the app directory exists, the guest path can hold it). Run it with `args: ['js',
 * '<guestDir>/SCRIPT', ...]` and the app directory mounted at `guestDir`.
 */
export async function prepareJavaScript(options: JavaScriptAppOptions): Promise<Uint8Array> {
  checkGuestDir(options.guestDir ?? JAVASCRIPT_DEFAULTS.guestDir);
  await checkAppDir(options.appDir);
  return options.wasm ?? new Uint8Array(await readFile(javaScriptModulePath()));
}

function checkGuestDir(guestDir: string): void {
  if (
    !guestDir.startsWith('/') ||
    guestDir === '/' ||
    posix.normalize(guestDir) !== guestDir ||
    /[\0:]/.test(guestDir)
  ) {
    throw new IsolaError(
      'E_PREOPEN_INVALID',
      `guest directory "${guestDir}" cannot hold the app: use a normalized absolute path other than "/", ` +
        'without ":" or NUL, such as "/app"',
      { guestDir },
    );
  }
}

async function checkAppDir(appDir: string): Promise<void> {
  const found = await stat(appDir).catch(() => undefined);
  if (found === undefined || !found.isDirectory()) {
    throw new IsolaError(
      'E_APP_SOURCE_MISSING',
      `app directory "${appDir}" ${found === undefined ? 'does not exist' : 'is not a directory'}: ` +
        'point appDir at the directory that holds the scripts',
      { appDir },
    );
  }
}
