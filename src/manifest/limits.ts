/**
 * `[component.NAME.limits]`: the manifest's names and units for isola's invocation limits
 * (src/limits.ts). Each key maps onto one InvocationLimits field; a value is a whole number in
 * the key's unit, and at lock it must fall within that limit's range.
 */
import { isIsolaError } from '../errors.js';
import {
  INVOCATION_LIMIT_DEFAULTS,
  INVOCATION_LIMIT_RANGES,
  type InvocationLimits,
  resolveInvocationLimits,
  resolveLimitMaxima,
} from '../limits.js';
import { manifestError } from './manifest-error.js';

const MIB = 1024 * 1024;

interface ManifestLimit {
  limit: keyof InvocationLimits;
  /** Bytes (or milliseconds, or a count) per unit of the manifest's value. */
  unit: number;
}

/** Manifest key → limit. `_mb` keys are in mebibytes (1,048,576 bytes). */
export const MANIFEST_LIMITS = Object.freeze({
  /** Wall-clock deadline of one invocation, in milliseconds. */
  timeout_ms: { limit: 'timeoutMs', unit: 1 },
  /** Linear memory maximum, in MiB. */
  memory_limit_mb: { limit: 'maxMemoryBytes', unit: MIB },
  /** Request body bytes the guest may read from stdin. */
  max_stdin_bytes: { limit: 'maxStdinBytes', unit: 1 },
  /** Bytes the guest may write to stdout (the response, headers included). */
  max_stdout_bytes: { limit: 'maxStdoutBytes', unit: 1 },
  /** Bytes the guest may write to stderr (the app's log). */
  max_stderr_bytes: { limit: 'maxStderrBytes', unit: 1 },
  /** Open descriptors, stdio and mounted directories included. */
  max_open_descriptors: { limit: 'maxOpenDescriptors', unit: 1 },
  /** Bytes one host call may copy between guest memory and the host. */
  max_bytes_per_call: { limit: 'maxBytesPerCall', unit: 1 },
  /** Longest path, in UTF-8 bytes, the guest may pass to a path_* call. */
  max_path_bytes: { limit: 'maxPathBytes', unit: 1 },
  /** Symlinks followed while resolving one path. */
  max_symlink_follows: { limit: 'maxSymlinkFollows', unit: 1 },
  /** Entries one fd_readdir may list. */
  max_readdir_entries: { limit: 'maxReaddirEntries', unit: 1 },
  /** Subscriptions in one poll_oneoff call. */
  max_poll_subscriptions: { limit: 'maxPollSubscriptions', unit: 1 },
  /** Bytes an in-memory file may grow to. */
  max_memory_file_bytes: { limit: 'maxMemoryFileBytes', unit: 1 },
} satisfies Record<string, ManifestLimit>);

export type ManifestLimitKey = keyof typeof MANIFEST_LIMITS;

/** `[component.NAME.limits]` as written: manifest key → whole number in its unit. */
export type ManifestLimits = Readonly<Partial<Record<ManifestLimitKey, number>>>;

export const MANIFEST_LIMIT_KEYS = Object.freeze(Object.keys(MANIFEST_LIMITS) as ManifestLimitKey[]);

/** The range a manifest key allows, in its own unit: the limit's range, rounded inwards. */
export function manifestLimitRange(key: ManifestLimitKey): readonly [number, number] {
  const { limit, unit } = MANIFEST_LIMITS[key];
  const [min, max] = INVOCATION_LIMIT_RANGES[limit];
  return [Math.ceil(min / unit), Math.floor(max / unit)];
}

/**
 * The InvocationLimits overrides `limits` stands for, each checked against its range with
 * `resolveInvocationLimits`. A value out of range is refused (E_LIMIT_OUT_OF_RANGE) naming the
 * key, under the table `path` of manifest `file`, and the range in the key's unit.
 */
export function toInvocationLimits(
  limits: ManifestLimits,
  path: string,
  file: string,
): Partial<InvocationLimits> {
  const maxima = resolveLimitMaxima();
  const overrides: Partial<InvocationLimits> = {};
  for (const key of MANIFEST_LIMIT_KEYS) {
    const value = limits[key];
    if (value === undefined) continue;
    const { limit, unit } = MANIFEST_LIMITS[key];
    try {
      const resolved = resolveInvocationLimits({ [limit]: value * unit }, INVOCATION_LIMIT_DEFAULTS, maxima);
      overrides[limit] = resolved[limit];
    } catch (error) {
      if (!isIsolaError(error, 'E_LIMIT_OUT_OF_RANGE')) throw error;
      const [min, max] = manifestLimitRange(key);
      throw manifestError(
        file,
        `${path}.${key} = ${value} is out of range: use a whole number from ${min} to ${max}`,
        { key: `${path}.${key}`, limit, value, min, max },
        'E_LIMIT_OUT_OF_RANGE',
        error,
      );
    }
  }
  return overrides;
}
