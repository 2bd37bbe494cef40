// The one mapping from host errors (Node's `err.code`, the POSIX errno name) to WASI errnos. Every
// handler that touches the host turns a thrown error into an errno through hostErrno; an error the
// table does not know is EIO, never an exception across the channel.
import os from 'node:os';
import { E } from '../kernel/wasi/errno';

const TABLE: Record<string, number> = {
  E2BIG: E.TOOBIG,
  EACCES: E.ACCES,
  EADDRINUSE: E.ADDRINUSE,
  EAGAIN: E.AGAIN,
  EBADF: E.BADF,
  EBUSY: E.BUSY,
  EDQUOT: E.DQUOT,
  EEXIST: E.EXIST,
  EFAULT: E.FAULT,
  EFBIG: E.FBIG,
  EINTR: E.INTR,
  EINVAL: E.INVAL,
  EIO: E.IO,
  EISDIR: E.ISDIR,
  ELOOP: E.LOOP,
  EMFILE: E.MFILE,
  EMLINK: E.MLINK,
  ENAMETOOLONG: E.NAMETOOLONG,
  ENFILE: E.NFILE,
  ENODEV: E.NODEV,
  ENOENT: E.NOENT,
  ENOMEM: E.NOMEM,
  ENOSPC: E.NOSPC,
  ENOSYS: E.NOSYS,
  ENOTDIR: E.NOTDIR,
  ENOTEMPTY: E.NOTEMPTY,
  ENOTSUP: E.NOTSUP,
  EOPNOTSUPP: E.NOTSUP,
  ENXIO: E.NXIO,
  EOVERFLOW: E.OVERFLOW,
  EPERM: E.PERM,
  EPIPE: E.PIPE,
  EROFS: E.ROFS,
  ESPIPE: E.SPIPE,
  ESTALE: E.STALE,
  ETXTBSY: E.TXTBSY,
  EXDEV: E.XDEV,
};

/** WASI errnos by Linux errno number, for the native addon's -errno answers (made at first use: Node only). */
let byNumber: number[] | null = null;

/** The WASI errno for a Linux errno number (EIO for one the table does not know). */
export function linuxErrno(n: number): number {
  if (!byNumber) {
    byNumber = [];
    for (const [name, v] of Object.entries(os.constants.errno as Record<string, number>)) if (TABLE[name]) byNumber[v] = TABLE[name];
  }
  return byNumber[n] ?? E.IO;
}

/** The WASI errno for a thrown host error. */
export function hostErrno(err: unknown): number {
  const code = (err as { code?: unknown })?.code;
  return (typeof code === 'string' && TABLE[code]) || E.IO;
}

/** Thrown by a host tree's handlers on purpose: the errno is the answer. */
export class Fail {
  constructor(readonly errno: number) {}
}

/**
 * Runs a handler that makes host calls and answers -errno for whatever it throws (a Fail's errno,
 * else the host error's). Host calls that fail (ENOENT on a walk, EEXIST...) throw, and a stack trace
 * for each would cost more than the system call: these errors are answers, never bugs to debug from
 * a trace, so none is taken meanwhile.
 */
export function answer(handler: () => number): number {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return handler();
  } catch (err) {
    if (err instanceof Fail) return -err.errno;
    return -hostErrno(err);
  } finally {
    Error.stackTraceLimit = limit;
  }
}
