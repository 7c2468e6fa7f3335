import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isIsolaError } from '../errors.js';
import { parseCgiResponse, readCgiResponse } from './cgi-response.js';

async function* chunks(...parts: string[]): AsyncGenerator<Uint8Array> {
  for (const part of parts) yield new TextEncoder().encode(part);
}

async function body(response: { body: AsyncIterable<Uint8Array> }): Promise<string> {
  let text = '';
  for await (const chunk of response.body) text += new TextDecoder().decode(chunk);
  return text;
}

describe('readCgiResponse', () => {
  test('a document with LF line ends: status 200, fields kept, body passed on', async () => {
    const response = await readCgiResponse(chunks('Content-Type: text/plain\nX-Id: 7\n\nhello ', 'world'));
    assert.deepEqual(response.head, {
      kind: 'document',
      status: 200,
      statusText: '',
      headers: [
        ['Content-Type', 'text/plain'],
        ['X-Id', '7'],
      ],
    });
    assert.equal(await body(response), 'hello world');
  });

  test('CRLF line ends, a Status field, and a header block split across chunks', async () => {
    const response = await readCgiResponse(
      chunks('Status: 404 Not', ' Found\r\nContent-Type: text/html\r', '\n\r\n<p>no</p>'),
    );
    assert.deepEqual(response.head, {
      kind: 'document',
      status: 404,
      statusText: 'Not Found',
      headers: [['Content-Type', 'text/html']],
    });
    assert.equal(await body(response), '<p>no</p>');
  });

  test('a Location with a path alone is a local redirect; an absolute one a client redirect', async () => {
    assert.deepEqual((await readCgiResponse(chunks('Location: /other?x=1\n\n'))).head, {
      kind: 'local-redirect',
      location: '/other?x=1',
    });
    assert.deepEqual((await readCgiResponse(chunks('Location: https://example.com/\n\n'))).head, {
      kind: 'client-redirect',
      status: 302,
      location: 'https://example.com/',
      headers: [['Location', 'https://example.com/']],
    });
    const moved = await readCgiResponse(chunks('Status: 301 Moved\nLocation: /new\n\n'));
    assert.equal(moved.head.kind === 'client-redirect' && moved.head.status, 301);
  });

  test('drops the framing fields the server owns', async () => {
    const response = await readCgiResponse(
      chunks('Content-Length: 99\nTransfer-Encoding: chunked\nConnection: close\nX-Kept: yes\n\nbody'),
    );
    assert.deepEqual(response.head.kind === 'document' && response.head.headers, [['X-Kept', 'yes']]);
  });

  test('an empty header block is a 200 document with no fields', async () => {
    const response = await readCgiResponse(chunks('\nplain body'));
    assert.deepEqual(response.head, { kind: 'document', status: 200, statusText: '', headers: [] });
    assert.equal(await body(response), 'plain body');
  });

  const refusals: [string, string[], RegExp][] = [
    [
      'output that ends before the blank line',
      ['Content-Type: text/plain\nhello'],
      /ended before the blank line/,
    ],
    [
      'a line that is not a field',
      ['Content-Type: text/plain\nthis is not a header\n\n'],
      /line 2 .* is not a "Name: value" field/,
    ],
    ['a Status that is not a code', ['Status: OK\n\n'], /Status field is "OK"/],
    ['a Status out of range', ['Status: 99 Odd\n\n'], /from 200 to 599/],
    ['a 1xx Status', ['Status: 101 Switching\n\n'], /from 200 to 599/],
  ];
  for (const [what, parts, message] of refusals) {
    test(`refuses ${what}`, async () => {
      await assert.rejects(
        readCgiResponse(chunks(...parts)),
        (error) => isIsolaError(error, 'E_CGI_RESPONSE_INVALID') && message.test(error.message),
      );
    });
  }

  test('refuses header fields past the byte cap', async () => {
    await assert.rejects(
      readCgiResponse(chunks(`X-Big: ${'a'.repeat(200)}\n`), 100),
      (error) => isIsolaError(error, 'E_CGI_RESPONSE_INVALID') && /past 100 bytes/.test(error.message),
    );
  });

  test('no output at all is its own error', async () => {
    await assert.rejects(readCgiResponse(chunks()), (error) => isIsolaError(error, 'E_CGI_EMPTY_RESPONSE'));
  });
});

describe('parseCgiResponse', () => {
  const bytes = (text: string) => new TextEncoder().encode(text);

  test('reads the same head and body from a whole output as readCgiResponse does from chunks', async () => {
    const text =
      'Status: 201 Created\r\nContent-Type: text/plain\r\nLocation: https://example.com/x\r\n\r\nmade';
    const parsed = parseCgiResponse(bytes(text));
    const read = await readCgiResponse(chunks(text.slice(0, 9), text.slice(9)));
    assert.deepEqual(parsed.head, read.head);
    assert.equal(new TextDecoder().decode(parsed.body), 'made');
    assert.equal(await body(read), 'made');
  });

  test('refuses an output without the blank line, an empty output and an oversized head, as readCgiResponse does', () => {
    assert.throws(
      () => parseCgiResponse(bytes('Content-Type: text/plain\nhello')),
      (error) => isIsolaError(error, 'E_CGI_RESPONSE_INVALID') && /blank line/.test(error.message),
    );
    assert.throws(
      () => parseCgiResponse(new Uint8Array(0)),
      (error) => isIsolaError(error, 'E_CGI_EMPTY_RESPONSE'),
    );
    assert.throws(
      () => parseCgiResponse(bytes(`X-Long: ${'a'.repeat(100)}\n\nbody`), 64),
      (error) => isIsolaError(error, 'E_CGI_RESPONSE_INVALID') && /past 64 bytes/.test(error.message),
    );
  });
});
