/**
 * Errno for the guest, exceptions for the host. Semantic code signals an expected failure by
 * throwing a `WasiErrno`; the preview1 layer turns it into the return value. Host failures from
 * Node map through one table; a code the table does not know is a host bug and surfaces as an
 * `IsolaError` (never silently flattened to EIO).
 */
import { IsolaError } from '../errors.js';
import { Errno } from './defs.js';

/** An expected failure the guest sees as an errno. Deliberately not an `Error`: no stack to capture. */
export class WasiErrno {
  readonly errno: Errno;
  constructor(errno: Errno) {
    this.errno = errno;
  }
}

/** Throws `WasiErrno(errno)`; typed `never` for use in expressions. */
export function fail(errno: Errno): never {
  throw new WasiErrno(errno);
}

/** Node / libuv error codes → WASI errno. */
const NODE_CODE_TO_ERRNO: Readonly<Record<string, Errno>> = {
  E2BIG: Errno['2BIG'],
  EACCES: Errno.ACCES,
  EADDRINUSE: Errno.ADDRINUSE,
  EADDRNOTAVAIL: Errno.ADDRNOTAVAIL,
  EAFNOSUPPORT: Errno.AFNOSUPPORT,
  EAGAIN: Errno.AGAIN,
  EWOULDBLOCK: Errno.AGAIN,
  EALREADY: Errno.ALREADY,
  EBADF: Errno.BADF,
  EBUSY: Errno.BUSY,
  ECANCELED: Errno.CANCELED,
  ECONNABORTED: Errno.CONNABORTED,
  ECONNREFUSED: Errno.CONNREFUSED,
  ECONNRESET: Errno.CONNRESET,
  EDQUOT: Errno.DQUOT,
  EEXIST: Errno.EXIST,
  EFAULT: Errno.FAULT,
  EFBIG: Errno.FBIG,
  EHOSTUNREACH: Errno.HOSTUNREACH,
  EILSEQ: Errno.ILSEQ,
  EINTR: Errno.INTR,
  EINVAL: Errno.INVAL,
  EIO: Errno.IO,
  EISDIR: Errno.ISDIR,
  ELOOP: Errno.LOOP,
  EMFILE: Errno.MFILE,
  EMLINK: Errno.MLINK,
  EMSGSIZE: Errno.MSGSIZE,
  ENAMETOOLONG: Errno.NAMETOOLONG,
  ENFILE: Errno.NFILE,
  ENOBUFS: Errno.NOBUFS,
  ENODEV: Errno.NODEV,
  ENOENT: Errno.NOENT,
  ENOEXEC: Errno.NOEXEC,
  ENOMEM: Errno.NOMEM,
  ENOSPC: Errno.NOSPC,
  ENOSYS: Errno.NOSYS,
  ENOTCONN: Errno.NOTCONN,
  ENOTDIR: Errno.NOTDIR,
  ENOTEMPTY: Errno.NOTEMPTY,
  ENOTSOCK: Errno.NOTSOCK,
  ENOTSUP: Errno.NOTSUP,
  EOPNOTSUPP: Errno.NOTSUP,
  ENOTTY: Errno.NOTTY,
  ENXIO: Errno.NXIO,
  EOVERFLOW: Errno.OVERFLOW,
  EPERM: Errno.PERM,
  EPIPE: Errno.PIPE,
  ERANGE: Errno.RANGE,
  EROFS: Errno.ROFS,
  ESPIPE: Errno.SPIPE,
  ESRCH: Errno.SRCH,
  ESTALE: Errno.STALE,
  ETIMEDOUT: Errno.TIMEDOUT,
  ETXTBSY: Errno.TXTBSY,
  EXDEV: Errno.XDEV,
};

/**
 * Converts what a Node fs call threw into a `WasiErrno`. A `WasiErrno` passes through; a Node
 * error with a known code maps by the table; anything else is rethrown as a host error.
 */
export function toWasiErrno(error: unknown): WasiErrno {
  if (error instanceof WasiErrno) return error;
  // isola's own errors (a broken limit) carry string codes too, but end the instance as they are.
  if (error instanceof IsolaError) throw error;
  const code = (error as NodeJS.ErrnoException | null)?.code;
  if (typeof code === 'string') {
    const errno = NODE_CODE_TO_ERRNO[code];
    if (errno !== undefined) return new WasiErrno(errno);
    throw new IsolaError(
      'E_HOST_ERRNO_UNKNOWN',
      `host error ${code} has no WASI errno mapping: ${(error as Error).message}`,
      { nodeCode: code },
      { cause: error },
    );
  }
  throw error;
}

/** Runs a host call, converting its Node errors to `WasiErrno`. */
export function hostCall<T>(fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    throw toWasiErrno(error);
  }
}
