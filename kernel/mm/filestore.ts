// The filestore page allocator. The filestore is a host-provided region of 4 KiB pages holding the
// file data of the upper tmpfs. The kernel decides which page holds what; the host only copies, and
// bounds-checks every page number it is given (the kernel is untrusted).
//
// Page numbers start at 0. Pages [0, hwm) have been handed out at least once; pages at or above hwm
// are untouched and read as zeros. Below hwm a page not in use is in one of two free sets:
//   held   freed by a file and kept as it was: its storage stays (blocks on disk, memory in a memfd)
//          and it still holds the old bytes. Reused first, with no host call at all: a write into
//          it is a plain store, and the kernel zeroes what the write does not cover (allocDirty()).
//   clean  given back to the host (fs_release: punched out of its file, or zeroed): reads as zeros
//          and costs no storage. A write into it goes through the host's file calls again.
// Freeing only moves a page into `held`. Once more than `holdMax` pages are held (256 MiB, or an
// eighth of the size limit if that is less), the held pages at the highest addresses are released
// in one batch until half that many are left (and, after a file gave back its pages, down to half
// as well: pagesSettle), so the host's usage (`du`) lags the guest's by at most holdMax pages, and
// a file deleted and written again reuses its space without a host call.
// Everything held goes back when the guest goes idle (a sleep of a millisecond or more) and when a
// process ends while others go on (a shell's command), through flushPending().
// Releasing from the top lets hwm come down when the pages there are all clean, and the host then
// truncates its file so that even its apparent size (`du -b`) shrinks.
//
// Allocation takes a page for a file's next page index near the one before it (`goal`: the page
// after the file's previous page), so a file written in order gets runs of adjacent pages, which the
// host moves with one copy or one system call each: the goal if it is free, else the lowest held
// page, else the goal or lowest clean page, else a new page at hwm.
//
// The size limit (`limit`, in pages) is set once at setup; allocation past it fails, and callers turn
// that into ENOSPC having changed nothing.
import { DEBUG } from "../debug";
import { fs_grow, fs_release, fs_shrink } from "../host";
import { reallocOrAlloc } from "./mem";

const RELEASE_BATCH: u32 = 1024;
const NONE: u32 = 0xffffffff;
/** Give the host back its file's tail once at least this many pages at the top are free (1 MiB). */
const SHRINK_STEP: u32 = 256;
/** The most pages held back from the host (256 MiB), unless an eighth of the limit is less. */
const HOLD_MAX: u32 = 65536;

let limit: u32 = 0; // immutable after setup: max pages
let holdMax: u32 = 0; // immutable after setup
let hwm: u32 = 0; // pages [0, hwm) have been used
let capacity: u32 = 0; // pages the host filestore currently has
let used: u32 = 0; // pages currently allocated to files

// Two bitmaps of u64 words over [0, hwm), bit set = page in that set. bitWords words each.
let clean: usize = 0;
let held: usize = 0;
let bitWords: u32 = 0;
let cleanCount: u32 = 0;
let heldCount: u32 = 0;
let cleanLow: u32 = 0; // no clean page below word cleanLow
let heldLow: u32 = 0; // no held page below word heldLow

let batch: usize = 0; // u32[RELEASE_BATCH]: pages on their way to fs_release
let batchLen: u32 = 0;

/** Whether the last pageAlloc() gave a held page (old bytes in it: the caller zeroes what it does not write). */
export let allocDirty: bool = false;

export function filestoreSetup(maxPages: u32): void {
  limit = maxPages;
  holdMax = min<u32>(HOLD_MAX, max<u32>(SHRINK_STEP, maxPages >>> 3));
  batch = heap.alloc(<usize>RELEASE_BATCH << 2);
}

export function pagesUsed(): u32 {
  return used;
}

export function pagesLimit(): u32 {
  return limit;
}

/** Pages held back from the host (freed, storage kept). */
export function pagesHeld(): u32 {
  return heldCount;
}

/** Pages that could still be allocated. */
export function pagesFree(): u32 {
  return limit - used;
}

// @ts-ignore: decorator
@inline function bit(set: usize, p: u32): bool {
  return ((load<u64>(set + (<usize>(p >>> 6) << 3)) >>> (p & 63)) & 1) != 0;
}

// @ts-ignore: decorator
@inline function setBit(set: usize, p: u32): void {
  const at = set + (<usize>(p >>> 6) << 3);
  store<u64>(at, load<u64>(at) | (<u64>1 << (p & 63)));
}

// @ts-ignore: decorator
@inline function clearBit(set: usize, p: u32): void {
  const at = set + (<usize>(p >>> 6) << 3);
  store<u64>(at, load<u64>(at) & ~(<u64>1 << (p & 63)));
}

/** The lowest page in a set at or above word `w` (the set is known not to be empty there). */
// @ts-ignore: decorator
@inline function lowest(set: usize, w: u32): u32 {
  while (load<u64>(set + (<usize>w << 3)) == 0) w++;
  return (w << 6) | <u32>ctz(load<u64>(set + (<usize>w << 3)));
}

/** Makes both bitmaps cover [0, hwm). */
function coverHwm(): void {
  const words = (hwm + 63) >>> 6;
  if (words <= bitWords) return;
  const cap = max<u32>(words, bitWords << 1);
  clean = reallocOrAlloc(clean, <usize>cap << 3);
  held = reallocOrAlloc(held, <usize>cap << 3);
  memory.fill(clean + (<usize>bitWords << 3), 0, <usize>(cap - bitWords) << 3);
  memory.fill(held + (<usize>bitWords << 3), 0, <usize>(cap - bitWords) << 3);
  bitWords = cap;
}

/**
 * Allocates one page for file data, near `goal` (a page number, or NONE). Returns its number, or
 * NONE (0xffffffff) when the filestore is full. allocDirty says whether it holds old bytes: if so the
 * caller must zero whatever part of it the write does not cover; otherwise it reads as zeros.
 */
export function pageAlloc(goal: u32 = NONE): u32 {
  let p: u32;
  const goalIn = goal < hwm && goal < (bitWords << 6); // pages past the bitmaps are in neither set
  if (heldCount > 0) {
    if (goalIn && bit(held, goal)) p = goal;
    else {
      p = lowest(held, heldLow);
      heldLow = p >>> 6;
    }
    clearBit(held, p);
    heldCount--;
    allocDirty = true;
  } else if (cleanCount > 0) {
    if (goalIn && bit(clean, goal)) p = goal;
    else {
      p = lowest(clean, cleanLow);
      cleanLow = p >>> 6;
    }
    clearBit(clean, p);
    cleanCount--;
    allocDirty = false;
  } else {
    if (hwm >= limit) return NONE;
    if (hwm >= capacity) {
      // Grow in steps of 1/8 of what we have (at least 256 pages = 1 MiB) to keep host calls rare.
      let want = hwm + max<u32>(256, capacity >> 3);
      if (want > limit || want < hwm) want = limit;
      capacity = fs_grow(want);
      if (hwm >= capacity) return NONE;
    }
    allocDirty = false;
    p = hwm++;
  }
  used++;
  return p;
}

/** Returns a page to the allocator: held, with its bytes, until the held pages pass holdMax. */
export function pageFree(page: u32): void {
  coverHwm();
  if (DEBUG) assert(page < hwm && !bit(held, page) && !bit(clean, page));
  used--;
  setBit(held, page);
  heldCount++;
  if (page >>> 6 < heldLow) heldLow = page >>> 6;
  if (heldCount > holdMax) releaseHeld(holdMax >>> 1);
}

/** Releases held pages to the host, the highest first, until at most `keep` are held. */
export function releaseHeld(keep: u32): void {
  let w = (hwm + 63) >>> 6;
  while (heldCount > keep && w > 0) {
    w--;
    const at = held + (<usize>w << 3);
    let bits = load<u64>(at);
    while (bits != 0 && heldCount > keep) {
      const b = 63 - <u32>clz(bits);
      bits &= ~(<u64>1 << b);
      heldCount--;
      store<u32>(batch + (<usize>batchLen << 2), (w << 6) | b);
      if (++batchLen == RELEASE_BATCH) {
        store<u64>(at, bits);
        flushBatch();
      }
    }
    store<u64>(at, bits);
  }
  if (heldCount == 0) heldLow = 0;
  flushBatch();
}

/**
 * After a file gave back its pages (an unlink, a truncate): at most half of holdMax stays held, the
 * lowest pages, so that the pages freed last, at the top, go back and the host's file can shrink.
 */
export function pagesSettle(): void {
  if (heldCount > holdMax >>> 1) releaseHeld(holdMax >>> 1);
}

/** Hands every held page back to the host now (kernel_flush). */
export function flushPending(): void {
  releaseHeld(0);
}

/** Gives the batch to the host (punch / zero), marks the pages clean, and trims the top. */
function flushBatch(): void {
  if (batchLen == 0) return;
  fs_release(batch, batchLen);
  for (let i: u32 = 0; i < batchLen; i++) {
    const p = load<u32>(batch + (<usize>i << 2));
    setBit(clean, p);
    if (p >>> 6 < cleanLow || cleanCount == 0) cleanLow = p >>> 6;
    cleanCount++;
  }
  batchLen = 0;
  // Clean pages at the very top need not be kept: lower hwm, and let the host shrink its file.
  const before = hwm;
  while (hwm > 0) {
    const p = hwm - 1;
    const w = p >>> 6;
    const at = clean + (<usize>w << 3);
    const bits = load<u64>(at);
    if (!((bits >>> (p & 63)) & 1)) break;
    if (bits == <u64>-1 && (p & 63) == 63) {
      store<u64>(at, 0); // a whole clean word at once
      hwm -= 64;
      cleanCount -= 64;
      continue;
    }
    store<u64>(at, bits & ~(<u64>1 << (p & 63)));
    hwm--;
    cleanCount--;
  }
  if (cleanLow > (hwm >>> 6)) cleanLow = hwm >>> 6;
  if (heldLow > (hwm >>> 6)) heldLow = hwm >>> 6;
  if (before - hwm > 0 && capacity - hwm >= SHRINK_STEP) {
    capacity = fs_shrink(hwm);
  }
}

export const PAGE_NONE = NONE;
