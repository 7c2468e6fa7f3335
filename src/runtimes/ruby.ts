/**
 * Ruby apps started from a snapshot: Ruby 3.4 for WASI (`@ruby/3.4-wasm-wasi`) initialized once,
 * at deploy, with `json`, the standard libraries the app requires and its preloaded libraries
 * required, so that each request, still a fresh instance, starts where initialization ended
 * instead of paying Ruby's start-up (about two seconds here, RubyGems' included) and its
 * requires (`require 'cgi'` alone is ~90 ms).
 *
 * ```ts
 * const snapshot = await prepareRuby({ appDir: 'app', preload: ['./lib/handlers'] });
 * const module = await engine.load(snapshot);
 * await engine.run(module, {
 *   args: ['ruby', '/app/api/hello.rb'], env: cgiEnv, stdin: body,
 *   dirs: [{ hostPath: 'app', guestPath: '/app', readOnly: true }],
 * });
 * ```
 *
 * How (ruby-entry.ts, ruby-imports.ts, ruby-source.ts): ruby.wasm is a reactor for a JavaScript
 * host; its JavaScript-interop imports become functions that trap, and an init export starts Ruby
 * as its JavaScript glue would and evaluates Ruby that defines `Isola` and requires the preloaded
 * libraries; wizer (src/wasm/preinit.ts) snapshots that, and a resume export becomes the
 * snapshot's `_start`. It reads argv and the environment from WASI (the reactor never read argv,
 * and wasi-libc read the environment at initialization), sets `ARGV`, `$0` and `ENV`, reseeds
 * `Random`, compiles the script and runs it at the top level as `ruby SCRIPT` would (Ruby's error
 * report on stderr and status 1 for an uncaught exception or a syntax error, `exit n` gives n,
 * `at_exit` handlers run), flushes `$stdout` and `$stderr`, and exits.
 *
 * Scripts find `Isola.request` (request_method, path, query, headers, params, body, json) and
 * `Isola.respond(value, status:, headers:)`, which writes a JSON CGI response.
 *
 * What the snapshot bakes in, so each request shares it:
 * - The app directory is mounted at `guestDir` for the build, and wasi-libc's table of preopened
 *   directories is built then (with the standard library's directories, which wasi-vfs serves
 *   from inside the module, after it): every request must mount the same directory at the same
 *   guest path, as its only directory.
 * - Whatever the preloaded libraries did when required: values they read from the environment
 *   (the build's is empty), files they read from the app directory, `at_exit` handlers they
 *   registered (which never run). Nothing request-specific or secret is there unless a library
 *   put it there.
 * - Ruby's configuration from its start-up: RUBYOPT, RUBYLIB and the like in a request's
 *   environment change nothing; the locale is C, as the build's, and `Encoding.default_external`
 *   is UTF-8 (`-EUTF-8`).
 * - Ruby's hash seed (String#hash, and with it the protection of Hash against flooding), drawn
 *   from WASI's random_get at the build: one per snapshot rather than one per request, as with
 *   a forking server that requires before it forks. `Random` is reseeded per request, and
 *   `SecureRandom` reads WASI each time.
 *
 * Different from `ruby SCRIPT`: `Kernel#at_exit` is isola's (Ruby's own handlers run when the VM
 * ends, which a request never reaches), `END {}` blocks and `__END__`/`DATA` are not supported,
 * syntax_suggest is off (it needs a thread; Ruby for WASI has none, so `Thread.new` raises
 * NotImplementedError), and the js gem traps after a line on stderr.
 *
 * The snapshot is ~33 MiB with ~22 MiB of data, and its memory ~70 MiB: an engine that recycles
 * memories that large (`memoryPool.recycleMaxBytes`, 16 MiB by default) saves each request the
 * page faults of copying that data into fresh memory, ~20 ms on this machine.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { posix } from 'node:path';
import { IsolaError, isIsolaError } from '../errors.js';
import { preinitialize } from '../wasm/preinit.js';
import { addRubyEntryPoints, RUBY_ENTRY } from './ruby-entry.js';
import { initializeSource } from './ruby-source.js';

export interface RubyAppOptions {
  /** The app's directory on the host: its scripts, libraries and data files. */
  appDir: string;
  /** Where the app directory is mounted, for the build and for every request. Default `/app`. */
  guestDir?: string;
  /**
   * Libraries required while the snapshot is taken, so no request requires them again: a name
   * `require` finds (`"json"`, `"erb"`), or a path in the app directory starting with `./`
   * (`"./lib/handlers"`, the same file `require_relative` from a script finds). Their top-level
   * code runs once, at the build. `json` is always required (`Isola.respond` uses it).
   * Default: none.
   */
  preload?: readonly string[];
  /**
   * Also preload the standard-library features that the app's `.rb` files require (a literal
   * `require 'name'` anywhere in them, found at the build), skipping any that fail to load. Only
   * the standard library and its default gems, not bundled gems (csv, debug): name those in
   * `preload`. Standard libraries read little when required; what they read from the environment
   * then is the build's, which is empty. Default true.
   */
  preloadStdlibRequires?: boolean;
  /**
   * Compile every `.rb` file of the app at the build, and fail it (E_PREINIT_FAILED, with Ruby's
   * SyntaxError report) if one does not: a syntax error is reported at deploy, not at a request.
   * Default true.
   */
  checkSyntax?: boolean;
  /** The ruby.wasm to start from. Default: `ruby+stdlib.wasm` from the installed `@ruby/3.4-wasm-wasi`. */
  wasm?: Uint8Array;
  /** Wall-clock limit on the build, initialization included. Default 120 s. */
  timeoutMs?: number;
}

export const RUBY_DEFAULTS = Object.freeze({
  guestDir: '/app',
  preload: Object.freeze([] as string[]),
  preloadStdlibRequires: true,
  checkSyntax: true,
  timeoutMs: 120_000,
});

/** Always required at the build: the helpers use it, and most endpoints speak JSON. */
export const RUBY_ALWAYS_PRELOADED = Object.freeze(['json']);

/** The npm package that ships Ruby for WASI, and its module (the standard library inside) in it. */
export const RUBY_PACKAGE = '@ruby/3.4-wasm-wasi';
export const RUBY_WASM = `${RUBY_PACKAGE}/dist/ruby+stdlib.wasm`;

/** A feature name or `./` app path: word characters, `-`, `.` and `/`, no `..` segment. */
const FEATURE = /^(\.\/)?[A-Za-z0-9_-][A-Za-z0-9_.-]*(\/[A-Za-z0-9_-][A-Za-z0-9_.-]*)*$/;

/**
 * ruby.wasm pre-initialized for this app: Ruby started, `json` and `preload` required, and a
 * `_start` that runs `ruby SCRIPT [ARG...]` from argv with the request's environment and stdin.
 * Run it with the app directory mounted at `guestDir`. Throws E_PREINIT_FAILED with Ruby's
 * error report when a preloaded library fails to load or an app file does not compile.
 */
export async function prepareRuby(options: RubyAppOptions): Promise<Uint8Array> {
  const guestDir = checkGuestDir(options.guestDir ?? RUBY_DEFAULTS.guestDir);
  const preload = checkPreload(options.preload ?? RUBY_DEFAULTS.preload);
  const stdlibRequires = options.preloadStdlibRequires ?? RUBY_DEFAULTS.preloadStdlibRequires;
  const checkSyntax = options.checkSyntax ?? RUBY_DEFAULTS.checkSyntax;
  const wasm = options.wasm ?? (await readRubyWasm());
  const source = initializeSource(guestDir, preload, stdlibRequires, checkSyntax);
  const entry = addRubyEntryPoints(wasm, source);
  try {
    return await preinitialize(entry, {
      initFunction: RUBY_ENTRY.initialize,
      renames: { _start: RUBY_ENTRY.resume },
      dirs: { [guestDir]: options.appDir },
      timeoutMs: options.timeoutMs ?? RUBY_DEFAULTS.timeoutMs,
    });
  } catch (error) {
    throw isIsolaError(error, 'E_PREINIT_FAILED') ? initializationFailed(error, preload, checkSyntax) : error;
  }
}

function checkGuestDir(guestDir: string): string {
  if (
    !guestDir.startsWith('/') ||
    guestDir === '/' ||
    posix.normalize(guestDir) !== guestDir ||
    /[\0:'\\]/.test(guestDir)
  ) {
    throw new IsolaError(
      'E_PREOPEN_INVALID',
      `guest directory "${guestDir}" cannot hold the app: use a normalized absolute path other than "/", ` +
        `without ":", quotes, backslashes or NUL, such as "/app"`,
      { guestDir },
    );
  }
  return guestDir.endsWith('/') ? guestDir.slice(0, -1) : guestDir;
}

function checkPreload(preload: readonly string[]): string[] {
  const invalid = preload.filter((name) => !FEATURE.test(name) || name.split('/').includes('..'));
  if (invalid.length > 0) {
    throw new IsolaError(
      'E_ARGUMENT_INVALID',
      `cannot preload ${invalid.map((name) => JSON.stringify(name)).join(', ')}: name libraries as \`require\` ` +
        'takes them ("json", "erb"), or app files by their path in the app directory with "./" ("./lib/handlers")',
      { invalid },
    );
  }
  return [...new Set([...RUBY_ALWAYS_PRELOADED, ...preload])];
}

async function readRubyWasm(): Promise<Uint8Array> {
  let path: string;
  try {
    path = createRequire(import.meta.url).resolve(RUBY_WASM);
  } catch (error) {
    throw new IsolaError(
      'E_PREINIT_UNAVAILABLE',
      `Ruby for WASI is not installed: run \`npm install ${RUBY_PACKAGE}\`, or pass its bytes as wasm`,
      { package: RUBY_PACKAGE },
      { cause: error },
    );
  }
  return new Uint8Array(await readFile(path));
}

/** Ruby's error report (its first line says what failed) in front of wizer's. */
function initializationFailed(
  error: IsolaError,
  preload: readonly string[],
  checkSyntax: boolean,
): IsolaError {
  const stderr = String(error.details.stderr ?? '');
  const report = stderr.split('\nError: ')[0]!.trimEnd();
  // "FILE:LINE:in 'METHOD': MESSAGE (CLASS)", or "FILE: FILE:LINE: MESSAGE (SyntaxError)" for a
  // file that does not compile; the message is what matters.
  const headline = report
    .split('\n')
    .find((line) => / \([A-Z]\w*(::\w+)*\)$/.test(line))
    ?.replace(/^\S*?:\d+:in '[^']*': /, '')
    .replace(/^(\S+): (?=\1:\d+: )/, '');
  if (headline === undefined) return error;
  return new IsolaError(
    'E_PREINIT_FAILED',
    `initializing Ruby failed: ${headline}: fix the app so that requiring ${preload.join(', ')} succeeds ` +
      `with an empty environment (the request’s is not there yet)${checkSyntax ? ' and its .rb files compile' : ''}`,
    { ...error.details, report },
    { cause: error },
  );
}
