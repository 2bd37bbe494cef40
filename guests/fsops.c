// fsops: a file-system operation interpreter, the guest of the differential fuzzer (test/lib/fuzz/).
//
// Reads an operation script from stdin, one op per line, runs each op with plain POSIX calls and
// prints one line per op: the op as written, " -> ", and its result. The same source builds as a
// WASI guest (scripts/build.mjs, wasi-libc) and as a native Linux program (gcc; the fuzzer's triage
// oracle), so the one script can run in the sandbox, under node:wasi, and as real Linux syscalls.
//
// Output contract (what keeps it deterministic across runtimes and file systems):
//   - results are `ok ...`, an errno name (ENOENT), or a guest-side skip (`-` for an empty slot,
//     `dirfd`, `rdonly`, `wronly`, `skip ...`) printed without making any call;
//   - never inode numbers, device numbers, fd numbers or times, except times a `utimes` op itself
//     set (printed by that op right after setting them); hard-link identity is printed as "the first
//     path of the dump with the same inode";
//   - listings are sorted; '.' and '..' are never printed; directory sizes and link counts are never
//     printed (they are up to the file system);
//   - timing goes to stderr only (`fsops: ops N op_ns T dump_ns D`).
//
// Script format (tokens separated by single spaces; names never contain spaces):
//   seed NAME                 start a seed: close every slot, paths now resolve under NAME/, print
//                             "## NAME". Script paths are relative to that directory; "/" is the
//                             directory itself, and a trailing '/' is kept ("a/" -> "NAME/a/").
//   open SLOT PATH FLAGS      open(2) into slot 0-7; FLAGS letters: r read, w write, c O_CREAT,
//                             x O_EXCL, t O_TRUNC, a O_APPEND, d O_DIRECTORY. A used slot is closed
//                             first. Prints `ok f size=N` or `ok d`.
//   close SLOT | fsync SLOT | fdatasync SLOT | fstat SLOT
//   read SLOT N | write SLOT N PAT | pread SLOT OFF N | pwrite SLOT OFF N PAT
//                             (these print the fd's offset afterwards: `ok n=N h=HASH pos=P`)
//   seek SLOT OFF set|cur|end | ftrunc SLOT SIZE | falloc SLOT OFF LEN (posix_fallocate)
//   append SLOT on|off        set or clear O_APPEND (fcntl F_SETFL)
//   trunc PATH SIZE | cat PATH | put PATH N PAT (O_CREAT|O_TRUNC, write N bytes)
//   mkdir PATH | rmdir PATH | unlink PATH | rename OLD NEW | link OLD NEW | symlink TARGET PATH
//   readlink PATH | stat PATH | lstat PATH | ls PATH | utimes PATH ATIME_NS MTIME_NS | dump [PATH]
//   deep PATH N               N nested directories "d" below PATH (each mkdir by its whole path),
//                             then a file made and stat'ed at the bottom: `ok depth=N`
//   # comment / empty line: ignored, not echoed
// Written data is pattern PAT (0-255): byte i of a write is pat_byte(PAT, i) (test/lib/fuzz/spec.ts
// computes the same bytes for image files). Data read is summarised as its length and FNV-1a hash.
//
// Guest-side avoidances of node:wasi (uvwasi) quirks, so the reference answers what Linux answers
// (the table is test/e2e/probe.test.ts QUIRKS):
//   - read/write/seek/ftrunc/fsync on a directory fd and reads on a write-only fd (writes on a
//     read-only fd) are not made: uvwasi answers ENOTCAPABLE from its rights table, Linux EISDIR /
//     EBADF / EINVAL. `cat` of a directory prints `ok d` without reading.
//   - open with O_EXCL when the last component is a symlink prints `skip excl-symlink`: uvwasi
//     follows the link before open, so O_EXCL never sees it.
//   - `ls` reads the whole directory at once, right after opening it: uvwasi reopens the directory
//     by path on every fd_readdir call, so a listing through an fd held across changes is not Linux's.
//     '.' and '..' are dropped: uvwasi never returns them.
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

// ---------------------------------------------------------------------------------------------
// Errno names

static const char *ename(int e) {
  static char buf[24];
  switch (e) {
#define E(x) case x: return #x;
    E(EPERM) E(ENOENT) E(EIO) E(EBADF) E(EACCES) E(EBUSY) E(EEXIST) E(EXDEV) E(ENODEV) E(ENOTDIR)
    E(EISDIR) E(EINVAL) E(ENFILE) E(EMFILE) E(EFBIG) E(ENOSPC) E(ESPIPE) E(EROFS) E(EMLINK)
    E(ENAMETOOLONG) E(ENOTEMPTY) E(ELOOP) E(ENOSYS) E(EOVERFLOW) E(ENOTSUP) E(EFAULT) E(ENOMEM)
    E(ENXIO) E(ETXTBSY) E(EAGAIN) E(ENOBUFS) E(EILSEQ) E(ERANGE) E(EDQUOT) E(ESTALE)
#ifdef ENOTCAPABLE
    E(ENOTCAPABLE)
#endif
#undef E
  }
  snprintf(buf, sizeof buf, "errno%d", e);
  return buf;
}

// ---------------------------------------------------------------------------------------------
// Output: one growing buffer, written out at the end (and when large), so that printing costs no
// system call per op.

static char *OUT;
static size_t OUT_LEN, OUT_CAP;

static void flush_out(void) {
  size_t off = 0;
  while (off < OUT_LEN) {
    ssize_t n = write(1, OUT + off, OUT_LEN - off);
    if (n <= 0) break;
    off += (size_t)n;
  }
  OUT_LEN = 0;
}

static void out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void out(const char *fmt, ...) {
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    size_t room = OUT_CAP - OUT_LEN;
    int n = vsnprintf(OUT + OUT_LEN, room, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < room) {
      OUT_LEN += (size_t)n;
      return;
    }
    OUT_CAP = OUT_CAP * 2 + (size_t)n + 256;
    OUT = realloc(OUT, OUT_CAP);
    if (!OUT) abort();
  }
}

// ---------------------------------------------------------------------------------------------
// Data

static uint8_t pat_byte(unsigned pat, uint64_t i) { return (uint8_t)(pat * 131u + i * 7u + (i >> 9) * 13u); }

static uint32_t fnv(uint32_t h, const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 16777619u;
  return h;
}
#define FNV0 2166136261u

#define BUFSZ (1 << 20)
static uint8_t BUF[BUFSZ];

static void fill(unsigned pat, size_t n) {
  for (size_t i = 0; i < n; i++) BUF[i] = pat_byte(pat, i);
}

// ---------------------------------------------------------------------------------------------
// Paths: script paths are relative to the current seed's directory.

static char SEED[64] = "";

// Makes the real path of script path `p` in `dst`: "/" -> SEED, "x" -> SEED/x.
static const char *P(char *dst, const char *p) {
  if (strcmp(p, "/") == 0) snprintf(dst, 1024, "%s", SEED[0] ? SEED : ".");
  else if (SEED[0]) snprintf(dst, 1024, "%s/%s", SEED, p);
  else snprintf(dst, 1024, "%s", p);
  return dst;
}

static const char *kind(mode_t m) {
  if (S_ISREG(m)) return "f";
  if (S_ISDIR(m)) return "d";
  if (S_ISLNK(m)) return "l";
  return "?";
}

// "f size=N nlink=K", "d", or "l size=N" (a symlink's size is its target's length).
static void stat_desc(const struct stat *st) {
  if (S_ISDIR(st->st_mode)) out("d");
  else if (S_ISREG(st->st_mode)) out("f size=%lld nlink=%llu", (long long)st->st_size, (unsigned long long)st->st_nlink);
  else out("%s size=%lld", kind(st->st_mode), (long long)st->st_size);
}

// ---------------------------------------------------------------------------------------------
// Slots: the script's open files.

#define NSLOT 8
static struct {
  int fd;  // -1: empty
  int rd, wr, dir;
} SLOT[NSLOT];

static void close_all(void) {
  for (int i = 0; i < NSLOT; i++) {
    if (SLOT[i].fd >= 0) close(SLOT[i].fd);
    SLOT[i].fd = -1;
  }
}

// ---------------------------------------------------------------------------------------------
// Whole-file helpers

// Reads fd to EOF (at most BUFSZ bytes). Returns 0 or an errno; *n and *h the length and hash.
static int read_all(int fd, size_t *n, uint32_t *h) {
  *n = 0;
  *h = FNV0;
  for (;;) {
    ssize_t r = read(fd, BUF, BUFSZ);
    if (r < 0) return errno;
    if (r == 0) return 0;
    *h = fnv(*h, BUF, (size_t)r);
    *n += (size_t)r;
  }
}

static int write_all(int fd, size_t n, int64_t off) {
  size_t done = 0;
  while (done < n) {
    ssize_t w = off < 0 ? write(fd, BUF + done, n - done) : pwrite(fd, BUF + done, n - done, off + (int64_t)done);
    if (w < 0) return errno;
    if (w == 0) return EIO;
    done += (size_t)w;
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------
// Directory listings

typedef struct {
  char name[256];
  unsigned char type;
} dent_t;

static int cmp_dent(const void *a, const void *b) { return strcmp(((const dent_t *)a)->name, ((const dent_t *)b)->name); }

// Lists `path` (sorted, without '.' and '..') into a malloc'd array. Returns 0 or an errno.
static int list_dir(const char *path, dent_t **ents, int *count) {
  DIR *d = opendir(path);
  if (!d) return errno;
  int n = 0, cap = 16;
  dent_t *v = malloc(sizeof *v * cap);
  struct dirent *de;
  errno = 0;
  while ((de = readdir(d)) != NULL) {
    if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
    if (n == cap) v = realloc(v, sizeof *v * (cap *= 2));
    snprintf(v[n].name, sizeof v[n].name, "%s", de->d_name);
    v[n].type = de->d_type;
    n++;
  }
  int e = errno;
  closedir(d);
  if (e) {
    free(v);
    return e;
  }
  qsort(v, n, sizeof *v, cmp_dent);
  *ents = v;
  *count = n;
  return 0;
}

static const char *dtype(unsigned char t) {
  switch (t) {
    case DT_DIR: return "/";
    case DT_LNK: return "@";
    case DT_REG: return "";
  }
  return "?";
}

// ---------------------------------------------------------------------------------------------
// dump: the whole tree under a directory, depth first in name order. One line per object:
//   "= REL/" (dir), "= REL f size=N nlink=K h=HASH [same=FIRST]" (file), "= REL -> TARGET" (link).

typedef struct {
  dev_t dev;
  ino_t ino;
  char path[1024];
} seen_t;
static seen_t *SEEN;
static int NSEEN, CAPSEEN;

static void dump_dir(const char *real, const char *rel) {
  dent_t *v;
  int n;
  int e = list_dir(real, &v, &n);
  if (e) {
    out("= %s/ ls %s\n", rel, ename(e));
    return;
  }
  for (int i = 0; i < n; i++) {
    char rp[1024], cp[1024];
    snprintf(rp, sizeof rp, "%s/%s", real, v[i].name);
    snprintf(cp, sizeof cp, "%s%s%s", rel, rel[0] ? "/" : "", v[i].name);
    struct stat st;
    if (lstat(rp, &st) != 0) {
      out("= %s lstat %s\n", cp, ename(errno));
      continue;
    }
    if (S_ISDIR(st.st_mode)) {
      out("= %s/\n", cp);
      dump_dir(rp, cp);
    } else if (S_ISLNK(st.st_mode)) {
      char t[1024];
      ssize_t k = readlink(rp, t, sizeof t - 1);
      if (k < 0) out("= %s -> readlink %s\n", cp, ename(errno));
      else {
        t[k] = 0;
        out("= %s -> %s\n", cp, t);
      }
    } else if (S_ISREG(st.st_mode)) {
      size_t len = 0;
      uint32_t h = 0;
      int fd = open(rp, O_RDONLY);
      int re = fd < 0 ? errno : read_all(fd, &len, &h);
      if (fd >= 0) close(fd);
      out("= %s f size=%lld nlink=%llu", cp, (long long)st.st_size, (unsigned long long)st.st_nlink);
      if (re) out(" read %s", ename(re));
      else out(" h=%08x", h);
      const char *same = NULL;
      for (int j = 0; j < NSEEN; j++)
        if (SEEN[j].ino == st.st_ino && SEEN[j].dev == st.st_dev) same = SEEN[j].path;
      if (same) out(" same=%s", same);
      else {
        if (NSEEN == CAPSEEN) SEEN = realloc(SEEN, sizeof *SEEN * (CAPSEEN = CAPSEEN * 2 + 16));
        SEEN[NSEEN].dev = st.st_dev;
        SEEN[NSEEN].ino = st.st_ino;
        snprintf(SEEN[NSEEN].path, sizeof SEEN[NSEEN].path, "%s", cp);
        NSEEN++;
      }
      out("\n");
    } else {
      out("= %s ?\n", cp);
    }
  }
  free(v);
}

static void dump(const char *real) {
  struct stat st;
  if (lstat(real, &st) != 0) {
    out("%s\n", ename(errno));
    return;
  }
  if (!S_ISDIR(st.st_mode)) {
    out("not a directory\n");
    return;
  }
  out("ok\n");
  NSEEN = 0;
  dump_dir(real, "");
}

// ---------------------------------------------------------------------------------------------
// The interpreter

#define MAXTOK 8

static int slot_of(const char *s) {
  int k = atoi(s);
  return k >= 0 && k < NSLOT ? k : 0;
}

// Runs one op (tokens t[0..nt-1]); prints its result and the newline.
static void run_op(char **t, int nt) {
  const char *op = t[0];
  char a[1024], b[1024];
  int e = 0;
#define NEED(k)                   \
  if (nt < (k) + 1) {             \
    out("bad op\n");              \
    return;                       \
  }
#define RESULT(call) \
  do {               \
    if ((call) != 0) \
      e = errno;     \
  } while (0)

  if (!strcmp(op, "open")) {
    NEED(3);
    int s = slot_of(t[1]);
    const char *f = t[3];
    int rd = strchr(f, 'r') != NULL, wr = strchr(f, 'w') != NULL;
    int flags = rd && wr ? O_RDWR : wr ? O_WRONLY : O_RDONLY;
    if (strchr(f, 'c')) flags |= O_CREAT;
    if (strchr(f, 'x')) flags |= O_EXCL;
    if (strchr(f, 't')) flags |= O_TRUNC;
    if (strchr(f, 'a')) flags |= O_APPEND;
    if (strchr(f, 'd')) flags |= O_DIRECTORY;
    if (SLOT[s].fd >= 0) close(SLOT[s].fd);
    SLOT[s].fd = -1;
    P(a, t[2]);
    if (flags & O_EXCL) {
      // uvwasi follows a final symlink before open, so O_EXCL would not see it (see the header).
      char c[1024];
      snprintf(c, sizeof c, "%s", a);
      size_t L = strlen(c);
      while (L > 1 && c[L - 1] == '/') c[--L] = 0;
      struct stat st;
      if (lstat(c, &st) == 0 && S_ISLNK(st.st_mode)) {
        out("skip excl-symlink\n");
        return;
      }
    }
    int fd = open(a, flags, 0644);
    if (fd < 0) {
      out("%s\n", ename(errno));
      return;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
      out("ok fstat %s\n", ename(errno));
      close(fd);
      return;
    }
    SLOT[s].fd = fd;
    SLOT[s].rd = rd || !wr;
    SLOT[s].wr = wr;
    SLOT[s].dir = S_ISDIR(st.st_mode);
    out("ok ");
    stat_desc(&st);
    out("\n");
    return;
  }
  if (!strcmp(op, "close") || !strcmp(op, "fsync") || !strcmp(op, "fdatasync") || !strcmp(op, "fstat") || !strcmp(op, "read") ||
      !strcmp(op, "write") || !strcmp(op, "pread") || !strcmp(op, "pwrite") || !strcmp(op, "seek") ||
      !strcmp(op, "ftrunc") || !strcmp(op, "falloc") || !strcmp(op, "append")) {
    NEED(1);
    int s = slot_of(t[1]);
    int fd = SLOT[s].fd;
    if (fd < 0) {
      out("-\n");
      return;
    }
    if (!strcmp(op, "close")) {
      SLOT[s].fd = -1;
      RESULT(close(fd));
    } else if (!strcmp(op, "fstat")) {
      // No link count: an fd on a lower file that was unlinked (never copied up) still shows the
      // lower inode's count under Linux overlayfs (1), where a single file system says 0.
      struct stat st;
      if (fstat(fd, &st) != 0) e = errno;
      else if (S_ISREG(st.st_mode)) {
        out("ok f size=%lld\n", (long long)st.st_size);
        return;
      } else {
        out("ok ");
        stat_desc(&st);
        out("\n");
        return;
      }
    } else if (SLOT[s].dir) {
      out("dirfd\n");  // see the header: uvwasi answers from its rights table
      return;
    } else if (!strcmp(op, "fsync")) {
      RESULT(fsync(fd));
    } else if (!strcmp(op, "fdatasync")) {
      RESULT(fdatasync(fd));
    } else if (!strcmp(op, "read") || !strcmp(op, "pread")) {
      int pr = op[0] == 'p';
      NEED(pr ? 3 : 2);
      if (!SLOT[s].rd) {
        out("wronly\n");
        return;
      }
      int64_t off = pr ? atoll(t[2]) : -1;
      size_t want = (size_t)atoll(t[pr ? 3 : 2]), got = 0;
      if (want > BUFSZ) want = BUFSZ;
      while (got < want) {
        ssize_t r = pr ? pread(fd, BUF + got, want - got, off + (int64_t)got) : read(fd, BUF + got, want - got);
        if (r < 0) {
          e = errno;
          break;
        }
        if (r == 0) break;
        got += (size_t)r;
      }
      if (!e) {
        out("ok n=%zu h=%08x pos=%lld\n", got, fnv(FNV0, BUF, got), (long long)lseek(fd, 0, SEEK_CUR));
        return;
      }
    } else if (!strcmp(op, "write") || !strcmp(op, "pwrite")) {
      int pw = op[0] == 'p';
      NEED(pw ? 4 : 3);
      if (!SLOT[s].wr) {
        out("rdonly\n");
        return;
      }
      size_t n = (size_t)atoll(t[pw ? 3 : 2]);
      if (n > BUFSZ) n = BUFSZ;
      fill((unsigned)atoi(t[pw ? 4 : 3]), n);
      e = write_all(fd, n, pw ? atoll(t[2]) : -1);
      if (!e) {
        out("ok pos=%lld\n", (long long)lseek(fd, 0, SEEK_CUR));
        return;
      }
    } else if (!strcmp(op, "seek")) {
      NEED(3);
      int wh = !strcmp(t[3], "cur") ? SEEK_CUR : !strcmp(t[3], "end") ? SEEK_END : SEEK_SET;
      off_t r = lseek(fd, (off_t)atoll(t[2]), wh);
      if (r < 0) e = errno;
      else {
        out("ok pos=%lld\n", (long long)r);
        return;
      }
    } else if (!strcmp(op, "ftrunc")) {
      NEED(2);
      if (!SLOT[s].wr) {
        out("rdonly\n");  // Linux EINVAL, uvwasi ENOTCAPABLE
        return;
      }
      RESULT(ftruncate(fd, (off_t)atoll(t[2])));
    } else if (!strcmp(op, "falloc")) {
      NEED(3);
      if (!SLOT[s].wr) {
        out("rdonly\n");  // Linux EBADF, uvwasi ENOTCAPABLE
        return;
      }
      e = posix_fallocate(fd, (off_t)atoll(t[2]), (off_t)atoll(t[3]));  // returns the errno
    } else if (!strcmp(op, "append")) {
      NEED(2);
      int fl = fcntl(fd, F_GETFL);
      if (fl < 0) e = errno;
      else {
        // Only O_APPEND is set or cleared; the rest of the word is passed back as read (uvwasi's
        // F_GETFL word is not Linux's, so it is never printed).
        fl = !strcmp(t[2], "on") ? fl | O_APPEND : fl & ~O_APPEND;
        RESULT(fcntl(fd, F_SETFL, fl));
      }
    }
  } else if (!strcmp(op, "trunc")) {
    NEED(2);
    RESULT(truncate(P(a, t[1]), (off_t)atoll(t[2])));
  } else if (!strcmp(op, "cat")) {
    NEED(1);
    int fd = open(P(a, t[1]), O_RDONLY);
    if (fd < 0) e = errno;
    else {
      struct stat st;
      size_t n;
      uint32_t h;
      if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) out("ok d\n");
      else if ((e = read_all(fd, &n, &h)) == 0) out("ok n=%zu h=%08x\n", n, h);
      close(fd);
      if (!e) return;
    }
  } else if (!strcmp(op, "put")) {
    NEED(3);
    int fd = open(P(a, t[1]), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) e = errno;
    else {
      size_t n = (size_t)atoll(t[2]);
      if (n > BUFSZ) n = BUFSZ;
      fill((unsigned)atoi(t[3]), n);
      e = write_all(fd, n, -1);
      close(fd);
    }
  } else if (!strcmp(op, "mkdir")) {
    NEED(1);
    RESULT(mkdir(P(a, t[1]), 0755));
  } else if (!strcmp(op, "rmdir")) {
    NEED(1);
    RESULT(rmdir(P(a, t[1])));
  } else if (!strcmp(op, "unlink")) {
    NEED(1);
    RESULT(unlink(P(a, t[1])));
  } else if (!strcmp(op, "rename")) {
    NEED(2);
    RESULT(rename(P(a, t[1]), P(b, t[2])));
  } else if (!strcmp(op, "link")) {
    NEED(2);
    RESULT(link(P(a, t[1]), P(b, t[2])));
  } else if (!strcmp(op, "symlink")) {
    NEED(2);
    RESULT(symlink(t[1], P(a, t[2])));
  } else if (!strcmp(op, "readlink")) {
    NEED(1);
    char target[1024];
    ssize_t k = readlink(P(a, t[1]), target, sizeof target - 1);
    if (k < 0) e = errno;
    else {
      target[k] = 0;
      out("ok %s\n", target);
      return;
    }
  } else if (!strcmp(op, "stat") || !strcmp(op, "lstat")) {
    NEED(1);
    struct stat st;
    if ((op[0] == 'l' ? lstat(P(a, t[1]), &st) : stat(P(a, t[1]), &st)) != 0) e = errno;
    else {
      out("ok ");
      stat_desc(&st);
      out("\n");
      return;
    }
  } else if (!strcmp(op, "ls")) {
    NEED(1);
    dent_t *v;
    int n;
    e = list_dir(P(a, t[1]), &v, &n);
    if (!e) {
      out("ok");
      for (int i = 0; i < n; i++) out(" %s%s", v[i].name, dtype(v[i].type));
      out("\n");
      free(v);
      return;
    }
  } else if (!strcmp(op, "utimes")) {
    NEED(3);
    struct timespec ts[2];
    long long at = atoll(t[2]), mt = atoll(t[3]);
    ts[0].tv_sec = at / 1000000000;
    ts[0].tv_nsec = at % 1000000000;
    ts[1].tv_sec = mt / 1000000000;
    ts[1].tv_nsec = mt % 1000000000;
    struct stat st;
    if (utimensat(AT_FDCWD, P(a, t[1]), ts, 0) != 0) e = errno;
    else if (stat(a, &st) != 0) e = errno;
    else {
      out("ok a=%lld m=%lld\n", (long long)st.st_atim.tv_sec * 1000000000 + st.st_atim.tv_nsec,
          (long long)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec);
      return;
    }
  } else if (!strcmp(op, "deep")) {
    // a chain of N directories "d" below PATH, each made by its whole path, then a file at the bottom
    // made, stat'ed and read back the same way (the cost of long walks: linear, or not)
    NEED(2);
    static char p[8192];
    int n = atoi(t[2]);
    size_t at = (size_t)snprintf(p, sizeof p, "%s", P(a, t[1]));
    for (int i = 0; i < n && !e; i++) {
      if (at + 3 >= sizeof p) e = ENAMETOOLONG;
      else {
        at += (size_t)snprintf(p + at, sizeof p - at, "/d");
        RESULT(mkdir(p, 0755));
      }
    }
    if (!e) {
      snprintf(p + at, sizeof p - at, "/f");
      int fd = open(p, O_CREAT | O_WRONLY | O_EXCL, 0644);
      struct stat st;
      if (fd < 0 || close(fd) != 0 || stat(p, &st) != 0) e = errno;
      else {
        out("ok depth=%d\n", n);
        return;
      }
    }
  } else if (!strcmp(op, "dump")) {
    dump(P(a, nt > 1 ? t[1] : "/"));
    return;
  } else {
    out("bad op\n");
    return;
  }
  out("%s\n", e ? ename(e) : "ok");
#undef NEED
#undef RESULT
}

static long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(void) {
  // The whole script first, so that reading stdin is not timed.
  size_t len = 0, cap = 1 << 16;
  char *src = malloc(cap + 1);
  for (;;) {
    if (len == cap) src = realloc(src, (cap *= 2) + 1);
    ssize_t r = read(0, src + len, cap - len);
    if (r <= 0) break;
    len += (size_t)r;
  }
  src[len] = 0;
  OUT_CAP = 1 << 16;
  OUT = malloc(OUT_CAP);
  for (int i = 0; i < NSLOT; i++) SLOT[i].fd = -1;

  long long op_ns = 0, dump_ns = 0, ops = 0;
  char *line = src;
  while (line && *line) {
    char *nl = strchr(line, '\n');
    if (nl) *nl = 0;
    char *next = nl ? nl + 1 : NULL;
    size_t L = strlen(line);
    if (L && line[L - 1] == '\r') line[--L] = 0;
    if (L == 0 || line[0] == '#') {
      line = next;
      continue;
    }
    char echo[1024];
    snprintf(echo, sizeof echo, "%s", line);
    char *t[MAXTOK];
    int nt = 0;
    for (char *p = strtok(line, " "); p && nt < MAXTOK; p = strtok(NULL, " ")) t[nt++] = p;
    if (nt == 0) {
      line = next;
      continue;
    }
    if (!strcmp(t[0], "seed")) {
      close_all();
      snprintf(SEED, sizeof SEED, "%s", nt > 1 ? t[1] : "");
      out("## %s\n", SEED);
    } else {
      out("%s -> ", echo);
      long long t0 = now_ns();
      run_op(t, nt);
      long long dt = now_ns() - t0;
      if (!strcmp(t[0], "dump")) dump_ns += dt;
      else {
        op_ns += dt;
        ops++;
      }
    }
    if (OUT_LEN > (1 << 20)) flush_out();
    line = next;
  }
  close_all();
  flush_out();
  fprintf(stderr, "fsops: ops %lld op_ns %lld dump_ns %lld\n", ops, op_ns, dump_ns);
  return 0;
}
