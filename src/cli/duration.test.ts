import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isIsolaError } from '../errors.js';
import { formatDuration, parseDuration } from './duration.js';

describe('parseDuration', () => {
  test('a bare integer is a number of seconds, as wasmtime takes it', () => {
    assert.equal(parseDuration('3'), 3000);
  });

  test('units from nanoseconds to hours are accepted', () => {
    assert.equal(parseDuration('500ms'), 500);
    assert.equal(parseDuration('2s'), 2000);
    assert.equal(parseDuration('1.5s'), 1500);
    assert.equal(parseDuration('1m'), 60_000);
    assert.equal(parseDuration('1h'), 3_600_000);
    assert.equal(parseDuration('250us'), 0.25);
    assert.equal(parseDuration('1000000ns'), 1);
  });

  test('pairs add up', () => {
    assert.equal(parseDuration('1m30s'), 90_000);
    assert.equal(parseDuration('1m 30s'), 90_000);
  });

  test('anything else is refused with the expected form', () => {
    for (const text of ['', 'soon', '5x', '2s!', '-1s', 's']) {
      assert.throws(
        () => parseDuration(text),
        (error: unknown) =>
          isIsolaError(error, 'E_ARGUMENT_INVALID') && /use e\.g\. 500ms, 2s/.test(error.message),
        text,
      );
    }
  });
});

describe('formatDuration', () => {
  test('short durations read in milliseconds, longer ones in seconds or minutes', () => {
    assert.equal(formatDuration(500), '500ms');
    assert.equal(formatDuration(2000), '2s');
    assert.equal(formatDuration(1500), '1.5s');
    assert.equal(formatDuration(120_000), '2m');
    assert.equal(formatDuration(90_000), '90s');
  });
});
