// Loader for the N-API addon (native/wasmbox_native.c), built by native/build.js during
// `npm install`. loadNative() returns the addon, or null with the reason it is not there; it never
// throws. The result is cached per thread.
//
// The addon is looked up as native/build/Release/wasmbox_native.node of the package, found by
// walking up from this module (the source tree, a dist/ bundle or a test bundle under .cache/) and
// from the working directory. WASMBOX_NATIVE=/path/to/wasmbox_native.node picks a file;
// WASMBOX_NATIVE=0 disables the addon (to exercise the fallback).
import fs from 'node:fs';
import path from 'node:path';

/** What a hostRw function answers for a call it leaves to the JavaScript path. */
export const HOST_RW_ASK = -65536;

/** A hostRw function: (write, handle, lo, hi, ptr, len) -> bytes | HOST_RW_ASK. */
export type HostRw = (write: number, handle: number, lo: number, hi: number, ptr: number, len: number) => number;

/** pageStore()'s handle (an N-API external). */
export type PageStore = { readonly __pageStore: unique symbol };

/** clockTicker()'s handle (an N-API external). */
export type ClockTicker = { readonly __clockTicker: unique symbol };

/** A pageCopy function: (write, page, off, ptr, len) -> 0 copied | 1 left to the caller. */
export type PageCopy = (write: number, page: number, off: number, ptr: number, len: number) => number;

export interface NativeAddon {
  /** MAP_SHARED, PROT_READ|PROT_WRITE mapping of [offset, offset+length) of fd; offset page-aligned, length <= 4 GiB. */
  mmap(fd: number, offset: number, length: number): ArrayBuffer;
  /** Detaches and unmaps a buffer from mmap(); false if it was already unmapped. */
  munmap(buffer: ArrayBuffer): boolean;
  /** memfd_create(name, flags = MFD_CLOEXEC); returns the fd. */
  memfdCreate(name: string, flags?: number): number;
  /** close(2), for descriptors memfdCreate made (absent from addons built before it was added). */
  close?(fd: number): void;
  fallocate(fd: number, mode: number, offset: number, length: number): void;
  /** Punches out the pages (FALLOC_FL_PUNCH_HOLE|KEEP_SIZE), one fallocate per run of adjacent pages; returns the number of calls. */
  punch(fd: number, pages: Uint32Array, pageSize: number): number;
  /** Reserves the pages' blocks (fallocate KEEP_SIZE), one call per run; returns the number of calls. */
  allocate(fd: number, pages: Uint32Array, pageSize: number): number;
  ftruncate(fd: number, length: number): void;
  /**
   * madvise(MADV_POPULATE_WRITE) over [offset, offset+length) of a buffer from mmap(): later stores
   * there take no page fault. False where the kernel lacks it; EFAULT where it cannot be backed.
   * Absent from addons built before it was added.
   */
  populateWrite?(buffer: ArrayBuffer, offset: number, length: number): boolean;
  /**
   * madvise(MADV_POPULATE_READ), the same way: later loads there take no page fault (and stores
   * none either where the mapping needs no write notification: a memfd's). Absent from addons built
   * before it was added.
   */
  populateRead?(buffer: ArrayBuffer, offset: number, length: number): boolean;
  /**
   * A function reading or writing a host file straight into or out of `memory` (the WebAssembly
   * glue's `host`, with no JavaScript between): (write, handle, lo, hi, ptr, len) -> bytes, or
   * HOST_RW_ASK for whatever the caller must hand to the JavaScript path. Null where the memory's
   * address cannot be trusted to stay put (wasmbox_native.c says when). Absent from older addons.
   */
  hostRw?(memory: WebAssembly.Memory, fds: Int32Array, counts: Uint32Array): HostRw | null;
  /**
   * A filestore's side of the native page copy (wasmbox_native.c, "A filestore page's bytes"):
   * pageStore() makes it; the filestore keeps its page count (pageStorePages) and, per chunk, its
   * mapping from mmap() and ready bitmap (pageStoreChunk; null forgets the chunk) up to date, and
   * forgets a chunk or sets 0 pages before it unmaps anything. pageCopy(store, memory) is the
   * WebAssembly glue's `page` for that guest memory: 0 when it copied, 1 when the caller must; null
   * where the memory's address cannot be trusted to stay put. pageStoreCounts: [copies, streamed].
   * Absent from older addons.
   */
  pageStore?(): PageStore;
  pageStorePages?(store: PageStore, pages: number): void;
  pageStoreChunk?(store: PageStore, chunk: number, mapping: ArrayBuffer | null, ready: Uint8Array | null): void;
  pageStoreCounts?(store: PageStore): [number, number];
  pageCopy?(store: PageStore, memory: WebAssembly.Memory): PageCopy | null;
  /**
   * A thread storing CLOCK_REALTIME (u64 ns) at memory[offset] every millisecond until 256 ticks
   * pass without the u32 at offset + 8 set, then storing 0 and sleeping until clockWake
   * (wasmbox_native.c, "A coarse clock"); clockStop ends it. Null where the memory's address cannot
   * be trusted to stay put. Absent from older addons.
   */
  clockTicker?(memory: WebAssembly.Memory, offset: number): ClockTicker | null;
  clockWake?(ticker: ClockTicker): void;
  clockStop?(ticker: ClockTicker): void;
  /** Marks every fd from 3 up close-on-exec; 0 or -errno. */
  cloexecAll?(): number;
  /** From now on SIGTERM raises SIGINT instead (and is remembered for takeSigterm). */
  forwardSigterm(): void;
  /** True once after a SIGTERM was forwarded. */
  takeSigterm(): boolean;

  // Terminals and descriptor passing (the OCI runtime's console socket, as runc does it). These and
  // the signal members below are absent from addons built before they were added.

  /** A new pseudo-terminal: posix_openpt + grantpt + unlockpt, slave opened; both O_NOCTTY|O_CLOEXEC. path is /dev/pts/N. */
  openpty?(): { master: number; slave: number; path: string };
  /**
   * Connects to the unix stream socket at socketPath and sends one message: data `name` (1..4096
   * bytes; runc sends the terminal's name), SCM_RIGHTS carrying fd. ENAMETOOLONG for a path that
   * does not fit sockaddr_un, before any system call.
   */
  sendFd?(socketPath: string, fd: number, name: string): void;
  /** A listening unix stream socket bound at socketPath (EADDRINUSE if it exists); the caller closes the fd and unlinks the path. */
  listenFdSocket?(socketPath: string): number;
  /**
   * Accepts one connection on listenFd and receives one descriptor (made O_CLOEXEC) and its name
   * (up to 4096 bytes), waiting at most timeoutMs (-1: no limit) in all: ETIMEDOUT. Closes the
   * connection, not the listener.
   */
  acceptFd?(listenFd: number, timeoutMs: number): { fd: number; name: string };
  /** listenFdSocket + acceptFd, then closes the listener and unlinks socketPath (on failure too). Blocks. */
  recvFd?(socketPath: string, timeoutMs: number): { fd: number; name: string };
  /** setsid() unless already a session leader (EPERM for a process group leader), then ioctl(fd, TIOCSCTTY, 0). */
  setControllingTerminal?(fd: number): void;
  dup2?(oldfd: number, newfd: number): void;
  /** TIOCSWINSZ (rows, cols in 0..65535; pixel sizes 0). */
  setWinsize?(fd: number, rows: number, cols: number): void;
  /** TIOCGWINSZ. */
  getWinsize?(fd: number): { rows: number; cols: number };

  // Signals, for a guest that computes without returning to the event loop.

  /**
   * Counts deliveries of each listed signal (1..64, not SIGKILL/SIGSTOP) in cell[signal] of the
   * returned Int32Array(65), a view of one process-wide static array (every call views the same
   * memory; read it with Atomics.load). The handler chains to the one it replaced: call this AFTER
   * process.on(signal, ...), which installs libuv's handler without chaining; removing the last
   * listener resets the signal to SIG_DFL and drops the count (calling again re-installs it). A
   * previous SIG_DFL or SIG_IGN is not acted on: the signal is then only counted. Watched signals
   * interrupt blocking reads (no SA_RESTART): fs.readSync of a terminal throws EINTR.
   */
  watchSignals?(signals: number[]): Int32Array;
  /**
   * Last resort: once one of `signals` arrives (watched as by watchSignals, installed here if
   * needed), a native thread waits graceMs and then, unless disarmed meanwhile, unlinks `paths`
   * (best effort), restores the signal's default action and raises it, so the process dies of it
   * even while JavaScript never yields. Later calls replace the configuration. With `second`, the
   * first delivery while armed is only noted, and a second one within graceMs ends the process at
   * once (the CLI's Ctrl-C: the first stops the foreground command, a second ends the sandbox).
   * A path that is a directory is removed with rmdir (list files before their directories).
   */
  armWatchdog?(signals: number[], graceMs: number, paths: string[], second?: boolean): void;
  /** Cancels armWatchdog, a countdown already running included; for a process exiting cleanly by itself. */
  disarmWatchdog?(): void;
  // Host calls relative to held descriptors (gofer/hostdirect.ts): each returns its result, or
  // -errno when the system call failed (they never throw for that). A name is a string or raw bytes.
  openat2?(dirfd: number, name: string | Uint8Array, flags: number, mode: number, resolve: number): number;
  /** fstatat into the gofer protocol's 64-byte Stat at buf[off]; returns st_mode. */
  statInto?(dirfd: number, name: string | Uint8Array, flags: number, buf: Uint8Array, off: number): number;
  mkdirat?(dirfd: number, name: string | Uint8Array, mode: number): number;
  unlinkat?(dirfd: number, name: string | Uint8Array, flags: number): number;
  renameat2?(olddirfd: number, oldname: string | Uint8Array, newdirfd: number, newname: string | Uint8Array, flags: number): number;
  linkat?(olddirfd: number, oldname: string | Uint8Array, newdirfd: number, newname: string | Uint8Array, flags: number): number;
  symlinkat?(target: string | Uint8Array, dirfd: number, name: string | Uint8Array): number;
  fchmodat?(dirfd: number, name: string | Uint8Array, mode: number): number;
  /** readlinkat into buf[off, off+max); the length, -ENAMETOOLONG if it fills max. */
  readlinkInto?(dirfd: number, name: string | Uint8Array, buf: Uint8Array, off: number, max: number): number;
  /** utimensat with seconds and nanoseconds (UTIME_NOW, UTIME_OMIT); name "" is dirfd itself. */
  utimensat?(dirfd: number, name: string | Uint8Array, aSec: number, aNsec: number, mSec: number, mNsec: number, flags: number): number;
  /** getdents64 into buf[off, off+len): bytes of linux_dirent64 records, 0 at the end. */
  getdentsInto?(fd: number, buf: Uint8Array, off: number, len: number): number;
  lseekSet?(fd: number, pos: number): number;
  setAppend?(fd: number, on: boolean): number;
  /** fstatfs: [blocks, bfree, bavail, files, ffree, bsize, namelen] into out. */
  fstatfsInto?(fd: number, out: Float64Array): number;
  /** pread(2) straight into buf[off, off+len); the byte count. */
  preadInto?(fd: number, buf: Uint8Array, off: number, len: number, pos: number): number;
  /** pwrite(2) of buf[off, off+len), then (statOff not -1) fstat into the protocol's Stat at buf[statOff]; the byte count. */
  pwriteStat?(fd: number, buf: Uint8Array, off: number, len: number, pos: number, statOff: number): number;
  /** preadInto, or (`write`) pwriteStat, by one function (host/sandbox/glue.ts ONE PATH); statOff is not read for a read. */
  rwAt?(write: boolean, fd: number, buf: Uint8Array, off: number, len: number, pos: number, statOff: number): number;
  /** A new open file description (flags, never creating) of what O_PATH fd `fd` holds, through /proc/self/fd. */
  reopen?(fd: number, flags: number): number;
  /**
   * `name` beneath dirfd opened (openat2, `resolve`, never following) only if it is still inode
   * `ino` of file type `type` (st_mode & S_IFMT): the fd, or -ESTALE with nothing left open.
   */
  openSame?(dirfd: number, name: Uint8Array, flags: number, resolve: number, ino: bigint, type: number): number;
  /**
   * madvise(MADV_HUGEPAGE) over the whole 2 MiB blocks of [buffer's data + from, data + reserve),
   * clipped to the run of anonymous mappings holding the data (a WebAssembly memory's reservation);
   * the bytes advised, 0 where the kernel has no transparent huge pages.
   */
  hugePages?(buffer: ArrayBuffer, from: number, reserve: number): number;
  /** close(2); 0 or -errno. */
  closeFd?(fd: number): number;
  readonly RESOLVE_NO_XDEV?: number;
  readonly RESOLVE_NO_MAGICLINKS?: number;
  readonly RESOLVE_NO_SYMLINKS?: number;
  readonly RESOLVE_BENEATH?: number;
  readonly O_PATH?: number;
  readonly AT_SYMLINK_NOFOLLOW?: number;
  readonly AT_EMPTY_PATH?: number;
  readonly AT_REMOVEDIR?: number;
  readonly AT_SYMLINK_FOLLOW?: number;
  readonly RENAME_NOREPLACE?: number;
  readonly UTIME_NOW?: number;
  readonly UTIME_OMIT?: number;
  readonly FALLOC_FL_KEEP_SIZE: number;
  readonly FALLOC_FL_PUNCH_HOLE: number;
  readonly MFD_CLOEXEC: number;
  /** The system's page size (mmap offsets must be multiples of it). */
  readonly PAGE_SIZE: number;
}

/** Errors thrown by the addon: code is the errno name ('EBADF'), or 'EINVAL' for bad arguments. */
export interface NativeError extends Error {
  code: string;
  errno?: number;
  syscall?: string;
}

export type NativeLoad = { addon: NativeAddon; reason: null; file: string } | { addon: null; reason: string; file: null };

const REL = path.join('native', 'build', 'Release', 'wasmbox_native.node');
let cached: NativeLoad | undefined;

function candidates(): string[] {
  const out: string[] = [];
  const starts: string[] = [];
  if (typeof __dirname !== 'undefined') starts.push(__dirname);
  starts.push(process.cwd());
  for (const start of starts) {
    let dir = path.resolve(start);
    for (let i = 0; i < 8; i++) {
      const f = path.join(dir, REL);
      if (!out.includes(f)) out.push(f);
      const up = path.dirname(dir);
      if (up === dir) break;
      dir = up;
    }
  }
  return out;
}

export function loadNative(): NativeLoad {
  if (cached) return cached;
  cached = load();
  return cached;
}

function load(): NativeLoad {
  const fail = (reason: string): NativeLoad => ({ addon: null, reason, file: null });
  if (process.platform !== 'linux') return fail(`platform ${process.platform} is not supported`);
  const env = process.env.WASMBOX_NATIVE;
  if (env === '0') return fail('disabled by WASMBOX_NATIVE=0');
  let file: string | undefined;
  if (env) {
    if (!fs.existsSync(env)) return fail(`WASMBOX_NATIVE=${env} does not exist`);
    file = env;
  } else {
    file = candidates().find((f) => fs.existsSync(f));
    if (!file) return fail('not built; run `node native/build.js` (see native/build.log)');
  }
  try {
    const mod = { exports: {} as any };
    process.dlopen(mod, file);
    const a = mod.exports;
    for (const k of ['mmap', 'munmap', 'memfdCreate', 'fallocate', 'punch', 'allocate', 'ftruncate']) {
      if (typeof a[k] !== 'function') return fail(`${file} lacks ${k}(); rebuild it`);
    }
    // a plain copy: the addon's exports object is in dictionary mode (60 functions added one by
    // one), so every call through it paid a property lookup by hash; the copy has fast properties
    return { addon: { ...a } as NativeAddon, reason: null, file };
  } catch (e: any) {
    return fail(`cannot load ${file}: ${e?.message ?? e}`);
  }
}
