import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isIsolaError } from '../errors.js';
import { bytesSource, CaptureSink } from './stdio.js';

describe('stdio', () => {
  it('serves stdin bytes in order and then end of input', () => {
    const source = bytesSource(new TextEncoder().encode('abcdef'));
    const buffer = new Uint8Array(4);
    assert.equal(source.read(buffer), 4);
    assert.equal(source.available(), 2n);
    assert.equal(source.read(buffer), 2);
    assert.equal(new TextDecoder().decode(buffer.subarray(0, 2)), 'ef');
    assert.equal(source.read(buffer), 0);
  });

  it('captures output up to its cap and ends the instance past it', () => {
    const sink = new CaptureSink(5, 'stdout');
    sink.write(new TextEncoder().encode('abc'));
    assert.throws(
      () => sink.write(new TextEncoder().encode('def')),
      (error) =>
        isIsolaError(error, 'E_GUEST_OUTPUT_LIMIT') && /more than 5 bytes to stdout/.test(error.message),
    );
    assert.equal(sink.text(), 'abc');
  });

  it('copies what is written, so later changes to guest memory do not alter it', () => {
    const sink = new CaptureSink(100);
    const data = new TextEncoder().encode('xyz');
    sink.write(data);
    data.fill(0);
    assert.equal(sink.text(), 'xyz');
  });
});
