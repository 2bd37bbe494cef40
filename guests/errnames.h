// errnames.h: WASI preview1 errno names for the raw-call probes (probe.c, wasi.c), so that their
// output says "ENOTCAPABLE", not a number. ename() gives "ok" for 0 and "errnoN" past the table.
#ifndef ERRNAMES_H
#define ERRNAMES_H
#include <stdio.h>
#include <wasi/api.h>

static const char *const ERRNO_NAMES[] = {
    "ok", "E2BIG", "EACCES", "EADDRINUSE", "EADDRNOTAVAIL", "EAFNOSUPPORT", "EAGAIN", "EALREADY",
    "EBADF", "EBADMSG", "EBUSY", "ECANCELED", "ECHILD", "ECONNABORTED", "ECONNREFUSED",
    "ECONNRESET", "EDEADLK", "EDESTADDRREQ", "EDOM", "EDQUOT", "EEXIST", "EFAULT", "EFBIG",
    "EHOSTUNREACH", "EIDRM", "EILSEQ", "EINPROGRESS", "EINTR", "EINVAL", "EIO", "EISCONN", "EISDIR",
    "ELOOP", "EMFILE", "EMLINK", "EMSGSIZE", "EMULTIHOP", "ENAMETOOLONG", "ENETDOWN", "ENETRESET",
    "ENETUNREACH", "ENFILE", "ENOBUFS", "ENODEV", "ENOENT", "ENOEXEC", "ENOLCK", "ENOLINK",
    "ENOMEM", "ENOMSG", "ENOPROTOOPT", "ENOSPC", "ENOSYS", "ENOTCONN", "ENOTDIR", "ENOTEMPTY",
    "ENOTRECOVERABLE", "ENOTSOCK", "ENOTSUP", "ENOTTY", "ENXIO", "EOVERFLOW", "EOWNERDEAD", "EPERM",
    "EPIPE", "EPROTO", "EPROTONOSUPPORT", "EPROTOTYPE", "ERANGE", "EROFS", "ESPIPE", "ESRCH",
    "ESTALE", "ETIMEDOUT", "ETXTBSY", "EXDEV", "ENOTCAPABLE",
};
_Static_assert(sizeof ERRNO_NAMES / sizeof ERRNO_NAMES[0] == __WASI_ERRNO_NOTCAPABLE + 1, "errno table");

static inline const char *ename(__wasi_errno_t e) {
  static char buf[16];
  if (e < sizeof ERRNO_NAMES / sizeof ERRNO_NAMES[0]) return ERRNO_NAMES[e];
  snprintf(buf, sizeof buf, "errno%u", (unsigned)e);
  return buf;
}

#endif
