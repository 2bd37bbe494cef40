// Inodes: one unmanaged struct per file-system object the sandbox can see, in kernel linear memory.
//
// There is one namespace tree. An object from the image's lower tree gets an inode the first time
// its directory is listed (overlay.ts: populate), and keeps that inode for the life of the sandbox;
// copy-up changes where its data lives, never which inode it is. So st_ino is stable across copy-up,
// and open fds simply see the new data. Objects created in the sandbox live only here (tmpfs).
//
// Lifetime: an inode is freed when it has no names (nlink == 0) and no references (refs == 0, open
// files and walk pins). Directories have exactly one name; their `parent` is the directory holding it.
//
// Layout (wasm32, offsets from offsetof<Inode>): see the field list; everything is plain data.
import { Filetype } from "../wasi/types";

export const enum IFlag {
  /** Regular file or symlink whose data is still the lower object's (not copied up). */
  LOWER_DATA = 1,
  /** Exists in the upper layer: created in the sandbox, or copied up (metadata or data). */
  UPPER = 2,
  /** Directory whose lower entries have not been loaded yet. */
  UNPOPULATED = 4,
  /** Directory that replaced a lower directory of the same name (it hides the lower contents). */
  OPAQUE = 8,
  /** A host object served by the gofer with no overlay (fs/remote.ts). */
  REMOTE = 16,
  /** A remote inode whose cached name was dropped: freed when no open file refers to it. */
  DETACHED = 32,
  /**
   * A remote directory of an exclusive mount whose every entry is cached (the sandbox made it):
   * a name it lacks does not exist, with no round trip to ask.
   */
  COMPLETE = 64,
  /**
   * A remote inode whose attributes a change made here has outdated (a directory that gained or lost
   * an entry, a file truncated): fetched again when asked for, while its cached name stays valid.
   */
  STALE_ATTRS = 128,
  /**
   * A remote file seen with more than one name: its other names are other inodes here, so a change
   * through one leaves the rest behind; its attributes are fetched whenever asked for, for good.
   */
  HOST_LINKED = 256,
  /**
   * A remote directory made here whose attributes, st_ino included, the gofer did not send (its
   * MkdirAt answer had NodeFlags.NoStat): `ino` is a stand-in until they are fetched (STALE_ATTRS is
   * set too). Whatever reports an inode number fetches them first.
   */
  INO_UNKNOWN = 512,
  /** The inode's times were read (a stat) since they last changed: the next change takes the fine clock (host.ts, COARSE TIME). */
  TIMES_READ = 1024,
}

/** Whether n's times were read since they last changed; clears that (host.ts, COARSE TIME). */
// @ts-ignore: decorator
@inline export function timesRead(n: Inode): bool {
  const f = n.flags;
  n.flags = f & ~IFlag.TIMES_READ;
  return (f & IFlag.TIMES_READ) != 0;
}

export const NO_NODE: u32 = 0xffffffff;

@unmanaged
export class Inode {
  /** st_ino. Immutable. */
  ino: u64;
  /** Regular file: bytes. Symlink: target length. Directory: 0 (reported as 4096). */
  size: u64;
  atime: u64;
  mtime: u64;
  ctime: u64;
  /** The lower object this inode shows, or NO_NODE. Immutable. */
  lowerNode: u32;
  /** Open gofer handle for reading the lower data; NO_NODE until the first read. */
  lowerHandle: u32;
  /** Permission bits (07777). */
  mode: u32;
  nlink: u32;
  /** Open files and walk pins. */
  refs: u32;
  uid: u32;
  gid: u32;
  /** Filetype (DIRECTORY, REGULAR_FILE, SYMBOLIC_LINK). Immutable. */
  kind: u32;
  /** IFlag bits. */
  flags: u32;

  // Regular file: the page map (tmpfs.ts). 0 when the file has no pages.
  map: usize;
  mapCap: u32;
  mapLevels: u32;

  /** Symlink: the target bytes (length `size`), or 0 until loaded from the lower. */
  target: usize;

  // Directory (dentry.ts): entries in cookie order, with 0 for removed ones.
  parent: Inode | null;
  ents: usize;
  entsLen: u32;
  entsCap: u32;
  /** Live entries (not counting "." and ".."). */
  live: u32;
  /** Bumped whenever `ents` is compacted, so cached slot numbers can be trusted. */
  gen: u32;
  /** Cookie for the next entry created here. Starts at 3 (1 and 2 are "." and ".."). */
  nextCookie: u64;

  /** st_dev: 1 for the root file system, mount + 1 for a bind mount. Immutable. */
  dev: u32;
  /** For an object of the image: the index + 1 of the layer that supplied it (0 otherwise). Immutable. */
  layer: u32;
  /** Character device made by the host (dev_node): what it opens as (abi.ts Stream.DEV_*); 0: nothing. */
  rdev: u32;
  /** A mount point: the root of what is mounted here, or null. */
  mounted: Inode | null;
  /** Remote: attributes and the cached name are trusted until this time (ns). */
  validUntil: u64;
  /** Remote directory: the last listing fetched for readdir (fs/remote.ts: remoteList). */
  rlist: usize;
  rlistCap: u32;
  rlistLen: u32;
  rcount: u32;
  /** Remote: the mount's hard-link epoch its attributes were fetched in (fs/remote.ts). */
  attrEpoch: u32;
}

let nextIno: u64 = 1;
let inodeCount: u32 = 0;
/** Objects the sandbox may create, in all (as tmpfs's nr_inodes): past it creates fail with ENOSPC. */
let inodeLimit: u32 = 0x7fffffff;

export function inodesInUse(): u32 {
  return inodeCount;
}

export function setInodeLimit(n: u32): void {
  inodeLimit = n;
}

/** Whether another object may be created (the kernel's memory is finite; see setInodeLimit). */
export function inodeRoom(): bool {
  return inodeCount < inodeLimit;
}

/** Numbers at or above `first` are free for objects created in the sandbox. */
export function reserveInos(first: u64): void {
  if (first > nextIno) nextIno = first;
}

/** A new, zeroed inode. ino 0 means "assign the next free number". */
export function inodeAlloc(kind: u32, mode: u32, ino: u64): Inode {
  const p = heap.alloc(offsetof<Inode>());
  memory.fill(p, 0, offsetof<Inode>());
  const n = changetype<Inode>(p);
  n.ino = ino != 0 ? ino : nextIno++;
  n.kind = kind;
  n.mode = mode;
  n.lowerNode = NO_NODE;
  n.lowerHandle = NO_NODE;
  n.dev = 1;
  if (kind == Filetype.DIRECTORY) {
    n.nextCookie = 3;
    n.nlink = 2;
  } else {
    n.nlink = 1;
  }
  inodeCount++;
  return n;
}

/** Releases the inode struct itself; callers free what it points to first (inodeRelease in fs/). */
export function inodeFreeStruct(n: Inode): void {
  inodeCount--;
  heap.free(changetype<usize>(n));
}

// @ts-ignore: decorator
@inline export function isDir(n: Inode): bool {
  return n.kind == Filetype.DIRECTORY;
}
