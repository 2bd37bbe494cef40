// tmpfs regular-file data: the page map from file page index to filestore page, and the read/write
// planners that turn a byte range into an I/O plan (io.ts). Holes read as zeros and use no pages.
//
// Page map. Entries hold filestore page + 1 (0 is a hole).
//  - mapLevels 0: `map` is a direct u32[mapCap] (mapCap 0, 4, 8, ... 1024): files up to 4 MiB.
//  - mapLevels 1: `map` is a usize[mapCap] of leaf pointers (0 = all holes); a leaf is u32[1024] and
//    covers 4 MiB. Growing past 1024 direct entries turns the direct array into leaf 0.
// Invariant (with the allocator's): every filestore byte of a file page past EOF is zero, so
// extending a file never exposes old data. Truncation zeroes the tail of the last partial page.
import { reallocOrAlloc } from "../mm/mem";
import { Page } from "../abi";
import { fs_zero } from "../host";
import { planPage, planRoom, planZero } from "../io";
import { PAGE_NONE, allocDirty, pageAlloc, pageFree, pagesSettle } from "../mm/filestore";
import { Inode } from "../vfs/inode";
import { devCharge, devUncharge } from "./devices";

const LEAF_SHIFT: u32 = 10;
const LEAF_ENTRIES: u32 = 1 << LEAF_SHIFT;
const LEAF_MASK: u32 = LEAF_ENTRIES - 1;

/** Largest file the tmpfs holds (1 TiB); past it writes and truncates fail with EFBIG. */
export const MAX_FILE_SIZE: u64 = <u64>1 << 40;

/**
 * A page for file page `idx` of `n`, counted against its file system's quota (devices.ts), next to
 * the page of file page idx-1 if it can be; PAGE_NONE when full. allocDirty says whether it holds
 * old bytes (mm/filestore.ts): the caller zeroes what it does not write.
 */
function allocFor(n: Inode, idx: u32): u32 {
  if (!devCharge(n.dev)) return PAGE_NONE;
  const before = idx > 0 ? pageGet(n, idx - 1) : 0; // its page + 1: the page after it
  const p = pageAlloc(before != 0 ? before : PAGE_NONE);
  if (p == PAGE_NONE) devUncharge(n.dev);
  return p;
}

// The file pages of the last planned write that got a page with old bytes in it and were left for
// the write to fill whole (u32 file page indexes): if the host stores less than planned, io_abort
// zeroes what was not written (zeroUnwritten).
let unzeroed: usize = 0;
let unzeroedLen: u32 = 0;
let unzeroedCap: u32 = 0;

function noteUnzeroed(idx: u32): void {
  if (unzeroedLen == unzeroedCap) {
    unzeroedCap = unzeroedCap == 0 ? 64 : unzeroedCap << 1;
    unzeroed = reallocOrAlloc(unzeroed, <usize>unzeroedCap << 2);
  }
  store<u32>(unzeroed + (<usize>unzeroedLen << 2), idx);
  unzeroedLen++;
}

/** After a short write: zeroes the bytes from `from` on of the pages the write was to fill whole. */
export function zeroUnwritten(n: Inode, from: u64): void {
  for (let i: u32 = 0; i < unzeroedLen; i++) {
    const idx = load<u32>(unzeroed + (<usize>i << 2));
    const start = <u64>idx << Page.SHIFT;
    if (start + <u64>Page.SIZE <= from) continue;
    const p = pageGet(n, idx);
    const at = from > start ? <u32>(from - start) : 0;
    if (p != 0) fs_zero(p - 1, at, <u32>Page.SIZE - at);
  }
  unzeroedLen = 0;
}

// @ts-ignore: decorator
@inline function freeFor(n: Inode, page: u32): void {
  pageFree(page);
  devUncharge(n.dev);
}

/** The filestore page + 1 holding file page `idx`, or 0 for a hole. */
export function pageGet(n: Inode, idx: u32): u32 {
  if (n.mapLevels == 0) {
    return idx < n.mapCap ? load<u32>(n.map + (<usize>idx << 2)) : 0;
  }
  const leaf = idx >>> LEAF_SHIFT;
  if (leaf >= n.mapCap) return 0;
  const lp = load<usize>(n.map + (<usize>leaf << 2));
  return lp == 0 ? 0 : load<u32>(lp + (<usize>(idx & LEAF_MASK) << 2));
}

/** The address of the map entry for page `idx`, growing the map as needed. */
function pageSlot(n: Inode, idx: u32): usize {
  if (n.mapLevels == 0) {
    if (idx < n.mapCap) return n.map + (<usize>idx << 2);
    if (idx < LEAF_ENTRIES) {
      let cap: u32 = n.mapCap == 0 ? 4 : n.mapCap;
      while (cap <= idx) cap <<= 1;
      n.map = reallocOrAlloc(n.map, <usize>cap << 2);
      memory.fill(n.map + (<usize>n.mapCap << 2), 0, <usize>(cap - n.mapCap) << 2);
      n.mapCap = cap;
      return n.map + (<usize>idx << 2);
    }
    // become two-level: the direct array (grown to a full leaf) is leaf 0
    let leaf0: usize = 0;
    if (n.mapCap > 0) {
      leaf0 = reallocOrAlloc(n.map, <usize>LEAF_ENTRIES << 2);
      memory.fill(leaf0 + (<usize>n.mapCap << 2), 0, <usize>(LEAF_ENTRIES - n.mapCap) << 2);
    }
    n.map = heap.alloc(4 << 2);
    memory.fill(n.map, 0, 4 << 2);
    store<usize>(n.map, leaf0);
    n.mapCap = 4;
    n.mapLevels = 1;
  }
  const leaf = idx >>> LEAF_SHIFT;
  if (leaf >= n.mapCap) {
    let cap = n.mapCap;
    while (cap <= leaf) cap <<= 1;
    n.map = reallocOrAlloc(n.map, <usize>cap << 2);
    memory.fill(n.map + (<usize>n.mapCap << 2), 0, <usize>(cap - n.mapCap) << 2);
    n.mapCap = cap;
  }
  const at = n.map + (<usize>leaf << 2);
  let lp = load<usize>(at);
  if (lp == 0) {
    lp = heap.alloc(<usize>LEAF_ENTRIES << 2);
    memory.fill(lp, 0, <usize>LEAF_ENTRIES << 2);
    store<usize>(at, lp);
  }
  return lp + (<usize>(idx & LEAF_MASK) << 2);
}

/**
 * Plans reading up to `len` bytes at `off` (the caller clamped them to the file size). Returns the
 * bytes planned, which is less than `len` only when the plan ran out of segment room.
 */
export function planRead(n: Inode, off: u64, len: u32): u32 {
  let done: u32 = 0;
  while (done < len && planRoom()) {
    const pos = off + done;
    const idx = <u32>(pos >>> Page.SHIFT);
    const po = <u32>pos & (<u32>Page.SIZE - 1);
    const chunk = min<u32>(len - done, <u32>Page.SIZE - po);
    const p = pageGet(n, idx);
    if (p == 0) planZero(chunk);
    else planPage(p - 1, po, chunk);
    done += chunk;
  }
  return done;
}

/**
 * Plans writing `len` bytes at `off`, allocating pages for holes. Returns the bytes planned: less
 * than `len` if the plan ran out of room or the filestore filled up (then *nospc is set). The
 * caller updates the size. Pages already allocated stay with the file either way.
 */
export function planWrite(n: Inode, off: u64, len: u32, nospc: usize): u32 {
  let done: u32 = 0;
  unzeroedLen = 0;
  while (done < len && planRoom()) {
    const pos = off + done;
    const idx = <u32>(pos >>> Page.SHIFT);
    const po = <u32>pos & (<u32>Page.SIZE - 1);
    const chunk = min<u32>(len - done, <u32>Page.SIZE - po);
    const slot = pageSlot(n, idx);
    let p = load<u32>(slot);
    let fresh = false; // a page new to the filestore (not one reused with its storage): Seg.PageNew
    if (p == 0) {
      const np = allocFor(n, idx);
      if (np == PAGE_NONE) {
        store<u8>(nospc, 1);
        break;
      }
      if (allocDirty) {
        // old bytes: zeroed now where the write will not cover them, else left for the write
        if (chunk != <u32>Page.SIZE) fs_zero(np, 0, <u32>Page.SIZE);
        else noteUnzeroed(idx);
      }
      p = np + 1;
      store<u32>(slot, p);
      fresh = !allocDirty;
    }
    planPage(p - 1, po, chunk, fresh);
    done += chunk;
  }
  return done;
}

/** Allocates pages for [off, off+len) (fd_allocate). Returns false, having kept what it got, if the filestore is full. */
export function allocateRange(n: Inode, off: u64, len: u64): bool {
  if (len == 0) return true;
  const first = <u32>(off >>> Page.SHIFT);
  const last = <u32>((off + len - 1) >>> Page.SHIFT);
  for (let idx = first; idx <= last; idx++) {
    const slot = pageSlot(n, idx);
    if (load<u32>(slot) != 0) continue;
    const np = allocFor(n, idx);
    if (np == PAGE_NONE) return false;
    if (allocDirty) fs_zero(np, 0, <u32>Page.SIZE);
    store<u32>(slot, np + 1);
  }
  return true;
}

/** Frees the pages of file pages >= `fromIdx`. */
function freeFrom(n: Inode, fromIdx: u32): void {
  if (n.map == 0) return;
  freeRange(n, fromIdx);
  pagesSettle();
}

function freeRange(n: Inode, fromIdx: u32): void {
  if (n.mapLevels == 0) {
    for (let i = fromIdx; i < n.mapCap; i++) {
      const at = n.map + (<usize>i << 2);
      const p = load<u32>(at);
      if (p != 0) {
        freeFor(n, p - 1);
        store<u32>(at, 0);
      }
    }
    return;
  }
  for (let leaf = fromIdx >>> LEAF_SHIFT; leaf < n.mapCap; leaf++) {
    const at = n.map + (<usize>leaf << 2);
    const lp = load<usize>(at);
    if (lp == 0) continue;
    const base = leaf << LEAF_SHIFT;
    const start = fromIdx > base ? fromIdx - base : 0;
    for (let i = start; i < LEAF_ENTRIES; i++) {
      const e = lp + (<usize>i << 2);
      const p = load<u32>(e);
      if (p != 0) {
        freeFor(n, p - 1);
        store<u32>(e, 0);
      }
    }
    if (start == 0) {
      heap.free(lp);
      store<usize>(at, 0);
    }
  }
}

/**
 * Sets the size of a tmpfs file: frees pages past the new end and zeroes the new last page's tail
 * (unless `tailIsZero`: the caller knows it was never written, as when a failed write is undone).
 */
export function truncatePages(n: Inode, size: u64, tailIsZero: bool = false): void {
  if (size < n.size) {
    const keep = <u32>((size + <u64>Page.SIZE - 1) >>> Page.SHIFT);
    freeFrom(n, keep);
    const po = <u32>size & (<u32>Page.SIZE - 1);
    if (po != 0 && !tailIsZero) {
      const p = pageGet(n, <u32>(size >>> Page.SHIFT));
      if (p != 0) {
        const oldEnd = n.size - (size & ~(<u64>Page.SIZE - 1));
        const end = oldEnd < <u64>Page.SIZE ? <u32>oldEnd : <u32>Page.SIZE;
        if (end > po) fs_zero(p - 1, po, end - po);
      }
    }
  }
  n.size = size;
}

/** Frees all data of a tmpfs file and its page map. */
export function freeFileData(n: Inode): void {
  freeFrom(n, 0);
  if (n.map != 0) heap.free(n.map);
  n.map = 0;
  n.mapCap = 0;
  n.mapLevels = 0;
}

/** Maps file page `idx` to filestore page `page` (copy-up fills a file this way). */
export function setPage(n: Inode, idx: u32, page: u32): void {
  store<u32>(pageSlot(n, idx), page + 1);
}
