/**
 * Module inspection and rewriting: validate and classify a binary, check its imports, cap its
 * memory. No knowledge of the CLI or of how modules are run.
 */
export { type Limits, readSections, type Section, SectionId } from './binary-reader.js';
export { limitMemory, MAX_MEMORY_LIMIT_BYTES, type MemoryDeclaration, readMemories } from './memory-limit.js';
export {
  checkImports,
  compileModule,
  describeModule,
  type ModuleExport,
  type ModuleImport,
  type ModuleInfo,
  type ModuleKind,
  type ProvidedImports,
  type ReadHeaderOptions,
  readHeader,
  requireCommand,
  unsupportedImports,
  WASI_PREVIEW1_IMPORTS,
  WASI_PREVIEW1_MODULE,
  type WasmHeader,
} from './module-info.js';
