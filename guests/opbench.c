// opbench: per-operation latency from inside a guest. Each operation runs N times (default 20000,
// or the first argument) in a fresh directory DIR (second argument, default /tmp/opbench), timed
// with clock_gettime(CLOCK_MONOTONIC), and prints one line per operation:
//   op <name> <iterations> <ns per operation>
// PASSES (third argument, default 1) repeats the whole set in the same process; the passes after
// the first print "warm" in place of "op". The first pass includes the runtime's warm-up (a JIT
// compiling its hot paths); the later ones show the steady state.
// Operations: stat, open+close, create+unlink, mkdir+rmdir, pwrite 4K, pread 4K, readdir of 100
// entries, rename. Every call's result is checked; a failure prints "error <op> <errno>" and exits 1.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void check(int ok, const char *op) {
  if (!ok) {
    printf("error %s %d\n", op, errno);
    exit(1);
  }
}

static const char *label = "op";

static void report(const char *name, int n, long long t0) {
  long long dt = now_ns() - t0;
  printf("%s %-14s %d %.1f\n", label, name, n, (double)dt / n);
  fflush(stdout);
}

static void pass(int n, const char *dir) {
  char path[512], path2[512];
  snprintf(path, sizeof path, "%s/file", dir);
  int fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0644);
  check(fd >= 0, "create");
  static char block[4096];
  memset(block, 'x', sizeof block);
  for (int i = 0; i < 16; i++) check(pwrite(fd, block, sizeof block, (off_t)i * 4096) == 4096, "fill");

  struct stat st;
  long long t0 = now_ns();
  for (int i = 0; i < n; i++) check(stat(path, &st) == 0, "stat");
  report("stat", n, t0);

  t0 = now_ns();
  for (int i = 0; i < n; i++) {
    int f = open(path, O_RDONLY);
    check(f >= 0, "open");
    close(f);
  }
  report("open+close", n, t0);

  snprintf(path2, sizeof path2, "%s/new", dir);
  t0 = now_ns();
  for (int i = 0; i < n; i++) {
    int f = open(path2, O_CREAT | O_WRONLY | O_EXCL, 0644);
    check(f >= 0, "create");
    close(f);
    check(unlink(path2) == 0, "unlink");
  }
  report("create+unlink", n, t0);

  t0 = now_ns();
  for (int i = 0; i < n; i++) {
    check(mkdir(path2, 0755) == 0, "mkdir");
    check(rmdir(path2) == 0, "rmdir");
  }
  report("mkdir+rmdir", n, t0);

  t0 = now_ns();
  for (int i = 0; i < n; i++) check(pwrite(fd, block, 4096, (off_t)(i & 15) * 4096) == 4096, "pwrite");
  report("pwrite-4k", n, t0);

  t0 = now_ns();
  for (int i = 0; i < n; i++) check(pread(fd, block, 4096, (off_t)(i & 15) * 4096) == 4096, "pread");
  report("pread-4k", n, t0);
  close(fd);

  char sub[512];
  snprintf(sub, sizeof sub, "%s/hundred", dir);
  mkdir(sub, 0755);
  for (int i = 0; i < 100; i++) {
    snprintf(path2, sizeof path2, "%s/entry-%03d", sub, i);
    int f = open(path2, O_CREAT | O_WRONLY, 0644);
    check(f >= 0, "populate");
    close(f);
  }
  int m = n / 10 > 0 ? n / 10 : 1;
  t0 = now_ns();
  for (int i = 0; i < m; i++) {
    DIR *d = opendir(sub);
    check(d != NULL, "opendir");
    int count = 0;
    while (readdir(d)) count++;
    closedir(d);
    check(count >= 100, "readdir");
  }
  report("readdir-100", m, t0);

  snprintf(path2, sizeof path2, "%s/renamed", dir);
  t0 = now_ns();
  for (int i = 0; i < n; i++) {
    check(rename(i & 1 ? path2 : path, i & 1 ? path : path2) == 0, "rename");
  }
  report("rename", n, t0);
  if (n & 1) check(rename(path2, path) == 0, "rename"); // an odd count left it renamed
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 20000;
  const char *dir = argc > 2 ? argv[2] : "/tmp/opbench";
  int passes = argc > 3 ? atoi(argv[3]) : 1;
  mkdir(dir, 0755);
  check(chdir(dir) == 0 || 1, "chdir");
  for (int p = 0; p < passes; p++) {
    label = p == 0 ? "op" : "warm";
    pass(n, dir);
  }
  return 0;
}
