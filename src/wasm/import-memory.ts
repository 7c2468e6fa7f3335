/**
 * Rewrites a module so that its memory is imported instead of defined, so that the engine can
 * hand each fresh instance a pooled, zeroed `WebAssembly.Memory` rather than have every
 * instantiation allocate one. The memory section goes and an import with the same limits is
 * appended to the import section. Appending keeps every function, table and global index where
 * it was, and the memory stays index 0 because it is the only one (imports come first in the
 * memory index space, syntax/modules.html#indices), so exports, data segments and code that
 * name memory 0 stay valid without being touched.
 */
import { IsolaError } from '../errors.js';
import {
  ByteReader,
  ImportKind,
  type Limits,
  readImportSection,
  readMemorySection,
  readSections,
  type Section,
  SectionId,
} from './binary-reader.js';
import {
  applyPatches,
  encodeLimits,
  encodeName,
  encodeSection,
  encodeUnsigned,
  type Patch,
} from './binary-writer.js';
import { requirePlainMemory } from './memory-limit.js';
import { readHeader } from './module-info.js';

/** The import a rewritten module's memory comes from: `(import "isola" "memory" (memory ...))`. */
export const IMPORTED_MEMORY_MODULE = 'isola';
export const IMPORTED_MEMORY_NAME = 'memory';

/** The memory a module imports and must be given, with its limits in 64 KiB pages. */
export interface ImportedMemory {
  module: string;
  name: string;
  minPages: number;
  maxPages: number | undefined;
}

export interface ImportedMemoryModule {
  bytes: Uint8Array;
  /** Undefined when the module has no memory at all. */
  memory: ImportedMemory | undefined;
}

/**
 * The module with its one memory imported as `isola.memory`. A module that already imports its
 * memory is returned unchanged with that import reported; a module without memory is returned
 * unchanged. Several memories, a 64-bit or a shared memory are refused with E_MODULE_UNSUPPORTED.
 */
export function importMemory(bytes: Uint8Array): ImportedMemoryModule {
  readHeader(bytes, { require: 'module' });
  const sections = readSections(bytes);
  const importSection = sections.find((section) => section.id === SectionId.IMPORT);
  const memorySection = sections.find((section) => section.id === SectionId.MEMORY);
  const imported = importSection
    ? readImportSection(bytes, importSection).filter((entry) => entry.kind === ImportKind.MEMORY)
    : [];
  const defined = memorySection ? readMemorySection(bytes, memorySection) : [];
  requireOneMemory(imported.length + defined.length);

  const [entry] = imported;
  if (entry?.limits) {
    requirePlainMemory(entry.limits, 0, `${entry.module}.${entry.name}`);
    return { bytes, memory: describe(entry.module, entry.name, entry.limits) };
  }
  const [limits] = defined;
  if (!limits || !memorySection) return { bytes, memory: undefined };
  requirePlainMemory(limits, 0, undefined);
  const memoryImport = [
    ...encodeName(IMPORTED_MEMORY_MODULE),
    ...encodeName(IMPORTED_MEMORY_NAME),
    ImportKind.MEMORY,
    ...encodeLimits(limits),
  ];
  // The import first: in a module with no type, function or table section it goes exactly
  // where the memory section is removed, and applyPatches keeps patches at one offset in order.
  const rewritten = applyPatches(bytes, [
    addImport(bytes, sections, memoryImport),
    { start: memorySection.start, end: memorySection.end, content: [] },
  ]);
  return { bytes: rewritten, memory: describe(IMPORTED_MEMORY_MODULE, IMPORTED_MEMORY_NAME, limits) };
}

function requireOneMemory(count: number): void {
  if (count <= 1) return;
  throw new IsolaError(
    'E_MODULE_UNSUPPORTED',
    `module has ${count} memories (the multi-memory proposal), which isola does not support: ` +
      'build the module with a single memory',
    { memories: count, feature: 'multi-memory' },
  );
}

function describe(module: string, name: string, limits: Limits): ImportedMemory {
  return { module, name, minPages: limits.min, maxPages: limits.max };
}

/**
 * The patch that adds `entry` after the last entry of the import section
 * (binary/modules.html#import-section), or creates the section where the section order puts it:
 * after the type section and before every other non-custom section
 * (binary/modules.html#binary-module). Custom sections may sit anywhere and stay where they are.
 */
function addImport(bytes: Uint8Array, sections: readonly Section[], entry: readonly number[]): Patch {
  const section = sections.find((candidate) => candidate.id === SectionId.IMPORT);
  if (section) {
    const reader = new ByteReader(bytes, section.contentStart, section.end);
    const count = reader.unsigned();
    const entries = bytes.subarray(reader.offset, section.end);
    const content = [...encodeUnsigned(count + 1), ...entries, ...entry];
    return { start: section.start, end: section.end, content: encodeSection(SectionId.IMPORT, content) };
  }
  const next = sections.find(
    (candidate) => candidate.id !== SectionId.CUSTOM && candidate.id !== SectionId.TYPE,
  );
  const at = next?.start ?? bytes.length;
  return { start: at, end: at, content: encodeSection(SectionId.IMPORT, [...encodeUnsigned(1), ...entry]) };
}
