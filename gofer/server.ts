// The gofer's request dispatcher: validate, then dispatch. Every request is decoded with bounds
// checks (trailing bytes are EINVAL), names are checked to be single components, and the handler is
// found in a table keyed by message id. A handler either fails with no side effect or succeeds; it
// writes its response into the same window the request came in, after it has read the request.
//
// This file serves the image's lower tree (mount 0): read-only, so every mutation is EROFS. The
// node numbers it hands out are indexes into the immutable LowerTree; any index below tree.count
// names an object the sandbox is entitled to see, so a node needs no per-connection table, while
// open handles (OpenAt) do have one and are checked on every use.
import { E } from '../kernel/wasi/errno';
import type { LowerTree } from './image/tree';
import type { HostTree } from './hosttree';
import type { HostRw } from '../native/index';
import { direntBatch, walkNames, walkResponse } from './batch';
import {
  Chan, CloseReq, GetdentsReq, Kind, MountReq, MountResp, Msg, NodeReq, OpenFlags, OpenReq, OpenResp,
  PReadReq, Ref, Stat, StatFSResp, WalkReq,
} from './protocol/messages';

const TREE_FILE = 1;
const TREE_DIR = 2;
const TREE_SYMLINK = 3;

export interface GoferStats {
  requests: number;
  byId: number[];
}

export class LowerServer {
  readonly tree: LowerTree;
  private readonly handles: number[] = []; // handle -> node, -1 when free
  private readonly freeHandles: number[] = [];
  readonly stats: GoferStats = { requests: 0, byId: new Array(Msg.Limit).fill(0) };
  private view: DataView | null = null;
  private viewBuf: Uint8Array | null = null;
  private readonly table: Array<(len: number, w: Uint8Array, dv: DataView) => number>;

  constructor(tree: LowerTree) {
    this.tree = tree;
    const t: Array<(len: number, w: Uint8Array, dv: DataView) => number> = new Array(Msg.Limit).fill(
      (_len: number) => -E.NOSYS,
    );
    t[Msg.Nop] = (len) => (len === 0 ? 0 : -E.INVAL);
    t[Msg.Mount] = (len, w, dv) => this.mount(len, w, dv);
    t[Msg.Walk] = (len, w, dv) => this.walk(len, w, dv, true);
    t[Msg.WalkStat] = (len, w, dv) => this.walk(len, w, dv, false);
    t[Msg.FStat] = (len, w, dv) => this.fstat(len, w, dv);
    t[Msg.ReadLinkAt] = (len, w, dv) => this.readlink(len, w, dv);
    t[Msg.Getdents] = (len, w, dv) => this.getdents(len, w, dv);
    t[Msg.OpenAt] = (len, w, dv) => this.open(len, w, dv);
    t[Msg.PRead] = (len, w, dv) => this.pread(len, w, dv);
    t[Msg.Close] = (len, w, dv) => this.close(len, w, dv, true);
    t[Msg.FSync] = (len, w, dv) => this.close(len, w, dv, false);
    t[Msg.FDataSync] = (len, w, dv) => this.close(len, w, dv, false);
    t[Msg.StatFS] = (len, w, dv) => this.statfs(len, w, dv);
    // A read-only tree: every mutation is refused up front, with no side effect.
    for (const id of [Msg.SetStat, Msg.OpenCreateAt, Msg.PWrite, Msg.MkdirAt, Msg.SymlinkAt, Msg.LinkAt, Msg.UnlinkAt, Msg.RenameAt, Msg.SetFlags, Msg.Allocate]) {
      t[id] = () => -E.ROFS;
    }
    this.table = t;
  }

  /** Handles one request (payload in window[0, len)); returns the response length or -errno. */
  handle = (id: number, len: number, window: Uint8Array): number => {
    this.stats.requests++;
    if (!Number.isInteger(id) || id <= 0 || id >= Msg.Limit) return -E.NOSYS;
    this.stats.byId[id]++;
    if (this.viewBuf !== window) {
      this.viewBuf = window;
      this.view = new DataView(window.buffer, window.byteOffset, window.byteLength);
    }
    return this.table[id](len, window, this.view!);
  };

  private validNode(n: number): boolean {
    return n >= 0 && n < this.tree.count;
  }

  private readonly writeStat = (dv: DataView, at: number, n: number): void => {
    const t = this.tree;
    const k = t.kind(n);
    const mtime = t.mtimeNs(n);
    dv.setBigUint64(at + Stat.Ino, BigInt(n + 1), true);
    dv.setBigUint64(at + Stat.Size, BigInt(k === TREE_DIR ? 0 : t.size(n)), true);
    dv.setBigUint64(at + Stat.Atime, mtime, true);
    dv.setBigUint64(at + Stat.Mtime, mtime, true);
    dv.setBigUint64(at + Stat.Ctime, mtime, true);
    dv.setUint32(at + Stat.Mode, t.mode(n) & 0o7777, true);
    dv.setUint32(at + Stat.Nlink, t.nlink(n), true);
    dv.setUint32(at + Stat.Uid, t.uid(n), true);
    dv.setUint32(at + Stat.Gid, t.gid(n), true);
    dv.setUint32(at + Stat.Kind, k === TREE_DIR ? Kind.Dir : k === TREE_FILE ? Kind.File : k === TREE_SYMLINK ? Kind.Symlink : Kind.Unknown, true);
    dv.setUint32(at + Stat.Layer, t.layer(n) + 1, true);
  };

  private mount(len: number, _w: Uint8Array, dv: DataView): number {
    if (len !== MountReq.Bytes) return -E.INVAL;
    if (dv.getUint32(MountReq.Mount, true) !== 0) return -E.NOENT;
    const root = this.tree.root;
    dv.setUint32(MountResp.Node, root, true);
    dv.setUint32(MountResp.NodeLimit, this.tree.count, true);
    this.writeStat(dv, MountResp.Stat, root);
    return MountResp.Bytes;
  }

  private walk(len: number, w: Uint8Array, dv: DataView, _handOut: boolean): number {
    if (len < WalkReq.Names) return -E.INVAL;
    let dir = dv.getUint32(WalkReq.Dir, true);
    if (!this.validNode(dir)) return -E.BADF;
    // Decode and check every name before doing anything.
    const offs = walkNames(len, w, dv);
    if (typeof offs === 'number') return offs;
    const count = offs.length / 2;
    // Resolve. Names are copied out first because the response overwrites the window.
    const names = w.slice(offs[0], offs[offs.length - 2] + offs[offs.length - 1]);
    const base = offs[0];
    const t = this.tree;
    const steps: number[] = [];
    for (let i = 0; i < count; i++) {
      if (t.kind(dir) !== TREE_DIR) {
        if (steps.length === 0) return -E.NOTDIR;
        break;
      }
      const s = offs[2 * i] - base;
      const child = t.lookup(dir, names, s, s + offs[2 * i + 1]);
      if (child < 0) break;
      steps.push(child);
      if (t.kind(child) === TREE_SYMLINK) break;
      dir = child;
    }
    if (steps.length === 0) return -E.NOENT;
    return walkResponse(dv, steps, this.writeStat);
  }

  private fstat(len: number, _w: Uint8Array, dv: DataView): number {
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
    if (this.tree.kind(n) !== TREE_SYMLINK) return -E.INVAL;
    const target = this.tree.readlink(n);
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
    const t = this.tree;
    if (t.kind(dir) !== TREE_DIR) return -E.NOTDIR;
    const total = t.entryCount(dir);
    if (start > total) return -E.INVAL;
    const first = t.entryFirst(dir);
    const names = t.names;
    const batch = direntBatch(w, dv, start, total, max, (i) => {
      const e = first + i;
      const no = t.entryNameOffset(e);
      return { node: t.entryNode(e), name: names.subarray(no, no + t.entryNameLength(e)) };
    }, this.writeStat);
    return batch.length;
  }

  private open(len: number, _w: Uint8Array, dv: DataView): number {
    if (len !== OpenReq.Bytes) return -E.INVAL;
    const n = dv.getUint32(OpenReq.Node, true);
    const flags = dv.getUint32(OpenReq.Flags, true);
    if (!this.validNode(n)) return -E.BADF;
    if (flags & ~(OpenFlags.Read | OpenFlags.Write | OpenFlags.Truncate)) return -E.INVAL;
    if (flags & (OpenFlags.Write | OpenFlags.Truncate)) return -E.ROFS;
    const k = this.tree.kind(n);
    if (k === TREE_DIR) return -E.ISDIR;
    if (k !== TREE_FILE) return -E.LOOP;
    let h = this.freeHandles.pop();
    if (h === undefined) {
      if (this.handles.length >= 1 << 20) return -E.NFILE;
      h = this.handles.length;
      this.handles.push(n);
    } else {
      this.handles[h] = n;
    }
    dv.setUint32(OpenResp.Handle, h, true);
    return OpenResp.Bytes;
  }

  private handleNode(h: number): number {
    return h >= 0 && h < this.handles.length ? this.handles[h] : -1;
  }

  private pread(len: number, w: Uint8Array, dv: DataView): number {
    if (len !== PReadReq.Bytes) return -E.INVAL;
    const h = dv.getUint32(PReadReq.Handle, true);
    const count = dv.getUint32(PReadReq.Length, true);
    const lo = dv.getUint32(PReadReq.Offset, true);
    const hi = dv.getUint32(PReadReq.Offset + 4, true);
    const n = this.handleNode(h);
    if (n < 0) return -E.BADF;
    if (count > Chan.Window) return -E.INVAL;
    if (hi >= 0x200000) return -E.INVAL; // offsets past 2^53 cannot be valid here
    const offset = hi * 0x100000000 + lo;
    const size = this.tree.size(n);
    if (offset >= size || count === 0) return 0;
    return this.tree.read(n, offset, Math.min(count, size - offset), w, 0);
  }

  private close(len: number, _w: Uint8Array, dv: DataView, release: boolean): number {
    const refs = decodeRefList(len, dv);
    if (refs === null) return -E.INVAL;
    if (!this.checkHandles(refs)) return -E.BADF;
    if (release) this.closeHandles(refs); // FSync: a read-only tree has nothing to flush
    return 0;
  }

  /** Whether every ref is an open handle of this tree. */
  checkHandles(refs: number[]): boolean {
    return refs.every((h) => this.handleNode(h) >= 0);
  }

  closeHandles(refs: number[]): void {
    for (const h of refs) {
      if (this.handles[h] < 0) continue; // listed twice
      this.handles[h] = -1;
      this.freeHandles.push(h);
    }
  }

  private statfs(len: number, _w: Uint8Array, dv: DataView): number {
    if (len !== NodeReq.Bytes) return -E.INVAL;
    if (!this.validNode(dv.getUint32(NodeReq.Node, true))) return -E.BADF;
    let bytes = 0;
    for (let n = 0; n < this.tree.count; n++) if (this.tree.kind(n) === TREE_FILE) bytes += this.tree.size(n);
    const blocks = BigInt(Math.ceil(bytes / 4096));
    dv.setBigUint64(StatFSResp.Blocks, blocks, true);
    dv.setBigUint64(StatFSResp.BlocksFree, 0n, true);
    dv.setBigUint64(StatFSResp.Files, BigInt(this.tree.count), true);
    dv.setBigUint64(StatFSResp.FilesFree, 0n, true);
    dv.setUint32(StatFSResp.BlockSize, 4096, true);
    dv.setUint32(StatFSResp.NameMax, 255, true);
    return StatFSResp.Bytes;
  }
}

/** The refs of a Close or FSync request, or null if the request is malformed. */
export function decodeRefList(len: number, dv: DataView): number[] | null {
  if (len < CloseReq.Handles) return null;
  const count = dv.getUint32(CloseReq.Count, true);
  if (count > 65536 || len !== CloseReq.Handles + count * 4) return null;
  const refs: number[] = [];
  for (let i = 0; i < count; i++) refs.push(dv.getUint32(CloseReq.Handles + 4 * i, true));
  return refs;
}

/**
 * A read-only lower tree served as mount 0 (node numbers without Ref.Host): an image's
 * (LowerServer) or a host directory's (hostlower.ts HostLowerServer).
 */
export interface ReadOnlyTree {
  handle(id: number, len: number, window: Uint8Array): number;
  checkHandles(refs: number[]): boolean;
  closeHandles(refs: number[]): void;
}

/**
 * The whole gofer of one sandbox: the lower tree (mount 0, if there is an image) and the host
 * trees (mounts 1..n). A request goes to the tree its first reference belongs to (Ref.Host tells);
 * a request mixing trees is EXDEV; Close and FSync lists are checked in full before anything is done.
 */
export class GoferServer {
  private view: DataView | null = null;
  private viewBuf: Uint8Array | null = null;
  /** Requests served through handle() (counts() adds the hostIO calls). */
  requests = 0;
  /** Requests through handle() by message id (MSG_NAMES names them). */
  readonly byId = new Array<number>(Msg.Limit).fill(0);

  /**
   * A PRead or PWrite made by the host glue in this thread, straight into or out of the guest's
   * memory (GoferTransport.hostIO), host handles only: the host tree's own method, which checks its
   * arguments itself (hostIOArgs). A step between them cost a read or write's first calls 0.15 us
   * each: every function on the way is compiled by V8 on its own before the glue's, which waits.
   */
  readonly hostIO: (write: boolean, handle: number, pos: number, buf: Uint8Array, off: number, len: number) => number;

  constructor(
    readonly lower: ReadOnlyTree | null,
    readonly host: HostTree | null,
  ) {
    this.hostIO = host ? host.hostIO.bind(host) : () => -E.BADF;
  }

  /** hostIO made by the addon straight into `memory`, for the WebAssembly glue, or null (hostdirect.ts NATIVE HOST I/O). */
  nativeHostIO(memory: WebAssembly.Memory): HostRw | null {
    return this.host?.nativeHostIO?.(memory) ?? null;
  }

  /** Requests served, in all and by message id; a hostIO call counts as the PRead or PWrite it stands for. */
  counts(): { requests: number; byId: number[] } {
    const byId = this.byId.slice();
    const reads = this.host?.io[0] ?? 0;
    const writes = this.host?.io[1] ?? 0;
    byId[Msg.PRead] += reads;
    byId[Msg.PWrite] += writes;
    return { requests: this.requests + reads + writes, byId };
  }

  handle = (id: number, len: number, w: Uint8Array): number => {
    this.requests++;
    if (id > 0 && id < Msg.Limit) this.byId[id]++;
    if (this.viewBuf !== w) {
      this.viewBuf = w;
      this.view = new DataView(w.buffer, w.byteOffset, w.byteLength);
    }
    const dv = this.view!;
    if (!Number.isInteger(id) || id <= 0 || id >= Msg.Limit) return -E.NOSYS;
    if (!Number.isInteger(len) || len < 0 || len > w.length) return -E.INVAL;
    if (id === Msg.Nop) return len === 0 ? 0 : -E.INVAL;
    if (id === Msg.Close || id === Msg.FSync || id === Msg.FDataSync) return this.refList(id, len, dv);
    if (len < 4) return -E.INVAL;
    const first = dv.getUint32(0, true);
    let toHost: boolean;
    if (id === Msg.Mount) toHost = first !== 0;
    else toHost = (first & Ref.Host) !== 0;
    // whether a second reference (RenameAt's new directory, LinkAt's node) lies in the other tree,
    // worked out for every message: a comparison first made at a program's first rename would throw
    // away V8's optimized code for this function and what it had inlined
    const second = len >= 8 ? dv.getUint32(4, true) : first;
    const across = ((second & Ref.Host) !== 0) !== toHost;
    if (across && (id === Msg.RenameAt || id === Msg.LinkAt)) return -E.XDEV;
    if (toHost) return this.host ? this.host.handle(id, len, w, dv) : -E.BADF;
    return this.lower ? this.lower.handle(id, len, w) : id === Msg.Mount ? -E.NOENT : -E.BADF;
  };

  private refList(id: number, len: number, dv: DataView): number {
    const refs = decodeRefList(len, dv);
    if (refs === null) return -E.INVAL;
    // split by a loop: in the first calls, before V8 has compiled this, two filters and their
    // callbacks cost a microsecond a close
    const hostRefs: number[] = [];
    const lowerRefs: number[] = [];
    for (let i = 0; i < refs.length; i++) ((refs[i] & Ref.Host) !== 0 ? hostRefs : lowerRefs).push(refs[i]);
    if (hostRefs.length && !this.host?.checkRefs(hostRefs)) return -E.BADF;
    if (lowerRefs.length && !this.lower?.checkHandles(lowerRefs)) return -E.BADF;
    if (id !== Msg.Close) return hostRefs.length ? this.host!.fsync(hostRefs, id === Msg.FDataSync) : 0;
    this.host?.close(hostRefs);
    this.lower?.closeHandles(lowerRefs);
    return 0;
  }
}
