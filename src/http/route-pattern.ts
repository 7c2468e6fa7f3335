/**
 * Route patterns and request paths, both as lists of segments, so that matching compares a
 * segment with a segment and a percent-encoded slash (`%2F`) never acts as a separator.
 *
 * Pattern syntax (Spin's): `/hello` (exact), `/users/:id` (`:name` matches one non-empty
 * segment), `/static/...` (a trailing wildcard: `/static`, `/static/` and everything below it),
 * `/...` (every path). Patterns are checked when they are added, and a bad one is refused with
 * E_ROUTE_INVALID naming the fix: a pattern starts with `/`; `...` is only ever the whole last
 * segment; a parameter name is letters, digits and `_`, not starting with a digit, and used once;
 * there are no empty segments (so no trailing slash, except the root `/`), no `.` or `..`
 * segments, no `?` or `#`, no spaces or control characters, and `%` starts a valid escape.
 *
 * Request paths are normalized, never refused, so the router always sees the path a request
 * means, not a spelling of it that slips past a route's prefix:
 * - everything from the first `?` or `#` on is ignored;
 * - `.` and `..` segments (also spelled `%2e`, case-insensitive) are removed as RFC 3986 §5.2.4
 *   and the WHATWG URL parser remove them, `..` never climbing above the root; a path that ends
 *   in one of them ends in `/`;
 * - runs of `/` count as one (`//a` is `/a`), as nginx's `merge_slashes` does.
 * A path that does not start with `/` (`*`, an absolute URL) matches nothing.
 *
 * Literal segments compare by their percent-decoded text (RFC 3986 §6.2.2.2), so `/caf%C3%A9`,
 * `/caf%c3%a9` and `/café` are one path; a segment that is not valid percent-encoded UTF-8 is
 * kept as sent and then equals no literal. The segments handed back (for `matched` and
 * `pathInfo`) stay as the client sent them, still percent-encoded.
 */
import { IsolaError } from '../errors.js';

export type PatternSegment =
  | { readonly kind: 'literal'; readonly key: string }
  | { readonly kind: 'param'; readonly name: string };

export interface RoutePattern {
  /** The pattern as written. */
  readonly source: string;
  /** The segments before a trailing `...`: none for `/` and `/...`. */
  readonly segments: readonly PatternSegment[];
  /** Whether the pattern ends in `/...`. */
  readonly wildcard: boolean;
  /** Equal for two patterns exactly when they match the same paths (parameter names erased). */
  readonly key: string;
}

export interface RequestPath {
  /** The normalized path's segments, still percent-encoded as received; never empty strings. */
  readonly segments: readonly string[];
  /** Each segment's comparison key (see `segmentKey`). */
  readonly keys: readonly string[];
  /** Whether the normalized path ends in `/`; the root `/` does. */
  readonly trailingSlash: boolean;
}

/** The trailing wildcard segment. */
const WILDCARD = '...';

/** Keys of literal segments never hold `%` other than in `%25` and `%2F`, so these cannot collide. */
const PARAM_KEY = '%:';
const WILDCARD_KEY = '%...';
const PARAM_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const FORBIDDEN = /[\s?#\p{Cc}]/u;

/**
 * Parses and checks a route pattern. `label` names it in errors; the default is `route "<source>"`,
 * and a caller that knows who declared the route says so (`route "/a" (component "api")`).
 */
export function parseRoutePattern(source: string, label = `route ${JSON.stringify(source)}`): RoutePattern {
  if (!source.startsWith('/')) {
    const fix = source === '*' ? '"/..." for every path' : `"/${source}"`;
    throw invalid(source, label, `must start with "/": write ${fix}`);
  }
  if (source === '/') return { source, segments: [], wildcard: false, key: '/' };
  const parts = source.slice(1).split('/');
  const wildcard = parts[parts.length - 1] === WILDCARD;
  if (wildcard) parts.pop();
  const segments = parts.map((part, index) =>
    parseSegment(source, label, part, index === parts.length - 1 && !wildcard),
  );
  checkUniqueNames(source, label, segments);
  const key = segments.map((segment) => `/${segment.kind === 'literal' ? segment.key : PARAM_KEY}`).join('');
  return { source, segments, wildcard, key: wildcard ? `${key}/${WILDCARD_KEY}` : key || '/' };
}

/**
 * A segment's comparison key: its percent-decoded text with only `%` and `/` escaped again, so
 * that every spelling of the same text has one key and a decoded `/` stays inside the segment.
 * A segment that does not decode is its own key, which no literal has.
 */
export function segmentKey(raw: string): string {
  if (!raw.includes('%')) return raw;
  const text = tryDecode(raw);
  return text === undefined ? raw : text.replaceAll('%', '%25').replaceAll('/', '%2F');
}

/** A segment's percent-decoded text (a parameter's value); one that does not decode is kept as sent. */
export function decodeSegment(raw: string): string {
  if (!raw.includes('%')) return raw;
  return tryDecode(raw) ?? raw;
}

/** Splits and normalizes a request path (see the module comment); undefined unless it starts with `/`. */
export function parseRequestPath(target: string): RequestPath | undefined {
  const path = withoutQuery(target);
  if (!path.startsWith('/')) return undefined;
  const parts = path.split('/');
  const segments: string[] = [];
  for (let index = 1; index < parts.length; index++) {
    const part = parts[index]!;
    const dots = dotSegment(part);
    if (dots === 2) segments.pop();
    else if (dots === 0 && part !== '') segments.push(part);
  }
  const last = parts[parts.length - 1]!;
  const trailingSlash = last === '' || dotSegment(last) !== 0;
  const keys = path.includes('%') ? segments.map(segmentKey) : segments;
  return { segments, keys, trailingSlash };
}

function withoutQuery(target: string): string {
  const query = target.indexOf('?');
  const fragment = target.indexOf('#');
  const end = query === -1 ? fragment : fragment === -1 ? query : Math.min(query, fragment);
  return end === -1 ? target : target.slice(0, end);
}

/** 1 for a `.` segment, 2 for `..`, 0 otherwise; `%2e` spells a dot too (WHATWG URL, path state). */
function dotSegment(part: string): 0 | 1 | 2 {
  const first = part.charCodeAt(0);
  if ((first !== 0x2e && first !== 0x25) || part.length > 6) return 0; // neither . nor %
  const text = part.length <= 2 ? part : part.toLowerCase().replaceAll('%2e', '.');
  return text === '.' ? 1 : text === '..' ? 2 : 0;
}

function parseSegment(source: string, label: string, part: string, last: boolean): PatternSegment {
  if (part === '') {
    const fix = last
      ? `drop the trailing "/": write "${source.slice(0, -1)}" (it matches "${source}" too), or "${source}..." for everything below it`
      : `write "${source.replace(/\/{2,}/g, '/').replace(/(.)\/$/, '$1')}"`;
    throw invalid(source, label, `has an empty segment: ${fix}`);
  }
  if (part === '*' && last) {
    throw invalid(
      source,
      label,
      `uses "*": a wildcard is written "..." here: write "${source.slice(0, -1)}..."`,
    );
  }
  if (part === '*' || part.includes(WILDCARD)) {
    throw invalid(source, label, 'may use "..." only as the whole last segment, as in "/static/..."');
  }
  if (part.startsWith(':')) return parseParam(source, label, part);
  const forbidden = FORBIDDEN.exec(part);
  if (forbidden !== null) {
    throw invalid(source, label, `contains ${JSON.stringify(forbidden[0])}: ${forbiddenFix(forbidden[0])}`);
  }
  const text = tryDecode(part);
  if (text === undefined) {
    throw invalid(source, label, `has a malformed "%" escape: write "%25" for a literal "%"`);
  }
  if (text === '.' || text === '..') {
    throw invalid(source, label, `has a "${text}" segment, which no normalized request path has: remove it`);
  }
  return { kind: 'literal', key: segmentKey(part) };
}

function forbiddenFix(char: string): string {
  if (char === '?' || char === '#') return 'routes match the path only; remove the query or fragment';
  return `percent-encode it ("${encodeURIComponent(char)}")`;
}

function parseParam(source: string, label: string, part: string): PatternSegment {
  const name = part.slice(1);
  if (!PARAM_NAME.test(name)) {
    throw invalid(
      source,
      label,
      `has a bad parameter "${part}": a name is letters, digits and "_", not starting with a digit`,
    );
  }
  return { kind: 'param', name };
}

function checkUniqueNames(source: string, label: string, segments: readonly PatternSegment[]): void {
  const seen = new Set<string>();
  for (const segment of segments) {
    if (segment.kind !== 'param') continue;
    if (seen.has(segment.name)) {
      throw invalid(source, label, `names ":${segment.name}" twice: rename one of them`);
    }
    seen.add(segment.name);
  }
}

function tryDecode(raw: string): string | undefined {
  try {
    return decodeURIComponent(raw);
  } catch {
    return undefined;
  }
}

function invalid(source: string, label: string, problem: string): IsolaError {
  return new IsolaError('E_ROUTE_INVALID', `${label} ${problem}`, { pattern: source });
}
