/**
 * An in-memory filesystem: files bundled with an app, mounted read-only or writable. It has the
 * semantics of the host filesystem (directories, hard links, symlinks, inode numbers, link counts,
 * nanosecond timestamps, the same errno in every edge case) so the one descriptor contract test
 * runs against both; paths are walked by the same `walkPath`, so the sandbox rules are the same.
 *
 * Every mount owns its inode counter and byte budget. A file grows up to
 * `limits.maxMemoryFileBytes` (beyond: EFBIG) and all files of a mount together up to
 * `maxTotalBytes` (beyond: ENOSPC). Reads do not update atime (as a `noatime` mount).
 *
 * A `SharedMemoryTree` is the read-only case built once and mounted by many instances: each mount
 * is a `MemoryMount` of its own (limits, nothing else) over the one frozen node tree.
 */
import { randomInt } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { IsolaError } from '../../errors.js';
import { WASI_LIMIT_DEFAULTS, type WasiLimits } from '../../limits.js';
import { Errno, Fdflags, Filetype, Oflags, Whence } from '../defs.js';
import {
  Descriptor,
  type DirEntry,
  type Filestat,
  type OpenRequest,
  type TimeUpdate,
} from '../descriptor.js';
import { fail } from '../errno.js';
import { checkSymlinkTarget, type DirectoryWalker, FollowSymlink, type LastStep, walkPath } from './path.js';

export interface MemoryDirectoryOptions {
  readOnly: boolean;
  limits: WasiLimits;
  /** Files by relative path (`static/index.html`); directories on the way are implied. */
  files?: Record<string, Uint8Array | string>;
  /** Bytes all files together may hold. Default: the bundled files plus `limits.maxMemoryFileBytes`. */
  maxTotalBytes?: number;
}

const SYNC_FDFLAGS = Fdflags.DSYNC | Fdflags.RSYNC | Fdflags.SYNC;

abstract class MemoryNode {
  readonly ino: bigint;
  nlink = 1n;
  atim: bigint;
  mtim: bigint;
  ctim: bigint;
  abstract readonly filetype: Filetype;
  constructor(ino: bigint, now: bigint) {
    this.ino = ino;
    this.atim = now;
    this.mtim = now;
    this.ctim = now;
  }
  abstract size(): bigint;
}

class FileNode extends MemoryNode {
  readonly filetype = Filetype.REGULAR_FILE;
  /** Capacity may exceed `length`; bytes past `length` are always zero. */
  data: Uint8Array = new Uint8Array(0);
  length = 0;
  size(): bigint {
    return BigInt(this.length);
  }
}

class DirectoryNode extends MemoryNode {
  readonly filetype = Filetype.DIRECTORY;
  readonly entries = new Map<string, MemoryNode>();
  /** The directory holding this one (the root holds itself), for `..` in readdir. */
  parent: DirectoryNode;
  constructor(ino: bigint, now: bigint, parent: DirectoryNode | null) {
    super(ino, now);
    this.nlink = 2n;
    this.parent = parent ?? this;
  }
  size(): bigint {
    return BigInt(this.entries.size);
  }
}

class SymlinkNode extends MemoryNode {
  readonly filetype = Filetype.SYMBOLIC_LINK;
  readonly target: string;
  constructor(ino: bigint, now: bigint, target: string) {
    super(ino, now);
    this.target = target;
  }
  size(): bigint {
    return BigInt(Buffer.byteLength(this.target, 'utf8'));
  }
}

const memoryWalker: DirectoryWalker<DirectoryNode> = {
  step(dir, name) {
    const node = dir.entries.get(name);
    if (node === undefined) return fail(Errno.NOENT);
    if (node instanceof DirectoryNode) return { kind: 'directory', dir: node };
    if (node instanceof SymlinkNode) return { kind: 'symlink', target: node.target };
    return fail(Errno.NOTDIR);
  },
  release() {},
};

/** Wall-clock time in ns (microsecond resolution: what the platform gives). */
function wallClockNs(): bigint {
  return BigInt(Math.round((performance.timeOrigin + performance.now()) * 1000)) * 1000n;
}

/** One mount's state: inode counter, byte budget, clock. */
class MemoryMount {
  readonly readOnly: boolean;
  readonly limits: WasiLimits;
  /**
   * The device number: a mount's own, so (dev, ino) is unique across mounts; or the shared tree's,
   * since every mount of one tree shows the same files (as bind mounts of one filesystem do).
   */
  readonly dev: bigint;
  maxTotalBytes = 0;
  usedBytes = 0;
  #nextIno = 1n;

  constructor(readOnly: boolean, limits: WasiLimits, dev = BigInt(randomInt(1, 2 ** 31))) {
    this.readOnly = readOnly;
    this.limits = limits;
    this.dev = dev;
  }

  now(): bigint {
    return wallClockNs();
  }

  ino(): bigint {
    const ino = this.#nextIno;
    this.#nextIno += 1n;
    return ino;
  }

  file(): FileNode {
    return new FileNode(this.ino(), this.now());
  }

  directory(parent: DirectoryNode | null): DirectoryNode {
    return new DirectoryNode(this.ino(), this.now(), parent);
  }

  /** Resizes a file's contents, enforcing the per-file (EFBIG) and per-mount (ENOSPC) caps. */
  resize(file: FileNode, length: number): void {
    if (length > this.limits.maxMemoryFileBytes) fail(Errno.FBIG);
    const growth = length - file.length;
    if (growth > 0 && this.usedBytes + growth > this.maxTotalBytes) fail(Errno.NOSPC);
    if (length > file.data.length) {
      const capacity = Math.min(Math.max(length, file.data.length * 2, 64), this.limits.maxMemoryFileBytes);
      const data = new Uint8Array(capacity);
      data.set(file.data.subarray(0, file.length));
      file.data = data;
    } else if (length < file.length) {
      file.data.fill(0, length, file.length);
    }
    this.usedBytes += growth;
    file.length = length;
  }

  /** Drops one link; a file with none left gives its bytes back to the mount. */
  unlink(node: MemoryNode): void {
    node.nlink -= 1n;
    node.ctim = this.now();
    if (node instanceof FileNode && node.nlink === 0n) {
      this.usedBytes -= node.length;
    }
  }

  filestat(node: MemoryNode): Filestat {
    return {
      dev: this.dev,
      ino: node.ino,
      filetype: node.filetype,
      nlink: node.nlink,
      size: node.size(),
      atim: node.atim,
      mtim: node.mtim,
      ctim: node.ctim,
    };
  }

  setTimes(node: MemoryNode, times: TimeUpdate): void {
    const now = this.now();
    if (times.atim !== undefined) node.atim = times.atim === 'now' ? now : times.atim;
    if (times.mtim !== undefined) node.mtim = times.mtim === 'now' ? now : times.mtim;
    if (times.atim !== undefined || times.mtim !== undefined) node.ctim = now;
  }
}

/** Creates a memory filesystem holding `files` and returns its root directory descriptor. */
export function createMemoryDirectory(options: MemoryDirectoryOptions): Descriptor {
  const mount = new MemoryMount(options.readOnly, options.limits);
  const root = mount.directory(null);
  let bundled = 0;
  for (const [path, contents] of Object.entries(options.files ?? {})) {
    // A copy: the mount's files are its own to change, whatever the caller does with `contents`.
    const bytes = typeof contents === 'string' ? Buffer.from(contents, 'utf8') : new Uint8Array(contents);
    addBundledFile(mount, root, path, bytes);
    bundled += bytes.length;
  }
  mount.usedBytes = bundled;
  mount.maxTotalBytes = options.maxTotalBytes ?? bundled + options.limits.maxMemoryFileBytes;
  return new MemoryDirectory(mount, root, 0);
}

/** Adds a file holding `bytes` (not copied) under `root`, implying the directories on the way. */
function addBundledFile(mount: MemoryMount, root: DirectoryNode, path: string, bytes: Uint8Array): void {
  const parts = path.split('/');
  if (path.startsWith('/') || parts.some((part) => part === '' || part === '.' || part === '..')) {
    throw new IsolaError(
      'E_ARGUMENT_INVALID',
      `bundled file path "${path}" must be relative, without empty, "." or ".." components`,
      { path },
    );
  }
  let dir = root;
  for (const name of parts.slice(0, -1)) {
    const existing = dir.entries.get(name);
    if (existing instanceof DirectoryNode) {
      dir = existing;
      continue;
    }
    if (existing !== undefined) {
      throw new IsolaError('E_ARGUMENT_INVALID', `bundled file path "${path}" runs through a file`, { path });
    }
    const created = mount.directory(dir);
    dir.entries.set(name, created);
    dir.nlink += 1n;
    dir = created;
  }
  const name = parts[parts.length - 1]!;
  const existing = dir.entries.get(name);
  if (existing !== undefined) {
    const clash =
      existing instanceof DirectoryNode ? 'is also the directory of other bundled files' : 'is bundled twice';
    throw new IsolaError('E_ARGUMENT_INVALID', `bundled file path "${path}" ${clash}: rename one of them`, {
      path,
    });
  }
  const file = mount.file();
  file.data = bytes;
  file.length = bytes.length;
  dir.entries.set(name, file);
}

/**
 * Bundled files as one read-only tree, built once (inode numbers, timestamps, directories) and
 * mounted by any number of instances: `mount()` is O(1), no walk and no copy, and only the
 * descriptors it hands out (offsets, readdir lists) belong to the instance. The file bytes are the
 * caller's, not copied. Every node is frozen, so a write that got past the read-only checks would
 * throw (a host bug, ending the instance) instead of changing what every other instance sees.
 */
export class SharedMemoryTree {
  readonly #root: DirectoryNode;
  /** The device number every mount reports. */
  readonly dev: bigint;
  /** Every node's atime, mtime and ctime, in ns since the epoch. */
  readonly timeNs: bigint;

  /** `dev` and `timeNs` default to a random device number and now; give them to rebuild a tree. */
  constructor(
    files: Iterable<readonly [string, Uint8Array]>,
    identity: { dev?: bigint; timeNs?: bigint } = {},
  ) {
    const builder = new MemoryMount(true, WASI_LIMIT_DEFAULTS, identity.dev);
    this.dev = builder.dev;
    this.timeNs = identity.timeNs ?? wallClockNs();
    this.#root = builder.directory(null);
    for (const [path, bytes] of files) addBundledFile(builder, this.#root, path, bytes);
    freezeTree(this.#root, this.timeNs);
  }

  /** A read-only root directory descriptor over the tree, for one instance. */
  mount(limits: WasiLimits): Descriptor {
    return new MemoryDirectory(new MemoryMount(true, limits, this.dev), this.#root, 0);
  }
}

function freezeTree(root: DirectoryNode, timeNs: bigint): void {
  const refuse = (): never => {
    throw new TypeError('a shared memory tree cannot change');
  };
  const pending: MemoryNode[] = [root];
  for (let node = pending.pop(); node !== undefined; node = pending.pop()) {
    node.atim = node.mtim = node.ctim = timeNs;
    if (node instanceof DirectoryNode) {
      for (const child of node.entries.values()) pending.push(child);
      // Object.freeze does not reach a Map's entries: its mutators are replaced instead.
      Object.defineProperties(node.entries, {
        set: { value: refuse },
        delete: { value: refuse },
        clear: { value: refuse },
      });
      Object.freeze(node.entries);
    }
    Object.freeze(node);
  }
}

class MemoryFile extends Descriptor {
  readonly filetype = Filetype.REGULAR_FILE;
  override readonly readOnly: boolean;
  readonly #mount: MemoryMount;
  readonly #node: FileNode;
  #fdflags: number;
  #position = 0;
  /** Access as a host open(2) would grant it: O_RDONLY unless writing was asked for. */
  readonly #readable: boolean;
  readonly #writable: boolean;

  constructor(mount: MemoryMount, node: FileNode, request: OpenRequest) {
    super();
    this.#mount = mount;
    this.#node = node;
    this.readOnly = mount.readOnly;
    this.#fdflags = request.fdflags;
    this.#writable = request.write && !mount.readOnly;
    this.#readable = request.read || !request.write;
  }

  override fdflags(): number {
    return this.#fdflags;
  }

  override setFdflags(flags: number): void {
    if ((flags & SYNC_FDFLAGS) !== (this.#fdflags & SYNC_FDFLAGS)) fail(Errno.NOTSUP);
    this.#fdflags = flags & (Fdflags.APPEND | Fdflags.NONBLOCK | SYNC_FDFLAGS);
  }

  #readAt(buffer: Uint8Array, position: number): number {
    if (!this.#readable) fail(Errno.BADF);
    const node = this.#node;
    const count = Math.max(0, Math.min(buffer.length, node.length - position));
    if (count > 0) buffer.set(node.data.subarray(position, position + count));
    return count;
  }

  /** The caller has checked `#writable`. */
  #writeAt(data: Uint8Array, position: number): number {
    const node = this.#node;
    const end = position + data.length;
    if (end > node.length) this.#mount.resize(node, end);
    node.data.set(data, position);
    node.mtim = node.ctim = this.#mount.now();
    return data.length;
  }

  override read(buffer: Uint8Array): number {
    const count = this.#readAt(buffer, this.#position);
    this.#position += count;
    return count;
  }

  override pread(buffer: Uint8Array, offset: bigint): number {
    if (offset >= BigInt(this.#node.length)) return this.#readAt(buffer.subarray(0, 0), 0);
    return this.#readAt(buffer, Number(offset));
  }

  override write(data: Uint8Array): number {
    if (!this.#writable) fail(Errno.BADF);
    if (this.#fdflags & Fdflags.APPEND) this.#position = this.#node.length;
    const count = this.#writeAt(data, this.#position);
    this.#position += count;
    return count;
  }

  override pwrite(data: Uint8Array, offset: bigint): number {
    if (!this.#writable) fail(Errno.BADF);
    // As Linux (and the host filesystem): pwrite on an APPEND descriptor writes at the end.
    if (this.#fdflags & Fdflags.APPEND) return this.#writeAt(data, this.#node.length);
    if (offset > BigInt(this.#mount.limits.maxMemoryFileBytes)) fail(Errno.FBIG);
    return this.#writeAt(data, Number(offset));
  }

  override seek(offset: bigint, whence: Whence): bigint {
    let base: bigint;
    if (whence === Whence.SET) base = 0n;
    else if (whence === Whence.CUR) base = BigInt(this.#position);
    else if (whence === Whence.END) base = BigInt(this.#node.length);
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
    return BigInt(Math.max(0, this.#node.length - this.#position));
  }

  override stat(): Filestat {
    return this.#mount.filestat(this.#node);
  }

  override setSize(size: bigint): void {
    if (!this.#writable) fail(Errno.BADF);
    if (size > BigInt(this.#mount.limits.maxMemoryFileBytes)) fail(Errno.FBIG);
    this.#mount.resize(this.#node, Number(size));
    this.#node.mtim = this.#node.ctim = this.#mount.now();
  }

  override setTimes(times: TimeUpdate): void {
    if (this.readOnly) fail(Errno.BADF);
    this.#mount.setTimes(this.#node, times);
  }

  override advise(_offset: bigint, _length: bigint, advice: number): void {
    if (advice < 0 || advice > 5) fail(Errno.INVAL);
  }

  override allocate(offset: bigint, length: bigint): void {
    if (!this.#writable) fail(Errno.BADF);
    if (length <= 0n || offset < 0n) fail(Errno.INVAL);
    const end = offset + length;
    if (end > BigInt(this.#mount.limits.maxMemoryFileBytes)) fail(Errno.FBIG);
    if (Number(end) > this.#node.length) this.#mount.resize(this.#node, Number(end));
  }
}

class MemoryDirectory extends Descriptor {
  readonly filetype = Filetype.DIRECTORY;
  override readonly readOnly: boolean;
  readonly #mount: MemoryMount;
  readonly #node: DirectoryNode;
  readonly #fdflags: number;
  #entries: DirEntry[] | null = null;

  constructor(mount: MemoryMount, node: DirectoryNode, fdflags: number) {
    super();
    this.#mount = mount;
    this.#node = node;
    this.readOnly = mount.readOnly;
    this.#fdflags = fdflags;
  }

  #walk<T>(path: string, last: LastStep<DirectoryNode, T>): T {
    return walkPath(memoryWalker, this.#node, path, this.#mount.limits, last);
  }

  #modifiable(): void {
    if (this.readOnly) fail(Errno.ROFS);
  }

  #sameMount(other: Descriptor): MemoryDirectory {
    if (!(other instanceof MemoryDirectory) || other.#mount !== this.#mount) fail(Errno.XDEV);
    return other;
  }

  /** Records a change of `dir`'s entries; a removed directory takes no new ones (Linux: ENOENT). */
  #changed(dir: DirectoryNode): void {
    if (dir.nlink === 0n) fail(Errno.NOENT);
    dir.mtim = dir.ctim = this.#mount.now();
  }

  override fdflags(): number {
    return this.#fdflags;
  }

  override stat(): Filestat {
    return this.#mount.filestat(this.#node);
  }

  override setTimes(times: TimeUpdate): void {
    if (this.readOnly) fail(Errno.BADF);
    this.#mount.setTimes(this.#node, times);
  }

  override readdir(refresh: boolean): readonly DirEntry[] {
    if (this.#entries !== null && !refresh) return this.#entries;
    const node = this.#node;
    const entries: DirEntry[] = [
      { name: '.', ino: node.ino, filetype: Filetype.DIRECTORY },
      { name: '..', ino: node.parent.ino, filetype: Filetype.DIRECTORY },
    ];
    const max = this.#mount.limits.maxReaddirEntries;
    for (const [name, child] of node.entries) {
      if (entries.length >= max) break;
      entries.push({ name, ino: child.ino, filetype: child.filetype });
    }
    this.#entries = entries;
    return entries;
  }

  override openAt(path: string, request: OpenRequest): Descriptor {
    const { oflags } = request;
    if (oflags & Oflags.CREAT && oflags & Oflags.DIRECTORY) fail(Errno.INVAL);
    return this.#walk(path, (dir, name, mustBeDirectory) => {
      const node = name === null ? dir : dir.entries.get(name);
      if (node instanceof SymlinkNode) {
        if (oflags & Oflags.CREAT && oflags & Oflags.EXCL) fail(Errno.EXIST);
        if (request.followSymlinks || mustBeDirectory) return new FollowSymlink(node.target);
        return fail(Errno.LOOP);
      }
      if (node === undefined) return this.#create(dir, name!, mustBeDirectory, request);
      if (oflags & Oflags.CREAT && oflags & Oflags.EXCL) fail(Errno.EXIST);
      if (node instanceof DirectoryNode) {
        if (request.write || oflags & Oflags.TRUNC) fail(Errno.ISDIR);
        return new MemoryDirectory(this.#mount, node, request.fdflags & Fdflags.NONBLOCK);
      }
      if (oflags & Oflags.DIRECTORY || mustBeDirectory) fail(Errno.NOTDIR);
      if (this.readOnly && (request.write || oflags & Oflags.TRUNC)) fail(Errno.ROFS);
      const file = node as FileNode;
      if (oflags & Oflags.TRUNC) {
        this.#mount.resize(file, 0);
        file.mtim = file.ctim = this.#mount.now();
      }
      return new MemoryFile(this.#mount, file, request);
    });
  }

  #create(dir: DirectoryNode, name: string, mustBeDirectory: boolean, request: OpenRequest): Descriptor {
    if (!(request.oflags & Oflags.CREAT)) fail(Errno.NOENT);
    // Linux: open("name/", O_CREAT) is EISDIR.
    if (mustBeDirectory) fail(Errno.ISDIR);
    this.#modifiable();
    this.#changed(dir);
    const file = this.#mount.file();
    dir.entries.set(name, file);
    return new MemoryFile(this.#mount, file, request);
  }

  override createDirectoryAt(path: string): void {
    this.#modifiable();
    this.#walk(path, (dir, name) => {
      if (name === null || dir.entries.has(name)) fail(Errno.EXIST);
      this.#changed(dir);
      dir.entries.set(name, this.#mount.directory(dir));
      dir.nlink += 1n;
    });
  }

  override removeDirectoryAt(path: string): void {
    this.#modifiable();
    this.#walk(path, (dir, name) => {
      if (name === null) fail(Errno.INVAL);
      const node = dir.entries.get(name);
      if (node === undefined) fail(Errno.NOENT);
      if (!(node instanceof DirectoryNode)) fail(Errno.NOTDIR);
      if (node.entries.size > 0) fail(Errno.NOTEMPTY);
      this.#changed(dir);
      dir.entries.delete(name);
      dir.nlink -= 1n;
      node.nlink = 0n;
    });
  }

  override unlinkFileAt(path: string): void {
    this.#modifiable();
    this.#walk(path, (dir, name, mustBeDirectory) => {
      if (name === null) fail(Errno.ISDIR);
      const node = dir.entries.get(name);
      if (node === undefined) fail(Errno.NOENT);
      if (node instanceof DirectoryNode) fail(Errno.ISDIR);
      if (mustBeDirectory) fail(Errno.NOTDIR);
      this.#changed(dir);
      dir.entries.delete(name);
      this.#mount.unlink(node);
    });
  }

  override renameAt(oldPath: string, newDirectory: Descriptor, newPath: string): void {
    const target = this.#sameMount(newDirectory);
    this.#modifiable();
    this.#walk(oldPath, (oldDir, oldName, oldMustBeDirectory) => {
      if (oldName === null) fail(Errno.BUSY);
      const node = oldDir.entries.get(oldName);
      if (node === undefined) fail(Errno.NOENT);
      target.#walk(newPath, (newDir, newName, newMustBeDirectory) => {
        if (newName === null) fail(Errno.BUSY);
        const isDirectory = node instanceof DirectoryNode;
        if ((oldMustBeDirectory || newMustBeDirectory) && !isDirectory) fail(Errno.NOTDIR);
        const existing = newDir.entries.get(newName);
        if (existing === node) return;
        checkReplace(node, existing, newDir);
        this.#move(oldDir, oldName, node, newDir, newName, existing);
      });
    });
  }

  #move(
    oldDir: DirectoryNode,
    oldName: string,
    node: MemoryNode,
    newDir: DirectoryNode,
    newName: string,
    existing: MemoryNode | undefined,
  ): void {
    this.#changed(newDir);
    this.#changed(oldDir);
    if (existing instanceof DirectoryNode) {
      existing.nlink = 0n;
      newDir.nlink -= 1n;
    } else if (existing !== undefined) {
      this.#mount.unlink(existing);
    }
    oldDir.entries.delete(oldName);
    newDir.entries.set(newName, node);
    node.ctim = this.#mount.now();
    if (node instanceof DirectoryNode) {
      oldDir.nlink -= 1n;
      newDir.nlink += 1n;
      node.parent = newDir;
    }
  }

  override linkAt(oldPath: string, followSymlinks: boolean, newDirectory: Descriptor, newPath: string): void {
    const target = this.#sameMount(newDirectory);
    if (followSymlinks) fail(Errno.INVAL);
    this.#modifiable();
    this.#walk(oldPath, (oldDir, oldName, oldMustBeDirectory) => {
      if (oldName === null) fail(Errno.PERM);
      const node = oldDir.entries.get(oldName);
      if (node === undefined) fail(Errno.NOENT);
      // Hard links to directories are not allowed (Linux: EPERM).
      if (node instanceof DirectoryNode) fail(Errno.PERM);
      if (oldMustBeDirectory) fail(Errno.NOTDIR);
      target.#walk(newPath, (newDir, newName, newMustBeDirectory) => {
        if (newName === null || newDir.entries.has(newName)) fail(Errno.EXIST);
        if (newMustBeDirectory) fail(Errno.NOENT);
        this.#changed(newDir);
        newDir.entries.set(newName, node);
        node.nlink += 1n;
        node.ctim = this.#mount.now();
      });
    });
  }

  override symlinkAt(targetPath: string, path: string): void {
    checkSymlinkTarget(targetPath, this.#mount.limits);
    this.#modifiable();
    this.#walk(path, (dir, name, mustBeDirectory) => {
      if (name === null) fail(Errno.EXIST);
      const existing = dir.entries.get(name);
      if (mustBeDirectory) {
        fail(
          existing === undefined
            ? Errno.NOENT
            : existing instanceof DirectoryNode
              ? Errno.EXIST
              : Errno.NOTDIR,
        );
      }
      if (existing !== undefined) fail(Errno.EXIST);
      this.#changed(dir);
      dir.entries.set(name, new SymlinkNode(this.#mount.ino(), this.#mount.now(), targetPath));
    });
  }

  override readlinkAt(path: string): string {
    return this.#walk(path, (dir, name, mustBeDirectory) => {
      if (name === null || mustBeDirectory) return fail(Errno.INVAL);
      const node = dir.entries.get(name);
      if (node === undefined) return fail(Errno.NOENT);
      if (!(node instanceof SymlinkNode)) return fail(Errno.INVAL);
      return node.target;
    });
  }

  /** The node a path names, following a final symlink when asked or when the path ends in `/`. */
  #lookup(path: string, followSymlinks: boolean): MemoryNode {
    return this.#walk(path, (dir, name, mustBeDirectory) => {
      const node = name === null ? dir : dir.entries.get(name);
      if (node === undefined) return fail(Errno.NOENT);
      if (node instanceof SymlinkNode && (followSymlinks || mustBeDirectory)) {
        return new FollowSymlink(node.target);
      }
      if (mustBeDirectory && !(node instanceof DirectoryNode)) fail(Errno.NOTDIR);
      return node;
    });
  }

  override statAt(path: string, followSymlinks: boolean): Filestat {
    return this.#mount.filestat(this.#lookup(path, followSymlinks));
  }

  override setTimesAt(path: string, followSymlinks: boolean, times: TimeUpdate): void {
    this.#modifiable();
    this.#mount.setTimes(this.#lookup(path, followSymlinks), times);
  }
}

/** rename(2)'s rules for what may replace what. */
function checkReplace(node: MemoryNode, existing: MemoryNode | undefined, newDir: DirectoryNode): void {
  if (node instanceof DirectoryNode) {
    // A directory cannot move into itself or below itself.
    for (let dir = newDir; ; dir = dir.parent) {
      if (dir === node) fail(Errno.INVAL);
      if (dir.parent === dir) break;
    }
    if (existing === undefined) return;
    if (!(existing instanceof DirectoryNode)) fail(Errno.NOTDIR);
    if (existing.entries.size > 0) fail(Errno.NOTEMPTY);
  } else if (existing instanceof DirectoryNode) {
    fail(Errno.ISDIR);
  }
}
