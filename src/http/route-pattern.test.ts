import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decodeSegment, parseRequestPath, parseRoutePattern, segmentKey } from './route-pattern.js';

/** A request path, and the normalized path it means (`/` + segments, plus a trailing slash). */
const normalizations: [string, string | undefined][] = [
  ['/', '/'],
  ['/a/b', '/a/b'],
  ['/a/b/', '/a/b/'],
  ['//a///b//', '/a/b/'],
  ['/a/./b', '/a/b'],
  ['/a/b/.', '/a/b/'],
  ['/a/b/..', '/a/'],
  ['/a/../../..', '/'],
  ['/..', '/'],
  ['/a/%2e%2E/b', '/b'],
  ['/a/.%2e/b', '/b'],
  ['/a/%2E./b', '/b'],
  ['/a/%2e/b', '/a/b'],
  ['/a/..%2F/b', '/a/..%2F/b'],
  ['/a/.../b', '/a/.../b'],
  ['/a/b?c/../d', '/a/b'],
  ['/a/b#c', '/a/b'],
  ['/a?', '/a'],
  ['', undefined],
  ['?a', undefined],
  ['*', undefined],
  ['a/b', undefined],
  ['http://example.com/a', undefined],
];

function normalized(target: string): string | undefined {
  const path = parseRequestPath(target);
  if (path === undefined) return undefined;
  const joined = path.segments.map((segment) => `/${segment}`).join('');
  return path.trailingSlash ? `${joined}/` : joined;
}

describe('parseRequestPath', () => {
  for (const [target, expected] of normalizations) {
    test(`normalizes ${JSON.stringify(target)} to ${JSON.stringify(expected)}`, () => {
      assert.equal(normalized(target), expected);
    });
  }

  test('gives each segment its key, so spellings of one text compare equal', () => {
    assert.deepEqual(parseRequestPath('/caf%c3%a9/a%2Fb/%zz/x')?.keys, ['café', 'a%2Fb', '%zz', 'x']);
  });
});

describe('segmentKey', () => {
  test('is the decoded text with only "%" and "/" escaped again', () => {
    assert.equal(segmentKey('%61%2f%25'), 'a%2F%25');
    assert.equal(segmentKey('a%2Fb'), segmentKey('a%2fb'));
    assert.notEqual(segmentKey('a%2Fb'), segmentKey('a%252Fb'));
  });

  test('keeps a segment that does not decode as it is', () => {
    assert.equal(segmentKey('%C3'), '%C3');
    assert.equal(decodeSegment('%C3'), '%C3');
  });
});

describe('parseRoutePattern', () => {
  test('gives two patterns one key exactly when they match the same paths', () => {
    const key = (source: string) => parseRoutePattern(source).key;
    assert.equal(key('/users/:id'), key('/users/:name'));
    assert.equal(key('/caf%C3%A9'), key('/café'));
    assert.notEqual(key('/a%2Fb'), key('/a/b'));
    assert.notEqual(key('/%3A'), key('/:x'));
    assert.notEqual(key('/a'), key('/a/...'));
    assert.notEqual(key('/'), key('/...'));
    assert.notEqual(key('/%25%3A'), key('/:x'));
  });

  test('splits a pattern into literal and parameter segments before its wildcard', () => {
    assert.deepEqual(parseRoutePattern('/users/:id/posts/...'), {
      source: '/users/:id/posts/...',
      segments: [
        { kind: 'literal', key: 'users' },
        { kind: 'param', name: 'id' },
        { kind: 'literal', key: 'posts' },
      ],
      wildcard: true,
      key: '/users/%:/posts/%...',
    });
  });

  test('names the pattern in its errors with the label given', () => {
    assert.throws(() => parseRoutePattern('/a/', 'route "/a/" (component "x")'), {
      code: 'E_ROUTE_INVALID',
      message: /^route "\/a\/" \(component "x"\) has an empty segment/,
    });
  });
});
