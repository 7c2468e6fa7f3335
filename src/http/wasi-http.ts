/**
 * The wasi:http executor: serves a request with a WASI 0.2 component's
 * `wasi:http/incoming-handler`, a fresh instance per request on isola's own host
 * (src/component/), run by the engine on a worker under the component's deadline and limits.
 *
 * The request body is read whole first (the server already refused one declared past its
 * `maxBodyBytes`; the component's `maxStdinBytes` bounds it again), and the component's response
 * is answered whole once its handler has ended. How an invocation that went wrong is answered, as
 * for the WAGI executor: past its deadline → 504; a trap, a broken limit, no valid response, a
 * host error → 500; the engine's queue full → 503 with `Retry-After`; a body too large → 413.
 * Every error body names the request id; the reason goes to the log.
 */
import { isIsolaError } from '../errors.js';
import type { InvocationLimits } from '../limits.js';
import type { OutboundLogEntry, OutboundPolicy } from '../outbound/index.js';
import type {
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

export async function serveWasiHttp(
  engine: Engine,
  served: WasiHttpComponent,
  request: HttpRequest,
  requestId: string,
  log: WagiLog,
): Promise<{ response: HttpResponse; outcome: Outcome | undefined }> {
  const maxBodyBytes = served.limits?.maxStdinBytes ?? engine.limits.maxStdinBytes;
  const body = request.body === null ? undefined : await readBody(request.body, maxBodyBytes);
  if (body === TOO_LARGE) {
    log.failure(`the request body is over maxStdinBytes (${maxBodyBytes})`, undefined);
    return { response: errorResponse(413, requestId), outcome: undefined };
  }
  let invocation: ReturnType<Engine['invokeComponent']>;
  try {
    invocation = engine.invokeComponent(served.component, {
      method: request.method,
      url: request.url.href,
      headers: [...request.headers],
      ...(body === undefined ? {} : { body }),
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
  const result = await invocation.result;
  if (result.stderr.length > 0) {
    const lines = Buffer.from(result.stderr).toString('utf8').split('\n');
    if (lines.at(-1) === '') lines.pop();
    for (const line of lines) log.stderr(line);
  }
  const { outcome, response } = result;
  if (outcome.kind === 'return' && response !== undefined) {
    return {
      response: {
        status: response.status,
        statusText: '',
        headers: response.headers.filter(([name]) => !FRAMING_FIELDS.has(name.toLowerCase())),
        body: response.body.length === 1 ? (response.body[0] as Uint8Array) : Buffer.concat(response.body),
      },
      outcome,
    };
  }
  log.failure(reasonOf(outcome), outcome);
  return { response: errorResponse(outcome.kind === 'timeout' ? 504 : 500, requestId), outcome };
}

const TOO_LARGE = Symbol('too large');

/** The whole body, or TOO_LARGE as soon as it passes `max` bytes (the rest is not read). */
async function readBody(
  body: ReadableStream<Uint8Array>,
  max: number,
): Promise<Uint8Array | typeof TOO_LARGE> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    total += chunk.byteLength;
    if (total > max) return TOO_LARGE;
    chunks.push(chunk);
  }
  return chunks.length === 1 ? (chunks[0] as Uint8Array) : Buffer.concat(chunks);
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
