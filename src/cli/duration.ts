/**
 * Durations as `isola run --timeout` takes them, the way wasmtime's `-W timeout=` does: a bare
 * integer is a number of seconds; otherwise one or more number-and-unit pairs such as `500ms`,
 * `2s`, `1.5s` or `1m30s` (units `ns`, `us`, `ms`, `s`, `m`, `h`).
 */
import { IsolaError } from '../errors.js';

const UNIT_MS: Readonly<Record<string, number>> = Object.freeze({
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1000,
  sec: 1000,
  m: 60_000,
  min: 60_000,
  h: 3_600_000,
});

/** Milliseconds for `text`; throws E_ARGUMENT_INVALID saying what a duration looks like. */
export function parseDuration(text: string): number {
  const trimmed = text.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  let total = 0;
  let matched = 0;
  // A fresh sticky regex per call: a shared one would carry lastIndex between calls.
  const pair = /\s*(\d+(?:\.\d+)?)\s*([a-zµ]+)/y;
  for (let match = pair.exec(trimmed); match !== null; match = pair.exec(trimmed)) {
    const unit = UNIT_MS[match[2]!];
    if (unit === undefined) throw invalid(text, `unknown unit "${match[2]}"`);
    total += Number(match[1]) * unit;
    matched = pair.lastIndex;
  }
  if (trimmed === '' || matched !== trimmed.length) throw invalid(text, 'it is not a duration');
  return total;
}

function invalid(text: string, why: string): IsolaError {
  return new IsolaError(
    'E_ARGUMENT_INVALID',
    `"${text}" is not a valid duration (${why}): use e.g. 500ms, 2s or 1m30s (a bare number is seconds)`,
    { value: text },
  );
}

/** A short human form of a duration in milliseconds: `500ms`, `2s`, `1.5s`, `2m`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Number(ms.toPrecision(3))}ms`;
  if (ms < 60_000 || ms % 60_000 !== 0) return `${Number((ms / 1000).toPrecision(6))}s`;
  return `${ms / 60_000}m`;
}
