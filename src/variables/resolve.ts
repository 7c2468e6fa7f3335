/**
 * Resolving an app's variables at deploy: each `[variables]` entry gets its value from, in order,
 * an explicit value (`isola up --variable name=value`), a variables file (`--variables-file`, a
 * TOML table of `name = "value"`), the environment (`ISOLA_VARIABLE_NAME`, as Spin reads
 * `SPIN_VARIABLE_NAME`), then its default. A required variable with none of these fails the
 * deploy, naming every way to give it. Values are never put in errors or logs: a secret variable
 * and a plain one are treated alike here, and only names are ever reported.
 */
import { readFile } from 'node:fs/promises';
import { parse } from 'smol-toml';
import { IsolaError } from '../errors.js';
import { VARIABLE_NAME } from '../manifest/variable-template.js';

/** An application variable as the lock records it: never a value other than its default. */
export interface VariableDefinition {
  /** Absent for a required variable. */
  default?: string;
  required: boolean;
  secret: boolean;
}

/** Where values come from, highest precedence first. */
export interface VariableSources {
  /** Explicit values, by name (`--variable name=value`). */
  values?: Readonly<Record<string, string>>;
  /** Values read from a variables file (`readVariablesFile`). */
  file?: Readonly<Record<string, string>>;
  /** The environment to read `ISOLA_VARIABLE_<NAME>` from. Default: none. */
  env?: Readonly<Record<string, string | undefined>>;
}

/** The environment variable a variable's value is read from: `ISOLA_VARIABLE_API_KEY` for `api_key`. */
export function environmentName(name: string): string {
  return `ISOLA_VARIABLE_${name.toUpperCase()}`;
}

/** Every defined variable's value; throws E_VARIABLE_MISSING naming the required ones that have none. */
export function resolveVariables(
  definitions: Readonly<Record<string, VariableDefinition>>,
  sources: VariableSources,
): Map<string, string> {
  const values = new Map<string, string>();
  const missing: string[] = [];
  for (const [name, definition] of Object.entries(definitions)) {
    const value =
      sources.values?.[name] ??
      sources.file?.[name] ??
      sources.env?.[environmentName(name)] ??
      definition.default;
    if (value === undefined) missing.push(name);
    else values.set(name, value);
  }
  if (missing.length > 0) {
    const ways = missing.map((name) => `${environmentName(name)}=... or --variable ${name}=...`).join('; ');
    throw new IsolaError(
      'E_VARIABLE_MISSING',
      `the app requires ${missing.map((name) => `variable ${name}`).join(', ')}, which ${
        missing.length === 1 ? 'has' : 'have'
      } no value: give ${missing.length === 1 ? 'it' : 'each'} one, as in ${ways}, or in a --variables-file`,
      { missing },
    );
  }
  return values;
}

/** `name=value` → [name, value]; throws E_ARGUMENT_INVALID for anything else. */
export function parseVariableAssignment(text: string): [string, string] {
  const equals = text.indexOf('=');
  const name = equals < 0 ? text : text.slice(0, equals);
  if (equals < 0 || !VARIABLE_NAME.test(name)) {
    throw new IsolaError(
      'E_ARGUMENT_INVALID',
      `--variable ${JSON.stringify(name)} is not NAME=VALUE with a lower snake_case name: write e.g. --variable api_key=...`,
      { name },
    );
  }
  return [name, text.slice(equals + 1)];
}

/** A variables file: a TOML table of `name = "value"` (strings only). Its values are never echoed. */
export async function readVariablesFile(path: string): Promise<Record<string, string>> {
  let table: Record<string, unknown>;
  try {
    table = parse(await readFile(path, 'utf8')) as Record<string, unknown>;
  } catch (error) {
    throw new IsolaError(
      'E_ARGUMENT_INVALID',
      `cannot read variables file ${path}: ${
        (error as NodeJS.ErrnoException).code ?? 'it is not TOML'
      }: write one "name = \\"value\\"" per line`,
      { path },
    );
  }
  const values: Record<string, string> = {};
  for (const [name, value] of Object.entries(table)) {
    if (!VARIABLE_NAME.test(name) || typeof value !== 'string') {
      throw new IsolaError(
        'E_ARGUMENT_INVALID',
        `variables file ${path}: ${name} must be a lower snake_case name with a string value, as in api_key = "..."`,
        { path, name },
      );
    }
    values[name] = value;
  }
  return values;
}
