// wasi: the preview1 rules a runtime must keep beyond the file system's own answers, probed with raw
// WASI calls: rights (enforced, only shrinking, inherited at most), what a directory fd refuses
// (seek, tell, read, write), socket calls on fds that are not sockets, absolute paths and ".." that
// would climb above the directory fd, and the preopen's name. test/e2e/wasi.test.ts runs it in the
// sandbox and under node:wasi and holds each line to what the specification allows.
//
// Output: one `what -> result` line per call (result: ok, an errno name, or a value), in a fixed
// order; the last line is `done`. Works in a scratch directory argv[1] (relative to the '/'
// preopen, fd 3), which it makes and leaves empty. Usage: wasi SCRATCH [--skip-sock-send].
#include <stdio.h>
#include <string.h>
#include <wasi/api.h>
#include "errnames.h"

#define ROOT 3
// a call whose answer is not the point (clean-up between checks)
#define quiet(call) ((void)!(call))

static void res(const char *what, __wasi_errno_t e) { printf("%s -> %s\n", what, ename(e)); }

static __wasi_errno_t open_at(__wasi_fd_t dir, const char *path, __wasi_oflags_t of, __wasi_rights_t base, __wasi_rights_t inh, __wasi_fd_t *fd) {
  return __wasi_path_open(dir, 0, path, of, base, inh, 0, fd);
}

/** poll_oneoff on one fd_read subscription: the call's errno, else the event's. */
static const char *poll_fd(__wasi_fd_t fd) {
  __wasi_subscription_t sub;
  memset(&sub, 0, sizeof sub);
  sub.userdata = 5;
  sub.u.tag = __WASI_EVENTTYPE_FD_READ;
  sub.u.u.fd_read.file_descriptor = fd;
  __wasi_event_t ev;
  __wasi_size_t n = 0;
  __wasi_errno_t e = __wasi_poll_oneoff(&sub, &ev, 1, &n);
  if (e != 0) return ename(e);
  if (n != 1 || ev.userdata != 5) return "no event";
  return ename(ev.error);
}

static __wasi_rights_t rights_of(__wasi_fd_t fd, int inheriting) {
  __wasi_fdstat_t st;
  if (__wasi_fd_fdstat_get(fd, &st) != 0) return 0;
  return inheriting ? st.fs_rights_inheriting : st.fs_rights_base;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: wasi SCRATCH\n");
    return 2;
  }
  setvbuf(stdout, NULL, _IONBF, 0); // every line out at once: a runtime that crashes shows where
  const char *scratch = argv[1];
  __wasi_errno_t e = __wasi_path_create_directory(ROOT, scratch);
  if (e != 0 && e != __WASI_ERRNO_EXIST) {
    res("mkdir scratch", e);
    return 1;
  }
  // every right the preopen passes on (asking for more is ENOTCAPABLE under some runtimes)
  const __wasi_rights_t ALL = rights_of(ROOT, 1);
  __wasi_fd_t dir, f, g;
  const __wasi_rights_t DIR = rights_of(ROOT, 0); // a directory's rights, as the preopen has them
  if ((e = open_at(ROOT, scratch, __WASI_OFLAGS_DIRECTORY, DIR, ALL, &dir)) != 0) {
    res("open scratch", e);
    return 1;
  }
  char buf[16];
  __wasi_iovec_t iov = {(uint8_t *)buf, sizeof buf};
  __wasi_ciovec_t ciov = {(const uint8_t *)"hello", 5};
  __wasi_size_t n;
  __wasi_filesize_t pos;

  // --- rights: enforced, only shrinking
  res("create f rw", open_at(dir, "f", __WASI_OFLAGS_CREAT, ALL, 0, &f));
  res("write f", __wasi_fd_write(f, &ciov, 1, &n));
  res("drop FD_READ", __wasi_fd_fdstat_set_rights(f, rights_of(f, 0) & ~__WASI_RIGHTS_FD_READ, 0));
  printf("fdstat shows FD_READ -> %s\n", rights_of(f, 0) & __WASI_RIGHTS_FD_READ ? "yes" : "no");
  res("pread without FD_READ", __wasi_fd_pread(f, &iov, 1, 0, &n));
  res("read without FD_READ", __wasi_fd_read(f, &iov, 1, &n));
  res("write still", __wasi_fd_write(f, &ciov, 1, &n));
  res("add FD_READ back", __wasi_fd_fdstat_set_rights(f, rights_of(f, 0) | __WASI_RIGHTS_FD_READ, 0));
  res("drop FD_SEEK and FD_TELL", __wasi_fd_fdstat_set_rights(f, rights_of(f, 0) & ~(__WASI_RIGHTS_FD_SEEK | __WASI_RIGHTS_FD_TELL), 0));
  res("seek without FD_SEEK", __wasi_fd_seek(f, 0, __WASI_WHENCE_SET, &pos));
  res("tell without FD_TELL", __wasi_fd_tell(f, &pos));
  res("drop FD_FILESTAT_GET", __wasi_fd_fdstat_set_rights(f, rights_of(f, 0) & ~__WASI_RIGHTS_FD_FILESTAT_GET, 0));
  __wasi_filestat_t fst;
  res("filestat without FD_FILESTAT_GET", __wasi_fd_filestat_get(f, &fst));
  res("drop FD_DATASYNC and FD_SYNC", __wasi_fd_fdstat_set_rights(f, rights_of(f, 0) & ~(__WASI_RIGHTS_FD_DATASYNC | __WASI_RIGHTS_FD_SYNC), 0));
  res("datasync without FD_DATASYNC", __wasi_fd_datasync(f));
  res("sync without FD_SYNC", __wasi_fd_sync(f));
  res("drop FD_WRITE", __wasi_fd_fdstat_set_rights(f, rights_of(f, 0) & ~__WASI_RIGHTS_FD_WRITE, 0));
  res("write without FD_WRITE", __wasi_fd_write(f, &ciov, 1, &n));
  res("close f", __wasi_fd_close(f));

  // --- truncation needs PATH_FILESTAT_SET_SIZE on the directory; inheriting rights cap what path_open grants
  __wasi_fd_t sub;
  res("open scratch again", open_at(dir, ".", __WASI_OFLAGS_DIRECTORY, rights_of(dir, 0), rights_of(dir, 1), &sub));
  res("open f trunc", open_at(sub, "f", __WASI_OFLAGS_TRUNC, 0, 0, &g));
  quiet(__wasi_fd_close(g));
  res("drop FD_FILESTAT_SET_SIZE from inheriting", __wasi_fd_fdstat_set_rights(sub, rights_of(sub, 0), rights_of(sub, 1) & ~__WASI_RIGHTS_FD_FILESTAT_SET_SIZE));
  res("open f asking FD_FILESTAT_SET_SIZE", open_at(sub, "f", 0, __WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_WRITE | __WASI_RIGHTS_FD_FILESTAT_SET_SIZE, 0, &g));
  printf("granted FD_FILESTAT_SET_SIZE -> %s\n", rights_of(g, 0) & __WASI_RIGHTS_FD_FILESTAT_SET_SIZE ? "yes" : "no");
  res("set size without it", __wasi_fd_filestat_set_size(g, 0));
  quiet(__wasi_fd_close(g));
  res("open f trunc, still", open_at(sub, "f", __WASI_OFLAGS_TRUNC, 0, 0, &g));
  quiet(__wasi_fd_close(g));
  res("drop PATH_FILESTAT_SET_SIZE", __wasi_fd_fdstat_set_rights(sub, rights_of(sub, 0) & ~__WASI_RIGHTS_PATH_FILESTAT_SET_SIZE, rights_of(sub, 1)));
  res("open f trunc without it", open_at(sub, "f", __WASI_OFLAGS_TRUNC, 0, 0, &g));
  res("drop PATH_CREATE_FILE", __wasi_fd_fdstat_set_rights(sub, rights_of(sub, 0) & ~__WASI_RIGHTS_PATH_CREATE_FILE, rights_of(sub, 1)));
  res("create without PATH_CREATE_FILE", open_at(sub, "new", __WASI_OFLAGS_CREAT, 0, 0, &g));
  res("drop PATH_OPEN", __wasi_fd_fdstat_set_rights(sub, rights_of(sub, 0) & ~__WASI_RIGHTS_PATH_OPEN, rights_of(sub, 1)));
  res("open without PATH_OPEN", open_at(sub, "f", 0, 0, 0, &g));
  res("drop path rights", __wasi_fd_fdstat_set_rights(sub, rights_of(sub, 0) & ~(__WASI_RIGHTS_PATH_CREATE_DIRECTORY | __WASI_RIGHTS_PATH_FILESTAT_GET | __WASI_RIGHTS_PATH_UNLINK_FILE | __WASI_RIGHTS_PATH_RENAME_SOURCE | __WASI_RIGHTS_FD_READDIR), rights_of(sub, 1)));
  res("mkdir without PATH_CREATE_DIRECTORY", __wasi_path_create_directory(sub, "d"));
  res("stat without PATH_FILESTAT_GET", __wasi_path_filestat_get(sub, 0, "f", &fst));
  res("unlink without PATH_UNLINK_FILE", __wasi_path_unlink_file(sub, "f"));
  res("rename without PATH_RENAME_SOURCE", __wasi_path_rename(sub, "f", dir, "f2"));
  uint8_t dents[256];
  res("readdir without FD_READDIR", __wasi_fd_readdir(sub, dents, sizeof dents, 0, &n));
  res("close sub", __wasi_fd_close(sub));
  __wasi_fd_t ro;
  res("open scratch, files inherit FD_READ only", open_at(dir, ".", __WASI_OFLAGS_DIRECTORY, rights_of(dir, 0), __WASI_RIGHTS_FD_READ, &ro));
  res("open f asking read and write", open_at(ro, "f", 0, __WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_WRITE, 0, &g));
  printf("granted FD_WRITE -> %s\n", rights_of(g, 0) & __WASI_RIGHTS_FD_WRITE ? "yes" : "no");
  res("write through it", __wasi_fd_write(g, &ciov, 1, &n));
  quiet(__wasi_fd_close(g));
  quiet(__wasi_fd_close(ro));

  // --- a directory fd: no seek, tell, read or write
  __wasi_fd_t d;
  res("open scratch asking FD_SEEK", open_at(ROOT, scratch, __WASI_OFLAGS_DIRECTORY, __WASI_RIGHTS_FD_SEEK | __WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_READDIR, 0, &d));
  printf("directory granted FD_SEEK -> %s\n", rights_of(d, 0) & __WASI_RIGHTS_FD_SEEK ? "yes" : "no");
  res("seek dir cur", __wasi_fd_seek(d, 0, __WASI_WHENCE_CUR, &pos));
  res("seek dir set", __wasi_fd_seek(d, 0, __WASI_WHENCE_SET, &pos));
  res("seek dir end", __wasi_fd_seek(d, 0, __WASI_WHENCE_END, &pos));
  res("tell dir", __wasi_fd_tell(d, &pos));
  res("read dir", __wasi_fd_read(d, &iov, 1, &n));
  res("pread dir", __wasi_fd_pread(d, &iov, 1, 0, &n));
  res("write dir", __wasi_fd_write(d, &ciov, 1, &n));
  res("pwrite dir", __wasi_fd_pwrite(d, &ciov, 1, 0, &n));
  res("allocate dir", __wasi_fd_allocate(d, 0, 1));
  res("set size dir", __wasi_fd_filestat_set_size(d, 0));
  quiet(__wasi_fd_close(d));

  // --- sockets: EBADF for a closed fd, ENOTSOCK for anything else
  res("open f", open_at(dir, "f", 0, ALL, 0, &f));
  __wasi_size_t rn;
  __wasi_roflags_t rof;
  __wasi_fd_t acc;
  res("sock_shutdown closed fd", __wasi_sock_shutdown(999, __WASI_SDFLAGS_RD));
  res("sock_shutdown directory", __wasi_sock_shutdown(dir, __WASI_SDFLAGS_RD));
  res("sock_shutdown file", __wasi_sock_shutdown(f, __WASI_SDFLAGS_WR));
  res("sock_recv file", __wasi_sock_recv(f, &iov, 1, 0, &rn, &rof));
  // node:wasi 20 dies of SIGSEGV in sock_send on a pipe (a uvwasi bug): its reference run skips it
  if (argc > 2 && strcmp(argv[2], "--skip-sock-send") == 0) printf("sock_send stdout -> skipped\n");
  else res("sock_send stdout", __wasi_sock_send(1, &ciov, 1, 0, &rn));
  res("sock_accept file", __wasi_sock_accept(f, 0, &acc));
  res("sock_accept closed fd", __wasi_sock_accept(999, 0, &acc));
  quiet(__wasi_fd_close(f));

  // --- poll_oneoff fd subscriptions: a closed fd is EBADF, one without POLL_FD_READWRITE ENOTCAPABLE
  res("open f for poll", open_at(dir, "f", 0, ALL, 0, &f));
  printf("poll a file -> %s\n", poll_fd(f));
  res("drop POLL_FD_READWRITE", __wasi_fd_fdstat_set_rights(f, rights_of(f, 0) & ~__WASI_RIGHTS_POLL_FD_READWRITE, 0));
  printf("poll without POLL_FD_READWRITE -> %s\n", poll_fd(f));
  quiet(__wasi_fd_close(f));
  printf("poll a closed fd -> %s\n", poll_fd(f));

  // --- paths: no absolute paths; ".." may not climb above the directory fd
  res("mkdir sub", __wasi_path_create_directory(dir, "sub"));
  res("open absolute path", open_at(dir, "/f", 0, 0, 0, &g));
  res("stat absolute path from the preopen", __wasi_path_filestat_get(ROOT, 0, "/", &fst));
  res("mkdir absolute path", __wasi_path_create_directory(dir, "/x"));
  if ((e = open_at(dir, "sub/../f", 0, 0, 0, &g)) == 0) quiet(__wasi_fd_close(g));
  res("open sub/../f", e);
  res("open sub/../../f", open_at(dir, "sub/../../f", 0, 0, 0, &g));
  res("open ..", open_at(dir, "..", __WASI_OFLAGS_DIRECTORY, 0, 0, &g));
  res("rename into ../x", __wasi_path_rename(dir, "f", dir, "../x"));
  if ((e = open_at(dir, ".//sub/../sub/./../f", 0, 0, 0, &g)) == 0) quiet(__wasi_fd_close(g));
  res("open .//sub/../sub/./../f", e);
  res("open f/ (trailing slash)", open_at(dir, "f/", 0, 0, 0, &g));

  // --- the preopen's name
  __wasi_prestat_t ps;
  res("prestat root", __wasi_fd_prestat_get(ROOT, &ps));
  char name[8];
  res("prestat name, no room", __wasi_fd_prestat_dir_name(ROOT, (uint8_t *)name, 0));
  res("prestat name, room to spare", __wasi_fd_prestat_dir_name(ROOT, (uint8_t *)name, ps.u.dir.pr_name_len + 1));
  res("prestat of a non-preopen", __wasi_fd_prestat_get(dir, &ps));

  // clean up
  quiet(__wasi_path_remove_directory(dir, "sub"));
  quiet(__wasi_path_unlink_file(dir, "f"));
  quiet(__wasi_fd_close(dir));
  res("rmdir scratch", __wasi_path_remove_directory(ROOT, scratch));
  printf("done\n");
  return 0;
}
