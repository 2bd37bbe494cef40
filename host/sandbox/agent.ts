// The sandbox's own agent (trusted): a process of the kernel with no guest module, whose "guest
// memory" is a WebAssembly.Memory of ours. The host uses it to act inside the sandbox through the
// very WASI imports guests use (host/sandbox/glue.ts), with all their checks: to ask which layer serves a
// path (wasmbox.layer), to read the upper layer (the kernel's export walk), and to write a saved
// upper layer back (mkdir, open/write, symlink, link, unlink...) in the browser demo, and to copy an
// OCI bundle's single-file bind mounts in before any process runs (sandbox.ts). It never runs while
// a kernel call is in progress: only before the guests start, or where they wait (sandbox-worker.ts).
//
// Owns: the agent's pid and memory layout. Paths are absolute ("/etc/motd"), resolved from the
// process's preopened root (fd 3). Every method returns a WASI errno (0 = success) or a value.
import { E } from '../../kernel/wasi/errno';
import type { Filestore } from '../filestore/filestore';
import { GuestProcess, type Streams } from './glue';
import type { Kernel } from './kernel';

// Memory layout (agent memory, 64 KiB pages):
//   0      OUT    64     result words (fd, sizes, counts)
//   64     IOV    16     one iovec
//   1024   STAT   128    filestat / layer answer
//   4096   PATH1  4096
//   8192   PATH2  4096
//   65536  DATA   1 MiB  file data and readdir buffers
const OUT = 0;
const IOV = 64;
const STAT = 1024;
const PATH1 = 4096;
const PATH2 = 8192;
const DATA = 65536;
export const AGENT_DATA = 1 << 20;

const ROOT_FD = 3;
const FOLLOW = 1;
export const O_CREAT = 1;
export const O_DIRECTORY = 2;
export const O_TRUNC = 8;
const RIGHTS_ALL = (1n << 29n) - 1n;
/** A directory opened with write rights is EISDIR: listing needs fd_readdir and fd_filestat_get. */
const RIGHTS_DIR = (1n << 14n) | (1n << 21n);

export const enum Filetype {
  Unknown = 0,
  Dir = 3,
  File = 4,
  Symlink = 7,
}

const enc = new TextEncoder();
const dec = new TextDecoder();
const noStreams: Streams = { write: (_s, _d, _o, len) => len, read: () => 0, filetype: () => 0 };

export class Agent {
  readonly proc: GuestProcess;
  readonly pid: number;
  private readonly mem = new WebAssembly.Memory({ initial: (DATA + AGENT_DATA) / 65536 + 1 });
  private readonly w: Record<string, (...a: any[]) => number>;
  private readonly wb: Record<string, (...a: any[]) => number>;

  constructor(readonly kernel: Kernel, filestore: Filestore) {
    const pid = kernel.exports.proc_create(0, 0, 0);
    if (pid < 0) throw new Error(`cannot create the agent process (errno ${-pid})`);
    this.pid = pid;
    this.proc = new GuestProcess(kernel, filestore, pid, ['agent'], [], noStreams);
    this.proc.bindMemory(this.mem);
    this.w = this.proc.imports() as Record<string, (...a: any[]) => number>;
    this.wb = this.proc.wasmboxImports();
  }

  private get u8(): Uint8Array {
    return new Uint8Array(this.mem.buffer);
  }
  private get dv(): DataView {
    return new DataView(this.mem.buffer);
  }

  /** The data area (AGENT_DATA bytes), for callers that fill or read it in place. */
  data(): Uint8Array {
    return new Uint8Array(this.mem.buffer, DATA, AGENT_DATA);
  }

  /** Puts a path at `slot`; returns its length (relative to / for fd 3). */
  private put(path: string | Uint8Array, slot: number): number {
    let b = typeof path === 'string' ? enc.encode(path) : path;
    while (b.length > 1 && b[0] === 0x2f) b = b.subarray(1);
    if (b.length === 1 && b[0] === 0x2f) b = enc.encode('.');
    if (b.length >= 4096) throw new Error('path too long');
    this.u8.set(b, slot);
    return b.length;
  }

  /** wasmbox.layer: where the object at `path` comes from (1 new, 2 copied up, 3 lower, 4 meta, 5 merged dir, 6 mount), or -errno. */
  layer(path: string | Uint8Array): number {
    const l = this.put(path, PATH1);
    const e = this.wb.layer(PATH1, l, 0, STAT);
    return e ? -e : this.dv.getUint32(STAT, true);
  }

  /** The filetype of `path` (not following a last symlink), or -errno. */
  filetype(path: string | Uint8Array): number {
    const l = this.put(path, PATH1);
    const e = this.w.path_filestat_get(ROOT_FD, 0, PATH1, l, STAT);
    return e ? -e : this.u8[STAT + 16];
  }

  mkdir(path: string | Uint8Array): number {
    return this.w.path_create_directory(ROOT_FD, PATH1, this.put(path, PATH1));
  }

  rmdir(path: string | Uint8Array): number {
    return this.w.path_remove_directory(ROOT_FD, PATH1, this.put(path, PATH1));
  }

  unlink(path: string | Uint8Array): number {
    return this.w.path_unlink_file(ROOT_FD, PATH1, this.put(path, PATH1));
  }

  symlink(target: string | Uint8Array, path: string | Uint8Array): number {
    const t = typeof target === 'string' ? enc.encode(target) : target;
    this.u8.set(t, PATH2);
    return this.w.path_symlink(PATH2, t.length, ROOT_FD, PATH1, this.put(path, PATH1));
  }

  link(existing: string | Uint8Array, path: string | Uint8Array): number {
    const a = this.put(existing, PATH1);
    const b = this.put(path, PATH2);
    return this.w.path_link(ROOT_FD, 0, PATH1, a, ROOT_FD, PATH2, b);
  }

  /** Sets the modification time (ns) of `path`, not following a last symlink. */
  setMtime(path: string | Uint8Array, mtimeNs: bigint): number {
    const l = this.put(path, PATH1);
    return this.w.path_filestat_set_times(ROOT_FD, 0, PATH1, l, 0n, mtimeNs, 4 /* MTIM */);
  }

  /** Opens `path`; returns the fd or -errno. */
  open(path: string | Uint8Array, oflags: number): number {
    const l = this.put(path, PATH1);
    const rights = oflags & O_DIRECTORY ? RIGHTS_DIR : RIGHTS_ALL;
    const e = this.w.path_open(ROOT_FD, FOLLOW, PATH1, l, oflags, rights, rights, 0, OUT);
    return e ? -e : this.dv.getUint32(OUT, true);
  }

  close(fd: number): number {
    return this.w.fd_close(fd);
  }

  /** Writes data()[0, len) to fd; returns 0 or an errno. */
  writeData(fd: number, len: number): number {
    let done = 0;
    while (done < len) {
      this.dv.setUint32(IOV, DATA + done, true);
      this.dv.setUint32(IOV + 4, len - done, true);
      const e = this.w.fd_write(fd, IOV, 1, OUT);
      if (e) return e;
      const n = this.dv.getUint32(OUT, true);
      if (n === 0) return E.IO;
      done += n;
    }
    return 0;
  }

  /** The names in directory `path` (without . and ..), or -errno. */
  list(path: string | Uint8Array): Uint8Array[] | number {
    const fd = this.open(path, O_DIRECTORY);
    if (fd < 0) return fd;
    const names: Uint8Array[] = [];
    try {
      let cookie = 0n;
      for (;;) {
        const e = this.w.fd_readdir(fd, DATA, 65536, cookie, OUT);
        if (e) return -e;
        const used = this.dv.getUint32(OUT, true);
        let p = 0;
        let last = cookie;
        while (p + 24 <= used) {
          const next = this.dv.getBigUint64(DATA + p, true);
          const len = this.dv.getUint32(DATA + p + 16, true);
          if (p + 24 + len > used) break; // a cut-off record: read again from its cookie
          const name = this.u8.slice(DATA + p + 24, DATA + p + 24 + len);
          const s = dec.decode(name);
          if (s !== '.' && s !== '..') names.push(name);
          last = next;
          p += 24 + len;
        }
        if (used < 65536 || last === cookie) break;
        cookie = last;
      }
    } finally {
      this.close(fd);
    }
    return names;
  }

  /** Removes `path` and everything below it (rm -rf); 0, or the first errno other than NOENT. */
  remove(path: Uint8Array): number {
    const t = this.filetype(path);
    if (t === -E.NOENT) return 0;
    if (t < 0) return -t;
    if (t !== Filetype.Dir) return this.unlink(path);
    const names = this.list(path);
    if (typeof names === 'number') return -names;
    for (const n of names) {
      const e = this.remove(join(path, n));
      if (e) return e;
    }
    return this.rmdir(path);
  }

  destroy(): void {
    this.kernel.exports.proc_destroy(this.pid);
  }
}

/** dir + "/" + name, as bytes. */
export function join(dir: Uint8Array, name: Uint8Array): Uint8Array {
  const out = new Uint8Array(dir.length + 1 + name.length);
  out.set(dir);
  out[dir.length] = 0x2f;
  out.set(name, dir.length + 1);
  return out;
}
