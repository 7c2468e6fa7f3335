/**
 * Requests and responses as isola's HTTP layer passes them around: plain objects close to the
 * Web `Request`/`Response` they convert to and from at the edges (`IsolaServer.handle` takes a
 * `Request` and returns a `Response`, so tests and embedders use the Web types).
 *
 * Why not the Web types throughout (STYLE.md habit 11): on this machine undici's `Response`
 * costs ~21 µs to construct with a byte body and ~35 µs with the body read back, and a `Request`
 * ~9 µs (an AbortSignal, made transferable, for each), while a whole request to a bare
 * `node:http` server costs ~28 µs. A request served from the inline lane needs none of that: its
 * body is bytes the guest already wrote, which the node adapter writes in one call.
 */

/** A request: what the router and executors read. */
export interface HttpRequest {
  method: string;
  url: URL;
  headers: Headers;
  /** Null for a request without a body (GET, HEAD). */
  body: ReadableStream<Uint8Array> | null;
}

/** A response: status, header fields in order (repeats allowed), and a body. */
export interface HttpResponse {
  status: number;
  /** The reason phrase; empty for the standard one. */
  statusText: string;
  headers: [string, string][];
  /** Bytes all at hand, chunks still to come (the iteration throws if the body breaks), or none. */
  body: Uint8Array | AsyncIterable<Uint8Array> | null;
}

export function fromWebRequest(request: Request): HttpRequest {
  return {
    method: request.method,
    url: new URL(request.url),
    headers: request.headers,
    body: request.body,
  };
}

export function toWebResponse(response: HttpResponse): Response {
  const init: ResponseInit = { status: response.status, headers: response.headers };
  if (response.statusText !== '') init.statusText = response.statusText;
  const { body } = response;
  if (body === null || body instanceof Uint8Array) return new Response(body as BodyInit | null, init);
  const iterator = body[Symbol.asyncIterator]();
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = await iterator.next();
      if (next.done) controller.close();
      else controller.enqueue(next.value);
    },
    async cancel() {
      await iterator.return?.();
    },
  });
  return new Response(stream, init);
}

/** A JSON response (for the server's own endpoints). */
export function jsonResponse(status: number, value: unknown): HttpResponse {
  return {
    status,
    statusText: '',
    headers: [['content-type', 'application/json']],
    body: Buffer.from(JSON.stringify(value), 'utf8'),
  };
}
