/**
 * wasi:http/outgoing-handler 0.2. The seam for isola's outbound HTTP (src/outbound/: the
 * allow-list and client): an `OutboundHttp` decides each request and returns its outcome. Until
 * that is wired in, `DENY_ALL_OUTBOUND` refuses every request with `HTTP-request-denied`, the
 * error-code wasi-http defines for a request the host will not send.
 *
 * A guest call cannot wait for the event loop (it runs on the thread that would serve the
 * socket), so a real client must complete the request before `handle` returns, e.g. from a
 * worker thread blocked in `Atomics.wait` on a client running on another thread.
 */
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
        const outcome = outbound.send({ ...request.describe(), body: request.collected.chunks });
        // A refusal is the handle call's own error result, as wasmtime reports a denied request.
        if (!outcome.ok) throw new WitError(outcome.error);
        return new FutureIncomingResponse(ctx, outcome, classes.immutableFields);
      },
    },
  };
}
