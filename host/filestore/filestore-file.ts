// Host-file-backed filestores (trusted): the upper layer's file data lives in a host file that is
// mapped into this process (MAP_SHARED), so it counts as page cache / shmem, not as the process's
// anonymous memory, and freed pages are punched out of the file so host usage shrinks. The three
// backings are runsc's:
//
//   memfd         an anonymous memory file (memfd_create); what `--overlay2 root:memory` can use
//   dir=/abs/dir  a file created in that directory and unlinked at once (disk-backed, invisible)
//   self          `.wasmbox.filestore.<sandbox id>` inside the upper directory, kept while the
//                 sandbox runs and deleted by close(); the gofer must hide that name from the guest,
//                 and nothing else may truncate the file while it is mapped (a store past its end
//                 would SIGBUS)
//
// Geometry is MemoryFilestore's (host/filestore/filestore.ts): 4 KiB pages in 1 GiB chunks, one ArrayBuffer
// per chunk. grow() extends the file with ftruncate (sparse: no blocks until written) and maps a
// chunk (one mmap of the whole chunk, or of the part under the size limit) when growth first
// reaches it. chunk(c) is a view of exactly the grown part of that chunk, so no view ever reaches
// past the end of the file (which would SIGBUS); the glue's `at + len <= chunk.length` check and
// `page < pages` check both hold. release() punches the pages out, one fallocate per run of
// adjacent pages; where the file system cannot punch holes it zeroes them through the mapping, so
// freed pages always read as zeros (the kernel allocator's invariant).
//
// WRITE FAULTS. A store into a page of a MAP_SHARED file mapping that is not mapped writable takes
// a fault whose page_mkwrite costs ~10 us on ext4 here: a random 4 KiB pwrite over data that went
// in by system call (writeDirect) cost ~20 us. Mapping such pages writable in bulk
// (MADV_POPULATE_WRITE) costs ~0.3 us a page, but only while they are not mapped at all: once a
// read has mapped them read-only, upgrading costs the same ~10 us a page. Doing it at every
// writeDirect made fsstress (which mostly writes data once and deletes it) slower. So it is lazy:
// writeDirect marks the pages it wrote (a bit each), and the first read or store through the
// mapping that touches a 64-page cluster with marked pages (prefault(), called by the glue before it
// copies) maps those pages writable in one call per run, clears their marks, and counts them touched
// and (where they have storage) ready, so that the next copies into any page of the cluster need
// nothing first (a random 4 KiB pwrite after a 1 GiB write and re-read: 1.7 µs the first time
// when only the page asked for was marked, 0.87-1.07 with the cluster). Released pages lose
// their marks, so a hole is never populated (which would allocate its blocks again). Pages the host
// writes back later (after ~30 s, or on fsync) are write-protected again and pay the fault once
// more. Not for memfd: shmem write faults are cheap.
//
// LONG READS. A read of 16 KiB or more whose pages this process has not all touched through the
// mapping is made by system call (readDirect, pread straight into the guest's memory), not through
// the mapping: the first touch of a page through a mapping costs 4-12 us here (above), a pread
// ~1.6 us a call plus a copy, so re-reading 1 GiB just written went at 0.6-0.8 GB/s through the
// mapping and goes at 10-20 GB/s by pread. The host keeps a bit per page touched through the mapping
// (`touched`, set by prefault(), cleared where release() punches or shrink() cuts, since that unmaps
// them), so long reads of pages already mapped stay plain copies. Short reads still go through the
// mapping and map their pages: a page read in small pieces is likely read again, and then it costs a
// copy. Writes into pages that have storage stay stores, cold or not: a file deleted and written
// again takes its held pages back with no host call.
//
// A memfd's long reads and stores go through the mapping, all the same: its pages need no write
// notification, so one madvise(MADV_POPULATE_READ) per run of pages not touched yet maps them all
// writable at ~0.25 us a page (1 GiB in 66 ms), and the pages stay mapped for whatever comes next.
// A C program re-reading 1 GiB of a memfd in 1 MiB reads: 4.9-5.9 GB/s by pread, 5.5-6.5 GB/s
// populating and copying; 200,000 random 4 KiB stores after it, 0.72-1.07 us each after the
// preads (each first touch a fault), 0.45-0.68 after the populating. Not for a file on a disk: there
// a page mapped by a read is mapped read-only and its first store costs ~10-20 us (WRITE FAULTS),
// and populating for writing would dirty every page read (a page written back since costs the
// same ~10 us again), so a disk file's long reads stay preads.
//
// COLD STORES. A store to a page not mapped yet costs more than a load followed by the store (a
// 4 KiB store into a memfd page: 11.7 us, against 6.7; into an ext4 file: 6.1 against 4.0; a C
// program, random pages of 1 GiB), so prefault() reads a byte of each such page before a store.
//
// NATIVE COPIES. The WebAssembly glue's copy of one page's bytes (its `page`) is the addon's
// pageCopy where the addon has it (nativePage()): the addon keeps a record of the page count and,
// per chunk, the mapping and ready bitmap, which this class updates wherever they change (grow,
// shrink, close: the record forgets every mapping before one is unmapped), and copies exactly
// where the glue's JavaScript would (page below the count, its ready bit set, the range inside the
// page), answering "not mine" for the rest. What it adds is how it stores: a whole page (2 KiB or
// more) into a page it has not copied lately goes by non-temporal stores, which skip reading the
// lines first and do not leave them draining behind the kernel's next stores. 4 KiB random pwrites
// over 1 GiB in root:memory: 1.07-1.15 µs a call by the JavaScript copy, 0.63-0.67 by the addon's
// (the same copy by memcpy in the addon: 1.15-1.37; wasmbox_native.c, STREAMED STORES, has the C
// figures and why pages copied lately are stored the usual way).
//
// FALLBACK. chunk() hands out memory views, so a pread/pwrite path cannot implement this interface.
// When the addon is not available (FileFilestore.available() is false; the reason comes from
// FileFilestore.unavailableReason()), the caller uses a MemoryFilestore instead and reports
// "fallback: memory (addon not built: <reason>)": openFilestore() below does exactly that and
// returns the note for --stats. The fallback is never silent.
//
// STORAGE FIRST (ENOSPC, never SIGBUS). A store into a hole of a MAP_SHARED file mapping needs a
// block, and when the file system (or, for memfd, memory) is full the host kernel answers with
// SIGBUS, which would kill Node. So this side, not the untrusted kernel, keeps a bit per page that
// has no storage (`holes`), and a store goes through the mapping only where every page it touches
// has storage; anything else is written by system call (writeDirect), which fails with ENOSPC and
// gives the page its block. Grown pages are holes; release() punches pages out, holes again. The
// kernel reuses most freed pages before releasing them (kernel/mm/filestore.ts), and those keep
// their storage, so a rewrite into them is a plain store.
//
// FIRST TOUCH. Pages new to the filestore (Seg.PageNew) are written by system call even where a
// reservation gave them storage: on the machines measured here (a VM with shadow page tables), the
// first store to a page through a mapping costs 5-12 us (a fault, and the hypervisor's), a write by
// system call into the page cache ~2 us a page, and a store to a page already mapped is a memcpy.
// `reserve: true` (not the default) reserves grown pages with one fallocate and maps them in bulk
// (MADV_POPULATE_WRITE) instead; it measured slower here (bench/results/analysis.md).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Page } from '../../kernel/abi';
import { isReady, MemoryFilestore, type Filestore } from './filestore';
import { loadNative, type NativeAddon, type PageCopy, type PageStore } from '../../native/index';

const CHUNK_BYTES = Page.CHUNK_PAGES * Page.SIZE;
/** Chunks the addon's page copy serves (4 TiB); pages past them are copied by the glue's JavaScript. */
const MAX_NATIVE_CHUNKS = 4096;
/** Reads this long or longer go by system call where their pages are not all mapped (LONG READS). */
const LONG_READ = 16384;

export interface FileFilestoreOptions {
  /** Reserve and map grown pages (fallocate + MADV_POPULATE_WRITE); default: holes, filled by system call (FIRST TOUCH). */
  reserve?: boolean;
  /** Offer the glue the addon's page copy (NATIVE COPIES); default: where the addon has it, unless WASMBOX_PAGE_COPY=js. */
  nativeCopies?: boolean;
}

/** Every self-backed filestore's name (and its lock file's) starts with this; the guest never sees them. */
export const SELF_PREFIX = '.wasmbox.filestore.';

/** Name of the self-backed filestore file inside the upper directory. */
export function selfFileName(sandboxId: string): string {
  return `${SELF_PREFIX}${sandboxId}`;
}

function addon(): NativeAddon {
  const n = loadNative();
  if (!n.addon) throw new Error(`filestore: native addon unavailable: ${n.reason}`);
  return n.addon;
}

export class FileFilestore implements Filestore {
  readonly kind: string;
  readonly limitPages: number;
  pages = 0;
  /** The self-backed file's path (deleted at close), or null. */
  readonly path: string | null;
  /** fallocate calls made by release() (one per run of adjacent pages), and pages released. */
  punchCalls = 0;
  releasedPages = 0;
  /** False once the file system refused to punch holes (release() then zeroes instead). */
  punchSupported = true;

  private fd: number;
  /** The file's device and inode (null for a memfd, which no path reaches). */
  private readonly identity: { dev: bigint; ino: bigint } | null;
  private readonly native: NativeAddon;
  private readonly reserve: boolean;
  private readonly maps: ArrayBuffer[] = [];
  private readonly views: (Uint8Array | undefined)[] = [];
  private closed = false;
  /** Whether pages written by system call are pre-mapped before stores (see WRITE FAULTS). */
  private populate: boolean;
  /** A memfd's long ranges map their untouched pages in bulk (LONG READS); false where the kernel cannot. */
  private bulkMap: boolean;
  /** populateRead calls made by bulkMap (for --stats). */
  bulkMapCalls = 0;
  /** Where prefault()'s loads go, so that no compiler drops them (COLD STORES). */
  private sink = 0;
  /** Whether the addon reads into a given buffer (readDirect; an older addon has no preadInto). */
  private readonly preadOk: boolean;
  /** Per chunk, a bit per page: written by writeDirect and not yet mapped writable by prefault(). */
  private readonly written: (Uint8Array | undefined)[] = [];
  /** Per chunk, a bit per page: touched through this process's mapping since last punched (LONG READS). */
  private readonly touched: (Uint8Array | undefined)[] = [];
  /** Per chunk, a bit per page: no storage behind it (see STORAGE FIRST). */
  private readonly holes: (Uint8Array | undefined)[] = [];
  /**
   * Per chunk, a bit per page: ready for a plain copy (Filestore.readyBits). Set by prefault() for
   * the pages it touched that have storage and no write by system call waiting; cleared wherever a
   * page gets a hole, such a write, or loses its mapping (markHoles, mark, release, shrink).
   */
  readonly readyBits: (Uint8Array | undefined)[] = [];
  /** Whether a write into part of a page gives the whole page storage (blocks of whole pages). */
  private readonly wholePages: boolean;
  /** Storage reservations made by grow(). */
  reserveCalls = 0;
  /** The addon's record of the pages, mappings and ready bits, for its page copy (NATIVE COPIES); null without. */
  private readonly copies: PageStore | null;

  /** Whether host-file-backed filestores can be used here (the addon loaded). */
  static available(): boolean {
    return loadNative().addon !== null;
  }

  /** Why available() is false, or null. */
  static unavailableReason(): string | null {
    return loadNative().reason;
  }

  /** A memfd_create file (anonymous shared memory). */
  static memfd(limitBytes: number, opts: FileFilestoreOptions = {}): FileFilestore {
    const n = addon();
    const fd = n.memfdCreate('wasmbox-filestore');
    return new FileFilestore(n, fd, 'file:memfd', null, limitBytes, opts);
  }

  /** A file created in `dir` (absolute) and unlinked at once. */
  static inDir(dir: string, limitBytes: number, opts: FileFilestoreOptions = {}): FileFilestore {
    const n = addon();
    if (!path.isAbsolute(dir)) throw new Error(`filestore: dir=${dir}: not an absolute path`);
    if (!fs.statSync(dir).isDirectory()) throw new Error(`filestore: dir=${dir}: not a directory`);
    const { O_RDWR, O_CREAT, O_EXCL, O_NOFOLLOW } = fs.constants;
    let fd = -1;
    let name = '';
    for (let i = 0; fd < 0; i++) {
      name = path.join(dir, `.wasmbox-filestore-${process.pid}-${Math.random().toString(36).slice(2, 10)}`);
      try {
        fd = fs.openSync(name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
      } catch (e: any) {
        if (e?.code !== 'EEXIST' || i >= 16) throw e;
      }
    }
    try {
      fs.unlinkSync(name);
    } catch (e) {
      fs.closeSync(fd);
      throw e;
    }
    return new FileFilestore(n, fd, `file:dir=${dir}`, null, limitBytes, opts);
  }

  /** `.wasmbox.filestore.<sandboxId>` in `upperDir`, deleted by close(). */
  static self(upperDir: string, sandboxId: string, limitBytes: number, opts: FileFilestoreOptions = {}): FileFilestore {
    const n = addon();
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$/.test(sandboxId)) throw new Error(`filestore: bad sandbox id ${JSON.stringify(sandboxId)}`);
    const file = path.join(path.resolve(upperDir), selfFileName(sandboxId));
    const { O_RDWR, O_CREAT, O_EXCL, O_NOFOLLOW } = fs.constants;
    // O_EXCL: never take over (or follow) a file that is already there.
    const fd = fs.openSync(file, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
    try {
      return new FileFilestore(n, fd, 'file:self', file, limitBytes, opts);
    } catch (e) {
      fs.closeSync(fd);
      fs.rmSync(file, { force: true });
      throw e;
    }
  }

  private constructor(native: NativeAddon, fd: number, kind: string, file: string | null, limitBytes: number, opts: FileFilestoreOptions) {
    this.native = native;
    this.fd = fd;
    this.kind = kind;
    this.path = file;
    this.reserve = !!opts.reserve;
    const st = fs.fstatSync(fd, { bigint: true });
    this.wholePages = Number(st.blksize) % Page.SIZE === 0;
    this.identity = kind === 'file:memfd' ? null : { dev: st.dev, ino: st.ino };
    this.populate = typeof native.populateWrite === 'function' && kind !== 'file:memfd';
    this.bulkMap = typeof native.populateRead === 'function' && kind === 'file:memfd';
    this.preadOk = typeof native.preadInto === 'function';
    this.limitPages = Math.max(0, Math.floor(limitBytes / Page.SIZE));
    const copies = opts.nativeCopies ?? process.env.WASMBOX_PAGE_COPY !== 'js';
    this.copies = copies && native.pageStore && native.pageCopy ? native.pageStore() : null;
  }

  chunk(c: number): Uint8Array | undefined {
    if (!(c >= 0) || c * Page.CHUNK_PAGES >= this.pages) return undefined;
    const want = Math.min(this.pages - c * Page.CHUNK_PAGES, Page.CHUNK_PAGES) * Page.SIZE;
    let v = this.views[c];
    if (!v || v.length !== want) {
      const buf = this.maps[c];
      if (!buf) return undefined;
      v = new Uint8Array(buf, 0, want);
      this.views[c] = v;
    }
    return v;
  }

  grow(pages: number): number {
    if (this.closed) return this.pages;
    pages = Math.min(Math.max(0, Math.floor(pages)), this.limitPages);
    if (!(pages > this.pages)) return this.pages;
    const first = this.pages;
    let reserved = false;
    if (this.reserve) {
      try {
        this.native.fallocate(this.fd, this.native.FALLOC_FL_KEEP_SIZE, first * Page.SIZE, (pages - first) * Page.SIZE);
        reserved = true;
        this.reserveCalls++;
      } catch {
        // no room for all of it now (or no fallocate here): the new pages are holes, written by system call
      }
    }
    try {
      this.native.ftruncate(this.fd, pages * Page.SIZE);
    } catch {
      return this.pages; // too big: the kernel reports ENOSPC
    }
    // Map each chunk the new size reaches into; if a mapping fails, stop at the chunk before it.
    for (let c = 0; c * Page.CHUNK_PAGES < pages; c++) {
      if (this.maps[c]) continue;
      const len = Math.min(CHUNK_BYTES, this.limitPages * Page.SIZE - c * CHUNK_BYTES);
      try {
        this.maps[c] = this.native.mmap(this.fd, c * CHUNK_BYTES, len);
      } catch {
        pages = Math.max(this.pages, c * Page.CHUNK_PAGES);
        break;
      }
      if (this.copies && c < MAX_NATIVE_CHUNKS) {
        const r = (this.readyBits[c] ??= new Uint8Array(Page.CHUNK_PAGES >>> 3));
        this.native.pageStoreChunk!(this.copies, c, this.maps[c], r);
      }
    }
    if (pages > first) {
      this.markHoles(first, pages - 1, !reserved);
      if (reserved) this.populateRange(first, pages - 1);
    }
    this.setPages(pages);
    return pages;
  }

  /** The page count, here and in the addon's record (NATIVE COPIES). */
  private setPages(pages: number): void {
    this.pages = pages;
    if (this.copies) this.native.pageStorePages!(this.copies, pages);
  }

  /** Maps pages first..last writable in bulk (one call per chunk); never fatal. */
  private populateRange(first: number, last: number): void {
    if (!this.native.populateWrite) return;
    for (let p = first; p <= last; ) {
      const c = p >>> Page.CHUNK_SHIFT;
      const end = Math.min(last, (c + 1) * Page.CHUNK_PAGES - 1);
      const buf = this.maps[c];
      try {
        if (buf) this.native.populateWrite(buf, (p & (Page.CHUNK_PAGES - 1)) * Page.SIZE, (end - p + 1) * Page.SIZE);
      } catch {
        // the stores fault the pages in instead
      }
      p = end + 1;
    }
  }

  /** Sets or clears the no-storage bits of pages first..last. */
  private markHoles(first: number, last: number, on: boolean): void {
    if (on) setPageBits(this.readyBits, first, last, false);
    setPageBits(this.holes, first, last, on);
  }

  /**
   * Whether any page of filestore bytes page*4096+off, +len (bounds checked by the caller) has no
   * storage, so that a store there could SIGBUS: the caller then writes by system call instead.
   */
  hostFile(): { dev: bigint; ino: bigint } | null {
    return this.identity;
  }

  unbacked(page: number, off: number, len: number): boolean {
    const last = page + ((off + Math.max(len, 1) - 1) >>> Page.SHIFT);
    for (let p = page; p <= last; p++) {
      const bits = this.holes[p >>> Page.CHUNK_SHIFT];
      if (!bits) {
        p = ((p >>> Page.CHUNK_SHIFT) + 1) * Page.CHUNK_PAGES - 1;
        continue;
      }
      const i = p & (Page.CHUNK_PAGES - 1);
      if (bits[i >>> 3] & (1 << (i & 7))) return true;
    }
    return false;
  }

  release(pages: Uint32Array): void {
    if (this.closed || pages.length === 0) return;
    let list = pages;
    for (let i = 0; i < pages.length; i++) {
      if (pages[i] >= this.pages) {
        list = pages.filter((p) => p < this.pages);
        break;
      }
    }
    if (list.length === 0) return;
    this.releasedPages += list.length;
    if (this.written.length) for (let i = 0; i < list.length; i++) this.mark(list[i], list[i], false);
    if (this.punchSupported) {
      for (let i = 0; i < list.length; i++) {
        setPageBits(this.readyBits, list[i], list[i], false);
        setPageBits(this.touched, list[i], list[i], false);
      }
      try {
        this.punchCalls += this.native.punch(this.fd, list, Page.SIZE);
        for (let i = 0; i < list.length; i++) this.markHoles(list[i], list[i], true);
        return;
      } catch (e: any) {
        // Cannot punch here: zero the pages instead (they must read as zeros either way).
        if (e?.code === 'EOPNOTSUPP' || e?.code === 'ENOSYS') this.punchSupported = false;
      }
    }
    for (let i = 0; i < list.length; i++) {
      const p = list[i];
      if (this.unbacked(p, 0, Page.SIZE)) continue; // a hole reads as zeros already (and a store could SIGBUS)
      const at = (p & (Page.CHUNK_PAGES - 1)) * Page.SIZE;
      this.chunk(p >>> Page.CHUNK_SHIFT)!.fill(0, at, at + Page.SIZE);
    }
  }

  /**
   * Shrinks the file to `pages` pages, so that even its apparent size goes down. The mappings stay
   * (nothing above the new end is touched: every access is bounds-checked against `pages`).
   */
  shrink(pages: number): number {
    if (this.closed) return this.pages;
    pages = Math.max(0, Math.floor(pages));
    if (pages >= this.pages) return this.pages;
    try {
      this.native.ftruncate(this.fd, pages * Page.SIZE);
    } catch {
      return this.pages;
    }
    if (this.written.length) this.mark(pages, this.pages - 1, false);
    setPageBits(this.readyBits, pages, this.pages - 1, false);
    setPageBits(this.touched, pages, this.pages - 1, false);
    this.setPages(pages);
    return pages;
  }

  /** Writes made by system call (writeDirect), and reads (readDirect). */
  directWrites = 0;
  directReads = 0;

  nativePage(memory: WebAssembly.Memory): PageCopy | null {
    return this.copies && !this.closed ? this.native.pageCopy!(this.copies, memory) : null;
  }

  counters(): Record<string, number> {
    const [copies, streamed] = this.copies ? this.native.pageStoreCounts!(this.copies) : [0, 0];
    return {
      filestoreNativeCopies: copies,
      filestoreStreamedCopies: streamed,
      filestoreSyscallWrites: this.directWrites,
      filestoreSyscallReads: this.directReads,
      filestoreBulkMaps: this.bulkMapCalls,
      filestoreReservations: this.reserveCalls,
      filestorePunchCalls: this.punchCalls,
      filestorePagesReleased: this.releasedPages,
    };
  }

  writeDirect(page: number, off: number, src: Uint8Array, srcOff: number, len: number): void {
    this.directWrites++;
    let done = 0;
    const at = page * Page.SIZE + off;
    while (done < len) done += fs.writeSync(this.fd, src, srcOff + done, len - done, at + done);
    if (len === 0) return;
    const first = Math.floor(at / Page.SIZE);
    const last = Math.floor((at + len - 1) / Page.SIZE);
    if (this.populate) this.mark(first, last, true);
    // the pages written now have storage: whole, or (blocks smaller than a page) those written whole
    if (this.wholePages) this.markHoles(first, last, false);
    else if (Math.ceil(at / Page.SIZE) <= Math.floor((at + len) / Page.SIZE) - 1) this.markHoles(Math.ceil(at / Page.SIZE), Math.floor((at + len) / Page.SIZE) - 1, false);
  }

  /** Reads filestore bytes page*4096+off, +len into dst[dstOff, +len) by system call (range checked by the caller). */
  readDirect(page: number, off: number, dst: Uint8Array, dstOff: number, len: number): void {
    this.directReads++;
    const at = page * Page.SIZE + off;
    let done = 0;
    while (done < len) {
      const got = this.native.preadInto!(this.fd, dst, dstOff + done, len - done, at + done);
      if (got <= 0) throw Object.assign(new Error('filestore: read failed'), { code: got < 0 ? errnoCode(-got) : 'EIO' });
      done += got;
    }
  }

  /**
   * Whether a read of filestore bytes page*4096+off, +len should be made by system call
   * (readDirect): it is long (LONG_READ or more) and some page of it has not been touched through
   * the mapping (LONG READS).
   */
  cold(page: number, off: number, len: number): boolean {
    if (len < LONG_READ || !this.preadOk || this.bulkMap) return false;
    const c = page >>> Page.CHUNK_SHIFT;
    const bits = this.touched[c];
    if (!bits) return true;
    const first = page & (Page.CHUNK_PAGES - 1);
    const last = first + ((off + len - 1) >>> Page.SHIFT); // the caller keeps the range inside the chunk
    for (let p = first; p <= last; p++) {
      if ((p & 7) === 0 && p + 7 <= last) {
        if (bits[p >>> 3] !== 0xff) return true;
        p += 7;
      } else if ((bits[p >>> 3] & (1 << (p & 7))) === 0) return true;
    }
    return false;
  }

  /** Sets or clears the written-by-system-call marks of pages first..last (one chunk's bitmap each). */
  private mark(first: number, last: number, on: boolean): void {
    if (on) setPageBits(this.readyBits, first, last, false);
    setPageBits(this.written, first, last, on);
  }

  /**
   * Called by the glue before it reads or (`write`) stores filestore bytes page*4096+off, +len
   * through the mapping (bounds already checked). Maps writable, in one call per run, the pages of
   * the touched 64-page clusters that were written by system call and not mapped since (see WRITE
   * FAULTS); marks the pages touched (LONG READS), and before a store reads a byte of each page not
   * touched before (COLD STORES).
   */
  prefault(page: number, off: number, len: number, write = false): void {
    if (this.populate) this.populateWritten(page, off, len);
    // the pages are about to be touched through the mapping (LONG READS); before a store, each page
    // not touched yet is read first (COLD STORES)
    const c = page >>> Page.CHUNK_SHIFT;
    let t = this.touched[c];
    if (!t) t = this.touched[c] = new Uint8Array(Page.CHUNK_PAGES >>> 3);
    const p0 = page & (Page.CHUNK_PAGES - 1);
    const p1 = p0 + ((off + Math.max(len, 1) - 1) >>> Page.SHIFT);
    const v = this.chunk(c); // for reads too: the glue inlines this, and reads and writes share its code (glue.ts ONE PATH)
    if (this.bulkMap && p1 - p0 >= LONG_READ / Page.SIZE - 1) this.mapRuns(c, t, p0, p1);
    let r = this.readyBits[c];
    if (!r) r = this.readyBits[c] = new Uint8Array(Page.CHUNK_PAGES >>> 3);
    const h = this.holes[c];
    const wr = this.written[c];
    for (let p = p0; p <= p1; p++) {
      const x = p >>> 3;
      const bit = 1 << (p & 7);
      // ready from now on, unless a hole or a write by system call still waits (the copy then goes
      // by system call, or prefault() maps it, next time)
      if ((h === undefined || (h[x] & bit) === 0) && (wr === undefined || (wr[x] & bit) === 0)) r[x] |= bit;
      if (t[x] & bit) continue;
      t[x] |= bit;
      if (write && v) this.sink ^= v[p * Page.SIZE];
    }
  }

  /** Whether page `page` is ready for a plain copy (its readyBits bit). */
  ready(page: number): boolean {
    return isReady(this.readyBits, page);
  }

  /**
   * prefault()'s part for a memfd's long ranges (LONG READS): maps pages p0..p1 of chunk c that are
   * not touched yet and have storage (a hole stays a hole), one populateRead per run, and marks
   * them touched. Never fatal: a page left unmapped is faulted in by the copy.
   */
  private mapRuns(c: number, t: Uint8Array, p0: number, p1: number): void {
    const buf = this.maps[c];
    if (!buf) return;
    const h = this.holes[c];
    let run = -1;
    for (let p = p0; p <= p1 + 1; p++) {
      const bit = 1 << (p & 7);
      const want = p <= p1 && (t[p >>> 3] & bit) === 0 && (h === undefined || (h[p >>> 3] & bit) === 0);
      if (want && run < 0) run = p;
      else if (!want && run >= 0) {
        try {
          this.bulkMapCalls++;
          if (!this.native.populateRead!(buf, run * Page.SIZE, (p - run) * Page.SIZE)) {
            this.bulkMap = false; // an older kernel: long reads go by system call again (cold())
            return;
          }
        } catch {
          return;
        }
        for (let q = run; q < p; q++) t[q >>> 3] |= 1 << (q & 7);
        run = -1;
      }
    }
  }

  /** prefault()'s part for pages written by system call (WRITE FAULTS). */
  private populateWritten(page: number, off: number, len: number): void {
    const c = page >>> Page.CHUNK_SHIFT;
    const bits = this.written[c];
    if (!bits) return;
    const buf = this.maps[c];
    if (!buf) return;
    const first = page & (Page.CHUNK_PAGES - 1);
    const last = Math.min(first + ((off + Math.max(len, 1) - 1) >>> Page.SHIFT), Page.CHUNK_PAGES - 1);
    const top = this.pages - c * Page.CHUNK_PAGES; // pages of this chunk that exist
    for (let base = first & ~63; base <= last; base += 64) {
      const b8 = base >>> 3;
      if ((bits[b8] | bits[b8 + 1] | bits[b8 + 2] | bits[b8 + 3] | bits[b8 + 4] | bits[b8 + 5] | bits[b8 + 6] | bits[b8 + 7]) === 0) continue;
      let run = -1;
      for (let j = base; j <= base + 64; j++) {
        const on = j < base + 64 && j < top && (bits[j >>> 3] & (1 << (j & 7))) !== 0;
        if (on && run < 0) run = j;
        else if (!on && run >= 0) {
          try {
            if (this.native.populateWrite!(buf, run * Page.SIZE, (j - run) * Page.SIZE)) this.mapped(c, run, j - 1);
            else this.populate = false;
          } catch {
            this.populate = false; // never fatal: the mapping still works, with faults
          }
          run = -1;
        }
      }
      bits.fill(0, b8, b8 + 8);
    }
  }

  /**
   * Pages p0..p1 of chunk c (written by system call, their marks cleared) are now mapped writable:
   * touched (LONG READS), and ready for a plain copy where they have storage, so the next copies
   * into any of them, not only the one that asked, need nothing first (a random 4 KiB pwrite after
   * a 1 GiB write and re-read went by the glue's slower path at each page's first store).
   */
  private mapped(c: number, p0: number, p1: number): void {
    const t = (this.touched[c] ??= new Uint8Array(Page.CHUNK_PAGES >>> 3));
    const r = (this.readyBits[c] ??= new Uint8Array(Page.CHUNK_PAGES >>> 3));
    const h = this.holes[c];
    for (let p = p0; p <= p1; p++) {
      const x = p >>> 3;
      const bit = 1 << (p & 7);
      t[x] |= bit;
      if (h === undefined || (h[x] & bit) === 0) r[x] |= bit;
    }
  }

  /** Blocks the file holds (st_blocks * 512), i.e. what `du` counts. */
  allocatedBytes(): number {
    return this.closed ? 0 : fs.fstatSync(this.fd).blocks * 512;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    // the addon's copy forgets every mapping before any is unmapped
    this.setPages(0);
    if (this.copies) this.maps.forEach((m, c) => c < MAX_NATIVE_CHUNKS && this.native.pageStoreChunk!(this.copies!, c, null, null));
    for (const m of this.maps) if (m) this.native.munmap(m);
    this.maps.length = 0;
    this.views.length = 0;
    try {
      // the addon made a memfd's descriptor: it closes it too (fs would warn in a worker thread)
      if (this.kind === 'file:memfd' && this.native.close) this.native.close(this.fd);
      else fs.closeSync(this.fd);
    } finally {
      this.fd = -1;
      if (this.path) fs.rmSync(this.path, { force: true });
    }
  }
}

/** The name of Linux errno `n` (EIO if unknown), as Node's errors carry it in `code`. */
function errnoCode(n: number): string {
  for (const [name, v] of Object.entries(os.constants.errno as Record<string, number>)) if (v === n) return name;
  return 'EIO';
}

/**
 * Sets or clears the bits of pages first..last in a bitmap kept per chunk (a bit per page, a chunk's
 * bytes made at its first set bit; clearing in a chunk that has none does nothing).
 */
function setPageBits(chunks: (Uint8Array | undefined)[], first: number, last: number, on: boolean): void {
  for (let p = first; p <= last; p++) {
    const c = p >>> Page.CHUNK_SHIFT;
    let bits = chunks[c];
    if (!bits) {
      if (!on) {
        p = (c + 1) * Page.CHUNK_PAGES - 1; // nothing set in this chunk
        continue;
      }
      bits = chunks[c] = new Uint8Array(Page.CHUNK_PAGES >>> 3);
    }
    const i = p & (Page.CHUNK_PAGES - 1);
    if (on) bits[i >>> 3] |= 1 << (i & 7);
    else bits[i >>> 3] &= ~(1 << (i & 7));
  }
}

export interface OpenFilestoreOptions extends FileFilestoreOptions {
  limitBytes: number;
  /** For `self`: the host upper directory that holds the file. */
  upperDir?: string;
  /** For `self`: names the file. */
  sandboxId?: string;
}

/**
 * Opens the filestore a spec names: `memory`, `memfd`, `dir=/abs/path` or `self`. A host-file spec
 * without the addon gives a MemoryFilestore and the note "fallback: memory (addon not built: ...)",
 * which the caller must report (--stats); note is null otherwise. Bad specs and host errors (a
 * missing directory, an existing self file) throw.
 */
export function openFilestore(spec: string, opts: OpenFilestoreOptions): { filestore: Filestore; note: string | null } {
  const isDir = spec.startsWith('dir=');
  if (spec !== 'memory' && spec !== 'memfd' && spec !== 'self' && !isDir) {
    throw new Error(`filestore: unknown backing ${JSON.stringify(spec)} (memory, memfd, dir=/abs/path or self)`);
  }
  if (spec === 'memory') return { filestore: new MemoryFilestore(opts.limitBytes), note: null };
  if (!FileFilestore.available()) {
    return { filestore: new MemoryFilestore(opts.limitBytes), note: `fallback: memory (addon not built: ${FileFilestore.unavailableReason()})` };
  }
  if (spec === 'memfd') return { filestore: FileFilestore.memfd(opts.limitBytes, opts), note: null };
  if (isDir) return { filestore: FileFilestore.inDir(spec.slice(4), opts.limitBytes, opts), note: null };
  if (!opts.upperDir || !opts.sandboxId) throw new Error('filestore: self needs an upper directory and a sandbox id');
  return { filestore: FileFilestore.self(opts.upperDir, opts.sandboxId, opts.limitBytes, opts), note: null };
}
