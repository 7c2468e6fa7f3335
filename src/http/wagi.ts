/**
 * The WAGI executor: serves a request with a WASI command, CGI style (RFC 3875), the convention
 * WAGI introduced and Spin's `wagi` executor implements. The request's meta-variables and the
 * app's environment become the guest's environment, the request body streams to its stdin, and
 * its stdout is read as a CGI response whose body streams to the client as the guest writes it.
 * Its stderr goes to the app's log, line by line.
 *
 * How an invocation that went wrong is answered:
 * - past its deadline before the response head → 504; after it → the body is cut off (the
 *   client sees an aborted response, never a clean short one);
 * - a trap, a broken limit, a host error, or no output at all → 500;
 * - stdin past maxStdinBytes → 413;
 * - output that is not a CGI response → 502, with the reason in the log;
 * - the engine's queue full → 503 with `Retry-After`.
 * Every error body names the request id, so a user can find the log line.
 */
import { Readable } from 'node:stream';
import { isIsolaError } from '../errors.js';
import type { InvocationLimits } from '../limits.js';
import type { DirGrant, Engine, InvokeRequest, LoadedModule, Outcome } from '../runtime/index.js';
import { type CgiRequest, cgiEnvironment } from './cgi-env.js';
import { type CgiHead, type CgiResponse, parseCgiResponse, readCgiResponse } from './cgi-response.js';
import { errorResponse } from './error-response.js';
import type { HttpRequest, HttpResponse } from './message.js';
import { decodeSegment } from './route-pattern.js';

/** One component as the WAGI executor runs it: the loaded module and its grants. */
export interface WagiComponent {
  module: LoadedModule;
  /** The app's environment variables; CGI variables of the same name take precedence. */
  env: readonly (readonly [string, string])[];
  dirs: readonly DirGrant[];
  /** In-memory bundles of the app's files, mounted read-only. Default none. */
  bundles?: InvokeRequest['bundles'];
  /** Key-value stores, each mounted as a directory (`/kv/LABEL`). Default none. */
  keyValue?: InvokeRequest['keyValue'];
  limits?: Partial<InvocationLimits>;
  instance?: InvokeRequest['instance'];
  /** The exported function to run; default `_start`. */
  entrypoint?: string;
  /**
   * The argv template, words separated by spaces; `${SCRIPT_NAME}` and `${ARGS}` are replaced
   * per request. Default WAGI's, `${SCRIPT_NAME} ${ARGS}`.
   */
  argv?: string;
}

/** WAGI's placeholders (plain strings, not templates), replaced per request. */
const SCRIPT_NAME = '$' + '{SCRIPT_NAME}';
const ARGS = '$' + '{ARGS}';
const DEFAULT_ARGV = `${SCRIPT_NAME} ${ARGS}`;

/** What the executor reports to the server besides the response. */
export interface WagiLog {
  /** One line the guest wrote to stderr. */
  stderr(line: string): void;
  /** Why an invocation was answered with an error status; not shown to the client. */
  failure(reason: string, outcome: Outcome | undefined): void;
  /** A line from isola about what the guest did (an outbound request, allowed or denied). */
  host?(line: string): void;
}

export type WagiResult =
  /** `outcome` settles when the guest has ended; undefined when no guest ran (refused or overloaded). */
  | { kind: 'response'; response: HttpResponse; outcome: Promise<Outcome | undefined> }
  /** RFC 3875 §6.2.2: the server should serve `location` instead, as a new request. */
  | { kind: 'local-redirect'; location: string };

/** Request bodies up to this size (by their Content-Length) are read whole before the guest starts. */
export const BUFFERED_BODY_BYTES = 64 * 1024;

/** Seconds a client is asked to wait after a 503 from a full queue. */
export const OVERLOAD_RETRY_AFTER_SECONDS = 1;

export async function serveWagi(
  engine: Engine,
  component: WagiComponent,
  request: HttpRequest,
  cgi: CgiRequest,
  requestId: string,
  log: WagiLog,
): Promise<WagiResult> {
  let invocation: ReturnType<Engine['invoke']>;
  const stdin = await stdinOf(request);
  try {
    invocation = engine.invoke(component.module, {
      args: argvOf(component, cgi),
      ...(component.entrypoint === undefined || component.entrypoint === '_start'
        ? {}
        : { entry: { function: component.entrypoint } }),
      env: [...component.env, ...cgiEnvironment(cgi)],
      dirs: component.dirs,
      ...(component.bundles === undefined ? {} : { bundles: component.bundles }),
      ...(component.keyValue === undefined ? {} : { keyValue: component.keyValue }),
      ...(stdin === undefined ? {} : { stdin }),
      ...(component.limits === undefined ? {} : { limits: component.limits }),
      ...(component.instance === undefined ? {} : { instance: component.instance }),
    });
  } catch (error) {
    if (isIsolaError(error, 'E_OVERLOADED')) {
      log.failure(error.message, undefined);
      return errorResult(503, requestId, undefined, { 'retry-after': String(OVERLOAD_RETRY_AFTER_SECONDS) });
    }
    if (isIsolaError(error, 'E_GUEST_INPUT_LIMIT')) {
      log.failure(error.message, undefined);
      return errorResult(413, requestId, undefined);
    }
    log.failure(error instanceof Error ? error.message : String(error), undefined);
    return errorResult(500, requestId, undefined);
  }
  const settled = invocation.settled;
  if (settled !== undefined) return respondToEnded(invocation.collected(), settled.outcome, requestId, log);
  forwardLines(invocation.stderr, log.stderr);
  const outcome = invocation.result.then((result) => result.outcome);
  let cgiResponse: CgiResponse;
  try {
    cgiResponse = await readCgiResponse(invocation.stdout);
  } catch (error) {
    const ended = await outcome;
    const status = failureStatus(ended, error);
    log.failure(reasonOf(ended, error), ended);
    return errorResult(status, requestId, ended);
  }
  const { head } = cgiResponse;
  if (head.kind === 'local-redirect') return { kind: 'local-redirect', location: head.location };
  const body = bodyStream(cgiResponse.body, outcome, log);
  return { kind: 'response', response: responseOf(head, body), outcome };
}

/**
 * The answer for an invocation that had already ended when `invoke` returned (it ran inline):
 * its whole output is at hand, so it is parsed without streams, and a guest that failed after
 * writing a response head gets the error status instead of a cut-off body.
 */
function respondToEnded(
  output: { stdout: Uint8Array; stderr: Uint8Array },
  outcome: Outcome,
  requestId: string,
  log: WagiLog,
): WagiResult {
  if (output.stderr.length > 0) forwardText(Buffer.from(output.stderr).toString('utf8'), log.stderr);
  let cgiResponse: { head: CgiHead; body: Uint8Array };
  try {
    cgiResponse = parseCgiResponse(output.stdout);
  } catch (error) {
    log.failure(reasonOf(outcome, error), outcome);
    return errorResult(failureStatus(outcome, error), requestId, outcome);
  }
  if (outcome.kind !== 'exit' && outcome.kind !== 'return') {
    log.failure(reasonOf(outcome, undefined), outcome);
    return errorResult(failureStatus(outcome, undefined), requestId, outcome);
  }
  const { head, body } = cgiResponse;
  if (head.kind === 'local-redirect') return { kind: 'local-redirect', location: head.location };
  return { kind: 'response', response: responseOf(head, body), outcome: Promise.resolve(outcome) };
}

function responseOf(
  head: Exclude<CgiHead, { kind: 'local-redirect' }>,
  body: HttpResponse['body'],
): HttpResponse {
  return {
    status: head.status,
    statusText: head.kind === 'document' ? head.statusText : '',
    headers: head.headers,
    body: nullBodyStatus(head.status) ? null : body,
  };
}

/**
 * The guest's stdin: a body that declares at most `BUFFERED_BODY_BYTES` is read whole first, so
 * the invocation can be run again from the start (the engine may then run it inline); a larger
 * or chunked one streams as the guest reads it.
 */
async function stdinOf(request: HttpRequest): Promise<Uint8Array | Readable | undefined> {
  if (request.body === null) return undefined;
  const declared = Number(request.headers.get('content-length') ?? Number.NaN);
  if (!Number.isInteger(declared) || declared > BUFFERED_BODY_BYTES) {
    return Readable.fromWeb(request.body as never);
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of request.body as unknown as AsyncIterable<Uint8Array>) {
    total += chunk.byteLength;
    // node:http ends the body at its Content-Length, so this holds; a body that says otherwise is cut.
    if (total > declared) break;
    chunks.push(chunk);
  }
  return chunks.length === 1 ? (chunks[0] as Uint8Array) : Buffer.concat(chunks);
}

/**
 * WAGI's argv from its template: `${SCRIPT_NAME}` is the matched path, `${ARGS}` the query's
 * `+`-separated words when it has no `=` (RFC 3875 §4.4), each its own argument.
 */
function argvOf(component: WagiComponent, cgi: CgiRequest): string[] {
  const scriptName = cgi.route.base + cgi.route.matched || '/';
  const argv: string[] = [];
  for (const word of (component.argv ?? DEFAULT_ARGV).split(' ')) {
    if (word === '') continue;
    if (word === ARGS) argv.push(...queryArgs(cgi.url.search.slice(1)));
    else argv.push(word.replaceAll(SCRIPT_NAME, scriptName));
  }
  return argv;
}

function queryArgs(query: string): string[] {
  if (query === '' || query.includes('=')) return [];
  return query.split('+').map(decodeSegment);
}

/** The body the client gets; it throws if the guest did not end well, so a cut body is never a clean one. */
async function* bodyStream(
  chunks: AsyncIterable<Uint8Array>,
  outcome: Promise<Outcome>,
  log: WagiLog,
): AsyncGenerator<Uint8Array> {
  yield* chunks;
  const ended = await outcome;
  if (ended.kind === 'exit' || ended.kind === 'return') return;
  const reason = reasonOf(ended, undefined);
  log.failure(`the response was cut off: ${reason}`, ended);
  throw new Error(reason);
}

function failureStatus(outcome: Outcome, parseError: unknown): number {
  if (outcome.kind === 'timeout') return 504;
  if (outcome.kind === 'limit' && outcome.limit === 'maxStdinBytes') return 413;
  if (outcome.kind !== 'exit') return 500;
  return isIsolaError(parseError, 'E_CGI_RESPONSE_INVALID') ? 502 : 500;
}

function reasonOf(outcome: Outcome, parseError: unknown): string {
  switch (outcome.kind) {
    case 'timeout':
      return `the app ran past its ${outcome.afterMs} ms deadline`;
    case 'trap':
      return `the app trapped: ${outcome.message}`;
    case 'limit':
      return outcome.message;
    case 'error':
      return `${outcome.error.code}: ${outcome.error.message}`;
    default: {
      const exit = outcome.kind === 'exit' ? ` (exit code ${outcome.code})` : '';
      return `${parseError instanceof Error ? parseError.message : String(parseError)}${exit}`;
    }
  }
}

function errorResult(
  status: number,
  requestId: string,
  outcome: Outcome | undefined,
  headers: Record<string, string> = {},
): WagiResult {
  return {
    kind: 'response',
    response: errorResponse(status, requestId, headers),
    outcome: Promise.resolve(outcome),
  };
}

/** 204, 205 and 304 responses have no body (RFC 9110 §15.3.5, §15.3.6, §15.4.5). */
function nullBodyStatus(status: number): boolean {
  return status === 204 || status === 205 || status === 304;
}

/** Calls `line` for each line of `text` (the last one even without a newline). */
function forwardText(text: string, line: (text: string) => void): void {
  const parts = text.split('\n');
  if (parts.at(-1) === '') parts.pop();
  for (const part of parts) line(part);
}

/** Calls `line` for each line of `stream` (the last one even without a newline). */
function forwardLines(stream: Readable, line: (text: string) => void): void {
  let pending = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    const parts = (pending + chunk).split('\n');
    pending = parts.pop() ?? '';
    for (const part of parts) line(part);
  });
  stream.on('end', () => {
    if (pending !== '') line(pending);
  });
}
