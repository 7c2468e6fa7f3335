import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { describe, runFixture, runInMemory, runInSandbox } from './run-fixture.js';

test('fd-write-stdout gathers iovecs in order, passes UTF-8 through and refuses closed descriptors', async (t) => {
  const result = await runInSandbox(t, 'fd-write-stdout');
  assert.equal(result.exitCode, 0, describe(result));
  assert.equal(result.stdout, 'gathered from four iovecs\nhéllo wörld ✓ 🎉\n');
  assert.equal(result.stderr, 'to stderr\n');
});

/** Fixtures that check themselves on a scratch directory, run on a host mount and in memory. */
const selfChecking = [
  [
    'fd-read-write',
    'reads and writes a file with scattered iovecs and enforces the rights path_open granted',
  ],
  ['fd-pread-pwrite', 'does positional I/O without moving the offset, and appends as POSIX or Linux does'],
  ['fd-fdstat', 'reports file types and flags and switches APPEND on and off'],
  ['fd-rights', 'enforces dropped rights with ENOTCAPABLE and never lets them be regained'],
  ['fd-filestat', 'resizes files and sets nanosecond timestamps, refusing contradictory flags'],
  ['fd-advise-allocate-sync', 'accepts advice, allocation and syncs on files and refuses closed descriptors'],
  ['fd-readdir', 'lists . and .., resumes from cookies and truncates the last entry to fill the buffer'],
  ['fd-renumber', 'moves descriptors, including over a preopen'],
  ['fd-close', 'closes descriptors once, preopens included, and keeps removed files usable while open'],
  ['fd-dir-ops-fail', 'refuses file operations on directories with EBADF'],
] as const;

for (const [name, behaviour] of selfChecking) {
  test(`${name} ${behaviour} (host directory)`, async (t) => {
    const result = await runInSandbox(t, name, { stdin: 'stdin' });
    assert.equal(result.exitCode, 0, describe(result));
  });
  test(`${name} ${behaviour} (in-memory directory)`, async () => {
    const result = await runInMemory(name, { stdin: 'stdin' });
    assert.equal(result.exitCode, 0, describe(result));
  });
}

test('fd-pread-pwrite reports where an appending pwrite landed', async (t) => {
  const result = await runInSandbox(t, 'fd-pread-pwrite');
  assert.match(result.stdout, /^append pwrite landed (at the end|at its offset)$/m, describe(result));
});

test('fd-seek-tell seeks and tells on files, refuses negative offsets and pipes, and agrees with libc', async (t) => {
  const result = await runInSandbox(t, 'fd-seek-tell');
  assert.equal(result.exitCode, 0, describe(result));
  assert.equal(readFileSync(join(result.dir, 'lseek.txt'), 'utf8'), '01234567');
});

test('fd-seek-tell seeks and tells the same way in an in-memory directory', async () => {
  const result = await runInMemory('fd-seek-tell');
  assert.equal(result.exitCode, 0, describe(result));
});

test('fd-fdstat sees captured stdio as neither a file nor a directory', async (t) => {
  const result = await runInSandbox(t, 'fd-fdstat');
  assert.equal(result.exitCode, 0, describe(result));
  assert.match(result.stdout, /^fd 1 filetype \d+$/m);
});

test('fd-prestat lists the preopens in order from fd 3 with their names and directory rights', async (t) => {
  const result = await runInSandbox(t, 'fd-prestat', {
    memoryDirs: { '/bundle': { files: { 'a.txt': 'a' } } },
  });
  assert.equal(result.exitCode, 0, describe(result));
  assert.equal(result.stdout, 'preopen 3: /sandbox\npreopen 4: /bundle\n');
});

test('fd-isatty sees neither a regular file nor captured stdio as a terminal', async (t) => {
  const result = await runInSandbox(t, 'fd-isatty');
  assert.equal(result.exitCode, 0, describe(result));
  assert.equal(result.stdout, 'isatty(0)=0\nisatty(1)=0\nisatty(2)=0\n');
});

test('fd-limit stops at maxOpenDescriptors with EMFILE and frees a slot on close', async (t) => {
  const result = await runInSandbox(t, 'fd-limit', { limits: { maxOpenDescriptors: 64 } });
  assert.equal(result.exitCode, 0, describe(result));
  // 64 descriptors: stdin, stdout, stderr and the preopen leave 60 for the guest.
  assert.match(result.stdout, /^opened 60 descriptors, then (MFILE|NFILE)$/m);
  assert.match(result.stdout, /^reopened after close$/m);
});

test('fd-limit is bounded by the default cap too', async (t) => {
  const result = await runInSandbox(t, 'fd-limit');
  assert.equal(result.exitCode, 0, describe(result));
  assert.match(result.stdout, /^opened 1020 descriptors, then (MFILE|NFILE)$/m);
});

test('bad-pointers gets EFAULT for every out-of-bounds guest pointer instead of a crash', async (t) => {
  const result = await runInSandbox(t, 'bad-pointers');
  assert.equal(result.exitCode, 0, `check ${result.exitCode - 100} failed\n${describe(result)}`);
});

test('hello-stdout runs the same with a read-only in-memory bundle mounted', async () => {
  const result = await runFixture('hello-stdout', {
    memoryDirs: { '/bundle': { files: { 'index.html': '<p>hi</p>' }, readOnly: true } },
  });
  assert.equal(result.exitCode, 0, describe(result));
});
