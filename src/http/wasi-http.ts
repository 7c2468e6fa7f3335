/**
 * The wasi:http executor: serves a request with a WASI 0.2 component's
 * `wasi:http/incoming-handler`, a fresh instance per request on isola's own host
 * (src/component/), run by the engine on a worker under the component's deadline and limits.
 *
 * Both bodies stream. The request body is read as the component reads it (a body declared past
 * the component's `maxStdinBytes` is refused before anything runs; one that passes it as it
 * arrives ends the component with that limit), and the response is answered as soon as the
 * component sets its head, its body following as the component writes it. How an invocation that
 * went wrong is answered, as for the WAGI executor:
 * - before the head: past its deadline → 504; a request body too large → 413; a trap, another
 *   broken limit, no valid response, a host error → 500; the engine's queue full → 503 with
 *   `Retry-After`;
 * - after the head: the body is cut off (the connection is aborted, so the client sees a broken
 *   response, never a clean short one), and the reason goes to the log.
 * Every error body names the request id; the reason goes to the log. Trailers are not forwarded
 * either way: the component sees none on the request, and those it sets are dropped.
 */
import { Readable } from 'node:stream';
import { isIsolaError } from '../errors.js';
import type { InvocationLimits } from '../limits.js';
import type { OutboundLogEntry, OutboundPolicy } from '../outbound/index.js';
import type {
  ComponentInvocation,
  ComponentInvokeRequest,
  Engine,
  InvokeRequest,
  LoadedComponent,
  Outcome,
} from '../runtime/index.js';
import { errorResponse } from './error-response.js';
import type { HttpRequest, HttpResponse } from './message.js';
import { OVERLOAD_RETRY_AFTER_SECONDS, type WagiLog } from './wagi.js';

/** One component as the wasi:http executor runs it. */
export interface WasiHttpComponent {
  executor: 'wasi-http';
  component: LoadedComponent;
  /** What `wasi:cli/environment` gives the guest. */
  env: readonly (readonly [string, string])[];
  /** In-memory bundles of the app's files, for `wasi:filesystem`. Default none. */
  bundles?: InvokeRequest['bundles'];
  /** Key-value stores it may open (wasi:keyvalue). Default none. */
  keyValue?: ComponentInvokeRequest['keyValue'];
  /** Its variables by name, for `wasi:config/store`. Default none. */
  config?: ComponentInvokeRequest['config'];
  /** What its outgoing requests are checked against; each one is a line in the app's log. Default: all denied, unlogged. */
  outbound?: OutboundPolicy;
  limits?: Partial<InvocationLimits>;
}

/** An outbound request as a line of the app's log: never its path or query, which may hold secrets. */
function outboundLine(entry: OutboundLogEntry): string {
  const result =
    entry.outcome === 'ok'
      ? `${entry.status}`
      : `${entry.outcome}${entry.reason === undefined ? '' : `: ${entry.reason}`}`;
  const via = entry.address === undefined ? '' : ` via ${entry.address}`;
  return `isola: outbound ${entry.method} ${entry.origin}${via} -> ${result} (${entry.ms.toFixed(1)} ms)`;
}

/** Response fields the server frames itself (RFC 9110 §7.6.1), dropped from the component's. */
const FRAMING_FIELDS = new Set([
  'content-length',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'upgrade',
]);

/**
 * Serves `request` with the component. Resolves with the response once the component has set its
 * head (or ended without one); `outcome` is the invocation's when it had already ended by then,
 * as a small response's has, and undefined while its body still streams.
 */
export async function serveWasiHttp(
  engine: Engine,
  served: WasiHttpComponent,
  request: HttpRequest,
  requestId: string,
  log: WagiLog,
): Promise<{ response: HttpResponse; outcome: Outcome | undefined }> {
  const maxBodyBytes = served.limits?.maxStdinBytes ?? engine.limits.maxStdinBytes;
  const declared = Number(request.headers.get('content-length') ?? 0);
  if (declared > maxBodyBytes) {
    log.failure(
      `the declared request body of ${declared} bytes is over maxStdinBytes (${maxBodyBytes})`,
      undefined,
    );
    return { response: errorResponse(413, requestId), outcome: undefined };
  }
  let invocation: ComponentInvocation;
  try {
    invocation = engine.invokeComponent(served.component, {
      method: request.method,
      url: request.url.href,
      headers: [...request.headers],
      ...(request.body === null ? {} : { body: Readable.fromWeb(request.body as never) }),
      env: served.env,
      ...(served.bundles === undefined ? {} : { bundles: served.bundles }),
      ...(served.keyValue === undefined ? {} : { keyValue: served.keyValue }),
      ...(served.config === undefined ? {} : { config: served.config }),
      ...(served.outbound === undefined
        ? {}
        : {
            outbound: {
              policy: served.outbound,
              log: (entry: OutboundLogEntry) => log.host?.(outboundLine(entry)),
            },
          }),
      ...(served.limits === undefined ? {} : { limits: served.limits }),
    });
  } catch (error) {
    log.failure(error instanceof Error ? error.message : String(error), undefined);
    if (isIsolaError(error, 'E_OVERLOADED')) {
      const retry = { 'retry-after': String(OVERLOAD_RETRY_AFTER_SECONDS) };
      return { response: errorResponse(503, requestId, retry), outcome: undefined };
    }
    const status = isIsolaError(error, 'E_GUEST_INPUT_LIMIT') ? 413 : 500;
    return { response: errorResponse(status, requestId), outcome: undefined };
  }
  void invocation.result.then((result) => forwardStderr(result.stderr, log));
  const head = await invocation.head;
  if (head === undefined) {
    const { outcome } = await invocation.result;
    log.failure(reasonOf(outcome), outcome);
    return { response: errorResponse(failureStatus(outcome), requestId), outcome };
  }
  const status = head.status;
  const headers = head.headers.filter(([name]) => !FRAMING_FIELDS.has(name.toLowerCase()));
  const ended = invocation.settled;
  if (nullBodyStatus(status)) {
    return { response: { status, statusText: '', headers, body: null }, outcome: ended?.outcome };
  }
  if (ended?.response !== undefined) {
    // It has ended well already: its body is all here.
    const chunks = ended.response.body;
    const body = chunks.length === 1 ? (chunks[0] as Uint8Array) : Buffer.concat(chunks);
    return { response: { status, statusText: '', headers, body }, outcome: ended.outcome };
  }
  return {
    response: { status, statusText: '', headers, body: bodyStream(invocation, log) },
    outcome: ended?.outcome,
  };
}

/** The body the client gets: it throws if the component did not end well, so the connection is cut. */
async function* bodyStream(invocation: ComponentInvocation, log: WagiLog): AsyncGenerator<Uint8Array> {
  try {
    yield* invocation.body();
  } catch (error) {
    const { outcome } = await invocation.result;
    log.failure(`the response was cut off: ${reasonOf(outcome)}`, outcome);
    throw error;
  }
}

function forwardStderr(stderr: Uint8Array, log: WagiLog): void {
  if (stderr.length === 0) return;
  const lines = Buffer.from(stderr).toString('utf8').split('\n');
  if (lines.at(-1) === '') lines.pop();
  for (const line of lines) log.stderr(line);
}

function failureStatus(outcome: Outcome): number {
  if (outcome.kind === 'timeout') return 504;
  if (outcome.kind === 'limit' && outcome.limit === 'maxStdinBytes') return 413;
  return 500;
}

/** 204, 205 and 304 responses have no body (RFC 9110 §15.3.5, §15.3.6, §15.4.5). */
function nullBodyStatus(status: number): boolean {
  return status === 204 || status === 205 || status === 304;
}

function reasonOf(outcome: Outcome): string {
  switch (outcome.kind) {
    case 'timeout':
      return `the component ran past its ${outcome.afterMs} ms deadline`;
    case 'trap':
      return `the component trapped: ${outcome.message}`;
    case 'limit':
      return outcome.message;
    case 'error':
      return `${outcome.error.code}: ${outcome.error.message}`;
    default:
      return `the component ended without a response (${outcome.kind})`;
  }
}
