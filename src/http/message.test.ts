import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fromWebRequest, type HttpResponse, jsonResponse, toWebResponse } from './message.js';

describe('HTTP messages', () => {
  test('a Web Request becomes a request with its URL parsed and its headers and body kept', async () => {
    const request = fromWebRequest(
      new Request('http://example.com/a/b?x=1', { method: 'POST', body: 'hi', headers: { 'x-a': '1' } }),
    );
    assert.equal(request.method, 'POST');
    assert.equal(request.url.pathname, '/a/b');
    assert.equal(request.url.search, '?x=1');
    assert.equal(request.headers.get('x-a'), '1');
    assert.equal(await new Response(request.body).text(), 'hi');
  });

  test('a response with a byte body becomes a Web Response with its status, reason and repeated fields', async () => {
    const response: HttpResponse = {
      status: 404,
      statusText: 'Gone Fishing',
      headers: [
        ['set-cookie', 'a=1'],
        ['set-cookie', 'b=2'],
      ],
      body: new TextEncoder().encode('nothing'),
    };
    const web = toWebResponse(response);
    assert.equal(web.status, 404);
    assert.equal(web.statusText, 'Gone Fishing');
    assert.deepEqual(web.headers.getSetCookie(), ['a=1', 'b=2']);
    assert.equal(await web.text(), 'nothing');
  });

  test('a streamed body flows through, and one that breaks errors the Web body', async () => {
    async function* parts() {
      yield new TextEncoder().encode('a');
      yield new TextEncoder().encode('b');
    }
    assert.equal(
      await toWebResponse({ status: 200, statusText: '', headers: [], body: parts() }).text(),
      'ab',
    );
    async function* broken() {
      yield new TextEncoder().encode('a');
      throw new Error('the guest trapped');
    }
    await assert.rejects(toWebResponse({ status: 200, statusText: '', headers: [], body: broken() }).text());
  });

  test('jsonResponse serializes its value with a JSON content type', async () => {
    const web = toWebResponse(jsonResponse(200, { ok: true }));
    assert.equal(web.headers.get('content-type'), 'application/json');
    assert.deepEqual(await web.json(), { ok: true });
  });
});
