import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Errno, Oflags } from '../defs.js';
import {
  describeDescriptorContract,
  errnoOf,
  openRequest,
  readText,
  testLimits,
} from './descriptor-contract.js';
import { createMemoryDirectory } from './memory-fs.js';

describeDescriptorContract('memory filesystem', (setup) => {
  const root = createMemoryDirectory({
    readOnly: setup.readOnly ?? false,
    limits: testLimits(setup.limits),
    files: setup.files ?? {},
  });
  return { root, dispose: () => root.close() };
});

describe('memory filesystem', () => {
  const write = openRequest({ oflags: Oflags.CREAT, write: true });

  it('implies the directories of bundled files and accepts bytes or text', () => {
    const root = createMemoryDirectory({
      readOnly: true,
      limits: testLimits(),
      files: { 'static/css/site.css': 'body{}', 'bin/blob': Uint8Array.of(1, 2, 3) },
    });
    assert.equal(readText(root, 'static/css/site.css'), 'body{}');
    assert.equal(root.statAt('bin/blob', false).size, 3n);
    assert.equal(root.statAt('static', false).nlink, 3n);
  });

  it('refuses bundled paths that are absolute or climb', () => {
    const limits = testLimits();
    assert.throws(() => createMemoryDirectory({ readOnly: true, limits, files: { '/etc/passwd': '' } }), {
      code: 'E_ARGUMENT_INVALID',
    });
    assert.throws(() => createMemoryDirectory({ readOnly: true, limits, files: { 'a/../b': '' } }), {
      code: 'E_ARGUMENT_INVALID',
    });
  });

  it('caps a file at maxMemoryFileBytes with EFBIG', () => {
    const root = createMemoryDirectory({ readOnly: false, limits: testLimits({ maxMemoryFileBytes: 10 }) });
    const file = root.openAt('file', write);
    assert.equal(file.write(new Uint8Array(10)), 10);
    assert.equal(
      errnoOf(() => file.write(Uint8Array.of(1))),
      Errno.FBIG,
    );
    assert.equal(
      errnoOf(() => file.setSize(11n)),
      Errno.FBIG,
    );
    assert.equal(
      errnoOf(() => file.pwrite(Uint8Array.of(1), 1n << 40n)),
      Errno.FBIG,
    );
    assert.equal(file.stat().size, 10n);
  });

  it('caps all files of a mount at maxTotalBytes with ENOSPC, and unlink gives bytes back', () => {
    const root = createMemoryDirectory({ readOnly: false, limits: testLimits(), maxTotalBytes: 16 });
    const a = root.openAt('a', write);
    a.write(new Uint8Array(10));
    const b = root.openAt('b', write);
    assert.equal(
      errnoOf(() => b.write(new Uint8Array(10))),
      Errno.NOSPC,
    );
    a.close();
    root.unlinkFileAt('a');
    assert.equal(b.write(new Uint8Array(10)), 10);
  });

  it('keeps an unlinked file readable through a descriptor still open', () => {
    const root = createMemoryDirectory({ readOnly: false, limits: testLimits(), files: { file: 'still' } });
    const file = root.openAt('file', openRequest());
    root.unlinkFileAt('file');
    const buffer = new Uint8Array(5);
    assert.equal(file.read(buffer), 5);
    assert.equal(file.stat().nlink, 0n);
  });

  it('gives each mount its own inode numbers and device', () => {
    const limits = testLimits();
    const one = createMemoryDirectory({ readOnly: true, limits, files: { a: '' } });
    const two = createMemoryDirectory({ readOnly: true, limits, files: { a: '' } });
    assert.equal(one.statAt('a', false).ino, two.statAt('a', false).ino);
    assert.notEqual(one.stat().dev, two.stat().dev);
  });
});
