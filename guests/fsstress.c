// fsstress: wasmbox's own port of LTP's fsstress (testcases/kernel/fs/fsstress), written from
// scratch for WASI preview1. It follows LTP's documented behaviour (operation mix, option meanings,
// name scheme, offset and size bounds) but none of its code. It is the file-system workload of the
// benchmark, and its result log (-o/-L) is the benchmark's correctness guard.
//
// Usage: fsstress -d DIR [-n OPS] [-p PROCS] [-s SEED] [-l LOOPS] [-c] [-f OP=FREQ] [-r] [-w] [-z]
//                 [-o LOGFILE | -L] [-v] [-V] [-S] [-H] [-X]
//   -d DIR      base directory (created if missing). Process N works in DIR/pN (N in hex, as LTP).
//   -n OPS      operations per process (default 1).
//   -p PROCS    number of "processes" (default 1). WASI has no fork: they run one after another,
//               each in DIR/pN with its own name lists, seeded with SEED+N (as LTP's children).
//   -s SEED     random seed (default, or 0: from the clock, printed as "seed = N", as LTP).
//   -l LOOPS    repeat the whole run LOOPS times (default 1; 0 = forever, as LTP). After every loop,
//               including the last, everything in DIR is removed (LTP's `rm -rf DIR/*`: names that
//               start with '.' are kept) and the name lists start empty, unless -c is given. Every
//               loop restarts each process from its seed, so loops repeat the same operations.
//   -c          no cleanup between/after loops (LTP -c).
//   -f OP=FREQ  set an operation's frequency; LTP op names this port leaves out are accepted and
//               ignored. -w zeroes non-write ops, -z zeroes all (then use -f), -r pads names with
//               'X' to random lengths (LTP -r), -X is accepted and does nothing (no XFS ops here).
//   -o LOGFILE  write the result log to LOGFILE (keep it outside DIR: cleanup removes DIR/*).
//   -L          write the result log to stdout.   -v  verbose: print each op's log line to stdout.
//   -V          verify: at the end of each process, lstat every name in the lists (type, and in a
//               fresh pN directory the link count) and exit 3 on a mismatch.
//   -S          print the operation table (LTP format); without -d, exit 0 after it.
//   -T          print the run's own time to stderr at the end ("fsstress: elapsed_ns N"; the
//               benchmark's measure, without process start-up).
//
// Operations and default frequencies (relative weights, LTP's values; total 25):
//   creat 4, fdatasync 1, fsync 1, getdents 1, link 1, mkdir 2, read 1, readlink 1, rename 2,
//   rmdir 1, stat 1, symlink 2, truncate 2, unlink 1, write 4.
// LTP ops left out, because WASI cannot do them: chown 3 (no ownership in WASI), mknod 2 (no device
// nodes), dread 4 / dwrite 4 (no O_DIRECT; LTP itself skips them when O_DIRECT cannot be set),
// sync 1 (no sync(2)), and the XFS-only ioctls allocsp, freesp, resvsp, unresvsp, attr_set,
// attr_remove, bulkstat, bulkstat1 (LTP turns them off with -X or off XFS).
//
// Behaviour as LTP's: each process keeps in-memory lists of the dirs (dN), files (fN) and symlinks
// (lN) it made, N a hex sequence number; a new name goes into a random listed directory (the top
// only while there is none). Failed operations are expected and logged, not fatal. Bounds: write at
// offset < size + 1 MiB, 1..128 KiB (32 pages of 4 KiB); read at offset < size, 1..128 KiB (not on
// an empty file); truncate to < size + 1 MiB; symlink targets of 0..4095 bytes of 'x' with a '/'
// every 10 (an empty target is not tried: Linux answers ENOENT, node:wasi EINVAL; logged "= skip");
// written bytes are (sequence number & 0xff). stat is lstat; link does not follow.
// Differences: our own PRNG (splitmix64, 31-bit results) instead of random(); paths are used
// relative to the pN directory fd (no chdir descent on ENAMETOOLONG: guest paths of 4096 bytes or
// more are logged as ENAMETOOLONG without a call); truncate is open + ftruncate (WASI has no
// path truncate); every process starts each loop with empty lists (LTP's -p 1 keeps its sequence
// number across loops).
//
// Result log: one line per operation, identical for the same arguments on any correct POSIX file
// system (no inode numbers, times or readdir order):
//   fsstress seed=S ops=N procs=P loops=L                        (first line)
//   LOOP PROC/OPNO OP PATH [ARGS] = RESULT [EXTRA]
// LOOP counts from 1, PROC and OPNO from 0 (decimal); PATH is relative to DIR/pPROC ("." is the top);
// RESULT is 0 or the errno name (ENOENT, ...). ARGS and EXTRA by op:
//   creat/mkdir/rmdir/unlink/fsync/fdatasync P = R      link/rename OLD NEW = R
//   symlink P len=N = R|skip  readlink P = R n=LEN h=HASH      getdents P = R n=ENTRIES (no . ..)
//   read P [OFF,LEN] = R n=BYTES h=HASH   (read P empty = 0 for a 0-byte file)
//   write P [OFF,LEN] = R n=BYTES          truncate P SIZE = R
//   stat P = R f size=N nlink=K | d | l size=N nlink=K
//   OP - = none   (nothing of the needed kind in the lists; the op does nothing, as LTP)
//   LOOP PROC/end files=F dirs=D symlinks=S      LOOP cleanup = R n=REMOVED
// HASH is a 64-bit hash of the bytes read, in hex.
//
// Consistency checks: every internal loop is bounded. The program prints "fsstress: file system
// inconsistent: ..." to stderr and exits 3 when the file system contradicts its bookkeeping: a
// directory renamed into itself or its subtree succeeded (must be EINVAL), rmdir removed a directory
// that holds listed names, ENOENT/ENOTDIR on a listed path, a listed name of the wrong type, a
// readdir that never ends, a cleanup that does not converge, and in a freshly made pN directory: a
// getdents count or link count that differs from the lists, or ENOTEMPTY on a directory that must be
// empty. Exit status: 0 done, 1 usage or setup error (DIR or pN not usable, log not writable), 3
// inconsistent file system.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MIB (1024LL * 1024)
#define IO_MAX (4096 * 32)   // LTP: getpagesize() * 32, with 4 KiB pages
#define SYMLINK_MAX 4096     // LTP: PATH_MAX; target lengths 0..4095
#define PATH_CAP 4096        // a guest path of PATH_CAP bytes or more is ENAMETOOLONG
#define NAME_MAX_LEN 255     // longest padded name (-r)
#define READDIR_MAX (1 << 20)
#define DEPTH_MAX 4096
#define CLEANUP_PASSES 4
#define EXIT_SETUP 1
#define EXIT_INCONSISTENT 3

enum { T_DIR, T_FILE, T_SYM, NTYPES };
#define M_DIR (1 << T_DIR)
#define M_FILE (1 << T_FILE)
#define M_SYM (1 << T_SYM)
#define M_ANY (M_DIR | M_FILE | M_SYM)
#define M_NOTDIR (M_FILE | M_SYM)
static const char type_tag[NTYPES] = {'d', 'f', 'l'};
static const char *const type_word[NTYPES] = {"dirs", "files", "symlinks"};

// One name in a process's lists: its sequence number, its parent directory's (-1: the top), and
// the link group (the sequence number of the creat/symlink that made the inode; hard links share it).
typedef struct {
  int id;
  int parent;
  int inode;
} ent_t;

typedef struct {
  ent_t *v;
  int n, cap;
} elist_t;

// ---------------------------------------------------------------------------------------------
// State

static elist_t lists[NTYPES];
static int *dir_slot;  // sequence number -> slot in lists[T_DIR], or -1
static int dir_slot_cap;
static int nameseq;
static unsigned namerand;  // 0: no padding (-r off)
static int use_namerand;

static int base_fd = -1;  // DIR
static int pfd = -1;      // DIR/pN
static int fresh;         // DIR/pN was made by this process: it holds only listed names
static int cur_loop, cur_proc, cur_op;
static unsigned long long seed;
static int nops = 1, nproc = 1, nloops = 1;
static int no_cleanup, verbose, verify, timed;
static FILE *logf;

static char path0[PATH_CAP], path1[PATH_CAP];
static char iobuf[IO_MAX];
static char linkbuf[SYMLINK_MAX];

// ---------------------------------------------------------------------------------------------
// Random numbers: splitmix64, 31-bit results like random().

static uint64_t rng;

static uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// The seed goes through the mixer, so that seeds S and S+1 give unrelated sequences.
static void rng_seed(unsigned long long s) { rng = mix64((uint64_t)s ^ 0x2545F4914F6CDD1Dull); }

static long rnd(void) {
  return (long)(mix64(rng += 0x9E3779B97F4A7C15ull) >> 33);
}

static long long rnd64(void) {
  long long hi = rnd();
  return (hi << 32) + rnd();
}

// ---------------------------------------------------------------------------------------------
// Output

static const struct {
  int no;
  const char *name;
} errnames[] = {
#define E(x) {x, #x}
    E(E2BIG),        E(EACCES),       E(EADDRINUSE),  E(EADDRNOTAVAIL), E(EAFNOSUPPORT), E(EAGAIN),
    E(EALREADY),     E(EBADF),        E(EBADMSG),     E(EBUSY),         E(ECANCELED),    E(ECHILD),
    E(ECONNABORTED), E(ECONNREFUSED), E(ECONNRESET),  E(EDEADLK),       E(EDESTADDRREQ), E(EDOM),
    E(EDQUOT),       E(EEXIST),       E(EFAULT),      E(EFBIG),         E(EHOSTUNREACH), E(EIDRM),
    E(EILSEQ),       E(EINPROGRESS),  E(EINTR),       E(EINVAL),        E(EIO),          E(EISCONN),
    E(EISDIR),       E(ELOOP),        E(EMFILE),      E(EMLINK),        E(EMSGSIZE),     E(EMULTIHOP),
    E(ENAMETOOLONG), E(ENETDOWN),     E(ENETRESET),   E(ENETUNREACH),   E(ENFILE),       E(ENOBUFS),
    E(ENODEV),       E(ENOENT),       E(ENOEXEC),     E(ENOLCK),        E(ENOLINK),      E(ENOMEM),
    E(ENOMSG),       E(ENOPROTOOPT),  E(ENOSPC),      E(ENOSYS),        E(ENOTCONN),     E(ENOTDIR),
    E(ENOTEMPTY),    E(ENOTRECOVERABLE), E(ENOTSOCK), E(ENOTSUP),       E(ENOTTY),       E(ENXIO),
    E(EOVERFLOW),    E(EOWNERDEAD),   E(EPERM),       E(EPIPE),         E(EPROTO),       E(EPROTONOSUPPORT),
    E(EPROTOTYPE),   E(ERANGE),       E(EROFS),       E(ESPIPE),        E(ESRCH),        E(ESTALE),
    E(ETIMEDOUT),    E(ETXTBSY),      E(EXDEV),       E(ENOTCAPABLE),
#undef E
};

static const char *errname(int e) {
  static char buf[16];
  if (e == 0) return "0";
  for (size_t i = 0; i < sizeof errnames / sizeof errnames[0]; i++)
    if (errnames[i].no == e) return errnames[i].name;
  snprintf(buf, sizeof buf, "E%d", e);
  return buf;
}

static void vemit(const char *fmt, va_list ap) {
  if (logf) {
    va_list aq;
    va_copy(aq, ap);
    vfprintf(logf, fmt, aq);
    va_end(aq);
  }
  if (verbose && logf != stdout) vfprintf(stdout, fmt, ap);
}

static void emit(const char *fmt, ...) {
  if (!logf && !verbose) return;
  va_list ap;
  va_start(ap, fmt);
  vemit(fmt, ap);
  va_end(ap);
}

// One op's log line: "LOOP PROC/OPNO " then the rest.
static void oplog(const char *fmt, ...) {
  if (!logf && !verbose) return;
  emit("%d %d/%d ", cur_loop, cur_proc, cur_op);
  va_list ap;
  va_start(ap, fmt);
  vemit(fmt, ap);
  va_end(ap);
}

static void flush_all(void) {
  if (logf) fflush(logf);
  fflush(stdout);
}

static void inconsistent(const char *fmt, ...) {
  flush_all();
  fprintf(stderr, "fsstress: file system inconsistent: loop %d process %d op %d: ", cur_loop, cur_proc, cur_op);
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  exit(EXIT_INCONSISTENT);
}

static void setup_error(const char *what, const char *name, int e) {
  flush_all();
  fprintf(stderr, "fsstress: %s %s: %s\n", what, name, strerror(e));
  exit(EXIT_SETUP);
}

static uint64_t hash_bytes(const unsigned char *p, size_t n) {
  uint64_t h = 0x243F6A8885A308D3ull ^ (uint64_t)n;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    memcpy(&w, p + i, 8);
    h = (h ^ w) * 0x9E3779B97F4A7C15ull;
    h ^= h >> 29;
  }
  for (; i < n; i++) h = (h ^ p[i]) * 0x100000001B3ull;
  h ^= h >> 32;
  return h;
}

// ---------------------------------------------------------------------------------------------
// Name lists

static void *xrealloc(void *p, size_t n) {
  void *q = realloc(p, n);
  if (!q) {
    fprintf(stderr, "fsstress: out of memory\n");
    exit(EXIT_SETUP);
  }
  return q;
}

static void set_dir_slot(int id, int slot) {
  if (id >= dir_slot_cap) {
    int cap = dir_slot_cap ? dir_slot_cap : 256;
    while (cap <= id) cap *= 2;
    dir_slot = xrealloc(dir_slot, (size_t)cap * sizeof *dir_slot);
    for (int i = dir_slot_cap; i < cap; i++) dir_slot[i] = -1;
    dir_slot_cap = cap;
  }
  dir_slot[id] = slot;
}

static ent_t *dir_by_id(int id) {
  if (id < 0 || id >= dir_slot_cap || dir_slot[id] < 0) return NULL;
  ent_t *e = &lists[T_DIR].v[dir_slot[id]];
  return e->id == id ? e : NULL;
}

static void list_add(int t, int id, int parent, int inode) {
  elist_t *l = &lists[t];
  if (l->n == l->cap) {
    l->cap = l->cap ? l->cap * 2 : 64;
    l->v = xrealloc(l->v, (size_t)l->cap * sizeof *l->v);
  }
  l->v[l->n] = (ent_t){id, parent, inode};
  if (t == T_DIR) set_dir_slot(id, l->n);
  l->n++;
}

static void list_del(int t, int slot) {
  elist_t *l = &lists[t];
  if (t == T_DIR) dir_slot[l->v[slot].id] = -1;
  l->n--;
  if (slot != l->n) {
    l->v[slot] = l->v[l->n];
    if (t == T_DIR) dir_slot[l->v[slot].id] = slot;
  }
}

static void lists_reset(void) {
  for (int t = 0; t < NTYPES; t++) lists[t].n = 0;
  for (int i = 0; i < dir_slot_cap; i++) dir_slot[i] = -1;
  nameseq = 0;
}

static int count_children(int dirid) {
  int c = 0;
  for (int t = 0; t < NTYPES; t++)
    for (int i = 0; i < lists[t].n; i++) c += lists[t].v[i].parent == dirid;
  return c;
}

static int count_links(int inode) {
  int c = 0;
  for (int t = T_FILE; t <= T_SYM; t++)
    for (int i = 0; i < lists[t].n; i++) c += lists[t].v[i].inode == inode;
  return c;
}

// Is directory `dirid` (or the top, -1) the directory `anc` or inside it? Bounded walk.
static int dir_is_under(int dirid, int anc) {
  for (int steps = 0; dirid != -1; steps++) {
    if (dirid == anc) return 1;
    if (steps > lists[T_DIR].n) inconsistent("directory parents form a cycle at d%x", dirid);
    ent_t *e = dir_by_id(dirid);
    if (!e) inconsistent("directory d%x is missing from the lists", dirid);
    dirid = e->parent;
  }
  return 0;
}

// Picks one listed name of a type in `mask` with r, in the order dirs, files, symlinks.
static int pick(int mask, long r, int *tp, int *slotp) {
  int c = 0;
  for (int t = 0; t < NTYPES; t++)
    if (mask & (1 << t)) c += lists[t].n;
  if (c == 0) return 0;
  int x = (int)(r % c);
  for (int t = 0; t < NTYPES; t++) {
    if (!(mask & (1 << t))) continue;
    if (x < lists[t].n) {
      *tp = t;
      *slotp = x;
      return 1;
    }
    x -= lists[t].n;
  }
  return 0;
}

// A name: tag, hex sequence number, and with -r a padding of 'X' (LTP's buckets of 2..255).
static int make_name(char *out, int t, int id) {
  int n = snprintf(out, NAME_MAX_LEN + 1, "%c%x", type_tag[t], id);
  if (use_namerand) {
    static const int buckets[] = {2, 4, 8, 16, 32, 64, 128, NAME_MAX_LEN};
    unsigned v = (unsigned)id ^ namerand;
    int room = buckets[v % 8] + 1 - n;
    if (room > 0) {
      int pad = (int)(v % (unsigned)room);
      memset(out + n, 'X', (size_t)pad);
      n += pad;
      out[n] = 0;
    }
  }
  return n;
}

// Writes the path of name `id` of type t with parent `parent` into out. Returns the length, or -1
// when it would be PATH_CAP bytes or longer.
static int build_path(char *out, int t, int id, int parent) {
  static int *chain;
  static int chain_cap;
  int depth = 0;
  for (int d = parent; d != -1;) {
    if (depth > lists[T_DIR].n) inconsistent("directory parents form a cycle at d%x", d);
    if (depth >= chain_cap) {
      chain_cap = chain_cap ? chain_cap * 2 : 64;
      chain = xrealloc(chain, (size_t)chain_cap * sizeof *chain);
    }
    chain[depth++] = d;
    ent_t *e = dir_by_id(d);
    if (!e) inconsistent("directory d%x (parent of %c%x) is missing from the lists", d, type_tag[t], id);
    d = e->parent;
  }
  char name[NAME_MAX_LEN + 1];
  int len = 0;
  for (int i = depth - 1; i >= -1; i--) {
    int n = i >= 0 ? make_name(name, T_DIR, chain[i]) : make_name(name, t, id);
    if (len + n + 2 > PATH_CAP) return -1;
    memcpy(out + len, name, (size_t)n);
    len += n;
    if (i >= 0) out[len++] = '/';
  }
  out[len] = 0;
  return len;
}

static int ent_path(char *out, int t, const ent_t *e) { return build_path(out, t, e->id, e->parent); }

// A listed path gave an error that only a missing listed name can give.
static void check_listed(int e, const char *op, const char *p) {
  if (e == ENOENT || e == ENOTDIR) inconsistent("%s %s: %s, but the lists say it exists", op, p, errname(e));
}

// ---------------------------------------------------------------------------------------------
// Operations. Each gets r, a random number drawn for it, like LTP's.

static int pick_parent(long r, int *parent) {
  int t, s;
  if (!pick(M_DIR, r, &t, &s)) {
    *parent = -1;
    return 0;
  }
  *parent = lists[T_DIR].v[s].id;
  return 1;
}

static void op_creat(long r) {
  int parent, id = nameseq++;
  pick_parent(r, &parent);
  if (build_path(path0, T_FILE, id, parent) < 0) {
    oplog("creat %c%x = ENAMETOOLONG\n", type_tag[T_FILE], id);
    return;
  }
  int fd = openat(pfd, path0, O_CREAT | O_WRONLY | O_TRUNC, 0666);
  int e = fd < 0 ? errno : 0;
  if (fd >= 0) {
    list_add(T_FILE, id, parent, id);
    close(fd);
  }
  oplog("creat %s = %s\n", path0, errname(e));
  check_listed(e, "creat", path0);
}

static void op_mkdir(long r) {
  int parent, id = nameseq++;
  pick_parent(r, &parent);
  if (build_path(path0, T_DIR, id, parent) < 0) {
    oplog("mkdir %c%x = ENAMETOOLONG\n", type_tag[T_DIR], id);
    return;
  }
  int e = mkdirat(pfd, path0, 0777) < 0 ? errno : 0;
  if (e == 0) list_add(T_DIR, id, parent, id);
  oplog("mkdir %s = %s\n", path0, errname(e));
  check_listed(e, "mkdir", path0);
}

static void op_symlink(long r) {
  int parent, id = nameseq++;
  pick_parent(r, &parent);
  int plen = build_path(path0, T_SYM, id, parent);
  int len = (int)(rnd() % SYMLINK_MAX);
  if (plen < 0) {
    oplog("symlink %c%x len=%d = ENAMETOOLONG\n", type_tag[T_SYM], id, len);
    return;
  }
  if (len == 0) {  // Linux says ENOENT, node:wasi EINVAL: not a question for the log
    oplog("symlink %s len=0 = skip\n", path0);
    return;
  }
  memset(linkbuf, 'x', (size_t)len);
  linkbuf[len] = 0;
  for (int i = 10; i < len - 1; i += 10) linkbuf[i] = '/';
  int e = symlinkat(linkbuf, pfd, path0) < 0 ? errno : 0;
  if (e == 0) list_add(T_SYM, id, parent, id);
  oplog("symlink %s len=%d = %s\n", path0, len, errname(e));
  check_listed(e, "symlink", path0);
}

static void op_link(long r) {
  int t, s, parent;
  if (!pick(M_NOTDIR, r, &t, &s)) {
    oplog("link - = none\n");
    return;
  }
  ent_t src = lists[t].v[s];
  pick_parent(rnd(), &parent);
  int id = nameseq++;
  if (ent_path(path0, t, &src) < 0 || build_path(path1, t, id, parent) < 0) {
    oplog("link %c%x %c%x = ENAMETOOLONG\n", type_tag[t], src.id, type_tag[t], id);
    return;
  }
  int e = linkat(pfd, path0, pfd, path1, 0) < 0 ? errno : 0;
  if (e == 0) list_add(t, id, parent, src.inode);
  oplog("link %s %s = %s\n", path0, path1, errname(e));
  check_listed(e, "link", path0);
}

static void op_rename(long r) {
  int t, s, parent;
  if (!pick(M_ANY, r, &t, &s)) {
    oplog("rename - = none\n");
    return;
  }
  ent_t src = lists[t].v[s];
  pick_parent(rnd(), &parent);
  int id = nameseq++;
  if (ent_path(path0, t, &src) < 0 || build_path(path1, t, id, parent) < 0) {
    oplog("rename %c%x %c%x = ENAMETOOLONG\n", type_tag[t], src.id, type_tag[t], id);
    return;
  }
  int into_self = t == T_DIR && dir_is_under(parent, src.id);
  int e = renameat(pfd, path0, pfd, path1) < 0 ? errno : 0;
  oplog("rename %s %s = %s\n", path0, path1, errname(e));
  check_listed(e, "rename", path0);
  if (e != 0) return;
  if (into_self) inconsistent("rename %s %s succeeded: a directory cannot move into itself (EINVAL)", path0, path1);
  if (t == T_DIR) {
    for (int u = 0; u < NTYPES; u++)
      for (int i = 0; i < lists[u].n; i++)
        if (lists[u].v[i].parent == src.id) lists[u].v[i].parent = id;
  }
  list_del(t, s);
  list_add(t, id, parent, src.inode);
}

static void op_unlink(long r) {
  int t, s;
  if (!pick(M_NOTDIR, r, &t, &s)) {
    oplog("unlink - = none\n");
    return;
  }
  if (ent_path(path0, t, &lists[t].v[s]) < 0) {
    oplog("unlink %c%x = ENAMETOOLONG\n", type_tag[t], lists[t].v[s].id);
    return;
  }
  int e = unlinkat(pfd, path0, 0) < 0 ? errno : 0;
  if (e == 0) list_del(t, s);
  oplog("unlink %s = %s\n", path0, errname(e));
  check_listed(e, "unlink", path0);
}

static void op_rmdir(long r) {
  int t, s;
  if (!pick(M_DIR, r, &t, &s)) {
    oplog("rmdir - = none\n");
    return;
  }
  ent_t d = lists[T_DIR].v[s];
  if (ent_path(path0, T_DIR, &d) < 0) {
    oplog("rmdir %c%x = ENAMETOOLONG\n", type_tag[T_DIR], d.id);
    return;
  }
  int e = unlinkat(pfd, path0, AT_REMOVEDIR) < 0 ? errno : 0;
  oplog("rmdir %s = %s\n", path0, errname(e));
  check_listed(e, "rmdir", path0);
  int children = count_children(d.id);
  if (e == 0 && children) inconsistent("rmdir %s succeeded, but it holds %d listed names", path0, children);
  if (e == ENOTEMPTY && fresh && !children) inconsistent("rmdir %s: ENOTEMPTY, but it must be empty", path0);
  if (e == 0) list_del(T_DIR, s);
}

// Opens a listed regular file for read/write/fsync/fdatasync/truncate; logs and returns -1 when
// there is none or the open fails.
static int open_file(const char *op, long r, int flags) {
  int t, s;
  if (!pick(M_FILE, r, &t, &s)) {
    oplog("%s - = none\n", op);
    return -1;
  }
  if (ent_path(path0, T_FILE, &lists[T_FILE].v[s]) < 0) {
    oplog("%s f%x = ENAMETOOLONG\n", op, lists[T_FILE].v[s].id);
    return -1;
  }
  int fd = openat(pfd, path0, flags);
  if (fd < 0) {
    int e = errno;
    oplog("%s %s = %s\n", op, path0, errname(e));
    check_listed(e, op, path0);
  }
  return fd;
}

static void op_read(long r) {
  int fd = open_file("read", r, O_RDONLY);
  if (fd < 0) return;
  struct stat st;
  if (fstat(fd, &st) < 0) {
    oplog("read %s = %s\n", path0, errname(errno));
  } else if (st.st_size == 0) {
    oplog("read %s empty = 0\n", path0);
  } else {
    long long off = rnd64() % (long long)st.st_size;
    int len = (int)(rnd() % IO_MAX) + 1;
    ssize_t n = -1;
    int e = 0;
    if (lseek(fd, (off_t)off, SEEK_SET) < 0 || (n = read(fd, iobuf, (size_t)len)) < 0) e = errno;
    if (n < 0) n = 0;
    oplog("read %s [%lld,%d] = %s n=%ld h=%016llx\n", path0, off, len, errname(e), (long)n,
          (unsigned long long)hash_bytes((unsigned char *)iobuf, (size_t)n));
  }
  close(fd);
}

static void op_write(long r) {
  int fd = open_file("write", r, O_WRONLY);
  if (fd < 0) return;
  struct stat st;
  if (fstat(fd, &st) < 0) {
    oplog("write %s = %s\n", path0, errname(errno));
  } else {
    long long off = rnd64() % ((long long)st.st_size + MIB);
    int len = (int)(rnd() % IO_MAX) + 1;
    memset(iobuf, nameseq & 0xff, (size_t)len);
    ssize_t n = -1;
    int e = 0;
    if (lseek(fd, (off_t)off, SEEK_SET) < 0 || (n = write(fd, iobuf, (size_t)len)) < 0) e = errno;
    if (n < 0) n = 0;
    oplog("write %s [%lld,%d] = %s n=%ld\n", path0, off, len, errname(e), (long)n);
  }
  close(fd);
}

static void op_truncate(long r) {
  int t, s;
  if (!pick(M_FILE, r, &t, &s)) {
    oplog("truncate - = none\n");
    return;
  }
  if (ent_path(path0, T_FILE, &lists[T_FILE].v[s]) < 0) {
    oplog("truncate f%x = ENAMETOOLONG\n", lists[T_FILE].v[s].id);
    return;
  }
  struct stat st;
  if (fstatat(pfd, path0, &st, 0) < 0) {
    int e = errno;
    oplog("truncate %s = %s\n", path0, errname(e));
    check_listed(e, "truncate", path0);
    return;
  }
  long long size = rnd64() % ((long long)st.st_size + MIB);
  int e = 0;
  int fd = openat(pfd, path0, O_WRONLY);
  if (fd < 0) {
    e = errno;
  } else {
    if (ftruncate(fd, (off_t)size) < 0) e = errno;
    close(fd);
  }
  oplog("truncate %s %lld = %s\n", path0, size, errname(e));
  check_listed(e, "truncate", path0);
}

static void op_fsync(long r) {
  int fd = open_file("fsync", r, O_WRONLY);
  if (fd < 0) return;
  int e = fsync(fd) < 0 ? errno : 0;
  oplog("fsync %s = %s\n", path0, errname(e));
  close(fd);
}

static void op_fdatasync(long r) {
  int fd = open_file("fdatasync", r, O_WRONLY);
  if (fd < 0) return;
  int e = fdatasync(fd) < 0 ? errno : 0;
  oplog("fdatasync %s = %s\n", path0, errname(e));
  close(fd);
}

static void op_getdents(long r) {
  int t, s, dirid = -1;
  if (pick(M_DIR, r, &t, &s)) {
    dirid = lists[T_DIR].v[s].id;
    if (ent_path(path0, T_DIR, &lists[T_DIR].v[s]) < 0) {
      oplog("getdents d%x = ENAMETOOLONG\n", dirid);
      return;
    }
  } else {
    strcpy(path0, ".");
  }
  int fd = openat(pfd, path0, O_RDONLY | O_DIRECTORY);
  DIR *d = fd < 0 ? NULL : fdopendir(fd);
  if (!d) {
    int e = errno;
    if (fd >= 0) close(fd);
    oplog("getdents %s = %s\n", path0, errname(e));
    check_listed(e, "getdents", path0);
    return;
  }
  long n = 0;
  struct dirent *de;
  errno = 0;
  while ((de = readdir(d)) != NULL) {
    if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) n++;
    if (n > READDIR_MAX) inconsistent("readdir of %s does not end (more than %d entries)", path0, READDIR_MAX);
  }
  int e = errno;
  closedir(d);
  oplog("getdents %s = %s n=%ld\n", path0, errname(e), n);
  if (e == 0 && fresh) {
    int want = count_children(dirid);
    if (n != want) inconsistent("getdents %s: %ld entries, but the lists hold %d", path0, n, want);
  }
}

static int type_of_mode(mode_t m) {
  if (S_ISDIR(m)) return T_DIR;
  if (S_ISREG(m)) return T_FILE;
  if (S_ISLNK(m)) return T_SYM;
  return -1;
}

// lstat of a listed name: checks its type, and in a fresh directory its link count.
static int stat_listed(const char *op, int t, const ent_t *en, struct stat *st) {
  if (fstatat(pfd, path0, st, AT_SYMLINK_NOFOLLOW) < 0) return errno;
  int ft = type_of_mode(st->st_mode);
  if (ft != t) inconsistent("%s %s: mode 0%o, but the lists say it is one of the %s", op, path0, (unsigned)st->st_mode, type_word[t]);
  if (t != T_DIR && fresh) {
    int want = count_links(en->inode);
    if ((long long)st->st_nlink != want)
      inconsistent("%s %s: nlink %lld, but the lists hold %d links", op, path0, (long long)st->st_nlink, want);
  }
  return 0;
}

static void op_stat(long r) {
  int t, s;
  if (!pick(M_ANY, r, &t, &s)) {
    oplog("stat - = none\n");
    return;
  }
  ent_t en = lists[t].v[s];
  if (ent_path(path0, t, &en) < 0) {
    oplog("stat %c%x = ENAMETOOLONG\n", type_tag[t], en.id);
    return;
  }
  struct stat st;
  int e = stat_listed("stat", t, &en, &st);
  if (e) {
    oplog("stat %s = %s\n", path0, errname(e));
    check_listed(e, "stat", path0);
  } else if (t == T_DIR) {
    oplog("stat %s = 0 d\n", path0);
  } else {
    oplog("stat %s = 0 %c size=%lld nlink=%lld\n", path0, t == T_FILE ? 'f' : 'l', (long long)st.st_size,
          (long long)st.st_nlink);
  }
}

static void op_readlink(long r) {
  int t, s;
  if (!pick(M_SYM, r, &t, &s)) {
    oplog("readlink - = none\n");
    return;
  }
  if (ent_path(path0, T_SYM, &lists[T_SYM].v[s]) < 0) {
    oplog("readlink l%x = ENAMETOOLONG\n", lists[T_SYM].v[s].id);
    return;
  }
  ssize_t n = readlinkat(pfd, path0, linkbuf, sizeof linkbuf);
  int e = n < 0 ? errno : 0;
  if (n < 0) n = 0;
  oplog("readlink %s = %s n=%ld h=%016llx\n", path0, errname(e), (long)n,
        (unsigned long long)hash_bytes((unsigned char *)linkbuf, (size_t)n));
  check_listed(e, "readlink", path0);
  if (e == EINVAL) inconsistent("readlink %s: EINVAL, but the lists say it is a symlink", path0);
}

// ---------------------------------------------------------------------------------------------
// Operation table (LTP's names and default frequencies, alphabetical as LTP's)

typedef struct {
  const char *name;
  void (*fn)(long);
  int freq;
  int iswrite;
} op_t;

static op_t ops[] = {
    {"creat", op_creat, 4, 1},     {"fdatasync", op_fdatasync, 1, 1}, {"fsync", op_fsync, 1, 1},
    {"getdents", op_getdents, 1, 0}, {"link", op_link, 1, 1},         {"mkdir", op_mkdir, 2, 1},
    {"read", op_read, 1, 0},       {"readlink", op_readlink, 1, 0},   {"rename", op_rename, 2, 1},
    {"rmdir", op_rmdir, 1, 1},     {"stat", op_stat, 1, 0},           {"symlink", op_symlink, 2, 1},
    {"truncate", op_truncate, 2, 1}, {"unlink", op_unlink, 1, 1},     {"write", op_write, 4, 1},
};
#define NOPS ((int)(sizeof ops / sizeof ops[0]))

// LTP ops this port leaves out; -f accepts them and changes nothing.
static const char *const left_out[] = {"allocsp", "attr_remove", "attr_set", "bulkstat", "bulkstat1", "chown",
                                       "dread",   "dwrite",      "freesp",   "mknod",    "resvsp",    "sync",
                                       "unresvsp"};

static unsigned char *freq_table;
static int freq_total;

static void make_freq_table(void) {
  freq_total = 0;
  for (int i = 0; i < NOPS; i++) freq_total += ops[i].freq;
  freq_table = xrealloc(freq_table, (size_t)(freq_total ? freq_total : 1));
  int k = 0;
  for (int i = 0; i < NOPS; i++)
    for (int f = 0; f < ops[i].freq; f++) freq_table[k++] = (unsigned char)i;
}

static void show_ops(void) {
  int total = 0;
  for (int i = 0; i < NOPS; i++) total += ops[i].freq;
  for (int i = 0; i < NOPS; i++)
    if (ops[i].freq > 0 || total == 0)
      printf("%20s %d/%d %s\n", ops[i].name, ops[i].freq, total, ops[i].iswrite ? "write op" : " ");
}

static void set_freq(const char *arg) {
  const char *eq = strchr(arg, '=');
  if (!eq) {
    fprintf(stderr, "fsstress: bad argument '%s' (want -f op=freq)\n", arg);
    exit(EXIT_SETUP);
  }
  size_t n = (size_t)(eq - arg);
  int f = atoi(eq + 1);
  if (f < 0 || f > 1000) {
    fprintf(stderr, "fsstress: frequency out of range in '%s'\n", arg);
    exit(EXIT_SETUP);
  }
  for (int i = 0; i < NOPS; i++)
    if (strlen(ops[i].name) == n && strncmp(ops[i].name, arg, n) == 0) {
      ops[i].freq = f;
      return;
    }
  for (size_t i = 0; i < sizeof left_out / sizeof left_out[0]; i++)
    if (strlen(left_out[i]) == n && strncmp(left_out[i], arg, n) == 0) {
      if (f > 0) fprintf(stderr, "fsstress: op %.*s is not available on WASI; ignored\n", (int)n, arg);
      return;
    }
  fprintf(stderr, "fsstress: can't find op type %.*s for -f\n", (int)n, arg);
  exit(EXIT_SETUP);
}

// ---------------------------------------------------------------------------------------------
// Processes, verification, cleanup

static void verify_lists(void) {
  cur_op = nops;
  for (int t = 0; t < NTYPES; t++)
    for (int i = 0; i < lists[t].n; i++) {
      ent_t en = lists[t].v[i];
      if (ent_path(path0, t, &en) < 0) continue;
      struct stat st;
      int e = stat_listed("verify", t, &en, &st);
      if (e) inconsistent("verify %s: %s, but the lists say it exists", path0, errname(e));
    }
}

static void run_proc(int p) {
  char name[16];
  snprintf(name, sizeof name, "p%x", p);
  cur_proc = p;
  cur_op = 0;
  fresh = mkdirat(base_fd, name, 0777) == 0;
  pfd = openat(base_fd, name, O_RDONLY | O_DIRECTORY);
  if (pfd < 0) setup_error("cannot open process directory", name, errno);
  lists_reset();
  rng_seed(seed + (unsigned long long)p);
  namerand = use_namerand ? (unsigned)rnd() : 0;
  for (cur_op = 0; cur_op < nops; cur_op++) {
    int i = freq_table[rnd() % freq_total];
    ops[i].fn(rnd());
  }
  if (verify) verify_lists();
  emit("%d %d/end files=%d dirs=%d symlinks=%d\n", cur_loop, p, lists[T_FILE].n, lists[T_DIR].n, lists[T_SYM].n);
  close(pfd);
  pfd = -1;
}

// Names in directory fd `dfd` (a fresh fd is opened, the caller's stays), without "." and ".." and,
// at the top, without names that start with '.' (as `rm -rf DIR/*`). Returns the count; the names
// are packed NUL-separated in *buf.
static long read_names(int dfd, int top, char **buf, size_t *cap) {
  int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY);
  DIR *d = fd < 0 ? NULL : fdopendir(fd);
  if (!d) {
    if (fd >= 0) close(fd);
    inconsistent("cleanup: cannot read a directory: %s", errname(errno));
  }
  long count = 0;
  size_t used = 0;
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    const char *nm = de->d_name;
    if (strcmp(nm, ".") == 0 || strcmp(nm, "..") == 0 || (top && nm[0] == '.')) continue;
    if (++count > READDIR_MAX) inconsistent("cleanup: readdir does not end (more than %d entries)", READDIR_MAX);
    size_t n = strlen(nm) + 1;
    if (used + n > *cap) {
      *cap = (*cap ? *cap * 2 : 4096) + n;
      *buf = xrealloc(*buf, *cap);
    }
    memcpy(*buf + used, nm, n);
    used += n;
  }
  closedir(d);
  return count;
}

static long remove_contents(int dfd, int depth, int top) {
  if (depth > DEPTH_MAX) inconsistent("cleanup: directories nested deeper than %d", DEPTH_MAX);
  long removed = 0;
  char *buf = NULL;
  size_t cap = 0;
  for (int pass = 0; pass < CLEANUP_PASSES; pass++) {
    long n = read_names(dfd, top, &buf, &cap);
    if (n == 0) {
      free(buf);
      return removed;
    }
    const char *nm = buf;
    for (long i = 0; i < n; i++, nm += strlen(nm) + 1) {
      struct stat st;
      if (fstatat(dfd, nm, &st, AT_SYMLINK_NOFOLLOW) < 0) continue;
      if (S_ISDIR(st.st_mode)) {
        int sub = openat(dfd, nm, O_RDONLY | O_DIRECTORY);
        if (sub >= 0) {
          removed += remove_contents(sub, depth + 1, 0);
          close(sub);
        }
        if (unlinkat(dfd, nm, AT_REMOVEDIR) == 0) removed++;
      } else if (unlinkat(dfd, nm, 0) == 0) {
        removed++;
      }
    }
  }
  inconsistent("cleanup: a directory is still not empty after %d passes", CLEANUP_PASSES);
  return removed;
}

static void usage(FILE *f, const char *prog) {
  fprintf(f,
          "Usage: %s -d DIR [-n OPS] [-p PROCS] [-s SEED] [-l LOOPS] [-c] [-f OP=FREQ] [-r] [-w] [-z]\n"
          "          [-o LOGFILE | -L] [-v] [-V] [-S] [-H] [-X]\n"
          "   -c           do not remove files (cleanup) after each loop\n"
          "   -d DIR       base directory for operations\n"
          "   -f OP=FREQ   set the frequency of an operation\n"
          "   -l LOOPS     times the run loops (0 = forever; default 1)\n"
          "   -n OPS       operations per process (default 1)\n"
          "   -p PROCS     processes, run one after another in DIR/pN (default 1)\n"
          "   -r           random name padding\n"
          "   -s SEED      random seed (default: from the clock)\n"
          "   -o LOGFILE   write the result log to LOGFILE;  -L  write it to stdout\n"
          "   -v           verbose: print each operation;  -V  verify the lists after each process\n"
          "   -w           zero the frequencies of non-write operations;  -z  zero all frequencies\n"
          "   -S           print the table of operations;  -H  print this help;  -X  ignored\n",
          prog);
}

int main(int argc, char **argv) {
  const char *dir = NULL, *logname = NULL;
  int log_stdout = 0, show = 0, c;
  const char *prog = argc > 0 ? argv[0] : "fsstress";
  while ((c = getopt(argc, argv, "cd:f:l:n:o:p:rs:vwzHLSTVX")) != -1) {
    switch (c) {
      case 'c': no_cleanup = 1; break;
      case 'd': dir = optarg; break;
      case 'f': set_freq(optarg); break;
      case 'l': nloops = atoi(optarg); break;
      case 'n': nops = atoi(optarg); break;
      case 'o': logname = optarg; break;
      case 'p': nproc = atoi(optarg); break;
      case 'r': use_namerand = 1; break;
      case 's': seed = strtoull(optarg, NULL, 0); break;
      case 'v': verbose = 1; break;
      case 'w':
        for (int i = 0; i < NOPS; i++)
          if (!ops[i].iswrite) ops[i].freq = 0;
        break;
      case 'z':
        for (int i = 0; i < NOPS; i++) ops[i].freq = 0;
        break;
      case 'H': usage(stdout, prog); return 0;
      case 'L': log_stdout = 1; break;
      case 'S': show = 1; break;
      case 'T': timed = 1; break;
      case 'V': verify = 1; break;
      case 'X': break;
      default: usage(stderr, prog); return EXIT_SETUP;
    }
  }
  if (show) {
    show_ops();
    printf("\n");
  }
  if (!dir) {
    if (show) return 0;
    usage(stderr, prog);
    return EXIT_SETUP;
  }
  if (nops < 0 || nproc < 1 || nloops < 0) {
    fprintf(stderr, "fsstress: -n, -p and -l must be >= 0, >= 1 and >= 0\n");
    return EXIT_SETUP;
  }
  make_freq_table();
  if (freq_total == 0 && nops > 0) {
    fprintf(stderr, "fsstress: every operation has frequency 0\n");
    return EXIT_SETUP;
  }

  static char outbuf[1 << 16];
  if (log_stdout) {
    logf = stdout;
  } else if (logname) {
    logf = fopen(logname, "w");
    if (!logf) setup_error("cannot write log", logname, errno);
    static char logbuf[1 << 16];
    setvbuf(logf, logbuf, _IOFBF, sizeof logbuf);
  }
  if (log_stdout || verbose) setvbuf(stdout, outbuf, _IOFBF, sizeof outbuf);

  (void)mkdir(dir, 0777);
  base_fd = open(dir, O_RDONLY | O_DIRECTORY);
  if (base_fd < 0) setup_error("cannot open", dir, errno);

  if (seed == 0) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    seed = (unsigned long long)(unsigned)((unsigned)ts.tv_sec ^ (unsigned)(ts.tv_nsec / 1000));
    printf("seed = %llu\n", seed);
  }
  emit("fsstress seed=%llu ops=%d procs=%d loops=%d\n", seed, nops, nproc, nloops);

  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (cur_loop = 1; nloops == 0 || cur_loop <= nloops; cur_loop++) {
    for (int p = 0; p < nproc; p++) run_proc(p);
    if (!no_cleanup) {
      cur_proc = -1;
      cur_op = 0;
      long n = remove_contents(base_fd, 0, 1);
      emit("%d cleanup = 0 n=%ld\n", cur_loop, n);
    }
  }
  close(base_fd);
  flush_all();
  if (timed) {
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long long ns = (long long)(t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec);
    fprintf(stderr, "fsstress: elapsed_ns %lld\n", ns);
  }
  if (logf && logf != stdout && fclose(logf) != 0) {
    fprintf(stderr, "fsstress: writing the log failed\n");
    return EXIT_SETUP;
  }
  return 0;
}
