/**
 * Which addresses a guest's outbound request may connect to, decided after DNS resolution so a
 * name that resolves to a private address cannot reach it (the DNS-rebinding and SSRF defence).
 *
 * The rule, for a request whose URL the allow-list granted, and each address its host resolved to:
 *
 * 1. Never an address that names no single peer: unspecified (`0.0.0.0/8`, `::`; connecting to
 *    `0.0.0.0` reaches this machine on Linux), multicast or broadcast. No grant opens these.
 * 2. A public address: yes.
 * 3. Any other address (loopback, RFC 1918, link-local, CGNAT, unique-local, documentation and
 *    other reserved ranges): only when it was granted for this scheme and port
 *    - by the app, with an IP or CIDR entry that contains it (`http://127.0.0.1:8080`,
 *      `https://10.0.0.0/8`), or with `localhost`, which grants the loopback ranges; or
 *    - by the operator, with `trustedNetworks` (say an internal service network), which opens
 *      those networks to every app whose allow-list names the host.
 *    A name the app lists (`http://db.internal`) grants no private address by itself: the
 *    component could otherwise be pointed at anything its resolver returns.
 *
 * An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) is judged as the IPv4 address it maps, as are
 * the IPv4 addresses inside NAT64 (`64:ff9b::/96`) and 6to4 (`2002::/16`) addresses. Ranges are
 * IANA's IPv4 and IPv6 Special-Purpose Address Registries (RFC 6890); IPv6 outside `2000::/3`, the
 * only range allocated for global unicast (RFC 4291 §2.4), is reserved.
 *
 * Spin reaches a similar end the other way round: it allows what the allow-list grants and lets
 * the operator block networks (`blocked_networks`, with `private` for the private ranges), failing
 * with `destination-IP-prohibited` when every address is blocked; isola blocks non-public ranges
 * by default and lets the app or operator grant them.
 */
import { IsolaError } from '../errors.js';
import { type AllowedHost, AllowList, type UrlDecision } from './allow-list.js';
import {
  formatIp,
  type IpAddress,
  type IpNetwork,
  networkContains,
  parseIp,
  parseNetwork,
} from './ip-address.js';

export type AddressKind =
  | 'public'
  | 'unspecified'
  | 'loopback'
  /** RFC 1918: 10/8, 172.16/12, 192.168/16. */
  | 'private'
  /** RFC 6598 shared address space (carrier-grade NAT): 100.64/10. */
  | 'shared'
  | 'link-local'
  /** RFC 4193: fc00::/7. */
  | 'unique-local'
  | 'multicast'
  | 'broadcast'
  /** Documentation, benchmarking, protocol assignments, future use, unallocated IPv6. */
  | 'reserved';

export interface AddressClass {
  readonly kind: AddressKind;
  /** The special-purpose range the address is in (for a public address, the whole space). */
  readonly range: string;
  /** Where the range is defined. */
  readonly reference: string;
  /** For an address judged by the IPv4 address inside it: that address. */
  readonly embedded?: string;
}

interface Row {
  network: IpNetwork;
  range: string;
  kind: AddressKind | 'embedded-ipv4';
  reference: string;
  /** For `embedded-ipv4`: how many bits the IPv4 address sits above the low end. */
  shift?: bigint;
}

function row(range: string, kind: Row['kind'], reference: string, shift?: bigint): Row {
  const network = parseNetwork(range);
  if (network === undefined) throw new Error(`bad range ${range}`);
  return shift === undefined
    ? { network, range, kind, reference }
    : { network, range, kind, reference, shift };
}

/** Most specific ranges first: the first row that contains an address classifies it. */
const IPV4_ROWS: readonly Row[] = [
  row('255.255.255.255/32', 'broadcast', 'RFC 919'),
  row('0.0.0.0/8', 'unspecified', 'RFC 1122 §3.2.1.3'),
  row('10.0.0.0/8', 'private', 'RFC 1918'),
  row('100.64.0.0/10', 'shared', 'RFC 6598'),
  row('127.0.0.0/8', 'loopback', 'RFC 1122 §3.2.1.3'),
  row('169.254.0.0/16', 'link-local', 'RFC 3927'),
  row('172.16.0.0/12', 'private', 'RFC 1918'),
  row('192.0.0.0/24', 'reserved', 'RFC 6890 (IETF protocol assignments)'),
  row('192.0.2.0/24', 'reserved', 'RFC 5737 (documentation)'),
  row('192.88.99.0/24', 'reserved', 'RFC 7526 (deprecated 6to4 relay anycast)'),
  row('192.168.0.0/16', 'private', 'RFC 1918'),
  row('198.18.0.0/15', 'reserved', 'RFC 2544 (benchmarking)'),
  row('198.51.100.0/24', 'reserved', 'RFC 5737 (documentation)'),
  row('203.0.113.0/24', 'reserved', 'RFC 5737 (documentation)'),
  row('224.0.0.0/4', 'multicast', 'RFC 5771'),
  row('240.0.0.0/4', 'reserved', 'RFC 1112 (future use)'),
];

const IPV6_ROWS: readonly Row[] = [
  row('::/128', 'unspecified', 'RFC 4291 §2.5.2'),
  row('::1/128', 'loopback', 'RFC 4291 §2.5.3'),
  row('::ffff:0:0/96', 'embedded-ipv4', 'RFC 4291 §2.5.5.2 (IPv4-mapped)', 0n),
  row('::/96', 'reserved', 'RFC 4291 §2.5.5.1 (deprecated IPv4-compatible)'),
  row('64:ff9b::/96', 'embedded-ipv4', 'RFC 6052 (NAT64)', 0n),
  row('64:ff9b:1::/48', 'private', 'RFC 8215 (local-use NAT64)'),
  row('100::/64', 'reserved', 'RFC 6666 (discard)'),
  row('2001::/32', 'reserved', 'RFC 4380 (Teredo)'),
  row('2001:2::/48', 'reserved', 'RFC 5180 (benchmarking)'),
  row('2001:db8::/32', 'reserved', 'RFC 3849 (documentation)'),
  row('2002::/16', 'embedded-ipv4', 'RFC 3056 (6to4)', 80n),
  row('fc00::/7', 'unique-local', 'RFC 4193'),
  row('fe80::/10', 'link-local', 'RFC 4291 §2.5.6'),
  row('fec0::/10', 'reserved', 'RFC 3879 (deprecated site-local)'),
  row('ff00::/8', 'multicast', 'RFC 4291 §2.7'),
];

const GLOBAL_UNICAST_V6 = parseNetwork('2000::/3')!;

/** Classifies an address (text or parsed); throws E_ARGUMENT_INVALID for text that is not one. */
export function classifyAddress(address: string | IpAddress): AddressClass {
  const ip = typeof address === 'string' ? parseIp(address) : address;
  if (ip === undefined) {
    throw new IsolaError('E_ARGUMENT_INVALID', `"${String(address)}" is not an IP address`, { address });
  }
  const rows = ip.family === 4 ? IPV4_ROWS : IPV6_ROWS;
  const found = rows.find((candidate) => networkContains(candidate.network, ip));
  if (found === undefined) {
    if (ip.family === 6 && !networkContains(GLOBAL_UNICAST_V6, ip)) {
      return { kind: 'reserved', range: 'outside 2000::/3', reference: 'RFC 4291 §2.4 (unallocated)' };
    }
    return { kind: 'public', range: ip.family === 4 ? '0.0.0.0/0' : '2000::/3', reference: 'RFC 6890' };
  }
  if (found.kind !== 'embedded-ipv4')
    return { kind: found.kind, range: found.range, reference: found.reference };
  const inner: IpAddress = { family: 4, value: (ip.value >> found.shift!) & 0xffffffffn };
  const innerClass = classifyAddress(inner);
  return { ...innerClass, embedded: formatIp(inner) };
}

/** Addresses no grant opens: they name no single peer. */
const NEVER: ReadonlySet<AddressKind> = new Set(['unspecified', 'multicast', 'broadcast']);

export interface OutboundPolicyOptions {
  /**
   * Non-public networks (CIDR, e.g. `10.20.0.0/16`) the operator opens to every app whose
   * allow-list names the host. Default: none.
   */
  trustedNetworks?: readonly string[];
}

/** The host and port a request goes to, as the address decision needs them. */
export interface OutboundTarget {
  readonly scheme: string;
  /** The URL's host, for messages. */
  readonly hostname: string;
  readonly port: number;
}

export type AddressDecision =
  | {
      readonly allowed: true;
      readonly address: string;
      readonly class: AddressClass;
      /** Why: public, an app entry (named), or the operator's trusted networks. */
      readonly grantedBy: 'public' | 'trusted-network' | AllowedHost;
    }
  | {
      readonly allowed: false;
      readonly address: string;
      readonly class: AddressClass;
      readonly reason: string;
    };

/** An app's allow-list plus the operator's trusted networks: everything a request is checked against. */
export class OutboundPolicy {
  /** Grants nothing: for a component that declares no outbound hosts. */
  static readonly NONE = new OutboundPolicy(AllowList.NONE);

  readonly allowList: AllowList;
  readonly #trusted: readonly IpNetwork[];

  /** Throws E_ARGUMENT_INVALID for a trusted network that is not CIDR. */
  constructor(allowList: AllowList, options: OutboundPolicyOptions = {}) {
    this.allowList = allowList;
    this.#trusted = (options.trustedNetworks ?? []).map((text) => {
      const network = parseNetwork(text.trim());
      if (network === undefined) {
        throw new IsolaError(
          'E_ARGUMENT_INVALID',
          `trusted network "${text}" is not a network: write CIDR such as "10.0.0.0/8" or "fd00::/8"`,
          { network: text },
        );
      }
      return network;
    });
  }

  /** Whether the allow-list grants the URL (scheme, host, port). */
  checkUrl(url: URL | string): UrlDecision {
    return this.allowList.check(url);
  }

  /** Whether a request to `target` may connect to `address`, one of its host's addresses. */
  checkAddress(target: OutboundTarget, address: string): AddressDecision {
    const ip = parseIp(address);
    if (ip === undefined) {
      throw new IsolaError('E_ARGUMENT_INVALID', `"${address}" is not an IP address`, { address });
    }
    const text = formatIp(ip);
    const addressClass = classifyAddress(ip);
    const literal = ip.family === 6 ? `[${text}]` : text;
    const named = target.hostname === literal ? `${literal} is` : `${target.hostname} resolved to ${text},`;
    const described = `${named} ${describeClass(addressClass)}`;
    if (NEVER.has(addressClass.kind)) {
      return {
        allowed: false,
        address: text,
        class: addressClass,
        reason: `${described}: isola never connects to one`,
      };
    }
    if (addressClass.kind === 'public')
      return { allowed: true, address: text, class: addressClass, grantedBy: 'public' };
    const entry = this.allowList.grantFor(target.scheme, target.port, ip);
    if (entry !== undefined) return { allowed: true, address: text, class: addressClass, grantedBy: entry };
    const checked = addressClass.embedded === undefined ? ip : parseIp(addressClass.embedded)!;
    if (this.#trusted.some((network) => networkContains(network, checked) || networkContains(network, ip))) {
      return { allowed: true, address: text, class: addressClass, grantedBy: 'trusted-network' };
    }
    const port = target.port === (target.scheme === 'https' ? 443 : 80) ? '' : `:${target.port}`;
    return {
      allowed: false,
      address: text,
      class: addressClass,
      reason: `${described}, which only an explicit grant opens: to allow it, add "${target.scheme}://${literal}${port}" to ${this.allowList.key}`,
    };
  }
}

/** E.g. `a private address (10.0.0.0/8, RFC 1918)`. */
function describeClass(addressClass: AddressClass): string {
  const kind = addressClass.kind === 'shared' ? 'shared (CGNAT)' : addressClass.kind;
  const via = addressClass.embedded === undefined ? '' : `, mapping ${addressClass.embedded}`;
  const article = kind === 'unspecified' ? 'an' : 'a';
  return `${article} ${kind} address (${addressClass.range}, ${addressClass.reference}${via})`;
}
