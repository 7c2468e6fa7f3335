/**
 * Checks, before anything runs, that every host function a module imports is declared with the
 * signature the host implements. wasmtime refuses a mismatched import when it links the module;
 * V8 accepts any signature for a JavaScript function import, so without this check a module
 * that declares `fd_write` with the wrong parameters would link, and then read garbage
 * arguments or return nothing where the guest expects an errno.
 */
import { IsolaError } from '../errors.js';
import { PREVIEW1_SIGNATURES } from '../wasi/preview1-signatures.js';
import { ByteReader, ImportKind, readImportSection, readSections, SectionId } from './binary-reader.js';
import { readHeader, WASI_PREVIEW1_MODULE } from './module-info.js';
import { type FuncType, formatFuncType, readTypeSection } from './type-section.js';

/** The signature of each host function, by import module name and then by function name. */
export type ImportSignatures = ReadonlyMap<string, ReadonlyMap<string, FuncType>>;

/** What a plain WASI preview1 instance provides: every `wasi_snapshot_preview1` function. */
export const WASI_PREVIEW1_SIGNATURES: ImportSignatures = new Map([
  [WASI_PREVIEW1_MODULE, PREVIEW1_SIGNATURES],
]);

/** A function import whose declared type differs from the host's. */
export interface SignatureMismatch {
  module: string;
  name: string;
  /** As `(i32, i32) -> i32`. */
  expected: string;
  found: string;
}

/**
 * Throws one E_MODULE_IMPORT_SIGNATURE naming every function import that `signatures` knows
 * and the module declares with another type. Imports it does not know are left to
 * `checkImports`, which names them.
 */
export function checkImportSignatures(
  bytes: Uint8Array,
  signatures: ImportSignatures = WASI_PREVIEW1_SIGNATURES,
): void {
  const mismatches = findMismatches(bytes, signatures);
  if (mismatches.length === 0) return;
  const list = mismatches.map(
    ({ module, name, expected, found }) => `${module}.${name}: expected ${expected}, found ${found}`,
  );
  const fix = mismatches.some((entry) => entry.module === WASI_PREVIEW1_MODULE)
    ? 'rebuild the module with a WASI preview1 toolchain (wasi-sdk, or a wasm32-wasip1 target), ' +
      'which declares these imports as the preview1 ABI defines them'
    : 'declare these imports with the expected signatures';
  throw new IsolaError(
    'E_MODULE_IMPORT_SIGNATURE',
    `module imports functions with the wrong signature: ${list.join('; ')}: ${fix}`,
    { imports: mismatches },
  );
}

function findMismatches(bytes: Uint8Array, signatures: ImportSignatures): SignatureMismatch[] {
  readHeader(bytes, { require: 'module' });
  const sections = readSections(bytes);
  const importSection = sections.find((section) => section.id === SectionId.IMPORT);
  if (!importSection) return [];
  const typeSection = sections.find((section) => section.id === SectionId.TYPE);
  const types = typeSection ? readTypeSection(bytes, typeSection) : [];
  const mismatches: SignatureMismatch[] = [];
  for (const entry of readImportSection(bytes, importSection)) {
    const expected =
      entry.kind === ImportKind.FUNC ? signatures.get(entry.module)?.get(entry.name) : undefined;
    if (!expected) continue;
    // A function import's descriptor is its type index (binary/modules.html#import-section).
    const index = new ByteReader(bytes, entry.descriptorStart, entry.end).unsigned();
    const found = types[index];
    if (found && sameFuncType(found, expected)) continue;
    mismatches.push({
      module: entry.module,
      name: entry.name,
      expected: formatFuncType(expected),
      found: found ? formatFuncType(found) : describeMissingType(index, types.length),
    });
  }
  return mismatches;
}

function sameFuncType(a: FuncType, b: FuncType): boolean {
  const same = (x: readonly string[], y: readonly string[]) =>
    x.length === y.length && x.every((type, i) => type === y[i]);
  return same(a.params, b.params) && same(a.results, b.results);
}

function describeMissingType(index: number, count: number): string {
  return index < count
    ? `type ${index}, which is not a function type`
    : `type ${index}, which is not declared`;
}
