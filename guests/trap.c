// trap: dies the way its argument says, to check how the host reports guest faults:
//   unreachable   executes `unreachable` (__builtin_trap)
//   oob           loads from far outside linear memory
//   div0          integer division by zero
//   exit N        exits with status N after printing a line
//   write-trap    writes a file, then traps (the written data must survive)
//   spin          loops forever (for --timeout and signals)
//   hog           allocates 1 MiB blocks until malloc fails; prints how many (for --memory)
//   sync PATH     writes 1 MiB of 0x5a to PATH, fsyncs, prints "synced", then spins (for durability)
//   files N       creates up to N empty files in /tmp/many; prints how many, and why it stopped
//   sleep MS      prints "sleeping", then sleeps
//   readall DIR   reads every file in DIR; prints how many it read and how many failed (and why)
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
  const char *how = argc > 1 ? argv[1] : "unreachable";
  printf("trap: %s\n", how);
  fflush(stdout);
  if (strcmp(how, "oob") == 0) {
    volatile int *p = (volatile int *)0xfffffff0u;
    return *p;
  }
  if (strcmp(how, "div0") == 0) {
    volatile int zero = 0, seven = 7;
    return seven / zero;
  }
  if (strcmp(how, "exit") == 0) return argc > 2 ? atoi(argv[2]) : 0;
  if (strcmp(how, "spin") == 0) {
    volatile unsigned long long n = 0;
    for (;;) n++;
  }
  if (strcmp(how, "hog") == 0) {
    int n = 0;
    for (;;) {
      char *volatile p = malloc(1 << 20);
      if (p == NULL) break;
      p[0] = 1; // used, so the allocation is real
      n++;
    }
    printf("hog: %d MiB, then malloc failed\n", n);
    return 0;
  }
  if (strcmp(how, "sync") == 0 && argc > 2) {
    static char buf[1 << 20];
    memset(buf, 0x5a, sizeof buf);
    int fd = open(argv[2], O_CREAT | O_WRONLY | O_TRUNC, 0644);
    if (fd < 0 || write(fd, buf, sizeof buf) != (ssize_t)sizeof buf || fsync(fd) != 0) {
      printf("sync: failed\n");
      return 1;
    }
    printf("synced\n");
    fflush(stdout);
    volatile unsigned long long n = 0;
    for (;;) n++;
  }
  if (strcmp(how, "files") == 0 && argc > 2) {
    long want = atol(argv[2]), n = 0;
    mkdir("/tmp", 0755);
    mkdir("/tmp/many", 0755);
    char p[64];
    int err = 0;
    for (; n < want; n++) {
      snprintf(p, sizeof p, "/tmp/many/%ld", n);
      int fd = open(p, O_CREAT | O_WRONLY, 0644);
      if (fd < 0) {
        err = errno;
        break;
      }
      close(fd);
    }
    printf("files: %ld created%s%s\n", n, err ? ", then " : "", err == ENOSPC ? "ENOSPC" : err == ENOMEM ? "ENOMEM" : err ? "another error" : "");
    return 0;
  }
  if (strcmp(how, "readall") == 0 && argc > 2) {
    DIR *d = opendir(argv[2]);
    if (!d) {
      printf("readall: opendir: %s\n", strerror(errno));
      return 1;
    }
    int ok = 0, bad = 0, last = 0;
    struct dirent *e;
    char p[512], buf[256];
    while ((e = readdir(d))) {
      if (e->d_name[0] == '.') continue;
      snprintf(p, sizeof p, "%s/%s", argv[2], e->d_name);
      int fd = open(p, O_RDONLY);
      if (fd >= 0 && read(fd, buf, sizeof buf) >= 0) ok++;
      else bad++, last = errno;
      if (fd >= 0) close(fd);
    }
    closedir(d);
    printf("readall: %d read, %d failed%s%s\n", ok, bad, bad ? ": " : "", bad ? strerror(last) : "");
    return bad ? 1 : 0;
  }
  if (strcmp(how, "sleep") == 0 && argc > 2) {
    printf("sleeping\n");
    fflush(stdout);
    usleep(atoi(argv[2]) * 1000);
    return 0;
  }
  if (strcmp(how, "write-trap") == 0) {
    int fd = open("/written", O_CREAT | O_WRONLY | O_TRUNC, 0644);
    write(fd, "kept\n", 5);
    close(fd);
  }
  __builtin_trap();
}
