/**
 * The edge between `node:http` and isola's HTTP logic, which works on Web `Request`/`Response`
 * (STYLE.md habit 11): an incoming message becomes a `Request` whose body streams from the socket,
 * and a `Response` is written back with its body streamed, honouring backpressure. Nothing here
 * knows about apps or routes.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';

/** Methods whose requests carry no body (RFC 9110 §9.3.1, §9.3.2); undici refuses one for them. */
const NO_BODY = new Set(['GET', 'HEAD']);

/**
 * The request as a Web `Request`, or undefined when its target cannot form a URL (the caller
 * answers 400). The authority is the Host header, else the address the request came in on.
 */
export function toRequest(message: IncomingMessage, fallbackHost: string): Request | undefined {
  const host = message.headers.host ?? fallbackHost;
  let url: URL;
  try {
    url = new URL(message.url ?? '/', `http://${host}`);
  } catch {
    return undefined;
  }
  const headers = new Headers();
  const raw = message.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) headers.append(raw[i] as string, raw[i + 1] as string);
  const method = message.method ?? 'GET';
  if (NO_BODY.has(method)) return new Request(url, { method, headers });
  return new Request(url, {
    method,
    headers,
    body: Readable.toWeb(message) as ReadableStream<Uint8Array>,
    duplex: 'half',
  } as RequestInit);
}

/** Writes `response` to `res`, streaming its body; rejects if the body errors (the socket is then destroyed). */
export async function writeResponse(res: ServerResponse, response: Response, method: string): Promise<void> {
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of response.headers) {
    if (name === 'set-cookie') headers[name] = response.headers.getSetCookie();
    else headers[name] = value;
  }
  res.writeHead(response.status, response.statusText || undefined, headers);
  if (response.body === null || method === 'HEAD') {
    await response.body?.cancel();
    res.end();
    return;
  }
  // A reader loop rather than stream.pipeline: pipeline's teardown aborts an AbortController,
  // which builds a DOMException with a stack trace for every response (~30 µs here).
  const reader = response.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (!res.write(value)) await waitForDrain(res);
    }
    res.end();
  } catch (error) {
    res.destroy(error as Error);
    await reader.cancel().catch(() => {});
    throw error;
  }
}

function waitForDrain(res: ServerResponse): Promise<void> {
  if (res.destroyed) return Promise.reject(new Error('the client closed the connection'));
  return new Promise((resolve, reject) => {
    const done = (error?: Error) => {
      res.off('drain', done);
      res.off('close', closed);
      if (error) reject(error);
      else resolve();
    };
    const closed = () => done(new Error('the client closed the connection'));
    res.on('drain', done);
    res.on('close', closed);
  });
}
