// Namespace operations: create, mkdir, symlink, link, unlink, rmdir, rename, and attribute changes.
// They take already-resolved arguments (from namei.walk) and return WASI errnos chosen to match
// Linux (fs/namei.c: do_mkdirat, do_rmdir, do_unlinkat, do_linkat, do_renameat2), which is what a
// program sees under Docker's overlay2. Callers check the "." / ".." / trailing-slash cases first.
import { populate } from "../fs/overlay";
import { stampNs } from "../host";
import { E } from "../wasi/errno";
import { Filetype } from "../wasi/types";
import { Dentry, dInsert, dMove, dRemove } from "./dentry";
import { IFlag, Inode, NO_NODE, inodeAlloc, timesRead } from "./inode";
import { inodeMaybeFree, markUpper, noteLowerDirMoved } from "../fs/overlay";

/** Marks a directory modified: times, and presence in the upper layer. */
export function touchDir(dir: Inode, now: u64): void {
  dir.mtime = now;
  dir.ctime = now;
  markDirUpper(dir);
}

/**
 * Marks a directory, and every directory above it, as present in the upper layer (as overlayfs
 * copies up the parents of whatever it copies up). Invariant: the parent of an UPPER directory is
 * UPPER, so the walk stops at the first one already marked.
 */
export function markDirUpper(dir: Inode): void {
  let d = dir;
  while (!(d.flags & IFlag.UPPER)) {
    d.flags |= IFlag.UPPER;
    const p = d.parent;
    if (p === null || p === d) break;
    d = p;
  }
}

/**
 * Owner of the objects processes create (the OCI process.user, docker -u). Set by the host before
 * any process runs; WASI has no call to change it.
 */
let ownerUid: u32 = 0;
let ownerGid: u32 = 0;

export function setCreateOwner(uid: u32, gid: u32): void {
  ownerUid = uid;
  ownerGid = gid;
}

/** A new object named `name` in `dir` (the caller knows the name is free). */
export function createNode(dir: Inode, name: usize, len: u32, kind: u32, mode: u32): Inode {
  const now = stampNs(timesRead(dir));
  const n = inodeAlloc(kind, mode, 0);
  n.atime = now;
  n.mtime = now;
  n.ctime = now;
  n.flags = IFlag.UPPER;
  n.dev = dir.dev; // the file system of its directory (the root's upper, or a tmpfs mount)
  n.uid = ownerUid;
  n.gid = ownerGid;
  if (kind == Filetype.DIRECTORY) {
    n.parent = dir;
    dir.nlink++;
  }
  dInsert(dir, name, len, n);
  touchDir(dir, now);
  return n;
}

export function symlinkNode(dir: Inode, name: usize, len: u32, target: usize, tlen: u32): Inode {
  const n = createNode(dir, name, len, Filetype.SYMBOLIC_LINK, 0o777);
  n.target = heap.alloc(tlen);
  memory.copy(n.target, target, tlen);
  n.size = tlen;
  return n;
}

/** Loads a directory's lower entries if needed and tells whether it has no entries. */
export function dirEmpty(dir: Inode, out: usize): u32 {
  if (dir.flags & IFlag.UNPOPULATED) {
    const e = populate(dir);
    if (e) return e;
  }
  store<u8>(out, dir.live == 0 ? 1 : 0);
  return 0;
}

/** Removes a name. For a directory the caller has checked that it is empty. */
export function unlinkEntry(d: Dentry): void {
  const dir = d.parent;
  const n = d.inode;
  const now = stampNs(timesRead(n) | timesRead(dir));
  dRemove(d);
  if (n.kind == Filetype.DIRECTORY) {
    dir.nlink--;
    n.nlink = 0;
  } else {
    n.nlink--;
  }
  n.ctime = now;
  touchDir(dir, now);
  inodeMaybeFree(n);
}

export function linkEntry(dir: Inode, name: usize, len: u32, n: Inode): void {
  const now = stampNs(timesRead(n) | timesRead(dir));
  dInsert(dir, name, len, n);
  n.nlink++;
  n.ctime = now;
  markUpper(n);
  touchDir(dir, now);
}

/** Whether `a` is `d` or one of its ancestors. */
export function isAncestor(a: Inode, d: Inode): bool {
  let cur = d;
  while (true) {
    if (cur == a) return true;
    const p = changetype<Inode>(cur.parent);
    if (p == cur) return false;
    cur = p;
  }
  return false;
}

/**
 * Moves entry `od` to (nDir, name), replacing `nd` if given. The caller has done every check
 * (types, emptiness, ancestry); this cannot fail.
 */
export function renameEntry(od: Dentry, nDir: Inode, name: usize, len: u32, nd: Dentry | null): void {
  const oDir = od.parent;
  const n = od.inode;
  const now = stampNs(timesRead(n) | timesRead(oDir) | timesRead(nDir) | (nd !== null && timesRead(nd.inode)));
  let victim: Inode | null = null;
  if (nd !== null) {
    victim = nd.inode;
    dRemove(nd);
    if (victim.kind == Filetype.DIRECTORY) {
      nDir.nlink--;
      victim.nlink = 0;
    } else {
      victim.nlink--;
    }
    victim.ctime = now;
  }
  dMove(od, nDir, name, len);
  if (n.kind == Filetype.DIRECTORY && oDir != nDir) {
    n.parent = nDir;
    oDir.nlink--;
    nDir.nlink++;
  }
  n.ctime = now;
  if (n.kind == Filetype.DIRECTORY) {
    n.flags |= IFlag.UPPER;
    if (n.lowerNode != NO_NODE) noteLowerDirMoved();
  } else markUpper(n);
  touchDir(oDir, now);
  touchDir(nDir, now);
  if (victim !== null) inodeMaybeFree(victim);
}
