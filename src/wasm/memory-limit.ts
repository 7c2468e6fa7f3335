/**
 * Caps a module's linear memory by rewriting its declared maximum. The engine then enforces the
 * cap itself: `memory.grow` past the maximum returns -1 (core/exec/instructions.html#exec-memory-grow),
 * the same as a module that declared that maximum, however large a maximum (or none) the module
 * declared. Memories defined in the memory section and memories the module imports are both
 * capped; 64-bit and shared memories are refused rather than half-handled.
 */
import { IsolaError } from '../errors.js';
import { WASM_MAX_PAGES, WASM_PAGE_BYTES } from '../limits.js';
import {
  ImportKind,
  type Limits,
  LimitsFlag,
  readImportSection,
  readMemorySection,
  readSections,
  SectionId,
} from './binary-reader.js';
import { applyPatches, encodeLimits, encodeSection, encodeUnsigned, type Patch } from './binary-writer.js';
import { readHeader } from './module-info.js';

/** The largest cap: the whole 32-bit address space (4 GiB). */
export const MAX_MEMORY_LIMIT_BYTES = WASM_MAX_PAGES * WASM_PAGE_BYTES;

/** One memory as the module declares it. Sizes are in 64 KiB pages. */
export interface MemoryDeclaration {
  /** Index in the memory index space (imports first, as the spec numbers them). */
  index: number;
  /** `module.name` when the memory is imported. */
  importedFrom: string | undefined;
  minPages: number;
  maxPages: number | undefined;
  shared: boolean;
  memory64: boolean;
}

/** Every memory a core module imports or defines, in index order. */
export function readMemories(bytes: Uint8Array): MemoryDeclaration[] {
  readHeader(bytes, { require: 'module' });
  const memories: MemoryDeclaration[] = [];
  for (const section of readSections(bytes)) {
    if (section.id === SectionId.IMPORT) {
      for (const entry of readImportSection(bytes, section)) {
        if (entry.limits)
          memories.push(declaration(memories.length, `${entry.module}.${entry.name}`, entry.limits));
      }
    } else if (section.id === SectionId.MEMORY) {
      for (const limits of readMemorySection(bytes, section)) {
        memories.push(declaration(memories.length, undefined, limits));
      }
    }
  }
  return memories;
}

function declaration(index: number, importedFrom: string | undefined, limits: Limits): MemoryDeclaration {
  return {
    index,
    importedFrom,
    minPages: limits.min,
    maxPages: limits.max,
    shared: (limits.flags & LimitsFlag.SHARED) !== 0,
    memory64: (limits.flags & LimitsFlag.IS_64) !== 0,
  };
}

/**
 * The module with every memory's maximum lowered to at most `maxBytes` (rounded down to whole
 * pages). Throws E_MEMORY_LIMIT when a memory's initial size is already over the cap, and
 * E_MODULE_UNSUPPORTED for 64-bit or shared memories. Returns `bytes` itself when nothing needs
 * to change.
 */
export function limitMemory(bytes: Uint8Array, maxBytes: number): Uint8Array {
  if (!Number.isInteger(maxBytes) || maxBytes < 0 || maxBytes > MAX_MEMORY_LIMIT_BYTES) {
    throw new IsolaError(
      'E_LIMIT_OUT_OF_RANGE',
      `memory limit ${maxBytes} is out of range: use a whole number of bytes from 0 to ${MAX_MEMORY_LIMIT_BYTES}`,
      { limit: 'maxMemoryBytes', value: maxBytes, min: 0, max: MAX_MEMORY_LIMIT_BYTES },
    );
  }
  readHeader(bytes, { require: 'module' });
  const capPages = Math.floor(maxBytes / WASM_PAGE_BYTES);
  const patches: Patch[] = [];
  let index = 0;
  for (const section of readSections(bytes)) {
    if (section.id === SectionId.IMPORT) {
      const inner: Patch[] = [];
      for (const entry of readImportSection(bytes, section)) {
        if (entry.kind !== ImportKind.MEMORY || !entry.limits) continue;
        const capped = capLimits(entry.limits, capPages, maxBytes, index++, `${entry.module}.${entry.name}`);
        if (capped) {
          inner.push({
            start: entry.descriptorStart - section.contentStart,
            end: entry.end - section.contentStart,
            content: encodeLimits(capped),
          });
        }
      }
      if (inner.length > 0) {
        const content = applyPatches(bytes.subarray(section.contentStart, section.end), inner);
        patches.push({ start: section.start, end: section.end, content: encodeSection(section.id, content) });
      }
    } else if (section.id === SectionId.MEMORY) {
      const memories = readMemorySection(bytes, section);
      let changed = false;
      const content = encodeUnsigned(memories.length);
      for (const limits of memories) {
        const capped = capLimits(limits, capPages, maxBytes, index++, undefined);
        if (capped) changed = true;
        content.push(...encodeLimits(capped ?? limits));
      }
      if (changed) {
        patches.push({ start: section.start, end: section.end, content: encodeSection(section.id, content) });
      }
    }
  }
  return patches.length === 0 ? bytes : applyPatches(bytes, patches);
}

/** The limits with the maximum capped, or undefined when they are already within the cap. */
function capLimits(
  limits: Limits,
  capPages: number,
  capBytes: number,
  index: number,
  importedFrom: string | undefined,
): Limits | undefined {
  requirePlainMemory(limits, index, importedFrom);
  if (limits.min > capPages) {
    const needBytes = limits.min * WASM_PAGE_BYTES;
    throw new IsolaError(
      'E_MEMORY_LIMIT',
      `${describeMemory(index, importedFrom)} starts at ${needBytes} bytes (${limits.min} page${limits.min === 1 ? '' : 's'}), more than the memory limit of ${capBytes} bytes: ` +
        `raise the limit to at least ${needBytes} bytes`,
      { memory: index, initialBytes: needBytes, initialPages: limits.min, limitBytes: capBytes },
    );
  }
  if (limits.max !== undefined && limits.max <= capPages) return undefined;
  return { flags: limits.flags | LimitsFlag.HAS_MAX, min: limits.min, max: capPages };
}

/**
 * Throws E_MODULE_UNSUPPORTED unless the memory is a plain, unshared 32-bit one: 64-bit and
 * shared memories are refused rather than half-handled.
 */
export function requirePlainMemory(limits: Limits, index: number, importedFrom: string | undefined): void {
  const which = describeMemory(index, importedFrom);
  if (limits.flags & LimitsFlag.IS_64) {
    throw new IsolaError(
      'E_MODULE_UNSUPPORTED',
      `${which} is a 64-bit memory (memory64), which isola does not support: build the module for wasm32`,
      { memory: index, feature: 'memory64' },
    );
  }
  if (limits.flags & LimitsFlag.SHARED) {
    throw new IsolaError(
      'E_MODULE_UNSUPPORTED',
      `${which} is shared (the threads proposal), which isola does not support: build the module without threads`,
      { memory: index, feature: 'threads' },
    );
  }
  if (limits.flags & ~LimitsFlag.HAS_MAX) {
    throw new IsolaError(
      'E_MODULE_UNSUPPORTED',
      `${which} has limits flags 0x${limits.flags.toString(16)} that isola does not know: build the module for plain wasm32`,
      { memory: index, flags: limits.flags },
    );
  }
}

function describeMemory(index: number, importedFrom: string | undefined): string {
  return importedFrom === undefined ? `memory ${index}` : `memory ${index} (imported as ${importedFrom})`;
}
