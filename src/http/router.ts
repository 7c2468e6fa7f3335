/**
 * Routing for Wasm apps: which app serves a request, and which of its routes.
 *
 * A `RouteTable` is one app's routes (pattern syntax and path normalization: route-pattern.ts).
 * It is built whole and never changes, so every problem — a bad pattern (E_ROUTE_INVALID), two
 * patterns that match the same paths (E_ROUTE_DUPLICATE, naming both owners) — fails the deploy
 * before a request is served. A path is matched by the most specific route that matches it:
 *
 * 1. an exact route (only literal segments, no `...`), looked up in a Map;
 * 2. else a parameterized route (a `:name` segment, no `...`);
 * 3. else a wildcard route (ending in `...`), the one with the most segments before `...` first
 *    (the longest prefix: for `/a/b/c`, `/:x/b/...` beats `/a/...`);
 * and between two parameterized routes, or two wildcard routes with as many segments, the first
 * segment, left to right, where one is literal and the other a parameter decides for the literal
 * (for `/a/b`, `/a/:y` beats `/:x/b`). Two routes left undecided by these rules match the same
 * paths and were refused as duplicates, so the order is total.
 *
 * Exact and parameterized routes also match their path with a trailing slash (`/hello` matches
 * `/hello/`), as Spin's do. A `:name` matches one non-empty segment; `...` matches zero or more.
 *
 * A match reports what Spin's WAGI and Spin HTTP executors expose: the route's `pattern` as
 * written, its `params` (percent-decoded; `%2F` stays inside the value), the part of the path the
 * route's segments `matched` (`/hello` for `/hello/...`, SCRIPT_NAME) and the rest, `pathInfo`
 * (`/a/b`, `/`, or empty; PATH_INFO, Spin's `spin-path-info`). Both are raw (percent-encoded) and
 * taken from the normalized path: `matched` never ends in `/` (it is empty for `/` and `/...`),
 * `pathInfo` is empty or starts with `/`, and `matched + pathInfo` is the normalized path. Unlike
 * Spin, an exact route reached with a trailing slash reports it: `/hello/` gives pathInfo `/`.
 *
 * An `AppRouter` holds several apps behind one listener. Each has an optional host (`example.com`,
 * or `*.example.com` for any name below it but not itself; case and the request's port ignored)
 * and an optional mount prefix (`/blog`, matched segment by segment: not `/blogs`); its routes see
 * the path below the prefix. An app is chosen in tiers, each tried only when the one before has no
 * app whose prefix covers the path: apps for the exact host; apps for a wildcard host, the longest
 * suffix first; apps without a host. Within a tier the longest prefix wins, and an app with no
 * prefix (the default app) covers every path. The chosen app answers alone: a path none of its
 * routes match is not passed on to another app. Paths under `/.well-known/isola/` are never
 * routed to an app, and no app may declare a route or prefix there: the server answers them.
 *
 * `setApp` builds an app's table, checks it, and only then swaps it in with one assignment, so a
 * failed reload leaves the old table serving and a request never sees a half-built one.
 */
import { IsolaError } from '../errors.js';
import {
  decodeSegment,
  parseRequestPath,
  parseRoutePattern,
  type RequestPath,
  type RoutePattern,
} from './route-pattern.js';

export interface RouteDefinition<T> {
  /** `/hello`, `/users/:id`, `/static/...`: see route-pattern.ts. */
  readonly pattern: string;
  readonly value: T;
  /** Who declared the route, for errors, e.g. `component "api"`; default: its position. */
  readonly owner?: string;
}

export interface RouteMatch<T> {
  readonly value: T;
  /** The route's pattern as written, e.g. `/users/:id/...`. */
  readonly pattern: string;
  /** Each `:name` segment's percent-decoded value, in an object without a prototype. */
  readonly params: Readonly<Record<string, string>>;
  /** The part of the path the route's segments matched, raw; never ends in `/`. */
  readonly matched: string;
  /** The rest of the path, raw: empty or starting with `/`. */
  readonly pathInfo: string;
}

/** What every router implementation offers; router.test.ts holds the contract they all pass. */
export interface Router<T> {
  /** The route that serves `path` (a request target; its query is ignored), or undefined. */
  match(path: string | RequestPath): RouteMatch<T> | undefined;
}

export interface TableRoute<T> {
  readonly pattern: RoutePattern;
  readonly value: T;
  readonly owner: string;
}

/** One app's routes: exact ones in a Map, the others in a list ranked most specific first. */
export class RouteTable<T> implements Router<T> {
  /** Every route, in the order given. */
  readonly routes: readonly TableRoute<T>[];
  readonly #exact = new Map<string, TableRoute<T>>();
  readonly #ranked: TableRoute<T>[] = [];

  /** Throws E_ROUTE_INVALID for a bad pattern, E_ROUTE_DUPLICATE for two that match the same paths. */
  constructor(definitions: Iterable<RouteDefinition<T>>) {
    const routes: TableRoute<T>[] = [];
    const byKey = new Map<string, TableRoute<T>>();
    for (const definition of definitions) {
      const route = compileRoute(definition, routes.length);
      const other = byKey.get(route.pattern.key);
      if (other !== undefined) throw duplicateRoute(other, route);
      byKey.set(route.pattern.key, route);
      routes.push(route);
      if (isExact(route.pattern)) this.#exact.set(route.pattern.key, route);
      else this.#ranked.push(route);
    }
    this.#ranked.sort(bySpecificity);
    this.routes = routes;
  }

  match(target: string | RequestPath): RouteMatch<T> | undefined {
    const path = typeof target === 'string' ? parseRequestPath(target) : target;
    if (path === undefined) return undefined;
    if (this.#exact.size > 0) {
      const exact = this.#exact.get(`/${path.keys.join('/')}`);
      if (exact !== undefined) return toMatch(exact, path);
    }
    for (const route of this.#ranked) {
      if (matchesPath(route.pattern, path)) return toMatch(route, path);
    }
    return undefined;
  }
}

function compileRoute<T>(definition: RouteDefinition<T>, index: number): TableRoute<T> {
  const owner = definition.owner ?? `route ${index + 1}`;
  const label = `route ${JSON.stringify(definition.pattern)} (${owner})`;
  return { pattern: parseRoutePattern(definition.pattern, label), value: definition.value, owner };
}

function isExact(pattern: RoutePattern): boolean {
  return !pattern.wildcard && pattern.segments.every((segment) => segment.kind === 'literal');
}

/** The ranking of the module comment, for the routes that are not exact. */
function bySpecificity(a: TableRoute<unknown>, b: TableRoute<unknown>): number {
  const [x, y] = [a.pattern, b.pattern];
  if (x.wildcard !== y.wildcard) return x.wildcard ? 1 : -1;
  if (x.segments.length !== y.segments.length) return y.segments.length - x.segments.length;
  for (let index = 0; index < x.segments.length; index++) {
    const [left, right] = [x.segments[index]!.kind, y.segments[index]!.kind];
    if (left !== right) return left === 'literal' ? -1 : 1;
  }
  // Neither can match a path the other matches; any fixed order will do.
  return x.key < y.key ? -1 : 1;
}

function matchesPath(pattern: RoutePattern, path: RequestPath): boolean {
  const { segments } = pattern;
  const count = path.keys.length;
  if (pattern.wildcard ? count < segments.length : count !== segments.length) return false;
  for (let index = 0; index < segments.length; index++) {
    const segment = segments[index]!;
    // A parameter matches any segment: a normalized path has no empty ones.
    if (segment.kind === 'literal' && segment.key !== path.keys[index]) return false;
  }
  return true;
}

function toMatch<T>(route: TableRoute<T>, path: RequestPath): RouteMatch<T> {
  const { segments } = route.pattern;
  const params: Record<string, string> = Object.create(null);
  for (let index = 0; index < segments.length; index++) {
    const segment = segments[index]!;
    if (segment.kind === 'param') params[segment.name] = decodeSegment(path.segments[index]!);
  }
  return {
    value: route.value,
    pattern: route.pattern.source,
    params,
    matched: joinSegments(path.segments, 0, segments.length),
    pathInfo:
      joinSegments(path.segments, segments.length, path.segments.length) + (path.trailingSlash ? '/' : ''),
  };
}

/** `/a/b` for segments a and b; empty for none. */
function joinSegments(segments: readonly string[], start: number, end: number): string {
  let joined = '';
  for (let index = start; index < end; index++) joined += `/${segments[index]}`;
  return joined;
}

function duplicateRoute(first: TableRoute<unknown>, second: TableRoute<unknown>): IsolaError {
  const [a, b] = [first.pattern.source, second.pattern.source];
  const same = a === b ? `"${a}" twice` : `"${a}" and "${b}", which match the same paths`;
  return new IsolaError(
    'E_ROUTE_DUPLICATE',
    `${first.owner} and ${second.owner} declare ${same}: remove one, or change its pattern`,
    { routes: [a, b], owners: [first.owner, second.owner] },
  );
}

/** Where isola answers for itself (health); no app may claim it. */
export const RESERVED_PREFIX = '/.well-known/isola/';
const RESERVED_KEYS = ['.well-known', 'isola'] as const;

/** Whether a normalized path is under RESERVED_PREFIX (`/.well-known/isola` itself included). */
export function isReservedPath(path: RequestPath): boolean {
  return path.keys[0] === RESERVED_KEYS[0] && path.keys[1] === RESERVED_KEYS[1];
}

export interface AppDefinition<T> {
  /** Serve only requests for this host: `example.com`, or `*.example.com` for the names below it. */
  readonly host?: string;
  /** Serve only paths under this prefix, e.g. `/blog`; the routes see the path below it. */
  readonly prefix?: string;
  readonly routes: Iterable<RouteDefinition<T>>;
}

export interface AppMatch<T> extends RouteMatch<T> {
  /** The app's name. */
  readonly app: string;
  /** The part of the path its prefix matched, raw; empty without one. `base + matched + pathInfo` is the path. */
  readonly base: string;
}

interface MountedApp<T> {
  readonly name: string;
  /** Lowercase: `example.com`, `*.example.com`, or undefined for any host. */
  readonly host: string | undefined;
  readonly prefix: string | undefined;
  /** The prefix's segment keys; none for the root. */
  readonly prefixKeys: readonly string[];
  readonly table: RouteTable<T>;
}

interface AppIndex<T> {
  readonly byHost: ReadonlyMap<string, readonly MountedApp<T>[]>;
  /** Keyed by the suffix a wildcard host stands for: `.example.com` for `*.example.com`. */
  readonly bySuffix: ReadonlyMap<string, readonly MountedApp<T>[]>;
  readonly anyHost: readonly MountedApp<T>[];
}

/** Several apps behind one listener, chosen by host and path prefix (see the module comment). */
export class AppRouter<T> {
  readonly #apps = new Map<string, MountedApp<T>>();
  #index: AppIndex<T> = indexApps([]);

  /**
   * Adds an app or replaces it as a whole. Throws E_ROUTE_INVALID or E_ROUTE_DUPLICATE (also when
   * another app has the same host and prefix), and then the app's previous table keeps serving.
   */
  setApp(name: string, definition: AppDefinition<T>): void {
    const app = mountApp(name, definition);
    for (const other of this.#apps.values()) {
      if (other.name !== name && other.host === app.host && claimsSamePrefix(other, app)) {
        throw duplicateApp(other, app);
      }
    }
    this.#apps.set(name, app);
    this.#index = indexApps([...this.#apps.values()]);
  }

  /** Removes an app; false if there was none by that name. */
  removeApp(name: string): boolean {
    if (!this.#apps.delete(name)) return false;
    this.#index = indexApps([...this.#apps.values()]);
    return true;
  }

  has(name: string): boolean {
    return this.#apps.has(name);
  }

  /** The app and route for a request's Host header and target, or undefined (a 404). */
  match(host: string | null | undefined, target: string): AppMatch<T> | undefined {
    const path = parseRequestPath(target);
    if (path === undefined || isReservedPath(path)) return undefined;
    const app = this.#select(requestHostname(host), path);
    if (app === undefined) return undefined;
    const depth = app.prefixKeys.length;
    const below =
      depth === 0
        ? path
        : {
            segments: path.segments.slice(depth),
            keys: path.keys.slice(depth),
            trailingSlash: path.trailingSlash,
          };
    const match = app.table.match(below);
    if (match === undefined) return undefined;
    // Written out rather than spread: this runs on every request.
    const { value, pattern, params, matched, pathInfo } = match;
    return {
      value,
      pattern,
      params,
      matched,
      pathInfo,
      app: app.name,
      base: joinSegments(path.segments, 0, depth),
    };
  }

  #select(host: string | undefined, path: RequestPath): MountedApp<T> | undefined {
    const index = this.#index;
    if (host !== undefined) {
      const app = coveringApp(index.byHost.get(host), path) ?? this.#selectBySuffix(host, path);
      if (app !== undefined) return app;
    }
    return coveringApp(index.anyHost, path);
  }

  /** Tries `.b.example.com`, then `.example.com`, then `.com` for `a.b.example.com`: longest first. */
  #selectBySuffix(host: string, path: RequestPath): MountedApp<T> | undefined {
    const { bySuffix } = this.#index;
    if (bySuffix.size === 0) return undefined;
    for (let dot = host.indexOf('.', 1); dot !== -1; dot = host.indexOf('.', dot + 1)) {
      const app = coveringApp(bySuffix.get(host.slice(dot)), path);
      if (app !== undefined) return app;
    }
    return undefined;
  }
}

/** The first app (longest prefix first) whose prefix covers the path. */
function coveringApp<T>(
  apps: readonly MountedApp<T>[] | undefined,
  path: RequestPath,
): MountedApp<T> | undefined {
  if (apps === undefined) return undefined;
  for (const app of apps) {
    if (startsWith(path.keys, app.prefixKeys)) return app;
  }
  return undefined;
}

function indexApps<T>(apps: readonly MountedApp<T>[]): AppIndex<T> {
  const byHost = new Map<string, MountedApp<T>[]>();
  const bySuffix = new Map<string, MountedApp<T>[]>();
  const anyHost: MountedApp<T>[] = [];
  for (const app of [...apps].sort((a, b) => b.prefixKeys.length - a.prefixKeys.length)) {
    if (app.host === undefined) anyHost.push(app);
    else if (app.host.startsWith('*.')) pushTo(bySuffix, app.host.slice(1), app);
    else pushTo(byHost, app.host, app);
  }
  return { byHost, bySuffix, anyHost };
}

function pushTo<T>(map: Map<string, T[]>, key: string, value: T): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [value]);
  else list.push(value);
}

function mountApp<T>(name: string, definition: AppDefinition<T>): MountedApp<T> {
  const host = definition.host === undefined ? undefined : parseHost(definition.host, name);
  const prefixKeys = definition.prefix === undefined ? [] : parsePrefix(definition.prefix, name);
  const table = new RouteTable(definition.routes);
  for (const route of table.routes) {
    if (claimsReserved(prefixKeys, route.pattern)) {
      throw reserved(`route ${JSON.stringify(route.pattern.source)} (${route.owner}) of app "${name}"`);
    }
  }
  return { name, host, prefix: definition.prefix, prefixKeys, table };
}

const HOST_NAME = /^(\*\.)?[a-z0-9_-]+(\.[a-z0-9_-]+)*$/;
const IP_LITERAL = /^\[[0-9a-f:.]+\]$/;

/** A configured host, lowercase, without a final dot; refused with the fix when it is not a name. */
function parseHost(source: string, app: string): string {
  const host = source.toLowerCase().replace(/\.$/, '');
  if (HOST_NAME.test(host) || IP_LITERAL.test(host)) return host;
  const label = `host ${JSON.stringify(source)} of app "${app}"`;
  throw new IsolaError('E_ROUTE_INVALID', `${label} is not a host name: ${hostFix(host)}`, { host: source });
}

function hostFix(host: string): string {
  if (host === '*') return 'leave the host out to serve every host';
  const port = /^([^[]*):\d*$/.exec(host);
  if (port !== null) return `hosts match without their port: write "${port[1]}"`;
  if (/[^\p{ASCII}]/u.test(host)) return 'write its ASCII ("xn--", punycode) form';
  return 'write a name such as "example.com" or "*.example.com"';
}

/** A mount prefix's segment keys: a fixed path such as `/blog`; `/` is the root. */
function parsePrefix(source: string, app: string): string[] {
  if (source === '/') return [];
  const label = `mount prefix ${JSON.stringify(source)} of app "${app}"`;
  if (source.endsWith('/')) {
    throw new IsolaError('E_ROUTE_INVALID', `${label} ends with "/": write "${source.replace(/\/+$/, '')}"`, {
      prefix: source,
    });
  }
  const pattern = parseRoutePattern(source, label);
  const keys: string[] = [];
  for (const segment of pattern.segments) {
    if (segment.kind === 'literal') keys.push(segment.key);
  }
  if (pattern.wildcard || keys.length !== pattern.segments.length) {
    throw new IsolaError(
      'E_ROUTE_INVALID',
      `${label} is not a fixed path: a prefix has no ":name" or "..." segments; put those in the routes`,
      { prefix: source },
    );
  }
  if (claimsReserved(keys, undefined)) throw reserved(label);
  return keys;
}

/** Whether the prefix and pattern together start with the reserved segments, literally. */
function claimsReserved(prefixKeys: readonly string[], pattern: RoutePattern | undefined): boolean {
  const keys: (string | undefined)[] = [...prefixKeys];
  for (const segment of pattern?.segments ?? []) {
    keys.push(segment.kind === 'literal' ? segment.key : undefined);
  }
  return keys[0] === RESERVED_KEYS[0] && keys[1] === RESERVED_KEYS[1];
}

function reserved(label: string): IsolaError {
  return new IsolaError(
    'E_ROUTE_INVALID',
    `${label} is under "${RESERVED_PREFIX}", which isola keeps for its own endpoints: choose another path`,
    { reserved: RESERVED_PREFIX },
  );
}

function startsWith(keys: readonly string[], prefix: readonly string[]): boolean {
  return prefix.length <= keys.length && prefix.every((key, index) => key === keys[index]);
}

function claimsSamePrefix(a: MountedApp<unknown>, b: MountedApp<unknown>): boolean {
  return a.prefixKeys.length === b.prefixKeys.length && startsWith(a.prefixKeys, b.prefixKeys);
}

function duplicateApp(first: MountedApp<unknown>, second: MountedApp<unknown>): IsolaError {
  const host = second.host === undefined ? 'every host' : `host "${second.host}"`;
  const prefix = second.prefix === undefined || second.prefix === '/' ? 'the root' : `"${second.prefix}"`;
  return new IsolaError(
    'E_ROUTE_DUPLICATE',
    `apps "${first.name}" and "${second.name}" both serve ${host} at ${prefix}: give one of them another host or prefix`,
    { apps: [first.name, second.name], host: second.host, prefix: second.prefix },
  );
}

/** The Host header's name, lowercase, without port or final dot; undefined when there is none. */
function requestHostname(header: string | null | undefined): string | undefined {
  if (!header) return undefined;
  let host = header;
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    if (end !== -1) host = host.slice(0, end + 1);
  } else {
    const colon = host.indexOf(':');
    if (colon !== -1) host = host.slice(0, colon);
  }
  if (host.endsWith('.')) host = host.slice(0, -1);
  return host === '' ? undefined : host.toLowerCase();
}
