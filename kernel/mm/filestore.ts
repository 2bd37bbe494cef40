// The filestore page allocator. The filestore is a host-provided region of 4 KiB pages holding the
// file data of the upper tmpfs. The kernel decides which page holds what; the host only copies, and
// bounds-checks every page number it is given (the kernel is untrusted).
//
// Page numbers start at 0. Pages [0, hwm) have been handed out at least once; pages at or above hwm
// are untouched (zero). Freed pages go to `pending`; they are released to the host in batches (the
// host zeroes or punches them, so the host's usage shrinks) and only then join the free stack.
// Before a released page is handed out again the host commits it (a host file reserves its blocks
// again), a batch at a time, into the `ready` stack: a page the kernel hands out always has storage
// behind it, so a write into it cannot fail (or, with a mapped file, fault) for lack of space.
// Invariant: every page on the free and ready stacks, and every page at or above hwm, reads as
// zeros, so a newly allocated page needs no clearing.
//
// The size limit (`limit`, in pages) is set once at setup; allocation past it fails, and callers turn
// that into ENOSPC having changed nothing.
import { reallocOrAlloc } from "./mem";
import { DEBUG } from "../debug";
import { fs_commit, fs_grow, fs_release } from "../host";

const PENDING_BATCH: u32 = 256;
const NONE: u32 = 0xffffffff;

let limit: u32 = 0; // immutable after setup: max pages
let hwm: u32 = 0; // next never-used page
let capacity: u32 = 0; // pages the host filestore currently has
let used: u32 = 0; // pages currently allocated to files

let freeStack: usize = 0; // u32[] of zeroed free pages
let freeLen: u32 = 0;
let freeCap: u32 = 0;

let pending: usize = 0; // u32[PENDING_BATCH] of freed pages not yet released
let pendingLen: u32 = 0;

let ready: usize = 0; // u32[PENDING_BATCH] of released pages committed again
let readyLen: u32 = 0;

export function filestoreSetup(maxPages: u32): void {
  limit = maxPages;
  pending = heap.alloc(<usize>PENDING_BATCH << 2);
  ready = heap.alloc(<usize>PENDING_BATCH << 2);
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

/** Allocates one zeroed page. Returns its number, or NONE (0xffffffff) when the filestore is full. */
export function pageAlloc(): u32 {
  if (readyLen > 0) {
    readyLen--;
    used++;
    return load<u32>(ready + (<usize>readyLen << 2));
  }
  if (freeLen == 0 && pendingLen > 0) flushPending();
  if (freeLen > 0) {
    // commit a batch of released pages (the most recently freed ones)
    const n = min<u32>(freeLen, PENDING_BATCH);
    const from = freeStack + (<usize>(freeLen - n) << 2);
    const got = min<u32>(fs_commit(from, n), n);
    if (got > 0) {
      memory.copy(ready, from, <usize>got << 2);
      // the uncommitted rest stays on the free stack
      memory.copy(from, from + (<usize>got << 2), <usize>(n - got) << 2);
      freeLen -= got;
      readyLen = got - 1;
      used++;
      return load<u32>(ready + (<usize>readyLen << 2));
    }
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

/** Releases pending pages to the host (zero / punch) and moves them to the free stack. */
export function flushPending(): void {
  if (pendingLen == 0) return;
  fs_release(pending, pendingLen);
  if (freeLen + pendingLen > freeCap) {
    let cap = max<u32>(freeCap << 1, 1024);
    while (cap < freeLen + pendingLen) cap <<= 1;
    freeStack = reallocOrAlloc(freeStack, <usize>cap << 2);
    freeCap = cap;
  }
  memory.copy(freeStack + (<usize>freeLen << 2), pending, <usize>pendingLen << 2);
  freeLen += pendingLen;
  pendingLen = 0;
}

export const PAGE_NONE = NONE;
