/**
 * `isola run [OPTIONS] MODULE [ARGS...]`: runs a WASI preview1 command the way `wasmtime run`
 * does, with the same flag spellings, so scripts written for wasmtime keep working. The module
 * is read, checked (Wasm at all, whole, a core module, a command, imports isola provides),
 * capped (`--max-memory-size`), compiled, and run in a worker thread so that `--timeout` can
 * stop it. Every failure is one line, `isola: <what is wrong>: <what to do>`.
 */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import type { Command } from 'commander';
import { IsolaError, isIsolaError, type SerializedError } from '../errors.js';
import { WASI_LIMIT_RANGES } from '../limits.js';
import {
  type CommandConfig,
  type CommandOutcome,
  type DirGrant,
  runCommand,
} from '../runtime/run-command.js';
import {
  checkImports,
  compileModule,
  describeModule,
  limitMemory,
  MAX_MEMORY_LIMIT_BYTES,
  readHeader,
  requireCommand,
} from '../wasm/index.js';
import { parseByteSize } from './byte-size.js';
import { formatDuration, parseDuration } from './duration.js';

/** Exit codes of `isola run` besides the guest's own. */
export const RUN_EXIT_CODES = Object.freeze({
  /** The module could not be run: not Wasm, truncated, unsupported imports, missing file or directory. */
  FAILURE: 1,
  /** The command line is wrong: an unknown option or a bad option value. */
  USAGE: 2,
  /** isola itself failed (a bug): EX_SOFTWARE from sysexits.h. */
  INTERNAL: 70,
  /** The guest ran past `--timeout`, as timeout(1) reports it. */
  TIMEOUT: 124,
  /** The guest trapped: 128 + SIGABRT, as wasmtime reports a trap on Unix. */
  TRAP: 134,
});

const HELP_AFTER = `
The guest's argv[0] is the module's file name; options after MODULE are the guest's.
Stdin, stdout and stderr are this process's. The guest sees no files, no environment
variables and no network unless granted.

Exit status:
  N     the guest's exit code (proc_exit, or 0 when _start returns)
  1     the module could not be run (not Wasm, truncated, a component, no _start,
        imports isola does not provide, a missing file or directory, a memory limit)
  2     bad command line (unknown option, bad --env, --timeout or --max-memory-size)
  70    internal error in isola
  124   the guest ran past --timeout
  134   the guest trapped (as wasmtime reports it on Unix)

Examples:
  isola run hello.wasm
  isola run --dir ./data::/data --env GREETING=hi --timeout 2s app.wasm --verbose
  isola run -W timeout=500ms,max-memory-size=64M app.wasm`;

/** Options as commander collects them, before validation. */
export interface RunOptions {
  dir?: string[];
  roDir?: string[];
  env?: string[];
  maxMemorySize?: string;
  timeout?: string;
  W?: string[];
  argv0?: string;
  trace?: boolean;
  debug?: boolean;
}

/** A validated `isola run` invocation. */
export interface RunPlan {
  modulePath: string;
  config: CommandConfig;
  maxMemoryBytes: number | undefined;
  timeoutMs: number | undefined;
  debug: boolean;
}

/** Where `isola run` writes its own lines (the guest writes to fds 1 and 2 directly). */
export interface RunOutput {
  error(line: string): void;
}

/** Commander's reducer for a repeatable option; no default, so help shows none. */
function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** Adds `run` to the program; `done` receives the exit code. */
export function defineRunCommand(program: Command, output: RunOutput, done: (code: number) => void): void {
  program
    .command('run')
    .description('run a WASI command (a preview1 module exporting _start), as `wasmtime run` does')
    .usage('[options] <module> [args...]')
    .argument('<module>', 'the .wasm file to run')
    .argument('[args...]', 'arguments passed to the guest')
    .option(
      '--dir <HOST[::GUEST]>',
      'grant a host directory read-write at GUEST (default: HOST); repeatable',
      collect,
    )
    .option('--ro-dir <HOST[::GUEST]>', 'grant a host directory read-only; repeatable', collect)
    .option(
      '--env <NAME[=VALUE]>',
      'set a variable; NAME alone passes the host value through; repeatable',
      collect,
    )
    .option('--max-memory-size <BYTES>', 'cap linear memory: bytes, 0x hex, or K/M/G (binary) suffixes')
    .option(
      '--timeout <DURATION>',
      'stop the guest after this wall-clock time: 500ms, 2s, 1m (bare number: seconds)',
    )
    .option('-W <KEY=VALUE,...>', 'wasmtime-style options: timeout=DURATION, max-memory-size=BYTES', collect)
    .option('--argv0 <NAME>', "the guest's argv[0] (default: the module's file name)")
    .option('--trace', 'log every WASI call, its arguments and errno to stderr')
    .option('--debug', 'show stack traces with errors')
    .passThroughOptions()
    .configureOutput({ outputError: usageErrorWriter('isola run --help') })
    .addHelpText('after', HELP_AFTER)
    .action(async (modulePath: string, guestArgs: string[], options: RunOptions) => {
      let plan: RunPlan;
      try {
        plan = planRun(modulePath, guestArgs, options);
      } catch (error) {
        done(report(output, error, options.debug === true, RUN_EXIT_CODES.USAGE));
        return;
      }
      done(await runModule(plan, output));
    });
}

/** Validates the command line into a plan; throws E_ARGUMENT_INVALID with the fix named. */
export function planRun(
  modulePath: string,
  guestArgs: readonly string[],
  options: RunOptions,
  hostEnv: NodeJS.ProcessEnv = process.env,
): RunPlan {
  const wasmtimeOptions = parseWasmtimeOptions(options.W ?? []);
  const timeoutText = single('--timeout', options.timeout, wasmtimeOptions.timeout);
  const memoryText = single('--max-memory-size', options.maxMemorySize, wasmtimeOptions['max-memory-size']);
  const dirs: DirGrant[] = [
    ...(options.dir ?? []).map((spec) => parseDir(spec, false)),
    ...(options.roDir ?? []).map((spec) => parseDir(spec, true)),
  ];
  const config: CommandConfig = {
    args: [options.argv0 ?? basename(modulePath), ...guestArgs],
    env: (options.env ?? []).map((spec) => parseEnv(spec, hostEnv)),
    dirs,
    // The process's own stdout and stderr: as with wasmtime, the guest may write all it wants.
    limits: {
      maxStdoutBytes: WASI_LIMIT_RANGES.maxStdoutBytes[1],
      maxStderrBytes: WASI_LIMIT_RANGES.maxStderrBytes[1],
    },
    trace: options.trace === true,
  };
  return {
    modulePath,
    config,
    maxMemoryBytes: memoryText === undefined ? undefined : parseMemorySize(memoryText),
    timeoutMs: timeoutText === undefined ? undefined : parseTimeout(timeoutText),
    debug: options.debug === true,
  };
}

function parseWasmtimeOptions(
  specs: readonly string[],
): Record<'timeout' | 'max-memory-size', string | undefined> {
  const found: Record<'timeout' | 'max-memory-size', string | undefined> = {
    timeout: undefined,
    'max-memory-size': undefined,
  };
  for (const spec of specs.flatMap((text) => text.split(','))) {
    const [key = '', value] = spec.split(/=(.*)/s, 2);
    if (key !== 'timeout' && key !== 'max-memory-size') {
      throw usage(`-W ${spec}: isola supports -W timeout=DURATION and -W max-memory-size=BYTES only`);
    }
    if (value === undefined || value === '') throw usage(`-W ${key}: give a value, e.g. -W ${key}=...`);
    found[key] = value;
  }
  return found;
}

function single(flag: string, fromFlag: string | undefined, fromW: string | undefined): string | undefined {
  if (fromFlag !== undefined && fromW !== undefined && fromFlag !== fromW) {
    throw usage(`${flag} and -W ${flag.slice(2)} disagree (${fromFlag}, ${fromW}): give one of them`);
  }
  return fromFlag ?? fromW;
}

/** `HOST[::GUEST]`, as wasmtime spells a mapped directory; without `::` the guest path is HOST. */
function parseDir(spec: string, readOnly: boolean): DirGrant {
  const flag = readOnly ? '--ro-dir' : '--dir';
  const separator = spec.indexOf('::');
  const hostPath = separator === -1 ? spec : spec.slice(0, separator);
  const guestPath = separator === -1 ? spec : spec.slice(separator + 2);
  if (hostPath === '' || guestPath === '') {
    throw usage(`${flag} ${spec}: give a host directory and optionally a guest path, as HOST or HOST::GUEST`);
  }
  return { hostPath, guestPath, readOnly };
}

function parseEnv(spec: string, hostEnv: NodeJS.ProcessEnv): [string, string] {
  const separator = spec.indexOf('=');
  const name = separator === -1 ? spec : spec.slice(0, separator);
  if (name === '')
    throw usage(`--env ${spec}: the variable name is empty: use --env NAME=VALUE or --env NAME`);
  if (separator !== -1) return [name, spec.slice(separator + 1)];
  const value = hostEnv[name];
  if (value === undefined) {
    throw usage(
      `--env ${name}: ${name} is not set in isola's environment: set it, or give a value with --env ${name}=VALUE`,
    );
  }
  return [name, value];
}

function parseTimeout(text: string): number {
  const ms = withFlag('--timeout', () => parseDuration(text));
  if (!(ms > 0) || ms > 2 ** 31 - 1) {
    throw usage(`--timeout ${text}: use a duration above 0 and at most 24 days (2147483647ms)`);
  }
  return Math.max(1, Math.round(ms));
}

function parseMemorySize(text: string): number {
  const bytes = withFlag('--max-memory-size', () => parseByteSize(text));
  if (bytes > MAX_MEMORY_LIMIT_BYTES) {
    throw usage(
      `--max-memory-size ${text}: use at most ${MAX_MEMORY_LIMIT_BYTES} bytes (4G), the 32-bit address space`,
    );
  }
  return bytes;
}

/** Runs `parse`, prefixing its error with the flag it belongs to. */
function withFlag<T>(flag: string, parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (!isIsolaError(error)) throw error;
    throw usage(`${flag} ${error.message}`);
  }
}

function usage(message: string): IsolaError {
  return new IsolaError('E_ARGUMENT_INVALID', message);
}

/** Loads, checks and runs the module; returns the exit code and writes at most one line of its own. */
export async function runModule(plan: RunPlan, output: RunOutput): Promise<number> {
  let outcome: CommandOutcome;
  try {
    const module = await loadCommand(plan);
    outcome = await runCommand({
      module,
      config: plan.config,
      ...(plan.timeoutMs === undefined ? {} : { timeoutMs: plan.timeoutMs }),
    });
  } catch (error) {
    return report(output, nameTheFlag(error, plan.config.dirs), plan.debug, RUN_EXIT_CODES.FAILURE);
  }
  switch (outcome.kind) {
    case 'exit':
      return exitStatus(outcome.code, output);
    case 'trap':
      output.error(`isola: trap: ${outcome.message}`);
      return RUN_EXIT_CODES.TRAP;
    case 'timeout':
      output.error(`isola: timeout: guest ran past ${formatDuration(outcome.afterMs)}`);
      return RUN_EXIT_CODES.TIMEOUT;
    case 'limit':
      output.error(`isola: ${outcome.message}`);
      return RUN_EXIT_CODES.FAILURE;
    case 'error':
      return report(output, IsolaError.fromJSON(outcome.error), plan.debug, RUN_EXIT_CODES.FAILURE);
  }
}

/** A refused directory grant, prefixed with the flag that asked for it. */
function nameTheFlag(error: unknown, dirs: readonly DirGrant[]): unknown {
  if (!isIsolaError(error, 'E_PREOPEN_INVALID')) return error;
  const dir = dirs.find((grant) => grant.hostPath === error.details.hostPath);
  if (dir === undefined) return error;
  const spec = dir.hostPath === dir.guestPath ? dir.hostPath : `${dir.hostPath}::${dir.guestPath}`;
  const flag = dir.readOnly ? '--ro-dir' : '--dir';
  return new IsolaError(error.code, `${flag} ${spec}: ${error.message}`, error.details, { cause: error });
}

async function loadCommand(plan: RunPlan): Promise<WebAssembly.Module> {
  const { modulePath } = plan;
  let bytes: Uint8Array = await readModuleFile(modulePath);
  try {
    readHeader(bytes);
    if (plan.maxMemoryBytes !== undefined) bytes = limitMemory(bytes, plan.maxMemoryBytes);
    const module = await compileModule(bytes);
    const info = describeModule(module);
    requireCommand(info);
    checkImports(info.imports);
    return module;
  } catch (error) {
    if (isIsolaError(error, 'E_MODULE_COMPONENT')) {
      throw new IsolaError(
        'E_MODULE_COMPONENT',
        `${modulePath}: it is a WebAssembly component, and components are not supported by \`isola run\` yet: ` +
          'build a WASI preview1 core module instead (e.g. for the wasm32-wasip1 target)',
        error.details,
        { cause: error },
      );
    }
    if (isIsolaError(error) && error.code !== 'E_INTERNAL') {
      throw new IsolaError(error.code, `${modulePath}: ${error.message}`, error.details, { cause: error });
    }
    throw error;
  }
}

async function readModuleFile(path: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'no such file: check the path'
        : code === 'EISDIR'
          ? 'is a directory: pass a .wasm file'
          : code === 'EACCES' || code === 'EPERM'
            ? 'permission denied: make the file readable'
            : `cannot be read (${(error as Error).message}): check the path`;
    throw new IsolaError('E_MODULE_READ', `${path}: ${why}`, { path, errno: code }, { cause: error });
  }
}

/** The process exit status for a guest exit code; one that does not fit in 8 bits is reported, not wrapped to 0. */
function exitStatus(code: number, output: RunOutput): number {
  if (code <= 255) return code;
  output.error(
    `isola: the guest exited with code ${code}, which does not fit an exit status: exiting with 1`,
  );
  return 1;
}

/** commander's `outputError`: its "error: <what>" as one isola line that names where help is. */
export function usageErrorWriter(help: string): (text: string, write: (text: string) => void) => void {
  return (text, write) => write(`isola: ${text.replace(/^error: /, '').trimEnd()}: see \`${help}\`\n`);
}

/** Writes one line for `error` (a stack trace only with --debug); returns the exit code for it. */
function report(output: RunOutput, error: unknown, debug: boolean, fallback: number): number {
  if (!isIsolaError(error)) {
    output.error(`isola: internal error: ${error instanceof Error ? error.message : String(error)}`);
    if (debug && error instanceof Error && error.stack) output.error(error.stack);
    return RUN_EXIT_CODES.INTERNAL;
  }
  output.error(`isola: ${error.message}`);
  if (debug) output.error(debugText(error));
  return error.code === 'E_INTERNAL' ? RUN_EXIT_CODES.INTERNAL : fallback;
}

function debugText(error: IsolaError): string {
  const lines = [`code: ${error.code}`];
  const { stack, ...details } = error.details as { stack?: unknown } & SerializedError['details'];
  if (Object.keys(details).length > 0) lines.push(`details: ${JSON.stringify(details)}`);
  lines.push(typeof stack === 'string' ? stack : (error.stack ?? ''));
  for (let cause = error.cause; cause instanceof Error; cause = cause.cause) {
    lines.push(`caused by: ${cause.stack ?? cause.message}`);
  }
  return lines.join('\n');
}
