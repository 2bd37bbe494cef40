// probe: the outside-in conformance probe of the file system a WASI preview1 guest sees.
//
// Runs every file-system call of wasi_snapshot_preview1 on its success and error paths against the
// fixture tree of test/lib/fixtures.ts (probeImageSpec), and prints exactly one line per result, so
// that the same program run under the sandbox and under node:wasi on a real Linux overlayfs mount
// (test/e2e/probe.test.ts) can be compared line by line.
//
// Output contract (what keeps it deterministic across runtimes):
//   - `## NAME` starts a section; then `what -> result` lines; the last line is `exit 7`.
//   - errors print as errno names (ENOENT), success as `ok`; never raw inode or device numbers, fds,
//     or absolute timestamps, only relations ("ino same after copy-up: yes").
//   - directory listings are sorted before printing; '.' and '..' are reported on their own line.
//   - each section works only on its own fixture paths and on /s/<section>, so `probe SECTION` on a
//     fresh image prints exactly the lines that section prints in a full run.
// Usage: probe [SECTION ...]   (no argument: all sections, in order). Exit status 7 (EXIT_CODE), so
// that a harness can check exit-code propagation; 2 for an unknown section, 3 without a '/' preopen.
//
// Sections (see SECTIONS at the end):
//   prestat   fd_prestat_get / fd_prestat_dir_name, the '/' preopen, the root listing
//   open      path_open: O_CREAT, O_EXCL, O_TRUNC, O_DIRECTORY and their errors
//   rw        fd_read/write/pread/pwrite/seek/tell/close, holes, vectored I/O, access modes, O_APPEND
//   fdstat    fd_fdstat_get (type, rights, flags), fd_fdstat_set_flags
//   filestat  fd_/path_filestat_get, fd_filestat_set_size, fd_/path_filestat_set_times
//   dirs      path_create_directory, path_remove_directory, path_unlink_file
//   readdir   fd_readdir in small buffers, cookies, listings that change between calls
//   rename    path_rename of files and dirs, and the errors of mixing them
//   symlink   path_symlink, path_readlink, links in path walks, ELOOP, '..' at the root
//   link      path_link, hard links from a lower layer
//   misc      fd_sync, fd_datasync, fd_advise, fd_allocate, fd_renumber
//   overlay   layers, whiteouts, opaque dirs, copy-up (fd views, st_ino), lower removes/renames
//   big       a 300 KiB lower file: page-crossing reads, copy-up, shrink/grow holes
//   fault     hostile pointers (out of bounds, straddling the end, wrapping): EFAULT, nothing changed
//
// Raw __wasi_* calls are used throughout (not libc), so that flags, rights, cookies and errnos are
// exactly what is asked and returned. Paths are absolute and resolved against the '/' preopen.
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wasi/api.h>

#define EXIT_CODE 7

// ---------------------------------------------------------------------------------------------
// Output helpers

#include "errnames.h"

static const char *yn(int b) { return b ? "yes" : "no"; }

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  putchar('\n');
}

// Prints `DESCRIPTION -> ok|ENAME` and returns e.
static __wasi_errno_t res(__wasi_errno_t e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static __wasi_errno_t res(__wasi_errno_t e, const char *fmt, ...) {
  char d[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(d, sizeof d, fmt, ap);
  va_end(ap);
  printf("%s -> %s\n", d, ename(e));
  return e;
}

// Quotes bytes as a C-like string literal, at most 120 bytes shown. Four rotating buffers.
static const char *q(const void *p, size_t n) {
  static char bufs[4][600];
  static int which;
  char *o = bufs[which++ & 3];
  const uint8_t *b = p;
  size_t k = 0;
  o[k++] = '"';
  for (size_t i = 0; i < n && i < 120; i++) {
    uint8_t c = b[i];
    if (c == '\n') k += sprintf(o + k, "\\n");
    else if (c == '"' || c == '\\') k += sprintf(o + k, "\\%c", c);
    else if (c >= 32 && c < 127) o[k++] = (char)c;
    else k += sprintf(o + k, "\\x%02x", c);
  }
  o[k++] = '"';
  if (n > 120) k += sprintf(o + k, "...");
  o[k] = 0;
  return o;
}

static const char *ftype(__wasi_filetype_t t) {
  switch (t) {
    case __WASI_FILETYPE_UNKNOWN: return "UNKNOWN";
    case __WASI_FILETYPE_BLOCK_DEVICE: return "BLOCK_DEVICE";
    case __WASI_FILETYPE_CHARACTER_DEVICE: return "CHARACTER_DEVICE";
    case __WASI_FILETYPE_DIRECTORY: return "DIRECTORY";
    case __WASI_FILETYPE_REGULAR_FILE: return "REGULAR_FILE";
    case __WASI_FILETYPE_SOCKET_DGRAM: return "SOCKET_DGRAM";
    case __WASI_FILETYPE_SOCKET_STREAM: return "SOCKET_STREAM";
    case __WASI_FILETYPE_SYMBOLIC_LINK: return "SYMBOLIC_LINK";
  }
  return "?";
}

// ---------------------------------------------------------------------------------------------
// Path and fd helpers over the raw WASI calls. All paths are absolute; ROOT is the '/' preopen.

static __wasi_fd_t ROOT = (__wasi_fd_t)-1;
static __wasi_rights_t ROOT_INHERITING;

// The path relative to ROOT that wasi-libc would pass for an absolute path: "/" -> ".".
static const char *rel(const char *p) {
  if (p[0] != '/') return p;
  p++;
  return *p ? p : ".";
}

enum { RD = 1, WR = 2, NOFOLLOW = 4 };

// path_open with rights computed as wasi-libc's openat does: everything the parent may hand out,
// minus the rights that contradict the access mode.
static __wasi_errno_t po(const char *path, int how, __wasi_oflags_t of, __wasi_fdflags_t ff, __wasi_fd_t *fd) {
  __wasi_rights_t max = ~(__WASI_RIGHTS_FD_DATASYNC | __WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_WRITE |
                          __WASI_RIGHTS_FD_ALLOCATE | __WASI_RIGHTS_FD_READDIR |
                          __WASI_RIGHTS_FD_FILESTAT_SET_SIZE);
  if (how & RD) max |= __WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_READDIR;
  if (how & WR)
    max |= __WASI_RIGHTS_FD_DATASYNC | __WASI_RIGHTS_FD_WRITE | __WASI_RIGHTS_FD_ALLOCATE |
           __WASI_RIGHTS_FD_FILESTAT_SET_SIZE;
  __wasi_lookupflags_t lf = (how & NOFOLLOW) ? 0 : __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW;
  __wasi_fd_t tmp;
  if (!fd) fd = &tmp;
  return __wasi_path_open(ROOT, lf, rel(path), of, max & ROOT_INHERITING, ROOT_INHERITING, ff, fd);
}

static __wasi_errno_t cl(__wasi_fd_t fd) { return __wasi_fd_close(fd); }

static __wasi_errno_t wr(__wasi_fd_t fd, const void *b, size_t n, size_t *done) {
  __wasi_ciovec_t iov = {b, n};
  size_t tmp;
  return __wasi_fd_write(fd, &iov, 1, done ? done : &tmp);
}

// Writes a whole string; a short write is reported as EIO.
static __wasi_errno_t wrs(__wasi_fd_t fd, const char *s) {
  size_t n;
  __wasi_errno_t e = wr(fd, s, strlen(s), &n);
  return e ? e : (n == strlen(s) ? 0 : __WASI_ERRNO_IO);
}

static __wasi_errno_t rd(__wasi_fd_t fd, void *b, size_t n, size_t *got) {
  __wasi_iovec_t iov = {b, n};
  return __wasi_fd_read(fd, &iov, 1, got);
}

// Reads until EOF or cap.
static __wasi_errno_t rdall(__wasi_fd_t fd, uint8_t *b, size_t cap, size_t *got) {
  *got = 0;
  for (;;) {
    size_t n;
    __wasi_errno_t e = rd(fd, b + *got, cap - *got, &n);
    if (e) return e;
    if (n == 0 || (*got += n) == cap) return 0;
  }
}

// path_filestat_get; *st is zeroed when it fails, so that no garbage is ever printed.
static __wasi_errno_t pst(const char *path, int follow, __wasi_filestat_t *st) {
  __wasi_errno_t e = __wasi_path_filestat_get(ROOT, follow ? __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW : 0, rel(path), st);
  if (e) memset(st, 0, sizeof *st);
  return e;
}

// fd_filestat_get that prints only its failure (and zeroes *st then).
static void fst(__wasi_fd_t fd, __wasi_filestat_t *st) {
  __wasi_errno_t e = __wasi_fd_filestat_get(fd, st);
  if (e) {
    memset(st, 0, sizeof *st);
    res(e, "fd_filestat_get");
  }
}
static __wasi_errno_t mkd(const char *p) { return __wasi_path_create_directory(ROOT, rel(p)); }
static __wasi_errno_t rmd(const char *p) { return __wasi_path_remove_directory(ROOT, rel(p)); }
static __wasi_errno_t unl(const char *p) { return __wasi_path_unlink_file(ROOT, rel(p)); }
static __wasi_errno_t ren(const char *a, const char *b) { return __wasi_path_rename(ROOT, rel(a), ROOT, rel(b)); }
static __wasi_errno_t sym(const char *target, const char *p) { return __wasi_path_symlink(target, ROOT, rel(p)); }
static __wasi_errno_t lnk(const char *a, const char *b) { return __wasi_path_link(ROOT, 0, rel(a), ROOT, rel(b)); }

// Creates (or truncates) a file with the given content. Prints nothing unless it fails.
static __wasi_errno_t put(const char *path, const char *content) {
  __wasi_fd_t fd;
  __wasi_errno_t e = po(path, WR, __WASI_OFLAGS_CREAT | __WASI_OFLAGS_TRUNC, 0, &fd);
  if (!e) {
    e = wrs(fd, content);
    cl(fd);
  }
  if (e) res(e, "setup: write %s", path);
  return e;
}

// The section's scratch directory /s/NAME. Prints nothing unless it fails.
static void scratch(const char *name) {
  char p[64];
  snprintf(p, sizeof p, "/s/%s", name);
  __wasi_errno_t e = mkd(p);
  if (e) res(e, "setup: mkdir %s", p);
}

static uint8_t BUF[64 * 1024];

// Prints `read PATH -> "content"` or `read PATH -> ENAME` (open then read to EOF).
static void cat(const char *path) {
  __wasi_fd_t fd;
  size_t n;
  __wasi_errno_t e = po(path, RD, 0, 0, &fd);
  if (!e) {
    e = rdall(fd, BUF, sizeof BUF, &n);
    cl(fd);
  }
  if (e) res(e, "read %s", path);
  else say("read %s -> %s", path, q(BUF, n));
}

// Same as cat, through an already open fd from its current offset.
static void catfd(const char *what, __wasi_fd_t fd) {
  size_t n;
  __wasi_errno_t e = rdall(fd, BUF, sizeof BUF, &n);
  if (e) res(e, "%s", what);
  else say("%s -> %s", what, q(BUF, n));
}

// Prints `stat PATH -> TYPE size N` (follow) or the error; no size for directories.
static void stat_line(const char *path, int follow) {
  __wasi_filestat_t st = {0};
  __wasi_errno_t e = pst(path, follow, &st);
  if (e) res(e, "stat%s %s", follow ? "" : " nofollow", path);
  else if (st.filetype == __WASI_FILETYPE_DIRECTORY)  // a directory's size is up to the file system
    say("stat%s %s -> %s", follow ? "" : " nofollow", path, ftype(st.filetype));
  else say("stat%s %s -> %s size %llu", follow ? "" : " nofollow", path, ftype(st.filetype),
           (unsigned long long)st.size);
}

static uint64_t ino_of(const char *path) {
  __wasi_filestat_t st = {0};
  return pst(path, 0, &st) ? 0 : st.ino;
}

// ---------------------------------------------------------------------------------------------
// Directory listings

#define MAXENT 256
typedef struct {
  char name[64];
  __wasi_filetype_t type;
  uint64_t ino;
} ent_t;
typedef struct {
  ent_t e[MAXENT];
  int n;
  int calls;  // fd_readdir calls made
  int dot, dotdot;
  int dups;   // names returned more than once
  int seen[MAXENT];
} listing_t;

static void add_ent(listing_t *L, const char *name, size_t len, __wasi_filetype_t type, uint64_t ino) {
  if (len == 1 && name[0] == '.') { L->dot++; return; }
  if (len == 2 && name[0] == '.' && name[1] == '.') { L->dotdot++; return; }
  for (int i = 0; i < L->n; i++) {
    if (strlen(L->e[i].name) == len && memcmp(L->e[i].name, name, len) == 0) {
      L->dups++;
      L->seen[i]++;
      return;
    }
  }
  if (L->n == MAXENT || len >= sizeof L->e[0].name) { L->dups += 1000; return; }
  memcpy(L->e[L->n].name, name, len);
  L->e[L->n].name[len] = 0;
  L->e[L->n].type = type;
  L->e[L->n].ino = ino;
  L->seen[L->n] = 1;
  L->n++;
}

// One fd_readdir call into a buffer of bufsz bytes, from *cookie. Consumes the complete entries,
// advances *cookie past the last of them, and sets *eof when the buffer was not filled.
static __wasi_errno_t readdir_step(__wasi_fd_t fd, size_t bufsz, __wasi_dircookie_t *cookie, listing_t *L, int *eof) {
  static uint8_t buf[8192];
  size_t used = 0;
  if (bufsz > sizeof buf) bufsz = sizeof buf;
  __wasi_errno_t e = __wasi_fd_readdir(fd, buf, bufsz, *cookie, &used);
  L->calls++;
  if (e) return e;
  *eof = used < bufsz;
  size_t off = 0;
  int any = 0;
  while (off + sizeof(__wasi_dirent_t) <= used) {
    __wasi_dirent_t d;
    memcpy(&d, buf + off, sizeof d);
    if (off + sizeof d + d.d_namlen > used) break;  // truncated: resume at its cookie next time
    add_ent(L, (const char *)buf + off + sizeof d, d.d_namlen, d.d_type, d.d_ino);
    *cookie = d.d_next;
    off += sizeof d + d.d_namlen;
    any = 1;
  }
  if (!any && !*eof) return __WASI_ERRNO_NOBUFS;  // one entry does not fit the buffer
  return 0;
}

static int cmp_ent(const void *a, const void *b) { return strcmp(((const ent_t *)a)->name, ((const ent_t *)b)->name); }

// Lists a whole directory with fd_readdir calls of bufsz bytes each, resuming by cookie.
static __wasi_errno_t list_dir(const char *path, size_t bufsz, listing_t *L) {
  memset(L, 0, sizeof *L);
  __wasi_fd_t fd;
  __wasi_errno_t e = po(path, RD, __WASI_OFLAGS_DIRECTORY, 0, &fd);
  if (e) return e;
  __wasi_dircookie_t c = 0;
  int eof = 0;
  while (!eof && !e) e = L->calls > 10000 ? __WASI_ERRNO_IO : readdir_step(fd, bufsz, &c, L, &eof);
  cl(fd);
  return e;
}

// Sorts L and prints `LABEL -> a b/ c@` (dirs end in '/', symlinks in '@').
static void print_listing(const char *label, listing_t *L) {
  static char out[8192];
  size_t k = 0;
  qsort(L->e, L->n, sizeof L->e[0], cmp_ent);
  out[0] = 0;
  for (int i = 0; i < L->n && k < sizeof out - 80; i++) {
    const char *suffix = L->e[i].type == __WASI_FILETYPE_DIRECTORY       ? "/"
                         : L->e[i].type == __WASI_FILETYPE_SYMBOLIC_LINK ? "@"
                         : L->e[i].type == __WASI_FILETYPE_REGULAR_FILE  ? ""
                                                                         : "?";
    k += snprintf(out + k, sizeof out - k, "%s%s%s", i ? " " : "", L->e[i].name, suffix);
  }
  say("%s -> %s", label, L->n ? out : "(empty)");
}

static listing_t LST;

static void ls(const char *path) {
  __wasi_errno_t e = list_dir(path, 4096, &LST);
  char label[300];
  snprintf(label, sizeof label, "readdir %s", path);
  if (e) res(e, "%s", label);
  else print_listing(label, &LST);
}

static int listing_has(listing_t *L, const char *name) {
  for (int i = 0; i < L->n; i++)
    if (!strcmp(L->e[i].name, name)) return 1;
  return 0;
}

// ---------------------------------------------------------------------------------------------
// Sections

// fd_prestat_get, fd_prestat_dir_name, and the root directory itself.
static void sec_prestat(void) {
  int count = 0;
  char names[256] = "";
  for (__wasi_fd_t fd = 0; fd < 64; fd++) {
    __wasi_prestat_t ps;
    if (__wasi_fd_prestat_get(fd, &ps)) continue;
    if (ps.tag != __WASI_PREOPENTYPE_DIR) continue;
    char name[64];
    size_t len = ps.u.dir.pr_name_len;
    if (len >= sizeof name || __wasi_fd_prestat_dir_name(fd, (uint8_t *)name, len)) continue;
    name[len] = 0;
    snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", count ? " " : "", name);
    count++;
  }
  say("preopens -> %d: %s", count, names);
  __wasi_prestat_t ps;
  res(__wasi_fd_prestat_get(ROOT, &ps), "prestat /");
  say("prestat / tag dir -> %s", yn(ps.tag == __WASI_PREOPENTYPE_DIR));
  say("prestat / name length -> %u", (unsigned)ps.u.dir.pr_name_len);
  char name[8] = {0};
  res(__wasi_fd_prestat_dir_name(ROOT, (uint8_t *)name, 1), "prestat_dir_name / (1 byte)");
  say("prestat_dir_name / -> %s", q(name, strlen(name)));
  res(__wasi_fd_prestat_get(1000, &ps), "prestat fd 1000");
  __wasi_fdstat_t fs = {0};
  res(__wasi_fd_fdstat_get(ROOT, &fs), "fdstat /");
  say("fdstat / filetype -> %s", ftype(fs.fs_filetype));
  say("/ inheriting rights include fd_read, fd_write -> %s",
      yn((fs.fs_rights_inheriting & __WASI_RIGHTS_FD_READ) && (fs.fs_rights_inheriting & __WASI_RIGHTS_FD_WRITE)));
  stat_line("/", 1);
  ls("/");
}

// path_open: O_CREAT, O_EXCL, O_TRUNC, O_DIRECTORY and their errors.
static void sec_open(void) {
  const __wasi_oflags_t C = __WASI_OFLAGS_CREAT, X = __WASI_OFLAGS_EXCL, T = __WASI_OFLAGS_TRUNC,
                        D = __WASI_OFLAGS_DIRECTORY;
  __wasi_fd_t fd;
  scratch("open");
  if (!res(po("/etc/passwd", RD, 0, 0, &fd), "open /etc/passwd rdonly")) cl(fd);
  res(po("/missing", RD, 0, 0, 0), "open /missing rdonly");
  res(po("/missing/x", RD, 0, 0, 0), "open /missing/x rdonly");
  res(po("/etc/passwd/x", RD, 0, 0, 0), "open /etc/passwd/x rdonly");
  res(po("/etc/passwd/", RD, 0, 0, 0), "open /etc/passwd/ rdonly");
  res(po("/etc/passwd", RD, D, 0, 0), "open /etc/passwd O_DIRECTORY");
  if (!res(po("/etc", RD, D, 0, &fd), "open /etc O_DIRECTORY")) cl(fd);
  if (!res(po("/etc/", RD, D, 0, &fd), "open /etc/ O_DIRECTORY")) cl(fd);
  if (!res(po("/etc", RD, 0, 0, &fd), "open /etc rdonly")) cl(fd);
  res(po("/etc", WR, 0, 0, 0), "open /etc wronly");
  res(po("/etc", RD | WR, 0, 0, 0), "open /etc rdwr");
  res(po("/etc/passwd", RD, C | X, 0, 0), "open /etc/passwd O_CREAT|O_EXCL");
  res(po("/etc", RD, C | X, 0, 0), "open /etc O_CREAT|O_EXCL");
  res(po("/s/open/missing/x", WR, C, 0, 0), "open /s/open/missing/x O_CREAT");
  res(po("/etc/passwd/x", WR, C, 0, 0), "open /etc/passwd/x O_CREAT");
  if (!res(po("/s/open/new", WR, C | X, 0, &fd), "open /s/open/new O_CREAT|O_EXCL wronly")) {
    res(wrs(fd, "abc"), "write /s/open/new");
    cl(fd);
  }
  res(po("/s/open/new", WR, C | X, 0, 0), "open /s/open/new O_CREAT|O_EXCL again");
  if (!res(po("/s/open/new", RD, C, 0, &fd), "open /s/open/new O_CREAT rdonly (exists)")) {
    catfd("read it", fd);
    cl(fd);
  }
  if (!res(po("/s/open/new", WR, T, 0, &fd), "open /s/open/new O_TRUNC wronly")) {
    __wasi_filestat_t st;
    res(__wasi_fd_filestat_get(fd, &st), "fd_filestat_get");
    say("size after O_TRUNC -> %llu", (unsigned long long)st.size);
    cl(fd);
  }
  if (!res(po("/s/open/new", RD, 0, 0, &fd), "open /s/open/new rdonly")) {
    catfd("read it", fd);
    cl(fd);
  }
  if (!res(po("/etc/secret", RD, 0, 0, &fd), "open /etc/secret (mode 0600) rdonly")) {
    catfd("read it", fd);
    cl(fd);
  }
  if (!res(po("/s/open/t", RD | WR, C | T, 0, &fd), "open /s/open/t O_CREAT|O_TRUNC rdwr (new)")) cl(fd);
  stat_line("/s/open/t", 1);
  ls("/s/open");
}

// fd_read, fd_write, fd_pread, fd_pwrite, fd_seek, fd_tell, fd_close.
static void sec_rw(void) {
  __wasi_fd_t fd;
  __wasi_filesize_t pos = 0;
  size_t n = 0;
  char b[64];
  scratch("rw");
  if (res(po("/s/rw/f", RD | WR, __WASI_OFLAGS_CREAT | __WASI_OFLAGS_EXCL, 0, &fd), "open /s/rw/f O_CREAT|O_EXCL rdwr")) return;
  res(wr(fd, "hello world", 11, &n), "write \"hello world\"");
  say("write count -> %zu", n);
  res(__wasi_fd_tell(fd, &pos), "tell");
  say("tell -> %llu", (unsigned long long)pos);
  res(__wasi_fd_seek(fd, 0, __WASI_WHENCE_SET, &pos), "seek SET 0");
  say("seek SET 0 offset -> %llu", (unsigned long long)pos);
  res(rd(fd, b, 5, &n), "read 5");
  say("read 5 -> %s", q(b, n));
  res(__wasi_fd_seek(fd, 1, __WASI_WHENCE_CUR, &pos), "seek CUR +1");
  say("seek CUR +1 offset -> %llu", (unsigned long long)pos);
  res(rd(fd, b, sizeof b, &n), "read rest");
  say("read rest -> %s", q(b, n));
  res(rd(fd, b, sizeof b, &n), "read at EOF");
  say("read at EOF count -> %zu", n);
  res(__wasi_fd_seek(fd, -5, __WASI_WHENCE_END, &pos), "seek END -5");
  say("seek END -5 offset -> %llu", (unsigned long long)pos);
  res(__wasi_fd_seek(fd, 0, __WASI_WHENCE_END, &pos), "seek END 0");
  say("seek END 0 offset -> %llu", (unsigned long long)pos);
  res(__wasi_fd_seek(fd, -1, __WASI_WHENCE_SET, &pos), "seek SET -1");
  res(__wasi_fd_seek(fd, -100, __WASI_WHENCE_CUR, &pos), "seek CUR -100");
  res(__wasi_fd_tell(fd, &pos), "tell after failed seeks");
  say("tell after failed seeks -> %llu", (unsigned long long)pos);
  // Past the end: the gap reads as zeros.
  res(__wasi_fd_seek(fd, 20, __WASI_WHENCE_SET, &pos), "seek SET 20 (past EOF)");
  res(wrs(fd, "X"), "write \"X\" at 20");
  __wasi_filestat_t st = {0};
  res(__wasi_fd_filestat_get(fd, &st), "fd_filestat_get");
  say("size -> %llu", (unsigned long long)st.size);
  memset(b, 0x55, sizeof b);
  res(__wasi_fd_pread(fd, &(__wasi_iovec_t){(uint8_t *)b, 9}, 1, 11, &n), "pread 9 at 11 (the gap)");
  int zero = n == 9;
  for (size_t i = 0; i < n; i++) zero &= b[i] == 0;
  say("gap reads zeros -> %s", yn(zero));
  // pread/pwrite leave the offset alone.
  res(__wasi_fd_pread(fd, &(__wasi_iovec_t){(uint8_t *)b, 5}, 1, 6, &n), "pread 5 at 6");
  say("pread 5 at 6 -> %s", q(b, n));
  res(__wasi_fd_pwrite(fd, &(__wasi_ciovec_t){(const uint8_t *)"WORLD", 5}, 1, 6, &n), "pwrite \"WORLD\" at 6");
  res(__wasi_fd_tell(fd, &pos), "tell");
  say("tell after pread/pwrite -> %llu", (unsigned long long)pos);
  res(__wasi_fd_pread(fd, &(__wasi_iovec_t){(uint8_t *)b, 11}, 1, 0, &n), "pread 11 at 0");
  say("pread 11 at 0 -> %s", q(b, n));
  res(__wasi_fd_pread(fd, &(__wasi_iovec_t){(uint8_t *)b, 8}, 1, 100, &n), "pread at 100 (past EOF)");
  say("pread past EOF count -> %zu", n);
  // Vectored I/O.
  char v1[3], v2[4];
  __wasi_iovec_t iov[2] = {{(uint8_t *)v1, 3}, {(uint8_t *)v2, 4}};
  res(__wasi_fd_seek(fd, 0, __WASI_WHENCE_SET, &pos), "seek SET 0");
  res(__wasi_fd_read(fd, iov, 2, &n), "readv 3+4");
  say("readv 3+4 -> %zu %s %s", n, q(v1, 3), q(v2, 4));
  __wasi_ciovec_t ciov[2] = {{(const uint8_t *)"ab", 2}, {(const uint8_t *)"cd", 2}};
  res(__wasi_fd_seek(fd, 0, __WASI_WHENCE_END, &pos), "seek END 0");
  res(__wasi_fd_write(fd, ciov, 2, &n), "writev 2+2 at end");
  say("writev count -> %zu", n);
  res(__wasi_fd_filestat_get(fd, &st), "fd_filestat_get");
  say("size -> %llu", (unsigned long long)st.size);
  // Close, and what a closed fd answers.
  res(cl(fd), "close");
  res(cl(fd), "close again");
  res(rd(fd, b, 1, &n), "read closed fd");
  res(wr(fd, "x", 1, &n), "write closed fd");
  res(__wasi_fd_seek(fd, 0, __WASI_WHENCE_SET, &pos), "seek closed fd");
  res(__wasi_fd_tell(fd, &pos), "tell closed fd");
  // Access modes.
  if (!res(po("/s/rw/f", RD, 0, 0, &fd), "open /s/rw/f rdonly")) {
    res(wr(fd, "x", 1, &n), "write on rdonly fd");
    cl(fd);
  }
  if (!res(po("/s/rw/f", WR, 0, 0, &fd), "open /s/rw/f wronly")) {
    res(rd(fd, b, 1, &n), "read on wronly fd");
    cl(fd);
  }
  // O_APPEND: every write goes to the end, whatever the offset.
  if (!res(po("/s/rw/f", WR, 0, __WASI_FDFLAGS_APPEND, &fd), "open /s/rw/f wronly O_APPEND")) {
    res(__wasi_fd_seek(fd, 0, __WASI_WHENCE_SET, &pos), "seek SET 0");
    res(wrs(fd, "!"), "write \"!\"");
    res(__wasi_fd_tell(fd, &pos), "tell");
    say("tell after append -> %llu", (unsigned long long)pos);
    cl(fd);
  }
  cat("/s/rw/f");
  // fd_read on a directory.
  if (!res(po("/s", RD, __WASI_OFLAGS_DIRECTORY, 0, &fd), "open /s O_DIRECTORY")) {
    res(rd(fd, b, 1, &n), "read on a directory fd");
    cl(fd);
  }
}

// fd_fdstat_get, fd_fdstat_set_flags.
static void sec_fdstat(void) {
  __wasi_fd_t fd, fd2;
  __wasi_fdstat_t fs = {0};
  __wasi_filesize_t pos;
  scratch("fdstat");
  if (put("/s/fdstat/f", "hello")) return;
  if (!res(po("/s/fdstat/f", RD, 0, 0, &fd), "open rdonly")) {
    res(__wasi_fd_fdstat_get(fd, &fs), "fdstat rdonly");
    say("rdonly filetype -> %s", ftype(fs.fs_filetype));
    say("rdonly rights fd_read %s fd_write %s fd_seek %s", yn(fs.fs_rights_base & __WASI_RIGHTS_FD_READ),
        yn(fs.fs_rights_base & __WASI_RIGHTS_FD_WRITE), yn(fs.fs_rights_base & __WASI_RIGHTS_FD_SEEK));
    say("rdonly flags append -> %s", yn(fs.fs_flags & __WASI_FDFLAGS_APPEND));
    cl(fd);
  }
  if (!res(po("/s/fdstat/f", WR, 0, 0, &fd), "open wronly")) {
    res(__wasi_fd_fdstat_get(fd, &fs), "fdstat wronly");
    say("wronly rights fd_read %s fd_write %s", yn(fs.fs_rights_base & __WASI_RIGHTS_FD_READ),
        yn(fs.fs_rights_base & __WASI_RIGHTS_FD_WRITE));
    cl(fd);
  }
  if (!res(po("/s/fdstat/f", WR, 0, __WASI_FDFLAGS_APPEND, &fd), "open wronly O_APPEND")) {
    res(__wasi_fd_fdstat_get(fd, &fs), "fdstat O_APPEND");
    say("O_APPEND flags append -> %s", yn(fs.fs_flags & __WASI_FDFLAGS_APPEND));
    cl(fd);
  }
  if (!res(po("/s/fdstat", RD, __WASI_OFLAGS_DIRECTORY, 0, &fd), "open /s/fdstat O_DIRECTORY")) {
    res(__wasi_fd_fdstat_get(fd, &fs), "fdstat dir");
    say("dir filetype -> %s", ftype(fs.fs_filetype));
    say("dir rights fd_readdir %s", yn(fs.fs_rights_base & __WASI_RIGHTS_FD_READDIR));
    cl(fd);
  }
  if (!res(po("/s/fdstat/f", RD | WR, 0, 0, &fd), "open rdwr")) {
    res(__wasi_fd_fdstat_get(fd, &fs), "fdstat rdwr");
    say("rdwr rights fd_read %s fd_write %s", yn(fs.fs_rights_base & __WASI_RIGHTS_FD_READ),
        yn(fs.fs_rights_base & __WASI_RIGHTS_FD_WRITE));
    res(__wasi_fd_fdstat_set_flags(fd, __WASI_FDFLAGS_APPEND), "fdstat_set_flags APPEND");
    res(__wasi_fd_fdstat_get(fd, &fs), "fdstat");
    say("flags append after set -> %s", yn(fs.fs_flags & __WASI_FDFLAGS_APPEND));
    res(__wasi_fd_seek(fd, 0, __WASI_WHENCE_SET, &pos), "seek SET 0");
    res(wrs(fd, "Z"), "write \"Z\"");
    cat("/s/fdstat/f");
    res(__wasi_fd_fdstat_set_flags(fd, 0), "fdstat_set_flags 0");
    res(__wasi_fd_fdstat_get(fd, &fs), "fdstat");
    say("flags append after clear -> %s", yn(fs.fs_flags & __WASI_FDFLAGS_APPEND));
    res(__wasi_fd_seek(fd, 0, __WASI_WHENCE_SET, &pos), "seek SET 0");
    res(wrs(fd, "J"), "write \"J\"");
    cat("/s/fdstat/f");
    // Flags belong to the open file, not to the path: another fd is unaffected.
    if (!res(po("/s/fdstat/f", RD, 0, 0, &fd2), "open rdonly again")) {
      res(__wasi_fd_fdstat_get(fd2, &fs), "fdstat");
      say("other fd flags append -> %s", yn(fs.fs_flags & __WASI_FDFLAGS_APPEND));
      cl(fd2);
    }
    cl(fd);
    res(__wasi_fd_fdstat_get(fd, &fs), "fdstat closed fd");
    res(__wasi_fd_fdstat_set_flags(fd, 0), "fdstat_set_flags closed fd");
  }
}

// fd_filestat_get, fd_filestat_set_size, fd_filestat_set_times, path_filestat_get,
// path_filestat_set_times.
// Times as Linux stamps them where timestamps are multigrain (ext4, tmpfs, overlay2's upper): a
// change made after a stat read the times is seen as one (later mtime and ctime), however soon it
// comes; a file made after another is never older.
static void filestat_times(void) {
  __wasi_fd_t fd;
  __wasi_filestat_t a, b, d1, d2;
  size_t n;
  if (res(po("/s/filestat/t", RD | WR, __WASI_OFLAGS_CREAT, 0, &fd), "create /s/filestat/t")) return;
  int later = 1;
  fst(fd, &a);
  for (int i = 0; i < 300; i++) {
    later &= __wasi_fd_pwrite(fd, &(__wasi_ciovec_t){(const uint8_t *)"x", 1}, 1, (uint64_t)i, &n) == 0;
    fst(fd, &b);
    later &= b.mtim > a.mtim && b.ctim > a.ctim;
    a = b;
  }
  say("each write after a stat: later mtime and ctime -> %s", yn(later));
  later = 1;
  for (int i = 0; i < 300; i++) {
    later &= __wasi_fd_filestat_set_size(fd, (uint64_t)(i & 7)) == 0;
    fst(fd, &b);
    later &= b.mtim > a.mtim && b.ctim > a.ctim;
    a = b;
  }
  say("each truncate after a stat: later mtime and ctime -> %s", yn(later));
  cl(fd);
  later = 1;
  int older = 0;
  char name[64];
  res(pst("/s/filestat", 1, &d1), "stat /s/filestat");
  for (int i = 0; i < 100; i++) {
    snprintf(name, sizeof name, "/s/filestat/n%d", i);
    if (put(name, "")) return;
    res(pst("/s/filestat", 1, &d2), "stat /s/filestat");
    res(pst(name, 1, &b), "stat new file");
    later &= d2.mtim > d1.mtim;
    if (i > 0 && b.mtim < a.mtim) older = 1;
    a = b;
    d1 = d2;
    if (i % 2) {
      unl(name);
      res(pst("/s/filestat", 1, &d2), "stat /s/filestat");
      later &= d2.mtim > d1.mtim;
      d1 = d2;
    }
  }
  say("each create or unlink after a stat of the directory: later mtime -> %s", yn(later));
  say("a file made after another is older -> %s", yn(older));
}

static void sec_filestat(void) {
  __wasi_fd_t fd, dfd;
  __wasi_filestat_t st = {0}, st2 = {0};
  size_t n;
  const uint64_t S = 1000000000ull;  // ns per s
  scratch("filestat");
  if (put("/s/filestat/f", "abcdef")) return;
  if (res(po("/s/filestat/f", RD | WR, 0, 0, &fd), "open /s/filestat/f rdwr")) return;
  res(__wasi_fd_filestat_get(fd, &st), "fd_filestat_get");
  say("filetype %s size %llu nlink %llu", ftype(st.filetype), (unsigned long long)st.size,
      (unsigned long long)st.nlink);
  say("new file mtime after fixture mtime -> %s", yn(st.mtim > 1680153482ull * S));
  res(pst("/s/filestat/f", 1, &st2), "path_filestat_get");
  say("fd and path stat same ino -> %s", yn(st.ino == st2.ino));
  say("fd and path stat same dev -> %s", yn(st.dev == st2.dev));
  if (!res(po("/s/filestat", RD, __WASI_OFLAGS_DIRECTORY, 0, &dfd), "open /s/filestat O_DIRECTORY")) {
    res(__wasi_fd_filestat_get(dfd, &st2), "fd_filestat_get dir");
    say("dir filetype -> %s", ftype(st2.filetype));
    cl(dfd);
  }
  // set_size: grow (the new part reads zeros), shrink.
  res(__wasi_fd_filestat_set_size(fd, 100), "set_size 100");
  res(__wasi_fd_filestat_get(fd, &st), "fd_filestat_get");
  say("size -> %llu", (unsigned long long)st.size);
  res(__wasi_fd_pread(fd, &(__wasi_iovec_t){BUF, 200}, 1, 0, &n), "pread 200 at 0");
  int zero = n == 100;
  for (size_t i = 6; i < n; i++) zero &= BUF[i] == 0;
  say("pread count %zu, head %s, rest zeros -> %s", n, q(BUF, 6), yn(zero));
  res(__wasi_fd_filestat_set_size(fd, 3), "set_size 3");
  res(__wasi_fd_pread(fd, &(__wasi_iovec_t){BUF, 200}, 1, 0, &n), "pread 200 at 0");
  say("after shrink -> %s", q(BUF, n));
  res(__wasi_fd_filestat_set_size(fd, 8), "set_size 8 (regrow)");
  res(__wasi_fd_pread(fd, &(__wasi_iovec_t){BUF, 200}, 1, 0, &n), "pread 200 at 0");
  say("after regrow -> %s", q(BUF, n));
  // set_times with explicit values (whole seconds, so no runtime rounds them).
  res(__wasi_fd_filestat_set_times(fd, 999999999ull * S, 1000000000ull * S,
                                   __WASI_FSTFLAGS_ATIM | __WASI_FSTFLAGS_MTIM), "fd set_times atim+mtim");
  res(__wasi_fd_filestat_get(fd, &st), "fd_filestat_get");
  say("atime set -> %s, mtime set -> %s", yn(st.atim == 999999999ull * S), yn(st.mtim == 1000000000ull * S));
  res(__wasi_fd_filestat_set_times(fd, 0, 0, __WASI_FSTFLAGS_MTIM_NOW), "fd set_times mtim_now");
  res(__wasi_fd_filestat_get(fd, &st), "fd_filestat_get");
  say("mtime now later than set value -> %s, atime kept -> %s", yn(st.mtim > 1000000000ull * S),
      yn(st.atim == 999999999ull * S));
  res(__wasi_fd_filestat_set_times(fd, 0, 0, __WASI_FSTFLAGS_ATIM | __WASI_FSTFLAGS_ATIM_NOW), "fd set_times atim+atim_now");
  res(__wasi_fd_filestat_set_times(fd, 0, 0, __WASI_FSTFLAGS_MTIM | __WASI_FSTFLAGS_MTIM_NOW), "fd set_times mtim+mtim_now");
  cl(fd);
  res(__wasi_fd_filestat_get(fd, &st), "fd_filestat_get closed fd");
  res(__wasi_fd_filestat_set_size(fd, 0), "set_size closed fd");
  // path_filestat_set_times, through a symlink (follow) and on the file itself.
  res(sym("f", "/s/filestat/ln"), "symlink f /s/filestat/ln");
  res(__wasi_path_filestat_set_times(ROOT, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, rel("/s/filestat/ln"), 0,
                                     1500000000ull * S, __WASI_FSTFLAGS_MTIM), "path set_times follow /s/filestat/ln mtim");
  res(pst("/s/filestat/f", 1, &st), "stat /s/filestat/f");
  say("target mtime set through link -> %s", yn(st.mtim == 1500000000ull * S));
  res(__wasi_path_filestat_set_times(ROOT, 0, rel("/s/filestat/f"), 2000000000ull * S, 0, __WASI_FSTFLAGS_ATIM),
      "path set_times /s/filestat/f atim");
  res(pst("/s/filestat/f", 1, &st), "stat /s/filestat/f");
  say("atime set -> %s, mtime kept -> %s", yn(st.atim == 2000000000ull * S), yn(st.mtim == 1500000000ull * S));
  res(__wasi_path_filestat_set_times(ROOT, 0, rel("/s/filestat/missing"), 0, 0, __WASI_FSTFLAGS_MTIM_NOW),
      "path set_times /s/filestat/missing");
  // path_filestat_get follow / nofollow.
  stat_line("/s/filestat/ln", 0);
  stat_line("/s/filestat/ln", 1);
  stat_line("/s/filestat/missing", 1);
  stat_line("/etc/passwd/x", 1);
  stat_line("/etc/hostname", 1);
  stat_line("/etc/secret", 1);
  stat_line("/etc", 1);
  res(pst("/etc/hostname", 1, &st), "stat /etc/hostname");
  say("lower mtime is the fixture mtime -> %s", yn(st.mtim == 1680153482ull * S));
  res(pst("/etc/passwd", 1, &st2), "stat /etc/passwd");
  say("distinct files distinct ino -> %s, same dev -> %s", yn(st.ino != st2.ino), yn(st.dev == st2.dev));
  filestat_times();
}

// path_create_directory, path_remove_directory, path_unlink_file.
static void sec_dirs(void) {
  scratch("dirs");
  res(mkd("/s/dirs/a"), "mkdir /s/dirs/a");
  res(mkd("/s/dirs/a"), "mkdir /s/dirs/a again");
  res(mkd("/etc"), "mkdir /etc");
  res(mkd("/etc/passwd"), "mkdir /etc/passwd");
  res(mkd("/"), "mkdir /");
  res(mkd("/s/dirs/missing/x"), "mkdir /s/dirs/missing/x");
  res(mkd("/etc/passwd/x"), "mkdir /etc/passwd/x");
  stat_line("/s/dirs/a", 1);
  put("/s/dirs/a/f", "f");
  res(rmd("/s/dirs/a"), "rmdir /s/dirs/a (not empty)");
  res(rmd("/s/dirs/a/f"), "rmdir /s/dirs/a/f (a file)");
  res(rmd("/s/dirs/missing"), "rmdir /s/dirs/missing");
  res(rmd("/etc"), "rmdir /etc (lower, not empty)");
  res(unl("/s/dirs/a"), "unlink /s/dirs/a (a dir)");
  res(unl("/etc"), "unlink /etc (lower dir)");
  res(unl("/s/dirs/missing"), "unlink /s/dirs/missing");
  res(unl("/s/dirs/a/f/x"), "unlink /s/dirs/a/f/x");
  res(unl("/s/dirs/a/f"), "unlink /s/dirs/a/f");
  stat_line("/s/dirs/a/f", 1);
  ls("/s/dirs/a");
  res(rmd("/s/dirs/a"), "rmdir /s/dirs/a");
  stat_line("/s/dirs/a", 1);
  res(mkd("/s/dirs/b/"), "mkdir /s/dirs/b/ (trailing slash)");
  res(rmd("/s/dirs/b/"), "rmdir /s/dirs/b/ (trailing slash)");
  res(mkd("/s/dirs/x"), "mkdir /s/dirs/x");
  res(mkd("/s/dirs/x/y"), "mkdir /s/dirs/x/y");
  res(mkd("/s/dirs/x/y/z"), "mkdir /s/dirs/x/y/z");
  put("/s/dirs/x/y/file", "file");
  ls("/s/dirs/x/y");
  res(rmd("/s/dirs/x"), "rmdir /s/dirs/x (not empty)");
  ls("/s/dirs");
}

// fd_readdir: small buffers resumed by cookie, restarts, and listings that change between calls.
static listing_t L2;
static void concurrent_listing(const char *dir, const char *prefix, int first, int last) {
  char p[128];
  __wasi_fd_t fd;
  memset(&LST, 0, sizeof LST);
  if (res(po(dir, RD, __WASI_OFLAGS_DIRECTORY, 0, &fd), "open %s O_DIRECTORY", dir)) return;
  __wasi_dircookie_t c = 0;
  int eof = 0;
  __wasi_errno_t e = readdir_step(fd, 128, &c, &LST, &eof);
  // Between calls: unlink the first and the last name, create five new ones.
  snprintf(p, sizeof p, "%s/%s%02d", dir, prefix, first);
  res(unl(p), "unlink %s between readdir calls", p);
  snprintf(p, sizeof p, "%s/%s%02d", dir, prefix, last);
  res(unl(p), "unlink %s between readdir calls", p);
  for (int i = 0; i < 5; i++) {
    snprintf(p, sizeof p, "%s/new%d", dir, i);
    put(p, "new");
  }
  while (!e && !eof && LST.calls < 10000) e = readdir_step(fd, 128, &c, &LST, &eof);
  res(e, "readdir %s while it changes", dir);
  cl(fd);
  int missing = 0, twice = 0;
  for (int i = first + 1; i < last; i++) {
    snprintf(p, sizeof p, "%s%02d", prefix, i);
    int found = -1;
    for (int j = 0; j < LST.n; j++)
      if (!strcmp(LST.e[j].name, p)) found = j;
    if (found < 0) missing++;
    else if (LST.seen[found] != 1) twice++;
  }
  say("names present throughout seen exactly once -> %s (missing %d, repeated %d)", yn(!missing && !twice),
      missing, twice);
  say("no name returned twice -> %s", yn(LST.dups == 0));
  ls(dir);
}

static void sec_readdir(void) {
  __wasi_fd_t fd;
  scratch("readdir");
  // A merged directory of three layers, in 128-byte calls.
  if (res(list_dir("/data/many", 128, &LST), "readdir /data/many in 128-byte calls")) return;
  say("took more than one call -> %s", yn(LST.calls > 2));
  say("'.' and '..' listed -> %s %s", yn(LST.dot == 1), yn(LST.dotdot == 1));
  say("no name returned twice -> %s", yn(LST.dups == 0));
  print_listing("readdir /data/many", &LST);
  // The same with one big buffer gives the same names.
  if (!res(list_dir("/data/many", 4096, &L2), "readdir /data/many in 4096-byte calls")) {
    qsort(L2.e, L2.n, sizeof L2.e[0], cmp_ent);
    int same = L2.n == LST.n;
    for (int i = 0; same && i < LST.n; i++) same = !strcmp(L2.e[i].name, LST.e[i].name);
    say("same names as in 128-byte calls -> %s", yn(same));
  }
  // d_ino agrees with path_filestat_get's st_ino, for a lower file.
  for (int i = 0; i < LST.n; i++) {
    if (!strcmp(LST.e[i].name, "f10")) say("d_ino of f10 equals st_ino -> %s", yn(LST.e[i].ino == ino_of("/data/many/f10")));
  }
  // Resume from a cookie in the middle: the rest is exactly the tail.
  if (!res(po("/data/many", RD, __WASI_OFLAGS_DIRECTORY, 0, &fd), "open /data/many O_DIRECTORY")) {
    __wasi_dircookie_t c = 0, mid = 0;
    int eof = 0;
    memset(&LST, 0, sizeof LST);
    for (int k = 0; k < 3 && !eof; k++) readdir_step(fd, 128, &c, &LST, &eof);
    mid = c;
    int head = LST.n + LST.dot + LST.dotdot;
    while (!eof) if (readdir_step(fd, 128, &c, &LST, &eof)) break;
    int total = LST.n + LST.dot + LST.dotdot;
    memset(&L2, 0, sizeof L2);
    c = mid;
    eof = 0;
    while (!eof) if (readdir_step(fd, 4096, &c, &L2, &eof)) break;
    int tail = L2.n + L2.dot + L2.dotdot;
    int match = head + tail == total;
    for (int i = 0; i < L2.n && match; i++) match = listing_has(&LST, L2.e[i].name);
    say("resume from a saved cookie lists exactly the rest -> %s", yn(match));
    // Cookie 0 starts over.
    memset(&L2, 0, sizeof L2);
    c = 0;
    eof = 0;
    while (!eof) if (readdir_step(fd, 4096, &c, &L2, &eof)) break;
    say("cookie 0 restarts the listing -> %s", yn(L2.n + L2.dot + L2.dotdot == total));
    cl(fd);
  }
  // Errors.
  if (!res(po("/etc/passwd", RD, 0, 0, &fd), "open /etc/passwd")) {
    size_t used;
    res(__wasi_fd_readdir(fd, BUF, 256, 0, &used), "fd_readdir on a file");
    cl(fd);
  }
  // An upper-only directory and a merged lower one, each changing between calls.
  if (!res(mkd("/s/readdir/conc"), "mkdir /s/readdir/conc")) {
    char p[64];
    for (int i = 0; i < 20; i++) {
      snprintf(p, sizeof p, "/s/readdir/conc/a%02d", i);
      put(p, "a");
    }
    concurrent_listing("/s/readdir/conc", "a", 0, 19);
  }
  concurrent_listing("/ovl/conc", "c", 0, 24);
  ls("/s/readdir");
}

// path_rename: files, dirs, replacement, and the errors of mixing them.
static void sec_rename(void) {
  scratch("rename");
  put("/s/rename/a", "A");
  res(ren("/s/rename/a", "/s/rename/b"), "rename a b");
  stat_line("/s/rename/a", 1);
  cat("/s/rename/b");
  put("/s/rename/c", "C");
  res(ren("/s/rename/b", "/s/rename/c"), "rename b c (over a file)");
  stat_line("/s/rename/b", 1);
  cat("/s/rename/c");
  res(ren("/s/rename/c", "/s/rename/c"), "rename c c (same)");
  cat("/s/rename/c");
  res(mkd("/s/rename/d1"), "mkdir d1");
  put("/s/rename/d1/in", "in");
  res(ren("/s/rename/d1", "/s/rename/d2"), "rename d1 d2 (dir)");
  cat("/s/rename/d2/in");
  res(mkd("/s/rename/e"), "mkdir e");
  res(ren("/s/rename/d2", "/s/rename/e"), "rename d2 e (dir over empty dir)");
  stat_line("/s/rename/d2", 1);
  cat("/s/rename/e/in");
  res(mkd("/s/rename/g"), "mkdir g");
  put("/s/rename/g/x", "x");
  res(ren("/s/rename/e", "/s/rename/g"), "rename e g (dir over non-empty dir)");
  res(ren("/s/rename/e", "/s/rename/e/sub"), "rename e e/sub (into itself)");
  res(mkd("/s/rename/e/sub"), "mkdir e/sub");
  res(ren("/s/rename/e", "/s/rename/e/sub/deeper"), "rename e e/sub/deeper (into its subtree)");
  res(ren("/s/rename/c", "/s/rename/g"), "rename c g (file over dir)");
  res(ren("/s/rename/g", "/s/rename/c"), "rename g c (dir over file)");
  res(ren("/s/rename/missing", "/s/rename/x"), "rename missing x");
  res(ren("/s/rename/c", "/s/rename/missing/x"), "rename c missing/x");
  res(ren("/s/rename/c", "/s/rename/c/x"), "rename c c/x (under a file)");
  res(ren("/s/rename/c", "/s/rename/g/c2"), "rename c g/c2 (into another dir)");
  cat("/s/rename/g/c2");
  res(ren("/s/rename/g/c2", "/s/rename/c"), "rename g/c2 c (back)");
  ls("/s/rename");
  ls("/s/rename/e");
  ls("/s/rename/g");
}

// path_symlink, path_readlink, and symlinks met during path walks.
static void readlink_line(const char *path, size_t cap) {
  char b[256];
  size_t n = 0;
  __wasi_errno_t e = __wasi_path_readlink(ROOT, rel(path), (uint8_t *)b, cap, &n);
  if (e) res(e, "readlink %s", path);
  else say("readlink %s -> %s", path, q(b, n));
}

static void sec_symlink(void) {
  scratch("symlink");
  readlink_line("/lnk/rel", 256);
  readlink_line("/lnk/abs", 256);
  readlink_line("/lnk/chain2", 256);
  readlink_line("/lnk/mid", 256);
  readlink_line("/data/hello.txt", 256);
  readlink_line("/lnk/missing", 256);
  cat("/lnk/rel");
  cat("/lnk/abs");
  cat("/lnk/chain1");
  cat("/lnk/mid");
  cat("/lnk/loop1");
  cat("/lnk/dangling");
  stat_line("/lnk/dangling", 0);
  stat_line("/lnk/loop1", 0);
  stat_line("/lnk/loop1", 1);
  cat("/lnk/dirlink/c/d/file.txt");
  cat("/lnk/absdir/c/d/file.txt");
  cat("/lnk/dirlink/../b/c/d/file.txt");  // '..' after a link is the link target's parent
  cat("/../../etc/hostname");
  cat("/etc/../etc/./hostname");
  cat("/lnk/up");
  cat("/lnk/rel/");
  stat_line("/lnk/dirlink", 0);
  stat_line("/lnk/dirlink", 1);
  ls("/lnk/dirlink");
  ls("/lnk/dirlink/");
  res(po("/lnk/rel", RD | NOFOLLOW, 0, 0, 0), "open /lnk/rel nofollow");
  res(po("/lnk/dirlink", RD | NOFOLLOW, __WASI_OFLAGS_DIRECTORY, 0, 0), "open /lnk/dirlink nofollow O_DIRECTORY");
  // Creating links.
  res(sym("target", "/s/symlink/new"), "symlink target /s/symlink/new");
  readlink_line("/s/symlink/new", 256);
  {
    char b[8] = {0};
    size_t n = 0;
    __wasi_errno_t e = __wasi_path_readlink(ROOT, rel("/s/symlink/new"), (uint8_t *)b, 3, &n);
    if (e) res(e, "readlink /s/symlink/new (3-byte buffer)");
    else say("readlink /s/symlink/new (3-byte buffer) -> %s", q(b, n));
  }
  stat_line("/s/symlink/new", 0);
  res(sym("x", "/s/symlink/new"), "symlink x /s/symlink/new (exists)");
  res(sym("x", "/etc/hostname"), "symlink x /etc/hostname (exists, lower)");
  res(sym("x", "/s/symlink/missing/l"), "symlink x /s/symlink/missing/l");
  res(sym("../../data/hello.txt", "/s/symlink/h"), "symlink ../../data/hello.txt /s/symlink/h");
  cat("/s/symlink/h");
  // An absolute target resolves in the guest's root. (In its own dir, so that a runtime that refuses
  // to create it changes no later line.)
  res(mkd("/s/symlink/a"), "mkdir /s/symlink/a");
  res(sym("/etc/hostname", "/s/symlink/a/abs"), "symlink /etc/hostname /s/symlink/a/abs");
  cat("/s/symlink/a/abs");
  res(unl("/s/symlink/h"), "unlink /s/symlink/h");
  stat_line("/s/symlink/h", 0);
  cat("/data/hello.txt");
  res(mkd("/s/symlink/sub"), "mkdir /s/symlink/sub");
  res(sym("sub", "/s/symlink/dl"), "symlink sub /s/symlink/dl");
  res(rmd("/s/symlink/dl"), "rmdir /s/symlink/dl (link to a dir)");
  put("/s/symlink/dl/f", "through a link");
  cat("/s/symlink/sub/f");
  res(unl("/s/symlink/dl"), "unlink /s/symlink/dl");
  stat_line("/s/symlink/sub", 0);
  // O_CREAT through a dangling link creates its target; O_EXCL does not follow it.
  res(sym("made", "/s/symlink/dangle"), "symlink made /s/symlink/dangle");
  res(po("/s/symlink/dangle", WR, __WASI_OFLAGS_CREAT | __WASI_OFLAGS_EXCL, 0, 0), "open /s/symlink/dangle O_CREAT|O_EXCL");
  __wasi_fd_t fd;
  if (!res(po("/s/symlink/dangle", WR, __WASI_OFLAGS_CREAT, 0, &fd), "open /s/symlink/dangle O_CREAT")) cl(fd);
  stat_line("/s/symlink/made", 0);
  ls("/s/symlink");
  ls("/lnk");
}

// path_link, and hard links that come from a lower layer.
static void sec_link(void) {
  __wasi_filestat_t a = {0}, b = {0};
  scratch("link");
  put("/s/link/a", "A");
  res(lnk("/s/link/a", "/s/link/b"), "link a b");
  pst("/s/link/a", 0, &a);
  pst("/s/link/b", 0, &b);
  say("same ino -> %s, nlink %llu %llu", yn(a.ino == b.ino), (unsigned long long)a.nlink, (unsigned long long)b.nlink);
  __wasi_fd_t fd;
  if (!res(po("/s/link/b", WR, 0, __WASI_FDFLAGS_APPEND, &fd), "open b O_APPEND")) {
    res(wrs(fd, "B"), "write \"B\" to b");
    cl(fd);
  }
  cat("/s/link/a");
  res(lnk("/s/link/a", "/s/link/b"), "link a b (exists)");
  res(lnk("/s/link/missing", "/s/link/x"), "link missing x");
  res(lnk("/s/link", "/s/link/d"), "link /s/link (a dir)");
  res(lnk("/s/link/a", "/s/link/missing/x"), "link a missing/x");
  res(lnk("/s/link/a/x", "/s/link/y"), "link a/x y");
  res(unl("/s/link/a"), "unlink a");
  pst("/s/link/b", 0, &b);
  say("nlink after unlink -> %llu", (unsigned long long)b.nlink);
  cat("/s/link/b");
  // A hard-link pair inside one lower layer.
  pst("/data/links/orig", 0, &a);
  pst("/data/links/hard", 0, &b);
  say("lower pair same ino -> %s, nlink %llu %llu", yn(a.ino == b.ino), (unsigned long long)a.nlink,
      (unsigned long long)b.nlink);
  cat("/data/links/hard");
  // Linking a lower file (copies it up) keeps its ino.
  uint64_t before = ino_of("/data/linkme.txt");
  res(lnk("/data/linkme.txt", "/s/link/lm"), "link /data/linkme.txt /s/link/lm");
  pst("/data/linkme.txt", 0, &a);
  pst("/s/link/lm", 0, &b);
  say("same ino -> %s, ino kept -> %s, nlink %llu %llu", yn(a.ino == b.ino), yn(a.ino == before),
      (unsigned long long)a.nlink, (unsigned long long)b.nlink);
  cat("/s/link/lm");
  // A link to a symlink is a symlink (lookupflags 0: the link itself).
  res(sym("a-target", "/s/link/sl"), "symlink a-target /s/link/sl");
  res(lnk("/s/link/sl", "/s/link/sl2"), "link /s/link/sl /s/link/sl2");
  stat_line("/s/link/sl2", 0);
  readlink_line("/s/link/sl2", 256);
  ls("/s/link");
}

// fd_sync, fd_datasync, fd_advise, fd_allocate, fd_renumber.
static void sec_misc(void) {
  __wasi_fd_t fd, fd2;
  __wasi_filestat_t st = {0};
  __wasi_filesize_t pos;
  size_t n;
  scratch("misc");
  put("/s/misc/f", "0123456789");
  if (res(po("/s/misc/f", RD | WR, 0, 0, &fd), "open /s/misc/f rdwr")) return;
  res(__wasi_fd_sync(fd), "fd_sync");
  res(__wasi_fd_datasync(fd), "fd_datasync");
  res(__wasi_fd_advise(fd, 0, 0, __WASI_ADVICE_SEQUENTIAL), "fd_advise SEQUENTIAL");
  res(__wasi_fd_advise(fd, 0, 10, __WASI_ADVICE_DONTNEED), "fd_advise DONTNEED 0 10");
  res(__wasi_fd_advise(fd, 0, 0, 99), "fd_advise 99");
  res(__wasi_fd_allocate(fd, 0, 8192), "fd_allocate 0 8192");
  fst(fd, &st);
  say("size -> %llu", (unsigned long long)st.size);
  res(__wasi_fd_pread(fd, &(__wasi_iovec_t){BUF, 9000}, 1, 0, &n), "pread all");
  int zero = n == 8192 && !memcmp(BUF, "0123456789", 10);
  for (size_t i = 10; i < n; i++) zero &= BUF[i] == 0;
  say("head kept, rest zeros -> %s", yn(zero));
  res(__wasi_fd_allocate(fd, 0, 5), "fd_allocate 0 5");
  fst(fd, &st);
  say("size -> %llu", (unsigned long long)st.size);
  // renumber: fd takes fd2's number; fd2's old file is closed.
  if (!res(po("/etc/hostname", RD, 0, 0, &fd2), "open /etc/hostname")) {
    res(__wasi_fd_renumber(fd, fd2), "fd_renumber f -> hostname fd");
    res(__wasi_fd_seek(fd2, 0, __WASI_WHENCE_SET, &pos), "seek SET 0 on the target number");
    res(rd(fd2, BUF, 10, &n), "read 10");
    say("target number reads -> %s", q(BUF, n));
    res(cl(fd), "close the old number");
    res(__wasi_fd_renumber(fd2, fd2), "fd_renumber to itself");
    res(__wasi_fd_renumber(fd, fd2), "fd_renumber from a closed fd");
    res(__wasi_fd_renumber(fd2, 4000), "fd_renumber to an unopened fd");
    res(cl(fd2), "close");
  }
  res(__wasi_fd_sync(fd2), "fd_sync closed fd");
  res(__wasi_fd_datasync(fd2), "fd_datasync closed fd");
  res(__wasi_fd_advise(fd2, 0, 0, __WASI_ADVICE_NORMAL), "fd_advise closed fd");
  res(__wasi_fd_allocate(fd2, 0, 1), "fd_allocate closed fd");
}

// The overlay, seen from inside: layers, whiteouts, opaque dirs, copy-up.
static void sec_overlay(void) {
  __wasi_fd_t fr, fw;
  __wasi_filestat_t st = {0};
  size_t n;
  char b[64];
  scratch("overlay");
  // Reading the layers.
  cat("/etc/passwd");
  cat("/etc/motd");
  cat("/data/mid.txt");
  cat("/etc/removed");
  stat_line("/etc/removed", 0);
  cat("/etc/gone/child");
  stat_line("/etc/gone", 0);
  ls("/etc");
  ls("/opq");
  cat("/opq/old1");
  cat("/opq/mid1");
  cat("/opq/new");
  stat_line("/opq/sub", 0);
  cat("/data/many/f05");
  cat("/data/many/f07");
  // An fd opened for read before another fd writes (copies up) the file sees the new data, at its
  // own offset.
  uint64_t ino0 = ino_of("/ovl/cow.txt");
  if (!res(po("/ovl/cow.txt", RD, 0, 0, &fr), "open /ovl/cow.txt rdonly")) {
    res(rd(fr, b, 6, &n), "read 6");
    say("read 6 -> %s", q(b, n));
    if (!res(po("/ovl/cow.txt", WR, 0, 0, &fw), "open /ovl/cow.txt wronly")) {
      res(wrs(fw, "UPPER CONTENT\n"), "write \"UPPER CONTENT\\n\" at 0");
      cl(fw);
    }
    catfd("the earlier rdonly fd reads on", fr);
    res(__wasi_fd_filestat_get(fr, &st), "fd_filestat_get on the earlier fd");
    say("ino same after copy-up (old fd) -> %s", yn(st.ino == ino0));
    cl(fr);
  }
  say("ino same after copy-up (path) -> %s", yn(ino_of("/ovl/cow.txt") == ino0));
  cat("/ovl/cow.txt");
  // Removing lower names.
  res(unl("/ovl/unlinkme"), "unlink /ovl/unlinkme");
  cat("/ovl/unlinkme");
  res(unl("/ovl/unlinkme"), "unlink /ovl/unlinkme again");
  res(rmd("/ovl/emptydir"), "rmdir /ovl/emptydir");
  stat_line("/ovl/emptydir", 0);
  res(rmd("/ovl/fulldir"), "rmdir /ovl/fulldir (not empty)");
  res(unl("/ovl/fulldir/f1"), "unlink /ovl/fulldir/f1");
  ls("/ovl/fulldir");
  res(unl("/ovl/fulldir/f2"), "unlink /ovl/fulldir/f2");
  ls("/ovl/fulldir");
  res(rmd("/ovl/fulldir"), "rmdir /ovl/fulldir (now empty)");
  res(mkd("/ovl/fulldir"), "mkdir /ovl/fulldir again");
  ls("/ovl/fulldir");
  // Renaming lower names.
  res(ren("/ovl/mvsrc", "/ovl/mvdst"), "rename /ovl/mvsrc /ovl/mvdst");
  cat("/ovl/mvsrc");
  cat("/ovl/mvdst");
  res(ren("/ovl/mvdst", "/s/overlay/moved"), "rename /ovl/mvdst /s/overlay/moved");
  cat("/s/overlay/moved");
  // Linux overlayfs without redirect_dir: a directory with lower layers cannot be renamed.
  res(ren("/ovl/mvdir", "/ovl/mvdir2"), "rename /ovl/mvdir /ovl/mvdir2 (lower dir)");
  res(mkd("/ovl/updir"), "mkdir /ovl/updir");
  res(ren("/ovl/updir", "/ovl/updir2"), "rename /ovl/updir /ovl/updir2 (upper-only dir)");
  // Re-creating a removed name.
  put("/ovl/unlinkme", "again\n");
  cat("/ovl/unlinkme");
  ls("/ovl");
  // A hard-link pair from a lower layer: writing one name copies up only that name.
  uint64_t hl = ino_of("/ovl/hl2");
  say("lower pair same ino -> %s", yn(ino_of("/ovl/hl1") == hl));
  if (!res(po("/ovl/hl1", WR, 0, __WASI_FDFLAGS_APPEND, &fw), "open /ovl/hl1 O_APPEND")) {
    res(wrs(fw, "more\n"), "write");
    cl(fw);
  }
  cat("/ovl/hl1");
  cat("/ovl/hl2");
  // Nested copy-up: the parents come up too, and the siblings stay.
  uint64_t xino = ino_of("/ovl/nest/x");
  if (!res(po("/ovl/nest/x/y/deep.txt", WR, 0, __WASI_FDFLAGS_APPEND, &fw), "open /ovl/nest/x/y/deep.txt O_APPEND")) {
    res(wrs(fw, "more\n"), "write");
    cl(fw);
  }
  cat("/ovl/nest/x/y/deep.txt");
  cat("/ovl/nest/x/y/sib.txt");
  ls("/ovl/nest/x/y");
  say("dir ino same after copy-up -> %s", yn(ino_of("/ovl/nest/x") == xino));
  // Metadata-only and size changes copy up too.
  uint64_t tino = ino_of("/ovl/times.txt");
  res(__wasi_path_filestat_set_times(ROOT, 0, rel("/ovl/times.txt"), 0, 1000000000ull * 1000000000ull,
                                     __WASI_FSTFLAGS_MTIM), "path set_times /ovl/times.txt mtim");
  pst("/ovl/times.txt", 0, &st);
  say("mtime set -> %s, ino same -> %s", yn(st.mtim == 1000000000ull * 1000000000ull), yn(st.ino == tino));
  cat("/ovl/times.txt");
  if (!res(po("/ovl/trunc.txt", WR, 0, 0, &fw), "open /ovl/trunc.txt wronly")) {
    res(__wasi_fd_filestat_set_size(fw, 4), "set_size 4");
    cl(fw);
  }
  cat("/ovl/trunc.txt");
  res(po("/ovl/trunc.txt", WR, __WASI_OFLAGS_TRUNC, 0, &fw), "open /ovl/trunc.txt O_TRUNC");
  cl(fw);
  stat_line("/ovl/trunc.txt", 1);
}

// A large lower file: reads across pages, copy-up of a large file, holes.
static uint8_t big_byte(uint32_t i) { return (uint8_t)(((i % 251) + (i >> 12)) & 0xff); }
#define BIG_SIZE (300 * 1024 + 123)

// Reads the whole file in 4000-byte chunks. Returns the size; *ok says whether every byte matched
// big_byte(i), except [patch_at, patch_at+patch_len) which must match patch, and [zero_from, ...)
// which must be zero.
static uint64_t big_check(__wasi_fd_t fd, int *ok, uint32_t patch_at, const char *patch, uint32_t zero_from) {
  uint64_t off = 0;
  size_t plen = patch ? strlen(patch) : 0;
  *ok = 1;
  for (;;) {
    size_t n;
    if (__wasi_fd_pread(fd, &(__wasi_iovec_t){BUF, 4000}, 1, off, &n)) { *ok = 0; return off; }
    if (n == 0) return off;
    for (size_t i = 0; i < n; i++) {
      uint32_t at = (uint32_t)(off + i);
      uint8_t want = at >= zero_from ? 0 : big_byte(at);
      if (patch && at >= patch_at && at < patch_at + plen) want = (uint8_t)patch[at - patch_at];
      if (BUF[i] != want) *ok = 0;
    }
    off += n;
  }
}

static void sec_big(void) {
  __wasi_fd_t fd;
  __wasi_filestat_t st = {0};
  size_t n;
  int ok;
  scratch("big");
  stat_line("/data/big.bin", 1);
  uint64_t ino0 = ino_of("/data/big.bin");
  if (!res(po("/data/big.bin", RD, 0, 0, &fd), "open /data/big.bin rdonly")) {
    // Sequential reads of odd sizes.
    uint64_t total = 0;
    ok = 1;
    for (;;) {
      if (rd(fd, BUF, 4000, &n)) { ok = 0; break; }
      if (n == 0) break;
      for (size_t i = 0; i < n; i++) ok &= BUF[i] == big_byte((uint32_t)(total + i));
      total += n;
    }
    say("sequential read -> %llu bytes, pattern %s", (unsigned long long)total, yn(ok));
    res(__wasi_fd_pread(fd, &(__wasi_iovec_t){BUF, 20}, 1, 4090, &n), "pread 20 at 4090 (across a page)");
    ok = n == 20;
    for (size_t i = 0; i < n; i++) ok &= BUF[i] == big_byte(4090 + i);
    say("pread across a page -> %zu bytes, pattern %s", n, yn(ok));
    res(__wasi_fd_pread(fd, &(__wasi_iovec_t){BUF, 100}, 1, BIG_SIZE - 3, &n), "pread 100 at size-3");
    say("pread at the end -> %zu bytes", n);
    cl(fd);
  }
  if (!res(po("/data/big.bin", RD | WR, 0, 0, &fd), "open /data/big.bin rdwr")) {
    res(__wasi_fd_pwrite(fd, &(__wasi_ciovec_t){(const uint8_t *)"XYZ", 3}, 1, 200000, &n), "pwrite \"XYZ\" at 200000");
    uint64_t sz = big_check(fd, &ok, 200000, "XYZ", ~0u);
    say("after copy-up -> %llu bytes, pattern with patch %s", (unsigned long long)sz, yn(ok));
    fst(fd, &st);
    say("ino same after copy-up -> %s", yn(st.ino == ino0));
    res(__wasi_fd_filestat_set_size(fd, 5000), "set_size 5000");
    res(__wasi_fd_filestat_set_size(fd, 400000), "set_size 400000");
    sz = big_check(fd, &ok, 0, 0, 5000);
    say("after shrink and grow -> %llu bytes, head kept and hole zeros %s", (unsigned long long)sz, yn(ok));
    res(__wasi_fd_pwrite(fd, &(__wasi_ciovec_t){(const uint8_t *)"E", 1}, 1, 1000000, &n), "pwrite \"E\" at 1000000");
    sz = big_check(fd, &ok, 1000000, "E", 5000);
    say("sparse write -> %llu bytes, zeros up to it %s", (unsigned long long)sz, yn(ok));
    cl(fd);
  }
  if (!res(po("/data/big.bin", RD, 0, 0, &fd), "open /data/big.bin rdonly again")) {
    uint64_t sz = big_check(fd, &ok, 1000000, "E", 5000);
    say("reopened -> %llu bytes, same content %s", (unsigned long long)sz, yn(ok));
    cl(fd);
  }
}

// Hostile pointers: every argument that names guest memory, out of bounds, straddling the end of
// memory, or wrapping past 4 GiB, must give EFAULT and change nothing (the runtime checks each
// pointer before it acts). Raw imports, so that a bad path pointer reaches the runtime unread.
__attribute__((import_module("wasi_snapshot_preview1"), import_name("path_filestat_get"))) int32_t
raw_path_filestat_get(int32_t fd, int32_t flags, int32_t path, int32_t path_len, int32_t buf);
__attribute__((import_module("wasi_snapshot_preview1"), import_name("path_create_directory"))) int32_t
raw_path_create_directory(int32_t fd, int32_t path, int32_t path_len);
__attribute__((import_module("wasi_snapshot_preview1"), import_name("fd_read"))) int32_t
raw_fd_read(int32_t fd, int32_t iovs, int32_t iovs_len, int32_t nread);

static void sec_fault(void) {
  const uint32_t end = (uint32_t)__builtin_wasm_memory_size(0) * 65536u;
  const uint32_t far = 0xfffffff0u; // past the end, and ptr + len wraps a u32
  const char *name = "s/fault/f";
  __wasi_fd_t fd;
  scratch("fault");
  put("/s/fault/f", "0123456789");
  if (res(po("/s/fault/f", RD, 0, 0, &fd), "open /s/fault/f")) return;
  res(__wasi_fd_fdstat_get(fd, (__wasi_fdstat_t *)(uintptr_t)far), "fd_fdstat_get, result far out");
  res(__wasi_fd_filestat_get(fd, (__wasi_filestat_t *)(uintptr_t)(end - 8)), "fd_filestat_get, result straddling the end");
  res(__wasi_fd_prestat_get(ROOT, (__wasi_prestat_t *)(uintptr_t)far), "fd_prestat_get, result far out");
  res((__wasi_errno_t)raw_path_filestat_get(ROOT, 0, (int32_t)(uintptr_t)name, (int32_t)strlen(name), (int32_t)far),
      "path_filestat_get, result far out");
  res((__wasi_errno_t)raw_path_filestat_get(ROOT, 0, (int32_t)(end - 4), 9, (int32_t)(uintptr_t)BUF),
      "path_filestat_get, path straddling the end");
  res((__wasi_errno_t)raw_path_create_directory(ROOT, (int32_t)far, 8), "path_create_directory, path far out");
  __wasi_fd_t fd2 = 12345;
  res(__wasi_path_open(ROOT, 0, name, 0, __WASI_RIGHTS_FD_READ, 0, 0, (__wasi_fd_t *)(uintptr_t)far), "path_open, fd result far out");
  __wasi_iovec_t iov = {(uint8_t *)(uintptr_t)(end - 4), 8};
  size_t got = 99;
  res(__wasi_fd_read(fd, &iov, 1, &got), "fd_read, buffer straddling the end");
  res((__wasi_errno_t)raw_fd_read(fd, (int32_t)far, 1, (int32_t)(uintptr_t)&got), "fd_read, iovec array far out");
  iov.buf = BUF;
  iov.buf_len = 4;
  res(__wasi_fd_read(fd, &iov, 1, (size_t *)(uintptr_t)far), "fd_read, count result far out");
  res(__wasi_fd_readdir(ROOT, (uint8_t *)(uintptr_t)(end - 16), 64, 0, &got), "fd_readdir, buffer straddling the end");
  res(__wasi_clock_time_get(__WASI_CLOCKID_MONOTONIC, 1, (__wasi_timestamp_t *)(uintptr_t)far), "clock_time_get, result far out");
  res(__wasi_random_get((uint8_t *)(uintptr_t)(end - 8), 16), "random_get, buffer straddling the end");
  // nothing above moved the file offset or made an fd
  got = 0;
  res(rd(fd, BUF, 4, &got), "read after the faults");
  say("read after the faults -> %s", q(BUF, got));
  res(po("/s/fault/f", RD, 0, 0, &fd2), "open again");
  say("the next fd is the one after the first -> %s", yn(fd2 == fd + 1));
  cl(fd2);
  cl(fd);
  ls("/s/fault");
}

// ---------------------------------------------------------------------------------------------

static const struct {
  const char *name;
  void (*fn)(void);
} SECTIONS[] = {
    {"prestat", sec_prestat}, {"open", sec_open},       {"rw", sec_rw},           {"fdstat", sec_fdstat},
    {"filestat", sec_filestat}, {"dirs", sec_dirs},     {"readdir", sec_readdir}, {"rename", sec_rename},
    {"symlink", sec_symlink}, {"link", sec_link},       {"misc", sec_misc},       {"overlay", sec_overlay},
    {"big", sec_big},         {"fault", sec_fault},
};
#define NSECTIONS (sizeof SECTIONS / sizeof SECTIONS[0])

static int find_root(void) {
  for (__wasi_fd_t fd = 3; fd < 64; fd++) {
    __wasi_prestat_t ps;
    __wasi_errno_t e = __wasi_fd_prestat_get(fd, &ps);
    if (e == __WASI_ERRNO_BADF) break;
    if (e || ps.tag != __WASI_PREOPENTYPE_DIR || ps.u.dir.pr_name_len != 1) continue;
    char c;
    if (__wasi_fd_prestat_dir_name(fd, (uint8_t *)&c, 1) || c != '/') continue;
    __wasi_fdstat_t fs;
    if (__wasi_fd_fdstat_get(fd, &fs)) return 0;
    ROOT = fd;
    ROOT_INHERITING = fs.fs_rights_inheriting;
    return 1;
  }
  return 0;
}

int main(int argc, char **argv) {
  if (!find_root()) {
    say("no '/' preopen");
    say("exit 3");
    return 3;
  }
  for (int i = 1; i < argc; i++) {
    size_t k = 0;
    while (k < NSECTIONS && strcmp(SECTIONS[k].name, argv[i])) k++;
    if (k == NSECTIONS) {
      say("unknown section %s", argv[i]);
      say("exit 2");
      return 2;
    }
  }
  for (size_t k = 0; k < NSECTIONS; k++) {
    int want = argc == 1;
    for (int i = 1; i < argc; i++) want |= !strcmp(SECTIONS[k].name, argv[i]);
    if (!want) continue;
    say("## %s", SECTIONS[k].name);
    SECTIONS[k].fn();
  }
  say("exit %d", EXIT_CODE);
  return EXIT_CODE;
}
