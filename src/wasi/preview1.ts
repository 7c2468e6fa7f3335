/**
 * The `wasi_snapshot_preview1` import object: marshalling only. Each function decodes guest
 * pointers through the bounds-checked `GuestMemory`, checks the descriptor's rights, calls the
 * descriptor (or clock, poll, random) semantics with TypeScript values, and encodes the result.
 * Expected failures arrive as `WasiErrno` and become the return value; anything else (exit, a
 * broken limit, a host bug) propagates and ends the instance.
 */
import { randomFillSync } from 'node:crypto';
import {
  Advice,
  Errno,
  Eventtype,
  Fdflags,
  Filetype,
  Fstflags,
  Layout,
  Lookupflags,
  Oflags,
  Preopentype,
  RIGHTS_WRITE,
  Rights,
  SIGNAL_MAX,
  Whence,
} from './defs.js';
import type { Filestat, TimeUpdate, TimeValue } from './descriptor.js';
import { fail, WasiErrno } from './errno.js';
import { type FdEntry, rightsForType } from './fd-table.js';
import type { GuestMemory, StringBlock } from './memory-view.js';
import { utf8 } from './memory-view.js';
import { pollOneoff, type Subscription } from './poll.js';
import type { WasiState } from './state.js';

/** Thrown by proc_exit (and a terminating proc_raise) to unwind the guest; caught by `start()`. */
export class ProcExit {
  readonly code: number;
  constructor(code: number) {
    this.code = code;
  }
}

/** Signals whose default action is to ignore or stop: proc_raise of these returns without effect. */
const SIGNALS_IGNORED = new Set([16, 17, 18, 19, 20, 21, 22, 27]);

/** Rights through which an opened descriptor can modify what it names. */
const RIGHTS_THAT_WRITE =
  Rights.FD_WRITE | Rights.FD_DATASYNC | Rights.FD_ALLOCATE | Rights.FD_FILESTAT_SET_SIZE;
const RIGHTS_THAT_READ = Rights.FD_READ | Rights.FD_READDIR;
const FDFLAGS_ALL = Fdflags.APPEND | Fdflags.DSYNC | Fdflags.NONBLOCK | Fdflags.RSYNC | Fdflags.SYNC;
const OFLAGS_ALL = Oflags.CREAT | Oflags.DIRECTORY | Oflags.EXCL | Oflags.TRUNC;
const FSTFLAGS_ALL = Fstflags.ATIM | Fstflags.ATIM_NOW | Fstflags.MTIM | Fstflags.MTIM_NOW;

type Fn = (...args: never[]) => number;
export type Preview1Imports = Record<string, Fn>;

/**
 * Builds the import functions for one instance. `memory()` returns the guest's memory once the
 * instance exists (the functions are only called after that).
 */
export function createPreview1(state: WasiState, memory: () => GuestMemory): Preview1Imports {
  const { fds, limits, clocks } = state;

  /** Runs a call body; a WasiErrno becomes the return value. */
  const call = (body: () => void): number => {
    try {
      body();
      return Errno.SUCCESS;
    } catch (error) {
      if (error instanceof WasiErrno) return error.errno;
      throw error;
    }
  };

  const path = (ptr: number, len: number): string => {
    if (len >>> 0 > limits.maxPathBytes) fail(Errno.NAMETOOLONG);
    const text = memory().string(ptr, len);
    // A NUL cannot be part of a host path; wasmtime and wasi-testsuite's interesting_paths say EINVAL.
    if (text.includes('\0')) fail(Errno.INVAL);
    return text;
  };

  /**
   * A directory entry holding `rights`: ENOTDIR for a non-directory; EPERM for a right the
   * directory lacks, dropped or never granted (wasi-testsuite's truncation_rights expects EPERM,
   * as POSIX does for an operation the caller may not perform).
   */
  const directory = (fd: number, rights: bigint): FdEntry => {
    const entry = fds.get(fd);
    if (entry.descriptor.filetype !== Filetype.DIRECTORY) fail(Errno.NOTDIR);
    if ((entry.rightsBase & rights) !== rights) fail(Errno.PERM);
    return entry;
  };

  const writeFilestat = (ptr: number, stat: Filestat): void => {
    const m = memory();
    const L = Layout.filestat;
    m.bytes(ptr, L.bytes).fill(0);
    m.setU64(ptr + L.dev, stat.dev);
    m.setU64(ptr + L.ino, stat.ino);
    m.setU8(ptr + L.filetype, stat.filetype);
    m.setU64(ptr + L.nlink, stat.nlink);
    m.setU64(ptr + L.size, stat.size);
    m.setU64(ptr + L.atim, stat.atim);
    m.setU64(ptr + L.mtim, stat.mtim);
    m.setU64(ptr + L.ctim, stat.ctim);
  };

  const writeStrings = (block: StringBlock, pointers: number, buffer: number): void => {
    const m = memory();
    m.write(buffer, block.bytes);
    block.offsets.forEach((offset, i) => {
      m.setU32(pointers + i * 4, buffer + offset);
    });
  };

  const readInto = (entry: FdEntry, iovs: number, iovsLen: number, offset?: bigint): number => {
    let total = 0;
    for (const view of memory().iovecs(iovs, iovsLen, limits.maxBytesPerCall)) {
      if (view.length === 0) continue;
      const position = offset === undefined ? undefined : offset + BigInt(total);
      const n = position === undefined ? entry.descriptor.read(view) : entry.descriptor.pread(view, position);
      total += n;
      if (n < view.length) break;
    }
    return total;
  };

  const gather = (iovs: number, iovsLen: number): Uint8Array => {
    const m = memory();
    if (iovsLen === 1) {
      // The common case (a single buffer): no list to build.
      const length = Math.min(m.getU32(iovs + 4), limits.maxBytesPerCall);
      return m.bytes(m.getU32(iovs), length);
    }
    const views = m.iovecs(iovs, iovsLen, limits.maxBytesPerCall);
    if (views.length === 1) return views[0]!;
    let size = 0;
    for (const view of views) size += view.length;
    // One write per call keeps an append atomic and a pipe write whole.
    const data = new Uint8Array(size);
    let offset = 0;
    for (const view of views) {
      data.set(view, offset);
      offset += view.length;
    }
    return data;
  };

  const timeUpdate = (atim: bigint, mtim: bigint, flags: number): TimeUpdate => {
    if (flags & ~FSTFLAGS_ALL) fail(Errno.INVAL);
    const pick = (value: bigint, set: number, now: number): TimeValue => {
      if (flags & set && flags & now) fail(Errno.INVAL);
      return flags & now ? 'now' : flags & set ? value : undefined;
    };
    return {
      atim: pick(atim, Fstflags.ATIM, Fstflags.ATIM_NOW),
      mtim: pick(mtim, Fstflags.MTIM, Fstflags.MTIM_NOW),
    };
  };

  return {
    args_get: (argv: number, argvBuf: number) => call(() => writeStrings(state.args, argv, argvBuf)),
    args_sizes_get: (argc: number, bufSize: number) =>
      call(() => {
        memory().setU32(argc, state.args.offsets.length);
        memory().setU32(bufSize, state.args.bytes.length);
      }),
    environ_get: (environ: number, environBuf: number) =>
      call(() => writeStrings(state.env, environ, environBuf)),
    environ_sizes_get: (count: number, bufSize: number) =>
      call(() => {
        memory().setU32(count, state.env.offsets.length);
        memory().setU32(bufSize, state.env.bytes.length);
      }),

    clock_res_get: (id: number, result: number) => call(() => memory().setU64(result, clocks.resolution(id))),
    clock_time_get: (id: number, _precision: bigint, result: number) =>
      call(() => memory().setU64(result, clocks.now(id))),

    fd_advise: (fd: number, offset: bigint, len: bigint, advice: number) =>
      call(() => {
        const entry = fds.checked(fd, Rights.FD_ADVISE);
        if (advice > Advice.NOREUSE || advice < 0) fail(Errno.INVAL);
        entry.descriptor.advise(offset, len, advice);
      }),
    fd_allocate: (fd: number, offset: bigint, len: bigint) =>
      call(() => fds.checked(fd, Rights.FD_ALLOCATE).descriptor.allocate(offset, len)),
    fd_close: (fd: number) => call(() => fds.remove(fd).descriptor.close()),
    fd_datasync: (fd: number) => call(() => fds.checked(fd, Rights.FD_DATASYNC).descriptor.datasync()),
    fd_fdstat_get: (fd: number, result: number) =>
      call(() => {
        const entry = fds.get(fd);
        const m = memory();
        const L = Layout.fdstat;
        m.bytes(result, L.size).fill(0);
        m.setU8(result + L.fs_filetype, entry.descriptor.filetype);
        m.setU16(result + L.fs_flags, entry.descriptor.fdflags());
        m.setU64(result + L.fs_rights_base, entry.rightsBase);
        m.setU64(result + L.fs_rights_inheriting, entry.rightsInheriting);
      }),
    fd_fdstat_set_flags: (fd: number, flags: number) =>
      call(() => {
        if (flags & ~FDFLAGS_ALL) fail(Errno.INVAL);
        fds.checked(fd, Rights.FD_FDSTAT_SET_FLAGS).descriptor.setFdflags(flags);
      }),
    fd_fdstat_set_rights: (fd: number, base: bigint, inheriting: bigint) =>
      call(() => {
        const entry = fds.get(fd);
        // Rights can only be dropped, never gained (spec: "can only be used to remove rights").
        if ((base & ~entry.rightsBase) !== 0n || (inheriting & ~entry.rightsInheriting) !== 0n) {
          fail(Errno.NOTCAPABLE);
        }
        entry.rightsDropped = (entry.rightsDropped ?? 0n) | (entry.rightsBase & ~base);
        entry.rightsBase = base;
        entry.rightsInheriting = inheriting;
      }),
    fd_filestat_get: (fd: number, result: number) =>
      call(() => writeFilestat(result, fds.checked(fd, Rights.FD_FILESTAT_GET).descriptor.stat())),
    fd_filestat_set_size: (fd: number, size: bigint) =>
      call(() => fds.checked(fd, Rights.FD_FILESTAT_SET_SIZE).descriptor.setSize(size)),
    fd_filestat_set_times: (fd: number, atim: bigint, mtim: bigint, flags: number) =>
      call(() => {
        const entry = fds.checked(fd, Rights.FD_FILESTAT_SET_TIMES);
        entry.descriptor.setTimes(timeUpdate(atim, mtim, flags));
      }),
    fd_pread: (fd: number, iovs: number, iovsLen: number, offset: bigint, result: number) =>
      call(() => {
        const entry = fds.checked(fd, Rights.FD_READ | Rights.FD_SEEK);
        memory().setU32(result, readInto(entry, iovs, iovsLen, offset));
      }),
    fd_prestat_get: (fd: number, result: number) =>
      call(() => {
        const entry = fds.get(fd);
        if (entry.preopenPath === undefined) fail(Errno.BADF);
        memory().setU32(result + Layout.prestat.tag, Preopentype.DIR);
        memory().setU32(result + Layout.prestat.pr_name_len, utf8(entry.preopenPath).length);
      }),
    fd_prestat_dir_name: (fd: number, pathPtr: number, pathLen: number) =>
      call(() => {
        const entry = fds.get(fd);
        if (entry.preopenPath === undefined) fail(Errno.BADF);
        const name = utf8(entry.preopenPath);
        if (pathLen >>> 0 < name.length) fail(Errno.NAMETOOLONG);
        memory().write(pathPtr, name);
      }),
    fd_pwrite: (fd: number, iovs: number, iovsLen: number, offset: bigint, result: number) =>
      call(() => {
        const entry = fds.checked(fd, Rights.FD_WRITE | Rights.FD_SEEK);
        memory().setU32(result, entry.descriptor.pwrite(gather(iovs, iovsLen), offset));
      }),
    fd_read: (fd: number, iovs: number, iovsLen: number, result: number) =>
      call(() => {
        const entry = fds.checked(fd, Rights.FD_READ);
        memory().setU32(result, readInto(entry, iovs, iovsLen));
      }),
    fd_readdir: (fd: number, buf: number, bufLen: number, cookie: bigint, result: number) =>
      call(() => {
        const entry = fds.checked(fd, Rights.FD_READDIR);
        const entries = entry.descriptor.readdir(cookie === 0n);
        const m = memory();
        const out = m.bytes(buf, bufLen);
        const header = new Uint8Array(Layout.dirent.size);
        const view = new DataView(header.buffer);
        let used = 0;
        for (let i = cookie; i < BigInt(entries.length) && used < out.length; i++) {
          const dirent = entries[Number(i)]!;
          const name = utf8(dirent.name);
          view.setBigUint64(Layout.dirent.d_next, i + 1n, true);
          view.setBigUint64(Layout.dirent.d_ino, dirent.ino, true);
          view.setUint32(Layout.dirent.d_namlen, name.length, true);
          view.setUint8(Layout.dirent.d_type, dirent.filetype);
          // The spec truncates the last entry that does not fit; bufused == buf_len tells the
          // guest to call again with that entry's cookie and a larger buffer.
          for (const chunk of [header, name]) {
            const n = Math.min(chunk.length, out.length - used);
            out.set(chunk.subarray(0, n), used);
            used += n;
          }
        }
        m.setU32(result, used);
      }),
    fd_renumber: (fd: number, to: number) => call(() => fds.renumber(fd, to)),
    fd_seek: (fd: number, offset: bigint, whence: number, result: number) =>
      call(() => {
        if (whence !== Whence.SET && whence !== Whence.CUR && whence !== Whence.END) fail(Errno.INVAL);
        // A seek that only reports the position needs FD_TELL, as the spec allows.
        const right = offset === 0n && whence === Whence.CUR ? Rights.FD_TELL : Rights.FD_SEEK;
        const position = fds.checked(fd, right).descriptor.seek(offset, whence);
        memory().setU64(result, position);
      }),
    fd_sync: (fd: number) => call(() => fds.checked(fd, Rights.FD_SYNC).descriptor.sync()),
    fd_tell: (fd: number, result: number) =>
      call(() => memory().setU64(result, fds.checked(fd, Rights.FD_TELL).descriptor.tell())),
    fd_write: (fd: number, iovs: number, iovsLen: number, result: number) =>
      call(() => {
        const entry = fds.checked(fd, Rights.FD_WRITE);
        memory().setU32(result, entry.descriptor.write(gather(iovs, iovsLen)));
      }),

    path_create_directory: (fd: number, pathPtr: number, pathLen: number) =>
      call(() =>
        directory(fd, Rights.PATH_CREATE_DIRECTORY).descriptor.createDirectoryAt(path(pathPtr, pathLen)),
      ),
    path_filestat_get: (fd: number, flags: number, pathPtr: number, pathLen: number, result: number) =>
      call(() => {
        const entry = directory(fd, Rights.PATH_FILESTAT_GET);
        const follow = (flags & Lookupflags.SYMLINK_FOLLOW) !== 0;
        writeFilestat(result, entry.descriptor.statAt(path(pathPtr, pathLen), follow));
      }),
    path_filestat_set_times: (
      fd: number,
      flags: number,
      pathPtr: number,
      pathLen: number,
      atim: bigint,
      mtim: bigint,
      fstFlags: number,
    ) =>
      call(() => {
        const entry = directory(fd, Rights.PATH_FILESTAT_SET_TIMES);
        const times = timeUpdate(atim, mtim, fstFlags);
        const follow = (flags & Lookupflags.SYMLINK_FOLLOW) !== 0;
        entry.descriptor.setTimesAt(path(pathPtr, pathLen), follow, times);
      }),
    path_link: (
      oldFd: number,
      oldFlags: number,
      oldPath: number,
      oldPathLen: number,
      newFd: number,
      newPath: number,
      newPathLen: number,
    ) =>
      call(() => {
        const source = directory(oldFd, Rights.PATH_LINK_SOURCE);
        const target = directory(newFd, Rights.PATH_LINK_TARGET);
        const follow = (oldFlags & Lookupflags.SYMLINK_FOLLOW) !== 0;
        source.descriptor.linkAt(
          path(oldPath, oldPathLen),
          follow,
          target.descriptor,
          path(newPath, newPathLen),
        );
      }),
    path_open: (
      fd: number,
      dirflags: number,
      pathPtr: number,
      pathLen: number,
      oflags: number,
      rightsBase: bigint,
      // Ignored: an opened descriptor inherits what its directory may hand down (see below).
      _rightsInheriting: bigint,
      fdflags: number,
      result: number,
    ) =>
      call(() => {
        if (oflags & ~OFLAGS_ALL || fdflags & ~FDFLAGS_ALL) fail(Errno.INVAL);
        let needed = Rights.PATH_OPEN;
        if (oflags & Oflags.CREAT) needed |= Rights.PATH_CREATE_FILE;
        if (oflags & Oflags.TRUNC) needed |= Rights.PATH_FILESTAT_SET_SIZE;
        const parent = directory(fd, needed);
        // Rights decide the access a descriptor is opened with (read, write), as in wasmtime;
        // the other rights its type supports come from the directory, so a guest that asks for
        // FD_READ alone can still seek and stat. Asking for an access the directory may not hand
        // down fails before anything is created.
        const wantsRead = (rightsBase & RIGHTS_THAT_READ) !== 0n;
        const wantsWrite = (rightsBase & RIGHTS_THAT_WRITE) !== 0n || (oflags & Oflags.TRUNC) !== 0;
        const refused = rightsBase & (RIGHTS_THAT_READ | RIGHTS_THAT_WRITE) & ~parent.rightsInheriting;
        if (refused !== 0n) {
          fail(
            parent.descriptor.readOnly && (refused & RIGHTS_THAT_WRITE) !== 0n
              ? Errno.ROFS
              : Errno.NOTCAPABLE,
          );
        }
        const opened = parent.descriptor.openAt(path(pathPtr, pathLen), {
          oflags,
          fdflags,
          followSymlinks: (dirflags & Lookupflags.SYMLINK_FOLLOW) !== 0,
          read: wantsRead,
          write: wantsWrite,
        });
        const notRequested = (wantsRead ? 0n : RIGHTS_THAT_READ) | (wantsWrite ? 0n : RIGHTS_THAT_WRITE);
        const readOnly = opened.readOnly ? ~RIGHTS_WRITE : ~0n;
        const base = parent.rightsInheriting & rightsForType(opened.filetype) & ~notRequested & readOnly;
        const inheriting = parent.rightsInheriting & readOnly;
        let newFd: number;
        try {
          newFd = fds.insert({ descriptor: opened, rightsBase: base, rightsInheriting: inheriting });
        } catch (error) {
          opened.close();
          throw error;
        }
        memory().setU32(result, newFd);
      }),
    path_readlink: (
      fd: number,
      pathPtr: number,
      pathLen: number,
      buf: number,
      bufLen: number,
      result: number,
    ) =>
      call(() => {
        const entry = directory(fd, Rights.PATH_READLINK);
        const target = utf8(entry.descriptor.readlinkAt(path(pathPtr, pathLen)));
        // As readlink(2): the target is truncated to the buffer, without a terminating NUL.
        const n = Math.min(target.length, bufLen >>> 0);
        memory().write(buf, target.subarray(0, n));
        memory().setU32(result, n);
      }),
    path_remove_directory: (fd: number, pathPtr: number, pathLen: number) =>
      call(() =>
        directory(fd, Rights.PATH_REMOVE_DIRECTORY).descriptor.removeDirectoryAt(path(pathPtr, pathLen)),
      ),
    path_rename: (
      fd: number,
      oldPath: number,
      oldPathLen: number,
      newFd: number,
      newPath: number,
      newPathLen: number,
    ) =>
      call(() => {
        const source = directory(fd, Rights.PATH_RENAME_SOURCE);
        const target = directory(newFd, Rights.PATH_RENAME_TARGET);
        source.descriptor.renameAt(path(oldPath, oldPathLen), target.descriptor, path(newPath, newPathLen));
      }),
    path_symlink: (oldPath: number, oldPathLen: number, fd: number, newPath: number, newPathLen: number) =>
      call(() => {
        const entry = directory(fd, Rights.PATH_SYMLINK);
        entry.descriptor.symlinkAt(path(oldPath, oldPathLen), path(newPath, newPathLen));
      }),
    path_unlink_file: (fd: number, pathPtr: number, pathLen: number) =>
      call(() => directory(fd, Rights.PATH_UNLINK_FILE).descriptor.unlinkFileAt(path(pathPtr, pathLen))),

    poll_oneoff: (inPtr: number, outPtr: number, count: number, result: number) =>
      call(() => {
        const n = count >>> 0;
        if (n === 0 || n > limits.maxPollSubscriptions) fail(Errno.INVAL);
        const m = memory();
        const S = Layout.subscription;
        const subscriptions: Subscription[] = [];
        for (let i = 0; i < n; i++) {
          const base = inPtr + i * S.size;
          const userdata = m.getU64(base + S.userdata);
          const tag = m.getU8(base + S.tag);
          if (tag === Eventtype.CLOCK) {
            subscriptions.push({
              userdata,
              type: Eventtype.CLOCK,
              clockId: m.getU32(base + S.clock_id),
              timeout: m.getU64(base + S.clock_timeout),
              flags: m.getU16(base + S.clock_flags),
            });
          } else if (tag === Eventtype.FD_READ || tag === Eventtype.FD_WRITE) {
            subscriptions.push({ userdata, type: tag, fd: m.getU32(base + S.fd) });
          } else {
            fail(Errno.INVAL);
          }
        }
        // Check the output area before blocking, so a bad pointer fails without waiting.
        m.bytes(outPtr, n * Layout.event.size);
        const events = pollOneoff(subscriptions, fds, clocks);
        const E = Layout.event;
        events.forEach((event, i) => {
          const base = outPtr + i * E.size;
          m.bytes(base, E.size).fill(0);
          m.setU64(base + E.userdata, event.userdata);
          m.setU16(base + E.error, event.error);
          m.setU8(base + E.type, event.type);
          m.setU64(base + E.nbytes, event.nbytes);
          m.setU16(base + E.flags, event.flags);
        });
        m.setU32(result, events.length);
      }),
    proc_exit: (code: number) => {
      throw new ProcExit(code >>> 0);
    },
    proc_raise: (signal: number) =>
      call(() => {
        if (signal < 0 || signal > SIGNAL_MAX) fail(Errno.INVAL);
        if (signal === 0 || SIGNALS_IGNORED.has(signal)) return;
        // Every other signal's default action terminates the process: end the instance the way
        // a shell reports a signalled child.
        throw new ProcExit(128 + signal);
      }),
    sched_yield: () => Errno.SUCCESS,
    random_get: (buf: number, bufLen: number) => call(() => randomFillSync(memory().bytes(buf, bufLen))),

    // isola grants no sockets: a valid descriptor is never one.
    sock_accept: (fd: number, _flags: number, _result: number) => call(() => notSocket(fd)),
    sock_recv: (
      fd: number,
      _riData: number,
      _riDataLen: number,
      _riFlags: number,
      _roLen: number,
      _roFlags: number,
    ) => call(() => notSocket(fd)),
    sock_send: (fd: number, _siData: number, _siDataLen: number, _siFlags: number, _soLen: number) =>
      call(() => notSocket(fd)),
    sock_shutdown: (fd: number, _how: number) => call(() => notSocket(fd)),
  };

  function notSocket(fd: number): never {
    fds.get(fd);
    return fail(Errno.NOTSOCK);
  }
}

/** Every `wasi_snapshot_preview1` function isola provides, for checking a module's imports at load. */
export const PREVIEW1_FUNCTION_NAMES: readonly string[] = Object.freeze([
  'args_get',
  'args_sizes_get',
  'environ_get',
  'environ_sizes_get',
  'clock_res_get',
  'clock_time_get',
  'fd_advise',
  'fd_allocate',
  'fd_close',
  'fd_datasync',
  'fd_fdstat_get',
  'fd_fdstat_set_flags',
  'fd_fdstat_set_rights',
  'fd_filestat_get',
  'fd_filestat_set_size',
  'fd_filestat_set_times',
  'fd_pread',
  'fd_prestat_get',
  'fd_prestat_dir_name',
  'fd_pwrite',
  'fd_read',
  'fd_readdir',
  'fd_renumber',
  'fd_seek',
  'fd_sync',
  'fd_tell',
  'fd_write',
  'path_create_directory',
  'path_filestat_get',
  'path_filestat_set_times',
  'path_link',
  'path_open',
  'path_readlink',
  'path_remove_directory',
  'path_rename',
  'path_symlink',
  'path_unlink_file',
  'poll_oneoff',
  'proc_exit',
  'proc_raise',
  'sched_yield',
  'random_get',
  'sock_accept',
  'sock_recv',
  'sock_send',
  'sock_shutdown',
]);
