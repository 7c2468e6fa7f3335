/**
 * The core WebAssembly signature of every `wasi_snapshot_preview1` function, as a guest must
 * import it. Derived from the witx definitions (WebAssembly/WASI,
 * legacy/preview1/witx/wasi_snapshot_preview1.witx and typenames.witx) by the witx lowering
 * that wasi-libc and wasmtime use:
 *
 * - 64-bit types (timestamp, filesize, filedelta, dircookie, device, inode, rights) are `i64`;
 *   every other integer, flags and enum type (fd, size, clockid, advice, whence, fdflags,
 *   lookupflags, oflags, fstflags, signal, exitcode, riflags, siflags, sdflags) is `i32`;
 * - a pointer is an `i32`; a `string` or an array (iovec_array, ciovec_array) is two `i32`s,
 *   pointer then length;
 * - a result `(expected T (error $errno))` returns the errno as an `i32` and passes one
 *   trailing `i32` pointer per value of T (two for a tuple), where the host stores it;
 * - proc_exit is `noreturn` and returns nothing.
 */

type ValueType = 'i32' | 'i64';

/** A function type as the guest must declare it. */
export interface Preview1Signature {
  readonly params: readonly ValueType[];
  readonly results: readonly ValueType[];
}

const I32 = 'i32';
const I64 = 'i64';

/** A function that returns an errno: every preview1 function but proc_exit. */
function errno(...params: ValueType[]): Preview1Signature {
  return { params, results: [I32] };
}

/** By function name, in the order the witx declares them; each comment lists the witx parameters. */
export const PREVIEW1_SIGNATURES: ReadonlyMap<string, Preview1Signature> = new Map([
  ['args_get', errno(I32, I32)], // argv, argv_buf
  ['args_sizes_get', errno(I32, I32)], // → argc, argv_buf_size
  ['environ_get', errno(I32, I32)], // environ, environ_buf
  ['environ_sizes_get', errno(I32, I32)], // → count, buf_size
  ['clock_res_get', errno(I32, I32)], // id; → timestamp
  ['clock_time_get', errno(I32, I64, I32)], // id, precision: timestamp; → timestamp
  ['fd_advise', errno(I32, I64, I64, I32)], // fd, offset: filesize, len: filesize, advice
  ['fd_allocate', errno(I32, I64, I64)], // fd, offset: filesize, len: filesize
  ['fd_close', errno(I32)], // fd
  ['fd_datasync', errno(I32)], // fd
  ['fd_fdstat_get', errno(I32, I32)], // fd; → fdstat
  ['fd_fdstat_set_flags', errno(I32, I32)], // fd, flags
  ['fd_fdstat_set_rights', errno(I32, I64, I64)], // fd, rights base, rights inheriting
  ['fd_filestat_get', errno(I32, I32)], // fd; → filestat
  ['fd_filestat_set_size', errno(I32, I64)], // fd, size: filesize
  ['fd_filestat_set_times', errno(I32, I64, I64, I32)], // fd, atim, mtim: timestamp, fst_flags
  ['fd_pread', errno(I32, I32, I32, I64, I32)], // fd, iovs (ptr, len), offset: filesize; → size
  ['fd_prestat_get', errno(I32, I32)], // fd; → prestat
  ['fd_prestat_dir_name', errno(I32, I32, I32)], // fd, path, path_len
  ['fd_pwrite', errno(I32, I32, I32, I64, I32)], // fd, iovs (ptr, len), offset: filesize; → size
  ['fd_read', errno(I32, I32, I32, I32)], // fd, iovs (ptr, len); → size
  ['fd_readdir', errno(I32, I32, I32, I64, I32)], // fd, buf, buf_len, cookie: dircookie; → size
  ['fd_renumber', errno(I32, I32)], // fd, to
  ['fd_seek', errno(I32, I64, I32, I32)], // fd, offset: filedelta, whence; → filesize
  ['fd_sync', errno(I32)], // fd
  ['fd_tell', errno(I32, I32)], // fd; → filesize
  ['fd_write', errno(I32, I32, I32, I32)], // fd, iovs (ptr, len); → size
  ['path_create_directory', errno(I32, I32, I32)], // fd, path (ptr, len)
  ['path_filestat_get', errno(I32, I32, I32, I32, I32)], // fd, flags, path (ptr, len); → filestat
  // fd, flags, path (ptr, len), atim, mtim: timestamp, fst_flags
  ['path_filestat_set_times', errno(I32, I32, I32, I32, I64, I64, I32)],
  // old_fd, old_flags, old_path (ptr, len), new_fd, new_path (ptr, len)
  ['path_link', errno(I32, I32, I32, I32, I32, I32, I32)],
  // fd, dirflags, path (ptr, len), oflags, rights base, rights inheriting, fdflags; → fd
  ['path_open', errno(I32, I32, I32, I32, I32, I64, I64, I32, I32)],
  ['path_readlink', errno(I32, I32, I32, I32, I32, I32)], // fd, path (ptr, len), buf, buf_len; → size
  ['path_remove_directory', errno(I32, I32, I32)], // fd, path (ptr, len)
  ['path_rename', errno(I32, I32, I32, I32, I32, I32)], // fd, old_path (ptr, len), new_fd, new_path (ptr, len)
  ['path_symlink', errno(I32, I32, I32, I32, I32)], // old_path (ptr, len), fd, new_path (ptr, len)
  ['path_unlink_file', errno(I32, I32, I32)], // fd, path (ptr, len)
  ['poll_oneoff', errno(I32, I32, I32, I32)], // in, out, nsubscriptions; → size
  ['proc_exit', { params: [I32], results: [] }], // rval
  ['proc_raise', errno(I32)], // sig
  ['sched_yield', errno()],
  ['random_get', errno(I32, I32)], // buf, buf_len
  ['sock_accept', errno(I32, I32, I32)], // fd, flags: fdflags; → fd
  ['sock_recv', errno(I32, I32, I32, I32, I32, I32)], // fd, ri_data (ptr, len), ri_flags; → size, roflags
  ['sock_send', errno(I32, I32, I32, I32, I32)], // fd, si_data (ptr, len), si_flags; → size
  ['sock_shutdown', errno(I32, I32)], // fd, how: sdflags
]);
