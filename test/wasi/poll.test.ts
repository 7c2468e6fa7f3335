import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describe, runFixture, runInMemory, runInSandbox } from './run-fixture.js';

test('poll-clock sleeps on one clock, fires only the due one of several, and refuses an empty poll', async () => {
  const result = await runFixture('poll-clock');
  assert.equal(result.exitCode, 0, describe(result));
  assert.equal(result.stdout, 'poll clocks ok\n');
});

test('poll-fds reports files, stdout and stdin ready at once, ahead of a pending clock', async (t) => {
  const result = await runInSandbox(t, 'poll-fds', { stdin: 'input' });
  assert.equal(result.exitCode, 0, describe(result));
  assert.equal(result.stdout, '4 events\n');
});

test('poll-fds works the same on an in-memory directory', async () => {
  const result = await runInMemory('poll-fds', { stdin: 'input' });
  assert.equal(result.exitCode, 0, describe(result));
});

test('poll-stdin-eof finds stdin at end of input ready at once', async () => {
  const result = await runFixture('poll-stdin-eof');
  assert.equal(result.exitCode, 0, describe(result));
  assert.match(result.stdout, /^hangup=[01]$/m);
});
