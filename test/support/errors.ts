/** Assertions on isola's errors, for `assert.throws`/`assert.rejects` validation functions. */
import assert from 'node:assert/strict';
import { isIsolaError } from '../../src/errors.js';

/** A validator: the error is an IsolaError with `code` and a message matching `pattern`. */
export function isolaErrorWith(code: string, pattern: RegExp): (error: unknown) => true {
  return (error: unknown) => {
    assert.ok(isIsolaError(error), `expected an IsolaError, got ${error}`);
    assert.equal(error.code, code);
    assert.match(error.message, pattern);
    return true;
  };
}
