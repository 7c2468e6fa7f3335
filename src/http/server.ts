/**
 * isola's HTTP server: many apps behind one listener. `serve()` is the whole request path (route →
 * executor → response, access log) on the plain messages of message.ts, `handle()` the same on Web
 * `Request`/`Response`; `listen()` puts it behind `node:http`, which only adapts (node-adapter.ts). Apps are added and replaced atomically with
 * `setApp`, so a hot reload never drops a request: in-flight requests finish on the version that
 * took them.
 *
 * The server answers for itself under `/.well-known/isola/` (`health`). A request id goes with
 * every response (`x-request-id`) and every log line. Bad requests are answered before any app
 * runs: a target that is not a path → 400, header fields past `maxHeaderBytes` → 431, a declared
 * body past `maxBodyBytes` → 413 (a streamed body past the app's maxStdinBytes is the executor's
 * 413).
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { IsolaError } from '../errors.js';
import type { Engine, Outcome } from '../runtime/index.js';
import type { CgiRequest } from './cgi-env.js';
import { errorResponse } from './error-response.js';
import {
  fromWebRequest,
  type HttpRequest,
  type HttpResponse,
  jsonResponse,
  toWebResponse,
} from './message.js';
import { toHttpRequest, writeResponse } from './node-adapter.js';
import { parseRequestPath } from './route-pattern.js';
import { AppRouter, isReservedPath, RESERVED_PREFIX } from './router.js';
import { serveWagi, type WagiComponent } from './wagi.js';
import { serveWasiHttp, type WasiHttpComponent } from './wasi-http.js';

/** One app as the server serves it: routes to components, each run by the WAGI executor. */
export interface HttpApp {
  name: string;
  host?: string;
  prefix?: string;
  routes: readonly { pattern: string; component: string }[];
  /** By name: a WASI command run CGI-style, or a wasi:http component. */
  components: ReadonlyMap<string, WagiComponent | WasiHttpComponent>;
}

/** One line of the access log. */
export interface AccessLogEntry {
  time: string;
  requestId: string;
  method: string;
  path: string;
  status: number;
  /** Milliseconds until the response head was sent. */
  ms: number;
  app?: string;
  component?: string;
  /** How the guest ended, when one ran and ended before the line was written. */
  outcome?: Outcome['kind'];
  /** Why an error status was given; for the operator, never sent to the client. */
  reason?: string;
}

export interface ServerLog {
  access(entry: AccessLogEntry): void;
  /** A line an app wrote to stderr. */
  app(app: string, component: string, requestId: string, line: string): void;
}

export interface ServerOptions {
  engine: Engine;
  log: ServerLog;
  /** Bytes of request header fields before 431. Default 16 KiB. */
  maxHeaderBytes?: number;
  /** A request declaring a body larger than this is refused with 413. Default 10 MiB. */
  maxBodyBytes?: number;
  /** How long `close()` lets in-flight requests finish before it cuts them off. Default 10 s. */
  shutdownGraceMs?: number;
}

export const SERVER_DEFAULTS = Object.freeze({
  maxHeaderBytes: 16 * 1024,
  maxBodyBytes: 10 * 1024 * 1024,
  shutdownGraceMs: 10_000,
});

/** Local redirects (RFC 3875 §6.2.2) followed for one request before it is answered 508. */
const MAX_LOCAL_REDIRECTS = 5;

interface Target {
  app: HttpApp;
  component: string;
}

export class IsolaServer {
  readonly #engine: Engine;
  readonly #log: ServerLog;
  readonly #options: Required<Pick<ServerOptions, 'maxHeaderBytes' | 'maxBodyBytes' | 'shutdownGraceMs'>>;
  readonly #router = new AppRouter<Target>();
  readonly #apps = new Map<string, HttpApp>();
  readonly #idPrefix = randomBytes(4).toString('hex');
  #nextId = 0;
  #server: Server | undefined;
  /** `host:port` the server listens on: the authority of a request without a Host header. */
  #authority = 'localhost';
  readonly #inFlight = new Set<Promise<void>>();
  #closing: Promise<void> | undefined;

  constructor(options: ServerOptions) {
    this.#engine = options.engine;
    this.#log = options.log;
    this.#options = {
      maxHeaderBytes: options.maxHeaderBytes ?? SERVER_DEFAULTS.maxHeaderBytes,
      maxBodyBytes: options.maxBodyBytes ?? SERVER_DEFAULTS.maxBodyBytes,
      shutdownGraceMs: options.shutdownGraceMs ?? SERVER_DEFAULTS.shutdownGraceMs,
    };
  }

  /** Adds or replaces an app as a whole; throws (and keeps serving the old one) if its routes are bad. */
  setApp(app: HttpApp): void {
    for (const route of app.routes) {
      if (!app.components.has(route.component)) {
        throw new IsolaError(
          'E_ROUTE_INVALID',
          `route ${JSON.stringify(route.pattern)} names component "${route.component}", which app "${app.name}" does not have`,
          { app: app.name, component: route.component },
        );
      }
    }
    this.#router.setApp(app.name, {
      ...(app.host === undefined ? {} : { host: app.host }),
      ...(app.prefix === undefined ? {} : { prefix: app.prefix }),
      routes: app.routes.map((route) => ({
        pattern: route.pattern,
        value: { app, component: route.component },
        owner: `component "${route.component}"`,
      })),
    });
    this.#apps.set(app.name, app);
  }

  removeApp(name: string): void {
    this.#router.removeApp(name);
    this.#apps.delete(name);
  }

  /** A new request id: unique within this process, not guessable across restarts. */
  requestId(): string {
    return `${this.#idPrefix}-${(this.#nextId++).toString(36)}`;
  }

  /** Serves one request as Web types (for tests and embedders); never rejects. */
  async handle(request: Request, remoteAddr: string, requestId = this.requestId()): Promise<Response> {
    return toWebResponse(await this.serve(fromWebRequest(request), remoteAddr, requestId));
  }

  /** Serves one request; never rejects. The response carries the request id (`x-request-id`). */
  async serve(request: HttpRequest, remoteAddr: string, requestId = this.requestId()): Promise<HttpResponse> {
    const started = performance.now();
    const entry: AccessLogEntry = {
      time: new Date().toISOString(),
      requestId,
      method: request.method,
      path: request.url.pathname,
      status: 0,
      ms: 0,
    };
    let response: HttpResponse;
    try {
      response = await this.#route(request, remoteAddr, requestId, entry, 0);
    } catch (error) {
      entry.reason = error instanceof Error ? error.message : String(error);
      response = errorResponse(500, requestId);
    }
    response.headers.push(['x-request-id', requestId]);
    entry.status = response.status;
    entry.ms = Math.round((performance.now() - started) * 1000) / 1000;
    this.#log.access(entry);
    return response;
  }

  async #route(
    request: HttpRequest,
    remoteAddr: string,
    requestId: string,
    entry: AccessLogEntry,
    redirects: number,
  ): Promise<HttpResponse> {
    const { url } = request;
    const path = parseRequestPath(url.pathname);
    if (path === undefined) return errorResponse(400, requestId);
    if (isReservedPath(path)) return this.#reserved(url, requestId);
    const declared = Number(request.headers.get('content-length') ?? 0);
    if (declared > this.#options.maxBodyBytes) {
      entry.reason = `declared body of ${declared} bytes is over maxBodyBytes (${this.#options.maxBodyBytes})`;
      return errorResponse(413, requestId);
    }
    const match = this.#router.match(request.headers.get('host'), url.pathname);
    if (match === undefined) return errorResponse(404, requestId);
    const { app, component: name } = match.value;
    entry.app = app.name;
    entry.component = name;
    const served = app.components.get(name) as WagiComponent | WasiHttpComponent;
    const log = {
      stderr: (line: string) => this.#log.app(app.name, name, requestId, line),
      host: (line: string) => this.#log.app(app.name, name, requestId, line),
      failure: (reason: string) => {
        entry.reason = reason;
      },
    };
    if ('executor' in served) {
      const { response, outcome } = await serveWasiHttp(this.#engine, served, request, requestId, log);
      if (outcome !== undefined) entry.outcome = outcome.kind;
      return response;
    }
    const component = served;
    const cgi: CgiRequest = {
      method: request.method,
      url,
      headers: request.headers,
      remoteAddr,
      protocol: 'HTTP/1.1',
      route: {
        base: match.base,
        pattern: match.pattern,
        matched: match.matched,
        pathInfo: match.pathInfo,
        params: match.params,
      },
    };
    const result = await serveWagi(this.#engine, component, request, cgi, requestId, log);
    if (result.kind === 'local-redirect') {
      if (redirects >= MAX_LOCAL_REDIRECTS) {
        entry.reason = `more than ${MAX_LOCAL_REDIRECTS} local redirects`;
        return errorResponse(508, requestId);
      }
      // RFC 3875 §6.2.2: answered as if the client had asked for the new location (a GET).
      const next = {
        method: 'GET',
        url: new URL(result.location, url),
        headers: request.headers,
        body: null,
      };
      return this.#route(next, remoteAddr, requestId, entry, redirects + 1);
    }
    void result.outcome.then((outcome) => {
      if (outcome !== undefined) entry.outcome = outcome.kind;
    });
    return result.response;
  }

  #reserved(url: URL, requestId: string): HttpResponse {
    if (url.pathname !== `${RESERVED_PREFIX}health`) return errorResponse(404, requestId);
    const stats = this.#engine.stats();
    return jsonResponse(200, {
      status: this.#closing ? 'stopping' : 'ok',
      apps: this.#apps.size,
      engine: stats,
    });
  }

  /** Listens on `host:port` (port 0 picks a free one). Rejects with the listen error (EADDRINUSE...). */
  listen(port: number, host = '127.0.0.1'): Promise<AddressInfo> {
    const server = createServer({ maxHeaderSize: this.#options.maxHeaderBytes }, (req, res) => {
      const done = this.#serveNode(req, res);
      this.#inFlight.add(done);
      void done.finally(() => this.#inFlight.delete(done));
    });
    server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => {
      const status =
        error.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : '400 Bad Request';
      if (socket.writable) socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      else socket.destroy();
    });
    this.#server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        const address = server.address() as AddressInfo;
        this.#authority = `${address.address}:${address.port}`;
        resolve(address);
      });
    });
  }

  async #serveNode(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const request = toHttpRequest(req, this.#authority);
    const requestId = this.requestId();
    const response =
      request === undefined
        ? errorResponse(400, requestId)
        : await this.serve(request, req.socket.remoteAddress ?? '', requestId);
    try {
      await writeResponse(res, response, req.method ?? 'GET');
    } catch {
      // The body failed midway (the guest ended badly, or the client left): the socket is closed.
    }
  }

  /**
   * Stops accepting connections, lets in-flight requests finish for up to `shutdownGraceMs`,
   * then closes what is left. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      const server = this.#server;
      if (server === undefined) return;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const grace = new Promise<void>((resolve) =>
        setTimeout(resolve, this.#options.shutdownGraceMs).unref(),
      );
      await Promise.race([Promise.allSettled([...this.#inFlight]), grace]);
      server.closeAllConnections();
      await closed;
    })();
    return this.#closing;
  }
}
