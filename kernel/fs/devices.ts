// The file systems whose data the kernel itself keeps (in the filestore), by st_dev: the root's
// upper layer (dev 1) and each tmpfs mount (dev TMPFS_DEV + k). For each: whether it is read-only
// (`docker run --read-only` makes the root so; a tmpfs mount may be `ro`), and a tmpfs mount's page
// quota (`size=`), which counts the pages its files hold so that writes past it fail with ENOSPC
// while the rest of the sandbox's filestore stays usable, as a Linux tmpfs of that size does.
//
// Host mounts (bind mounts, the `none` root) are not here: their read-only flag is the gofer's, which
// answers EROFS itself. Everything here is set by the host before any process runs, then changes
// only by page charges.
//
// Layout: MAX_TMPFS slots of { limit u32, used u32, flags u32 } at `slots`.
import { E } from "../wasi/errno";
import { Filetype } from "../wasi/types";
import { IFlag, Inode, inodeAlloc } from "../vfs/inode";

/** st_dev of the root file system's upper layer (and of everything created in it). */
export const ROOT_DEV: u32 = 1;
/** st_dev of tmpfs mount k is TMPFS_DEV + k (bind mounts use 2..): far from both. */
export const TMPFS_DEV: u32 = 0x10000;
const MAX_TMPFS: u32 = 64;
const SLOT: u32 = 12;
const NO_LIMIT: u32 = 0xffffffff;

const enum DevFlag {
  READONLY = 1,
}

let rootFlags: u32 = 0;
let slots: usize = 0;
let tmpfsCount: u32 = 0;

/** Makes the root file system read-only (EROFS for every change; mounts below keep their own rule). */
export function setRootReadOnly(): void {
  rootFlags |= DevFlag.READONLY;
}

/**
 * A new tmpfs root directory (mode bits `mode`) with its own st_dev, at most `limitPages` pages
 * (0xffffffff: only the filestore's own limit), read-only if `readonly`. Null when there are
 * MAX_TMPFS already.
 */
export function tmpfsNew(mode: u32, limitPages: u32, readonly: bool): Inode | null {
  if (slots == 0) {
    slots = heap.alloc(<usize>MAX_TMPFS * SLOT);
    memory.fill(slots, 0, <usize>MAX_TMPFS * SLOT);
  }
  if (tmpfsCount >= MAX_TMPFS) return null;
  const k = tmpfsCount++;
  const s = slots + <usize>k * SLOT;
  store<u32>(s, limitPages);
  store<u32>(s, 0, 4);
  store<u32>(s, readonly ? DevFlag.READONLY : 0, 8);
  const root = inodeAlloc(Filetype.DIRECTORY, mode & 0o7777, 0);
  root.dev = TMPFS_DEV + k;
  root.flags = IFlag.UPPER;
  return root;
}

function slotOf(dev: u32): usize {
  const k = dev - TMPFS_DEV;
  return dev >= TMPFS_DEV && k < tmpfsCount ? slots + <usize>k * SLOT : 0;
}

/** EROFS if objects of file system `dev` may not change, else 0. */
export function devWritable(dev: u32): u32 {
  if (dev == ROOT_DEV) return rootFlags & DevFlag.READONLY ? E.ROFS : 0;
  const s = slotOf(dev);
  return s != 0 && (load<u32>(s, 8) & DevFlag.READONLY) ? E.ROFS : 0;
}

/** Counts one more page for file system `dev`; false (nothing counted) past its quota. */
export function devCharge(dev: u32): bool {
  const s = slotOf(dev);
  if (s == 0) return true;
  const used = load<u32>(s, 4);
  const limit = load<u32>(s);
  if (limit != NO_LIMIT && used >= limit) return false;
  store<u32>(s, used + 1, 4);
  return true;
}

/** Gives back one page of file system `dev`. */
export function devUncharge(dev: u32): void {
  const s = slotOf(dev);
  if (s != 0) store<u32>(s, load<u32>(s, 4) - 1, 4);
}

/** A tmpfs mount's quota and pages in use (for statfs), or false for other file systems. */
export function devQuota(dev: u32, out: usize): bool {
  const s = slotOf(dev);
  if (s == 0) return false;
  store<u32>(out, load<u32>(s));
  store<u32>(out, load<u32>(s, 4), 4);
  return true;
}
