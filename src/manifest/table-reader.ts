/**
 * Reads one TOML table of a manifest with its key path in hand, so that every complaint names
 * the key (`component.hello.limits.timeout_ms`) and the fix. A table lists the keys it may hold
 * up front: any other key is refused when the table is opened, with a "did you mean" when a known
 * key is close, since a misspelt key that were ignored would silently grant or limit nothing.
 */
import { TomlDate } from 'smol-toml';
import type { ErrorCode, IsolaError } from '../errors.js';
import { manifestError } from './manifest-error.js';
import { closest } from './suggest.js';

export type Table = Record<string, unknown>;

export interface KeySpec {
  /** Keys the table may hold; `'user'` when its keys are the author's own names (variables). */
  known: readonly string[] | 'user';
  /**
   * Keys that Spin's manifest defines and isola does not support yet, each with the fix. An
   * empty value (an empty list or table, `false`) grants nothing, so it is accepted.
   */
  unsupported?: Readonly<Record<string, string>>;
}

/** `parent.key`, quoting a key that TOML could not write bare. */
export function keyPath(parent: string, key: string): string {
  const written = /^[A-Za-z0-9_-]+$/.test(key) ? key : JSON.stringify(key);
  return parent === '' ? written : `${parent}.${written}`;
}

export function isTable(value: unknown): value is Table {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof TomlDate) {
    return false;
  }
  const prototype = Object.getPrototypeOf(value);
  return prototype === null || prototype === Object.prototype;
}

/** "a string", "an array", ... for messages. */
export function describeType(value: unknown): string {
  if (typeof value === 'string') return 'a string';
  if (typeof value === 'bigint') return 'an integer';
  if (typeof value === 'number') return Number.isInteger(value) ? 'an integer' : 'a float';
  if (typeof value === 'boolean') return 'a boolean';
  if (value instanceof TomlDate) return 'a date';
  if (Array.isArray(value)) return 'an array';
  return 'a table';
}

/** True for a value that grants nothing: an empty string, list or table, or `false`. */
export function isEmptyValue(value: unknown): boolean {
  if (value === false || value === '') return true;
  if (Array.isArray(value)) return value.length === 0;
  return isTable(value) && Object.keys(value).length === 0;
}

export class TableReader {
  /** The manifest's file name, which starts every message. */
  readonly file: string;
  /** This table's key path; `''` for the top level. */
  readonly path: string;
  readonly #table: Table;

  constructor(file: string, path: string, table: Table, spec: KeySpec) {
    this.file = file;
    this.path = path;
    this.#table = table;
    this.#checkKeys(spec);
  }

  /** The key path of `key` in this table. */
  key(key: string): string {
    return keyPath(this.path, key);
  }

  has(key: string): boolean {
    return Object.hasOwn(this.#table, key);
  }

  raw(key: string): unknown {
    return this.has(key) ? this.#table[key] : undefined;
  }

  entries(): [string, unknown][] {
    return Object.entries(this.#table);
  }

  /** An error about this manifest: the file, then `text` (which names the key and the fix). */
  error(
    text: string,
    details: Record<string, unknown> = {},
    code: ErrorCode = 'E_MANIFEST_INVALID',
  ): IsolaError {
    return manifestError(this.file, text, details, code);
  }

  /** `text` about `key`'s value (prefixed with its path), with the fix. */
  invalid(key: string, text: string): IsolaError {
    return this.error(`${this.key(key)} ${text}`, { key: this.key(key) });
  }

  /** The error for a value of the wrong type; `example` shows the right form, e.g. `name = "hello"`. */
  wrongType(key: string, expected: string, example: string): IsolaError {
    return this.invalid(
      key,
      `must be ${expected}, not ${describeType(this.raw(key))}: write it as ${example}`,
    );
  }

  requiredString(key: string, example: string): string {
    const value = this.string(key, example);
    if (value === undefined) throw this.invalid(key, `is missing: add ${example}`);
    return value;
  }

  string(key: string, example = `${key} = "..."`): string | undefined {
    const value = this.raw(key);
    if (value === undefined || typeof value === 'string') return value;
    throw this.wrongType(key, 'a string', example);
  }

  integer(key: string, example = `${key} = 1`): number | undefined {
    const value = this.raw(key);
    if (value === undefined) return undefined;
    if (typeof value === 'bigint') {
      throw this.invalid(key, `= ${value} is too large: use a whole number up to ${Number.MAX_SAFE_INTEGER}`);
    }
    if (typeof value === 'number' && Number.isInteger(value)) return value;
    if (typeof value === 'string' && /^\d+$/.test(value)) {
      throw this.invalid(key, `must be a whole number, not a string: remove the quotes (${key} = ${value})`);
    }
    throw this.wrongType(key, 'a whole number', example);
  }

  boolean(key: string, example = `${key} = true`): boolean | undefined {
    const value = this.raw(key);
    if (value === undefined || typeof value === 'boolean') return value;
    throw this.wrongType(key, 'true or false', example);
  }

  /** A list of strings; `[]` when absent. */
  stringArray(key: string, example = `${key} = ["..."]`): string[] {
    const value = this.raw(key);
    if (value === undefined) return [];
    if (!Array.isArray(value)) throw this.wrongType(key, 'a list of strings', example);
    value.forEach((item, index) => {
      if (typeof item !== 'string') {
        throw this.error(
          `${this.key(key)}[${index}] must be a string, not ${describeType(item)}: write ${example}`,
          {
            key: `${this.key(key)}[${index}]`,
          },
        );
      }
    });
    return value as string[];
  }

  /** A sub-table read with its own key spec, or undefined when absent. */
  table(key: string, spec: KeySpec, example = `[${this.key(key)}]`): TableReader | undefined {
    const value = this.raw(key);
    if (value === undefined) return undefined;
    if (!isTable(value)) throw this.wrongType(key, 'a table', example);
    return new TableReader(this.file, this.key(key), value, spec);
  }

  /** A table left to other tools (Spin's `tool` settings): only its being a table is checked. */
  opaqueTable(key: string): void {
    const value = this.raw(key);
    if (value !== undefined && !isTable(value)) {
      throw this.wrongType(key, 'a table', `[${this.key(key)}.NAME]`);
    }
  }

  /** A table whose keys are the user's and whose values are strings (`environment`, `variables`). */
  stringTable(key: string, example: string): [string, string][] {
    const value = this.raw(key);
    if (value === undefined) return [];
    if (!isTable(value)) throw this.wrongType(key, 'a table of strings', example);
    return Object.entries(value).map(([name, item]) => {
      if (typeof item !== 'string') {
        throw this.error(
          `${keyPath(this.key(key), name)} must be a string, not ${describeType(item)}: write ${example}`,
          { key: keyPath(this.key(key), name) },
        );
      }
      return [name, item];
    });
  }

  #checkKeys(spec: KeySpec): void {
    if (spec.known === 'user') return;
    const known = spec.known;
    const unsupported = spec.unsupported ?? {};
    for (const [key, value] of Object.entries(this.#table)) {
      if (known.includes(key)) continue;
      const fix = Object.hasOwn(unsupported, key) ? unsupported[key] : undefined;
      if (fix === undefined) throw this.#unknownKey(key, known, Object.keys(unsupported));
      if (!isEmptyValue(value)) {
        throw this.error(
          `${this.key(key)} is not supported yet: ${fix}`,
          { key: this.key(key) },
          'E_MANIFEST_UNSUPPORTED',
        );
      }
    }
  }

  #unknownKey(key: string, known: readonly string[], unsupported: readonly string[]): IsolaError {
    const suggestion = closest(key, [...known, ...unsupported]);
    const where = this.path === '' ? 'the top level' : this.path;
    const fix =
      suggestion !== undefined
        ? `did you mean ${this.key(suggestion)}?`
        : `remove it; ${where} may hold ${known.join(', ')}`;
    return this.error(`unknown key ${this.key(key)}: ${fix}`, { key: this.key(key), suggestion });
  }
}
