import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describe, runFixture } from './run-fixture.js';

test('clock-res-get reports a resolution for all four clocks and EINVAL for an unknown one', async () => {
  const result = await runFixture('clock-res-get');
  assert.equal(result.exitCode, 0, describe(result));
  assert.equal(
    result.stdout,
    'realtime resolution ok\nmonotonic resolution ok\nprocess_cputime resolution ok\nthread_cputime resolution ok\n',
  );
});

test('clock-time-get reads the wall clock in nanoseconds and clocks that never go backwards', async () => {
  const result = await runFixture('clock-time-get');
  assert.equal(result.exitCode, 0, describe(result));
  const match = /^realtime_seconds=(\d+)$/m.exec(result.stdout);
  assert.ok(match, result.stdout);
  assert.ok(Math.abs(Number(match[1]) - Date.now() / 1000) < 5, `guest realtime ${match[1]} is off`);
});
