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
    limits[name] = checkLimit(name, value, range);
  }
  return limits;
}

/**
 * Limits on one invocation beyond what the WASI host enforces: the guest's linear memory, its
 * wall-clock deadline and the stdin it may be fed. An app overrides them within the operator's
 * maxima (`EngineOptions.maxLimits`).
 */
export interface RunLimits {
  /** Linear memory maximum in bytes, enforced even when the module declares more or none. Default 128 MiB. */
  maxMemoryBytes: number;
  /** Wall-clock deadline of one invocation, from the moment it starts running. Default 30 s. */
  timeoutMs: number;
  /** Bytes of stdin the guest may be fed; more ends the invocation with E_GUEST_INPUT_LIMIT. Default 16 MiB. */
  maxStdinBytes: number;
}

export type InvocationLimits = WasiLimits & RunLimits;

export const RUN_LIMIT_DEFAULTS: Readonly<RunLimits> = Object.freeze({
  maxMemoryBytes: 128 * 1024 * 1024,
  timeoutMs: 30_000,
  maxStdinBytes: 16 * 1024 * 1024,
});

export const RUN_LIMIT_RANGES: Readonly<Record<keyof RunLimits, readonly [number, number]>> = Object.freeze({
  maxMemoryBytes: [WASM_PAGE_BYTES, WASM_MAX_PAGES * WASM_PAGE_BYTES],
  // setTimeout's ceiling is 2^31 - 1 ms (about 24.8 days).
  timeoutMs: [1, 2 ** 31 - 1],
  maxStdinBytes: [0, 4 * 1024 * 1024 * 1024],
});

export const INVOCATION_LIMIT_DEFAULTS: Readonly<InvocationLimits> = Object.freeze({
  ...WASI_LIMIT_DEFAULTS,
  ...RUN_LIMIT_DEFAULTS,
});

export const INVOCATION_LIMIT_RANGES: Readonly<Record<keyof InvocationLimits, readonly [number, number]>> =
  Object.freeze({ ...WASI_LIMIT_RANGES, ...RUN_LIMIT_RANGES });

/**
 * Checks an operator's maxima (each within its range) and fills the rest with the top of the range.
 */
export function resolveLimitMaxima(maxima: Partial<InvocationLimits> = {}): InvocationLimits {
  const resolved = Object.fromEntries(
    Object.entries(INVOCATION_LIMIT_RANGES).map(([name, [, max]]) => [name, max]),
  ) as unknown as InvocationLimits;
  for (const [name, value] of Object.entries(maxima) as [keyof InvocationLimits, number | undefined][]) {
    if (value !== undefined) resolved[name] = checkLimit(name, value, INVOCATION_LIMIT_RANGES[name]);
  }
  return resolved;
}

/**
 * Merges an app's overrides onto `base` (defaults, or the engine's own defaults), refusing a value
 * outside its range or above the operator's maximum with the allowed range named.
 */
export function resolveInvocationLimits(
  overrides: Partial<InvocationLimits>,
  base: Readonly<InvocationLimits>,
  maxima: Readonly<InvocationLimits>,
): InvocationLimits {
  const limits = { ...base };
  for (const [name, value] of Object.entries(overrides) as [keyof InvocationLimits, number | undefined][]) {
    if (value === undefined) continue;
    const range = INVOCATION_LIMIT_RANGES[name];
    if (range === undefined) {
      throw new IsolaError(
        'E_LIMIT_OUT_OF_RANGE',
        `unknown limit "${name}": use one of ${Object.keys(INVOCATION_LIMIT_RANGES).join(', ')}`,
        { limit: name },
      );
    }
    limits[name] = checkLimit(name, value, [range[0], Math.min(range[1], maxima[name])]);
  }
  return limits;
}

function checkLimit(name: string, value: number, [min, max]: readonly [number, number]): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new IsolaError(
      'E_LIMIT_OUT_OF_RANGE',
      `limit ${name} = ${value} is out of range: use a whole number from ${min} to ${max}`,
      { limit: name, value, min, max },
    );
  }
  return value;
}
