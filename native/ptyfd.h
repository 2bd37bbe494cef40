// Pseudo-terminals and descriptor passing, shared by the addon (wasmbox_native.c: openpty, sendFd)
// and the OCI runtime's native front end (runtime.c: a container's terminal, sent to the engine's
// console socket as runc sends it). Plain C, no Node: each function returns 0, or -1 with errno set
// and *step naming the system call that failed.
#ifndef WASMBOX_PTYFD_H
#define WASMBOX_PTYFD_H

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/** A new pseudo-terminal: master and slave (both O_NOCTTY and close-on-exec), and the slave's path. */
static inline int pty_open(int *master, int *slave, char *path, size_t size, const char **step) {
  int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (m < 0) return *step = "posix_openpt", -1;
  int e;
  if (grantpt(m) != 0) *step = "grantpt", e = errno;
  else if (unlockpt(m) != 0) *step = "unlockpt", e = errno;
  else if ((e = ptsname_r(m, path, size)) != 0) *step = "ptsname_r";
  else {
    int s = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (s >= 0) {
      *master = m;
      *slave = s;
      return 0;
    }
    *step = "open", e = errno;
  }
  close(m);
  errno = e;
  return -1;
}

/**
 * Connects to the unix stream socket at `path` and sends `name` (nlen > 0 bytes) with `fd` attached
 * (SCM_RIGHTS), as runc sends a terminal's master to a console socket. The descriptor rides with the
 * first byte; the rest of the name, after a short write, follows without it. MSG_NOSIGNAL: a peer
 * that has gone is EPIPE.
 */
static inline int fd_send(const char *path, int fd, const char *name, size_t nlen, const char **step) {
  struct sockaddr_un sa;
  size_t plen = strlen(path);
  if (plen >= sizeof sa.sun_path) return *step = "connect", errno = ENAMETOOLONG, -1;
  memset(&sa, 0, sizeof sa);
  sa.sun_family = AF_UNIX;
  memcpy(sa.sun_path, path, plen + 1);
  int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) return *step = "socket", -1;
  // an interrupted AF_UNIX connect leaves the socket unconnected (net/unix/af_unix.c), so it is retried
  int r;
  do r = connect(s, (struct sockaddr *)&sa, sizeof sa);
  while (r != 0 && errno == EINTR);
  if (r != 0) {
    int e = errno;
    close(s);
    return *step = "connect", errno = e, -1;
  }
  union {
    struct cmsghdr h;
    char buf[CMSG_SPACE(sizeof(int))];
  } ctl;
  size_t off = 0;
  while (off < nlen) {
    struct iovec iov = { .iov_base = (char *)name + off, .iov_len = nlen - off };
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
    if (off == 0) {
      memset(&ctl, 0, sizeof ctl);
      msg.msg_control = ctl.buf;
      msg.msg_controllen = sizeof ctl.buf;
      struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(sizeof(int));
      memcpy(CMSG_DATA(c), &fd, sizeof fd);
    }
    ssize_t w = sendmsg(s, &msg, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      close(s);
      return *step = "sendmsg", errno = e, -1;
    }
    off += (size_t)w;
  }
  close(s);
  return 0;
}

#endif
