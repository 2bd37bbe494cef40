// The filestore page allocator. The filestore is a host-provided region of 4 KiB pages holding the
// file data of the upper tmpfs. The kernel decides which page holds what; the host only copies, and
// bounds-checks every page number it is given (the kernel is untrusted).
//
// Page numbers start at 0. Pages [0, hwm) have been handed out at least once; pages at or above hwm
// are untouched. A freed page goes to `pending`; pending pages are released to the host in batches
// (the host zeroes them, or punches them out of its file so that its disk usage shrinks) and then
// marked free in a bitmap. Allocation takes the lowest free page, so that data stays packed at the
// bottom; when the pages at the top are all free, hwm comes down and the host truncates its file, so
// that even its apparent size (`du -b`) shrinks.
//
// Invariant: every free page, and every page at or above hwm, reads as zeros, so a newly allocated
// page needs no clearing.
//
// The size limit (`limit`, in pages) is set once at setup; allocation past it fails, and callers turn
// that into ENOSPC having changed nothing.
import { DEBUG } from "../debug";
import { fs_grow, fs_release, fs_shrink } from "../host";
import { reallocOrAlloc } from "./mem";

const PENDING_BATCH: u32 = 256;
const NONE: u32 = 0xffffffff;
/** Give the host back its file's tail once at least this many pages at the top are free (1 MiB). */
const SHRINK_STEP: u32 = 256;

let limit: u32 = 0; // immutable after setup: max pages
let hwm: u32 = 0; // pages [0, hwm) have been used
let capacity: u32 = 0; // pages the host filestore currently has
let used: u32 = 0; // pages currently allocated to files

let bitmap: usize = 0; // u64 words; bit set = page free (released)
let bitWords: u32 = 0;
let freeCount: u32 = 0;
let lowWord: u32 = 0; // no free page below word lowWord

let pending: usize = 0; // u32[PENDING_BATCH] of freed pages not yet released
let pendingLen: u32 = 0;

export function filestoreSetup(maxPages: u32): void {
  limit = maxPages;
  pending = heap.alloc(<usize>PENDING_BATCH << 2);
}

export function pagesUsed(): u32 {
  return used;
}

export function pagesLimit(): u32 {
  return limit;
}

/** Pages that could still be allocated. */
export function pagesFree(): u32 {
  return limit - used;
}

// @ts-ignore: decorator
@inline function word(i: u32): usize {
  return bitmap + (<usize>i << 3);
}

/** Allocates one zeroed page. Returns its number, or NONE (0xffffffff) when the filestore is full. */
export function pageAlloc(): u32 {
  if (freeCount == 0 && pendingLen > 0) flushPending();
  if (freeCount > 0) {
    let w = lowWord;
    while (load<u64>(word(w)) == 0) w++;
    const bits = load<u64>(word(w));
    const b = <u32>ctz(bits);
    store<u64>(word(w), bits & (bits - 1));
    lowWord = w;
    freeCount--;
    used++;
    return (w << 6) | b;
  }
  if (hwm >= limit) return NONE;
  if (hwm >= capacity) {
    // Grow in steps of 1/8 of what we have (at least 256 pages = 1 MiB) to keep host calls rare.
    let want = hwm + max<u32>(256, capacity >> 3);
    if (want > limit || want < hwm) want = limit;
    capacity = fs_grow(want);
    if (hwm >= capacity) return NONE;
  }
  used++;
  return hwm++;
}

/** Returns a page to the allocator. Its contents are released to the host in a batch. */
export function pageFree(page: u32): void {
  if (DEBUG) assert(page < hwm);
  used--;
  store<u32>(pending + (<usize>pendingLen << 2), page);
  if (++pendingLen == PENDING_BATCH) flushPending();
}

/** Releases pending pages to the host (zero / punch), marks them free, and trims the top. */
export function flushPending(): void {
  if (pendingLen == 0) return;
  fs_release(pending, pendingLen);
  const words = (hwm + 63) >>> 6;
  if (words > bitWords) {
    const cap = max<u32>(words, bitWords << 1);
    bitmap = reallocOrAlloc(bitmap, <usize>cap << 3);
    memory.fill(word(bitWords), 0, <usize>(cap - bitWords) << 3);
    bitWords = cap;
  }
  for (let i: u32 = 0; i < pendingLen; i++) {
    const p = load<u32>(pending + (<usize>i << 2));
    const w = p >>> 6;
    store<u64>(word(w), load<u64>(word(w)) | (<u64>1 << (p & 63)));
    if (w < lowWord) lowWord = w;
  }
  freeCount += pendingLen;
  pendingLen = 0;
  // Free pages at the very top need not be kept: lower hwm, and let the host shrink its file.
  const before = hwm;
  while (hwm > 0) {
    const p = hwm - 1;
    const w = p >>> 6;
    const bits = load<u64>(word(w));
    const bit = <u64>1 << (p & 63);
    if (!(bits & bit)) break;
    if (bits == <u64>-1 && (p & 63) == 63) {
      store<u64>(word(w), 0); // a whole free word at once
      hwm -= 64;
      freeCount -= 64;
      continue;
    }
    store<u64>(word(w), bits & ~bit);
    hwm--;
    freeCount--;
  }
  if (lowWord > (hwm >>> 6)) lowWord = hwm >>> 6;
  if (before - hwm > 0 && capacity - hwm >= SHRINK_STEP) {
    capacity = fs_shrink(hwm);
  }
}

export const PAGE_NONE = NONE;
