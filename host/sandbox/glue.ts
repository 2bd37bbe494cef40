// The platform glue (trusted): the wasi_snapshot_preview1 imports of one guest process.
//
// For each call it checks every guest pointer and length against the guest's memory (EFAULT before
// anything happens), copies path arguments into the kernel's exchange area, calls the kernel's
// export of the same name, and copies results back. File data never passes through the kernel: the
// kernel returns an I/O plan (kernel/abi.ts) and the glue copies between guest memory and the
// filestore, kernel memory or a host stream, checking each segment first (the kernel is untrusted).
// A direct-only filestore (Filestore.direct: no memory views) has its own copy of the plan loop,
// chosen once per plan, with the same checks; page bytes then go through its direct calls.
// Calls that are not about files (args, environ, clocks, random, poll, exit) are answered here.
// Where the host has it, the WebAssembly glue (wasm-glue.ts) stands in for the commonest calls
// (reads and writes of one iovec, stat, open, close, seek, tell, readdir, unlink, mkdir, rmdir,
// rename) and calls back here (wasmGlueSide) only to move bytes; these functions remain the
// reference it is tested against, and serve every other case.
//
// ONE PATH. A read and a write go through the same code: rw, runPlan, xfer and hostTransfer (and
// the gofer's hostIO under them) have no step that only one direction takes; the direction is data
// (which buffer is the source, a flag to the kernel's one fd_io and to the addon's one rwAt). V8
// optimizes these functions once they have run a few thousand times, for what they ran; a step that
// never ran becomes a deoptimization point. With a step per direction, a program that wrote for a
// while and then read threw the optimized code away at its first read and ran unoptimized until V8
// had compiled it again: on a 2-core VM, 5,000-10,000 calls at 2-4 times the cost.
//
// FAST PATH. A read or write of one iovec whose plan is one segment, inside one filestore page that
// is ready (Filestore.readyBits: nothing to do before the copy) or of a host file (Seg.Host, moved by
// the gofer in this thread), is done by rwFast alone: one function, no cursor, no plan loop.
// Anything else it hands to rw with the plan already made. What a call costs before V8 has
// optimized the glue is mostly how long V8 takes to compile what the call runs
// (bench/results/analysis.md): on the 2-core VM measured, about 18 ms for rw, runPlan, xfer and the
// filestore's prefault, against a few for rwFast, and the first pass of a run of 4 KiB pwrites
// pays for it.
import { Io, IoFlag, Page, Plan, PlanFlag, Readdir, Seg } from '../../kernel/abi';
import { E } from '../../kernel/wasi/errno';
import { checkDirect, directInBounds, isReady, type Filestore } from '../filestore/filestore';
import { hostErrno } from '../../gofer/errno';
import { Kernel, KernelFault, STRUCT_VIEWS } from './kernel';
import { GLUE_FAULTS, type WasmGlueSide } from './wasm-glue';

/** Thrown (through the guest) by proc_exit. */
export class ExitSignal {
  constructor(readonly code: number) {}
}

/** Host streams: stdin (0), stdout (1), stderr (2) of a process. */
export interface Streams {
  /**
   * Writes; returns the bytes written (may block), or -errno (WASI) when nothing more can be
   * written, e.g. -E.PIPE when the reader has gone: the guest's write fails with it (a 0 would
   * make libc retry for ever).
   */
  write(stream: number, data: Uint8Array, off: number, len: number): number;
  /** Reads up to len bytes; returns 0 at end of input (may block). */
  read(stream: number, data: Uint8Array, off: number, len: number): number;
  /** WASI filetype to report for the stream. */
  filetype(stream: number): number;
  /**
   * Optional, for guests that run suspendable (host/sandbox/jspi.ts): a read that may wait without blocking
   * the thread. Returns the bytes read into data[off, off+n) (0 at the end of input) or -errno, or a
   * promise of that; while it is pending the guest is put aside. It may reject (ExitSignal) to end the
   * guest there. With it, fd_read of the stream is a suspend point.
   */
  readAsync?(stream: number, data: Uint8Array, off: number, len: number): number | Promise<number>;
  /** Optional, likewise for writes (a pipe or socket whose reader is slow): bytes written or -errno. */
  writeAsync?(stream: number, data: Uint8Array, off: number, len: number): number | Promise<number>;
  /**
   * Optional, for poll_oneoff: whether a read (or a write) of the stream would go on without
   * waiting, with the bytes it could move (hangup: the other end is gone, a read gives 0), or a
   * promise settled at the stream's next change, after which the question is asked again. Without
   * it, or for a guest that cannot be put aside, a stream is reported ready and its call waits.
   */
  poll?(stream: number, write: boolean): StreamReady | Promise<void>;
}

export interface StreamReady {
  nbytes: number;
  hangup: boolean;
}

/** A stream ready, with nothing known of how much it can move (what a stream without poll answers). */
export const READY: StreamReady = Object.freeze({ nbytes: 1, hangup: false });

/**
 * Copies up to this many bytes go by a loop, longer ones by set(subarray). A run's first few thousand
 * calls are interpreted (V8 optimizes the glue only once it is hot), and there a 64-byte loop costs
 * 2-3 µs, several times the whole call once optimized; set() costs the same in every tier.
 */
const SMALL_COPY = 8;
/** Paths up to this many bytes are copied into the kernel four bytes at a time (path()). */
const PATH_WORDS = 32;

/** A suspendable guest's stream read or write moves at most this much at once (a pipe's capacity is 64 KiB). */
const STREAM_CHUNK = 256 * 1024;

/** What rwFast may copy itself: nothing, any page (a filestore with nothing to do before a copy), or a page whose Filestore.readyBits bit is set. */
const enum FastMode {
  None,
  Always,
  Ready,
}

/** Linux caps one read or write at this many bytes (MAX_RW_COUNT). */
const MAX_RW = 0x7ffff000;
const enc = new TextEncoder();
const sleepCell = new Int32Array(new SharedArrayBuffer(4));
const TIME_ORIGIN = performance.timeOrigin;

function sleepMs(ms: number): void {
  if (ms > 0) Atomics.wait(sleepCell, 0, 0, ms);
}

export class GuestProcess {
  readonly pid: number;
  /** The kernel this process runs on. */
  get kernel(): Kernel {
    return this.K;
  }
  private readonly K: Kernel;
  private readonly k: any; // kernel exports
  private readonly fs: Filestore;
  /** The filestore is direct-only (immutable): runPlan hands over to runPlanDirect. */
  private readonly directOnly: boolean;
  /** Which plans rwFast copies itself (FAST PATH). */
  private readonly fastMode: FastMode;
  private readonly streams: Streams;
  /** Stream reads and writes may suspend the guest (set by runModule for a suspendable process). */
  asyncStreams = false;
  private readonly argBytes: Uint8Array[];
  private readonly envBytes: Uint8Array[];
  private gmem: WebAssembly.Memory | null = null;
  private gu8: Uint8Array = new Uint8Array(0);
  private gdv = new DataView(new ArrayBuffer(0));
  // The I/O cursor: where the next plan segment's bytes go to or come from. It walks the guest's
  // iovecs (descriptors at cIdx..cEnd in guest memory), or one flat buffer (readFile).
  private cMem: Uint8Array = new Uint8Array(0);
  private cEnd = 0;
  private cIdx = 0;
  private cPtr = 0;
  private cLeft = 0;
  /**
   * Set when the process runs suspendable (host/sandbox/jspi.ts): poll_oneoff's sleep then returns this
   * promise instead of blocking the thread, so that the thread can run other sandboxes meanwhile.
   * It may reject (a deadline), which the guest's poll_oneoff then throws.
   */
  suspend: ((ms: number) => Promise<void>) | null = null;
  /** The last monotonic time read (clock_time_get), so that the next is later. */
  private lastMono = 0n;
  /** Set by runPlan when a filestore write failed part-way (the errno); 0 otherwise. */
  private failedErrno = 0;
  private directErrno = 0;
  private streamErrno = 0;
  /** streamAsync's buffer for reads. */
  private readBuf = new Uint8Array(0);
  /** Why a Seg.Host transfer moved nothing (hostTransfer), for io_commit. */
  private hostErrno = 0;

  constructor(kernel: Kernel, filestore: Filestore, pid: number, args: string[], env: string[], streams: Streams) {
    this.K = kernel;
    this.k = kernel.exports;
    this.fs = filestore;
    this.directOnly = checkDirect(filestore);
    const plain = !filestore.prefault && !filestore.unbacked && !filestore.cold && !filestore.writeDirect && !filestore.readDirect;
    this.fastMode = this.directOnly ? FastMode.None : filestore.readyBits ? FastMode.Ready : plain ? FastMode.Always : FastMode.None;
    this.pid = pid;
    this.streams = streams;
    this.argBytes = args.map((a) => enc.encode(a + '\0'));
    this.envBytes = env.map((a) => enc.encode(a + '\0'));
  }

  /** The process's host streams (its children share them). */
  get hostStreams(): Streams {
    return this.streams;
  }

  /** The guest's memory, current. */
  memoryBytes(): Uint8Array {
    this.g();
    return this.gu8;
  }

  /** Binds the guest's exported memory (after instantiation). */
  bindMemory(mem: WebAssembly.Memory): void {
    this.gmem = mem;
    this.g();
  }

  /**
   * Refreshes the guest memory views if the memory grew (growth detaches the old buffer). Runs on
   * every call: `length` (0 once detached) is several times cheaper to read than `byteLength`.
   */
  private g(): void {
    if (this.gu8.length === 0 && this.gmem) {
      const b = this.gmem.buffer;
      this.gu8 = new Uint8Array(b);
      this.gdv = new DataView(b);
    }
  }

  /** Whether [ptr, ptr+len) lies in guest memory (both already u32). */
  private ok(ptr: number, len: number): boolean {
    return ptr + len <= this.gu8.length;
  }

  /** Copies a guest path into the exchange area at `slot`; returns 0 or an errno. */
  private path(ptr: number, len: number, slot: number): number {
    ptr >>>= 0;
    len >>>= 0;
    if (len >= Io.PATH_MAX) return E.NAMETOOLONG;
    if (!this.ok(ptr, len)) return E.FAULT;
    const ku8 = this.K.view();
    const at = this.K.io + slot;
    const g = this.gu8;
    if (len <= PATH_WORDS) {
      // four bytes at a time, no view made: cheaper than set(subarray) once optimized, and not
      // dearer before that for a path this short
      const kdv = this.K.dv;
      const gdv = this.gdv;
      let i = 0;
      for (; i + 4 <= len; i += 4) kdv.setUint32(at + i, gdv.getUint32(ptr + i, true), true);
      for (; i < len; i++) ku8[at + i] = g[ptr + i];
    } else ku8.set(g.subarray(ptr, ptr + len), at);
    return 0;
  }

  /**
   * path() for a path the kernel resolves from a directory fd: WASI preview1 has no absolute paths
   * (every path is relative to its fd; wasi-libc strips the "/" against the preopen), so one that
   * starts with "/" is ENOTCAPABLE. (Absolute symlink targets still resolve from the sandbox root.)
   */
  private rpath(ptr: number, len: number, slot: number): number {
    const e = this.path(ptr, len, slot);
    if (e) return e;
    return (len >>> 0) > 0 && this.gu8[ptr >>> 0] === 0x2f ? E.NOTCAPABLE : 0;
  }

  /** Whether a result struct of `len` bytes fits at guest `ptr` (refreshes the guest views first). */
  private structOk(ptr: number, len: number): boolean {
    this.g();
    return this.ok(ptr >>> 0, len);
  }

  /** A kernel call's result `e`: on 0, copies the struct it left in the exchange area to guest `ptr`. */
  private struct(e: number, ptr: number, len: number): number {
    if (e === 0) {
      // through a view of exactly those bytes made beforehand (Kernel.structViews): no view per call
      this.K.view();
      this.g();
      if (len <= STRUCT_VIEWS) this.gu8.set(this.K.structViews[len], ptr >>> 0);
      else this.out(Io.STRUCT, ptr >>> 0, len);
    }
    return e;
  }

  private res32(i: number): number {
    this.K.view();
    return this.K.dv.getUint32(this.K.io + Io.RES + 4 * i, true);
  }

  /** Copies `len` bytes of the exchange area at `slot` to guest memory at `ptr` (checked by the caller). */
  private out(slot: number, ptr: number, len: number): void {
    const ku8 = this.K.view();
    const at = this.K.io + slot;
    this.g();
    const g = this.gu8;
    if (len <= SMALL_COPY) for (let i = 0; i < len; i++) g[ptr + i] = ku8[at + i];
    else g.set(ku8.subarray(at, at + len), ptr);
  }

  // -------------------------------------------------------------------------------------------
  // I/O plans

  /** Points the cursor at the guest iovecs [iovs, +8n), `skip` bytes in. */
  private cursor(iovs: number, n: number, skip: number): void {
    this.cMem = this.gu8;
    this.cEnd = iovs + 8 * n;
    this.cIdx = iovs;
    this.cLeft = 0;
    this.cPtr = 0;
    this.advance(skip);
  }

  /** Points the cursor at buf[at, at+len). */
  private flatCursor(buf: Uint8Array, at: number, len: number): void {
    this.cMem = buf;
    this.cIdx = this.cEnd = 0;
    this.cPtr = at;
    this.cLeft = len;
  }

  /** Moves the cursor forward by `n` bytes. */
  private advance(n: number): void {
    while (n > 0 || this.cLeft === 0) {
      if (this.cLeft === 0) {
        if (this.cIdx >= this.cEnd) return;
        this.cPtr = this.gdv.getUint32(this.cIdx, true);
        this.cLeft = this.gdv.getUint32(this.cIdx + 4, true);
        this.cIdx += 8;
        continue;
      }
      const step = Math.min(n, this.cLeft);
      this.cPtr += step;
      this.cLeft -= step;
      n -= step;
    }
  }

  /** Copies `len` bytes between the iovec cursor and arr[at..]: guest -> arr when `toArr`. */
  private xfer(toArr: boolean, arr: Uint8Array, at: number, len: number): void {
    const g = this.cMem;
    while (len > 0) {
      if (this.cLeft === 0) this.advance(0);
      if (this.cLeft === 0) throw new KernelFault('I/O plan longer than the request');
      const n = Math.min(len, this.cLeft);
      const p = this.cPtr;
      // one copy for both directions (ONE PATH)
      const from = toArr ? p : at;
      (toArr ? arr : g).set((toArr ? g : arr).subarray(from, from + n), toArr ? at : p);
      at += n;
      len -= n;
      this.cPtr += n;
      this.cLeft -= n;
    }
  }

  /**
   * Moves `len` bytes between the cursor and the filestore by its direct calls (Filestore.writeDirect,
   * and readDirect for a direct-only filestore or a long read of pages not mapped yet). Returns the
   * bytes moved: fewer than `len` when the host failed part-way, e.g. out of space (directErrno
   * says why).
   */
  private direct(write: boolean, page: number, off: number, len: number): number {
    let done = 0;
    while (done < len) {
      if (this.cLeft === 0) this.advance(0);
      if (this.cLeft === 0) throw new KernelFault('I/O plan longer than the request');
      const n = Math.min(len - done, this.cLeft);
      try {
        // off may pass 4096: the range runs on over consecutive pages
        if (write) this.fs.writeDirect!(page, off + done, this.cMem, this.cPtr, n);
        else this.fs.readDirect!(page, off + done, this.cMem, this.cPtr, n);
      } catch (e) {
        this.directErrno = hostErrno(e);
        return done;
      }
      done += n;
      this.cPtr += n;
      this.cLeft -= n;
    }
    return len;
  }

  /**
   * A Seg.Host transfer: `len` bytes of remote handle `handle` at the plan's file offset, between
   * the host file and the guest's iovecs, by the gofer in this thread (GoferTransport.hostIO). Stops
   * at a short count (the end of the file, a full disk); an error with nothing moved is hostErrno.
   */
  private hostTransfer(write: boolean, handle: number, len: number): number {
    const K = this.K;
    const io = K.io;
    // two halves, not getBigUint64 (a BigInt allocated per call); exact below 2^53, checked next
    let pos = K.dv.getUint32(io + Io.RES + 4 * Plan.HOST_OFF + 4, true) * 0x100000000 + K.dv.getUint32(io + Io.RES + 4 * Plan.HOST_OFF, true);
    const hostIO = K.gofer.hostIO;
    if (!hostIO || !Number.isSafeInteger(pos)) throw new KernelFault('I/O plan has a host transfer the host cannot make');
    this.hostErrno = 0;
    let done = 0;
    while (done < len) {
      if (this.cLeft === 0) this.advance(0);
      if (this.cLeft === 0) throw new KernelFault('I/O plan longer than the request');
      const n = Math.min(len - done, this.cLeft);
      const got = hostIO(write, handle, pos, this.cMem, this.cPtr, n);
      if (got < 0) {
        if (done === 0) this.hostErrno = -got;
        break;
      }
      if (got > n) throw new KernelFault('the gofer moved more than it was asked to');
      done += got;
      pos += got;
      this.cPtr += got;
      this.cLeft -= got;
      if (got < n) break;
    }
    return done;
  }

  private zero(len: number): void {
    while (len > 0) {
      if (this.cLeft === 0) this.advance(0);
      if (this.cLeft === 0) throw new KernelFault('I/O plan longer than the request');
      const n = Math.min(len, this.cLeft);
      this.cMem.fill(0, this.cPtr, this.cPtr + n);
      len -= n;
      this.cPtr += n;
      this.cLeft -= n;
    }
  }

  /** Host stream I/O at the cursor: one read (may be short), or writes of the iovecs in turn. */
  private stream(write: boolean, id: number, len: number): number {
    let done = 0;
    while (done < len) {
      if (this.cLeft === 0) this.advance(0);
      if (this.cLeft === 0) break;
      const n = Math.min(len - done, this.cLeft);
      const got = write ? this.streams.write(id, this.cMem, this.cPtr, n) : this.streams.read(id, this.cMem, this.cPtr, n);
      if (got < 0) {
        this.streamErrno = -got;
        break;
      }
      done += got;
      this.cPtr += got;
      this.cLeft -= got;
      if (!write || got < n) break;
    }
    return done;
  }

  /**
   * Executes the kernel's plan at the cursor. Returns bytes moved; when the filestore failed part-way,
   * failedErrno says why and the count is what did move.
   */
  private runPlan(write: boolean, max: number, commit = false): number {
    if (this.directOnly) return this.runPlanDirect(write, max, commit);
    this.failedErrno = 0;
    const prefault = this.fs.prefault !== undefined;
    const cold = this.fs.cold !== undefined;
    const byWrite = this.fs.writeDirect !== undefined;
    const K = this.K;
    K.view();
    const dv = K.dv;
    const ku8 = K.u8;
    const io = K.io;
    const planned = dv.getUint32(io + Io.RES + 4 * Plan.BYTES, true);
    const nsegs = dv.getUint32(io + Io.RES + 4 * Plan.NSEGS, true);
    if (planned > max || nsegs > Io.MAX_SEGS) throw new KernelFault('I/O plan out of bounds');
    let moved = 0;
    let s = io + Io.SEGS;
    for (let i = 0; i < nsegs; i++, s += Io.SEG_BYTES) {
      const kind = dv.getUint32(s, true);
      const len = dv.getUint32(s + 4, true);
      const a = dv.getUint32(s + 8, true);
      const b = dv.getUint32(s + 12, true);
      if (moved + len > planned) throw new KernelFault('I/O plan longer than announced');
      if (kind === Seg.Page || kind === Seg.PageNew) {
        const chunk = this.fs.chunk(a >>> Page.CHUNK_SHIFT);
        const at = (a & (Page.CHUNK_PAGES - 1)) * Page.SIZE + b;
        if (!chunk || a >= this.fs.pages || b >= Page.SIZE || at + len > chunk.length) throw new KernelFault('I/O plan names a page outside the filestore');
        // by system call (host/filestore/filestore-file.ts): writes into pages of a host file new to
        // the filestore or without storage (a store there could SIGBUS; this can fail with ENOSPC),
        // and long reads of pages not yet mapped in this process (LONG READS)
        // (both tests run whichever way the bytes go: ONE PATH)
        const fresh = kind === Seg.PageNew;
        const noStorage = byWrite && this.fs.unbacked!(a, b, len);
        const longCold = cold && this.fs.cold!(a, b, len);
        const bySyscall = write ? byWrite && (fresh || noStorage) : longCold;
        if (bySyscall) {
          const got = this.direct(write, a, b, len);
          if (got < len) {
            this.failedErrno = this.directErrno;
            return moved + got;
          }
        } else {
          if (prefault) this.fs.prefault!(a, b, len, write);
          this.xfer(write, chunk, at, len);
        }
      } else if (kind === Seg.Kmem) {
        if (a + len > ku8.length || (write && !commit)) throw new KernelFault('I/O plan names kernel memory out of bounds');
        this.xfer(write, ku8, a, len);
      } else if (kind === Seg.Zero) {
        if (write) throw new KernelFault('I/O plan zero-fills a write');
        this.zero(len);
      } else if (kind === Seg.Stream) {
        return moved + this.stream(write, a, len);
      } else if (kind === Seg.Host) {
        if (i !== 0 || nsegs !== 1 || !commit) throw new KernelFault('I/O plan has a host transfer with other segments');
        return this.hostTransfer(write, a, len);
      } else {
        throw new KernelFault('I/O plan has an unknown segment');
      }
      moved += len;
    }
    if (moved !== planned) throw new KernelFault('I/O plan shorter than announced');
    return moved;
  }

  /**
   * runPlan for a direct-only filestore: the same loop and checks (keep the two in step), with page
   * segments checked by directInBounds and moved by readDirect/writeDirect. A separate copy so that
   * the view path's loop has no extra branch per segment.
   */
  private runPlanDirect(write: boolean, max: number, commit: boolean): number {
    this.failedErrno = 0;
    const K = this.K;
    K.view();
    const dv = K.dv;
    const ku8 = K.u8;
    const io = K.io;
    const planned = dv.getUint32(io + Io.RES + 4 * Plan.BYTES, true);
    const nsegs = dv.getUint32(io + Io.RES + 4 * Plan.NSEGS, true);
    if (planned > max || nsegs > Io.MAX_SEGS) throw new KernelFault('I/O plan out of bounds');
    let moved = 0;
    let s = io + Io.SEGS;
    for (let i = 0; i < nsegs; i++, s += Io.SEG_BYTES) {
      const kind = dv.getUint32(s, true);
      const len = dv.getUint32(s + 4, true);
      const a = dv.getUint32(s + 8, true);
      const b = dv.getUint32(s + 12, true);
      if (moved + len > planned) throw new KernelFault('I/O plan longer than announced');
      if (kind === Seg.Page || kind === Seg.PageNew) {
        if (!directInBounds(this.fs.pages, a, b, len)) throw new KernelFault('I/O plan names a page outside the filestore');
        const got = this.direct(write, a, b, len);
        if (got < len) {
          this.failedErrno = this.directErrno;
          return moved + got;
        }
      } else if (kind === Seg.Kmem) {
        if (a + len > ku8.length || (write && !commit)) throw new KernelFault('I/O plan names kernel memory out of bounds');
        this.xfer(write, ku8, a, len);
      } else if (kind === Seg.Zero) {
        if (write) throw new KernelFault('I/O plan zero-fills a write');
        this.zero(len);
      } else if (kind === Seg.Stream) {
        return moved + this.stream(write, a, len);
      } else if (kind === Seg.Host) {
        if (i !== 0 || nsegs !== 1 || !commit) throw new KernelFault('I/O plan has a host transfer with other segments');
        return this.hostTransfer(write, a, len);
      } else {
        throw new KernelFault('I/O plan has an unknown segment');
      }
      moved += len;
    }
    if (moved !== planned) throw new KernelFault('I/O plan shorter than announced');
    return moved;
  }

  /**
   * fd_read, fd_write, fd_pread, fd_pwrite of one iovec (FAST PATH; the imports call it only for one
   * iovec and a filestore with a fastMode): a plan of one segment within one ready page, or of a host
   * file, is carried out here; any other, by rw with the plan made.
   */
  private rwFast(write: boolean, fd: number, iovs: number, offset: bigint | null, outPtr: number): number | Promise<number> {
    this.g();
    iovs >>>= 0;
    outPtr >>>= 0;
    const g = this.gu8;
    const gdv = this.gdv;
    if (iovs + 8 > g.length || outPtr + 4 > g.length) return E.FAULT;
    const p = gdv.getUint32(iovs, true);
    let want = gdv.getUint32(iovs + 4, true);
    if (p + want > g.length) return E.FAULT;
    if (want > MAX_RW) want = MAX_RW;
    const err: number = this.k.fd_io(this.pid, fd, want, offset === null ? 0n : offset, (write ? IoFlag.WRITE : 0) | (offset === null ? 0 : IoFlag.AT));
    if (err !== 0) return err;
    const K = this.K;
    K.view();
    // the plan by 32-bit words (the exchange area is 8-aligned: Kernel checks it), which V8 compiles
    // to less than DataView reads
    const k32 = K.u32;
    const res = (K.io + Io.RES) >>> 2;
    const seg = (K.io + Io.SEGS) >>> 2;
    const kind = k32[seg];
    const len = k32[seg + 1];
    const a = k32[seg + 2];
    const b = k32[seg + 3];
    const flags = k32[res + Plan.FLAGS];
    const fs = this.fs;
    if (k32[res + Plan.NSEGS] !== 1 || k32[res + Plan.BYTES] !== len || len === 0 || len > want) {
      return this.rw(write, fd, iovs, 1, offset, outPtr, true);
    }
    if (kind === Seg.Host && flags === PlanFlag.COMMIT) {
      // a host file's bytes, moved by the gofer in this thread; then the kernel takes note (io_commit)
      const hostIO = K.gofer.hostIO;
      const pos = k32[res + Plan.HOST_OFF + 1] * 0x100000000 + k32[res + Plan.HOST_OFF];
      if (hostIO === undefined || !Number.isSafeInteger(pos)) return this.rw(write, fd, iovs, 1, offset, outPtr, true);
      const got = hostIO(write, a, pos, g, p, len);
      if (got > len) throw new KernelFault('the gofer moved more than it was asked to');
      const ce: number = this.k.io_commit(this.pid, got);
      if (ce !== 0) return ce;
      K.view();
      const written = K.u32[(K.io + Io.RES) >>> 2];
      if (written > (got < 0 ? 0 : got)) throw new KernelFault('commit wrote more than was planned');
      gdv.setUint32(outPtr, written, true);
      return 0;
    }
    if (kind !== Seg.Page || flags !== 0 || b + len > Page.SIZE || a >= fs.pages || (this.fastMode === FastMode.Ready && !isReady(fs.readyBits!, a))) {
      return this.rw(write, fd, iovs, 1, offset, outPtr, true);
    }
    const chunk = fs.chunk(a >>> Page.CHUNK_SHIFT);
    const at = (a & (Page.CHUNK_PAGES - 1)) * Page.SIZE + b;
    if (!chunk || at + len > chunk.length) throw new KernelFault('I/O plan names a page outside the filestore');
    // one copy for both directions (ONE PATH)
    const from = write ? p : at;
    (write ? chunk : g).set((write ? g : chunk).subarray(from, from + len), write ? at : p);
    gdv.setUint32(outPtr, len, true);
    return 0;
  }

  /**
   * What the WebAssembly glue (host/sandbox/wasm-glue.ts) calls here: the bytes of a one-segment
   * plan it has checked (a host file's, a filestore page's), and rw for any other. Parameters come
   * as WebAssembly's i32s (signed), so each is made unsigned first. An error that is not a
   * KernelFault is made one, as process.ts's guard does for the JavaScript glue's imports.
   */
  wasmGlueSide(): WasmGlueSide {
    const hostIO = this.K.gofer.hostIO;
    const store = this.fs;
    const mode = this.fastMode;
    const readyBits = store.readyBits;
    const fault = (e: unknown): never => {
      if (e instanceof KernelFault || e instanceof ExitSignal) throw e;
      throw new KernelFault(`WebAssembly glue: ${(e as Error)?.message ?? e}`);
    };
    return {
      // (a gofer in another thread moves no bytes here: the kernel plans no Seg.Host then)
      host:
        hostIO === undefined
          ? () => {
              throw new KernelFault('I/O plan has a host transfer the host cannot make');
            }
          : (write, handle, lo, hi, ptr, len) => {
              try {
                this.g();
                return hostIO(write !== 0, handle >>> 0, (hi >>> 0) * 0x100000000 + (lo >>> 0), this.gu8, ptr >>> 0, len >>> 0);
              } catch (e) {
                return fault(e);
              }
            },
      // the same copy in the addon, where the filestore offers it (it copies exactly where `page`
      // below would, and answers 1 for the rest)
      nativePage: mode === FastMode.Ready && store.nativePage ? (memory) => store.nativePage!(memory) : undefined,
      // the copy of a filestore page's bytes: one short function (until V8 has compiled it, each
      // step runs in its interpreter: pageCopy is this, inlined by hand, with what it reads held here)
      page: (write, page, off, ptr, len) => {
        try {
          page >>>= 0;
          ptr >>>= 0;
          len >>>= 0;
          if (mode === FastMode.None || page >= store.pages) return 1;
          if (mode === FastMode.Ready) {
            // isReady, written out: a call here ran interpreted for a run's first few thousand copies
            const r = readyBits![page >>> Page.CHUNK_SHIFT];
            if (r === undefined || (r[(page & (Page.CHUNK_PAGES - 1)) >>> 3] & (1 << (page & 7))) === 0) return 1;
          }
          const chunk = store.chunk(page >>> Page.CHUNK_SHIFT);
          const at = (page & (Page.CHUNK_PAGES - 1)) * Page.SIZE + (off >>> 0);
          if (chunk === undefined || at + len > chunk.length) throw new KernelFault('I/O plan names a page outside the filestore');
          let g = this.gu8;
          if (g.length === 0) {
            this.g();
            g = this.gu8;
          }
          if (ptr + len > g.length) throw new KernelFault('WebAssembly glue: a guest range outside its memory');
          // one copy for both directions (ONE PATH)
          const from = write !== 0 ? ptr : at;
          (write !== 0 ? chunk : g).set((write !== 0 ? g : chunk).subarray(from, from + len), write !== 0 ? at : ptr);
          return 0;
        } catch (e) {
          return fault(e);
        }
      },
      rw: (write, fd, iovs, n, off, out, at, planned) => {
        let r: number | Promise<number>;
        try {
          r = this.rw(write !== 0, fd, iovs, n, at !== 0 ? off : null, out, planned !== 0);
        } catch (e) {
          return fault(e);
        }
        // a stream read or write that would put the guest aside is a suspend point of its own
        // (process.ts), never a call through G, which cannot wait
        if (typeof r !== 'number') throw new KernelFault('WebAssembly glue: a call that would wait');
        return r;
      },
      fault: (code) => {
        throw new KernelFault(GLUE_FAULTS[code] ?? `WebAssembly glue: fault ${code}`);
      },
      // the gofer's hostIO made by the addon, with no JavaScript (gofer/hostdirect.ts NATIVE HOST I/O)
      nativeHost: (memory) => (hostIO === undefined ? null : (this.K.gofer.nativeHostIO?.(memory) ?? null)),
      out: (slot, ptr, len) => {
        slot >>>= 0;
        ptr >>>= 0;
        len >>>= 0;
        this.g();
        if (slot + len > Io.SIZE || ptr + len > this.gu8.length) throw new KernelFault('WebAssembly glue: a copy outside its bounds');
        this.out(slot, ptr, len);
      },
    };
  }

  /**
   * The general read and write: iovecs walked by the cursor, a plan of any segments, round after round
   * while the kernel says there is more. `planned`: the first round's plan is made already (rwFast).
   */
  private rw(write: boolean, fd: number, iovs: number, niovs: number, offset: bigint | null, outPtr: number, planned: boolean): number | Promise<number> {
    this.g();
    iovs >>>= 0;
    niovs >>>= 0;
    outPtr >>>= 0;
    if (niovs > 1024) return E.INVAL;
    if (!this.ok(iovs, niovs * 8) || !this.ok(outPtr, 4)) return E.FAULT;
    const dv = this.gdv;
    let total = 0;
    for (let i = 0; i < niovs; i++) {
      const p = dv.getUint32(iovs + 8 * i, true);
      const l = dv.getUint32(iovs + 8 * i + 4, true);
      if (!this.ok(p, l)) return E.FAULT;
      total += l;
    }
    if (total > MAX_RW) total = MAX_RW;
    const k = this.k;
    const pid = this.pid;
    const ioFlags = (write ? IoFlag.WRITE : 0) | (offset === null ? 0 : IoFlag.AT);
    let done = 0;
    for (;;) {
      const want = total - done;
      // one kernel entry for every direction (ONE PATH)
      const err: number = planned && done === 0 ? 0 : k.fd_io(pid, fd, want, offset === null ? 0n : done === 0 ? offset : offset + BigInt(done), ioFlags);
      if (err !== 0) {
        if (done > 0) break;
        return err;
      }
      const flags = this.res32(Plan.FLAGS);
      this.hostErrno = 0;
      if (this.asyncStreams && offset === null && done === 0) {
        const id = this.soleStream();
        if (id >= 0) return this.streamAsync(write, id, want, iovs, niovs, outPtr);
      }
      this.cursor(iovs, niovs, done);
      this.streamErrno = 0;
      let moved = this.runPlan(write, want, (flags & PlanFlag.COMMIT) !== 0);
      if (this.streamErrno) {
        // a host stream refused (its reader is gone): what went out counts, else the error
        done += moved;
        if (done === 0) return this.streamErrno;
        break;
      }
      if (this.failedErrno) {
        // the filestore could not take it all: the kernel takes the rest of the write back (a
        // direct-only filestore that could not be read: the read is short, or fails with the errno)
        const errno = this.failedErrno;
        if (write && k.io_abort(pid, moved) !== 0) throw new KernelFault('io_abort failed');
        done += moved;
        if (done === 0) return errno;
        break;
      }
      if (flags & PlanFlag.COMMIT) {
        // a remote file: the data is in the kernel's buffer, and the kernel now sends it to the
        // host; or the gofer has moved it (Seg.Host), and the kernel takes note of the count
        const ce = k.io_commit(pid, this.hostErrno ? -this.hostErrno : moved);
        this.hostErrno = 0;
        if (ce !== 0) {
          if (done > 0) break;
          return ce;
        }
        const written = this.res32(0);
        if (written > moved) throw new KernelFault('commit wrote more than was planned');
        if (written < moved) {
          done += written;
          break;
        }
        moved = written;
      }
      done += moved;
      if (!(flags & PlanFlag.MORE) || moved === 0 || done >= total) break;
    }
    this.g();
    this.gdv.setUint32(outPtr, done, true);
    return 0;
  }

  /** The stream of the plan just made if it is one host-stream segment (fd_read/fd_write of a stream), else -1. */
  private soleStream(): number {
    const K = this.K;
    K.view();
    const at = K.io + Io.RES;
    if (K.dv.getUint32(at + 4 * Plan.NSEGS, true) !== 1 || K.dv.getUint32(K.io + Io.SEGS, true) !== Seg.Stream) return -1;
    return K.dv.getUint32(K.io + Io.SEGS + 8, true);
  }

  /**
   * fd_read / fd_write of a host stream for a suspendable guest: the bytes go through a buffer of
   * the host's, and the call returns a promise while the stream waits (the guest is put aside). The
   * guest's memory cannot change meanwhile: only the guest itself could grow it.
   */
  private streamAsync(write: boolean, id: number, want: number, iovs: number, niovs: number, outPtr: number): number | Promise<number> {
    const n = Math.min(want, STREAM_CHUNK);
    // a read's buffer is this process's own, reused (one call of a process is pending at a time); a
    // write's is new each time, as the pipe keeps it until it is read
    let buf: Uint8Array;
    if (write) buf = new Uint8Array(n);
    else {
      if (this.readBuf.length < n) this.readBuf = new Uint8Array(STREAM_CHUNK);
      buf = this.readBuf;
    }
    this.cursor(iovs, niovs, 0);
    if (write) this.xfer(true, buf, 0, n);
    const r = write ? this.streams.writeAsync!(id, buf, 0, n) : this.streams.readAsync!(id, buf, 0, n);
    const finish = (got: number): number => {
      if (got < 0) return -got;
      if (got > n) throw new KernelFault('a host stream moved more than it was given');
      this.g();
      if (!write && got > 0) {
        this.cursor(iovs, niovs, 0);
        this.xfer(false, buf, 0, got);
      }
      this.gdv.setUint32(outPtr, got, true);
      return 0;
    };
    return typeof r === 'number' ? finish(r) : r.then(finish);
  }

  // -------------------------------------------------------------------------------------------
  // Host-side helpers for the sandbox (not guest imports)

  /**
   * Runs a kernel call that plans a read (fd_read, export_read, ...) and carries the plan out into
   * buf[at, at+len). Returns the bytes read, or a negated errno.
   */
  readPlanned(call: () => number, buf: Uint8Array, at: number, len: number): number {
    const e = call();
    if (e) return -e;
    this.flatCursor(buf, at, len);
    this.hostErrno = 0;
    const commit = (this.res32(Plan.FLAGS) & PlanFlag.COMMIT) !== 0;
    const n = this.runPlan(false, len, commit);
    if (commit) {
      // a remote file's read by the gofer (Seg.Host): the kernel takes note of the count
      const ce = this.k.io_commit(this.pid, this.hostErrno ? -this.hostErrno : n);
      this.hostErrno = 0;
      return ce ? -ce : this.res32(0);
    }
    return n === 0 && this.failedErrno ? -this.failedErrno : n;
  }

  /**
   * The identity of a file in the sandbox's namespace, following symlinks: "dev:ino:mtime:size",
   * which changes whenever the file does (a write copies up and sets mtime). Or an errno.
   */
  fileIdentity(path: string): string | number {
    const bytes = enc.encode(path);
    if (bytes.length >= Io.PATH_MAX) return E.NAMETOOLONG;
    const K = this.K;
    K.view().set(bytes, K.io + Io.PATH1);
    const e = this.k.path_filestat_get(this.pid, 3, 1, bytes.length);
    if (e) return e;
    K.view();
    const st = K.io + Io.STRUCT;
    const dv = K.dv;
    if (K.u8[st + 16] === 3) return E.ISDIR;
    return `${dv.getBigUint64(st, true)}:${dv.getBigUint64(st + 8, true)}:${dv.getBigUint64(st + 48, true)}:${dv.getBigUint64(st + 32, true)}`;
  }

  /** Reads a whole file from the sandbox's namespace (the entrypoint). Returns the bytes or an errno. */
  readFile(path: string): Uint8Array | number {
    const k = this.k;
    const bytes = enc.encode(path);
    if (bytes.length >= Io.PATH_MAX) return E.NAMETOOLONG;
    this.K.view().set(bytes, this.K.io + Io.PATH1);
    const rights = (1n << 1n) | (1n << 2n) | (1n << 21n); // FD_READ | FD_SEEK | FD_FILESTAT_GET
    let e = k.path_open(this.pid, 3, 1, bytes.length, 0, rights, 0n, 0);
    if (e) return e;
    const fd = this.res32(0);
    try {
      e = k.fd_filestat_get(this.pid, fd);
      if (e) return e;
      const K = this.K;
      K.view();
      const type = K.u8[K.io + Io.STRUCT + 16];
      if (type === 3) return E.ISDIR;
      const size = Number(K.dv.getBigUint64(K.io + Io.STRUCT + 32, true));
      if (size > 0x7fffffff) return E.FBIG;
      const buf = new Uint8Array(size);
      let done = 0;
      while (done < size) {
        const n = this.readPlanned(() => k.fd_read(this.pid, fd, size - done), buf, done, size - done);
        if (n < 0) return -n;
        if (n === 0) break;
        done += n;
      }
      return done === size ? buf : buf.subarray(0, done);
    } finally {
      k.fd_close(this.pid, fd);
    }
  }

  // -------------------------------------------------------------------------------------------
  // The imports

  imports(): Record<string, (...args: any[]) => number | void | Promise<number>> {
    const self = this;
    const k = this.k;
    const pid = this.pid;
    const fast = this.fastMode !== FastMode.None;

    const strings = (list: Uint8Array[], ptrs: number, buf: number): number => {
      self.g();
      ptrs >>>= 0;
      buf >>>= 0;
      let size = 0;
      for (const s of list) size += s.length;
      if (!self.ok(ptrs, 4 * list.length) || !self.ok(buf, size)) return E.FAULT;
      for (const s of list) {
        self.gdv.setUint32(ptrs, buf, true);
        self.gu8.set(s, buf);
        ptrs += 4;
        buf += s.length;
      }
      return 0;
    };
    const sizes = (list: Uint8Array[], countPtr: number, sizePtr: number): number => {
      self.g();
      countPtr >>>= 0;
      sizePtr >>>= 0;
      if (!self.ok(countPtr, 4) || !self.ok(sizePtr, 4)) return E.FAULT;
      let size = 0;
      for (const s of list) size += s.length;
      self.gdv.setUint32(countPtr, list.length, true);
      self.gdv.setUint32(sizePtr, size, true);
      return 0;
    };
    return {
      args_get: (argv: number, buf: number) => strings(self.argBytes, argv, buf),
      args_sizes_get: (c: number, s: number) => sizes(self.argBytes, c, s),
      environ_get: (env: number, buf: number) => strings(self.envBytes, env, buf),
      environ_sizes_get: (c: number, s: number) => sizes(self.envBytes, c, s),

      clock_res_get(id: number, ptr: number) {
        self.g();
        ptr >>>= 0;
        if (id < 0 || id > 3) return E.INVAL;
        if (!self.ok(ptr, 8)) return E.FAULT;
        self.gdv.setBigUint64(ptr, id === 0 ? 1000n : 1n, true);
        return 0;
      },
      clock_time_get(id: number, _precision: bigint, ptr: number) {
        self.g();
        ptr >>>= 0;
        if (!self.ok(ptr, 8)) return E.FAULT;
        let t: bigint;
        if (id === 0) t = BigInt(Math.round((TIME_ORIGIN + performance.now()) * 1e3)) * 1000n;
        else if (id === 1 || id === 2 || id === 3) {
          // no per-process CPU clock: monotonic. Each read is later than the last (a browser rounds
          // performance.now() coarsely, and a program may time a step by two reads in a row)
          t = BigInt(Math.round(performance.now() * 1e6));
          if (t <= self.lastMono) t = self.lastMono + 1n;
          self.lastMono = t;
        } else return E.INVAL;
        self.gdv.setBigUint64(ptr, t, true);
        return 0;
      },
      random_get(ptr: number, len: number) {
        self.g();
        ptr >>>= 0;
        len >>>= 0;
        if (!self.ok(ptr, len)) return E.FAULT;
        for (let off = 0; off < len; off += 65536) globalThis.crypto.getRandomValues(self.gu8.subarray(ptr + off, ptr + Math.min(len, off + 65536)));
        return 0;
      },
      proc_exit(code: number) {
        throw new ExitSignal(code >>> 0);
      },
      proc_raise: () => E.NOSYS,
      sched_yield: () => 0,
      poll_oneoff: (inPtr: number, outPtr: number, nsubs: number, neventsPtr: number) => self.poll(inPtr, outPtr, nsubs, neventsPtr),

      fd_advise: (fd: number, off: bigint, len: bigint, advice: number) => k.fd_advise(pid, fd, off, len, advice),
      fd_allocate: (fd: number, off: bigint, len: bigint) => k.fd_allocate(pid, fd, off, len),
      fd_close: (fd: number) => k.fd_close(pid, fd),
      fd_datasync: (fd: number) => k.fd_datasync(pid, fd),
      fd_sync: (fd: number) => k.fd_sync(pid, fd),
      fd_fdstat_get: (fd: number, ptr: number) => (self.structOk(ptr, 24) ? self.struct(k.fd_fdstat_get(pid, fd), ptr, 24) : E.FAULT),
      fd_fdstat_set_flags: (fd: number, flags: number) => k.fd_fdstat_set_flags(pid, fd, flags),
      fd_fdstat_set_rights: (fd: number, base: bigint, inh: bigint) => k.fd_fdstat_set_rights(pid, fd, base, inh),
      fd_filestat_get: (fd: number, ptr: number) => (self.structOk(ptr, 64) ? self.struct(k.fd_filestat_get(pid, fd), ptr, 64) : E.FAULT),
      fd_filestat_set_size: (fd: number, size: bigint) => k.fd_filestat_set_size(pid, fd, size),
      fd_filestat_set_times: (fd: number, a: bigint, m: bigint, fl: number) => k.fd_filestat_set_times(pid, fd, a, m, fl),
      // (the choice of path here, not in rwFast: a branch rwFast had not taken before V8 optimized it
      // would throw its optimized code away when first taken)
      fd_pread: (fd: number, iovs: number, n: number, off: bigint, out: number) => (n === 1 && fast ? self.rwFast(false, fd, iovs, off, out) : self.rw(false, fd, iovs, n, off, out, false)),
      fd_pwrite: (fd: number, iovs: number, n: number, off: bigint, out: number) => (n === 1 && fast ? self.rwFast(true, fd, iovs, off, out) : self.rw(true, fd, iovs, n, off, out, false)),
      fd_read: (fd: number, iovs: number, n: number, out: number) => (n === 1 && fast ? self.rwFast(false, fd, iovs, null, out) : self.rw(false, fd, iovs, n, null, out, false)),
      fd_write: (fd: number, iovs: number, n: number, out: number) => (n === 1 && fast ? self.rwFast(true, fd, iovs, null, out) : self.rw(true, fd, iovs, n, null, out, false)),
      fd_prestat_get: (fd: number, ptr: number) => (self.structOk(ptr, 8) ? self.struct(k.fd_prestat_get(pid, fd), ptr, 8) : E.FAULT),
      fd_prestat_dir_name(fd: number, ptr: number, len: number) {
        self.g();
        ptr >>>= 0;
        len >>>= 0;
        if (!self.ok(ptr, len)) return E.FAULT;
        const e = k.fd_prestat_dir_name(pid, fd, len);
        if (e) return e;
        const n = Math.min(self.res32(0), len);
        self.out(Io.DATA, ptr, n);
        return 0;
      },
      fd_readdir: (fd: number, buf: number, len: number, cookie: bigint, out: number) => self.readdir(fd, buf, len, cookie, out),
      fd_renumber: (from: number, to: number) => k.fd_renumber(pid, from, to),
      fd_seek(fd: number, offset: bigint, whence: number, out: number) {
        self.g();
        out >>>= 0;
        if (!self.ok(out, 8)) return E.FAULT;
        const e = k.fd_seek(pid, fd, offset, whence);
        if (e === 0) self.out(Io.RES, out, 8);
        return e;
      },
      fd_tell(fd: number, out: number) {
        self.g();
        out >>>= 0;
        if (!self.ok(out, 8)) return E.FAULT;
        const e = k.fd_tell(pid, fd);
        if (e === 0) self.out(Io.RES, out, 8);
        return e;
      },

      path_create_directory(fd: number, p: number, l: number) {
        self.g();
        return self.rpath(p, l, Io.PATH1) || k.path_create_directory(pid, fd, l >>> 0);
      },
      path_filestat_get(fd: number, flags: number, p: number, l: number, ptr: number) {
        self.g();
        return self.rpath(p, l, Io.PATH1) || (self.structOk(ptr, 64) ? self.struct(k.path_filestat_get(pid, fd, flags, l >>> 0), ptr, 64) : E.FAULT);
      },
      path_filestat_set_times(fd: number, flags: number, p: number, l: number, a: bigint, m: bigint, fl: number) {
        self.g();
        return self.rpath(p, l, Io.PATH1) || k.path_filestat_set_times(pid, fd, flags, l >>> 0, a, m, fl);
      },
      path_link(ofd: number, oflags: number, op: number, ol: number, nfd: number, np: number, nl: number) {
        self.g();
        return self.rpath(op, ol, Io.PATH1) || self.rpath(np, nl, Io.PATH2) || k.path_link(pid, ofd, oflags, ol >>> 0, nfd, nl >>> 0);
      },
      path_open(fd: number, dirflags: number, p: number, l: number, oflags: number, base: bigint, inh: bigint, fdflags: number, out: number) {
        self.g();
        out >>>= 0;
        if (!self.ok(out, 4)) return E.FAULT;
        const e = self.rpath(p, l, Io.PATH1) || k.path_open(pid, fd, dirflags, l >>> 0, oflags, base, inh, fdflags);
        if (e === 0) self.out(Io.RES, out, 4);
        return e;
      },
      path_readlink(fd: number, p: number, l: number, buf: number, len: number, out: number) {
        self.g();
        buf >>>= 0;
        len >>>= 0;
        out >>>= 0;
        if (!self.ok(buf, len) || !self.ok(out, 4)) return E.FAULT;
        const e = self.rpath(p, l, Io.PATH1) || k.path_readlink(pid, fd, l >>> 0, len);
        if (e) return e;
        const n = Math.min(self.res32(0), len);
        self.out(Io.DATA, buf, n);
        self.gdv.setUint32(out, n, true);
        return 0;
      },
      path_remove_directory(fd: number, p: number, l: number) {
        self.g();
        return self.rpath(p, l, Io.PATH1) || k.path_remove_directory(pid, fd, l >>> 0);
      },
      path_rename(ofd: number, op: number, ol: number, nfd: number, np: number, nl: number) {
        self.g();
        return self.rpath(op, ol, Io.PATH1) || self.rpath(np, nl, Io.PATH2) || k.path_rename(pid, ofd, ol >>> 0, nfd, nl >>> 0);
      },
      path_symlink(op: number, ol: number, fd: number, np: number, nl: number) {
        self.g();
        return self.path(op, ol, Io.PATH1) || self.rpath(np, nl, Io.PATH2) || k.path_symlink(pid, ol >>> 0, fd, nl >>> 0);
      },
      path_unlink_file(fd: number, p: number, l: number) {
        self.g();
        return self.rpath(p, l, Io.PATH1) || k.path_unlink_file(pid, fd, l >>> 0);
      },

      // preview1 makes no sockets and none are preopened: EBADF for a closed fd, else ENOTSOCK
      sock_accept: (fd: number) => k.sock_fd(pid, fd),
      sock_recv: (fd: number) => k.sock_fd(pid, fd),
      sock_send: (fd: number) => k.sock_fd(pid, fd),
      sock_shutdown: (fd: number) => k.sock_fd(pid, fd),
    };
  }

  /** The `wasmbox` module's file-system queries (host/sandbox/process.ts documents them). */
  wasmboxImports(): Record<string, (...args: any[]) => number> {
    const k = this.k;
    const pid = this.pid;
    return {
      layer: (p: number, l: number, follow: number, out: number) => {
        this.g();
        out >>>= 0;
        if (!this.ok(out, 32)) return E.FAULT;
        const e = this.path(p, l, Io.PATH1) || k.wasmbox_layer(pid, 3, l >>> 0, follow ? 1 : 0);
        if (e === 0) this.out(Io.STRUCT, out, 32);
        return e;
      },
      statfs: (p: number, l: number, out: number) => {
        this.g();
        out >>>= 0;
        if (!this.ok(out, 56)) return E.FAULT;
        const e = this.path(p, l, Io.PATH1) || k.wasmbox_statfs(pid, 3, l >>> 0);
        if (e === 0) this.out(Io.STRUCT, out, 56);
        return e;
      },
    };
  }

  private readdir(fd: number, buf: number, len: number, cookie: bigint, out: number): number {
    this.g();
    buf >>>= 0;
    len >>>= 0;
    out >>>= 0;
    if (!this.ok(buf, len) || !this.ok(out, 4)) return E.FAULT;
    const k = this.k;
    let total = 0;
    let c = cookie;
    for (;;) {
      const room = len - total;
      const e = k.fd_readdir(this.pid, fd, room, c);
      if (e) {
        if (total > 0) break;
        return e;
      }
      const used = this.res32(Readdir.USED);
      const whole = this.res32(Readdir.WHOLE);
      const eof = this.res32(Readdir.EOF);
      if (used > room || whole > used || used > Io.DATA_SIZE) throw new KernelFault('readdir result out of bounds');
      if (room <= Io.DATA_SIZE || eof) {
        this.out(Io.DATA, buf + total, used);
        total += used;
        break;
      }
      // the guest's buffer is larger than DATA: take the whole records and ask for more
      this.out(Io.DATA, buf + total, whole);
      total += whole;
      if (whole === 0) break;
      this.K.view();
      c = this.K.dv.getBigUint64(this.K.io + Io.RES + 8 * Readdir.COOKIE64, true);
    }
    this.g();
    this.gdv.setUint32(out, total, true);
    return 0;
  }

  private poll(inPtr: number, outPtr: number, nsubs: number, neventsPtr: number): number | Promise<number> {
    this.g();
    inPtr >>>= 0;
    outPtr >>>= 0;
    nsubs >>>= 0;
    neventsPtr >>>= 0;
    if (nsubs === 0) return E.INVAL;
    if (nsubs > 4096 || !this.ok(inPtr, 48 * nsubs) || !this.ok(outPtr, 32 * nsubs) || !this.ok(neventsPtr, 4)) return E.FAULT;
    // clocks: how long each waits, from now (absolute ones against their clock)
    let earliest = Infinity;
    const waits: number[] = [];
    const now = BigInt(Math.round(performance.now() * 1e6));
    const dv = this.gdv;
    for (let i = 0; i < nsubs; i++) {
      const s = inPtr + 48 * i;
      const tag = dv.getUint8(s + 8);
      if (tag > 2) return E.INVAL;
      if (tag !== 0) continue;
      const clock = dv.getUint32(s + 16, true);
      const timeout = dv.getBigUint64(s + 24, true);
      const abs = dv.getUint16(s + 40, true) & 1;
      let ms: number;
      if (abs) {
        const base = clock === 0 ? BigInt(Date.now()) * 1_000_000n : now;
        ms = timeout > base ? Number(timeout - base) / 1e6 : 0;
      } else ms = Number(timeout) / 1e6;
      waits[i] = ms;
      earliest = Math.min(earliest, ms);
    }
    const deadline = performance.now() + earliest;
    // fd subscriptions: a file is always ready; a stream when its read (or write) would not wait.
    // None ready: the guest waits, put aside, for a stream to change or the earliest clock.
    const step = (): number | Promise<number> => {
      const changes: Promise<void>[] = [];
      const nev = this.fdEvents(inPtr, outPtr, nsubs, changes);
      if (nev > 0) {
        this.g();
        this.gdv.setUint32(neventsPtr, nev, true);
        return 0;
      }
      const left = Math.max(0, deadline - performance.now());
      const due = () => this.clocksDue(inPtr, outPtr, nsubs, neventsPtr, waits, earliest);
      // the guest goes idle: a good moment to give freed filestore pages back (kernel/mm/filestore.ts)
      if (left >= 1) this.k.kernel_flush();
      const suspend = this.suspend; // fdEvents gives `changes` only to a guest that can be put aside
      if (changes.length === 0 || !suspend) {
        if (suspend && left > 0) return suspend(left).then(due);
        sleepMs(left);
        return due();
      }
      if (earliest !== Infinity && left === 0) return due();
      const woken = earliest === Infinity ? changes : [...changes, suspend(left)];
      return Promise.race(woken).then(step);
    };
    return step();
  }

  /**
   * The events of the fd subscriptions that are ready now (an error counts as ready), written to
   * outPtr; for a stream that is not, the promise of its next change goes to `changes`.
   */
  private fdEvents(inPtr: number, outPtr: number, nsubs: number, changes: Promise<void>[]): number {
    this.g();
    const dv = this.gdv;
    let nev = 0;
    for (let i = 0; i < nsubs; i++) {
      const s = inPtr + 48 * i;
      const tag = dv.getUint8(s + 8);
      if (tag === 0) continue;
      const fd = dv.getUint32(s + 16, true);
      let errno = this.k.fd_poll(this.pid, fd);
      let nbytes = 1;
      let hangup = false;
      if (errno === 0 && this.streams.poll) {
        const stream = this.k.fd_stream(this.pid, fd);
        if (stream >= 0) {
          const r = this.streams.poll(stream, tag === 2);
          if (r instanceof Promise) {
            // a guest that cannot be put aside is told ready: its call will answer
            if (this.suspend) {
              changes.push(r);
              continue;
            }
          } else ({ nbytes, hangup } = r);
          // a write to a pipe whose reader has gone: the write would fail (EPIPE, or SIGPIPE)
          if (hangup && tag === 2) errno = E.PIPE;
        }
      }
      const ev = outPtr + 32 * nev++;
      dv.setBigUint64(ev, dv.getBigUint64(s, true), true);
      dv.setUint16(ev + 8, errno, true);
      dv.setUint8(ev + 10, tag);
      dv.setBigUint64(ev + 16, BigInt(nbytes), true);
      dv.setUint16(ev + 24, hangup ? 1 : 0, true);
    }
    return nev;
  }

  /** poll_oneoff after its wait: an event for each clock subscription that is due. */
  private clocksDue(inPtr: number, outPtr: number, nsubs: number, neventsPtr: number, waits: number[], earliest: number): number {
    this.g();
    const dv = this.gdv;
    let nev = 0;
    for (let i = 0; i < nsubs; i++) {
      const s = inPtr + 48 * i;
      if (dv.getUint8(s + 8) !== 0 || waits[i] > earliest) continue; // only the clocks that are due
      const ev = outPtr + 32 * nev++;
      dv.setBigUint64(ev, dv.getBigUint64(s, true), true);
      dv.setUint16(ev + 8, 0, true);
      dv.setUint8(ev + 10, 0);
      dv.setBigUint64(ev + 16, 0n, true);
      dv.setUint16(ev + 24, 0, true);
    }
    dv.setUint32(neventsPtr, nev, true);
    return 0;
  }
}
