import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isIsolaError } from './errors.js';
import { resolveWasiLimits, WASI_LIMIT_DEFAULTS } from './limits.js';

describe('resolveWasiLimits', () => {
  it('gives the documented defaults when nothing is overridden', () => {
    assert.deepEqual(resolveWasiLimits(), WASI_LIMIT_DEFAULTS);
  });

  it('applies an override within its range', () => {
    assert.equal(resolveWasiLimits({ maxOpenDescriptors: 64 }).maxOpenDescriptors, 64);
  });

  it('refuses a value out of range and names the allowed range', () => {
    assert.throws(
      () => resolveWasiLimits({ maxOpenDescriptors: 2 }),
      (error) => isIsolaError(error, 'E_LIMIT_OUT_OF_RANGE') && /from 3 to 65536/.test(error.message),
    );
    assert.throws(() => resolveWasiLimits({ maxPathBytes: 1.5 }), /whole number/);
  });
});
