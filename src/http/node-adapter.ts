/**
 * The edge between `node:http` and isola's HTTP logic, which works on the plain requests and
 * responses of message.ts (Web `Headers`, a Web `ReadableStream` body): an incoming message
 * becomes a request whose body streams from the socket, and a response is written back, bytes in
 * one call, a stream chunk by chunk. Nothing here knows about apps or routes.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import type { HttpRequest, HttpResponse } from './message.js';

/** Methods whose requests carry no body (RFC 9110 §9.3.1, §9.3.2); undici refuses one for them. */
const NO_BODY = new Set(['GET', 'HEAD']);

/**
 * The request as isola's HTTP layer reads it, or undefined when its target cannot form a URL (the
 * caller answers 400). The authority is the Host header, else the address the request came in on.
 */
export function toHttpRequest(message: IncomingMessage, fallbackHost: string): HttpRequest | undefined {
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
  const body = NO_BODY.has(method) ? null : (Readable.toWeb(message) as ReadableStream<Uint8Array>);
  return { method, url, headers, body };
}

/**
 * Writes `response` to `res`: a body of bytes in one call with its Content-Length, chunks as
 * they come, honouring backpressure. Rejects if the body breaks (the socket is then destroyed,
 * so the client sees a cut response, never a clean short one).
 */
export async function writeResponse(
  res: ServerResponse,
  response: HttpResponse,
  method: string,
): Promise<void> {
  const { body } = response;
  const fields: string[] = [];
  for (const [name, value] of response.headers) fields.push(name, value);
  if (body instanceof Uint8Array) fields.push('content-length', String(body.byteLength));
  res.writeHead(response.status, response.statusText || undefined, fields);
  if (body === null || body instanceof Uint8Array || method === 'HEAD') {
    if (body !== null && !(body instanceof Uint8Array)) await body[Symbol.asyncIterator]().return?.();
    res.end(method === 'HEAD' || body === null ? undefined : body);
    return;
  }
  try {
    for await (const chunk of body) {
      if (!res.write(chunk)) await waitForDrain(res);
    }
    res.end();
  } catch (error) {
    res.destroy(error as Error);
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
