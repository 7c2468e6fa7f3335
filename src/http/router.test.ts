import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type ErrorCode, isIsolaError } from '../errors.js';
import { type AppMatch, AppRouter, type RouteDefinition, type Router, RouteTable } from './router.js';

/** Every router implementation runs the contract below. */
const implementations: [string, (routes: RouteDefinition<string>[]) => Router<string>][] = [
  ['RouteTable', (routes) => new RouteTable(routes)],
];

interface Found {
  route: string;
  params?: Record<string, string>;
  matched: string;
  pathInfo: string;
}

interface Refused {
  refused: ErrorCode;
  message: RegExp;
}

interface Case {
  name: string;
  routes: string[];
  path: string;
  /** The route that serves `path`, null for none, or the error adding the routes throws. */
  expected: Found | null | Refused;
}

const deep = `/a${'/x'.repeat(5000)}`;
const longSegment = `/${'y'.repeat(100_000)}`;

/**
 * The router contract. Each case also runs with its routes in reverse order: precedence never
 * depends on the order routes were declared in.
 */
const cases: Case[] = [
  // Exact routes, and the root.
  {
    name: 'an exact route matches its path',
    routes: ['/hello'],
    path: '/hello',
    expected: { route: '/hello', matched: '/hello', pathInfo: '' },
  },
  {
    name: 'an exact route matches its path with a trailing slash, reported in pathInfo',
    routes: ['/hello'],
    path: '/hello/',
    expected: { route: '/hello', matched: '/hello', pathInfo: '/' },
  },
  {
    name: 'an exact route does not match a longer path',
    routes: ['/hello'],
    path: '/hello/x',
    expected: null,
  },
  {
    name: 'an exact route does not match a path that only starts with its text',
    routes: ['/hello'],
    path: '/hellos',
    expected: null,
  },
  {
    name: 'the root route matches "/" with an empty matched part',
    routes: ['/'],
    path: '/',
    expected: { route: '/', matched: '', pathInfo: '/' },
  },
  { name: 'the root route matches nothing else', routes: ['/'], path: '/x', expected: null },
  {
    name: 'the root wildcard matches "/"',
    routes: ['/...'],
    path: '/',
    expected: { route: '/...', matched: '', pathInfo: '/' },
  },
  {
    name: 'the root wildcard matches every path, all of it in pathInfo',
    routes: ['/...'],
    path: '/a/b',
    expected: { route: '/...', matched: '', pathInfo: '/a/b' },
  },
  {
    name: 'the exact root beats the root wildcard at "/"',
    routes: ['/...', '/'],
    path: '/',
    expected: { route: '/', matched: '', pathInfo: '/' },
  },
  {
    name: 'the root wildcard takes what the exact root does not',
    routes: ['/', '/...'],
    path: '/a',
    expected: { route: '/...', matched: '', pathInfo: '/a' },
  },

  // Trailing wildcards.
  {
    name: 'a wildcard matches its prefix alone, with an empty pathInfo',
    routes: ['/hello/...'],
    path: '/hello',
    expected: { route: '/hello/...', matched: '/hello', pathInfo: '' },
  },
  {
    name: 'a wildcard matches its prefix with a trailing slash, pathInfo "/"',
    routes: ['/hello/...'],
    path: '/hello/',
    expected: { route: '/hello/...', matched: '/hello', pathInfo: '/' },
  },
  {
    name: 'a wildcard matches the paths below its prefix',
    routes: ['/hello/...'],
    path: '/hello/a/b',
    expected: { route: '/hello/...', matched: '/hello', pathInfo: '/a/b' },
  },
  {
    name: 'a wildcard keeps a trailing slash in pathInfo',
    routes: ['/hello/...'],
    path: '/hello/a/b/',
    expected: { route: '/hello/...', matched: '/hello', pathInfo: '/a/b/' },
  },
  {
    name: 'a wildcard prefix matches whole segments only',
    routes: ['/hello/...'],
    path: '/hellox',
    expected: null,
  },
  {
    name: 'the wildcard with the longest prefix wins',
    routes: ['/one/...', '/one/two/three/...', '/one/two/...'],
    path: '/one/two/three/four',
    expected: { route: '/one/two/three/...', matched: '/one/two/three', pathInfo: '/four' },
  },
  {
    name: 'a shorter wildcard serves what the longer one does not cover',
    routes: ['/one/...', '/one/two/three/...'],
    path: '/one/two',
    expected: { route: '/one/...', matched: '/one', pathInfo: '/two' },
  },

  // Parameters.
  {
    name: 'a parameter captures one segment',
    routes: ['/users/:id'],
    path: '/users/42',
    expected: { route: '/users/:id', params: { id: '42' }, matched: '/users/42', pathInfo: '' },
  },
  {
    name: 'a parameterized route tolerates a trailing slash',
    routes: ['/users/:id'],
    path: '/users/42/',
    expected: { route: '/users/:id', params: { id: '42' }, matched: '/users/42', pathInfo: '/' },
  },
  {
    name: 'a parameter does not match a missing segment',
    routes: ['/users/:id'],
    path: '/users',
    expected: null,
  },
  {
    name: 'a parameter does not match an empty segment',
    routes: ['/users/:id'],
    path: '/users/',
    expected: null,
  },
  {
    name: 'a parameter matches exactly one segment',
    routes: ['/users/:id'],
    path: '/users/42/posts',
    expected: null,
  },
  {
    name: 'parameters may come before a wildcard',
    routes: ['/users/:id/posts/...'],
    path: '/users/7/posts/a',
    expected: {
      route: '/users/:id/posts/...',
      params: { id: '7' },
      matched: '/users/7/posts',
      pathInfo: '/a',
    },
  },
  {
    name: 'a wildcard after a parameter matches nothing more',
    routes: ['/users/:id/...'],
    path: '/users/7',
    expected: { route: '/users/:id/...', params: { id: '7' }, matched: '/users/7', pathInfo: '' },
  },
  {
    name: 'several parameters are all captured',
    routes: ['/:a/:b/:c'],
    path: '/x/y/z',
    expected: { route: '/:a/:b/:c', params: { a: 'x', b: 'y', c: 'z' }, matched: '/x/y/z', pathInfo: '' },
  },
  {
    name: 'a parameter may be named like an Object.prototype member',
    routes: ['/entry/:constructor'],
    path: '/entry/1',
    expected: {
      route: '/entry/:constructor',
      params: { constructor: '1' },
      matched: '/entry/1',
      pathInfo: '',
    },
  },

  // Precedence.
  {
    name: 'an exact route beats a parameterized one',
    routes: ['/users/:id', '/users/me'],
    path: '/users/me',
    expected: { route: '/users/me', matched: '/users/me', pathInfo: '' },
  },
  {
    name: 'a parameterized route serves what the exact one does not',
    routes: ['/users/:id', '/users/me'],
    path: '/users/you',
    expected: { route: '/users/:id', params: { id: 'you' }, matched: '/users/you', pathInfo: '' },
  },
  {
    name: 'a parameterized route beats a wildcard',
    routes: ['/users/...', '/users/:id'],
    path: '/users/42',
    expected: { route: '/users/:id', params: { id: '42' }, matched: '/users/42', pathInfo: '' },
  },
  {
    name: 'a parameterized route beats even a wildcard with a longer prefix',
    routes: ['/users/42/...', '/users/:id'],
    path: '/users/42',
    expected: { route: '/users/:id', params: { id: '42' }, matched: '/users/42', pathInfo: '' },
  },
  {
    name: 'an exact route beats a wildcard at its trailing slash',
    routes: ['/hello/...', '/hello'],
    path: '/hello/',
    expected: { route: '/hello', matched: '/hello', pathInfo: '/' },
  },
  {
    name: 'between parameterized routes the leftmost literal segment wins',
    routes: ['/:x/b', '/a/:y'],
    path: '/a/b',
    expected: { route: '/a/:y', params: { y: 'b' }, matched: '/a/b', pathInfo: '' },
  },
  {
    name: 'a parameterized route with more literals later still loses to an earlier literal',
    routes: ['/:x/b/c', '/a/:y/:z'],
    path: '/a/b/c',
    expected: { route: '/a/:y/:z', params: { y: 'b', z: 'c' }, matched: '/a/b/c', pathInfo: '' },
  },
  {
    name: 'between wildcards, more segments before "..." win over an earlier literal',
    routes: ['/a/...', '/:x/b/...'],
    path: '/a/b/c',
    expected: { route: '/:x/b/...', params: { x: 'a' }, matched: '/a/b', pathInfo: '/c' },
  },
  {
    name: 'between wildcards of one length the leftmost literal segment wins',
    routes: ['/:x/b/...', '/a/:y/...'],
    path: '/a/b/c',
    expected: { route: '/a/:y/...', params: { y: 'b' }, matched: '/a/b', pathInfo: '/c' },
  },
  {
    name: 'a route whose literal differs falls through to the next one',
    routes: ['/users/:id/edit', '/users/...'],
    path: '/users/1/view',
    expected: { route: '/users/...', matched: '/users', pathInfo: '/1/view' },
  },

  // Percent-encoding and unicode.
  {
    name: 'an encoded slash stays inside a parameter, decoded',
    routes: ['/files/:name'],
    path: '/files/a%2Fb',
    expected: { route: '/files/:name', params: { name: 'a/b' }, matched: '/files/a%2Fb', pathInfo: '' },
  },
  {
    name: 'an encoded slash does not separate segments for a literal route',
    routes: ['/a/b'],
    path: '/a%2Fb',
    expected: null,
  },
  {
    name: 'an encoded slash in a route matches only an encoded slash',
    routes: ['/a%2Fb'],
    path: '/a%2fb',
    expected: { route: '/a%2Fb', matched: '/a%2fb', pathInfo: '' },
  },
  {
    name: 'a unicode literal matches its percent-encoded spelling, reported raw',
    routes: ['/café'],
    path: '/caf%C3%A9',
    expected: { route: '/café', matched: '/caf%C3%A9', pathInfo: '' },
  },
  {
    name: 'a percent-encoded literal matches lowercase escapes',
    routes: ['/caf%C3%A9'],
    path: '/caf%c3%a9',
    expected: { route: '/caf%C3%A9', matched: '/caf%c3%a9', pathInfo: '' },
  },
  {
    name: 'a percent-encoded literal matches the unicode text itself',
    routes: ['/caf%C3%A9'],
    path: '/café',
    expected: { route: '/caf%C3%A9', matched: '/café', pathInfo: '' },
  },
  {
    name: 'an encoded unreserved character equals the character',
    routes: ['/abc'],
    path: '/%61bc',
    expected: { route: '/abc', matched: '/%61bc', pathInfo: '' },
  },
  {
    name: 'a unicode parameter is decoded',
    routes: ['/u/:name'],
    path: '/u/%E2%9C%93%20ok',
    expected: { route: '/u/:name', params: { name: '✓ ok' }, matched: '/u/%E2%9C%93%20ok', pathInfo: '' },
  },
  {
    name: 'a plus sign in a path is not a space',
    routes: ['/q/:term'],
    path: '/q/a+b',
    expected: { route: '/q/:term', params: { term: 'a+b' }, matched: '/q/a+b', pathInfo: '' },
  },
  {
    name: 'a malformed escape in a parameter is kept as sent',
    routes: ['/q/:term'],
    path: '/q/%zz',
    expected: { route: '/q/:term', params: { term: '%zz' }, matched: '/q/%zz', pathInfo: '' },
  },
  { name: 'a malformed escape matches no literal', routes: ['/%25zz'], path: '/%zz', expected: null },
  {
    name: 'pathInfo stays percent-encoded',
    routes: ['/files/...'],
    path: '/files/a%20b/c%2Fd',
    expected: { route: '/files/...', matched: '/files', pathInfo: '/a%20b/c%2Fd' },
  },

  // Normalization: a request cannot slip past a route's prefix.
  {
    name: 'a ".." segment is resolved before matching',
    routes: ['/static/...', '/admin'],
    path: '/static/../admin',
    expected: { route: '/admin', matched: '/admin', pathInfo: '' },
  },
  {
    name: 'a percent-encoded ".." segment is resolved too',
    routes: ['/static/...', '/admin'],
    path: '/static/%2e%2E/admin',
    expected: { route: '/admin', matched: '/admin', pathInfo: '' },
  },
  {
    name: 'a ".." segment never climbs above the root',
    routes: ['/...'],
    path: '/../../etc/passwd',
    expected: { route: '/...', matched: '', pathInfo: '/etc/passwd' },
  },
  {
    name: 'a "." segment is removed',
    routes: ['/a/b'],
    path: '/a/./b',
    expected: { route: '/a/b', matched: '/a/b', pathInfo: '' },
  },
  {
    name: 'a path ending in ".." ends in a slash',
    routes: ['/a/...'],
    path: '/a/b/..',
    expected: { route: '/a/...', matched: '/a', pathInfo: '/' },
  },
  {
    name: 'runs of slashes count as one',
    routes: ['/static/...'],
    path: '//static//a//b',
    expected: { route: '/static/...', matched: '/static', pathInfo: '/a/b' },
  },
  {
    name: 'a double slash does not reach a parameter as an empty segment',
    routes: ['/:a/:b'],
    path: '/x//y',
    expected: { route: '/:a/:b', params: { a: 'x', b: 'y' }, matched: '/x/y', pathInfo: '' },
  },
  {
    name: 'an encoded slash after ".." is not a dot segment and stays inside the prefix',
    routes: ['/static/...', '/admin'],
    path: '/static/..%2Fadmin',
    expected: { route: '/static/...', matched: '/static', pathInfo: '/..%2Fadmin' },
  },

  // The router takes a path: a query or fragment is ignored, anything else matches nothing.
  {
    name: 'a query string is ignored, even one holding slashes and dots',
    routes: ['/hello'],
    path: '/hello?next=/../admin',
    expected: { route: '/hello', matched: '/hello', pathInfo: '' },
  },
  {
    name: 'a query string is not part of pathInfo',
    routes: ['/hello/...'],
    path: '/hello/a?b/c',
    expected: { route: '/hello/...', matched: '/hello', pathInfo: '/a' },
  },
  {
    name: 'a fragment is ignored',
    routes: ['/hello/...'],
    path: '/hello/a#b/c',
    expected: { route: '/hello/...', matched: '/hello', pathInfo: '/a' },
  },
  { name: 'an asterisk target matches nothing', routes: ['/...'], path: '*', expected: null },
  { name: 'an absolute URL matches nothing', routes: ['/...'], path: 'http://example.com/', expected: null },
  { name: 'an empty target matches nothing', routes: ['/...'], path: '', expected: null },

  // Very long paths.
  {
    name: 'a path of five thousand segments is matched',
    routes: ['/...', '/a/:b/...'],
    path: deep,
    expected: { route: '/a/:b/...', params: { b: 'x' }, matched: '/a/x', pathInfo: '/x'.repeat(4999) },
  },
  {
    name: 'a segment of 100,000 characters is captured whole',
    routes: ['/:id'],
    path: longSegment,
    expected: { route: '/:id', params: { id: longSegment.slice(1) }, matched: longSegment, pathInfo: '' },
  },

  // Duplicates, refused when the routes are added.
  {
    name: 'the same route twice is refused, naming both owners',
    routes: ['/a', '/a'],
    path: '/a',
    expected: {
      refused: 'E_ROUTE_DUPLICATE',
      message: /^component "c1" and component "c2" declare "\/a" twice: remove one/,
    },
  },
  {
    name: 'routes differing only in parameter names are refused',
    routes: ['/users/:id', '/users/:name'],
    path: '/',
    expected: {
      refused: 'E_ROUTE_DUPLICATE',
      message: /"\/users\/:id" and "\/users\/:name", which match the same paths/,
    },
  },
  {
    name: 'the same wildcard twice is refused',
    routes: ['/a/...', '/a/...'],
    path: '/',
    expected: { refused: 'E_ROUTE_DUPLICATE', message: /declare "\/a\/\.\.\." twice/ },
  },
  {
    name: 'two spellings of one literal are refused',
    routes: ['/caf%C3%A9', '/café'],
    path: '/',
    expected: { refused: 'E_ROUTE_DUPLICATE', message: /which match the same paths/ },
  },
  {
    name: 'an exact route and a wildcard on the same prefix are not duplicates',
    routes: ['/a', '/a/...'],
    path: '/a/b',
    expected: { route: '/a/...', matched: '/a', pathInfo: '/b' },
  },
  {
    name: 'a literal colon is not a parameter',
    routes: ['/%3Aid', '/:id'],
    path: '/%3Aid',
    expected: { route: '/%3Aid', matched: '/%3Aid', pathInfo: '' },
  },

  // Bad patterns, refused with the fix.
  {
    name: 'a route without a leading slash is refused',
    routes: ['hello'],
    path: '/',
    expected: {
      refused: 'E_ROUTE_INVALID',
      message: /^route "hello" \(component "c1"\) must start with "\/": write "\/hello"$/,
    },
  },
  {
    name: 'an empty route is refused',
    routes: [''],
    path: '/',
    expected: { refused: 'E_ROUTE_INVALID', message: /must start with "\/"/ },
  },
  {
    name: 'a route with a trailing slash is refused',
    routes: ['/a/'],
    path: '/',
    expected: {
      refused: 'E_ROUTE_INVALID',
      message:
        /drop the trailing "\/": write "\/a" \(it matches "\/a\/" too\), or "\/a\/\.\.\." for everything below it/,
    },
  },
  {
    name: 'a route with an empty segment is refused',
    routes: ['/a//b'],
    path: '/',
    expected: { refused: 'E_ROUTE_INVALID', message: /has an empty segment: write "\/a\/b"/ },
  },
  {
    name: 'a wildcard that is not last is refused',
    routes: ['/a/.../b'],
    path: '/',
    expected: { refused: 'E_ROUTE_INVALID', message: /may use "\.\.\." only as the whole last segment/ },
  },
  {
    name: 'a wildcard glued to a segment is refused',
    routes: ['/a...'],
    path: '/',
    expected: {
      refused: 'E_ROUTE_INVALID',
      message: /only as the whole last segment, as in "\/static\/\.\.\."/,
    },
  },
  {
    name: 'an asterisk wildcard is refused with its spelling here',
    routes: ['/a/*'],
    path: '/',
    expected: { refused: 'E_ROUTE_INVALID', message: /write "\/a\/\.\.\."/ },
  },
  {
    name: 'a parameter name starting with a digit is refused',
    routes: ['/:1d'],
    path: '/',
    expected: {
      refused: 'E_ROUTE_INVALID',
      message: /bad parameter ":1d": a name is letters, digits and "_"/,
    },
  },
  {
    name: 'a parameter without a name is refused',
    routes: ['/a/:'],
    path: '/',
    expected: { refused: 'E_ROUTE_INVALID', message: /bad parameter ":"/ },
  },
  {
    name: 'a parameter name used twice is refused',
    routes: ['/a/:id/b/:id'],
    path: '/',
    expected: { refused: 'E_ROUTE_INVALID', message: /names ":id" twice: rename one of them/ },
  },
  {
    name: 'a dot segment in a route is refused',
    routes: ['/a/../b'],
    path: '/',
    expected: {
      refused: 'E_ROUTE_INVALID',
      message: /has a "\.\." segment, which no normalized request path has/,
    },
  },
  {
    name: 'an encoded dot segment in a route is refused',
    routes: ['/a/%2e'],
    path: '/',
    expected: { refused: 'E_ROUTE_INVALID', message: /has a "\." segment/ },
  },
  {
    name: 'a query in a route is refused',
    routes: ['/a?x=1'],
    path: '/',
    expected: { refused: 'E_ROUTE_INVALID', message: /contains "\?": routes match the path only/ },
  },
  {
    name: 'a space in a route is refused with its escape',
    routes: ['/a b'],
    path: '/',
    expected: { refused: 'E_ROUTE_INVALID', message: /contains " ": percent-encode it \("%20"\)/ },
  },
  {
    name: 'a malformed escape in a route is refused',
    routes: ['/%zz'],
    path: '/',
    expected: { refused: 'E_ROUTE_INVALID', message: /malformed "%" escape: write "%25" for a literal "%"/ },
  },
];

function definitions(routes: readonly string[]): RouteDefinition<string>[] {
  return routes.map((pattern, index) => ({ pattern, value: pattern, owner: `component "c${index + 1}"` }));
}

function check(
  build: (routes: RouteDefinition<string>[]) => Router<string>,
  routes: string[],
  c: Case,
): void {
  const { expected } = c;
  if (expected !== null && 'refused' in expected) {
    assert.throws(
      () => build(definitions(routes)),
      (error) =>
        isIsolaError(error, expected.refused) &&
        (routes !== c.routes || expected.message.test(error.message)),
    );
    return;
  }
  const match = build(definitions(routes)).match(c.path);
  if (expected === null) {
    assert.equal(match, undefined);
    return;
  }
  assert.ok(match !== undefined, `expected ${expected.route} to match ${c.path.slice(0, 80)}`);
  assert.deepEqual(
    {
      route: match.value,
      pattern: match.pattern,
      params: { ...match.params },
      matched: match.matched,
      pathInfo: match.pathInfo,
    },
    { ...expected, pattern: expected.route, params: expected.params ?? {} },
  );
}

for (const [name, build] of implementations) {
  describe(`${name} keeps the router contract`, () => {
    for (const c of cases) {
      test(c.name, () => {
        check(build, c.routes, c);
        check(build, [...c.routes].reverse(), c);
      });
    }
  });
}

describe('RouteTable', () => {
  test('params have no prototype, so a path cannot reach Object.prototype', () => {
    const match = new RouteTable([{ pattern: '/:id', value: 1 }]).match('/x');
    assert.equal(Object.getPrototypeOf(match?.params), null);
  });

  test('an owner defaults to the route position', () => {
    assert.throws(
      () =>
        new RouteTable([
          { pattern: '/a', value: 1 },
          { pattern: '/a', value: 2 },
        ]),
      { message: /^route 1 and route 2 declare "\/a" twice/ },
    );
  });

  test('lists its routes in the order given', () => {
    const table = new RouteTable(definitions(['/b/...', '/a', '/:c']));
    assert.deepEqual(
      table.routes.map((route) => [route.pattern.source, route.owner]),
      [
        ['/b/...', 'component "c1"'],
        ['/a', 'component "c2"'],
        ['/:c', 'component "c3"'],
      ],
    );
  });
});

interface AppSpec {
  name: string;
  host?: string;
  prefix?: string;
  routes: string[];
}

interface AppFound extends Found {
  app: string;
  base: string;
}

interface AppCase {
  name: string;
  apps: AppSpec[];
  host?: string;
  path: string;
  expected: AppFound | null | Refused;
}

const main: AppSpec = { name: 'main', routes: ['/...'] };
const api: AppSpec = { name: 'api', host: 'api.example.com', routes: ['/...'] };
const tenants: AppSpec = { name: 'tenants', host: '*.example.com', routes: ['/...'] };
const blog: AppSpec = { name: 'blog', prefix: '/blog', routes: ['/', '/posts/:id'] };

/** How AppRouter chooses an app; each case also runs with its apps added in reverse order. */
const appCases: AppCase[] = [
  // Hosts.
  {
    name: 'the default app serves any host',
    apps: [main],
    host: 'anything.test',
    path: '/a',
    expected: { app: 'main', base: '', route: '/...', matched: '', pathInfo: '/a' },
  },
  {
    name: 'the default app serves a request without a Host header',
    apps: [main, api],
    path: '/a',
    expected: { app: 'main', base: '', route: '/...', matched: '', pathInfo: '/a' },
  },
  {
    name: 'an app for the exact host comes first, whatever the case and port',
    apps: [main, api],
    host: 'API.Example.com:8080',
    path: '/a',
    expected: { app: 'api', base: '', route: '/...', matched: '', pathInfo: '/a' },
  },
  {
    name: 'a final dot in the Host header is ignored',
    apps: [main, api],
    host: 'api.example.com.',
    path: '/',
    expected: { app: 'api', base: '', route: '/...', matched: '', pathInfo: '/' },
  },
  {
    name: 'another host goes to the default app',
    apps: [main, api],
    host: 'www.example.com',
    path: '/a',
    expected: { app: 'main', base: '', route: '/...', matched: '', pathInfo: '/a' },
  },
  {
    name: 'a wildcard host serves the names below it, at any depth',
    apps: [main, tenants],
    host: 'a.b.example.com',
    path: '/',
    expected: { app: 'tenants', base: '', route: '/...', matched: '', pathInfo: '/' },
  },
  {
    name: 'a wildcard host does not serve the name itself',
    apps: [main, tenants],
    host: 'example.com',
    path: '/',
    expected: { app: 'main', base: '', route: '/...', matched: '', pathInfo: '/' },
  },
  {
    name: 'an exact host beats a wildcard host',
    apps: [tenants, api],
    host: 'api.example.com',
    path: '/',
    expected: { app: 'api', base: '', route: '/...', matched: '', pathInfo: '/' },
  },
  {
    name: 'the longest wildcard host wins',
    apps: [tenants, { name: 'eu', host: '*.eu.example.com', routes: ['/...'] }],
    host: 'x.eu.example.com',
    path: '/',
    expected: { app: 'eu', base: '', route: '/...', matched: '', pathInfo: '/' },
  },
  {
    name: 'an IPv6 host matches without its port',
    apps: [main, { name: 'local', host: '[::1]', routes: ['/...'] }],
    host: '[::1]:8080',
    path: '/',
    expected: { app: 'local', base: '', route: '/...', matched: '', pathInfo: '/' },
  },

  // Prefixes.
  {
    name: 'an app under a prefix sees the path below it',
    apps: [main, blog],
    path: '/blog/posts/7',
    expected: {
      app: 'blog',
      base: '/blog',
      route: '/posts/:id',
      params: { id: '7' },
      matched: '/posts/7',
      pathInfo: '',
    },
  },
  {
    name: 'the prefix alone reaches the app root route with nothing left over',
    apps: [main, blog],
    path: '/blog',
    expected: { app: 'blog', base: '/blog', route: '/', matched: '', pathInfo: '' },
  },
  {
    name: 'the prefix with a trailing slash reaches the app root route',
    apps: [main, blog],
    path: '/blog/',
    expected: { app: 'blog', base: '/blog', route: '/', matched: '', pathInfo: '/' },
  },
  {
    name: 'a prefix matches whole segments only',
    apps: [main, blog],
    path: '/blogs',
    expected: { app: 'main', base: '', route: '/...', matched: '', pathInfo: '/blogs' },
  },
  {
    name: 'the longest prefix wins',
    apps: [blog, { name: 'admin', prefix: '/blog/admin', routes: ['/...'] }],
    path: '/blog/admin/x',
    expected: { app: 'admin', base: '/blog/admin', route: '/...', matched: '', pathInfo: '/x' },
  },
  {
    name: 'the chosen app answers alone: a path none of its routes match is not passed on',
    apps: [main, blog],
    path: '/blog/nothing',
    expected: null,
  },
  {
    name: 'the base is the path as sent',
    apps: [{ name: 'cafe', prefix: '/café', routes: ['/...'] }],
    path: '/caf%C3%A9/x',
    expected: { app: 'cafe', base: '/caf%C3%A9', route: '/...', matched: '', pathInfo: '/x' },
  },
  {
    name: 'a ".." segment cannot leave a mount prefix',
    apps: [main, { name: 'files', prefix: '/files', routes: ['/...'] }],
    path: '/files/../admin',
    expected: { app: 'main', base: '', route: '/...', matched: '', pathInfo: '/admin' },
  },
  {
    name: 'a host tier without an app for the path falls through to the default app',
    apps: [main, { name: 'v1', host: 'api.example.com', prefix: '/v1', routes: ['/...'] }],
    host: 'api.example.com',
    path: '/v2/x',
    expected: { app: 'main', base: '', route: '/...', matched: '', pathInfo: '/v2/x' },
  },
  {
    name: 'no app for the host or path is no match',
    apps: [api],
    host: 'other.test',
    path: '/',
    expected: null,
  },

  // The reserved prefix.
  {
    name: 'a reserved path is never routed to an app',
    apps: [main],
    path: '/.well-known/isola/health',
    expected: null,
  },
  {
    name: 'the reserved prefix without its slash is reserved too',
    apps: [main],
    path: '/.well-known/isola',
    expected: null,
  },
  {
    name: 'a reserved path spelled with ".." is reserved too',
    apps: [main],
    path: '/x/../.well-known/isola/health',
    expected: null,
  },
  {
    name: "the rest of .well-known is the apps'",
    apps: [main],
    path: '/.well-known/acme-challenge/t',
    expected: {
      app: 'main',
      base: '',
      route: '/...',
      matched: '',
      pathInfo: '/.well-known/acme-challenge/t',
    },
  },
  {
    name: 'a route under the reserved prefix is refused',
    apps: [{ name: 'bad', routes: ['/.well-known/isola/x'] }],
    path: '/',
    expected: {
      refused: 'E_ROUTE_INVALID',
      message:
        /^route "\/\.well-known\/isola\/x" \(route 1\) of app "bad" is under "\/\.well-known\/isola\/", which isola keeps for its own endpoints: choose another path$/,
    },
  },
  {
    name: 'a route that reaches the reserved prefix through its mount is refused',
    apps: [{ name: 'bad', prefix: '/.well-known', routes: ['/isola/...'] }],
    path: '/',
    expected: { refused: 'E_ROUTE_INVALID', message: /"\/isola\/\.\.\." \(route 1\) of app "bad" is under/ },
  },
  {
    name: 'a mount prefix under the reserved prefix is refused',
    apps: [{ name: 'bad', prefix: '/.well-known/isola', routes: [] }],
    path: '/',
    expected: {
      refused: 'E_ROUTE_INVALID',
      message: /^mount prefix "\/\.well-known\/isola" of app "bad" is under/,
    },
  },
  {
    name: 'a wildcard over .well-known may be declared',
    apps: [{ name: 'wk', routes: ['/.well-known/...'] }],
    path: '/.well-known/x',
    expected: { app: 'wk', base: '', route: '/.well-known/...', matched: '/.well-known', pathInfo: '/x' },
  },

  // Bad hosts and prefixes, and two apps claiming the same place.
  {
    name: 'a host with a port is refused',
    apps: [{ name: 'a', host: 'example.com:8080', routes: [] }],
    path: '/',
    expected: {
      refused: 'E_ROUTE_INVALID',
      message:
        /^host "example\.com:8080" of app "a" is not a host name: hosts match without their port: write "example\.com"$/,
    },
  },
  {
    name: 'a host of "*" is refused',
    apps: [{ name: 'a', host: '*', routes: [] }],
    path: '/',
    expected: { refused: 'E_ROUTE_INVALID', message: /leave the host out to serve every host/ },
  },
  {
    name: 'a wildcard inside a host is refused',
    apps: [{ name: 'a', host: 'a.*.com', routes: [] }],
    path: '/',
    expected: {
      refused: 'E_ROUTE_INVALID',
      message: /write a name such as "example\.com" or "\*\.example\.com"/,
    },
  },
  {
    name: 'a unicode host is refused with its ASCII form',
    apps: [{ name: 'a', host: 'café.com', routes: [] }],
    path: '/',
    expected: { refused: 'E_ROUTE_INVALID', message: /punycode/ },
  },
  {
    name: 'a prefix with a trailing slash is refused',
    apps: [{ name: 'a', prefix: '/blog/', routes: [] }],
    path: '/',
    expected: {
      refused: 'E_ROUTE_INVALID',
      message: /^mount prefix "\/blog\/" of app "a" ends with "\/": write "\/blog"$/,
    },
  },
  {
    name: 'a prefix with a parameter is refused',
    apps: [{ name: 'a', prefix: '/:x', routes: [] }],
    path: '/',
    expected: { refused: 'E_ROUTE_INVALID', message: /is not a fixed path/ },
  },
  {
    name: 'a prefix without a leading slash is refused',
    apps: [{ name: 'a', prefix: 'blog', routes: [] }],
    path: '/',
    expected: {
      refused: 'E_ROUTE_INVALID',
      message: /^mount prefix "blog" of app "a" must start with "\/": write "\/blog"$/,
    },
  },
  {
    name: 'two default apps are refused, naming both',
    apps: [main, { name: 'other', routes: ['/'] }],
    path: '/',
    expected: {
      refused: 'E_ROUTE_DUPLICATE',
      message:
        /^apps "(main|other)" and "(main|other)" both serve every host at the root: give one of them another host or prefix$/,
    },
  },
  {
    name: 'two apps on one host and prefix are refused, whatever the host case',
    apps: [
      { ...blog, host: 'Example.com' },
      { ...blog, name: 'blog2', host: 'example.com' },
    ],
    path: '/',
    expected: { refused: 'E_ROUTE_DUPLICATE', message: /both serve host "example\.com" at "\/blog"/ },
  },
  {
    name: 'one host at two prefixes is fine',
    apps: [
      { ...api, prefix: '/v1' },
      { ...api, name: 'api2', prefix: '/v2' },
    ],
    host: 'api.example.com',
    path: '/v2/x',
    expected: { app: 'api2', base: '/v2', route: '/...', matched: '', pathInfo: '/x' },
  },
];

function mountAll(apps: readonly AppSpec[]): AppRouter<string> {
  const router = new AppRouter<string>();
  for (const { name, routes, ...rest } of apps) router.setApp(name, { ...rest, routes: routeValues(routes) });
  return router;
}

function routeValues(routes: readonly string[]): RouteDefinition<string>[] {
  return routes.map((pattern) => ({ pattern, value: pattern }));
}

function summary(match: AppMatch<string>): AppFound {
  const { app, base, value, params, matched, pathInfo } = match;
  return { app, base, route: value, params: { ...params }, matched, pathInfo };
}

function checkApps(apps: AppSpec[], c: AppCase): void {
  const { expected } = c;
  if (expected !== null && 'refused' in expected) {
    assert.throws(
      () => mountAll(apps),
      (error) => isIsolaError(error, expected.refused) && expected.message.test(error.message),
    );
    return;
  }
  const match = mountAll(apps).match(c.host, c.path);
  if (expected === null) assert.equal(match, undefined);
  else assert.deepEqual(match && summary(match), { ...expected, params: expected.params ?? {} });
}

describe('AppRouter chooses the app by host, then prefix, then the default', () => {
  for (const c of appCases) {
    test(c.name, () => {
      checkApps(c.apps, c);
      checkApps([...c.apps].reverse(), c);
    });
  }
});

describe('AppRouter swaps apps atomically', () => {
  const routes = (...patterns: string[]) => routeValues(patterns);

  test("setApp replaces an app's routes as a whole", () => {
    const router = new AppRouter<string>();
    router.setApp('a', { routes: routes('/old', '/both') });
    router.setApp('a', { routes: routes('/new', '/both') });
    assert.equal(router.match('h', '/old'), undefined);
    assert.equal(router.match('h', '/new')?.value, '/new');
    assert.equal(router.match('h', '/both')?.value, '/both');
  });

  test('a failed setApp leaves the previous table serving', () => {
    const router = new AppRouter<string>();
    router.setApp('a', { prefix: '/a', routes: routes('/old') });
    assert.throws(() => router.setApp('a', { prefix: '/a', routes: routes('/new', '/new') }), /twice/);
    assert.throws(() => router.setApp('a', { prefix: '/a/', routes: routes('/new') }), /ends with/);
    assert.equal(router.match(undefined, '/a/old')?.value, '/old');
    assert.equal(router.match(undefined, '/a/new'), undefined);
  });

  test('a failed setApp of a new app adds nothing', () => {
    const router = new AppRouter<string>();
    router.setApp('a', { routes: routes('/...') });
    assert.throws(() => router.setApp('b', { routes: routes('/x') }), { code: 'E_ROUTE_DUPLICATE' });
    assert.equal(router.has('b'), false);
    assert.equal(router.match(undefined, '/x')?.app, 'a');
  });

  test('an app may move to another host or prefix, and may keep its own', () => {
    const router = new AppRouter<string>();
    router.setApp('a', { host: 'a.test', routes: routes('/...') });
    router.setApp('a', { host: 'a.test', routes: routes('/x') });
    router.setApp('a', { prefix: '/a', routes: routes('/x') });
    assert.equal(router.match('a.test', '/x'), undefined);
    assert.equal(router.match('a.test', '/a/x')?.app, 'a');
  });

  test('removeApp stops serving an app and says whether there was one', () => {
    const router = new AppRouter<string>();
    router.setApp('main', { routes: routes('/...') });
    router.setApp('blog', { prefix: '/blog', routes: routes('/...') });
    assert.equal(router.removeApp('blog'), true);
    assert.equal(router.removeApp('blog'), false);
    assert.equal(router.has('blog'), false);
    assert.equal(router.match(undefined, '/blog/x')?.app, 'main');
  });

  test("a match already made keeps its app's value after a swap", () => {
    const router = new AppRouter<{ build: number }>();
    router.setApp('a', { routes: [{ pattern: '/...', value: { build: 1 } }] });
    const before = router.match(undefined, '/x');
    router.setApp('a', { routes: [{ pattern: '/...', value: { build: 2 } }] });
    assert.equal(before?.value.build, 1);
    assert.equal(router.match(undefined, '/x')?.value.build, 2);
  });
});
