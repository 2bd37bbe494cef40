// spawner: exercises the `wasmbox.spawn` import (host/sandbox/process.ts) from inside the sandbox.
//   spawner run PATH ARGS...      spawn PATH with ARGS, print "status N" or "errno NAME"
//   spawner redirect FILE PATH... spawn with stdout redirected to FILE (opened O_CREAT|O_TRUNC)
//   spawner badfd PATH            spawn with an fd that is not open (EBADF)
//   spawner cat FILE              print FILE (to check what a child left behind)
//   spawner alloc MIB             allocate and touch MIB MiB, kept until exit: "alloc N ok" or "alloc N failed"
// Several commands can be given in one run, separated by "--then".
// The child's environment is the parent's plus CHILD=1; its working directory is /tmp.
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

__attribute__((import_module("wasmbox"), import_name("spawn")))
int wasmbox_spawn(const char *path, size_t path_len, const char *argv_buf, size_t argv_buf_len, size_t argc,
                  const char *env_buf, size_t env_buf_len, size_t envc, const char *cwd, size_t cwd_len,
                  const int *fds, int *status_out);

extern char **environ;

static int spawn(const char *path, int argc, char **argv, const int fds[3], int *status) {
  static char abuf[8192], ebuf[8192];
  size_t al = 0, el = 0, envc = 0;
  for (int i = 0; i < argc; i++) {
    size_t n = strlen(argv[i]) + 1;
    memcpy(abuf + al, argv[i], n);
    al += n;
  }
  for (char **e = environ; *e; e++, envc++) {
    size_t n = strlen(*e) + 1;
    memcpy(ebuf + el, *e, n);
    el += n;
  }
  memcpy(ebuf + el, "CHILD=1", 8);
  el += 8;
  envc++;
  return wasmbox_spawn(path, strlen(path), abuf, al, argc, ebuf, el, envc, "/tmp", 4, fds, status);
}

static const char *errname(int e) {
  switch (e) {
    case 0: return "ok";
    case 8: return "EBADF";
    case 44: return "ENOENT";
    case 45: return "ENOEXEC";
    case 2: return "EACCES";
    case 6: return "EAGAIN";
    case 48: return "ENOMEM";
    default: return "other";
  }
}

static int command(int argc, char **argv);

int main(int argc, char **argv) {
  static char *cmdv[256];
  int start = 1;
  for (int i = 1; i <= argc; i++) {
    if (i < argc && strcmp(argv[i], "--then") != 0) continue;
    int n = 0;
    cmdv[n++] = argv[0];
    for (int j = start; j < i && n < 255; j++) cmdv[n++] = argv[j];
    cmdv[n] = NULL;
    int r = command(n, cmdv);
    if (r) return r;
    start = i + 1;
  }
  return 0;
}

static int command(int argc, char **argv) {
  if (argc < 2) return 2;
  int fds[3] = {0, 1, 2};
  int status = -1, e;
  if (strcmp(argv[1], "run") == 0 && argc >= 3) {
    e = spawn(argv[2], argc - 2, argv + 2, fds, &status);
  } else if (strcmp(argv[1], "redirect") == 0 && argc >= 4) {
    int fd = open(argv[2], O_CREAT | O_WRONLY | O_TRUNC, 0644);
    if (fd < 0) return 3;
    fds[1] = fd;
    e = spawn(argv[3], argc - 3, argv + 3, fds, &status);
    close(fd);
  } else if (strcmp(argv[1], "badfd") == 0 && argc >= 3) {
    fds[1] = 99;
    e = spawn(argv[2], argc - 2, argv + 2, fds, &status);
  } else if (strcmp(argv[1], "alloc") == 0 && argc >= 3) {
    static char *volatile kept[4096]; // kept (and volatile), so the compiler cannot drop the allocations
    int mib = atoi(argv[2]);
    for (int i = 0; i < mib && i < 4096; i++) {
      char *p = kept[i] = malloc(1 << 20);
      if (!p) {
        printf("alloc %d failed\n", mib);
        fflush(stdout);
        return 0;
      }
      memset(p, 1, 1 << 20);
    }
    printf("alloc %d ok\n", mib);
    fflush(stdout);
    return 0;
  } else if (strcmp(argv[1], "cat") == 0 && argc >= 3) {
    char buf[4096];
    int fd = open(argv[2], O_RDONLY);
    if (fd < 0) {
      printf("cat: %s\n", strerror(errno));
      return 1;
    }
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) fwrite(buf, 1, n, stdout);
    close(fd);
    fflush(stdout);
    return 0;
  } else {
    return 2;
  }
  if (e) printf("errno %s\n", errname(e));
  else printf("status %d\n", status);
  fflush(stdout);
  return 0;
}
