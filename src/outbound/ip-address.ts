/**
 * IP addresses and networks as numbers: parsed strictly (dotted-decimal IPv4, RFC 4291 IPv6 text),
 * compared by prefix, printed canonically (RFC 5952). The allow-list and the address policy both
 * work on these values, never on strings, so `::ffff:127.0.0.1` and `127.0.0.1` cannot be told
 * apart by spelling.
 */
import { isIPv4, isIPv6 } from 'node:net';

export interface IpAddress {
  readonly family: 4 | 6;
  /** The address as a 32- or 128-bit unsigned integer. */
  readonly value: bigint;
}

export interface IpNetwork {
  readonly family: 4 | 6;
  /** The first address of the network (host bits cleared). */
  readonly base: bigint;
  /** Leading bits that are fixed: 0..32 for IPv4, 0..128 for IPv6. */
  readonly prefix: number;
}

const BITS = { 4: 32, 6: 128 } as const;

/**
 * Parses an IPv4 address in dotted-decimal or an IPv6 address (brackets and a zone index such as
 * `%eth0` are accepted and dropped). Anything else, including the shorthand IPv4 forms that
 * `inet_aton` accepts (`127.1`, `0x7f000001`), is not an address here.
 */
export function parseIp(text: string): IpAddress | undefined {
  if (isIPv4(text)) {
    const value = text.split('.').reduce((sum, part) => (sum << 8n) | BigInt(Number(part)), 0n);
    return { family: 4, value };
  }
  let inner = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  const zone = inner.indexOf('%');
  if (zone !== -1) inner = inner.slice(0, zone);
  if (!isIPv6(inner)) return undefined;
  return { family: 6, value: parseIpv6Groups(inner) };
}

function parseIpv6Groups(text: string): bigint {
  const lastColon = text.lastIndexOf(':');
  // RFC 4291 §2.2 (3): the low 32 bits may be written as an IPv4 address.
  const v4 = text.includes('.', lastColon) ? parseIp(text.slice(lastColon + 1)) : undefined;
  if (v4 !== undefined) {
    const high = (v4.value >> 16n).toString(16);
    const low = (v4.value & 0xffffn).toString(16);
    text = `${text.slice(0, lastColon + 1)}${high}:${low}`;
  }
  const hex = (part: string) =>
    part === '' ? [] : part.split(':').map((group) => Number.parseInt(group, 16));
  const gap = text.indexOf('::');
  let groups: number[];
  if (gap === -1) {
    groups = hex(text);
  } else {
    const head = hex(text.slice(0, gap));
    const tail = hex(text.slice(gap + 2));
    groups = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  }
  return groups.reduce((sum, group) => (sum << 16n) | BigInt(group), 0n);
}

/** The canonical text: dotted-decimal, or RFC 5952 (lower case, the longest zero run as `::`). */
export function formatIp(ip: IpAddress): string {
  if (ip.family === 4) {
    return [24n, 16n, 8n, 0n].map((shift) => String((ip.value >> shift) & 0xffn)).join('.');
  }
  const groups = [112n, 96n, 80n, 64n, 48n, 32n, 16n, 0n].map((shift) =>
    Number((ip.value >> shift) & 0xffffn),
  );
  let bestStart = -1;
  let bestLength = 1; // RFC 5952 §4.2.2: a single zero group is not shortened
  for (let start = 0; start < 8; start++) {
    let length = 0;
    while (start + length < 8 && groups[start + length] === 0) length++;
    if (length > bestLength) {
      bestStart = start;
      bestLength = length;
    }
  }
  const text = (list: number[]) => list.map((group) => group.toString(16)).join(':');
  if (bestStart === -1) return text(groups);
  return `${text(groups.slice(0, bestStart))}::${text(groups.slice(bestStart + bestLength))}`;
}

/**
 * Parses `ADDRESS` (a network of one address) or `ADDRESS/PREFIX`. Host bits set below the prefix
 * are cleared (`127.0.0.1/24` is `127.0.0.0/24`), as Spin's `from_str_truncate` does.
 */
export function parseNetwork(text: string): IpNetwork | undefined {
  const slash = text.indexOf('/');
  const ip = parseIp(slash === -1 ? text : text.slice(0, slash));
  if (ip === undefined) return undefined;
  const bits = BITS[ip.family];
  if (slash === -1) return { family: ip.family, base: ip.value, prefix: bits };
  const prefixText = text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(prefixText)) return undefined;
  const prefix = Number(prefixText);
  if (prefix > bits) return undefined;
  return { family: ip.family, base: ip.value & mask(ip.family, prefix), prefix };
}

export function formatNetwork(network: IpNetwork): string {
  return `${formatIp({ family: network.family, value: network.base })}/${network.prefix}`;
}

export function networkContains(network: IpNetwork, ip: IpAddress): boolean {
  return network.family === ip.family && (ip.value & mask(ip.family, network.prefix)) === network.base;
}

function mask(family: 4 | 6, prefix: number): bigint {
  const bits = BigInt(BITS[family]);
  const all = (1n << bits) - 1n;
  return (all << (bits - BigInt(prefix))) & all;
}

const IPV4_MAPPED: IpNetwork = { family: 6, base: 0xffffn << 32n, prefix: 96 };

/**
 * The IPv4 address inside an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, RFC 4291 §2.5.5.2), which
 * a dual-stack socket connects to over IPv4; any other address unchanged.
 */
export function unmapIpv4(ip: IpAddress): IpAddress {
  if (networkContains(IPV4_MAPPED, ip)) return { family: 4, value: ip.value & 0xffffffffn };
  return ip;
}
