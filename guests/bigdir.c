// bigdir: large directories, for the overlay's readdir scaling (issue 3: "listing large directories
// stays linear, at 100k entries too"). Commands run in order (bigdir create /d 1000 list /d):
//   create DIR N   creates DIR and N empty files f0 .. f(N-1) in it
//   list DIR       reads the whole directory with readdir; prints "list DIR n=ENTRIES ns=T" (without
//                  . and ..), then "names ok" if every name was a distinct f<number>, else "names bad"
#include <dirent.h>
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

static int create(const char *dir, int n) {
  char path[512];
  if (mkdir(dir, 0755) != 0) {
    perror("mkdir");
    return 1;
  }
  for (int i = 0; i < n; i++) {
    snprintf(path, sizeof path, "%s/f%d", dir, i);
    int fd = open(path, O_CREAT | O_WRONLY | O_EXCL, 0644);
    if (fd < 0) {
      perror(path);
      return 1;
    }
    close(fd);
  }
  printf("create %s n=%d\n", dir, n);
  return 0;
}

static int list(const char *dir) {
  long long t0 = now_ns();
  DIR *d = opendir(dir);
  if (!d) {
    perror(dir);
    return 1;
  }
  int cap = 1024, n = 0;
  unsigned char *seen = calloc(cap, 1);
  int ok = 1;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    n++;
    char *end;
    long k = e->d_name[0] == 'f' ? strtol(e->d_name + 1, &end, 10) : -1;
    if (k < 0 || *end != 0) {
      ok = 0;
      continue;
    }
    while (k >= cap) {
      seen = realloc(seen, cap * 2);
      memset(seen + cap, 0, cap);
      cap *= 2;
    }
    if (seen[k]) ok = 0;
    seen[k] = 1;
  }
  closedir(d);
  free(seen);
  long long dt = now_ns() - t0;
  printf("list %s n=%d ns=%lld\n", dir, n, dt);
  printf("names %s\n", ok ? "ok" : "bad");
  return 0;
}

int main(int argc, char **argv) {
  for (int i = 1; i < argc;) {
    if (strcmp(argv[i], "create") == 0 && i + 2 < argc) {
      if (create(argv[i + 1], atoi(argv[i + 2]))) return 1;
      i += 3;
    } else if (strcmp(argv[i], "list") == 0 && i + 1 < argc) {
      if (list(argv[i + 1])) return 1;
      i += 2;
    } else {
      fprintf(stderr, "usage: bigdir [create DIR N | list DIR]...\n");
      return 2;
    }
  }
  return 0;
}
