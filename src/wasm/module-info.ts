/**
 * Reading, validating and classifying a WebAssembly binary before anything runs it: is it Wasm
 * at all, is it whole, is it a core module or a component, is it a WASI command or a reactor,
 * and can isola satisfy every import it declares. Each failure is one IsolaError whose message
 * says what is wrong and what to do, so that a deploy (or `isola run`) fails before the first
 * instance does.
 */
import { IsolaError } from '../errors.js';
// preview1.js directly rather than the WASI index: inspecting a module needs the list of names,
// not the filesystem host behind it.
import { PREVIEW1_FUNCTION_NAMES } from '../wasi/preview1.js';
import { HEADER_BYTES, readSections, WASM_MAGIC } from './binary-reader.js';

/** What the 8-byte preamble says the binary is (binary/modules.html#binary-module; component-model Binary.md). */
export interface WasmHeader {
  /** `module` for a core module (layer 0), `component` for the component model (layer 1). */
  layer: 'module' | 'component';
  version: number;
}

export interface ReadHeaderOptions {
  /** Refuse anything but this layer, with a message that says so. */
  require?: 'module';
}

/** Checks the preamble; throws E_MODULE_INVALID (or E_MODULE_COMPONENT when a core module is required). */
export function readHeader(bytes: Uint8Array, options: ReadHeaderOptions = {}): WasmHeader {
  if (bytes.length === 0) {
    throw new IsolaError(
      'E_MODULE_INVALID',
      'the file is empty, not a WebAssembly module: pass a .wasm file',
      {
        byteLength: 0,
      },
    );
  }
  const magicLength = Math.min(bytes.length, WASM_MAGIC.length);
  if (WASM_MAGIC.some((byte, i) => i < magicLength && bytes[i] !== byte)) {
    throw new IsolaError(
      'E_MODULE_INVALID',
      `not a WebAssembly module: it starts with ${describeBytes(bytes)} instead of 00 61 73 6d ("\\0asm"): ` +
        `${guessWhatItIs(bytes)}`,
      { firstBytes: Array.from(bytes.subarray(0, 8)) },
    );
  }
  if (bytes.length < HEADER_BYTES) {
    throw new IsolaError(
      'E_MODULE_INVALID',
      `module is truncated: the file ends after ${bytes.length} bytes, inside the 8-byte header: ` +
        'the file was cut short; copy or build it again',
      { truncated: true, byteLength: bytes.length },
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint16(4, true);
  const layer = view.getUint16(6, true);
  if (layer === 1) {
    if (options.require === 'module') {
      throw new IsolaError(
        'E_MODULE_COMPONENT',
        'the file is a WebAssembly component, not a core module, and components are not supported here yet: ' +
          'build a WASI preview1 core module instead (e.g. for the wasm32-wasip1 target)',
        { layer, version },
      );
    }
    return { layer: 'component', version };
  }
  if (layer !== 0 || version !== 1) {
    throw new IsolaError(
      'E_MODULE_INVALID',
      `unknown WebAssembly binary version ${version} (layer ${layer}): isola reads core modules of version 1`,
      { layer, version },
    );
  }
  return { layer: 'module', version };
}

/** The first bytes in hex with their printable characters, e.g. `7f 45 4c 46 ("\x7fELF")`. */
function describeBytes(bytes: Uint8Array): string {
  const head = bytes.subarray(0, 8);
  const hex = Array.from(head, (byte) => byte.toString(16).padStart(2, '0')).join(' ');
  const text = Array.from(head, (byte) =>
    byte >= 0x20 && byte < 0x7f && byte !== 0x22 && byte !== 0x5c
      ? String.fromCharCode(byte)
      : `\\x${byte.toString(16).padStart(2, '0')}`,
  ).join('');
  return `${hex} ("${text}")`;
}

/** The fix for the common ways a non-Wasm file ends up where a module was expected. */
function guessWhatItIs(bytes: Uint8Array): string {
  const text = new TextDecoder().decode(bytes.subarray(0, 64)).trimStart();
  if (text.startsWith('(module') || text.startsWith(';;') || text.startsWith('(component')) {
    return 'it looks like WebAssembly text (WAT); assemble it first (e.g. `wat2wasm`)';
  }
  if (bytes[0] === 0x7f && text.startsWith('\x7fELF')) {
    return 'it looks like a native executable (ELF); build for a WebAssembly target (e.g. wasm32-wasip1)';
  }
  if (text.startsWith('#!')) return 'it looks like a script; pass a compiled .wasm file';
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) return 'it looks gzip-compressed; decompress it first';
  if (text.startsWith('PK')) return 'it looks like a zip archive; extract the .wasm file from it';
  return 'pass a compiled .wasm file';
}

/**
 * Compiles a core module, refusing bytes that are not Wasm, are cut short, are a component, or
 * that the engine rejects (its message is kept). The truncation check walks the section sizes
 * first, since the engine reports a cut-short file as an obscure decoding error.
 */
export async function compileModule(bytes: Uint8Array): Promise<WebAssembly.Module> {
  readHeader(bytes, { require: 'module' });
  readSections(bytes);
  try {
    // The DOM typings want an ArrayBuffer-backed view; V8 takes any Uint8Array.
    return await WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>);
  } catch (error) {
    if (!(error instanceof WebAssembly.CompileError)) throw error;
    const reason = error.message.replace(/^WebAssembly\.compile\(\): /, '');
    throw new IsolaError(
      'E_MODULE_INVALID',
      `module is not valid WebAssembly: ${reason}: rebuild it, or check that its toolchain targets ` +
        'features Node.js supports',
      { reason },
      { cause: error },
    );
  }
}

export type ModuleKind = 'command' | 'reactor';

export interface ModuleImport {
  module: string;
  name: string;
  kind: WebAssembly.ImportExportKind;
}

export interface ModuleExport {
  name: string;
  kind: WebAssembly.ImportExportKind;
}

export interface ModuleInfo {
  /** `command` exports `_start` (WASI's convention for a program); anything else is a `reactor`. */
  kind: ModuleKind;
  imports: readonly ModuleImport[];
  exports: readonly ModuleExport[];
}

/** Classifies a compiled module and lists its imports and exports. */
export function describeModule(module: WebAssembly.Module): ModuleInfo {
  const imports = WebAssembly.Module.imports(module).map(({ module, name, kind }) => ({
    module,
    name,
    kind,
  }));
  const exports = WebAssembly.Module.exports(module).map(({ name, kind }) => ({ name, kind }));
  const isCommand = exports.some((entry) => entry.name === '_start' && entry.kind === 'function');
  return { kind: isCommand ? 'command' : 'reactor', imports, exports };
}

/** Functions isola can link, by import module name. */
export type ProvidedImports = ReadonlyMap<string, ReadonlySet<string>>;

export const WASI_PREVIEW1_MODULE = 'wasi_snapshot_preview1';

/** What a plain WASI preview1 instance provides: every `wasi_snapshot_preview1` function. */
export const WASI_PREVIEW1_IMPORTS: ProvidedImports = new Map([
  [WASI_PREVIEW1_MODULE, new Set(PREVIEW1_FUNCTION_NAMES)],
]);

/** The imports `provided` cannot satisfy: every non-function import, and functions it lacks. */
export function unsupportedImports(
  imports: readonly ModuleImport[],
  provided: ProvidedImports = WASI_PREVIEW1_IMPORTS,
): ModuleImport[] {
  return imports.filter((entry) => entry.kind !== 'function' || !provided.get(entry.module)?.has(entry.name));
}

/** Throws one E_MODULE_UNSUPPORTED_IMPORTS naming every import that `provided` cannot satisfy. */
export function checkImports(
  imports: readonly ModuleImport[],
  provided: ProvidedImports = WASI_PREVIEW1_IMPORTS,
): void {
  const missing = unsupportedImports(imports, provided);
  if (missing.length === 0) return;
  const allFunctions = missing.every((entry) => entry.kind === 'function');
  const names = missing.map(({ module, name, kind }) =>
    allFunctions ? `${module}.${name}` : `${module}.${name} (${kind})`,
  );
  const offered = [...provided.keys()].join(', ');
  const hint = missing.some((entry) => entry.module === 'wasi_unstable')
    ? '; wasi_unstable is the WASI snapshot before preview1, so rebuild with a current WASI toolchain'
    : '';
  throw new IsolaError(
    'E_MODULE_UNSUPPORTED_IMPORTS',
    `module imports ${allFunctions ? 'functions' : 'what'} isola does not provide: ${names.join(', ')}: ` +
      `isola provides ${offered} functions only; build the module without these imports${hint}`,
    { imports: missing.map(({ module, name, kind }) => ({ module, name, kind })) },
  );
}

/** Throws E_MODULE_NO_START unless the module is a WASI command. */
export function requireCommand(info: ModuleInfo): void {
  if (info.kind === 'command') return;
  const initialize = info.exports.some((entry) => entry.name === '_initialize');
  throw new IsolaError(
    'E_MODULE_NO_START',
    `module exports no _start function, so it is not a WASI command (it is a reactor${
      initialize ? ' with _initialize' : ''
    }): build it as a program with a main function`,
    { kind: info.kind },
  );
}
