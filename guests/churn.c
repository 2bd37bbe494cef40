// churn: a write-heavy file churn, the workload of the overlay-at-native-speed issue. N random
// operations (default 40000) over FILES files (default 200) in DIR, each file 4 KiB-256 KiB when
// written whole: create and write, append, overwrite a range, truncate, unlink, rename, stat. The
// choices come from a seeded xorshift generator, so every runtime does exactly the same work.
//   churn [N [FILES [SEED [DIR]]]]
// stdout: "churn digest <hex> files <n> bytes <total>": an FNV-1a hash over every file's name, size
// and contents at the end (read back through the file system), which must be the same everywhere.
// stderr: "churn: elapsed_ns <ns>" for the operations alone (not the final read-back).
// Every call's result is checked: a failure prints "churn: <op> <name>: <strerror>" and exits 1.
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAXF 4096
#define BIG (256 * 1024)

static uint64_t rng_state;
static uint64_t rnd(void) {
  uint64_t x = rng_state;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return rng_state = x;
}
static uint32_t below(uint32_t n) { return (uint32_t)(rnd() % n); }

static unsigned char pattern[2 * BIG];
static unsigned char buf[BIG];
static long long sizes[MAXF]; // -1: absent
static const char *dir;

static void die(const char *op, const char *name) {
  printf("churn: %s %s: %s\n", op, name, strerror(errno));
  exit(1);
}

static void path_of(char *out, int i) { snprintf(out, 512, "%s/f%04d", dir, i); }

static void write_all(int fd, const unsigned char *p, size_t len, off_t at, const char *name) {
  while (len > 0) {
    size_t chunk = len > 65536 ? 65536 : len;
    ssize_t w = at < 0 ? write(fd, p, chunk) : pwrite(fd, p, chunk, at);
    if (w <= 0) die("write", name);
    p += w;
    len -= (size_t)w;
    if (at >= 0) at += w;
  }
}

static long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 40000;
  int files = argc > 2 ? atoi(argv[2]) : 200;
  rng_state = argc > 3 ? strtoull(argv[3], NULL, 10) : 88172645463325252ULL;
  if (rng_state == 0) rng_state = 1;
  dir = argc > 4 ? argv[4] : "/tmp/churn";
  if (files < 1 || files > MAXF) {
    printf("churn: FILES must be 1..%d\n", MAXF);
    return 2;
  }
  if (mkdir(dir, 0755) != 0 && errno != EEXIST) die("mkdir", dir);
  for (size_t i = 0; i < sizeof pattern; i++) pattern[i] = (unsigned char)(rnd() >> 24);
  for (int i = 0; i < files; i++) sizes[i] = -1;
  char name[512], name2[512];
  struct stat st;
  long long t0 = now_ns();
  for (int op = 0; op < n; op++) {
    int i = (int)below((uint32_t)files);
    path_of(name, i);
    uint32_t kind = below(100);
    if (sizes[i] < 0 && kind < 80) kind = 0; // most operations need the file: make it
    if (kind < 20) { // create (or replace) and write whole
      size_t len = 4096 + below(BIG - 4096 + 1);
      int fd = open(name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd < 0) die("create", name);
      write_all(fd, pattern + below(BIG), len, -1, name);
      if (close(fd) != 0) die("close", name);
      sizes[i] = (long long)len;
    } else if (kind < 35) { // append
      size_t len = 4096 + below(65536 - 4096 + 1);
      int fd = open(name, O_WRONLY | O_APPEND);
      if (fd < 0) die("open", name);
      write_all(fd, pattern + below(BIG), len, -1, name);
      if (close(fd) != 0) die("close", name);
      sizes[i] += (long long)len;
    } else if (kind < 50) { // overwrite a range inside (or just past) the file
      size_t len = 1 + below(65536);
      off_t at = (off_t)below((uint32_t)sizes[i] + 1);
      int fd = open(name, O_WRONLY);
      if (fd < 0) die("open", name);
      write_all(fd, pattern + below(BIG), len, at, name);
      if (close(fd) != 0) die("close", name);
      if ((long long)(at + (off_t)len) > sizes[i]) sizes[i] = (long long)(at + (off_t)len);
    } else if (kind < 60) { // truncate, shorter or longer
      long long to = (long long)below((uint32_t)sizes[i] + 65536 + 1);
      if (truncate(name, to) != 0) die("truncate", name);
      sizes[i] = to;
    } else if (kind < 70) { // unlink
      if (unlink(name) != 0) die("unlink", name);
      sizes[i] = -1;
    } else if (kind < 80) { // rename onto another name (replacing it)
      int j = (int)below((uint32_t)files);
      if (j == i) continue;
      path_of(name2, j);
      if (rename(name, name2) != 0) die("rename", name);
      sizes[j] = sizes[i];
      sizes[i] = -1;
    } else { // stat
      if (stat(name, &st) != 0) {
        if (errno != ENOENT || sizes[i] >= 0) die("stat", name);
      } else if ((long long)st.st_size != sizes[i]) {
        errno = EIO;
        die("stat size", name);
      }
    }
  }
  long long dt = now_ns() - t0;
  // the answer: every file read back
  uint64_t h = 1469598103934665603ULL;
  long long total = 0;
  int present = 0;
  for (int i = 0; i < files; i++) {
    if (sizes[i] < 0) continue;
    path_of(name, i);
    int fd = open(name, O_RDONLY);
    if (fd < 0) die("open", name);
    long long got = 0;
    for (;;) {
      ssize_t r = read(fd, buf, sizeof buf);
      if (r < 0) die("read", name);
      if (r == 0) break;
      for (ssize_t k = 0; k < r; k++) h = (h ^ buf[k]) * 1099511628211ULL;
      got += r;
    }
    close(fd);
    if (got != sizes[i]) {
      errno = EIO;
      die("size", name);
    }
    for (const char *c = name + strlen(dir); *c; c++) h = (h ^ (unsigned char)*c) * 1099511628211ULL;
    h = (h ^ (uint64_t)got) * 1099511628211ULL;
    total += got;
    present++;
  }
  printf("churn digest %016llx files %d bytes %lld\n", (unsigned long long)h, present, total);
  fprintf(stderr, "churn: elapsed_ns %lld\n", dt);
  return 0;
}
