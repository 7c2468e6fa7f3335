/**
 * isola's host-side errors. Every error a user or embedder can meet carries a stable string
 * `code`, structured `details`, an optional `cause`, and a message that names the fix. Errors
 * survive a worker boundary through `toJSON()` / `IsolaError.fromJSON()`.
 */

export type ErrorCode =
  | 'E_MODULE_INVALID'
  | 'E_MODULE_UNSUPPORTED_IMPORTS'
  | 'E_MODULE_IMPORT_SIGNATURE'
  | 'E_MODULE_NO_START'
  | 'E_MODULE_COMPONENT'
  | 'E_MODULE_UNSUPPORTED'
  | 'E_MODULE_READ'
  | 'E_MEMORY_LIMIT'
  | 'E_LIMIT_OUT_OF_RANGE'
  | 'E_PREOPEN_INVALID'
  | 'E_ARGUMENT_INVALID'
  | 'E_PREINIT_UNAVAILABLE'
  | 'E_PREINIT_NO_INIT'
  | 'E_PREINIT_FAILED'
  | 'E_PREINIT_TIMEOUT'
  | 'E_PREINIT_OUTPUT_LIMIT'
  | 'E_GUEST_TRAP'
  | 'E_GUEST_TIMEOUT'
  | 'E_GUEST_OUTPUT_LIMIT'
  | 'E_HOST_ERRNO_UNKNOWN'
  | 'E_GUEST_INPUT_LIMIT'
  | 'E_MODULE_NOT_LOADED'
  | 'E_MODULE_CACHE_FULL'
  | 'E_OVERLOADED'
  | 'E_ENGINE_CLOSED'
  | 'E_WORKER_CRASHED'
  | 'E_INLINE_WOULD_BLOCK'
  | 'E_VARIABLE_MISSING'
  | 'E_KV_CONFIG_INVALID'
  | 'E_KV_BUCKET_INVALID'
  | 'E_KV_KEY_INVALID'
  | 'E_KV_VALUE_TOO_LARGE'
  | 'E_KV_BATCH_TOO_LARGE'
  | 'E_KV_BUCKETS_LIMIT'
  | 'E_KV_CURSOR_INVALID'
  | 'E_KV_NOT_INTEGER'
  | 'E_KV_CLOSED'
  | 'E_KV_UNAVAILABLE'
  | 'E_KV_BACKEND_FAILED'
  | 'E_ROUTE_INVALID'
  | 'E_ROUTE_DUPLICATE'
  | 'E_MANIFEST_READ'
  | 'E_MANIFEST_INVALID'
  | 'E_MANIFEST_UNSUPPORTED'
  | 'E_APP_SOURCE_MISSING'
  | 'E_APP_FILES_LIMIT'
  | 'E_CGI_RESPONSE_INVALID'
  | 'E_CGI_EMPTY_RESPONSE'
  | 'E_APP_BUILD_FAILED'
  | 'E_COMPONENT_SOURCE_READ'
  | 'E_COMPONENT_IMPORT_UNKNOWN'
  | 'E_COMPONENT_BUILD'
  | 'E_LISTEN_FAILED'
  | 'E_INTERNAL';

export interface SerializedError {
  code: ErrorCode;
  message: string;
  details: Record<string, unknown>;
  cause?: SerializedError | { message: string };
}

export class IsolaError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown>;

  constructor(
    code: ErrorCode,
    message: string,
    details: Record<string, unknown> = {},
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'IsolaError';
    this.code = code;
    this.details = details;
  }

  toJSON(): SerializedError {
    const json: SerializedError = { code: this.code, message: this.message, details: this.details };
    if (this.cause instanceof IsolaError) json.cause = this.cause.toJSON();
    else if (this.cause instanceof Error) json.cause = { message: this.cause.message };
    return json;
  }

  static fromJSON(json: SerializedError): IsolaError {
    const cause =
      json.cause === undefined
        ? undefined
        : 'code' in json.cause
          ? IsolaError.fromJSON(json.cause)
          : new Error(json.cause.message);
    return new IsolaError(json.code, json.message, json.details, cause ? { cause } : undefined);
  }
}

export function isIsolaError(value: unknown, code?: ErrorCode): value is IsolaError {
  return value instanceof IsolaError && (code === undefined || value.code === code);
}
