import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Fdflags, Oflags, Whence } from '../defs.js';
import {
  describeDescriptorContract,
  openRequest,
  readText,
  testLimits,
  writeText,
} from './descriptor-contract.js';
import { openHostDirectory } from './host-fs.js';

const created: string[] = [];
after(() => {
  for (const dir of created) rmSync(dir, { recursive: true, force: true });
});

function tempDir(files: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'isola-host-fs-'));
  created.push(dir);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

describeDescriptorContract('host filesystem', (setup) => {
  const dir = tempDir(setup.files);
  const root = openHostDirectory(dir, {
    readOnly: setup.readOnly ?? false,
    limits: testLimits(setup.limits),
  });
  return {
    root,
    dispose: () => {
      root.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

describe('host filesystem', () => {
  const limits = testLimits();

  it('refuses to mount what is not a directory, naming the path', () => {
    assert.throws(() => openHostDirectory('/nonexistent/isola', { readOnly: false, limits }), {
      code: 'E_PREOPEN_INVALID',
      message: /\/nonexistent\/isola/,
    });
  });

  it('writes what the host sees and reads what the host wrote', () => {
    const dir = tempDir({ 'in/host.txt': 'from host' });
    const root = openHostDirectory(dir, { readOnly: false, limits });
    assert.equal(readText(root, 'in/host.txt'), 'from host');
    writeText(root, 'in/guest.txt', 'from guest');
    assert.equal(readFileSync(join(dir, 'in/guest.txt'), 'utf8'), 'from guest');
    root.close();
  });

  it('reports the host inode numbers in readdir and stat', () => {
    const dir = tempDir({ a: '' });
    const root = openHostDirectory(dir, { readOnly: false, limits });
    const entry = root.readdir(true).find((candidate) => candidate.name === 'a')!;
    assert.equal(entry.ino, statSync(join(dir, 'a'), { bigint: true }).ino);
    assert.equal(
      root.readdir(true)[1]!.ino,
      statSync(dir, { bigint: true }).ino,
      'the mount root is its own `..`',
    );
    root.close();
  });

  it('appends atomically with O_APPEND, also after APPEND is switched on later', () => {
    const dir = tempDir({ log: 'one\n' });
    const root = openHostDirectory(dir, { readOnly: false, limits });
    const file = root.openAt('log', openRequest({ write: true }));
    file.setFdflags(Fdflags.APPEND);
    writeFileSync(join(dir, 'log'), 'one\ntwo\n');
    file.write(Buffer.from('three\n'));
    assert.equal(file.tell(), 14n);
    assert.equal(readFileSync(join(dir, 'log'), 'utf8'), 'one\ntwo\nthree\n');
    file.close();
    root.close();
  });

  it('sets sub-microsecond timestamps exactly on the host file', () => {
    const dir = tempDir({ file: '' });
    const root = openHostDirectory(dir, { readOnly: false, limits });
    root.setTimesAt('file', false, { atim: 1_700_000_000_123_456_789n, mtim: 1_600_000_000_987_654_321n });
    const stats = statSync(join(dir, 'file'), { bigint: true });
    assert.equal(stats.atimeNs, 1_700_000_000_123_456_789n);
    assert.equal(stats.mtimeNs, 1_600_000_000_987_654_321n);
    root.close();
  });

  it('reads a large file in chunks straight into the caller buffer', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'big'), Buffer.alloc(8 * 1024 * 1024, 1));
    const root = openHostDirectory(dir, { readOnly: true, limits });
    const file = root.openAt('big', openRequest());
    const chunk = new Uint8Array(4096);
    let total = 0;
    for (let count = file.read(chunk); count > 0; count = file.read(chunk)) total += count;
    assert.equal(total, 8 * 1024 * 1024);
    assert.equal(file.seek(0n, Whence.CUR), BigInt(total));
    file.close();
    root.close();
  });

  it('follows a symlink the host made when it stays inside the mount', () => {
    const dir = tempDir({ 'real/file': 'inside' });
    symlinkSync('real', join(dir, 'alias'));
    const root = openHostDirectory(dir, { readOnly: true, limits });
    assert.equal(readText(root, 'alias/file'), 'inside');
    const opened = root.openAt('alias', openRequest({ oflags: Oflags.DIRECTORY, followSymlinks: true }));
    assert.equal(readText(opened, 'file'), 'inside');
    opened.close();
    root.close();
  });
});
