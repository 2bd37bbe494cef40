// memfill: a guest's own memory, taken at once and filled (bench/memory.mjs). `memfill MIB`
// mallocs MIB MiB in one block, fills it (the memory grows, and every page is touched for the
// first time), then fills it again (pages already there), reading a byte per page after each fill
// so that neither is optimized away. Prints "memfill n=BYTES first_ns=T again_ns=T".
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static unsigned sum(const volatile unsigned char *p, size_t n) {
  unsigned s = 0;
  for (size_t i = 0; i < n; i += 4096) s += p[i];
  return s;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: memfill MIB\n");
    return 2;
  }
  size_t n = (size_t)atoi(argv[1]) << 20;
  long long t0 = now_ns();
  unsigned char *p = malloc(n);
  if (!p) {
    printf("memfill n=%zu error=ENOMEM\n", n);
    return 1;
  }
  memset(p, 1, n);
  unsigned s1 = sum(p, n);
  long long t1 = now_ns();
  memset(p, 2, n);
  unsigned s2 = sum(p, n);
  long long t2 = now_ns();
  if (s1 != n / 4096 || s2 != 2 * (n / 4096)) {
    printf("memfill n=%zu error=checksum\n", n);
    return 1;
  }
  printf("memfill n=%zu first_ns=%lld again_ns=%lld\n", n, t1 - t0, t2 - t1);
  return 0;
}
