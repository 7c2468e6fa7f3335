import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Errno, Filetype, Rights } from './defs.js';
import { Descriptor, type Filestat } from './descriptor.js';
import { FdTable } from './fd-table.js';
import { errnoOf } from './fs/descriptor-contract.js';

class Stub extends Descriptor {
  readonly filetype = Filetype.REGULAR_FILE;
  closed = false;
  override stat(): Filestat {
    return { dev: 0n, ino: 0n, filetype: this.filetype, nlink: 1n, size: 0n, atim: 0n, mtim: 0n, ctim: 0n };
  }
  override close(): void {
    this.closed = true;
  }
}

const entry = (rights = Rights.FD_READ) => ({
  descriptor: new Stub(),
  rightsBase: rights,
  rightsInheriting: 0n,
});

describe('FdTable', () => {
  it('hands out the lowest free number, as POSIX does', () => {
    const table = new FdTable(10);
    assert.equal(table.insert(entry()), 0);
    assert.equal(table.insert(entry()), 1);
    assert.equal(table.insert(entry()), 2);
    table.remove(1);
    assert.equal(table.insert(entry()), 1);
    assert.equal(table.insert(entry()), 3);
  });

  it('refuses a descriptor past its cap with EMFILE', () => {
    const table = new FdTable(3);
    for (let i = 0; i < 3; i++) table.insert(entry());
    assert.equal(
      errnoOf(() => table.insert(entry())),
      Errno.MFILE,
    );
    table.remove(0);
    assert.equal(table.insert(entry()), 0);
  });

  it('answers EBADF for a closed or never-opened descriptor', () => {
    const table = new FdTable(4);
    assert.equal(
      errnoOf(() => table.get(0)),
      Errno.BADF,
    );
    table.insert(entry());
    table.remove(0);
    assert.equal(
      errnoOf(() => table.remove(0)),
      Errno.BADF,
    );
  });

  it('answers EBADF when the descriptor lacks a right', () => {
    const table = new FdTable(4);
    const fd = table.insert(entry(Rights.FD_READ));
    assert.doesNotThrow(() => table.checked(fd, Rights.FD_READ));
    assert.equal(
      errnoOf(() => table.checked(fd, Rights.FD_WRITE)),
      Errno.BADF,
    );
  });

  it('renumbers by closing the target and moving the source onto it', () => {
    const table = new FdTable(4);
    const from = table.insert(entry());
    const to = table.insert(entry());
    const target = table.get(to).descriptor as Stub;
    const source = table.get(from).descriptor;
    table.renumber(from, to);
    assert.equal(target.closed, true);
    assert.equal(table.get(to).descriptor, source);
    assert.equal(
      errnoOf(() => table.get(from)),
      Errno.BADF,
    );
    assert.equal(table.size, 1);
  });

  it('refuses to renumber onto a descriptor that is not open', () => {
    const table = new FdTable(4);
    const from = table.insert(entry());
    assert.equal(
      errnoOf(() => table.renumber(from, 3)),
      Errno.BADF,
    );
    assert.equal(table.size, 1);
  });
});
