import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isIsolaError } from '../errors.js';
import { parseByteSize } from './byte-size.js';

describe('parseByteSize', () => {
  test('plain bytes, hex and underscores are accepted, as wasmtime takes them', () => {
    assert.equal(parseByteSize('65536'), 65_536);
    assert.equal(parseByteSize('0x10000'), 65_536);
    assert.equal(parseByteSize('1_048_576'), 1_048_576);
  });

  test('binary suffixes count in powers of 1024', () => {
    assert.equal(parseByteSize('64K'), 65_536);
    assert.equal(parseByteSize('64KiB'), 65_536);
    assert.equal(parseByteSize('16M'), 16 * 1024 * 1024);
    assert.equal(parseByteSize('1g'), 1024 ** 3);
  });

  test('anything else is refused with the expected form', () => {
    for (const text of ['', 'lots', '1.5M', '-1', '10T', '0xZZ']) {
      assert.throws(
        () => parseByteSize(text),
        (error: unknown) =>
          isIsolaError(error, 'E_ARGUMENT_INVALID') && /use a number of bytes/.test(error.message),
        text,
      );
    }
  });
});
