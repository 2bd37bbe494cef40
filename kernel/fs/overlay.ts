// The overlay: how objects of the image's read-only lower tree enter the namespace, and copy-up.
//
// Lookup model. The namespace is one tree of inodes (vfs/inode.ts). A directory that came from the
// lower starts UNPOPULATED; the first lookup or listing in it loads all of its lower entries in one
// batched Getdents (with their stats) and from then on the directory is authoritative: a deleted
// lower name is simply gone from it, so whiteouts never need to be consulted or shown, and a merged
// readdir is a plain listing. Lower data and attributes are immutable, so they are cached for the
// life of the sandbox. A hard-linked lower object gets one inode, whichever name finds it first.
//
// Copy-up. Metadata changes and renames need no copy: the inode is already the sandbox's own. Data
// copy-up happens on the first write-like use of a regular file (open for write, truncate,
// allocate). It is a transaction: pages are filled from the lower first, and only when all of them
// are in place does the inode switch to them; on ENOSPC (or a gofer error) every page taken is given
// back and the file still reads from the lower. Open fds keep working throughout, because the inode
// does not change, only where its data lives.
//
// Compare Linux fs/overlayfs/copy_up.c (ovl_copy_up_one) and gVisor fsimpl/overlay/copy_up.go.
import { DEBUG } from "../debug";
import { Chan, GetdentsResp, Msg, OpenFlags, Stat } from "../../gofer/protocol/messages";
import { Page } from "../abi";
import { fs_write, fs_zero } from "../host";
import { planKmem } from "../io";
import { PAGE_NONE, allocDirty, pageAlloc } from "../mm/filestore";
import { dInsert, dLookup } from "../vfs/dentry";
import { IFlag, Inode, NO_NODE, inodeAlloc, inodeFreeStruct, reserveInos } from "../vfs/inode";
import { E } from "../wasi/errno";
import { Filetype } from "../wasi/types";
import { goferClose, goferGetdents, goferMount, goferNodeCall, goferOpen, goferPRead, resp, respLen } from "./gofer";
import { freeFileData, setPage } from "./tmpfs";
import { remoteLoadLink, remoteLookup, remoteLookupForCreate, remoteRelease } from "./remote";

/**
 * lowerMap[node] is the inode showing lower node `node`, or 0, for node < lowerCap. It starts small
 * and doubles as higher node numbers appear, up to the mount's node limit: an image's limit is its
 * entry count, but a host directory's (a rootfs served by the gofer) is only a bound on how many
 * objects it may name, so the map is sized by what the sandbox has actually seen.
 */
let lowerMap: usize = 0;
let lowerCap: u32 = 0;
/** Lower node numbers are below this (from the mount response). Immutable after mount. */
let lowerLimit: u32 = 0;

const LOWER_MAP_MIN: u32 = 1024;

/** The slot of lower node `node` (< lowerLimit) in lowerMap, growing the map to hold it. */
function lowerSlot(node: u32): usize {
  if (node >= lowerCap) {
    let cap = max<u32>(lowerCap, LOWER_MAP_MIN);
    while (cap <= node) cap = cap > (lowerLimit >>> 1) ? lowerLimit : cap << 1;
    const m = heap.alloc(<usize>cap << 2);
    if (lowerCap) memory.copy(m, lowerMap, <usize>lowerCap << 2);
    memory.fill(m + (<usize>lowerCap << 2), 0, <usize>(cap - lowerCap) << 2);
    if (lowerMap) heap.free(lowerMap);
    lowerMap = m;
    lowerCap = cap;
  }
  return lowerMap + (<usize>node << 2);
}

/** The root directory of the namespace. Immutable after mount. */
export let rootInode: Inode = changetype<Inode>(0);

/** Copy-ups done (data), for statistics. */
export let copyUps: u64 = 0;

function inodeFromStat(node: u32, st: usize): Inode {
  const kind = load<u8>(st + Stat.Kind);
  const n = inodeAlloc(kind, load<u32>(st + Stat.Mode) & 0o7777, <u64>node + 1);
  n.lowerNode = node;
  n.size = kind == Filetype.DIRECTORY ? 0 : load<u64>(st + Stat.Size);
  n.atime = load<u64>(st + Stat.Atime);
  n.mtime = load<u64>(st + Stat.Mtime);
  n.ctime = load<u64>(st + Stat.Ctime);
  n.nlink = load<u32>(st + Stat.Nlink);
  n.uid = load<u32>(st + Stat.Uid);
  n.gid = load<u32>(st + Stat.Gid);
  n.layer = load<u32>(st + Stat.Layer);
  if (kind == Filetype.DIRECTORY) n.flags = IFlag.UNPOPULATED;
  else n.flags = IFlag.LOWER_DATA;
  return n;
}

/** Mounts the image's lower tree (gofer mount 0) as the root. */
export function overlayMount(): u32 {
  const e = goferMount(0);
  if (e) return e;
  const node = load<u32>(resp);
  lowerLimit = load<u32>(resp + 4);
  if (node >= lowerLimit || load<u8>(resp + 8 + Stat.Kind) != Filetype.DIRECTORY) return E.IO;
  reserveInos(<u64>lowerLimit + 1);
  const root = inodeFromStat(node, resp + 8);
  root.parent = root;
  store<usize>(lowerSlot(node), changetype<usize>(root));
  rootInode = root;
  return 0;
}

/** Makes `n` the root of the namespace (a remote root, for `--overlay2 none`). */
export function setRoot(n: Inode): void {
  n.parent = n;
  rootInode = n;
}

/** Creates an empty tmpfs root (no image). */
export function tmpfsMount(): void {
  const root = inodeAlloc(Filetype.DIRECTORY, 0o755, 0);
  root.parent = root;
  root.flags = IFlag.UPPER;
  rootInode = root;
}

/**
 * Loads the lower entries of an UNPOPULATED directory. Idempotent: if a batch fails part-way, the
 * entries already added stay and a later call adds the rest.
 */
export function populate(dir: Inode): u32 {
  let start: u32 = 0;
  while (true) {
    const e = goferGetdents(dir.lowerNode, start);
    if (e) return e;
    const count = load<u32>(resp + GetdentsResp.Count);
    const next = load<u32>(resp + GetdentsResp.Next);
    let off: usize = GetdentsResp.Entries;
    for (let i: u32 = 0; i < count; i++) {
      const rec = resp + off;
      const node = load<u32>(rec + GetdentsResp.EntNode);
      const nameLen = load<u32>(rec + GetdentsResp.EntNameLen);
      const name = rec + GetdentsResp.EntName;
      off += (<usize>GetdentsResp.EntName + nameLen + 7) & ~7;
      if (node >= lowerLimit) return E.IO;
      if (dLookup(dir, name, nameLen) !== null) continue;
      const at = lowerSlot(node);
      let n = changetype<Inode | null>(load<usize>(at));
      if (n === null) {
        n = inodeFromStat(node, rec + GetdentsResp.EntStat);
        store<usize>(at, changetype<usize>(n));
      }
      if (n.kind == Filetype.DIRECTORY) {
        // a directory has one name; a second one would be a gofer bug
        if (n.parent !== null) return E.IO;
        n.parent = dir;
      }
      dInsert(dir, name, nameLen, n);
    }
    if (next == GetdentsResp.End) break;
    if (next <= start) return E.IO;
    start = next;
  }
  dir.flags &= ~IFlag.UNPOPULATED;
  return 0;
}

/** Finds `name` in `dir`, loading the directory's lower entries first if needed (or asking the host, for a remote one). */
export function lookupChild(dir: Inode, name: usize, len: u32, out: usize): u32 {
  if (dir.flags & IFlag.REMOTE) return remoteLookup(dir, name, len, out);
  if (dir.flags & IFlag.UNPOPULATED) {
    const e = populate(dir);
    if (e) return e;
  }
  store<usize>(out, changetype<usize>(dLookup(dir, name, len)));
  return 0;
}

/** lookupChild for a name the caller means to create (see remoteLookupForCreate). */
export function lookupForCreate(dir: Inode, name: usize, len: u32, out: usize): u32 {
  if (dir.flags & IFlag.REMOTE) return remoteLookupForCreate(dir, name, len, out);
  return lookupChild(dir, name, len, out);
}

/** Makes sure a symlink's target is in kernel memory. */
export function loadLink(n: Inode): u32 {
  if (n.flags & IFlag.REMOTE) return remoteLoadLink(n);
  if (n.target != 0 || n.size == 0) return 0;
  if (n.lowerNode == NO_NODE) return E.IO;
  const e = goferNodeCall(Msg.ReadLinkAt, n.lowerNode);
  if (e) return e;
  if (respLen == 0 || respLen > 4095) return E.IO;
  const t = heap.alloc(respLen);
  memory.copy(t, resp, respLen);
  n.target = t;
  n.size = respLen;
  return 0;
}

function openLower(n: Inode): u32 {
  if (n.lowerHandle != NO_NODE) return 0;
  return goferOpen(n.lowerNode, OpenFlags.Read, changetype<usize>(n) + offsetof<Inode>("lowerHandle"));
}

/**
 * Plans reading up to `len` bytes at `off` of a file whose data is in the lower (the caller clamped
 * to the size). The data is fetched into the gofer response buffer, which the plan points at; it
 * stays valid until the next gofer call. Returns the bytes planned, or sets *err.
 */
export function planLowerRead(n: Inode, off: u64, len: u32, err: usize): u32 {
  let e = openLower(n);
  if (e == 0) e = goferPRead(n.lowerHandle, off, min<u32>(len, <u32>Chan.Window));
  if (e) {
    store<u32>(err, e);
    return 0;
  }
  if (respLen == 0) return 0;
  planKmem(resp, respLen);
  return respLen;
}

/** Data copy-up of a regular file (see the header). No-op for files already in the upper layer. */
export function copyUp(n: Inode): u32 {
  if (!(n.flags & IFlag.LOWER_DATA)) return 0;
  if (n.kind == Filetype.SYMBOLIC_LINK) {
    const e = loadLink(n);
    if (e) return e;
    n.flags &= ~IFlag.LOWER_DATA;
    markUpper(n);
    return 0;
  }
  if (DEBUG) assert(n.map == 0);
  const size = n.size;
  let e = openLower(n);
  let off: u64 = 0;
  let prev = PAGE_NONE;
  while (e == 0 && off < size) {
    const want = <u32>min<u64>(size - off, <u64>Chan.Window);
    e = goferPRead(n.lowerHandle, off, want);
    if (e) break;
    if (respLen != want) {
      e = E.IO; // the lower file is shorter than its stat said
      break;
    }
    for (let i: u32 = 0; i < want; i += <u32>Page.SIZE) {
      const p = pageAlloc(prev);
      if (p == PAGE_NONE) {
        e = E.NOSPC;
        break;
      }
      prev = p + 1; // the next page's goal: the one after this
      setPage(n, <u32>((off + i) >>> Page.SHIFT), p);
      const len = min<u32>(want - i, <u32>Page.SIZE);
      if (allocDirty && len < <u32>Page.SIZE) fs_zero(p, len, <u32>Page.SIZE - len); // old bytes past the end
      e = fs_write(p, 0, resp + i, len);
      if (e) break;
    }
    off += want;
  }
  if (e) {
    freeFileData(n); // give back every page taken; the file still reads from the lower
    return e;
  }
  goferClose(n.lowerHandle);
  n.lowerHandle = NO_NODE;
  n.flags &= ~IFlag.LOWER_DATA;
  markUpper(n);
  copyUps++;
  return 0;
}

/** Frees everything an inode owns, and the inode. Called when nlink and refs both reach 0. */
export function inodeRelease(n: Inode): void {
  if (n.kind == Filetype.REGULAR_FILE) freeFileData(n);
  if (n.target != 0) heap.free(n.target);
  if (n.ents != 0) heap.free(n.ents);
  if (n.lowerHandle != NO_NODE) goferClose(n.lowerHandle);
  if (n.lowerNode != NO_NODE && n.lowerNode < lowerCap) {
    const at = lowerMap + (<usize>n.lowerNode << 2);
    if (load<usize>(at) == changetype<usize>(n)) store<usize>(at, 0);
  }
  inodeFreeStruct(n);
}

/**
 * Marks a non-directory as changed in the upper layer (its data, attributes or names). A lower file
 * with several names makes a later export load the whole tree (export.ts).
 */
export function markUpper(n: Inode): void {
  n.flags |= IFlag.UPPER;
  if (n.lowerNode != NO_NODE && n.nlink > 1) lowerLinksChanged = true;
}

/** Set when a lower file with several names was changed, or may have moved (see export.ts). */
export let lowerLinksChanged: bool = false;

/** A directory from the image was moved: files with several names may have moved with it (export.ts). */
export function noteLowerDirMoved(): void {
  lowerLinksChanged = true;
}

/** Releases the inode if nothing names or references it any more. */
export function inodeMaybeFree(n: Inode): void {
  if (n.flags & IFlag.REMOTE) {
    if ((n.flags & IFlag.DETACHED) && n.refs == 0) remoteRelease(n);
    return;
  }
  if (n.nlink == 0 && n.refs == 0) inodeRelease(n);
}
