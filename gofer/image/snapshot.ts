// Index snapshots: the merged tree of an image file, saved after the first open so that later opens
// of the same, unchanged file skip reading every tar header (for 20,000 files, about 150 ms -> a few
// ms). Owns: the snapshot file format, when a snapshot may be trusted, and writing it atomically.
//
// A snapshot lives at <cacheDir>/index/<sha256(format version, dev, ino)>.idx, so a changed image
// file overwrites its own snapshot instead of piling up new ones. It is used only when:
// - its trailing sha256 matches its bytes (a torn or corrupted file is ignored);
// - the image file's size, mtime and ctime (ns) are what they were when it was taken (any write,
//   truncate, touch or chmod changes ctime, so an edited image is always re-read);
// - every inflated-layer cache file it reads from still has the size and mtime it had, and a sidecar
//   that says so (cache.ts's rule for trusting a cache file);
// - the tables pass the structural checks LowerTree relies on (every index in bounds, every file's
//   data inside its source, no directory cycles), so even a snapshot forged to match its checksum
//   cannot make the gofer read outside the image's own files or loop. (The bytes of names, and the
//   order of entries, are covered by the checksum only: checking them costs more than the rest of
//   the load, and they were checked when the tar was indexed.)
// Anything else means "no snapshot": the image is opened the slow way and a fresh snapshot written.
// Snapshots are an optimisation only: failing to read or write one is never an error.
//
// File layout: "WBXIDX01" | u32 header length | header JSON | zero pad to 8 | the tables, each
// 8-byte aligned, in TABLES order | 32-byte sha256 of everything before it.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { sweepTemps, touch } from './cache';
import type { ImageConfig } from './manifest';
import { LowerTree, NodeKind, TABLES, type TreeTables } from './tree';

const MAGIC = 'WBXIDX01';
const VERSION = 1;

/** What an Image holds besides its tree; stored in the header as JSON. */
export interface SnapshotMeta {
  config: ImageConfig;
  layers: { index: number; digest: string; compressed: boolean; files: number; skipped: number }[];
  format: 'plain' | 'docker' | 'oci';
}

interface Header extends SnapshotMeta {
  version: number;
  image: Identity;
  /** Per tree source: "" = the image file itself, else a file in <cacheDir>/layers with its identity. */
  sources: { name: string; size: string; mtimeNs: string }[];
  count: number;
  entries: number;
  nameBytes: number;
}

interface Identity {
  dev: string;
  ino: string;
  size: string;
  mtimeNs: string;
  ctimeNs: string;
}

function identity(st: fs.BigIntStats): Identity {
  return { dev: String(st.dev), ino: String(st.ino), size: String(st.size), mtimeNs: String(st.mtimeNs), ctimeNs: String(st.ctimeNs) };
}

function snapshotPath(cacheDir: string, st: fs.BigIntStats): string {
  const key = crypto.createHash('sha256').update(`${VERSION}\0${st.dev}\0${st.ino}`).digest('hex');
  return path.join(cacheDir, 'index', `${key}.idx`);
}

const align8 = (n: number): number => (n + 7) & ~7;

/**
 * Writes a snapshot of an image opened from the file whose fstat (taken before opening it) is `st`.
 * The tree's sources are that file itself or files in <cacheDir>/layers (found through
 * /proc/self/fd; where that is unavailable no snapshot is written). Never throws.
 */
export function saveSnapshot(cacheDir: string, st: fs.BigIntStats, tree: LowerTree, meta: SnapshotMeta): void {
  try {
    const t = tree.tables;
    let layersDir: string | undefined;
    const sources = t.fds.map((fd) => {
      const s = fs.fstatSync(fd, { bigint: true });
      if (s.dev === st.dev && s.ino === st.ino) return { name: '', size: '', mtimeNs: '' };
      layersDir ??= fs.realpathSync(path.join(cacheDir, 'layers'));
      const target = fs.readlinkSync(`/proc/self/fd/${fd}`);
      if (path.dirname(target) !== layersDir) throw new Error('not a cache file');
      return { name: path.basename(target), size: String(s.size), mtimeNs: String(s.mtimeNs) };
    });
    const header: Header = {
      version: VERSION,
      image: identity(st),
      sources,
      count: t.count,
      entries: t.entNode.length,
      nameBytes: t.names.length,
      config: meta.config,
      layers: meta.layers,
      format: meta.format,
    };
    const json = Buffer.from(JSON.stringify(header));
    let size = align8(12 + json.length);
    for (const [name] of TABLES) size = align8(size + t[name].byteLength);
    const out = Buffer.alloc(size + 32);
    out.write(MAGIC, 0, 'latin1');
    out.writeUInt32LE(json.length, 8);
    json.copy(out, 12);
    let at = align8(12 + json.length);
    for (const [name] of TABLES) {
      const a = t[name];
      out.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), at);
      at = align8(at + a.byteLength);
    }
    crypto.createHash('sha256').update(out.subarray(0, size)).digest().copy(out, size);
    const file = snapshotPath(cacheDir, st);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    sweepTemps(path.dirname(file));
    const tmp = path.join(path.dirname(file), `.tmp-${process.pid}-${crypto.randomBytes(4).toString('hex')}.idx`);
    try {
      fs.writeFileSync(tmp, out);
      fs.renameSync(tmp, file);
    } catch {
      fs.rmSync(tmp, { force: true });
    }
  } catch (e) {
    if (process.env.WASMBOX_DEBUG_SNAPSHOT) console.error(e);
    // an optimisation only: a read-only cache, no /proc, a source that is not a cache file
  }
}

/**
 * The image in descriptor `imageFd` (whose fstat is `st`), rebuilt from its snapshot, or null when there is no trustworthy
 * snapshot (see the header). Opens the inflated layers it reads. `imageFd` stays the caller's on
 * null, and also on success when the tree does not read from it (a gzip'd whole archive): the
 * caller closes it then. On null nothing else stays open. Never throws.
 */
export function loadSnapshot(cacheDir: string, imageFd: number, st: fs.BigIntStats): (SnapshotMeta & { tree: LowerTree }) | null {
  const opened: number[] = [];
  try {
    let buf: Buffer;
    try {
      buf = fs.readFileSync(snapshotPath(cacheDir, st));
    } catch {
      return null;
    }
    if (buf.length < 12 + 32 || buf.toString('latin1', 0, 8) !== MAGIC) return null;
    const body = buf.subarray(0, buf.length - 32);
    if (!crypto.createHash('sha256').update(body).digest().equals(buf.subarray(buf.length - 32))) return null;
    const jsonLen = buf.readUInt32LE(8);
    if (12 + jsonLen > body.length) return null;
    const h = JSON.parse(buf.toString('utf8', 12, 12 + jsonLen)) as Header;
    const id = identity(st);
    if (h.version !== VERSION || JSON.stringify(h.image) !== JSON.stringify(id)) return null;
    if (!Array.isArray(h.sources) || h.sources.length === 0 || h.sources.length > 0xffff) return null;

    // the sources: the image itself, or unchanged cache files
    const fds: number[] = [];
    const sizes: number[] = [];
    for (const s of h.sources) {
      if (s.name === '') {
        fds.push(imageFd);
        sizes.push(Number(st.size));
        continue;
      }
      if (typeof s.name !== 'string' || !/^[a-z0-9]+-[0-9a-f]+\.tar$/.test(s.name)) return null;
      // the layer cache's own rule: a cache file counts only with a sidecar that matches it
      const side = JSON.parse(fs.readFileSync(path.join(cacheDir, 'layers', s.name.replace(/\.tar$/, '.json')), 'utf8'));
      if (String(side.size) !== s.size || side.mtimeNs !== s.mtimeNs) return closeAll(opened);
      const fd = fs.openSync(path.join(cacheDir, 'layers', s.name), 'r');
      opened.push(fd);
      const cs = fs.fstatSync(fd, { bigint: true });
      if (!cs.isFile() || String(cs.size) !== s.size || String(cs.mtimeNs) !== s.mtimeNs) return closeAll(opened);
      fds.push(fd);
      sizes.push(Number(cs.size));
    }

    // the tables: views of the file buffer (readFileSync gives it its own, aligned memory), or copies
    const lengths = { count: h.count, entries: h.entries, nameBytes: h.nameBytes };
    for (const n of Object.values(lengths)) if (!Number.isInteger(n) || n < 0 || n > 0x7fffffff) return closeAll(opened);
    const a: Record<string, ArrayBufferView> = {};
    let at = align8(12 + jsonLen);
    for (const [name, Ctor, len] of TABLES) {
      const bytes = lengths[len] * Ctor.BYTES_PER_ELEMENT;
      if (at + bytes > body.length) return closeAll(opened);
      if ((buf.byteOffset + at) % 8 === 0) {
        a[name] = new Ctor(buf.buffer as ArrayBuffer, buf.byteOffset + at, lengths[len]);
      } else {
        const copy = new Ctor(lengths[len]);
        new Uint8Array(copy.buffer).set(body.subarray(at, at + bytes));
        a[name] = copy;
      }
      at = align8(at + bytes);
    }
    // the same shape (property order) as merge.ts builds, so LowerTree's accesses stay monomorphic
    const t: TreeTables = {
      count: h.count,
      kind: a.kind as Uint8Array,
      mode: a.mode as Uint16Array,
      uid: a.uid as Uint32Array,
      gid: a.gid as Uint32Array,
      size: a.size as Float64Array,
      mtimeNs: a.mtimeNs as BigInt64Array,
      nlink: a.nlink as Uint32Array,
      layer: a.layer as Uint16Array,
      src: a.src as Uint16Array,
      off: a.off as Float64Array,
      entFirst: a.entFirst as Uint32Array,
      entCount: a.entCount as Uint32Array,
      entNode: a.entNode as Uint32Array,
      entNameOff: a.entNameOff as Uint32Array,
      entNameLen: a.entNameLen as Uint32Array,
      names: a.names as Uint8Array,
      fds,
    };
    if (at !== body.length || !wellFormed(t, sizes)) return closeAll(opened);
    // used now: the cache's least-recently-used clock (cache.ts) is the mtime of these files
    touch(snapshotPath(cacheDir, st));
    for (const s of h.sources) if (s.name !== '') touch(path.join(cacheDir, 'layers', s.name.replace(/\.tar$/, '.json')));
    return { tree: new LowerTree(t), config: h.config, layers: h.layers, format: h.format };
  } catch {
    return closeAll(opened);
  }
}

function closeAll(fds: number[]): null {
  for (const fd of fds) fs.closeSync(fd);
  return null;
}

/**
 * The structural checks LowerTree's readers rely on: kinds valid, the root a directory, every
 * directory's entries inside the entry table, every entry naming an existing non-root node, every
 * name and symlink target inside `names`, every file's data inside its source, and every directory
 * named at most once and the root never (so walks from the root terminate).
 */
function wellFormed(t: TreeTables, sourceSizes: number[]): boolean {
  const { count: n, kind, size, off, src, entFirst, entCount, entNode, entNameOff, entNameLen, names } = t;
  const entries = entNode.length;
  const namesLen = names.length;
  if (n === 0 || kind[0] !== NodeKind.Dir) return false;
  const dirSeen = new Uint8Array(n);
  dirSeen[0] = 1;
  for (let i = 0; i < n; i++) {
    const k = kind[i];
    if (k === NodeKind.File) {
      const s = src[i];
      if (s >= sourceSizes.length || !(size[i] >= 0) || !(off[i] >= 0) || off[i] + size[i] > sourceSizes[s]) return false;
    } else if (k === NodeKind.Symlink) {
      if (!(size[i] >= 0) || !(off[i] >= 0) || off[i] + size[i] > namesLen) return false;
    } else if (k === NodeKind.Dir) {
      const first = entFirst[i];
      const last = first + entCount[i];
      if (last > entries) return false;
      for (let e = first; e < last; e++) {
        const c = entNode[e];
        const no = entNameOff[e];
        const nl = entNameLen[e];
        if (c === 0 || c >= n || nl === 0 || no + nl > namesLen) return false;
        if (kind[c] === NodeKind.Dir) {
          if (dirSeen[c]) return false; // a directory named twice, or a cycle
          dirSeen[c] = 1;
        }
      }
    } else {
      return false;
    }
  }
  return true;
}
