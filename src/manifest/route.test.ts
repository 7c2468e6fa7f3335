import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseRoute, routeShape } from './route.js';

function segments(route: string) {
  const check = parseRoute(route);
  assert.ok(check.ok, `${route} was refused`);
  return check.segments;
}

function problem(route: string): string {
  const check = parseRoute(route);
  assert.ok(!check.ok, `${route} was accepted`);
  return `${check.problem}: ${check.fix}`;
}

describe('parseRoute', () => {
  it('reads exact paths, parameters and a trailing wildcard', () => {
    assert.deepEqual(segments('/'), []);
    assert.deepEqual(segments('/...'), [{ kind: 'wildcard' }]);
    assert.deepEqual(segments('/users/:id/...'), [
      { kind: 'literal', text: 'users' },
      { kind: 'param', name: 'id' },
      { kind: 'wildcard' },
    ]);
  });

  it('refuses a route without a leading slash, naming the fix', () => {
    assert.equal(problem('hello'), 'does not start with /: write "/hello"');
  });

  it('refuses empty segments and a trailing slash', () => {
    assert.match(problem('/a//b'), /empty segment.*"\/a\/b"/);
    assert.match(problem('/a/'), /ends with \/.*"\/a"/);
  });

  it('refuses ... anywhere but as the whole last segment, and * as a segment', () => {
    assert.match(problem('/.../a'), /before its end/);
    assert.equal(problem('/a/*'), 'uses * (a wildcard is written ...): write "/a/..."');
    assert.match(problem('/a...'), /whole last segment/);
  });

  it('refuses dot segments in any spelling, bad or repeated parameter names, and query syntax', () => {
    assert.match(problem('/a/../b'), /\.\. segment/);
    assert.match(problem('/a/%2e/b'), /\. segment/);
    assert.match(problem('/:'), /bad parameter/);
    assert.match(problem('/:1st'), /bad parameter/);
    assert.match(problem('/:id/x/:id'), /names :id twice/);
    assert.match(problem('/a?b=1'), /remove the query/);
  });

  it('refuses spaces and malformed escapes, naming the encoding to use', () => {
    assert.match(problem('/a b'), /percent-encode it \("%20"\)/);
    assert.match(problem('/100%'), /%25/);
  });

  it("refuses routes under isola's reserved prefix", () => {
    assert.match(problem('/.well-known/isola/health'), /answers itself/);
    assert.ok(parseRoute('/.well-known/other').ok);
  });
});

describe('routeShape', () => {
  it('ignores parameter names, so that /a/:x and /a/:y are the same route', () => {
    assert.equal(routeShape(segments('/a/:x')), routeShape(segments('/a/:y')));
    assert.notEqual(routeShape(segments('/a')), routeShape(segments('/a/...')));
  });

  it('compares literals decoded, and never as a parameter or the wildcard', () => {
    assert.equal(routeShape(segments('/caf%C3%A9')), routeShape(segments('/café')));
    assert.notEqual(routeShape(segments('/a/%3Ax')), routeShape(segments('/a/:x')));
  });
});
