/**
 * A key-value bucket mounted as a directory, so that a WASI preview1 guest in any language
 * reaches a store with plain file calls and no SDK (DESIGN.md, "Guest interfaces"): reading a
 * file is a get, writing one a set, unlinking one a delete, listing the directory lists the keys.
 *
 * What a guest sees, each point decided here:
 *
 * - **A flat directory of regular files, one per key.** A key that cannot be a file name (empty,
 *   `.`, `..`, containing `/` or NUL, or longer than NAME_MAX or `maxPathBytes`) is not listed
 *   and cannot be opened: a path that would name it means something else (`a/b` walks into `a`,
 *   which is not a directory: ENOTDIR when the key `a` exists, ENOENT when not). Listings give
 *   keys in the store's order (SQLite: by UTF-8 bytes; Redis: none), each once, `.` and `..` first.
 * - **Close-to-open consistency, as NFS.** Opening a file reads its value once (get); reads,
 *   seeks and preads are served from that snapshot. Creating (O_CREAT of a missing key),
 *   truncating (O_TRUNC) or writing buffers the new value, which is set at fd_close, fd_sync or
 *   fd_datasync (and when the instance ends with the file still open). Until then other
 *   descriptors and other instances see the old value, or no file at all; two writers of a key:
 *   the last to close wins. O_EXCL is checked at open, not atomically against other instances.
 * - **Limits.** A value grows up to the store's `maxValueBytes` (default 1 MiB): the write that
 *   would cross it fails with EFBIG. The files a mount holds open buffer at most
 *   `maxBufferedBytes` together (default `limits.maxMemoryFileBytes`, what a writable memory
 *   mount may hold): an open past it fails with ENOMEM, a write with ENOSPC. A name longer than
 *   the store's `maxKeyBytes` is ENAMETOOLONG, as one longer than NAME_MAX is.
 * - **No directories, hard links or symlinks.** mkdir, link and symlink fail with EPERM: what
 *   Linux's mkdir(2), link(2) and symlink(2) return for a filesystem that does not support them
 *   (ENOTSUP is no errno of theirs, so guests' error paths do not expect it); a name that exists
 *   is EEXIST first, as there. rmdir of a key is ENOTDIR, readlink of one EINVAL.
 * - **rename within the mount is get, set, delete**, so the common "write a temporary file, then
 *   rename it over the real one" works: the new name gets the whole value in one set (a reader
 *   sees the old value or the new one, never a mix), but the three calls are not one atomic
 *   step, and a failure between them can leave the value under both names. Across mounts: EXDEV.
 * - **Metadata.** A file's size is its value's length (filestat gets the value: a store has no
 *   cheaper way to it). Inode numbers are a hash of the key, so a key keeps its number in every
 *   mount; the device number is the mount's own. Timestamps are not stored: every entry reports
 *   the time the directory was mounted (stable for an instance, nanoseconds since the epoch),
 *   and setting them fails with ENOTSUP.
 * - **Read-only mounts** refuse every change like the other read-only mounts: EROFS for path
 *   calls, EBADF through descriptors.
 * - **A store failure** (E_KV_UNAVAILABLE, E_KV_BACKEND_FAILED, E_KV_CLOSED) is EIO for the guest
 *   and goes, with the operation and key, to `onStoreError` for the host's log (STYLE habit 4).
 *   An error the table below does not expect is a host bug: it is rethrown and ends the instance.
 */
import { createHash, randomInt } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { IsolaError } from '../../errors.js';
// The kv modules themselves, not its index: a WASI host should not load the Redis client.
import { type KvErrorCode, kvCodeOf } from '../../kv/kv-error.js';
import { type KeyValueLimits, KV_LIMIT_DEFAULTS } from '../../kv/limits.js';
import type { BucketId, SyncKeyValueBucket } from '../../kv/store.js';
import type { WasiLimits } from '../../limits.js';
import { ERRNO_NAMES, Errno, Fdflags, Filetype, Oflags, Whence } from '../defs.js';
import {
  Descriptor,
  type DirEntry,
  type Filestat,
  type OpenRequest,
  type TimeUpdate,
} from '../descriptor.js';
import { fail, WasiErrno } from '../errno.js';
import { checkSymlinkTarget, type DirectoryWalker, walkPath } from './path.js';

/** The bucket calls a mounted directory makes; a `SyncKeyValueBucket` has them all. */
export type KeyValueDirectoryBucket = Pick<
  SyncKeyValueBucket,
  'id' | 'get' | 'set' | 'delete' | 'exists' | 'listKeys'
>;

/** A store failure that a guest saw as an errno, for the host's log. */
export interface KeyValueStoreFailure {
  /** The store's error as thrown; its `code` says what failed (E_KV_UNAVAILABLE, ...). */
  error: IsolaError;
  bucket: BucketId;
  operation: 'get' | 'set' | 'delete' | 'exists' | 'listKeys';
  /** The key the call was for; undefined for a listing. */
  key: string | undefined;
  /** What the guest got instead. */
  errno: Errno;
}

export interface KeyValueDirectoryOptions {
  /** Refuse every change: EROFS for path calls, EBADF through descriptors. Default false. */
  readOnly?: boolean;
  /** The instance's WASI limits (maxPathBytes, maxReaddirEntries, maxMemoryFileBytes). */
  limits: WasiLimits;
  /**
   * The store's limits (`SyncKeyValueStore.limits`): names over `maxKeyBytes` are ENAMETOOLONG
   * and a value is refused with EFBIG at the write that crosses `maxValueBytes`, not at close.
   * Default `KV_LIMIT_DEFAULTS`.
   */
  storeLimits?: Pick<KeyValueLimits, 'maxKeyBytes' | 'maxValueBytes'>;
  /** Bytes all open files of the mount may buffer together. Default `limits.maxMemoryFileBytes`. */
  maxBufferedBytes?: number;
  /** Told of every store failure the guest saw as an errno. Default: a process warning. */
  onStoreError?: (failure: KeyValueStoreFailure) => void;
}

/**
 * What each key-value error is for the guest. Undefined: the error means a bug in this module
 * (a cursor or a page size it got wrong) or cannot come from the calls it makes, so it is
 * rethrown. Typed over every code, so a new one cannot be added without deciding here.
 */
const STORE_CODE_TO_ERRNO: Readonly<Record<KvErrorCode, Errno | undefined>> = {
  E_KV_UNAVAILABLE: Errno.IO,
  E_KV_BACKEND_FAILED: Errno.IO,
  E_KV_CLOSED: Errno.IO,
  // Only when the store's limits are lower than the `storeLimits` the mount was given.
  E_KV_VALUE_TOO_LARGE: Errno.FBIG,
  E_KV_KEY_INVALID: Errno.NAMETOOLONG,
  E_KV_CONFIG_INVALID: undefined,
  E_KV_BUCKET_INVALID: undefined,
  E_KV_BATCH_TOO_LARGE: undefined,
  E_KV_BUCKETS_LIMIT: undefined,
  E_KV_CURSOR_INVALID: undefined,
  E_KV_NOT_INTEGER: undefined,
};

/** Linux's NAME_MAX: the longest file name, in bytes (path.ts refuses longer components). */
const NAME_MAX_BYTES = 255;
const SYNC_FDFLAGS = Fdflags.DSYNC | Fdflags.RSYNC | Fdflags.SYNC;
const EMPTY = new Uint8Array(0);

/** Mounts `bucket` as a directory and returns its root descriptor. */
export function createKeyValueDirectory(
  bucket: KeyValueDirectoryBucket,
  options: KeyValueDirectoryOptions,
): Descriptor {
  return new KeyValueDirectory(new KeyValueMount(bucket, options), 0);
}

function warnStoreFailure(failure: KeyValueStoreFailure): void {
  const { bucket, operation, key, errno, error } = failure;
  const what = key === undefined ? operation : `${operation} of ${JSON.stringify(key)}`;
  process.emitWarning(
    `key-value ${what} in ${bucket.app}/${bucket.label} failed, the guest got ${ERRNO_NAMES[errno]}: ${error.message}`,
    { type: 'IsolaKeyValueWarning', code: error.code },
  );
}

/** Wall-clock time in ns (microsecond resolution: what the platform gives). */
function wallClockNs(): bigint {
  return BigInt(Math.round((performance.timeOrigin + performance.now()) * 1000)) * 1000n;
}

/** A key's inode number: 64 bits of its SHA-256, never 0 (readdir implementations skip d_ino 0). */
function inodeOf(key: string): bigint {
  const ino = createHash('sha256').update(key).digest().readBigUInt64BE(0);
  return ino === 0n ? 1n : ino;
}

/** One mount's state: the bucket, its limits and buffer budget, identity, and error reporting. */
class KeyValueMount {
  readonly readOnly: boolean;
  readonly limits: WasiLimits;
  readonly maxValueBytes: number;
  readonly dev = BigInt(randomInt(1, 2 ** 31));
  readonly timeNs = wallClockNs();
  /** The empty key is never a file name, so no file shares the directory's number. */
  readonly rootIno = inodeOf('');
  readonly #bucket: KeyValueDirectoryBucket;
  readonly #maxKeyBytes: number;
  readonly #maxNameBytes: number;
  readonly #maxBufferedBytes: number;
  readonly #onStoreError: (failure: KeyValueStoreFailure) => void;
  #bufferedBytes = 0;

  constructor(bucket: KeyValueDirectoryBucket, options: KeyValueDirectoryOptions) {
    const storeLimits = options.storeLimits ?? KV_LIMIT_DEFAULTS;
    this.#bucket = bucket;
    this.readOnly = options.readOnly ?? false;
    this.limits = options.limits;
    this.maxValueBytes = storeLimits.maxValueBytes;
    this.#maxKeyBytes = storeLimits.maxKeyBytes;
    this.#maxNameBytes = Math.min(NAME_MAX_BYTES, options.limits.maxPathBytes, storeLimits.maxKeyBytes);
    this.#maxBufferedBytes = options.maxBufferedBytes ?? options.limits.maxMemoryFileBytes;
    this.#onStoreError = options.onStoreError ?? warnStoreFailure;
  }

  // ---- the bucket, with failures turned into errnos ----

  get(key: string): Uint8Array | undefined {
    return this.#store('get', key, () => this.#bucket.get(key));
  }
  set(key: string, value: Uint8Array): void {
    this.#store('set', key, () => this.#bucket.set(key, value));
  }
  delete(key: string): void {
    this.#store('delete', key, () => this.#bucket.delete(key));
  }
  exists(key: string): boolean {
    return this.#store('exists', key, () => this.#bucket.exists(key));
  }

  #store<T>(operation: KeyValueStoreFailure['operation'], key: string | undefined, call: () => T): T {
    try {
      return call();
    } catch (error) {
      const code = kvCodeOf(error);
      const errno = code === undefined ? undefined : STORE_CODE_TO_ERRNO[code];
      if (errno === undefined) throw error;
      this.#onStoreError({ error: error as IsolaError, bucket: this.#bucket.id, operation, key, errno });
      throw new WasiErrno(errno);
    }
  }

  /** The directory's entries: `.` and `..`, then each key that is a file name, once. */
  list(): DirEntry[] {
    const entries: DirEntry[] = [
      { name: '.', ino: this.rootIno, filetype: Filetype.DIRECTORY },
      { name: '..', ino: this.rootIno, filetype: Filetype.DIRECTORY },
    ];
    const max = this.limits.maxReaddirEntries;
    // Redis's SCAN may list a key twice when its table is resized during the listing.
    const seen = new Set<string>();
    let cursor: string | undefined;
    do {
      const page = this.#store('listKeys', undefined, () => this.#bucket.listKeys({ cursor }));
      for (const key of page.keys) {
        if (entries.length >= max) return entries;
        if (seen.has(key) || !this.isFileName(key)) continue;
        seen.add(key);
        entries.push({ name: key, ino: inodeOf(key), filetype: Filetype.REGULAR_FILE });
      }
      cursor = page.cursor;
    } while (cursor !== undefined);
    return entries;
  }

  // ---- names ----

  /** Whether `key` can be a guest's file name in this mount. */
  isFileName(key: string): boolean {
    return (
      key !== '' &&
      key !== '.' &&
      key !== '..' &&
      !key.includes('/') &&
      !key.includes('\0') &&
      Buffer.byteLength(key, 'utf8') <= this.#maxNameBytes
    );
  }

  /** The key a path component names; path.ts has already refused `/`, NUL and `.`/`..`. */
  key(name: string): string {
    if (Buffer.byteLength(name, 'utf8') > this.#maxKeyBytes) fail(Errno.NAMETOOLONG);
    return name;
  }

  /** Whether a path component names an existing file (false for any name no key can have). */
  isFile(name: string): boolean {
    return Buffer.byteLength(name, 'utf8') <= this.#maxKeyBytes && this.exists(name);
  }

  // ---- buffers and metadata ----

  /** Counts `bytes` more against `maxBufferedBytes`, or fails with `errno`. */
  reserve(bytes: number, errno: Errno): void {
    if (this.#bufferedBytes + bytes > this.#maxBufferedBytes) fail(errno);
    this.#bufferedBytes += bytes;
  }

  release(bytes: number): void {
    this.#bufferedBytes -= bytes;
  }

  filestat(key: string, size: number): Filestat {
    const time = this.timeNs;
    return {
      dev: this.dev,
      ino: inodeOf(key),
      filetype: Filetype.REGULAR_FILE,
      nlink: 1n,
      size: BigInt(size),
      atim: time,
      mtim: time,
      ctim: time,
    };
  }
}

/** A path walk in a flat directory: there is nothing to step into. */
const flatWalker: DirectoryWalker<KeyValueMount> = {
  step(mount, name) {
    return fail(mount.isFile(name) ? Errno.NOTDIR : Errno.NOENT);
  },
  release() {},
};

/** The last component of a walked path: null for the directory itself. */
interface Target {
  name: string | null;
  /** The path ended in a slash (or `.`/`..`): it must name a directory. */
  mustBeDirectory: boolean;
}

class KeyValueDirectory extends Descriptor {
  readonly filetype = Filetype.DIRECTORY;
  override readonly readOnly: boolean;
  readonly #mount: KeyValueMount;
  readonly #fdflags: number;
  #entries: DirEntry[] | null = null;

  constructor(mount: KeyValueMount, fdflags: number) {
    super();
    this.#mount = mount;
    this.readOnly = mount.readOnly;
    this.#fdflags = fdflags;
  }

  #resolve(path: string): Target {
    return walkPath(flatWalker, this.#mount, path, this.#mount.limits, (_, name, mustBeDirectory) => ({
      name,
      mustBeDirectory,
    }));
  }

  #modifiable(): void {
    if (this.readOnly) fail(Errno.ROFS);
  }

  #sameMount(other: Descriptor): KeyValueDirectory {
    if (!(other instanceof KeyValueDirectory) || other.#mount !== this.#mount) fail(Errno.XDEV);
    return other;
  }

  override fdflags(): number {
    return this.#fdflags;
  }

  override stat(): Filestat {
    const mount = this.#mount;
    return {
      dev: mount.dev,
      ino: mount.rootIno,
      filetype: Filetype.DIRECTORY,
      nlink: 2n,
      // Counting the keys would list the bucket.
      size: 0n,
      atim: mount.timeNs,
      mtim: mount.timeNs,
      ctim: mount.timeNs,
    };
  }

  override setTimes(_times: TimeUpdate): void {
    fail(this.readOnly ? Errno.BADF : Errno.NOTSUP);
  }

  override readdir(refresh: boolean): readonly DirEntry[] {
    if (this.#entries === null || refresh) this.#entries = this.#mount.list();
    return this.#entries;
  }

  override close(): void {
    this.#entries = null;
  }

  override openAt(path: string, request: OpenRequest): Descriptor {
    const { oflags } = request;
    if (oflags & Oflags.CREAT && oflags & Oflags.DIRECTORY) fail(Errno.INVAL);
    const exclusive = (oflags & Oflags.CREAT) !== 0 && (oflags & Oflags.EXCL) !== 0;
    const { name, mustBeDirectory } = this.#resolve(path);
    if (name === null) {
      if (exclusive) fail(Errno.EXIST);
      if (request.write || oflags & Oflags.TRUNC) fail(Errno.ISDIR);
      return new KeyValueDirectory(this.#mount, request.fdflags & Fdflags.NONBLOCK);
    }
    const key = this.#mount.key(name);
    const truncate = (oflags & Oflags.TRUNC) !== 0;
    // A truncating open needs only to know that the key exists, not its value.
    const value = truncate ? (this.#mount.exists(key) ? EMPTY : undefined) : this.#mount.get(key);
    if (value === undefined) {
      if (!(oflags & Oflags.CREAT)) fail(Errno.NOENT);
      // Linux: open("name/", O_CREAT) is EISDIR.
      if (mustBeDirectory) fail(Errno.ISDIR);
      this.#modifiable();
      return new KeyValueFile(this.#mount, key, EMPTY, request, true);
    }
    if (exclusive) fail(Errno.EXIST);
    if (oflags & Oflags.DIRECTORY || mustBeDirectory) fail(Errno.NOTDIR);
    if (this.readOnly && (request.write || truncate)) fail(Errno.ROFS);
    return new KeyValueFile(this.#mount, key, value, request, truncate);
  }

  override createDirectoryAt(path: string): void {
    this.#modifiable();
    const { name } = this.#resolve(path);
    if (name === null || this.#mount.isFile(name)) fail(Errno.EXIST);
    fail(Errno.PERM);
  }

  override removeDirectoryAt(path: string): void {
    this.#modifiable();
    const { name } = this.#resolve(path);
    if (name === null) fail(Errno.INVAL);
    fail(this.#mount.isFile(name) ? Errno.NOTDIR : Errno.NOENT);
  }

  override unlinkFileAt(path: string): void {
    this.#modifiable();
    const { name, mustBeDirectory } = this.#resolve(path);
    if (name === null) fail(Errno.ISDIR);
    const key = this.#mount.key(name);
    if (!this.#mount.exists(key)) fail(Errno.NOENT);
    if (mustBeDirectory) fail(Errno.NOTDIR);
    this.#mount.delete(key);
  }

  override renameAt(oldPath: string, newDirectory: Descriptor, newPath: string): void {
    const target = this.#sameMount(newDirectory);
    this.#modifiable();
    const from = this.#resolve(oldPath);
    const to = target.#resolve(newPath);
    if (from.name === null || to.name === null) fail(Errno.BUSY);
    const fromKey = this.#mount.key(from.name);
    const toKey = this.#mount.key(to.name);
    const value = this.#mount.get(fromKey);
    if (value === undefined) fail(Errno.NOENT);
    if (from.mustBeDirectory || to.mustBeDirectory) fail(Errno.NOTDIR);
    if (fromKey === toKey) return;
    this.#mount.set(toKey, value);
    this.#mount.delete(fromKey);
  }

  override linkAt(oldPath: string, followSymlinks: boolean, newDirectory: Descriptor, newPath: string): void {
    const target = this.#sameMount(newDirectory);
    if (followSymlinks) fail(Errno.INVAL);
    this.#modifiable();
    const from = this.#resolve(oldPath);
    if (from.name === null) fail(Errno.PERM);
    if (!this.#mount.isFile(from.name)) fail(Errno.NOENT);
    const to = target.#resolve(newPath);
    if (to.name === null || this.#mount.isFile(to.name)) fail(Errno.EXIST);
    fail(Errno.PERM);
  }

  override symlinkAt(targetPath: string, path: string): void {
    checkSymlinkTarget(targetPath, this.#mount.limits);
    this.#modifiable();
    const { name, mustBeDirectory } = this.#resolve(path);
    if (name === null) fail(Errno.EXIST);
    if (this.#mount.isFile(name)) fail(mustBeDirectory ? Errno.NOTDIR : Errno.EXIST);
    fail(mustBeDirectory ? Errno.NOENT : Errno.PERM);
  }

  override readlinkAt(path: string): string {
    const { name, mustBeDirectory } = this.#resolve(path);
    if (name === null || mustBeDirectory) fail(Errno.INVAL);
    return fail(this.#mount.isFile(name) ? Errno.INVAL : Errno.NOENT);
  }

  override statAt(path: string, _followSymlinks: boolean): Filestat {
    const { name, mustBeDirectory } = this.#resolve(path);
    if (name === null) return this.stat();
    const key = this.#mount.key(name);
    const value = this.#mount.get(key);
    if (value === undefined) fail(Errno.NOENT);
    if (mustBeDirectory) fail(Errno.NOTDIR);
    return this.#mount.filestat(key, value.length);
  }

  override setTimesAt(path: string, _followSymlinks: boolean, _times: TimeUpdate): void {
    this.#modifiable();
    const { name, mustBeDirectory } = this.#resolve(path);
    if (name !== null) {
      if (!this.#mount.isFile(name)) fail(Errno.NOENT);
      if (mustBeDirectory) fail(Errno.NOTDIR);
    }
    fail(Errno.NOTSUP);
  }
}

/**
 * An open file: a snapshot of the value taken at open, changed in place by writes and set back
 * at close or sync when it changed.
 */
class KeyValueFile extends Descriptor {
  readonly filetype = Filetype.REGULAR_FILE;
  override readonly readOnly: boolean;
  readonly #mount: KeyValueMount;
  readonly #key: string;
  /** Capacity may exceed `#length`; bytes past `#length` are always zero. */
  #data: Uint8Array;
  #length: number;
  #position = 0;
  #fdflags: number;
  /** Access as a host open(2) would grant it: O_RDONLY unless writing was asked for. */
  readonly #readable: boolean;
  readonly #writable: boolean;
  /** The value differs from what the store holds: set it at close or sync. */
  #dirty: boolean;
  #closed = false;

  constructor(mount: KeyValueMount, key: string, value: Uint8Array, request: OpenRequest, dirty: boolean) {
    super();
    mount.reserve(value.length, Errno.NOMEM);
    this.#mount = mount;
    this.#key = key;
    this.#data = value;
    this.#length = value.length;
    this.readOnly = mount.readOnly;
    this.#fdflags = request.fdflags;
    this.#writable = request.write && !mount.readOnly;
    this.#readable = request.read || !request.write;
    this.#dirty = dirty;
  }

  override fdflags(): number {
    return this.#fdflags;
  }

  override setFdflags(flags: number): void {
    if ((flags & SYNC_FDFLAGS) !== (this.#fdflags & SYNC_FDFLAGS)) fail(Errno.NOTSUP);
    this.#fdflags = flags & (Fdflags.APPEND | Fdflags.NONBLOCK | SYNC_FDFLAGS);
  }

  /** Resizes the value: EFBIG past maxValueBytes, ENOSPC past the mount's buffer budget. */
  #resize(length: number): void {
    if (length > this.#mount.maxValueBytes) fail(Errno.FBIG);
    const growth = length - this.#length;
    if (growth > 0) this.#mount.reserve(growth, Errno.NOSPC);
    else this.#mount.release(-growth);
    if (length > this.#data.length) {
      const capacity = Math.min(Math.max(length, this.#data.length * 2, 64), this.#mount.maxValueBytes);
      const data = new Uint8Array(capacity);
      data.set(this.#data.subarray(0, this.#length));
      this.#data = data;
    } else if (length < this.#length) {
      this.#data.fill(0, length, this.#length);
    }
    this.#length = length;
    this.#dirty = true;
  }

  #readAt(buffer: Uint8Array, position: number): number {
    if (!this.#readable) fail(Errno.BADF);
    const count = Math.max(0, Math.min(buffer.length, this.#length - position));
    if (count > 0) buffer.set(this.#data.subarray(position, position + count));
    return count;
  }

  /** The caller has checked `#writable`. */
  #writeAt(data: Uint8Array, position: number): number {
    const end = position + data.length;
    if (end > this.#length) this.#resize(end);
    this.#data.set(data, position);
    this.#dirty = true;
    return data.length;
  }

  override read(buffer: Uint8Array): number {
    const count = this.#readAt(buffer, this.#position);
    this.#position += count;
    return count;
  }

  override pread(buffer: Uint8Array, offset: bigint): number {
    if (offset >= BigInt(this.#length)) return this.#readAt(buffer.subarray(0, 0), 0);
    return this.#readAt(buffer, Number(offset));
  }

  override write(data: Uint8Array): number {
    if (!this.#writable) fail(Errno.BADF);
    if (this.#fdflags & Fdflags.APPEND) this.#position = this.#length;
    const count = this.#writeAt(data, this.#position);
    this.#position += count;
    return count;
  }

  override pwrite(data: Uint8Array, offset: bigint): number {
    if (!this.#writable) fail(Errno.BADF);
    // As Linux (and the other filesystems): pwrite on an APPEND descriptor writes at the end.
    if (this.#fdflags & Fdflags.APPEND) return this.#writeAt(data, this.#length);
    if (offset > BigInt(this.#mount.maxValueBytes)) fail(Errno.FBIG);
    return this.#writeAt(data, Number(offset));
  }

  override seek(offset: bigint, whence: Whence): bigint {
    let base: bigint;
    if (whence === Whence.SET) base = 0n;
    else if (whence === Whence.CUR) base = BigInt(this.#position);
    else if (whence === Whence.END) base = BigInt(this.#length);
    else return fail(Errno.INVAL);
    const next = base + offset;
    if (next < 0n || next > BigInt(Number.MAX_SAFE_INTEGER)) fail(Errno.INVAL);
    this.#position = Number(next);
    return next;
  }

  override tell(): bigint {
    return BigInt(this.#position);
  }

  override readable(): bigint | null {
    return BigInt(Math.max(0, this.#length - this.#position));
  }

  override stat(): Filestat {
    return this.#mount.filestat(this.#key, this.#length);
  }

  override setSize(size: bigint): void {
    if (!this.#writable) fail(Errno.BADF);
    if (size > BigInt(this.#mount.maxValueBytes)) fail(Errno.FBIG);
    this.#resize(Number(size));
  }

  override setTimes(_times: TimeUpdate): void {
    fail(this.readOnly ? Errno.BADF : Errno.NOTSUP);
  }

  override advise(_offset: bigint, _length: bigint, advice: number): void {
    if (advice < 0 || advice > 5) fail(Errno.INVAL);
  }

  override allocate(offset: bigint, length: bigint): void {
    if (!this.#writable) fail(Errno.BADF);
    if (length <= 0n || offset < 0n) fail(Errno.INVAL);
    const end = offset + length;
    if (end > BigInt(this.#mount.maxValueBytes)) fail(Errno.FBIG);
    if (Number(end) > this.#length) this.#resize(Number(end));
  }

  /** Sets the value when it changed; on failure it stays pending, for the next sync or close. */
  #flush(): void {
    if (!this.#dirty) return;
    this.#mount.set(this.#key, this.#data.subarray(0, this.#length));
    this.#dirty = false;
  }

  override sync(): void {
    this.#flush();
  }

  override datasync(): void {
    this.#flush();
  }

  /** Sets a changed value; a failure is the close's errno (EIO), as a write-back failure on NFS. */
  override close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#flush();
    } finally {
      this.#mount.release(this.#length);
      this.#data = EMPTY;
      this.#length = 0;
    }
  }
}
