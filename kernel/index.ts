// kernel.wasm: the sandbox kernel. It is untrusted (like gVisor's Sentry): the host checks
// everything it asks for. This file is the module's export list; the syscall table itself is
// wasi/syscalls.ts, and each folder's files say what they own:
//   wasi/  ABI types, errnos, the syscall table      vfs/  inodes, entries, walks, fds, processes
//   fs/    overlay (lower tree, copy-up), tmpfs data, gofer client      mm/  filestore pages
import { dentryTableSetup } from "./vfs/dentry";
import { fdSetup } from "./vfs/fd";
import { goferSetup, goferCalls } from "./fs/gofer";
import { overlayMount, tmpfsMount, copyUps } from "./fs/overlay";
import { filestoreSetup, flushPending, pagesHeld, pagesLimit, pagesUsed } from "./mm/filestore";
import { inodesInUse, setInodeLimit } from "./vfs/inode";
import { setCreateOwner } from "./vfs/ops";
import { io, ioSetup, res32, res64, setHostIO } from "./io";
import "./wasi/abort";
import { clockSlot } from "./host";

export * from "./wasi/syscalls";

/**
 * Sets the kernel up. `maxPages` bounds the filestore. `root` says what the root file system is:
 * 1, the image's lower tree (gofer mount 0) under a tmpfs upper; 0, an empty tmpfs; 2, nothing yet
 * (the host then calls mount_root_remote). Returns an errno.
 */
export function kernel_setup(maxPages: u32, root: u32): u32 {
  ioSetup();
  dentryTableSetup();
  fdSetup();
  goferSetup();
  filestoreSetup(maxPages);
  if (root == 1) return overlayMount();
  tmpfsMount();
  return 0;
}

/**
 * Caps the objects (inodes) the sandbox may hold, so that millions of tiny files end in ENOSPC
 * rather than in the kernel running out of memory (each costs ~250 bytes of kernel memory).
 */
export function kernel_set_inode_limit(n: u32): void {
  setInodeLimit(n);
}

/** The owner (uid, gid) of objects processes create from now on. */
export function kernel_set_owner(uid: u32, gid: u32): void {
  setCreateOwner(uid, gid);
}

/**
 * Whether the host moves remote files' bytes itself, straight between the guest's memory and the
 * host file (Seg.Host in abi.ts): a host whose gofer runs in its own thread offers it.
 */
export function kernel_set_host_io(on: u32): void {
  setHostIO(on != 0);
}

/** Where the host keeps the kernel's coarse clock (host.ts, COARSE TIME). */
export function clock_slot(): usize {
  return clockSlot();
}

/** The address of the exchange area (abi.ts). */
export function io_base(): usize {
  return io;
}

/** Hands freed pages back to the host now (normally batched). */
export function kernel_flush(): void {
  flushPending();
}

/** Statistics into RES: u64 gofer calls, u64 copy-ups, u32 pages used, u32 page limit, u32 inodes, u32 pages held. */
export function kernel_stats(): void {
  res64(0, goferCalls);
  res64(1, copyUps);
  res32(4, pagesUsed());
  res32(5, pagesLimit());
  res32(6, inodesInUse());
  res32(7, pagesHeld());
}

/**
 * A word of the exchange area (abi.ts), for the host's WebAssembly glue (host/sandbox/wasm-glue.ts),
 * which cannot see this memory: it reads a plan or a result struct a word at a time. `off` is a
 * byte offset into the area, rounded down to a word and kept inside the area's first 64 KiB.
 */
export function io_word(off: u32): u32 {
  return load<u32>(io + (off & 0xfffc));
}

/** io_word's 8 bytes at once (a result struct: half the calls), `off` rounded down to 8. */
export function io_dword(off: u32): u64 {
  return load<u64>(io + (off & 0xfff8));
}

/** Stores 8 bytes into the exchange area (a path the WebAssembly glue copies in); `off` as io_dword's. */
export function io_put(off: u32, dword: u64): void {
  store<u64>(io + (off & 0xfff8), dword);
}
