// wasmbox_native: the tiny N-API addon behind host-file-backed filestores (host/filestore/filestore-file.ts).
//
//   mmap(fd, offset, length)          -> ArrayBuffer over a MAP_SHARED, PROT_READ|PROT_WRITE mapping
//                                        of [offset, offset+length) of fd. Unmapped by its finalizer
//                                        when collected, or at once by munmap(). Not counted by V8
//                                        as external memory (native/unaccounted.cc).
//   munmap(arrayBuffer)               -> true if it unmapped it, false if it was already unmapped.
//                                        The ArrayBuffer is detached first, so views of it read as
//                                        empty instead of faulting.
//   memfdCreate(name[, flags])        -> fd (flags default MFD_CLOEXEC)
//   fallocate(fd, mode, offset, len)  -> undefined
//   punch(fd, pages, pageSize)        -> number of fallocate calls made: punches out the pages (a
//                                        Uint32Array of page numbers, any order, duplicates allowed),
//                                        one FALLOC_FL_PUNCH_HOLE|FALLOC_FL_KEEP_SIZE per run of
//                                        adjacent pages
//   allocate(fd, pages, pageSize)     -> the same with mode FALLOC_FL_KEEP_SIZE: reserves the pages'
//                                        blocks (ENOSPC now, instead of SIGBUS on a later store)
//   ftruncate(fd, length)             -> undefined
//   populateWrite(arrayBuffer, offset, length)
//                                     -> true, or false where the kernel lacks it (before Linux 5.14):
//                                        madvise(MADV_POPULATE_WRITE) over the whole pages of
//                                        [offset, offset+length) of a buffer from mmap(), so later
//                                        stores there take no page fault (on ext4 a write fault
//                                        costs ~10 us, page_mkwrite; in bulk it is ~0.3 us a page).
//                                        A range that cannot be backed (full disk) throws EFAULT,
//                                        never SIGBUS.
//   pageStore(), pageStorePages(store, pages), pageStoreChunk(store, chunk, mapping, ready),
//   pageStoreCounts(store), pageCopy(store, memory)
//                                     -> a filestore's pages copied to and from a guest's memory for
//                                        the WebAssembly glue, with no JavaScript between ("A
//                                        filestore page's bytes" below); the function pageCopy
//                                        makes, like hostRw's, is a plain V8 function
//                                        (native/rawcall.cc), not an N-API one
//   clockTicker(memory, offset), clockWake(ticker), clockStop(ticker)
//                                     -> a thread keeping a coarse clock in the kernel's memory ("A
//                                        coarse clock" below)
//   forwardSigterm()                  -> undefined: from now on SIGTERM raises SIGINT in this process
//                                        instead, and is remembered; the sandbox stops on SIGINT
//                                        even while the guest runs (vm's breakOnSigint), which Node
//                                        offers for no other signal
//   takeSigterm()                     -> true once after a forwarded SIGTERM (false otherwise)
//   close(fd)                         -> undefined
//
// Terminals and descriptor passing, for the OCI runtime (runc's --console-socket protocol):
//   openpty()                         -> { master, slave, path }: posix_openpt, grantpt, unlockpt,
//                                        ptsname_r, then the slave opened; both O_NOCTTY|O_CLOEXEC
//   sendFd(socketPath, fd, name)      -> undefined: connects to a unix stream socket and sends one
//                                        message: data `name` (1..4096 bytes; runc sends the
//                                        terminal's name), control SCM_RIGHTS carrying fd. What
//                                        go-runc's console socket and conmon receive with recvmsg.
//   listenFdSocket(socketPath)        -> listening fd (unix stream, O_CLOEXEC, backlog 1); the
//                                        socket file is the caller's to unlink, the fd to close
//   acceptFd(listenFd, timeoutMs)     -> { fd, name }: accepts one connection (waiting at most
//                                        timeoutMs, -1 for ever, for the connection and then for
//                                        its message: ETIMEDOUT), receives one fd (O_CLOEXEC) and up
//                                        to 4096 bytes of name, closes the connection, not the
//                                        listener
//   recvFd(socketPath, timeoutMs)     -> { fd, name }: listenFdSocket + acceptFd, then closes the
//                                        listener and unlinks socketPath (on failure too)
//   setControllingTerminal(fd)        -> undefined: setsid() unless already a session leader, then
//                                        ioctl(fd, TIOCSCTTY, 0)
//   dup2(oldfd, newfd)                -> undefined
//   setWinsize(fd, rows, cols)        -> undefined (TIOCSWINSZ; pixel sizes 0)
//   getWinsize(fd)                    -> { rows, cols } (TIOCGWINSZ)
//
// Signals, for a sandbox whose guest runs without returning to the event loop:
//   watchSignals(signals)             -> Int32Array(65) over one process-wide static array: cell[s]
//                                        counts deliveries of signal s from now on. Installs, once
//                                        per signal, a handler that counts and then chains to the
//                                        handler it replaced (see "watched signals" below for the
//                                        flags and the order to call it in). Every call returns a
//                                        view of the same memory; read it with Atomics.load.
//   armWatchdog(signals, graceMs, paths)
//                                     -> undefined: once one of `signals` arrives (watched as
//                                        above), a native thread waits graceMs, then unlinks
//                                        `paths` (best effort), restores the signal's default
//                                        action and raises it, so the process dies of it even if
//                                        JavaScript never runs again. A later call replaces the
//                                        configuration; a countdown already running keeps its
//                                        grace and uses the latest paths.
//   disarmWatchdog()                  -> undefined: cancels the above, including a countdown
//                                        already running
//
//   constants: FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE, MFD_CLOEXEC, PAGE_SIZE (the system's)
//
//
// Host calls relative to held descriptors (gofer/hostdirect.ts), each returning its result, or -errno
// for a failed system call (no throw: see that section); a name is a string or a Uint8Array of raw bytes:
//   openat2(dirfd, name, flags, mode, resolve)  -> fd (O_CLOEXEC added)
//   statInto(dirfd, name, flags, buf, off)     -> st_mode; the gofer protocol's 64-byte Stat at buf[off]
//   mkdirat(dirfd, name, mode), unlinkat(dirfd, name, flags), fchmodat(dirfd, name, mode),
//   renameat2(odir, oname, ndir, nname, flags), linkat(odir, oname, ndir, nname, flags),
//   symlinkat(target, dirfd, name)            -> 0
//   readlinkInto(dirfd, name, buf, off, max)   -> length (-ENAMETOOLONG when max is too small)
//   utimensat(dirfd, name, aSec, aNsec, mSec, mNsec, flags) -> 0 (name "": dirfd itself)
//   getdentsInto(fd, buf, off, len)            -> bytes of linux_dirent64 records (0 at the end)
//   lseekSet(fd, pos), setAppend(fd, on), fstatfsInto(fd, Float64Array(7))
//   cloexecAll()                               -> 0: every fd from 3 up close-on-exec (a detached
//                                                 child, host/sandbox/guest-code.ts, inherits none)
//   constants: RESOLVE_*, O_PATH, O_NOFOLLOW, O_DIRECTORY, O_NONBLOCK, AT_SYMLINK_NOFOLLOW,
//   AT_EMPTY_PATH, AT_REMOVEDIR, AT_SYMLINK_FOLLOW, RENAME_NOREPLACE, UTIME_NOW, UTIME_OMIT
//
// Every other failure is a thrown Error with .code (the errno name, e.g. 'EBADF'), .errno and .syscall.
// Bad arguments throw TypeError or RangeError with code 'EINVAL' before any system call is made.
// Nothing here keeps JS state; mappings are tracked in one process-wide list (worker threads may
// each load the addon), so munmap() can recognise the ArrayBuffers that mmap() made. The signal
// counters and the watchdog are process-wide too (signal dispositions are).
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <linux/falloc.h>
#include <linux/openat2.h>
#include "ptyfd.h"
#if defined(__x86_64__)
#include <emmintrin.h>
#endif

#define NAPI_VERSION 8
#include <node_api.h>

#ifndef MFD_CLOEXEC
#define MFD_CLOEXEC 0x0001U
#endif

// Largest integer a JS number holds exactly.
#define MAX_SAFE 9007199254740991.0
// Node 20 refuses ArrayBuffers over 4 GiB (buffer.constants.MAX_LENGTH).
#define MAX_MAP ((uint64_t)1 << 32)

// ---------------------------------------------------------------------------------------------
// errors

static const char *errno_name(int e) {
  switch (e) {
#define N(x) case x: return #x;
    N(EPERM) N(ENOENT) N(EINTR) N(EIO) N(ENXIO) N(EBADF) N(EAGAIN) N(ENOMEM) N(EACCES) N(EFAULT)
    N(EBUSY) N(EEXIST) N(ENODEV) N(ENOTDIR) N(EISDIR) N(EINVAL) N(ENFILE) N(EMFILE) N(ETXTBSY)
    N(EFBIG) N(ENOSPC) N(ESPIPE) N(EROFS) N(ENAMETOOLONG) N(ENOSYS) N(EOVERFLOW) N(EOPNOTSUPP)
    N(EDQUOT) N(ELOOP) N(ESRCH) N(ENOTTY) N(EPIPE) N(ENOTSOCK) N(EADDRINUSE) N(EADDRNOTAVAIL)
    N(ECONNREFUSED) N(ECONNRESET) N(ETIMEDOUT) N(EBADMSG) N(EMSGSIZE) N(EPROTOTYPE) N(ENOTCONN)
    N(EISCONN) N(EAFNOSUPPORT)
#undef N
    default: return "UNKNOWN";
  }
}

static void set_prop_str(napi_env env, napi_value obj, const char *key, const char *val) {
  napi_value v;
  if (napi_create_string_utf8(env, val, NAPI_AUTO_LENGTH, &v) == napi_ok) napi_set_named_property(env, obj, key, v);
}

// Throws Error(`${syscall}: ${CODE}: ${strerror} (${detail})`) with .code/.errno/.syscall. Returns NULL.
static napi_value throw_errno(napi_env env, int e, const char *syscall_name, const char *detail) {
  char msg[512];
  const char *code = errno_name(e);
  if (detail && *detail) snprintf(msg, sizeof msg, "%s: %s: %s (%s)", syscall_name, code, strerror(e), detail);
  else snprintf(msg, sizeof msg, "%s: %s: %s", syscall_name, code, strerror(e));
  napi_value m, c, err, n;
  if (napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &m) != napi_ok) return NULL;
  if (napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &c) != napi_ok) return NULL;
  if (napi_create_error(env, c, m, &err) != napi_ok) return NULL;
  if (napi_create_int32(env, e, &n) == napi_ok) napi_set_named_property(env, err, "errno", n);
  set_prop_str(env, err, "syscall", syscall_name);
  napi_throw(env, err);
  return NULL;
}

// Argument errors: TypeError (wrong type) or RangeError (bad value), code 'EINVAL'.
static napi_value throw_arg(napi_env env, int range, const char *fn, const char *what) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s", fn, what);
  if (range) napi_throw_range_error(env, "EINVAL", msg);
  else napi_throw_type_error(env, "EINVAL", msg);
  return NULL;
}

// A pending exception from a failed napi call (should not happen; never crash on it).
static napi_value napi_failed(napi_env env, const char *fn) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending) {
    char msg[128];
    snprintf(msg, sizeof msg, "%s: internal N-API call failed", fn);
    napi_throw_error(env, "EINVAL", msg);
  }
  return NULL;
}

#define NAPI_OK(call, fn) \
  do { \
    if ((call) != napi_ok) return napi_failed(env, fn); \
  } while (0)

// ---------------------------------------------------------------------------------------------
// argument parsing

static int get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv, const char *fn) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) {
    napi_failed(env, fn);
    return 0;
  }
  if (argc < want) {
    char what[96];
    snprintf(what, sizeof what, "expected %zu arguments, got %zu", want, argc);
    throw_arg(env, 0, fn, what);
    return 0;
  }
  return 1;
}

// An integer-valued JS number in [lo, hi]. Returns 0 (with an exception pending) otherwise.
// One N-API call on the common path (the gofer's calls pass several a request): the value is taken
// as a double, and only a refusal asks what it was.
static int get_int(napi_env env, napi_value v, double lo, double hi, int64_t *out, const char *fn, const char *name) {
  char what[160];
  double d;
  napi_status st = napi_get_value_double(env, v, &d);
  if (st == napi_number_expected) {
    snprintf(what, sizeof what, "%s must be a number", name);
    throw_arg(env, 0, fn, what);
    return 0;
  }
  if (st != napi_ok) return napi_failed(env, fn), 0;
  if (!(d >= lo && d <= hi) || d != (double)(int64_t)d) {
    snprintf(what, sizeof what, "%s must be an integer in [%.0f, %.0f], got %.17g", name, lo, hi, d);
    throw_arg(env, 1, fn, what);
    return 0;
  }
  *out = (int64_t)d;
  return 1;
}

static int get_fd(napi_env env, napi_value v, int *fd, const char *fn) {
  int64_t x;
  if (!get_int(env, v, 0, INT_MAX, &x, fn, "fd")) return 0;
  *fd = (int)x;
  return 1;
}

// A JS number for v.
static napi_value num(napi_env env, int64_t v) {
  napi_value r;
  if (v == (int32_t)v) napi_create_int32(env, (int32_t)v, &r); // a small integer: no heap number
  else napi_create_int64(env, v, &r);
  return r;
}

// A Uint32Array's elements (data may be NULL when n == 0).
static int get_u32array(napi_env env, napi_value v, const uint32_t **data, size_t *n, const char *fn) {
  bool is = false;
  if (napi_is_typedarray(env, v, &is) != napi_ok) return napi_failed(env, fn), 0;
  napi_typedarray_type type;
  void *p = NULL;
  if (is && napi_get_typedarray_info(env, v, &type, n, &p, NULL, NULL) != napi_ok) return napi_failed(env, fn), 0;
  if (!is || type != napi_uint32_array) {
    throw_arg(env, 0, fn, "pages must be a Uint32Array");
    return 0;
  }
  *data = p;
  return 1;
}

static int get_page_size(napi_env env, napi_value v, int64_t *ps, const char *fn) {
  if (!get_int(env, v, 512, 1 << 30, ps, fn, "pageSize")) return 0;
  if (*ps & (*ps - 1)) {
    throw_arg(env, 1, fn, "pageSize must be a power of two");
    return 0;
  }
  return 1;
}

// ---------------------------------------------------------------------------------------------
// mappings

typedef struct mapping {
  void *addr;
  size_t len;
  struct mapping *next; // in `live` while mapped
} mapping;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static mapping *live = NULL;

// Removes m from `live`; returns 1 if it was there (still mapped). Call with `lock` held.
static int unlink_live(mapping *m) {
  for (mapping **pp = &live; *pp; pp = &(*pp)->next) {
    if (*pp == m) {
      *pp = m->next;
      m->next = NULL;
      return 1;
    }
  }
  return 0;
}

// The live mapping of exactly [addr, addr+len), or NULL. Call with `lock` held.
static mapping *find_live(void *addr, size_t len) {
  for (mapping *m = live; m; m = m->next)
    if (m->addr == addr && m->len == len) return m;
  return NULL;
}

// An ArrayBuffer over [data, data+len) that V8 does not count as external memory (native/unaccounted.cc).
napi_value wasmbox_unaccounted_arraybuffer(void *data, size_t len);

// The ArrayBuffer's finalizer: munmap unless munmap() already did, then free the record.
static void finalize_mapping(napi_env env, void *data, void *hint) {
  (void)env;
  (void)data;
  mapping *m = hint;
  pthread_mutex_lock(&lock);
  int was_live = unlink_live(m);
  pthread_mutex_unlock(&lock);
  if (was_live) munmap(m->addr, m->len);
  free(m);
}

static napi_value js_mmap(napi_env env, napi_callback_info info) {
  static const char *fn = "mmap";
  napi_value argv[3];
  int fd;
  int64_t off, len;
  if (!get_args(env, info, 3, argv, fn) || !get_fd(env, argv[0], &fd, fn)) return NULL;
  if (!get_int(env, argv[1], 0, MAX_SAFE, &off, fn, "offset")) return NULL;
  if (!get_int(env, argv[2], 1, (double)MAX_MAP, &len, fn, "length")) return NULL;
  long ps = sysconf(_SC_PAGESIZE);
  if (ps > 0 && off % ps != 0) {
    char what[96];
    snprintf(what, sizeof what, "offset must be a multiple of the page size (%ld)", ps);
    return throw_arg(env, 1, fn, what);
  }
  mapping *m = calloc(1, sizeof *m);
  if (!m) return throw_errno(env, ENOMEM, fn, NULL);
  void *p = mmap(NULL, (size_t)len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)off);
  if (p == MAP_FAILED) {
    int e = errno;
    char detail[96];
    snprintf(detail, sizeof detail, "fd %d, offset %lld, length %lld", fd, (long long)off, (long long)len);
    free(m);
    return throw_errno(env, e, fn, detail);
  }
  m->addr = p;
  m->len = (size_t)len;
  pthread_mutex_lock(&lock);
  m->next = live;
  live = m;
  pthread_mutex_unlock(&lock);
  // not counted by V8 as external memory (native/unaccounted.cc): the finalizer goes on the object
  napi_value ab = wasmbox_unaccounted_arraybuffer(p, (size_t)len);
  if (!ab || napi_add_finalizer(env, ab, NULL, finalize_mapping, m, NULL) != napi_ok) {
    // No ArrayBuffer, or one without the finalizer and never handed out: undo here.
    pthread_mutex_lock(&lock);
    unlink_live(m);
    pthread_mutex_unlock(&lock);
    munmap(p, (size_t)len);
    free(m);
    return napi_failed(env, fn);
  }
  return ab;
}

// An ArrayBuffer argument (meant to be one from mmap()): its data and length. Returns 0 (with an
// exception pending) otherwise.
static int get_mapped_buffer(napi_env env, napi_value v, void **data, size_t *len, const char *fn) {
  bool is = false;
  if (napi_is_arraybuffer(env, v, &is) != napi_ok) return napi_failed(env, fn), 0;
  if (!is) return throw_arg(env, 0, fn, "argument must be an ArrayBuffer returned by mmap()"), 0;
  if (napi_get_arraybuffer_info(env, v, data, len) != napi_ok) return napi_failed(env, fn), 0;
  return 1;
}

static napi_value js_munmap(napi_env env, napi_callback_info info) {
  static const char *fn = "munmap";
  napi_value argv[1], result;
  if (!get_args(env, info, 1, argv, fn)) return NULL;
  void *data = NULL;
  size_t len = 0;
  if (!get_mapped_buffer(env, argv[0], &data, &len, fn)) return NULL;
  bool detached = false;
  NAPI_OK(napi_is_detached_arraybuffer(env, argv[0], &detached), fn);
  mapping *found = NULL;
  if (!detached && data) {
    pthread_mutex_lock(&lock);
    found = find_live(data, len);
    if (found) unlink_live(found); // from here on, this call owns the munmap; the finalizer only frees
    pthread_mutex_unlock(&lock);
  }
  if (!found) {
    if (detached || !data) {
      NAPI_OK(napi_get_boolean(env, false, &result), fn); // already unmapped
      return result;
    }
    return throw_arg(env, 0, fn, "argument is not an ArrayBuffer returned by mmap()");
  }
  // Detach before unmapping, so that no view can reach the unmapped range. `found` may be freed by
  // the finalizer from here on; use `data`/`len` only.
  napi_status st = napi_detach_arraybuffer(env, argv[0]);
  if (st != napi_ok) {
    // Cannot detach: keep the mapping (safe), and put it back so the finalizer unmaps it.
    pthread_mutex_lock(&lock);
    found->next = live;
    live = found;
    pthread_mutex_unlock(&lock);
    return napi_failed(env, fn);
  }
  if (munmap(data, len) != 0) return throw_errno(env, errno, fn, NULL);
  NAPI_OK(napi_get_boolean(env, true, &result), fn);
  return result;
}

// ---------------------------------------------------------------------------------------------
// memfd_create, fallocate, ftruncate

static napi_value js_memfd_create(napi_env env, napi_callback_info info) {
  static const char *fn = "memfd_create";
  napi_value argv[2];
  size_t argc = 2;
  NAPI_OK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL), fn);
  if (argc < 1) return throw_arg(env, 0, fn, "expected a name");
  napi_valuetype t;
  NAPI_OK(napi_typeof(env, argv[0], &t), fn);
  if (t != napi_string) return throw_arg(env, 0, fn, "name must be a string");
  char name[250]; // the kernel's limit is 249 bytes plus the NUL
  size_t n = 0;
  NAPI_OK(napi_get_value_string_utf8(env, argv[0], NULL, 0, &n), fn);
  if (n >= sizeof name) return throw_arg(env, 1, fn, "name must be at most 249 bytes");
  NAPI_OK(napi_get_value_string_utf8(env, argv[0], name, sizeof name, &n), fn);
  if (strlen(name) != n) return throw_arg(env, 1, fn, "name must not contain NUL");
  int64_t flags = MFD_CLOEXEC;
  if (argc >= 2) {
    NAPI_OK(napi_typeof(env, argv[1], &t), fn);
    if (t != napi_undefined && !get_int(env, argv[1], 0, 0xffffffffu, &flags, fn, "flags")) return NULL;
  }
  int fd = (int)syscall(SYS_memfd_create, name, (unsigned int)flags);
  if (fd < 0) return throw_errno(env, errno, fn, name);
  napi_value r;
  NAPI_OK(napi_create_int32(env, fd, &r), fn);
  return r;
}

static int do_fallocate(int fd, int mode, int64_t off, int64_t len) {
  int r;
  do r = fallocate(fd, mode, (off_t)off, (off_t)len);
  while (r != 0 && errno == EINTR);
  return r;
}

static napi_value js_fallocate(napi_env env, napi_callback_info info) {
  static const char *fn = "fallocate";
  napi_value argv[4];
  int fd;
  int64_t mode, off, len;
  if (!get_args(env, info, 4, argv, fn) || !get_fd(env, argv[0], &fd, fn)) return NULL;
  if (!get_int(env, argv[1], 0, INT_MAX, &mode, fn, "mode")) return NULL;
  if (!get_int(env, argv[2], 0, MAX_SAFE, &off, fn, "offset")) return NULL;
  if (!get_int(env, argv[3], 1, MAX_SAFE, &len, fn, "length")) return NULL;
  if (off + len > MAX_SAFE) return throw_arg(env, 1, fn, "offset + length is too large");
  if (do_fallocate(fd, (int)mode, off, len) != 0) {
    char detail[96];
    snprintf(detail, sizeof detail, "fd %d, mode %lld, offset %lld, length %lld", fd, (long long)mode, (long long)off, (long long)len);
    return throw_errno(env, errno, fn, detail);
  }
  return NULL; // undefined
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

// One fallocate(mode) per run of adjacent pages; returns the number of calls made.
static napi_value fallocate_pages(napi_env env, napi_callback_info info, int mode, const char *fn) {
  napi_value argv[3];
  int fd;
  const uint32_t *pages;
  size_t n;
  int64_t ps;
  if (!get_args(env, info, 3, argv, fn) || !get_fd(env, argv[0], &fd, fn)) return NULL;
  if (!get_u32array(env, argv[1], &pages, &n, fn) || !get_page_size(env, argv[2], &ps, fn)) return NULL;
  uint32_t *sorted = NULL;
  for (size_t i = 1; i < n; i++) {
    if (pages[i] < pages[i - 1]) {
      sorted = malloc(n * sizeof *sorted);
      if (!sorted) return throw_errno(env, ENOMEM, fn, NULL);
      memcpy(sorted, pages, n * sizeof *sorted);
      qsort(sorted, n, sizeof *sorted, cmp_u32);
      pages = sorted;
      break;
    }
  }
  uint32_t calls = 0;
  int err = 0;
  int64_t err_off = 0, err_len = 0;
  for (size_t i = 0; i < n && !err;) {
    uint64_t first = pages[i], end = first + 1; // [first, end) in pages
    for (i++; i < n && pages[i] <= end; i++)
      if (pages[i] == end) end++;
    int64_t off = (int64_t)first * ps, len = (int64_t)(end - first) * ps;
    calls++;
    if (do_fallocate(fd, mode, off, len) != 0) err = errno, err_off = off, err_len = len;
  }
  free(sorted);
  if (err) {
    char detail[128];
    snprintf(detail, sizeof detail, "fd %d, offset %lld, length %lld", fd, (long long)err_off, (long long)err_len);
    return throw_errno(env, err, "fallocate", detail);
  }
  napi_value r;
  NAPI_OK(napi_create_uint32(env, calls, &r), fn);
  return r;
}

static napi_value js_punch(napi_env env, napi_callback_info info) {
  return fallocate_pages(env, info, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, "punch");
}

static napi_value js_allocate(napi_env env, napi_callback_info info) {
  return fallocate_pages(env, info, FALLOC_FL_KEEP_SIZE, "allocate");
}

static napi_value js_ftruncate(napi_env env, napi_callback_info info) {
  static const char *fn = "ftruncate";
  napi_value argv[2];
  int fd;
  int64_t len;
  if (!get_args(env, info, 2, argv, fn) || !get_fd(env, argv[0], &fd, fn)) return NULL;
  if (!get_int(env, argv[1], 0, MAX_SAFE, &len, fn, "length")) return NULL;
  int r;
  do r = ftruncate(fd, (off_t)len);
  while (r != 0 && errno == EINTR);
  if (r != 0) {
    char detail[64];
    snprintf(detail, sizeof detail, "fd %d, length %lld", fd, (long long)len);
    return throw_errno(env, errno, fn, detail);
  }
  return NULL;
}

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

// populateRead / populateWrite (buffer, offset, length) -> false where the kernel lacks the advice
// (Linux < 5.14), true once done: madvise(MADV_POPULATE_READ or _WRITE) over the pages of a range
// of a live mapping of ours, so that later loads (and, where the mapping needs no write
// notification, as a memfd's does not, stores) take no page fault.
static napi_value populate(napi_env env, napi_callback_info info, const char *fn, int advice, const char *name) {
  napi_value argv[3], result;
  if (!get_args(env, info, 3, argv, fn)) return NULL;
  void *data = NULL;
  size_t len = 0;
  if (!get_mapped_buffer(env, argv[0], &data, &len, fn)) return NULL;
  int64_t off, n;
  if (!get_int(env, argv[1], 0, (double)len, &off, fn, "offset")) return NULL;
  if (!get_int(env, argv[2], 0, (double)len, &n, fn, "length")) return NULL;
  if ((uint64_t)off + (uint64_t)n > len) return throw_arg(env, 1, fn, "offset + length passes the end of the buffer");
  // Only ranges inside a live mapping of ours: madvise on anything else could touch foreign memory.
  pthread_mutex_lock(&lock);
  int found = find_live(data, len) != NULL;
  pthread_mutex_unlock(&lock);
  if (!found) return throw_arg(env, 0, fn, "argument is not a live ArrayBuffer returned by mmap()");
  long ps = sysconf(_SC_PAGESIZE);
  uintptr_t a = (uintptr_t)data + (uintptr_t)off, e = a + (uintptr_t)n;
  a &= ~(uintptr_t)(ps - 1);
  e = (e + (uintptr_t)ps - 1) & ~(uintptr_t)(ps - 1);
  if (e > (uintptr_t)data + len) e = (uintptr_t)data + len;
  bool ok = true;
  if (e > a) {
    int r;
    do r = madvise((void *)a, e - a, advice);
    while (r != 0 && errno == EINTR);
    if (r != 0) {
      if (errno == EINVAL) ok = false; // an older kernel: no such advice
      else return throw_errno(env, errno, "madvise", name);
    }
  }
  NAPI_OK(napi_get_boolean(env, ok, &result), fn);
  return result;
}

static napi_value js_populate_write(napi_env env, napi_callback_info info) {
  return populate(env, info, "populateWrite", MADV_POPULATE_WRITE, "MADV_POPULATE_WRITE");
}

static napi_value js_populate_read(napi_env env, napi_callback_info info) {
  return populate(env, info, "populateRead", MADV_POPULATE_READ, "MADV_POPULATE_READ");
}

// ---------------------------------------------------------------------------------------------
// Transparent huge pages for a WebAssembly memory (host/sandbox/huge-pages.ts: guests' memories)
//
// hugePages(buffer, from, reserve) -> bytes advised: madvise(MADV_HUGEPAGE) over the whole 2 MiB
// blocks of [buffer's data + from, data + reserve), clipped to the run of anonymous mappings that
// holds the data (V8's reservation for the memory, accessible and not yet), so that pages the memory
// grows into later are huge too, and no file mapping is touched. 0 where the kernel has no
// transparent huge pages or no PROCMAP_QUERY. On this VM a 4 KiB page costs ~10 us to fault in, a
// 2 MiB one ~120 us. The advice changes no contents and no protection; anonymous mappings side by
// side with the same protection are one mapping to the kernel, so a neighbour's anonymous memory
// inside `reserve` could be advised too.

#define HUGE_SIZE ((uintptr_t)2 << 20)

// PROCMAP_QUERY (Linux 6.11): one mapping's bounds and identity by ioctl on /proc/self/maps,
// ~10 us for a memory, where reading the file as text costs ~170 us in a sandbox's process (as much
// as a small guest's whole start). Older kernels: no advice. The layout is the kernel's ABI,
// written out for older headers.
struct wb_procmap_query {
  uint64_t size, query_flags, query_addr, vma_start, vma_end, vma_flags, vma_page_size, vma_offset, inode;
  uint32_t dev_major, dev_minor, vma_name_size, build_id_size;
  uint64_t vma_name_addr, build_id_addr;
};
#define WB_PROCMAP_QUERY _IOWR('f', 17, struct wb_procmap_query)
#define WB_PROCMAP_COVERING_OR_NEXT 0x10

static int maps_fd = -1; // opened once, kept (O_CLOEXEC)

// The end of the run of contiguous anonymous mappings (no file, no name such as [heap] or [stack])
// that holds `at`, stopping at `limit`; 0 if `at` is in none.
static uintptr_t anon_run_end(uintptr_t at, uintptr_t limit) {
  int fd = __atomic_load_n(&maps_fd, __ATOMIC_ACQUIRE);
  if (fd < 0) {
    int f = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (f < 0) return 0;
    int expected = -1;
    if (!__atomic_compare_exchange_n(&maps_fd, &expected, f, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) close(f);
    fd = __atomic_load_n(&maps_fd, __ATOMIC_ACQUIRE);
  }
  uintptr_t run_end = 0, addr = at;
  for (;;) {
    struct wb_procmap_query q;
    char name[8];
    memset(&q, 0, sizeof q);
    q.size = sizeof q;
    q.query_flags = run_end ? WB_PROCMAP_COVERING_OR_NEXT : 0;
    q.query_addr = addr;
    q.vma_name_addr = (uint64_t)(uintptr_t)name;
    q.vma_name_size = sizeof name;
    if (ioctl(fd, WB_PROCMAP_QUERY, &q) != 0) {
      return run_end; // ENOENT: no mapping there (or past it); ENOTTY: a kernel before 6.11, no advice
    }
    bool anon = q.inode == 0 && q.dev_major == 0 && q.dev_minor == 0 && q.vma_name_size == 0;
    if (!anon || (run_end && q.vma_start != run_end)) return run_end;
    run_end = q.vma_end;
    if (run_end >= limit) return run_end;
    addr = run_end;
  }
}

static napi_value js_huge_pages(napi_env env, napi_callback_info info) {
  static const char *fn = "hugePages";
  napi_value argv[3];
  if (!get_args(env, info, 3, argv, fn)) return NULL;
  void *data = NULL;
  size_t len = 0;
  if (napi_get_arraybuffer_info(env, argv[0], &data, &len) != napi_ok) return throw_arg(env, 0, fn, "buffer must be an ArrayBuffer");
  int64_t from, reserve;
  if (!get_int(env, argv[1], 0, 0x200000000 /* 8 GiB */, &from, fn, "from")) return NULL;
  if (!get_int(env, argv[2], 0, 0x200000000, &reserve, fn, "reserve")) return NULL;
  uintptr_t a = ((uintptr_t)data + (uintptr_t)from + HUGE_SIZE - 1) & ~(HUGE_SIZE - 1);
  uintptr_t e = ((uintptr_t)data + (uintptr_t)reserve) & ~(HUGE_SIZE - 1);
  if (e <= a) return num(env, 0);
  uintptr_t run = data ? anon_run_end((uintptr_t)data, e) : 0;
  if (e > (run & ~(HUGE_SIZE - 1))) e = run & ~(HUGE_SIZE - 1);
  if (e <= a) return num(env, 0);
#ifdef MADV_HUGEPAGE
  if (madvise((void *)a, e - a, MADV_HUGEPAGE) != 0) return num(env, 0); // EINVAL: no THP in this kernel
  return num(env, (int64_t)(e - a));
#else
  return num(env, 0);
#endif
}

// ---------------------------------------------------------------------------------------------
// A host file's bytes straight between it and a guest's memory, called by the WebAssembly glue
// with no JavaScript on the way (gofer/hostdirect.ts, NATIVE HOST I/O)
//
// hostRw(memory, fds, counts) -> function(write, handle, lo, hi, ptr, len) -> bytes | ASK, or null.
// `memory` is a guest's WebAssembly.Memory; the function reads or writes its bytes [ptr, ptr+len)
// at its buffer's address, which must stay where it is for the memory's life: so it is made only
// where that address starts at least 8 GiB of contiguous anonymous mappings, V8's reservation for
// a memory with guard regions (a 32-bit memory without them is at most 4 GiB, and is moved when it
// grows past its reservation); else null (no PROCMAP_QUERY either: null). `fds` (an Int32Array
// the gofer keeps) holds, by handle slot, fd + 1 of an open regular file on a writable mount, -(fd
// + 1) on a read-only one, 0 for anything else; the gofer clears a slot before it closes its fd.
// `counts` (a Uint32Array of 2): reads and writes made. The function answers ASK (-65536) for
// whatever it does not serve itself (a slot not set, a write on a read-only mount, a position past
// 2^53, any failure of the system call), and the caller then asks the JavaScript path, which has
// the whole of the checks and the errno mapping. The guest's range is passed to pread/pwrite, so
// even a wrong one inside the reservation is EFAULT from the host kernel, never a store.

#define HOST_RW_ASK (-65536)
#define HOST_RW_REF_HOST 0x40000000u
#define HOST_RW_RESERVE ((uintptr_t)8 << 30)

// Functions made with data (hostRw's and pageCopy's): the data holds references that keep what it
// points into alive while the function is, and is freed when the function is collected.

// The head of such a function's data: what native/rawcall.cc's V8 callback calls (fn, with the
// data and the arguments), how many arguments, and what it answers for arguments that are not
// 32-bit integers. The N-API callback (the fallback) calls the same fn.
typedef int32_t (*raw_fn)(void *data, const uint32_t *v);
typedef struct {
  raw_fn fn;
  int32_t nargs;
  int32_t bad;
} raw_head;

// A V8 function calling head->fn with no N-API between (native/rawcall.cc), or NULL.
napi_value wasmbox_raw_function(const char *name, raw_head *head);

// The N-API callback for such a function: the same call, through N-API.
static napi_value raw_head_call(napi_env env, napi_callback_info info) {
  void *data = NULL;
  uint32_t v[8];
  napi_value a[8];
  size_t argc = 8;
  if (napi_get_cb_info(env, info, &argc, a, NULL, &data) != napi_ok || !data) return num(env, -1);
  raw_head *h = data;
  if (argc < (size_t)h->nargs) return num(env, h->bad);
  for (int i = 0; i < h->nargs; i++)
    if (napi_get_value_uint32(env, a[i], &v[i]) != napi_ok) return num(env, h->bad);
  return num(env, h->fn(data, v));
}

static void delete_refs(napi_env env, napi_ref *keep, int n) {
  for (int i = 0; i < n; i++)
    if (keep[i]) napi_delete_reference(env, keep[i]);
}

// A function `name` calling data's head (data starts with a raw_head), after taking references to
// vals[0..n) into keep[0..n); `release` frees data when the function is collected. A plain V8
// function (rawcall.cc) unless WASMBOX_RAW_CALLS=0 or V8 will not make one, else an N-API one.
// NULL, with data released, if any step fails.
static napi_value bound_function(napi_env env, const char *name, void *data, napi_finalize release, napi_ref *keep, const napi_value *vals, int n) {
  napi_value f = NULL;
  for (int i = 0; i < n; i++)
    if (napi_create_reference(env, vals[i], 1, &keep[i]) != napi_ok) goto fail;
  const char *raw = getenv("WASMBOX_RAW_CALLS");
  if (!raw || strcmp(raw, "0") != 0) f = wasmbox_raw_function(name, data);
  if (!f && napi_create_function(env, name, NAPI_AUTO_LENGTH, raw_head_call, data, &f) != napi_ok) goto fail;
  if (napi_add_finalizer(env, f, data, release, NULL, NULL) != napi_ok) goto fail;
  return f;
fail:
  release(env, data, NULL);
  return NULL;
}

typedef struct {
  raw_head head;
  uint8_t *base;
  int32_t *fds;
  size_t nfds;
  uint32_t *counts;
  napi_ref keep[3]; // the memory, fds and counts
} host_rw_t;

static void host_rw_free(napi_env env, void *data, void *hint) {
  (void)hint;
  delete_refs(env, ((host_rw_t *)data)->keep, 3);
  free(data);
}

static int32_t host_rw_call(void *data, const uint32_t *v) {
  host_rw_t *h = data;
  uint32_t write = v[0], handle = v[1], lo = v[2], hi = v[3], ptr = v[4], len = v[5];
  if (!(handle & HOST_RW_REF_HOST) || hi >= 0x200000 || len > 0x7ffff000 || (uint64_t)ptr + len > ((uint64_t)1 << 32)) return HOST_RW_ASK;
  uint32_t slot = handle & ~HOST_RW_REF_HOST;
  if (slot >= h->nfds) return HOST_RW_ASK;
  int32_t f = h->fds[slot];
  if (f == 0 || (write && f < 0)) return HOST_RW_ASK;
  int fd = (f > 0 ? f : -f) - 1;
  off_t pos = (off_t)(((uint64_t)hi << 32) | lo);
  ssize_t r;
  if (write) {
    do r = pwrite(fd, h->base + ptr, len, pos);
    while (r < 0 && errno == EINTR);
  } else {
    do r = pread(fd, h->base + ptr, len, pos);
    while (r < 0 && errno == EINTR);
  }
  if (r < 0) return HOST_RW_ASK;
  h->counts[write ? 1 : 0]++;
  return (int32_t)r;
}

// A WebAssembly.Memory's address, where it starts at least 8 GiB of contiguous anonymous mappings
// (V8's reservation for a memory with guard regions, in which it grows in place), else NULL.
// Returns 0, with an exception pending, if `memory` is not one.
static int stable_memory_base(napi_env env, napi_value memory, uint8_t **out, const char *fn) {
  napi_value buffer;
  void *base = NULL;
  size_t blen = 0;
  if (napi_get_named_property(env, memory, "buffer", &buffer) != napi_ok || napi_get_arraybuffer_info(env, buffer, &base, &blen) != napi_ok) {
    return throw_arg(env, 0, fn, "memory must be a WebAssembly.Memory"), 0;
  }
  uintptr_t b = (uintptr_t)base;
  *out = base && b + HOST_RW_RESERVE > b && anon_run_end(b, b + HOST_RW_RESERVE) >= b + HOST_RW_RESERVE ? base : NULL;
  return 1;
}

static napi_value js_host_rw(napi_env env, napi_callback_info info) {
  static const char *fn = "hostRw";
  napi_value a[3], result;
  if (!get_args(env, info, 3, a, fn)) return NULL;
  uint8_t *base = NULL;
  if (!stable_memory_base(env, a[0], &base, fn)) return NULL;
  napi_typedarray_type type;
  size_t nfds = 0, ncounts = 0;
  void *fds = NULL, *counts = NULL;
  bool is = false;
  if (napi_is_typedarray(env, a[1], &is) != napi_ok || !is || napi_get_typedarray_info(env, a[1], &type, &nfds, &fds, NULL, NULL) != napi_ok || type != napi_int32_array) {
    return throw_arg(env, 0, fn, "fds must be an Int32Array");
  }
  if (napi_is_typedarray(env, a[2], &is) != napi_ok || !is || napi_get_typedarray_info(env, a[2], &type, &ncounts, &counts, NULL, NULL) != napi_ok || type != napi_uint32_array || ncounts < 2) {
    return throw_arg(env, 0, fn, "counts must be a Uint32Array of 2");
  }
  NAPI_OK(napi_get_null(env, &result), fn);
  if (!base) return result;
  host_rw_t *h = calloc(1, sizeof *h);
  if (!h) return result;
  h->base = base;
  h->fds = fds;
  h->nfds = nfds;
  h->counts = counts;
  h->head = (raw_head){ host_rw_call, 6, HOST_RW_ASK };
  napi_value f = bound_function(env, "hostRw", h, host_rw_free, h->keep, a, 3);
  return f ? f : result;
}

// ---------------------------------------------------------------------------------------------
// A filestore page's bytes between it and a guest's memory, called by the WebAssembly glue with no
// JavaScript on the way (host/filestore/filestore-file.ts, NATIVE COPIES)
//
// pageStore() -> store (an external): what a filestore tells this side, kept up to date by it: the
// page count (pageStorePages), and per 1 GiB chunk its mapping from mmap() and its ready bitmap (a
// Uint8Array of a bit per page: Filestore.readyBits; pageStoreChunk, null to forget one; the
// bitmap's required length holds the chunk size here to the kernel's, kernel/abi.ts Page). The
// filestore forgets a chunk, or sets 0 pages, before it unmaps anything.
// pageCopy(store, memory) -> function(write, page, off, ptr, len) -> 0 when it has copied the bytes
// page*4096+off, +len between the filestore and guest [ptr, ptr+len), 1 when it leaves them to the
// caller: the page is not below the page count, its chunk not registered, its ready bit clear, or
// the range leaves the page. The caller (G) has checked that [ptr, ptr+len) lies in the guest's
// memory; even without that check, ptr < 4 GiB and len <= 4 KiB keep every access inside V8's
// reservation for the memory, so a wrong range could only fault, never reach other memory. Null
// where the memory's address cannot be trusted to stay put (as for hostRw).
// pageStoreCounts(store) -> [copies, streamed].
//
// STREAMED STORES. A store of a whole 4 KiB into a page that is not in the CPU's caches pays for
// reading each line in first (read for ownership) and, worse, leaves 64 lines of stores draining
// behind everything the kernel does next: in C, 4 KiB memcpys to random pages of a 1 GiB memfd cost
// 0.47 us each alone and 1.0 us with 200 small stores after each; with non-temporal (streaming)
// stores 0.22 and 0.44. Into a page in the caches they lose (16 pages rewritten: 0.09 against 0.17
// us) and a page read back soon after misses (0.12 against 0.64 us). So a store of 2 KiB or more
// streams only into a page not among the last pages copied (RECENT: a direct-mapped table of 4096
// page numbers, 16 MiB of pages, reads and writes both noted). No fence after them: the stores are
// ordered for this thread's own later loads, and whatever hands the bytes to another thread or to
// the host kernel's writeback (a lock, an atomic, an interrupt for a TLB shootdown) drains them first.

#define PS_PAGE 4096u
#define PS_CHUNK_SHIFT 18u
#define PS_CHUNK_PAGES ((uint32_t)1 << PS_CHUNK_SHIFT)
#define PS_MAX_CHUNKS 4096u // 4 TiB of filestore; pages past it are left to the caller
#define PS_RECENT 4096u
#define PS_STREAM_MIN 2048u

typedef struct {
  uint8_t *base, *ready;
  size_t len;
  napi_ref keep[2];
} ps_chunk;

typedef struct {
  uint32_t pages, nchunks;
  ps_chunk *chunks;
  uint64_t copies, streamed;
  uint32_t recent[PS_RECENT]; // page + 1, by page % PS_RECENT
} page_store;

static void ps_forget(napi_env env, ps_chunk *c) {
  delete_refs(env, c->keep, 2);
  memset(c, 0, sizeof *c);
}

static void page_store_free(napi_env env, void *data, void *hint) {
  (void)hint;
  page_store *s = data;
  for (uint32_t i = 0; i < s->nchunks; i++) ps_forget(env, &s->chunks[i]);
  free(s->chunks);
  free(s);
}

static napi_value js_page_store(napi_env env, napi_callback_info info) {
  static const char *fn = "pageStore";
  (void)info;
  page_store *s = calloc(1, sizeof *s);
  if (!s) return throw_errno(env, ENOMEM, fn, NULL);
  napi_value ext;
  if (napi_create_external(env, s, page_store_free, NULL, &ext) != napi_ok) {
    free(s);
    return napi_failed(env, fn);
  }
  return ext;
}

// An external's data (what one of this file's constructors made), or NULL with `what` thrown.
static void *get_external(napi_env env, napi_value v, const char *fn, const char *what) {
  napi_valuetype t;
  void *p = NULL;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_external || napi_get_value_external(env, v, &p) != napi_ok || !p) {
    throw_arg(env, 0, fn, what);
    return NULL;
  }
  return p;
}

static page_store *get_page_store(napi_env env, napi_value v, const char *fn) {
  return get_external(env, v, fn, "store must be what pageStore() returned");
}

static napi_value js_page_store_pages(napi_env env, napi_callback_info info) {
  static const char *fn = "pageStorePages";
  napi_value a[2];
  int64_t pages;
  if (!get_args(env, info, 2, a, fn)) return NULL;
  page_store *s = get_page_store(env, a[0], fn);
  if (!s || !get_int(env, a[1], 0, 4294967295.0, &pages, fn, "pages")) return NULL;
  s->pages = (uint32_t)pages;
  return NULL;
}

static napi_value js_page_store_chunk(napi_env env, napi_callback_info info) {
  static const char *fn = "pageStoreChunk";
  napi_value a[4];
  int64_t c;
  if (!get_args(env, info, 4, a, fn)) return NULL;
  page_store *s = get_page_store(env, a[0], fn);
  if (!s || !get_int(env, a[1], 0, PS_MAX_CHUNKS - 1, &c, fn, "chunk")) return NULL;
  napi_valuetype t;
  NAPI_OK(napi_typeof(env, a[2], &t), fn);
  if (t == napi_null || t == napi_undefined) {
    if ((uint32_t)c < s->nchunks) ps_forget(env, &s->chunks[c]);
    return NULL;
  }
  void *base = NULL, *ready = NULL;
  size_t len = 0, nready = 0;
  if (!get_mapped_buffer(env, a[2], &base, &len, fn)) return NULL;
  pthread_mutex_lock(&lock);
  bool mapped = base && find_live(base, len) != NULL;
  pthread_mutex_unlock(&lock);
  if (!mapped) return throw_arg(env, 0, fn, "mapping must be an ArrayBuffer returned by mmap() and not unmapped");
  if (len > (size_t)PS_CHUNK_PAGES * PS_PAGE) return throw_arg(env, 1, fn, "mapping is longer than a chunk");
  bool is = false;
  napi_typedarray_type type;
  if (napi_is_typedarray(env, a[3], &is) != napi_ok || !is || napi_get_typedarray_info(env, a[3], &type, &nready, &ready, NULL, NULL) != napi_ok || type != napi_uint8_array || nready != PS_CHUNK_PAGES / 8 || !ready) {
    return throw_arg(env, 0, fn, "ready must be a Uint8Array of a bit per page of a chunk");
  }
  if ((uint32_t)c >= s->nchunks) {
    ps_chunk *more = realloc(s->chunks, ((size_t)c + 1) * sizeof *more);
    if (!more) return throw_errno(env, ENOMEM, fn, NULL);
    memset(more + s->nchunks, 0, ((size_t)c + 1 - s->nchunks) * sizeof *more);
    s->chunks = more;
    s->nchunks = (uint32_t)c + 1;
  }
  ps_chunk *ch = &s->chunks[c];
  ps_forget(env, ch);
  if (napi_create_reference(env, a[2], 1, &ch->keep[0]) != napi_ok || napi_create_reference(env, a[3], 1, &ch->keep[1]) != napi_ok) {
    ps_forget(env, ch);
    return napi_failed(env, fn);
  }
  ch->base = base;
  ch->len = len;
  ch->ready = ready;
  return NULL;
}

static napi_value js_page_store_counts(napi_env env, napi_callback_info info) {
  static const char *fn = "pageStoreCounts";
  napi_value a[1], r;
  if (!get_args(env, info, 1, a, fn)) return NULL;
  page_store *s = get_page_store(env, a[0], fn);
  if (!s) return NULL;
  NAPI_OK(napi_create_array_with_length(env, 2, &r), fn);
  NAPI_OK(napi_set_element(env, r, 0, num(env, (int64_t)s->copies)), fn);
  NAPI_OK(napi_set_element(env, r, 1, num(env, (int64_t)s->streamed)), fn);
  return r;
}

// dst[0, n) = src[0, n): the whole 64-byte lines of dst by non-temporal stores, the rest by memcpy
static void stream_copy(uint8_t *dst, const uint8_t *src, size_t n) {
#if defined(__x86_64__)
  size_t head = (64 - ((uintptr_t)dst & 63)) & 63;
  if (head > n) head = n;
  memcpy(dst, src, head);
  dst += head, src += head, n -= head;
  for (; n >= 64; dst += 64, src += 64, n -= 64) {
    __m128i a = _mm_loadu_si128((const __m128i *)src), b = _mm_loadu_si128((const __m128i *)(src + 16));
    __m128i c = _mm_loadu_si128((const __m128i *)(src + 32)), d = _mm_loadu_si128((const __m128i *)(src + 48));
    _mm_stream_si128((__m128i *)dst, a);
    _mm_stream_si128((__m128i *)(dst + 16), b);
    _mm_stream_si128((__m128i *)(dst + 32), c);
    _mm_stream_si128((__m128i *)(dst + 48), d);
  }
#endif
  memcpy(dst, src, n);
}

typedef struct {
  raw_head head;
  page_store *s;
  uint8_t *guest;
  napi_ref keep[2]; // the store and the memory
} page_copy;

static void page_copy_free(napi_env env, void *data, void *hint) {
  (void)hint;
  delete_refs(env, ((page_copy *)data)->keep, 2);
  free(data);
}

static int32_t page_copy_call(void *data, const uint32_t *v) {
  page_copy *p = data;
  page_store *s = p->s;
  uint32_t write = v[0], page = v[1], off = v[2], ptr = v[3], len = v[4];
  if (page >= s->pages || off >= PS_PAGE || len > PS_PAGE - off) return 1;
  uint32_t c = page >> PS_CHUNK_SHIFT, i = page & (PS_CHUNK_PAGES - 1);
  if (c >= s->nchunks) return 1;
  ps_chunk *ch = &s->chunks[c];
  size_t at = (size_t)i * PS_PAGE + off;
  if (!ch->base || !(ch->ready[i >> 3] & (1u << (i & 7))) || at + len > ch->len) return 1;
  uint8_t *f = ch->base + at, *g = p->guest + ptr;
  uint32_t *r = &s->recent[page & (PS_RECENT - 1)];
  bool recent = *r == page + 1;
  *r = page + 1;
  if (!write) memcpy(g, f, len);
  else if (recent || len < PS_STREAM_MIN) memcpy(f, g, len);
  else {
    stream_copy(f, g, len);
    s->streamed++;
  }
  s->copies++;
  return 0;
}

static napi_value js_page_copy(napi_env env, napi_callback_info info) {
  static const char *fn = "pageCopy";
  napi_value a[2], result;
  if (!get_args(env, info, 2, a, fn)) return NULL;
  page_store *s = get_page_store(env, a[0], fn);
  if (!s) return NULL;
  uint8_t *base = NULL;
  if (!stable_memory_base(env, a[1], &base, fn)) return NULL;
  NAPI_OK(napi_get_null(env, &result), fn);
  if (!base) return result;
  page_copy *p = calloc(1, sizeof *p);
  if (!p) return result;
  p->s = s;
  p->guest = base;
  p->head = (raw_head){ page_copy_call, 5, 1 };
  napi_value f = bound_function(env, "pageCopy", p, page_copy_free, p->keep, a, 2);
  return f ? f : result;
}

// ---------------------------------------------------------------------------------------------
// A coarse clock in the kernel's memory (kernel/host.ts, COARSE TIME)
//
// clockTicker(memory, offset) -> a ticker (an external), or null where the memory's address cannot
// be trusted to stay put (stable_memory_base): a thread that stores CLOCK_REALTIME, as u64 ns, at
// memory[offset] every millisecond, so that the kernel stamps inode times with a load instead of a
// call out (~50 ns from WebAssembly). The kernel sets the u32 at offset + 8 when it takes the
// time; after 256 ticks in which it did not, the thread stores 0 there (the kernel then calls out,
// as without it) and sleeps until clockWake(ticker). clockStop(ticker) ends the thread (also the
// ticker's finalizer); it holds a reference to the memory until then, so it never stores into
// memory that V8 has given back. The slot belongs to the untrusted kernel, which can write any
// time there: it only decides the kernel's own timestamps, which it could set anyway.

#define TICK_NS 1000000L
#define TICK_IDLE 256

typedef struct {
  pthread_mutex_t mu;
  pthread_cond_t wake;
  pthread_t thread;
  bool started, parked, stopping;
  uint64_t *slot;
  uint32_t *used;
  napi_ref memory;
} ticker;

static void *tick_main(void *arg) {
  ticker *t = arg;
  int idle = 0;
  pthread_mutex_lock(&t->mu);
  while (!t->stopping) {
    if (t->parked) {
      pthread_cond_wait(&t->wake, &t->mu);
      continue;
    }
    struct timespec now, until;
    clock_gettime(CLOCK_REALTIME, &now);
    __atomic_store_n(t->slot, (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec, __ATOMIC_RELAXED);
    // a tick's sleep, which clockStop cuts short (the condition variable runs on CLOCK_MONOTONIC)
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_nsec += TICK_NS;
    if (until.tv_nsec >= 1000000000L) until.tv_sec++, until.tv_nsec -= 1000000000L;
    while (!t->stopping && pthread_cond_timedwait(&t->wake, &t->mu, &until) == 0) {}
    idle = __atomic_exchange_n(t->used, 0, __ATOMIC_RELAXED) ? 0 : idle + 1;
    if (idle >= TICK_IDLE) {
      __atomic_store_n(t->slot, 0, __ATOMIC_RELAXED);
      t->parked = true;
      idle = 0;
    }
  }
  pthread_mutex_unlock(&t->mu);
  return NULL;
}

static void tick_stop(napi_env env, ticker *t) {
  pthread_mutex_lock(&t->mu);
  t->stopping = true;
  pthread_cond_signal(&t->wake);
  bool join = t->started;
  t->started = false;
  pthread_mutex_unlock(&t->mu);
  if (join) pthread_join(t->thread, NULL);
  if (t->memory) {
    napi_delete_reference(env, t->memory);
    t->memory = NULL;
  }
}

static void ticker_free(napi_env env, void *data, void *hint) {
  (void)hint;
  ticker *t = data;
  tick_stop(env, t);
  pthread_mutex_destroy(&t->mu);
  pthread_cond_destroy(&t->wake);
  free(t);
}

static napi_value js_clock_ticker(napi_env env, napi_callback_info info) {
  static const char *fn = "clockTicker";
  napi_value a[2], result;
  int64_t off;
  if (!get_args(env, info, 2, a, fn)) return NULL;
  uint8_t *base = NULL;
  if (!stable_memory_base(env, a[0], &base, fn)) return NULL;
  if (!get_int(env, a[1], 0, (double)(1u << 30), &off, fn, "offset")) return NULL;
  if (off % 8 != 0) return throw_arg(env, 1, fn, "offset must be a multiple of 8");
  NAPI_OK(napi_get_null(env, &result), fn);
  if (!base) return result;
  // the slot must lie in the memory as it is now (it never shrinks)
  napi_value buffer;
  void *data = NULL;
  size_t blen = 0;
  NAPI_OK(napi_get_named_property(env, a[0], "buffer", &buffer), fn);
  NAPI_OK(napi_get_arraybuffer_info(env, buffer, &data, &blen), fn);
  if ((uint64_t)off + 16 > blen) return throw_arg(env, 1, fn, "offset + 16 passes the end of the memory");
  ticker *t = calloc(1, sizeof *t);
  if (!t) return throw_errno(env, ENOMEM, fn, NULL);
  pthread_mutex_init(&t->mu, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&t->wake, &ca);
  pthread_condattr_destroy(&ca);
  t->slot = (uint64_t *)(base + off);
  t->used = (uint32_t *)(base + off + 8);
  napi_value ext;
  if (napi_create_reference(env, a[0], 1, &t->memory) != napi_ok || napi_create_external(env, t, ticker_free, NULL, &ext) != napi_ok) {
    ticker_free(env, t, NULL);
    return napi_failed(env, fn);
  }
  int e = pthread_create(&t->thread, NULL, tick_main, t);
  if (e != 0) return throw_errno(env, e, "pthread_create", fn); // the finalizer frees it
  t->started = true;
  return ext;
}

static ticker *get_ticker(napi_env env, napi_value v, const char *fn) {
  return get_external(env, v, fn, "ticker must be what clockTicker() returned");
}

static napi_value js_clock_wake(napi_env env, napi_callback_info info) {
  napi_value a[1];
  if (!get_args(env, info, 1, a, "clockWake")) return NULL;
  ticker *t = get_ticker(env, a[0], "clockWake");
  if (!t) return NULL;
  pthread_mutex_lock(&t->mu);
  if (t->parked) {
    t->parked = false;
    pthread_cond_signal(&t->wake);
  }
  pthread_mutex_unlock(&t->mu);
  return NULL;
}

static napi_value js_clock_stop(napi_env env, napi_callback_info info) {
  napi_value a[1];
  if (!get_args(env, info, 1, a, "clockStop")) return NULL;
  ticker *t = get_ticker(env, a[0], "clockStop");
  if (!t) return NULL;
  tick_stop(env, t);
  return NULL;
}

// cloexecAll() -> 0 | -errno: marks every descriptor from 3 up close-on-exec, so that a process
// started afterwards (the background compile of host/sandbox/guest-code.ts) inherits none of the
// ones this process was given without it (an engine's preserved fds, a make jobserver's pipe). One
// close_range(2) call where the kernel has CLOSE_RANGE_CLOEXEC (Linux 5.11), else each open fd.
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
static napi_value js_cloexec_all(napi_env env, napi_callback_info info) {
  (void)info;
#ifdef SYS_close_range
  if (syscall(SYS_close_range, 3u, ~0u, CLOSE_RANGE_CLOEXEC) == 0) return num(env, 0);
#endif
  int d = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (d < 0) return num(env, -errno);
  char buf[4096];
  long n;
  while ((n = syscall(SYS_getdents64, d, buf, sizeof buf)) > 0) {
    for (long at = 0; at < n;) {
      struct { uint64_t ino; int64_t off; unsigned short reclen; unsigned char type; char name[]; } *e = (void *)(buf + at);
      at += e->reclen;
      int fd = atoi(e->name);
      if (fd < 3 || fd == d) continue;
      int fl = fcntl(fd, F_GETFD);
      if (fl >= 0 && !(fl & FD_CLOEXEC)) fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
    }
  }
  int e = n < 0 ? -errno : 0;
  close(d);
  return num(env, e);
}

// ---------------------------------------------------------------------------------------------
// SIGTERM -> SIGINT

static volatile sig_atomic_t sigterm_seen = 0;

static void on_sigterm(int sig) {
  (void)sig;
  sigterm_seen = 1;
  kill(getpid(), SIGINT);
}

static napi_value js_forward_sigterm(napi_env env, napi_callback_info info) {
  (void)info;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_sigterm;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  if (sigaction(SIGTERM, &sa, NULL) != 0) return throw_errno(env, errno, "sigaction", "SIGTERM");
  return NULL;
}

static napi_value js_take_sigterm(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value v;
  bool seen = sigterm_seen != 0;
  sigterm_seen = 0;
  napi_get_boolean(env, seen, &v);
  return v;
}

// close(fd): for descriptors this addon made (memfd_create). Node's fs.closeSync warns when a worker
// thread closes a descriptor that Node did not open in that thread.
static napi_value js_close(napi_env env, napi_callback_info info) {
  static const char *fn = "close";
  napi_value argv[1];
  size_t argc = 1;
  NAPI_OK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL), fn);
  if (argc < 1) return throw_arg(env, 0, fn, "expected a file descriptor");
  int64_t fd;
  if (!get_int(env, argv[0], 0, 0x7fffffff, &fd, fn, "fd")) return NULL;
  if (close((int)fd) != 0) return throw_errno(env, errno, fn, NULL);
  return NULL;
}

// ---------------------------------------------------------------------------------------------
// more argument parsing: strings, signal lists, results

// A string argument as a NUL-terminated malloc'd copy (the caller frees it) of at most max bytes;
// *len is its length. Embedded NULs are refused. Returns NULL (with an exception pending) otherwise.
static char *get_string(napi_env env, napi_value v, size_t max, size_t *len, const char *fn, const char *name) {
  napi_valuetype t;
  char what[160];
  if (napi_typeof(env, v, &t) != napi_ok) return napi_failed(env, fn), NULL;
  if (t != napi_string) {
    snprintf(what, sizeof what, "%s must be a string", name);
    return throw_arg(env, 0, fn, what), NULL;
  }
  size_t n = 0;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &n) != napi_ok) return napi_failed(env, fn), NULL;
  if (n > max) {
    snprintf(what, sizeof what, "%s must be at most %zu bytes, got %zu", name, max, n);
    return throw_arg(env, 1, fn, what), NULL;
  }
  char *s = malloc(n + 1);
  if (!s) return throw_errno(env, ENOMEM, fn, NULL), NULL;
  if (napi_get_value_string_utf8(env, v, s, n + 1, &n) != napi_ok) {
    free(s);
    return napi_failed(env, fn), NULL;
  }
  if (strlen(s) != n) {
    free(s);
    snprintf(what, sizeof what, "%s must not contain NUL", name);
    return throw_arg(env, 1, fn, what), NULL;
  }
  *len = n;
  return s;
}

// Signal numbers are 1..64 on Linux; cell 0 of the counters is unused.
#define NSIGS 65

// An array of signal numbers (each in 1..64, not SIGKILL or SIGSTOP; duplicates allowed) as a set.
static int get_signals(napi_env env, napi_value v, unsigned char want[NSIGS], size_t *count, const char *fn) {
  bool is = false;
  if (napi_is_array(env, v, &is) != napi_ok) return napi_failed(env, fn), 0;
  if (!is) return throw_arg(env, 0, fn, "signals must be an array of signal numbers"), 0;
  uint32_t n = 0;
  if (napi_get_array_length(env, v, &n) != napi_ok) return napi_failed(env, fn), 0;
  memset(want, 0, NSIGS);
  *count = 0;
  for (uint32_t i = 0; i < n; i++) {
    napi_value e;
    int64_t sig;
    if (napi_get_element(env, v, i, &e) != napi_ok) return napi_failed(env, fn), 0;
    if (!get_int(env, e, 1, NSIGS - 1, &sig, fn, "signal")) return 0;
    if (sig == SIGKILL || sig == SIGSTOP) return throw_arg(env, 1, fn, "SIGKILL and SIGSTOP cannot be caught"), 0;
    if (!want[sig]) (*count)++;
    want[sig] = 1;
  }
  return 1;
}

// A timeout in ms: -1 (none) or 0..INT_MAX.
static int get_timeout(napi_env env, napi_value v, int64_t *ms, const char *fn) {
  return get_int(env, v, -1, INT_MAX, ms, fn, "timeoutMs");
}

static napi_status set_prop_int(napi_env env, napi_value obj, const char *key, int32_t val) {
  napi_value v;
  napi_status s = napi_create_int32(env, val, &v);
  return s == napi_ok ? napi_set_named_property(env, obj, key, v) : s;
}

// close(2) that keeps errno, for cleanup on failure paths.
static void close_keep_errno(int fd) {
  int e = errno;
  if (fd >= 0) close(fd);
  errno = e;
}

// ---------------------------------------------------------------------------------------------
// pseudo-terminals

static napi_value js_openpty(napi_env env, napi_callback_info info) {
  static const char *fn = "openpty";
  (void)info;
  char path[128];
  int master, slave;
  const char *step = NULL;
  if (pty_open(&master, &slave, path, sizeof path, &step) != 0) return throw_errno(env, errno, step, step[0] == 'p' && step[1] == 'o' ? "/dev/ptmx" : NULL);
  napi_value r, p;
  if (napi_create_object(env, &r) != napi_ok || set_prop_int(env, r, "master", master) != napi_ok ||
      set_prop_int(env, r, "slave", slave) != napi_ok ||
      napi_create_string_utf8(env, path, NAPI_AUTO_LENGTH, &p) != napi_ok || napi_set_named_property(env, r, "path", p) != napi_ok) {
    close(slave);
    close(master);
    return napi_failed(env, fn);
  }
  return r;
}

// setsid() unless this process already leads its session, then TIOCSCTTY. setsid fails with EPERM
// when the process leads a process group (a shell job's first process): it cannot then take a
// controlling terminal at all, so that is an error (runc's child is always a fresh session leader).
static napi_value js_set_controlling_terminal(napi_env env, napi_callback_info info) {
  static const char *fn = "setControllingTerminal";
  napi_value argv[1];
  int fd;
  if (!get_args(env, info, 1, argv, fn) || !get_fd(env, argv[0], &fd, fn)) return NULL;
  if (getsid(0) != getpid() && setsid() < 0) {
    return throw_errno(env, errno, "setsid", errno == EPERM ? "a process group leader cannot start a session" : NULL);
  }
  if (ioctl(fd, TIOCSCTTY, 0) != 0) {
    char detail[48];
    snprintf(detail, sizeof detail, "TIOCSCTTY, fd %d", fd);
    return throw_errno(env, errno, "ioctl", detail);
  }
  return NULL;
}

static napi_value js_dup2(napi_env env, napi_callback_info info) {
  static const char *fn = "dup2";
  napi_value argv[2];
  int oldfd, newfd;
  if (!get_args(env, info, 2, argv, fn) || !get_fd(env, argv[0], &oldfd, fn) || !get_fd(env, argv[1], &newfd, fn)) return NULL;
  int r;
  do r = dup2(oldfd, newfd); // EBUSY: a race with open(2) in another thread, worth one more try
  while (r < 0 && (errno == EINTR || errno == EBUSY));
  if (r < 0) {
    char detail[48];
    snprintf(detail, sizeof detail, "%d -> %d", oldfd, newfd);
    return throw_errno(env, errno, fn, detail);
  }
  return NULL;
}

static napi_value js_set_winsize(napi_env env, napi_callback_info info) {
  static const char *fn = "setWinsize";
  napi_value argv[3];
  int fd;
  int64_t rows, cols;
  if (!get_args(env, info, 3, argv, fn) || !get_fd(env, argv[0], &fd, fn)) return NULL;
  if (!get_int(env, argv[1], 0, 65535, &rows, fn, "rows") || !get_int(env, argv[2], 0, 65535, &cols, fn, "cols")) return NULL;
  struct winsize ws = { .ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols };
  if (ioctl(fd, TIOCSWINSZ, &ws) != 0) return throw_errno(env, errno, "ioctl", "TIOCSWINSZ");
  return NULL;
}

static napi_value js_get_winsize(napi_env env, napi_callback_info info) {
  static const char *fn = "getWinsize";
  napi_value argv[1], r;
  int fd;
  if (!get_args(env, info, 1, argv, fn) || !get_fd(env, argv[0], &fd, fn)) return NULL;
  struct winsize ws;
  memset(&ws, 0, sizeof ws);
  if (ioctl(fd, TIOCGWINSZ, &ws) != 0) return throw_errno(env, errno, "ioctl", "TIOCGWINSZ");
  NAPI_OK(napi_create_object(env, &r), fn);
  NAPI_OK(set_prop_int(env, r, "rows", ws.ws_row), fn);
  NAPI_OK(set_prop_int(env, r, "cols", ws.ws_col), fn);
  return r;
}

// ---------------------------------------------------------------------------------------------
// descriptor passing over unix sockets (SCM_RIGHTS), runc's console socket protocol
//
// One connection carries one message: data = the name (runc: the terminal's name), control = one
// SCM_RIGHTS descriptor. Receivers read it with a single recvmsg into a 4096-byte buffer, as
// go-runc's console socket does (MaxNameLen), so longer names are refused at the sender.

#define FD_NAME_MAX 4096

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

// Waits until fd is readable or deadline (now_ms() time; -1: none) passes. 0, or -1 with errno
// (ETIMEDOUT when the deadline passed).
static int wait_readable(int fd, int64_t deadline) {
  for (;;) {
    int64_t left = -1;
    if (deadline >= 0) {
      left = deadline - now_ms();
      if (left < 0) left = 0;
    }
    struct pollfd p = { .fd = fd, .events = POLLIN };
    int r = poll(&p, 1, (int)left);
    if (r > 0) return 0; // readable, or an error/hangup that the next call reports
    if (r == 0) return errno = ETIMEDOUT, -1;
    if (errno != EINTR) return -1;
  }
}

// Fills a sockaddr_un for path; ENAMETOOLONG (nothing else touched) when it does not fit with its NUL.
static int make_sockaddr(struct sockaddr_un *sa, const char *path, size_t len) {
  if (len >= sizeof sa->sun_path) return errno = ENAMETOOLONG, -1;
  memset(sa, 0, sizeof *sa);
  sa->sun_family = AF_UNIX;
  memcpy(sa->sun_path, path, len + 1);
  return 0;
}

static napi_value js_send_fd(napi_env env, napi_callback_info info) {
  static const char *fn = "sendFd";
  napi_value argv[3];
  int fd;
  size_t plen, nlen;
  if (!get_args(env, info, 3, argv, fn)) return NULL;
  char *path = get_string(env, argv[0], PATH_MAX, &plen, fn, "socketPath");
  if (!path) return NULL;
  char *name = NULL;
  napi_value ret = NULL;
  if (!get_fd(env, argv[1], &fd, fn) || !(name = get_string(env, argv[2], FD_NAME_MAX, &nlen, fn, "name"))) goto out;
  if (plen == 0) {
    throw_arg(env, 1, fn, "socketPath must not be empty");
    goto out;
  }
  if (nlen == 0) {
    throw_arg(env, 1, fn, "name must not be empty"); // a zero-byte message would carry no descriptor
    goto out;
  }
  const char *step = NULL;
  if (fd_send(path, fd, name, nlen, &step) != 0) {
    char detail[64];
    snprintf(detail, sizeof detail, "fd %d", fd);
    throw_errno(env, errno, step, step[0] == 'c' ? path : detail);
    goto out;
  }
  ret = NULL; // undefined
out:
  free(path);
  free(name);
  return ret;
}

// socket + bind + listen(1). Returns the fd, or -1 with errno (the socket file removed again if
// bind made it and listen then failed).
static int listen_at(const char *path, size_t len, const char **step) {
  struct sockaddr_un sa;
  *step = "bind";
  if (make_sockaddr(&sa, path, len) != 0) return -1;
  *step = "socket";
  int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) return -1;
  *step = "bind";
  if (bind(s, (struct sockaddr *)&sa, sizeof sa) != 0) return close_keep_errno(s), -1;
  *step = "listen";
  if (listen(s, 1) != 0) {
    int e = errno;
    close(s);
    unlink(path);
    errno = e;
    return -1;
  }
  return s;
}

// Accepts one connection on listener and receives one message from it (see above), waiting until
// deadline (now_ms() time, -1: none) in all. On success *fd is the received descriptor (O_CLOEXEC)
// and name[0..*nlen) the data. Returns 0, or -1 with errno and *step the failing call.
static int accept_one(int listener, int64_t deadline, int *fd, char *name, size_t *nlen, const char **step) {
  int c = -1;
  for (;;) {
    *step = "poll";
    if (wait_readable(listener, deadline) != 0) return -1;
    *step = "accept4";
    c = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
    if (c >= 0) break;
    // A connection that went away between poll and accept, or a non-blocking listener: wait again.
    if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK && errno != ECONNABORTED) return -1;
  }
  union {
    struct cmsghdr h;
    char buf[CMSG_SPACE(sizeof(int))];
  } ctl;
  ssize_t n;
  struct msghdr msg;
  for (;;) {
    *step = "poll";
    if (wait_readable(c, deadline) != 0) return close_keep_errno(c), -1;
    struct iovec iov = { .iov_base = name, .iov_len = FD_NAME_MAX };
    memset(&msg, 0, sizeof msg);
    memset(&ctl, 0, sizeof ctl);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = ctl.buf;
    msg.msg_controllen = sizeof ctl.buf;
    *step = "recvmsg";
    n = recvmsg(c, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    if (n >= 0) break;
    if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) return close_keep_errno(c), -1;
  }
  close(c);
  // Descriptors that did not fit (MSG_CTRUNC: a sender of more than one) were closed by the kernel
  // (net/core/scm.c scm_detach_fds); the first one is kept.
  int got = -1;
  for (struct cmsghdr *h = CMSG_FIRSTHDR(&msg); h; h = CMSG_NXTHDR(&msg, h)) {
    if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS) continue;
    size_t k = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < k; i++) {
      int x;
      memcpy(&x, CMSG_DATA(h) + i * sizeof(int), sizeof x);
      if (got < 0) got = x;
      else close(x);
    }
  }
  if (got < 0) {
    *step = "recvmsg";
    return errno = n == 0 ? ECONNRESET : EBADMSG, -1; // closed without a message / a message without an fd
  }
  *fd = got;
  *nlen = (size_t)n;
  return 0;
}

// { fd, name } for a received descriptor; closes fd if the object cannot be made.
static napi_value fd_result(napi_env env, int fd, const char *name, size_t nlen, const char *fn) {
  napi_value r, s;
  if (napi_create_object(env, &r) != napi_ok || set_prop_int(env, r, "fd", fd) != napi_ok ||
      napi_create_string_utf8(env, name, nlen, &s) != napi_ok || napi_set_named_property(env, r, "name", s) != napi_ok) {
    close(fd);
    return napi_failed(env, fn);
  }
  return r;
}

static napi_value js_listen_fd_socket(napi_env env, napi_callback_info info) {
  static const char *fn = "listenFdSocket";
  napi_value argv[1], r;
  size_t plen;
  if (!get_args(env, info, 1, argv, fn)) return NULL;
  char *path = get_string(env, argv[0], PATH_MAX, &plen, fn, "socketPath");
  if (!path) return NULL;
  if (plen == 0) {
    free(path);
    return throw_arg(env, 1, fn, "socketPath must not be empty");
  }
  const char *step;
  int s = listen_at(path, plen, &step);
  if (s < 0) {
    throw_errno(env, errno, step, path);
    free(path);
    return NULL;
  }
  free(path);
  if (napi_create_int32(env, s, &r) != napi_ok) {
    close(s);
    return napi_failed(env, fn);
  }
  return r;
}

static napi_value js_accept_fd(napi_env env, napi_callback_info info) {
  static const char *fn = "acceptFd";
  napi_value argv[2];
  int listener;
  int64_t timeout;
  if (!get_args(env, info, 2, argv, fn) || !get_fd(env, argv[0], &listener, fn) || !get_timeout(env, argv[1], &timeout, fn)) return NULL;
  char *name = malloc(FD_NAME_MAX);
  if (!name) return throw_errno(env, ENOMEM, fn, NULL);
  int fd;
  size_t nlen;
  const char *step;
  napi_value r;
  if (accept_one(listener, timeout < 0 ? -1 : now_ms() + timeout, &fd, name, &nlen, &step) != 0) {
    char detail[64];
    snprintf(detail, sizeof detail, "listening fd %d", listener);
    r = throw_errno(env, errno, step, detail);
  } else {
    r = fd_result(env, fd, name, nlen, fn);
  }
  free(name);
  return r;
}

static napi_value js_recv_fd(napi_env env, napi_callback_info info) {
  static const char *fn = "recvFd";
  napi_value argv[2], r;
  size_t plen;
  int64_t timeout;
  if (!get_args(env, info, 2, argv, fn) || !get_timeout(env, argv[1], &timeout, fn)) return NULL;
  char *path = get_string(env, argv[0], PATH_MAX, &plen, fn, "socketPath");
  if (!path) return NULL;
  char *name = plen ? malloc(FD_NAME_MAX) : NULL;
  if (plen == 0) r = throw_arg(env, 1, fn, "socketPath must not be empty");
  else if (!name) r = throw_errno(env, ENOMEM, fn, NULL);
  else {
    int64_t deadline = timeout < 0 ? -1 : now_ms() + timeout;
    const char *step;
    int fd;
    size_t nlen;
    int s = listen_at(path, plen, &step);
    if (s < 0) r = throw_errno(env, errno, step, path);
    else {
      int ok = accept_one(s, deadline, &fd, name, &nlen, &step) == 0;
      int e = errno;
      close(s);
      unlink(path);
      r = ok ? fd_result(env, fd, name, nlen, fn) : throw_errno(env, e, step, path);
    }
  }
  free(name);
  free(path);
  return r;
}

// ---------------------------------------------------------------------------------------------
// watched signals
//
// watched[s] counts deliveries of signal s (atomically, from the handler); JS reads it through an
// Int32Array over this static memory. prev[s] is the action our handler replaced and chains to.
//
// Order: Node/libuv installs its own handler when JS registers process.on(signal), and it does
// not chain: so register process.on first, then watchSignals, and both see the signal. libuv
// restores SIG_DFL when the last listener is removed, which drops ours too; watchSignals checks
// the installed action on every call and re-installs (capturing the new previous action) when it
// is not ours. With no listener, Node's own SIGINT/SIGTERM handler (reset the tty, re-raise) is
// what gets chained to, so those signals still end the process.
//
// Flags: our handler is SA_SIGINFO (so it can pass siginfo/ucontext on to a SA_SIGINFO previous
// handler) and takes the previous action's sa_mask and its SA_ONSTACK, SA_NODEFER, SA_RESETHAND,
// SA_NOCLDSTOP and SA_NOCLDWAIT, so that what it chains to runs as it was installed. SA_RESETHAND
// matters: Node's default handler re-raises the signal and relies on it to die rather than loop.
// SA_RESTART is deliberately NOT kept (libuv sets it): a watched signal must interrupt a blocking
// read(2) of a terminal or pipe with EINTR (fs.readSync throws it; libuv does not retry reads), or
// a sandbox blocked in one would notice the signal only when input arrives. libuv itself loses
// nothing: it retries EINTR everywhere it can get it (epoll_wait, write, the other fs calls). Other
// unknown flags (SA_RESTORER, libc's business) are not copied.
//
// prev[s] is written only while our handler is not installed for s, before installing it.

static int32_t watched[NSIGS];
static struct sigaction prev[NSIGS];
static pthread_mutex_t sig_lock = PTHREAD_MUTEX_INITIALIZER; // serialises installs (worker threads)

// The watchdog's trigger set and self-pipe, read by the handler: wd_trigger[s] != 0 makes it write
// the byte s to wd_pipe_w (non-blocking; a full pipe drops it, the thread is already woken).
static int wd_trigger[NSIGS];
static int wd_pipe_w = -1;

static void on_watched(int sig, siginfo_t *si, void *uc) {
  int saved = errno;
  if (sig > 0 && sig < NSIGS) {
    __atomic_fetch_add(&watched[sig], 1, __ATOMIC_SEQ_CST);
    int w = __atomic_load_n(&wd_pipe_w, __ATOMIC_ACQUIRE);
    if (w >= 0 && __atomic_load_n(&wd_trigger[sig], __ATOMIC_ACQUIRE)) {
      unsigned char b = (unsigned char)sig;
      ssize_t r = write(w, &b, 1);
      (void)r;
    }
    const struct sigaction *p = &prev[sig];
    errno = saved;
    if (p->sa_handler != SIG_DFL && p->sa_handler != SIG_IGN) {
      if (p->sa_flags & SA_SIGINFO) p->sa_sigaction(sig, si, uc);
      else p->sa_handler(sig);
    }
  }
  errno = saved;
}

static int is_ours(const struct sigaction *a) {
  return (a->sa_flags & SA_SIGINFO) && a->sa_sigaction == on_watched;
}

// Makes on_watched the handler of every signal in want. All are checked (sigaction query: glibc
// refuses its internal real-time signals) before any is installed. Returns 0, or -1 with errno and
// *bad the signal that failed.
static int install_watch(const unsigned char want[NSIGS], int *bad) {
  pthread_mutex_lock(&sig_lock);
  struct sigaction cur[NSIGS];
  for (int s = 1; s < NSIGS; s++) {
    if (want[s] && sigaction(s, NULL, &cur[s]) != 0) {
      *bad = s;
      pthread_mutex_unlock(&sig_lock);
      return -1;
    }
  }
  for (int s = 1; s < NSIGS; s++) {
    if (!want[s] || is_ours(&cur[s])) continue;
    prev[s] = cur[s];
    struct sigaction ours, old;
    memset(&ours, 0, sizeof ours);
    ours.sa_sigaction = on_watched;
    ours.sa_mask = cur[s].sa_mask;
    ours.sa_flags = SA_SIGINFO | (cur[s].sa_flags & (SA_ONSTACK | SA_NODEFER | SA_RESETHAND | SA_NOCLDSTOP | SA_NOCLDWAIT));
    if (sigaction(s, &ours, &old) != 0) {
      *bad = s;
      pthread_mutex_unlock(&sig_lock);
      return -1;
    }
    // Someone (another thread, outside this lock) changed it between the two calls: chain to that.
    if (old.sa_handler != cur[s].sa_handler || old.sa_flags != cur[s].sa_flags) prev[s] = old;
  }
  pthread_mutex_unlock(&sig_lock);
  return 0;
}

// One external ArrayBuffer over `watched` per env (per thread that loads the addon), kept in the
// instance data, so that repeated calls never make a second ArrayBuffer over the same memory. The
// memory is static: no finalizer is needed, and the buffer outliving anything is harmless.
typedef struct {
  napi_ref watched_ab;
} instance_data;

static void finalize_instance(napi_env env, void *data, void *hint) {
  (void)hint;
  instance_data *d = data;
  if (d->watched_ab) napi_delete_reference(env, d->watched_ab);
  free(d);
}

static napi_value watched_view(napi_env env, const char *fn) {
  instance_data *d = NULL;
  napi_value ab = NULL, view;
  NAPI_OK(napi_get_instance_data(env, (void **)&d), fn);
  if (d && d->watched_ab) NAPI_OK(napi_get_reference_value(env, d->watched_ab, &ab), fn);
  if (!ab) {
    if (!d) {
      d = calloc(1, sizeof *d);
      if (!d) return throw_errno(env, ENOMEM, fn, NULL);
      if (napi_set_instance_data(env, d, finalize_instance, NULL) != napi_ok) {
        free(d);
        return napi_failed(env, fn);
      }
    }
    NAPI_OK(napi_create_external_arraybuffer(env, watched, sizeof watched, NULL, NULL, &ab), fn);
    NAPI_OK(napi_create_reference(env, ab, 1, &d->watched_ab), fn);
  }
  NAPI_OK(napi_create_typedarray(env, napi_int32_array, NSIGS, ab, 0, &view), fn);
  return view;
}

static napi_value throw_sigaction(napi_env env, int bad) {
  char detail[32];
  snprintf(detail, sizeof detail, "signal %d", bad);
  return throw_errno(env, errno, "sigaction", detail);
}

static napi_value js_watch_signals(napi_env env, napi_callback_info info) {
  static const char *fn = "watchSignals";
  napi_value argv[1];
  unsigned char want[NSIGS];
  size_t count;
  int bad = 0;
  if (!get_args(env, info, 1, argv, fn) || !get_signals(env, argv[0], want, &count, fn)) return NULL;
  napi_value view = watched_view(env, fn); // first: nothing is installed if it fails
  if (!view) return NULL;
  if (install_watch(want, &bad) != 0) return throw_sigaction(env, bad);
  return view;
}

// ---------------------------------------------------------------------------------------------
// the watchdog
//
// One detached thread, started by the first armWatchdog and never stopped, with every signal
// blocked. It reads signal numbers from the self-pipe that on_watched writes to; for a signal in
// the armed set it waits graceMs on wd_cond (so disarm wakes it), then, if still armed and not
// disarmed meanwhile (wd.generation unchanged), unlinks the paths, sets SIG_DFL, unblocks the
// signal in itself and kill()s the process with it: the kernel then delivers it to this thread
// (kernel/signal.c complete_signal prefers the sender) and the whole process dies of it. A signal
// whose default action is to ignore it (SIGCHLD, SIGWINCH, SIGURG) does not end the process; the
// watchdog then waits for the next one. The terminal modes Node may have changed (raw mode) are
// not restored: Node's own exit path does that and it is not safe to reach from this thread.

static pthread_mutex_t wd_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wd_cond;
static struct {
  int started;         // the thread runs; set once
  int pipe_r;          // read end of the self-pipe; valid once started
  int armed;           // between armWatchdog and disarmWatchdog
  uint64_t generation; // bumped by every disarm; a countdown from an older one is void
  int grace_ms;        // of the latest armWatchdog
  int second;          // of the latest armWatchdog: fire at a second delivery within grace_ms
  struct timespec last; // with `second`: when the armed watchdog saw the latest signal (0: none)
  char **paths;        // of the latest armWatchdog (owned; replaced by each arm, freed by disarm)
  size_t npaths;
} wd; // all fields under wd_lock

static void free_paths(char **paths, size_t n) {
  for (size_t i = 0; i < n; i++) free(paths[i]);
  free(paths);
}

// Called with wd_lock held, still armed: ends the process with sig, or returns if sig's default
// action does not end it.
static void wd_fire(int sig) {
  // files first, then the directories that held them (a path that is a directory fails unlink)
  for (size_t i = 0; i < wd.npaths; i++)
    if (unlink(wd.paths[i]) != 0 && (errno == EISDIR || errno == EPERM)) rmdir(wd.paths[i]);
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  sigaction(sig, &dfl, NULL);
  sigset_t one;
  sigemptyset(&one);
  sigaddset(&one, sig);
  pthread_sigmask(SIG_UNBLOCK, &one, NULL);
  kill(getpid(), sig);
  pthread_sigmask(SIG_BLOCK, &one, NULL); // still here: the default action ignores sig
}

static void *wd_main(void *arg) {
  (void)arg;
  for (;;) {
    unsigned char b;
    ssize_t r = read(wd.pipe_r, &b, 1); // pipe_r is set before this thread starts and never changes
    if (r < 0 && errno == EINTR) continue;
    if (r != 1) return NULL; // cannot happen: the write end is never closed
    int sig = b;
    pthread_mutex_lock(&wd_lock);
    if (wd.armed && wd.second && sig < NSIGS && __atomic_load_n(&wd_trigger[sig], __ATOMIC_ACQUIRE)) {
      // the second delivery within grace_ms ends the process at once; the first is only noted
      struct timespec now;
      clock_gettime(CLOCK_MONOTONIC, &now);
      int64_t ms = (int64_t)(now.tv_sec - wd.last.tv_sec) * 1000 + (now.tv_nsec - wd.last.tv_nsec) / 1000000;
      if ((wd.last.tv_sec || wd.last.tv_nsec) && ms < wd.grace_ms) wd_fire(sig);
      wd.last = now;
    } else if (wd.armed && sig < NSIGS && __atomic_load_n(&wd_trigger[sig], __ATOMIC_ACQUIRE)) {
      uint64_t gen = wd.generation;
      struct timespec until;
      clock_gettime(CLOCK_MONOTONIC, &until);
      until.tv_sec += wd.grace_ms / 1000;
      until.tv_nsec += (long)(wd.grace_ms % 1000) * 1000000L;
      if (until.tv_nsec >= 1000000000L) until.tv_sec++, until.tv_nsec -= 1000000000L;
      while (wd.armed && wd.generation == gen && pthread_cond_timedwait(&wd_cond, &wd_lock, &until) != ETIMEDOUT) {
      }
      if (wd.armed && wd.generation == gen) wd_fire(sig);
    }
    pthread_mutex_unlock(&wd_lock);
  }
}

// Starts the thread once. Called with wd_lock held. Returns 0 or an errno.
static int wd_start(void) {
  if (wd.started) return 0;
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) return errno;
  if (fcntl(p[1], F_SETFL, O_NONBLOCK) != 0) {
    int e = errno;
    close(p[0]);
    close(p[1]);
    return e;
  }
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&wd_cond, &ca);
  pthread_condattr_destroy(&ca);
  wd.pipe_r = p[0];
  // The thread inherits this mask: every signal blocked, so none is delivered to it by chance.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pthread_attr_t at;
  pthread_attr_init(&at);
  pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
  pthread_t t;
  int e = pthread_create(&t, &at, wd_main, NULL);
  pthread_attr_destroy(&at);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (e != 0) {
    pthread_cond_destroy(&wd_cond);
    close(p[0]);
    close(p[1]);
    return e;
  }
  __atomic_store_n(&wd_pipe_w, p[1], __ATOMIC_RELEASE);
  wd.started = 1;
  return 0;
}

static napi_value js_arm_watchdog(napi_env env, napi_callback_info info) {
  static const char *fn = "armWatchdog";
  napi_value argv[4];
  unsigned char want[NSIGS];
  size_t count;
  int64_t grace;
  bool second = false;
  size_t argc = 4;
  NAPI_OK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL), fn);
  if (argc > 3) {
    napi_valuetype t;
    NAPI_OK(napi_typeof(env, argv[3], &t), fn);
    if (t != napi_undefined && (t != napi_boolean || napi_get_value_bool(env, argv[3], &second) != napi_ok))
      return throw_arg(env, 0, fn, "second must be a boolean");
  }
  if (!get_args(env, info, 3, argv, fn) || !get_signals(env, argv[0], want, &count, fn)) return NULL;
  if (count == 0) return throw_arg(env, 1, fn, "signals must not be empty");
  if (!get_int(env, argv[1], 0, INT_MAX, &grace, fn, "graceMs")) return NULL;
  bool is = false;
  uint32_t n = 0;
  NAPI_OK(napi_is_array(env, argv[2], &is), fn);
  if (!is) return throw_arg(env, 0, fn, "paths must be an array of strings");
  NAPI_OK(napi_get_array_length(env, argv[2], &n), fn);
  char **paths = calloc(n ? n : 1, sizeof *paths);
  if (!paths) return throw_errno(env, ENOMEM, fn, NULL);
  for (uint32_t i = 0; i < n; i++) {
    napi_value e;
    size_t len;
    if (napi_get_element(env, argv[2], i, &e) != napi_ok) {
      free_paths(paths, i);
      return napi_failed(env, fn);
    }
    if (!(paths[i] = get_string(env, e, PATH_MAX - 1, &len, fn, "path"))) {
      free_paths(paths, i);
      return NULL;
    }
  }
  int bad = 0;
  if (install_watch(want, &bad) != 0) {
    free_paths(paths, n);
    return throw_sigaction(env, bad);
  }
  pthread_mutex_lock(&wd_lock);
  int e = wd_start();
  if (e != 0) {
    pthread_mutex_unlock(&wd_lock);
    free_paths(paths, n);
    return throw_errno(env, e, "pthread_create", "the watchdog thread");
  }
  free_paths(wd.paths, wd.npaths);
  wd.paths = paths;
  wd.npaths = n;
  wd.grace_ms = (int)grace;
  if (!wd.armed || wd.second != (int)second) wd.last = (struct timespec){0, 0};
  wd.second = second;
  wd.armed = 1;
  for (int s = 1; s < NSIGS; s++) __atomic_store_n(&wd_trigger[s], want[s], __ATOMIC_RELEASE);
  pthread_mutex_unlock(&wd_lock);
  return NULL;
}

static napi_value js_disarm_watchdog(napi_env env, napi_callback_info info) {
  (void)env;
  (void)info;
  pthread_mutex_lock(&wd_lock);
  for (int s = 1; s < NSIGS; s++) __atomic_store_n(&wd_trigger[s], 0, __ATOMIC_RELEASE);
  wd.armed = 0;
  wd.last = (struct timespec){0, 0};
  wd.generation++;
  free_paths(wd.paths, wd.npaths);
  wd.paths = NULL;
  wd.npaths = 0;
  if (wd.started) pthread_cond_broadcast(&wd_cond);
  pthread_mutex_unlock(&wd_lock);
  return NULL;
}


// ---------------------------------------------------------------------------------------------
// Host calls relative to held descriptors (the gofer's host trees, gofer/hostdirect.ts)
//
// Unlike the rest of this file, these answer a failed system call with -errno instead of throwing:
// the gofer turns it into a protocol errno at once, and a walk's ENOENT is a common answer, whose
// Error object would cost more than the call. Bad arguments still throw before any system call.

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#define RENAME_EXCHANGE (1 << 1)
#endif

// gofer/protocol/messages.ts `Stat`, 64 bytes little-endian; test/native/native-at.test.ts checks it.
enum {
  STAT_INO = 0, STAT_SIZE = 8, STAT_ATIME = 16, STAT_MTIME = 24, STAT_CTIME = 32, STAT_MODE = 40,
  STAT_NLINK = 44, STAT_UID = 48, STAT_GID = 52, STAT_KIND = 56, STAT_LAYER = 60, STAT_BYTES = 64,
};

#define PATH_ARG_MAX 4096

// A name argument: a string (UTF-8) or a Uint8Array (raw bytes), copied NUL-terminated into out
// (PATH_ARG_MAX bytes). 0 with an exception pending when it is neither, too long, or holds a NUL.
// A Uint8Array (the gofer's names) is tried first: one N-API call on that path.
static int get_name(napi_env env, napi_value v, char *out, const char *fn, const char *what) {
  size_t n = 0;
  napi_typedarray_type type;
  void *p = NULL;
  if (napi_get_typedarray_info(env, v, &type, &n, &p, NULL, NULL) == napi_ok) {
    if (type != napi_uint8_array) goto refused;
    if (n >= PATH_ARG_MAX) return throw_arg(env, 1, fn, "name too long (at most 4095 bytes)"), 0;
    if (n) memcpy(out, p, n);
    out[n] = 0;
  } else {
    napi_status st = napi_get_value_string_utf8(env, v, out, PATH_ARG_MAX, &n);
    if (st == napi_string_expected) goto refused;
    if (st != napi_ok) return napi_failed(env, fn), 0;
    if (n >= PATH_ARG_MAX - 1) return throw_arg(env, 1, fn, "name too long (at most 4095 bytes)"), 0;
  }
  if (strlen(out) != n) return throw_arg(env, 1, fn, "a name must not contain NUL"), 0;
  return 1;
refused:;
  char msg[96];
  snprintf(msg, sizeof msg, "%s must be a string or a Uint8Array", what);
  return throw_arg(env, 0, fn, msg), 0;
}

// A Uint8Array's bytes [off, off+len) (len checked to fit). 0 with an exception pending otherwise.
static int get_bytes(napi_env env, napi_value v, napi_value offv, size_t len, uint8_t **at, const char *fn) {
  napi_typedarray_type type;
  size_t n = 0;
  void *p = NULL;
  // not a typed array: napi_invalid_arg, no exception pending
  if (napi_get_typedarray_info(env, v, &type, &n, &p, NULL, NULL) != napi_ok || type != napi_uint8_array) {
    return throw_arg(env, 0, fn, "buf must be a Uint8Array"), 0;
  }
  int64_t off;
  if (!get_int(env, offv, 0, (double)n, &off, fn, "off")) return 0;
  if ((size_t)off + len > n) return throw_arg(env, 1, fn, "the range does not fit in buf"), 0;
  *at = (uint8_t *)p + off;
  return 1;
}

// The result of a call: its value, or -errno.
static napi_value result(napi_env env, long r) {
  return num(env, r < 0 ? -errno : r);
}

static void put32(uint8_t *p, uint32_t v) {
  memcpy(p, &v, 4); // little-endian hosts only (x86-64, arm64), as the rest of the project
}
static void put64(uint8_t *p, uint64_t v) {
  memcpy(p, &v, 8);
}

static void write_stat(uint8_t *o, const struct stat *st) {
  put64(o + STAT_INO, (uint64_t)st->st_ino);
  put64(o + STAT_SIZE, (uint64_t)st->st_size);
  put64(o + STAT_ATIME, (uint64_t)st->st_atim.tv_sec * 1000000000ull + (uint64_t)st->st_atim.tv_nsec);
  put64(o + STAT_MTIME, (uint64_t)st->st_mtim.tv_sec * 1000000000ull + (uint64_t)st->st_mtim.tv_nsec);
  put64(o + STAT_CTIME, (uint64_t)st->st_ctim.tv_sec * 1000000000ull + (uint64_t)st->st_ctim.tv_nsec);
  put32(o + STAT_MODE, st->st_mode & 07777);
  put32(o + STAT_NLINK, (uint32_t)st->st_nlink);
  put32(o + STAT_UID, st->st_uid);
  put32(o + STAT_GID, st->st_gid);
  uint32_t kind = S_ISDIR(st->st_mode) ? 3 : S_ISREG(st->st_mode) ? 4 : S_ISLNK(st->st_mode) ? 7 : 0;
  put32(o + STAT_KIND, kind);
  put32(o + STAT_LAYER, 0);
}

// openat2(dirfd, name, flags, mode, resolve) -> fd | -errno (O_CLOEXEC added)
static napi_value js_openat2(napi_env env, napi_callback_info info) {
  static const char *fn = "openat2";
  napi_value a[5];
  int dirfd;
  int64_t flags, mode, resolve;
  char name[PATH_ARG_MAX];
  if (!get_args(env, info, 5, a, fn) || !get_fd(env, a[0], &dirfd, fn) || !get_name(env, a[1], name, fn, "name") ||
      !get_int(env, a[2], 0, 0x7fffffff, &flags, fn, "flags") || !get_int(env, a[3], 0, 07777, &mode, fn, "mode") ||
      !get_int(env, a[4], 0, 0xff, &resolve, fn, "resolve")) {
    return NULL;
  }
  struct open_how how = { .flags = (uint64_t)flags | O_CLOEXEC, .mode = (uint64_t)((flags & (O_CREAT | O_TMPFILE)) ? mode : 0), .resolve = (uint64_t)resolve };
  long r;
  do r = syscall(SYS_openat2, dirfd, name, &how, sizeof how);
  while (r < 0 && errno == EINTR);
  return result(env, r);
}

// statInto(dirfd, name, flags, buf, off) -> st_mode | -errno; the protocol's Stat at buf[off]
static napi_value js_stat_into(napi_env env, napi_callback_info info) {
  static const char *fn = "statInto";
  napi_value a[5];
  int dirfd;
  int64_t flags;
  char name[PATH_ARG_MAX];
  uint8_t *out;
  if (!get_args(env, info, 5, a, fn) || !get_fd(env, a[0], &dirfd, fn) || !get_name(env, a[1], name, fn, "name") ||
      !get_int(env, a[2], 0, 0xffff, &flags, fn, "flags") || !get_bytes(env, a[3], a[4], STAT_BYTES, &out, fn)) {
    return NULL;
  }
  struct stat st;
  if (fstatat(dirfd, name, &st, (int)flags) != 0) return num(env, -errno);
  write_stat(out, &st);
  return num(env, st.st_mode);
}

// mkdirat(dirfd, name, mode) -> 0 | -errno
static napi_value js_mkdirat(napi_env env, napi_callback_info info) {
  static const char *fn = "mkdirat";
  napi_value a[3];
  int dirfd;
  int64_t mode;
  char name[PATH_ARG_MAX];
  if (!get_args(env, info, 3, a, fn) || !get_fd(env, a[0], &dirfd, fn) || !get_name(env, a[1], name, fn, "name") ||
      !get_int(env, a[2], 0, 07777, &mode, fn, "mode")) {
    return NULL;
  }
  return result(env, mkdirat(dirfd, name, (mode_t)mode));
}

// unlinkat(dirfd, name, flags) -> 0 | -errno
static napi_value js_unlinkat(napi_env env, napi_callback_info info) {
  static const char *fn = "unlinkat";
  napi_value a[3];
  int dirfd;
  int64_t flags;
  char name[PATH_ARG_MAX];
  if (!get_args(env, info, 3, a, fn) || !get_fd(env, a[0], &dirfd, fn) || !get_name(env, a[1], name, fn, "name") ||
      !get_int(env, a[2], 0, 0xffff, &flags, fn, "flags")) {
    return NULL;
  }
  return result(env, unlinkat(dirfd, name, (int)flags));
}

// Two (dirfd, name) pairs and flags, for renameat2 and linkat.
static int get_pair(napi_env env, napi_callback_info info, const char *fn, int *od, char *on, int *nd, char *nn, int64_t *flags) {
  napi_value a[5];
  return get_args(env, info, 5, a, fn) && get_fd(env, a[0], od, fn) && get_name(env, a[1], on, fn, "oldname") && get_fd(env, a[2], nd, fn) &&
         get_name(env, a[3], nn, fn, "newname") && get_int(env, a[4], 0, 0xffff, flags, fn, "flags");
}

// renameat2(olddirfd, oldname, newdirfd, newname, flags) -> 0 | -errno
static napi_value js_renameat2(napi_env env, napi_callback_info info) {
  int od, nd;
  int64_t flags;
  char on[PATH_ARG_MAX], nn[PATH_ARG_MAX];
  if (!get_pair(env, info, "renameat2", &od, on, &nd, nn, &flags)) return NULL;
  return result(env, syscall(SYS_renameat2, od, on, nd, nn, (unsigned)flags));
}

// linkat(olddirfd, oldname, newdirfd, newname, flags) -> 0 | -errno
static napi_value js_linkat(napi_env env, napi_callback_info info) {
  int od, nd;
  int64_t flags;
  char on[PATH_ARG_MAX], nn[PATH_ARG_MAX];
  if (!get_pair(env, info, "linkat", &od, on, &nd, nn, &flags)) return NULL;
  return result(env, linkat(od, on, nd, nn, (int)flags));
}

// symlinkat(target, dirfd, name) -> 0 | -errno
static napi_value js_symlinkat(napi_env env, napi_callback_info info) {
  static const char *fn = "symlinkat";
  napi_value a[3];
  int dirfd;
  char target[PATH_ARG_MAX], name[PATH_ARG_MAX];
  if (!get_args(env, info, 3, a, fn) || !get_name(env, a[0], target, fn, "target") || !get_fd(env, a[1], &dirfd, fn) ||
      !get_name(env, a[2], name, fn, "name")) {
    return NULL;
  }
  return result(env, symlinkat(target, dirfd, name));
}

// fchmodat(dirfd, name, mode) -> 0 | -errno
static napi_value js_fchmodat(napi_env env, napi_callback_info info) {
  static const char *fn = "fchmodat";
  napi_value a[3];
  int dirfd;
  int64_t mode;
  char name[PATH_ARG_MAX];
  if (!get_args(env, info, 3, a, fn) || !get_fd(env, a[0], &dirfd, fn) || !get_name(env, a[1], name, fn, "name") ||
      !get_int(env, a[2], 0, 07777, &mode, fn, "mode")) {
    return NULL;
  }
  return result(env, fchmodat(dirfd, name, (mode_t)mode, 0));
}

// readlinkInto(dirfd, name, buf, off, max) -> length | -errno (-ENAMETOOLONG when max is too small)
static napi_value js_readlink_into(napi_env env, napi_callback_info info) {
  static const char *fn = "readlinkInto";
  napi_value a[5];
  int dirfd;
  int64_t max;
  char name[PATH_ARG_MAX];
  uint8_t *out;
  if (!get_args(env, info, 5, a, fn) || !get_fd(env, a[0], &dirfd, fn) || !get_name(env, a[1], name, fn, "name") ||
      !get_int(env, a[4], 1, 1 << 30, &max, fn, "max") || !get_bytes(env, a[2], a[3], (size_t)max, &out, fn)) {
    return NULL;
  }
  ssize_t n = readlinkat(dirfd, name, (char *)out, (size_t)max);
  if (n < 0) return num(env, -errno);
  return num(env, n == max ? -ENAMETOOLONG : n);
}

// utimensat(dirfd, name, aSec, aNsec, mSec, mNsec, flags) -> 0 | -errno. name "" acts on dirfd
// itself (a NULL path: not possible for an O_PATH descriptor); nsec may be UTIME_NOW or UTIME_OMIT.
static napi_value js_utimensat(napi_env env, napi_callback_info info) {
  static const char *fn = "utimensat";
  napi_value a[7];
  int dirfd;
  int64_t as, an, ms, mn, flags;
  char name[PATH_ARG_MAX];
  if (!get_args(env, info, 7, a, fn) || !get_fd(env, a[0], &dirfd, fn) || !get_name(env, a[1], name, fn, "name") ||
      !get_int(env, a[2], -MAX_SAFE, MAX_SAFE, &as, fn, "aSec") || !get_int(env, a[3], 0, UTIME_NOW, &an, fn, "aNsec") ||
      !get_int(env, a[4], -MAX_SAFE, MAX_SAFE, &ms, fn, "mSec") || !get_int(env, a[5], 0, UTIME_NOW, &mn, fn, "mNsec") ||
      !get_int(env, a[6], 0, 0xffff, &flags, fn, "flags")) {
    return NULL;
  }
  struct timespec ts[2] = { { .tv_sec = as, .tv_nsec = an }, { .tv_sec = ms, .tv_nsec = mn } };
  // the raw system call: glibc's wrapper does not take a NULL path
  return result(env, syscall(SYS_utimensat, dirfd, name[0] ? name : NULL, ts, (int)flags));
}

// getdentsInto(fd, buf, off, len) -> bytes of linux_dirent64 records | -errno (0 at the end)
static napi_value js_getdents_into(napi_env env, napi_callback_info info) {
  static const char *fn = "getdentsInto";
  napi_value a[4];
  int fd;
  int64_t len;
  uint8_t *out;
  if (!get_args(env, info, 4, a, fn) || !get_fd(env, a[0], &fd, fn) || !get_int(env, a[3], 0, 1 << 30, &len, fn, "len") ||
      !get_bytes(env, a[1], a[2], (size_t)len, &out, fn)) {
    return NULL;
  }
  return result(env, syscall(SYS_getdents64, fd, out, (size_t)len));
}

// lseekSet(fd, pos) -> pos | -errno
static napi_value js_lseek_set(napi_env env, napi_callback_info info) {
  static const char *fn = "lseekSet";
  napi_value a[2];
  int fd;
  int64_t pos;
  if (!get_args(env, info, 2, a, fn) || !get_fd(env, a[0], &fd, fn) || !get_int(env, a[1], 0, MAX_SAFE, &pos, fn, "pos")) return NULL;
  return result(env, lseek(fd, (off_t)pos, SEEK_SET));
}

// setAppend(fd, on) -> 0 | -errno: O_APPEND set or cleared (fcntl F_SETFL)
static napi_value js_set_append(napi_env env, napi_callback_info info) {
  static const char *fn = "setAppend";
  napi_value a[2];
  int fd;
  bool on;
  if (!get_args(env, info, 2, a, fn) || !get_fd(env, a[0], &fd, fn)) return NULL;
  if (napi_get_value_bool(env, a[1], &on) != napi_ok) return throw_arg(env, 0, fn, "on must be a boolean");
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0) return num(env, -errno);
  return result(env, fcntl(fd, F_SETFL, on ? (fl | O_APPEND) : (fl & ~O_APPEND)));
}

// The body of preadInto, pwriteStat and rwAt. a: fd, buf, off, len, pos, and for a write statOff:
// pread(2) straight into buf[off, off+len), or pwrite(2) of it and then (when it wrote, and statOff
// is not -1) the file's attributes as the protocol's Stat at buf[statOff]: one call for both.
static napi_value rw_at(napi_env env, bool write, napi_value *a, const char *fn) {
  int fd;
  int64_t len, pos, stat_off = -1;
  uint8_t *at, *st_out = NULL;
  if (!get_fd(env, a[0], &fd, fn) || !get_int(env, a[3], 0, 0x7fffffff, &len, fn, "len") ||
      !get_int(env, a[4], 0, 9007199254740991.0, &pos, fn, "pos") || !get_bytes(env, a[1], a[2], (size_t)len, &at, fn) ||
      (write && !get_int(env, a[5], -1, 0x7fffffff, &stat_off, fn, "statOff")) ||
      (stat_off >= 0 && !get_bytes(env, a[1], a[5], STAT_BYTES, &st_out, fn))) {
    return NULL;
  }
  ssize_t r;
  if (write) {
    do r = pwrite(fd, at, (size_t)len, (off_t)pos);
    while (r < 0 && errno == EINTR);
  } else {
    do r = pread(fd, at, (size_t)len, (off_t)pos);
    while (r < 0 && errno == EINTR);
  }
  if (r < 0) return num(env, -errno);
  if (!st_out) return num(env, r);
  struct stat st;
  if (fstat(fd, &st) != 0) return num(env, -errno);
  write_stat(st_out, &st);
  return num(env, r);
}

// preadInto(fd, buf, off, len, pos) -> bytes | -errno
static napi_value js_pread_into(napi_env env, napi_callback_info info) {
  static const char *fn = "preadInto";
  napi_value a[5];
  return get_args(env, info, 5, a, fn) ? rw_at(env, false, a, fn) : NULL;
}

// pwriteStat(fd, buf, off, len, pos, statOff) -> bytes | -errno
static napi_value js_pwrite_stat(napi_env env, napi_callback_info info) {
  static const char *fn = "pwriteStat";
  napi_value a[6];
  return get_args(env, info, 6, a, fn) ? rw_at(env, true, a, fn) : NULL;
}

// rwAt(write, fd, buf, off, len, pos, statOff) -> bytes | -errno: either of the two above (statOff
// unread for a read), for a caller that serves both directions from one call site
// (host/sandbox/glue.ts ONE PATH: a second native target there would deoptimize it)
static napi_value js_rw_at(napi_env env, napi_callback_info info) {
  static const char *fn = "rwAt";
  napi_value a[7];
  bool write;
  if (!get_args(env, info, 7, a, fn)) return NULL;
  if (napi_get_value_bool(env, a[0], &write) != napi_ok) return throw_arg(env, 0, fn, "write must be a boolean");
  return rw_at(env, write, a + 1, fn);
}

// reopen(fd, flags) -> fd | -errno: a new open file description of what O_PATH fd `fd` holds, through
// /proc/self/fd (the object itself, whatever its names are now), with O_CLOEXEC | O_NOCTTY
static napi_value js_reopen(napi_env env, napi_callback_info info) {
  static const char *fn = "reopen";
  napi_value a[2];
  int fd;
  int64_t flags;
  if (!get_args(env, info, 2, a, fn) || !get_fd(env, a[0], &fd, fn) || !get_int(env, a[1], 0, 0x7fffffff, &flags, fn, "flags")) return NULL;
  if (flags & (O_CREAT | O_TMPFILE)) return throw_arg(env, 1, fn, "flags must not create");
  char path[32];
  snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  int r;
  do r = open(path, (int)flags | O_CLOEXEC | O_NOCTTY);
  while (r < 0 && errno == EINTR);
  return result(env, r);
}

// openSame(dirfd, name, flags, resolve, ino, type) -> fd | -errno: opens `name` beneath dirfd (openat2
// with `resolve`, never following, never creating) only if it is still the object of inode `ino` (a
// BigInt) and file type `type` (st_mode & S_IFMT); else -ESTALE, nothing left open. The open is
// O_NONBLOCK until checked (a FIFO put in the file's place must not block the gofer), and the flags
// asked for are set again once it is the file. Cheaper than reopen's path through /proc/self/fd.
static napi_value js_open_same(napi_env env, napi_callback_info info) {
  static const char *fn = "openSame";
  napi_value a[6];
  int dirfd;
  int64_t flags, resolve, type;
  uint64_t ino;
  bool lossless;
  char name[PATH_ARG_MAX];
  if (!get_args(env, info, 6, a, fn) || !get_fd(env, a[0], &dirfd, fn) || !get_name(env, a[1], name, fn, "name") ||
      !get_int(env, a[2], 0, 0x7fffffff, &flags, fn, "flags") || !get_int(env, a[3], 0, 0xff, &resolve, fn, "resolve") ||
      !get_int(env, a[5], 0, S_IFMT, &type, fn, "type")) {
    return NULL;
  }
  if (napi_get_value_bigint_uint64(env, a[4], &ino, &lossless) != napi_ok || !lossless) return throw_arg(env, 0, fn, "ino must be a BigInt of 64 bits");
  if (flags & (O_CREAT | O_TMPFILE | O_TRUNC)) return throw_arg(env, 1, fn, "flags must not create or truncate");
  struct open_how how = { .flags = (uint64_t)flags | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, .mode = 0, .resolve = (uint64_t)resolve };
  long r;
  do r = syscall(SYS_openat2, dirfd, name, &how, sizeof how);
  while (r < 0 && errno == EINTR);
  if (r < 0) return num(env, -errno);
  int fd = (int)r;
  struct stat st;
  if (fstat(fd, &st) != 0 || st.st_ino != ino || (int64_t)(st.st_mode & S_IFMT) != type ||
      (!(flags & O_NONBLOCK) && fcntl(fd, F_SETFL, (int)flags) != 0)) {
    close(fd);
    return num(env, -ESTALE);
  }
  return num(env, fd);
}

// closeFd(fd) -> 0 | -errno (close(2) is not retried: the descriptor is gone either way)
static napi_value js_close_fd(napi_env env, napi_callback_info info) {
  static const char *fn = "closeFd";
  napi_value a[1];
  int fd;
  if (!get_args(env, info, 1, a, fn) || !get_fd(env, a[0], &fd, fn)) return NULL;
  return result(env, close(fd));
}

// fstatfsInto(fd, f64) -> 0 | -errno: [blocks, bfree, bavail, files, ffree, bsize, namelen]
static napi_value js_fstatfs_into(napi_env env, napi_callback_info info) {
  static const char *fn = "fstatfsInto";
  napi_value a[2];
  int fd;
  bool is = false;
  napi_typedarray_type type;
  size_t n = 0;
  void *p = NULL;
  if (!get_args(env, info, 2, a, fn) || !get_fd(env, a[0], &fd, fn)) return NULL;
  if (napi_is_typedarray(env, a[1], &is) != napi_ok || !is || napi_get_typedarray_info(env, a[1], &type, &n, &p, NULL, NULL) != napi_ok ||
      type != napi_float64_array || n < 7) {
    return throw_arg(env, 0, fn, "out must be a Float64Array of 7 or more");
  }
  struct statfs st;
  if (fstatfs(fd, &st) != 0) return num(env, -errno);
  double *o = p;
  o[0] = (double)st.f_blocks, o[1] = (double)st.f_bfree, o[2] = (double)st.f_bavail, o[3] = (double)st.f_files;
  o[4] = (double)st.f_ffree, o[5] = (double)st.f_bsize, o[6] = (double)st.f_namelen;
  return num(env, 0);
}

// ---------------------------------------------------------------------------------------------

static napi_status add_fn(napi_env env, napi_value exports, const char *name, napi_callback cb) {
  napi_value f;
  napi_status s = napi_create_function(env, name, NAPI_AUTO_LENGTH, cb, NULL, &f);
  return s == napi_ok ? napi_set_named_property(env, exports, name, f) : s;
}

static napi_status add_int(napi_env env, napi_value exports, const char *name, int64_t v) {
  napi_value x;
  napi_status s = napi_create_int64(env, v, &x);
  return s == napi_ok ? napi_set_named_property(env, exports, name, x) : s;
}

NAPI_MODULE_INIT() {
  if (add_fn(env, exports, "mmap", js_mmap) != napi_ok || add_fn(env, exports, "munmap", js_munmap) != napi_ok ||
      add_fn(env, exports, "memfdCreate", js_memfd_create) != napi_ok || add_fn(env, exports, "close", js_close) != napi_ok ||
      add_fn(env, exports, "fallocate", js_fallocate) != napi_ok || add_fn(env, exports, "punch", js_punch) != napi_ok ||
      add_fn(env, exports, "allocate", js_allocate) != napi_ok ||
      add_fn(env, exports, "ftruncate", js_ftruncate) != napi_ok ||
      add_fn(env, exports, "populateWrite", js_populate_write) != napi_ok || add_fn(env, exports, "populateRead", js_populate_read) != napi_ok || add_fn(env, exports, "hostRw", js_host_rw) != napi_ok || add_fn(env, exports, "pageStore", js_page_store) != napi_ok ||
      add_fn(env, exports, "pageStorePages", js_page_store_pages) != napi_ok || add_fn(env, exports, "pageStoreChunk", js_page_store_chunk) != napi_ok ||
      add_fn(env, exports, "pageStoreCounts", js_page_store_counts) != napi_ok || add_fn(env, exports, "pageCopy", js_page_copy) != napi_ok || add_fn(env, exports, "clockTicker", js_clock_ticker) != napi_ok || add_fn(env, exports, "clockWake", js_clock_wake) != napi_ok || add_fn(env, exports, "clockStop", js_clock_stop) != napi_ok ||
      add_fn(env, exports, "cloexecAll", js_cloexec_all) != napi_ok || add_fn(env, exports, "hugePages", js_huge_pages) != napi_ok ||
      add_fn(env, exports, "forwardSigterm", js_forward_sigterm) != napi_ok ||
      add_fn(env, exports, "takeSigterm", js_take_sigterm) != napi_ok ||
      add_fn(env, exports, "openpty", js_openpty) != napi_ok || add_fn(env, exports, "sendFd", js_send_fd) != napi_ok ||
      add_fn(env, exports, "listenFdSocket", js_listen_fd_socket) != napi_ok ||
      add_fn(env, exports, "acceptFd", js_accept_fd) != napi_ok || add_fn(env, exports, "recvFd", js_recv_fd) != napi_ok ||
      add_fn(env, exports, "setControllingTerminal", js_set_controlling_terminal) != napi_ok ||
      add_fn(env, exports, "dup2", js_dup2) != napi_ok || add_fn(env, exports, "setWinsize", js_set_winsize) != napi_ok ||
      add_fn(env, exports, "getWinsize", js_get_winsize) != napi_ok ||
      add_fn(env, exports, "watchSignals", js_watch_signals) != napi_ok ||
      add_fn(env, exports, "armWatchdog", js_arm_watchdog) != napi_ok ||
      add_fn(env, exports, "disarmWatchdog", js_disarm_watchdog) != napi_ok ||
      add_fn(env, exports, "openat2", js_openat2) != napi_ok || add_fn(env, exports, "statInto", js_stat_into) != napi_ok ||
      add_fn(env, exports, "mkdirat", js_mkdirat) != napi_ok || add_fn(env, exports, "unlinkat", js_unlinkat) != napi_ok ||
      add_fn(env, exports, "renameat2", js_renameat2) != napi_ok || add_fn(env, exports, "linkat", js_linkat) != napi_ok ||
      add_fn(env, exports, "symlinkat", js_symlinkat) != napi_ok || add_fn(env, exports, "fchmodat", js_fchmodat) != napi_ok ||
      add_fn(env, exports, "readlinkInto", js_readlink_into) != napi_ok || add_fn(env, exports, "utimensat", js_utimensat) != napi_ok ||
      add_fn(env, exports, "getdentsInto", js_getdents_into) != napi_ok || add_fn(env, exports, "lseekSet", js_lseek_set) != napi_ok ||
      add_fn(env, exports, "setAppend", js_set_append) != napi_ok || add_fn(env, exports, "fstatfsInto", js_fstatfs_into) != napi_ok ||
      add_fn(env, exports, "preadInto", js_pread_into) != napi_ok || add_fn(env, exports, "pwriteStat", js_pwrite_stat) != napi_ok ||
      add_fn(env, exports, "rwAt", js_rw_at) != napi_ok ||
      add_fn(env, exports, "reopen", js_reopen) != napi_ok || add_fn(env, exports, "openSame", js_open_same) != napi_ok || add_fn(env, exports, "closeFd", js_close_fd) != napi_ok ||
      add_int(env, exports, "RESOLVE_NO_XDEV", RESOLVE_NO_XDEV) != napi_ok || add_int(env, exports, "RESOLVE_NO_MAGICLINKS", RESOLVE_NO_MAGICLINKS) != napi_ok ||
      add_int(env, exports, "RESOLVE_NO_SYMLINKS", RESOLVE_NO_SYMLINKS) != napi_ok || add_int(env, exports, "RESOLVE_BENEATH", RESOLVE_BENEATH) != napi_ok ||
      add_int(env, exports, "O_PATH", O_PATH) != napi_ok || add_int(env, exports, "O_NOFOLLOW", O_NOFOLLOW) != napi_ok ||
      add_int(env, exports, "O_DIRECTORY", O_DIRECTORY) != napi_ok || add_int(env, exports, "O_NONBLOCK", O_NONBLOCK) != napi_ok ||
      add_int(env, exports, "AT_SYMLINK_NOFOLLOW", AT_SYMLINK_NOFOLLOW) != napi_ok || add_int(env, exports, "AT_EMPTY_PATH", AT_EMPTY_PATH) != napi_ok ||
      add_int(env, exports, "AT_REMOVEDIR", AT_REMOVEDIR) != napi_ok || add_int(env, exports, "AT_SYMLINK_FOLLOW", AT_SYMLINK_FOLLOW) != napi_ok ||
      add_int(env, exports, "RENAME_NOREPLACE", RENAME_NOREPLACE) != napi_ok || add_int(env, exports, "UTIME_NOW", UTIME_NOW) != napi_ok ||
      add_int(env, exports, "UTIME_OMIT", UTIME_OMIT) != napi_ok ||
      add_int(env, exports, "FALLOC_FL_KEEP_SIZE", FALLOC_FL_KEEP_SIZE) != napi_ok ||
      add_int(env, exports, "FALLOC_FL_PUNCH_HOLE", FALLOC_FL_PUNCH_HOLE) != napi_ok ||
      add_int(env, exports, "MFD_CLOEXEC", MFD_CLOEXEC) != napi_ok ||
      add_int(env, exports, "PAGE_SIZE", sysconf(_SC_PAGESIZE)) != napi_ok) {
    return NULL;
  }
  return exports;
}
