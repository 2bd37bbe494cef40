// Exporting the upper layer: the difference between the sandbox's tree and the image's lower tree,
// as a sequence of OCI layer records (the host writes them as a tar; `runsc tar rootfs-upper`).
//
// The walk compares each directory D of the sandbox with the lower directory L at the same path
// (not D's own origin: a renamed directory is compared with whatever the lower has at its new
// place). In "diff" mode it emits a whiteout for every name L has and D lacks, then each child that
// is not the unchanged lower object at that name; a directory that is the lower directory of its
// path is descended into (if it was never loaded, nothing in it changed, and it is skipped). In
// "new" mode (D replaced L, or L has nothing there) everything below is emitted; a directory that
// replaced a lower directory is marked opaque. A changed inode met again under another name is a
// hard link to the first name. Lower hard links whose other names sit in never-loaded directories
// are found by loading the whole tree first, when any multiply-linked lower file was changed.
//
// Records (STRUCT, after export_next): 0 kind u32 (ExportKind), 4 flags u32 (1 = opaque dir),
// 8 mode u32, 12 uid u32, 16 gid u32, 24 mtime ns u64, 32 size u64, 40 pathLen u32,
// 44 targetLen u32; DATA holds the path, then the symlink target or the hard link's first path.
// File data is read with export_read, planned like fd_read. Paths are relative ("etc/motd").
import { GetdentsResp, Stat } from "../../gofer/protocol/messages";
import { ExportKind, Io } from "../abi";
import { io, planBegin, planEnd } from "../io";
import { dAt, dLookup, dname } from "../vfs/dentry";
import { IFlag, Inode, NO_NODE } from "../vfs/inode";
import { E } from "../wasi/errno";
import { Filetype } from "../wasi/types";
import { goferGetdents, resp } from "./gofer";
import { loadLink, lowerLinksChanged, planLowerRead, populate, rootInode } from "./overlay";
import { planRead } from "./tmpfs";
import { reallocOrAlloc } from "../mm/mem";

const PATH_CAP: u32 = 65536 - 512;

@unmanaged
class Frame {
  dir: Inode;
  lower: u32;
  newMode: u32;
  slot: u32;
  pathLen: u32;
  /** Lower listing: records { nameOff u32, nameLen u32, node u32, kind u32 }, names in `lnames`. */
  lents: usize;
  lnames: usize;
  lcount: u32;
  wcursor: u32;
}

let stack: usize = 0; // Frame*[]
let depth: u32 = 0;
let stackCap: u32 = 0;
let path: usize = 0; // PATH_CAP bytes
let cur: Inode | null = null; // the inode of the last FILE record
let seen: usize = 0; // open-addressing table: { inode usize, path usize, len u32 } x seenCap
let seenCap: u32 = 0;
let seenCount: u32 = 0;
const err = memory.data(4);

function top(): Frame {
  return changetype<Frame>(load<usize>(stack + (<usize>(depth - 1) << 2)));
}

/** Loads the lower listing of `lower` into the frame (sorted by name, as the gofer lists). */
function loadListing(f: Frame): u32 {
  f.lcount = 0;
  if (f.lower == NO_NODE) return 0;
  let start: u32 = 0;
  let cap: u32 = 0;
  let namesLen: u32 = 0;
  let namesCap: u32 = 0;
  while (true) {
    const e = goferGetdents(f.lower, start);
    if (e) return e;
    const count = load<u32>(resp + GetdentsResp.Count);
    const next = load<u32>(resp + GetdentsResp.Next);
    let off: usize = GetdentsResp.Entries;
    for (let i: u32 = 0; i < count; i++) {
      const rec = resp + off;
      const nameLen = load<u32>(rec + GetdentsResp.EntNameLen);
      if (f.lcount == cap) {
        cap = cap == 0 ? 16 : cap << 1;
        f.lents = reallocOrAlloc(f.lents, <usize>cap << 4);
      }
      if (namesLen + nameLen > namesCap) {
        namesCap = max<u32>(namesCap << 1, namesLen + nameLen + 256);
        f.lnames = reallocOrAlloc(f.lnames, namesCap);
      }
      memory.copy(f.lnames + namesLen, rec + GetdentsResp.EntName, nameLen);
      const le = f.lents + (<usize>f.lcount << 4);
      store<u32>(le, namesLen);
      store<u32>(le, nameLen, 4);
      store<u32>(le, load<u32>(rec + GetdentsResp.EntNode), 8);
      store<u32>(le, <u32>load<u8>(rec + GetdentsResp.EntStat + Stat.Kind), 12);
      namesLen += nameLen;
      f.lcount++;
      off += (<usize>GetdentsResp.EntName + nameLen + 7) & ~7;
    }
    if (next == GetdentsResp.End) break;
    start = next;
  }
  return 0;
}

/** The lower entry named (name, len) in the frame's listing, or -1 (binary search; byte order). */
function findLower(f: Frame, name: usize, len: u32): i32 {
  let lo: i32 = 0;
  let hi: i32 = <i32>f.lcount - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const le = f.lents + (<usize>mid << 4);
    const ln = f.lnames + load<u32>(le);
    const ll = load<u32>(le, 4);
    let c = memory.compare(ln, name, min<u32>(ll, len));
    if (c == 0) c = <i32>ll - <i32>len;
    if (c == 0) return mid;
    if (c < 0) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

function push(dir: Inode, lower: u32, newMode: u32, pathLen: u32): u32 {
  if (depth == stackCap) {
    stackCap = stackCap == 0 ? 16 : stackCap << 1;
    stack = reallocOrAlloc(stack, <usize>stackCap << 2);
  }
  const f = changetype<Frame>(heap.alloc(offsetof<Frame>()));
  memory.fill(changetype<usize>(f), 0, offsetof<Frame>());
  f.dir = dir;
  f.lower = lower;
  f.newMode = newMode;
  f.pathLen = pathLen;
  store<usize>(stack + (<usize>depth << 2), changetype<usize>(f));
  depth++;
  if (dir.flags & IFlag.UNPOPULATED) {
    const e = populate(dir);
    if (e) return e;
  }
  return newMode ? 0 : loadListing(f);
}

function pop(): void {
  const f = top();
  if (f.lents != 0) heap.free(f.lents);
  if (f.lnames != 0) heap.free(f.lnames);
  heap.free(changetype<usize>(f));
  depth--;
}

/**
 * Writes the path of child `name` of `f` ("dir/name", or "name" at the root; with `whiteout`,
 * "dir/.wh.name") to the path buffer. Returns its length, or 0 if it would be too long.
 */
function childPath(f: Frame, name: usize, len: u32, whiteout: bool): u32 {
  let at = f.pathLen;
  if (at + 5 + len > PATH_CAP) return 0;
  if (at > 0) store<u8>(path + at++, 0x2f);
  if (whiteout) {
    store<u32>(path + at, 0x2e68772e); // ".wh."
    at += 4;
  }
  memory.copy(path + at, name, len);
  return at + len;
}

// --- the hard-link table: inode -> first exported path

function seenFind(n: Inode): usize {
  if (seenCap == 0) return 0;
  let i = (<u32>changetype<usize>(n) >>> 3) & (seenCap - 1);
  while (true) {
    const e = seen + <usize>i * 12;
    const k = load<usize>(e);
    if (k == 0) return 0;
    if (k == changetype<usize>(n)) return e;
    i = (i + 1) & (seenCap - 1);
  }
  return 0;
}

function seenAdd(n: Inode, pathLen: u32): void {
  if ((seenCount + 1) * 2 > seenCap) {
    const old = seen;
    const oldCap = seenCap;
    seenCap = seenCap == 0 ? 64 : seenCap << 1;
    seen = heap.alloc(<usize>seenCap * 12);
    memory.fill(seen, 0, <usize>seenCap * 12);
    seenCount = 0;
    for (let i: u32 = 0; i < oldCap; i++) {
      const e = old + <usize>i * 12;
      if (load<usize>(e) != 0) {
        const ne = seenSlot(changetype<Inode>(load<usize>(e)));
        store<usize>(ne, load<usize>(e));
        store<usize>(ne, load<usize>(e, 4), 4);
        store<u32>(ne, load<u32>(e, 8), 8);
        seenCount++;
      }
    }
    if (old != 0) heap.free(old);
  }
  const e = seenSlot(n);
  const p = heap.alloc(pathLen);
  memory.copy(p, path, pathLen);
  store<usize>(e, changetype<usize>(n));
  store<usize>(e, p, 4);
  store<u32>(e, pathLen, 8);
  seenCount++;
}

function seenSlot(n: Inode): usize {
  let i = (<u32>changetype<usize>(n) >>> 3) & (seenCap - 1);
  while (load<usize>(seen + <usize>i * 12) != 0) i = (i + 1) & (seenCap - 1);
  return seen + <usize>i * 12;
}

function seenClear(): void {
  for (let i: u32 = 0; i < seenCap; i++) {
    const e = seen + <usize>i * 12;
    if (load<usize>(e) != 0) heap.free(load<usize>(e, 4));
  }
  if (seen != 0) heap.free(seen);
  seen = 0;
  seenCap = 0;
  seenCount = 0;
}

// --- the set of multiply-linked files that the layer holds under some name (the dry pass)

let dry = false;
let linked: usize = 0; // open addressing, Inode pointers
let linkedCap: u32 = 0;
let linkedCount: u32 = 0;

function linkedSlot(n: Inode): usize {
  let i = (<u32>changetype<usize>(n) >>> 3) & (linkedCap - 1);
  while (true) {
    const at = linked + (<usize>i << 2);
    const k = load<usize>(at);
    if (k == 0 || k == changetype<usize>(n)) return at;
    i = (i + 1) & (linkedCap - 1);
  }
  return 0;
}

function linkedHas(n: Inode): bool {
  return linkedCap != 0 && load<usize>(linkedSlot(n)) != 0;
}

function linkedAdd(n: Inode): void {
  if ((linkedCount + 1) * 2 > linkedCap) {
    const old = linked;
    const oldCap = linkedCap;
    linkedCap = linkedCap == 0 ? 64 : linkedCap << 1;
    linked = heap.alloc(<usize>linkedCap << 2);
    memory.fill(linked, 0, <usize>linkedCap << 2);
    for (let i: u32 = 0; i < oldCap; i++) {
      const k = load<usize>(old + (<usize>i << 2));
      if (k != 0) store<usize>(linkedSlot(changetype<Inode>(k)), k);
    }
    if (old != 0) heap.free(old);
  }
  const at = linkedSlot(n);
  if (load<usize>(at) == 0) {
    store<usize>(at, changetype<usize>(n));
    linkedCount++;
  }
}

function linkedClear(): void {
  if (linked != 0) heap.free(linked);
  linked = 0;
  linkedCap = 0;
  linkedCount = 0;
}

// --- records

function record(kind: u32, flags: u32, n: Inode | null, pathLen: u32, target: usize, targetLen: u32): u32 {
  const s = io + Io.STRUCT;
  memory.fill(s, 0, 48);
  store<u32>(s, kind);
  store<u32>(s, flags, 4);
  if (n !== null) {
    store<u32>(s, n.mode, 8);
    store<u32>(s, n.uid, 12);
    store<u32>(s, n.gid, 16);
    store<u64>(s, n.mtime, 24);
    store<u64>(s, kind == ExportKind.FILE ? n.size : 0, 32);
  }
  store<u32>(s, pathLen, 40);
  store<u32>(s, targetLen, 44);
  memory.copy(io + Io.DATA, path, pathLen);
  if (targetLen) memory.copy(io + Io.DATA + pathLen, target, targetLen);
  store<u32>(io + Io.RES, 1);
  return 0;
}

/** Emits the record for a non-directory at path[0, pathLen). */
function emitNonDir(n: Inode, pathLen: u32): u32 {
  if (n.nlink > 1 && dry) linkedAdd(n);
  if (n.nlink > 1) {
    const e = seenFind(n);
    if (e != 0) return record(ExportKind.HARDLINK, 0, n, pathLen, load<usize>(e, 4), load<u32>(e, 8));
    seenAdd(n, pathLen);
  }
  if (n.kind == Filetype.SYMBOLIC_LINK) {
    const le = loadLink(n);
    if (le) return le;
    return record(ExportKind.SYMLINK, 0, n, pathLen, n.target, <u32>n.size);
  }
  cur = n;
  return record(ExportKind.FILE, 0, n, pathLen, 0, 0);
}

/** Loads every directory of the tree (see the header: lower hard links). */
function populateAll(): u32 {
  let todo = heap.alloc(64 << 2);
  let cap: u32 = 64;
  let len: u32 = 1;
  store<usize>(todo, changetype<usize>(rootInode));
  let err: u32 = 0;
  while (len > 0 && err == 0) {
    len--;
    const d = changetype<Inode>(load<usize>(todo + (<usize>len << 2)));
    if (d.flags & IFlag.UNPOPULATED) err = populate(d);
    for (let s: u32 = 0; s < d.entsLen && err == 0; s++) {
      const de = dAt(d, s);
      if (de === null || de.inode.kind != Filetype.DIRECTORY) continue;
      if (len == cap) {
        cap <<= 1;
        todo = heap.realloc(todo, <usize>cap << 2);
      }
      store<usize>(todo + (<usize>len << 2), changetype<usize>(de.inode));
      len++;
    }
  }
  heap.free(todo);
  return err;
}

function begin(): u32 {
  while (depth > 0) pop();
  seenClear();
  cur = null;
  return push(rootInode, rootInode.lowerNode, rootInode.lowerNode == NO_NODE ? 1 : 0, 0);
}

export function exportBegin(): u32 {
  if (path == 0) path = heap.alloc(PATH_CAP);
  linkedClear();
  if (lowerLinksChanged) {
    // Some file of the image with several names changed, or moved with its directory: every
    // name of such a file must be in the layer (as hard links), even names that look unchanged.
    // Load the whole tree, and find those files with a first, dry pass.
    let e = populateAll();
    if (e) return e;
    dry = true;
    e = begin();
    while (e == 0) {
      e = exportNext();
      if (e == 0 && load<u32>(io + Io.RES) == 0) break;
    }
    dry = false;
    if (e) return e;
  }
  return begin();
}

/** The next record, in STRUCT/DATA with RES[0] = 1; RES[0] = 0 at the end. */
export function exportNext(): u32 {
  store<u32>(io + Io.RES, 0);
  while (depth > 0) {
    const f = top();
    // whiteouts first: lower names this directory no longer has
    while (f.wcursor < f.lcount) {
      const le = f.lents + (<usize>f.wcursor << 4);
      f.wcursor++;
      const name = f.lnames + load<u32>(le);
      const len = load<u32>(le, 4);
      if (dLookup(f.dir, name, len) !== null) continue;
      const pl = childPath(f, name, len, true);
      if (pl == 0) return E.NAMETOOLONG;
      return record(ExportKind.WHITEOUT, 0, null, pl, 0, 0);
    }
    const dir = f.dir;
    while (f.slot < dir.entsLen) {
      const d = dAt(dir, f.slot++);
      if (d === null) continue;
      const c = d.inode;
      const name = dname(d);
      const len = d.nameLen;
      const pl = childPath(f, name, len, false);
      if (pl == 0) return E.NAMETOOLONG;
      if (c.mounted !== null) {
        // a mount point: the directory belongs to the root file system, what is mounted on it does not
        const li0 = f.newMode ? -1 : findLower(f, name, len);
        if (li0 >= 0 && c.lowerNode == load<u32>(f.lents + (<usize>li0 << 4), 8) && !(c.flags & IFlag.UPPER)) continue;
        return record(ExportKind.DIR, 0, c, pl, 0, 0);
      }
      if (f.newMode) {
        if (c.kind == Filetype.DIRECTORY) {
          const e = push(c, NO_NODE, 1, pl);
          if (e) return e;
          return record(ExportKind.DIR, 0, c, pl, 0, 0);
        }
        return emitNonDir(c, pl);
      }
      const li = findLower(f, name, len);
      const lnode: u32 = li < 0 ? NO_NODE : load<u32>(f.lents + (<usize>li << 4), 8);
      const lkind: u32 = li < 0 ? 0 : load<u32>(f.lents + (<usize>li << 4), 12);
      if (c.kind == Filetype.DIRECTORY) {
        if (li >= 0 && lkind == Filetype.DIRECTORY && c.lowerNode == lnode) {
          if (c.flags & IFlag.UNPOPULATED) continue; // never loaded: nothing in it changed
          const e = push(c, lnode, 0, pl);
          if (e) return e;
          if (c.flags & IFlag.UPPER) return record(ExportKind.DIR, 0, c, pl, 0, 0);
          break; // descend
        }
        const e = push(c, NO_NODE, 1, pl);
        if (e) return e;
        return record(ExportKind.DIR, li >= 0 && lkind == Filetype.DIRECTORY ? 1 : 0, c, pl, 0, 0);
      }
      // the unchanged lower file (unless another of its names is in the layer: see exportBegin)
      if (li >= 0 && c.lowerNode == lnode && !(c.flags & IFlag.UPPER) && !(c.nlink > 1 && linkedHas(c))) continue;
      return emitNonDir(c, pl);
    }
    if (top() == f && f.slot >= dir.entsLen) pop();
  }
  seenClear();
  return 0;
}

/** Plans reading `len` bytes at `off` of the last FILE record (like fd_read). */
export function exportRead(off: u64, len: u32): u32 {
  planBegin();
  const n = cur;
  if (n === null) return E.BADF;
  let done: u32 = 0;
  if (off < n.size) {
    const want = <u32>min<u64>(<u64>len, n.size - off);
    if (n.flags & IFlag.LOWER_DATA) {
      store<u32>(err, 0);
      done = planLowerRead(n, off, want, err);
      if (load<u32>(err)) return load<u32>(err);
    } else {
      done = planRead(n, off, want);
    }
  }
  planEnd(0);
  return 0;
}
