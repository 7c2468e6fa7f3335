/**
 * How an outbound request fails, in the names of wasi:http 0.2's `error-code` variant
 * (wit/types.wit in WebAssembly/wasi-http, after IANA's HTTP proxy error types), so the guest
 * layer turns an `OutboundError` into the variant case with no table of its own.
 *
 * An outbound failure is the guest's to handle, like an errno (STYLE.md habit 4), so it is not an
 * IsolaError; it still has a stable `code` and survives a worker boundary (`toJSON`/`fromJSON`).
 * Node's error codes map through one table; a code the table lacks becomes `internal-error` with
 * the code in its text, and the client logs it, rather than passing for a known failure.
 */

/** Every case of wasi:http 0.2 `error-code`, spelled as in the WIT. */
export type HttpErrorCode =
  | 'DNS-timeout'
  | 'DNS-error'
  | 'destination-not-found'
  | 'destination-unavailable'
  | 'destination-IP-prohibited'
  | 'destination-IP-unroutable'
  | 'connection-refused'
  | 'connection-terminated'
  | 'connection-timeout'
  | 'connection-read-timeout'
  | 'connection-write-timeout'
  | 'connection-limit-reached'
  | 'TLS-protocol-error'
  | 'TLS-certificate-error'
  | 'TLS-alert-received'
  | 'HTTP-request-denied'
  | 'HTTP-request-length-required'
  | 'HTTP-request-body-size'
  | 'HTTP-request-method-invalid'
  | 'HTTP-request-URI-invalid'
  | 'HTTP-request-URI-too-long'
  | 'HTTP-request-header-section-size'
  | 'HTTP-request-header-size'
  | 'HTTP-request-trailer-section-size'
  | 'HTTP-request-trailer-size'
  | 'HTTP-response-incomplete'
  | 'HTTP-response-header-section-size'
  | 'HTTP-response-header-size'
  | 'HTTP-response-body-size'
  | 'HTTP-response-trailer-section-size'
  | 'HTTP-response-trailer-size'
  | 'HTTP-response-transfer-coding'
  | 'HTTP-response-content-coding'
  | 'HTTP-response-timeout'
  | 'HTTP-upgrade-failed'
  | 'HTTP-protocol-error'
  | 'loop-detected'
  | 'configuration-error'
  | 'internal-error';

/** The payload of `DNS-error` (`DNS-error-payload` in the WIT). */
export interface DnsErrorPayload {
  rcode?: string;
  infoCode?: number;
}

export interface OutboundErrorFields {
  /** For `DNS-error`. */
  dns?: DnsErrorPayload;
  /** For `HTTP-request-body-size` / `HTTP-response-body-size`: the bytes seen when the limit broke, or declared. */
  size?: number;
  /** For a broken limit: the limit's name in `OutboundLimits`. */
  limit?: string;
}

export interface SerializedOutboundError extends OutboundErrorFields {
  code: HttpErrorCode;
  message: string;
}

export class OutboundError extends Error {
  readonly code: HttpErrorCode;
  readonly dns: DnsErrorPayload | undefined;
  readonly size: number | undefined;
  readonly limit: string | undefined;

  /** `message` says what happened and, where there is one, the fix; it is also `internal-error`'s text. */
  constructor(
    code: HttpErrorCode,
    message: string,
    fields: OutboundErrorFields = {},
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'OutboundError';
    this.code = code;
    this.dns = fields.dns;
    this.size = fields.size;
    this.limit = fields.limit;
  }

  toJSON(): SerializedOutboundError {
    const json: SerializedOutboundError = { code: this.code, message: this.message };
    if (this.dns !== undefined) json.dns = this.dns;
    if (this.size !== undefined) json.size = this.size;
    if (this.limit !== undefined) json.limit = this.limit;
    return json;
  }

  static fromJSON(json: SerializedOutboundError): OutboundError {
    const { code, message, ...fields } = json;
    return new OutboundError(code, message, fields);
  }
}

/** Node's codes for a failure before the response head (DNS, connect, TLS, request, head parse). */
const NODE_ERROR_CODES: Readonly<Record<string, HttpErrorCode>> = {
  ECONNREFUSED: 'connection-refused',
  ECONNRESET: 'connection-terminated',
  EPIPE: 'connection-terminated',
  ECONNABORTED: 'connection-terminated',
  ETIMEDOUT: 'connection-timeout',
  EHOSTUNREACH: 'destination-IP-unroutable',
  ENETUNREACH: 'destination-IP-unroutable',
  EADDRNOTAVAIL: 'destination-IP-unroutable',
  EHOSTDOWN: 'destination-unavailable',
  ENETDOWN: 'destination-unavailable',
  // dns.lookup (getaddrinfo): no such name, no address for it, or the resolver failed.
  ENOTFOUND: 'DNS-error',
  ENODATA: 'DNS-error',
  EAI_AGAIN: 'DNS-error',
  EAI_FAIL: 'DNS-error',
  ESERVFAIL: 'DNS-error',
  EPROTO: 'TLS-protocol-error',
  ERR_SSL_WRONG_VERSION_NUMBER: 'TLS-protocol-error',
  ERR_TLS_CERT_ALTNAME_INVALID: 'TLS-certificate-error',
  CERT_HAS_EXPIRED: 'TLS-certificate-error',
  CERT_NOT_YET_VALID: 'TLS-certificate-error',
  CERT_REVOKED: 'TLS-certificate-error',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'TLS-certificate-error',
  SELF_SIGNED_CERT_IN_CHAIN: 'TLS-certificate-error',
  UNABLE_TO_GET_ISSUER_CERT: 'TLS-certificate-error',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'TLS-certificate-error',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'TLS-certificate-error',
  HPE_HEADER_OVERFLOW: 'HTTP-response-header-section-size',
  HPE_INVALID_CONSTANT: 'HTTP-protocol-error',
  HPE_INVALID_VERSION: 'HTTP-protocol-error',
  HPE_INVALID_STATUS: 'HTTP-protocol-error',
  HPE_INVALID_HEADER_TOKEN: 'HTTP-protocol-error',
  HPE_INVALID_CONTENT_LENGTH: 'HTTP-protocol-error',
  HPE_UNEXPECTED_CONTENT_LENGTH: 'HTTP-protocol-error',
  HPE_INVALID_CHUNK_SIZE: 'HTTP-response-transfer-coding',
  HPE_INVALID_TRANSFER_ENCODING: 'HTTP-response-transfer-coding',
  HPE_LF_EXPECTED: 'HTTP-protocol-error',
  HPE_CR_EXPECTED: 'HTTP-protocol-error',
  HPE_CHUNK_EXTENSIONS_OVERFLOW: 'HTTP-response-transfer-coding',
  ERR_HTTP_INVALID_HEADER_VALUE: 'internal-error',
  ERR_INVALID_CHAR: 'internal-error',
  ERR_INVALID_HTTP_TOKEN: 'internal-error',
};

/**
 * The OutboundError for an error Node raised while the request was under way. `phase` is `body`
 * once the response head has arrived: a connection lost then leaves the response incomplete.
 * Returns `known: false` for a code the table lacks, which the caller logs.
 */
export function fromNodeError(
  error: unknown,
  phase: 'head' | 'body',
): { error: OutboundError; known: boolean } {
  if (error instanceof OutboundError) return { error, known: true };
  const nodeCode = (error as { code?: unknown } | null)?.code;
  const code = typeof nodeCode === 'string' ? nodeCode : undefined;
  const message = error instanceof Error ? error.message : String(error);
  const options = { cause: error };
  if (phase === 'body' && (code === 'ECONNRESET' || code === 'EPIPE' || code === 'ECONNABORTED')) {
    return {
      error: new OutboundError(
        'HTTP-response-incomplete',
        `the connection closed before the response body ended (${code})`,
        {},
        options,
      ),
      known: true,
    };
  }
  const mapped = code === undefined ? undefined : NODE_ERROR_CODES[code];
  if (mapped === undefined) {
    return {
      error: new OutboundError('internal-error', `${code ?? 'error'}: ${message}`, {}, options),
      known: false,
    };
  }
  const fields: OutboundErrorFields = mapped === 'DNS-error' ? { dns: { rcode: code! } } : {};
  return { error: new OutboundError(mapped, `${code}: ${message}`, fields, options), known: true };
}
