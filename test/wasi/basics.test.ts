import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describe, runFixture } from './run-fixture.js';

test('hello-stdout prints one line and exits 0', async () => {
  const result = await runFixture('hello-stdout');
  assert.equal(result.exitCode, 0, describe(result));
  assert.equal(result.stdout, 'hello, world\n');
  assert.equal(result.stderr, '');
});

test('exit-code returns the code the guest passed to proc_exit, after flushing its output', async () => {
  for (const code of [0, 1, 42, 255]) {
    const result = await runFixture('exit-code', { args: [String(code)] });
    assert.equal(result.exitCode, code, describe(result));
    assert.equal(result.stdout, `exiting with ${code}\n`);
    assert.equal(result.stderr, 'to stderr\n');
  }
});

test('args-env sees exactly the granted argv and environment, sized in UTF-8 bytes', async () => {
  const result = await runFixture('args-env', {
    args: ['a', 'héllo wörld', ''],
    env: { GREETING: 'grüß dich', EMPTY: '' },
  });
  assert.equal(result.exitCode, 0, describe(result));
  const argvBytes = ['args-env.wasm', 'a', 'héllo wörld', ''].reduce(
    (n, s) => n + Buffer.byteLength(s) + 1,
    0,
  );
  const envBytes = ['GREETING=grüß dich', 'EMPTY='].reduce((n, s) => n + Buffer.byteLength(s) + 1, 0);
  assert.equal(
    result.stdout,
    [
      `argc=4 argv_bytes=${argvBytes}`,
      'argv[0]=args-env.wasm',
      'argv[1]=a',
      'argv[2]=héllo wörld',
      'argv[3]=',
      `envc=2 env_bytes=${envBytes}`,
      'env=GREETING=grüß dich',
      'env=EMPTY=',
      '',
    ].join('\n'),
  );
});

test('args-env sees no environment at all by default', async () => {
  const result = await runFixture('args-env');
  assert.equal(result.exitCode, 0, describe(result));
  assert.match(result.stdout, /^envc=0 env_bytes=0$/m);
  assert.match(result.stdout, /^argc=1 /m);
});

test('stdin-echo copies stdin to stdout byte for byte', async () => {
  const input = `first line\nsecond, ünïcode ✓\n${'x'.repeat(10000)}`;
  const result = await runFixture('stdin-echo', { stdin: input });
  assert.equal(result.exitCode, 0, describe(result));
  assert.equal(result.stdout, input);
  assert.equal(result.stderr, `read ${Buffer.byteLength(input)} bytes\n`);
});

test('stdin-echo reads end of input at once when no stdin is granted', async () => {
  const result = await runFixture('stdin-echo');
  assert.equal(result.exitCode, 0, describe(result));
  assert.equal(result.stdout, '');
  assert.equal(result.stderr, 'read 0 bytes\n');
});

test('proc-raise either gets an errno back or ends like a process killed by the signal, never a trap', async () => {
  // The spec only says "send a signal"; hosts differ (wasmtime traps, uvwasi signals itself).
  // isola must not trap: it returns an errno or exits with 128 + signal number (SIGUSR1 = 10).
  const result = await runFixture('proc-raise');
  if (result.exitCode === 0) {
    assert.match(result.stdout, /^proc_raise\(USR1\) -> (NOSYS|NOTSUP)$/m, describe(result));
  } else {
    assert.equal(result.exitCode, 128 + 10, describe(result));
    assert.equal(result.stdout, '');
  }
});

test('sched-yield succeeds every time', async () => {
  const result = await runFixture('sched-yield');
  assert.equal(result.exitCode, 0, describe(result));
  assert.equal(result.stdout, 'yielded 1000 times\n');
});

test('random-get fills zero-length, small and 1 MiB buffers with uniform bytes', async () => {
  const result = await runFixture('random-get');
  assert.equal(result.exitCode, 0, describe(result));
  assert.equal(result.stdout, 'random ok\n');
});

test('trap-unreachable surfaces the trap as a RuntimeError to the host', async () => {
  await assert.rejects(runFixture('trap-unreachable'), (error: unknown) => {
    assert.ok(error instanceof WebAssembly.RuntimeError, String(error));
    assert.match(String(error), /unreachable/);
    return true;
  });
});
