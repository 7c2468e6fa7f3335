import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { IsolaError } from './errors.js';

describe('IsolaError', () => {
  it('survives a trip through JSON with its code, details and cause', () => {
    const cause = new IsolaError('E_MODULE_READ', 'cannot read x.wasm', { path: 'x.wasm' });
    const error = new IsolaError('E_MODULE_INVALID', 'not Wasm', { bytes: 4 }, { cause });
    const copy = IsolaError.fromJSON(JSON.parse(JSON.stringify(error)));
    assert.equal(copy.code, 'E_MODULE_INVALID');
    assert.equal(copy.message, 'not Wasm');
    assert.deepEqual(copy.details, { bytes: 4 });
    assert.ok(copy.cause instanceof IsolaError);
    assert.equal(copy.cause.code, 'E_MODULE_READ');
  });

  it('keeps the message of a plain cause', () => {
    const error = new IsolaError('E_INTERNAL', 'wrapped', {}, { cause: new Error('inner') });
    const copy = IsolaError.fromJSON(error.toJSON());
    assert.equal((copy.cause as Error).message, 'inner');
  });
});
