import assert from 'node:assert/strict';
import {
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { InputSource } from '../../src/wasi/index.js';
import { describe, runFixture, tempDir } from './run-fixture.js';

/** A sandbox directory with a secret file and a sibling directory next to it. */
function sandboxWithSecret(t: Parameters<typeof tempDir>[0]) {
  const root = tempDir(t);
  const sandbox = join(root, 'sandbox');
  mkdirSync(sandbox);
  mkdirSync(join(root, 'sibling'));
  writeFileSync(join(root, 'secret.txt'), 'top secret');
  return { root, sandbox };
}

function assertOutsideUntouched(root: string) {
  assert.deepEqual(readdirSync(root).sort(), ['sandbox', 'secret.txt', 'sibling']);
  assert.equal(readFileSync(join(root, 'secret.txt'), 'utf8'), 'top secret');
  assert.deepEqual(readdirSync(join(root, 'sibling')), []);
}

/** Every "call -> ERRNO" line the fixture printed. */
function attempts(stdout: string): [string, string][] {
  return [...stdout.matchAll(/^(.+) -> (\w+)$/gm)].map((m) => [m[1]!, m[2]!]);
}

test('path-escape-dotdot cannot reach outside the mount through `..` with any path call', async (t) => {
  const { root, sandbox } = sandboxWithSecret(t);
  symlinkSync('secret.txt', join(root, 'link-outside'));
  const result = await runFixture('path-escape-dotdot', { dirs: { '/sandbox': sandbox } });
  assert.equal(result.exitCode, 0, describe(result));
  const lines = attempts(result.stdout);
  assert.ok(lines.length >= 16, result.stdout);
  for (const [call, errno] of lines) {
    if (call.startsWith('fopen')) continue;
    assert.equal(errno, 'PERM', `${call} should be refused with EPERM, got ${errno}`);
  }
  assert.deepEqual(readdirSync(root).sort(), ['link-outside', 'sandbox', 'secret.txt', 'sibling']);
  assert.equal(readFileSync(join(root, 'secret.txt'), 'utf8'), 'top secret');
  assert.deepEqual(readdirSync(sandbox), []);
});

test('path-escape-absolute cannot open absolute paths or follow absolute symlinks to the host', async (t) => {
  const { root, sandbox } = sandboxWithSecret(t);
  const result = await runFixture('path-escape-absolute', { dirs: { '/sandbox': sandbox } });
  assert.equal(result.exitCode, 0, describe(result));
  for (const [call, errno] of attempts(result.stdout)) {
    if (call.startsWith('fopen')) continue;
    assert.ok(['PERM', 'NOENT', 'LOOP', 'NOTCAPABLE'].includes(errno), `${call} gave ${errno}`);
  }
  for (const [call, errno] of attempts(result.stdout).slice(0, 4)) {
    assert.equal(errno, 'PERM', `${call} with a leading / should be EPERM`);
  }
  assertOutsideUntouched(root);
  assert.throws(() => statSync('/tmp/isola-escape'));
});

test('path-escape-symlink cannot leave through planted or guest-made symlinks', async (t) => {
  const { root, sandbox } = sandboxWithSecret(t);
  symlinkSync('..', join(sandbox, 'planted-up'));
  symlinkSync(root, join(sandbox, 'planted-abs'));
  const result = await runFixture('path-escape-symlink', { dirs: { '/sandbox': sandbox } });
  assert.equal(result.exitCode, 0, describe(result));
  assert.match(result.stdout, /^inside link works$/m);
  for (const [call, errno] of attempts(result.stdout)) {
    assert.ok(['PERM', 'NOENT', 'LOOP', 'NOTCAPABLE', 'ACCES'].includes(errno), `${call} gave ${errno}`);
  }
  assertOutsideUntouched(root);
});

test('path-escape-symlink cannot leave an in-memory mount either', async () => {
  const result = await runFixture('path-escape-symlink', { memoryDirs: { '/sandbox': { files: {} } } });
  assert.equal(result.exitCode, 0, describe(result));
});

test('symlink-loop ends self-loops, two-link cycles and 100-link chains with ELOOP on a host mount', async (t) => {
  const dir = tempDir(t);
  const result = await runFixture('symlink-loop', { dirs: { '/sandbox': dir } });
  assert.equal(result.exitCode, 0, describe(result));
  assert.equal(result.stdout, 'self loop: LOOP\ntwo-link cycle: LOOP\n100-link chain: LOOP\n');
});

test('readonly-write-attempts cannot change a read-only host mount through any call', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'file.txt'), 'original');
  mkdirSync(join(dir, 'dir'));
  const before = statSync(join(dir, 'file.txt'));
  const result = await runFixture('readonly-write-attempts', { roDirs: { '/ro': dir } });
  assert.equal(result.exitCode, 0, describe(result));
  assert.ok(attempts(result.stdout).length >= 20, result.stdout);
  assert.deepEqual(readdirSync(dir).sort(), ['dir', 'file.txt']);
  assert.deepEqual(readdirSync(join(dir, 'dir')), []);
  assert.equal(readFileSync(join(dir, 'file.txt'), 'utf8'), 'original');
  const after = statSync(join(dir, 'file.txt'));
  // atime may move: the fixture reads the file, and the host OS records reads (relatime).
  assert.equal(after.mtimeMs, before.mtimeMs);
});

test('readonly-write-attempts cannot change a read-only in-memory mount through any call', async () => {
  const result = await runFixture('readonly-write-attempts', {
    memoryDirs: { '/ro': { files: { 'file.txt': 'original', 'dir/.keep': '' }, readOnly: true } },
  });
  assert.equal(result.exitCode, 0, describe(result));
});

test('a host directory swapped for a symlink to the outside while the guest runs does not let it out', async (t) => {
  const { root, sandbox } = sandboxWithSecret(t);
  mkdirSync(join(sandbox, 'sub'));
  // The guest reads stdin between holding `sub` open and using it; the read swaps `sub` on the
  // host for a symlink to the directory outside the mount, as another process could.
  let swapped = false;
  const swapper: InputSource = {
    read: () => {
      if (!swapped) {
        renameSync(join(sandbox, 'sub'), join(sandbox, 'sub-old'));
        symlinkSync(root, join(sandbox, 'sub'));
        swapped = true;
      }
      return 0;
    },
    available: () => 0n,
    isTerminal: false,
  };
  const result = await runFixture('path-swap-underneath', { dirs: { '/sandbox': sandbox }, stdin: swapper });
  assert.ok(swapped, 'the guest never read stdin');
  assert.equal(result.exitCode, 0, describe(result));
  assertOutsideUntouched(root);
});
