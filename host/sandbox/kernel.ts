// Loading kernel.wasm and answering its imports (trusted side of kernel/host.ts).
//
// The kernel is untrusted: every page number, address and length it passes is checked here, and a
// bad one is a KernelFault (a kernel bug or compromise), which ends the sandbox with a clear message
// rather than touching memory it should not.
import { Io, Page } from '../../kernel/abi';
import { checkDirect, directInBounds, type Filestore } from '../filestore/filestore';
import { hostErrno } from '../../gofer/errno';
import type { HostRw } from '../../native/index';

export class KernelFault extends Error {}

/** What the kernel's gofer_call import talks to: a channel client or an in-thread server. */
export interface GoferTransport {
  /** The payload window; requests are written here and responses read from here. */
  readonly window: Uint8Array;
  /** Sends window[0, len) as request `id`; returns response length or -errno. */
  call(id: number, len: number): number;
  /**
   * A gofer in this thread only: reads (write false) or writes `len` bytes of open handle `handle`
   * at file offset `pos`, straight into or out of buf[off, off+len) (the guest's memory); the count,
   * or -errno. The kernel then plans remote files' data as Seg.Host (kernel_set_host_io).
   */
  hostIO?(write: boolean, handle: number, pos: number, buf: Uint8Array, off: number, len: number): number;
  /**
   * A gofer in this thread only, optional: hostIO made by the addon straight into the guest's
   * `memory`, for the WebAssembly glue, answering HOST_RW_ASK for what hostIO must do; null where it
   * cannot (gofer/hostdirect.ts NATIVE HOST I/O).
   */
  nativeHostIO?(memory: WebAssembly.Memory): HostRw | null;
}

export interface KernelExports {
  memory: WebAssembly.Memory;
  kernel_setup(maxPages: number, root: number): number;
  mount_bind(len: number, m: number, ttlMs: number): number;
  mount_root_remote(m: number, ttlMs: number): number;
  mount_tmpfs(len: number, mode: number, limitPages: number, flags: number): number;
  mount_root_readonly(): void;
  kernel_set_owner(uid: number, gid: number): void;
  kernel_set_host_io(on: number): void;
  kernel_set_inode_limit(n: number): void;
  io_base(): number;
  /** Where the coarse clock goes (kernel/host.ts COARSE TIME); absent from older kernels. */
  clock_slot?(): number;
  kernel_flush(): void;
  kernel_stats(): void;
  proc_create(stdinType: number, stdoutType: number, stderrType: number): number;
  proc_destroy(pid: number): void;
  proc_create_child(parent: number, fd0: number, fd1: number, fd2: number): number;
  proc_add_stream(pid: number, stream: number, write: number, filetype: number): number;
  dev_node(len: number, rdev: number): number;
  fd_poll(pid: number, fd: number): number;
  fd_stream(pid: number, fd: number): number;
  [name: string]: any;
}

// held once: in Node the global `performance` is a lazy getter, a lookup and a hasOwnProperty per use
const perf = performance;
const timeOrigin = perf.timeOrigin;
/** Result structs up to this many bytes are copied out through Kernel.structViews (the largest is a filestat's 64). */
export const STRUCT_VIEWS = 64;
/** Gofer requests and answers up to this many bytes are copied by a loop rather than through a view. */
const SMALL_COPY = 128;

/** A kernel instance with its memory views. */
export class Kernel {
  readonly exports: KernelExports;
  /** Address of the exchange area; set by setup(). */
  io = 0;
  private mem: WebAssembly.Memory;
  private buf: ArrayBuffer;
  u8: Uint8Array;
  u32: Uint32Array;
  dv: DataView;
  /**
   * Views of the exchange area's STRUCT slot, one per length up to STRUCT_VIEWS, made again with the
   * others: the glue copies a result struct out with no view made per call (a stat's 64 bytes).
   */
  structViews: Uint8Array[] = [];
  panicMessage = '';
  /** Calls the kernel made to now_us (its fine clock), and a hook run at each (host/sandbox/coarse-clock.ts). */
  clockReads = 0;
  onClockRead: (() => void) | null = null;
  /** Told when the kernel has closed the last fd of a pipe end (host/stdio/pipes.ts); ids from Stream.FIRST_PIPE. */
  onStreamRelease: ((id: number) => void) | null = null;

  /** `module` is kernel.wasm compiled (host/sandbox/kernel-node.ts loads it in Node; the browser fetches it). */
  /** The gofer transport, for the glue's Seg.Host transfers. */
  readonly gofer: GoferTransport;

  constructor(module: WebAssembly.Module, filestore: Filestore, gofer: GoferTransport) {
    const self = this;
    this.gofer = gofer;
    const fsErr = (what: string) => {
      throw new KernelFault(`kernel passed a bad filestore range (${what})`);
    };
    // A direct-only filestore (Filestore.direct) has no views: fs_write and fs_zero go through its
    // direct calls, checked by directInBounds (as strict as the view checks). Chosen here, once.
    const direct = checkDirect(filestore);
    // the gofer's window by 32-bit words, where it is 4-aligned (both transports' are)
    const gw = gofer.window;
    const w32 = (gw.byteOffset & 3) === 0 ? new Uint32Array(gw.buffer, gw.byteOffset, gw.length >>> 2) : null;
    const fsWriteDirect = (page: number, off: number, src: number, len: number): number => {
      page >>>= 0;
      off >>>= 0;
      src >>>= 0;
      len >>>= 0;
      const u8 = self.view();
      if (!directInBounds(filestore.pages, page, off, len) || src + len > u8.length) fsErr('fs_write');
      try {
        filestore.writeDirect!(page, off, u8, src, len);
      } catch (e) {
        return hostErrno(e);
      }
      return 0;
    };
    const fsZeroDirect = (page: number, off: number, len: number): void => {
      page >>>= 0;
      off >>>= 0;
      len >>>= 0;
      if (page >= filestore.pages || off + len > Page.SIZE) fsErr('fs_zero');
      if (len > 0) filestore.zeroDirect!(page, off, len);
    };
    const imports = {
      host: {
        gofer_call(id: number, req: number, reqLen: number, resp: number, respCap: number): number {
          const u8 = self.view();
          req >>>= 0;
          reqLen >>>= 0;
          resp >>>= 0;
          respCap >>>= 0;
          if (req + reqLen > u8.length || resp + respCap > u8.length || reqLen > gofer.window.length) {
            throw new KernelFault('kernel passed a bad gofer buffer');
          }
          const w = gofer.window;
          // most requests and answers are tens of bytes: copied by a loop, with no view made per
          // call, of 32-bit words where both ends are 4-aligned (the kernel's buffers are). A word
          // loop may copy up to 3 bytes past the length: from within the kernel's request buffer
          // into the window, and into the kernel's response buffer (never past its capacity; the
          // kernel reads no further than respLen). Every comparison is made on every call: one
          // first made on a rare path (a long answer) would throw away V8's optimized code here.
          const fits = reqLen <= SMALL_COPY;
          const words = fits && ((req | resp) & 3) === 0 && w32 !== null && req + SMALL_COPY <= u8.length;
          if (words) {
            const k32 = self.u32;
            for (let i = 0, at = req >>> 2, n = (reqLen + 3) >>> 2; i < n; i++) w32![i] = k32[at + i];
          } else if (fits) for (let i = 0; i < reqLen; i++) w[i] = u8[req + i];
          else w.set(u8.subarray(req, req + reqLen), 0);
          const r = gofer.call(id, reqLen);
          if (r < 0) return r;
          if (r > respCap) return -35; // EMSGSIZE
          const rFits = r <= SMALL_COPY;
          const rWords = words && rFits && r + 3 <= respCap;
          if (r > 0) {
            const to = self.view();
            if (rWords) {
              const k32 = self.u32;
              for (let i = 0, at = resp >>> 2, n = (r + 3) >>> 2; i < n; i++) k32[at + i] = w32![i];
            } else if (rFits) for (let i = 0; i < r; i++) to[resp + i] = w[i];
            else to.set(w.subarray(0, r), resp);
          }
          return r;
        },
        fs_grow(pages: number): number {
          return filestore.grow(pages >>> 0);
        },
        fs_write: direct ? fsWriteDirect : function fs_write(page: number, off: number, src: number, len: number): number {
          page >>>= 0;
          off >>>= 0;
          src >>>= 0;
          len >>>= 0;
          const u8 = self.view();
          const c = filestore.chunk(page >>> Page.CHUNK_SHIFT);
          const at = (page & (Page.CHUNK_PAGES - 1)) * Page.SIZE + off;
          if (!c || page >= filestore.pages || off >= Page.SIZE || at + len > c.length || src + len > u8.length) fsErr('fs_write');
          // copy-up: pages without storage yet by system call (ENOSPC, never SIGBUS), the rest stored
          if (filestore.writeDirect && filestore.unbacked!(page, off, len)) {
            try {
              filestore.writeDirect(page, off, u8, src, len);
            } catch (e) {
              return hostErrno(e);
            }
          } else {
            filestore.prefault?.(page, off, len, true);
            c!.set(u8.subarray(src, src + len), at);
          }
          return 0;
        },
        fs_zero: direct ? fsZeroDirect : function fs_zero(page: number, off: number, len: number): void {
          page >>>= 0;
          off >>>= 0;
          len >>>= 0;
          const c = filestore.chunk(page >>> Page.CHUNK_SHIFT);
          const at = (page & (Page.CHUNK_PAGES - 1)) * Page.SIZE + off;
          if (!c || page >= filestore.pages || off + len > Page.SIZE) fsErr('fs_zero');
          if (filestore.unbacked?.(page, off, len)) return; // a hole reads as zeros (and a store could SIGBUS)
          filestore.prefault?.(page, off, len, true);
          c!.fill(0, at, at + len);
        },
        fs_shrink(pages: number): number {
          return filestore.shrink(pages >>> 0);
        },
        fs_release(ptr: number, count: number): void {
          ptr >>>= 0;
          count >>>= 0;
          const u8 = self.view();
          if ((ptr & 3) !== 0 || ptr + count * 4 > u8.length) fsErr('fs_release');
          filestore.release(new Uint32Array(u8.buffer, ptr, count));
        },
        stream_release(id: number): void {
          self.onStreamRelease?.(id >>> 0);
        },
        now_us: () => {
          self.clockReads++;
          if (self.onClockRead !== null) self.onClockRead();
          return Math.floor((timeOrigin + perf.now()) * 1000);
        },
        kernel_panic(msg: number, len: number, file: number, fileLen: number, line: number, col: number): void {
          const str = (p: number, n: number, dflt: string) => {
            const u8 = self.view();
            p >>>= 0;
            n >>>= 0;
            return p && n < 4096 && p + 2 * n <= u8.length ? new TextDecoder('utf-16le').decode(u8.subarray(p, p + 2 * n)) : dflt;
          };
          self.panicMessage = `${str(msg, len, 'abort')} at ${str(file, fileLen, '?')}:${line >>> 0}:${col >>> 0}`;
        },
      },
    };
    const inst = new WebAssembly.Instance(module, imports);
    this.exports = inst.exports as unknown as KernelExports;
    this.mem = this.exports.memory;
    this.buf = this.mem.buffer;
    this.u8 = new Uint8Array(this.buf);
    this.u32 = new Uint32Array(this.buf);
    this.dv = new DataView(this.buf);
  }

  /** Must be called once, after construction. `root`: 0 tmpfs, 1 the image's overlay, 2 a remote root (mounted next). */
  setup(maxPages: number, root: number): number {
    const e = this.exports.kernel_setup(maxPages, root);
    if (this.gofer.hostIO) this.exports.kernel_set_host_io(1);
    this.io = this.exports.io_base() >>> 0;
    if (this.io + Io.SIZE > this.view().length || this.io % 8 !== 0) throw new KernelFault('kernel exchange area is out of bounds');
    this.makeStructViews();
    return e;
  }

  /** The kernel memory as bytes, refreshed if the memory grew (growth detaches the old buffer; `length` is the cheap test). */
  view(): Uint8Array {
    if (this.u8.length === 0) {
      this.buf = this.mem.buffer;
      this.u8 = new Uint8Array(this.buf);
      this.u32 = new Uint32Array(this.buf);
      this.dv = new DataView(this.buf);
      this.makeStructViews();
    }
    return this.u8;
  }

  private makeStructViews(): void {
    const views: Uint8Array[] = [];
    if (this.io !== 0) for (let len = 0; len <= STRUCT_VIEWS; len++) views.push(new Uint8Array(this.buf, this.io + Io.STRUCT, len));
    this.structViews = views;
  }

  /** Kernel statistics (kernel_stats). */
  /** The kernel's memory (for the coarse clock's ticker). */
  memory(): WebAssembly.Memory {
    return this.mem;
  }

  /** Bytes of the kernel's linear memory (counted against the sandbox's memory limit). */
  memoryBytes(): number {
    return this.mem.buffer.byteLength;
  }

  stats(): { goferCalls: number; copyUps: number; pagesUsed: number; pagesLimit: number; inodes: number; pagesHeld: number } {
    this.exports.kernel_stats();
    this.view();
    const r = this.io + Io.RES;
    return {
      goferCalls: Number(this.dv.getBigUint64(r, true)),
      copyUps: Number(this.dv.getBigUint64(r + 8, true)),
      pagesUsed: this.dv.getUint32(r + 16, true),
      pagesLimit: this.dv.getUint32(r + 20, true),
      inodes: this.dv.getUint32(r + 24, true),
      pagesHeld: this.dv.getUint32(r + 28, true), // freed, storage kept for reuse (kernel/mm/filestore.ts)
    };
  }
}
