// Path arithmetic shared by the shell and the toolbox: joining, lexical normalisation, and symlink
// resolution (realpath without a libc realpath, which wasi-libc lacks). Header-only: the program
// that includes it defines xmalloc() and xstrdup() first (each exits with its own message when
// memory runs out).
#ifndef WASMBOX_PATHS_H
#define WASMBOX_PATHS_H
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void *xmalloc(size_t n);
static char *xstrdup(const char *s);

/** dir + "/" + name, without doubling a '/' that dir already ends with. */
static char *path_join(const char *dir, const char *name) {
  size_t n = strlen(dir);
  size_t m = strlen(name);
  char *r = xmalloc(n + m + 2);
  memcpy(r, dir, n);
  if (!(n && dir[n - 1] == '/')) r[n++] = '/';
  memcpy(r + n, name, m + 1);
  return r;
}

/** p (relative to base, which is absolute) as an absolute path with no ".", ".." or "//". */
static char *path_normalize(const char *base, const char *p) {
  char *full = p[0] == '/' ? xstrdup(p) : path_join(base, p);
  char *out = xmalloc(strlen(full) + 2);
  size_t o = 0;
  out[o++] = '/';
  for (char *c = full; *c;) {
    while (*c == '/') c++;
    char *e = c;
    while (*e && *e != '/') e++;
    size_t len = (size_t)(e - c);
    if (len == 0) break;
    if (len == 1 && c[0] == '.') {
      // nothing
    } else if (len == 2 && c[0] == '.' && c[1] == '.') {
      if (o > 1) {
        o--;
        while (o > 1 && out[o - 1] != '/') o--;
      }
    } else {
      if (o > 1) out[o++] = '/';
      memcpy(out + o, c, len);
      o += len;
    }
    c = e;
  }
  if (o > 1 && out[o - 1] == '/') o--;
  out[o] = 0;
  free(full);
  return out;
}

/**
 * p (relative to base) with every symlink resolved, like realpath; NULL with errno set if a
 * component is missing (ENOENT...) or there are more than 40 links (ELOOP).
 */
static char *path_physical(const char *base, const char *p) {
  char *rest = path_normalize(base, p);  // components still to walk
  char *done = xstrdup("/");             // resolved prefix
  int links = 0;
  char *c = rest;
  while (*c) {
    while (*c == '/') c++;
    if (!*c) break;
    char *e = c;
    while (*e && *e != '/') e++;
    char save = *e;
    *e = 0;
    char *next = path_join(done, c);
    *e = save;
    struct stat st;
    if (lstat(next, &st) != 0) {
      int err = errno;
      free(next), free(done), free(rest);
      errno = err;
      return NULL;
    }
    if (S_ISLNK(st.st_mode)) {
      char target[PATH_MAX];
      ssize_t n = ++links > 40 ? (errno = ELOOP, -1) : readlink(next, target, sizeof target - 1);
      free(next);
      if (n < 0) {
        int err = errno;
        free(done), free(rest);
        errno = err;
        return NULL;
      }
      target[n] = 0;
      // the target, then what is left after this component, resolved from / or from `done`
      const char *from = target[0] == '/' ? "" : done;
      char *joined = xmalloc(strlen(from) + strlen(target) + strlen(e) + 3);
      strcpy(joined, from);
      strcat(joined, "/");
      strcat(joined, target);
      strcat(joined, "/");
      strcat(joined, e);
      free(rest);
      rest = path_normalize("/", joined);
      free(joined);
      free(done);
      done = xstrdup("/");
      c = rest;
      continue;
    }
    free(done);
    done = next;
    c = e;
  }
  free(rest);
  return done;
}

#endif
