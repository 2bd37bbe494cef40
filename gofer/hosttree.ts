// The gofer's handlers for host directory trees (trusted): bind mounts (`-v HOST:GUEST[:ro]`) and
// the writable rootfs of `--overlay2 none`. The client (the kernel) is assumed compromised.
//
// Every object is reached from a directory fd, never by a host path the client influences: a node
// is an O_PATH fd, and "name in directory D" is opened as `/proc/self/fd/D/name`, which the host
// kernel resolves from D's object (like openat), with O_NOFOLLOW so that the gofer never follows a
// symlink. Names are single components (validName). After every open, the new object's real path
// (readlink of /proc/self/fd/N) must still lie under the mount's root, and a directory's before any
// change made through it: this defeats the race in which a directory already walked is moved away
// or replaced by a symlink. Only regular files, directories and symlinks are served; FIFOs, sockets
// and devices are refused and left out of listings. A read-only mount answers EROFS to every
// mutation before doing anything. A request that fails leaves nothing behind: a file created by a
// failed OpenCreateAt is removed again.
//
// References: node and handle refs are per-connection table indexes with Ref.Host set, checked on
// every use (EBADF), released by Close.
import fs from 'node:fs';
import { E } from '../kernel/wasi/errno';
import { Fail, answer, hostErrno } from './errno';
import {
  AllocateReq, CloseReq, CreateReq, CreateResp, GetdentsReq, GetdentsResp, Kind, LinkReq, MkdirReq, MountReq, MountResp, Msg,
  NodeReq, NodeResp, OpenFlags, OpenReq, OpenResp, PReadReq, PWriteFlags, PWriteReq, PWriteResp, Ref, RenameReq, SetFlagsReq, SetMask,
  SetStatReq, SetStatResp, Stat, StatFSResp, SymlinkReq, UnlinkReq, WalkReq, WalkResp, Chan,
} from './protocol/messages';
import { validName } from './names';
import type { HostRw } from '../native/index';

const O_PATH = 0o10000000;
const { O_NOFOLLOW, O_DIRECTORY, O_RDONLY, O_WRONLY, O_RDWR, O_CREAT, O_EXCL, O_TRUNC, O_APPEND } = fs.constants;
const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const MAX_REFS = 1 << 20;

/**
 * A server of host trees (mounts 1..n): this file's checked, path-based one, or hostdirect.ts's,
 * through held descriptors. GoferServer routes every request with a Ref.Host reference to it.
 */
export interface HostTree {
  requests: number;
  /** hostIO calls made, reads and writes (GoferServer counts them as the PReads and PWrites they stand for). */
  readonly io: { [i: number]: number };
  handle(id: number, len: number, w: Uint8Array, dv: DataView): number;
  /**
   * PRead / PWrite of an open handle straight into or out of buf[off, off+len) (GoferServer.hostIO,
   * called by the glue with no step between): checks its arguments as hostIOArgs does, itself.
   */
  hostIO(write: boolean, handle: number, pos: number, buf: Uint8Array, off: number, len: number): number;
  /**
   * Optional: hostIO made by the addon straight into `memory`, for the WebAssembly glue, answering
   * HOST_RW_ASK for what hostIO must do instead (hostdirect.ts NATIVE HOST I/O); null where it cannot.
   */
  nativeHostIO?(memory: WebAssembly.Memory): HostRw | null;
  /** Whether every ref of a Close/FSync list is one of ours (all or nothing). */
  checkRefs(refs: number[]): boolean;
  close(refs: number[]): void;
  /** fsync (or, `dataOnly`, fdatasync) of the open files among `refs`; -errno of the first failure. */
  fsync(refs: number[], dataOnly: boolean): number;
  closeAll(): void;
}

/**
 * The message handlers of a host tree (this file's checked server and hostdirect.ts): each takes the
 * request (len bytes of w, also seen through dv) and writes its answer over it, returning the
 * answer's length or -errno.
 */
export interface HostHandlers {
  mount(len: number, w: Uint8Array, dv: DataView): number;
  walk(len: number, w: Uint8Array, dv: DataView, handOut: boolean): number;
  fstat(len: number, w: Uint8Array, dv: DataView): number;
  setstat(len: number, w: Uint8Array, dv: DataView): number;
  openAt(len: number, w: Uint8Array, dv: DataView): number;
  create(len: number, w: Uint8Array, dv: DataView): number;
  pread(len: number, w: Uint8Array, dv: DataView): number;
  pwrite(len: number, w: Uint8Array, dv: DataView): number;
  getdents(len: number, w: Uint8Array, dv: DataView): number;
  mkdir(len: number, w: Uint8Array, dv: DataView): number;
  symlink(len: number, w: Uint8Array, dv: DataView): number;
  link(len: number, w: Uint8Array, dv: DataView): number;
  unlink(len: number, w: Uint8Array, dv: DataView): number;
  rename(len: number, w: Uint8Array, dv: DataView): number;
  readlink(len: number, w: Uint8Array, dv: DataView): number;
  statfs(len: number, w: Uint8Array, dv: DataView): number;
  setFlags(len: number, w: Uint8Array, dv: DataView): number;
  allocate(len: number, w: Uint8Array, dv: DataView): number;
}

/** The open(2) access and flags of an OpenFlags set (OpenAt, OpenCreateAt). */
export function openMode(flags: number): number {
  let m = flags & OpenFlags.Write ? (flags & OpenFlags.Read ? O_RDWR : O_WRONLY) : O_RDONLY;
  if (flags & OpenFlags.Truncate) m |= O_TRUNC;
  if (flags & OpenFlags.Append) m |= O_APPEND;
  return m;
}

/** Routes one host request to its handler (NOSYS for a message host trees do not serve). */
export function dispatchHost(h: HostHandlers, id: number, len: number, w: Uint8Array, dv: DataView): number {
  switch (id) {
    case Msg.Mount:
      return h.mount(len, w, dv);
    case Msg.Walk:
      return h.walk(len, w, dv, true);
    case Msg.WalkStat:
      return h.walk(len, w, dv, false);
    case Msg.FStat:
      return h.fstat(len, w, dv);
    case Msg.SetStat:
      return h.setstat(len, w, dv);
    case Msg.OpenAt:
      return h.openAt(len, w, dv);
    case Msg.OpenCreateAt:
      return h.create(len, w, dv);
    case Msg.PRead:
      return h.pread(len, w, dv);
    case Msg.PWrite:
      return h.pwrite(len, w, dv);
    case Msg.Getdents:
      return h.getdents(len, w, dv);
    case Msg.MkdirAt:
      return h.mkdir(len, w, dv);
    case Msg.SymlinkAt:
      return h.symlink(len, w, dv);
    case Msg.LinkAt:
      return h.link(len, w, dv);
    case Msg.UnlinkAt:
      return h.unlink(len, w, dv);
    case Msg.RenameAt:
      return h.rename(len, w, dv);
    case Msg.ReadLinkAt:
      return h.readlink(len, w, dv);
    case Msg.StatFS:
      return h.statfs(len, w, dv);
    case Msg.SetFlags:
      return h.setFlags(len, w, dv);
    case Msg.Allocate:
      return h.allocate(len, w, dv);
    default:
      return -E.NOSYS;
  }
}

/**
 * What hostIO's arguments are wrong by, or 0: a handle that is not a host one is EBADF; a position
 * that is not a safe integer, or a range outside buf, is EINVAL. The glue passes what a kernel plan
 * said, and the kernel is not trusted.
 */
export function hostIOArgs(handle: number, pos: number, buf: Uint8Array, off: number, len: number): number {
  if ((handle & Ref.Host) === 0) return -E.BADF;
  if (!Number.isSafeInteger(pos) || pos < 0 || len < 0 || off < 0 || off + len > buf.length) return -E.INVAL;
  return 0;
}

/**
 * A host file no guest may open or walk to through any mount (the sandbox's own filestore: a guest
 * that truncated it would fault the host through its mapping), by device and inode, so that no
 * path reaches it: not a bind mount of a parent, not a host bind mount of the upper directory
 * elsewhere, not a hard link. Such a file is EACCES (it may still show in a listing).
 */
export interface HiddenFile {
  dev: bigint;
  ino: bigint;
}

/** Whether `st` is one of `hidden`. */
export function isHidden(hidden: readonly HiddenFile[], st: { dev: bigint; ino: bigint }): boolean {
  for (const h of hidden) if (h.ino === st.ino && h.dev === st.dev) return true;
  return false;
}

export interface HostMount {
  /** Host directory served at the mount's root. */
  path: string;
  readonly: boolean;
}

interface Entry {
  fd: number;
  /** For open files: the flags they were opened with (O_APPEND changes with SetFlags). */
  flags: number;
  /** true: an open file (OpenAt/OpenCreateAt); false: a node (O_PATH). */
  open: boolean;
  kind: number;
  mount: number;
  /** For nodes: the directory node and name it was reached by (readlink and link need them). */
  parent: number;
  name: string;
  ino: bigint;
  /** Its byName key, fixed when added (and changed by renames), so that release finds it. */
  key?: string | null;
}

const dec = new TextDecoder('utf-8', { fatal: false });

/** The protocol's Kind of a host st_mode (Unknown for anything not served). */
export function kindOf(mode: number | bigint): number {
  const t = Number(mode) & S_IFMT;
  return t === S_IFDIR ? Kind.Dir : t === S_IFREG ? Kind.File : t === S_IFLNK ? Kind.Symlink : Kind.Unknown;
}

/** Writes a protocol Stat of host status `st` at `at`. */
export function writeHostStat(dv: DataView, at: number, st: fs.BigIntStats, layer: number): void {
  dv.setBigUint64(at + Stat.Ino, st.ino, true);
  dv.setBigUint64(at + Stat.Size, st.size, true);
  dv.setBigUint64(at + Stat.Atime, st.atimeNs, true);
  dv.setBigUint64(at + Stat.Mtime, st.mtimeNs, true);
  dv.setBigUint64(at + Stat.Ctime, st.ctimeNs, true);
  dv.setUint32(at + Stat.Mode, Number(st.mode) & 0o7777, true);
  dv.setUint32(at + Stat.Nlink, Number(st.nlink), true);
  dv.setUint32(at + Stat.Uid, Number(st.uid), true);
  dv.setUint32(at + Stat.Gid, Number(st.gid), true);
  dv.setUint32(at + Stat.Kind, kindOf(st.mode), true);
  dv.setUint32(at + Stat.Layer, layer, true);
}

/** Errors the handlers throw on purpose (the errno is the answer). */
export class HostServer implements HostTree, HostHandlers {
  private readonly mounts: { root: string; readonly: boolean }[];
  private readonly table: (Entry | null)[] = [];
  private readonly free: number[] = [];
  private readonly listings = new Map<number, { names: string[]; stats: fs.BigIntStats[] }>();
  /**
   * Node refs by where they were reached ("<directory ino>:<name>"). link(2) and readlink(2) need a
   * node's directory and name; renames made through this server keep them current.
   */
  private readonly byName = new Map<string, Set<number>>();
  requests = 0;
  /** hostIO calls made: reads, writes. */
  readonly io = [0, 0];

  /** `mounts[i]` is gofer mount i + 1 (mount 0 is the image). Paths are resolved once, here. */
  constructor(
    mounts: HostMount[],
    private readonly hidden: readonly HiddenFile[] = [],
  ) {
    this.mounts = mounts.map((m) => {
      const root = fs.realpathSync(m.path);
      if (!fs.statSync(root).isDirectory()) throw new Error(`${m.path}: not a directory`);
      return { root, readonly: m.readonly };
    });
  }

  /** Whether this server owns message `id`'s primary reference (its first word). */
  static owns(ref: number): boolean {
    return (ref & Ref.Host) !== 0 && ref !== Ref.None;
  }

  // --- the reference table

  private add(e: Entry): number {
    let i = this.free.pop();
    if (i === undefined) {
      if (this.table.length >= MAX_REFS) {
        fs.closeSync(e.fd);
        throw new Fail(E.NFILE);
      }
      i = this.table.length;
      this.table.push(e);
    } else this.table[i] = e;
    e.key = this.nameKey(e);
    if (e.key !== null) {
      let set = this.byName.get(e.key);
      if (!set) this.byName.set(e.key, (set = new Set()));
      set.add(i);
    }
    return i | Ref.Host;
  }

  /** The byName key of a node reached by name, or null. */
  private nameKey(e: Entry): string | null {
    if (e.open || e.parent < 0) return null;
    const p = this.table[e.parent & ~Ref.Host];
    return p ? `${p.ino}:${e.name}` : null;
  }

  private get(ref: number): Entry {
    if ((ref & Ref.Host) === 0) throw new Fail(E.BADF);
    const e = this.table[ref & ~Ref.Host];
    if (!e) throw new Fail(E.BADF);
    return e;
  }

  private node(ref: number): Entry {
    const e = this.get(ref);
    if (e.open) throw new Fail(E.BADF);
    return e;
  }

  private dir(ref: number, mutate: boolean): Entry {
    const e = this.node(ref);
    if (e.kind !== Kind.Dir) throw new Fail(E.NOTDIR);
    if (mutate) {
      if (this.mounts[e.mount].readonly) throw new Fail(E.ROFS);
      this.checkInside(e.fd, e.mount);
    }
    return e;
  }

  private handleOf(ref: number): Entry {
    const e = this.get(ref);
    if (!e.open) throw new Fail(E.BADF);
    return e;
  }

  private release(ref: number): void {
    const i = ref & ~Ref.Host;
    const e = this.table[i];
    if (!e) return;
    if (e.key) {
      const set = this.byName.get(e.key);
      set?.delete(i);
      if (set && set.size === 0) this.byName.delete(e.key);
    }
    this.table[i] = null;
    this.free.push(i);
    this.listings.delete(ref);
    try {
      fs.closeSync(e.fd);
    } catch {}
  }

  /** Throws EXDEV unless fd's object is the mount's root or lies under it. */
  private checkInside(fd: number, mount: number): void {
    let p: string;
    try {
      p = fs.readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      throw new Fail(E.IO);
    }
    if (p.endsWith(' (deleted)')) p = p.slice(0, -10);
    const root = this.mounts[mount].root;
    if (p !== root && !p.startsWith(root === '/' ? '/' : `${root}/`)) throw new Fail(E.XDEV);
  }

  private at(dir: Entry, name: string): string {
    return `/proc/self/fd/${dir.fd}/${name}`;
  }

  /** Opens `name` in `dir` as a node (O_PATH, never following), checked to be inside and of a served kind. */
  private openNode(dirRef: number, dir: Entry, name: string): { ref: number; st: fs.BigIntStats } {
    let fd: number;
    const at = this.at(dir, name);
    // A name that is not there is the common failure (compilers probe include paths): lstat says so
    // without the cost of an exception. The answer is the open's; this only saves the throw.
    if (fs.lstatSync(at, { throwIfNoEntry: false }) === undefined) throw new Fail(E.NOENT);
    try {
      fd = fs.openSync(at, O_PATH | O_NOFOLLOW);
    } catch (err) {
      throw new Fail(hostErrno(err));
    }
    try {
      this.checkInside(fd, dir.mount);
      const st = fs.fstatSync(fd, { bigint: true });
      const kind = kindOf(st.mode);
      if (kind === Kind.Unknown || isHidden(this.hidden, st)) throw new Fail(E.ACCES);
      return { ref: this.add({ fd, flags: 0, open: false, kind, mount: dir.mount, parent: dirRef, name, ino: st.ino }), st };
    } catch (err) {
      fs.closeSync(fd);
      throw err instanceof Fail ? err : new Fail(hostErrno(err));
    }
  }

  private static writeStat(dv: DataView, at: number, st: fs.BigIntStats): void {
    writeHostStat(dv, at, st, 0);
  }

  /** Reads a name of `len` bytes at `off`, checked to be a single component. */
  private static name(w: Uint8Array, off: number, len: number, end: number): string {
    if (len > 255 || off + len > end || !validName(w, off, len)) throw new Fail(E.INVAL);
    return dec.decode(w.subarray(off, off + len));
  }

  // --- dispatch

  /** Handles one request whose primary reference is a host ref (or a Mount of a host mount). */
  handle(id: number, len: number, w: Uint8Array, dv: DataView): number {
    this.requests++;
    return answer(() => dispatchHost(this, id, len, w, dv));
  }

  /** Validates every ref of a Close/FSync list (all or nothing). */
  checkRefs(refs: number[]): boolean {
    for (const r of refs) {
      if ((r & Ref.Host) === 0 || !this.table[r & ~Ref.Host]) return false;
    }
    return true;
  }

  close(refs: number[]): void {
    for (const r of refs) this.release(r);
  }

  fsync(refs: number[], dataOnly: boolean): number {
    let first = 0;
    for (const r of refs) {
      const e = this.table[r & ~Ref.Host]!;
      if (!e.open) continue;
      try {
        if (dataOnly) fs.fdatasyncSync(e.fd);
        else fs.fsyncSync(e.fd);
      } catch (err) {
        if (!first) first = hostErrno(err);
      }
    }
    return first ? -first : 0;
  }

  mount(len: number, _w: Uint8Array, dv: DataView): number {
    if (len !== MountReq.Bytes) return -E.INVAL;
    const m = dv.getUint32(MountReq.Mount, true) - 1;
    if (m < 0 || m >= this.mounts.length) return -E.NOENT;
    const fd = fs.openSync(this.mounts[m].root, O_PATH | O_DIRECTORY | O_NOFOLLOW);
    const st = fs.fstatSync(fd, { bigint: true });
    const ref = this.add({ fd, flags: 0, open: false, kind: Kind.Dir, mount: m, parent: -1, name: '', ino: st.ino });
    dv.setUint32(MountResp.Node, ref, true);
    dv.setUint32(MountResp.NodeLimit, 0, true);
    HostServer.writeStat(dv, MountResp.Stat, st);
    return MountResp.Bytes;
  }

  walk(len: number, w: Uint8Array, dv: DataView, handOut: boolean): number {
    if (len < WalkReq.Names) return -E.INVAL;
    const dirRef = dv.getUint32(WalkReq.Dir, true);
    const count = dv.getUint32(WalkReq.Count, true);
    if (count === 0 || count > 4096) return -E.INVAL;
    const names: string[] = [];
    let off = WalkReq.Names;
    for (let i = 0; i < count; i++) {
      if (off + 4 > len) return -E.INVAL;
      const n = dv.getUint32(off, true);
      off += 4;
      names.push(HostServer.name(w, off, n, len));
      off += (n + 3) & ~3;
    }
    if (off !== len) return -E.INVAL;
    if (WalkResp.Steps + count * WalkResp.StepBytes > Chan.Window) return -E.INVAL;
    let dir = this.dir(dirRef, false);
    let ref = dirRef;
    const steps: { ref: number; st: fs.BigIntStats }[] = [];
    let failure = 0;
    for (const name of names) {
      let step: { ref: number; st: fs.BigIntStats };
      try {
        step = this.openNode(ref, dir, name);
      } catch (err) {
        failure = err instanceof Fail ? err.errno : hostErrno(err);
        break;
      }
      steps.push(step);
      const e = this.table[step.ref & ~Ref.Host]!;
      if (e.kind !== Kind.Dir) break;
      dir = e;
      ref = step.ref;
    }
    if (steps.length === 0) {
      return -(failure || E.NOENT);
    }
    dv.setUint32(WalkResp.Found, steps.length, true);
    dv.setUint32(4, 0, true);
    let at = WalkResp.Steps;
    for (const s of steps) {
      dv.setUint32(at + WalkResp.StepNode, handOut ? s.ref : 0, true);
      dv.setUint32(at + 4, 0, true);
      HostServer.writeStat(dv, at + WalkResp.StepStat, s.st);
      at += WalkResp.StepBytes;
      if (!handOut) this.release(s.ref);
    }
    return at;
  }

  fstat(len: number, _w: Uint8Array, dv: DataView): number {
    if (len !== NodeReq.Bytes) return -E.INVAL;
    const e = this.get(dv.getUint32(NodeReq.Node, true));
    HostServer.writeStat(dv, 0, fs.fstatSync(e.fd, { bigint: true }));
    return Stat.Bytes;
  }

  setstat(len: number, _w: Uint8Array, dv: DataView): number {
    if (len !== SetStatReq.Bytes) return -E.INVAL;
    const e = this.get(dv.getUint32(SetStatReq.Node, true));
    const mask = dv.getUint32(SetStatReq.Mask, true);
    if (mask & ~0x3f) return -E.INVAL;
    if (this.mounts[e.mount].readonly) return -E.ROFS;
    this.checkInside(e.fd, e.mount);
    const mode = dv.getUint32(SetStatReq.Mode, true);
    const size = dv.getBigUint64(SetStatReq.Size, true);
    const atime = dv.getBigUint64(SetStatReq.Atime, true);
    const mtime = dv.getBigUint64(SetStatReq.Mtime, true);
    const path = `/proc/self/fd/${e.fd}`;
    let failed = 0;
    let errno = 0;
    const attempt = (bit: number, fn: () => void) => {
      if (!(mask & bit)) return;
      try {
        fn();
      } catch (err) {
        failed |= bit;
        if (!errno) errno = hostErrno(err);
      }
    };
    if (e.kind === Kind.Symlink && mask & (SetMask.Mode | SetMask.Size)) return -E.LOOP;
    attempt(SetMask.Mode, () => fs.chmodSync(path, mode & 0o7777));
    attempt(SetMask.Size, () => {
      if (e.kind === Kind.Dir) throw Object.assign(new Error(), { code: 'EISDIR' });
      if (size > BigInt(Number.MAX_SAFE_INTEGER)) throw Object.assign(new Error(), { code: 'EFBIG' });
      const fd = e.open ? e.fd : fs.openSync(path, O_WRONLY);
      try {
        fs.ftruncateSync(fd, Number(size));
      } finally {
        if (!e.open) fs.closeSync(fd);
      }
    });
    const times = SetMask.Atime | SetMask.Mtime | SetMask.AtimeNow | SetMask.MtimeNow;
    if (mask & times) {
      attempt(mask & times, () => {
        const cur = fs.fstatSync(e.fd, { bigint: true });
        const now = Date.now() / 1000;
        const a = mask & SetMask.AtimeNow ? now : mask & SetMask.Atime ? Number(atime) / 1e9 : Number(cur.atimeNs) / 1e9;
        const m = mask & SetMask.MtimeNow ? now : mask & SetMask.Mtime ? Number(mtime) / 1e9 : Number(cur.mtimeNs) / 1e9;
        if (e.kind === Kind.Symlink) {
          const parent = this.node(e.parent);
          fs.lutimesSync(this.at(parent, e.name), a, m);
        } else fs.utimesSync(path, a, m);
      });
    }
    dv.setUint32(SetStatResp.Failed, failed, true);
    dv.setUint32(SetStatResp.Errno, errno, true);
    return SetStatResp.Bytes;
  }

  openAt(len: number, _w: Uint8Array, dv: DataView): number {
    if (len !== OpenReq.Bytes) return -E.INVAL;
    const e = this.node(dv.getUint32(OpenReq.Node, true));
    const flags = dv.getUint32(OpenReq.Flags, true);
    if (flags & ~(OpenFlags.Read | OpenFlags.Write | OpenFlags.Truncate | OpenFlags.Append)) return -E.INVAL;
    if (e.kind === Kind.Symlink) return -E.LOOP;
    if (e.kind === Kind.Dir && flags & (OpenFlags.Write | OpenFlags.Truncate)) return -E.ISDIR;
    if (flags & (OpenFlags.Write | OpenFlags.Truncate | OpenFlags.Append) && this.mounts[e.mount].readonly) return -E.ROFS;
    // Reopening through the magic link opens e's own object, whatever its path is now.
    const mode = openMode(flags) | (e.kind === Kind.Dir ? O_DIRECTORY : 0);
    const fd = fs.openSync(`/proc/self/fd/${e.fd}`, mode);
    try {
      this.checkInside(fd, e.mount);
    } catch (err) {
      fs.closeSync(fd);
      throw err;
    }
    const ref = this.add({ fd, flags: mode & ~O_TRUNC, open: true, kind: e.kind, mount: e.mount, parent: -1, name: '', ino: e.ino });
    dv.setUint32(OpenResp.Handle, ref, true);
    return OpenResp.Bytes;
  }

  /**
   * O_APPEND on or off for an open file. Node has no fcntl: the file is opened again through its
   * magic link with the new flags (the same open file on the host, a new description).
   */
  setFlags(len: number, _w: Uint8Array, dv: DataView): number {
    if (len !== SetFlagsReq.Bytes) return -E.INVAL;
    const ref = dv.getUint32(SetFlagsReq.Handle, true);
    const e = this.handleOf(ref);
    const flags = dv.getUint32(SetFlagsReq.Flags, true);
    if (flags & ~OpenFlags.Append) return -E.INVAL;
    if (e.kind !== Kind.File) return 0;
    const fd = fs.openSync(`/proc/self/fd/${e.fd}`, (e.flags & ~O_APPEND) | (flags & OpenFlags.Append ? O_APPEND : 0));
    fs.closeSync(e.fd);
    e.fd = fd;
    e.flags = (e.flags & ~O_APPEND) | (flags & OpenFlags.Append ? O_APPEND : 0);
    return 0;
  }

  /** Node's fs has no fallocate: the size grows to the end asked for, without reserving blocks. */
  allocate(len: number, _w: Uint8Array, dv: DataView): number {
    if (len !== AllocateReq.Bytes) return -E.INVAL;
    const e = this.handleOf(dv.getUint32(AllocateReq.Handle, true));
    const end = dv.getBigUint64(AllocateReq.Offset, true) + dv.getBigUint64(AllocateReq.Length, true);
    if (e.kind !== Kind.File) return -E.NODEV;
    if (this.mounts[e.mount].readonly) return -E.ROFS;
    if (end > BigInt(Number.MAX_SAFE_INTEGER)) return -E.FBIG;
    if (fs.fstatSync(e.fd).size < Number(end)) fs.ftruncateSync(e.fd, Number(end));
    return 0;
  }

  create(len: number, w: Uint8Array, dv: DataView): number {
    if (len < CreateReq.Name) return -E.INVAL;
    const dirRef = dv.getUint32(CreateReq.Dir, true);
    const flags = dv.getUint32(CreateReq.Flags, true);
    const mode = dv.getUint32(CreateReq.Mode, true) & 0o7777;
    const nameLen = dv.getUint32(CreateReq.NameLen, true);
    if (CreateReq.Name + nameLen !== len) return -E.INVAL;
    if (flags & ~(OpenFlags.Read | OpenFlags.Write | OpenFlags.Truncate | OpenFlags.Exclusive | OpenFlags.Append)) return -E.INVAL;
    const name = HostServer.name(w, CreateReq.Name, nameLen, len);
    const dir = this.dir(dirRef, true);
    const path = this.at(dir, name);
    let created = false;
    let fd: number;
    try {
      fd = fs.openSync(path, openMode(flags) | O_CREAT | O_EXCL | O_NOFOLLOW, mode);
      created = true;
    } catch (err) {
      if ((err as { code?: string }).code !== 'EEXIST' || flags & OpenFlags.Exclusive) throw err;
      // an existing file is truncated only once it is known to be one the guest may have
      fd = fs.openSync(path, (openMode(flags) & ~O_TRUNC) | O_NOFOLLOW);
    }
    let ref = -1;
    try {
      this.checkInside(fd, dir.mount);
      let st = fs.fstatSync(fd, { bigint: true });
      if (kindOf(st.mode) !== Kind.File) throw new Fail(kindOf(st.mode) === Kind.Dir ? E.ISDIR : E.ACCES);
      if (isHidden(this.hidden, st)) throw new Fail(E.ACCES);
      if (!created && flags & OpenFlags.Truncate) {
        fs.ftruncateSync(fd, 0);
        st = fs.fstatSync(fd, { bigint: true });
      }
      ref = this.add({ fd, flags: openMode(flags) & ~O_TRUNC, open: true, kind: Kind.File, mount: dir.mount, parent: -1, name: '', ino: st.ino });
      const node = this.openNode(dirRef, dir, name);
      dv.setUint32(CreateResp.Node, node.ref, true);
      dv.setUint32(CreateResp.Handle, ref, true);
      HostServer.writeStat(dv, CreateResp.Stat, st);
      return CreateResp.Bytes;
    } catch (err) {
      if (ref >= 0) this.release(ref);
      else fs.closeSync(fd);
      if (created) {
        try {
          fs.unlinkSync(path);
        } catch {}
      }
      throw err;
    }
  }

  hostIO(write: boolean, handle: number, pos: number, buf: Uint8Array, off: number, len: number): number {
    this.requests++;
    this.io[write ? 1 : 0]++; // not by a branch: the side not yet taken would deoptimize the glue's rwFast
    const bad = hostIOArgs(handle, pos, buf, off, len);
    if (bad) return bad;
    return answer(() => {
      const e = this.handleOf(handle);
      if (e.kind === Kind.Dir) return -E.ISDIR;
      if (write && this.mounts[e.mount].readonly) return -E.ROFS;
      return write ? fs.writeSync(e.fd, buf, off, len, pos) : fs.readSync(e.fd, buf, off, len, pos);
    });
  }

  pread(len: number, w: Uint8Array, dv: DataView): number {
    if (len !== PReadReq.Bytes) return -E.INVAL;
    const e = this.handleOf(dv.getUint32(PReadReq.Handle, true));
    const count = dv.getUint32(PReadReq.Length, true);
    const lo = dv.getUint32(PReadReq.Offset, true);
    const hi = dv.getUint32(PReadReq.Offset + 4, true);
    if (count > Chan.Window) return -E.INVAL;
    if (hi >= 0x200000) return -E.INVAL;
    if (e.kind === Kind.Dir) return -E.ISDIR;
    return fs.readSync(e.fd, w, 0, count, hi * 0x100000000 + lo);
  }

  pwrite(len: number, w: Uint8Array, dv: DataView): number {
    if (len < PWriteReq.Data) return -E.INVAL;
    const e = this.handleOf(dv.getUint32(PWriteReq.Handle, true));
    const count = dv.getUint32(PWriteReq.Length, true);
    const lo = dv.getUint32(PWriteReq.Offset, true);
    const hi = dv.getUint32(PWriteReq.Offset + 4, true);
    if (PWriteReq.Data + count !== len) return -E.INVAL;
    if (hi >= 0x200000) return -E.INVAL;
    if (this.mounts[e.mount].readonly) return -E.ROFS;
    const n = fs.writeSync(e.fd, w, PWriteReq.Data, count, hi * 0x100000000 + lo);
    dv.setUint32(PWriteResp.Written, n, true);
    dv.setUint32(PWriteResp.Flags, PWriteFlags.HasStat, true);
    HostServer.writeStat(dv, PWriteResp.Stat, fs.fstatSync(e.fd, { bigint: true }));
    return PWriteResp.Bytes;
  }

  getdents(len: number, w: Uint8Array, dv: DataView): number {
    if (len !== GetdentsReq.Bytes) return -E.INVAL;
    const ref = dv.getUint32(GetdentsReq.Dir, true);
    const start = dv.getUint32(GetdentsReq.Start, true);
    const max = dv.getUint32(GetdentsReq.Max, true);
    const dir = this.dir(ref, false);
    let listing = this.listings.get(ref);
    if (start === 0 || !listing) {
      const names: string[] = [];
      const stats: fs.BigIntStats[] = [];
      for (const name of fs.readdirSync(`/proc/self/fd/${dir.fd}`)) {
        let st: fs.BigIntStats;
        try {
          st = fs.lstatSync(this.at(dir, name), { bigint: true });
        } catch {
          continue; // gone meanwhile
        }
        if (kindOf(st.mode) === Kind.Unknown) continue; // not served
        if (Buffer.byteLength(name) > 255) continue;
        names.push(name);
        stats.push(st);
      }
      listing = { names, stats };
      this.listings.set(ref, listing);
    }
    if (start > listing.names.length) return -E.INVAL;
    const enc = new TextEncoder();
    let at = GetdentsResp.Entries;
    let i = start;
    let count = 0;
    while (i < listing.names.length && count < max) {
      const nb = enc.encode(listing.names[i]);
      const rec = (GetdentsResp.EntName + nb.length + 7) & ~7;
      if (at + rec > Chan.Window) break;
      dv.setUint32(at + GetdentsResp.EntNode, Ref.None, true);
      dv.setUint32(at + GetdentsResp.EntNameLen, nb.length, true);
      HostServer.writeStat(dv, at + GetdentsResp.EntStat, listing.stats[i]);
      w.set(nb, at + GetdentsResp.EntName);
      at += rec;
      i++;
      count++;
    }
    const done = i >= listing.names.length;
    if (done) this.listings.delete(ref);
    dv.setUint32(GetdentsResp.Count, count, true);
    dv.setUint32(GetdentsResp.Next, done ? GetdentsResp.End : i, true);
    return at;
  }

  private newNodeResp(dirRef: number, dir: Entry, name: string, dv: DataView): number {
    const n = this.openNode(dirRef, dir, name);
    dv.setUint32(NodeResp.Node, n.ref, true);
    dv.setUint32(4, 0, true);
    HostServer.writeStat(dv, NodeResp.Stat, n.st);
    return NodeResp.Bytes;
  }

  mkdir(len: number, w: Uint8Array, dv: DataView): number {
    if (len < MkdirReq.Name) return -E.INVAL;
    const dirRef = dv.getUint32(MkdirReq.Dir, true);
    const mode = dv.getUint32(MkdirReq.Mode, true) & 0o7777;
    const nameLen = dv.getUint32(MkdirReq.NameLen, true);
    if (MkdirReq.Name + nameLen !== len) return -E.INVAL;
    const name = HostServer.name(w, MkdirReq.Name, nameLen, len);
    const dir = this.dir(dirRef, true);
    fs.mkdirSync(this.at(dir, name), { mode });
    try {
      return this.newNodeResp(dirRef, dir, name, dv);
    } catch (err) {
      try {
        fs.rmdirSync(this.at(dir, name));
      } catch {}
      throw err;
    }
  }

  symlink(len: number, w: Uint8Array, dv: DataView): number {
    if (len < SymlinkReq.Name) return -E.INVAL;
    const dirRef = dv.getUint32(SymlinkReq.Dir, true);
    const nameLen = dv.getUint32(SymlinkReq.NameLen, true);
    const targetLen = dv.getUint32(SymlinkReq.TargetLen, true);
    if (SymlinkReq.Name + nameLen + targetLen !== len || targetLen === 0 || targetLen > 4095) return -E.INVAL;
    const name = HostServer.name(w, SymlinkReq.Name, nameLen, len);
    const tb = w.subarray(SymlinkReq.Name + nameLen, len);
    if (tb.includes(0)) return -E.INVAL;
    // The target is stored, never followed by the gofer; the kernel resolves it in the sandbox.
    const target = Buffer.from(tb);
    const dir = this.dir(dirRef, true);
    fs.symlinkSync(target, this.at(dir, name));
    try {
      return this.newNodeResp(dirRef, dir, name, dv);
    } catch (err) {
      try {
        fs.unlinkSync(this.at(dir, name));
      } catch {}
      throw err;
    }
  }

  link(len: number, w: Uint8Array, dv: DataView): number {
    if (len < LinkReq.Name) return -E.INVAL;
    const dirRef = dv.getUint32(LinkReq.Dir, true);
    const target = this.node(dv.getUint32(LinkReq.Node, true));
    const nameLen = dv.getUint32(LinkReq.NameLen, true);
    if (LinkReq.Name + nameLen !== len) return -E.INVAL;
    const name = HostServer.name(w, LinkReq.Name, nameLen, len);
    const dir = this.dir(dirRef, true);
    if (target.kind === Kind.Dir) return -E.PERM;
    if (target.mount !== dir.mount) return -E.XDEV;
    if (target.parent < 0) return -E.PERM;
    // link(2) needs a path to the source: its directory and name, checked to still be the same object.
    const parent = this.node(target.parent);
    const src = this.at(parent, target.name);
    if (fs.lstatSync(src, { bigint: true }).ino !== target.ino) return -E.STALE;
    fs.linkSync(src, this.at(dir, name));
    return this.newNodeResp(dirRef, dir, name, dv);
  }

  unlink(len: number, w: Uint8Array, dv: DataView): number {
    if (len < UnlinkReq.Name) return -E.INVAL;
    const dir = this.dir(dv.getUint32(UnlinkReq.Dir, true), true);
    const flags = dv.getUint32(UnlinkReq.Flags, true);
    const nameLen = dv.getUint32(UnlinkReq.NameLen, true);
    if (UnlinkReq.Name + nameLen !== len || flags & ~UnlinkReq.RemoveDir) return -E.INVAL;
    const name = HostServer.name(w, UnlinkReq.Name, nameLen, len);
    if (flags & UnlinkReq.RemoveDir) fs.rmdirSync(this.at(dir, name));
    else fs.unlinkSync(this.at(dir, name));
    return 0;
  }

  rename(len: number, w: Uint8Array, dv: DataView): number {
    if (len < RenameReq.Names) return -E.INVAL;
    const oldDir = this.dir(dv.getUint32(RenameReq.OldDir, true), true);
    const newDir = this.dir(dv.getUint32(RenameReq.NewDir, true), true);
    const ol = dv.getUint32(RenameReq.OldLen, true);
    const nl = dv.getUint32(RenameReq.NewLen, true);
    if (RenameReq.Names + ol + nl !== len) return -E.INVAL;
    const oldName = HostServer.name(w, RenameReq.Names, ol, len);
    const newName = HostServer.name(w, RenameReq.Names + ol, nl, len);
    if (oldDir.mount !== newDir.mount) return -E.XDEV;
    fs.renameSync(this.at(oldDir, oldName), this.at(newDir, newName));
    // nodes reached as oldDir/oldName are now newDir/newName
    const oldKey = `${oldDir.ino}:${oldName}`;
    const moved = this.byName.get(oldKey);
    if (moved) {
      this.byName.delete(oldKey);
      const newDirRef = dv.getUint32(RenameReq.NewDir, true);
      for (const i of moved) {
        const e = this.table[i];
        if (!e) continue;
        e.parent = newDirRef;
        e.name = newName;
        e.key = `${newDir.ino}:${newName}`;
        let set = this.byName.get(e.key);
        if (!set) this.byName.set(e.key, (set = new Set()));
        set.add(i);
      }
    }
    return 0;
  }

  readlink(len: number, w: Uint8Array, dv: DataView): number {
    if (len !== NodeReq.Bytes) return -E.INVAL;
    const e = this.node(dv.getUint32(NodeReq.Node, true));
    if (e.kind !== Kind.Symlink) return -E.INVAL;
    const parent = this.node(e.parent);
    const path = this.at(parent, e.name);
    if (fs.lstatSync(path, { bigint: true }).ino !== e.ino) return -E.STALE;
    const target = fs.readlinkSync(path, { encoding: 'buffer' });
    w.set(target, 0);
    return target.length;
  }

  statfs(len: number, _w: Uint8Array, dv: DataView): number {
    if (len !== NodeReq.Bytes) return -E.INVAL;
    const e = this.get(dv.getUint32(NodeReq.Node, true));
    const s = fs.statfsSync(`/proc/self/fd/${e.fd}`, { bigint: true });
    dv.setBigUint64(StatFSResp.Blocks, s.blocks, true);
    dv.setBigUint64(StatFSResp.BlocksFree, s.bfree, true);
    dv.setBigUint64(StatFSResp.BlocksAvail, s.bavail, true);
    dv.setBigUint64(StatFSResp.Files, s.files, true);
    dv.setBigUint64(StatFSResp.FilesFree, s.ffree, true);
    dv.setUint32(StatFSResp.BlockSize, Number(s.bsize), true);
    dv.setUint32(StatFSResp.NameMax, 255, true);
    return StatFSResp.Bytes;
  }

  /** Closes every open fd (the sandbox is ending). */
  closeAll(): void {
    for (let i = 0; i < this.table.length; i++) if (this.table[i]) this.release(i | Ref.Host);
  }
}
