/**
 * Reading a CGI response from a guest's stdout (RFC 3875 §6): header fields, a blank line, then
 * the body, which is passed on as it arrives. The three kinds of response (§6.2):
 *
 * - a document: optional `Status: 404 Not Found` (default 200), `Content-Type`, other fields;
 * - a local redirect: `Location: /path` alone, which the server answers by serving that path;
 * - a client redirect: `Location: https://...` (status 302 unless `Status` says otherwise).
 *
 * Lines may end in LF or CRLF. Anything else (no blank line before the output ends, a line that
 * is not a field, a bad Status, header fields past `maxHeaderBytes`) is the app's bug and is
 * reported as E_CGI_RESPONSE_INVALID with the reason, which the server turns into a 502. Fields
 * the server itself is responsible for (`Content-Length`, `Transfer-Encoding`, `Connection`,
 * RFC 3875 §6.3.4 and RFC 9110 §7.6.1) are dropped: the body is streamed and framed by the server.
 */
import { IsolaError } from '../errors.js';

export type CgiHead =
  | { kind: 'document'; status: number; statusText: string; headers: [string, string][] }
  | { kind: 'local-redirect'; location: string }
  | { kind: 'client-redirect'; status: number; location: string; headers: [string, string][] };

export interface CgiResponse {
  head: CgiHead;
  /** The body: what followed the blank line, then the rest of the output as it comes. */
  body: AsyncIterable<Uint8Array>;
}

/** Header bytes a CGI response may have before it is refused. Default 64 KiB. */
export const MAX_CGI_HEADER_BYTES = 64 * 1024;

const DROPPED_FIELDS = new Set(['content-length', 'transfer-encoding', 'connection', 'status']);
const FIELD_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * Reads the header block from `output` and returns the parsed head with the body still to come.
 * Throws E_CGI_RESPONSE_INVALID (the guest's fault) or E_CGI_EMPTY_RESPONSE (no output at all).
 */
export async function readCgiResponse(
  output: AsyncIterable<Uint8Array>,
  maxHeaderBytes = MAX_CGI_HEADER_BYTES,
): Promise<CgiResponse> {
  const iterator = output[Symbol.asyncIterator]();
  let buffered: Uint8Array = new Uint8Array(0);
  for (;;) {
    const split = splitHead(buffered, false, maxHeaderBytes);
    if (split !== undefined) return { head: split.head, body: bodyOf(split.body, iterator) };
    const next = await iterator.next();
    if (next.done) {
      const last = splitHead(buffered, true, maxHeaderBytes) as { head: CgiHead; body: Uint8Array };
      return { head: last.head, body: bodyOf(last.body, iterator) };
    }
    buffered = concat(buffered, next.value);
  }
}

/**
 * The response in `output`, the whole of a guest's stdout (a guest that has ended): the same
 * rules and errors as `readCgiResponse`, without a stream.
 */
export function parseCgiResponse(
  output: Uint8Array,
  maxHeaderBytes = MAX_CGI_HEADER_BYTES,
): { head: CgiHead; body: Uint8Array } {
  return splitHead(output, true, maxHeaderBytes) as { head: CgiHead; body: Uint8Array };
}

/**
 * The head parsed from `buffered` and the body bytes after it; undefined while the blank line has
 * not come and more output may (`ended` false). Throws when it never can.
 */
function splitHead(
  buffered: Uint8Array,
  ended: boolean,
  maxHeaderBytes: number,
): { head: CgiHead; body: Uint8Array } | undefined {
  const end = headerEnd(buffered);
  if (end !== undefined && end.headerBytes <= maxHeaderBytes) {
    return {
      head: parseHead(latin1(buffered.subarray(0, end.headerBytes))),
      body: buffered.subarray(end.bodyStart),
    };
  }
  if (end !== undefined || buffered.length > maxHeaderBytes) {
    throw invalid(`its header fields run past ${maxHeaderBytes} bytes without the blank line that ends them`);
  }
  if (!ended) return undefined;
  if (buffered.length === 0) {
    throw new IsolaError(
      'E_CGI_EMPTY_RESPONSE',
      'the app wrote nothing to stdout: a CGI app must write a response',
      {},
    );
  }
  throw invalid(
    'its output ended before the blank line that ends the header fields: write the fields, an empty line, then the body',
  );
}

/** Where the header block ends: the first empty line (LF LF, or CRLF CRLF, or a mix). */
function headerEnd(bytes: Uint8Array): { headerBytes: number; bodyStart: number } | undefined {
  let lineStart = 0;
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] !== 0x0a) continue;
    const lineLength = i - lineStart - (i > lineStart && bytes[i - 1] === 0x0d ? 1 : 0);
    if (lineLength === 0) return { headerBytes: lineStart, bodyStart: i + 1 };
    lineStart = i + 1;
  }
  return undefined;
}

function parseHead(block: string): CgiHead {
  const fields: [string, string][] = [];
  const lines = block.split('\n').map((line) => (line.endsWith('\r') ? line.slice(0, -1) : line));
  if (lines.at(-1) === '') lines.pop();
  for (const [index, line] of lines.entries()) {
    const colon = line.indexOf(':');
    const name = colon === -1 ? '' : line.slice(0, colon);
    if (!FIELD_NAME.test(name)) {
      throw invalid(
        `header line ${index + 1} (${JSON.stringify(line.slice(0, 60))}) is not a "Name: value" field`,
      );
    }
    fields.push([name, line.slice(colon + 1).trim()]);
  }
  const field = (wanted: string) => fields.find(([name]) => name.toLowerCase() === wanted)?.[1];
  const status = field('status');
  const location = field('location');
  const headers = fields.filter(([name]) => !DROPPED_FIELDS.has(name.toLowerCase()));
  if (location?.startsWith('/') && status === undefined) {
    return { kind: 'local-redirect', location };
  }
  const { code, text } =
    status === undefined ? { code: location ? 302 : 200, text: '' } : parseStatus(status);
  if (location !== undefined) return { kind: 'client-redirect', status: code, location, headers };
  return { kind: 'document', status: code, statusText: text, headers };
}

/** `Status: 404 Not Found` (RFC 3875 §6.3.3): three digits, then an optional reason phrase. */
function parseStatus(value: string): { code: number; text: string } {
  const match = /^(\d{3})(?:\s+(.*))?$/.exec(value);
  const code = match ? Number(match[1]) : Number.NaN;
  if (!match || code < 200 || code > 599) {
    throw invalid(
      `its Status field is ${JSON.stringify(value)}: write a code from 200 to 599, e.g. "Status: 404 Not Found"`,
    );
  }
  return { code, text: match[2] ?? '' };
}

async function* bodyOf(first: Uint8Array, rest: AsyncIterator<Uint8Array>): AsyncGenerator<Uint8Array> {
  if (first.length > 0) yield first;
  for (;;) {
    const next = await rest.next();
    if (next.done) return;
    yield next.value;
  }
}

function invalid(reason: string): IsolaError {
  return new IsolaError('E_CGI_RESPONSE_INVALID', `the app's CGI response is invalid: ${reason}`, { reason });
}

function latin1(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
