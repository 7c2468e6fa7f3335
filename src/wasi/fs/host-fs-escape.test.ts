/**
 * Attempts to break out of a host mount: every way a guest (or another process changing the
 * directory underneath) might reach a file outside. Each test keeps a `secret` file outside the
 * mount and asserts that it is never read, written, created, moved or linked.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs, {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { Errno, Oflags } from '../defs.js';
import type { Descriptor } from '../descriptor.js';
import { WasiErrno } from '../errno.js';
import { errnoOf, openRequest, readText, testLimits, writeText } from './descriptor-contract.js';
import { openHostDirectory } from './host-fs.js';

const limits = testLimits();
const follow = openRequest({ followSymlinks: true });
const createFollowing = openRequest({ oflags: Oflags.CREAT, write: true, followSymlinks: true });

describe('host filesystem escapes', () => {
  let base: string;
  let mountPath: string;
  let outside: string;
  let root: Descriptor;

  beforeEach(() => {
    base = mkdtempSync(join(tmpdir(), 'isola-escape-'));
    mountPath = join(base, 'mount');
    outside = join(base, 'outside');
    mkdirSync(join(mountPath, 'a', 'b'), { recursive: true });
    mkdirSync(outside);
    writeFileSync(join(outside, 'secret'), 'SECRET');
    writeFileSync(join(outside, 'sibling'), 'SECRET');
    writeFileSync(join(mountPath, 'a', 'b', 'secret'), 'inside');
    writeFileSync(join(mountPath, 'sibling'), 'inside');
    root = openHostDirectory(mountPath, { readOnly: false, limits });
  });

  afterEach(() => {
    root.close();
    assert.equal(readFileSync(join(outside, 'secret'), 'utf8'), 'SECRET', 'the outside file is untouched');
    assert.deepEqual(readdirSync(outside).sort(), ['secret', 'sibling'], 'nothing was created outside');
    rmSync(base, { recursive: true, force: true });
  });

  it('refuses host symlinks with absolute targets, wherever they sit in the path', () => {
    symlinkSync(outside, join(mountPath, 'abs'));
    symlinkSync('/', join(mountPath, 'a', 'slash'));
    assert.equal(
      errnoOf(() => root.openAt('abs/secret', openRequest())),
      Errno.PERM,
    );
    assert.equal(
      errnoOf(() => root.openAt('abs', follow)),
      Errno.PERM,
    );
    assert.equal(
      errnoOf(() => root.statAt('a/slash/etc/passwd', false)),
      Errno.PERM,
    );
    assert.equal(
      errnoOf(() => root.openAt('abs/new', createFollowing)),
      Errno.PERM,
    );
    assert.equal(
      errnoOf(() => root.createDirectoryAt('abs/dir')),
      Errno.PERM,
    );
    assert.equal(
      errnoOf(() => root.unlinkFileAt('abs/secret')),
      Errno.PERM,
    );
    assert.equal(root.readlinkAt('abs'), outside, 'the link itself may be read');
  });

  it('refuses host symlinks whose relative target climbs out', () => {
    symlinkSync('../outside', join(mountPath, 'up'));
    symlinkSync('../../../outside/secret', join(mountPath, 'a', 'b', 'deep'));
    assert.equal(
      errnoOf(() => root.openAt('up/secret', openRequest())),
      Errno.PERM,
    );
    assert.equal(
      errnoOf(() => root.openAt('a/b/deep', follow)),
      Errno.PERM,
    );
    assert.equal(
      errnoOf(() => root.statAt('a/b/deep', true)),
      Errno.PERM,
    );
    assert.equal(
      errnoOf(() => root.setTimesAt('a/b/deep', true, { atim: 0n, mtim: 0n })),
      Errno.PERM,
    );
  });

  it('never follows symlinks the guest creates out of the mount, for any call', () => {
    root.symlinkAt('../outside', 'up');
    root.symlinkAt('a/../../outside/secret', 'file');
    assert.equal(
      errnoOf(() => root.openAt('up/secret', openRequest())),
      Errno.PERM,
    );
    assert.equal(
      errnoOf(() => root.openAt('file', createFollowing)),
      Errno.PERM,
    );
    assert.equal(
      errnoOf(() => root.openAt('up/created', createFollowing)),
      Errno.PERM,
    );
    assert.equal(
      errnoOf(() => root.renameAt('sibling', root, 'up/sibling')),
      Errno.PERM,
    );
    assert.equal(
      errnoOf(() => root.renameAt('up/secret', root, 'stolen')),
      Errno.PERM,
    );
    assert.equal(
      errnoOf(() => root.linkAt('up/secret', false, root, 'stolen')),
      Errno.PERM,
    );
    assert.equal(
      errnoOf(() => root.linkAt('sibling', false, root, 'up/planted')),
      Errno.PERM,
    );
    assert.equal(
      errnoOf(() => root.symlinkAt('x', 'up/planted')),
      Errno.PERM,
    );
    assert.equal(
      errnoOf(() => root.removeDirectoryAt('up/..')),
      Errno.PERM,
    );
    // Unlinking the link itself is fine: it is inside.
    root.unlinkFileAt('file');
  });

  it('refuses `..` and absolute paths with EPERM in every path call', () => {
    const escapes = ['../outside/secret', 'a/../../outside/secret', '/etc/passwd', `${outside}/secret`];
    for (const path of escapes) {
      assert.equal(
        errnoOf(() => root.openAt(path, openRequest())),
        Errno.PERM,
        path,
      );
      assert.equal(
        errnoOf(() => root.statAt(path, true)),
        Errno.PERM,
        path,
      );
      assert.equal(
        errnoOf(() => root.unlinkFileAt(path)),
        Errno.PERM,
        path,
      );
      assert.equal(
        errnoOf(() => root.renameAt('sibling', root, path)),
        Errno.PERM,
        path,
      );
    }
  });

  it('keeps `..` lexical when a directory is moved out of the mount mid-walk', () => {
    const original = fs.openSync;
    let moved = false;
    // Right after the walk opened `a`, another process moves `a` outside the mount.
    fs.openSync = ((...args: Parameters<typeof fs.openSync>) => {
      const fd = original(...args);
      const path = args[0];
      if (!moved && String(path).endsWith('/a')) {
        moved = true;
        renameSync(join(mountPath, 'a'), join(base, 'a-moved'));
      }
      return fd;
    }) as typeof fs.openSync;
    syncBuiltinESMExports();
    try {
      // The kernel's `..` of `a` is now `base`, whose `outside/sibling` is the secret.
      assert.equal(readText(root, 'a/../sibling'), 'inside');
      assert.ok(moved, 'the move happened during the walk');
    } finally {
      fs.openSync = original;
      syncBuiltinESMExports();
    }
  });

  it('is not led outside when a directory is swapped for a symlink mid-walk', () => {
    const original = fs.openSync;
    let swapped = false;
    // Right after the walk opened `a`, `a/b` becomes a symlink to the outside directory.
    fs.openSync = ((...args: Parameters<typeof fs.openSync>) => {
      const fd = original(...args);
      const path = args[0];
      if (!swapped && String(path).endsWith('/a')) {
        swapped = true;
        renameSync(join(mountPath, 'a', 'b'), join(base, 'b-real'));
        symlinkSync(outside, join(mountPath, 'a', 'b'));
      }
      return fd;
    }) as typeof fs.openSync;
    syncBuiltinESMExports();
    try {
      assert.equal(
        errnoOf(() => root.openAt('a/b/secret', openRequest())),
        Errno.PERM,
      );
      assert.ok(swapped, 'the swap happened during the walk');
    } finally {
      fs.openSync = original;
      syncBuiltinESMExports();
    }
  });

  it('keeps an open directory descriptor on the directory it opened after a swap', () => {
    const dir = root.openAt('a', openRequest());
    renameSync(join(mountPath, 'a'), join(base, 'a-real'));
    symlinkSync('/', join(mountPath, 'a'));
    assert.equal(readText(dir, 'b/secret'), 'inside');
    assert.equal(
      errnoOf(() => root.statAt('a/etc/passwd', false)),
      Errno.PERM,
    );
    assert.equal(
      errnoOf(() => dir.statAt('../sibling', false)),
      Errno.PERM,
    );
    dir.close();
  });

  it('never reads outside while another process keeps swapping a directory and a symlink', async () => {
    // The swapper alternates `a` between the real directory and a symlink to the outside one.
    const script = `cd "${mountPath}" && end=$((SECONDS+2)); while [ $SECONDS -lt $end ]; do
      mv a a.real; ln -s ../outside a; rm a; ln -s "${outside}" a; rm a; mv a.real a; done`;
    const swapper = spawn('bash', ['-c', script], { stdio: 'ignore', detached: true });
    const outcomes = new Map<string, number>();
    const deadline = Date.now() + 600;
    try {
      while (Date.now() < deadline) {
        for (const path of ['a/b/secret', 'a/secret', 'a/../outside/secret']) {
          let outcome: string;
          try {
            outcome = readText(root, path, true);
          } catch (error) {
            if (!(error instanceof WasiErrno)) throw error;
            outcome = `errno ${error.errno}`;
          }
          outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
        }
        await new Promise((resolve) => setImmediate(resolve));
      }
    } finally {
      const exited = new Promise((resolve) => swapper.once('exit', resolve));
      // The whole process group: the shell and whichever mv/ln/rm it is running.
      process.kill(-swapper.pid!, 'SIGKILL');
      await exited;
    }
    if (!existsSync(join(mountPath, 'a'))) renameSync(join(mountPath, 'a.real'), join(mountPath, 'a'));
    assert.equal(outcomes.get('SECRET'), undefined, `outcomes: ${JSON.stringify([...outcomes])}`);
    assert.ok((outcomes.get('inside') ?? 0) > 0, 'the walk succeeded while the directory was real');
  });

  it('leaves a read-only mount exactly as it was after every kind of write', () => {
    const ro = openHostDirectory(mountPath, { readOnly: true, limits });
    const attempts: Array<() => unknown> = [
      () => ro.openAt('sibling', openRequest({ write: true })),
      () => ro.openAt('sibling', openRequest({ oflags: Oflags.TRUNC })),
      () => ro.openAt('new', openRequest({ oflags: Oflags.CREAT })),
      () => ro.createDirectoryAt('new'),
      () => ro.removeDirectoryAt('a/b'),
      () => ro.unlinkFileAt('sibling'),
      () => ro.renameAt('sibling', ro, 'renamed'),
      () => ro.linkAt('sibling', false, ro, 'hard'),
      () => ro.symlinkAt('sibling', 'soft'),
      () => ro.setTimesAt('sibling', false, { atim: 0n, mtim: 0n }),
      () => writeText(ro, 'sibling', 'overwritten', openRequest({ write: true })),
    ];
    for (const attempt of attempts) assert.equal(errnoOf(attempt), Errno.ROFS);
    const file = ro.openAt('sibling', openRequest());
    assert.equal(
      errnoOf(() => file.write(Buffer.from('x'))),
      Errno.BADF,
    );
    assert.equal(
      errnoOf(() => file.setSize(0n)),
      Errno.BADF,
    );
    file.close();
    ro.close();
    assert.equal(readFileSync(join(mountPath, 'sibling'), 'utf8'), 'inside');
    assert.deepEqual(readdirSync(mountPath).sort(), ['a', 'sibling']);
  });

  it('caps path length and symlink follows', () => {
    const small = openHostDirectory(mountPath, {
      readOnly: false,
      limits: testLimits({ maxSymlinkFollows: 1 }),
    });
    small.symlinkAt('sibling', 'one');
    small.symlinkAt('one', 'two');
    assert.equal(readText(small, 'one', true), 'inside');
    assert.equal(
      errnoOf(() => small.openAt('two', follow)),
      Errno.LOOP,
    );
    assert.equal(
      errnoOf(() => small.statAt(`${'x/'.repeat(2100)}`, false)),
      Errno.NAMETOOLONG,
    );
    small.close();
  });
});
