/**
 * Named limits with documented defaults. Every resource a guest can consume has one, enforced
 * where the resource is used. Operators may lower or raise them within `LIMIT_RANGES`.
 */
import { IsolaError } from './errors.js';

export interface WasiLimits {
  /** Open descriptors per instance, stdio and preopens included. Default 1024. */
  maxOpenDescriptors: number;
  /** Bytes one host call may copy between guest memory and the host (per iovec list). Default 16 MiB. */
  maxBytesPerCall: number;
  /** Longest path, in UTF-8 bytes, a guest may pass to a path_* call. Default 4096 (PATH_MAX). */
  maxPathBytes: number;
  /** Symlinks followed while resolving one path before ELOOP. Default 40 (Linux's MAXSYMLINKS). */
  maxSymlinkFollows: number;
  /** Bytes of stdout kept by a capturing sink before the write fails. Default 16 MiB. */
  maxStdoutBytes: number;
  /** Bytes of stderr kept by a capturing sink before the write fails. Default 1 MiB. */
  maxStderrBytes: number;
  /** Entries one fd_readdir may list from a directory. Default 100,000. */
  maxReaddirEntries: number;
  /** Subscriptions in one poll_oneoff call. Default 4096. */
  maxPollSubscriptions: number;
  /** Bytes an in-memory file may grow to. Default 64 MiB. */
  maxMemoryFileBytes: number;
}

export const WASI_LIMIT_DEFAULTS: Readonly<WasiLimits> = Object.freeze({
  maxOpenDescriptors: 1024,
  maxBytesPerCall: 16 * 1024 * 1024,
  maxPathBytes: 4096,
  maxSymlinkFollows: 40,
  maxStdoutBytes: 16 * 1024 * 1024,
  maxStderrBytes: 1024 * 1024,
  maxReaddirEntries: 100_000,
  maxPollSubscriptions: 4096,
  maxMemoryFileBytes: 64 * 1024 * 1024,
});

/** Inclusive ranges an override must fall within. */
export const WASI_LIMIT_RANGES: Readonly<Record<keyof WasiLimits, readonly [number, number]>> = Object.freeze(
  {
    maxOpenDescriptors: [3, 65_536],
    maxBytesPerCall: [4096, 1024 * 1024 * 1024],
    maxPathBytes: [1, 65_536],
    maxSymlinkFollows: [0, 255],
    maxStdoutBytes: [0, 4 * 1024 * 1024 * 1024],
    maxStderrBytes: [0, 4 * 1024 * 1024 * 1024],
    maxReaddirEntries: [1, 10_000_000],
    maxPollSubscriptions: [1, 1_000_000],
    maxMemoryFileBytes: [0, 4 * 1024 * 1024 * 1024],
  },
);

/** Wasm page size (64 KiB) and the 32-bit address space's page count. */
export const WASM_PAGE_BYTES = 65_536;
export const WASM_MAX_PAGES = 65_536;

/** Merges overrides onto the defaults, refusing any value outside its range with the range named. */
export function resolveWasiLimits(overrides: Partial<WasiLimits> = {}): WasiLimits {
  const limits: WasiLimits = { ...WASI_LIMIT_DEFAULTS };
  for (const [name, value] of Object.entries(overrides) as [keyof WasiLimits, number | undefined][]) {
    if (value === undefined) continue;
    const range = WASI_LIMIT_RANGES[name];
    if (range === undefined) {
      throw new IsolaError('E_LIMIT_OUT_OF_RANGE', `unknown limit "${name}"`, { limit: name });
    }
    const [min, max] = range;
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new IsolaError(
        'E_LIMIT_OUT_OF_RANGE',
        `limit ${name} = ${value} is out of range: use a whole number from ${min} to ${max}`,
        { limit: name, value, min, max },
      );
    }
    limits[name] = value;
  }
  return limits;
}
