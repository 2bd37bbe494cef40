// Directory entries: the names in the namespace tree.
//
// Each entry is one allocation: the struct, then its name bytes. Entries are found two ways:
//  - by (directory, name) through one global chained hash table (lookups on path walks);
//  - in a directory's stable order through the directory's `ents` array (readdir).
// An entry's cookie is assigned when it is inserted and never changes; `ents` is always sorted by
// cookie, so a readdir cookie finds its place by binary search even after entries come and go
// (fd_readdir cookies survive concurrent creates and deletes: no entry present throughout is lost or
// doubled). Removal leaves a 0 hole in `ents`; holes are squeezed out when they outnumber live
// entries, which bumps the directory's `gen`.
//
//   Dentry: parent Inode | inode Inode | chain Dentry | cookie u64 | hash u32 | nameLen u32 | slot u32 | name bytes...
import { reallocOrAlloc } from "../mm/mem";
import { DEBUG } from "../debug";
import { Inode } from "./inode";

@unmanaged
export class Dentry {
  /** The directory holding this entry. */
  parent: Inode;
  /** What the name refers to. */
  inode: Inode;
  /** Next entry in the same hash bucket. */
  chain: Dentry | null;
  /** Position in the parent's stable order (readdir cookie). Immutable. */
  cookie: u64;
  hash: u32;
  nameLen: u32;
  /** Index in parent.ents. Changes only when the parent's ents are compacted. */
  slot: u32;
}

// @ts-ignore: decorator
@inline export function dname(d: Dentry): usize {
  return changetype<usize>(d) + offsetof<Dentry>();
}

let buckets: usize = 0; // Dentry*[]
let mask: u32 = 0;
let count: u32 = 0;

export function dentryTableSetup(): void {
  mask = 1023;
  buckets = heap.alloc(<usize>(mask + 1) << 2);
  memory.fill(buckets, 0, <usize>(mask + 1) << 2);
}

export function nameHash(dir: Inode, name: usize, len: u32): u32 {
  // FNV-1a over the name, seeded with the directory's address.
  let h: u32 = 2166136261 ^ <u32>changetype<usize>(dir);
  h *= 16777619;
  for (let i: u32 = 0; i < len; i++) {
    h = (h ^ load<u8>(name + i)) * 16777619;
  }
  return h ^ (h >>> 15);
}

export function dLookup(dir: Inode, name: usize, len: u32): Dentry | null {
  const h = nameHash(dir, name, len);
  let d = changetype<Dentry | null>(load<usize>(buckets + (<usize>(h & mask) << 2)));
  while (d !== null) {
    if (d.hash == h && d.parent == dir && d.nameLen == len && memory.compare(dname(d), name, len) == 0) return d;
    d = d.chain;
  }
  return null;
}

function grow(): void {
  const newMask = (mask << 1) | 1;
  const nb = heap.alloc(<usize>(newMask + 1) << 2);
  memory.fill(nb, 0, <usize>(newMask + 1) << 2);
  for (let i: u32 = 0; i <= mask; i++) {
    let d = changetype<Dentry | null>(load<usize>(buckets + (<usize>i << 2)));
    while (d !== null) {
      const next = d.chain;
      const at = nb + (<usize>(d.hash & newMask) << 2);
      d.chain = changetype<Dentry | null>(load<usize>(at));
      store<usize>(at, changetype<usize>(d));
      d = next;
    }
  }
  heap.free(buckets);
  buckets = nb;
  mask = newMask;
}

/** Adds `name` -> `inode` to `dir` (the caller has checked that the name is free). */
export function dInsert(dir: Inode, name: usize, len: u32, inode: Inode): Dentry {
  const p = heap.alloc(offsetof<Dentry>() + len);
  const d = changetype<Dentry>(p);
  d.parent = dir;
  d.inode = inode;
  d.nameLen = len;
  memory.copy(p + offsetof<Dentry>(), name, len);
  d.hash = nameHash(dir, name, len);
  d.cookie = dir.nextCookie++;
  // append to the directory's ordered array
  if (dir.entsLen == dir.entsCap) {
    const cap = dir.entsCap == 0 ? 8 : dir.entsCap << 1;
    dir.ents = reallocOrAlloc(dir.ents, <usize>cap << 2);
    dir.entsCap = cap;
  }
  d.slot = dir.entsLen;
  store<usize>(dir.ents + (<usize>dir.entsLen << 2), p);
  dir.entsLen++;
  dir.live++;
  // hash
  if (++count > mask + 1) grow();
  const at = buckets + (<usize>(d.hash & mask) << 2);
  d.chain = changetype<Dentry | null>(load<usize>(at));
  store<usize>(at, p);
  return d;
}

/** Removes the entry from its directory and frees it. The inode is the caller's business. */
export function dRemove(d: Dentry): void {
  const dir = d.parent;
  const at = buckets + (<usize>(d.hash & mask) << 2);
  let prev: Dentry | null = null;
  let cur = changetype<Dentry | null>(load<usize>(at));
  while (cur !== null && cur !== d) {
    prev = cur;
    cur = cur.chain;
  }
  if (DEBUG) assert(cur === d);
  if (prev === null) store<usize>(at, changetype<usize>(d.chain));
  else prev.chain = d.chain;
  count--;
  store<usize>(dir.ents + (<usize>d.slot << 2), 0);
  dir.live--;
  if (d.slot == dir.entsLen - 1) {
    // trailing holes can simply be dropped
    while (dir.entsLen > 0 && load<usize>(dir.ents + (<usize>(dir.entsLen - 1) << 2)) == 0) dir.entsLen--;
  } else if (dir.entsLen > 32 && dir.live < (dir.entsLen >> 1)) {
    compact(dir);
  }
  heap.free(changetype<usize>(d));
}

function compact(dir: Inode): void {
  let w: u32 = 0;
  for (let r: u32 = 0; r < dir.entsLen; r++) {
    const p = load<usize>(dir.ents + (<usize>r << 2));
    if (p == 0) continue;
    changetype<Dentry>(p).slot = w;
    store<usize>(dir.ents + (<usize>w << 2), p);
    w++;
  }
  dir.entsLen = w;
  dir.gen++;
}

/** The entry at `slot` of `dir`'s order, or null for a hole. */
// @ts-ignore: decorator
@inline export function dAt(dir: Inode, slot: u32): Dentry | null {
  return changetype<Dentry | null>(load<usize>(dir.ents + (<usize>slot << 2)));
}

/** The first slot whose entry has a cookie greater than `cookie` (entsLen if none). */
export function dSeek(dir: Inode, cookie: u64): u32 {
  let lo: u32 = 0;
  let hi: u32 = dir.entsLen;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    // holes: look right for the nearest live entry to compare with
    let m = mid;
    while (m < hi && load<usize>(dir.ents + (<usize>m << 2)) == 0) m++;
    if (m == hi) {
      hi = mid;
      continue;
    }
    if (changetype<Dentry>(load<usize>(dir.ents + (<usize>m << 2))).cookie <= cookie) lo = m + 1;
    else hi = mid;
  }
  return lo;
}

/** Moves entry `d` to (newDir, name): a rename. It gets a new cookie in its new place. */
export function dMove(d: Dentry, newDir: Inode, name: usize, len: u32): Dentry {
  const inode = d.inode;
  dRemove(d);
  return dInsert(newDir, name, len, inode);
}
