// The syscall table: one export per WASI preview1 file-system import, named exactly as the import,
// plus the process management the host needs. Each takes the calling process's pid first, then the
// import's own arguments, except that pointers into guest memory are replaced by what the glue has
// already copied into the exchange area (abi.ts): path arguments are in PATH1/PATH2 and only their
// lengths are passed; results go to RES/STRUCT/DATA or an I/O plan. Every export returns an errno;
// nothing throws. The glue validates guest pointers (EFAULT) before calling in.
//
// The errno choices follow Linux, because a guest under Docker's overlay2 sees Linux's answers.
import { Io, IoFlag, PlanFlag, Readdir, Stream } from "../abi";
import { Chan } from "../../gofer/protocol/messages";
import { copyUp, loadLink, markUpper, planLowerRead, populate, rootInode, setRoot } from "../fs/overlay";
import { MAX_FILE_SIZE, allocateRange, freeFileData, planRead, planWrite, truncatePages, zeroUnwritten } from "../fs/tmpfs";
import { stampNs } from "../host";
import { hostIO, io, planBegin, planEnd, planHost, planKmem, planStream, res32, res64 } from "../io";
import { dAt, dname, dSeek } from "../vfs/dentry";
import { Access, FK, File, Proc, fdClear, fdInstall, fdInstallAt, fileClose, fileNew, fileOf, procFree, procGet, procNew, procsAlive } from "../vfs/fd";
import { IFlag, Inode, NO_NODE, timesRead } from "../vfs/inode";
import { Dot, W, walk, wDentry, wDir, wDot, wInode, wNameLen, wSlash } from "../vfs/namei";
import { createNode, dirEmpty, isAncestor, linkEntry, markDirUpper, renameEntry, symlinkNode, touchDir, unlinkEntry } from "../vfs/ops";
import { exportBegin, exportNext, exportRead } from "../fs/export";
import { devQuota, devWritable, setRootReadOnly, tmpfsNew } from "../fs/devices";
import {
  isRemote, REMOTE_WRITE_MAX, remoteCommitWrite, remoteCreate, remoteWritten, remoteLink, remoteList, remoteMkdir, remoteMount, remoteOpen,
  remoteAllocate, remotePlanRead, remoteRename, remoteRevalidate, remoteSetAppend, remoteSetStat, remoteSymlink, remoteUnlink, remoteWriteBuffer,
  SET_ATIME, SET_ATIME_NOW, SET_MTIME, SET_MTIME_NOW, SET_SIZE,
} from "../fs/remote";
import { goferFSync, goferStatFS } from "../fs/gofer";
import { flushPending, pagesFree, pagesLimit, pagesUsed } from "../mm/filestore";
import { inodeRoom, inodesInUse } from "../vfs/inode";
import { E } from "./errno";
import { Advice, Dirent, FD, FST, Fdstat, Filestat, Filetype, LOOKUP, O, Prestat, R, Whence } from "./types";

const DIR_SIZE: u64 = 4096;

const nameA = memory.data(256); // final path components of the first and second path
const nameB = memory.data(256);
const scratch = memory.data(512); // one dirent record being built (24 + 255 bytes), and ".."
const flag = memory.data(8); // out-flags of internal calls
const ptr = memory.data(8); // out-pointers of internal calls

// ---------------------------------------------------------------------------------------------
// Typed fd accessors

let curProc: Proc = changetype<Proc>(0);
let curFile: File = changetype<File>(0);

/** Looks up the process and the fd; sets curProc/curFile. BADF when either is missing. */
function getFile(pid: u32, fd: u32): u32 {
  const p = procGet(pid);
  if (p === null) return E.BADF;
  const f = fileOf(p, fd);
  if (f === null) return E.BADF;
  curProc = p;
  curFile = f;
  return 0;
}

/** As getFile, and the fd must be a directory (the base of a path lookup). */
function getDir(pid: u32, fd: u32): u32 {
  const e = getFile(pid, fd);
  if (e) return e;
  const n = curFile.inode;
  if (n === null || n.kind != Filetype.DIRECTORY) return E.NOTDIR;
  return 0;
}

/**
 * Whether `f` lacks one of the rights in `need` (WASI: the call is then ENOTCAPABLE). Checked after
 * the answers Linux gives for the same misuse (EBADF for a write to a read-only fd, ESPIPE for a
 * seek on a pipe), so that C programs see those where both apply.
 */
// @ts-ignore: decorator
@inline function lacks(f: File, need: u64): bool {
  return (f.rightsBase & need) != need;
}

/**
 * Whether `len` bytes at `p` hold a NUL. No Linux path or symlink target can (a C string ends at
 * it), so a guest's raw call passing one is EINVAL, as wasmtime answers and as a bind mount's host
 * does; a name with a NUL in it could not be bind-mounted, committed or exported either.
 */
function hasNul(p: usize, len: u32): bool {
  // eight bytes at a time (every path call passes here): a word has a zero byte iff this is non-zero
  let i: u32 = 0;
  for (; i + 8 <= len; i += 8) {
    const v = load<u64>(p + i);
    if (((v - 0x0101010101010101) & ~v & 0x8080808080808080) != 0) return true;
  }
  for (; i < len; i++) if (load<u8>(p + i) == 0) return true;
  return false;
}

/**
 * Resolves PATH1 (len) from directory fd `fd`, which must hold the rights in `need`; sets the namei
 * results. As WASI asks, ".." in the path may not climb above the directory (ENOTCAPABLE). A path
 * holding a NUL byte is EINVAL (hasNul).
 */
function walkAt(pid: u32, fd: u32, len: u32, flags: u32, path: usize, nameOut: usize, need: u64): u32 {
  const e = getDir(pid, fd);
  if (e) return e;
  if (lacks(curFile, need)) return E.NOTCAPABLE;
  if (hasNul(path, len)) return E.INVAL;
  return walk(curProc.root, changetype<Inode>(curFile.inode), path, len, flags | W.BENEATH, nameOut);
}

// ---------------------------------------------------------------------------------------------
// Attributes

/** Writes a filestat; a remote inode's attributes are refreshed first if stale. */
function statInode(n: Inode, out: usize): u32 {
  if (isRemote(n)) {
    const e = remoteRevalidate(n);
    if (e) return e;
  }
  writeFilestat(n, out);
  return 0;
}

function writeFilestat(n: Inode, out: usize): void {
  n.flags |= IFlag.TIMES_READ; // the next change takes the fine clock (host.ts, COARSE TIME)
  store<u64>(out + Filestat.DEV, <u64>n.dev);
  store<u64>(out + Filestat.INO, n.ino);
  store<u64>(out + Filestat.FILETYPE, <u64>n.kind);
  store<u64>(out + Filestat.NLINK, <u64>n.nlink);
  store<u64>(out + Filestat.SIZE, n.kind == Filetype.DIRECTORY ? DIR_SIZE : n.size);
  store<u64>(out + Filestat.ATIM, n.atime);
  store<u64>(out + Filestat.MTIM, n.mtime);
  store<u64>(out + Filestat.CTIM, n.ctime);
}

function setTimes(n: Inode, atim: u64, mtim: u64, fst: u32): u32 {
  if ((fst & FST.ATIM) && (fst & FST.ATIM_NOW)) return E.INVAL;
  if ((fst & FST.MTIM) && (fst & FST.MTIM_NOW)) return E.INVAL;
  if (fst & ~0xf) return E.INVAL;
  if (!isRemote(n)) {
    const ro = devWritable(n.dev);
    if (ro) return ro;
  }
  if (isRemote(n)) {
    let mask: u32 = 0;
    if (fst & FST.ATIM) mask |= SET_ATIME;
    if (fst & FST.ATIM_NOW) mask |= SET_ATIME_NOW;
    if (fst & FST.MTIM) mask |= SET_MTIME;
    if (fst & FST.MTIM_NOW) mask |= SET_MTIME_NOW;
    return mask == 0 ? 0 : remoteSetStat(n, mask, 0, atim, mtim);
  }
  const now = stampNs(timesRead(n));
  if (fst & FST.ATIM) n.atime = atim;
  else if (fst & FST.ATIM_NOW) n.atime = now;
  if (fst & FST.MTIM) n.mtime = mtim;
  else if (fst & FST.MTIM_NOW) n.mtime = now;
  n.ctime = now;
  if (n.kind == Filetype.DIRECTORY) n.flags |= IFlag.UPPER;
  else markUpper(n);
  return 0;
}

/** Sets a regular file's size, copying up first (no copy is needed when the new size is 0). */
function setSize(n: Inode, size: u64): u32 {
  if (isRemote(n)) return remoteSetStat(n, SET_SIZE, size, 0, 0);
  const ro = devWritable(n.dev);
  if (ro) return ro;
  if (size > MAX_FILE_SIZE) return E.FBIG;
  if (n.flags & IFlag.LOWER_DATA) {
    if (size == 0) {
      n.flags &= ~IFlag.LOWER_DATA;
      markUpper(n);
      n.size = 0;
    } else {
      const e = copyUp(n);
      if (e) return e;
    }
  }
  truncatePages(n, size);
  const now = stampNs(timesRead(n));
  n.mtime = now;
  n.ctime = now;
  return 0;
}

export function fd_filestat_get(pid: u32, fd: u32): u32 {
  const e = getFile(pid, fd);
  if (e) return e;
  if (lacks(curFile, <u64>R.FD_FILESTAT_GET)) return E.NOTCAPABLE;
  const out = io + Io.STRUCT;
  const n = curFile.inode;
  if (n === null) {
    memory.fill(out, 0, Filestat.SIZEOF);
    store<u64>(out + Filestat.FILETYPE, <u64>curFile.streamType);
    return 0;
  }
  return statInode(n, out);
}

export function fd_filestat_set_size(pid: u32, fd: u32, size: u64): u32 {
  const e = getFile(pid, fd);
  if (e) return e;
  const n = curFile.inode;
  if (n === null) return E.INVAL;
  if (n.kind != Filetype.REGULAR_FILE || !(curFile.access & Access.WRITE)) return E.INVAL;
  if (lacks(curFile, <u64>R.FD_FILESTAT_SET_SIZE)) return E.NOTCAPABLE;
  if (<i64>size < 0) return E.INVAL;
  return setSize(n, size);
}

export function fd_filestat_set_times(pid: u32, fd: u32, atim: u64, mtim: u64, fst: u32): u32 {
  const e = getFile(pid, fd);
  if (e) return e;
  const n = curFile.inode;
  if (n === null) return E.BADF;
  if (lacks(curFile, <u64>R.FD_FILESTAT_SET_TIMES)) return E.NOTCAPABLE;
  return setTimes(n, atim, mtim, fst);
}

export function path_filestat_get(pid: u32, fd: u32, flags: u32, len: u32): u32 {
  const e = walkAt(pid, fd, len, flags & LOOKUP.SYMLINK_FOLLOW ? W.FOLLOW : 0, io + Io.PATH1, nameA, <u64>R.PATH_FILESTAT_GET);
  if (e) return e;
  if (wInode === null) return E.NOENT;
  return statInode(changetype<Inode>(wInode), io + Io.STRUCT);
}

export function path_filestat_set_times(pid: u32, fd: u32, flags: u32, len: u32, atim: u64, mtim: u64, fst: u32): u32 {
  const e = walkAt(pid, fd, len, flags & LOOKUP.SYMLINK_FOLLOW ? W.FOLLOW : 0, io + Io.PATH1, nameA, <u64>R.PATH_FILESTAT_SET_TIMES);
  if (e) return e;
  if (wInode === null) return E.NOENT;
  const dir = wDir;
  const te = setTimes(changetype<Inode>(wInode), atim, mtim, fst);
  if (te == 0 && !isRemote(dir)) markDirUpper(dir);
  return te;
}

// ---------------------------------------------------------------------------------------------
// fd state

export function fd_fdstat_get(pid: u32, fd: u32): u32 {
  const e = getFile(pid, fd);
  if (e) return e;
  const f = curFile;
  const out = io + Io.STRUCT;
  memory.fill(out, 0, Fdstat.SIZEOF);
  const n = f.inode;
  store<u8>(out + Fdstat.FILETYPE, <u8>(n === null ? f.streamType : n.kind));
  store<u16>(out + Fdstat.FLAGS, <u16>f.fdflags);
  store<u64>(out + Fdstat.RIGHTS_BASE, f.rightsBase);
  store<u64>(out + Fdstat.RIGHTS_INHERITING, f.rightsInh);
  return 0;
}

export function fd_fdstat_set_flags(pid: u32, fd: u32, flags: u32): u32 {
  const e = getFile(pid, fd);
  if (e) return e;
  if (lacks(curFile, <u64>R.FD_FDSTAT_SET_FLAGS)) return E.NOTCAPABLE;
  if (flags & ~0x1f) return E.INVAL;
  // Like Linux F_SETFL, only APPEND and NONBLOCK change; the sync flags are accepted and kept. A
  // remote file's O_APPEND is the host file's: the host changes first.
  const append = (flags & FD.APPEND) != 0;
  if (curFile.rhandle != NO_NODE && append != (curFile.rappend != 0)) {
    const re = remoteSetAppend(curFile.rhandle, append);
    if (re) return re;
    curFile.rappend = append ? 1 : 0;
  }
  curFile.fdflags = flags;
  return 0;
}

export function fd_fdstat_set_rights(pid: u32, fd: u32, base: u64, inh: u64): u32 {
  const e = getFile(pid, fd);
  if (e) return e;
  if ((base & ~curFile.rightsBase) != 0 || (inh & ~curFile.rightsInh) != 0) return E.NOTCAPABLE;
  curFile.rightsBase = base;
  curFile.rightsInh = inh;
  return 0;
}

export function fd_prestat_get(pid: u32, fd: u32): u32 {
  const e = getFile(pid, fd);
  if (e) return e;
  if (!curFile.preopen) return E.BADF;
  const out = io + Io.STRUCT;
  store<u32>(out + Prestat.TAG, 0);
  store<u32>(out + Prestat.NAME_LEN, 1);
  return 0;
}

export function fd_prestat_dir_name(pid: u32, fd: u32, len: u32): u32 {
  const e = getFile(pid, fd);
  if (e) return e;
  if (!curFile.preopen) return E.BADF;
  if (len < 1) return E.NAMETOOLONG;
  store<u8>(io + Io.DATA, 0x2f);
  res32(0, 1);
  return 0;
}

export function fd_close(pid: u32, fd: u32): u32 {
  const e = getFile(pid, fd);
  if (e) return e;
  fdClear(curProc, fd);
  fileClose(curFile);
  return 0;
}

export function fd_renumber(pid: u32, from: u32, to: u32): u32 {
  let e = getFile(pid, to);
  if (e) return e;
  const target = curFile;
  e = getFile(pid, from);
  if (e) return e;
  if (from == to) return 0;
  fdClear(curProc, from);
  fdClear(curProc, to);
  fdInstallAt(curProc, to, curFile);
  fileClose(target);
  return 0;
}

export function fd_sync(pid: u32, fd: u32): u32 {
  return syncAs(pid, fd, <u64>R.FD_SYNC, false);
}

function syncAs(pid: u32, fd: u32, need: u64, dataOnly: bool): u32 {
  const e = getFile(pid, fd);
  if (e) return e;
  if (curFile.kind == FK.STREAM) return E.INVAL;
  if (lacks(curFile, need)) return E.NOTCAPABLE;
  // remote data goes to the host's disk; tmpfs data is as durable as it gets once written
  // (fd_datasync is the host's fdatasync, as under Linux: a journalled file system need not commit
  // the file's times with its data)
  if (curFile.rhandle != NO_NODE) return goferFSync(curFile.rhandle, dataOnly);
  return 0;
}

export function fd_datasync(pid: u32, fd: u32): u32 {
  return syncAs(pid, fd, <u64>R.FD_DATASYNC, true);
}

export function fd_advise(pid: u32, fd: u32, offset: u64, len: u64, advice: u32): u32 {
  const e = getFile(pid, fd);
  if (e) return e;
  if (curFile.kind == FK.STREAM) return E.SPIPE;
  if (lacks(curFile, <u64>R.FD_ADVISE)) return E.NOTCAPABLE;
  if (advice > <u32>Advice.NOREUSE || <i64>offset < 0 || <i64>len < 0) return E.INVAL;
  return 0;
}

export function fd_allocate(pid: u32, fd: u32, offset: u64, len: u64): u32 {
  const e = getFile(pid, fd);
  if (e) return e;
  const n = curFile.inode;
  if (n === null) return E.SPIPE;
  if (<i64>offset < 0 || <i64>len <= 0) return E.INVAL;
  if (!(curFile.access & Access.WRITE)) return E.BADF;
  if (n.kind == Filetype.DIRECTORY) return E.ISDIR;
  if (n.kind != Filetype.REGULAR_FILE) return E.NODEV;
  if (lacks(curFile, <u64>R.FD_ALLOCATE)) return E.NOTCAPABLE;
  const end = offset + len;
  if (end > MAX_FILE_SIZE || end < offset) return E.FBIG;
  if (isRemote(n)) return remoteAllocate(n, curFile.rhandle, offset, len);
  const ro = devWritable(n.dev);
  if (ro) return ro;
  const c = copyUp(n);
  if (c) return c;
  if (!allocateRange(n, offset, len)) return E.NOSPC;
  if (end > n.size) n.size = end;
  n.ctime = stampNs(timesRead(n));
  return 0;
}

// ---------------------------------------------------------------------------------------------
// Data

export function fd_seek(pid: u32, fd: u32, offset: i64, whence: u32): u32 {
  const e = getFile(pid, fd);
  if (e) return e;
  const f = curFile;
  const n = f.inode;
  if (f.kind == FK.STREAM) {
    if (n === null) return E.SPIPE;
    res64(0, 0); // a device of /dev: Linux's lseek succeeds and stays at 0
    return 0;
  }
  if (n === null) return E.SPIPE;
  // a directory has neither right: WASI's answer to seeking one (Linux's lseek would succeed)
  if (lacks(f, <u64>R.FD_SEEK) && (offset != 0 || whence != Whence.CUR || lacks(f, <u64>R.FD_TELL))) return E.NOTCAPABLE;
  let base: i64;
  if (whence == Whence.SET) base = 0;
  else if (whence == Whence.CUR) base = <i64>f.offset;
  else if (whence == Whence.END) {
    if (n.kind == Filetype.DIRECTORY) base = 0;
    else {
      if (isRemote(n)) {
        const re = remoteRevalidate(n); // the end is the host file's, as of now (if stale)
        if (re) return re;
      }
      base = <i64>n.size;
    }
  } else return E.INVAL;
  const pos = base + offset;
  if ((offset > 0 && pos < base) || pos < 0) return offset > 0 ? E.OVERFLOW : E.INVAL;
  f.offset = <u64>pos;
  res64(0, <u64>pos);
  return 0;
}

export function fd_tell(pid: u32, fd: u32): u32 {
  const e = getFile(pid, fd);
  if (e) return e;
  if (curFile.inode === null) return E.SPIPE;
  if (curFile.kind == FK.STREAM) {
    res64(0, 0);
    return 0;
  }
  if (lacks(curFile, <u64>R.FD_TELL)) return E.NOTCAPABLE;
  res64(0, curFile.offset);
  return 0;
}

function readAt(f: File, off: u64, len: u32, advance: bool): u32 {
  planBegin();
  const n = f.inode;
  if (f.kind == FK.STREAM || n === null) {
    // stdio, a pipe, or a device of /dev: the host moves the bytes
    if (!(f.access & Access.READ)) return E.BADF;
    if (lacks(f, <u64>R.FD_READ)) return E.NOTCAPABLE;
    planStream(f.stream, len);
    planEnd(0);
    return 0;
  }
  if (!(f.access & Access.READ)) return E.BADF;
  if (n.kind == Filetype.DIRECTORY) return E.ISDIR;
  if (n.kind != Filetype.REGULAR_FILE) return E.INVAL;
  if (lacks(f, advance ? <u64>R.FD_READ : <u64>(R.FD_READ | R.FD_SEEK))) return E.NOTCAPABLE;
  if (f.rhandle != NO_NODE) {
    // remote: the host knows the size; a short answer is the end of the file
    if (hostIO) return planHostIO(f, off, len, advance, PendHost.READ);
    store<u32>(flag, 0);
    const got = remotePlanRead(f.rhandle, off, len, flag);
    if (load<u32>(flag)) return load<u32>(flag);
    if (advance) f.offset = off + got;
    planEnd(got == <u32>Chan.Window && got < len ? PlanFlag.MORE : 0);
    return 0;
  }
  let done: u32 = 0;
  let want = len;
  if (off < n.size) {
    const avail = n.size - off;
    if (<u64>want > avail) want = <u32>avail;
    if (n.flags & IFlag.LOWER_DATA) {
      store<u32>(flag, 0);
      done = planLowerRead(n, off, want, flag);
      const err = load<u32>(flag);
      if (err) return err;
    } else {
      done = planRead(n, off, want);
    }
  } else {
    want = 0;
  }
  if (advance) f.offset = off + done;
  planEnd(done < want && done > 0 ? PlanFlag.MORE : 0);
  return 0;
}

function writeAt(f: File, off: u64, len: u32, advance: bool): u32 {
  planBegin();
  const n = f.inode;
  if (!(f.access & Access.WRITE)) return E.BADF;
  if (f.kind == FK.STREAM || n === null) {
    if (lacks(f, <u64>R.FD_WRITE)) return E.NOTCAPABLE;
    planStream(f.stream, len);
    planEnd(0);
    return 0;
  }
  if (n.kind != Filetype.REGULAR_FILE) return E.BADF;
  if (lacks(f, advance ? <u64>R.FD_WRITE : <u64>(R.FD_WRITE | R.FD_SEEK))) return E.NOTCAPABLE;
  if (f.rhandle != NO_NODE) return planRemoteWrite(f, n, off, len, advance);
  if (f.fdflags & FD.APPEND) off = n.size;
  if (len == 0) {
    planEnd(0);
    return 0;
  }
  if (off >= MAX_FILE_SIZE) return E.FBIG;
  if (off + <u64>len > MAX_FILE_SIZE) len = <u32>(MAX_FILE_SIZE - off);
  if (n.flags & IFlag.LOWER_DATA) {
    const e = copyUp(n);
    if (e) return e;
  }
  store<u8>(flag, 0);
  abortFile = f;
  abortSize = n.size;
  abortOff = off;
  abortAdvance = advance;
  const done = planWrite(n, off, len, flag);
  const nospc = load<u8>(flag) != 0;
  if (done == 0) return nospc ? E.NOSPC : E.IO;
  const end = off + done;
  if (end > n.size) n.size = end;
  const now = stampNs(timesRead(n));
  n.mtime = now;
  n.ctime = now;
  if (advance) f.offset = end;
  planEnd(done < len && !nospc ? PlanFlag.MORE : 0);
  return 0;
}

// The last planned tmpfs write, for io_abort.
let abortFile: File | null = null;
let abortSize: u64 = 0;
let abortOff: u64 = 0;
let abortAdvance: bool = false;

/**
 * Takes back the last planned write after the host could store only its first `done` bytes (a
 * host-backed filestore out of space): the size, the fd offset and the pages past the new end go
 * back to what they were. The guest then sees a short write, or ENOSPC.
 */
export function io_abort(pid: u32, done: u32): u32 {
  const f = abortFile;
  abortFile = null;
  if (f === null || procGet(pid) === null || f.inode === null) return E.BADF;
  const n = f.inode!;
  const end = abortOff + done;
  zeroUnwritten(n, end); // pages with old bytes the write was to fill whole read as zeros past it
  const size = end > abortSize ? end : abortSize;
  if (size < n.size) truncatePages(n, size, true);
  if (abortAdvance) f.offset = end;
  return 0;
}

// A planned remote transfer, finished by io_commit: a write the glue has copied into the kernel's
// buffer (sent from there), or a Seg.Host read or write the glue has made itself (pendHost).
let pendFile: File | null = null;
let pendOff: u64 = 0;
let pendLen: u32 = 0;
let pendAdvance: bool = false;
let pendHost: u32 = 0;
const enum PendHost {
  NO = 0,
  READ = 1,
  WRITE = 2,
}

/**
 * A remote read or write the host makes itself (Seg.Host: straight between the host file and the
 * guest's buffer); the file is pending until io_commit reports the count.
 */
function planHostIO(f: File, off: u64, len: u32, advance: bool, kind: PendHost): u32 {
  pendFile = f;
  pendOff = off;
  pendLen = len;
  pendAdvance = advance;
  pendHost = kind;
  if (len > 0) planHost(f.rhandle, off, len);
  planEnd(PlanFlag.COMMIT);
  return 0;
}

function planRemoteWrite(f: File, n: Inode, off: u64, len: u32, advance: bool): u32 {
  if (hostIO) return planHostIO(f, off, len, advance, PendHost.WRITE);
  pendHost = PendHost.NO;
  const chunk = min<u32>(len, REMOTE_WRITE_MAX);
  pendFile = f;
  pendOff = off;
  pendLen = chunk;
  pendAdvance = advance;
  if (chunk > 0) planKmem(remoteWriteBuffer(), chunk);
  planEnd(PlanFlag.COMMIT | (chunk < len ? PlanFlag.MORE : 0));
  return 0;
}

/** Sends the write planned last (see PlanFlag.COMMIT); RES[0] = bytes written. */
export function io_commit(pid: u32, result: i32): u32 {
  const f = pendFile;
  pendFile = null;
  const host = pendHost;
  pendHost = PendHost.NO;
  if (host != PendHost.NO) return hostDone(pid, f, host == PendHost.WRITE, result);
  if (f === null || procGet(pid) === null) return E.BADF;
  res32(0, 0);
  if (pendLen == 0) return 0;
  store<u32>(flag, 0);
  const e = remoteCommitWrite(f.inode, f.rhandle, pendOff, pendLen, f.rappend != 0, flag);
  if (e) return e;
  const n = load<u32>(flag);
  // an O_APPEND handle wrote at the host's end, whatever the offset: the file's new size is where
  // the fd's offset goes (Linux: the write moves the offset to the end of what it wrote)
  if (pendAdvance) f.offset = f.rappend && f.inode !== null ? f.inode!.size : pendOff + n;
  res32(0, n);
  return 0;
}

/** io_commit of a Seg.Host transfer: `result` bytes moved (or a negated errno). */
function hostDone(pid: u32, f: File | null, write: bool, result: i32): u32 {
  res32(0, 0);
  if (f === null || procGet(pid) === null) return E.BADF;
  if (result < 0) return <u32>-result;
  const n = <u32>result;
  if (n > pendLen) return E.IO;
  if (write && n > 0 && f.inode !== null) {
    const e = remoteWritten(f.inode!, f.rappend != 0);
    if (e) return e;
  }
  // an O_APPEND handle wrote at the host's end, whatever the offset (see io_commit)
  if (pendAdvance) f.offset = write && f.rappend && f.inode !== null ? f.inode!.size : pendOff + n;
  res32(0, n);
  return 0;
}

/**
 * Reads or writes (IoFlag.WRITE) `len` bytes at the fd's offset, or at `offset` (IoFlag.AT) leaving
 * the fd's own alone: the one entry the glue's rw calls (fd_read below is the glue's readPlanned).
 */
export function fd_io(pid: u32, fd: u32, len: u32, offset: u64, flags: u32): u32 {
  const e = getFile(pid, fd);
  if (e) return e;
  const at = (flags & IoFlag.AT) != 0;
  if (at) {
    if (curFile.kind == FK.STREAM) return E.SPIPE;
    if (<i64>offset < 0) return E.INVAL;
  }
  const off = at ? offset : curFile.offset;
  return flags & IoFlag.WRITE ? writeAt(curFile, off, len, !at) : readAt(curFile, off, len, !at);
}

export function fd_read(pid: u32, fd: u32, len: u32): u32 {
  return fd_io(pid, fd, len, 0, 0);
}

// ---------------------------------------------------------------------------------------------
// Directories

let rdUsed: u32 = 0;
let rdCap: u32 = 0;

/** Appends one dirent record to DATA; false (having filled DATA to rdCap) when it does not fit. */
function emitDirent(name: usize, len: u32, ino: u64, type: u32, next: u64): bool {
  const rec = <u32>Dirent.SIZEOF + len;
  const out = io + Io.DATA + rdUsed;
  if (rdUsed + rec <= rdCap) {
    store<u64>(out + Dirent.NEXT, next);
    store<u64>(out + Dirent.INO, ino);
    store<u32>(out + Dirent.NAMLEN, len);
    store<u32>(out + Dirent.TYPE, <u32>type);
    memory.copy(out + Dirent.SIZEOF, name, len);
    rdUsed += rec;
    return true;
  }
  // WASI: a record that does not fit is cut short, and the buffer is reported full
  store<u64>(scratch + Dirent.NEXT, next);
  store<u64>(scratch + Dirent.INO, ino);
  store<u32>(scratch + Dirent.NAMLEN, len);
  store<u32>(scratch + Dirent.TYPE, <u32>type);
  memory.copy(scratch + Dirent.SIZEOF, name, len);
  memory.copy(out, scratch, rdCap - rdUsed);
  rdUsed = rdCap;
  return false;
}

export function fd_readdir(pid: u32, fd: u32, bufLen: u32, cookie: u64): u32 {
  const e = getFile(pid, fd);
  if (e) return e;
  const f = curFile;
  const n = f.inode;
  if (n === null || n.kind != Filetype.DIRECTORY) return E.NOTDIR;
  if (lacks(f, <u64>R.FD_READDIR)) return E.NOTCAPABLE;
  if (n.flags & IFlag.UNPOPULATED) {
    const pe = populate(n);
    if (pe) return pe;
  }
  if (isRemote(n)) {
    // a listing starts afresh from the host at cookie 0
    if (cookie == 0 || n.rlist == 0) {
      const le = remoteList(n);
      if (le) return le;
      f.rdGen = 0;
    }
    const re = remoteRevalidate(n);
    if (re) return re;
  }
  rdUsed = 0;
  rdCap = min<u32>(bufLen, <u32>Io.DATA_SIZE);
  let whole: u32 = 0;
  let last = cookie;
  let eof: u32 = 0;
  store<u16>(scratch + 256, 0x2e2e);
  let full = false;
  if (n.nlink == 0) {
    eof = 1; // a removed directory lists nothing, as on Linux
  } else {
    if (cookie == 0) {
      if (emitDirent(scratch + 256, 1, n.ino, Filetype.DIRECTORY, 1)) {
        whole = rdUsed;
        last = 1;
      } else full = true;
    }
    if (!full && cookie <= 1) {
      const p = changetype<Inode>(n.parent);
      if (p.flags & IFlag.INO_UNKNOWN) {
        const pe = remoteRevalidate(p); // a directory made here, its st_ino not fetched yet
        if (pe) return pe;
      }
      if (emitDirent(scratch + 256, 2, p.ino, Filetype.DIRECTORY, 2)) {
        whole = rdUsed;
        last = 2;
      } else full = true;
    }
    if (!full && isRemote(n)) {
      // a remote listing: entry i has cookie i + 3; the cursor remembers where the last call stopped
      const from: u64 = cookie < 2 ? 2 : cookie;
      let i: u64 = 0;
      let off: u32 = 0;
      if (f.rdCookie == from && from > 2 && f.rdGen == 0xffffffff) {
        i = from - 2;
        off = f.rdSlot;
      }
      while (i < from - 2 && off < n.rlistLen) {
        off += (16 + load<u32>(n.rlist + off, 12) + 7) & ~7;
        i++;
      }
      while (off < n.rlistLen) {
        const rec = n.rlist + off;
        const nl = load<u32>(rec, 12);
        if (!emitDirent(rec + 16, nl, load<u64>(rec), load<u32>(rec, 8), i + 3)) {
          full = true;
          break;
        }
        whole = rdUsed;
        last = i + 3;
        off += (16 + nl + 7) & ~7;
        i++;
        f.rdCookie = last;
        f.rdSlot = off;
        f.rdGen = 0xffffffff;
      }
      if (!full) eof = 1;
    } else if (!full) {
      const from: u64 = cookie < 2 ? 2 : cookie;
      let slot = f.rdCookie == from && f.rdGen == n.gen && from > 2 ? f.rdSlot : dSeek(n, from);
      while (slot < n.entsLen) {
        const d = dAt(n, slot);
        if (d !== null) {
          if (!emitDirent(dname(d), d.nameLen, d.inode.ino, d.inode.kind, d.cookie)) {
            full = true;
            break;
          }
          whole = rdUsed;
          last = d.cookie;
          f.rdCookie = d.cookie;
          f.rdSlot = slot + 1;
          f.rdGen = n.gen;
        }
        slot++;
      }
      if (!full) eof = 1;
    }
  }
  res32(Readdir.USED, rdUsed);
  res32(Readdir.WHOLE, whole);
  res64(Readdir.COOKIE64, last);
  res32(Readdir.EOF, eof);
  return 0;
}

// ---------------------------------------------------------------------------------------------
// Paths

export function path_open(pid: u32, fd: u32, dirflags: u32, len: u32, oflags: u32, rightsBase: u64, rightsInh: u64, fdflags: u32): u32 {
  if (oflags & ~0xf) return E.INVAL;
  if ((oflags & O.CREAT) && (oflags & O.DIRECTORY)) return E.INVAL;
  // O_CREAT resolves the parent first (Linux open_last_lookups): a trailing slash or a final "." is
  // EISDIR, an existing name is EEXIST with O_EXCL (a dangling symlink too), and otherwise an
  // existing symlink is followed (to create its target if it dangles).
  const excl = (oflags & (O.CREAT | O.EXCL)) == (O.CREAT | O.EXCL);
  // WASI: the directory needs PATH_OPEN, and PATH_FILESTAT_SET_SIZE to truncate (PATH_CREATE_FILE to create)
  const openNeed: u64 = oflags & O.TRUNC ? <u64>(R.PATH_OPEN | R.PATH_FILESTAT_SET_SIZE) : <u64>R.PATH_OPEN;
  const follow: u32 = dirflags & LOOKUP.SYMLINK_FOLLOW ? W.FOLLOW : 0;
  let e: u32;
  if (oflags & O.CREAT) {
    e = walkAt(pid, fd, len, excl ? W.PARENT | W.CREATE : W.PARENT, io + Io.PATH1, nameA, openNeed | <u64>R.PATH_CREATE_FILE);
    if (e) return e;
    if (wSlash || wDot != Dot.NONE) return E.ISDIR;
    if (wInode !== null) {
      if (excl) return E.EXIST;
      if (wInode!.kind == Filetype.SYMBOLIC_LINK && follow) {
        e = walkAt(pid, fd, len, W.FOLLOW, io + Io.PATH1, nameA, openNeed | <u64>R.PATH_CREATE_FILE);
        if (e) return e;
        if (wSlash) return E.ISDIR;
      }
    }
  } else {
    e = walkAt(pid, fd, len, follow, io + Io.PATH1, nameA, openNeed);
    if (e) return e;
  }
  const parent = curFile;
  // the new fd gets at most what the directory passes on (its inheriting rights), as WASI says
  const granted = rightsBase & parent.rightsInh;
  let access: u32 = 0;
  if (granted & <u64>R.READING) access |= Access.READ;
  if (granted & <u64>R.FD_WRITE) access |= Access.WRITE;
  const read = (access & Access.READ) != 0;
  const write = (access & Access.WRITE) != 0;
  const trunc = (oflags & O.TRUNC) != 0;
  const append = (fdflags & FD.APPEND) != 0;
  let n = wInode;
  let rhandle: u32 = NO_NODE;
  if (n === null) {
    if (!(oflags & O.CREAT)) return E.NOENT;
    if (wDir.nlink == 0) return E.NOENT; // the directory was removed
    if (isRemote(wDir)) {
      e = remoteCreate(wDir, nameA, wNameLen, read, write, trunc, excl, append, ptr, flag);
      if (e) return e;
      n = changetype<Inode>(load<usize>(ptr));
      rhandle = load<u32>(flag);
    } else {
      e = devWritable(wDir.dev);
      if (e) return e;
      if (!inodeRoom()) return E.NOSPC;
      n = createNode(wDir, nameA, wNameLen, Filetype.REGULAR_FILE, 0o644);
    }
  } else {
    if (excl) return E.EXIST;
    if (n.kind == Filetype.SYMBOLIC_LINK) return oflags & O.DIRECTORY ? E.NOTDIR : E.LOOP; // not followed
    if ((oflags & O.DIRECTORY) && n.kind != Filetype.DIRECTORY) return E.NOTDIR;
    if (n.kind == Filetype.DIRECTORY) {
      // Linux's open(dir, O_WRONLY) is EISDIR, with O_DIRECTORY too; wasi-libc asks for FD_WRITE
      // exactly when the program opens for writing, so a raw call asking for it gets the same
      if (write || trunc) return E.ISDIR;
    } else if (isRemote(n)) {
      e = remoteOpen(n, read, write, trunc, append, flag);
      if (e) return e;
      rhandle = load<u32>(flag);
    } else if (n.kind == Filetype.REGULAR_FILE) {
      // a read-only file system: EROFS for writing or truncating; O_APPEND alone changes nothing
      const ro = devWritable(n.dev);
      if (ro && (write || trunc)) return ro;
      if (trunc) {
        e = setSize(n, 0);
        if (e) return e;
        markDirUpper(wDir);
      } else if ((write || append) && !ro) {
        e = copyUp(n);
        if (e) return e;
        if (n.lowerNode != NO_NODE) markDirUpper(wDir);
      }
    }
  }
  if (n.kind == Filetype.CHARACTER_DEVICE) return openDevice(n, access, granted, fdflags);
  const kindRights: u64 = n.kind == Filetype.DIRECTORY ? <u64>R.DIR : <u64>R.FILE;
  const f = fileNew(FK.INODE, n);
  f.access = access;
  f.rightsBase = granted & kindRights;
  f.rightsInh = rightsInh & parent.rightsInh;
  f.fdflags = fdflags & 0x1f;
  f.rhandle = rhandle;
  f.rappend = append ? 1 : 0;
  return installFile(f);
}

/** Gives the opener the new open file `f` at its lowest free fd (the answer of path_open). */
function installFile(f: File): u32 {
  const nfd = fdInstall(curProc, f);
  if (nfd < 0) {
    fileClose(f);
    return E.MFILE;
  }
  res32(0, <u32>nfd);
  return 0;
}

/**
 * path_open of a character device: one the host made (dev_node) opens as its host stream, or as the
 * opener's own fd 0-2 again (/dev/stdin ...: the same open file, as Linux's /proc/self/fd gives);
 * any other (an image's) is ENXIO, as a device without a driver.
 */
function openDevice(n: Inode, access: u32, granted: u64, fdflags: u32): u32 {
  const r = n.rdev;
  let f: File;
  if (r >= <u32>Stream.DEV_FD0 && r < <u32>Stream.DEV_FD0 + 3) {
    const src = fileOf(curProc, r - <u32>Stream.DEV_FD0);
    if (src === null) return E.NOENT;
    src.refs++;
    f = src;
  } else if (r >= <u32>Stream.DEV_NULL && r <= <u32>Stream.DEV_RANDOM) {
    f = fileNew(FK.STREAM, n);
    f.stream = r;
    f.streamType = Filetype.CHARACTER_DEVICE;
    f.access = access;
    f.rightsBase = granted & <u64>R.STREAM;
    f.fdflags = fdflags & 0x1f;
  } else {
    return E.NXIO;
  }
  return installFile(f);
}

/**
 * Makes a character device at the absolute path in PATH1 (its directory must exist) that opens as
 * `rdev` (Stream.DEV_*): the host's /dev. Returns 0 or an errno.
 */
export function dev_node(len: u32, rdev: u32): u32 {
  if (rdev < <u32>Stream.DEV_NULL || rdev >= <u32>Stream.DEV_FD0 + 3) return E.INVAL;
  const path = io + Io.PATH1;
  if (len == 0 || load<u8>(path) != 0x2f) return E.INVAL;
  const root = rootInode;
  const e = walk(root, root, path, len, W.PARENT | W.CREATE, nameA);
  if (e) return e;
  if (wInode !== null) return E.EXIST;
  if (isRemote(wDir)) return E.PERM;
  createNode(wDir, nameA, wNameLen, Filetype.CHARACTER_DEVICE, 0o666).rdev = rdev;
  return 0;
}

/** Whether the final component of the last walk is a mount point (which cannot be removed or renamed). */
function finalIsMountpoint(): bool {
  const d = wDentry;
  return d !== null && d.inode.mounted !== null;
}

export function path_create_directory(pid: u32, fd: u32, len: u32): u32 {
  const e = walkAt(pid, fd, len, W.PARENT | W.CREATE, io + Io.PATH1, nameA, <u64>R.PATH_CREATE_DIRECTORY);
  if (e) return e;
  if (wDot != Dot.NONE || wInode !== null) return E.EXIST;
  if (wDir.nlink == 0) return E.NOENT;
  if (isRemote(wDir)) return remoteMkdir(wDir, nameA, wNameLen);
  const ro = devWritable(wDir.dev);
  if (ro) return ro;
  if (!inodeRoom()) return E.NOSPC;
  createNode(wDir, nameA, wNameLen, Filetype.DIRECTORY, 0o755);
  return 0;
}

export function path_remove_directory(pid: u32, fd: u32, len: u32): u32 {
  const e = walkAt(pid, fd, len, W.PARENT, io + Io.PATH1, nameA, <u64>R.PATH_REMOVE_DIRECTORY);
  if (e) return e;
  if (wDot == Dot.DOT) return E.INVAL;
  if (wDot == Dot.DOTDOT) return E.NOTEMPTY;
  if (wDot == Dot.SLASHES) return E.BUSY;
  // Linux do_rmdir asks for write access to the mount before it looks the name up
  if (!isRemote(wDir)) {
    const ro = devWritable(wDir.dev);
    if (ro) return ro;
  }
  const n = wInode;
  if (n === null) return E.NOENT;
  if (n.kind != Filetype.DIRECTORY) return E.NOTDIR;
  if (finalIsMountpoint()) return E.BUSY;
  const d = wDentry!;
  if (isRemote(wDir)) return remoteUnlink(wDir, d, true);
  const ee = dirEmpty(n, flag);
  if (ee) return ee;
  if (!load<u8>(flag)) return E.NOTEMPTY;
  unlinkEntry(d);
  return 0;
}

export function path_unlink_file(pid: u32, fd: u32, len: u32): u32 {
  const e = walkAt(pid, fd, len, W.PARENT, io + Io.PATH1, nameA, <u64>R.PATH_UNLINK_FILE);
  if (e) return e;
  if (wDot != Dot.NONE) return E.ISDIR;
  if (!isRemote(wDir)) {
    const ro = devWritable(wDir.dev); // before the lookup, as Linux do_unlinkat
    if (ro) return ro;
  }
  const n = wInode;
  if (n === null) return E.NOENT;
  if (n.kind == Filetype.DIRECTORY) return E.ISDIR;
  if (wSlash) return E.NOTDIR; // "file/" or "symlink/": Linux do_unlinkat's slashes case
  if (isRemote(wDir)) return remoteUnlink(wDir, wDentry!, false);
  unlinkEntry(wDentry!);
  return 0;
}

export function path_symlink(pid: u32, targetLen: u32, fd: u32, len: u32): u32 {
  if (targetLen == 0) return E.NOENT;
  if (targetLen >= <u32>Io.PATH_MAX) return E.NAMETOOLONG;
  const e = walkAt(pid, fd, len, W.PARENT | W.CREATE, io + Io.PATH2, nameA, <u64>R.PATH_SYMLINK);
  if (e) return e;
  if (hasNul(io + Io.PATH1, targetLen)) return E.INVAL;
  if (wDot != Dot.NONE || wInode !== null) return E.EXIST;
  if (wSlash) return E.NOENT;
  if (wDir.nlink == 0) return E.NOENT;
  if (isRemote(wDir)) return remoteSymlink(wDir, nameA, wNameLen, io + Io.PATH1, targetLen);
  const ro = devWritable(wDir.dev);
  if (ro) return ro;
  if (!inodeRoom()) return E.NOSPC;
  symlinkNode(wDir, nameA, wNameLen, io + Io.PATH1, targetLen);
  return 0;
}

export function path_readlink(pid: u32, fd: u32, len: u32, bufLen: u32): u32 {
  const e = walkAt(pid, fd, len, 0, io + Io.PATH1, nameA, <u64>R.PATH_READLINK);
  if (e) return e;
  const n = wInode;
  if (n === null) return E.NOENT;
  if (n.kind != Filetype.SYMBOLIC_LINK) return E.INVAL;
  const le = loadLink(n);
  if (le) return le;
  const count = min<u32>(<u32>n.size, min<u32>(bufLen, <u32>Io.DATA_SIZE));
  memory.copy(io + Io.DATA, n.target, count);
  res32(0, count);
  return 0;
}

export function path_link(pid: u32, oldFd: u32, oldFlags: u32, oldLen: u32, newFd: u32, newLen: u32): u32 {
  let e = walkAt(pid, oldFd, oldLen, oldFlags & LOOKUP.SYMLINK_FOLLOW ? W.FOLLOW : 0, io + Io.PATH1, nameA, <u64>R.PATH_LINK_SOURCE);
  if (e) return e;
  const src = wInode;
  if (src === null) return E.NOENT;
  // Linux do_linkat: the new name is checked (EEXIST, ENOENT) before the source's type (EPERM)
  e = walkAt(pid, newFd, newLen, W.PARENT, io + Io.PATH2, nameB, <u64>R.PATH_LINK_TARGET);
  if (e) return e;
  if (wDot != Dot.NONE || wInode !== null) return E.EXIST;
  if (wSlash) return E.NOENT;
  if (wDir.nlink == 0) return E.NOENT;
  if (!isRemote(wDir)) {
    const ro = devWritable(wDir.dev);
    if (ro) return ro;
  }
  if (src.kind == Filetype.DIRECTORY) return E.PERM;
  if (isRemote(wDir) || isRemote(src)) return isRemote(wDir) ? remoteLink(wDir, src, nameB, wNameLen) : E.XDEV;
  if (src.dev != wDir.dev) return E.XDEV; // the root and a tmpfs mount, or two tmpfs mounts
  linkEntry(wDir, nameB, wNameLen, src);
  return 0;
}

/**
 * rename, in the order Linux checks things (fs/namei.c do_renameat2, vfs_rename): both parents
 * resolve; EXDEV across file systems; EBUSY for "." / ".." / "/"; ENOENT for a missing source;
 * ENOTDIR when a non-directory source or target path ends in '/'; EINVAL when a directory would
 * move into itself; ENOTEMPTY when the target is an ancestor of the source; then nothing to do for
 * the same file; then the source/target type rules; EBUSY for mount points; ENOTEMPTY last.
 */
export function path_rename(pid: u32, oldFd: u32, oldLen: u32, newFd: u32, newLen: u32): u32 {
  let e = walkAt(pid, oldFd, oldLen, W.PARENT, io + Io.PATH1, nameA, <u64>R.PATH_RENAME_SOURCE);
  if (e) return e;
  const oDot = wDot;
  const oSlash = wSlash;
  const src = wInode;
  const od = wDentry;
  const oDir = wDir;
  // a target name a remote directory has not cached is not looked up: the host's rename answers
  e = walkAt(pid, newFd, newLen, W.PARENT | W.CREATE, io + Io.PATH2, nameB, <u64>R.PATH_RENAME_TARGET);
  if (e) return e;
  const dst = wInode;
  const nd = wDentry;
  const nDir = wDir;
  if (oDir.dev != nDir.dev) return E.XDEV;
  if (oDot != Dot.NONE || wDot != Dot.NONE) return E.BUSY;
  if (!isRemote(oDir)) {
    const ro = devWritable(oDir.dev); // Linux do_renameat2: write access before the lookups
    if (ro) return ro;
  }
  if (src === null) return E.NOENT;
  const isDir = src.kind == Filetype.DIRECTORY;
  if (!isDir && (oSlash || wSlash)) return E.NOTDIR;
  if (isDir && isAncestor(src, nDir)) return E.INVAL;
  if (dst !== null && isAncestor(dst, oDir)) return E.NOTEMPTY;
  if (dst === src) return 0; // the same file, even through another hard link: nothing to do
  if (dst !== null) {
    if (isDir && dst.kind != Filetype.DIRECTORY) return E.NOTDIR;
    if (!isDir && dst.kind == Filetype.DIRECTORY) return E.ISDIR;
  }
  if ((od !== null && od.inode.mounted !== null) || finalIsMountpoint()) return E.BUSY;
  if (isRemote(oDir)) return remoteRename(od!, nDir, nameB, wNameLen, nd);
  if (dst !== null && dst.kind == Filetype.DIRECTORY) {
    e = dirEmpty(dst, flag);
    if (e) return e;
    if (!load<u8>(flag)) return E.NOTEMPTY;
  }
  if (nDir.nlink == 0) return E.NOENT;
  renameEntry(od!, nDir, nameB, wNameLen, nd);
  return 0;
}

// ---------------------------------------------------------------------------------------------
// Processes

/**
 * Creates a process whose fds 0-2 are host streams 0-2 (of the given filetypes) and whose fd 3 is
 * the root directory, preopened as "/". Returns the pid, or -1.
 */
export function proc_create(stdinType: u32, stdoutType: u32, stderrType: u32): i32 {
  const pid = procNew(rootInode);
  if (pid < 0) return -1;
  const p = procGet(<u32>pid)!;
  for (let s: u32 = 0; s < 3; s++) {
    const f = fileNew(FK.STREAM, null);
    f.stream = s;
    f.streamType = (s == Stream.STDIN ? stdinType : s == Stream.STDOUT ? stdoutType : stderrType);
    f.rightsBase = <u64>R.STREAM;
    f.access = s == Stream.STDIN ? Access.READ : Access.WRITE;
    fdInstallAt(p, s, f);
  }
  const root = fileNew(FK.INODE, rootInode);
  root.preopen = 1;
  root.access = Access.READ;
  root.rightsBase = <u64>R.DIR;
  root.rightsInh = <u64>R.ALL;
  fdInstallAt(p, 3, root);
  return pid;
}

/**
 * Creates a child of `parent` whose fds 0-2 are the parent's fds fd0-fd2 (shared, like dup2 before
 * exec) and whose fd 3 is the root, preopened as "/". Returns the pid, or a negated errno.
 */
export function proc_create_child(parent: u32, fd0: u32, fd1: u32, fd2: u32): i32 {
  const pp = procGet(parent);
  if (pp === null) return -E.SRCH;
  const a = fileOf(pp, fd0);
  const b = fileOf(pp, fd1);
  const c = fileOf(pp, fd2);
  if (a === null || b === null || c === null) return -E.BADF;
  const pid = procNew(pp.root);
  if (pid < 0) return -E.AGAIN;
  const p = procGet(<u32>pid)!;
  a.refs++;
  b.refs++;
  c.refs++;
  fdInstallAt(p, 0, a);
  fdInstallAt(p, 1, b);
  fdInstallAt(p, 2, c);
  const root = fileNew(FK.INODE, pp.root);
  root.preopen = 1;
  root.access = Access.READ;
  root.rightsBase = <u64>R.DIR;
  root.rightsInh = <u64>R.ALL;
  fdInstallAt(p, 3, root);
  return pid;
}

/**
 * Gives process `pid` a new fd (the lowest free) for host stream `stream` (a pipe end the host has
 * made, stream >= Stream.FIRST_PIPE), for reading or for writing, reported as `filetype`. Returns
 * the fd, or a negated errno. When the last fd of it is closed, the kernel calls stream_release.
 */
export function proc_add_stream(pid: u32, stream: u32, write: u32, filetype: u32): i32 {
  const p = procGet(pid);
  if (p === null) return -E.SRCH;
  if (stream < <u32>Stream.FIRST_PIPE) return -E.INVAL;
  const f = fileNew(FK.STREAM, null);
  f.stream = stream;
  f.streamType = filetype;
  f.rightsBase = <u64>R.STREAM;
  f.access = write ? Access.WRITE : Access.READ;
  const fd = fdInstall(p, f);
  if (fd < 0) {
    heap.free(changetype<usize>(f));
    return -E.MFILE;
  }
  return fd;
}

export function proc_destroy(pid: u32): void {
  procFree(pid);
  // a process that ends while others go on (a shell's command, an exec'd one): what it freed goes
  // back to the host now, so `rm` in a shell shrinks the host's usage at once (mm/filestore.ts)
  if (procsAlive() > 0) flushPending();
}

/** sock_accept/recv/send/shutdown: preview1 makes no sockets and none are preopened: EBADF or ENOTSOCK. */
export function sock_fd(pid: u32, fd: u32): u32 {
  const e = getFile(pid, fd);
  return e ? e : E.NOTSOCK;
}

/**
 * poll_oneoff's answer for an fd subscription: 0 (files are always ready; for a stream the host
 * then asks fd_stream and looks at the stream), EBADF, or ENOTCAPABLE without POLL_FD_READWRITE.
 */
export function fd_poll(pid: u32, fd: u32): u32 {
  const e = getFile(pid, fd);
  if (e) return e;
  return lacks(curFile, <u64>R.POLL_FD_READWRITE) ? E.NOTCAPABLE : 0;
}

/** The host stream behind fd (a pipe, stdio, a device), or -1 if fd is no stream. */
export function fd_stream(pid: u32, fd: u32): i32 {
  if (getFile(pid, fd)) return -1;
  return curFile.kind == FK.STREAM ? <i32>curFile.stream : -1;
}

// ---------------------------------------------------------------------------------------------
// Exporting the upper layer (fs/export.ts)

export function export_begin(): u32 {
  return exportBegin();
}

export function export_next(): u32 {
  return exportNext();
}

export function export_read(off: u64, len: u32): u32 {
  return exportRead(off, len);
}

// ---------------------------------------------------------------------------------------------
// Mounts (set up by the host before any process runs)

/**
 * Resolves the mount point PATH1 (len bytes, absolute) for a new mount, creating its missing
 * directories in the root file system as Docker does. On success wDentry is the mount point, a
 * directory with nothing mounted on it yet.
 */
function mountPoint(len: u32): u32 {
  const path = io + Io.PATH1;
  if (len == 0 || load<u8>(path) != 0x2f) return E.INVAL;
  const root = rootInode;
  let i: u32 = 0;
  while (i < len) {
    while (i < len && load<u8>(path + i) == 0x2f) i++;
    if (i == len) break;
    while (i < len && load<u8>(path + i) != 0x2f) i++;
    const e = walk(root, root, path, i, W.FOLLOW, nameA);
    if (e) return e;
    if (wInode === null) {
      if (isRemote(wDir)) {
        const me = remoteMkdir(wDir, nameA, wNameLen);
        if (me) return me;
      } else createNode(wDir, nameA, wNameLen, Filetype.DIRECTORY, 0o755);
    } else if (wInode!.kind != Filetype.DIRECTORY) {
      return E.NOTDIR;
    }
  }
  const e = walk(root, root, path, len, W.FOLLOW, nameA);
  if (e) return e;
  const d = wDentry;
  if (d === null || wDot != Dot.NONE) return E.BUSY; // "/", or a path ending in "." or ".."
  const point = d.inode;
  if (point.mounted !== null) return E.BUSY;
  if (isRemote(point)) {
    // a mount point on a remote root (--overlay2 none): it and its ancestors are never revalidated,
    // so their cached entries, which hold the mount, are never dropped
    let a: Inode | null = point;
    while (a !== null && isRemote(a)) {
      a.validUntil = <u64>-1;
      if (a.parent === a) break;
      a = a.parent;
    }
  }
  return 0;
}

/**
 * Bind-mounts gofer mount `m` (a host tree) at PATH1 (len bytes, absolute), creating the mount
 * point's directories in the root file system if needed, as Docker does. `ttlMs` is how long names
 * and attributes from the host are trusted before they are revalidated (fs/remote.ts).
 */
export function mount_bind(len: u32, m: u32, ttlMs: u32): u32 {
  const e = mountPoint(len);
  if (e) return e;
  const d = wDentry!;
  store<u32>(flag, 0);
  const r = remoteMount(m, ttlMs, flag);
  if (r === null) return load<u32>(flag);
  r.parent = d.parent;
  d.inode.mounted = r;
  return 0;
}

/**
 * Mounts a fresh tmpfs at PATH1 (len bytes, absolute; the mount point's directories are created as
 * for mount_bind): its root directory has mode bits `mode`, it holds at most `limitPages` filestore
 * pages (0xffffffff: no quota of its own), and `flags` bit 0 makes it read-only.
 */
export function mount_tmpfs(len: u32, mode: u32, limitPages: u32, flags: u32): u32 {
  if (flags & ~1) return E.INVAL;
  const e = mountPoint(len);
  if (e) return e;
  const d = wDentry!;
  const r = tmpfsNew(mode, limitPages, (flags & 1) != 0);
  if (r === null) return E.NOSPC;
  r.parent = d.parent;
  d.inode.mounted = r;
  return 0;
}

/** Makes the root file system read-only (`docker run --read-only`); mounts below it keep their own rule. */
export function mount_root_readonly(): void {
  setRootReadOnly();
}

/** Makes gofer mount `m` (a host tree) the root file system, with no overlay (`--overlay2 none`). */
export function mount_root_remote(m: u32, ttlMs: u32): u32 {
  store<u32>(flag, 0);
  const r = remoteMount(m, ttlMs, flag);
  if (r === null) return load<u32>(flag);
  setRoot(r);
  return 0;
}

// ---------------------------------------------------------------------------------------------
// The `wasmbox` import module's file-system queries (host/sandbox/process.ts documents them for guests)

/** Where an object's data and metadata live (wasmbox_layer, STRUCT word 0). */
export const enum Where {
  /** Created in the sandbox: only in the upper layer. */
  UPPER = 1,
  /** From the image, copied up: data (and metadata) in the upper layer. */
  COPIED_UP = 2,
  /** From the image, unchanged: served by the lower layer. */
  LOWER = 3,
  /** From the image, with changed metadata (times, names): data still in the lower layer. */
  LOWER_DATA = 4,
  /** A directory of the image that the sandbox has changed: upper and lower merged. */
  MERGED = 5,
  /** On a host mount (bind mount, or the root with --overlay2 none): no overlay. */
  MOUNT = 6,
}

/**
 * Which layer serves PATH1 (len), resolved from fd (following symlinks if `follow`), and the
 * attributes WASI's filestat has no room for. STRUCT: 0 where u32 (Where), 4 layer u32 (image layer
 * index + 1, 0 if none), 8 dev u32, 12 filetype u32, 16 mode u32 (permission bits), 20 uid u32,
 * 24 gid u32, 28 zero.
 */
export function wasmbox_layer(pid: u32, fd: u32, len: u32, follow: u32): u32 {
  const e = walkAt(pid, fd, len, follow ? W.FOLLOW : 0, io + Io.PATH1, nameA, <u64>R.PATH_FILESTAT_GET);
  if (e) return e;
  const n = wInode;
  if (n === null) return E.NOENT;
  let where: u32;
  if (isRemote(n)) where = Where.MOUNT;
  else if (n.lowerNode == NO_NODE) where = Where.UPPER;
  else if (n.kind == Filetype.DIRECTORY) where = n.flags & IFlag.UPPER ? Where.MERGED : Where.LOWER;
  else if (n.flags & IFlag.LOWER_DATA) where = n.flags & IFlag.UPPER ? Where.LOWER_DATA : Where.LOWER;
  else where = Where.COPIED_UP;
  const out = io + Io.STRUCT;
  store<u32>(out, where);
  store<u32>(out, n.layer, 4);
  store<u32>(out, n.dev, 8);
  store<u32>(out, n.kind, 12);
  store<u32>(out, n.mode, 16);
  store<u32>(out, n.uid, 20);
  store<u32>(out, n.gid, 24);
  store<u32>(out, 0, 28);
  return 0;
}

/**
 * statfs-like figures for the file system holding PATH1 (len). STRUCT: 0 blocks u64, 8 bfree u64,
 * 16 files u64, 24 ffree u64, 32 bsize u32, 36 kind u32 (1 overlay root file system, 2 host mount,
 * 3 tmpfs mount),
 * 40 upper pages u32 (filestore pages in use), 44 inodes u32, 48 bavail u64 (free blocks an
 * unprivileged user may take: a host file system keeps some back; the sandbox's own keep none).
 */
export function wasmbox_statfs(pid: u32, fd: u32, len: u32): u32 {
  const e = walkAt(pid, fd, len, W.FOLLOW, io + Io.PATH1, nameA, <u64>R.PATH_FILESTAT_GET);
  if (e) return e;
  const n = wInode;
  if (n === null) return E.NOENT;
  const out = io + Io.STRUCT;
  memory.fill(out, 0, 56);
  if (isRemote(n)) {
    const ge = goferStatFS(n.lowerNode, out);
    if (ge) return ge;
    store<u32>(out, 2, 36);
  } else if (devQuota(n.dev, out + 40)) {
    // a tmpfs mount: its own quota (or, without one, the filestore's room), and its pages in use
    const limit = load<u32>(out + 40);
    const used = load<u32>(out + 44);
    const total: u64 = limit == 0xffffffff ? <u64>pagesLimit() : <u64>limit;
    const room: u64 = min<u64>(total - min<u64>(total, <u64>used), <u64>pagesFree());
    store<u64>(out, total, 0);
    store<u64>(out, room, 8);
    store<u64>(out, <u64>inodesInUse() + 1000000, 16);
    store<u64>(out, 1000000, 24);
    store<u32>(out, 4096, 32);
    store<u32>(out, 3, 36);
    store<u32>(out, used, 40);
    store<u32>(out, inodesInUse(), 44);
    store<u64>(out, room, 48);
    return 0;
  } else {
    store<u64>(out, <u64>pagesLimit(), 0);
    store<u64>(out, <u64>pagesFree(), 8);
    store<u64>(out, <u64>inodesInUse() + 1000000, 16);
    store<u64>(out, 1000000, 24);
    store<u32>(out, 4096, 32);
    store<u32>(out, 1, 36);
    store<u64>(out, <u64>pagesFree(), 48);
  }
  store<u32>(out, pagesUsed(), 40);
  store<u32>(out, inodesInUse(), 44);
  return 0;
}
