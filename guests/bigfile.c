// bigfile: large-file work for the filestore tests and benchmark. Commands run in order; each
// prints one line, and the ones that measure print a figure.
//   write PATH MIB        sequential write in 1 MiB blocks (stops at the first error, printing it)
//   read PATH             sequential read in 1 MiB blocks
//   rand PATH N [BS]      N random BS-byte pwrites (default 4096, at multiples of BS), then N such
//                         preads, within the file; a pwrite's bytes depend on its number (k % 16)
//   hash PATH             FNV-1a of the contents
//   rm PATH               unlink
//   sleep MS              wait (poll_oneoff), so the host can look at the sandbox meanwhile
//   mark TEXT             print "mark TEXT" and flush (a point the host waits for)
// Output: "write PATH n=BYTES ns=T" (or "write PATH n=BYTES error=ENOSPC"), "read PATH n=BYTES ns=T",
// "rand PATH pwrite_ns=T pread_ns=T" (per call), "hash PATH n=BYTES h=HEX".
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static const char *ename(int e) {
  switch (e) {
    case ENOSPC: return "ENOSPC";
    case ENOENT: return "ENOENT";
    case EFBIG: return "EFBIG";
    case EIO: return "EIO";
    default: return "other";
  }
}

static unsigned char block[1 << 20];

int main(int argc, char **argv) {
  for (size_t i = 0; i < sizeof block; i++) block[i] = (unsigned char)(i * 7 + (i >> 12));
  for (int i = 1; i < argc; i++) {
    const char *cmd = argv[i];
    if (!strcmp(cmd, "write") && i + 2 < argc) {
      const char *path = argv[++i];
      long mib = atol(argv[++i]);
      int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
      if (fd < 0) {
        printf("write %s error=%s\n", path, ename(errno));
        continue;
      }
      long long t0 = now_ns(), n = 0;
      int err = 0;
      for (long b = 0; b < mib; b++) {
        block[0] = (unsigned char)b;
        ssize_t w = write(fd, block, sizeof block);
        if (w > 0) n += w;
        if (w != (ssize_t)sizeof block) {
          err = w < 0 ? errno : ENOSPC;
          if (w > 0) {
            // a short write: the next one says why
            w = write(fd, block, sizeof block);
            err = w < 0 ? errno : ENOSPC;
          }
          break;
        }
      }
      long long dt = now_ns() - t0;
      close(fd);
      if (err) printf("write %s n=%lld error=%s\n", path, n, ename(err));
      else printf("write %s n=%lld ns=%lld\n", path, n, dt);
    } else if (!strcmp(cmd, "read") && i + 1 < argc) {
      const char *path = argv[++i];
      int fd = open(path, O_RDONLY);
      if (fd < 0) {
        printf("read %s error=%s\n", path, ename(errno));
        continue;
      }
      long long t0 = now_ns(), n = 0;
      ssize_t r;
      while ((r = read(fd, block, sizeof block)) > 0) n += r;
      long long dt = now_ns() - t0;
      close(fd);
      printf("read %s n=%lld ns=%lld\n", path, n, dt);
    } else if (!strcmp(cmd, "rand") && i + 2 < argc) {
      const char *path = argv[++i];
      long n = atol(argv[++i]);
      long bs = 4096;
      if (i + 1 < argc && argv[i + 1][0] >= '0' && argv[i + 1][0] <= '9') bs = atol(argv[++i]);
      if (bs < 1 || bs > (long)sizeof block - 1024) bs = 4096;
      int fd = open(path, O_RDWR);
      if (fd < 0) {
        printf("rand %s error=%s\n", path, ename(errno));
        continue;
      }
      off_t size = lseek(fd, 0, SEEK_END);
      long pages = size / bs;
      if (pages < 1) pages = 1;
      uint32_t x = 12345;
      long long t0 = now_ns();
      for (long k = 0; k < n; k++) {
        x = x * 1664525u + 1013904223u;
        if (pwrite(fd, block + ((k & 15) << 6), bs, (off_t)(x % pages) * bs) != bs) {
          printf("rand %s error=%s\n", path, ename(errno));
          break;
        }
      }
      long long t1 = now_ns();
      for (long k = 0; k < n; k++) {
        x = x * 1664525u + 1013904223u;
        if (pread(fd, block, bs, (off_t)(x % pages) * bs) != bs) {
          printf("rand %s error=%s\n", path, ename(errno));
          break;
        }
      }
      long long t2 = now_ns();
      close(fd);
      printf("rand %s pwrite_ns=%.1f pread_ns=%.1f\n", path, (double)(t1 - t0) / n, (double)(t2 - t1) / n);
    } else if (!strcmp(cmd, "hash") && i + 1 < argc) {
      const char *path = argv[++i];
      int fd = open(path, O_RDONLY);
      if (fd < 0) {
        printf("hash %s error=%s\n", path, ename(errno));
        continue;
      }
      uint32_t h = 2166136261u;
      long long n = 0;
      ssize_t r;
      while ((r = read(fd, block, sizeof block)) > 0) {
        for (ssize_t k = 0; k < r; k++) h = (h ^ block[k]) * 16777619u;
        n += r;
      }
      close(fd);
      printf("hash %s n=%lld h=%08x\n", path, n, h);
    } else if (!strcmp(cmd, "rm") && i + 1 < argc) {
      const char *path = argv[++i];
      printf("rm %s %s\n", path, unlink(path) == 0 ? "ok" : ename(errno));
    } else if (!strcmp(cmd, "sleep") && i + 1 < argc) {
      long ms = atol(argv[++i]);
      struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
      nanosleep(&ts, NULL);
    } else if (!strcmp(cmd, "mark") && i + 1 < argc) {
      printf("mark %s\n", argv[++i]);
    } else {
      printf("bigfile: bad command %s\n", cmd);
      return 2;
    }
    fflush(stdout);
  }
  return 0;
}
