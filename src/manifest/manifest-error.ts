/** The one shape of a manifest complaint: the file, then what is wrong with which key and the fix. */
import { type ErrorCode, IsolaError } from '../errors.js';

/** `file: text`, with the file (and the key, when given) among the details. */
export function manifestError(
  file: string,
  text: string,
  details: Record<string, unknown> = {},
  code: ErrorCode = 'E_MANIFEST_INVALID',
  cause?: unknown,
): IsolaError {
  return new IsolaError(
    code,
    `${file}: ${text}`,
    { manifest: file, ...details },
    cause === undefined ? undefined : { cause },
  );
}
