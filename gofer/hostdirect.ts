// The gofer's host trees through held descriptors (trusted): bind mounts (`-v HOST:GUEST[:ro]`) and
// the rootfs of `--overlay2 none`, served as gVisor's gofer and directfs serve them. Every node the
// kernel holds is an O_PATH fd, and every operation is one system call relative to it (an open:
// three, openAt says why), through the native addon: openat2 with RESOLVE_BENEATH |
// RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS for every name (so the host kernel itself refuses "..",
// any symlink and any magic link in the same call that opens), fstatat/mkdirat/unlinkat/renameat2/
// linkat/symlinkat/readlinkat/utimensat relative to the held directory fds, getdents64 in large
// batches. No path is ever built from the root and nothing needs re-checking afterwards.
// hosttree.ts (Node's path-based calls plus a /proc/self/fd check per object) is the fallback where
// the addon or openat2 is missing (Linux before 5.6).
//
// Containment is relative to the descriptors held: a name is resolved beneath its directory's fd,
// never through a symlink. The guest can only name things through such fds, all reached from the
// mount's root, so it cannot reach past the mount. A directory that a process on the host moves out
// of the mount while the sandbox holds it stays reachable through that hold, as with gVisor's
// directfs; no symlink planted in its place is ever followed.
//
// Held descriptors are bounded (HELD_NODES, or WASMBOX_HELD_NODES): past the bound, the nodes not
// used lately give their O_PATH fd back (a clock sweep, after the request that went over), and a node
// without an fd opens again on its next use, by its name beneath its directory's node (itself opened
// again the same way if it has to be), checked to be the same object (else ESTALE, as NFS says of a
// file changed behind its back). A directory, symlink or link just made is such a node from the
// start, its fd opened at its first use; so is a file just created, whose fd comes from the create's
// handle while that is open (the same object, so an unlinked temporary stays reachable). A
// directory's attributes are not even fetched (NodeFlags.NoStat: the kernel asks when it needs
// them), so a lock directory made and removed costs one system call each way. Nodes with an open handle, and mount roots, keep theirs. A directory node the
// kernel lets go of while names under it are still held stays, unreachable by the kernel, until the
// last of them goes.
//
// NATIVE HOST I/O. A read or write of an open file the glue makes straight into the guest's memory
// (hostIO) can also be made by the addon's hostRw, called by the WebAssembly glue with no
// JavaScript between (its first few thousand calls otherwise run V8's baseline code: a bind-mount
// pwrite's first pass 1.2-1.3× node:wasi's). It finds the fd through `hostFds`, set here for each
// open regular file as its handle is made and cleared before its fd is closed, and hands anything
// it does not serve itself (an error, a read-only mount's write, anything unexpected) back to
// hostIO. Counted in `io` with hostIO's own.
//
// Only regular files, directories and symlinks are served (others: EACCES on a walk, left out of
// listings). A read-only mount answers EROFS before any host call. A request that fails leaves
// nothing behind: what a failed create or mkdir made is removed again. Getdents entries carry only
// st_ino and the kind (from the directory's own records, no stat per entry): the kernel keeps no more.
import fs from 'node:fs';
import { E } from '../kernel/wasi/errno';
import type { HostRw, NativeAddon } from '../native/index';
import os from 'node:os';
import { Fail, hostErrno, linuxErrno } from './errno';
import { dispatchHost, hostIOArgs, isHidden, openMode, type HiddenFile, type HostHandlers, type HostMount, type HostTree } from './hosttree';
import { validName } from './names';
import { walkNames } from './batch';
import {
  AllocateReq, Chan, CreateReq, CreateResp, GetdentsReq, GetdentsResp, Kind, LinkReq, MkdirReq, MountReq, MountResp, Msg, NodeReq,
  NodeFlags, NodeResp, OpenFlags, OpenReq, OpenResp, PReadReq, PWriteFlags, PWriteReq, PWriteResp, Ref, RenameReq, SetFlagsReq, SetMask, SetStatReq,
  SetStatResp, Stat, StatFSResp, SymlinkReq, UnlinkReq, WalkReq, WalkResp,
} from './protocol/messages';

const { O_NOFOLLOW, O_DIRECTORY, O_RDONLY, O_CREAT, O_EXCL, O_TRUNC } = fs.constants;
const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const MAX_REFS = 1 << 20;
/** The st_ino of a directory made without asking for its attributes (mkdir), until first opened. */
const UNKNOWN_INO = 0n;
/** How many node descriptors are held before the least used give theirs back (see the header). */
const HELD_NODES = 4096;
/** What an open handle has for a name (it is never reopened by one). */
const NO_NAME = new Uint8Array(0);
/** Names a request other than a walk carries: two for rename and link, one for the rest. */
const NAME_SLOTS = 2;
const DT_DIR = 4;
const DT_REG = 8;
const DT_LNK = 10;
const DT_UNKNOWN = 0;

interface Entry {
  /** The descriptor, or -1: a node whose fd was given back, or not opened yet (see live()). */
  fd: number;
  /** true: an open file (OpenAt, OpenCreateAt); false: a node (O_PATH). */
  open: boolean;
  /**
   * An open file's O_APPEND, as set on the host; false for nodes (one shape for every entry: with
   * two, the table's loads went polymorphic, and a rename ran 0.3-1 µs slower after many opens).
   */
  append: boolean;
  kind: number;
  mount: number;
  ino: bigint;
  /**
   * Nodes: the directory node and name they were reached by (a symlink's own times need them). The
   * name is the entry's own (a rename overwrites it in place); handles have NO_NAME.
   */
  parent: number;
  name: Uint8Array;
  /** This entry's serial number, and its parent's (a reference to a slot is checked by it). */
  gen: number;
  parentGen: number;
  /** Nodes: how many nodes name this one as parent, and how many open handles came from it. */
  kids: number;
  pins: number;
  /** Handles: the node they were opened from (unpinned when they close), and its gen. */
  from: number;
  fromGen: number;
  /**
   * Nodes made by a create: the handle it opened (slot and gen), through which the node gets its
   * fd if it needs one while that handle is open (the same object, even once unlinked); -1 else.
   */
  via: number;
  viaGen: number;
  /** A node the kernel has let go of, kept for the nodes under it (see release()). */
  dead: boolean;
  /** Used since the last sweep (the clock's second chance). */
  used: boolean;
}

function kindOfMode(mode: number): number {
  const t = mode & S_IFMT;
  return t === S_IFDIR ? Kind.Dir : t === S_IFREG ? Kind.File : t === 0o120000 ? Kind.Symlink : Kind.Unknown;
}

/** The answer of an addon call: its value, or a Fail with the WASI errno of its -errno. */
function ok(r: number): number {
  if (r < 0) throw new Fail(linuxErrno(-r));
  return r;
}

export class HostDirect implements HostTree, HostHandlers {
  private readonly roots: { path: string; readonly: boolean }[];
  private readonly table: (Entry | null)[] = [];
  private readonly free: number[] = [];
  private readonly listings = new Map<number, { names: Uint8Array[]; inos: bigint[]; kinds: number[] }>();
  private readonly resolve: number;
  /** resolve, and no mount crossed: a name opened again must be on its directory's file system. */
  private readonly resolveSame: number;
  private readonly dents = new Uint8Array(256 * 1024);
  private readonly statfsOut = new Float64Array(7);
  private readonly scratch = new Uint8Array(Stat.Bytes);
  /** The names of the request being served (see name()); a request is at most Chan.Window bytes. */
  private readonly arena = new Uint8Array(new ArrayBuffer(Chan.Window));
  private arenaAt = 0;
  /**
   * A request's own names (at most NAME_SLOTS of them, each at most NAME_MAX bytes) go into fixed
   * slots, each with a view made beforehand for every length: a view made per name cost ~0.1 µs,
   * a tenth of the gofer's whole share of a rename. Made all at once, so that optimized code never
   * meets a missing one.
   */
  private readonly slots = new Uint8Array(new ArrayBuffer(NAME_SLOTS * 256));
  private readonly slotViews: Uint8Array[] = Array.from({ length: NAME_SLOTS * 256 }, (_, i) =>
    this.slots.subarray((i >> 8) << 8, ((i >> 8) << 8) + (i & 255)),
  );
  private slotAt = 0;
  private readonly scratchView = new DataView(this.scratch.buffer);
  /** Node descriptors held, the bound, the clock's hand, entry serials (see the header). */
  private held = 0;
  private readonly maxHeld: number;
  private hand = 0;
  private gens = 0;
  /** The inodes of `hidden`, checked on every object handed out (the device only on a match). */
  private readonly hiddenInos: Set<bigint>;
  requests = 0;
  /** hostIO calls made: reads, writes. */
  readonly io = new Uint32Array(2);
  /**
   * By handle slot: fd + 1 of an open regular file, negated on a read-only mount; 0 for anything
   * else (NATIVE HOST I/O). Cleared before the fd is closed. 4 MiB of address space, touched only
   * as slots are used.
   */
  private readonly hostFds = new Int32Array(MAX_REFS);

  constructor(
    mounts: HostMount[],
    private readonly n: NativeAddon,
    private readonly hidden: readonly HiddenFile[] = [],
    maxHeld = Number(process.env.WASMBOX_HELD_NODES) || HELD_NODES,
  ) {
    this.maxHeld = Math.max(maxHeld, 4);
    this.hiddenInos = new Set(hidden.map((h) => h.ino));
    this.roots = mounts.map((m) => {
      const root = fs.realpathSync(m.path);
      if (!fs.statSync(root).isDirectory()) throw new Error(`${m.path}: not a directory`);
      return { path: root, readonly: m.readonly };
    });
    this.resolve = n.RESOLVE_BENEATH! | n.RESOLVE_NO_SYMLINKS! | n.RESOLVE_NO_MAGICLINKS!;
    this.resolveSame = this.resolve | n.RESOLVE_NO_XDEV!;
  }

  /** Why this machine cannot serve host trees this way (no addon, no openat2), or null. */
  static unavailable(n: NativeAddon | null, reason: string | null): string | null {
    if (!n) return `the native addon is not built (${reason})`;
    if (typeof n.openat2 !== 'function' || typeof n.rwAt !== 'function' || typeof n.openSame !== 'function') return 'the native addon predates its host calls; rebuild it';
    const fd = fs.openSync('/', n.O_PATH! | O_DIRECTORY);
    try {
      const r = n.openat2(fd, '.', n.O_PATH!, 0, n.RESOLVE_BENEATH!);
      if (r < 0) return `openat2 is not available here (${linuxErrnoName(-r)}; Linux 5.6 or later has it)`;
      fs.closeSync(r);
      return null;
    } finally {
      fs.closeSync(fd);
    }
  }

  // --- the reference table

  private add(e: Entry): number {
    e.gen = ++this.gens;
    let i = this.free.pop();
    if (i === undefined) {
      if (this.table.length >= MAX_REFS) {
        if (e.fd >= 0) this.n.closeFd!(e.fd);
        throw new Fail(E.NFILE);
      }
      i = this.table.length;
      this.table.push(e);
    } else this.table[i] = e;
    if (e.open && e.kind === Kind.File && e.fd >= 0) this.hostFds[i] = this.roots[e.mount].readonly ? -(e.fd + 1) : e.fd + 1;
    return i | Ref.Host;
  }

  private get(ref: number): Entry {
    const e = (ref & Ref.Host) !== 0 ? this.table[ref & ~Ref.Host] : null;
    if (!e || e.dead) throw new Fail(E.BADF);
    return e.fd >= 0 ? ((e.used = true), e) : this.live(e, ref & ~Ref.Host);
  }

  /** A new node entry (fd -1: not opened yet) under directory `dirRef`, which it keeps. */
  private addNode(fd: number, kind: number, dirRef: number, dir: Entry, name: Uint8Array, ino: bigint): number {
    const ref = this.add({
      fd, open: false, append: false, kind, mount: dir.mount, ino, parent: dirRef & ~Ref.Host, name: name.slice(), gen: 0,
      parentGen: dir.gen, kids: 0, pins: 0, from: -1, fromGen: 0, via: -1, viaGen: 0, dead: false, used: true,
    });
    if (fd >= 0) this.held++;
    dir.kids++;
    return ref;
  }

  /**
   * A node without a descriptor opened again: by its name beneath its parent's node (opened first
   * if it has to be), O_PATH and never following, and checked to be the object it was (else ESTALE).
   */
  private live(e: Entry, i: number): Entry {
    const n = this.n;
    if (e.via >= 0) {
      // made by a create whose handle is still open: the node is that handle's object
      const h = this.table[e.via];
      const fd = h && h.gen === e.viaGen && h.open ? n.reopen!(h.fd, n.O_PATH!) : -1;
      if (fd >= 0) {
        e.fd = fd;
        e.used = true;
        this.held++;
        return e;
      }
      e.via = -1;
    }
    const p = this.table[e.parent];
    if (!p || p.gen !== e.parentGen) throw new Fail(E.STALE);
    const pfd = p.fd >= 0 ? p.fd : this.live(p, e.parent).fd;
    p.used = true;
    const fd = n.openat2!(pfd, e.name, n.O_PATH! | O_NOFOLLOW, 0, this.resolve);
    if (fd < 0) throw new Fail(fd === -2 /* ENOENT */ ? E.STALE : linuxErrno(-fd));
    const st = this.scratch;
    const mode = n.statInto!(fd, '', n.AT_EMPTY_PATH!, st, 0);
    const ino = this.scratchView.getBigUint64(Stat.Ino, true);
    if (mode < 0 || kindOfMode(mode) !== e.kind || (ino !== e.ino && e.ino !== UNKNOWN_INO)) {
      n.closeFd!(fd);
      throw new Fail(E.STALE);
    }
    e.ino = ino;
    e.fd = fd;
    e.used = true;
    this.held++;
    return e;
  }

  /**
   * The clock: gives back node descriptors until a quarter of the bound is free again. A node gives
   * its fd back if it is still named as it was made (checked with one fstatat beneath its parent,
   * when the parent holds its fd); one renamed by a host process keeps it. Runs between requests.
   */
  private sweep(): void {
    const target = this.maxHeld - (this.maxHeld >> 2);
    const n = this.n;
    const t = this.table;
    const st = this.scratch;
    for (let steps = 2 * t.length; steps > 0 && this.held > target; steps--) {
      if (this.hand >= t.length) this.hand = 0;
      const i = this.hand++;
      const e = t[i];
      if (!e || e.open || e.fd < 0 || e.pins > 0 || e.parent < 0) continue;
      if (e.used) {
        e.used = false;
        continue;
      }
      const p = t[e.parent];
      if (!p || p.gen !== e.parentGen) continue;
      if (p.fd >= 0 && (n.statInto!(p.fd, e.name, n.AT_SYMLINK_NOFOLLOW!, st, 0) < 0 || this.scratchView.getBigUint64(Stat.Ino, true) !== e.ino)) continue;
      n.closeFd!(e.fd);
      e.fd = -1;
      this.held--;
    }
  }

  private node(ref: number): Entry {
    const e = this.get(ref);
    if (e.open) throw new Fail(E.BADF);
    return e;
  }

  private dir(ref: number, mutate: boolean): Entry {
    const e = this.node(ref);
    if (e.kind !== Kind.Dir) throw new Fail(E.NOTDIR);
    if (mutate && this.roots[e.mount].readonly) throw new Fail(E.ROFS);
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
    if (!e || e.dead) return;
    this.listings.delete(i | Ref.Host);
    if (e.open) {
      const node = e.from >= 0 ? this.table[e.from] : null;
      if (node && node.gen === e.fromGen) {
        node.pins--;
        if (node.via === i) node.via = -1;
      }
    } else if (e.kids > 0) {
      e.dead = true; // the nodes under it may need it to open again
      return;
    }
    this.drop(e, i);
  }

  /** Frees slot i, and its parent's if that was only kept for it. */
  private drop(e: Entry, i: number): void {
    for (;;) {
      this.hostFds[i] = 0; // before its fd is closed (NATIVE HOST I/O)
      this.table[i] = null;
      this.free.push(i);
      if (e.fd >= 0) {
        this.n.closeFd!(e.fd);
        if (!e.open) this.held--;
      }
      if (e.open || e.parent < 0) return;
      const p = this.table[e.parent];
      if (!p || p.gen !== e.parentGen) return;
      p.kids--;
      if (!p.dead || p.kids > 0) return;
      i = e.parent;
      e = p;
    }
  }

  /**
   * Opens `name` in `dir` as a node (O_PATH, never following) and writes its Stat at w[at]; a kind
   * that is not served is EACCES. A failure is a WASI errno, negated and returned, not thrown: a
   * name that is not there is the usual answer to the walk before a create, and a throw costs V8 a
   * walk of the stack (a microsecond).
   */
  private openNode(dirRef: number, dir: Entry, name: Uint8Array, w: Uint8Array, at: number): number {
    const n = this.n;
    const fd = n.openat2!(dir.fd, name, n.O_PATH! | O_NOFOLLOW, 0, this.resolve);
    if (fd < 0) return -linuxErrno(-fd);
    const mode = n.statInto!(fd, '', n.AT_EMPTY_PATH!, w, at);
    const kind = mode < 0 ? Kind.Unknown : kindOfMode(mode);
    const ino = new DataView(w.buffer, w.byteOffset).getBigUint64(at + Stat.Ino, true);
    if (kind === Kind.Unknown || this.hides(fd, ino)) {
      fs.closeSync(fd);
      return -(mode < 0 ? linuxErrno(-mode) : E.ACCES);
    }
    return this.addNode(fd, kind, dirRef, dir, name, ino);
  }

  /** Whether the object open as `fd`, of inode `ino`, is a hidden file (see HiddenFile). */
  private hides(fd: number, ino: bigint): boolean {
    return this.hiddenInos.has(ino) && isHidden(this.hidden, fs.fstatSync(fd, { bigint: true }));
  }

  /**
   * `name` just made in `dir` as a node without an fd yet (see the header): its Stat by one fstatat
   * at w[at]. The kind must be `kind` (a host process may have put something else there meanwhile).
   */
  private madeLazy(dirRef: number, dir: Entry, name: Uint8Array, kind: number, w: Uint8Array, at: number): number {
    const mode = this.n.statInto!(dir.fd, name, this.n.AT_SYMLINK_NOFOLLOW!, w, at);
    if (mode < 0) throw new Fail(linuxErrno(-mode));
    if (kindOfMode(mode) !== kind) throw new Fail(E.STALE);
    return this.addNode(-1, kind, dirRef, dir, name, new DataView(w.buffer, w.byteOffset).getBigUint64(at + Stat.Ino, true));
  }

  /**
   * A request's single-component name of `len` bytes at `off`, checked, and copied out of the
   * channel (the answer is written over the request) into the next name slot: a view of an
   * ArrayBuffer of its own, which the addon reads in place (a fresh small Uint8Array would live on
   * V8's heap, and the addon taking its bytes would move it off the heap first: a microsecond a
   * name). An Entry that keeps a name keeps a copy.
   */
  private name(w: Uint8Array, off: number, len: number, end: number): Uint8Array {
    const slot = this.slotAt;
    if (len > 255 || off + len > end || slot >= NAME_SLOTS || !validName(w, off, len)) throw new Fail(E.INVAL);
    this.slotAt = slot + 1;
    const s = this.slots;
    const base = slot << 8;
    for (let i = 0; i < len; i++) s[base + i] = w[off + i];
    return this.slotViews[base + len];
  }

  private arenaCopy(w: Uint8Array, off: number, len: number): Uint8Array {
    const at = this.arenaAt;
    const arena = this.arena;
    if (at + len > arena.length) throw new Fail(E.INVAL); // more names than a request can hold
    // a loop, not set(subarray): names are short (at most 255 bytes), and a view is an object
    for (let i = 0; i < len; i++) arena[at + i] = w[off + i];
    this.arenaAt = at + len;
    return this.arena.subarray(at, at + len);
  }

  // --- dispatch

  handle(id: number, len: number, w: Uint8Array, dv: DataView): number {
    this.requests++;
    this.arenaAt = 0;
    this.slotAt = 0;
    // failures are Fail answers (no stack trace taken); a Node fs call's error is rare here
    try {
      return dispatchHost(this, id, len, w, dv);
    } catch (err) {
      return err instanceof Fail ? -err.errno : -hostErrno(err);
    } finally {
      if (this.held > this.maxHeld) this.sweep();
    }
  }

  checkRefs(refs: number[]): boolean {
    return refs.every((r) => (r & Ref.Host) !== 0 && !!this.table[r & ~Ref.Host] && !this.table[r & ~Ref.Host]!.dead);
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
        if (!first) first = -hostErrno(err);
      }
    }
    return first;
  }

  closeAll(): void {
    this.hostFds.fill(0);
    for (let i = 0; i < this.table.length; i++) {
      const e = this.table[i];
      if (e && e.fd >= 0) this.n.closeFd!(e.fd);
      this.table[i] = null;
    }
    this.held = 0;
  }

  // --- handlers

  mount(len: number, w: Uint8Array, dv: DataView): number {
    if (len !== MountReq.Bytes) return -E.INVAL;
    const m = dv.getUint32(MountReq.Mount, true) - 1;
    if (m < 0 || m >= this.roots.length) return -E.NOENT;
    const n = this.n;
    const fd = fs.openSync(this.roots[m].path, n.O_PATH! | O_DIRECTORY | O_NOFOLLOW);
    ok(n.statInto!(fd, '', n.AT_EMPTY_PATH!, w, MountResp.Stat));
    const ino = dv.getBigUint64(MountResp.Stat + Stat.Ino, true);
    const ref = this.add({
      fd, open: false, append: false, kind: Kind.Dir, mount: m, ino, parent: -1, name: new Uint8Array(0), gen: 0, parentGen: 0, kids: 0, pins: 0,
      from: -1, fromGen: 0, via: -1, viaGen: 0, dead: false, used: true,
    });
    this.held++;
    dv.setUint32(MountResp.Node, ref, true);
    dv.setUint32(MountResp.NodeLimit, 0, true);
    return MountResp.Bytes;
  }

  walk(len: number, w: Uint8Array, dv: DataView, handOut: boolean): number {
    if (len < WalkReq.Names) return -E.INVAL;
    let ref = dv.getUint32(WalkReq.Dir, true);
    const offs = walkNames(len, w, dv);
    if (typeof offs === 'number') return offs;
    const names: Uint8Array[] = [];
    for (let i = 0; i < offs.length; i += 2) names.push(this.arenaCopy(w, offs[i], offs[i + 1]));
    let dir = this.dir(ref, false);
    const n = this.n;
    let at = WalkResp.Steps;
    if (!handOut && names.length === 1) {
      // the kernel's revalidation of one name: one fstatat, no descriptor made
      const mode = n.statInto!(dir.fd, names[0], n.AT_SYMLINK_NOFOLLOW!, w, at + WalkResp.StepStat);
      if (mode < 0) return -linuxErrno(-mode);
      if (kindOfMode(mode) === Kind.Unknown) return -E.ACCES;
      dv.setUint32(at + WalkResp.StepNode, 0, true);
      dv.setUint32(at + 4, 0, true);
      dv.setUint32(WalkResp.Found, 1, true);
      dv.setUint32(4, 0, true);
      return at + WalkResp.StepBytes;
    }
    let found = 0;
    let failure = 0;
    const temps: number[] = [];
    for (const name of names) {
      let child: number;
      try {
        child = this.openNode(ref, dir, name, w, at + WalkResp.StepStat);
      } catch (err) {
        child = -(err instanceof Fail ? err.errno : E.IO);
      }
      if (child < 0) {
        failure = -child;
        break;
      }
      dv.setUint32(at + WalkResp.StepNode, handOut ? child : 0, true);
      dv.setUint32(at + 4, 0, true);
      at += WalkResp.StepBytes;
      found++;
      if (!handOut) temps.push(child); // WalkStat hands out nothing: let go once the walk is done
      const e = this.table[child & ~Ref.Host]!;
      if (e.kind !== Kind.Dir) break;
      dir = e;
      ref = child;
    }
    for (const t of temps) this.release(t);
    if (found === 0) return -(failure || E.NOENT);
    dv.setUint32(WalkResp.Found, found, true);
    dv.setUint32(4, 0, true);
    return at;
  }

  fstat(len: number, w: Uint8Array, dv: DataView): number {
    if (len !== NodeReq.Bytes) return -E.INVAL;
    const e = this.get(dv.getUint32(NodeReq.Node, true));
    ok(this.n.statInto!(e.fd, '', this.n.AT_EMPTY_PATH!, w, 0));
    return Stat.Bytes;
  }

  setstat(len: number, _w: Uint8Array, dv: DataView): number {
    if (len !== SetStatReq.Bytes) return -E.INVAL;
    const e = this.get(dv.getUint32(SetStatReq.Node, true));
    const mask = dv.getUint32(SetStatReq.Mask, true);
    if (mask & ~0x3f) return -E.INVAL;
    if (this.roots[e.mount].readonly) return -E.ROFS;
    if (e.kind === Kind.Symlink && mask & (SetMask.Mode | SetMask.Size)) return -E.LOOP;
    const n = this.n;
    const mode = dv.getUint32(SetStatReq.Mode, true);
    const size = dv.getBigUint64(SetStatReq.Size, true);
    const atime = dv.getBigUint64(SetStatReq.Atime, true);
    const mtime = dv.getBigUint64(SetStatReq.Mtime, true);
    const self = `/proc/self/fd/${e.fd}`; // the object itself, whatever its name is now
    let failed = 0;
    let errno = 0;
    const attempt = (bit: number, r: number) => {
      if (r >= 0) return;
      failed |= bit;
      if (!errno) errno = linuxErrno(-r);
    };
    if (mask & SetMask.Mode) attempt(SetMask.Mode, n.fchmodat!(e.fd, self, mode & 0o7777));
    if (mask & SetMask.Size) {
      let r = 0;
      if (e.kind === Kind.Dir) r = -21; // EISDIR
      else if (size > BigInt(Number.MAX_SAFE_INTEGER)) r = -27; // EFBIG
      else {
        try {
          if (e.open) fs.ftruncateSync(e.fd, Number(size));
          else fs.truncateSync(self, Number(size));
        } catch (err) {
          r = (err as NodeJS.ErrnoException).errno ?? -5; // Node's errno is the negated one
        }
      }
      attempt(SetMask.Size, r);
    }
    const times = SetMask.Atime | SetMask.Mtime | SetMask.AtimeNow | SetMask.MtimeNow;
    if (mask & times) {
      const part = (set: number, now: number, ns: bigint): [number, number] =>
        mask & now ? [0, n.UTIME_NOW!] : mask & set ? [Number(ns / 1_000_000_000n), Number(ns % 1_000_000_000n)] : [0, n.UTIME_OMIT!];
      const [as, an] = part(SetMask.Atime, SetMask.AtimeNow, atime);
      const [ms, mn] = part(SetMask.Mtime, SetMask.MtimeNow, mtime);
      let r: number;
      if (e.kind === Kind.Symlink) {
        // a symlink's own times: through its directory and name, checked to be the same object still
        const p = this.table[e.parent];
        const parent = p && p.gen === e.parentGen ? (p.fd >= 0 ? p : this.live(p, e.parent)) : null;
        const st = this.scratch;
        if (!parent || n.statInto!(parent.fd, e.name, n.AT_SYMLINK_NOFOLLOW!, st, 0) < 0 || this.scratchView.getBigUint64(Stat.Ino, true) !== e.ino) r = -116; // ESTALE
        else r = n.utimensat!(parent.fd, e.name, as, an, ms, mn, n.AT_SYMLINK_NOFOLLOW!);
      } else r = n.utimensat!(e.fd, self, as, an, ms, mn, 0);
      attempt(mask & times, r);
    }
    dv.setUint32(SetStatResp.Failed, failed, true);
    dv.setUint32(SetStatResp.Errno, errno, true);
    return SetStatResp.Bytes;
  }

  openAt(len: number, _w: Uint8Array, dv: DataView): number {
    if (len !== OpenReq.Bytes) return -E.INVAL;
    const nodeRef = dv.getUint32(OpenReq.Node, true);
    const e = this.node(nodeRef);
    const flags = dv.getUint32(OpenReq.Flags, true);
    if (flags & ~(OpenFlags.Read | OpenFlags.Write | OpenFlags.Truncate | OpenFlags.Append)) return -E.INVAL;
    if (e.kind === Kind.Symlink) return -E.LOOP;
    if (e.kind === Kind.Dir && flags & (OpenFlags.Write | OpenFlags.Truncate)) return -E.ISDIR;
    if (flags & (OpenFlags.Write | OpenFlags.Truncate | OpenFlags.Append) && this.roots[e.mount].readonly) return -E.ROFS;
    const mode = openMode(flags) | (e.kind === Kind.Dir ? O_DIRECTORY : 0);
    // by its name beneath its directory's fd, if that is still this object (one openat2 and one
    // fstat: 1.05 us a time, where reopen's path through /proc/self/fd costs 1.5); else, and for
    // O_TRUNC (nothing is truncated before it is known to be the file), through the node's own
    // descriptor's magic link, which opens the object whatever its names are now
    let fd = -1;
    const p = e.parent >= 0 && !(flags & OpenFlags.Truncate) && e.ino !== UNKNOWN_INO ? this.table[e.parent] : null;
    if (p && p.gen === e.parentGen && p.fd >= 0) {
      fd = this.n.openSame!(p.fd, e.name, mode, this.resolveSame, e.ino, e.kind === Kind.Dir ? S_IFDIR : S_IFREG);
    }
    if (fd < 0) fd = ok(this.n.reopen!(e.fd, mode));
    e.pins++; // its fd stays while the file is open (a host file unlinked meanwhile has no name to open by)
    const ref = this.add({
      fd, open: true, append: (flags & OpenFlags.Append) !== 0, kind: e.kind, mount: e.mount, ino: e.ino, parent: -1, name: NO_NAME, gen: 0,
      parentGen: 0, kids: 0, pins: 0, from: nodeRef & ~Ref.Host, fromGen: e.gen, via: -1, viaGen: 0, dead: false, used: true,
    });
    dv.setUint32(OpenResp.Handle, ref, true);
    return OpenResp.Bytes;
  }

  create(len: number, w: Uint8Array, dv: DataView): number {
    if (len < CreateReq.Name) return -E.INVAL;
    const dirRef = dv.getUint32(CreateReq.Dir, true);
    const flags = dv.getUint32(CreateReq.Flags, true);
    const perm = dv.getUint32(CreateReq.Mode, true) & 0o7777;
    const nameLen = dv.getUint32(CreateReq.NameLen, true);
    if (CreateReq.Name + nameLen !== len) return -E.INVAL;
    if (flags & ~(OpenFlags.Read | OpenFlags.Write | OpenFlags.Truncate | OpenFlags.Exclusive | OpenFlags.Append)) return -E.INVAL;
    const name = this.name(w, CreateReq.Name, nameLen, len);
    const dir = this.dir(dirRef, true);
    const n = this.n;
    const mode = openMode(flags);
    let created = true;
    let fd = n.openat2!(dir.fd, name, mode | O_CREAT | O_EXCL | O_NOFOLLOW, perm, this.resolve);
    if (fd === -17 /* EEXIST */ && !(flags & OpenFlags.Exclusive)) {
      created = false;
      // an existing file is truncated only once it is known to be one the guest may have
      fd = n.openat2!(dir.fd, name, (mode & ~O_TRUNC) | O_NOFOLLOW, 0, this.resolve);
    }
    ok(fd);
    let handle = -1;
    try {
      let st = n.statInto!(fd, '', n.AT_EMPTY_PATH!, w, CreateResp.Stat);
      ok(st);
      const kind = kindOfMode(st);
      if (kind !== Kind.File) throw new Fail(kind === Kind.Dir ? E.ISDIR : E.ACCES);
      const ino = dv.getBigUint64(CreateResp.Stat + Stat.Ino, true);
      if (this.hides(fd, ino)) throw new Fail(E.ACCES);
      if (!created && flags & OpenFlags.Truncate) {
        fs.ftruncateSync(fd, 0);
        st = ok(n.statInto!(fd, '', n.AT_EMPTY_PATH!, w, CreateResp.Stat));
      }
      handle = this.add({
        fd, open: true, append: (flags & OpenFlags.Append) !== 0, kind, mount: dir.mount, ino, parent: -1, name: NO_NAME, gen: 0,
        parentGen: 0, kids: 0, pins: 0, from: -1, fromGen: 0, via: -1, viaGen: 0, dead: false, used: true,
      });
      // the node opens no fd of its own now: a file made and removed (a lock, a temporary) never
      // needs one; if it does, it comes from the handle while that is open (live())
      const node = this.addNode(-1, kind, dirRef, dir, name, ino);
      const h = this.table[handle & ~Ref.Host]!;
      const ne = this.table[node & ~Ref.Host]!;
      h.from = node & ~Ref.Host;
      h.fromGen = ne.gen;
      ne.pins++;
      ne.via = handle & ~Ref.Host;
      ne.viaGen = h.gen;
      dv.setUint32(CreateResp.Node, node, true);
      dv.setUint32(CreateResp.Handle, handle, true);
      return CreateResp.Bytes;
    } catch (err) {
      if (handle >= 0) this.release(handle);
      else fs.closeSync(fd);
      if (created) n.unlinkat!(dir.fd, name, 0);
      throw err;
    }
  }

  /** hostIO for the WebAssembly glue, straight from the addon into `memory`, or null (NATIVE HOST I/O). */
  nativeHostIO(memory: WebAssembly.Memory): HostRw | null {
    if (!this.n.hostRw) return null;
    try {
      return this.n.hostRw(memory, this.hostFds, this.io);
    } catch {
      return null;
    }
  }

  hostIO(write: boolean, handle: number, pos: number, buf: Uint8Array, off: number, len: number): number {
    this.requests++;
    this.io[write ? 1 : 0]++; // not by a branch: the side not yet taken would deoptimize the glue's rwFast
    const bad = hostIOArgs(handle, pos, buf, off, len);
    if (bad) return bad;
    const e = this.table[handle & ~Ref.Host];
    if (!e || !e.open) return -E.BADF;
    if (e.kind === Kind.Dir) return -E.ISDIR;
    // one path for both directions, one native call (host/sandbox/glue.ts ONE PATH)
    const readonly = this.roots[e.mount].readonly;
    if (readonly && write) return -E.ROFS;
    const r = this.n.rwAt!(write, e.fd, buf, off, len, pos, -1);
    return r < 0 ? -linuxErrno(-r) : r;
  }

  pread(len: number, w: Uint8Array, dv: DataView): number {
    if (len !== PReadReq.Bytes) return -E.INVAL;
    const e = this.handleOf(dv.getUint32(PReadReq.Handle, true));
    const count = dv.getUint32(PReadReq.Length, true);
    const lo = dv.getUint32(PReadReq.Offset, true);
    const hi = dv.getUint32(PReadReq.Offset + 4, true);
    if (count > Chan.Window || hi >= 0x200000) return -E.INVAL;
    if (e.kind === Kind.Dir) return -E.ISDIR;
    return ok(this.n.preadInto!(e.fd, w, 0, count, hi * 0x100000000 + lo));
  }

  pwrite(len: number, w: Uint8Array, dv: DataView): number {
    if (len < PWriteReq.Data) return -E.INVAL;
    const e = this.handleOf(dv.getUint32(PWriteReq.Handle, true));
    const count = dv.getUint32(PWriteReq.Length, true);
    const lo = dv.getUint32(PWriteReq.Offset, true);
    const hi = dv.getUint32(PWriteReq.Offset + 4, true);
    if (PWriteReq.Data + count !== len || hi >= 0x200000) return -E.INVAL;
    if (this.roots[e.mount].readonly) return -E.ROFS;
    // the attributes only for an O_APPEND handle, whose offset goes to the new end (one system call
    // fewer for the others); the answer's Stat overlaps the request's data, but the call writes the
    // data out before it fills in the Stat
    const written = ok(this.n.pwriteStat!(e.fd, w, PWriteReq.Data, count, hi * 0x100000000 + lo, e.append ? PWriteResp.Stat : -1));
    dv.setUint32(PWriteResp.Written, written, true);
    dv.setUint32(PWriteResp.Flags, e.append ? PWriteFlags.HasStat : 0, true);
    return PWriteResp.Bytes;
  }

  setFlags(len: number, _w: Uint8Array, dv: DataView): number {
    if (len !== SetFlagsReq.Bytes) return -E.INVAL;
    const e = this.handleOf(dv.getUint32(SetFlagsReq.Handle, true));
    const flags = dv.getUint32(SetFlagsReq.Flags, true);
    if (flags & ~OpenFlags.Append) return -E.INVAL;
    ok(this.n.setAppend!(e.fd, (flags & OpenFlags.Append) !== 0));
    e.append = (flags & OpenFlags.Append) !== 0;
    return 0;
  }

  /** posix_fallocate: fallocate(2) mode 0, blocks reserved and the size grown (ENOSPC if the host is full). */
  allocate(len: number, _w: Uint8Array, dv: DataView): number {
    if (len !== AllocateReq.Bytes) return -E.INVAL;
    const e = this.handleOf(dv.getUint32(AllocateReq.Handle, true));
    const off = dv.getBigUint64(AllocateReq.Offset, true);
    const length = dv.getBigUint64(AllocateReq.Length, true);
    if (e.kind !== Kind.File) return -E.NODEV;
    if (this.roots[e.mount].readonly) return -E.ROFS;
    if (off + length > BigInt(Number.MAX_SAFE_INTEGER) || length === 0n) return off + length > BigInt(Number.MAX_SAFE_INTEGER) ? -E.FBIG : -E.INVAL;
    try {
      this.n.fallocate(e.fd, 0, Number(off), Number(length));
    } catch (err) {
      return -hostErrno(err);
    }
    return 0;
  }

  /** The directory's whole listing (served kinds only), read in large getdents64 batches. */
  private list(dir: Entry): { names: Uint8Array[]; inos: bigint[]; kinds: number[] } {
    const n = this.n;
    const fd = ok(n.openat2!(dir.fd, '.', O_RDONLY | O_DIRECTORY, 0, this.resolve));
    const out = { names: [] as Uint8Array[], inos: [] as bigint[], kinds: [] as number[] };
    const b = this.dents;
    const dv = new DataView(b.buffer);
    try {
      for (;;) {
        const got = ok(n.getdentsInto!(fd, b, 0, b.length));
        if (got === 0) break;
        for (let off = 0; off < got; ) {
          const reclen = dv.getUint16(off + 16, true);
          const type = b[off + 18];
          const end = b.indexOf(0, off + 19);
          const name = b.slice(off + 19, end);
          off += reclen;
          if ((name.length === 1 && name[0] === 0x2e) || (name.length === 2 && name[0] === 0x2e && name[1] === 0x2e)) continue;
          if (name.length > 255) continue;
          let kind = type === DT_DIR ? Kind.Dir : type === DT_REG ? Kind.File : type === DT_LNK ? Kind.Symlink : Kind.Unknown;
          if (type === DT_UNKNOWN) {
            const mode = n.statInto!(dir.fd, name, n.AT_SYMLINK_NOFOLLOW!, this.scratch, 0);
            if (mode < 0) continue; // gone meanwhile
            kind = kindOfMode(mode);
          }
          if (kind === Kind.Unknown) continue; // not served
          out.names.push(name);
          out.inos.push(dv.getBigUint64(off - reclen, true));
          out.kinds.push(kind);
        }
      }
    } finally {
      fs.closeSync(fd);
    }
    return out;
  }

  getdents(len: number, w: Uint8Array, dv: DataView): number {
    if (len !== GetdentsReq.Bytes) return -E.INVAL;
    const ref = dv.getUint32(GetdentsReq.Dir, true);
    const start = dv.getUint32(GetdentsReq.Start, true);
    const max = dv.getUint32(GetdentsReq.Max, true);
    const dir = this.dir(ref, false);
    let listing = this.listings.get(ref);
    if (start === 0 || !listing) {
      listing = this.list(dir);
      this.listings.set(ref, listing);
    }
    const total = listing.names.length;
    if (start > total) return -E.INVAL;
    let at = GetdentsResp.Entries;
    let i = start;
    let count = 0;
    while (i < total && count < max) {
      const name = listing.names[i];
      const rec = (GetdentsResp.EntName + name.length + 7) & ~7;
      if (at + rec > Chan.Window) break;
      dv.setUint32(at + GetdentsResp.EntNode, Ref.None, true);
      dv.setUint32(at + GetdentsResp.EntNameLen, name.length, true);
      w.fill(0, at + GetdentsResp.EntStat, at + GetdentsResp.EntStat + Stat.Bytes);
      dv.setBigUint64(at + GetdentsResp.EntStat + Stat.Ino, listing.inos[i], true);
      dv.setUint32(at + GetdentsResp.EntStat + Stat.Kind, listing.kinds[i], true);
      w.set(name, at + GetdentsResp.EntName);
      at += rec;
      i++;
      count++;
    }
    const done = i >= total;
    if (done) this.listings.delete(ref);
    dv.setUint32(GetdentsResp.Count, count, true);
    dv.setUint32(GetdentsResp.Next, done ? GetdentsResp.End : i, true);
    return at;
  }

  /**
   * The node response of a name of kind `kind` just made in `dir` (its Stat written in place, the
   * node's fd opened on its first use); undoes it on failure.
   */
  private madeNode(dirRef: number, dir: Entry, name: Uint8Array, kind: number, w: Uint8Array, dv: DataView, undo: () => void): number {
    let node: number;
    try {
      node = this.madeLazy(dirRef, dir, name, kind, w, NodeResp.Stat);
    } catch (err) {
      undo();
      throw err;
    }
    dv.setUint32(NodeResp.Node, node, true);
    dv.setUint32(4, 0, true);
    return NodeResp.Bytes;
  }

  mkdir(len: number, w: Uint8Array, dv: DataView): number {
    if (len < MkdirReq.Name) return -E.INVAL;
    const dirRef = dv.getUint32(MkdirReq.Dir, true);
    const mode = dv.getUint32(MkdirReq.Mode, true) & 0o7777;
    const nameLen = dv.getUint32(MkdirReq.NameLen, true);
    if (MkdirReq.Name + nameLen !== len) return -E.INVAL;
    const name = this.name(w, MkdirReq.Name, nameLen, len);
    const dir = this.dir(dirRef, true);
    ok(this.n.mkdirat!(dir.fd, name, mode));
    // no attributes (NodeFlags.NoStat): the kernel asks when it needs them, and the node's fd (and
    // st_ino, to check it by afterwards) come at its first use; a lock directory never needs either
    const node = this.addNode(-1, Kind.Dir, dirRef, dir, name, UNKNOWN_INO);
    dv.setUint32(NodeResp.Node, node, true);
    dv.setUint32(NodeResp.Flags, NodeFlags.NoStat, true);
    return NodeResp.Stat;
  }

  symlink(len: number, w: Uint8Array, dv: DataView): number {
    if (len < SymlinkReq.Name) return -E.INVAL;
    const dirRef = dv.getUint32(SymlinkReq.Dir, true);
    const nameLen = dv.getUint32(SymlinkReq.NameLen, true);
    const targetLen = dv.getUint32(SymlinkReq.TargetLen, true);
    if (SymlinkReq.Name + nameLen + targetLen !== len || targetLen === 0 || targetLen > 4095) return -E.INVAL;
    const name = this.name(w, SymlinkReq.Name, nameLen, len);
    const target = w.slice(SymlinkReq.Name + nameLen, len);
    if (target.includes(0)) return -E.INVAL;
    // the target is stored, never followed by the gofer; the kernel resolves it in the sandbox
    const dir = this.dir(dirRef, true);
    ok(this.n.symlinkat!(target, dir.fd, name));
    return this.madeNode(dirRef, dir, name, Kind.Symlink, w, dv, () => this.n.unlinkat!(dir.fd, name, 0));
  }

  link(len: number, w: Uint8Array, dv: DataView): number {
    if (len < LinkReq.Name) return -E.INVAL;
    const dirRef = dv.getUint32(LinkReq.Dir, true);
    const target = this.node(dv.getUint32(LinkReq.Node, true));
    const nameLen = dv.getUint32(LinkReq.NameLen, true);
    if (LinkReq.Name + nameLen !== len) return -E.INVAL;
    const name = this.name(w, LinkReq.Name, nameLen, len);
    const dir = this.dir(dirRef, true);
    if (target.kind === Kind.Dir) return -E.PERM;
    if (target.mount !== dir.mount) return -E.XDEV;
    // the node's own object, through its magic link (an absolute path: the first fd is not used)
    ok(this.n.linkat!(target.fd, `/proc/self/fd/${target.fd}`, dir.fd, name, this.n.AT_SYMLINK_FOLLOW!));
    return this.madeNode(dirRef, dir, name, target.kind, w, dv, () => this.n.unlinkat!(dir.fd, name, 0));
  }

  unlink(len: number, w: Uint8Array, dv: DataView): number {
    if (len < UnlinkReq.Name) return -E.INVAL;
    const dir = this.dir(dv.getUint32(UnlinkReq.Dir, true), true);
    const flags = dv.getUint32(UnlinkReq.Flags, true);
    const nameLen = dv.getUint32(UnlinkReq.NameLen, true);
    if (UnlinkReq.Name + nameLen !== len || flags & ~UnlinkReq.RemoveDir) return -E.INVAL;
    const name = this.name(w, UnlinkReq.Name, nameLen, len);
    this.keep(dv.getUint32(UnlinkReq.Node, true));
    ok(this.n.unlinkat!(dir.fd, name, flags & UnlinkReq.RemoveDir ? this.n.AT_REMOVEDIR! : 0));
    return 0;
  }

  rename(len: number, w: Uint8Array, dv: DataView): number {
    if (len < RenameReq.Names) return -E.INVAL;
    const oldDir = this.dir(dv.getUint32(RenameReq.OldDir, true), true);
    const newDir = this.dir(dv.getUint32(RenameReq.NewDir, true), true);
    const ol = dv.getUint32(RenameReq.OldLen, true);
    const nl = dv.getUint32(RenameReq.NewLen, true);
    if (RenameReq.Names + ol + nl !== len) return -E.INVAL;
    const oldName = this.name(w, RenameReq.Names, ol, len);
    const newName = this.name(w, RenameReq.Names + ol, nl, len);
    if (oldDir.mount !== newDir.mount) return -E.XDEV;
    this.keep(dv.getUint32(RenameReq.Victim, true));
    ok(this.n.renameat2!(oldDir.fd, oldName, newDir.fd, newName, 0));
    this.moved(dv.getUint32(RenameReq.Node, true), dv.getUint32(RenameReq.NewDir, true) & ~Ref.Host, newDir, newName);
    return 0;
  }

  /**
   * A node whose name is about to go while the kernel keeps using it (an open file or directory):
   * opened now if it has no fd, and its fd kept until the kernel lets go of the node, since it could
   * not be opened by name afterwards. Failing that (it was not what the kernel thinks), nothing: the
   * removal goes ahead, and the node answers ESTALE.
   */
  private keep(ref: number): void {
    if ((ref & Ref.Host) === 0) return;
    const i = ref & ~Ref.Host;
    const e = this.table[i];
    if (!e || e.open || e.dead) return;
    try {
      if (e.fd < 0) this.live(e, i);
      e.pins++; // and keeps it: it has no name to open by any more
    } catch {
      // see above
    }
  }

  /**
   * A rename done: the node the kernel named as the one it moved goes by the new name from now on
   * (to open again by); the kernel names none when it keeps its name where it was (a rename onto
   * another name of the same file, which does nothing). A kernel that names another node only makes
   * that one fail to reopen (ESTALE).
   */
  private moved(ref: number, to: number, newDir: Entry, newName: Uint8Array): void {
    if ((ref & Ref.Host) === 0) return;
    const i = ref & ~Ref.Host;
    const e = this.table[i];
    if (!e || e.open || e.dead || e.parent < 0 || i === to) return;
    const old = this.table[e.parent];
    if (old && old.gen === e.parentGen) {
      old.kids--;
      if (old.dead && old.kids === 0) this.drop(old, e.parent);
    }
    e.parent = to;
    e.parentGen = newDir.gen;
    if (e.name.length === newName.length) e.name.set(newName); // a name back and forth: no allocation
    else e.name = newName.slice();
    newDir.kids++;
  }

  readlink(len: number, w: Uint8Array, dv: DataView): number {
    if (len !== NodeReq.Bytes) return -E.INVAL;
    const e = this.node(dv.getUint32(NodeReq.Node, true));
    if (e.kind !== Kind.Symlink) return -E.INVAL;
    return ok(this.n.readlinkInto!(e.fd, '', w, 0, 4096));
  }

  statfs(len: number, _w: Uint8Array, dv: DataView): number {
    if (len !== NodeReq.Bytes) return -E.INVAL;
    const e = this.get(dv.getUint32(NodeReq.Node, true));
    const s = this.statfsOut;
    ok(this.n.fstatfsInto!(e.fd, s));
    dv.setBigUint64(StatFSResp.Blocks, BigInt(s[0]), true);
    dv.setBigUint64(StatFSResp.BlocksFree, BigInt(s[1]), true);
    dv.setBigUint64(StatFSResp.BlocksAvail, BigInt(s[2]), true);
    dv.setBigUint64(StatFSResp.Files, BigInt(s[3]), true);
    dv.setBigUint64(StatFSResp.FilesFree, BigInt(s[4]), true);
    dv.setUint32(StatFSResp.BlockSize, s[5], true);
    dv.setUint32(StatFSResp.NameMax, 255, true);
    return StatFSResp.Bytes;
  }
}

function linuxErrnoName(e: number): string {
  return Object.entries(os.constants.errno as Record<string, number>).find(([, v]) => v === e)?.[0] ?? `errno ${e}`;
}
