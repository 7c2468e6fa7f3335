import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { test } from 'node:test';
import { describe, runInMemory, runInSandbox } from './run-fixture.js';

const selfChecking = [
  ['path-open-flags', 'honours every oflag and fdflag with the spec’s errnos'],
  [
    'path-interesting',
    'resolves ., .. and repeated slashes and refuses absolute paths, NULs and trailing slashes on files',
  ],
  ['path-directories', 'creates and removes directories, refusing non-empty ones and files'],
  ['path-unlink', 'unlinks files and symlinks but never directories'],
  ['path-rename', 'renames files and directories with POSIX replacement rules'],
  ['path-link', 'makes hard links that share the inode and refuses directories and existing names'],
  ['path-symlink', 'creates symlinks and follows them only when asked, dangling ones included'],
  ['path-readlink', 'reads link targets, truncating into short buffers'],
  ['path-filestat', 'stats paths and sets times on links or their targets as asked'],
  ['symlink-loop', 'ends symlink loops and over-long chains with ELOOP'],
  ['path-open-lots', 'frees descriptors on close so thousands of opens never hit the cap'],
] as const;

for (const [name, behaviour] of selfChecking) {
  test(`${name} ${behaviour} (host directory)`, async (t) => {
    const result = await runInSandbox(t, name);
    assert.equal(result.exitCode, 0, describe(result));
    assert.deepEqual(readdirSync(result.dir), [], 'the fixture cleans up after itself');
  });
  test(`${name} ${behaviour} (in-memory directory)`, async () => {
    const result = await runInMemory(name);
    assert.equal(result.exitCode, 0, describe(result));
  });
}

test('path-too-long refuses over-long names and paths with ENAMETOOLONG', async (t) => {
  const result = await runInSandbox(t, 'path-too-long');
  assert.equal(result.exitCode, 0, describe(result));
});

test('path-too-long applies the maxPathBytes limit', async (t) => {
  const result = await runInSandbox(t, 'path-too-long', { args: ['200'], limits: { maxPathBytes: 100 } });
  assert.equal(result.exitCode, 0, describe(result));
});
