/**
 * Pre-initialization: run a module's initialization once, at deploy, and keep the initialized
 * state as a new module, so that interpreters and large apps do not redo their start-up work in
 * every instance. The work is done by Wizer (`@bytecodealliance/wizer`, the Bytecode Alliance's
 * pre-initializer, which componentize-js and wasi-vfs also use to make their modules): it
 * instantiates the module in wasmtime, calls the init export, and writes memory and globals out
 * as data segments and constant initializers. The snapshot needs nothing newer than bulk memory
 * (passive data segments), which Node 20's V8 runs; it is compiled here before it is returned.
 * Pre-initialize before rewriting a module to import its memory: wizer refuses imported memories.
 *
 * Wizer runs as a child process with no shell, in a private temporary directory that is removed
 * afterwards, under a deadline. Initialization gets WASI with nothing granted unless asked:
 * stdin at end of input, stdout and stderr captured, no environment, no directories. Whatever it
 * reads (environment values, file contents) can end up in the snapshot's bytes.
 *
 * For a WASI command the usual pattern is an init export that runs the constructors and the
 * expensive set-up, and a `wizer.resume` export that runs main without them, renamed over
 * `_start` (`renames: { _start: 'wizer.resume' }`); test/fixtures/c/preinit-table.c shows it,
 * with what wasi-libc bakes in.
 */
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { IsolaError } from '../errors.js';
import { compileModule, describeModule, type ModuleExport } from './module-info.js';

const run = promisify(execFile);

/** The npm package whose default export is the path of the wizer binary for this platform. */
const WIZER_PACKAGE: string = '@bytecodealliance/wizer';

export interface PreinitOptions {
  /** The export wizer calls to initialize the module. Default `wizer.initialize`. */
  initFunction?: string;
  /**
   * Exports to rename in the snapshot, new name → existing function export, e.g.
   * `{ _start: 'wizer.resume' }`, which replaces `_start`. None by default.
   */
  renames?: Readonly<Record<string, string>>;
  /** Environment variables the initialization sees. None by default. */
  env?: Readonly<Record<string, string>>;
  /**
   * Host directories the initialization may read, by guest path. None by default. Each is
   * copied into the private temporary directory first, because wizer mounts directories
   * writable: the guest may write to its copy, and the copy is discarded.
   */
  dirs?: Readonly<Record<string, string>>;
  /** Wall-clock limit on wizer's run, initialization included. Default 60 s. */
  timeoutMs?: number;
  /** Largest snapshot accepted, in bytes. Default 256 MiB. */
  maxOutputBytes?: number;
  /** The wizer binary to run. Default: the one `@bytecodealliance/wizer` installed for this platform. */
  wizerPath?: string;
}

export const PREINIT_DEFAULTS = Object.freeze({
  initFunction: 'wizer.initialize',
  timeoutMs: 60_000,
  maxOutputBytes: 256 * 1024 * 1024,
});

/** Inclusive ranges for the numeric options; V8 compiles modules of up to 1 GiB. */
export const PREINIT_LIMIT_RANGES = Object.freeze({
  timeoutMs: Object.freeze([1, 60 * 60 * 1000] as const),
  maxOutputBytes: Object.freeze([1, 1024 * 1024 * 1024] as const),
});

/** Bytes of wizer's stdout and of its stderr (the guest's own output included) kept; more fails the run. */
export const PREINIT_LOG_BYTES = 1024 * 1024;

/**
 * The module after wizer ran its init export, with `options.renames` applied. Checks the module
 * and the init export before starting wizer; see the module comment for what the run may touch.
 */
export async function preinitialize(bytes: Uint8Array, options: PreinitOptions = {}): Promise<Uint8Array> {
  const initFunction = options.initFunction ?? PREINIT_DEFAULTS.initFunction;
  const timeoutMs = checkRange('timeoutMs', options.timeoutMs ?? PREINIT_DEFAULTS.timeoutMs);
  const maxOutputBytes = checkRange(
    'maxOutputBytes',
    options.maxOutputBytes ?? PREINIT_DEFAULTS.maxOutputBytes,
  );
  const env = checkEnv(options.env ?? {});
  const dirs = await checkDirs(options.dirs ?? {});
  const renames = Object.entries(options.renames ?? {});

  // compileModule reads the header first, refusing anything but a core module.
  const { exports } = describeModule(await compileModule(bytes));
  const functions = exports.filter((entry) => entry.kind === 'function').map((entry) => entry.name);
  requireInitFunction(initFunction, exports, functions);
  for (const [to, from] of renames) checkRename(to, from, functions);

  const wizer = options.wizerPath ?? (await locateWizer());
  const scratch = await mkdtemp(join(tmpdir(), 'isola-preinit-'));
  try {
    const input = join(scratch, 'input.wasm');
    const output = join(scratch, 'output.wasm');
    await writeFile(input, bytes);
    const mapdirs: string[] = [];
    for (const [index, [guestPath, hostPath]] of dirs.entries()) {
      const copy = join(scratch, 'dirs', String(index));
      await copyDir(hostPath, copy, guestPath);
      mapdirs.push(`--mapdir=${guestPath}::${copy}`);
    }
    // Values are joined to their flags with `=`: an export name may start with `-` too.
    const args = [
      input,
      `-o=${output}`,
      `--init-func=${initFunction}`,
      '--allow-wasi',
      '--inherit-stdio=true',
      // wizer's own environment is exactly the granted variables (see runWizer), so inheriting
      // it grants those and nothing else.
      '--inherit-env=true',
      ...renames.map(([to, from]) => `--rename-func=${to}=${from}`),
      ...mapdirs,
    ];
    await runWizer(wizer, args, env, timeoutMs, initFunction);
    return await readSnapshot(output, maxOutputBytes);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

function checkRange(name: keyof typeof PREINIT_LIMIT_RANGES, value: number): number {
  const [min, max] = PREINIT_LIMIT_RANGES[name];
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new IsolaError(
      'E_LIMIT_OUT_OF_RANGE',
      `pre-initialization option ${name} = ${value} is out of range: use a whole number from ${min} to ${max}`,
      { option: name, value, min, max },
    );
  }
  return value;
}

/**
 * Variables that would change how the host runs wizer itself, which a grant must not do: wizer
 * has no flag to set a guest variable, so the grants become its own process environment. The
 * names are those glibc drops for setuid programs (sysdeps/generic/unsecvars.h), plus the
 * prefixes the Rust runtime, wasmtime and tokio read.
 */
const HOST_ENV_NAMES = new Set([
  'GCONV_PATH',
  'GETCONF_DIR',
  'HOSTALIASES',
  'LOCALDOMAIN',
  'LOCPATH',
  'NIS_PATH',
  'NLSPATH',
  'RESOLV_HOST_CONF',
  'RES_OPTIONS',
  'TMPDIR',
  'TZDIR',
]);
const HOST_ENV_PREFIXES = ['LD_', 'GLIBC_', 'MALLOC_', 'RUST_', 'WASMTIME_', 'TOKIO_'];

function checkEnv(env: Readonly<Record<string, string>>): Record<string, string> {
  for (const [name, value] of Object.entries(env)) {
    if (name === '' || name.includes('=') || name.includes('\0') || value.includes('\0')) {
      throw new IsolaError(
        'E_ARGUMENT_INVALID',
        `environment variable "${name}" cannot be granted to the initialization: ` +
          'use a non-empty name without "=" and no NUL bytes in the name or value',
        { name },
      );
    }
    if (HOST_ENV_NAMES.has(name) || HOST_ENV_PREFIXES.some((prefix) => name.startsWith(prefix))) {
      throw new IsolaError(
        'E_ARGUMENT_INVALID',
        `environment variable "${name}" cannot be granted to the initialization: wizer receives the ` +
          'grants as its own environment, where this name changes how the host runs wizer; ' +
          'rename the variable, or grant it at run time only',
        { name },
      );
    }
  }
  return { ...env };
}

/** The grants as [guestPath, hostPath] pairs, each host path an existing directory. */
async function checkDirs(dirs: Readonly<Record<string, string>>): Promise<[string, string][]> {
  const checked = Object.entries(dirs);
  for (const [guestPath, hostPath] of checked) {
    if (guestPath === '' || guestPath.includes('\0') || guestPath.includes('::')) {
      throw new IsolaError(
        'E_PREOPEN_INVALID',
        `guest path "${guestPath}" cannot be mounted for the initialization: use a non-empty path ` +
          'without NUL bytes or "::" (wizer\'s separator)',
        { guestPath, hostPath },
      );
    }
    const isDirectory = await stat(hostPath).then(
      (stats) => stats.isDirectory(),
      () => undefined,
    );
    if (isDirectory !== true) {
      throw new IsolaError(
        'E_PREOPEN_INVALID',
        isDirectory === undefined
          ? `directory ${hostPath} does not exist: create it or mount another`
          : `${hostPath} is not a directory: mount a directory`,
        { guestPath, hostPath },
      );
    }
  }
  return checked;
}

function requireInitFunction(name: string, exports: readonly ModuleExport[], functions: string[]): void {
  const entry = exports.find((candidate) => candidate.name === name);
  if (entry?.kind === 'function') return;
  const similar = functions.filter((candidate) => /wizer|init/i.test(candidate));
  const hint =
    similar.length > 0
      ? `; it exports ${similar.map((candidate) => `"${candidate}"`).join(', ')}: pass ${
          similar.length === 1 ? 'that' : 'the right one'
        } as initFunction`
      : '';
  throw new IsolaError(
    'E_PREINIT_NO_INIT',
    `module exports ${entry ? `"${name}" as a ${entry.kind}, not a function` : `no function named "${name}"`}, ` +
      'so there is no initialization to run: export one (in C, ' +
      `__attribute__((export_name("${name}")))) or name the module's own with initFunction${hint}`,
    { initFunction: name, exportedFunctions: functions.slice(0, 20) },
  );
}

function checkRename(to: string, from: string, functions: string[]): void {
  // wizer silently skips a rename whose source is missing, yet still drops the target export.
  if (to === '' || to.includes('=') || !functions.includes(from)) {
    throw new IsolaError(
      'E_ARGUMENT_INVALID',
      to === '' || to.includes('=')
        ? `cannot rename "${from}" to "${to}": use a non-empty new name without "="`
        : `cannot rename "${from}" to "${to}": the module exports no function named "${from}"; ` +
            'rename one of its exported functions',
      { to, from, exportedFunctions: functions.slice(0, 20) },
    );
  }
}

async function copyDir(hostPath: string, copy: string, guestPath: string): Promise<void> {
  try {
    await mkdir(copy, { recursive: true });
    // Symlinks are copied as links; wasmtime refuses to follow one out of the mounted directory.
    await cp(hostPath, copy, { recursive: true, verbatimSymlinks: true });
  } catch (error) {
    throw new IsolaError(
      'E_PREOPEN_INVALID',
      `cannot copy ${hostPath} for the initialization to read: ${(error as Error).message}: ` +
        'mount a directory of regular files and subdirectories that isola can read',
      { guestPath, hostPath },
      { cause: error },
    );
  }
}

/** The wizer binary from `@bytecodealliance/wizer`; E_PREINIT_UNAVAILABLE when there is none. */
async function locateWizer(): Promise<string> {
  let location: unknown;
  try {
    location = ((await import(WIZER_PACKAGE)) as { default?: unknown }).default;
  } catch (error) {
    const notInstalled = (error as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND';
    // The package's own errors name the fix: a platform it has no binary for, or its platform
    // package left out (npm install --omit=optional).
    throw new IsolaError(
      'E_PREINIT_UNAVAILABLE',
      notInstalled
        ? `wizer is not installed: run \`npm install ${WIZER_PACKAGE}\``
        : `wizer cannot run here: ${firstLine((error as Error).message)}`,
      { platform: process.platform, arch: process.arch },
      { cause: error },
    );
  }
  if (typeof location !== 'string') {
    throw new IsolaError(
      'E_PREINIT_UNAVAILABLE',
      `${WIZER_PACKAGE} did not name a wizer binary: reinstall it, or pass wizerPath`,
      { platform: process.platform, arch: process.arch },
    );
  }
  return location;
}

interface ExecFailure {
  code?: number | string | null;
  signal?: NodeJS.Signals | null;
  stdout?: string;
  stderr?: string;
}

async function runWizer(
  wizer: string,
  args: string[],
  env: Record<string, string>,
  timeoutMs: number,
  initFunction: string,
): Promise<void> {
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(), timeoutMs);
  try {
    const running = run(wizer, args, {
      // Nothing of isola's environment reaches wizer or the guest (RUST_BACKTRACE would also turn
      // wizer's errors into pages of backtrace).
      env,
      encoding: 'utf8',
      maxBuffer: PREINIT_LOG_BYTES,
      signal: deadline.signal,
      killSignal: 'SIGKILL',
    });
    // The guest's stdin is wizer's: at end of input, never a terminal to wait on.
    running.child.stdin?.end();
    await running;
  } catch (error) {
    const { code, signal, stdout = '', stderr = '' } = error as ExecFailure;
    if (deadline.signal.aborted) {
      throw new IsolaError(
        'E_PREINIT_TIMEOUT',
        `pre-initialization did not finish within ${timeoutMs} ms: make "${initFunction}" finish sooner ` +
          '(does it loop or wait for input?), or raise timeoutMs',
        { timeoutMs, initFunction, stdout, stderr },
        { cause: error },
      );
    }
    if (code === 'ENOENT' || code === 'EACCES') {
      throw new IsolaError(
        'E_PREINIT_UNAVAILABLE',
        `cannot run wizer at ${wizer} (${code}): reinstall ${WIZER_PACKAGE}, or pass the path of a wizer binary as wizerPath`,
        { wizerPath: wizer, code },
        { cause: error },
      );
    }
    if (code === 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER') {
      throw new IsolaError(
        'E_PREINIT_FAILED',
        `pre-initialization wrote more than ${PREINIT_LOG_BYTES} bytes to stdout or stderr: ` +
          `make "${initFunction}" print less`,
        { initFunction, stdout, stderr },
        { cause: error },
      );
    }
    const exitCode = typeof code === 'number' ? code : null;
    throw wizerFailed({ stderr, stdout, exitCode, signal: signal ?? null }, initFunction, error);
  } finally {
    clearTimeout(timer);
  }
}

interface WizerRun {
  stderr: string;
  stdout: string;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * wizer reports failures the way anyhow prints them: `Error: <what>`, then `Caused by:` and a
 * numbered chain whose last entry is the root cause (a trap, an exit, a missing import). The
 * guest's own stderr comes first.
 */
function wizerFailed(run: WizerRun, initFunction: string, cause: unknown): IsolaError {
  const { stderr, exitCode, signal } = run;
  const start = reportStart(stderr);
  const [first = '', ...chain] = start >= 0 ? stderr.slice(start).split('\n') : [];
  const headline =
    start >= 0
      ? first.slice('Error: '.length)
      : signal
        ? `wizer was killed by ${signal}`
        : `wizer exited with code ${exitCode}${stderr.trim() ? `: ${firstLine(stderr.trim())}` : ''}`;
  const end = chain.findIndex((line) => line.startsWith('Stack backtrace:'));
  const causes = (end >= 0 ? chain.slice(0, end) : chain)
    .map((line) => /^\s+\d+: (.*)$/.exec(line)?.[1])
    .filter((text): text is string => text !== undefined);
  const rootCause = causes.at(-1);
  const what = rootCause ? `${headline} (${rootCause})` : headline;
  return new IsolaError(
    'E_PREINIT_FAILED',
    `pre-initialization failed: ${what}: ${fixFor(`${headline}\n${rootCause ?? ''}`, initFunction)}`,
    { initFunction, ...run },
    { cause },
  );
}

/**
 * Where wizer's report starts: the last line that begins with `Error: ` (the guest's output comes
 * before it), or the last `Error: ` at all when the guest's last line had no newline.
 */
function reportStart(stderr: string): number {
  const lineStart = stderr.lastIndexOf('\nError: ');
  return lineStart >= 0 ? lineStart + 1 : stderr.lastIndexOf('Error: ');
}

function fixFor(report: string, initFunction: string): string {
  if (/Exited with i32 exit status/.test(report)) {
    return `"${initFunction}" exited (proc_exit); return from it instead`;
  }
  if (/unknown import/.test(report)) {
    return `"${initFunction}" called an import wizer cannot provide: only WASI preview1 functions can be called during initialization`;
  }
  if (/imported (memories|tables|globals)/.test(report)) {
    return 'wizer cannot snapshot a module that imports its memory, tables or globals: pre-initialize the module before rewriting it to import them';
  }
  return `fix "${initFunction}" (wizer's stderr is in details.stderr), or deploy the module without pre-initialization`;
}

async function readSnapshot(output: string, maxOutputBytes: number): Promise<Uint8Array> {
  const { size } = await stat(output);
  if (size > maxOutputBytes) {
    throw new IsolaError(
      'E_PREINIT_OUTPUT_LIMIT',
      `the pre-initialized module is ${size} bytes, more than maxOutputBytes (${maxOutputBytes}): ` +
        'raise the limit, or leave less memory in use at the end of initialization',
      { size, maxOutputBytes },
    );
  }
  const file = await readFile(output);
  const snapshot = new Uint8Array(file.buffer, file.byteOffset, file.byteLength);
  try {
    await compileModule(snapshot);
  } catch (error) {
    const reason = error instanceof IsolaError ? error.details.reason : (error as Error).message;
    throw new IsolaError(
      'E_PREINIT_FAILED',
      `wizer produced a module this Node.js cannot compile (${String(reason)}): ` +
        'deploy the module without pre-initialization',
      { size, reason },
      { cause: error },
    );
  }
  return snapshot;
}

function firstLine(text: string): string {
  return text.split('\n', 1)[0]!;
}
