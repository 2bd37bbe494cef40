// Filestore backings (trusted). The filestore holds the upper tmpfs's file data as 4 KiB pages; the
// (untrusted) kernel decides which page holds what, and the host copies bytes in and out. Every page
// number and length the kernel hands over is checked here before any copy.
//
// Geometry: pages are grouped in chunks of Page.CHUNK_PAGES (1 GiB), one ArrayBuffer each, because
// an ArrayBuffer cannot exceed 4 GiB; a kernel segment never crosses a chunk.
//
// Two ways in. View filestores (MemoryFilestore, FileFilestore) hand out each chunk as memory
// (chunk()), and the glue copies through it. Direct-only filestores (`direct: true`; the browser's
// OPFS file, host/web/filestore-opfs.ts) have no memory to hand out: every byte goes through
// readDirect / writeDirect / zeroDirect, each range checked first by directInBounds() below, which
// is exactly as strict as the view path's checks. The glue and the kernel imports pick their path
// once, when they are built (`direct` never changes), so the view path pays nothing for the other.
//
// MemoryFilestore keeps the pages in resizable ArrayBuffers in this process's memory (runsc's
// `--overlay2 root:memory`). It grows on demand, up to `limitPages`.
import { Page } from '../../kernel/abi';

const CHUNK_BYTES = Page.CHUNK_PAGES * Page.SIZE;

export interface Filestore {
  /** Human-readable kind, for --stats. */
  readonly kind: string;
  /** Upper bound on pages (the --size limit). */
  readonly limitPages: number;
  /** Pages currently backed. */
  readonly pages: number;
  /**
   * Direct-only (immutable): the pages are not addressable memory, chunk() always answers undefined,
   * and readDirect, writeDirect and zeroDirect must all be present. Unset for view filestores.
   */
  readonly direct?: boolean;
  /** The byte array of chunk `c`, or undefined if out of range (always, for a direct-only filestore). */
  chunk(c: number): Uint8Array | undefined;
  /** Grows to at least `pages` pages (clamped to the limit); returns the new page count. */
  grow(pages: number): number;
  /** Zeroes (memory) or punches out (file) the given pages. */
  release(pages: Uint32Array): void;
  /** Shrinks to `pages` pages (every page above is free); returns the new page count. */
  shrink(pages: number): number;
  /**
   * Optional: writes src[srcOff, +len) to filestore byte page*4096+off with a system call instead of
   * through the mapping, which gives pages without storage their blocks or fails with ENOSPC (see
   * unbacked). The caller has bounds-checked the range.
   */
  writeDirect?(page: number, off: number, src: Uint8Array, srcOff: number, len: number): void;
  /**
   * Optional: the host file behind this filestore (device and inode), for filestores kept in a file
   * a host path could reach; the gofer serves it under no name (gofer/hosttree.ts HiddenFile).
   */
  hostFile?(): { dev: bigint; ino: bigint } | null;
  /**
   * Optional, view filestores with writeDirect: whether any page of filestore bytes page*4096+off,
   * +len has no storage behind it yet, so that a store through chunk() could fault fatally (SIGBUS
   * on a full disk). Such ranges are written with writeDirect; the others are plain stores.
   */
  unbacked?(page: number, off: number, len: number): boolean;
  /**
   * Optional, view filestores: called before a read or (`write`) store through chunk() of
   * page*4096+off, +len (bounds already checked), so that a host-file filestore can map the pages
   * first (host/filestore/filestore-file.ts, WRITE FAULTS and COLD STORES).
   */
  prefault?(page: number, off: number, len: number, write?: boolean): void;
  /**
   * Optional, view filestores with prefault(): per chunk, a bit per page (page & 7 of byte
   * (page & (CHUNK_PAGES - 1)) >> 3) set when that page can be read or stored through chunk() with
   * nothing done first: it has storage, this process has touched it through its mapping, and no
   * write by system call waits to be mapped. What prefault(), unbacked() and cold() would then
   * conclude for one page, in one test of one bit (the glue's FAST PATH; a method call there cost
   * ~0.1 µs a pwrite on the first pass). A bit may be clear where the page is ready (prefault()
   * sets it), never set where it is not.
   */
  readyBits?: readonly (Uint8Array | undefined)[];
  /**
   * Optional, view filestores with readDirect: whether a read of filestore bytes page*4096+off,
   * +len (bounds checked) is better made by readDirect than through chunk()
   * (host/filestore/filestore-file.ts, LONG READS).
   */
  cold?(page: number, off: number, len: number): boolean;
  /**
   * Direct-only filestores (and view filestores with cold()): copies filestore bytes
   * page*4096+off, +len into dst[dstOff, +len). As for writeDirect, `off` may pass 4096 (the range
   * runs on over consecutive pages) and the caller has checked the whole range (directInBounds()
   * for a direct-only filestore, the chunk view's bounds for a view filestore). Throws (an error
   * with an errno `code`, e.g. EIO) if the backing cannot be read.
   */
  readDirect?(page: number, off: number, dst: Uint8Array, dstOff: number, len: number): void;
  /** Direct-only filestores: zeroes filestore bytes page*4096+off, +len (range checked by the caller). */
  zeroDirect?(page: number, off: number, len: number): void;
  /**
   * Optional, filestores with readyBits: the WebAssembly glue's `page` for a guest's memory, made
   * without JavaScript (host/filestore/filestore-file.ts, NATIVE COPIES): (write, page, off, ptr,
   * len) -> 0 when it has copied a ready page's bytes, 1 when the caller must; null where it cannot
   * be made for that memory.
   */
  nativePage?(memory: WebAssembly.Memory): ((write: number, page: number, off: number, ptr: number, len: number) => number) | null;
  /** Optional: counters for --stats (host calls the filestore made). */
  counters?(): Record<string, number>;
  close(): void;
}

const CHUNK_MASK = Page.CHUNK_PAGES - 1;

/**
 * Whether filestore bytes page*4096+off, +len may be used, for a direct-only filestore of `pages`
 * pages. The same rule the view path applies through its chunk view (`page < pages`, `off < 4096`,
 * `at + len <= chunk.length`): the page exists, the offset is inside it, and the range stays inside
 * that page's chunk and inside the grown size. All arguments are u32 (the kernel's), so the
 * products below are exact.
 */
export function directInBounds(pages: number, page: number, off: number, len: number): boolean {
  return (
    page < pages &&
    off < Page.SIZE &&
    (page & CHUNK_MASK) * Page.SIZE + off + len <= CHUNK_BYTES &&
    page * Page.SIZE + off + len <= pages * Page.SIZE
  );
}

/** A direct-only filestore has all three direct calls (checked once, where the glue is built). */
export function checkDirect(fs: Filestore): boolean {
  if (!fs.direct) return false;
  if (!fs.readDirect || !fs.writeDirect || !fs.zeroDirect) throw new Error(`filestore ${fs.kind}: direct-only without readDirect, writeDirect and zeroDirect`);
  return true;
}

export class MemoryFilestore implements Filestore {
  readonly kind = 'memory';
  readonly limitPages: number;
  pages = 0;
  private readonly chunks: ArrayBuffer[] = [];
  private readonly views: Uint8Array[] = [];

  constructor(limitBytes: number) {
    this.limitPages = Math.floor(limitBytes / Page.SIZE);
  }

  chunk(c: number): Uint8Array | undefined {
    return this.views[c];
  }

  grow(pages: number): number {
    pages = Math.min(Math.max(0, Math.floor(pages)), this.limitPages);
    if (pages <= this.pages) return this.pages;
    try {
      for (let c = 0; c * Page.CHUNK_PAGES < pages; c++) {
        const want = Math.min(pages - c * Page.CHUNK_PAGES, Page.CHUNK_PAGES) * Page.SIZE;
        let buf = this.chunks[c];
        if (!buf) {
          buf = new (ArrayBuffer as any)(0, { maxByteLength: CHUNK_BYTES }) as ArrayBuffer;
          this.chunks[c] = buf;
          this.views[c] = new Uint8Array(buf); // length-tracking view
        }
        if ((buf as any).byteLength < want) (buf as any).resize(want);
      }
      this.pages = pages;
    } catch {
      // out of host memory: keep what we have; the kernel reports ENOSPC
      this.pages = this.backedPages();
    }
    return this.pages;
  }

  private backedPages(): number {
    let n = 0;
    for (const b of this.chunks) n += b.byteLength / Page.SIZE;
    return n;
  }

  release(pages: Uint32Array): void {
    for (let i = 0; i < pages.length; i++) {
      const p = pages[i];
      if (p >= this.pages) continue;
      const v = this.views[p >>> Page.CHUNK_SHIFT];
      const at = (p & (Page.CHUNK_PAGES - 1)) * Page.SIZE;
      v.fill(0, at, at + Page.SIZE);
    }
  }

  shrink(pages: number): number {
    pages = Math.max(0, Math.floor(pages));
    if (pages >= this.pages) return this.pages;
    for (let c = 0; c < this.chunks.length; c++) {
      const want = Math.max(0, Math.min(pages - c * Page.CHUNK_PAGES, Page.CHUNK_PAGES)) * Page.SIZE;
      if ((this.chunks[c] as any).byteLength > want) (this.chunks[c] as any).resize(want);
    }
    this.pages = pages;
    return pages;
  }

  close(): void {
    this.chunks.length = 0;
    this.views.length = 0;
  }
}

/** Parses a size like 512m, 2g, 1048576 (bytes); returns NaN if it does not parse. */
export function parseSize(s: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?$/i.exec(s.trim());
  if (!m) return NaN;
  const mult: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };
  return Math.floor(Number(m[1]) * mult[m[2].toLowerCase()]);
}

/** Filestore.readyBits' bit for `page`. */
export function isReady(bits: readonly (Uint8Array | undefined)[], page: number): boolean {
  const r = bits[page >>> Page.CHUNK_SHIFT];
  return r !== undefined && (r[(page & (Page.CHUNK_PAGES - 1)) >>> 3] & (1 << (page & 7))) !== 0;
}
