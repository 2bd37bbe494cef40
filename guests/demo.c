// demo: the default image's program. It shows the sandbox's overlay at work: it reads a file of
// the image's read-only layers, rewrites it (copy-up into the sandbox-internal upper layer), deletes
// another (a whiteout), creates new files, and lists the merged view. Run it twice: the image never
// changes, each run starts from the same layers.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void cat(const char *path) {
  char buf[512];
  int fd = open(path, O_RDONLY);
  if (fd < 0) {
    printf("  cat %s: %s\n", path, strerror(errno));
    return;
  }
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  buf[n > 0 ? n : 0] = 0;
  printf("  %s: %s", path, buf);
  if (n > 0 && buf[n - 1] != '\n') printf("\n");
}

static int cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void ls(const char *path) {
  DIR *d = opendir(path);
  if (!d) {
    printf("  ls %s: %s\n", path, strerror(errno));
    return;
  }
  char *names[256];
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) && n < 256) {
    if (e->d_name[0] == '.') continue;
    names[n++] = strdup(e->d_name);
  }
  closedir(d);
  qsort(names, n, sizeof names[0], cmp);
  printf("  ls %s:", path);
  for (int i = 0; i < n; i++) printf(" %s", names[i]), free(names[i]);
  printf("\n");
}

int main(void) {
  printf("A WASI program on a container root file system. The image's layers are read-only;\n"
         "every change below lands in the sandbox's own upper layer, in the filestore.\n\n");
  printf("1. read files of the image:\n");
  cat("/etc/motd");
  ls("/etc");
  printf("2. rewrite /etc/motd (copied up on the first write):\n");
  int fd = open("/etc/motd", O_WRONLY | O_TRUNC);
  if (fd < 0 || write(fd, "changed inside the sandbox\n", 27) != 27) printf("  write: %s\n", strerror(errno));
  if (fd >= 0) close(fd);
  cat("/etc/motd");
  printf("3. delete /etc/issue, a file of the image (a whiteout hides it):\n");
  printf("  unlink /etc/issue: %s\n", unlink("/etc/issue") == 0 ? "ok" : strerror(errno));
  printf("4. create /home/user/notes.txt:\n");
  mkdir("/home/user", 0755);
  fd = open("/home/user/notes.txt", O_CREAT | O_WRONLY | O_TRUNC, 0644);
  if (fd >= 0) {
    for (int i = 0; i < 1000; i++) dprintf(fd, "line %d\n", i);
    close(fd);
  }
  struct stat st;
  if (stat("/home/user/notes.txt", &st) == 0) printf("  /home/user/notes.txt: %lld bytes\n", (long long)st.st_size);
  printf("5. the merged view now:\n");
  ls("/etc");
  ls("/home/user");
  printf("\nThe image file is unchanged: run again and /etc/motd and /etc/issue are back.\n");
  return 0;
}
