// wasmbox.h: the non-standard imports the wasmbox host gives to guests (module "wasmbox"), beside
// wasi_snapshot_preview1. Only guests that include this header use them; a module that imports
// one runs only on a host that provides it (node:wasi and other WASI runtimes do not).
#ifndef WASMBOX_H
#define WASMBOX_H

#include <stddef.h>

// Spawns path with argv and envp (NUL-separated strings, count given), working directory cwd, and
// fds[0..2] of the caller as the child's stdin/stdout/stderr; runs it to completion (like
// vfork+exec+wait) and stores its exit status. Returns 0 or a WASI errno (ENOENT: no such file,
// ENOEXEC: not WebAssembly).
__attribute__((import_module("wasmbox"), import_name("spawn")))
int wasmbox_spawn(const char *path, size_t path_len,
                  const char *argv_buf, size_t argv_buf_len, size_t argc,
                  const char *env_buf, size_t env_buf_len, size_t envc,
                  const char *cwd, size_t cwd_len,
                  const int *fds, int *status_out);

// Like wasmbox_spawn, but returns as soon as the child has started (suspendable hosts: it runs on
// beside the caller; others: it has run to completion) and stores a handle for wasmbox_wait.
// Children and their parent share pipes; a parent should wait for every child it starts.
__attribute__((import_module("wasmbox"), import_name("start")))
int wasmbox_start(const char *path, size_t path_len,
                  const char *argv_buf, size_t argv_buf_len, size_t argc,
                  const char *env_buf, size_t env_buf_len, size_t envc,
                  const char *cwd, size_t cwd_len,
                  const int *fds, int *handle_out);

// Waits until the child of a handle from wasmbox_start has ended and stores its exit status; the
// handle is then gone. Returns 0 or a WASI errno (ECHILD: no such handle).
__attribute__((import_module("wasmbox"), import_name("wait")))
int wasmbox_wait(int handle, int *status_out);

// Makes a pipe: fds[0] reads what fds[1] writes. flags: 0, or WASMBOX_PIPE_UNBOUNDED for a pipe
// whose writer never waits for room (a here-document written before its reader starts). A write
// to a pipe whose read end is closed everywhere ends the writer with status 141 (SIGPIPE).
// Returns 0 or a WASI errno (ENOSYS: the host has no pipes).
enum { WASMBOX_PIPE_UNBOUNDED = 1 };
__attribute__((import_module("wasmbox"), import_name("pipe")))
int wasmbox_pipe(int fds[2], unsigned flags);

// Which layer serves an absolute path, and its mode, uid and gid (host/sandbox/process.ts documents the
// 32-byte result). Returns 0 or a WASI errno.
struct wasmbox_layer_info {
  unsigned where, layer, dev, filetype, mode, uid, gid, zero;
};
enum { WASMBOX_UPPER = 1, WASMBOX_COPIED_UP, WASMBOX_LOWER, WASMBOX_LOWER_DATA, WASMBOX_MERGED, WASMBOX_MOUNT };
__attribute__((import_module("wasmbox"), import_name("layer")))
int wasmbox_layer(const char *path, size_t path_len, int follow, struct wasmbox_layer_info *out);

// Sizes of the file system holding an absolute path (for df). Returns 0 or a WASI errno.
struct wasmbox_statfs_info {
  unsigned long long blocks, bfree, files, ffree;
  unsigned bsize, kind, upper_pages, inodes;
  unsigned long long bavail; // free blocks an unprivileged user may take (bfree less what the host keeps back)
};
__attribute__((import_module("wasmbox"), import_name("statfs")))
int wasmbox_statfs(const char *path, size_t path_len, struct wasmbox_statfs_info *out);

#endif
