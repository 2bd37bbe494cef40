// The gofer protocol: message ids and byte layouts, the single source of truth for both ends.
//
// This file is compiled twice: by AssemblyScript into the (untrusted) kernel and by esbuild into the
// (trusted) gofer. It therefore holds nothing but `export const enum`s, which both compilers accept
// and inline. Ids are append-only: never renumber or reuse one.
//
// Framing. A request is (id, payload); a response is (errno, payload). The channel carries id, errno
// and payload length in its control words, so payloads below start at byte 0. All integers are
// little-endian; u64 fields sit at 8-byte-aligned offsets. Names are single path components: never
// empty, ".", "..", and never containing '/' or NUL; the gofer rejects anything else with EINVAL.
// Decoders reject trailing bytes. A failed request has no side effect.
//
// References. A "node" is the gofer's per-connection reference to a file-system object, returned by
// Mount, Walk and the *At creators; for an image tree it is the immutable tree's node index, for a
// host tree (bind mount, or the rootfs in `--overlay2 none`) an entry in a per-connection table,
// marked with Ref.Host. A "handle" is an open file returned by OpenAt / OpenCreateAt. Node
// references of host trees and handles are released by Close.

export const enum Msg {
  Mount = 1,
  Walk = 2,
  WalkStat = 3,
  FStat = 4,
  SetStat = 5,
  OpenAt = 6,
  OpenCreateAt = 7,
  PRead = 8,
  PWrite = 9,
  Getdents = 10,
  MkdirAt = 11,
  SymlinkAt = 12,
  LinkAt = 13,
  UnlinkAt = 14,
  RenameAt = 15,
  ReadLinkAt = 16,
  FSync = 17,
  Close = 18,
  StatFS = 19,
  Nop = 20,
  SetFlags = 21,
  Allocate = 22,
  /** FSync of the data only (fdatasync: a file's times and other metadata may stay in the host's cache). */
  FDataSync = 23,
  /** One past the largest id; handlers are a table of this size. */
  Limit = 24,
}

/** Msg names by id, for statistics and traces. */
export const MSG_NAMES: readonly string[] = [
  '', 'Mount', 'Walk', 'WalkStat', 'FStat', 'SetStat', 'OpenAt', 'OpenCreateAt', 'PRead', 'PWrite', 'Getdents',
  'MkdirAt', 'SymlinkAt', 'LinkAt', 'UnlinkAt', 'RenameAt', 'ReadLinkAt', 'FSync', 'Close', 'StatFS', 'Nop', 'SetFlags',
  'Allocate', 'FDataSync',
];

/** Reference values. */
export const enum Ref {
  /** Set in every node and handle of a host tree; never in an image tree's node indexes. */
  Host = 0x40000000,
  /** "No node": Getdents entries of host trees carry no reference. */
  None = 0x7fffffff,
}

/** The shared-memory channel: a control block of Int32 words, then the payload window. */
export const enum Chan {
  /** Control words (Int32 indexes). */
  State = 0,
  Id = 1,
  Length = 2,
  Errno = 3,
  /** Set by the server when it has died or stopped serving; clients fail with EIO. */
  Dead = 4,
  /** States of Chan.State. */
  Idle = 0,
  Request = 1,
  Response = 2,
  /** Byte offset of the payload window; the control block is this many bytes. */
  WindowOffset = 64,
  /** Largest payload, in either direction: 2 MiB. */
  Window = 2097152,
}

/** File types, numerically equal to WASI preview1 `filetype`. */
export const enum Kind {
  Unknown = 0,
  Dir = 3,
  File = 4,
  Symlink = 7,
}

/**
 * Stat record, 64 bytes, embedded in several responses.
 *   0 ino u64   8 size u64   16 atime ns u64   24 mtime ns u64   32 ctime ns u64
 *  40 mode u32 (permission bits, 07777)   44 nlink u32   48 uid u32   52 gid u32
 *  56 kind u32 (Kind)   60 layer u32 (image trees: index + 1 of the layer that supplied the object; 0)
 */
export const enum Stat {
  Ino = 0,
  Size = 8,
  Atime = 16,
  Mtime = 24,
  Ctime = 32,
  Mode = 40,
  Nlink = 44,
  Uid = 48,
  Gid = 52,
  Kind = 56,
  Layer = 60,
  Bytes = 64,
}

/** Mount. req: { mount u32 } -> resp: { node u32, pad u32, stat Stat } for the mount's root. */
export const enum MountReq {
  Mount = 0,
  Bytes = 4,
}
export const enum MountResp {
  Node = 0,
  /** Number of nodes the tree may hand out (an upper bound on node values + 1), 0 if unknown. */
  NodeLimit = 4,
  Stat = 8,
  Bytes = 72,
}

/**
 * Walk. req: { dir node u32, count u32, count x { len u32, bytes, pad to 4 } }
 * resp: { found u32, pad u32, found x { node u32, pad u32, stat Stat } }
 * Walks from `dir` one name at a time. It stops early (found < count) at a missing name, and after a
 * symlink (the symlink is the last step returned). It never follows a symlink.
 * WalkStat has the same request and returns the same records without handing out new nodes (node 0).
 */
export const enum WalkReq {
  Dir = 0,
  Count = 4,
  Names = 8,
}
export const enum WalkResp {
  Found = 0,
  Steps = 8,
  StepNode = 0,
  StepStat = 8,
  StepBytes = 72,
}

/** FStat. req: { node u32 } -> resp: Stat. ReadLinkAt: req { node u32 } -> resp: the target bytes. */
export const enum NodeReq {
  Node = 0,
  Bytes = 4,
}

/**
 * Getdents. req: { dir node u32, start u32, max u32 } -> resp: { count u32, next u32, entries }.
 * Entries are { node u32, nameLen u32, stat Stat, name bytes, pad to 8 }. `start` is 0 for the first
 * call; `next` is the value to pass next time, or GetdentsEnd when the listing is complete. "." and
 * ".." are not listed. Entries come in a stable order (sorted by name for image trees).
 */
export const enum GetdentsReq {
  Dir = 0,
  Start = 4,
  Max = 8,
  Bytes = 12,
}
export const enum GetdentsResp {
  Count = 0,
  Next = 4,
  Entries = 8,
  EntNode = 0,
  EntNameLen = 4,
  EntStat = 8,
  EntName = 72,
  End = 0x7fffffff,
}

/** OpenAt. req: { node u32, flags u32 (OpenFlags) } -> resp: { handle u32 }. */
export const enum OpenReq {
  Node = 0,
  Flags = 4,
  Bytes = 8,
}
export const enum OpenFlags {
  Read = 1,
  Write = 2,
  Truncate = 4,
  /** OpenCreateAt only: fail with EEXIST if the name exists. */
  Exclusive = 8,
  /** Writes go to the end of the file. */
  Append = 16,
}
export const enum OpenResp {
  Handle = 0,
  Bytes = 4,
}

/** PRead. req: { handle u32, len u32, offset u64 } -> resp: the bytes (short at end of file). */
export const enum PReadReq {
  Handle = 0,
  Length = 4,
  Offset = 8,
  Bytes = 16,
}

/**
 * OpenCreateAt. req: { dir u32, flags u32 (OpenFlags), mode u32, nameLen u32, name }
 * -> resp: { node u32, handle u32, stat Stat }. Creates (or, without Exclusive, opens) a regular file.
 */
export const enum CreateReq {
  Dir = 0,
  Flags = 4,
  Mode = 8,
  NameLen = 12,
  Name = 16,
}
export const enum CreateResp {
  Node = 0,
  Handle = 4,
  Stat = 8,
  Bytes = 72,
}

/** MkdirAt. req: { dir u32, mode u32, nameLen u32, name } -> resp: { node u32, pad u32, stat Stat }. */
export const enum MkdirReq {
  Dir = 0,
  Mode = 4,
  NameLen = 8,
  Name = 12,
}

/** SymlinkAt. req: { dir u32, nameLen u32, targetLen u32, name, target } -> resp: { node, pad, stat }. */
export const enum SymlinkReq {
  Dir = 0,
  NameLen = 4,
  TargetLen = 8,
  Name = 12,
}

/** LinkAt. req: { dir u32, node u32 (an existing non-directory), nameLen u32, name } -> resp: { node, pad, stat }. */
export const enum LinkReq {
  Dir = 0,
  Node = 4,
  NameLen = 8,
  Name = 12,
}

/**
 * Responses of MkdirAt, SymlinkAt and LinkAt: the new node, flags (NodeFlags), and its stat. A
 * MkdirAt answer may leave the stat out (NodeFlags.NoStat, and the answer ends at NodeResp.Stat: the
 * directory's attributes, its st_ino too, are fetched with FStat when first asked for), so that a
 * directory made and removed again (a lock) costs the host one system call each way, as on Linux.
 */
export const enum NodeResp {
  Node = 0,
  Flags = 4,
  Stat = 8,
  Bytes = 72,
}

export const enum NodeFlags {
  NoStat = 1,
}

/**
 * UnlinkAt. req: { dir u32, flags u32 (1 = remove a directory), nameLen u32, node u32, name } ->
 * resp: {}. node: the node of the name, when the kernel keeps using it afterwards (an open file or
 * directory), else Ref.None; a server that reopens nodes by name (hostdirect.ts) opens it first.
 */
export const enum UnlinkReq {
  Dir = 0,
  Flags = 4,
  NameLen = 8,
  Node = 12,
  Name = 16,
  RemoveDir = 1,
}

/**
 * RenameAt. req: { oldDir u32, newDir u32, oldLen u32, newLen u32, node u32, victim u32, oldName,
 * newName } -> resp: {}. node: the node the kernel holds for oldName (it goes by the new name
 * afterwards), or Ref.None; victim: the node of the name replaced, as UnlinkReq's node. A server
 * that reopens nodes by name (hostdirect.ts) follows the one and opens the other first.
 */
export const enum RenameReq {
  OldDir = 0,
  NewDir = 4,
  OldLen = 8,
  NewLen = 12,
  Node = 16,
  Victim = 20,
  Names = 24,
}

/**
 * SetStat. req: { node u32, mask u32 (SetMask), mode u32, pad u32, size u64, atime ns u64, mtime ns u64 }
 * -> resp: { failed u32 (the SetMask bits that could not be applied), errno u32 (of the first) }.
 */
export const enum SetStatReq {
  Node = 0,
  Mask = 4,
  Mode = 8,
  Size = 16,
  Atime = 24,
  Mtime = 32,
  Bytes = 40,
}
export const enum SetMask {
  Mode = 1,
  Size = 2,
  Atime = 4,
  Mtime = 8,
  AtimeNow = 16,
  MtimeNow = 32,
}
export const enum SetStatResp {
  Failed = 0,
  Errno = 4,
  Bytes = 8,
}

/**
 * PWrite. req: { handle u32, len u32, offset u64, data (len bytes) } -> resp: { written u32, flags u32,
 * stat Stat }. With flags PWriteFlags.HasStat, stat holds the file's attributes after the write (its
 * size is the new end for an O_APPEND handle, which writes there whatever the offset): always for
 * an O_APPEND handle; otherwise a server may leave it out (one host call fewer), and the kernel
 * takes its attributes as outdated.
 */
export const enum PWriteReq {
  Handle = 0,
  Length = 4,
  Offset = 8,
  Data = 16,
}
export const enum PWriteResp {
  Written = 0,
  Flags = 4,
  Stat = 8,
  Bytes = 72,
}
export const enum PWriteFlags {
  HasStat = 1,
}

/** SetFlags. req: { handle u32, flags u32 (OpenFlags.Append, or 0) } -> resp: {}: an open handle's O_APPEND. */
export const enum SetFlagsReq {
  Handle = 0,
  Flags = 4,
  Bytes = 8,
}

/**
 * Allocate. req: { handle u32, pad u32, offset u64, length u64 } -> resp: {}: posix_fallocate of
 * an open handle (blocks reserved, the size grown to offset + length if it was smaller).
 */
export const enum AllocateReq {
  Handle = 0,
  Offset = 8,
  Length = 16,
  Bytes = 24,
}

/** Close, FSync and FDataSync. req: { count u32, count x ref u32 } -> resp: {}. An unknown ref is EBADF, and nothing is done. */
export const enum CloseReq {
  Count = 0,
  Handles = 4,
}

/** StatFS. req: { node u32 } -> resp below (BlocksFree: all free blocks; BlocksAvail: those an unprivileged user may take, as statfs(2)'s f_bfree and f_bavail). */
export const enum StatFSResp {
  Blocks = 0,
  BlocksFree = 8,
  Files = 16,
  FilesFree = 24,
  BlockSize = 32,
  NameMax = 36,
  BlocksAvail = 40,
  Bytes = 48,
}
