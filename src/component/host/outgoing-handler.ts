/**
 * wasi:http/outgoing-handler 0.2. isola's outbound HTTP (src/outbound/: the allow-list, the
 * address policy and the client) sits behind the `OutboundHttp` seam, which decides each request
 * and returns its outcome. On an engine worker the engine's implementation sends the request to
 * the main thread, which checks and sends it and logs it, and blocks until the whole response is
 * there (runtime/host-call.ts): a guest call cannot wait for the event loop of its own thread.
 * With no grant, `DENY_ALL_OUTBOUND` refuses every request with `HTTP-request-denied`, the
 * error-code wasi-http defines for a request the host will not send.
 */
import type { SerializedOutboundError } from '../../outbound/error-code.js';
import type { HostContext } from './context.js';
import { WitError } from './context.js';
import {
  type ErrorCode,
  FutureIncomingResponse,
  type InstanceHttpClasses,
  type OutgoingOutcome,
  OutgoingRequest,
  type RequestOptions,
} from './http-types.js';

/** The request as the guest built it, body collected. */
export interface OutboundRequest {
  method: string;
  scheme: string;
  authority: string;
  pathWithQuery: string;
  headers: readonly [string, Uint8Array][];
  body: readonly Uint8Array[];
}

export interface OutboundHttp {
  /** Sends `request` (or refuses it) and returns its outcome synchronously. */
  send(request: OutboundRequest): OutgoingOutcome;
}

const HTTP_REQUEST_DENIED: ErrorCode = Object.freeze({ tag: 'HTTP-request-denied' });

/**
 * The wasi:http `error-code` for an outbound failure (src/outbound/error-code.ts names each one
 * after its case), with the payload its case carries in jco's shapes: `option<T>` is the value or
 * undefined, a record an object of camel-cased fields.
 */
export function witErrorCode(error: SerializedOutboundError): ErrorCode {
  switch (error.code) {
    case 'DNS-error':
      return { tag: error.code, val: { rcode: error.dns?.rcode, infoCode: error.dns?.infoCode } };
    case 'TLS-alert-received':
      return { tag: error.code, val: { alertId: undefined, alertMessage: undefined } };
    case 'HTTP-request-body-size':
    case 'HTTP-response-body-size':
      return { tag: error.code, val: error.size === undefined ? undefined : BigInt(error.size) };
    case 'HTTP-request-header-section-size':
    case 'HTTP-request-trailer-section-size':
    case 'HTTP-response-header-section-size':
    case 'HTTP-response-trailer-section-size':
    case 'HTTP-request-header-size':
    case 'HTTP-response-transfer-coding':
    case 'HTTP-response-content-coding':
      return { tag: error.code, val: undefined };
    case 'HTTP-request-trailer-size':
    case 'HTTP-response-header-size':
    case 'HTTP-response-trailer-size':
      return { tag: error.code, val: { fieldName: undefined, fieldSize: undefined } };
    case 'internal-error':
      return { tag: error.code, val: error.message };
    default:
      return { tag: error.code };
  }
}

/** Refuses every request: no outbound host is granted. */
export const DENY_ALL_OUTBOUND: OutboundHttp = Object.freeze({
  send: (): OutgoingOutcome => ({ ok: false, error: HTTP_REQUEST_DENIED }),
});

export function outgoingHandlerImports(
  ctx: HostContext,
  classes: InstanceHttpClasses,
  outbound: OutboundHttp,
): Record<string, Record<string, unknown>> {
  return {
    'wasi:http/outgoing-handler': {
      handle: (request: OutgoingRequest, _options: RequestOptions | undefined) => {
        if (!(request instanceof OutgoingRequest)) throw new TypeError('not an outgoing-request');
        const head = request.describe();
        // A host that refuses every request says so at once, as the handle call's own error.
        if (outbound === DENY_ALL_OUTBOUND) throw new WitError(HTTP_REQUEST_DENIED);
        const pending = {
          ready: () => request.complete,
          send: () => outbound.send({ ...head, body: request.collected.chunks }),
        };
        return new FutureIncomingResponse(ctx, pending, classes.immutableFields);
      },
    },
  };
}
