/**
 * A host directory mounted into a guest, read-write or read-only (Linux only).
 *
 * Every guest path is resolved by `walkPath` one component at a time through real directory
 * file descriptors: each step opens `/proc/self/fd/<dirfd>/<name>` with `O_DIRECTORY|O_NOFOLLOW`
 * (the kernel resolves the magic link to the very directory the fd holds, so this is `openat`),
 * symlinks are read with `readlink` on the same kind of path and spliced in by the walker, which
 * enforces the mount boundary lexically. The final operation runs on
 * `/proc/self/fd/<parentfd>/<name>` and never follows a symlink itself. A directory swapped for a
 * symlink by another process between two steps therefore makes the next step fail or be
 * re-checked; it never leads outside.
 *
 * Node's fs has no `*at` calls, `fcntl`, `lseek` or `utimensat`; what they would do is emulated:
 * the file position is kept here and every read and write is positional (pread/pwrite), APPEND is
 * a real `O_APPEND` (changing it reopens the file through `/proc/self/fd/<fd>`), and timestamps are
 * set with microsecond precision through Node and made exact, when a time is not a whole
 * microsecond, with coreutils `touch -d @sec.nsec` on the same fd (see `setTimestamps`).
 */
import { spawnSync } from 'node:child_process';
import {
  type BigIntStats,
  closeSync,
  constants,
  existsSync,
  fdatasyncSync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  futimesSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  opendirSync,
  openSync,
  readlinkSync,
  readSync,
  renameSync,
  rmdirSync,
  symlinkSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { IsolaError } from '../../errors.js';
import type { WasiLimits } from '../../limits.js';
import { Errno, Fdflags, Filetype, Oflags, Whence } from '../defs.js';
import {
  Descriptor,
  type DirEntry,
  type Filestat,
  type OpenRequest,
  type TimeUpdate,
} from '../descriptor.js';
import { fail, hostCall } from '../errno.js';
import {
  checkSymlinkTarget,
  type DirectoryWalker,
  FollowSymlink,
  type LastStep,
  type Step,
  walkPath,
} from './path.js';

const { O_RDONLY, O_WRONLY, O_RDWR, O_CREAT, O_EXCL, O_TRUNC, O_APPEND, O_DIRECTORY, O_NOFOLLOW } = constants;
const { O_NOCTTY, O_NONBLOCK, O_DSYNC, O_SYNC } = constants;
const DIRECTORY_FLAGS = O_RDONLY | O_DIRECTORY | O_NOFOLLOW;
const SYNC_FDFLAGS = Fdflags.DSYNC | Fdflags.RSYNC | Fdflags.SYNC;
const S_IFMT = 0o170000;
const NS_PER_SECOND = 1_000_000_000n;

export interface HostDirectoryOptions {
  readOnly: boolean;
  limits: WasiLimits;
}

/** One mount: what its descriptors share. Never module-level: every mount has its own. */
interface HostMount {
  readonly readOnly: boolean;
  readonly limits: WasiLimits;
  readonly walker: DirectoryWalker<number>;
  /** The mount root's identity, so readdir of the root reports `..` as the root itself. */
  readonly rootDev: bigint;
  readonly rootIno: bigint;
}

/**
 * Opens `hostPath` as the root of a mount and returns its directory descriptor. Throws
 * `E_PREOPEN_INVALID` (a host error, not an errno) when the path is not an openable directory.
 */
export function openHostDirectory(hostPath: string, options: HostDirectoryOptions): Descriptor {
  if (!existsSync('/proc/self/fd')) {
    throw new IsolaError('E_PREOPEN_INVALID', 'host directories need Linux /proc/self/fd; mount /proc', {
      hostPath,
    });
  }
  let fd: number;
  try {
    fd = openSync(hostPath, O_RDONLY | O_DIRECTORY);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unknown';
    throw new IsolaError(
      'E_PREOPEN_INVALID',
      `cannot mount ${hostPath}: ${code}; give an existing directory you can read`,
      { hostPath, nodeCode: code },
      { cause: error },
    );
  }
  const root = fstatSync(fd, { bigint: true });
  const mount: HostMount = {
    readOnly: options.readOnly,
    limits: options.limits,
    walker: hostWalker,
    rootDev: root.dev,
    rootIno: root.ino,
  };
  return new HostDirectory(mount, fd, 0);
}

/** `/proc/self/fd/<fd>/<name>`: `openat(fd, name)` for calls that only take a path. */
function at(fd: number, name: string): string {
  return `/proc/self/fd/${fd}/${name}`;
}

function errorCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | null)?.code;
}

/** The symlink's target, or null when `path` is not a symlink. */
function readLinkOrNull(path: string): string | null {
  try {
    return readlinkSync(path);
  } catch (error) {
    if (errorCode(error) === 'EINVAL') return null;
    throw error;
  }
}

const hostWalker: DirectoryWalker<number> = {
  step(dir: number, name: string): Step<number> {
    const path = at(dir, name);
    try {
      return { kind: 'directory', dir: openSync(path, DIRECTORY_FLAGS) };
    } catch (error) {
      const code = errorCode(error);
      // O_DIRECTORY|O_NOFOLLOW on a symlink fails with ENOTDIR (or ELOOP): look closer.
      if (code !== 'ENOTDIR' && code !== 'ELOOP') throw error;
      const target = readLinkOrNull(path);
      if (target === null) fail(Errno.NOTDIR);
      return { kind: 'symlink', target };
    }
  },
  release(dir: number): void {
    closeSync(dir);
  },
};

function filetypeOfMode(mode: number): Filetype {
  switch (mode & S_IFMT) {
    case constants.S_IFREG:
      return Filetype.REGULAR_FILE;
    case constants.S_IFDIR:
      return Filetype.DIRECTORY;
    case constants.S_IFLNK:
      return Filetype.SYMBOLIC_LINK;
    case constants.S_IFCHR:
      return Filetype.CHARACTER_DEVICE;
    case constants.S_IFBLK:
      return Filetype.BLOCK_DEVICE;
    case constants.S_IFSOCK:
      return Filetype.SOCKET_STREAM;
    default:
      return Filetype.UNKNOWN;
  }
}

function toFilestat(stats: BigIntStats): Filestat {
  return {
    dev: stats.dev,
    ino: stats.ino,
    filetype: filetypeOfMode(Number(stats.mode)),
    nlink: stats.nlink,
    size: stats.size,
    atim: stats.atimeNs,
    mtim: stats.mtimeNs,
    ctim: stats.ctimeNs,
  };
}

function openFlagsOf(fdflags: number): number {
  let flags = 0;
  if (fdflags & Fdflags.APPEND) flags |= O_APPEND;
  if (fdflags & Fdflags.DSYNC) flags |= O_DSYNC;
  // Linux defines O_RSYNC as O_SYNC.
  if (fdflags & (Fdflags.SYNC | Fdflags.RSYNC)) flags |= O_SYNC;
  return flags;
}

// ---- timestamps ----

/** Where timestamps are set: an open fd, or a name in a directory (never following a symlink). */
type TimeTarget = { fd: number } | { dirFd: number; name: string };

function nowNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}

/**
 * Seconds as the double Node's `futimes`/`lutimes` take. libuv truncates what it gets to whole
 * microseconds, and a double near 1.7e9 s resolves ~0.24 µs, so aim at the middle of the wanted
 * microsecond: truncation then lands exactly on it.
 */
function toUtimeSeconds(ns: bigint): number {
  const seconds = ns / NS_PER_SECOND;
  const micros = (ns % NS_PER_SECOND) / 1000n;
  return Number(seconds) + (Number(micros) + 0.5) / 1e6;
}

/**
 * Sets atime/mtime. Node reaches microseconds; a time with a sub-microsecond part (or before
 * 1970, which Node replaces with "now") is then set exactly by `touch -d @S.N` run on the same
 * file through an inherited fd. If `touch` is missing the microsecond value stays.
 */
function setTimestamps(target: TimeTarget, times: TimeUpdate): void {
  if (times.atim === undefined && times.mtim === undefined) return;
  const current = 'fd' in target ? fstatSync(target.fd, { bigint: true }) : lstatOf(target);
  const now = nowNs();
  const atim = times.atim === 'now' ? now : (times.atim ?? current.atimeNs);
  const mtim = times.mtim === 'now' ? now : (times.mtim ?? current.mtimeNs);
  if ('fd' in target) futimesSync(target.fd, toUtimeSeconds(atim), toUtimeSeconds(mtim));
  else lutimesSync(at(target.dirFd, target.name), toUtimeSeconds(atim), toUtimeSeconds(mtim));
  if (atim % 1000n !== 0n || atim < 0n) touchExact(target, '-a', atim);
  if (mtim % 1000n !== 0n || mtim < 0n) touchExact(target, '-m', mtim);
}

function lstatOf(target: { dirFd: number; name: string }): BigIntStats {
  return lstatSync(at(target.dirFd, target.name), { bigint: true });
}

function touchExact(target: TimeTarget, which: '-a' | '-m', ns: bigint): void {
  const negative = ns < 0n;
  const magnitude = negative ? -ns : ns;
  const fraction = (magnitude % NS_PER_SECOND).toString().padStart(9, '0');
  const stamp = `@${negative ? '-' : ''}${magnitude / NS_PER_SECOND}.${fraction}`;
  const fd = 'fd' in target ? target.fd : target.dirFd;
  // In the child the inherited fd is number 3; -h sets a symlink's own times (lutimes).
  const args = 'fd' in target ? ['/proc/self/fd/3'] : ['-h', `/proc/self/fd/3/${target.name}`];
  spawnSync('touch', ['-c', which, '-d', stamp, ...args], {
    stdio: ['ignore', 'ignore', 'ignore', fd],
    env: {},
    timeout: 5000,
  });
}

// ---- files ----

class HostFile extends Descriptor {
  readonly filetype: Filetype;
  override readonly readOnly: boolean;
  #fd: number;
  /** Flags the file was opened with, for reopening when APPEND changes. */
  #openFlags: number;
  #fdflags: number;
  #position = 0;
  /** An append moved the position to the end of the file; its size is read when needed. */
  #atEnd = false;

  constructor(mount: HostMount, fd: number, filetype: Filetype, openFlags: number, fdflags: number) {
    super();
    this.readOnly = mount.readOnly;
    this.filetype = filetype;
    this.#fd = fd;
    this.#openFlags = openFlags;
    this.#fdflags = fdflags;
  }

  #currentPosition(): number {
    if (this.#atEnd) {
      this.#position = fstatSync(this.#fd).size;
      this.#atEnd = false;
    }
    return this.#position;
  }

  override fdflags(): number {
    return this.#fdflags;
  }

  override setFdflags(flags: number): void {
    // Only APPEND and NONBLOCK may change (wasmtime); the sync flags are fixed at open.
    if ((flags & SYNC_FDFLAGS) !== (this.#fdflags & SYNC_FDFLAGS)) fail(Errno.NOTSUP);
    if ((flags ^ this.#fdflags) & Fdflags.APPEND) this.#reopen(flags);
    this.#fdflags = flags & (Fdflags.APPEND | Fdflags.NONBLOCK | SYNC_FDFLAGS);
  }

  /** Node has no fcntl(F_SETFL): a new open file description with the new O_APPEND replaces this one. */
  #reopen(fdflags: number): void {
    const flags =
      (this.#openFlags & ~(O_APPEND | O_CREAT | O_EXCL | O_TRUNC | O_NOFOLLOW)) | openFlagsOf(fdflags);
    const fd = hostCall(() => openSync(`/proc/self/fd/${this.#fd}`, flags));
    closeSync(this.#fd);
    this.#fd = fd;
    this.#openFlags = flags;
  }

  override read(buffer: Uint8Array): number {
    const position = this.#currentPosition();
    const count = hostCall(() => readSync(this.#fd, buffer, 0, buffer.length, this.#streamOr(position)));
    this.#position = position + count;
    return count;
  }

  override pread(buffer: Uint8Array, offset: bigint): number {
    return hostCall(() => readSync(this.#fd, buffer, 0, buffer.length, offset));
  }

  override write(data: Uint8Array): number {
    if (this.readOnly) fail(Errno.BADF);
    if (this.#fdflags & Fdflags.APPEND) {
      // O_APPEND: write(2) at the kernel's end of file, atomically with other appenders.
      const count = hostCall(() => writeSync(this.#fd, data, 0, data.length, null));
      this.#atEnd = true;
      return count;
    }
    const position = this.#currentPosition();
    const count = hostCall(() => writeSync(this.#fd, data, 0, data.length, this.#streamOr(position)));
    this.#position = position + count;
    return count;
  }

  override pwrite(data: Uint8Array, offset: bigint): number {
    if (this.readOnly) fail(Errno.BADF);
    if (offset > BigInt(Number.MAX_SAFE_INTEGER)) fail(Errno.FBIG);
    // With O_APPEND Linux's pwrite writes at the end, as wasmtime's fd_pwrite does on an append fd.
    return hostCall(() => writeSync(this.#fd, data, 0, data.length, Number(offset)));
  }

  /** Character devices and the like have no position: read and write them as streams. */
  #streamOr(position: number): number | null {
    return this.filetype === Filetype.REGULAR_FILE ? position : null;
  }

  override seek(offset: bigint, whence: Whence): bigint {
    let base: bigint;
    if (whence === Whence.SET) base = 0n;
    else if (whence === Whence.CUR) base = BigInt(this.#currentPosition());
    else if (whence === Whence.END) base = hostCall(() => fstatSync(this.#fd, { bigint: true }).size);
    else return fail(Errno.INVAL);
    const next = base + offset;
    if (next < 0n || next > BigInt(Number.MAX_SAFE_INTEGER)) fail(Errno.INVAL);
    this.#position = Number(next);
    this.#atEnd = false;
    return next;
  }

  override tell(): bigint {
    return BigInt(this.#currentPosition());
  }

  override readable(): bigint | null {
    const size = hostCall(() => fstatSync(this.#fd).size);
    return BigInt(Math.max(0, size - this.#currentPosition()));
  }

  override stat(): Filestat {
    return toFilestat(hostCall(() => fstatSync(this.#fd, { bigint: true })));
  }

  override setSize(size: bigint): void {
    if (this.readOnly) fail(Errno.BADF);
    if (size > BigInt(Number.MAX_SAFE_INTEGER)) fail(Errno.FBIG);
    hostCall(() => ftruncateSync(this.#fd, Number(size)));
  }

  override setTimes(times: TimeUpdate): void {
    if (this.readOnly) fail(Errno.BADF);
    hostCall(() => setTimestamps({ fd: this.#fd }, times));
  }

  override sync(): void {
    hostCall(() => fsyncSync(this.#fd));
  }

  override datasync(): void {
    hostCall(() => fdatasyncSync(this.#fd));
  }

  override advise(_offset: bigint, _length: bigint, advice: number): void {
    // posix_fadvise is only a hint and Node cannot make it; validate the advice as Linux would.
    if (advice < 0 || advice > 5) fail(Errno.INVAL);
  }

  override allocate(offset: bigint, length: bigint): void {
    if (this.readOnly) fail(Errno.BADF);
    if (length <= 0n || offset < 0n) fail(Errno.INVAL);
    // posix_fallocate: the file grows to cover [offset, offset+length); it never shrinks.
    const end = offset + length;
    if (end > BigInt(Number.MAX_SAFE_INTEGER)) fail(Errno.FBIG);
    hostCall(() => {
      if (BigInt(fstatSync(this.#fd).size) < end) ftruncateSync(this.#fd, Number(end));
    });
  }

  override close(): void {
    if (this.#fd < 0) return;
    const fd = this.#fd;
    this.#fd = -1;
    hostCall(() => closeSync(fd));
  }
}

// ---- directories ----

class HostDirectory extends Descriptor {
  readonly filetype = Filetype.DIRECTORY;
  override readonly readOnly: boolean;
  readonly #mount: HostMount;
  #fd: number;
  #fdflags: number;
  #entries: DirEntry[] | null = null;

  constructor(mount: HostMount, fd: number, fdflags: number) {
    super();
    this.#mount = mount;
    this.readOnly = mount.readOnly;
    this.#fd = fd;
    this.#fdflags = fdflags;
  }

  /** Walks `path` from this directory and runs `last` on its final component (Node errors mapped). */
  #walk<T>(path: string, last: LastStep<number, T>): T {
    return hostCall(() => walkPath(this.#mount.walker, this.#fd, path, this.#mount.limits, last));
  }

  #modifiable(): void {
    if (this.readOnly) fail(Errno.ROFS);
  }

  /** The other descriptor as a directory of this same mount, or EXDEV. */
  #sameMount(other: Descriptor): HostDirectory {
    if (!(other instanceof HostDirectory) || other.#mount !== this.#mount) fail(Errno.XDEV);
    return other;
  }

  override fdflags(): number {
    return this.#fdflags;
  }

  override stat(): Filestat {
    return toFilestat(hostCall(() => fstatSync(this.#fd, { bigint: true })));
  }

  override setTimes(times: TimeUpdate): void {
    if (this.readOnly) fail(Errno.BADF);
    hostCall(() => setTimestamps({ fd: this.#fd }, times));
  }

  override sync(): void {
    hostCall(() => fsyncSync(this.#fd));
  }

  override datasync(): void {
    hostCall(() => fdatasyncSync(this.#fd));
  }

  override close(): void {
    if (this.#fd < 0) return;
    const fd = this.#fd;
    this.#fd = -1;
    this.#entries = null;
    hostCall(() => closeSync(fd));
  }

  override readdir(refresh: boolean): readonly DirEntry[] {
    if (this.#entries === null || refresh) this.#entries = hostCall(() => this.#list());
    return this.#entries;
  }

  /** `.`, `..` and at most `maxReaddirEntries` entries in all, each with its real inode and type. */
  #list(): DirEntry[] {
    const base = `/proc/self/fd/${this.#fd}`;
    const self = fstatSync(this.#fd, { bigint: true });
    const atRoot = self.dev === this.#mount.rootDev && self.ino === this.#mount.rootIno;
    // The mount root's `..` is outside the mount: report the root itself (as its `.`).
    const parentIno = atRoot ? self.ino : lstatSync(`${base}/..`, { bigint: true }).ino;
    const entries: DirEntry[] = [
      { name: '.', ino: self.ino, filetype: Filetype.DIRECTORY },
      { name: '..', ino: parentIno, filetype: Filetype.DIRECTORY },
    ];
    const max = this.#mount.limits.maxReaddirEntries;
    const dir = opendirSync(base, { bufferSize: 1024 });
    try {
      for (let dirent = dir.readSync(); dirent !== null && entries.length < max; dirent = dir.readSync()) {
        const stats = lstatOrNull(`${base}/${dirent.name}`);
        // An entry removed between readdir and lstat is simply not listed.
        if (stats === null) continue;
        entries.push({ name: dirent.name, ino: stats.ino, filetype: filetypeOfMode(Number(stats.mode)) });
      }
    } finally {
      dir.closeSync();
    }
    return entries;
  }

  override openAt(path: string, request: OpenRequest): Descriptor {
    const { oflags } = request;
    // wasmtime: CREAT together with DIRECTORY is invalid.
    if (oflags & Oflags.CREAT && oflags & Oflags.DIRECTORY) fail(Errno.INVAL);
    return this.#walk(path, (dir, name, mustBeDirectory) =>
      name === null
        ? this.#reopenDirectory(dir, request)
        : this.#openName(dir, name, mustBeDirectory, request),
    );
  }

  /** path_open of `.` (or `a/..`): another descriptor of a directory already held. */
  #reopenDirectory(dir: number, request: OpenRequest): Descriptor {
    const { oflags } = request;
    if (oflags & Oflags.CREAT && oflags & Oflags.EXCL) fail(Errno.EXIST);
    // wasi-testsuite path_open_preopen: a directory opened for writing is EISDIR.
    if (request.write || oflags & Oflags.TRUNC) fail(Errno.ISDIR);
    const fd = openSync(`/proc/self/fd/${dir}`, O_RDONLY | O_DIRECTORY);
    return new HostDirectory(this.#mount, fd, request.fdflags & Fdflags.NONBLOCK);
  }

  #openName(
    dir: number,
    name: string,
    mustBeDirectory: boolean,
    request: OpenRequest,
  ): Descriptor | FollowSymlink {
    const { oflags, fdflags } = request;
    const readOnly = this.readOnly;
    const create = (oflags & Oflags.CREAT) !== 0;
    const directory = (oflags & Oflags.DIRECTORY) !== 0 || mustBeDirectory;
    let access = O_RDONLY;
    if (request.write && !readOnly) access = request.read ? O_RDWR : O_WRONLY;
    // O_NONBLOCK keeps a FIFO inside the mount from blocking the open; it changes nothing for files.
    let flags = access | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | openFlagsOf(fdflags);
    if (directory) flags |= O_DIRECTORY;
    if (create && !readOnly) flags |= O_CREAT | (oflags & Oflags.EXCL ? O_EXCL : 0);
    if (oflags & Oflags.TRUNC && !readOnly) flags |= O_TRUNC;
    const path = at(dir, name);
    let fd: number;
    try {
      fd = openSync(path, flags, 0o666);
    } catch (error) {
      const code = errorCode(error);
      if (code === 'ELOOP' || (code === 'ENOTDIR' && directory)) {
        const target = readLinkOrNull(path);
        if (target !== null) {
          // A trailing slash resolves through a symlink whatever the lookup flags say (POSIX).
          if (request.followSymlinks || mustBeDirectory) return new FollowSymlink(target);
          fail(Errno.LOOP);
        }
      }
      if (code === 'ENOENT' && create && readOnly) fail(Errno.ROFS);
      throw error;
    }
    return this.#describe(fd, flags, request);
  }

  /** Wraps a freshly opened fd as a file or directory descriptor, closing it on refusal. */
  #describe(fd: number, flags: number, request: OpenRequest): Descriptor {
    try {
      const filetype = filetypeOfMode(fstatSync(fd).mode);
      const { oflags } = request;
      if (this.readOnly) {
        if (oflags & Oflags.CREAT && oflags & Oflags.EXCL) fail(Errno.EXIST);
        if (request.write || oflags & Oflags.TRUNC)
          fail(filetype === Filetype.DIRECTORY ? Errno.ISDIR : Errno.ROFS);
      }
      if (filetype === Filetype.DIRECTORY) {
        return new HostDirectory(this.#mount, fd, request.fdflags & Fdflags.NONBLOCK);
      }
      return new HostFile(this.#mount, fd, filetype, flags, request.fdflags);
    } catch (error) {
      closeSync(fd);
      throw error;
    }
  }

  override createDirectoryAt(path: string): void {
    this.#modifiable();
    this.#walk(path, (dir, name) => {
      if (name === null) fail(Errno.EXIST);
      mkdirSync(at(dir, name), 0o777);
    });
  }

  override removeDirectoryAt(path: string): void {
    this.#modifiable();
    this.#walk(path, (dir, name) => {
      // Linux: rmdir(".") is EINVAL.
      if (name === null) fail(Errno.INVAL);
      rmdirSync(at(dir, name));
    });
  }

  override unlinkFileAt(path: string): void {
    this.#modifiable();
    this.#walk(path, (dir, name, mustBeDirectory) => {
      if (name === null) fail(Errno.ISDIR);
      const target = at(dir, name);
      // wasi-testsuite unlink_file_trailing_slashes: "dir/" → EISDIR, "file/" → ENOTDIR.
      if (mustBeDirectory) fail(lstatSync(target).isDirectory() ? Errno.ISDIR : Errno.NOTDIR);
      unlinkSync(target);
    });
  }

  override renameAt(oldPath: string, newDirectory: Descriptor, newPath: string): void {
    const target = this.#sameMount(newDirectory);
    this.#modifiable();
    this.#walk(oldPath, (oldDir, oldName, oldMustBeDirectory) => {
      if (oldName === null) fail(Errno.BUSY);
      const from = at(oldDir, oldName);
      target.#walk(newPath, (newDir, newName, newMustBeDirectory) => {
        if (newName === null) fail(Errno.BUSY);
        // Trailing slashes are fine on a directory (path_rename_dir_trailing_slashes), not on a file.
        if ((oldMustBeDirectory || newMustBeDirectory) && !lstatSync(from).isDirectory()) fail(Errno.NOTDIR);
        renameSync(from, at(newDir, newName));
      });
    });
  }

  override linkAt(oldPath: string, followSymlinks: boolean, newDirectory: Descriptor, newPath: string): void {
    const target = this.#sameMount(newDirectory);
    // wasmtime refuses SYMLINK_FOLLOW for path_link (wasi-testsuite path_link: EINVAL or ENOENT).
    if (followSymlinks) fail(Errno.INVAL);
    this.#modifiable();
    this.#walk(oldPath, (oldDir, oldName, oldMustBeDirectory) => {
      if (oldName === null) fail(Errno.PERM);
      const from = at(oldDir, oldName);
      if (oldMustBeDirectory) fail(lstatSync(from).isDirectory() ? Errno.PERM : Errno.NOTDIR);
      target.#walk(newPath, (newDir, newName, newMustBeDirectory) => {
        if (newName === null) fail(Errno.EXIST);
        const to = at(newDir, newName);
        // path_link: a new name with a trailing slash is ENOENT when free, EEXIST when taken.
        if (newMustBeDirectory) fail(lstatOrNull(to) === null ? Errno.NOENT : Errno.EXIST);
        linkSync(from, to);
      });
    });
  }

  override symlinkAt(targetPath: string, path: string): void {
    checkSymlinkTarget(targetPath, this.#mount.limits);
    this.#modifiable();
    this.#walk(path, (dir, name, mustBeDirectory) => {
      if (name === null) fail(Errno.EXIST);
      const link = at(dir, name);
      if (mustBeDirectory) {
        // path_symlink_trailing_slashes: free → ENOENT, a directory → EEXIST, a file → ENOTDIR.
        const stats = lstatOrNull(link);
        fail(stats === null ? Errno.NOENT : stats.isDirectory() ? Errno.EXIST : Errno.NOTDIR);
      }
      symlinkSync(targetPath, link);
    });
  }

  override readlinkAt(path: string): string {
    return this.#walk(path, (dir, name, mustBeDirectory) => {
      if (name === null || mustBeDirectory) fail(Errno.INVAL);
      return readlinkSync(at(dir, name));
    });
  }

  override statAt(path: string, followSymlinks: boolean): Filestat {
    return this.#walk(path, (dir, name, mustBeDirectory) => {
      if (name === null) return toFilestat(fstatSync(dir, { bigint: true }));
      const target = at(dir, name);
      const stats = lstatSync(target, { bigint: true });
      if (stats.isSymbolicLink() && (followSymlinks || mustBeDirectory)) {
        return new FollowSymlink(readlinkSync(target));
      }
      if (mustBeDirectory && !stats.isDirectory()) fail(Errno.NOTDIR);
      return toFilestat(stats);
    });
  }

  override setTimesAt(path: string, followSymlinks: boolean, times: TimeUpdate): void {
    this.#modifiable();
    this.#walk(path, (dir, name, mustBeDirectory) => {
      if (name === null) return setTimestamps({ fd: dir }, times);
      const target = at(dir, name);
      const stats = lstatSync(target);
      if (stats.isSymbolicLink() && (followSymlinks || mustBeDirectory)) {
        return new FollowSymlink(readlinkSync(target));
      }
      if (mustBeDirectory && !stats.isDirectory()) fail(Errno.NOTDIR);
      setTimestamps({ dirFd: dir, name }, times);
    });
  }
}

function lstatOrNull(path: string): BigIntStats | null {
  try {
    return lstatSync(path, { bigint: true });
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return null;
    throw error;
  }
}
