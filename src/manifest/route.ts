/**
 * HTTP route syntax, as Spin writes it: an exact path (`/hello`), `:name` segments that match any
 * one segment (`/users/:id`), and a trailing wildcard that also matches the path without it
 * (`/hello/...`). Checked when the manifest is read, so that a bad route fails the deploy with the
 * key and the fix. The rules are the router's (src/http/route-pattern.ts): a route starts with
 * `/`; `...` is only ever the whole last segment; a parameter name is letters, digits and `_`, not
 * starting with a digit, and used once; no empty segments (so no trailing slash, except the root
 * `/`), no `.` or `..` segments, no `?`, `#`, spaces or control characters, and `%` starts a valid
 * escape. Routes under `/.well-known/isola/` are refused too: isola answers those paths itself.
 */

export type RouteSegment =
  /** `text` is percent-decoded, so that two spellings of one path compare equal. */
  | { kind: 'literal'; text: string }
  | { kind: 'param'; name: string }
  /** `...`: the rest of the path, possibly nothing. Only ever the last segment. */
  | { kind: 'wildcard' };

/** Paths isola answers itself (health and metadata); no app route may claim them. */
export const RESERVED_ROUTE_PREFIX = '/.well-known/isola/';

export type RouteCheck = { ok: true; segments: RouteSegment[] } | { ok: false; problem: string; fix: string };

type Refusal = { problem: string; fix: string };

const PARAM_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const FORBIDDEN = /[\s?#\p{Cc}]/u;

/** Splits and checks a route; a refusal says what is wrong and what to write instead. */
export function parseRoute(route: string): RouteCheck {
  if (!route.startsWith('/')) {
    return { ok: false, problem: 'does not start with /', fix: `write "/${route === '*' ? '...' : route}"` };
  }
  if (route === '/') return { ok: true, segments: [] };
  const parts = route.slice(1).split('/');
  const segments: RouteSegment[] = [];
  for (const [index, part] of parts.entries()) {
    const segment = parseSegment(part, index === parts.length - 1, route);
    if ('problem' in segment) return { ok: false, ...segment };
    segments.push(segment);
  }
  const refusal = checkNames(segments) ?? checkReserved(segments);
  return refusal === undefined ? { ok: true, segments } : { ok: false, ...refusal };
}

function parseSegment(part: string, last: boolean, route: string): RouteSegment | Refusal {
  if (part === '') {
    return last
      ? {
          problem: 'ends with /',
          fix: `write "${route.slice(0, -1)}" (it matches "${route}" too), or "${route}..." for every path below`,
        }
      : { problem: 'has an empty segment (//)', fix: `write "${route.replace(/\/{2,}/g, '/')}"` };
  }
  if (part === '...')
    return last
      ? { kind: 'wildcard' }
      : { problem: 'has ... before its end', fix: 'put /... only at the end' };
  if (part === '*') {
    const fix = last
      ? `write "${route.slice(0, -1)}..."`
      : 'a wildcard is written /... at the end of the route';
    return { problem: 'uses * (a wildcard is written ...)', fix };
  }
  if (part.includes('...'))
    return { problem: `has "${part}"`, fix: 'use ... only as the whole last segment, as in "/static/..."' };
  if (part.startsWith(':')) {
    const name = part.slice(1);
    if (PARAM_NAME.test(name)) return { kind: 'param', name };
    return {
      problem: `has a bad parameter "${part}"`,
      fix: 'name it with letters, digits and _, not starting with a digit, as in /:id',
    };
  }
  const forbidden = FORBIDDEN.exec(part)?.[0];
  if (forbidden === '?' || forbidden === '#') {
    return {
      problem: `contains ${forbidden}`,
      fix: 'a route matches the path only; remove the query or fragment',
    };
  }
  if (forbidden !== undefined) {
    return {
      problem: `contains ${JSON.stringify(forbidden)}`,
      fix: `percent-encode it ("${encodeURIComponent(forbidden)}")`,
    };
  }
  const text = decode(part);
  if (text === undefined) return { problem: 'has a malformed % escape', fix: 'write %25 for a literal %' };
  if (text === '.' || text === '..')
    return { problem: `has a ${text} segment`, fix: 'write the path without it' };
  return { kind: 'literal', text };
}

function decode(part: string): string | undefined {
  try {
    return decodeURIComponent(part);
  } catch {
    return undefined;
  }
}

function checkNames(segments: readonly RouteSegment[]): Refusal | undefined {
  const names = segments.flatMap((segment) => (segment.kind === 'param' ? [segment.name] : []));
  const twice = names.find((name, index) => names.indexOf(name) !== index);
  return twice === undefined ? undefined : { problem: `names :${twice} twice`, fix: 'rename one of them' };
}

function checkReserved(segments: readonly RouteSegment[]): Refusal | undefined {
  const [first, second] = segments;
  if (first?.kind !== 'literal' || first.text !== '.well-known') return undefined;
  if (second?.kind !== 'literal' || second.text !== 'isola') return undefined;
  return {
    problem: `is under ${RESERVED_ROUTE_PREFIX}, which isola answers itself`,
    fix: 'use another path',
  };
}

/**
 * The route's shape, for finding duplicates: parameter names do not matter (`/a/:x` and `/a/:y`
 * match the same requests), nor do spellings of one literal (`/caf%C3%A9` is `/café`).
 */
export function routeShape(segments: readonly RouteSegment[]): string {
  // JSON quoting keeps a literal ":" or "..." apart from a parameter or the wildcard.
  return JSON.stringify(
    segments.map((segment) => (segment.kind === 'literal' ? segment.text : segment.kind === 'param' ? 1 : 2)),
  );
}
