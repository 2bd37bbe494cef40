// LowerTree: the merged, read-only file tree of an image's layers, as the gofer serves it. Owns: the
// compact node and entry tables, name lookup, and reading file data from the archive or cache files.
// Does not own building (merge.ts fills a TreeTables and hands it over) or opening files (index.ts).
//
// Layout (all immutable after construction; built once per image):
//   node n (0..count-1, 0 = root dir): kind, mode, uid, gid, size, mtimeNs, nlink, layer,
//     src+off = where the data is: File -> fds[src] at byte off; Symlink -> names[off, off+size).
//   directory d: its entries are entFirst[d] .. entFirst[d]+entCount[d]-1 in the global entry table,
//     sorted by name bytes (memcmp order, shorter prefix first), no duplicates, never "." or "..".
//   entry e: entNode[e] = child node, name = names[entNameOff[e], +entNameLen[e]).
//   names: one UTF-8/raw-bytes string table holding entry names and symlink targets.
// A file with several names (hard links) is one node listed by several entries; nlink counts them.
// Directories are never shared: each has exactly one entry naming it (the root has none).
// The descriptors (io.ts: Node fds or registered Sources) belong to the tree from construction until
// close(); after close() every read() throws rather than touching a descriptor number the process
// may have reused.
import { readAt, releaseDescriptor } from './io';

export const enum NodeKind {
  File = 1,
  Dir = 2,
  Symlink = 3,
}

/** The arrays a LowerTree is made of (see the layout above); merge.ts produces them. */
export interface TreeTables {
  count: number;
  kind: Uint8Array;
  mode: Uint16Array;
  uid: Uint32Array;
  gid: Uint32Array;
  size: Float64Array;
  mtimeNs: BigInt64Array;
  nlink: Uint32Array;
  layer: Uint16Array;
  src: Uint16Array;
  off: Float64Array;
  entFirst: Uint32Array;
  entCount: Uint32Array;
  entNode: Uint32Array;
  entNameOff: Uint32Array;
  entNameLen: Uint32Array;
  names: Uint8Array;
  fds: number[];
}

/**
 * The typed-array tables of a TreeTables, in the order merge.ts builds them: name, element type (for
 * `names`, possibly a Buffer, a plain Uint8Array), and which count gives the length. Index snapshots
 * (snapshot.ts) and sharing between threads (share.ts) copy them by this list.
 */
export const TABLES = [
  ['kind', Uint8Array, 'count'],
  ['mode', Uint16Array, 'count'],
  ['uid', Uint32Array, 'count'],
  ['gid', Uint32Array, 'count'],
  ['size', Float64Array, 'count'],
  ['mtimeNs', BigInt64Array, 'count'],
  ['nlink', Uint32Array, 'count'],
  ['layer', Uint16Array, 'count'],
  ['src', Uint16Array, 'count'],
  ['off', Float64Array, 'count'],
  ['entFirst', Uint32Array, 'count'],
  ['entCount', Uint32Array, 'count'],
  ['entNode', Uint32Array, 'entries'],
  ['entNameOff', Uint32Array, 'entries'],
  ['entNameLen', Uint32Array, 'entries'],
  ['names', Uint8Array, 'nameBytes'],
] as const;

const utf8 = new TextEncoder();

export class LowerTree {
  readonly root = 0;
  readonly count: number;
  readonly names: Uint8Array;
  private readonly t: TreeTables;
  private closed = false;

  constructor(tables: TreeTables) {
    this.t = tables;
    this.count = tables.count;
    this.names = tables.names;
  }

  /** The tables themselves (for index snapshots); read only. */
  get tables(): Readonly<TreeTables> {
    return this.t;
  }

  kind(n: number): NodeKind {
    return this.t.kind[n] as NodeKind;
  }
  mode(n: number): number {
    return this.t.mode[n];
  }
  uid(n: number): number {
    return this.t.uid[n];
  }
  gid(n: number): number {
    return this.t.gid[n];
  }
  /** File: data bytes; symlink: target length in bytes; directory: 0. */
  size(n: number): number {
    return this.t.size[n];
  }
  mtimeNs(n: number): bigint {
    return this.t.mtimeNs[n];
  }
  /** File/symlink: names referring to it; directory: 2 + number of child directories. */
  nlink(n: number): number {
    return this.t.nlink[n];
  }
  /** Index (0 = bottom) of the layer whose entry supplied this node's attributes. */
  layer(n: number): number {
    return this.t.layer[n];
  }

  entryCount(dir: number): number {
    return this.t.entCount[dir];
  }
  entryFirst(dir: number): number {
    return this.t.entFirst[dir];
  }
  entryNode(e: number): number {
    return this.t.entNode[e];
  }
  entryNameOffset(e: number): number {
    return this.t.entNameOff[e];
  }
  entryNameLength(e: number): number {
    return this.t.entNameLen[e];
  }

  /**
   * The child of `dir` named name[start, end) (default: all of `name`), or -1. Binary search over the
   * directory's sorted entries; -1 also when `dir` is not a directory.
   */
  lookup(dir: number, name: Uint8Array, start = 0, end = name.length): number {
    const t = this.t;
    if (t.kind[dir] !== NodeKind.Dir) return -1;
    const names = t.names;
    const len = end - start;
    let lo = t.entFirst[dir];
    let hi = lo + t.entCount[dir] - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const off = t.entNameOff[mid];
      const elen = t.entNameLen[mid];
      const n = elen < len ? elen : len;
      let c = 0;
      for (let i = 0; i < n; i++) {
        c = names[off + i] - name[start + i];
        if (c !== 0) break;
      }
      if (c === 0) c = elen - len;
      if (c === 0) return t.entNode[mid];
      if (c < 0) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  /** Test/debug helper: resolves "a/b/c" (UTF-8) from the root without following symlinks; -1 if absent. */
  walkPath(path: string): number {
    const bytes = utf8.encode(path);
    let n = this.root;
    let i = 0;
    while (i < bytes.length) {
      let j = i;
      while (j < bytes.length && bytes[j] !== 0x2f) j++;
      if (j > i) {
        n = this.lookup(n, bytes, i, j);
        if (n < 0) return -1;
      }
      i = j + 1;
    }
    return n;
  }

  /** A symlink's target bytes, as a view into `names` (do not modify); empty for other kinds. */
  readlink(n: number): Uint8Array {
    if (this.t.kind[n] !== NodeKind.Symlink) return new Uint8Array(0);
    const off = this.t.off[n];
    return this.t.names.subarray(off, off + this.t.size[n]);
  }

  /**
   * Reads up to `length` bytes of file n from `offset` into into[at..]; returns the count, short only
   * at the end of the file (or 0 for a non-file). Never reads outside the member's data.
   */
  read(n: number, offset: number, length: number, into: Uint8Array, at: number): number {
    const t = this.t;
    if (this.closed) throw new Error('LowerTree.read: the image is closed');
    if (t.kind[n] !== NodeKind.File || offset < 0 || length <= 0 || at < 0) return 0;
    const size = t.size[n];
    if (offset >= size) return 0;
    const want = Math.min(length, size - offset, into.length - at);
    if (want <= 0) return 0;
    // a short count means the file shrank underneath us: a short read, not garbage
    return readAt(t.fds[t.src[n]], into, at, want, t.off[n] + offset);
  }

  /** Closes the archive and cache files (forgets Source handles); idempotent. Image.close() calls this. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const fd of this.t.fds) releaseDescriptor(fd);
  }
}
