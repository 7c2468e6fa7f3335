/**
 * Module inspection and rewriting: validate and classify a binary, check its imports and their
 * signatures, cap its memory or make it imported, meter it with fuel, snapshot it after
 * initialization. No knowledge
 * of the CLI or of how modules are run.
 */
export { type Limits, readSections, type Section, SectionId } from './binary-reader.js';
export {
  BULK_OPERATION_FUEL,
  FUEL_DEFAULTS,
  FUEL_EXPORT,
  type FuelOptions,
  fuelGlobal,
  instrumentFuel,
  MAX_FUEL,
  outOfFuel,
} from './fuel.js';
export {
  IMPORTED_MEMORY_MODULE,
  IMPORTED_MEMORY_NAME,
  type ImportedMemory,
  type ImportedMemoryModule,
  importMemory,
} from './import-memory.js';
export {
  checkImportSignatures,
  type ImportSignatures,
  type SignatureMismatch,
  WASI_PREVIEW1_SIGNATURES,
} from './import-signatures.js';
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
export {
  PREINIT_DEFAULTS,
  PREINIT_LIMIT_RANGES,
  PREINIT_LOG_BYTES,
  type PreinitOptions,
  preinitialize,
} from './preinit.js';
