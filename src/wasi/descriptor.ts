/**
 * The descriptor interface every filesystem and stream implements. Methods work on TypeScript
 * values (no guest pointers) and signal expected failures by throwing `WasiErrno`. The base class
 * answers every call with the errno a descriptor of the wrong kind gets, so an implementation only
 * overrides what it supports.
 *
 * Rights are not checked here: the preview1 layer checks them against the descriptor table entry
 * before calling in. A descriptor does enforce `readOnly`: nothing beneath a read-only mount can be
 * modified through any method.
 */
import { Errno, type Filetype, type Whence } from './defs.js';
import { fail } from './errno.js';

export interface Filestat {
  dev: bigint;
  ino: bigint;
  filetype: Filetype;
  nlink: bigint;
  size: bigint;
  /** Nanoseconds since the Unix epoch. */
  atim: bigint;
  mtim: bigint;
  ctim: bigint;
}

export interface DirEntry {
  /** The entry's name; `.` and `..` are included by the descriptor. */
  name: string;
  ino: bigint;
  filetype: Filetype;
}

/** A timestamp update: a value in ns since the epoch, 'now', or undefined to leave it alone. */
export type TimeValue = bigint | 'now' | undefined;
export interface TimeUpdate {
  atim: TimeValue;
  mtim: TimeValue;
}

/** What `openAt` is asked for, decoded from path_open's arguments. */
export interface OpenRequest {
  /** `oflags` bits (CREAT, DIRECTORY, EXCL, TRUNC). */
  oflags: number;
  /** `fdflags` bits (APPEND, DSYNC, NONBLOCK, RSYNC, SYNC). */
  fdflags: number;
  /** `lookupflags` SYMLINK_FOLLOW: whether a symlink in the last component is followed. */
  followSymlinks: boolean;
  /** The guest asked for a right that reads (FD_READ, FD_READDIR). */
  read: boolean;
  /** The guest asked for a right that writes (FD_WRITE, FD_ALLOCATE, FD_FILESTAT_SET_SIZE, ...). */
  write: boolean;
}

export abstract class Descriptor {
  abstract readonly filetype: Filetype;
  /** True beneath a read-only mount: every modifying call fails (EROFS for paths, EBADF for fds). */
  readonly readOnly: boolean = false;

  /** Current `fdflags`. */
  fdflags(): number {
    return 0;
  }
  /** fd_fdstat_set_flags: only APPEND and NONBLOCK may change; others are NOTSUP. */
  setFdflags(_flags: number): void {
    fail(Errno.BADF);
  }

  // ---- streams and files ----
  /** Reads up to `buffer.length` bytes at the current position; 0 at end of file. */
  read(_buffer: Uint8Array): number {
    return fail(this.filetype === 3 ? Errno.ISDIR : Errno.BADF);
  }
  /** Reads at `offset` without moving the position. */
  pread(_buffer: Uint8Array, _offset: bigint): number {
    return fail(this.filetype === 3 ? Errno.ISDIR : Errno.SPIPE);
  }
  /** Writes at the current position (at the end when APPEND is set); returns bytes written. */
  write(_data: Uint8Array): number {
    return fail(this.filetype === 3 ? Errno.ISDIR : Errno.BADF);
  }
  /** Writes at `offset` without moving the position (at the end when APPEND is set, as Linux does). */
  pwrite(_data: Uint8Array, _offset: bigint): number {
    return fail(this.filetype === 3 ? Errno.ISDIR : Errno.SPIPE);
  }
  /** Moves the position; returns the new offset. */
  seek(_offset: bigint, _whence: Whence): bigint {
    return fail(this.filetype === 3 ? Errno.ISDIR : Errno.SPIPE);
  }
  tell(): bigint {
    return fail(this.filetype === 3 ? Errno.ISDIR : Errno.SPIPE);
  }
  /** Bytes readable without blocking, for poll_oneoff; `null` when a read would block. */
  readable(): bigint | null {
    return 0n;
  }
  /** Whether a write would not block, for poll_oneoff. */
  writable(): boolean {
    return true;
  }

  // ---- metadata ----
  abstract stat(): Filestat;
  setSize(_size: bigint): void {
    fail(this.filetype === 3 ? Errno.ISDIR : Errno.BADF);
  }
  setTimes(_times: TimeUpdate): void {
    fail(Errno.BADF);
  }
  sync(): void {}
  datasync(): void {}
  advise(_offset: bigint, _length: bigint, _advice: number): void {}
  allocate(_offset: bigint, _length: bigint): void {
    fail(this.filetype === 3 ? Errno.ISDIR : Errno.BADF);
  }
  close(): void {}

  // ---- directories: paths are relative to this directory, as the guest wrote them ----
  /**
   * Lists the directory, `.` and `..` first. `refresh` is true when the guest starts over (cookie 0);
   * otherwise an implementation may return the list it read last, so that a guest paging through a
   * large directory does not re-read it on every call.
   */
  readdir(_refresh: boolean): readonly DirEntry[] {
    return fail(Errno.NOTDIR);
  }
  openAt(_path: string, _request: OpenRequest): Descriptor {
    return fail(Errno.NOTDIR);
  }
  createDirectoryAt(_path: string): void {
    fail(Errno.NOTDIR);
  }
  removeDirectoryAt(_path: string): void {
    fail(Errno.NOTDIR);
  }
  unlinkFileAt(_path: string): void {
    fail(Errno.NOTDIR);
  }
  /** `newDirectory` is another descriptor of the same filesystem, or EXDEV. */
  renameAt(_oldPath: string, _newDirectory: Descriptor, _newPath: string): void {
    fail(Errno.NOTDIR);
  }
  linkAt(_oldPath: string, _followSymlinks: boolean, _newDirectory: Descriptor, _newPath: string): void {
    fail(Errno.NOTDIR);
  }
  symlinkAt(_target: string, _path: string): void {
    fail(Errno.NOTDIR);
  }
  readlinkAt(_path: string): string {
    return fail(Errno.NOTDIR);
  }
  statAt(_path: string, _followSymlinks: boolean): Filestat {
    return fail(Errno.NOTDIR);
  }
  setTimesAt(_path: string, _followSymlinks: boolean, _times: TimeUpdate): void {
    fail(Errno.NOTDIR);
  }
}
