/**
 * wasi:filesystem 0.2 (`types` and `preopens`) on isola's descriptor layer (src/wasi/descriptor.ts):
 * the same host-directory, in-memory and read-only bundle filesystems the preview1 host mounts,
 * with the same sandboxing (paths resolve beneath their preopen) and the same limits. Semantics
 * stay in the descriptors; this file only maps WIT calls onto them and `WasiErrno` onto the
 * filesystem `error-code`. No preopens unless granted.
 */
import { Errno, Filetype, Oflags } from '../../wasi/defs.js';
import type { DirEntry, Filestat, OpenRequest, Descriptor as WasiDescriptor } from '../../wasi/descriptor.js';
import { WasiErrno } from '../../wasi/errno.js';
import { type HostContext, HostResource, WitError } from './context.js';
import {
  type ByteSink,
  type ByteSource,
  InputStream,
  type IoError,
  lastOperationFailed,
  OutputStream,
} from './io.js';

/** WASI errno → wasi:filesystem `error-code` (the 0.2 names of the same POSIX errors). */
const ERROR_CODES: Readonly<Partial<Record<number, string>>> = {
  [Errno.ACCES]: 'access',
  [Errno.AGAIN]: 'would-block',
  [Errno.ALREADY]: 'already',
  [Errno.BADF]: 'bad-descriptor',
  [Errno.BUSY]: 'busy',
  [Errno.DEADLK]: 'deadlock',
  [Errno.DQUOT]: 'quota',
  [Errno.EXIST]: 'exist',
  [Errno.FBIG]: 'file-too-large',
  [Errno.ILSEQ]: 'illegal-byte-sequence',
  [Errno.INPROGRESS]: 'in-progress',
  [Errno.INTR]: 'interrupted',
  [Errno.INVAL]: 'invalid',
  [Errno.IO]: 'io',
  [Errno.ISDIR]: 'is-directory',
  [Errno.LOOP]: 'loop',
  [Errno.MLINK]: 'too-many-links',
  [Errno.MSGSIZE]: 'message-size',
  [Errno.NAMETOOLONG]: 'name-too-long',
  [Errno.NODEV]: 'no-device',
  [Errno.NOENT]: 'no-entry',
  [Errno.NOLCK]: 'no-lock',
  [Errno.NOMEM]: 'insufficient-memory',
  [Errno.NOSPC]: 'insufficient-space',
  [Errno.NOTDIR]: 'not-directory',
  [Errno.NOTEMPTY]: 'not-empty',
  [Errno.NOTRECOVERABLE]: 'not-recoverable',
  [Errno.NOTSUP]: 'unsupported',
  [Errno.NOSYS]: 'unsupported',
  [Errno.NOTTY]: 'no-tty',
  [Errno.NXIO]: 'no-such-device',
  [Errno.OVERFLOW]: 'overflow',
  [Errno.PERM]: 'not-permitted',
  [Errno.NOTCAPABLE]: 'not-permitted',
  [Errno.PIPE]: 'pipe',
  [Errno.ROFS]: 'read-only',
  [Errno.SPIPE]: 'invalid-seek',
  [Errno.TXTBSY]: 'text-file-busy',
  [Errno.XDEV]: 'cross-device',
  [Errno.MFILE]: 'insufficient-memory',
};

export function errorCode(errno: number): string {
  return ERROR_CODES[errno] ?? 'io';
}

/** Runs a descriptor call, turning a `WasiErrno` into the error-code the guest sees. */
function call<T>(fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    if (error instanceof WasiErrno) throw new WitError(errorCode(error.errno));
    throw error;
  }
}

const DESCRIPTOR_TYPES: Readonly<Record<number, string>> = {
  [Filetype.UNKNOWN]: 'unknown',
  [Filetype.BLOCK_DEVICE]: 'block-device',
  [Filetype.CHARACTER_DEVICE]: 'character-device',
  [Filetype.DIRECTORY]: 'directory',
  [Filetype.REGULAR_FILE]: 'regular-file',
  [Filetype.SOCKET_DGRAM]: 'socket',
  [Filetype.SOCKET_STREAM]: 'socket',
  [Filetype.SYMBOLIC_LINK]: 'symbolic-link',
};

function descriptorType(filetype: number): string {
  return DESCRIPTOR_TYPES[filetype] ?? 'unknown';
}

function datetime(ns: bigint): { seconds: bigint; nanoseconds: number } {
  return { seconds: ns / 1_000_000_000n, nanoseconds: Number(ns % 1_000_000_000n) };
}

function descriptorStat(stat: Filestat) {
  return {
    type: descriptorType(stat.filetype),
    linkCount: stat.nlink,
    size: stat.size,
    dataAccessTimestamp: datetime(stat.atim),
    dataModificationTimestamp: datetime(stat.mtim),
    statusChangeTimestamp: datetime(stat.ctim),
  };
}

interface DescriptorFlags {
  read?: boolean;
  write?: boolean;
  mutateDirectory?: boolean;
}

interface OpenFlags {
  create?: boolean;
  directory?: boolean;
  exclusive?: boolean;
  truncate?: boolean;
}

/** A file read from `offset` on, through `pread`. */
class FileSource implements ByteSource {
  readonly #file: WasiDescriptor;
  #offset: bigint;
  #buffer: Uint8Array | undefined;

  constructor(file: WasiDescriptor, offset: bigint) {
    this.#file = file;
    this.#offset = offset;
  }

  read(max: number): Uint8Array | null {
    if (this.#buffer === undefined || this.#buffer.length < max) this.#buffer = new Uint8Array(max);
    const count = this.#file.pread(this.#buffer.subarray(0, max), this.#offset);
    if (count === 0 && max > 0) return null;
    this.#offset += BigInt(count);
    return this.#buffer.slice(0, count);
  }

  readiness() {
    return { kind: 'now' } as const;
  }
}

/** A file written from `offset` on (or appended to), through `pwrite`. */
class FileSink implements ByteSink {
  readonly #ctx: HostContext;
  readonly #file: WasiDescriptor;
  #offset: bigint | 'append';

  constructor(ctx: HostContext, file: WasiDescriptor, offset: bigint | 'append') {
    this.#ctx = ctx;
    this.#file = file;
    this.#offset = offset;
  }

  capacity(): number {
    return this.#ctx.limits.maxBytesPerCall;
  }

  write(data: Uint8Array): void {
    try {
      const offset = this.#offset === 'append' ? this.#file.stat().size : this.#offset;
      const written = this.#file.pwrite(data, offset);
      if (this.#offset !== 'append') this.#offset += BigInt(written);
    } catch (error) {
      if (!(error instanceof WasiErrno)) throw error;
      throw lastOperationFailed(this.#ctx, `write failed: ${errorCode(error.errno)}`, errorCode(error.errno));
    }
  }
}

function openRequest(openFlags: OpenFlags, flags: DescriptorFlags, followSymlinks: boolean): OpenRequest {
  let oflags = 0;
  if (openFlags.create) oflags |= Oflags.CREAT;
  if (openFlags.directory) oflags |= Oflags.DIRECTORY;
  if (openFlags.exclusive) oflags |= Oflags.EXCL;
  if (openFlags.truncate) oflags |= Oflags.TRUNC;
  return { oflags, fdflags: 0, followSymlinks, read: flags.read ?? false, write: flags.write ?? false };
}

/** wasi:filesystem/types `descriptor`. */
export class Descriptor extends HostResource {
  readonly #file: WasiDescriptor;
  readonly #flags: DescriptorFlags;
  /** False for a preopen: dropping the guest's handle must not close the mount. */
  readonly #owned: boolean;

  constructor(ctx: HostContext, file: WasiDescriptor, flags: DescriptorFlags, owned: boolean) {
    super(ctx);
    this.#file = file;
    this.#flags = file.readOnly ? { ...flags, write: false, mutateDirectory: false } : flags;
    this.#owned = owned;
  }

  readViaStream(offset: bigint): InputStream {
    this.#need('read');
    return new InputStream(this.ctx, new FileSource(this.#file, offset));
  }
  writeViaStream(offset: bigint): OutputStream {
    this.#need('write');
    return new OutputStream(this.ctx, new FileSink(this.ctx, this.#file, offset));
  }
  appendViaStream(): OutputStream {
    this.#need('write');
    return new OutputStream(this.ctx, new FileSink(this.ctx, this.#file, 'append'));
  }
  advise(offset: bigint, length: bigint, _advice: string): void {
    call(() => this.#file.advise(offset, length, 0));
  }
  syncData(): void {
    call(() => this.#file.datasync());
  }
  getFlags(): DescriptorFlags {
    return { ...this.#flags };
  }
  getType(): string {
    return descriptorType(this.#file.filetype);
  }
  setSize(size: bigint): void {
    this.#need('write');
    call(() => this.#file.setSize(size));
  }
  read(length: bigint, offset: bigint): [Uint8Array, boolean] {
    this.#need('read');
    const buffer = new Uint8Array(this.ctx.clampBytes(length));
    const count = call(() => this.#file.pread(buffer, offset));
    return [buffer.subarray(0, count), count === 0 && buffer.length > 0];
  }
  write(buffer: Uint8Array, offset: bigint): bigint {
    this.#need('write');
    return BigInt(call(() => this.#file.pwrite(buffer, offset)));
  }
  readDirectory(): DirectoryEntryStream {
    const entries = call(() => this.#file.readdir(true));
    return new DirectoryEntryStream(this.ctx, entries);
  }
  sync(): void {
    call(() => this.#file.sync());
  }
  createDirectoryAt(path: string): void {
    this.#need('mutateDirectory');
    call(() => this.#file.createDirectoryAt(path));
  }
  stat() {
    return descriptorStat(call(() => this.#file.stat()));
  }
  statAt(pathFlags: { symlinkFollow?: boolean }, path: string) {
    return descriptorStat(call(() => this.#file.statAt(path, pathFlags.symlinkFollow ?? false)));
  }
  openAt(
    pathFlags: { symlinkFollow?: boolean },
    path: string,
    openFlags: OpenFlags,
    flags: DescriptorFlags,
  ): Descriptor {
    if (
      (flags.write || flags.mutateDirectory || openFlags.create || openFlags.truncate) &&
      !this.#flags.mutateDirectory
    ) {
      throw new WitError(this.#file.readOnly ? 'read-only' : 'not-permitted');
    }
    const request = openRequest(openFlags, flags, pathFlags.symlinkFollow ?? false);
    const opened = call(() => this.#file.openAt(path, request));
    return new Descriptor(this.ctx, opened, flags, true);
  }
  readlinkAt(path: string): string {
    return call(() => this.#file.readlinkAt(path));
  }
  removeDirectoryAt(path: string): void {
    this.#need('mutateDirectory');
    call(() => this.#file.removeDirectoryAt(path));
  }
  unlinkFileAt(path: string): void {
    this.#need('mutateDirectory');
    call(() => this.#file.unlinkFileAt(path));
  }
  renameAt(oldPath: string, newDescriptor: Descriptor, newPath: string): void {
    this.#need('mutateDirectory');
    call(() => this.#file.renameAt(oldPath, newDescriptor.#file, newPath));
  }
  symlinkAt(oldPath: string, newPath: string): void {
    this.#need('mutateDirectory');
    call(() => this.#file.symlinkAt(oldPath, newPath));
  }
  linkAt(
    _oldFlags: { symlinkFollow?: boolean },
    oldPath: string,
    newDescriptor: Descriptor,
    newPath: string,
  ): void {
    this.#need('mutateDirectory');
    call(() => this.#file.linkAt(oldPath, _oldFlags.symlinkFollow ?? false, newDescriptor.#file, newPath));
  }
  setTimes(): void {
    throw new WitError('unsupported');
  }
  setTimesAt(): void {
    throw new WitError('unsupported');
  }
  isSameObject(other: Descriptor): boolean {
    const a = call(() => this.#file.stat());
    const b = call(() => other.#file.stat());
    return a.dev === b.dev && a.ino === b.ino;
  }
  metadataHash(): { lower: bigint; upper: bigint } {
    const stat = call(() => this.#file.stat());
    return { lower: stat.ino, upper: stat.dev ^ stat.mtim };
  }
  metadataHashAt(pathFlags: { symlinkFollow?: boolean }, path: string): { lower: bigint; upper: bigint } {
    const stat = call(() => this.#file.statAt(path, pathFlags.symlinkFollow ?? false));
    return { lower: stat.ino, upper: stat.dev ^ stat.mtim };
  }

  #need(flag: keyof DescriptorFlags): void {
    if (this.#flags[flag]) return;
    throw new WitError(this.#file.readOnly && flag !== 'read' ? 'read-only' : 'bad-descriptor');
  }

  protected override dispose(): void {
    if (this.#owned) this.#file.close();
  }
}

/** wasi:filesystem/types `directory-entry-stream`, without `.` and `..` (the 0.2 WIT omits them). */
export class DirectoryEntryStream extends HostResource {
  readonly #entries: readonly DirEntry[];
  #index = 0;

  constructor(ctx: HostContext, entries: readonly DirEntry[]) {
    super(ctx);
    this.#entries = entries.filter((entry) => entry.name !== '.' && entry.name !== '..');
  }

  readDirectoryEntry(): { type: string; name: string } | undefined {
    const entry = this.#entries[this.#index++];
    return entry && { type: descriptorType(entry.filetype), name: entry.name };
  }
}

/** A directory the component is granted, at the path it sees. */
export interface ComponentPreopen {
  guestPath: string;
  directory: WasiDescriptor;
}

export function filesystemImports(
  ctx: HostContext,
  preopens: readonly ComponentPreopen[],
): Record<string, Record<string, unknown>> {
  return {
    'wasi:filesystem/types': {
      Descriptor,
      DirectoryEntryStream,
      filesystemErrorCode: (error: IoError) => error.filesystemCode,
    },
    'wasi:filesystem/preopens': {
      getDirectories: () =>
        preopens.map(({ guestPath, directory }) => [
          new Descriptor(
            ctx,
            directory,
            { read: true, write: !directory.readOnly, mutateDirectory: !directory.readOnly },
            false,
          ),
          guestPath,
        ]),
    },
  };
}
