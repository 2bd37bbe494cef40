// Remote file systems: host directory trees served by the gofer with no overlay, for bind mounts
// (`-v HOST:GUEST[:ro]`) and for the writable rootfs of `--overlay2 none`. Writes reach the host.
//
// A remote inode holds the gofer node it was walked to (Inode.lowerNode, a Ref.Host reference) and
// the attributes the gofer last reported (every create, walk and write answers with them). Dentries
// and attributes are cached and trusted until `validUntil`, `ttl` nanoseconds after they were
// fetched: the mount's revalidation interval, 1 s for bind mounts by default (--volume-cache-ms).
// After that a lookup asks the gofer again (WalkStat, no new reference): the same object (same
// st_ino and type) keeps its inode and gets fresh attributes; a vanished or replaced name drops the
// cached entry (and, for a directory, everything cached below it). Missing names are not cached,
// except in a COMPLETE directory. Data is never cached: reads and writes always go to the host,
// through the open file's own gofer handle.
//
// An exclusive mount (TTL_EXCLUSIVE: the rootfs of `--overlay2 none`, as gVisor's
// --file-access=exclusive for the root) is the sandbox's alone, so the names the kernel caches stay
// true: a cached name is never revalidated, and a directory the sandbox made itself is COMPLETE, its
// missing names answered without asking. Attributes are trusted too, until a change made here marks
// them stale (IFlag.STALE_ATTRS: a write, a create or removal in a directory, a rename, a link) or
// the hard-link rule below asks for them. Changes made on the host under a running sandbox are not
// seen.
//
// Each remote inode has at most one cached name; it is freed when that name is dropped and no open
// file refers to it (IFlag.DETACHED marks a dropped one). Hard links on the host show as separate
// inodes with the same st_ino, so a change made through one of them must show in the others: a file
// once seen with several names (IFlag.HOST_LINKED) has its attributes fetched whenever they are
// asked for, and a change made through it moves its mount's hard-link epoch on, which makes every
// inode of the mount fetch its attributes once more (an alias first seen when it had one name left
// is not flagged, but is caught by the epoch). Hard-linked files are rare; ordinary ones pay nothing.
import { GetdentsResp, NodeFlags, NodeResp, OpenFlags, PWriteFlags, PWriteResp, SetMask, Stat } from "../../gofer/protocol/messages";
import { coarseNs } from "../host";
import { planKmem } from "../io";
import { dAt, Dentry, dInsert, dLookup, dMove, dRemove } from "../vfs/dentry";
import { IFlag, Inode, NO_NODE, inodeAlloc } from "../vfs/inode";
import { E } from "../wasi/errno";
import { Filetype } from "../wasi/types";
import {
  goferAllocate, goferClose, goferCreate, goferGetdents, goferLink, goferMkdir, goferMount, goferNodeCall, goferOpen, goferPRead,
  goferPWrite, goferRename, goferSetFlags, goferSetStat, goferSymlink, goferUnlink, goferWalkOne, PWRITE_MAX, pwriteBuffer, resp, respLen,
} from "./gofer";
import { Msg, Chan } from "../../gofer/protocol/messages";
import { inodeRelease } from "./overlay";
import { reallocOrAlloc } from "../mm/mem";

const MAX_MOUNTS: u32 = 64;
/** Revalidation interval (ns) of each mount, by st_dev. Set at mount time. */
const mountTtl = memory.data(<i32>MAX_MOUNTS * 8);
/** 1 for an exclusive mount (TTL_EXCLUSIVE), by st_dev. Set at mount time. */
const mountExclusive = memory.data(<i32>MAX_MOUNTS);
/** Per mount: moved on by every change made through a HOST_LINKED file (see the header). */
const mountLinkEpoch = memory.data(<i32>MAX_MOUNTS * 4);

function linkEpoch(dev: u32): u32 {
  return dev < MAX_MOUNTS ? load<u32>(mountLinkEpoch + (<usize>dev << 2)) : 0;
}

/** After a change made through `n`: if it has other names, their attributes are all outdated. */
function changedThrough(n: Inode): void {
  if (!(n.flags & IFlag.HOST_LINKED) || n.dev >= MAX_MOUNTS) return;
  const at = mountLinkEpoch + (<usize>n.dev << 2);
  store<u32>(at, load<u32>(at) + 1);
}

/** The ttlMs of a mount that only this sandbox changes: never revalidated (see the header). */
export const TTL_EXCLUSIVE: u32 = 0xffffffff;
const EXCLUSIVE_TTL_NS: u64 = 1 << 62;

export function isRemote(n: Inode): bool {
  return (n.flags & IFlag.REMOTE) != 0;
}

function ttlOf(n: Inode): u64 {
  return n.dev < MAX_MOUNTS ? load<u64>(mountTtl + (<usize>n.dev << 3)) : 0;
}

/** Copies a gofer Stat (a create's, a walk's, a write's) into the inode's attributes, now fresh. */
export function remoteAttrs(n: Inode, st: usize): void {
  setAttrs(n, st, coarseNs());
}

function setAttrs(n: Inode, st: usize, now: u64): void {
  n.size = load<u8>(st + Stat.Kind) == Filetype.DIRECTORY ? 0 : load<u64>(st + Stat.Size);
  n.atime = load<u64>(st + Stat.Atime);
  n.mtime = load<u64>(st + Stat.Mtime);
  n.ctime = load<u64>(st + Stat.Ctime);
  n.mode = load<u32>(st + Stat.Mode) & 0o7777;
  n.nlink = load<u32>(st + Stat.Nlink);
  n.uid = load<u32>(st + Stat.Uid);
  n.gid = load<u32>(st + Stat.Gid);
  n.validUntil = now + ttlOf(n);
  n.attrEpoch = linkEpoch(n.dev);
  if (n.flags & IFlag.INO_UNKNOWN) n.ino = load<u64>(st + Stat.Ino);
  n.flags &= ~(IFlag.STALE_ATTRS | IFlag.INO_UNKNOWN);
  if (n.nlink > 1 && n.kind != Filetype.DIRECTORY) n.flags |= IFlag.HOST_LINKED;
}

function newRemote(node: u32, st: usize, dev: u32, parent: Inode | null): Inode {
  const kind = <u32>load<u8>(st + Stat.Kind);
  const n = inodeAlloc(kind, 0, load<u64>(st + Stat.Ino));
  n.flags = IFlag.REMOTE;
  n.lowerNode = node;
  n.dev = dev;
  if (kind == Filetype.DIRECTORY) n.parent = parent;
  setAttrs(n, st, coarseNs());
  return n;
}

/** Mounts gofer mount `m` (a host tree) with revalidation interval `ttlMs`; returns its root or null (errno in *err). */
export function remoteMount(m: u32, ttlMs: u32, err: usize): Inode | null {
  const dev = m + 1;
  if (dev >= MAX_MOUNTS) {
    store<u32>(err, E.NOSPC);
    return null;
  }
  // an exclusive mount's names are never revalidated (mountExclusive), and its attributes only when
  // a change made here marks them stale, or the hard-link rule asks (a ttl of ~146 years)
  store<u64>(mountTtl + (<usize>dev << 3), ttlMs == TTL_EXCLUSIVE ? EXCLUSIVE_TTL_NS : <u64>ttlMs * 1000000);
  store<u8>(mountExclusive + <usize>dev, ttlMs == TTL_EXCLUSIVE ? 1 : 0);
  const e = goferMount(m);
  if (e) {
    store<u32>(err, e);
    return null;
  }
  if (load<u8>(resp + 8 + Stat.Kind) != Filetype.DIRECTORY) {
    store<u32>(err, E.NOTDIR);
    return null;
  }
  return newRemote(load<u32>(resp), resp + 8, dev, null);
}

/** Frees a remote inode's gofer node and the inode; its cached children must be gone already. */
export function remoteRelease(n: Inode): void {
  if (n.lowerNode != NO_NODE) goferClose(n.lowerNode);
  n.lowerNode = NO_NODE;
  if (n.target != 0) heap.free(n.target);
  n.target = 0;
  if (n.rlist != 0) heap.free(n.rlist);
  n.rlist = 0;
  inodeRelease(n);
}

/** Drops a cached name (and, for a directory, its cached subtree). */
export function remoteDrop(d: Dentry): void {
  const n = d.inode;
  dRemove(d);
  forget(n);
}

function forget(n: Inode): void {
  if (n.kind == Filetype.DIRECTORY) {
    for (let s: u32 = 0; s < n.entsLen; s++) {
      const c = dAt(n, s);
      if (c !== null) remoteDrop(c);
    }
  }
  n.flags |= IFlag.DETACHED;
  if (n.refs == 0 && n.mounted === null) remoteRelease(n);
}

/** Marks `n`'s attributes as outdated by a change made here (its name stays valid). */
function staleAttrs(n: Inode): void {
  n.flags |= IFlag.STALE_ATTRS;
}

/**
 * For a name about to be created in a remote directory (mkdir, symlink, O_CREAT|O_EXCL): a name not
 * cached is not looked up, since the host answers EEXIST itself; sets *out to the cached entry or 0.
 * A cached entry (valid or stale), or a COMPLETE directory, takes the usual lookup.
 */
export function remoteLookupForCreate(dir: Inode, name: usize, len: u32, out: usize): u32 {
  if (dLookup(dir, name, len) !== null || (dir.flags & IFlag.COMPLETE)) return remoteLookup(dir, name, len, out);
  store<usize>(out, 0);
  return 0;
}

/** Looks `name` up in a remote directory (see the header for the cache rules); sets *out. */
export function remoteLookup(dir: Inode, name: usize, len: u32, out: usize): u32 {
  let d = dLookup(dir, name, len);
  if (d !== null) {
    const n = d.inode;
    // in an exclusive mount a cached name stays true; stale attributes (validUntil) are fetched when
    // they are asked for (remoteRevalidate), not at every walk through the name. The clock is read
    // only where the answer depends on it (the coarse clock, host.ts COARSE TIME)
    if (load<u8>(mountExclusive + <usize>dir.dev)) {
      store<usize>(out, changetype<usize>(d));
      return 0;
    }
    const now = coarseNs();
    if (n.validUntil > now) {
      store<usize>(out, changetype<usize>(d));
      return 0;
    }
    const e = goferWalkOne(dir.lowerNode, name, len, false);
    if (e == E.NOENT) {
      remoteDrop(d);
      store<usize>(out, 0);
      return 0;
    }
    if (e) return e;
    const st = resp + 16;
    if ((load<u64>(st + Stat.Ino) == n.ino || (n.flags & IFlag.INO_UNKNOWN)) && <u32>load<u8>(st + Stat.Kind) == n.kind) {
      setAttrs(n, st, now);
      store<usize>(out, changetype<usize>(d));
      return 0;
    }
    remoteDrop(d); // replaced on the host: a new inode below
  }
  if (dir.flags & IFlag.COMPLETE) {
    store<usize>(out, 0); // every entry is cached: the name does not exist
    return 0;
  }
  const e = goferWalkOne(dir.lowerNode, name, len, true);
  if (e == E.NOENT) {
    store<usize>(out, 0);
    return 0;
  }
  if (e) return e;
  const n = newRemote(load<u32>(resp + 8), resp + 16, dir.dev, dir);
  d = dInsert(dir, name, len, n);
  if (n.kind == Filetype.SYMBOLIC_LINK) {
    // read the target now, while the gofer's way to it (its directory and name) is certainly current
    const le = remoteLoadLink(n);
    if (le) {
      remoteDrop(d);
      return le;
    }
  }
  store<usize>(out, changetype<usize>(d));
  return 0;
}

/** Refreshes stale attributes (FStat). */
export function remoteRevalidate(n: Inode): u32 {
  const now = coarseNs();
  if (n.lowerNode == NO_NODE) return 0;
  if (n.validUntil > now && !(n.flags & (IFlag.STALE_ATTRS | IFlag.HOST_LINKED)) && n.attrEpoch == linkEpoch(n.dev)) return 0;
  const e = goferNodeCall(Msg.FStat, n.lowerNode);
  if (e) return e;
  if (respLen != Stat.Bytes) return E.IO;
  setAttrs(n, resp, now);
  return 0;
}

/** A symlink's target, fetched once (a changed link on the host is a new inode). */
export function remoteLoadLink(n: Inode): u32 {
  if (n.target != 0) return 0;
  const e = goferNodeCall(Msg.ReadLinkAt, n.lowerNode);
  if (e) return e;
  if (respLen == 0 || respLen > 4095) return E.IO;
  n.target = heap.alloc(respLen);
  memory.copy(n.target, resp, respLen);
  n.size = respLen;
  return 0;
}

/** Opens a gofer handle on an existing remote file; *handle gets it. */
export function remoteOpen(n: Inode, read: bool, write: bool, trunc: bool, append: bool, handle: usize): u32 {
  let flags: u32 = 0;
  if (read) flags |= OpenFlags.Read;
  if (write) flags |= OpenFlags.Write;
  if (trunc) flags |= OpenFlags.Truncate;
  if (append) flags |= OpenFlags.Append;
  if (flags == 0) flags = OpenFlags.Read;
  const e = goferOpen(n.lowerNode, flags, handle);
  if (e == 0 && trunc) {
    staleAttrs(n);
    changedThrough(n);
  }
  return e;
}

/** Creates (or opens) `name` in a remote directory: the new inode in *inode, a handle in *handle. */
export function remoteCreate(dir: Inode, name: usize, len: u32, read: bool, write: bool, trunc: bool, excl: bool, append: bool, inode: usize, handle: usize): u32 {
  let flags: u32 = 0;
  if (read) flags |= OpenFlags.Read;
  if (write) flags |= OpenFlags.Write;
  if (trunc) flags |= OpenFlags.Truncate;
  if (excl) flags |= OpenFlags.Exclusive;
  if (append) flags |= OpenFlags.Append;
  const e = goferCreate(dir.lowerNode, name, len, flags, 0o644);
  if (e) return e;
  const node = load<u32>(resp);
  const h = load<u32>(resp + 4);
  const old = dLookup(dir, name, len);
  if (old !== null) remoteDrop(old);
  const n = newRemote(node, resp + 8, dir.dev, dir);
  dInsert(dir, name, len, n);
  staleAttrs(dir); // it may have gained the name
  if (trunc) changedThrough(n);
  store<usize>(inode, changetype<usize>(n));
  store<u32>(handle, h);
  return 0;
}

/** Plans a read of up to `len` bytes at `off` through handle `h` (data lands in the gofer response buffer). */
export function remotePlanRead(h: u32, off: u64, len: u32, err: usize): u32 {
  const e = goferPRead(h, off, min<u32>(len, <u32>Chan.Window));
  if (e) {
    store<u32>(err, e);
    return 0;
  }
  if (respLen > 0) planKmem(resp, respLen);
  return respLen;
}

/** Where a planned remote write's data goes, and how much fits in one round trip. */
export function remoteWriteBuffer(): usize {
  return pwriteBuffer();
}
export const REMOTE_WRITE_MAX = PWRITE_MAX;

/**
 * Sends a planned write (its data already in remoteWriteBuffer()); *written gets the count. `n` gets
 * the file's attributes after it when the gofer sent them, which it does for an O_APPEND handle
 * (`append`: the size is where the write ended); otherwise its attributes are outdated.
 */
export function remoteCommitWrite(n: Inode | null, h: u32, off: u64, len: u32, append: bool, written: usize): u32 {
  const e = goferPWrite(h, off, len, written);
  if (e || n === null) return e;
  if (load<u32>(resp + PWriteResp.Flags) & PWriteFlags.HasStat) {
    setAttrs(n, resp + PWriteResp.Stat, coarseNs());
    changedThrough(n);
    n.attrEpoch = linkEpoch(n.dev); // its own attributes are the ones just answered
    return 0;
  }
  return remoteWritten(n, append);
}

/** After a write the host made with no attributes back: they are outdated (an append's end is fetched now). */
export function remoteWritten(n: Inode, append: bool): u32 {
  staleAttrs(n);
  changedThrough(n);
  return append ? remoteRevalidate(n) : 0; // an append's new end is needed now
}

/** posix_fallocate through open handle `h` of `n` (the host reserves the blocks; ENOSPC if it cannot). */
export function remoteAllocate(n: Inode, h: u32, off: u64, len: u64): u32 {
  const e = goferAllocate(h, off, len);
  if (e) return e;
  staleAttrs(n);
  changedThrough(n);
  return 0;
}

/** Turns O_APPEND on or off on an open remote file (fd_fdstat_set_flags). */
export function remoteSetAppend(h: u32, append: bool): u32 {
  return goferSetFlags(h, append);
}

/** SetStat on a remote inode; its attributes are stale afterwards. */
export function remoteSetStat(n: Inode, mask: u32, size: u64, atime: u64, mtime: u64): u32 {
  const e = goferSetStat(n.lowerNode, mask, 0, size, atime, mtime);
  staleAttrs(n);
  changedThrough(n);
  return e;
}

export const SET_SIZE: u32 = SetMask.Size;
export const SET_ATIME: u32 = SetMask.Atime;
export const SET_MTIME: u32 = SetMask.Mtime;
export const SET_ATIME_NOW: u32 = SetMask.AtimeNow;
export const SET_MTIME_NOW: u32 = SetMask.MtimeNow;

export function remoteMkdir(dir: Inode, name: usize, len: u32): u32 {
  const e = goferMkdir(dir.lowerNode, name, len, 0o755);
  if (e) return e;
  const flags = load<u32>(resp + NodeResp.Flags);
  if (flags & ~(<u32>NodeFlags.NoStat)) return E.IO;
  let n: Inode;
  if (flags & NodeFlags.NoStat) {
    // attributes not sent: fetched when asked for (the name itself is as fresh as can be)
    n = inodeAlloc(Filetype.DIRECTORY, 0o755, 0);
    n.flags = IFlag.REMOTE | IFlag.STALE_ATTRS | IFlag.INO_UNKNOWN;
    n.lowerNode = load<u32>(resp);
    n.dev = dir.dev;
    n.parent = dir;
    n.nlink = 2;
    n.validUntil = coarseNs() + ttlOf(n);
    n.attrEpoch = linkEpoch(n.dev);
  } else n = newRemote(load<u32>(resp), resp + 8, dir.dev, dir);
  dInsert(dir, name, len, n);
  if (load<u8>(mountExclusive + <usize>dir.dev)) n.flags |= IFlag.COMPLETE; // new and empty, and ours alone
  staleAttrs(dir);
  return 0;
}

export function remoteSymlink(dir: Inode, name: usize, len: u32, target: usize, tlen: u32): u32 {
  const e = goferSymlink(dir.lowerNode, name, len, target, tlen);
  if (e) return e;
  const n = newRemote(load<u32>(resp), resp + 8, dir.dev, dir);
  n.target = heap.alloc(tlen);
  memory.copy(n.target, target, tlen);
  n.size = tlen;
  dInsert(dir, name, len, n);
  staleAttrs(dir);
  return 0;
}

export function remoteLink(dir: Inode, src: Inode, name: usize, len: u32): u32 {
  if (!isRemote(src) || src.dev != dir.dev) return E.XDEV;
  const e = goferLink(dir.lowerNode, src.lowerNode, name, len);
  if (e) return e;
  const n = newRemote(load<u32>(resp), resp + 8, dir.dev, dir);
  dInsert(dir, name, len, n);
  staleAttrs(src);
  staleAttrs(dir);
  changedThrough(n); // every other name of the file has one more link now
  return 0;
}

/** unlink / rmdir of a name whose entry is `d` (looked up just before, so cached). */
export function remoteUnlink(dir: Inode, d: Dentry, rmdir: bool): u32 {
  const n = d.inode;
  const e = goferUnlink(dir.lowerNode, changetype<usize>(d) + offsetof<Dentry>(), d.nameLen, rmdir, n.refs > 0 ? n.lowerNode : NO_NODE);
  if (e) return e;
  changedThrough(d.inode); // its other names have one link fewer
  remoteDrop(d);
  staleAttrs(dir);
  return 0;
}

/** rename of entry `od` to `name` in `nDir` (whose current entry for it is `nd`, or null). */
export function remoteRename(od: Dentry, nDir: Inode, name: usize, len: u32, nd: Dentry | null): u32 {
  const oDir = od.parent;
  if (!isRemote(nDir) || nDir.dev != oDir.dev) return E.XDEV;
  // two names of one host file: rename(2) does nothing, and both names stay (the gofer is told which
  // node moves, if any, and which is replaced while still in use)
  const same = nd !== null && nd.inode.ino == od.inode.ino && nd.inode.kind != Filetype.DIRECTORY;
  const e = goferRename(
    oDir.lowerNode, changetype<usize>(od) + offsetof<Dentry>(), od.nameLen, same ? NO_NODE : od.inode.lowerNode, nDir.lowerNode, name, len,
    !same && nd !== null && nd.inode.refs > 0 ? nd.inode.lowerNode : NO_NODE,
  );
  if (e) return e;
  if (same) return 0;
  if (nd !== null) {
    changedThrough(nd.inode);
    remoteDrop(nd);
  }
  const n = od.inode;
  dMove(od, nDir, name, len);
  if (n.kind == Filetype.DIRECTORY) n.parent = nDir;
  staleAttrs(n);
  staleAttrs(oDir);
  staleAttrs(nDir);
  return 0;
}

// --- readdir: a remote directory is listed afresh when a listing starts (cookie 0), and the
// listing is kept on the directory inode until the next start: records of
//   { ino u64, kind u32, nameLen u32, name, pad to 8 }

/** Fetches the whole listing of a remote directory into n.rlist (n.rlistLen bytes, n.rcount entries). */
export function remoteList(n: Inode): u32 {
  let cap: u32 = n.rlistCap;
  let used: u32 = 0;
  let count: u32 = 0;
  let start: u32 = 0;
  while (true) {
    const e = goferGetdents(n.lowerNode, start);
    if (e) return e;
    const batch = load<u32>(resp + GetdentsResp.Count);
    const next = load<u32>(resp + GetdentsResp.Next);
    let off: usize = GetdentsResp.Entries;
    for (let i: u32 = 0; i < batch; i++) {
      const rec = resp + off;
      const nameLen = load<u32>(rec + GetdentsResp.EntNameLen);
      const size = (16 + nameLen + 7) & ~7;
      if (used + size > cap) {
        cap = max<u32>(cap << 1, used + size + 4096);
        n.rlist = reallocOrAlloc(n.rlist, cap);
      }
      const out = n.rlist + used;
      store<u64>(out, load<u64>(rec + GetdentsResp.EntStat + Stat.Ino));
      store<u32>(out, <u32>load<u8>(rec + GetdentsResp.EntStat + Stat.Kind), 8);
      store<u32>(out, nameLen, 12);
      memory.copy(out + 16, rec + GetdentsResp.EntName, nameLen);
      used += size;
      count++;
      off += (<usize>GetdentsResp.EntName + nameLen + 7) & ~7;
    }
    if (next == GetdentsResp.End) break;
    if (next <= start) return E.IO;
    start = next;
  }
  n.rlistCap = cap;
  n.rlistLen = used;
  n.rcount = count;
  return 0;
}
