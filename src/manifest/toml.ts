/** TOML 1.0 text → tables, with syntax errors reported at their line and column. */
import { parse, TomlError } from 'smol-toml';
import { manifestError } from './manifest-error.js';
import type { Table } from './table-reader.js';

/** Deeper nesting than any manifest needs, so a hostile file cannot exhaust the stack. */
const MAX_TOML_DEPTH = 32;

/** Parses `text`; throws E_MANIFEST_INVALID as `file:line:column: invalid TOML: reason: fix`. */
export function parseToml(text: string, file: string): Table {
  try {
    // Integers beyond 2^53 become bigints so that they are refused rather than rounded.
    return parse(text, { integersAsBigInt: 'asNeeded', maxDepth: MAX_TOML_DEPTH }) as Table;
  } catch (error) {
    if (!(error instanceof TomlError)) throw error;
    const reason = (error.message.split('\n')[0] ?? '').replace(/^Invalid TOML document: /, '');
    throw manifestError(
      `${file}:${error.line}:${error.column}`,
      `invalid TOML: ${reason}: fix the syntax there (TOML 1.0, https://toml.io)`,
      { manifest: file, line: error.line, column: error.column, excerpt: error.codeblock },
      'E_MANIFEST_INVALID',
      error,
    );
  }
}
