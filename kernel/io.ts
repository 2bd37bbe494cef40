// The exchange area (layout in abi.ts) and the I/O plan writer.
//
// `io` is allocated once at setup and never moves. The plan writer appends segments to SEGS and
// merges a segment into the previous one when they are contiguous (same kind, adjacent bytes, same
// filestore chunk), so a large sequential write to fresh pages becomes one memcpy in the glue.
import { Io, Page, Plan, Seg } from "./abi";

/** Base of the exchange area. Immutable after setup. */
export let io: usize = 0;

export function ioSetup(): void {
  io = heap.alloc(<usize>Io.SIZE);
  memory.fill(io, 0, <usize>Io.SIZE);
}

let nsegs: u32 = 0;
let planned: u32 = 0;
let lastKind: u32 = 0;
let lastEnd: u32 = 0; // Kmem: the next address
let nextPage: u32 = 0; // Page: where the previous segment ends
let nextOff: u32 = 0;

export function planBegin(): void {
  nsegs = 0;
  planned = 0;
  lastKind = 0;
}

/** Appends a segment { kind, len, a, b } (a plan has room: planRoom). */
// @ts-ignore: decorator
@inline function addSeg(kind: u32, len: u32, a: u32, b: u32): void {
  const s = io + Io.SEGS + (<usize>nsegs << 4);
  store<u32>(s, kind);
  store<u32>(s, len, 4);
  store<u32>(s, a, 8);
  store<u32>(s, b, 12);
  nsegs++;
  lastKind = kind;
}

/** Grows the last segment by `len` bytes (what follows it continues it). */
// @ts-ignore: decorator
@inline function growSeg(len: u32): void {
  const s = io + Io.SEGS + (<usize>(nsegs - 1) << 4);
  store<u32>(s, load<u32>(s, 4) + len, 4);
}

/** Whether another segment can be added. */
// @ts-ignore: decorator
@inline export function planRoom(): bool {
  return nsegs < <u32>Io.MAX_SEGS;
}

export function planBytes(): u32 {
  return planned;
}

/**
 * Appends `len` bytes of filestore page `page` from offset `off` (off + len <= 4096); `fresh` when
 * the page was allocated for this write (Seg.PageNew).
 */
export function planPage(page: u32, off: u32, len: u32, fresh: bool = false): void {
  planned += len;
  const kind: u32 = fresh ? Seg.PageNew : Seg.Page;
  // Merge when this continues the previous segment, unless it starts a new filestore chunk.
  if (lastKind == kind && page == nextPage && off == nextOff && (off != 0 || (page & (<u32>Page.CHUNK_PAGES - 1)) != 0)) growSeg(len);
  else addSeg(kind, len, page, off);
  nextOff = off + len;
  nextPage = page;
  if (nextOff == <u32>Page.SIZE) {
    nextOff = 0;
    nextPage = page + 1;
  }
}

export function planZero(len: u32): void {
  planned += len;
  if (lastKind == Seg.Zero) growSeg(len);
  else addSeg(Seg.Zero, len, 0, 0);
}

export function planKmem(addr: usize, len: u32): void {
  planned += len;
  if (lastKind == Seg.Kmem && <u32>addr == lastEnd) growSeg(len);
  else addSeg(Seg.Kmem, len, <u32>addr, 0);
  lastEnd = <u32>addr + len;
}

export function planStream(stream: u32, len: u32): void {
  planned += len;
  addSeg(Seg.Stream, len, stream, 0);
}

/** Whether the host moves remote files' bytes itself (Seg.Host): kernel_set_host_io. */
export let hostIO: bool = false;
export function setHostIO(on: bool): void {
  hostIO = on;
}

/** A Seg.Host segment: `len` bytes of remote handle `handle` at `off`, moved by the host (see abi.ts). */
export function planHost(handle: u32, off: u64, len: u32): void {
  planned += len;
  addSeg(Seg.Host, len, handle, 0);
  store<u64>(io + Io.RES + (<usize>Plan.HOST_OFF << 2), off);
}

/** Publishes the plan's totals in RES. */
export function planEnd(flags: u32): void {
  store<u32>(io + Io.RES + (<usize>Plan.BYTES << 2), planned);
  store<u32>(io + Io.RES + (<usize>Plan.NSEGS << 2), nsegs);
  store<u32>(io + Io.RES + (<usize>Plan.FLAGS << 2), flags);
}

// @ts-ignore: decorator
@inline export function res32(i: u32, v: u32): void {
  store<u32>(io + Io.RES + (<usize>i << 2), v);
}

// @ts-ignore: decorator
@inline export function res64(i: u32, v: u64): void {
  store<u64>(io + Io.RES + (<usize>i << 3), v);
}
