import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { COMPONENT_LIMIT_DEFAULTS, HostContext, WitError } from './context.js';
import { instanceHttpClasses, type OutgoingRequest, ResponseState } from './http-types.js';
import { DENY_ALL_OUTBOUND, outgoingHandlerImports } from './outgoing-handler.js';

const bytes = (text: string) => new TextEncoder().encode(text);

function setup(limits = {}) {
  const ctx = new HostContext({ ...COMPONENT_LIMIT_DEFAULTS, ...limits });
  return { ctx, classes: instanceHttpClasses(ctx, new ResponseState()) };
}

function payload(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    if (error instanceof WitError) return error.payload;
    throw error;
  }
  return assert.fail('expected a WIT error result');
}

describe('wasi:http/types fields', () => {
  test('fields the guest builds are mutable, case-insensitive and keep repeated values in order', () => {
    const { classes } = setup();
    const fields = new classes.Fields();
    fields.append('X-Tag', bytes('a'));
    fields.append('x-tag', bytes('b'));
    assert.deepEqual(
      fields.get('X-TAG').map((value: Uint8Array) => Buffer.from(value).toString()),
      ['a', 'b'],
    );
    fields.set('x-tag', [bytes('c')]);
    assert.deepEqual(fields.entries(), [['x-tag', bytes('c')]]);
    fields.delete('X-Tag');
    assert.equal(fields.has('x-tag'), false);
  });

  test('request headers are immutable, and a clone of them is not', () => {
    const { classes } = setup();
    const headers = classes.immutableFields([['accept', bytes('*/*')]]);
    assert.deepEqual(
      payload(() => headers.append('x', bytes('1'))),
      { tag: 'immutable' },
    );
    assert.deepEqual(
      payload(() => headers.delete('accept')),
      { tag: 'immutable' },
    );
    const copy = headers.clone();
    copy.append('x', bytes('1'));
    assert.equal(copy.has('x'), true);
    assert.equal(headers.has('x'), false);
  });

  test('invalid names and values are invalid-syntax, and hop-by-hop headers are forbidden', () => {
    const { classes } = setup();
    const fields = new classes.Fields();
    assert.deepEqual(
      payload(() => fields.append('bad name', bytes('1'))),
      { tag: 'invalid-syntax' },
    );
    assert.deepEqual(
      payload(() => fields.append('x', bytes('a\r\nb'))),
      { tag: 'invalid-syntax' },
    );
    assert.deepEqual(
      payload(() => fields.append('Transfer-Encoding', bytes('chunked'))),
      { tag: 'forbidden' },
    );
    assert.deepEqual(
      payload(() => classes.Fields.fromList([['host', bytes('x')]])),
      { tag: 'forbidden' },
    );
  });

  test('a fields resource past maxFieldEntries ends the instance', () => {
    const { classes } = setup({ maxFieldEntries: 2 });
    const fields = new classes.Fields();
    fields.append('a', bytes('1'));
    fields.append('b', bytes('2'));
    assert.throws(() => fields.append('c', bytes('3')), { code: 'E_GUEST_OUTPUT_LIMIT' });
  });
});

describe('wasi:http/outgoing-handler', () => {
  test('every outgoing request is denied with HTTP-request-denied unless outbound HTTP is granted', () => {
    const { ctx, classes } = setup();
    const { handle } = outgoingHandlerImports(ctx, classes, DENY_ALL_OUTBOUND)[
      'wasi:http/outgoing-handler'
    ] as {
      handle: (request: OutgoingRequest, options: undefined) => unknown;
    };
    const request = new classes.OutgoingRequest(new classes.Fields());
    request.setAuthority('example.com');
    assert.deepEqual(
      payload(() => handle(request, undefined)),
      { tag: 'HTTP-request-denied' },
    );
  });
});
