/**
 * Named limits on a guest's outbound HTTP, with documented defaults, enforced by the client
 * (client.ts) where the bytes and requests pass. An operator may override them within
 * `OUTBOUND_LIMIT_RANGES`.
 */
import { IsolaError } from '../errors.js';

export interface OutboundLimits {
  /** Requests one invocation may start, denied ones included (each is a log line). Default 32. */
  maxRequestsPerInvocation: number;
  /** Bytes of one request body; past it the request fails with `HTTP-request-body-size`. Default 10 MiB. */
  maxRequestBodyBytes: number;
  /** Bytes of one response body; past it the body fails with `HTTP-response-body-size`. Default 10 MiB. */
  maxResponseBodyBytes: number;
  /** Bytes of the response head (status line and fields); past it `HTTP-response-header-section-size`. Default 64 KiB. */
  maxResponseHeaderBytes: number;
  /** Milliseconds for DNS resolution plus the TCP (and TLS) connect. Default 10 s. */
  connectTimeoutMs: number;
  /** Milliseconds for the whole exchange, from the call until the response body ends. Default 60 s. */
  totalTimeoutMs: number;
}

export const OUTBOUND_LIMIT_DEFAULTS: Readonly<OutboundLimits> = Object.freeze({
  maxRequestsPerInvocation: 32,
  maxRequestBodyBytes: 10 * 1024 * 1024,
  maxResponseBodyBytes: 10 * 1024 * 1024,
  maxResponseHeaderBytes: 64 * 1024,
  connectTimeoutMs: 10_000,
  totalTimeoutMs: 60_000,
});

/** Inclusive ranges an override must fall within. */
export const OUTBOUND_LIMIT_RANGES: Readonly<Record<keyof OutboundLimits, readonly [number, number]>> =
  Object.freeze({
    maxRequestsPerInvocation: [0, 10_000],
    maxRequestBodyBytes: [0, 1024 * 1024 * 1024],
    maxResponseBodyBytes: [0, 1024 * 1024 * 1024],
    // Node's HTTP parser needs room for a status line and a few fields.
    maxResponseHeaderBytes: [1024, 1024 * 1024],
    connectTimeoutMs: [1, 10 * 60_000],
    totalTimeoutMs: [1, 60 * 60_000],
  });

/** Merges overrides onto the defaults, refusing a value outside its range with the range named. */
export function resolveOutboundLimits(overrides: Partial<OutboundLimits> = {}): OutboundLimits {
  const limits: OutboundLimits = { ...OUTBOUND_LIMIT_DEFAULTS };
  for (const [name, value] of Object.entries(overrides) as [keyof OutboundLimits, number | undefined][]) {
    if (value === undefined) continue;
    const range = OUTBOUND_LIMIT_RANGES[name];
    if (range === undefined) {
      throw new IsolaError('E_LIMIT_OUT_OF_RANGE', `unknown outbound limit "${name}"`, { limit: name });
    }
    const [min, max] = range;
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new IsolaError(
        'E_LIMIT_OUT_OF_RANGE',
        `limit ${name} = ${value} is out of range: use a whole number from ${min} to ${max}`,
        { limit: name, value, min, max },
      );
    }
    limits[name] = value;
  }
  return Object.freeze(limits);
}
