// Processes and their fd tables, and open file descriptions.
//
// A File is an open file description: what an fd refers to, with its offset, flags and rights. It is
// either an inode (file, directory or symlink opened with O_PATH-like rights) or a host stream
// (stdio). A process owns a table of File pointers indexed by fd; fd_renumber moves a pointer, and
// a child process's stdio shares its parent's Files (File.refs counts the slots). Each File holds
// one reference on its inode (Inode.refs), dropped when its last slot is closed.
//
// Typed accessors (fileOf, and the checks in syscalls.ts) turn a raw fd into a File or EBADF.
import { inodeMaybeFree } from "../fs/overlay";
import { goferCloseNow } from "../fs/gofer";
import { Stream } from "../abi";
import { stream_release } from "../host";
import { Inode, NO_NODE } from "./inode";

export const enum FK {
  INODE = 1,
  STREAM = 2,
}

export const enum Access {
  READ = 1,
  WRITE = 2,
}

@unmanaged
export class File {
  offset: u64;
  rightsBase: u64;
  rightsInh: u64;
  /** Readdir cursor: the cookie after the last entry returned, and where that was (slot, dir gen). */
  rdCookie: u64;
  rdSlot: u32;
  rdGen: u32;
  inode: Inode | null;
  /** Host stream id (FK.STREAM). */
  stream: u32;
  /** FK. Immutable. */
  kind: u32;
  /** Access bits, from the rights at open. Immutable. */
  access: u32;
  /** fdflags (APPEND, NONBLOCK, ...). */
  fdflags: u32;
  /** Filetype reported for a stream. Immutable. */
  streamType: u32;
  /** 1 for a preopened directory. Immutable. */
  preopen: u32;
  /** fd table slots referring to this File (a child's stdio shares its parent's Files). */
  refs: u32;
  /** Remote file: the gofer handle of this open (fs/remote.ts), or NO_NODE. */
  rhandle: u32;
  /** Remote file: the host file's O_APPEND (set at open, changed by fd_fdstat_set_flags). */
  rappend: u32;
}

@unmanaged
export class Proc {
  /** File*[cap]. */
  fds: usize;
  cap: u32;
  root: Inode;
  /** Host exit status, set by the host; the kernel only frees. */
  live: u32;
}

export const MAX_FDS: u32 = 16384;
const MAX_PROCS: u32 = 4096;

let procs: usize = 0; // Proc*[MAX_PROCS]
let live: u32 = 0; // processes in the table

/** Processes alive. */
export function procsAlive(): u32 {
  return live;
}

export function fdSetup(): void {
  procs = heap.alloc(<usize>MAX_PROCS << 2);
  memory.fill(procs, 0, <usize>MAX_PROCS << 2);
}

export function procGet(pid: u32): Proc | null {
  if (pid >= MAX_PROCS) return null;
  return changetype<Proc | null>(load<usize>(procs + (<usize>pid << 2)));
}

/** A new process with an empty fd table. Returns its pid, or -1 if the table is full. */
export function procNew(root: Inode): i32 {
  for (let pid: u32 = 1; pid < MAX_PROCS; pid++) {
    if (load<usize>(procs + (<usize>pid << 2)) != 0) continue;
    const p = changetype<Proc>(heap.alloc(offsetof<Proc>()));
    p.cap = 16;
    p.fds = heap.alloc(<usize>p.cap << 2);
    memory.fill(p.fds, 0, <usize>p.cap << 2);
    p.root = root;
    root.refs++;
    p.live = 1;
    store<usize>(procs + (<usize>pid << 2), changetype<usize>(p));
    live++;
    return <i32>pid;
  }
  return -1;
}

/** Closes every fd of the process and frees it. */
export function procFree(pid: u32): void {
  const p = procGet(pid);
  if (p === null) return;
  for (let fd: u32 = 0; fd < p.cap; fd++) {
    const f = changetype<File | null>(load<usize>(p.fds + (<usize>fd << 2)));
    if (f !== null) fileClose(f);
  }
  heap.free(p.fds);
  p.root.refs--;
  inodeMaybeFree(p.root);
  heap.free(changetype<usize>(p));
  store<usize>(procs + (<usize>pid << 2), 0);
  live--;
}

// @ts-ignore: decorator
@inline export function fileOf(p: Proc, fd: u32): File | null {
  return fd < p.cap ? changetype<File | null>(load<usize>(p.fds + (<usize>fd << 2))) : null;
}

export function fileNew(kind: u32, inode: Inode | null): File {
  const p = heap.alloc(offsetof<File>());
  memory.fill(p, 0, offsetof<File>());
  const f = changetype<File>(p);
  f.kind = kind;
  f.inode = inode;
  f.refs = 1;
  f.rhandle = NO_NODE;
  if (inode !== null) inode.refs++;
  return f;
}

/** Drops one fd table reference; the File goes away with the last one. */
export function fileClose(f: File): void {
  if (--f.refs > 0) return;
  const n = f.inode;
  if (f.rhandle != NO_NODE) goferCloseNow(f.rhandle); // a host file's close is the host's to see (kernel/fs/gofer.ts)
  if (f.kind == FK.STREAM && f.stream >= <u32>Stream.FIRST_PIPE) stream_release(f.stream);
  heap.free(changetype<usize>(f));
  if (n !== null) {
    n.refs--;
    inodeMaybeFree(n);
  }
}

/** Installs `f` at the lowest free fd. Returns the fd, or -1 (EMFILE). */
export function fdInstall(p: Proc, f: File): i32 {
  for (let fd: u32 = 0; fd < p.cap; fd++) {
    if (load<usize>(p.fds + (<usize>fd << 2)) == 0) {
      store<usize>(p.fds + (<usize>fd << 2), changetype<usize>(f));
      return <i32>fd;
    }
  }
  if (p.cap >= MAX_FDS) return -1;
  const fd = p.cap;
  const cap = p.cap << 1;
  p.fds = heap.realloc(p.fds, <usize>cap << 2);
  memory.fill(p.fds + (<usize>p.cap << 2), 0, <usize>(cap - p.cap) << 2);
  p.cap = cap;
  store<usize>(p.fds + (<usize>fd << 2), changetype<usize>(f));
  return <i32>fd;
}

/** Installs `f` at exactly `fd` (the slot must be free and below MAX_FDS). */
export function fdInstallAt(p: Proc, fd: u32, f: File): void {
  while (fd >= p.cap) {
    const cap = p.cap << 1;
    p.fds = heap.realloc(p.fds, <usize>cap << 2);
    memory.fill(p.fds + (<usize>p.cap << 2), 0, <usize>(cap - p.cap) << 2);
    p.cap = cap;
  }
  store<usize>(p.fds + (<usize>fd << 2), changetype<usize>(f));
}

export function fdClear(p: Proc, fd: u32): void {
  store<usize>(p.fds + (<usize>fd << 2), 0);
}
