/**
 * The one contract every filesystem's descriptors keep, written once and run by each
 * implementation's test file (the hono `common.case.test.ts` habit). Expected errnos follow the
 * WASI preview1 spec, wasmtime and wasi-testsuite (the test named in each case).
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { resolveWasiLimits, type WasiLimits } from '../../limits.js';
import { Errno, Fdflags, Filetype, Oflags, Whence } from '../defs.js';
import type { Descriptor, OpenRequest } from '../descriptor.js';
import { WasiErrno } from '../errno.js';

export interface FilesystemUnderTest {
  /** The mount's root directory descriptor. */
  root: Descriptor;
  /** Closes descriptors and removes whatever the factory created. */
  dispose(): void;
}

export interface FilesystemSetup {
  readOnly?: boolean;
  limits?: Partial<WasiLimits>;
  /** Text files by relative path, created before the mount is opened. */
  files?: Record<string, string>;
}

export type FilesystemFactory = (setup: FilesystemSetup) => FilesystemUnderTest;

/** The errno `fn` fails with; fails the test when it succeeds or throws something else. */
export function errnoOf(fn: () => unknown): number {
  try {
    fn();
  } catch (error) {
    if (error instanceof WasiErrno) return error.errno;
    throw error;
  }
  assert.fail('expected an errno, the call succeeded');
}

export function openRequest(overrides: Partial<OpenRequest> = {}): OpenRequest {
  return { oflags: 0, fdflags: 0, followSymlinks: false, read: true, write: false, ...overrides };
}

const CREATE = openRequest({ oflags: Oflags.CREAT, write: true });
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function writeText(dir: Descriptor, path: string, text: string, request = CREATE): void {
  const file = dir.openAt(path, request);
  try {
    assert.equal(file.write(encoder.encode(text)), Buffer.byteLength(text));
  } finally {
    file.close();
  }
}

export function readText(dir: Descriptor, path: string, followSymlinks = false): string {
  const file = dir.openAt(path, openRequest({ followSymlinks }));
  try {
    const chunks: Uint8Array[] = [];
    for (;;) {
      const buffer = new Uint8Array(7);
      const count = file.read(buffer);
      if (count === 0) break;
      chunks.push(buffer.subarray(0, count));
    }
    return decoder.decode(Buffer.concat(chunks));
  } finally {
    file.close();
  }
}

function names(dir: Descriptor): string[] {
  return dir
    .readdir(true)
    .map((entry) => entry.name)
    .sort();
}

/** Registers the shared contract suite for one filesystem implementation. */
export function describeDescriptorContract(name: string, factory: FilesystemFactory): void {
  describe(`${name} descriptor contract`, () => {
    const mount = mountsOf(factory);
    describeFiles(mount);
    describeOpen(mount);
    describeDirectories(mount);
    describeTrailingSlashes(mount);
    describeSymlinks(mount);
    describeRenameAndLink(mount);
    describeSandbox(mount);
    describeReadOnly(mount);
  });
}

/** Registers the read-only cases alone, for a filesystem that is never writable. */
export function describeReadOnlyContract(name: string, factory: FilesystemFactory): void {
  describe(`${name} descriptor contract`, () => {
    describeReadOnly(mountsOf(factory));
  });
}

type Mount = (setup?: FilesystemSetup) => Descriptor;

/** Mounts made by `factory`, each disposed of after the test that made it. */
function mountsOf(factory: FilesystemFactory): Mount {
  const mounts: FilesystemUnderTest[] = [];
  afterEach(() => {
    for (const created of mounts.splice(0)) created.dispose();
  });
  return (setup = {}) => {
    const created = factory(setup);
    mounts.push(created);
    return created.root;
  };
}

function describeFiles(mount: Mount): void {
  describe('files', () => {
    it('writes, seeks, tells and reads back what was written', () => {
      const root = mount();
      const file = root.openAt('file', CREATE);
      assert.equal(file.filetype, Filetype.REGULAR_FILE);
      assert.equal(file.tell(), 0n);
      assert.equal(file.write(new Uint8Array(100).fill(7)), 100);
      assert.equal(file.tell(), 100n);
      assert.equal(file.seek(-50n, Whence.CUR), 50n);
      assert.equal(file.seek(0n, Whence.SET), 0n);
      assert.equal(file.seek(1000n, Whence.CUR), 1000n);
      assert.equal(
        errnoOf(() => file.seek(-2000n, Whence.CUR)),
        Errno.INVAL,
      );
      assert.equal(file.seek(0n, Whence.END), 100n);
      file.seek(0n, Whence.SET);
      const buffer = new Uint8Array(200);
      assert.equal(file.read(buffer), 100);
      assert.equal(file.tell(), 100n);
      assert.equal(file.read(buffer), 0);
      file.close();
    });

    it('reads and writes at an offset without moving the position', () => {
      const root = mount();
      const file = root.openAt('file', CREATE);
      assert.equal(file.pwrite(Uint8Array.of(0, 1, 2, 3), 0n), 4);
      assert.equal(file.pwrite(Uint8Array.of(1, 0), 2n), 2);
      const buffer = new Uint8Array(4);
      assert.equal(file.pread(buffer, 0n), 4);
      assert.deepEqual([...buffer], [0, 1, 1, 0]);
      assert.equal(file.pread(buffer, 2n), 2);
      assert.equal(file.pread(buffer, 10n), 0);
      assert.equal(file.tell(), 0n);
      file.close();
    });

    it('appends at the end with APPEND, which can be switched off (fd_flags_set)', () => {
      const root = mount();
      const file = root.openAt(
        'file',
        openRequest({ oflags: Oflags.CREAT, write: true, fdflags: Fdflags.APPEND }),
      );
      assert.equal(file.fdflags() & Fdflags.APPEND, Fdflags.APPEND);
      file.write(new Uint8Array(2).fill(1));
      file.seek(0n, Whence.SET);
      file.write(new Uint8Array(2).fill(2));
      assert.equal(file.tell(), 4n);
      // pwrite on an append descriptor writes at the end, as Linux does (pwrite-with-append).
      file.pwrite(new Uint8Array(3).fill(3), 0n);
      assert.equal(file.tell(), 4n);
      assert.equal(file.stat().size, 7n);
      file.setFdflags(0);
      assert.equal(file.fdflags(), 0);
      file.seek(0n, Whence.SET);
      file.write(Uint8Array.of(9));
      assert.equal(file.stat().size, 7n);
      assert.equal(
        errnoOf(() => file.setFdflags(Fdflags.SYNC)),
        Errno.NOTSUP,
      );
      const first = new Uint8Array(1);
      file.pread(first, 0n);
      assert.equal(first[0], 9);
      file.close();
    });

    it('sets the size, and allocate grows a file but never shrinks it (file_allocate)', () => {
      const root = mount();
      const file = root.openAt('file', CREATE);
      file.setSize(100n);
      assert.equal(file.stat().size, 100n);
      file.allocate(10n, 10n);
      assert.equal(file.stat().size, 100n);
      file.allocate(90n, 20n);
      assert.equal(file.stat().size, 110n);
      file.setSize(3n);
      assert.equal(file.stat().size, 3n);
      file.setSize(6n);
      const buffer = new Uint8Array(6).fill(9);
      assert.equal(file.pread(buffer, 0n), 6);
      assert.deepEqual([...buffer], [0, 0, 0, 0, 0, 0]);
      assert.equal(
        errnoOf(() => file.advise(0n, 0n, 9)),
        Errno.INVAL,
      );
      file.advise(10n, 50n, 0);
      file.close();
    });

    it('sets timestamps to the nanosecond and leaves out what is not given (fd_filestat_set)', () => {
      const root = mount();
      const file = root.openAt('file', CREATE);
      const before = file.stat();
      const mtim = before.mtim - 100n;
      file.setTimes({ atim: undefined, mtim });
      const after = file.stat();
      assert.equal(after.mtim, mtim);
      assert.equal(after.atim, before.atim);
      file.setTimes({ atim: 1_000_000_123n, mtim: 'now' });
      const again = file.stat();
      assert.equal(again.atim, 1_000_000_123n);
      assert.ok(again.mtim > mtim - 10_000_000_000n);
      file.close();
    });

    it('reports real, distinct inode numbers on one device, and link counts', () => {
      const root = mount({ files: { a: 'a', b: 'bb' } });
      const a = root.statAt('a', false);
      const b = root.statAt('b', false);
      assert.equal(a.dev, b.dev);
      assert.notEqual(a.ino, b.ino);
      assert.equal(a.nlink, 1n);
      assert.equal(b.size, 2n);
      assert.equal(a.filetype, Filetype.REGULAR_FILE);
      assert.equal(root.stat().filetype, Filetype.DIRECTORY);
      assert.ok(a.mtim > 1_000_000_000_000_000_000n, 'timestamps are nanoseconds since the epoch');
    });

    it('fails file calls on a directory with the errno POSIX gives (dir_fd_op_failures)', () => {
      const root = mount();
      const buffer = new Uint8Array(4);
      assert.equal(
        errnoOf(() => root.read(buffer)),
        Errno.ISDIR,
      );
      assert.equal(
        errnoOf(() => root.pread(buffer, 0n)),
        Errno.ISDIR,
      );
      assert.equal(
        errnoOf(() => root.write(buffer)),
        Errno.ISDIR,
      );
      assert.equal(
        errnoOf(() => root.seek(0n, Whence.CUR)),
        Errno.ISDIR,
      );
      assert.equal(
        errnoOf(() => root.tell()),
        Errno.ISDIR,
      );
      assert.equal(
        errnoOf(() => root.allocate(0n, 1n)),
        Errno.ISDIR,
      );
      assert.equal(
        errnoOf(() => root.setSize(0n)),
        Errno.ISDIR,
      );
    });
  });
}

function describeOpen(mount: Mount): void {
  describe('path_open', () => {
    it('honours CREAT, EXCL, TRUNC and DIRECTORY', () => {
      const root = mount({ files: { file: 'content', 'dir/x': 'x' } });
      const exclusive = openRequest({ oflags: Oflags.CREAT | Oflags.EXCL, write: true });
      assert.equal(
        errnoOf(() => root.openAt('file', exclusive)),
        Errno.EXIST,
      );
      assert.equal(
        errnoOf(() => root.openAt('missing', openRequest())),
        Errno.NOENT,
      );
      assert.equal(
        errnoOf(() => root.openAt('file', openRequest({ oflags: Oflags.DIRECTORY }))),
        Errno.NOTDIR,
      );
      const invalid = openRequest({ oflags: Oflags.CREAT | Oflags.DIRECTORY });
      assert.equal(
        errnoOf(() => root.openAt('new', invalid)),
        Errno.INVAL,
      );
      // truncation_rights: TRUNC empties the file whatever the access asked for.
      root.openAt('file', openRequest({ oflags: Oflags.TRUNC, read: false })).close();
      assert.equal(root.statAt('file', false).size, 0n);
      root.openAt('fresh', exclusive).close();
      assert.equal(root.statAt('fresh', false).size, 0n);
      const dir = root.openAt('dir', openRequest({ oflags: Oflags.DIRECTORY }));
      assert.equal(dir.filetype, Filetype.DIRECTORY);
      dir.close();
    });

    it('opens a directory, even `.`, as a directory descriptor but never for writing (path_open_preopen)', () => {
      const root = mount({ files: { 'dir/x': 'x' } });
      const self = root.openAt('.', openRequest({ fdflags: Fdflags.NONBLOCK }));
      assert.equal(self.filetype, Filetype.DIRECTORY);
      assert.deepEqual(names(self), ['.', '..', 'dir']);
      self.close();
      assert.equal(
        errnoOf(() => root.openAt('.', openRequest({ write: true }))),
        Errno.ISDIR,
      );
      assert.equal(
        errnoOf(() => root.openAt('dir', openRequest({ write: true }))),
        Errno.ISDIR,
      );
      const dir = root.openAt('dir', openRequest());
      assert.equal(readText(dir, 'x'), 'x');
      writeText(dir, 'y', 'why');
      assert.equal(readText(root, 'dir/y'), 'why');
      dir.close();
    });

    it('reads with a descriptor opened write-only fail, and writes through read-only ones fail', () => {
      const root = mount({ files: { file: 'abc' } });
      const reader = root.openAt('file', openRequest());
      const readErrno = errnoOf(() => reader.write(Uint8Array.of(1)));
      assert.ok(readErrno === Errno.BADF || readErrno === Errno.NOTCAPABLE, `errno ${readErrno}`);
      reader.close();
    });

    it('resolves `.`, `..` and repeated slashes inside the mount (interesting_paths)', () => {
      const root = mount({ files: { 'dir/nested/file': 'deep' } });
      assert.equal(readText(root, 'dir/.//nested/../../dir/nested/../nested///./file'), 'deep');
      assert.equal(
        errnoOf(() => root.openAt('dir/nested/file\0', openRequest())),
        Errno.INVAL,
      );
      const dir = root.openAt('dir/nested///', openRequest());
      assert.equal(dir.filetype, Filetype.DIRECTORY);
      dir.close();
    });
  });
}

function describeDirectories(mount: Mount): void {
  describe('directories', () => {
    it('lists `.` and `..` first with real inode numbers and types (fd_readdir)', () => {
      const root = mount({ files: { file: 'f', 'sub/x': 'x' } });
      root.symlinkAt('file', 'link');
      const entries = root.readdir(true);
      assert.deepEqual(
        entries.slice(0, 2).map((entry) => entry.name),
        ['.', '..'],
      );
      assert.equal(entries[0]!.ino, root.stat().ino);
      const byName = new Map(entries.map((entry) => [entry.name, entry]));
      assert.equal(byName.get('file')!.ino, root.statAt('file', false).ino);
      assert.equal(byName.get('file')!.filetype, Filetype.REGULAR_FILE);
      assert.equal(byName.get('sub')!.filetype, Filetype.DIRECTORY);
      assert.equal(byName.get('link')!.filetype, Filetype.SYMBOLIC_LINK);
      const sub = root.openAt('sub', openRequest());
      assert.equal(sub.readdir(true)[1]!.ino, root.stat().ino);
      sub.close();
    });

    it('keeps the listing it read until asked to refresh', () => {
      const root = mount();
      const first = root.readdir(true);
      writeText(root, 'late', '');
      assert.equal(root.readdir(false), first);
      assert.deepEqual(names(root), ['.', '..', 'late']);
    });

    it('lists at most maxReaddirEntries entries', () => {
      const root = mount({ limits: { maxReaddirEntries: 5 } });
      for (let i = 0; i < 10; i++) writeText(root, `f${i}`, '');
      assert.equal(root.readdir(true).length, 5);
    });

    it('creates and removes directories with POSIX errnos (remove_nonempty_directory)', () => {
      const root = mount({ files: { file: '' } });
      root.createDirectoryAt('dir');
      assert.equal(
        errnoOf(() => root.createDirectoryAt('dir')),
        Errno.EXIST,
      );
      assert.equal(root.statAt('.', false).nlink, 3n);
      writeText(root, 'dir/inner', '');
      assert.equal(
        errnoOf(() => root.removeDirectoryAt('dir')),
        Errno.NOTEMPTY,
      );
      assert.equal(
        errnoOf(() => root.removeDirectoryAt('file')),
        Errno.NOTDIR,
      );
      assert.equal(
        errnoOf(() => root.removeDirectoryAt('missing')),
        Errno.NOENT,
      );
      assert.equal(
        errnoOf(() => root.createDirectoryAt('missing/dir')),
        Errno.NOENT,
      );
      root.unlinkFileAt('dir/inner');
      root.removeDirectoryAt('dir');
      assert.equal(
        errnoOf(() => root.statAt('dir', false)),
        Errno.NOENT,
      );
    });

    it('names a path longer than maxPathBytes ENAMETOOLONG', () => {
      const root = mount({ limits: { maxPathBytes: 16 } });
      assert.equal(
        errnoOf(() => root.statAt('é'.repeat(9), false)),
        Errno.NAMETOOLONG,
      );
      assert.equal(
        errnoOf(() => root.statAt('x'.repeat(16), false)),
        Errno.NOENT,
      );
    });
  });
}

function describeTrailingSlashes(mount: Mount): void {
  describe('trailing slashes', () => {
    it('must name a directory when opening and stating (interesting_paths)', () => {
      const root = mount({ files: { file: '', 'dir/x': '' } });
      assert.equal(
        errnoOf(() => root.openAt('file/', openRequest())),
        Errno.NOTDIR,
      );
      assert.equal(
        errnoOf(() => root.openAt('file///', openRequest())),
        Errno.NOTDIR,
      );
      assert.equal(
        errnoOf(() => root.statAt('file/', false)),
        Errno.NOTDIR,
      );
      assert.equal(root.statAt('dir/', false).filetype, Filetype.DIRECTORY);
    });

    it('unlink a directory is EISDIR, a file with a slash ENOTDIR (unlink_file_trailing_slashes)', () => {
      const root = mount({ files: { file: '', 'dir/x': '' } });
      assert.equal(
        errnoOf(() => root.unlinkFileAt('dir')),
        Errno.ISDIR,
      );
      assert.equal(
        errnoOf(() => root.unlinkFileAt('dir/')),
        Errno.ISDIR,
      );
      assert.equal(
        errnoOf(() => root.unlinkFileAt('file/')),
        Errno.NOTDIR,
      );
      root.unlinkFileAt('file');
    });

    it('remove_directory takes a slash on a directory and refuses files (remove_directory_trailing_slashes)', () => {
      const root = mount({ files: { file: '' } });
      root.createDirectoryAt('dir');
      root.removeDirectoryAt('dir/');
      assert.equal(
        errnoOf(() => root.removeDirectoryAt('file')),
        Errno.NOTDIR,
      );
      assert.equal(
        errnoOf(() => root.removeDirectoryAt('file/')),
        Errno.NOTDIR,
      );
    });

    it('renames directories with slashes on either side, never files (path_rename_dir_trailing_slashes)', () => {
      const root = mount({ files: { file: '' } });
      root.createDirectoryAt('source');
      root.renameAt('source/', root, 'target');
      root.renameAt('target', root, 'source/');
      root.renameAt('source/', root, 'target/');
      root.renameAt('target', root, 'source');
      assert.equal(root.statAt('source', false).filetype, Filetype.DIRECTORY);
      assert.equal(
        errnoOf(() => root.renameAt('file/', root, 'other')),
        Errno.NOTDIR,
      );
      assert.equal(
        errnoOf(() => root.renameAt('file', root, 'other/')),
        Errno.NOTDIR,
      );
    });

    it('symlink to a name with a slash: free ENOENT, directory EEXIST, file ENOTDIR (path_symlink_trailing_slashes)', () => {
      const root = mount({ files: { file: '' } });
      assert.equal(
        errnoOf(() => root.symlinkAt('source', 'target/')),
        Errno.NOENT,
      );
      root.createDirectoryAt('dir');
      assert.equal(
        errnoOf(() => root.symlinkAt('source', 'dir/')),
        Errno.EXIST,
      );
      assert.equal(
        errnoOf(() => root.symlinkAt('source', 'dir')),
        Errno.EXIST,
      );
      assert.equal(
        errnoOf(() => root.symlinkAt('source', 'file/')),
        Errno.NOTDIR,
      );
      assert.equal(
        errnoOf(() => root.symlinkAt('source', 'file')),
        Errno.EXIST,
      );
    });
  });
}

function describeSymlinks(mount: Mount): void {
  describe('symlinks', () => {
    it('opens through a symlink only when following (nofollow_errors, symlink_create)', () => {
      const root = mount({ files: { 'target/x': 'x', file: 'f' } });
      root.symlinkAt('target', 'dirlink');
      root.symlinkAt('file', 'filelink');
      const directory = openRequest({ oflags: Oflags.DIRECTORY });
      const loopOrNotdir = errnoOf(() => root.openAt('dirlink', directory));
      assert.ok(loopOrNotdir === Errno.LOOP || loopOrNotdir === Errno.NOTDIR);
      assert.equal(
        errnoOf(() => root.openAt('dirlink', openRequest())),
        Errno.LOOP,
      );
      assert.equal(
        errnoOf(() => root.openAt('filelink', openRequest())),
        Errno.LOOP,
      );
      const followed = root.openAt('dirlink', { ...directory, followSymlinks: true });
      assert.equal(followed.filetype, Filetype.DIRECTORY);
      followed.close();
      assert.equal(readText(root, 'filelink', true), 'f');
      const fileAsDirectory = { ...directory, followSymlinks: true };
      assert.equal(
        errnoOf(() => root.openAt('filelink', fileAsDirectory)),
        Errno.NOTDIR,
      );
      assert.equal(readText(root, 'dirlink/x'), 'x', 'symlinks in the middle are followed');
    });

    it('creates through a dangling symlink when following, refuses it when not (dangling_symlink)', () => {
      const root = mount();
      root.symlinkAt('target', 'dangling');
      assert.equal(
        errnoOf(() => root.openAt('dangling', openRequest())),
        Errno.LOOP,
      );
      const directory = errnoOf(() => root.openAt('dangling', openRequest({ oflags: Oflags.DIRECTORY })));
      assert.ok(directory === Errno.LOOP || directory === Errno.NOTDIR);
      assert.equal(
        errnoOf(() => root.openAt('dangling', CREATE)),
        Errno.LOOP,
      );
      writeText(root, 'dangling', 'made', { ...CREATE, followSymlinks: true });
      assert.equal(readText(root, 'target'), 'made');
      assert.equal(root.statAt('dangling', false).filetype, Filetype.SYMBOLIC_LINK);
    });

    it('fails a loop, and a chain longer than maxSymlinkFollows, with ELOOP (symlink_loop)', () => {
      const root = mount({ limits: { maxSymlinkFollows: 3 }, files: { end: 'end' } });
      root.symlinkAt('symlink', 'symlink');
      assert.equal(
        errnoOf(() => root.openAt('symlink', openRequest({ followSymlinks: true }))),
        Errno.LOOP,
      );
      assert.equal(
        errnoOf(() => root.statAt('symlink/x', false)),
        Errno.LOOP,
      );
      root.symlinkAt('end', 'l1');
      root.symlinkAt('l1', 'l2');
      root.symlinkAt('l2', 'l3');
      root.symlinkAt('l3', 'l4');
      assert.equal(readText(root, 'l3', true), 'end');
      assert.equal(
        errnoOf(() => root.openAt('l4', openRequest({ followSymlinks: true }))),
        Errno.LOOP,
      );
    });

    it('stats and sets times of the link or of its target as asked (path_exists, symlink_filestat)', () => {
      const root = mount({ files: { 'subdir/file': 'x' } });
      root.symlinkAt('subdir/file', 'link1');
      root.symlinkAt('subdir', 'link2');
      assert.equal(root.statAt('link1', false).filetype, Filetype.SYMBOLIC_LINK);
      assert.equal(root.statAt('link1', true).filetype, Filetype.REGULAR_FILE);
      assert.equal(root.statAt('link2', true).filetype, Filetype.DIRECTORY);
      assert.equal(root.statAt('link2/', false).filetype, Filetype.DIRECTORY);
      const file = root.statAt('subdir/file', false);
      const link = root.statAt('link1', false);
      root.setTimesAt('link1', false, { atim: undefined, mtim: link.mtim - 200n });
      assert.equal(root.statAt('link1', false).mtim, link.mtim - 200n);
      assert.equal(root.statAt('subdir/file', false).mtim, file.mtim);
      root.setTimesAt('link1', true, { atim: undefined, mtim: file.mtim - 300n });
      assert.equal(root.statAt('subdir/file', false).mtim, file.mtim - 300n);
    });

    it('stores the target verbatim, reads it back, and refuses absolute targets (readlink, symlink_create)', () => {
      const root = mount({ files: { file: '' } });
      root.symlinkAt('../../anything/../file', 'odd');
      assert.equal(root.readlinkAt('odd'), '../../anything/../file');
      assert.equal(
        errnoOf(() => root.readlinkAt('file')),
        Errno.INVAL,
      );
      assert.equal(
        errnoOf(() => root.readlinkAt('missing')),
        Errno.NOENT,
      );
      assert.equal(
        errnoOf(() => root.symlinkAt('/', 'root')),
        Errno.PERM,
      );
      assert.equal(
        errnoOf(() => root.symlinkAt('', 'empty')),
        Errno.NOENT,
      );
      assert.equal(root.unlinkFileAt('odd'), undefined);
    });
  });
}

function describeRenameAndLink(mount: Mount): void {
  describe('rename and link', () => {
    it('follows rename(2) for files and directories (path_rename)', () => {
      const root = mount({ files: { 'full/file': '', a: 'a', b: 'b' } });
      root.createDirectoryAt('source');
      root.createDirectoryAt('empty');
      root.renameAt('source', root, 'empty');
      assert.equal(
        errnoOf(() => root.statAt('source', false)),
        Errno.NOENT,
      );
      root.createDirectoryAt('source');
      assert.equal(
        errnoOf(() => root.renameAt('source', root, 'full')),
        Errno.NOTEMPTY,
      );
      assert.equal(
        errnoOf(() => root.renameAt('source', root, 'full/file')),
        Errno.NOTDIR,
      );
      assert.equal(
        errnoOf(() => root.renameAt('a', root, 'source')),
        Errno.ISDIR,
      );
      assert.equal(
        errnoOf(() => root.renameAt('source', root, 'source/inside')),
        Errno.INVAL,
      );
      root.renameAt('a', root, 'b');
      assert.equal(readText(root, 'b'), 'a');
      assert.equal(
        errnoOf(() => root.renameAt('missing', root, 'x')),
        Errno.NOENT,
      );
      root.renameAt('b', root, 'b');
      assert.equal(readText(root, 'b'), 'a');
    });

    it('renames and links across two descriptors of one mount, not across mounts (EXDEV)', () => {
      const root = mount({ files: { file: 'f', 'sub/x': '' } });
      const sub = root.openAt('sub', openRequest());
      root.renameAt('file', sub, 'moved');
      assert.equal(readText(root, 'sub/moved'), 'f');
      sub.linkAt('moved', false, root, 'back');
      assert.equal(root.statAt('back', false).nlink, 2n);
      const other = mount();
      assert.equal(
        errnoOf(() => root.renameAt('back', other, 'x')),
        Errno.XDEV,
      );
      assert.equal(
        errnoOf(() => root.linkAt('back', false, other, 'x')),
        Errno.XDEV,
      );
      sub.close();
    });

    it('hard-links files, symlinks and dangling symlinks but not directories (path_link)', () => {
      const root = mount({ files: { file: 'f' } });
      root.linkAt('file', false, root, 'link');
      assert.equal(root.statAt('file', false).nlink, 2n);
      assert.equal(root.statAt('link', false).ino, root.statAt('file', false).ino);
      assert.equal(
        errnoOf(() => root.linkAt('file', false, root, 'link')),
        Errno.EXIST,
      );
      assert.equal(
        errnoOf(() => root.linkAt('file', false, root, 'file')),
        Errno.EXIST,
      );
      assert.equal(
        errnoOf(() => root.linkAt('file', false, root, 'new/')),
        Errno.NOENT,
      );
      root.createDirectoryAt('dir');
      assert.equal(
        errnoOf(() => root.linkAt('file', false, root, 'dir')),
        Errno.EXIST,
      );
      assert.equal(
        errnoOf(() => root.linkAt('dir', false, root, 'dirlink')),
        Errno.PERM,
      );
      root.symlinkAt('target', 'dangling');
      root.linkAt('dangling', false, root, 'hard');
      assert.equal(root.statAt('hard', false).filetype, Filetype.SYMBOLIC_LINK);
      assert.equal(
        errnoOf(() => root.linkAt('dangling', true, root, 'other')),
        Errno.INVAL,
      );
      root.unlinkFileAt('link');
      assert.equal(root.statAt('file', false).nlink, 1n);
    });
  });
}

function describeSandbox(mount: Mount): void {
  describe('sandbox', () => {
    it('refuses absolute paths and `..` above the directory with EPERM (interesting_paths)', () => {
      const root = mount({ files: { 'dir/file': '' } });
      assert.equal(
        errnoOf(() => root.openAt('/dir/file', openRequest())),
        Errno.PERM,
      );
      assert.equal(
        errnoOf(() => root.statAt('..', false)),
        Errno.PERM,
      );
      assert.equal(
        errnoOf(() => root.statAt('dir/../../dir', false)),
        Errno.PERM,
      );
      assert.equal(
        errnoOf(() => root.createDirectoryAt('../escape')),
        Errno.PERM,
      );
      const dir = root.openAt('dir', openRequest());
      // Every directory descriptor is a root of its own, as in wasmtime.
      assert.equal(
        errnoOf(() => dir.statAt('../dir/file', false)),
        Errno.PERM,
      );
      dir.close();
    });

    it('never follows a symlink out of the mount, however it is written', () => {
      const root = mount({ files: { 'dir/file': 'in' } });
      root.symlinkAt('../..', 'up');
      root.symlinkAt('dir/../..', 'sneaky');
      root.symlinkAt('dir/..', 'self');
      const follow = openRequest({ followSymlinks: true });
      assert.equal(
        errnoOf(() => root.openAt('up', follow)),
        Errno.PERM,
      );
      assert.equal(
        errnoOf(() => root.statAt('up/etc/passwd', false)),
        Errno.PERM,
      );
      assert.equal(
        errnoOf(() => root.statAt('sneaky', true)),
        Errno.PERM,
      );
      assert.equal(readText(root, 'self/dir/file'), 'in');
      assert.equal(root.statAt('self', true).ino, root.stat().ino);
      const dir = root.openAt('dir', openRequest());
      dir.symlinkAt('..', 'parent');
      assert.equal(
        errnoOf(() => dir.statAt('parent/dir', true)),
        Errno.PERM,
      );
      dir.close();
    });
  });
}

function describeReadOnly(mount: Mount): void {
  describe('read-only mounts', () => {
    it('can be read and listed', () => {
      const root = mount({ readOnly: true, files: { 'static/index.html': '<h1>hi</h1>' } });
      assert.equal(readText(root, 'static/index.html'), '<h1>hi</h1>');
      assert.deepEqual(names(root), ['.', '..', 'static']);
      assert.equal(root.readOnly, true);
    });

    it('cannot be modified through any path call (EROFS)', () => {
      const root = mount({ readOnly: true, files: { file: 'keep', 'dir/x': 'x' } });
      const write = openRequest({ write: true });
      assert.equal(
        errnoOf(() => root.openAt('file', write)),
        Errno.ROFS,
      );
      assert.equal(
        errnoOf(() => root.openAt('file', openRequest({ oflags: Oflags.TRUNC }))),
        Errno.ROFS,
      );
      assert.equal(
        errnoOf(() => root.openAt('new', openRequest({ oflags: Oflags.CREAT }))),
        Errno.ROFS,
      );
      const exclusive = openRequest({ oflags: Oflags.CREAT | Oflags.EXCL });
      assert.equal(
        errnoOf(() => root.openAt('file', exclusive)),
        Errno.EXIST,
      );
      assert.equal(
        errnoOf(() => root.createDirectoryAt('new')),
        Errno.ROFS,
      );
      assert.equal(
        errnoOf(() => root.removeDirectoryAt('dir')),
        Errno.ROFS,
      );
      assert.equal(
        errnoOf(() => root.unlinkFileAt('file')),
        Errno.ROFS,
      );
      assert.equal(
        errnoOf(() => root.renameAt('file', root, 'moved')),
        Errno.ROFS,
      );
      assert.equal(
        errnoOf(() => root.linkAt('file', false, root, 'hard')),
        Errno.ROFS,
      );
      assert.equal(
        errnoOf(() => root.symlinkAt('file', 'soft')),
        Errno.ROFS,
      );
      const times = { atim: 'now', mtim: 'now' } as const;
      assert.equal(
        errnoOf(() => root.setTimesAt('file', false, times)),
        Errno.ROFS,
      );
      assert.equal(readText(root, 'file'), 'keep');
      assert.deepEqual(names(root), ['.', '..', 'dir', 'file']);
    });

    it('cannot be modified through a descriptor, even one asked for writing (EBADF)', () => {
      const root = mount({ readOnly: true, files: { file: 'keep' } });
      const file = root.openAt('file', openRequest());
      const dir = root.openAt('.', openRequest());
      const data = Uint8Array.of(1);
      assert.equal(
        errnoOf(() => file.write(data)),
        Errno.BADF,
      );
      assert.equal(
        errnoOf(() => file.pwrite(data, 0n)),
        Errno.BADF,
      );
      assert.equal(
        errnoOf(() => file.pwrite(data, 1n << 60n)),
        Errno.BADF,
        'the mount is read-only before the offset is too large',
      );
      file.setFdflags(Fdflags.APPEND);
      assert.equal(
        errnoOf(() => file.write(data)),
        Errno.BADF,
      );
      assert.equal(file.tell(), 0n, 'a refused append leaves the position alone');
      file.setFdflags(0);
      assert.equal(
        errnoOf(() => file.setSize(0n)),
        Errno.BADF,
      );
      assert.equal(
        errnoOf(() => file.allocate(0n, 10n)),
        Errno.BADF,
      );
      assert.equal(
        errnoOf(() => file.setTimes({ atim: 'now', mtim: undefined })),
        Errno.BADF,
      );
      assert.equal(
        errnoOf(() => dir.setTimes({ atim: 'now', mtim: undefined })),
        Errno.BADF,
      );
      file.close();
      dir.close();
      assert.equal(readText(root, 'file'), 'keep');
    });
  });
}

/** Limits for tests: defaults with overrides. */
export function testLimits(overrides: Partial<WasiLimits> = {}): WasiLimits {
  return resolveWasiLimits(overrides);
}
