/**
 * A component's `allowed_outbound_hosts`, in Spin's syntax, parsed once at deploy and matched
 * against each outbound URL. Nothing is allowed unless an entry grants it.
 *
 * An entry is `SCHEME://HOST[:PORT]`, with an optional trailing `/` and nothing after it (Spin's
 * `AllowedHostConfig::parse`, crates/outbound-networking-config/src/allowed_hosts.rs):
 *
 * - SCHEME: `http`, `https` or `*` (either). Spin also takes `redis`, `mysql` and the like for its
 *   other outbound interfaces; isola only makes HTTP requests, so those are refused rather than
 *   silently granting nothing.
 * - HOST: a DNS name (`api.example.com`, compared case-insensitively, IDN as punycode), `*.DOMAIN`
 *   (any name that ends in `.DOMAIN`, not DOMAIN itself, as in Spin), `*` (any host), an IPv4
 *   address, a bracketed IPv6 address (`[::1]`), or a network in CIDR form (`10.0.0.0/8`,
 *   `[fc00::]/7`, or Spin's unbracketed `fc00::/7:443`; host bits are cleared as Spin does).
 * - PORT: a number, a range `START..END` (END excluded, as Spin's Rust `Range` does), or `*`.
 *   Without one, the scheme's default (80 for http, 443 for https); `*` as scheme needs a port.
 *
 * Refused with a message that names the entry and what to write instead: `{{ variable }}`
 * templates (not resolved yet), Spin's `self`/`self.alt` and `*.spin.internal` service chaining
 * (isola has neither), brace lists (Spin has none either), `insecure:allow-all`, paths, user
 * information, shorthand IPv4 (`127.1`) and the unspecified address.
 *
 * A match grants the URL; which addresses its name may then connect to is address-policy.ts's
 * decision. Only an IP or CIDR entry, or `localhost`, grants a non-public address.
 */
import { domainToASCII } from 'node:url';
import { IsolaError } from '../errors.js';
import {
  formatIp,
  formatNetwork,
  type IpAddress,
  type IpNetwork,
  networkContains,
  parseIp,
  parseNetwork,
  unmapIpv4,
} from './ip-address.js';

export type AllowedScheme = 'http' | 'https' | '*';

export type HostPattern =
  | { readonly kind: 'any' }
  | { readonly kind: 'name'; readonly name: string }
  /** Any name ending in `.${domain}`. */
  | { readonly kind: 'subdomain'; readonly domain: string }
  | { readonly kind: 'network'; readonly network: IpNetwork };

export type PortPattern =
  | { readonly kind: 'any' }
  /** Ports from `first` up to but excluding `end`; a single port is `end = first + 1`. */
  | { readonly kind: 'range'; readonly first: number; readonly end: number };

export interface AllowedHost {
  /** The entry as written, for messages and logs. */
  readonly entry: string;
  readonly scheme: AllowedScheme;
  readonly host: HostPattern;
  readonly ports: PortPattern;
}

export type UrlDecision =
  | { readonly allowed: true; readonly grantedBy: AllowedHost }
  | { readonly allowed: false; readonly reason: string };

const DEFAULT_PORTS: Readonly<Record<string, number>> = { http: 80, https: 443 };

/** RFC 6761 §6.3: `localhost` is the loopback interface, whatever a resolver says. */
export const LOOPBACK_NETWORKS: readonly IpNetwork[] = [parseNetwork('127.0.0.0/8')!, parseNetwork('::1')!];

export class AllowList {
  /** The list of a component that declares no outbound hosts: every URL is denied. */
  static readonly NONE = new AllowList([], 'allowed_outbound_hosts');

  readonly entries: readonly AllowedHost[];
  /** The manifest key the entries came from, named in denial reasons. */
  readonly key: string;

  private constructor(entries: readonly AllowedHost[], key: string) {
    this.entries = Object.freeze([...entries]);
    this.key = key;
  }

  /**
   * Parses every entry, or throws E_MANIFEST_INVALID naming the first bad one (`KEY[INDEX]`) and
   * what to write instead. `key` is the manifest key, e.g. `component.api.allowed_outbound_hosts`.
   */
  static parse(entries: readonly string[], key = 'allowed_outbound_hosts'): AllowList {
    if (entries.length === 1 && entries[0]!.trim() === 'insecure:allow-all') {
      throw new IsolaError(
        'E_MANIFEST_INVALID',
        `${key} = ["insecure:allow-all"] is an old Spin spelling: write ["*://*:*"] to allow every public host (private addresses still need their own entry)`,
        { key, entry: entries[0] },
      );
    }
    const parsed = entries.map((entry, index) => {
      try {
        return parseAllowedHost(entry);
      } catch (error) {
        if (!(error instanceof EntryProblem)) throw error;
        throw new IsolaError('E_MANIFEST_INVALID', `${key}[${index}] "${entry}" ${error.message}`, {
          key: `${key}[${index}]`,
          entry,
        });
      }
    });
    return new AllowList(parsed, key);
  }

  /** Whether an entry grants `url` (scheme, host and port; the path is never looked at). */
  allows(url: URL | string): boolean {
    return this.check(url).allowed;
  }

  /** The entry that grants `url`, or why none does and what to add. */
  check(url: URL | string): UrlDecision {
    const target = toTarget(url);
    if (typeof target === 'string') return { allowed: false, reason: target };
    const grantedBy = this.entries.find((entry) => matches(entry, target));
    if (grantedBy !== undefined) return { allowed: true, grantedBy };
    const suggestion = `${target.scheme}://${target.host}${target.port === DEFAULT_PORTS[target.scheme] ? '' : `:${target.port}`}`;
    const granted =
      this.entries.length === 0
        ? 'none are granted'
        : this.entries.map((entry) => JSON.stringify(entry.entry)).join(', ');
    return {
      allowed: false,
      reason: `${target.scheme}://${target.host}:${target.port} is not in ${this.key} (${granted}): to allow it, add "${suggestion}"`,
    };
  }

  /**
   * The entry that grants connecting to `address` for a request with this scheme and port: an IP
   * or CIDR entry containing it, or a `localhost` entry when the address is loopback.
   */
  grantFor(scheme: string, port: number, address: IpAddress): AllowedHost | undefined {
    const ip = unmapIpv4(address);
    return this.entries.find((entry) => {
      if (!schemeMatches(entry.scheme, scheme) || !portMatches(entry.ports, port)) return false;
      if (entry.host.kind === 'network') return networkContains(entry.host.network, ip);
      if (entry.host.kind === 'name' && entry.host.name === 'localhost') {
        return LOOPBACK_NETWORKS.some((network) => networkContains(network, ip));
      }
      return false;
    });
  }
}

interface Target {
  scheme: string;
  /** Host name without a trailing dot, or the canonical IP text. */
  host: string;
  ip: IpAddress | undefined;
  port: number;
}

/** A URL's scheme, host and effective port, or why it cannot be checked. */
function toTarget(url: URL | string): Target | string {
  let parsed: URL;
  try {
    parsed = typeof url === 'string' ? new URL(url) : url;
  } catch {
    return `${JSON.stringify(url)} is not an absolute URL`;
  }
  const scheme = parsed.protocol.slice(0, -1);
  const ip = parseIp(parsed.hostname);
  const host = ip === undefined ? stripTrailingDot(parsed.hostname) : formatIp(ip);
  const port = parsed.port === '' ? DEFAULT_PORTS[scheme] : Number(parsed.port);
  if (port === undefined || !(scheme in DEFAULT_PORTS)) {
    return `${parsed.href} uses scheme "${scheme}": isola makes http and https requests only`;
  }
  if (host === '') return `${parsed.href} has no host`;
  return { scheme, host: ip?.family === 6 ? `[${host}]` : host, ip, port };
}

function matches(entry: AllowedHost, target: Target): boolean {
  return (
    schemeMatches(entry.scheme, target.scheme) &&
    hostMatches(entry.host, target) &&
    portMatches(entry.ports, target.port)
  );
}

function schemeMatches(pattern: AllowedScheme, scheme: string): boolean {
  return pattern === '*' ? scheme === 'http' || scheme === 'https' : pattern === scheme;
}

function hostMatches(pattern: HostPattern, target: Target): boolean {
  switch (pattern.kind) {
    case 'any':
      return true;
    case 'name':
      return target.ip === undefined && target.host === pattern.name;
    case 'subdomain':
      return target.ip === undefined && target.host.endsWith(`.${pattern.domain}`);
    case 'network':
      return target.ip !== undefined && networkContains(pattern.network, unmapIpv4(target.ip));
  }
}

function portMatches(pattern: PortPattern, port: number): boolean {
  return pattern.kind === 'any' || (port >= pattern.first && port < pattern.end);
}

/** What is wrong with one entry and what to write; `AllowList.parse` adds which entry it is. */
class EntryProblem extends Error {}

/** Parses one entry, throwing EntryProblem (see the module comment for the syntax). */
function parseAllowedHost(original: string): AllowedHost {
  const entry = original.trim();
  if (entry === '') throw new EntryProblem('is empty: write a URL such as "https://api.example.com"');
  const template = /\{\{\s*([^}]*?)\s*\}\}/.exec(entry);
  if (template !== null) {
    throw new EntryProblem(
      `uses the variable {{ ${template[1]} }}, which isola does not resolve in allowed_outbound_hosts yet: write the host itself, e.g. "https://api.example.com"`,
    );
  }
  const separator = entry.indexOf('://');
  if (separator === -1) {
    if (['*', ':', '?', '*:*'].includes(entry)) {
      throw new EntryProblem(
        'has no scheme: write "*://*:*" to allow every public host on every port, or list the hosts, as in "https://api.example.com"',
      );
    }
    throw new EntryProblem(`has no scheme: write "https://${entry}" or "http://${entry}"`);
  }
  const scheme = parseScheme(entry.slice(0, separator).toLowerCase());
  const { hostText, portText } = splitAuthority(entry.slice(separator + 3), entry.slice(0, separator));
  const host = parseHost(hostText);
  const ports = parsePorts(portText, scheme);
  return Object.freeze({ entry: original, scheme, host, ports });
}

function parseScheme(scheme: string): AllowedScheme {
  if (scheme === 'http' || scheme === 'https' || scheme === '*') return scheme;
  if (scheme.startsWith('{')) {
    throw new EntryProblem(
      'lists schemes in braces, which isola (like Spin) does not support: write one entry per scheme',
    );
  }
  throw new EntryProblem(
    `has scheme "${scheme}", but isola makes outbound requests over http and https only: write "https://…", "http://…" or "*://…"`,
  );
}

/** Splits `HOST[:PORT][/]`, where HOST may be `[v6]`, `[v6]/len`, `v4/len` or Spin's `v6/len`. */
function splitAuthority(rest: string, scheme: string): { hostText: string; portText: string | undefined } {
  if (rest.endsWith('/')) rest = rest.slice(0, -1);
  if (rest.includes('@')) throw new EntryProblem('has user information: write only SCHEME://HOST[:PORT]');
  const extra = /[?#]/.exec(rest);
  if (extra !== null) {
    throw new EntryProblem(
      `has "${rest.slice(extra.index)}" after the host: write only SCHEME://HOST[:PORT]`,
    );
  }
  let hostEnd: number;
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close === -1)
      throw new EntryProblem('opens "[" without closing it: write an IPv6 address as "[::1]"');
    hostEnd = close + 1;
    const prefix = /^\/\d+/.exec(rest.slice(hostEnd));
    if (prefix !== null) hostEnd += prefix[0].length;
  } else {
    const slash = rest.indexOf('/');
    if (slash !== -1 && parseIp(rest.slice(0, slash)) !== undefined) {
      // A network: ADDRESS/LEN, then perhaps :PORT (Spin writes IPv6 networks unbracketed).
      const prefix = /^\/\d+/.exec(rest.slice(slash));
      if (prefix === null) {
        throw new EntryProblem(
          `has "${rest}", which is not ADDRESS/PREFIX: write a network such as "10.0.0.0/8"`,
        );
      }
      hostEnd = slash + prefix[0].length;
    } else if (/^[^/]*:[^/]*:/.test(rest)) {
      throw new EntryProblem(
        'has an IPv6 address without brackets: write "[ADDRESS]" or "[ADDRESS]:PORT", as in "[::1]:8080"',
      );
    } else {
      hostEnd = /[:/]/.exec(rest)?.index ?? rest.length;
    }
  }
  const hostText = rest.slice(0, hostEnd);
  const after = rest.slice(hostEnd);
  if (after === '') return { hostText, portText: undefined };
  if (after.startsWith(':') && !after.includes('/')) return { hostText, portText: after.slice(1) };
  const slash = after.indexOf('/');
  throw new EntryProblem(
    `has a path ("${after.slice(slash)}"): an entry names a host and port only: write "${scheme}://${hostText}${after.slice(0, slash)}"`,
  );
}

function parseHost(text: string): HostPattern {
  if (text === '')
    throw new EntryProblem('has no host: write a host such as "api.example.com", or "*" for any');
  if (text === '*') return { kind: 'any' };
  if (text.startsWith('{')) {
    throw new EntryProblem(
      'lists hosts in braces, which isola (like Spin) does not support: write one entry per host',
    );
  }
  const lower = text.toLowerCase();
  if (lower === 'self' || lower === 'self.alt') {
    throw new EntryProblem(
      'asks for Spin\'s self-requests, which isola does not support yet: write the app\'s own URL, e.g. "http://127.0.0.1:3000"',
    );
  }
  if (lower === 'spin.internal' || lower.endsWith('.spin.internal')) {
    throw new EntryProblem(
      "asks for Spin's service chaining (*.spin.internal), which isola does not support: call the other component by its URL",
    );
  }
  const network = parseNetworkHost(text);
  if (network !== undefined) return { kind: 'network', network };
  if (lower.startsWith('*.')) {
    const domain = parseName(text.slice(2), text);
    return { kind: 'subdomain', domain };
  }
  if (text.includes('*')) {
    throw new EntryProblem(
      'has "*" inside the host: write "*" alone (any host) or as the first label (any subdomain, as in "*.example.com")',
    );
  }
  if (text.startsWith('['))
    throw new EntryProblem(`has ${text}, which is not an IPv6 address: write e.g. "[::1]"`);
  return { kind: 'name', name: parseName(text, text) };
}

/** An IP literal or CIDR network (v4, `[v6]`, `[v6]/len`, `v6/len`), or undefined for a name. */
function parseNetworkHost(text: string): IpNetwork | undefined {
  const bracketed = /^\[([^\]]*)\](\/.*)?$/.exec(text);
  const spelled = bracketed === null ? text : `${bracketed[1]}${bracketed[2] ?? ''}`;
  const slash = spelled.indexOf('/');
  const address = slash === -1 ? spelled : spelled.slice(0, slash);
  const ip = parseIp(address);
  if (ip === undefined) {
    if (bracketed !== null)
      throw new EntryProblem(`has ${text}, which is not an IPv6 address: write e.g. "[::1]"`);
    refuseShorthandIpv4(text);
    return undefined;
  }
  if (ip.family === 6 && bracketed === null && slash === -1) {
    throw new EntryProblem(`has an IPv6 address without brackets: write it as "[${text}]"`);
  }
  const network = parseNetwork(spelled);
  if (network === undefined) {
    const bits = ip.family === 4 ? 32 : 128;
    throw new EntryProblem(
      `has the network ${text}, whose prefix is not 0 to ${bits}: write e.g. "${formatIp(ip)}/${bits === 32 ? 24 : 64}"`,
    );
  }
  if (network.prefix === (ip.family === 4 ? 32 : 128) && ip.value === 0n) {
    throw new EntryProblem(
      `has the unspecified address ${text}, which names no host: write "127.0.0.1" (or "[::1]") for this machine`,
    );
  }
  return toIpv4IfMapped(network);
}

/** `::ffff:a.b.c.d` networks are IPv4 networks: addresses are compared unmapped. */
function toIpv4IfMapped(network: IpNetwork): IpNetwork {
  if (network.family !== 6 || network.prefix < 96) return network;
  const unmapped = unmapIpv4({ family: 6, value: network.base });
  if (unmapped.family === 6) return network;
  return { family: 4, base: unmapped.value, prefix: network.prefix - 96 };
}

/**
 * Hosts that a URL parser would read as IPv4 in a short form (`127.1`, `0x7f.0.0.1`,
 * `2130706433`; WHATWG URL's IPv4 parser): an entry must spell the address it grants.
 */
function refuseShorthandIpv4(text: string): void {
  let canonical: string;
  try {
    canonical = new URL(`http://${text}/`).hostname;
  } catch {
    return;
  }
  if (parseIp(canonical)?.family === 4) {
    throw new EntryProblem(`writes the IPv4 address ${canonical} in a short form: write "${canonical}"`);
  }
}

const LABEL = /^(?!-)[a-z0-9_-]{1,63}(?<!-)$/;

/** A DNS name, lower case, IDN as punycode, without a trailing dot; `written` is for messages. */
function parseName(text: string, written: string): string {
  const trimmed = text.endsWith('.') ? text.slice(0, -1) : text;
  // WHATWG URL reads a host whose last label is a number as IPv4, so no URL can name it.
  if (/(^|\.)(\d+|0x[0-9a-f]*)$/i.test(trimmed)) {
    throw new EntryProblem(
      `has the host "${written}", whose last label is a number: write a DNS name such as "api.example.com", or a whole IPv4 address`,
    );
  }
  const ascii = domainToASCII(trimmed);
  if (ascii === '' || ascii.length > 253 || !ascii.split('.').every((label) => LABEL.test(label))) {
    throw new EntryProblem(
      `has the host "${written}", which is not a DNS name: write e.g. "api.example.com"`,
    );
  }
  return ascii;
}

function parsePorts(text: string | undefined, scheme: AllowedScheme): PortPattern {
  if (text === undefined || text === '') {
    const port = DEFAULT_PORTS[scheme];
    if (port === undefined) {
      throw new EntryProblem(
        'has scheme "*" and no port, and "*" has no default port: write ":*" for any port or a port such as ":443"',
      );
    }
    return { kind: 'range', first: port, end: port + 1 };
  }
  if (text === '*') return { kind: 'any' };
  if (text.startsWith('{')) {
    throw new EntryProblem(
      'lists ports in braces, which isola (like Spin) does not support: write a range such as 8000..8100',
    );
  }
  const range = /^(\d+)\.\.(\d+)$/.exec(text);
  if (range !== null) {
    const first = parsePort(range[1]!, text);
    const end = parsePort(range[2]!, text);
    if (first >= end) {
      throw new EntryProblem(
        `has the empty port range ${text}: write START..END with START below END (END itself is excluded, as in Spin)`,
      );
    }
    return { kind: 'range', first, end };
  }
  const port = parsePort(text, text);
  return { kind: 'range', first: port, end: port + 1 };
}

function parsePort(digits: string, written: string): number {
  const port = /^\d{1,5}$/.test(digits) ? Number(digits) : Number.NaN;
  if (!(port >= 1 && port <= 65_535)) {
    throw new EntryProblem(
      `has the port "${written}": write a port from 1 to 65535, a range such as 8000..8100, or "*" for any port`,
    );
  }
  return port;
}

function stripTrailingDot(host: string): string {
  return host.endsWith('.') ? host.slice(0, -1) : host;
}

/**
 * What an entry grants, spelled out: `SCHEME://HOST:PORTS` with the default port written, networks
 * in CIDR form and ranges as `FIRST-LAST` (both included), e.g. `https://*.example.com:443`.
 */
export function describeAllowedHost(allowed: AllowedHost): string {
  const host = allowed.host;
  const hostText =
    host.kind === 'any'
      ? '*'
      : host.kind === 'name'
        ? host.name
        : host.kind === 'subdomain'
          ? `*.${host.domain}`
          : host.network.family === 6
            ? `[${formatNetwork(host.network)}]`
            : formatNetwork(host.network);
  const ports = allowed.ports;
  const portText =
    ports.kind === 'any'
      ? '*'
      : ports.end === ports.first + 1
        ? `${ports.first}`
        : `${ports.first}-${ports.end - 1}`;
  return `${allowed.scheme}://${hostText}:${portText}`;
}
