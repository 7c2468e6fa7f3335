/**
 * The Wasm half of a pre-initialized Ruby (see ruby.ts). ruby.wasm (`@ruby/3.4-wasm-wasi`) is a
 * reactor for the `@ruby/wasm-wasi` JavaScript glue; two rewrites make it a WASI command that
 * wizer can snapshot:
 *
 * - Its imports that are not WASI (ruby-imports.ts) become functions it defines: the 21
 *   `rb-js-abi-host` functions (JavaScript interop, only reached through the `js` gem) and
 *   `canonical_abi.resource_drop_js-abi-value` write a line to stderr and trap;
 *   `canonical_abi.resource_new_rb-abi-value` and `resource_get_rb-abi-value`, wit-bindgen's
 *   handle table for the Ruby values the exports return (rb-eval-string-protect calls the first
 *   on every evaluation), are the identity: the handle is the guest's own pointer. WASI's
 *   args_sizes_get and args_get are imported too (a reactor never reads argv).
 * - `isola.initialize`, for wizer: what the glue's `RubyVM.instantiateModule` does (`_initialize`,
 *   then `ruby-init` with the glue's arguments and one more (RUBY_INIT_ARGS), which also sets the
 *   load path; `ruby-init-loadpath` would add it twice), then evaluates the
 *   initialization source (ruby-source.ts). `isola.resume`, renamed over `_start` in the
 *   snapshot: reads this instance's argv and environment from WASI and evaluates
 *   `Isola::Runner.resume` with both as hex, which runs the script and exits.
 *
 * Only exported names are used (the component-model canonical ABI of the glue: a string is a
 * pointer and a byte length, a list of strings a pointer to (pointer, length) pairs, all
 * allocated with `cabi_realloc`; a tuple result is returned through a pointer to a return area),
 * so any build with these exports works. The snapshot exports only `memory` and `_start`.
 */
import { IsolaError } from '../errors.js';
import { readSections, SectionId } from '../wasm/binary-reader.js';
import { formatFuncType, readTypeSection } from '../wasm/type-section.js';
import { emitRequestSource, hexFunction, REQUEST_SOURCE, REQUEST_SOURCE_LOCALS } from './request-source.js';
import { ImportRewrite, type ReplacedImport } from './ruby-imports.js';
import { RESUME_SOURCE } from './ruby-source.js';
import { Code, encodeBody, ValType } from './wasm-emit.js';
import { ModuleExtension } from './wasm-extend.js';

/** The names of the added exports; wizer's rename puts the second over `_start`. */
export const RUBY_ENTRY = Object.freeze({ initialize: 'isola.initialize', resume: 'isola.resume' });

/**
 * What the glue passes to `ruby-init` (RubyVM#initialize in @ruby/wasm-wasi), and
 * `--disable=syntax_suggest`: its explanation of a SyntaxError runs under Timeout, which starts a
 * thread, which Ruby for WASI cannot, so the report of every syntax error would fail.
 */
export const RUBY_INIT_ARGS = Object.freeze(['ruby.wasm', '-EUTF-8', '--disable=syntax_suggest', '-e_=0']);

/** The ruby.wasm exports used, with the core signatures their canonical ABI lowering gives them. */
const USED_EXPORTS = Object.freeze({
  initialize: { name: '_initialize', type: '() -> ()' },
  rubyInit: { name: 'ruby-init: func(args: list<string>) -> ()', type: '(i32, i32) -> ()' },
  evalStringProtect: {
    name: 'rb-eval-string-protect: func(str: string) -> tuple<handle<rb-abi-value>, s32>',
    type: '(i32, i32) -> i32',
  },
  realloc: { name: 'cabi_realloc', type: '(i32, i32, i32, i32) -> i32' },
});
type UsedExport = keyof typeof USED_EXPORTS;

const WASI = 'wasi_snapshot_preview1';
const I32 = ValType.I32;
/** The WASI functions the added code calls, with their preview1 signatures. */
const WASI_USED = Object.freeze({
  args_sizes_get: { params: [I32, I32], results: [I32] },
  args_get: { params: [I32, I32], results: [I32] },
  environ_sizes_get: { params: [I32, I32], results: [I32] },
  environ_get: { params: [I32, I32], results: [I32] },
  fd_write: { params: [I32, I32, I32, I32], results: [I32] },
  proc_exit: { params: [I32], results: [] },
});
type WasiFunction = keyof typeof WASI_USED;

/** wit-bindgen's handle table for Ruby values: a handle is the value's own pointer. */
const IDENTITY_IMPORTS = new Set([
  'canonical_abi.resource_new_rb-abi-value',
  'canonical_abi.resource_get_rb-abi-value',
]);
const STDERR = 2;
const WASM_PAGE_SHIFT = 16;

/**
 * ruby.wasm as a WASI command with `isola.initialize` and `isola.resume`; `initializeSource` is
 * the Ruby the initialization evaluates. E_MODULE_UNSUPPORTED when it lacks an export used here.
 */
export function addRubyEntryPoints(bytes: Uint8Array, initializeSource: string): Uint8Array {
  const exports = usedExports(bytes);
  const rewrite = new ImportRewrite(bytes, {
    replace: (module) => module !== WASI,
    add: Object.entries(WASI_USED).map(([name, signature]) => ({ module: WASI, name, signature })),
  });
  const wasi = Object.fromEntries(
    Object.keys(WASI_USED).map((name) => [name, rewrite.importedFunction(WASI, name)!]),
  ) as Record<WasiFunction, number>;
  const rewritten = rewrite.encode({
    body: (entry) => replacementBody(entry, wasi),
    keepExport: (name) => name === 'memory',
    dropCustom: (name) => name.startsWith('.debug_'),
  });
  const functions = Object.fromEntries(
    Object.entries(exports).map(([use, index]) => [use, rewrite.functionIndex(index)]),
  ) as Record<UsedExport, number>;

  const module = new ModuleExtension(rewritten);
  const hex = module.addFunction({ params: [I32, I32, I32], results: [I32] }, hexFunction());
  module.addFunction(
    { params: [], results: [] },
    initializeFunction(functions, initializeSource),
    RUBY_ENTRY.initialize,
  );
  module.addFunction({ params: [], results: [] }, resumeFunction(functions, wasi, hex), RUBY_ENTRY.resume);
  return module.encode();
}

/** The function index of each used export, checked against its expected signature. */
function usedExports(bytes: Uint8Array): Record<UsedExport, number> {
  const module = new ModuleExtension(bytes);
  const types = readTypeSection(bytes, readSections(bytes).find((section) => section.id === SectionId.TYPE)!);
  const found = {} as Record<UsedExport, number>;
  for (const [use, { name, type }] of Object.entries(USED_EXPORTS) as [
    UsedExport,
    { name: string; type: string },
  ][]) {
    const index = module.exportedFunction(name);
    const actual = index === undefined ? undefined : types[module.typeOf(index)];
    if (actual === undefined || formatFuncType(actual) !== type) {
      throw new IsolaError(
        'E_MODULE_UNSUPPORTED',
        `this ruby.wasm ${index === undefined ? 'does not export' : `exports with another type (${formatFuncType(actual!)})`} ` +
          `"${name}": use a reactor build of @ruby/*-wasm-wasi 2.x (ruby+stdlib.wasm), which exports it as ${type}`,
        { export: name },
      );
    }
    found[use] = index!;
  }
  return found;
}

/** The identity for the handle table; for anything else, a line on stderr and a trap. */
function replacementBody(entry: ReplacedImport, wasi: Record<WasiFunction, number>): number[] {
  const qualified = `${entry.module}.${entry.name}`;
  if (IDENTITY_IMPORTS.has(qualified)) {
    if (formatFuncType(entry.type) !== '(i32) -> i32') {
      throw new IsolaError(
        'E_MODULE_UNSUPPORTED',
        `this ruby.wasm imports ${qualified} with another type than (i32) -> i32`,
        {
          import: qualified,
        },
      );
    }
    return encodeBody([], new Code().localGet(0));
  }
  const what = qualified.split(':')[0];
  const message = new TextEncoder().encode(
    `isola: Ruby called ${what}, JavaScript interop (the js gem), which a WASI host does not provide\n`,
  );
  // The instance is about to trap, so the message goes in a page of its own: iovec, nwritten, text.
  const block = new Uint8Array(16 + message.length);
  new DataView(block.buffer).setUint32(4, message.length, true);
  block.set(message, 16);
  const page = entry.type.params.length;
  const code = new Code()
    .i32Const(1)
    .memoryGrow()
    .localTee(page)
    .i32Const(-1)
    .i32Eq()
    .if()
    .unreachable()
    .end();
  code.localGet(page).i32Const(WASM_PAGE_SHIFT).i32Shl().localSet(page).storeBytes(page, block);
  code.localGet(page).localGet(page).i32Const(16).i32Add().i32Store(0);
  code
    .i32Const(STDERR)
    .localGet(page)
    .i32Const(1)
    .localGet(page)
    .i32Const(8)
    .i32Add()
    .call(wasi.fd_write)
    .drop();
  return encodeBody([I32], code.unreachable());
}

/** `local = cabi_realloc(0, 0, align, <size on the stack>)`, trapping when it returns null. */
function allocate(code: Code, functions: Record<UsedExport, number>, align: number, local: number): Code {
  const size = local;
  code
    .localSet(size)
    .i32Const(0)
    .i32Const(0)
    .i32Const(align)
    .localGet(size)
    .call(functions.realloc)
    .localTee(local);
  return code.i32Eqz().if().unreachable().end();
}

/**
 * `_initialize`, `ruby-init` with RUBY_INIT_ARGS, then the initialization source; traps if that
 * raised (Isola::Runner has written the error to stderr), so that wizer fails rather than
 * snapshot a half-initialized app.
 */
function initializeFunction(functions: Record<UsedExport, number>, source: string): number[] {
  const [args, text] = [0, 1];
  const encoder = new TextEncoder();
  const code = new Code().call(functions.initialize);
  // A list<string>: (pointer, length) pairs, then the NUL-terminated strings they point to
  // (ruby-init reads them as C strings; the glue counts the NUL in the length, as here).
  const strings = RUBY_INIT_ARGS.map((arg) => encoder.encode(`${arg}\0`));
  const block = new Uint8Array(8 * strings.length + strings.reduce((sum, string) => sum + string.length, 0));
  const view = new DataView(block.buffer);
  const offsets: number[] = [];
  let offset = 8 * strings.length;
  for (const [i, string] of strings.entries()) {
    view.setUint32(8 * i + 4, string.length, true);
    block.set(string, offset);
    offsets.push(offset);
    offset += string.length;
  }
  allocate(code.i32Const(block.length), functions, 4, args).storeBytes(args, block);
  for (const [i, stringOffset] of offsets.entries()) {
    code
      .localGet(args)
      .localGet(args)
      .i32Const(stringOffset)
      .i32Add()
      .i32Store(8 * i);
  }
  code.localGet(args).i32Const(strings.length).call(functions.rubyInit);

  const bytes = encoder.encode(`${source}\0`);
  allocate(code.i32Const(bytes.length), functions, 1, text).storeBytes(text, bytes);
  // The result is a pointer to (handle, state); a state other than 0 means Ruby raised.
  code
    .localGet(text)
    .i32Const(bytes.length - 1)
    .call(functions.evalStringProtect)
    .i32Load(4);
  code.if().unreachable().end();
  return encodeBody([I32, I32], code);
}

/**
 * Per request: reads argv and the environment from WASI into a fresh allocation, writes
 * `Isola::Runner.resume('<argv hex>', '<environ hex>')` after them and evaluates it. That call
 * exits; if it returns instead, Isola itself failed, so exit 1.
 */
function resumeFunction(
  functions: Record<UsedExport, number>,
  wasi: Record<WasiFunction, number>,
  hex: number,
): number[] {
  const { sizes, text, cursor } = REQUEST_SOURCE;
  const encoder = new TextEncoder();
  const after = encoder.encode(`${RESUME_SOURCE.afterEnviron}\0`);
  const code = new Code();
  allocate(code.i32Const(16), functions, 4, sizes);
  emitRequestSource(code, {
    wasi,
    hex,
    before: encoder.encode(RESUME_SOURCE.beforeArgs),
    between: encoder.encode(RESUME_SOURCE.betweenArgsAndEnviron),
    after,
    allocate: (at, local) => allocate(at, functions, 4, local),
  });
  // The source's length, without the NUL that ends `after`.
  code
    .localGet(text)
    .localGet(cursor)
    .i32Const(after.length - 1)
    .i32Add()
    .localGet(text)
    .i32Sub();
  code.call(functions.evalStringProtect).drop();
  code.i32Const(1).call(wasi.proc_exit);
  return encodeBody(new Array(REQUEST_SOURCE_LOCALS).fill(I32), code);
}
