/**
 * wasi:http/types 0.2: fields (headers and trailers), the incoming request and its body, the
 * outgoing response and its body, the response outparam, and the outgoing-request resources the
 * outgoing handler takes. Semantics follow the WIT (wasi-http `types.wit`) and wasmtime-wasi-http
 * where the WIT leaves room: header names are lowercased, `forbidden` headers are wasmtime's
 * default list, and trailers are accepted and ignored (isola's responses carry none; a request's
 * trailers are never passed on, so `incoming-body.finish` resolves to none).
 *
 * The response is kept whole in `ResponseState` by default; given a `ResponseListener`, its head
 * goes to the listener when `response-outparam.set` is called and its body as it is written.
 */
import { IsolaError } from '../../errors.js';
import { type HostContext, HostResource, WitError } from './context.js';
import {
  type ByteSink,
  type ByteSource,
  ChunksSource,
  EMPTY_SOURCE,
  InputStream,
  type IoError,
  OutputStream,
  Pollable,
  type Readiness,
} from './io.js';

const READY_NOW: Readiness = Object.freeze({ kind: 'now' });
const NEVER_READY: Readiness = Object.freeze({ kind: 'never' });

export type Method = { tag: string; val?: string };
export type Scheme = { tag: 'HTTP' | 'HTTPS' } | { tag: 'other'; val: string };
export type ErrorCode = { tag: string; val?: unknown };
type FieldEntry = [string, Uint8Array];

const METHOD_TAGS: Readonly<Record<string, string>> = {
  GET: 'get',
  HEAD: 'head',
  POST: 'post',
  PUT: 'put',
  DELETE: 'delete',
  CONNECT: 'connect',
  OPTIONS: 'options',
  TRACE: 'trace',
  PATCH: 'patch',
};

export function toWitMethod(method: string): Method {
  const tag = METHOD_TAGS[method.toUpperCase()];
  return tag ? { tag } : { tag: 'other', val: method };
}

export function fromWitMethod(method: Method): string {
  return method.tag === 'other' ? String(method.val) : method.tag.toUpperCase();
}

export function toWitScheme(protocol: string): Scheme {
  const scheme = protocol.replace(/:$/, '').toLowerCase();
  if (scheme === 'http') return { tag: 'HTTP' };
  if (scheme === 'https') return { tag: 'HTTPS' };
  return { tag: 'other', val: scheme };
}

/** Headers a guest may not set (wasmtime-wasi-http's DEFAULT_FORBIDDEN_HEADERS): the host owns them. */
const FORBIDDEN_HEADERS: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'transfer-encoding',
  'upgrade',
  'host',
  'http2-settings',
]);

/** RFC 9110 §5.1: a field name is a token. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

const INVALID_SYNTAX = Object.freeze({ tag: 'invalid-syntax' });
const FORBIDDEN = Object.freeze({ tag: 'forbidden' });
const IMMUTABLE = Object.freeze({ tag: 'immutable' });

/** RFC 9110 §5.5: no CR, LF or NUL in a field value. */
function validValue(value: Uint8Array): boolean {
  return !value.includes(0x0d) && !value.includes(0x0a) && !value.includes(0x00);
}

/**
 * wasi:http/types `fields`. The guest constructs it through the per-instance subclass that
 * `instanceHttpClasses` makes (it knows the instance's context), and so does the host, because
 * jco's glue accepts only instances of the class it was given.
 */
export class Fields extends HostResource {
  readonly #entries: FieldEntry[];
  readonly #immutable: boolean;
  #bytes = 0;

  protected constructor(ctx: HostContext, entries: FieldEntry[], immutable: boolean) {
    super(ctx);
    this.#entries = entries;
    this.#immutable = immutable;
    for (const [name, value] of entries) this.#bytes += name.length + value.length;
    this.#checkLimits();
  }

  /** Validated entries for `from-list`; throws the header-error the guest should see. */
  static validated(entries: readonly FieldEntry[]): FieldEntry[] {
    return entries.map(([name, value]) => [Fields.#name(name), Fields.#value(name, value)]);
  }

  static #name(name: string): string {
    if (!TOKEN.test(name)) throw new WitError(INVALID_SYNTAX);
    const lower = name.toLowerCase();
    if (FORBIDDEN_HEADERS.has(lower)) throw new WitError(FORBIDDEN);
    return lower;
  }

  static #value(_name: string, value: Uint8Array): Uint8Array {
    if (!validValue(value)) throw new WitError(INVALID_SYNTAX);
    return value.slice();
  }

  #checkLimits(): void {
    const { maxFieldEntries, maxFieldBytes } = this.ctx.limits;
    if (this.#entries.length <= maxFieldEntries && this.#bytes <= maxFieldBytes) return;
    throw new IsolaError(
      'E_GUEST_OUTPUT_LIMIT',
      `a fields resource grew past ${maxFieldEntries} entries or ${maxFieldBytes} bytes: ` +
        'send fewer or smaller headers, or raise maxFieldEntries / maxFieldBytes',
      { limit: 'maxFieldEntries/maxFieldBytes', entries: this.#entries.length, bytes: this.#bytes },
    );
  }

  #mutable(): void {
    if (this.#immutable) throw new WitError(IMMUTABLE);
  }

  get(name: string): Uint8Array[] {
    const lower = name.toLowerCase();
    return this.#entries.filter(([key]) => key === lower).map(([, value]) => value.slice());
  }

  has(name: string): boolean {
    const lower = name.toLowerCase();
    return this.#entries.some(([key]) => key === lower);
  }

  set(name: string, values: Uint8Array[]): void {
    this.#mutable();
    const key = Fields.#name(name);
    const checked = values.map((value) => Fields.#value(key, value));
    this.#remove(key);
    for (const value of checked) this.#add(key, value);
    this.#checkLimits();
  }

  delete(name: string): void {
    this.#mutable();
    this.#remove(Fields.#name(name));
  }

  append(name: string, value: Uint8Array): void {
    this.#mutable();
    const key = Fields.#name(name);
    this.#add(key, Fields.#value(key, value));
    this.#checkLimits();
  }

  entries(): FieldEntry[] {
    return this.#entries.map(([name, value]) => [name, value.slice()]);
  }

  clone(): Fields {
    return this.copy(false);
  }

  /** A copy through the instance's own class, so the guest can use it. */
  copy(immutable: boolean): Fields {
    const entries = this.#entries.map(([name, value]): FieldEntry => [name, value]);
    return new (this.constructor as typeof Fields)(this.ctx, entries, immutable);
  }

  /** The entries themselves, for the host to read. */
  view(): readonly FieldEntry[] {
    return this.#entries;
  }

  #add(name: string, value: Uint8Array): void {
    this.#entries.push([name, value]);
    this.#bytes += name.length + value.length;
  }

  #remove(name: string): void {
    for (let i = this.#entries.length - 1; i >= 0; i--) {
      const entry = this.#entries[i]!;
      if (entry[0] !== name) continue;
      this.#bytes -= entry[0].length + entry[1].length;
      this.#entries.splice(i, 1);
    }
  }
}

/** The head of the request the instance serves, as isola parsed it. */
export interface RequestHead {
  method: string;
  /** Path and query, e.g. `/echo?x=1`. */
  pathWithQuery: string;
  /** `http:` or `https:` (or another scheme), as in `URL.protocol`. */
  scheme: string;
  /** Host and port, e.g. `example.com:8080`. */
  authority: string;
  /** Lowercase names. */
  headers: FieldEntry[];
}

/** wasi:http/types `incoming-request`. */
export class IncomingRequest extends HostResource {
  readonly #head: RequestHead;
  readonly #body: ByteSource;
  readonly #fields: (entries: FieldEntry[]) => Fields;
  #consumed = false;

  constructor(
    ctx: HostContext,
    head: RequestHead,
    body: ByteSource,
    fields: (entries: FieldEntry[]) => Fields,
  ) {
    super(ctx);
    this.#head = head;
    this.#body = body;
    this.#fields = fields;
  }

  method(): Method {
    return toWitMethod(this.#head.method);
  }

  pathWithQuery(): string | undefined {
    return this.#head.pathWithQuery;
  }

  scheme(): Scheme | undefined {
    return toWitScheme(this.#head.scheme);
  }

  authority(): string | undefined {
    return this.#head.authority;
  }

  headers(): Fields {
    return this.#fields(this.#head.headers);
  }

  consume(): IncomingBody {
    if (this.#consumed) throw new WitError(undefined);
    this.#consumed = true;
    return new IncomingBody(this.ctx, this.#body);
  }
}

/** wasi:http/types `incoming-body`: one stream, then trailers (always none here). */
export class IncomingBody extends HostResource {
  readonly #source: ByteSource;
  #streamed = false;

  constructor(ctx: HostContext, source: ByteSource) {
    super(ctx);
    this.#source = source;
  }

  stream(): InputStream {
    if (this.#streamed) throw new WitError(undefined);
    this.#streamed = true;
    return new InputStream(this.ctx, this.#source);
  }

  static finish(body: IncomingBody): FutureTrailers {
    return new FutureTrailers(body.ctx);
  }
}

/** wasi:http/types `future-trailers`: resolves at once to no trailers. */
export class FutureTrailers extends HostResource {
  #taken = false;

  subscribe(): Pollable {
    return Pollable.ready(this.ctx);
  }

  get(): { tag: 'ok' | 'err'; val?: unknown } | undefined {
    if (this.#taken) return { tag: 'err', val: undefined };
    this.#taken = true;
    return { tag: 'ok', val: { tag: 'ok', val: undefined } };
  }
}

/**
 * Where a response goes as the guest answers, instead of being kept whole: the head once, when
 * `response-outparam.set` is called, then the body's bytes as they are written (`chunk` is valid
 * only during the call: copy what is kept).
 */
export interface ResponseListener {
  head(status: number, headers: readonly FieldEntry[]): void;
  body(chunk: Uint8Array): void;
}

/** What the guest has answered so far; run.ts reads it when the handler returns. */
export class ResponseState {
  /** Where the head and body go as they are set; none: the body is kept in `chunks`. */
  readonly listener: ResponseListener | undefined;
  status = 200;
  headers: readonly FieldEntry[] = [];
  readonly chunks: Uint8Array[] = [];
  bodyBytes = 0;
  /** `response-outparam.set` was called with a response. */
  set = false;
  /** `response-outparam.set` was called with an error instead. */
  error: ErrorCode | undefined;
  /** `outgoing-response.body` was called: the body must then be finished. */
  bodyStarted = false;
  /** `outgoing-body.finish` was called. */
  finished = false;
  /** Trailers the guest sent; isola does not forward them. */
  trailersIgnored = false;

  constructor(listener?: ResponseListener) {
    this.listener = listener;
  }
}

/** The response body, up to `maxResponseBodyBytes`: kept as chunks, or passed to the state's listener. */
class ResponseBodySink implements ByteSink {
  readonly #ctx: HostContext;
  readonly #state: ResponseState;

  constructor(ctx: HostContext, state: ResponseState) {
    this.#ctx = ctx;
    this.#state = state;
  }

  /**
   * Not the bytes left under the limit: passing the limit ends the instance, it does not hold the
   * guest back, and a `check-write` of 0 on a stream whose pollable is always ready would leave a
   * guest that wants to write more polling until its deadline (StarlingMonkey does).
   */
  capacity(): number {
    return this.#ctx.limits.maxBytesPerCall;
  }

  write(data: Uint8Array): void {
    const limit = this.#ctx.limits.maxResponseBodyBytes;
    if (this.#state.finished) throw new WitError({ tag: 'closed' });
    if (this.#state.bodyBytes + data.length > limit) {
      throw new IsolaError(
        'E_GUEST_OUTPUT_LIMIT',
        `the component's response body passed maxResponseBodyBytes (${limit} bytes): ` +
          'send a smaller response or raise the limit',
        { limit: 'maxResponseBodyBytes', value: limit },
      );
    }
    if (data.length === 0) return;
    this.#state.bodyBytes += data.length;
    const listener = this.#state.listener;
    if (listener === undefined) this.#state.chunks.push(data.slice());
    else listener.body(data);
  }
}

/** wasi:http/types `outgoing-body` of the response. */
export class OutgoingBody extends HostResource {
  readonly #sink: ByteSink;
  readonly #onFinish: (trailers: Fields | undefined) => void;
  #written = false;

  constructor(ctx: HostContext, sink: ByteSink, onFinish: (trailers: Fields | undefined) => void) {
    super(ctx);
    this.#sink = sink;
    this.#onFinish = onFinish;
  }

  write(): OutputStream {
    if (this.#written) throw new WitError(undefined);
    this.#written = true;
    return new OutputStream(this.ctx, this.#sink);
  }

  static finish(body: OutgoingBody, trailers: Fields | undefined): void {
    body.#onFinish(trailers);
  }
}

/** wasi:http/types `outgoing-response`, built by the guest through the instance's subclass. */
export class OutgoingResponse extends HostResource {
  readonly #headers: Fields;
  readonly #state: ResponseState;
  #status = 200;
  #body: OutgoingBody | undefined;

  protected constructor(ctx: HostContext, headers: Fields, state: ResponseState) {
    super(ctx);
    this.#headers = headers.copy(true);
    this.#state = state;
  }

  statusCode(): number {
    return this.#status;
  }

  setStatusCode(status: number): void {
    if (!Number.isInteger(status) || status < 100 || status > 999) throw new WitError(undefined);
    this.#status = status;
  }

  headers(): Fields {
    return this.#headers.copy(true);
  }

  body(): OutgoingBody {
    if (this.#body) throw new WitError(undefined);
    const state = this.#state;
    state.bodyStarted = true;
    this.#body = new OutgoingBody(this.ctx, new ResponseBodySink(this.ctx, state), (trailers) => {
      state.finished = true;
      if (trailers !== undefined && trailers.view().length > 0) state.trailersIgnored = true;
    });
    return this.#body;
  }

  /** Called by `response-outparam.set`. */
  commit(): void {
    this.#state.status = this.#status;
    this.#state.headers = this.#headers.view();
  }
}

/** wasi:http/types `response-outparam`: set once. */
export class ResponseOutparam extends HostResource {
  readonly #state: ResponseState;

  constructor(ctx: HostContext, state: ResponseState) {
    super(ctx);
    this.#state = state;
  }

  static set(param: ResponseOutparam, response: { tag: 'ok' | 'err'; val: unknown }): void {
    const state = param.#state;
    if (state.set || state.error) {
      throw new IsolaError('E_GUEST_TRAP', 'the component set its response twice, which traps', {});
    }
    if (response.tag === 'ok') {
      (response.val as OutgoingResponse).commit();
      state.set = true;
      state.listener?.head(state.status, state.headers);
    } else {
      state.error = response.val as ErrorCode;
    }
  }
}

/** wasi:http/types `request-options`: timeouts the guest asks for on an outgoing request. */
export class RequestOptions extends HostResource {
  #connect: bigint | undefined;
  #firstByte: bigint | undefined;
  #betweenBytes: bigint | undefined;

  connectTimeout(): bigint | undefined {
    return this.#connect;
  }
  setConnectTimeout(duration: bigint | undefined): void {
    this.#connect = duration;
  }
  firstByteTimeout(): bigint | undefined {
    return this.#firstByte;
  }
  setFirstByteTimeout(duration: bigint | undefined): void {
    this.#firstByte = duration;
  }
  betweenBytesTimeout(): bigint | undefined {
    return this.#betweenBytes;
  }
  setBetweenBytesTimeout(duration: bigint | undefined): void {
    this.#betweenBytes = duration;
  }
}

/** The body of an outgoing request, collected for the outbound client. */
export class CollectedBody implements ByteSink {
  readonly chunks: Uint8Array[] = [];
  bytes = 0;
  readonly #limit: number;

  constructor(limit: number) {
    this.#limit = limit;
  }

  capacity(): number {
    return Math.max(0, this.#limit - this.bytes);
  }

  write(data: Uint8Array): void {
    if (this.bytes + data.length > this.#limit) throw new WitError({ tag: 'closed' });
    this.chunks.push(data.slice());
    this.bytes += data.length;
  }
}

/** wasi:http/types `outgoing-request`, built by the guest through the instance's subclass. */
export class OutgoingRequest extends HostResource {
  readonly #headers: Fields;
  readonly collected: CollectedBody;
  #method: Method = { tag: 'get' };
  #pathWithQuery: string | undefined;
  #scheme: Scheme | undefined;
  #authority: string | undefined;
  #body: OutgoingBody | undefined;
  finished = false;

  protected constructor(ctx: HostContext, headers: Fields) {
    super(ctx);
    this.#headers = headers.copy(true);
    this.collected = new CollectedBody(ctx.limits.maxRequestBodyBytes);
  }

  body(): OutgoingBody {
    if (this.#body) throw new WitError(undefined);
    this.#body = new OutgoingBody(this.ctx, this.collected, () => {
      this.finished = true;
    });
    return this.#body;
  }

  /** Whether the request can be sent: its body finished, or never opened (an empty body). */
  get complete(): boolean {
    return this.#body === undefined || this.finished;
  }
  method(): Method {
    return this.#method;
  }
  setMethod(method: Method): void {
    if (method.tag === 'other' && !TOKEN.test(String(method.val))) throw new WitError(undefined);
    this.#method = method;
  }
  pathWithQuery(): string | undefined {
    return this.#pathWithQuery;
  }
  setPathWithQuery(value: string | undefined): void {
    this.#pathWithQuery = value;
  }
  scheme(): Scheme | undefined {
    return this.#scheme;
  }
  setScheme(value: Scheme | undefined): void {
    this.#scheme = value;
  }
  authority(): string | undefined {
    return this.#authority;
  }
  setAuthority(value: string | undefined): void {
    this.#authority = value;
  }
  headers(): Fields {
    return this.#headers.copy(true);
  }
  /** The request as the outbound seam sees it. */
  describe(): {
    method: string;
    scheme: string;
    authority: string;
    pathWithQuery: string;
    headers: readonly FieldEntry[];
  } {
    const scheme = this.#scheme;
    return {
      method: fromWitMethod(this.#method),
      scheme: scheme === undefined ? 'https' : scheme.tag === 'other' ? scheme.val : scheme.tag.toLowerCase(),
      authority: this.#authority ?? '',
      pathWithQuery: this.#pathWithQuery ?? '/',
      headers: this.#headers.view(),
    };
  }
}

/** An outgoing request's outcome: a response, or the wasi:http error-code it failed with. */
export type OutgoingOutcome =
  | { ok: true; status: number; headers: FieldEntry[]; body: readonly Uint8Array[] }
  | { ok: false; error: ErrorCode };

/**
 * An outgoing request handed to `outgoing-handler.handle`, sent once its body is complete: a
 * guest may call `handle` first and write the body afterwards (StarlingMonkey's fetch does), so
 * `ready` says whether the body is finished (or was never opened) and `send` sends it, once.
 */
export interface PendingOutgoing {
  ready(): boolean;
  send(): OutgoingOutcome;
}

/**
 * wasi:http/types `future-incoming-response`: ready once the request's body is finished; the
 * request is sent (synchronously, see outgoing-handler.ts) when the guest first takes the result.
 */
export class FutureIncomingResponse extends HostResource {
  readonly #pending: PendingOutgoing;
  readonly #fields: (entries: FieldEntry[]) => Fields;
  #outcome: OutgoingOutcome | undefined;
  #taken = false;

  constructor(ctx: HostContext, pending: PendingOutgoing, fields: (entries: FieldEntry[]) => Fields) {
    super(ctx);
    this.#pending = pending;
    this.#fields = fields;
  }

  subscribe(): Pollable {
    return new Pollable(this.ctx, () =>
      this.#outcome !== undefined || this.#pending.ready() ? READY_NOW : NEVER_READY,
    );
  }

  get(): { tag: 'ok' | 'err'; val?: unknown } | undefined {
    if (this.#taken) return { tag: 'err', val: undefined };
    if (this.#outcome === undefined) {
      if (!this.#pending.ready()) return undefined;
      this.#outcome = this.#pending.send();
    }
    this.#taken = true;
    const outcome = this.#outcome;
    if (!outcome.ok) return { tag: 'ok', val: { tag: 'err', val: outcome.error } };
    const response = new IncomingResponse(this.ctx, outcome, this.#fields);
    return { tag: 'ok', val: { tag: 'ok', val: response } };
  }
}

/** wasi:http/types `incoming-response`. */
export class IncomingResponse extends HostResource {
  readonly #outcome: Extract<OutgoingOutcome, { ok: true }>;
  readonly #fields: (entries: FieldEntry[]) => Fields;
  #consumed = false;

  constructor(
    ctx: HostContext,
    outcome: Extract<OutgoingOutcome, { ok: true }>,
    fields: (entries: FieldEntry[]) => Fields,
  ) {
    super(ctx);
    this.#outcome = outcome;
    this.#fields = fields;
  }

  status(): number {
    return this.#outcome.status;
  }

  headers(): Fields {
    return this.#fields(this.#outcome.headers);
  }

  consume(): IncomingBody {
    if (this.#consumed) throw new WitError(undefined);
    this.#consumed = true;
    const body = this.#outcome.body;
    return new IncomingBody(this.ctx, body.length === 0 ? EMPTY_SOURCE : new ChunksSource(body));
  }
}

/** The classes the guest constructs, bound to one instance's context. */
export interface InstanceHttpClasses {
  Fields: (new () => Fields) & { fromList(entries: FieldEntry[]): Fields };
  OutgoingResponse: new (headers: Fields) => OutgoingResponse;
  OutgoingRequest: new (headers: Fields) => OutgoingRequest;
  RequestOptions: new () => RequestOptions;
  /** Immutable fields over `entries`, of the guest-visible class. */
  immutableFields(entries: FieldEntry[]): Fields;
}

/**
 * Subclasses of the guest-constructible resources that close over `ctx` (jco's glue calls
 * `new Fields()` with the WIT arguments only). Every other resource is created by the host,
 * which passes the context itself.
 */
export function instanceHttpClasses(ctx: HostContext, state: ResponseState): InstanceHttpClasses {
  class InstanceFields extends Fields {
    constructor(...args: unknown[]) {
      // The guest calls `new Fields()`; `copy` calls the constructor with (ctx, entries, immutable).
      if (args.length === 3) super(args[0] as HostContext, args[1] as FieldEntry[], args[2] as boolean);
      else super(ctx, [], false);
    }

    static fromList(entries: FieldEntry[]): Fields {
      return new InstanceFields(ctx, Fields.validated(entries), false);
    }
  }
  class InstanceOutgoingResponse extends OutgoingResponse {
    constructor(headers: Fields) {
      super(ctx, headers, state);
    }
  }
  class InstanceOutgoingRequest extends OutgoingRequest {
    constructor(headers: Fields) {
      super(ctx, headers);
    }
  }
  class InstanceRequestOptions extends RequestOptions {
    constructor() {
      super(ctx);
    }
  }
  return {
    Fields: InstanceFields,
    OutgoingResponse: InstanceOutgoingResponse,
    OutgoingRequest: InstanceOutgoingRequest,
    RequestOptions: InstanceRequestOptions,
    immutableFields: (entries) => new InstanceFields(ctx, entries, true),
  };
}

/** The `wasi:http/types` import object of one instance. */
export function httpTypesImports(classes: InstanceHttpClasses): Record<string, unknown> {
  return {
    Fields: classes.Fields,
    FutureIncomingResponse,
    FutureTrailers,
    IncomingBody,
    IncomingRequest,
    IncomingResponse,
    OutgoingBody,
    OutgoingRequest: classes.OutgoingRequest,
    OutgoingResponse: classes.OutgoingResponse,
    RequestOptions: classes.RequestOptions,
    ResponseOutparam,
    httpErrorCode: (_error: IoError): ErrorCode | undefined => undefined,
  };
}
