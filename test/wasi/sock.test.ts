import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describe, runInSandbox } from './run-fixture.js';

test('sock-on-non-socket gets ENOTSOCK on files and stdio and EBADF on closed descriptors, never a trap', async (t) => {
  const result = await runInSandbox(t, 'sock-on-non-socket');
  const checks = ['recv', 'send', 'shutdown', 'accept'];
  const fds = ['stdin', 'stdout', 'the preopen', 'fd 99', 'fd -1'];
  const failed = result.exitCode - 100;
  assert.equal(
    result.exitCode,
    0,
    failed >= 0
      ? `sock_${checks[failed % 4]} on ${fds[Math.floor(failed / 4)]} gave the wrong errno`
      : describe(result),
  );
});
