/**
 * The CGI/1.1 meta-variables for one request (RFC 3875 §4.1), plus the route variables that
 * Spin's WAGI executor sets, so that a guest written for Spin or WAGI finds what it expects.
 *
 * A route's `:name` segments are passed as `X_PATH_PARAM_NAME` (uppercased, other characters as
 * `_`), beside Spin's X_* route variables; a client's headers cannot make one (theirs are HTTP_*).
 *
 * Choices the RFC leaves to the server:
 * - Every request header becomes `HTTP_<NAME>` (§4.1.18), except Content-Length and Content-Type,
 *   which are CONTENT_LENGTH and CONTENT_TYPE. Authorization is passed too: isola does not
 *   authenticate for the app, so the app must see it to do so itself.
 * - SCRIPT_NAME is the app's mount prefix plus the part of the path the route's fixed part
 *   matched, and PATH_INFO the rest, decoded (§4.1.5, §4.1.13) except that an encoded slash
 *   (`%2F`) stays encoded: decoding it would turn `/..%2Fadmin`, which the router kept inside
 *   the route, into `/../admin`. X_RAW_PATH_INFO keeps the rest exactly as sent.
 */

import { decodeSegment } from './route-pattern.js';

/** What the HTTP layer knows about a request that the guest's environment is made from. */
export interface CgiRequest {
  method: string;
  url: URL;
  headers: Headers;
  /** The client's address. */
  remoteAddr: string;
  /** Always HTTP/1.1 or HTTP/1.0, as the client spoke. */
  protocol: string;
  route: CgiRoute;
}

/** How the router matched the request. */
export interface CgiRoute {
  /** The app's mount prefix, e.g. `/shop`; empty when the app is mounted at the root. */
  base: string;
  /** The route as the manifest wrote it, e.g. `/hello/...`. */
  pattern: string;
  /** The part of the path the route's fixed part matched, e.g. `/hello`. */
  matched: string;
  /** The rest of the path, raw (still percent-encoded), e.g. `/a/b`; empty when nothing is left. */
  pathInfo: string;
  /** Values of the route's `:name` segments, decoded. Default none. */
  params?: Readonly<Record<string, string>>;
}

export const SERVER_SOFTWARE = 'isola/0.1';

/** The environment for the guest, in a stable order: CGI variables, route variables, then headers. */
export function cgiEnvironment(request: CgiRequest): [string, string][] {
  const { url, headers, route } = request;
  const pathInfo = decodePath(route.pathInfo);
  const env: [string, string][] = [
    ['AUTH_TYPE', ''],
    ['GATEWAY_INTERFACE', 'CGI/1.1'],
    ['PATH_INFO', pathInfo],
    ['PATH_TRANSLATED', pathInfo],
    ['QUERY_STRING', url.search.slice(1)],
    ['REMOTE_ADDR', request.remoteAddr],
    ['REMOTE_HOST', request.remoteAddr],
    ['REQUEST_METHOD', request.method],
    ['SCRIPT_NAME', route.base + route.matched],
    ['SERVER_NAME', url.hostname],
    ['SERVER_PORT', url.port || (url.protocol === 'https:' ? '443' : '80')],
    ['SERVER_PROTOCOL', request.protocol],
    ['SERVER_SOFTWARE', SERVER_SOFTWARE],
    ['X_MATCHED_ROUTE', route.base + route.pattern],
    ['X_COMPONENT_ROUTE', route.matched],
    ['X_RAW_COMPONENT_ROUTE', route.pattern],
    ['X_BASE_PATH', route.base || '/'],
    ['X_RAW_PATH_INFO', route.pathInfo],
    ['X_FULL_URL', url.href],
  ];
  for (const [name, value] of Object.entries(route.params ?? {})) {
    env.push([`X_PATH_PARAM_${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`, value]);
  }
  const length = headers.get('content-length');
  if (length !== null) env.push(['CONTENT_LENGTH', length]);
  const type = headers.get('content-type');
  if (type !== null) env.push(['CONTENT_TYPE', type]);
  for (const [name, value] of headers) {
    if (name === 'content-length' || name === 'content-type') continue;
    env.push([`HTTP_${name.toUpperCase().replaceAll('-', '_')}`, value]);
  }
  return env;
}

/** A percent-decoded path, except `%2F`; a malformed escape is kept as sent rather than refused. */
function decodePath(raw: string): string {
  return raw
    .split(/(%2[Ff])/)
    .map((part, index) => (index % 2 === 1 ? part : decodeSegment(part)))
    .join('');
}
