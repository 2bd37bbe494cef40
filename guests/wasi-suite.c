// wasi-suite: the behaviours the public WebAssembly wasi-testsuite (preview1: its Rust, C and
// AssemblyScript tests) asserts and guests/wasi.c does not already check, re-expressed as raw WASI
// calls in our own words. Owns these checks only; test/e2e/wasi-suite.test.ts holds each line to
// the answers the suite allows (in the sandbox, on a bind mount, and under node:wasi), and
// docs/wasi.md maps every suite test to its lines.
//
// Output: one `what -> result` line per check (ok, an errno name, or a value), in a fixed order;
// the last line is `done`. Lines go to fd 1 until the stdio checks move stdout to another fd, and
// to that fd after (so the output carries on).
//
// Two runs, both needed:
//   wasi-suite SCRATCH FIXTURES first 'the "second" arg' 3, with exactly the variables a=text,
//     b=escap " ing and c=new<LF>line:
//     everything but closing the preopen; SCRATCH (made, left empty and removed) and FIXTURES (the
//     suite's fs-tests.dir: file, lseek.txt "01234567", pread.txt "pread-test",
//     fopendir.dir/{file-0,file-1}, an empty writeable/; what the probe makes there it removes)
//     are relative to the '/' preopen, fd 3. Ends with proc_exit(0) after `done`.
//   wasi-suite   (no arguments, no environment): argument and environment counts, then closes the
//     preopen; ends with proc_exit(33) after `done`.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wasi/api.h>
#include "errnames.h"

#define ROOT 3
#define quiet(call) ((void)!(call))
#define R(x) __WASI_RIGHTS_##x

// path_open with the path's length given, so that a path may hold a NUL byte
__attribute__((import_module("wasi_snapshot_preview1"), import_name("path_open"))) int32_t
raw_path_open(int32_t fd, int32_t dirflags, int32_t path, int32_t path_len, int32_t oflags, int64_t base, int64_t inh, int32_t fdflags, int32_t out);

__attribute__((import_module("wasi_snapshot_preview1"), import_name("path_symlink"))) int32_t
raw_path_symlink(int32_t target, int32_t target_len, int32_t fd, int32_t path, int32_t path_len);
__attribute__((import_module("wasi_snapshot_preview1"), import_name("path_unlink_file"))) int32_t
raw_path_unlink_file(int32_t fd, int32_t path, int32_t path_len);
#define PTR(p) ((int32_t)(intptr_t)(p))

static __wasi_fd_t out = 1; // where the lines go

static void emit(const char *s, size_t n) {
  __wasi_ciovec_t v = {(const uint8_t *)s, n};
  __wasi_size_t done;
  quiet(__wasi_fd_write(out, &v, 1, &done));
}
static void say(const char *what, const char *result) {
  char line[600];
  int n = snprintf(line, sizeof line, "%s -> %s\n", what, result);
  emit(line, n < (int)sizeof line ? (size_t)n : sizeof line - 1);
}
static void res(const char *what, __wasi_errno_t e) { say(what, ename(e)); }
static void yes(const char *what, int c) { say(what, c ? "yes" : "no"); }
static void num(const char *what, unsigned long long v) {
  char b[24];
  snprintf(b, sizeof b, "%llu", v);
  say(what, b);
}
/** A count, or the errno that stopped the call. */
static void cnt(const char *what, __wasi_errno_t e, unsigned long long v) {
  if (e) res(what, e);
  else num(what, v);
}

static const char *tname(__wasi_filetype_t t) {
  switch (t) {
  case __WASI_FILETYPE_DIRECTORY: return "directory";
  case __WASI_FILETYPE_REGULAR_FILE: return "regular file";
  case __WASI_FILETYPE_SYMBOLIC_LINK: return "symbolic link";
  case __WASI_FILETYPE_CHARACTER_DEVICE: return "character device";
  default: return "other";
  }
}

static __wasi_errno_t op(__wasi_fd_t d, __wasi_lookupflags_t lf, const char *p, __wasi_oflags_t of, __wasi_rights_t b, __wasi_rights_t i, __wasi_fdflags_t ff, __wasi_fd_t *fd) {
  return __wasi_path_open(d, lf, p, of, b, i, ff, fd);
}
/** Opens and closes: the answer only. */
static __wasi_errno_t try_open(__wasi_fd_t d, __wasi_lookupflags_t lf, const char *p, __wasi_oflags_t of, __wasi_rights_t b) {
  __wasi_fd_t fd;
  __wasi_errno_t e = op(d, lf, p, of, b, 0, 0, &fd);
  if (e == 0) quiet(__wasi_fd_close(fd));
  return e;
}
static void mkfile(__wasi_fd_t d, const char *p) {
  __wasi_fd_t fd;
  if (op(d, 0, p, __WASI_OFLAGS_CREAT, 0, 0, 0, &fd) == 0) quiet(__wasi_fd_close(fd));
}
static __wasi_fdstat_t fdst(__wasi_fd_t fd) {
  __wasi_fdstat_t s;
  memset(&s, 0, sizeof s);
  quiet(__wasi_fd_fdstat_get(fd, &s));
  return s;
}
static __wasi_filestat_t fst(__wasi_fd_t fd) {
  __wasi_filestat_t s;
  memset(&s, 0, sizeof s);
  quiet(__wasi_fd_filestat_get(fd, &s));
  return s;
}
static __wasi_filestat_t pst(__wasi_fd_t d, __wasi_lookupflags_t lf, const char *p) {
  __wasi_filestat_t s;
  memset(&s, 0, sizeof s);
  quiet(__wasi_path_filestat_get(d, lf, p, &s));
  return s;
}
/** path_filestat_get's file type, or its errno. */
static void stat_type(const char *what, __wasi_fd_t d, __wasi_lookupflags_t lf, const char *p) {
  __wasi_filestat_t s;
  __wasi_errno_t e = __wasi_path_filestat_get(d, lf, p, &s);
  if (e) res(what, e);
  else say(what, tname(s.filetype));
}
static __wasi_errno_t wr(__wasi_fd_t fd, const void *b, size_t n, __wasi_size_t *done) {
  __wasi_ciovec_t v = {(const uint8_t *)b, n};
  return __wasi_fd_write(fd, &v, 1, done);
}
static __wasi_errno_t rd(__wasi_fd_t fd, void *b, size_t n, __wasi_size_t *done) {
  __wasi_iovec_t v = {(uint8_t *)b, n};
  return __wasi_fd_read(fd, &v, 1, done);
}
static __wasi_errno_t seek(__wasi_fd_t fd, __wasi_filedelta_t off, __wasi_whence_t w, __wasi_filesize_t *pos) {
  return __wasi_fd_seek(fd, off, w, pos);
}

// the rights the suite's helper gives the directories it makes for each test
static const __wasi_rights_t TMP_BASE = R(FD_FILESTAT_GET) | R(FD_READDIR) | R(PATH_CREATE_FILE) | R(PATH_CREATE_DIRECTORY) |
    R(PATH_REMOVE_DIRECTORY) | R(PATH_OPEN) | R(PATH_UNLINK_FILE) | R(PATH_LINK_SOURCE) | R(PATH_LINK_TARGET) | R(PATH_READLINK) |
    R(PATH_RENAME_SOURCE) | R(PATH_RENAME_TARGET) | R(PATH_FILESTAT_GET) | R(PATH_FILESTAT_SET_SIZE) | R(PATH_FILESTAT_SET_TIMES) | R(PATH_SYMLINK);
static const __wasi_rights_t TMP_INH = R(FD_READ) | R(FD_WRITE) | R(FD_READDIR) | R(FD_FILESTAT_GET) | R(FD_SEEK) | R(PATH_LINK_SOURCE) |
    R(PATH_LINK_TARGET) | R(PATH_OPEN) | R(PATH_UNLINK_FILE) | R(PATH_FILESTAT_GET) | R(FD_FDSTAT_SET_FLAGS) | R(FD_SYNC) | R(FD_TELL) |
    R(FD_ADVISE) | R(FD_ALLOCATE) | R(FD_FILESTAT_SET_SIZE) | R(FD_FILESTAT_SET_TIMES);

/** A fresh directory `name` in `parent`, opened with the suite's rights; exits if it cannot be. */
static __wasi_fd_t tmpdir(__wasi_fd_t parent, const char *name) {
  __wasi_fd_t fd;
  __wasi_errno_t e = __wasi_path_create_directory(parent, name);
  if (e == 0) e = op(parent, 0, name, __WASI_OFLAGS_DIRECTORY, TMP_BASE, TMP_INH, 0, &fd);
  if (e) {
    char w[128];
    snprintf(w, sizeof w, "make %s", name);
    res(w, e);
    exit(1);
  }
  return fd;
}
static void rmtmp(__wasi_fd_t parent, __wasi_fd_t fd, const char *name) {
  quiet(__wasi_fd_close(fd));
  quiet(__wasi_path_remove_directory(parent, name));
}

// ---------------------------------------------------------------------------------------------
// fd_readdir, parsed as the suite parses it: whole records only; the end when the buffer is not full

typedef struct {
  char name[32];
  __wasi_inode_t ino;
  __wasi_dircookie_t next;
  __wasi_filetype_t type;
  __wasi_dirnamlen_t namlen;
} ent_t;
static ent_t ents[1100];
static uint8_t dbuf[4096];

/** One fd_readdir call into a buffer of `size`; the records go to ents[at...]. Count or -errno. */
static int readdir_once(__wasi_fd_t fd, __wasi_dircookie_t cookie, size_t size, int at, int *eof) {
  __wasi_size_t used;
  __wasi_errno_t e = __wasi_fd_readdir(fd, dbuf, size, cookie, &used);
  if (e) return -(int)e;
  int n = 0;
  size_t off = 0;
  while (off + sizeof(__wasi_dirent_t) <= used && at + n < (int)(sizeof ents / sizeof ents[0])) {
    __wasi_dirent_t d;
    memcpy(&d, dbuf + off, sizeof d);
    if (off + sizeof d + d.d_namlen > used) break;
    ent_t *x = &ents[at + n++];
    size_t l = d.d_namlen < sizeof x->name - 1 ? d.d_namlen : sizeof x->name - 1;
    memcpy(x->name, dbuf + off + sizeof d, l);
    x->name[l] = 0;
    x->ino = d.d_ino;
    x->next = d.d_next;
    x->type = d.d_type;
    x->namlen = d.d_namlen;
    off += sizeof d + d.d_namlen;
  }
  *eof = used < size;
  return n;
}
static int by_name(const void *a, const void *b) { return strcmp(((const ent_t *)a)->name, ((const ent_t *)b)->name); }
/** The names of ents[0..n), sorted, space-separated. */
static const char *names(int n) {
  static char b[256];
  ent_t tmp[8];
  if (n > 8) return "too many";
  memcpy(tmp, ents, n * sizeof tmp[0]);
  qsort(tmp, n, sizeof tmp[0], by_name);
  b[0] = 0;
  for (int i = 0; i < n; i++) {
    if (i) strncat(b, " ", sizeof b - strlen(b) - 1);
    strncat(b, tmp[i].name, sizeof b - strlen(b) - 1);
  }
  return b;
}
static ent_t *find(int n, const char *name) {
  for (int i = 0; i < n; i++)
    if (strcmp(ents[i].name, name) == 0) return &ents[i];
  return NULL;
}

// ---------------------------------------------------------------------------------------------
// Arguments, environment, clocks, random, exit (args_*, environ_*, clock_*, random_get,
// sched_yield, big_random_buf)

/** args_sizes_get or environ_sizes_get, checked against the strings that args_get/environ_get give. */
static char **strings(int env, size_t *count, const char *what) {
  size_t n = 0, size = 0;
  __wasi_errno_t e = env ? __wasi_environ_sizes_get(&n, &size) : __wasi_args_sizes_get(&n, &size);
  char w[96];
  snprintf(w, sizeof w, "%s count", what);
  cnt(w, e, n);
  char **v = calloc(n + 1, sizeof *v);
  char *buf = malloc(size + 1);
  e = env ? __wasi_environ_get((uint8_t **)v, (uint8_t *)buf) : __wasi_args_get((uint8_t **)v, (uint8_t *)buf);
  size_t sum = 0;
  for (size_t i = 0; e == 0 && i < n; i++) sum += strlen(v[i]) + 1;
  snprintf(w, sizeof w, "%s size matches the strings", what);
  if (e) res(w, e);
  else yes(w, sum == size);
  *count = e ? 0 : n;
  return v;
}

static void args_env(void) {
  size_t n;
  char **a = strings(0, &n, "args_sizes_get");
  // the suite's arguments (first, the "second" arg, 3) after our own two
  for (int i = 0; i < 3; i++) {
    char w[32];
    snprintf(w, sizeof w, "arg %d", i + 3);
    say(w, (size_t)(i + 3) < n ? a[i + 3] : "(missing)");
  }
  char **v = strings(1, &n, "environ_sizes_get");
  const char *vars[][2] = {{"a=text", "environ has a=text"}, {"b=escap \" ing", "environ has b=escap \" ing"}, {"c=new\nline", "environ has c=new<LF>line"}};
  for (int k = 0; k < 3; k++) {
    int found = 0;
    for (size_t i = 0; i < n; i++) found |= strcmp(v[i], vars[k][0]) == 0;
    yes(vars[k][1], found);
  }
}

static void clocks_random(void) {
  __wasi_timestamp_t t0, t1, r;
  res("clock_time_get monotonic, precision 1", __wasi_clock_time_get(__WASI_CLOCKID_MONOTONIC, 1, &t0));
  res("clock_time_get monotonic, precision 0", __wasi_clock_time_get(__WASI_CLOCKID_MONOTONIC, 0, &t0));
  // the suite's C test reads twice and wants the second strictly later: 1000 pairs here
  int back = 0, same = 0;
  for (int i = 0; i < 1000; i++) {
    quiet(__wasi_clock_time_get(__WASI_CLOCKID_MONOTONIC, 0, &t0));
    quiet(__wasi_clock_time_get(__WASI_CLOCKID_MONOTONIC, 0, &t1));
    back |= t1 < t0;
    same |= t1 == t0;
  }
  yes("monotonic clock never goes back (1000 pairs)", !back);
  yes("monotonic clock, a read right after another is later (1000 pairs)", !same && !back);
  res("clock_time_get realtime", __wasi_clock_time_get(__WASI_CLOCKID_REALTIME, 0, &t0));
  res("clock_res_get monotonic", __wasi_clock_res_get(__WASI_CLOCKID_MONOTONIC, &r));
  res("clock_res_get realtime", __wasi_clock_res_get(__WASI_CLOCKID_REALTIME, &r));
  res("sched_yield", __wasi_sched_yield());
  static uint8_t big[1024];
  res("random_get 1024 bytes", __wasi_random_get(big, sizeof big));
  int any = 0;
  for (size_t i = 0; i < sizeof big; i++) any |= big[i];
  yes("random_get 1024 bytes, not all zero", any != 0);
  res("random_get 32 bytes", __wasi_random_get(big, 32));
  res("random_get 0 bytes", __wasi_random_get(big, 0));
}

// fd_write-to-stdout, fd_write-to-invalid-fd, sock_shutdown-not_sock
static void stdio_writes(void) {
  __wasi_size_t n = 0;
  res("fd_write to fd -31337", wr((__wasi_fd_t)-31337, "x", 1, &n));
  emit("fd_write to stdout -> ", 22);
  __wasi_errno_t e = wr(1, "hello", 5, &n); // the bytes themselves are the result
  emit("\n", 1);
  cnt("fd_write to stdout, bytes written", e, n);
  res("sock_shutdown stdout", __wasi_sock_shutdown(1, __WASI_SDFLAGS_RD));
}

// poll_oneoff_stdio: stdin readable or a 200 ms clock; stdout and stderr writable before 200 ms
enum { UD_CLOCK = 0x12345678, UD_STDIN = 0x87654321 };
static void clock_sub(__wasi_subscription_t *s) {
  memset(s, 0, sizeof *s);
  s->userdata = UD_CLOCK;
  s->u.tag = __WASI_EVENTTYPE_CLOCK;
  s->u.u.clock.id = __WASI_CLOCKID_MONOTONIC;
  s->u.u.clock.timeout = 200000000;
}
static const char *poll_stdin(void) {
  __wasi_subscription_t s[2];
  clock_sub(&s[0]);
  memset(&s[1], 0, sizeof s[1]);
  s[1].userdata = UD_STDIN;
  s[1].u.tag = __WASI_EVENTTYPE_FD_READ;
  s[1].u.u.fd_read.file_descriptor = 0;
  __wasi_event_t ev[2];
  __wasi_size_t n = 0;
  __wasi_errno_t e = __wasi_poll_oneoff(s, ev, 2, &n);
  if (e) return ename(e);
  if (n < 1) return "no event";
  for (__wasi_size_t i = 0; i < n; i++) {
    if (ev[i].error) return ename(ev[i].error);
    if (ev[i].type == __WASI_EVENTTYPE_CLOCK ? ev[i].userdata != UD_CLOCK : ev[i].type != __WASI_EVENTTYPE_FD_READ || ev[i].userdata != UD_STDIN) return "wrong event";
  }
  return "ok";
}
static const char *poll_out(void) {
  int pending = 3; // bit 0: stdout, bit 1: stderr
  for (int round = 0; pending && round < 10; round++) {
    __wasi_subscription_t s[3];
    int k = 0;
    for (int b = 0; b < 2; b++) {
      if (!(pending & (1 << b))) continue;
      memset(&s[k], 0, sizeof s[k]);
      s[k].userdata = (__wasi_userdata_t)(b + 1);
      s[k].u.tag = __WASI_EVENTTYPE_FD_WRITE;
      s[k].u.u.fd_write.file_descriptor = (__wasi_fd_t)(b + 1);
      k++;
    }
    clock_sub(&s[k++]);
    __wasi_event_t ev[3];
    __wasi_size_t n = 0;
    __wasi_errno_t e = __wasi_poll_oneoff(s, ev, k, &n);
    if (e) return ename(e);
    for (__wasi_size_t i = 0; i < n; i++) {
      if (ev[i].userdata == UD_CLOCK) return "timed out";
      if (ev[i].type != __WASI_EVENTTYPE_FD_WRITE || ev[i].userdata < 1 || ev[i].userdata > 2) return "wrong event";
      if (ev[i].error) return ename(ev[i].error);
      pending &= ~(1 << (ev[i].userdata - 1));
    }
  }
  return pending ? "never ready" : "ok";
}

// ---------------------------------------------------------------------------------------------
// Directories the preopen hands out (path_open_preopen, path_open_nonblock, dir_fd_op_failures,
// truncation_rights, directory_seek)

static void preopen_rights(void) {
  const __wasi_rights_t dir = R(PATH_CREATE_DIRECTORY) | R(PATH_CREATE_FILE) | R(PATH_LINK_SOURCE) | R(PATH_LINK_TARGET) | R(PATH_OPEN) |
      R(FD_READDIR) | R(PATH_READLINK) | R(PATH_RENAME_SOURCE) | R(PATH_RENAME_TARGET) | R(PATH_SYMLINK) | R(PATH_REMOVE_DIRECTORY) |
      R(PATH_UNLINK_FILE) | R(PATH_FILESTAT_GET) | R(PATH_FILESTAT_SET_TIMES) | R(FD_FILESTAT_GET) | R(FD_FILESTAT_SET_TIMES);
  const __wasi_rights_t file = dir | R(FD_DATASYNC) | R(FD_READ) | R(FD_SEEK) | R(FD_FDSTAT_SET_FLAGS) | R(FD_SYNC) | R(FD_TELL) |
      R(FD_WRITE) | R(FD_ADVISE) | R(FD_ALLOCATE) | R(FD_FILESTAT_SET_SIZE) | R(POLL_FD_READWRITE);
  __wasi_fdstat_t s = fdst(ROOT);
  yes("preopen: base rights hold every directory right", (s.fs_rights_base & dir) == dir);
  yes("preopen: inheriting rights hold every file right", (s.fs_rights_inheriting & file) == file);
  say("preopen: filetype", tname(s.fs_filetype));
  __wasi_fd_t fd;
  __wasi_errno_t e = op(ROOT, 0, ".", 0, s.fs_rights_base, s.fs_rights_inheriting, 0, &fd);
  res("open . with the preopen's own rights", e);
  if (e == 0) quiet(__wasi_fd_close(fd));
  res("open . with no rights", try_open(ROOT, 0, ".", 0, 0));
  res("open . O_DIRECTORY with no rights", try_open(ROOT, 0, ".", __WASI_OFLAGS_DIRECTORY, 0));
  res("open . O_DIRECTORY with FD_READ", try_open(ROOT, 0, ".", __WASI_OFLAGS_DIRECTORY, R(FD_READ)));
  res("open . O_DIRECTORY with FD_READ and FD_WRITE", try_open(ROOT, 0, ".", __WASI_OFLAGS_DIRECTORY, R(FD_READ) | R(FD_WRITE)));
  e = op(ROOT, 0, ".", 0, 0, 0, __WASI_FDFLAGS_NONBLOCK, &fd);
  res("open . with NONBLOCK", e);
  if (e == 0) quiet(__wasi_fd_close(fd));
}

/** A directory fd with everything the preopen has, as the suite's root_directory() opens it. */
static void dir_fd_ops(__wasi_fd_t d) {
  __wasi_filestat_t st;
  __wasi_errno_t e = __wasi_fd_filestat_get(d, &st);
  if (e) res("directory fd: filestat", e);
  else say("directory fd: filestat filetype", tname(st.filetype));
  __wasi_fdstat_t s = fdst(d);
  num("directory fd: fdstat flags", s.fs_flags);
  yes("directory fd: base rights hold FD_FILESTAT_SET_SIZE", (s.fs_rights_base & R(FD_FILESTAT_SET_SIZE)) != 0);
  char buf[128] = {0};
  __wasi_iovec_t iov = {(uint8_t *)buf, sizeof buf};
  __wasi_ciovec_t ciov = {(const uint8_t *)buf, sizeof buf};
  __wasi_size_t n;
  __wasi_filesize_t pos;
  res("directory fd: read", __wasi_fd_read(d, &iov, 1, &n));
  res("directory fd: pread", __wasi_fd_pread(d, &iov, 1, 0, &n));
  res("directory fd: write", __wasi_fd_write(d, &ciov, 1, &n));
  res("directory fd: pwrite", __wasi_fd_pwrite(d, &ciov, 1, 0, &n));
  res("directory fd: seek cur", seek(d, 0, __WASI_WHENCE_CUR, &pos));
  res("directory fd: seek set", seek(d, 0, __WASI_WHENCE_SET, &pos));
  res("directory fd: seek end", seek(d, 0, __WASI_WHENCE_END, &pos));
  res("directory fd: tell", __wasi_fd_tell(d, &pos));
  res("directory fd: allocate", __wasi_fd_allocate(d, 0, 1));
  res("directory fd: set size", __wasi_fd_filestat_set_size(d, 0));
}

// ---------------------------------------------------------------------------------------------
// Files: sizes, times, flags, offsets, rights

static void file_checks(__wasi_fd_t dir) {
  __wasi_fd_t t = tmpdir(dir, "files"), f, g;
  __wasi_size_t n;
  __wasi_filesize_t pos;
  uint8_t buf[128];

  // fd_advise, file_allocate
  quiet(op(t, 0, "adv", __WASI_OFLAGS_CREAT, R(FD_READ) | R(FD_WRITE) | R(FD_ADVISE) | R(FD_FILESTAT_GET) | R(FD_FILESTAT_SET_SIZE) | R(FD_ALLOCATE), 0, 0, &f));
  num("new file: size", fst(f).size);
  res("set size 100", __wasi_fd_filestat_set_size(f, 100));
  num("size after set size", fst(f).size);
  res("fd_advise 10+50 normal", __wasi_fd_advise(f, 10, 50, __WASI_ADVICE_NORMAL));
  num("size after fd_advise", fst(f).size);
  __wasi_errno_t e = __wasi_fd_allocate(f, 100, 100);
  cnt("fd_allocate 100+100, size after", e, fst(f).size);
  quiet(__wasi_fd_close(f));
  quiet(op(t, 0, "alloc", __WASI_OFLAGS_CREAT | __WASI_OFLAGS_TRUNC, R(FD_READ) | R(FD_WRITE) | R(FD_ALLOCATE) | R(FD_FILESTAT_GET), 0, 0, &f));
  e = __wasi_fd_allocate(f, 0, 100);
  cnt("fd_allocate 0+100, size after", e, fst(f).size);
  e = __wasi_fd_allocate(f, 10, 10);
  cnt("fd_allocate 10+10, size after", e, fst(f).size);
  e = __wasi_fd_allocate(f, 90, 20);
  cnt("fd_allocate 90+20, size after", e, fst(f).size);
  quiet(__wasi_fd_close(f));

  // fd_filestat_set, fstflags_validate
  quiet(op(t, 0, "times", __WASI_OFLAGS_CREAT, R(FD_READ) | R(FD_WRITE) | R(FD_FILESTAT_GET) | R(FD_FILESTAT_SET_SIZE) | R(FD_FILESTAT_SET_TIMES), 0, 0, &f));
  quiet(__wasi_fd_filestat_set_size(f, 100));
  __wasi_filestat_t s0 = fst(f);
  res("fd_filestat_set_times mtim", __wasi_fd_filestat_set_times(f, s0.mtim - 100, s0.mtim - 100, __WASI_FSTFLAGS_MTIM));
  __wasi_filestat_t s1 = fst(f);
  yes("fd_filestat_set_times: mtim is the one set", s1.mtim == s0.mtim - 100);
  yes("fd_filestat_set_times: atim unchanged", s1.atim == s0.atim);
  num("fd_filestat_set_times: size unchanged", s1.size);
  res("fd_filestat_set_times MTIM and MTIM_NOW", __wasi_fd_filestat_set_times(f, 100, 200, __WASI_FSTFLAGS_MTIM | __WASI_FSTFLAGS_MTIM_NOW));
  res("fd_filestat_set_times ATIM and ATIM_NOW", __wasi_fd_filestat_set_times(f, 100, 200, __WASI_FSTFLAGS_ATIM | __WASI_FSTFLAGS_ATIM_NOW));
  quiet(__wasi_fd_close(f));

  // fd_fdstat_set_rights
  const uint8_t four[4] = {0, 1, 2, 3};
  uint8_t back[4] = {9, 9, 9, 9};
  quiet(op(t, 0, "rights", __WASI_OFLAGS_CREAT, R(FD_READ) | R(FD_WRITE) | R(FD_SEEK) | R(FD_TELL), 0, 0, &f));
  quiet(wr(f, four, 4, &n));
  quiet(seek(f, 0, __WASI_WHENCE_SET, &pos));
  e = rd(f, back, 4, &n);
  yes("write, seek, read back", e == 0 && n == 4 && memcmp(four, back, 4) == 0);
  __wasi_fdstat_t fs = fdst(f);
  res("drop FD_READ and FD_WRITE", __wasi_fd_fdstat_set_rights(f, fs.fs_rights_base & ~(R(FD_READ) | R(FD_WRITE)), fs.fs_rights_inheriting));
  fs = fdst(f);
  yes("rights now: no FD_READ or FD_WRITE, FD_SEEK kept", !(fs.fs_rights_base & (R(FD_READ) | R(FD_WRITE))) && (fs.fs_rights_base & R(FD_SEEK)));
  res("read without FD_READ", rd(f, back, 4, &n));
  res("write without FD_WRITE", wr(f, four, 4, &n));
  const __wasi_rights_t more = R(FD_READ) | R(FD_WRITE) | R(FD_SEEK) | R(FD_TELL);
  res("take them back, base and inheriting", __wasi_fd_fdstat_set_rights(f, fs.fs_rights_base | more, fs.fs_rights_inheriting | more));
  quiet(__wasi_fd_close(f));

  // file_seek_tell
  uint8_t zeros[100] = {0};
  quiet(op(t, 0, "seek", __WASI_OFLAGS_CREAT, R(FD_READ) | R(FD_WRITE) | R(FD_SEEK) | R(FD_TELL), 0, 0, &f));
  e = __wasi_fd_tell(f, &pos);
  cnt("tell, new file", e, pos);
  e = wr(f, zeros, 100, &n);
  cnt("write 100", e, n);
  e = __wasi_fd_tell(f, &pos);
  cnt("tell after writing", e, pos);
  e = seek(f, -50, __WASI_WHENCE_CUR, &pos);
  cnt("seek -50 from cur", e, pos);
  e = seek(f, 0, __WASI_WHENCE_SET, &pos);
  cnt("seek 0 from set", e, pos);
  e = seek(f, 1000, __WASI_WHENCE_CUR, &pos);
  cnt("seek +1000 from cur, past the end", e, pos);
  e = seek(f, -2000, __WASI_WHENCE_CUR, &pos);
  cnt("seek -2000 from cur, before 0", e, pos);
  quiet(seek(f, 0, __WASI_WHENCE_SET, &pos));
  quiet(rd(f, buf, 100, &n));
  e = __wasi_fd_tell(f, &pos);
  cnt("tell after reading 100 from 0", e, pos);
  quiet(__wasi_fd_close(f));

  // file_pread_pwrite
  quiet(op(t, 0, "prw", __WASI_OFLAGS_CREAT, R(FD_READ) | R(FD_SEEK) | R(FD_WRITE), 0, 0, &f));
  e = __wasi_fd_pwrite(f, &(__wasi_ciovec_t){four, 4}, 1, 0, &n);
  cnt("pwrite 4 at 0", e, n);
  memset(back, 9, 4);
  e = __wasi_fd_pread(f, &(__wasi_iovec_t){back, 4}, 1, 0, &n);
  yes("pread 4 at 0 reads them", e == 0 && n == 4 && memcmp(back, four, 4) == 0);
  __wasi_ciovec_t two[2] = {{four, 2}, {four + 2, 2}};
  e = __wasi_fd_pwrite(f, two, 2, 0, &n);
  cnt("pwrite 2+2 bytes in two iovecs at 0", e, n);
  memset(back, 9, 4);
  __wasi_iovec_t rtwo[2] = {{back, 2}, {back + 2, 2}};
  e = __wasi_fd_pread(f, rtwo, 2, 0, &n);
  yes("pread into two iovecs at 0 reads them", e == 0 && n == 4 && memcmp(back, four, 4) == 0);
  memset(back, 0, 4);
  e = __wasi_fd_pread(f, &(__wasi_iovec_t){back, 4}, 1, 2, &n);
  cnt("pread 4 at 2, bytes", e, n);
  const uint8_t ten[2] = {1, 0};
  e = __wasi_fd_pwrite(f, &(__wasi_ciovec_t){ten, 2}, 1, 2, &n);
  cnt("pwrite 2 at 2", e, n);
  const uint8_t want[4] = {0, 1, 1, 0};
  e = __wasi_fd_pread(f, &(__wasi_iovec_t){back, 4}, 1, 0, &n);
  yes("file is 0 1 1 0", e == 0 && n == 4 && memcmp(back, want, 4) == 0);
  quiet(__wasi_fd_close(f));

  // file_truncation, file_unbuffered_write
  quiet(op(t, 0, "trunc", __WASI_OFLAGS_CREAT, R(FD_WRITE), 0, 0, &f));
  quiet(wr(f, "this will go", 12, &n));
  quiet(__wasi_fd_close(f));
  e = op(t, 0, "trunc", __WASI_OFLAGS_CREAT | __WASI_OFLAGS_TRUNC, R(FD_WRITE) | R(FD_READ), 0, 0, &f);
  if (e == 0) e = rd(f, buf, sizeof buf, &n);
  cnt("reopen with CREAT|TRUNC, read", e, n);
  quiet(__wasi_fd_close(f));
  quiet(op(t, 0, "unbuf", __WASI_OFLAGS_CREAT, R(FD_READ), 0, 0, &f));
  quiet(op(t, 0, "unbuf", 0, R(FD_WRITE), 0, 0, &g));
  quiet(wr(g, "\1", 1, &n));
  buf[0] = 0;
  e = rd(f, buf, 1, &n);
  yes("a byte written on one fd reads on another at once", e == 0 && n == 1 && buf[0] == 1);
  quiet(__wasi_fd_close(g));
  quiet(__wasi_fd_close(f));

  // isatty (wasi-libc's isatty asks fdstat)
  quiet(op(t, 0, "tty", __WASI_OFLAGS_CREAT, 0, 0, 0, &f));
  say("a file's fdstat filetype (not a tty)", tname(fdst(f).fs_filetype));
  quiet(__wasi_fd_close(f));

  // path_open_read_write
  mkfile(t, "rw");
  quiet(op(t, 0, "rw", 0, R(FD_READ), 0, 0, &f));
  fs = fdst(f);
  yes("open for reading: FD_READ, no FD_WRITE", (fs.fs_rights_base & R(FD_READ)) && !(fs.fs_rights_base & R(FD_WRITE)));
  e = rd(f, buf, 100, &n);
  cnt("read the empty file", e, n);
  memset(buf, 1, 50);
  res("write it", wr(f, buf, 50, &n));
  quiet(__wasi_fd_close(f));
  quiet(op(t, 0, "rw", 0, R(FD_WRITE), 0, 0, &f));
  fs = fdst(f);
  yes("open for writing: FD_WRITE, no FD_READ", !(fs.fs_rights_base & R(FD_READ)) && (fs.fs_rights_base & R(FD_WRITE)));
  res("read it", rd(f, buf, 100, &n));
  e = wr(f, buf, 50, &n);
  cnt("write 50", e, n);
  quiet(__wasi_fd_close(f));
  quiet(op(t, 0, "rw", 0, R(FD_READ) | R(FD_WRITE) | R(FD_FILESTAT_GET), 0, 0, &f));
  fs = fdst(f);
  yes("open for both: FD_READ and FD_WRITE", (fs.fs_rights_base & R(FD_READ)) && (fs.fs_rights_base & R(FD_WRITE)));
  e = rd(f, buf, 100, &n);
  cnt("read what the writer wrote", e, n);
  e = wr(f, buf, 25, &n);
  cnt("write 25 after it", e, n);
  num("size now", fst(f).size);
  quiet(__wasi_fd_close(f));

  // the suite's older path_open_read_without_rights: a directory passing no FD_READ on
  __wasi_fd_t nr;
  quiet(op(dir, 0, "files", __WASI_OFLAGS_DIRECTORY, TMP_BASE, TMP_INH & ~R(FD_READ), 0, &nr));
  quiet(op(nr, 0, "rw", 0, 0, 0, 0, &f));
  fs = fdst(f);
  yes("opened with no rights from it: no FD_READ, base or inheriting", !((fs.fs_rights_base | fs.fs_rights_inheriting) & R(FD_READ)));
  res("read it anyway", rd(f, buf, 1, &n));
  quiet(__wasi_fd_close(f));
  quiet(__wasi_fd_close(nr));

  const char *files[] = {"adv", "alloc", "times", "rights", "seek", "prw", "trunc", "unbuf", "tty", "rw"};
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) quiet(__wasi_path_unlink_file(t, files[i]));
  rmtmp(dir, t, "files");
}

/** fd_flags_set and path_filestat, in a directory with the preopen's rights. */
static void flag_checks(__wasi_fd_t dir) {
  __wasi_fd_t f;
  __wasi_size_t n;
  __wasi_filesize_t pos;
  uint8_t a[100], b[100];
  memset(a, 0, 100);
  __wasi_errno_t e = op(dir, 0, "append", __WASI_OFLAGS_CREAT, R(FD_READ) | R(FD_WRITE) | R(FD_SEEK) | R(FD_TELL) | R(FD_FDSTAT_SET_FLAGS), 0, __WASI_FDFLAGS_APPEND, &f);
  res("create with APPEND", e);
  e = wr(f, a, 100, &n);
  cnt("append 100 zeros", e, n);
  quiet(seek(f, 0, __WASI_WHENCE_SET, &pos));
  e = rd(f, b, 100, &n);
  yes("read them back from 0", e == 0 && n == 100 && memcmp(a, b, 100) == 0);
  memset(a, 1, 100);
  quiet(seek(f, 0, __WASI_WHENCE_SET, &pos));
  quiet(wr(f, a, 100, &n));
  quiet(seek(f, 100, __WASI_WHENCE_SET, &pos));
  e = rd(f, b, 100, &n);
  yes("a write after seeking to 0 went to the end", e == 0 && n == 100 && memcmp(a, b, 100) == 0);
  res("fd_fdstat_set_flags 0", __wasi_fd_fdstat_set_flags(f, 0));
  memset(a, 2, 100);
  quiet(seek(f, 0, __WASI_WHENCE_SET, &pos));
  quiet(wr(f, a, 100, &n));
  quiet(seek(f, 0, __WASI_WHENCE_SET, &pos));
  e = rd(f, b, 100, &n);
  yes("without APPEND a write at 0 overwrites", e == 0 && n == 100 && memcmp(a, b, 100) == 0);
  quiet(__wasi_fd_close(f));
  num("size after", pst(dir, 0, "append").size);
  quiet(__wasi_path_unlink_file(dir, "append"));

  // path_filestat
  __wasi_fd_t t = tmpdir(dir, "pstat");
  yes("the directory has PATH_FILESTAT_GET", (fdst(t).fs_rights_base & R(PATH_FILESTAT_GET)) != 0);
  const __wasi_rights_t rw = R(FD_READ) | R(FD_WRITE) | R(PATH_FILESTAT_GET);
  __wasi_fdflags_t ff = __WASI_FDFLAGS_APPEND | __WASI_FDFLAGS_SYNC;
  e = op(t, 0, "file", __WASI_OFLAGS_CREAT, rw, 0, ff, &f);
  res("create with APPEND and SYNC", e);
  if (e == __WASI_ERRNO_NOTSUP) quiet(op(t, 0, "file", __WASI_OFLAGS_CREAT, rw, 0, ff = __WASI_FDFLAGS_APPEND, &f));
  __wasi_fdstat_t fs = fdst(f);
  yes("fdstat flags hold APPEND", (fs.fs_flags & __WASI_FDFLAGS_APPEND) != 0);
  yes("fdstat flags hold SYNC", (fs.fs_flags & ff & __WASI_FDFLAGS_SYNC) == (ff & __WASI_FDFLAGS_SYNC));
  __wasi_filestat_t s = pst(t, 0, "file");
  num("path_filestat_get size", s.size);
  __wasi_timestamp_t m = s.mtim - 100;
  res("path_filestat_set_times mtim", __wasi_path_filestat_set_times(t, 0, "file", 0, m, __WASI_FSTFLAGS_MTIM));
  yes("path_filestat_set_times: mtim is the one set", pst(t, 0, "file").mtim == m);
  // each refused call on a directory fd of its own, never used again (not even closed): node:wasi
  // 20 (uvwasi) keeps the fd locked after refusing it, and the next call on that fd waits forever
  __wasi_fd_t once1 = t, once2 = t;
  quiet(op(dir, 0, "pstat", __WASI_OFLAGS_DIRECTORY, TMP_BASE, TMP_INH, 0, &once1));
  quiet(op(dir, 0, "pstat", __WASI_OFLAGS_DIRECTORY, TMP_BASE, TMP_INH, 0, &once2));
  res("path_filestat_set_times MTIM and MTIM_NOW", __wasi_path_filestat_set_times(once1, 0, "file", 0, m, __WASI_FSTFLAGS_MTIM | __WASI_FSTFLAGS_MTIM_NOW));
  yes("mtim unchanged by the refused call", pst(t, 0, "file").mtim == m);
  res("path_filestat_set_times ATIM and ATIM_NOW", __wasi_path_filestat_set_times(once2, 0, "file", 0, 0, __WASI_FSTFLAGS_ATIM | __WASI_FSTFLAGS_ATIM_NOW));
  quiet(__wasi_fd_close(f));
  quiet(__wasi_path_unlink_file(t, "file"));
  rmtmp(dir, t, "pstat");
}

// ---------------------------------------------------------------------------------------------
// Names: opens, links, symlinks, renames, removals

static void open_checks(__wasi_fd_t dir, const char *scratch) {
  __wasi_fd_t t = tmpdir(dir, "paths"), f;
  __wasi_errno_t e;
  // path_open_create_existing, path_open_missing, path_open_dirfd_not_dir
  mkfile(t, "file");
  res("open CREAT|EXCL an existing file", try_open(t, 0, "file", __WASI_OFLAGS_CREAT | __WASI_OFLAGS_EXCL, 0));
  res("open a missing file", try_open(t, 0, "missing", 0, 0));
  quiet(op(t, 0, "file", 0, 0, 0, 0, &f));
  res("path_open with a file as the directory", try_open(f, 0, "foo", __WASI_OFLAGS_CREAT, 0));
  quiet(__wasi_fd_close(f));
  quiet(__wasi_path_unlink_file(t, "file"));

  // dangling_fd: names reused after close and removal
  res("create, close", try_open(t, 0, "dangle", __WASI_OFLAGS_CREAT, 0));
  res("open again", try_open(t, 0, "dangle", 0, 0));
  res("unlink it", __wasi_path_unlink_file(t, "dangle"));
  res("create the name anew", try_open(t, 0, "dangle", __WASI_OFLAGS_CREAT, 0));
  res("unlink that", __wasi_path_unlink_file(t, "dangle"));
  res("mkdir", __wasi_path_create_directory(t, "dangled"));
  res("open the directory", try_open(t, 0, "dangled", __WASI_OFLAGS_DIRECTORY, 0));
  res("rmdir it", __wasi_path_remove_directory(t, "dangled"));
  res("mkdir the name anew", __wasi_path_create_directory(t, "dangled"));
  quiet(__wasi_path_remove_directory(t, "dangled"));

  // interesting_paths
  quiet(__wasi_path_create_directory(t, "dir"));
  quiet(__wasi_path_create_directory(t, "dir/nested"));
  mkfile(t, "dir/nested/file");
  res("open /dir/nested/file (absolute)", try_open(t, 0, "/dir/nested/file", 0, 0));
  res("open dir/.//nested/../../dir/nested/../nested///./file", try_open(t, 0, "dir/.//nested/../../dir/nested/../nested///./file", 0, 0));
  static const char nul[] = "dir/nested/file\0";
  int32_t got = -1;
  e = (__wasi_errno_t)raw_path_open(t, 0, PTR(nul), sizeof nul - 1, 0, 0, 0, 0, PTR(&got));
  if (e == 0) quiet(__wasi_fd_close((__wasi_fd_t)got));
  res("open dir/nested/file with a trailing NUL", e);
  // ours, from the same rule: no name, and no symlink target, may hold a NUL (none can on Linux)
  static const char inner[] = "nul\0name";
  e = (__wasi_errno_t)raw_path_open(t, 0, PTR(inner), sizeof inner - 1, __WASI_OFLAGS_CREAT, 0, 0, 0, PTR(&got));
  if (e == 0) {
    quiet(__wasi_fd_close((__wasi_fd_t)got));
    quiet(raw_path_unlink_file(t, PTR(inner), sizeof inner - 1));
  }
  res("create a name holding a NUL byte", e);
  e = (__wasi_errno_t)raw_path_symlink(PTR(inner), sizeof inner - 1, t, PTR("nl"), 2);
  if (e == 0) quiet(__wasi_path_unlink_file(t, "nl"));
  res("symlink to a target holding a NUL byte", e);
  res("open dir/nested/file/", try_open(t, 0, "dir/nested/file/", 0, 0));
  res("open dir/nested/file///", try_open(t, 0, "dir/nested/file///", 0, 0));
  res("open dir/nested/ (no flags)", try_open(t, 0, "dir/nested/", 0, 0));
  res("open dir/nested/// (no flags)", try_open(t, 0, "dir/nested///", 0, 0));
  char climb[256];
  snprintf(climb, sizeof climb, "dir/nested/../../../%s/paths/dir/nested/file", scratch);
  res("open dir/nested/../../../SCRATCH/paths/dir/nested/file", try_open(t, 0, climb, 0, 0));
  quiet(__wasi_path_unlink_file(t, "dir/nested/file"));
  quiet(__wasi_path_remove_directory(t, "dir/nested"));
  quiet(__wasi_path_remove_directory(t, "dir"));

  // dangling_symlink, symlink_loop, nofollow_errors, symlink_create
  const __wasi_lookupflags_t FOLLOW = __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW;
  res("symlink to a missing target", __wasi_path_symlink("target", t, "dl"));
  res("open it with O_DIRECTORY, not following", try_open(t, 0, "dl", __WASI_OFLAGS_DIRECTORY, 0));
  res("open it, not following", try_open(t, 0, "dl", 0, 0));
  res("unlink the dangling symlink", __wasi_path_unlink_file(t, "dl"));
  res("symlink to itself", __wasi_path_symlink("loop", t, "loop"));
  res("open it (a loop)", try_open(t, 0, "loop", 0, 0));
  quiet(__wasi_path_unlink_file(t, "loop"));
  quiet(__wasi_path_create_directory(t, "target"));
  res("symlink to a directory", __wasi_path_symlink("target", t, "symlink"));
  res("open it with O_DIRECTORY, not following (dir)", try_open(t, 0, "symlink", __WASI_OFLAGS_DIRECTORY, 0));
  res("open it, not following (dir)", try_open(t, 0, "symlink", 0, 0));
  res("open it with O_DIRECTORY, following (dir)", try_open(t, FOLLOW, "symlink", __WASI_OFLAGS_DIRECTORY, 0));
  quiet(__wasi_path_unlink_file(t, "symlink"));
  quiet(__wasi_path_remove_directory(t, "target"));
  mkfile(t, "target");
  res("symlink to a file", __wasi_path_symlink("target", t, "symlink"));
  res("open it with O_DIRECTORY, not following (file)", try_open(t, 0, "symlink", __WASI_OFLAGS_DIRECTORY, 0));
  res("open it, not following (file)", try_open(t, 0, "symlink", 0, 0));
  res("open it, following (file)", try_open(t, FOLLOW, "symlink", 0, 0));
  res("open it with O_DIRECTORY, following (file)", try_open(t, FOLLOW, "symlink", __WASI_OFLAGS_DIRECTORY, 0));
  quiet(__wasi_path_unlink_file(t, "symlink"));
  quiet(__wasi_path_unlink_file(t, "target"));
  e = __wasi_path_symlink("/", t, "abs");
  res("symlink with the absolute target /", e);
  if (e == 0) quiet(__wasi_path_unlink_file(t, "abs"));

  // path_exists
  quiet(__wasi_path_create_directory(t, "subdir"));
  stat_type("stat a directory", t, 0, "subdir");
  stat_type("stat a directory, following", t, FOLLOW, "subdir");
  mkfile(t, "subdir/file");
  stat_type("stat a file", t, 0, "subdir/file");
  stat_type("stat a file, following", t, FOLLOW, "subdir/file");
  quiet(__wasi_path_symlink("subdir/file", t, "link1"));
  stat_type("stat a symlink to a file", t, 0, "link1");
  stat_type("stat a symlink to a file, following", t, FOLLOW, "link1");
  quiet(__wasi_path_symlink("subdir", t, "link2"));
  stat_type("stat a symlink to a directory", t, 0, "link2");
  stat_type("stat a symlink to a directory, following", t, FOLLOW, "link2");
  quiet(__wasi_path_unlink_file(t, "link1"));
  quiet(__wasi_path_unlink_file(t, "link2"));
  quiet(__wasi_path_unlink_file(t, "subdir/file"));
  quiet(__wasi_path_remove_directory(t, "subdir"));

  // symlink_filestat
  quiet(op(t, 0, "file", __WASI_OFLAGS_CREAT, R(FD_READ) | R(FD_WRITE) | R(PATH_FILESTAT_GET), 0, 0, &f));
  __wasi_filestat_t fs0 = pst(t, 0, "file");
  quiet(__wasi_path_symlink("file", t, "symlink"));
  __wasi_filestat_t ls0 = pst(t, 0, "symlink");
  res("set a symlink's own mtim", __wasi_path_filestat_set_times(t, 0, "symlink", 0, ls0.mtim - 200, __WASI_FSTFLAGS_MTIM));
  yes("the symlink's mtim is the one set", pst(t, 0, "symlink").mtim == ls0.mtim - 200);
  yes("the target's mtim is unchanged", pst(t, 0, "file").mtim == fs0.mtim);
  yes("stat through the symlink gives the target's mtim", pst(t, FOLLOW, "symlink").mtim == fs0.mtim);
  res("set mtim through the symlink", __wasi_path_filestat_set_times(t, FOLLOW, "symlink", 0, ls0.mtim, __WASI_FSTFLAGS_MTIM));
  yes("the target's mtim is the one set", pst(t, 0, "file").mtim == ls0.mtim);
  quiet(__wasi_fd_close(f));
  quiet(__wasi_path_unlink_file(t, "symlink"));
  quiet(__wasi_path_unlink_file(t, "file"));

  // readlink
  mkfile(t, "target");
  quiet(__wasi_path_symlink("target", t, "symlink"));
  uint8_t lb[10];
  memset(lb, 0, sizeof lb);
  __wasi_size_t n = 0;
  e = __wasi_path_readlink(t, "symlink", lb, 10, &n);
  cnt("readlink into 10 bytes, count", e, n);
  yes("it holds target, and the rest is untouched", memcmp(lb, "target\0\0\0\0", 10) == 0);
  memset(lb, 0, sizeof lb);
  e = __wasi_path_readlink(t, "symlink", lb, 4, &n);
  cnt("readlink into 4 bytes, count", e, n);
  yes("it holds targ", memcmp(lb, "targ", 4) == 0);
  quiet(__wasi_path_unlink_file(t, "symlink"));
  quiet(__wasi_path_unlink_file(t, "target"));
  rmtmp(dir, t, "paths");
}

static int fdstat_eq(__wasi_fd_t a, __wasi_fd_t b) {
  __wasi_fdstat_t x = fdst(a), y = fdst(b);
  return x.fs_filetype == y.fs_filetype && x.fs_flags == y.fs_flags && x.fs_rights_base == y.fs_rights_base && x.fs_rights_inheriting == y.fs_rights_inheriting;
}
static int filestat_eq(__wasi_fd_t a, __wasi_fd_t b) {
  __wasi_filestat_t x = fst(a), y = fst(b);
  return x.dev == y.dev && x.ino == y.ino && x.atim == y.atim && x.mtim == y.mtim && x.ctim == y.ctim && x.size == y.size && x.nlink == y.nlink && x.filetype == y.filetype;
}

static void link_checks(__wasi_fd_t dir) {
  __wasi_fd_t t = tmpdir(dir, "links"), f, l, sub;
  const __wasi_rights_t TR = R(FD_READ) | R(PATH_LINK_SOURCE) | R(PATH_LINK_TARGET) | R(FD_FILESTAT_GET) | R(PATH_OPEN) | R(PATH_UNLINK_FILE);
  quiet(op(t, 0, "file", __WASI_OFLAGS_CREAT, TR, TR, 0, &f));
  res("link in the same directory", __wasi_path_link(t, 0, "file", t, "link"));
  quiet(op(t, 0, "link", 0, TR, TR, 0, &l));
  yes("the link's fdstat and filestat equal the file's", fdstat_eq(f, l) && filestat_eq(f, l));
  quiet(__wasi_fd_close(l));
  quiet(__wasi_path_unlink_file(t, "link"));
  quiet(__wasi_path_create_directory(t, "subdir"));
  quiet(op(t, 0, "subdir", __WASI_OFLAGS_DIRECTORY, TR, TR, 0, &sub));
  res("link into a subdirectory", __wasi_path_link(t, 0, "file", sub, "link"));
  quiet(op(sub, 0, "link", 0, TR, TR, 0, &l));
  yes("that link's fdstat and filestat equal the file's", fdstat_eq(f, l) && filestat_eq(f, l));
  quiet(__wasi_fd_close(l));
  quiet(__wasi_fd_close(f));
  quiet(__wasi_path_unlink_file(sub, "link"));
  quiet(__wasi_fd_close(sub));
  quiet(__wasi_path_remove_directory(t, "subdir"));
  mkfile(t, "link");
  res("link onto an existing file", __wasi_path_link(t, 0, "file", t, "link"));
  quiet(__wasi_path_unlink_file(t, "link"));
  res("link a file onto itself", __wasi_path_link(t, 0, "file", t, "file"));
  quiet(__wasi_path_create_directory(t, "link"));
  res("link onto a directory", __wasi_path_link(t, 0, "file", t, "link"));
  quiet(__wasi_path_remove_directory(t, "link"));
  quiet(__wasi_path_create_directory(t, "subdir"));
  res("link a directory", __wasi_path_link(t, 0, "subdir", t, "link"));
  quiet(__wasi_path_remove_directory(t, "subdir"));
  res("link to link/ (trailing slash)", __wasi_path_link(t, 0, "file", t, "link/"));
  quiet(__wasi_path_symlink("target", t, "symlink"));
  res("link a dangling symlink", __wasi_path_link(t, 0, "symlink", t, "link"));
  quiet(__wasi_path_unlink_file(t, "symlink"));
  quiet(__wasi_path_unlink_file(t, "link"));
  quiet(__wasi_path_symlink("symlink", t, "symlink"));
  res("link a symlink loop", __wasi_path_link(t, 0, "symlink", t, "link"));
  quiet(__wasi_path_unlink_file(t, "symlink"));
  quiet(__wasi_path_unlink_file(t, "link"));
  quiet(__wasi_path_symlink("target", t, "symlink"));
  res("link onto a dangling symlink", __wasi_path_link(t, 0, "file", t, "symlink"));
  res("link following a dangling symlink", __wasi_path_link(t, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "symlink", t, "link"));
  quiet(__wasi_path_unlink_file(t, "symlink"));
  quiet(__wasi_path_unlink_file(t, "link"));
  quiet(__wasi_path_unlink_file(t, "file"));
  rmtmp(dir, t, "links");
}

static void rename_remove_checks(__wasi_fd_t dir) {
  __wasi_fd_t t = tmpdir(dir, "names");
  // path_rename
  quiet(__wasi_path_create_directory(t, "source"));
  res("rename a directory to a new name", __wasi_path_rename(t, "source", t, "target"));
  res("open the old name as a directory", try_open(t, 0, "source", __WASI_OFLAGS_DIRECTORY, 0));
  res("open the new name as a directory", try_open(t, 0, "target", __WASI_OFLAGS_DIRECTORY, 0));
  quiet(__wasi_path_remove_directory(t, "target"));
  quiet(__wasi_path_create_directory(t, "source"));
  quiet(__wasi_path_create_directory(t, "target"));
  res("rename a directory onto an empty one", __wasi_path_rename(t, "source", t, "target"));
  res("open the old name as a directory, after", try_open(t, 0, "source", __WASI_OFLAGS_DIRECTORY, 0));
  res("open the new name as a directory, after", try_open(t, 0, "target", __WASI_OFLAGS_DIRECTORY, 0));
  quiet(__wasi_path_remove_directory(t, "target"));
  quiet(__wasi_path_create_directory(t, "source"));
  quiet(__wasi_path_create_directory(t, "target"));
  mkfile(t, "target/file");
  res("rename a directory onto a non-empty one", __wasi_path_rename(t, "source", t, "target"));
  __wasi_errno_t e = __wasi_path_rename(t, "source", t, "target/file");
  res("rename a directory onto a file", e);
  if (e == 0) quiet(__wasi_path_remove_directory(t, "target/file"));
  else {
    quiet(__wasi_path_unlink_file(t, "target/file"));
    quiet(__wasi_path_remove_directory(t, "source"));
  }
  quiet(__wasi_path_remove_directory(t, "target"));
  mkfile(t, "source");
  res("rename a file to a new name", __wasi_path_rename(t, "source", t, "target"));
  res("open the old file name", try_open(t, 0, "source", 0, 0));
  res("open the new file name", try_open(t, 0, "target", 0, 0));
  quiet(__wasi_path_unlink_file(t, "target"));
  mkfile(t, "source");
  mkfile(t, "target");
  res("rename a file onto a file", __wasi_path_rename(t, "source", t, "target"));
  res("open the old file name, after", try_open(t, 0, "source", 0, 0));
  res("open the new file name, after", try_open(t, 0, "target", 0, 0));
  quiet(__wasi_path_unlink_file(t, "target"));
  mkfile(t, "source");
  quiet(__wasi_path_create_directory(t, "target"));
  res("rename a file onto an empty directory", __wasi_path_rename(t, "source", t, "target"));
  quiet(__wasi_path_remove_directory(t, "target"));
  quiet(__wasi_path_unlink_file(t, "source"));

  // path_rename_dir_trailing_slashes
  quiet(__wasi_path_create_directory(t, "source"));
  res("rename source/ to target", __wasi_path_rename(t, "source/", t, "target"));
  res("rename target to source/", __wasi_path_rename(t, "target", t, "source/"));
  res("rename source/ to target/", __wasi_path_rename(t, "source/", t, "target/"));
  res("rename target to source", __wasi_path_rename(t, "target", t, "source"));
  quiet(__wasi_path_remove_directory(t, "source"));

  // path_symlink_trailing_slashes
  res("symlink at target/ (nothing there)", __wasi_path_symlink("source", t, "target/"));
  e = __wasi_path_symlink("source", t, "target");
  res("symlink at target (nothing there)", e);
  if (e == 0) quiet(__wasi_path_unlink_file(t, "target"));
  quiet(__wasi_path_create_directory(t, "target"));
  res("symlink at target/ (a directory)", __wasi_path_symlink("source", t, "target/"));
  res("symlink at target (a directory)", __wasi_path_symlink("source", t, "target"));
  quiet(__wasi_path_remove_directory(t, "target"));
  mkfile(t, "target");
  res("symlink at target/ (a file)", __wasi_path_symlink("source", t, "target/"));
  res("symlink at target (a file)", __wasi_path_symlink("source", t, "target"));
  quiet(__wasi_path_unlink_file(t, "target"));

  // remove_directory_trailing_slashes, remove_nonempty_directory, unlink_file_trailing_slashes
  quiet(__wasi_path_create_directory(t, "dir"));
  res("rmdir dir", __wasi_path_remove_directory(t, "dir"));
  quiet(__wasi_path_create_directory(t, "dir"));
  e = __wasi_path_remove_directory(t, "dir/");
  res("rmdir dir/", e);
  if (e) quiet(__wasi_path_remove_directory(t, "dir"));
  mkfile(t, "file");
  res("rmdir a file", __wasi_path_remove_directory(t, "file"));
  res("rmdir file/", __wasi_path_remove_directory(t, "file/"));
  quiet(__wasi_path_unlink_file(t, "file"));
  quiet(__wasi_path_create_directory(t, "dir"));
  quiet(__wasi_path_create_directory(t, "dir/nested"));
  res("rmdir a non-empty directory", __wasi_path_remove_directory(t, "dir"));
  quiet(__wasi_path_remove_directory(t, "dir/nested"));
  res("unlink a directory", __wasi_path_unlink_file(t, "dir"));
  res("unlink dir/", __wasi_path_unlink_file(t, "dir/"));
  quiet(__wasi_path_remove_directory(t, "dir"));
  mkfile(t, "file");
  res("unlink file/", __wasi_path_unlink_file(t, "file/"));
  res("unlink file", __wasi_path_unlink_file(t, "file"));
  rmtmp(dir, t, "names");
}

// ---------------------------------------------------------------------------------------------
// fd_readdir, fdopendir-with-access

static void readdir_checks(__wasi_fd_t dir) {
  __wasi_fd_t t = tmpdir(dir, "readdir"), f;
  int eof = 0;
  int n = readdir_once(t, 0, 256, 0, &eof);
  if (n < 0) res("readdir an empty directory", (__wasi_errno_t)-n);
  else say("readdir an empty directory: names", names(n));
  yes("readdir an empty directory: the end", eof);
  ent_t *dot = find(n, "."), *dotdot = find(n, "..");
  yes(". is the directory: inode, type, namlen 1", dot && dot->ino == fst(t).ino && dot->type == __WASI_FILETYPE_DIRECTORY && dot->namlen == 1);
  yes(".. is a directory", dotdot && dotdot->type == __WASI_FILETYPE_DIRECTORY);
  quiet(op(t, 0, "file", __WASI_OFLAGS_CREAT, R(FD_READ) | R(FD_WRITE) | R(FD_READDIR) | R(FD_FILESTAT_GET), 0, 0, &f));
  __wasi_inode_t ino = fst(f).ino;
  quiet(__wasi_fd_close(f));
  n = readdir_once(t, 0, 256, 0, &eof);
  if (n < 0) res("readdir with one file", (__wasi_errno_t)-n);
  else say("readdir with one file: names", names(n));
  ent_t *fe = find(n, "file");
  yes("the file's entry: regular file, its inode", fe && fe->type == __WASI_FILETYPE_REGULAR_FILE && fe->ino == ino);
  if (n == 3) {
    char third[32];
    strcpy(third, ents[2].name);
    int m = readdir_once(t, ents[1].next, 256, 0, &eof);
    yes("resume at the second entry's cookie: only the third", m == 1 && strcmp(ents[0].name, third) == 0 && eof);
  } else {
    say("resume at the second entry's cookie: only the third", "not 3 entries");
  }
  quiet(__wasi_path_unlink_file(t, "file"));
  for (int i = 0; i < 1000; i++) {
    char name[16];
    snprintf(name, sizeof name, "file.%d", i);
    mkfile(t, name);
  }
  int total = 0, calls = 0;
  __wasi_dircookie_t c = 0;
  for (;;) {
    n = readdir_once(t, c, 256, 0, &eof);
    if (n < 0 || ++calls > 5000) break;
    total += n;
    if (eof || n == 0) break;
    c = ents[n - 1].next;
  }
  num("readdir 1000 files in 256-byte reads: entries", (unsigned long long)total);
  for (int i = 0; i < 1000; i++) {
    char name[16];
    snprintf(name, sizeof name, "file.%d", i);
    quiet(__wasi_path_unlink_file(t, name));
  }
  rmtmp(dir, t, "readdir");
}

// ---------------------------------------------------------------------------------------------
// The suite's C tests, on its fixture directory (files that were there before the program ran:
// the image's lower layer, a bind mount, node:wasi's host directory)

static void fixture_checks(__wasi_fd_t fx) {
  __wasi_fd_t f, g, d;
  __wasi_size_t n;
  __wasi_filesize_t pos;
  char b[32];
  __wasi_errno_t e;
  // fopen-with-access, stat-dev-ino
  res("open the fixture file for reading", try_open(fx, 0, "file", 0, R(FD_READ)));
  quiet(op(fx, 0, "file", 0, R(FD_READ) | R(FD_FILESTAT_GET), 0, 0, &f));
  quiet(op(fx, 0, "lseek.txt", 0, R(FD_READ) | R(FD_SEEK) | R(FD_TELL) | R(FD_FILESTAT_GET), 0, 0, &g));
  __wasi_filestat_t a = fst(f), c = fst(g);
  yes("file and lseek.txt: the same dev", a.dev == c.dev);
  yes("file and lseek.txt: different inodes", a.ino != c.ino);
  quiet(__wasi_fd_close(f));
  // lseek: read ahead as stdio does, then seek back from the current offset
  e = rd(g, b, sizeof b, &n);
  cnt("lseek.txt: read it whole", e, n);
  e = seek(g, 4 - (__wasi_filedelta_t)n, __WASI_WHENCE_CUR, &pos);
  cnt("lseek.txt: seek back to 4 from cur", e, pos);
  b[0] = 0;
  e = rd(g, b, 1, &n);
  say("lseek.txt: read 1 byte there", e ? ename(e) : n == 1 ? (b[1] = 0, b) : "nothing");
  e = __wasi_fd_tell(g, &pos);
  cnt("lseek.txt: tell after it", e, pos);
  e = seek(g, 0, __WASI_WHENCE_SET, &pos);
  cnt("lseek.txt: seek 0 from set", e, pos);
  e = seek(g, 0, __WASI_WHENCE_END, &pos);
  cnt("lseek.txt: seek 0 from end", e, pos);
  quiet(__wasi_fd_close(g));
  // pread-with-access
  quiet(op(fx, 0, "pread.txt", 0, R(FD_READ) | R(FD_SEEK), 0, 0, &f));
  memset(b, 0, sizeof b);
  e = __wasi_fd_pread(f, &(__wasi_iovec_t){(uint8_t *)b, 3}, 1, 4, &n);
  say("pread 3 at 4 of pread.txt", e ? ename(e) : b);
  quiet(__wasi_fd_close(f));
  // pwrite-with-access: in the fixture's writeable/ directory
  const char *w = "writeable/test_pwrite_pread.txt.cleanup";
  __wasi_filestat_t s;
  res("stat writeable/...cleanup before", __wasi_path_filestat_get(fx, 0, w, &s));
  e = op(fx, 0, w, __WASI_OFLAGS_CREAT, R(FD_WRITE) | R(FD_SEEK) | R(FD_TELL), 0, 0, &f);
  res("create it for writing", e);
  e = __wasi_fd_pwrite(f, &(__wasi_ciovec_t){(const uint8_t *)"very long text", 14}, 1, 0, &n);
  cnt("pwrite 14 at 0", e, n);
  e = __wasi_fd_pwrite(f, &(__wasi_ciovec_t){(const uint8_t *)"test", 4}, 1, 3, &n);
  cnt("pwrite 4 at 3", e, n);
  quiet(__wasi_fd_close(f));
  memset(b, 0, sizeof b);
  quiet(op(fx, 0, w, 0, R(FD_READ), 0, 0, &f));
  e = rd(f, b, 16, &n);
  say("read it back", e ? ename(e) : b);
  quiet(__wasi_fd_close(f));
  res("unlink the pwrite file", __wasi_path_unlink_file(fx, w));
  // fdopendir-with-access
  e = op(fx, 0, "fopendir.dir", __WASI_OFLAGS_DIRECTORY, R(FD_READDIR) | R(PATH_FILESTAT_GET) | R(FD_FILESTAT_GET), 0, 0, &d);
  int eof = 0, k = e ? -(int)e : readdir_once(d, 0, sizeof dbuf, 0, &eof);
  int m = 0, match = 1;
  for (int i = 0; i < k; i++) {
    if (ents[i].name[0] == '.') continue;
    ents[m++] = ents[i];
  }
  if (k < 0) res("readdir fopendir.dir", (__wasi_errno_t)-k);
  else say("readdir fopendir.dir: names", names(m));
  for (int i = 0; i < m; i++) match &= pst(d, 0, ents[i].name).ino == ents[i].ino;
  yes("each d_ino is the st_ino of a stat of its name", m > 0 && match);
  yes("the two inodes differ", m == 2 && ents[0].ino != ents[1].ino);
  if (!e) quiet(__wasi_fd_close(d));
  // pwrite-with-append
  e = op(fx, 0, "writeable/pwrite.cleanup", __WASI_OFLAGS_CREAT | __WASI_OFLAGS_TRUNC, R(FD_WRITE) | R(FD_SEEK) | R(FD_TELL), 0, __WASI_FDFLAGS_APPEND, &f);
  res("open CREAT|TRUNC, write-only, APPEND", e);
  e = wr(f, "ab", 2, &n);
  cnt("write 2", e, n);
  e = seek(f, 0, __WASI_WHENCE_SET, &pos);
  cnt("seek to 0", e, pos);
  e = wr(f, "cd", 2, &n);
  cnt("write 2 more", e, n);
  e = __wasi_fd_tell(f, &pos);
  cnt("tell after them (appended)", e, pos);
  e = __wasi_fd_pwrite(f, &(__wasi_ciovec_t){(const uint8_t *)"xyz", 3}, 1, 0, &n);
  cnt("pwrite 3 at 0", e, n);
  e = __wasi_fd_tell(f, &pos);
  cnt("tell after pwrite (unmoved)", e, pos);
  e = seek(f, 0, __WASI_WHENCE_END, &pos);
  cnt("seek to the end", e, pos);
  quiet(__wasi_fd_close(f));
  quiet(__wasi_path_unlink_file(fx, "writeable/pwrite.cleanup"));
}

// ---------------------------------------------------------------------------------------------
// fds: renumber, stdio, and the preopen itself

static void renumber_checks(__wasi_fd_t dir) {
  __wasi_fd_t t = tmpdir(dir, "fds"), a, b;
  quiet(op(t, 0, "file1", __WASI_OFLAGS_CREAT, R(FD_READ) | R(FD_WRITE), 0, 0, &a));
  __wasi_fdstat_t from = fdst(a);
  quiet(op(t, 0, "file2", __WASI_OFLAGS_CREAT, R(FD_READ) | R(FD_WRITE), 0, 0, &b));
  res("renumber file1's fd onto file2's", __wasi_fd_renumber(a, b));
  res("close file1's old fd", __wasi_fd_close(a));
  __wasi_fdstat_t to = fdst(b);
  yes("the target fd has file1's fdstat", from.fs_filetype == to.fs_filetype && from.fs_flags == to.fs_flags && from.fs_rights_base == to.fs_rights_base && from.fs_rights_inheriting == to.fs_rights_inheriting);
  res("renumber onto a closed fd", __wasi_fd_renumber(b, a));
  quiet(__wasi_fd_close(b));
  quiet(__wasi_path_unlink_file(t, "file1"));
  quiet(__wasi_path_unlink_file(t, "file2"));

  // stdio: 0, 1 and 2 renumbered onto fds of a file (the lines follow stdout)
  const char *which[] = {"stdin", "stdout", "stderr"};
  for (__wasi_fd_t s = 0; s < 3; s++) {
    char w[64];
    __wasi_fd_t to_fd;
    quiet(op(t, 0, "file.cleanup", __WASI_OFLAGS_CREAT, 0, 0, 0, &to_fd));
    __wasi_errno_t e = __wasi_fd_renumber(s, to_fd);
    if (e == 0 && s == 1) out = to_fd;
    snprintf(w, sizeof w, "renumber %s onto a file's fd", which[s]);
    res(w, e);
    __wasi_fdstat_t st;
    snprintf(w, sizeof w, "fdstat of that fd (%s)", which[s]);
    res(w, __wasi_fd_fdstat_get(to_fd, &st));
    snprintf(w, sizeof w, "fdstat of fd %u", (unsigned)s);
    res(w, __wasi_fd_fdstat_get(s, &st));
    quiet(__wasi_path_unlink_file(t, "file.cleanup"));
  }
  rmtmp(dir, t, "fds");
}

/** overwrite_preopen: directory `d` renumbered over fd 3. Last: fd 3 is not the preopen after. */
static void overwrite_preopen(__wasi_fd_t d) {
  __wasi_filestat_t before = fst(d);
  res("renumber a directory over the preopen", __wasi_fd_renumber(d, ROOT));
  __wasi_filestat_t after = fst(ROOT);
  yes("fd 3 is that directory now (dev, ino)", after.dev == before.dev && after.ino == before.ino);
  __wasi_fdstat_t st;
  res("fdstat of its old fd", __wasi_fd_fdstat_get(d, &st));
  res("close fd 3", __wasi_fd_close(ROOT));
}

/** The second run: no arguments, no environment; closes the preopen and exits 33. */
static void second_run(void) {
  size_t n;
  strings(0, &n, "args_sizes_get, no arguments:");
  strings(1, &n, "environ_sizes_get, no variables:");
  __wasi_fd_t d;
  __wasi_errno_t e = op(ROOT, 0, ".", __WASI_OFLAGS_DIRECTORY, fdst(ROOT).fs_rights_base, fdst(ROOT).fs_rights_inheriting, 0, &d);
  res("open . from the preopen", e);
  yes("its fd is above the preopen's", e == 0 && d > ROOT);
  res("close the preopen", __wasi_fd_close(ROOT));
  __wasi_fdstat_t st;
  say("the fd opened from it: fdstat filetype", __wasi_fd_fdstat_get(d, &st) ? "gone" : tname(st.fs_filetype));
  res("fdstat of the closed preopen", __wasi_fd_fdstat_get(ROOT, &st));
  // the state two of the suite's C tests assume (run with no directory): fd 3 not open, and no
  // preopen for a libc to find (it asks fd_prestat_get from fd 3 up, and stops at EBADF)
  res("sock_shutdown fd 3, not open", __wasi_sock_shutdown(ROOT, __WASI_SDFLAGS_RD));
  __wasi_prestat_t ps;
  res("prestat of fd 3, not open", __wasi_fd_prestat_get(ROOT, &ps));
  emit("done\n", 5);
  __wasi_proc_exit(33);
}

int main(int argc, char **argv) {
  if (argc < 2) second_run();
  if (argc < 3) {
    fprintf(stderr, "usage: wasi-suite SCRATCH FIXTURES first 'the \"second\" arg' 3 | wasi-suite\n");
    return 2;
  }
  const char *scratch = argv[1];
  __wasi_errno_t e = __wasi_path_create_directory(ROOT, scratch);
  if (e != 0 && e != __WASI_ERRNO_EXIST) {
    res("mkdir scratch", e);
    return 1;
  }
  __wasi_fd_t dir, fx;
  const __wasi_fdstat_t root = fdst(ROOT);
  if ((e = op(ROOT, 0, scratch, __WASI_OFLAGS_DIRECTORY, root.fs_rights_base, root.fs_rights_inheriting, 0, &dir)) != 0 ||
      (e = op(ROOT, 0, argv[2], __WASI_OFLAGS_DIRECTORY, root.fs_rights_base, root.fs_rights_inheriting, 0, &fx)) != 0) {
    res("open scratch and fixtures", e);
    return 1;
  }
  args_env();
  clocks_random();
  stdio_writes();
  say("poll stdin readable, or a 200 ms clock", poll_stdin());
  say("poll stdout and stderr writable within 200 ms", poll_out());
  preopen_rights();
  dir_fd_ops(fx); // these two in a directory that was there before (the image's, the host's)
  flag_checks(fx);
  file_checks(dir);
  open_checks(dir, scratch);
  link_checks(dir);
  rename_remove_checks(dir);
  readdir_checks(dir);
  fixture_checks(fx);
  renumber_checks(dir);
  quiet(__wasi_fd_close(dir));
  res("rmdir scratch", __wasi_path_remove_directory(ROOT, scratch));
  overwrite_preopen(fx);
  emit("done\n", 5);
  __wasi_proc_exit(0);
}
