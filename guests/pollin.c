// pollin: poll_oneoff on stdin with a timeout, as an event loop does: each round waits for stdin to
// be readable or for MS milliseconds, whichever comes first, and says which it was. Used by
// test/e2e/poll.test.ts to check that a stream is reported ready only when a read would not wait
// (a pipe whose writer is still quiet times out; data or the writer's end make it ready).
//
// Output: `wait` for a round that timed out (once for a run of them), `data TEXT` for what one
// read returned (its last newline dropped, others as spaces), `end` at the end of input, `error ERRNO` for a failed event.
// Usage: pollin MS.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wasi/api.h>

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: pollin MS\n");
    return 2;
  }
  __wasi_timestamp_t ns = (__wasi_timestamp_t)atoi(argv[1]) * 1000000;
  __wasi_subscription_t subs[2];
  memset(subs, 0, sizeof subs);
  subs[0].userdata = 1;
  subs[0].u.tag = __WASI_EVENTTYPE_FD_READ;
  subs[0].u.u.fd_read.file_descriptor = 0;
  subs[1].userdata = 2;
  subs[1].u.tag = __WASI_EVENTTYPE_CLOCK;
  subs[1].u.u.clock.id = __WASI_CLOCKID_MONOTONIC;
  subs[1].u.u.clock.timeout = ns;
  int waited = 0;
  for (;;) {
    __wasi_event_t ev[2];
    __wasi_size_t n = 0;
    __wasi_errno_t e = __wasi_poll_oneoff(subs, ev, 2, &n);
    if (e != 0) {
      printf("poll_oneoff failed: %d\n", e);
      return 1;
    }
    int fd_ready = 0;
    for (__wasi_size_t i = 0; i < n; i++) {
      if (ev[i].userdata != 1) continue;
      if (ev[i].error) {
        printf("error %d\n", ev[i].error);
        return 1;
      }
      fd_ready = 1;
    }
    if (!fd_ready) {
      if (!waited) printf("wait\n");
      fflush(stdout);
      waited = 1;
      continue;
    }
    waited = 0;
    char buf[256];
    ssize_t r = read(0, buf, sizeof buf - 1);
    if (r < 0) {
      perror("read");
      return 1;
    }
    if (r == 0) {
      printf("end\n");
      return 0;
    }
    if (buf[r - 1] == '\n') r--;
    buf[r] = 0;
    for (char *p = buf; *p; p++)
      if (*p == '\n') *p = ' ';
    printf("data %s\n", buf);
    fflush(stdout);
  }
}
