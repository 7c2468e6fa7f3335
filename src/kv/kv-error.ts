/**
 * The errors of the key-value layer, each with its own code (also in `details.kvCode`, which
 * `kvCodeOf` reads across a worker boundary).
 */
import { type ErrorCode, IsolaError } from '../errors.js';

const KV_ERRORS = {
  /** A runtime key-value config that selects no usable backend. */
  E_KV_CONFIG_INVALID: 'E_KV_CONFIG_INVALID',
  /** An app or store label that cannot name a bucket. */
  E_KV_BUCKET_INVALID: 'E_KV_BUCKET_INVALID',
  /** A key (or listing prefix) that is too long or not well-formed Unicode. */
  E_KV_KEY_INVALID: 'E_KV_KEY_INVALID',
  /** A value, or a batch's values, over the byte limit. */
  E_KV_VALUE_TOO_LARGE: 'E_KV_VALUE_TOO_LARGE',
  /** A batch naming more keys than allowed, or a listing asking for a larger page. */
  E_KV_BATCH_TOO_LARGE: 'E_KV_BATCH_TOO_LARGE',
  /** More buckets open at once than allowed. */
  E_KV_BUCKETS_LIMIT: 'E_KV_BUCKETS_LIMIT',
  /** A listing cursor this backend did not hand out. */
  E_KV_CURSOR_INVALID: 'E_KV_CURSOR_INVALID',
  /** increment on a value that is not a signed 64-bit decimal integer, or that would overflow. */
  E_KV_NOT_INTEGER: 'E_KV_NOT_INTEGER',
  /** A call on a bucket or store that was closed. */
  E_KV_CLOSED: 'E_KV_CLOSED',
  /** The backend cannot be reached, or did not answer in time. */
  E_KV_UNAVAILABLE: 'E_KV_UNAVAILABLE',
  /** The backend answered with an error (disk full, read-only, out of memory). */
  E_KV_BACKEND_FAILED: 'E_KV_BACKEND_FAILED',
} as const satisfies Record<string, ErrorCode>;

export type KvErrorCode = keyof typeof KV_ERRORS;

export function kvError(
  kvCode: KvErrorCode,
  message: string,
  details: Record<string, unknown> = {},
  cause?: unknown,
): IsolaError {
  return new IsolaError(
    KV_ERRORS[kvCode],
    message,
    { ...details, kvCode },
    cause === undefined ? undefined : { cause },
  );
}

/** The key-value code of `error`, or undefined when it is not one of this layer's errors. */
export function kvCodeOf(error: unknown): KvErrorCode | undefined {
  if (!(error instanceof IsolaError)) return undefined;
  const code = error.details.kvCode;
  return typeof code === 'string' && code in KV_ERRORS ? (code as KvErrorCode) : undefined;
}
