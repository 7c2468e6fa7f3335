/**
 * The HTTP client a guest's outbound requests go through (wasi:http `outgoing-handler` calls
 * `OutboundClient.fetch`). One client per invocation: it counts the invocation's requests and
 * `close()` ends whatever the invocation left open.
 *
 * For each request: the URL must be granted by the allow-list (else `HTTP-request-denied`); the
 * client resolves the host itself (`localhost` is loopback without asking DNS, RFC 6761 §6.3),
 * checks every address against the address policy (none allowed: `destination-IP-prohibited`),
 * and hands the connection only the addresses it checked, through its `lookup` hook, so no second
 * resolution can swap in another address between the check and the connect (DNS rebinding). The
 * connected peer is checked once more against that set.
 *
 * Redirects are not followed (the guest sees the 3xx and decides; a followed redirect would also
 * need its own check). Bodies stream both ways with byte limits, every connection is fresh
 * (`agent: false`: nothing pooled across invocations or tenants), and every failure is an
 * `OutboundError` named after wasi:http's `error-code`. Each request is one log line when its head
 * arrives or it fails, and one more if its body then fails.
 */
import type { LookupAddress } from 'node:dns';
import { promises as dnsPromises } from 'node:dns';
import {
  type ClientRequest,
  request as httpRequest,
  type IncomingMessage,
  type RequestOptions,
} from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction, Socket } from 'node:net';
import type { OutboundPolicy, OutboundTarget } from './address-policy.js';
import { fromNodeError, type HttpErrorCode, OutboundError } from './error-code.js';
import { formatIp, parseIp, unmapIpv4 } from './ip-address.js';
import { OUTBOUND_LIMIT_DEFAULTS, type OutboundLimits } from './limits.js';

export interface ResolvedAddress {
  readonly address: string;
  readonly family: 4 | 6;
}

/** Resolves a host name to every address it has. Default: `dns.lookup` with `all: true`. */
export type Resolve = (hostname: string) => Promise<readonly ResolvedAddress[]>;

export interface OutboundRequest {
  method: string;
  url: URL | string;
  /**
   * Header fields in order (a `Headers` works too). `Host` and the hop-by-hop fields are dropped:
   * the URL decides the host, and the client owns the connection.
   */
  headers?: Iterable<readonly [string, string]>;
  /** Bytes, chunks, or nothing. */
  body?: Uint8Array | AsyncIterable<Uint8Array> | null;
}

export interface OutboundResponse {
  readonly status: number;
  readonly statusText: string;
  /** Header fields in order, repeats kept; hop-by-hop fields dropped. */
  readonly headers: readonly [string, string][];
  /** The address the client connected to. */
  readonly address: string;
  /**
   * The body as it arrives. Iterating throws an `OutboundError`: `HTTP-response-body-size` past
   * `maxResponseBodyBytes`, `HTTP-response-incomplete` when the peer hangs up early,
   * `HTTP-response-timeout` past `totalTimeoutMs`. Iterate it once, or `cancel()`.
   */
  readonly body: AsyncIterable<Uint8Array>;
  /** Closes the connection without reading the rest of the body. Idempotent. */
  cancel(): void;
}

/** One line of the outbound log. */
export interface OutboundLogEntry {
  method: string;
  /** `scheme://host:port`; never the path or query, which may carry secrets. */
  origin: string;
  outcome: 'ok' | HttpErrorCode;
  status?: number;
  /** The address connected to, when it got that far. */
  address?: string;
  /** Why it failed, naming the fix where there is one. */
  reason?: string;
  /** Milliseconds since `fetch` was called. */
  ms: number;
}

export interface OutboundClientOptions {
  /** What the app and operator granted. */
  policy: OutboundPolicy;
  /** Default `OUTBOUND_LIMIT_DEFAULTS`; see `resolveOutboundLimits`. */
  limits?: OutboundLimits;
  /** Default `dns.lookup(hostname, { all: true })`. */
  resolve?: Resolve;
  /** Where log lines go. Default: nowhere. */
  log?: (entry: OutboundLogEntry) => void;
  /** Certificates to trust for https instead of Node's bundled roots (an operator's private CA). */
  ca?: string | Buffer | readonly (string | Buffer)[];
}

/**
 * Fields that describe one connection, not the message (RFC 9110 §7.6.1), plus Host, which the
 * URL decides. The list is wasmtime-wasi-http's forbidden headers.
 */
const CONNECTION_FIELDS: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'host',
  'http2-settings',
]);

/** RFC 9110 §5.6.2 token: what a method may be spelled with. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

const LOCALHOST: readonly ResolvedAddress[] = [
  { address: '127.0.0.1', family: 4 },
  { address: '::1', family: 6 },
];

const defaultResolve: Resolve = async (hostname) =>
  (await dnsPromises.lookup(hostname, { all: true, verbatim: true })).map(({ address, family }) => ({
    address,
    family: family === 6 ? 6 : 4,
  }));

export class OutboundClient {
  readonly #policy: OutboundPolicy;
  readonly #limits: OutboundLimits;
  readonly #resolve: Resolve;
  readonly #log: ((entry: OutboundLogEntry) => void) | undefined;
  readonly #ca: OutboundClientOptions['ca'];
  readonly #open = new Set<Exchange>();
  #count = 0;
  #closed = false;

  constructor(options: OutboundClientOptions) {
    this.#policy = options.policy;
    this.#limits = options.limits ?? OUTBOUND_LIMIT_DEFAULTS;
    this.#resolve = options.resolve ?? defaultResolve;
    this.#log = options.log;
    this.#ca = options.ca;
  }

  /** Requests started so far, denied ones included. */
  get requestCount(): number {
    return this.#count;
  }

  /**
   * Sends one request and resolves with the response head once it arrives, or rejects with an
   * `OutboundError`. Never follows redirects.
   */
  async fetch(request: OutboundRequest): Promise<OutboundResponse> {
    const started = performance.now();
    const line = (entry: Omit<OutboundLogEntry, 'method' | 'origin' | 'ms'>) =>
      this.#log?.({ method: request.method, origin: originOf(request.url), ...entry, ms: elapsed(started) });
    const skipped: string[] = [];
    try {
      const response = await this.#send(request, started, line, skipped);
      const reason = skipped.length === 0 ? {} : { reason: `skipped ${skipped.join('; ')}` };
      line({ outcome: 'ok', status: response.status, address: response.address, ...reason });
      return response;
    } catch (error) {
      if (!(error instanceof OutboundError)) {
        // A host bug (a resolver that answers with something that is not an address, say): not the guest's to handle.
        line({ outcome: 'internal-error', reason: `host error: ${String(error)}` });
        throw error;
      }
      line({ outcome: error.code, reason: error.message });
      throw error;
    }
  }

  /** Ends every exchange still open (their bodies fail) and refuses new ones. Idempotent. */
  close(): void {
    this.#closed = true;
    for (const exchange of this.#open) {
      exchange.fail(new OutboundError('internal-error', 'the invocation that made this request has ended'));
    }
  }

  /** `skipped` collects why resolved addresses were left out while others were allowed. */
  async #send(
    request: OutboundRequest,
    started: number,
    line: LogLine,
    skipped: string[],
  ): Promise<OutboundResponse> {
    const { url, scheme, port, method, headers, declared } = this.#admit(request);
    const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    const pinned = await this.#pin({ scheme, hostname: url.hostname, port }, hostname, started, skipped);
    const exchange = new Exchange({
      scheme,
      options: {
        protocol: `${scheme}:`,
        hostname,
        port,
        method,
        path: `${url.pathname}${url.search}`,
        headers,
        agent: false,
        autoSelectFamily: true,
        maxHeaderSize: this.#limits.maxResponseHeaderBytes,
        ...(parseIp(hostname) === undefined ? { lookup: pinnedLookup(hostname, pinned) } : {}),
        ...(scheme === 'https' && this.#ca !== undefined
          ? { ca: this.#ca as string | Buffer | (string | Buffer)[] }
          : {}),
      },
      pinned,
      body: request.body ?? null,
      declared,
      limits: this.#limits,
      started,
      line,
      onDone: (done) => this.#open.delete(done),
    });
    this.#open.add(exchange);
    return exchange.start();
  }

  /** The checks that need no network: the count, the URL and method, the allow-list, the body size. */
  #admit(request: OutboundRequest): Admitted {
    if (this.#closed) {
      throw new OutboundError('internal-error', 'the invocation that owns this client has ended');
    }
    const limits = this.#limits;
    this.#count += 1;
    if (this.#count > limits.maxRequestsPerInvocation) {
      throw new OutboundError(
        'connection-limit-reached',
        `this invocation already made ${limits.maxRequestsPerInvocation} outbound requests, its limit (maxRequestsPerInvocation)`,
        { limit: 'maxRequestsPerInvocation' },
      );
    }
    const url = parseUrl(request.url);
    const method = checkMethod(request.method);
    const decision = this.#policy.checkUrl(url);
    if (!decision.allowed) throw new OutboundError('HTTP-request-denied', decision.reason);

    const scheme = url.protocol === 'https:' ? 'https' : 'http';
    const port = url.port === '' ? (scheme === 'https' ? 443 : 80) : Number(url.port);
    const headers = outgoingHeaders(request.headers ?? []);
    const declared = declaredLength(headers);
    const bodySize = request.body instanceof Uint8Array ? request.body.byteLength : (declared ?? 0);
    if (bodySize > limits.maxRequestBodyBytes) throw requestBodyTooLarge(bodySize, limits);
    if (request.body instanceof Uint8Array && declared !== undefined && declared !== bodySize) {
      throw lengthMismatch(declared, bodySize);
    }
    return { url, scheme, port, method, headers, declared };
  }

  /**
   * The addresses the connection may use: the host's, resolved once, less those the address
   * policy refuses (their reasons go to `skipped`); none left is `destination-IP-prohibited`.
   */
  async #pin(
    target: OutboundTarget,
    hostname: string,
    started: number,
    skipped: string[],
  ): Promise<readonly ResolvedAddress[]> {
    const resolved = await this.#addresses(hostname, started);
    const decisions = resolved.map((entry) => this.#policy.checkAddress(target, entry.address));
    const allowed = resolved.filter((_, index) => decisions[index]!.allowed);
    const denials = decisions.flatMap((entry) => (entry.allowed ? [] : [entry.reason]));
    if (allowed.length === 0) throw new OutboundError('destination-IP-prohibited', denials.join('; '));
    skipped.push(...denials);
    return allowed;
  }

  /** The host's addresses: the literal itself, loopback for `localhost`, else the resolver's. */
  async #addresses(hostname: string, started: number): Promise<readonly ResolvedAddress[]> {
    const literal = parseIp(hostname);
    if (literal !== undefined) return [{ address: formatIp(literal), family: literal.family }];
    const name = hostname.endsWith('.') ? hostname.slice(0, -1) : hostname;
    if (name === 'localhost') return LOCALHOST;
    const budget = this.#limits.connectTimeoutMs - elapsed(started);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new OutboundError(
              'DNS-timeout',
              `${hostname} did not resolve within ${this.#limits.connectTimeoutMs} ms (connectTimeoutMs)`,
              {
                limit: 'connectTimeoutMs',
              },
            ),
          ),
        Math.max(0, budget),
      );
    });
    try {
      const addresses = await Promise.race([this.#resolve(hostname), timeout]);
      if (addresses.length === 0)
        throw new OutboundError('DNS-error', `${hostname} has no address`, { dns: {} });
      return addresses;
    } catch (error) {
      throw error instanceof OutboundError ? error : fromNodeError(error, 'head').error;
    } finally {
      clearTimeout(timer);
    }
  }
}

type LogLine = (entry: Omit<OutboundLogEntry, 'method' | 'origin' | 'ms'>) => void;

interface Admitted {
  url: URL;
  scheme: 'http' | 'https';
  port: number;
  method: string;
  headers: Record<string, string[]>;
  /** The content-length the guest gave, if any. */
  declared: number | undefined;
}

interface ExchangeSetup {
  scheme: 'http' | 'https';
  options: RequestOptions & { ca?: string | Buffer | (string | Buffer)[]; autoSelectFamily?: boolean };
  pinned: readonly ResolvedAddress[];
  body: Uint8Array | AsyncIterable<Uint8Array> | null;
  declared: number | undefined;
  limits: OutboundLimits;
  started: number;
  line: LogLine;
  onDone: (exchange: Exchange) => void;
}

/** One request on one fresh connection, from the connect until the response body ends or fails. */
class Exchange {
  readonly #setup: ExchangeSetup;
  readonly #timers: NodeJS.Timeout[] = [];
  #request: ClientRequest | undefined;
  #response: IncomingMessage | undefined;
  #address: string | undefined;
  #failure: OutboundError | undefined;
  #done = false;
  #settleHead:
    | { resolve: (response: OutboundResponse) => void; reject: (error: OutboundError) => void }
    | undefined;

  constructor(setup: ExchangeSetup) {
    this.#setup = setup;
  }

  start(): Promise<OutboundResponse> {
    const { limits, started, scheme, options } = this.#setup;
    return new Promise<OutboundResponse>((resolve, reject) => {
      this.#settleHead = { resolve, reject };
      this.#after(limits.totalTimeoutMs - elapsed(started), () =>
        this.fail(timedOut(limits, 'totalTimeoutMs')),
      );
      const connectTimer = this.#after(limits.connectTimeoutMs - elapsed(started), () =>
        this.fail(timedOut(limits, 'connectTimeoutMs')),
      );
      let request: ClientRequest;
      try {
        request = (scheme === 'https' ? httpsRequest : httpRequest)(options);
      } catch (error) {
        this.fail(fromNodeError(error, 'head').error);
        return;
      }
      this.#request = request;
      request.on('error', (error) => this.fail(this.#fromNode(error)));
      request.on('socket', (socket: Socket) => {
        socket.once('connect', () => this.#checkPeer(socket));
        socket.once(scheme === 'https' ? 'secureConnect' : 'connect', () => clearTimeout(connectTimer));
      });
      request.on('response', (response) => this.#onResponse(response));
      this.#writeBody(request).catch((error: unknown) => this.fail(this.#fromNode(error)));
    });
  }

  /** Ends the exchange with `error` (the first failure wins): the head rejects, or the body throws. */
  fail(error: OutboundError): void {
    if (this.#done) return;
    this.#failure ??= error;
    this.#finish();
    this.#request?.destroy();
    this.#response?.destroy();
    this.#settleHead?.reject(this.#failure);
    this.#settleHead = undefined;
  }

  #finish(): void {
    this.#done = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#setup.onDone(this);
  }

  #after(ms: number, run: () => void): NodeJS.Timeout {
    const timer = setTimeout(run, Math.max(0, ms));
    this.#timers.push(timer);
    return timer;
  }

  #fromNode(error: unknown): OutboundError {
    const { error: mapped, known } = fromNodeError(error, this.#response === undefined ? 'head' : 'body');
    if (!known) this.#setup.line({ outcome: 'internal-error', reason: `unmapped error ${mapped.message}` });
    return mapped;
  }

  /** Defence in depth: the peer must be one of the addresses the policy checked. */
  #checkPeer(socket: Socket): void {
    const peer = parseIp(socket.remoteAddress ?? '');
    const address = peer === undefined ? undefined : formatIp(unmapIpv4(peer));
    if (address === undefined || !this.#setup.pinned.some((entry) => sameAddress(entry.address, address))) {
      this.fail(
        new OutboundError(
          'destination-IP-prohibited',
          `connected to ${socket.remoteAddress}, which the policy did not check`,
        ),
      );
      return;
    }
    this.#address = address;
  }

  async #writeBody(request: ClientRequest): Promise<void> {
    const { body, declared, limits } = this.#setup;
    if (body === null || body instanceof Uint8Array) {
      request.end(body ?? undefined);
      return;
    }
    let sent = 0;
    for await (const chunk of body) {
      if (this.#done) return;
      sent += chunk.byteLength;
      if (sent > limits.maxRequestBodyBytes) throw requestBodyTooLarge(sent, limits);
      if (declared !== undefined && sent > declared) throw lengthMismatch(declared, sent);
      if (!request.write(chunk)) await drained(request);
    }
    if (this.#done) return;
    if (declared !== undefined && sent !== declared) throw lengthMismatch(declared, sent);
    request.end();
  }

  #onResponse(response: IncomingMessage): void {
    this.#response = response;
    response.on('error', (error) => this.fail(this.#fromNode(error)));
    const settle = this.#settleHead;
    this.#settleHead = undefined;
    if (settle === undefined) return;
    settle.resolve({
      status: response.statusCode ?? 0,
      statusText: response.statusMessage ?? '',
      headers: messageHeaders(response.rawHeaders),
      address: this.#address ?? '',
      body: this.#body(response),
      cancel: () => this.fail(new OutboundError('internal-error', 'the response body was cancelled')),
    });
  }

  async *#body(response: IncomingMessage): AsyncGenerator<Uint8Array, void, undefined> {
    const { limits, line } = this.#setup;
    try {
      if (this.#failure !== undefined) throw this.#failure;
      const declared = Number(response.headers['content-length']);
      if (declared > limits.maxResponseBodyBytes) throw responseBodyTooLarge(declared, limits);
      let received = 0;
      for await (const chunk of response as AsyncIterable<Buffer>) {
        if (this.#failure !== undefined) throw this.#failure;
        received += chunk.byteLength;
        if (received > limits.maxResponseBodyBytes) throw responseBodyTooLarge(received, limits);
        yield chunk;
      }
      if (this.#failure !== undefined) throw this.#failure;
      if (!response.complete) {
        throw new OutboundError(
          'HTTP-response-incomplete',
          'the connection closed before the response body ended',
        );
      }
      this.#finish();
    } catch (error) {
      const failure = this.#failure ?? (error instanceof OutboundError ? error : this.#fromNode(error));
      this.fail(failure);
      line({
        outcome: failure.code,
        reason: failure.message,
        ...(this.#address ? { address: this.#address } : {}),
      });
      throw failure;
    } finally {
      // A consumer that stops early (break, return) closes the connection.
      if (!this.#done)
        this.fail(new OutboundError('internal-error', 'the response body was not read to its end'));
    }
  }
}

/** A `lookup` for the connection that answers only with the checked addresses: no second DNS query. */
function pinnedLookup(hostname: string, addresses: readonly ResolvedAddress[]): LookupFunction {
  const all: LookupAddress[] = addresses.map(({ address, family }) => ({ address, family }));
  return (name, options, callback) => {
    if (name !== hostname) {
      const error: NodeJS.ErrnoException = new Error(
        `the connection asked for ${name}, not the checked ${hostname}`,
      );
      error.code = 'ENOTFOUND';
      callback(error, '', 0);
    } else if (options.all === true) {
      callback(null, all);
    } else {
      callback(null, all[0]!.address, all[0]!.family);
    }
  };
}

function parseUrl(url: URL | string): URL {
  let parsed: URL;
  try {
    parsed = typeof url === 'string' ? new URL(url) : url;
  } catch {
    throw new OutboundError(
      'HTTP-request-URI-invalid',
      `${JSON.stringify(String(url))} is not an absolute URL`,
    );
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new OutboundError(
      'HTTP-request-URI-invalid',
      `${parsed.protocol} URLs are not supported: use http: or https:`,
    );
  }
  if (parsed.hostname === '')
    throw new OutboundError('HTTP-request-URI-invalid', `${parsed.href} has no host`);
  return parsed;
}

function checkMethod(method: string): string {
  if (!TOKEN.test(method))
    throw new OutboundError('HTTP-request-method-invalid', `"${method}" is not an HTTP method`);
  if (method.toUpperCase() === 'CONNECT') {
    throw new OutboundError(
      'HTTP-request-method-invalid',
      'CONNECT (a tunnel to another host) is not supported',
    );
  }
  return method;
}

/** Header fields as Node takes them (repeats as arrays), connection fields dropped. */
function outgoingHeaders(fields: Iterable<readonly [string, string]>): Record<string, string[]> {
  const headers: Record<string, string[]> = Object.create(null);
  for (const [name, value] of fields) {
    const key = name.toLowerCase();
    if (CONNECTION_FIELDS.has(key)) continue;
    const values = headers[key];
    if (values === undefined) headers[key] = [value];
    else values.push(value);
  }
  return headers;
}

function declaredLength(headers: Record<string, string[]>): number | undefined {
  const values = headers['content-length'];
  if (values === undefined) return undefined;
  const distinct = new Set(values.map((value) => value.trim()));
  const [value] = distinct;
  if (distinct.size !== 1 || !/^\d{1,15}$/.test(value!)) {
    throw new OutboundError(
      'HTTP-request-body-size',
      `content-length ${values.join(', ')} is not one byte count`,
    );
  }
  return Number(value);
}

function messageHeaders(raw: readonly string[]): [string, string][] {
  const headers: [string, string][] = [];
  for (let index = 0; index + 1 < raw.length; index += 2) {
    const name = raw[index]!;
    if (!CONNECTION_FIELDS.has(name.toLowerCase())) headers.push([name, raw[index + 1]!]);
  }
  return headers;
}

function requestBodyTooLarge(size: number, limits: OutboundLimits): OutboundError {
  return new OutboundError(
    'HTTP-request-body-size',
    `the request body is over ${limits.maxRequestBodyBytes} bytes (maxRequestBodyBytes)`,
    { size, limit: 'maxRequestBodyBytes' },
  );
}

function lengthMismatch(declared: number, size: number): OutboundError {
  return new OutboundError(
    'HTTP-request-body-size',
    `content-length says ${declared} bytes but the body has ${size}`,
    {
      size,
    },
  );
}

function timedOut(limits: OutboundLimits, limit: 'connectTimeoutMs' | 'totalTimeoutMs'): OutboundError {
  return limit === 'connectTimeoutMs'
    ? new OutboundError(
        'connection-timeout',
        `no connection within ${limits.connectTimeoutMs} ms (connectTimeoutMs)`,
        {
          limit,
        },
      )
    : new OutboundError(
        'HTTP-response-timeout',
        `no complete response within ${limits.totalTimeoutMs} ms (totalTimeoutMs)`,
        {
          limit,
        },
      );
}

function responseBodyTooLarge(size: number, limits: OutboundLimits): OutboundError {
  return new OutboundError(
    'HTTP-response-body-size',
    `the response body is over ${limits.maxResponseBodyBytes} bytes (maxResponseBodyBytes)`,
    { size, limit: 'maxResponseBodyBytes' },
  );
}

/** Resolves when the request can take more, or is gone. */
function drained(request: ClientRequest): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      request.off('drain', done);
      request.off('close', done);
      resolve();
    };
    request.on('drain', done);
    request.on('close', done);
  });
}

function sameAddress(a: string, b: string): boolean {
  const left = parseIp(a);
  const right = parseIp(b);
  return (
    left !== undefined && right !== undefined && formatIp(unmapIpv4(left)) === formatIp(unmapIpv4(right))
  );
}

function originOf(url: URL | string): string {
  try {
    const parsed = typeof url === 'string' ? new URL(url) : url;
    const port = parsed.port === '' ? (parsed.protocol === 'https:' ? 443 : 80) : parsed.port;
    return `${parsed.protocol}//${parsed.hostname}:${port}`;
  } catch {
    return '(invalid URL)';
  }
}

function elapsed(started: number): number {
  return Math.round(performance.now() - started);
}
