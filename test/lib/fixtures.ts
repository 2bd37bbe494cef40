// Test fixtures written as layer specs (see layers.ts). Owns the image tree that guests/probe.c is
// written against: every path the probe touches is here, grouped by the probe section that owns it,
// so that each section can run on its own on a fresh mount and print the same lines as in a full run.
//
// Invariants the probe relies on (change them together with guests/probe.c):
//   - three layers; layer 1 replaces, adds and whites out names of layer 0; layer 2 whites out a file
//     and a directory, makes /opq opaque, and re-creates a name that layer 1 whited out;
//   - /data/big.bin is BIG_SIZE bytes of bigByte(i), not a multiple of 4 KiB;
//   - /s exists (an empty lower dir) and every section works in its own /s/<section>;
//   - all mtimes are FIXTURE_MTIME.
import type { Entry, ImageSpec } from './layers';

/** Size of /data/big.bin: 300 KiB and a bit, so reads cross pages and the last page is partial. */
export const BIG_SIZE = 300 * 1024 + 123;
/** Byte i of /data/big.bin. guests/probe.c computes the same function (big_byte). */
export const bigByte = (i: number): number => ((i % 251) + (i >>> 12)) & 0xff;

export function bigData(): Uint8Array {
  const b = new Uint8Array(BIG_SIZE);
  for (let i = 0; i < BIG_SIZE; i++) b[i] = bigByte(i);
  return b;
}

const pad2 = (n: number): string => String(n).padStart(2, '0');
const files = (dir: string, prefix: string, from: number, to: number): Entry[] => {
  const out: Entry[] = [];
  for (let i = from; i <= to; i++) out.push({ path: `${dir}/${prefix}${pad2(i)}`, type: 'file', data: `${prefix}${pad2(i)}\n` });
  return out;
};

/** The image the probe runs in. `probeWasm` becomes /probe.wasm, the entrypoint. */
export function probeImageSpec(probeWasm: Uint8Array): ImageSpec {
  const base: Entry[] = [
    { path: 's', type: 'dir' }, // scratch parent: each section creates /s/<section>
    // overlay, open, filestat: plain files, one of them 0600
    { path: 'etc', type: 'dir' },
    { path: 'etc/passwd', type: 'file', data: 'root:x:0:0:root:/root:/bin/sh\n' },
    { path: 'etc/hostname', type: 'file', data: 'wasmbox\n' },
    { path: 'etc/secret', type: 'file', data: 'top secret\n', mode: 0o600 },
    { path: 'etc/motd', type: 'file', data: 'base motd\n' }, // replaced by layer 1
    { path: 'etc/removed', type: 'file', data: 'whited out by layer 2\n' },
    { path: 'etc/gone/child', type: 'file', data: 'gone\n' }, // the whole dir is whited out by layer 2
    // symlink section: reads only
    { path: 'data/hello.txt', type: 'file', data: 'hello, world\n' },
    // readdir section: 30 files here, more in layer 1, whiteouts in layers 1 and 2
    ...files('data/many', 'f', 0, 29),
    // link section: a hard-link pair inside one lower layer, and a file to link to
    { path: 'data/links/orig', type: 'file', data: 'linked data\n' },
    { path: 'data/links/hard', type: 'hardlink', target: 'data/links/orig' },
    { path: 'data/linkme.txt', type: 'file', data: 'link me\n' },
    // big section
    { path: 'data/big.bin', type: 'file', data: bigData() },
    // symlink section: a nested tree reached through links
    { path: 'a/b/c/d/file.txt', type: 'file', data: 'deep\n' },
    { path: 'lnk/rel', type: 'symlink', target: '../data/hello.txt' },
    { path: 'lnk/abs', type: 'symlink', target: '/data/hello.txt' },
    { path: 'lnk/chain1', type: 'symlink', target: 'chain2' },
    { path: 'lnk/chain2', type: 'symlink', target: './chain3' },
    { path: 'lnk/chain3', type: 'symlink', target: '/etc/hostname' },
    { path: 'lnk/loop1', type: 'symlink', target: 'loop2' },
    { path: 'lnk/loop2', type: 'symlink', target: 'loop1' },
    { path: 'lnk/dangling', type: 'symlink', target: 'nowhere' },
    { path: 'lnk/dirlink', type: 'symlink', target: '../a/b' },
    { path: 'lnk/absdir', type: 'symlink', target: '/a/b' },
    { path: 'lnk/up', type: 'symlink', target: '../../../../etc/hostname' }, // climbs past the root
    // overlay section: hidden by the opaque /opq of layer 2
    { path: 'opq/old1', type: 'file', data: 'old1\n' },
    { path: 'opq/old2', type: 'file', data: 'old2\n' },
    { path: 'opq/sub/deep', type: 'file', data: 'deep\n' },
    // overlay section: lower files and dirs it writes, removes and renames
    { path: 'ovl/cow.txt', type: 'file', data: 'lower content\n' },
    { path: 'ovl/unlinkme', type: 'file', data: 'unlink me\n' },
    { path: 'ovl/emptydir', type: 'dir' },
    { path: 'ovl/fulldir/f1', type: 'file', data: 'f1\n' },
    { path: 'ovl/fulldir/f2', type: 'file', data: 'f2\n' },
    { path: 'ovl/mvsrc', type: 'file', data: 'move me\n' },
    { path: 'ovl/mvdir/inner', type: 'file', data: 'inner\n' },
    { path: 'ovl/hl1', type: 'file', data: 'pair\n' },
    { path: 'ovl/hl2', type: 'hardlink', target: 'ovl/hl1' },
    { path: 'ovl/nest/x/y/deep.txt', type: 'file', data: 'nested lower\n' },
    { path: 'ovl/nest/x/y/sib.txt', type: 'file', data: 'sibling\n' },
    { path: 'ovl/times.txt', type: 'file', data: 'times\n' },
    { path: 'ovl/trunc.txt', type: 'file', data: '0123456789\n' },
    // readdir section: a merged directory listed while it changes
    ...files('ovl/conc', 'c', 0, 19),
  ];
  const middle: Entry[] = [
    { path: 'etc/motd', type: 'file', data: 'layer1 motd\n' },
    { path: 'data/mid.txt', type: 'file', data: 'from the middle layer\n' },
    ...files('data/many', 'f', 30, 34),
    { path: 'data/many/f05', type: 'whiteout' }, // re-created by layer 2
    { path: 'opq/mid1', type: 'file', data: 'mid1\n' }, // hidden by layer 2's opaque /opq too
    ...files('ovl/conc', 'c', 20, 24),
    { path: 'lnk/mid', type: 'symlink', target: '../data/mid.txt' },
  ];
  const top: Entry[] = [
    { path: 'etc/removed', type: 'whiteout' },
    { path: 'etc/gone', type: 'whiteout' },
    { path: 'opq', type: 'opaque' },
    { path: 'opq/new', type: 'file', data: 'new\n' },
    { path: 'data/many/f05', type: 'file', data: 'f05 again\n' },
    { path: 'data/many/f07', type: 'whiteout' },
    { path: 'probe.wasm', type: 'file', data: probeWasm, mode: 0o755 },
  ];
  return { layers: [base, middle, top], entrypoint: ['/probe.wasm'] };
}

/** The probe's sections, in the order a full run prints them (guests/probe.c SECTIONS). */
export const PROBE_SECTIONS = [
  'prestat',
  'open',
  'rw',
  'fdstat',
  'filestat',
  'dirs',
  'readdir',
  'rename',
  'symlink',
  'link',
  'misc',
  'overlay',
  'big',
  'fault',
] as const;

/** The exit code the probe returns after its last line (`exit 7`). */
export const PROBE_EXIT = 7;

/**
 * Splits probe stdout into its sections: name -> the lines after `## name` (header excluded), in
 * order. Lines before the first header go under ''. The final `exit N` line is not in any section.
 */
export function probeSections(stdout: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let cur: string[] = [];
  out.set('', cur);
  for (const line of stdout.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('## ')) out.set(line.slice(3), (cur = []));
    else if (/^exit \d+$/.test(line)) cur = [];
    else cur.push(line);
  }
  if (out.get('')!.length === 0) out.delete('');
  return out;
}

/**
 * The merged tree of `spec` as one layer (whiteouts and opaque dirs applied), for formats that hold
 * a single layer (a plain rootfs tar). A guest sees the same tree in both. A hard link whose target
 * a later layer replaced becomes a copy of the data it linked to, as overlayfs shows it.
 */
export function flattenSpec(spec: ImageSpec): ImageSpec {
  const tree = new Map<string, Entry>(); // insertion order keeps parents before children
  const linkedTo = new Map<Entry, Entry>(); // hardlink entry -> the file entry it named
  let added = new Set<string>();
  const drop = (p: string, self: boolean, lowerOnly = false): void => {
    for (const k of [...tree.keys()]) {
      if (!((self && k === p) || k.startsWith(p + '/'))) continue;
      if (!lowerOnly || !added.has(k)) tree.delete(k);
    }
  };
  for (const layer of spec.layers) {
    added = new Set();
    for (const e of layer) {
      const parts = e.path.split('/');
      for (let i = 1; i < parts.length; i++) {
        const parent = parts.slice(0, i).join('/');
        const cur = tree.get(parent);
        if (cur?.type !== 'dir') {
          drop(parent, true);
          tree.set(parent, { path: parent, type: 'dir' });
        }
        added.add(parent);
      }
      if (e.type === 'whiteout') {
        drop(e.path, true);
        continue;
      }
      let ne: Entry = e;
      if (e.type === 'opaque') {
        drop(e.path, false, true);
        ne = { path: e.path, type: 'dir', mode: e.mode, mtime: e.mtime };
      }
      if (e.type === 'hardlink') {
        const t = tree.get(e.target);
        if (t?.type !== 'file') throw new Error(`flattenSpec: hardlink ${e.path} -> ${e.target} is not a file`);
        linkedTo.set(e, t);
      }
      // A dir over a dir keeps the children and its place (Map.set keeps the position), taking the
      // new attributes; anything else replaces the old entry and its subtree.
      if (ne.type !== 'dir' || tree.get(e.path)?.type !== 'dir') drop(e.path, true);
      tree.set(e.path, ne);
      added.add(e.path);
    }
  }
  const out: Entry[] = [];
  for (const e of tree.values()) {
    if (e.type === 'hardlink') {
      const t = linkedTo.get(e)!;
      if (tree.get(e.target) === t) out.push(e);
      else out.push({ ...t, path: e.path });
    } else out.push(e);
  }
  // A hardlink must follow its target: move any link that precedes it.
  const pos = new Map(out.map((e, i) => [e.path, i]));
  const links = out.filter((e) => e.type === 'hardlink' && pos.get(e.target)! > pos.get(e.path)!);
  const ordered = out.filter((e) => !links.includes(e)).concat(links);
  return { ...spec, layers: [ordered] };
}
