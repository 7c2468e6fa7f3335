/**
 * isola's library entry point: the WASI preview1 host, and the errors and limits it uses.
 */
export { IsolaError, isIsolaError } from './errors.js';
export type { ErrorCode, SerializedError } from './errors.js';
export { resolveWasiLimits, WASI_LIMIT_DEFAULTS, WASI_LIMIT_RANGES } from './limits.js';
export type { WasiLimits } from './limits.js';
export * from './wasi/index.js';
