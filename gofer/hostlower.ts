// The gofer's handlers for a host directory served as the overlay's read-only lower (trusted): the
// rootfs a container engine prepared (`root.path` of an OCI bundle), or `run.js --rootfs DIR` with
// an overlay. It speaks the image tree's protocol (server.ts LowerServer): dense node numbers below
// a fixed limit, a directory listed whole in Getdents batches, every mutation EROFS. The kernel
// caches what it is told for the life of the sandbox, as it does for an image, so changes made on
// the host under a running sandbox are not seen (overlayfs calls that undefined behaviour too).
//
// Containment follows the bind-mount rules of hosttree.ts: every object is reached from a directory
// fd the server holds (`/proc/self/fd/D/name`, which the host kernel resolves from D's object), with
// O_NOFOLLOW, so no host symlink is ever followed; every object opened is checked, through
// /proc/self/fd, to lie under the root, and to be the object first listed (same st_dev and st_ino):
// a directory swapped for a symlink, or a file swapped for a FIFO, after it was listed is refused
// (EIO). Only regular files, directories and symlinks are served; the rest is left out of listings.
// Names are raw bytes (Buffers), so a name that is not UTF-8 is served exactly.
//
// Node numbers: 0 is the root; a name is given a number the first time a listing or walk meets it,
// keyed by (directory, name), so a directory listed twice keeps its numbers. A regular file or
// symlink with several links gets one number, keyed by (st_dev, st_ino), since the kernel shows a
// hard-linked lower object as one inode. Directories hold an O_PATH fd once they are listed or
// walked through (files and symlinks hold none: they are reopened from their directory's fd).
//
// Hidden names: `hideAtRoot` lists name prefixes left out of the root directory. The sandbox's own
// filestore file lives there in root:self mode (as runsc puts its filestore in the rootfs), and the
// guest must not see it.
import fs from 'node:fs';
import { E } from '../kernel/wasi/errno';
import { Fail, answer } from './errno';
import { isHidden, kindOf, writeHostStat, type HiddenFile } from './hosttree';
import { direntBatch, walkNames, walkResponse } from './batch';
import {
  Chan, GetdentsReq, Kind, MountReq, MountResp, Msg, NodeReq, OpenFlags, OpenReq, OpenResp,
  PReadReq, Stat, StatFSResp, WalkReq,
} from './protocol/messages';
import { decodeRefList, type GoferStats } from './server';

const O_PATH = 0o10000000;
const { O_NOFOLLOW, O_DIRECTORY, O_RDONLY, O_NONBLOCK } = fs.constants;

/** How many objects one host lower may name (the kernel sizes its map lazily, up to this). */
export const HOST_LOWER_LIMIT = 1 << 24;
const MAX_HANDLES = 1 << 20;

export interface HostLowerConfig {
  /** The host directory served as the lower. */
  path: string;
  /** Name prefixes hidden in the root directory (the sandbox's filestore and its lock). */
  hideAtRoot?: string[];
  /** Files never served under any name (the sandbox's filestore, by device and inode). */
  hidden?: HiddenFile[];
}

export class HostLowerServer {
  readonly root: string;
  private readonly hide: Buffer[];
  private readonly hiddenFiles: readonly HiddenFile[];
  // Per node, by number.
  private readonly parent: number[] = [];
  private readonly name: Buffer[] = [];
  private readonly stat: fs.BigIntStats[] = [];
  /** O_PATH fd of a directory node, or -1 until it is needed. */
  private readonly dirFd: number[] = [];
  /** Node by "<directory>/<name as latin1>". */
  private readonly byName = new Map<string, number>();
  /** Node of a multiply-linked non-directory by "<dev>:<ino>". */
  private readonly byIno = new Map<string, number>();
  /** A listing being handed out in batches, by directory node: its nodes and their names there. */
  private readonly listings = new Map<number, { nodes: number[]; names: Buffer[] }>();
  private readonly handles: number[] = []; // handle -> fd, -1 when free
  private readonly freeHandles: number[] = [];
  readonly stats: GoferStats = { requests: 0, byId: new Array(Msg.Limit).fill(0) };
  private view: DataView | null = null;
  private viewBuf: Uint8Array | null = null;

  constructor(cfg: HostLowerConfig) {
    this.root = fs.realpathSync(cfg.path);
    this.hide = (cfg.hideAtRoot ?? []).map((p) => Buffer.from(p));
    this.hiddenFiles = cfg.hidden ?? [];
    const fd = fs.openSync(this.root, O_PATH | O_DIRECTORY | O_NOFOLLOW);
    try {
      const st = fs.fstatSync(fd, { bigint: true });
      this.parent.push(0);
      this.name.push(Buffer.alloc(0));
      this.stat.push(st);
      this.dirFd.push(fd);
    } catch (e) {
      fs.closeSync(fd);
      throw e;
    }
  }

  /** Node numbers handed out so far. */
  get count(): number {
    return this.stat.length;
  }

  /** Closes every descriptor this server holds. */
  closeAll(): void {
    for (const fd of this.dirFd) if (fd >= 0) tryClose(fd);
    for (const fd of this.handles) if (fd >= 0) tryClose(fd);
    this.dirFd.fill(-1);
    this.handles.fill(-1);
  }

  /** Handles one request (payload in window[0, len)); returns the response length or -errno. */
  handle = (id: number, len: number, w: Uint8Array): number => {
    this.stats.requests++;
    if (!Number.isInteger(id) || id <= 0 || id >= Msg.Limit) return -E.NOSYS;
    this.stats.byId[id]++;
    if (this.viewBuf !== w) {
      this.viewBuf = w;
      this.view = new DataView(w.buffer, w.byteOffset, w.byteLength);
    }
    const dv = this.view!;
    return answer(() => {
      switch (id) {
        case Msg.Nop:
          return len === 0 ? 0 : -E.INVAL;
        case Msg.Mount:
          return this.mount(len, dv);
        case Msg.Walk:
        case Msg.WalkStat:
          return this.walk(len, w, dv);
        case Msg.FStat:
          return this.fstat(len, dv);
        case Msg.ReadLinkAt:
          return this.readlink(len, w, dv);
        case Msg.Getdents:
          return this.getdents(len, w, dv);
        case Msg.OpenAt:
          return this.open(len, dv);
        case Msg.PRead:
          return this.pread(len, w, dv);
        case Msg.Close:
        case Msg.FSync:
        case Msg.FDataSync: {
          const refs = decodeRefList(len, dv);
          if (refs === null) return -E.INVAL;
          if (!this.checkHandles(refs)) return -E.BADF;
          if (id === Msg.Close) this.closeHandles(refs);
          return 0;
        }
        case Msg.StatFS:
          return this.statfs(len, dv);
        case Msg.SetStat:
        case Msg.OpenCreateAt:
        case Msg.PWrite:
        case Msg.MkdirAt:
        case Msg.SymlinkAt:
        case Msg.LinkAt:
        case Msg.UnlinkAt:
        case Msg.RenameAt:
        case Msg.SetFlags:
        case Msg.Allocate:
          return -E.ROFS; // a read-only tree: refused up front, with no side effect
        default:
          return -E.NOSYS;
      }
    });
  };

  // --- nodes

  private validNode(n: number): boolean {
    return Number.isInteger(n) && n >= 0 && n < this.stat.length;
  }

  private isDir(n: number): boolean {
    return kindOf(this.stat[n].mode) === Kind.Dir;
  }

  /** The path by which the host kernel resolves `name` from directory fd `fd` (no symlink followed). */
  private static at(fd: number, name: Buffer): Buffer {
    return Buffer.concat([Buffer.from(`/proc/self/fd/${fd}/`), name]);
  }

  /** Throws EXDEV unless fd's object is the root or lies under it. */
  private checkInside(fd: number): void {
    let p: string;
    try {
      p = fs.readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      throw new Fail(E.IO);
    }
    const root = this.root;
    if (p !== root && !p.startsWith(root === '/' ? '/' : `${root}/`)) throw new Fail(E.XDEV);
  }

  /** Throws EIO unless `st` is the object node `n` was when first met. */
  private checkSame(n: number, st: fs.BigIntStats): void {
    const was = this.stat[n];
    if (st.ino !== was.ino || st.dev !== was.dev || kindOf(st.mode) !== kindOf(was.mode)) throw new Fail(E.IO);
  }

  /** The O_PATH fd of directory node `n`, opening it (and its ancestors) from the root if needed. */
  private dirFdOf(n: number): number {
    const have = this.dirFd[n];
    if (have >= 0) return have;
    if (!this.isDir(n)) throw new Fail(E.NOTDIR);
    const pfd = this.dirFdOf(this.parent[n]);
    const fd = fs.openSync(HostLowerServer.at(pfd, this.name[n]), O_PATH | O_DIRECTORY | O_NOFOLLOW);
    try {
      this.checkInside(fd);
      this.checkSame(n, fs.fstatSync(fd, { bigint: true }));
    } catch (e) {
      fs.closeSync(fd);
      throw e;
    }
    this.dirFd[n] = fd;
    return fd;
  }

  private hidden(dir: number, name: Buffer): boolean {
    if (dir !== 0) return false;
    for (const p of this.hide) if (name.length >= p.length && name.subarray(0, p.length).equals(p)) return true;
    return false;
  }

  /** The node for `name` (with host status `st`) in directory `dir`, numbering it if it is new. */
  private nodeFor(dir: number, name: Buffer, st: fs.BigIntStats): number {
    const key = `${dir}/${name.toString('latin1')}`;
    const known = this.byName.get(key);
    if (known !== undefined) return known;
    const kind = kindOf(st.mode);
    const inoKey = kind !== Kind.Dir && st.nlink > 1n ? `${st.dev}:${st.ino}` : null;
    if (inoKey !== null) {
      const linked = this.byIno.get(inoKey);
      if (linked !== undefined) {
        this.byName.set(key, linked);
        return linked;
      }
    }
    if (this.stat.length >= HOST_LOWER_LIMIT) throw new Fail(E.NFILE);
    const n = this.stat.length;
    this.parent.push(dir);
    this.name.push(Buffer.from(name));
    this.stat.push(st);
    this.dirFd.push(-1);
    this.byName.set(key, n);
    if (inoKey !== null) this.byIno.set(inoKey, n);
    return n;
  }

  /** Looks `name` up in directory node `dir`: its node, or null if it is absent, hidden or not served. */
  private lookup(dir: number, name: Buffer): number | null {
    if (this.hidden(dir, name)) return null;
    const known = this.byName.get(`${dir}/${name.toString('latin1')}`);
    if (known !== undefined) return known;
    const st = fs.lstatSync(HostLowerServer.at(this.dirFdOf(dir), name), { bigint: true, throwIfNoEntry: false });
    if (st === undefined || kindOf(st.mode) === Kind.Unknown || isHidden(this.hiddenFiles, st)) return null;
    return this.nodeFor(dir, name, st);
  }

  private readonly writeStat = (dv: DataView, at: number, n: number): void => {
    writeHostStat(dv, at, this.stat[n], 1);
    // the kernel names lower objects by node (as for an image); its inode numbers come from them
    dv.setBigUint64(at + Stat.Ino, BigInt(n + 1), true);
    if (this.isDir(n)) dv.setBigUint64(at + Stat.Size, 0n, true);
  };

  // --- handlers

  private mount(len: number, dv: DataView): number {
    if (len !== MountReq.Bytes) return -E.INVAL;
    if (dv.getUint32(MountReq.Mount, true) !== 0) return -E.NOENT;
    dv.setUint32(MountResp.Node, 0, true);
    dv.setUint32(MountResp.NodeLimit, HOST_LOWER_LIMIT, true);
    this.writeStat(dv, MountResp.Stat, 0);
    return MountResp.Bytes;
  }

  private walk(len: number, w: Uint8Array, dv: DataView): number {
    if (len < WalkReq.Names) return -E.INVAL;
    let dir = dv.getUint32(WalkReq.Dir, true);
    if (!this.validNode(dir)) return -E.BADF;
    const offs = walkNames(len, w, dv);
    if (typeof offs === 'number') return offs;
    const names: Buffer[] = [];
    for (let i = 0; i < offs.length; i += 2) names.push(Buffer.from(w.subarray(offs[i], offs[i] + offs[i + 1])));
    if (!this.isDir(dir)) return -E.NOTDIR;
    const steps: number[] = [];
    for (const name of names) {
      const child = this.lookup(dir, name);
      if (child === null) break;
      steps.push(child);
      if (!this.isDir(child)) break;
      dir = child;
    }
    if (steps.length === 0) return -E.NOENT;
    return walkResponse(dv, steps, this.writeStat);
  }

  private fstat(len: number, dv: DataView): number {
    if (len !== NodeReq.Bytes) return -E.INVAL;
    const n = dv.getUint32(NodeReq.Node, true);
    if (!this.validNode(n)) return -E.BADF;
    this.writeStat(dv, 0, n);
    return Stat.Bytes;
  }

  private readlink(len: number, w: Uint8Array, dv: DataView): number {
    if (len !== NodeReq.Bytes) return -E.INVAL;
    const n = dv.getUint32(NodeReq.Node, true);
    if (!this.validNode(n)) return -E.BADF;
    if (kindOf(this.stat[n].mode) !== Kind.Symlink) return -E.INVAL;
    const path = HostLowerServer.at(this.dirFdOf(this.parent[n]), this.name[n]);
    this.checkSame(n, fs.lstatSync(path, { bigint: true }));
    const target = fs.readlinkSync(path, { encoding: 'buffer' });
    if (target.length > Chan.Window) return -E.NAMETOOLONG;
    w.set(target, 0);
    return target.length;
  }

  private getdents(len: number, w: Uint8Array, dv: DataView): number {
    if (len !== GetdentsReq.Bytes) return -E.INVAL;
    const dir = dv.getUint32(GetdentsReq.Dir, true);
    const start = dv.getUint32(GetdentsReq.Start, true);
    const max = dv.getUint32(GetdentsReq.Max, true);
    if (!this.validNode(dir)) return -E.BADF;
    if (!this.isDir(dir)) return -E.NOTDIR;
    let listing = this.listings.get(dir);
    if (start === 0 || !listing) {
      const fd = this.dirFdOf(dir);
      listing = { nodes: [], names: [] };
      for (const name of fs.readdirSync(`/proc/self/fd/${fd}`, { encoding: 'buffer' })) {
        if (name.length > 255 || this.hidden(dir, name)) continue;
        const st = fs.lstatSync(HostLowerServer.at(fd, name), { bigint: true, throwIfNoEntry: false });
        if (st === undefined || kindOf(st.mode) === Kind.Unknown || isHidden(this.hiddenFiles, st)) continue; // gone meanwhile, or not served
        listing.nodes.push(this.nodeFor(dir, name, st));
        listing.names.push(name);
      }
      this.listings.set(dir, listing);
    }
    const total = listing.nodes.length;
    if (start > total) return -E.INVAL;
    const l = listing;
    const batch = direntBatch(w, dv, start, total, max, (i) => ({ node: l.nodes[i], name: l.names[i] }), this.writeStat);
    if (batch.next >= total) this.listings.delete(dir);
    return batch.length;
  }

  private open(len: number, dv: DataView): number {
    if (len !== OpenReq.Bytes) return -E.INVAL;
    const n = dv.getUint32(OpenReq.Node, true);
    const flags = dv.getUint32(OpenReq.Flags, true);
    if (!this.validNode(n)) return -E.BADF;
    if (flags & ~(OpenFlags.Read | OpenFlags.Write | OpenFlags.Truncate | OpenFlags.Append)) return -E.INVAL;
    if (flags & (OpenFlags.Write | OpenFlags.Truncate | OpenFlags.Append)) return -E.ROFS;
    const kind = kindOf(this.stat[n].mode);
    if (kind === Kind.Dir) return -E.ISDIR;
    if (kind !== Kind.File) return -E.LOOP;
    if (this.handles.length - this.freeHandles.length >= MAX_HANDLES) return -E.NFILE;
    // O_NONBLOCK: a file swapped for a FIFO since it was listed must not block the open
    const fd = fs.openSync(HostLowerServer.at(this.dirFdOf(this.parent[n]), this.name[n]), O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
    try {
      this.checkSame(n, fs.fstatSync(fd, { bigint: true }));
      this.checkInside(fd);
    } catch (e) {
      fs.closeSync(fd);
      throw e;
    }
    let h = this.freeHandles.pop();
    if (h === undefined) {
      h = this.handles.length;
      this.handles.push(fd);
    } else this.handles[h] = fd;
    dv.setUint32(OpenResp.Handle, h, true);
    return OpenResp.Bytes;
  }

  private handleFd(h: number): number {
    return h >= 0 && h < this.handles.length ? this.handles[h] : -1;
  }

  private pread(len: number, w: Uint8Array, dv: DataView): number {
    if (len !== PReadReq.Bytes) return -E.INVAL;
    const fd = this.handleFd(dv.getUint32(PReadReq.Handle, true));
    const count = dv.getUint32(PReadReq.Length, true);
    const lo = dv.getUint32(PReadReq.Offset, true);
    const hi = dv.getUint32(PReadReq.Offset + 4, true);
    if (fd < 0) return -E.BADF;
    if (count > Chan.Window) return -E.INVAL;
    if (hi >= 0x200000) return -E.INVAL;
    if (count === 0) return 0;
    return fs.readSync(fd, w, 0, count, hi * 0x100000000 + lo);
  }

  /** Whether every ref is an open handle of this tree. */
  checkHandles(refs: number[]): boolean {
    return refs.every((h) => this.handleFd(h) >= 0);
  }

  closeHandles(refs: number[]): void {
    for (const h of refs) {
      const fd = this.handles[h];
      if (fd < 0) continue; // listed twice
      tryClose(fd);
      this.handles[h] = -1;
      this.freeHandles.push(h);
    }
  }

  private statfs(len: number, dv: DataView): number {
    if (len !== NodeReq.Bytes) return -E.INVAL;
    if (!this.validNode(dv.getUint32(NodeReq.Node, true))) return -E.BADF;
    const st = fs.statfsSync(`/proc/self/fd/${this.dirFd[0]}`, { bigint: true });
    dv.setBigUint64(StatFSResp.Blocks, (st.blocks * st.bsize) / 4096n, true);
    dv.setBigUint64(StatFSResp.BlocksFree, 0n, true);
    dv.setBigUint64(StatFSResp.BlocksAvail, 0n, true);
    dv.setBigUint64(StatFSResp.Files, st.files - st.ffree, true);
    dv.setBigUint64(StatFSResp.FilesFree, 0n, true);
    dv.setUint32(StatFSResp.BlockSize, 4096, true);
    dv.setUint32(StatFSResp.NameMax, 255, true);
    return StatFSResp.Bytes;
  }
}

function tryClose(fd: number): void {
  try {
    fs.closeSync(fd);
  } catch {}
}
