// The fuzz case generator: from one seed, a random lower tree of 2-4 layers and a script of N ops
// over it (spec.ts, guests/fsops.c). Owns what the fuzzer covers and what it avoids, and why.
//
// Namespace: SMALL and DEEP, so that operations collide. Every name is one of a b c d, paths are up
// to 4 components deep, and every kind of object (dir, file, symlink, hard link) uses the same names,
// so a random path often names something, often through a symlink, often of the wrong type.
//
// Lower tree: layer 0 is a random tree; each upper layer makes 2-7 changes to the merged tree below
// it: OCI whiteouts of files, links and whole dirs, opaque dirs (re-filled or empty), files over
// dirs and dirs over files (replacing them), new dirs, files, symlinks, and hard-link pairs inside
// the layer. Files have sizes around page boundaries (0, 1, 4095, 4096, 4097, 8193, ...). Symlinks
// are relative: to siblings, down into dirs, to themselves (loops), to names that never exist
// (dangling).
//
// Ops: every op of the fsops format, on existing and missing names, with type mismatches, non-empty
// dirs, renames onto existing names, onto another name of the same file, into their own subtree and
// onto themselves, trailing slashes (also on symlinks: rmdir, unlink and rename must not follow
// them), paths through symlinks, holes (writes and truncates far past the end), and ops through open
// fds (four slots) while the file is renamed, unlinked, truncated or copied up through another name
// or fd. A rough model of the tree aims most ops at objects that probably exist (see Ops below).
//
// Avoided, because node:wasi (uvwasi), not the file system, decides the answer (the quirk table is
// in test/e2e/probe.test.ts; the guest avoids the fd-level ones itself, see guests/fsops.c):
//   - absolute symlink targets and '..' anywhere (targets and op paths): uvwasi resolves paths as
//     strings, folding '..' before following links, and lets the host follow absolute targets
//     outside the preopen. Without '..' and '/' a target can also never leave its case directory.
//   - '.' components: uvwasi folds them lexically, so "file/." opens the file (Linux: ENOTDIR).
//   - O_NOFOLLOW opens: uvwasi drops O_NOFOLLOW. Every open follows.
//   - O_CREAT with O_DIRECTORY: undefined in WASI, EINVAL or a file depending on the Linux version.
//   - O_CREAT (open with c, put) on a path with a trailing slash: Linux answers EISDIR whatever the
//     name is; uvwasi resolves the last component itself first and answers ENOTDIR for a file and
//     ELOOP for a symlink loop (seen: `put a/a/` with a/a -> a). Only the paths of O_CREAT opens lose
//     their trailing slash; mkdir, symlink, link, rmdir, unlink and rename keep them.
//   - `falloc` with length 0: Linux posix_fallocate answers EINVAL, uvwasi (which emulates
//     fd_allocate with fstat and ftruncate) answers ok.
//   - sub-second times in `utimes`: uvwasi passes times as floating-point seconds and loses the
//     nanoseconds (seen: 1000000000123456789 set, 1000000000000000000 read back); whole seconds only.
//
// Avoided, because Linux overlayfs shows an artefact of its layering where the sandbox shows what
// one file system would (not sandbox bugs; reported, not excused, and not in docs/overlay.md yet):
//   - whiteouts of names that no lower layer has: the whiteout then sits in a directory that only its
//     own layer has, which overlayfs does not treat as merged, so Linux's readdir lists the whiteout
//     (a character device that lstat says does not exist) and node:wasi's listing fails with ENOENT.
//     OCI says such a whiteout deletes nothing; the sandbox (gofer) drops it.
//   - a lower hard-link group with a name that an upper layer hides (whiteout, opaque dir, or a
//     replacement of the name or a parent): Linux overlayfs keeps counting the hidden name in
//     st_nlink (the lower inode's link count), the sandbox counts the names it shows (docs/overlay.md
//     "Hard links": one inode, st_nlink counts its names). Such groups become plain copies.
//   - (in guests/fsops.c) the link count through an fd: a lower file unlinked while open, never
//     copied up, still has st_nlink 1 under overlayfs (the lower inode's), 0 in the sandbox.
import { Rng } from './prng';
import type { FEntry, FLayers, FuzzCase } from './spec';

export const NAMES = ['a', 'b', 'c', 'd'] as const;
export const MAX_DEPTH = 4;

const FILE_SIZES = [0, 1, 7, 100, 511, 512, 513, 1000, 4095, 4096, 4097, 5000, 8191, 8192, 8193, 12289];
const IO_SIZES = [0, 1, 7, 100, 511, 512, 1000, 4095, 4096, 4097, 5000, 8192, 9000];
const OFFSETS = [0, 1, 100, 511, 4095, 4096, 4097, 5000, 8191, 8192, 12288, 20000, 65536, 70001];
const TRUNC_SIZES = [0, 1, 100, 4095, 4096, 4097, 9000, 20000, 65537];
const SLOTS = 4;

// ---------------------------------------------------------------------------------------------
// The merged lower tree, as the generator models it.

type Kind = 'dir' | 'file' | 'symlink';
interface Node {
  kind: Kind;
  /** The layer entry that put it there (hard-link groups check that all their names survive). */
  entry: FEntry | null;
  /** For files: identifies the file; hard links share it (the model of the ops uses it). */
  inode?: object;
  /** For files: size and pattern (hard links copy them). */
  size?: number;
  pat?: number;
}

class Tree {
  readonly nodes = new Map<string, Node>();

  get(p: string): Node | undefined {
    return this.nodes.get(p);
  }

  /** Removes p (if self) and everything under it. */
  drop(p: string, self: boolean): void {
    for (const k of [...this.nodes.keys()]) if ((self && k === p) || k.startsWith(p + '/')) this.nodes.delete(k);
  }

  /** Makes every parent of p a directory, replacing non-directories (as a layer's implied dirs do). */
  parents(p: string): void {
    const parts = p.split('/');
    for (let i = 1; i < parts.length; i++) {
      const q = parts.slice(0, i).join('/');
      if (this.nodes.get(q)?.kind !== 'dir') {
        this.drop(q, true);
        this.nodes.set(q, { kind: 'dir', entry: null });
      }
    }
  }

  apply(e: FEntry): void {
    this.parents(e.path);
    switch (e.type) {
      case 'whiteout':
        this.drop(e.path, true);
        break;
      case 'opaque':
        this.drop(e.path, true);
        this.nodes.set(e.path, { kind: 'dir', entry: e });
        break;
      case 'dir':
        if (this.nodes.get(e.path)?.kind !== 'dir') {
          this.drop(e.path, true);
          this.nodes.set(e.path, { kind: 'dir', entry: e });
        }
        break;
      case 'file':
        this.drop(e.path, true);
        this.nodes.set(e.path, { kind: 'file', entry: e, size: e.size, pat: e.pat, inode: {} });
        break;
      case 'hardlink': {
        const t = this.nodes.get(e.target)!;
        this.drop(e.path, true);
        this.nodes.set(e.path, { kind: 'file', entry: e, size: t.size, pat: t.pat, inode: t.inode });
        break;
      }
      case 'symlink':
        this.drop(e.path, true);
        this.nodes.set(e.path, { kind: 'symlink', entry: e });
        break;
    }
  }

  paths(kind?: Kind): string[] {
    return [...this.nodes].filter(([, n]) => !kind || n.kind === kind).map(([p]) => p);
  }
}

const depthOf = (p: string): number => p.split('/').length;

function randomPath(rng: Rng, maxDepth = MAX_DEPTH): string {
  const d = rng.range(1, maxDepth);
  const parts: string[] = [];
  for (let i = 0; i < d; i++) parts.push(rng.pick(NAMES));
  return parts.join('/');
}

/** A relative symlink target without '..' or '.': a name, a name below a name, or a dangling name. */
function randomTarget(rng: Rng): string {
  const r = rng.int(10);
  if (r < 5) return rng.pick(NAMES);
  if (r < 8) return `${rng.pick(NAMES)}/${rng.pick(NAMES)}`;
  return rng.pick(['z', 'a/z', 'zz/a']); // never created: dangling
}

function shuffled<T>(rng: Rng, a: readonly T[]): T[] {
  const b = [...a];
  for (let i = b.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [b[i], b[j]] = [b[j], b[i]];
  }
  return b;
}

function randomFile(rng: Rng, path: string): FEntry {
  const size = rng.chance(0.7) ? rng.pick(FILE_SIZES) : rng.range(0, 13000);
  return { path, type: 'file', size, pat: rng.int(256) };
}

// ---------------------------------------------------------------------------------------------
// Layers

function genBaseLayer(rng: Rng): FEntry[] {
  const out: FEntry[] = [];
  const files: string[] = [];
  const walk = (dir: string, depth: number): void => {
    const n = depth === 0 ? rng.range(2, 4) : rng.range(0, 3);
    const names = shuffled(rng, NAMES).slice(0, n);
    for (const name of names) {
      const p = dir ? `${dir}/${name}` : name;
      const kind = rng.weighted({ dir: depth < MAX_DEPTH - 1 ? 40 : 0, file: 35, symlink: 15, hardlink: files.length ? 10 : 0 });
      if (kind === 'dir') {
        out.push({ path: p, type: 'dir' });
        walk(p, depth + 1);
      } else if (kind === 'file') {
        out.push(randomFile(rng, p));
        files.push(p);
      } else if (kind === 'symlink') out.push({ path: p, type: 'symlink', target: randomTarget(rng) });
      else out.push({ path: p, type: 'hardlink', target: rng.pick(files) });
    }
  };
  walk('', 0);
  return out;
}

function genUpperLayer(rng: Rng, tree: Tree): FEntry[] {
  const out: FEntry[] = [];
  const used: string[] = []; // paths this layer wrote; nothing may go under a non-dir or whiteout of them
  const files: string[] = [];
  const blocked = (p: string): boolean =>
    used.some((u) => u === p || p.startsWith(u + "/") || u.startsWith(p + "/"));
  const add = (e: FEntry): void => {
    out.push(e);
    used.push(e.path);
    tree.apply(e);
    if (e.type === 'file') files.push(e.path);
  };
  const changes = rng.range(2, 7);
  for (let i = 0; i < changes; i++) {
    const existing = tree.paths();
    const p = existing.length && rng.chance(0.7) ? rng.pick(existing) : randomPath(rng);
    if (blocked(p)) continue;
    const cur = tree.get(p);
    // Whiteouts only of names that exist below (see the header: a whiteout in a directory that no
    // lower layer has leaks into Linux's readdir).
    const what = rng.weighted({ whiteout: cur ? 25 : 0, opaque: 12, file: 25, dir: 12, symlink: 12, hardlink: files.length ? 8 : 0 });
    switch (what) {
      case 'whiteout':
        add({ path: p, type: 'whiteout' });
        break;
      case 'opaque': {
        add({ path: p, type: 'opaque' });
        if (depthOf(p) < MAX_DEPTH) {
          for (const name of shuffled(rng, NAMES).slice(0, rng.range(0, 2))) {
            const c = `${p}/${name}`;
            if (rng.chance(0.7)) add(randomFile(rng, c));
            else add({ path: c, type: 'dir' });
          }
        }
        break;
      }
      case 'file':
        add(randomFile(rng, p));
        break;
      case 'dir':
        add({ path: p, type: 'dir' });
        if (depthOf(p) < MAX_DEPTH && rng.chance(0.5)) {
          const c = `${p}/${rng.pick(NAMES)}`;
          if (!tree.get(c) || tree.get(c)!.kind !== 'dir') add(randomFile(rng, c));
        }
        break;
      case 'symlink':
        add({ path: p, type: 'symlink', target: randomTarget(rng) });
        break;
      case 'hardlink':
        add({ path: p, type: 'hardlink', target: rng.pick(files) });
        break;
    }
  }
  return out;
}

/**
 * Hard-link groups (a file and the hardlink entries to it, in one layer) some of whose names the
 * final tree does not show become independent files: see the header (st_nlink of hidden names).
 */
function breakHiddenLinkGroups(layers: FLayers, tree: Tree): void {
  const shown = new Set<FEntry>();
  for (const n of tree.nodes.values()) if (n.entry) shown.add(n.entry);
  for (const layer of layers) {
    const groups = new Map<string, FEntry[]>(); // target path -> [target entry, hardlink entries...]
    for (const e of layer) {
      if (e.type === 'file') groups.set(e.path, [e]);
      else if (e.type === 'hardlink') groups.get(e.target)?.push(e);
    }
    for (const g of groups.values()) {
      if (g.length < 2 || g.every((e) => shown.has(e))) continue;
      const t = g[0] as Extract<FEntry, { type: 'file' }>;
      for (const e of g.slice(1)) {
        const i = layer.indexOf(e);
        layer[i] = { path: e.path, type: 'file', size: t.size, pat: t.pat };
      }
    }
  }
}

/** The merged tree of `layers` (the generator's model of the lower). */
export function mergedTree(layers: FLayers): Tree {
  const tree = new Tree();
  for (const l of layers) for (const e of l) tree.apply(e);
  return tree;
}

export function genLayers(rng: Rng): FLayers {
  const layers: FLayers = [];
  const tree = new Tree();
  layers.push(genBaseLayer(rng));
  for (const e of layers[0]) tree.apply(e);
  const n = rng.range(2, 4);
  for (let i = 1; i < n; i++) layers.push(genUpperLayer(rng, tree));
  breakHiddenLinkGroups(layers, tree);
  return layers;
}

// ---------------------------------------------------------------------------------------------
// Ops
//
// The generator keeps a rough model of the tree as the script changes it (the Tree above, updated
// as if every op that the model expects to work did), only to aim ops: most ops name objects that
// probably exist, with the right type, so that opens succeed and fd ops have files to act on; the
// rest name random paths, wrong types and missing names. The model never decides an expected
// result: both sides' outputs are compared with each other.

const OPS = {
  open: 14,
  close: 4,
  read: 6,
  write: 6,
  pread: 3,
  pwrite: 5,
  seek: 2,
  ftrunc: 3,
  falloc: 2,
  append: 2,
  fsync: 1,
  fstat: 3,
  trunc: 3,
  cat: 6,
  put: 5,
  mkdir: 5,
  rmdir: 4,
  unlink: 5,
  rename: 10,
  link: 4,
  symlink: 4,
  readlink: 2,
  stat: 4,
  lstat: 3,
  ls: 4,
  utimes: 2,
  dump: 1,
} as const;

// Open flags (fsops letters). Never c with d (see the header), never a nofollow open.
const FILE_FLAGS = ['r', 'r', 'w', 'rw', 'rw', 'wc', 'rwc', 'wct', 'rwct', 'wcx', 'rwcx', 'wa', 'rwa', 'wca', 'rt', 'wt'];
const DIR_FLAGS = ['r', 'rd', 'rd', 'w', 'wd'];
const NEW_FLAGS = ['wc', 'rwc', 'wcx', 'rwcx', 'wca', 'rwct'];

const parentOf = (p: string): string => (p.includes('/') ? p.slice(0, p.lastIndexOf('/')) : '');

/** The model's answer to "would this work": only for aiming, see above. */
class Model {
  constructor(readonly tree: Tree) {}

  kind(p: string): Kind | undefined {
    return this.tree.get(p)?.kind;
  }
  dirOk(p: string): boolean {
    const d = parentOf(p);
    return d === '' || this.kind(d) === 'dir';
  }
  empty(p: string): boolean {
    for (const k of this.tree.nodes.keys()) if (k.startsWith(p + '/')) return false;
    return true;
  }
  create(p: string, kind: Kind, inode: object = {}): void {
    if (!p.endsWith('/') && p !== '/' && !this.kind(p) && this.dirOk(p)) this.tree.nodes.set(p, { kind, entry: null, inode });
  }
  /** Pairs of names of one file (hard links), as [a, b]. */
  siblings(): Array<[string, string]> {
    const by = new Map<object, string[]>();
    for (const [p, n] of this.tree.nodes) if (n.kind === 'file' && n.inode) by.set(n.inode, [...(by.get(n.inode) ?? []), p]);
    const out: Array<[string, string]> = [];
    for (const names of by.values()) for (const a of names) for (const b of names) if (a !== b) out.push([a, b]);
    return out;
  }
  remove(p: string, kind: 'dir' | 'nondir'): void {
    const k = this.kind(p);
    if (p.endsWith('/') || !k) return;
    if (kind === 'dir' ? k === 'dir' && this.empty(p) : k !== 'dir') this.tree.nodes.delete(p);
  }
  rename(from: string, to: string): void {
    if (from.endsWith('/') || to.endsWith('/') || from === to || to.startsWith(from + '/')) return;
    const k = this.kind(from);
    const t = this.kind(to);
    if (k === 'file' && this.tree.get(from)!.inode === this.tree.get(to)?.inode) return; // one file: nothing happens
    if (!k || !this.dirOk(to) || (t && (t === 'dir') !== (k === 'dir')) || (t === 'dir' && !this.empty(to))) return;
    const moved = [...this.tree.nodes].filter(([q]) => q === from || q.startsWith(from + '/'));
    this.tree.drop(to, true);
    for (const [q] of moved) this.tree.nodes.delete(q);
    for (const [q, n] of moved) this.tree.nodes.set(to + q.slice(from.length), n);
  }
}

export function genOps(rng: Rng, layers: FLayers, count: number): string[] {
  const m = new Model(mergedTree(layers));
  const slots: Array<{ rd: boolean; wr: boolean } | null> = new Array(SLOTS).fill(null);
  const ops: string[] = [];
  const pick = <T>(a: readonly T[]): T => rng.pick(a);

  const existing = (...kinds: Kind[]): string | null => {
    const ps = [...m.tree.nodes].filter(([, n]) => kinds.length === 0 || kinds.includes(n.kind)).map(([p]) => p);
    return ps.length ? pick(ps) : null;
  };
  const noSlash = (p: string): string => (p === '/' ? p : p.replace(/\/+$/, ''));
  const slash = (p: string, prob: number): string => (p !== '/' && rng.chance(prob) ? `${p}/` : p);
  /** Any path: an existing one, one through a symlink, a random one, or the case directory. */
  const anyPath = (): string => {
    const r = rng.int(100);
    if (r < 55) {
      const p = existing();
      if (p) return slash(p, 0.06);
    }
    if (r < 70) {
      const l = existing('symlink');
      // Through a symlink, or the symlink with a trailing slash (rmdir, unlink and rename must not
      // follow it; everything else must).
      if (l) return rng.chance(0.6) ? `${l}/${pick(NAMES)}` : `${l}/`;
    }
    if (r < 96) return slash(randomPath(rng), 0.06);
    return '/';
  };
  /** A path that probably does not exist, in a directory that probably does. */
  const newPath = (): string => {
    const dirs = [...m.tree.nodes].filter(([p, n]) => n.kind === 'dir' && depthOf(p) < MAX_DEPTH).map(([p]) => p);
    const free = (d: string) => NAMES.map((n) => (d ? `${d}/${n}` : n)).filter((p) => !m.kind(p));
    const cands = ['', ...dirs].flatMap(free);
    return slash(cands.length && rng.chance(0.85) ? pick(cands) : randomPath(rng), 0.04);
  };
  /** Usually an existing path of one of `kinds`, else any path. */
  const aim = (prob: number, ...kinds: Kind[]): string => (rng.chance(prob) ? existing(...kinds) ?? anyPath() : anyPath());
  const size = (a: readonly number[], hi: number): number => (rng.chance(0.75) ? pick(a) : rng.range(0, hi));
  const slotWith = (want: 'rd' | 'wr' | 'any'): number => {
    const ok = slots.map((s, i) => (s && (want === 'any' || s[want]) ? i : -1)).filter((i) => i >= 0);
    return ok.length ? pick(ok) : -1;
  };
  const seconds = (): string => `${rng.range(1_000_000_000, 1_700_000_000)}000000000`;

  while (ops.length < count) {
    const op = rng.weighted(OPS);
    switch (op) {
      case 'open': {
        const s = rng.int(SLOTS);
        const r = rng.int(100);
        let p: string;
        let f: string;
        const sib = m.siblings();
        if (r < 10 && sib.length) [p, f] = [pick(sib)[0], pick(FILE_FLAGS)];
        else if (r < 55) [p, f] = [existing('file') ?? anyPath(), pick(FILE_FLAGS)];
        else if (r < 65) [p, f] = [existing('dir') ?? anyPath(), pick(DIR_FLAGS)];
        else if (r < 85) [p, f] = [newPath(), pick(NEW_FLAGS)];
        else [p, f] = [anyPath(), pick([...FILE_FLAGS, ...DIR_FLAGS])];
        if (f.includes('c')) p = noSlash(p); // see the header: O_CREAT with a trailing slash
        ops.push(`open ${s} ${p} ${f}`);
        slots[s] = { rd: f.includes('r') || !f.includes('w'), wr: f.includes('w') };
        if (f.includes('c')) m.create(p, 'file');
        break;
      }
      case 'close':
      case 'fsync':
      case 'fstat': {
        const s = slotWith('any');
        if (s < 0) continue;
        ops.push(`${op} ${s}`);
        if (op === 'close') slots[s] = null;
        break;
      }
      case 'read':
      case 'pread': {
        const s = slotWith('rd');
        if (s < 0) continue;
        ops.push(op === 'read' ? `read ${s} ${size(IO_SIZES, 16384)}` : `pread ${s} ${size(OFFSETS, 20000)} ${size(IO_SIZES, 16384)}`);
        break;
      }
      case 'write':
      case 'pwrite':
      case 'ftrunc':
      case 'falloc': {
        const s = slotWith('wr');
        if (s < 0) continue;
        if (op === 'write') ops.push(`write ${s} ${size(IO_SIZES, 9000)} ${rng.int(256)}`);
        else if (op === 'pwrite') ops.push(`pwrite ${s} ${size(OFFSETS, 20000)} ${size(IO_SIZES, 9000)} ${rng.int(256)}`);
        else if (op === 'ftrunc') ops.push(`ftrunc ${s} ${size(TRUNC_SIZES, 20000)}`);
        else ops.push(`falloc ${s} ${size(OFFSETS, 20000)} ${Math.max(1, size(IO_SIZES, 9000))}`); // len 0: see the header
        break;
      }
      case 'append': {
        const s = slotWith('wr');
        if (s < 0) continue;
        ops.push(`append ${s} ${rng.chance(0.6) ? 'on' : 'off'}`);
        break;
      }
      case 'seek': {
        const s = slotWith('any');
        if (s < 0) continue;
        const wh = pick(['set', 'cur', 'end'] as const);
        const off = wh === 'set' ? size(OFFSETS, 20000) : pick([0, 1, -1, 100, -100, 4096, -4096, -5000, 9000]);
        ops.push(`seek ${s} ${off} ${wh}`);
        break;
      }
      case 'trunc':
        ops.push(`trunc ${aim(0.6, 'file')} ${size(TRUNC_SIZES, 20000)}`);
        break;
      case 'cat':
        ops.push(`cat ${aim(0.6, 'file')}`);
        break;
      case 'readlink':
        ops.push(`readlink ${aim(0.6, 'symlink')}`);
        break;
      case 'stat':
      case 'lstat':
        ops.push(`${op} ${anyPath()}`);
        break;
      case 'ls':
        ops.push(`ls ${aim(0.5, 'dir')}`);
        break;
      case 'rmdir': {
        const empty = [...m.tree.nodes].filter(([q, n]) => n.kind === 'dir' && m.empty(q)).map(([q]) => q);
        const p = empty.length && rng.chance(0.4) ? pick(empty) : aim(0.5, 'dir');
        ops.push(`rmdir ${p}`);
        m.remove(p, 'dir');
        break;
      }
      case 'unlink': {
        const p = aim(0.6, 'file', 'symlink');
        ops.push(`unlink ${p}`);
        m.remove(p, 'nondir');
        break;
      }
      case 'put': {
        const p = noSlash(rng.chance(0.35) ? newPath() : aim(0.6, 'file')); // O_CREAT: see the header
        ops.push(`put ${p} ${size(IO_SIZES, 9000)} ${rng.int(256)}`);
        m.create(p, 'file');
        break;
      }
      case 'mkdir': {
        const p = rng.chance(0.7) ? newPath() : anyPath();
        ops.push(`mkdir ${p}`);
        m.create(p, 'dir');
        break;
      }
      case 'rename': {
        const sib = m.siblings();
        if (sib.length && rng.chance(0.08)) {
          // onto another name of the same file: Linux does nothing and succeeds
          const [a, b] = pick(sib);
          ops.push(`rename ${a} ${b}`);
          break;
        }
        const from = aim(0.75);
        const k = m.kind(from);
        const r = rng.int(100);
        let to: string;
        if (r < 35) to = newPath();
        else if (r < 55) to = (k && existing(k)) || anyPath(); // onto an object of the same type
        else if (r < 65) to = existing() ?? anyPath(); // onto anything
        else if (r < 75 && from !== '/') to = `${from.replace(/\/+$/, '')}/${pick(NAMES)}`; // into its own subtree
        else if (r < 80) to = from;
        else to = anyPath();
        ops.push(`rename ${from} ${to}`);
        m.rename(from, to);
        break;
      }
      case 'link': {
        const sib = m.siblings();
        const from = sib.length && rng.chance(0.3) ? pick(sib)[0] : aim(0.75, 'file');
        const to = rng.chance(0.75) ? newPath() : anyPath();
        ops.push(`link ${from} ${to}`);
        if (m.kind(from) === 'file') m.create(to, 'file', m.tree.get(from)!.inode);
        break;
      }
      case 'symlink': {
        const p = rng.chance(0.75) ? newPath() : anyPath();
        ops.push(`symlink ${randomTarget(rng)} ${p}`);
        m.create(p, 'symlink');
        break;
      }
      case 'utimes':
        ops.push(`utimes ${anyPath()} ${seconds()} ${seconds()}`);
        break;
      case 'dump':
        ops.push(`dump ${rng.chance(0.5) ? existing('dir') ?? '/' : '/'}`);
        break;
    }
  }
  return ops;
}

/** The case of `seed`: its lower tree and `ops` ops. */
export function generateCase(seed: number, ops: number): FuzzCase {
  const rng = new Rng(seed);
  const layers = genLayers(rng);
  return { name: `seed ${seed}`, layers, ops: genOps(rng, layers, ops) };
}
