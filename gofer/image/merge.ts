// Layer merge: applies the indexed layers of an image, bottom first, into one tree, then packs it into
// a LowerTree. Owns the OCI layer semantics (image-spec layer.md "Whiteouts"; containerd's apply):
// - `.wh.NAME` deletes NAME from the LOWER layers only; `DIR/.wh..wh..opq` hides everything lower
//   layers have in DIR. Both are applied before the layer's own entries (phase 1), so their position
//   in the tar does not matter and they never delete the layer's own entries. Other `.wh..wh.*`
//   names (AUFS metadata) and anything inside a `.wh.*` directory are ignored. No whiteout name is
//   ever a tree entry.
// - Within a layer, a later entry for a path replaces an earlier one (tar extraction order).
// - A non-directory replaces whatever is at its path, a lower directory with its whole subtree too;
//   a directory over a directory merges (the upper entry's attributes win); a directory over a
//   non-directory replaces it.
// - Missing parents are implied: mode 0755, uid/gid 0, mtime 0, layer = the layer that needed them;
//   an implied parent also replaces a non-directory in its way (as extracting the layer would).
// - A hard link names the node its target path has at that point (same layer or the tree so far),
//   without following symlinks; a missing target, or a directory, is an ImageError. Both names then
//   share ONE node, so nlink counts names in the final tree.
// - Symlinks are stored, never followed.
// Build state is a growable set of parallel arrays plus one Map per directory (name -> node). Nodes a
// later layer unlinks stay in the arrays as garbage; finish() keeps only what the root reaches.
import { Where, quotePath } from './errors';
import { MemberType, grown, type TarMembers } from './tar';
import { LowerTree, NodeKind } from './tree';

const IMPLIED_DIR_MODE = 0o755;

export class TreeBuilder {
  private n = 0;
  private cap = 1024;
  private kind = new Uint8Array(this.cap);
  private mode = new Uint16Array(this.cap);
  private uid = new Uint32Array(this.cap);
  private gid = new Uint32Array(this.cap);
  private size = new Float64Array(this.cap);
  private mtime = new BigInt64Array(this.cap);
  private lay = new Uint16Array(this.cap);
  private src = new Uint16Array(this.cap);
  private off = new Float64Array(this.cap);
  private link: string[] = []; // symlink targets (latin1), by node; sparse
  private kids: (Map<string, number> | undefined)[] = []; // directory children, by node

  constructor() {
    this.impliedDir(0); // node 0: the root
  }

  /**
   * Applies one layer's members on top of the tree so far. `src` is the index of the file (in the
   * fds passed to finish) that the members' data offsets refer to. Returns how many members became
   * tree entries (whiteout markers and ignored metadata are not counted).
   */
  addLayer(m: TarMembers, layer: number, src: number, where: Where): number {
    const marker = new Uint8Array(m.count); // 1 = whiteout-class member, not an entry

    // Phase 1: whiteouts and opaque markers, against the lower layers.
    for (let i = 0; i < m.count; i++) {
      const p = m.path[i];
      if (!p.includes('.wh.')) continue;
      const slash = p.lastIndexOf('/');
      const base = p.slice(slash + 1);
      const parent = slash < 0 ? '' : p.slice(0, slash);
      if (`/${parent}`.includes('/.wh.')) {
        marker[i] = 1; // inside a whiteout metadata directory (AUFS .wh..wh.plnk and such)
        continue;
      }
      if (!base.startsWith('.wh.')) continue;
      marker[i] = 1;
      if (base === '.wh..wh..opq') {
        const d = this.ensureDir(parent, layer);
        this.kids[d] = new Map();
      } else if (!base.startsWith('.wh..wh.')) {
        const name = base.slice(4);
        if (name === '.' || name === '..') throw where.error(`has a hostile whiteout ${quotePath(p)} at byte ${m.headerAt[i]}`);
        const d = this.ensureDir(parent, layer);
        this.kids[d]!.delete(name);
      }
    }

    // Phase 2: the layer's own entries, in tar order.
    let entries = 0;
    const dirs = new Map<string, number>(); // parent path -> its directory node; cleared whenever a directory leaves the tree
    for (let i = 0; i < m.count; i++) {
      if (marker[i]) continue;
      const p = m.path[i];
      const type = m.type[i] as MemberType;
      entries++;
      if (p === '') {
        if (type !== MemberType.Dir) throw where.error(`has a non-directory entry for the root directory at byte ${m.headerAt[i]}`);
        this.setAttrs(0, m, i, layer);
        continue;
      }
      const slash = p.lastIndexOf('/');
      const base = p.slice(slash + 1);
      const parentPath = slash < 0 ? '' : p.slice(0, slash);
      let parent = dirs.get(parentPath);
      if (parent === undefined) {
        parent = this.ensureDir(parentPath, layer);
        dirs.set(parentPath, parent);
      }
      const kids = this.kids[parent]!;
      const old = kids.get(base);
      let node: number;
      switch (type) {
        case MemberType.Dir:
          if (old !== undefined && this.kind[old] === NodeKind.Dir) node = old;
          else {
            node = this.newNode(NodeKind.Dir);
            this.kids[node] = new Map();
          }
          this.setAttrs(node, m, i, layer);
          break;
        case MemberType.File:
          node = this.newNode(NodeKind.File);
          this.setAttrs(node, m, i, layer);
          this.size[node] = m.size[i];
          this.src[node] = src;
          this.off[node] = m.offset[i];
          break;
        case MemberType.Symlink:
          node = this.newNode(NodeKind.Symlink);
          this.setAttrs(node, m, i, layer);
          this.link[node] = m.link[i];
          this.size[node] = m.link[i].length;
          break;
        case MemberType.HardLink:
          node = this.resolve(m.link[i]);
          if (node < 0) throw where.error(`has a hard link ${quotePath(p)} to missing ${quotePath(m.link[i])}`);
          if (this.kind[node] === NodeKind.Dir) throw where.error(`has a hard link ${quotePath(p)} to a directory ${quotePath(m.link[i])}`);
          break;
        default:
          throw new Error(`merge: member type ${type}`); // tar.ts emits only the four types above
      }
      if (old !== node) {
        kids.set(base, node);
        if (old !== undefined && this.kind[old] === NodeKind.Dir) dirs.clear();
      }
    }
    return entries;
  }

  /** Packs the tree reachable from the root into a LowerTree owning `fds` (see tree.ts for the layout). */
  finish(fds: number[]): LowerTree {
    // Pass 1: number the reachable nodes breadth-first (root = 0) and size the tables.
    const id = new Int32Array(this.n).fill(-1);
    const order: number[] = [0];
    const sorted: string[][] = [];
    id[0] = 0;
    let entries = 0;
    let nameBytes = 0;
    for (let q = 0; q < order.length; q++) {
      const b = order[q];
      if (this.kind[b] === NodeKind.Symlink) nameBytes += this.link[b].length;
      if (this.kind[b] !== NodeKind.Dir) continue;
      const kids = this.kids[b]!;
      const keys = Array.from(kids.keys()).sort(); // latin1 strings: code-unit order = byte order
      sorted[q] = keys;
      entries += keys.length;
      for (const k of keys) {
        nameBytes += k.length;
        const c = kids.get(k)!;
        if (id[c] < 0) {
          id[c] = order.length;
          order.push(c);
        }
      }
    }

    // Pass 2: fill the tables.
    const count = order.length;
    const t = {
      count,
      kind: new Uint8Array(count),
      mode: new Uint16Array(count),
      uid: new Uint32Array(count),
      gid: new Uint32Array(count),
      size: new Float64Array(count),
      mtimeNs: new BigInt64Array(count),
      nlink: new Uint32Array(count),
      layer: new Uint16Array(count),
      src: new Uint16Array(count),
      off: new Float64Array(count),
      entFirst: new Uint32Array(count),
      entCount: new Uint32Array(count),
      entNode: new Uint32Array(entries),
      entNameOff: new Uint32Array(entries),
      entNameLen: new Uint32Array(entries),
      names: Buffer.alloc(nameBytes),
      fds,
    };
    let np = 0;
    let e = 0;
    for (let q = 0; q < count; q++) {
      const b = order[q];
      const k = this.kind[b];
      t.kind[q] = k;
      t.mode[q] = this.mode[b];
      t.uid[q] = this.uid[b];
      t.gid[q] = this.gid[b];
      t.mtimeNs[q] = this.mtime[b];
      t.layer[q] = this.lay[b];
      if (k === NodeKind.File) {
        t.size[q] = this.size[b];
        t.src[q] = this.src[b];
        t.off[q] = this.off[b];
      } else if (k === NodeKind.Symlink) {
        const s = this.link[b];
        t.size[q] = s.length;
        t.off[q] = np;
        np += t.names.write(s, np, 'latin1');
      } else {
        const kids = this.kids[b]!;
        const keys = sorted[q];
        let childDirs = 0;
        t.entFirst[q] = e;
        t.entCount[q] = keys.length;
        for (const key of keys) {
          const c = id[kids.get(key)!];
          t.entNode[e] = c;
          t.entNameOff[e] = np;
          t.entNameLen[e] = key.length;
          np += t.names.write(key, np, 'latin1');
          if (this.kind[order[c]] === NodeKind.Dir) childDirs++;
          else t.nlink[c]++;
          e++;
        }
        t.nlink[q] = 2 + childDirs;
      }
    }
    return new LowerTree(t);
  }

  /** The directory at `path` (normalised), creating implied directories (and replacing non-dirs) on the way. */
  private ensureDir(path: string, layer: number): number {
    let cur = 0;
    if (path === '') return cur;
    for (const comp of path.split('/')) {
      const kids = this.kids[cur]!;
      let c = kids.get(comp);
      if (c === undefined || this.kind[c] !== NodeKind.Dir) {
        c = this.newNode(NodeKind.Dir);
        this.impliedDir(c, layer);
        kids.set(comp, c);
      }
      cur = c;
    }
    return cur;
  }

  /** The node at `path` in the tree so far, without following symlinks; -1 if absent. */
  private resolve(path: string): number {
    let cur = 0;
    for (const comp of path.split('/')) {
      const kids = this.kids[cur];
      if (kids === undefined) return -1;
      const c = kids.get(comp);
      if (c === undefined) return -1;
      cur = c;
    }
    return cur;
  }

  private impliedDir(n: number, layer = 0): void {
    if (n === this.n) n = this.newNode(NodeKind.Dir);
    this.mode[n] = IMPLIED_DIR_MODE;
    this.lay[n] = layer;
    this.kids[n] = new Map();
  }

  private setAttrs(n: number, m: TarMembers, i: number, layer: number): void {
    this.mode[n] = m.mode[i];
    this.uid[n] = m.uid[i];
    this.gid[n] = m.gid[i];
    this.mtime[n] = m.mtimeNs[i];
    this.lay[n] = layer;
  }

  private newNode(kind: NodeKind): number {
    if (this.n === this.cap) this.grow();
    const n = this.n++;
    this.kind[n] = kind;
    return n;
  }

  private grow(): void {
    const cap = this.cap * 2;
    this.kind = grown(this.kind, cap);
    this.mode = grown(this.mode, cap);
    this.uid = grown(this.uid, cap);
    this.gid = grown(this.gid, cap);
    this.size = grown(this.size, cap);
    this.mtime = grown(this.mtime, cap);
    this.lay = grown(this.lay, cap);
    this.src = grown(this.src, cap);
    this.off = grown(this.off, cap);
    this.cap = cap;
  }
}
