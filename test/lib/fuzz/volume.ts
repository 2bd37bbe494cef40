// The differential fuzzer on host directories (issue 15): the same cases as the overlay fuzzer
// (gen.ts), run on a plain host directory holding each case's merged lower tree, and compared with
// node:wasi given a copy of that directory:
//   - sandbox, `-v`:   node host/run.js -v A/m:/m IMAGE /fsops.wasm      (a bind mount)
//   - sandbox, `none`: node host/run.js --overlay2 none --rootfs A /fsops.wasm   (the exclusive root)
//   (half the batches with --gofer worker and 4 held node descriptors: file data through the kernel
//   and the channel, not Seg.Host, and nodes opened again by name)
//   - reference:       node:wasi with B preopened as /, B/m a copy of A/m
// Both see the cases at m/s<k>. Every op's result is compared, and afterwards the two host trees
// themselves (type, mode, size, data, link target and link count of every object), case by case.
// The trees are made by copying a real overlayfs mount of the case layers (overlayfs.ts), so
// whiteouts and opaque directories come out as Linux merges them.
// Owns the host-directory runs and the tree comparison; generation, batching and shrinking are the
// overlay fuzzer's (gen.ts, spec.ts, shrink.ts).
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { tempDir } from '../images';
import { runNodeWasi } from '../nodewasi';
import { mountOverlay } from '../overlayfs';
import { generateCase } from './gen';
import { buildBatchImage, compareLines, FSOPS_WASM, FUZZ_MOUNT_OPTIONS, imageLayers, removeImage, runSandboxSide, type CaseDiff, type SideRun } from './run';
import { shrink } from './shrink';
import { batchLayers, batchScript, caseDir, splitOutput, type FuzzCase } from './spec';

/** Where the sandbox sees the host directory. */
export type VolumeWhere = '-v' | 'none';
export const WHERES: VolumeWhere[] = ['-v', 'none'];

/** The directory the cases live under, in both roots. */
const MOUNT = 'm';

/**
 * Copies the tree below `from` to `to` with its modes, symlinks and hard links (times are not
 * compared). An entry the mount lists but cannot stat (a shrunk case can leave a dangling lower
 * hard link) is left out, of both copies alike.
 */
function copyTree(from: string, to: string): void {
  const links = new Map<string, string>(); // dev:ino -> first copy
  const walk = (src: string, dst: string) => {
    fs.mkdirSync(dst);
    for (const name of fs.readdirSync(src)) {
      const s = path.join(src, name);
      const d = path.join(dst, name);
      let st: fs.Stats;
      try {
        st = fs.lstatSync(s);
      } catch {
        continue;
      }
      if (st.isDirectory()) {
        walk(s, d);
        fs.chmodSync(d, st.mode & 0o7777);
      } else if (st.isSymbolicLink()) {
        fs.symlinkSync(fs.readlinkSync(s), d);
      } else if (st.isFile()) {
        const key = `${st.dev}:${st.ino}`;
        const first = st.nlink > 1 ? links.get(key) : undefined;
        if (first) fs.linkSync(first, d);
        else {
          fs.copyFileSync(s, d);
          fs.chmodSync(d, st.mode & 0o7777);
          if (st.nlink > 1) links.set(key, d);
        }
      }
    }
  };
  walk(from, to);
}

/** Roots holding /fsops.wasm and m/ = the merged trees of `cases` (copied from an overlay mount). */
function makeRoots(cases: FuzzCase[], count: number): string[] {
  const m = mountOverlay(batchLayers(cases), { options: FUZZ_MOUNT_OPTIONS });
  try {
    return Array.from({ length: count }, () => {
      const root = tempDir('vfuzz');
      copyTree(m.root, path.join(root, MOUNT));
      fs.copyFileSync(FSOPS_WASM, path.join(root, 'fsops.wasm'));
      return root;
    });
  } finally {
    m.cleanup();
  }
}

/**
 * The tree below `dir` as lines "path type mode nlink size data", sorted; data is a hash for files
 * and the target for symlinks. Times and inode numbers are left out (they differ by nature).
 */
export function hostTree(dir: string): string[] {
  const out: string[] = [];
  // a case can remove, rename or replace its own directory
  const top = fs.lstatSync(dir, { throwIfNoEntry: false });
  if (!top) return ['(nothing)'];
  if (!top.isDirectory()) return [`(not a directory: size ${top.size})`];
  const walk = (rel: string) => {
    const names = fs.readdirSync(path.join(dir, rel)).sort();
    for (const name of names) {
      const r = rel ? `${rel}/${name}` : name;
      const p = path.join(dir, r);
      const st = fs.lstatSync(p);
      const mode = (st.mode & 0o7777).toString(8);
      if (st.isDirectory()) {
        out.push(`${r} d ${mode}`);
        walk(r);
      } else if (st.isSymbolicLink()) {
        out.push(`${r} l ${fs.readlinkSync(p)}`);
      } else if (st.isFile()) {
        const h = crypto.createHash('sha1').update(fs.readFileSync(p)).digest('hex').slice(0, 12);
        out.push(`${r} f ${mode} nlink=${st.nlink} size=${st.size} ${h}`);
      } else {
        out.push(`${r} ? ${mode}`);
      }
    }
  };
  walk('');
  return out;
}

export interface VolumeBatch {
  sandbox: SideRun;
  reference: SideRun;
  ours: Array<string[] | undefined>;
  ref: Array<string[] | undefined>;
  /** Per case: the first difference of the outputs, else of the final host trees ('host-tree'). */
  diffs: Array<CaseDiff | null>;
}

/**
 * Runs `cases` as one batch in the sandbox (`where`) and under node:wasi, and compares them.
 * sandboxArgs: run.js's options, and NAME=value words for its environment.
 */
export function runVolumeBatch(cases: FuzzCase[], where: VolumeWhere, words: string[] = []): VolumeBatch {
  const env = Object.fromEntries(words.filter((w) => /^[A-Z_]+=/.test(w)).map((w) => [w.slice(0, w.indexOf('=')), w.slice(w.indexOf('=') + 1)]));
  const sandboxArgs = words.filter((w) => !/^[A-Z_]+=/.test(w));
  const [ours, theirs] = makeRoots(cases, 2);
  const script = batchScript(cases, true, `${MOUNT}/`);
  let image: string | null = null;
  try {
    let sandbox: SideRun;
    if (where === '-v') {
      image = buildBatchImage(imageLayers([]));
      sandbox = runSandboxSide(image, script, { sandboxArgs: [...sandboxArgs, '-v', `${path.join(ours, MOUNT)}:/${MOUNT}`], env });
    } else {
      sandbox = runSandboxSide(null, script, { sandboxArgs: [...sandboxArgs, '--overlay2', 'none', '--rootfs', ours], env });
    }
    const t0 = Date.now();
    const r = runNodeWasi(FSOPS_WASM, [], theirs, { stdin: script, timeoutMs: 300_000 });
    const m = /fsops: ops (\d+) op_ns (\d+) dump_ns (\d+)/.exec(r.stderr ?? '');
    const reference: SideRun = {
      stdout: r.stdout ?? '',
      stderr: r.stderr ?? '',
      status: r.status,
      ops: m ? Number(m[1]) : 0,
      opNs: m ? Number(m[2]) : 0,
      dumpNs: m ? Number(m[3]) : 0,
      wallMs: Date.now() - t0,
    };
    if (reference.status !== 0) throw new Error(`fsops failed under node:wasi (status ${reference.status}): ${reference.stderr}`);
    const o = splitOutput(sandbox.stdout, cases.length);
    const f = splitOutput(reference.stdout, cases.length);
    const diffs = cases.map((_, k): CaseDiff | null => {
      const d = compareLines(o[k], f[k]);
      if (d) return d;
      const a = hostTree(path.join(ours, MOUNT, caseDir(k)));
      const b = hostTree(path.join(theirs, MOUNT, caseDir(k)));
      const i = a.findIndex((l, j) => l !== b[j]);
      if (i < 0 && a.length === b.length) return null;
      const at = i < 0 ? Math.min(a.length, b.length) : i;
      return { line: at, ours: a[at] ?? '(nothing)', ref: b[at] ?? '(nothing)', kind: 'host-tree' };
    });
    return { sandbox, reference, ours: o, ref: f, diffs };
  } finally {
    if (image) removeImage(image);
    for (const d of [ours, theirs]) fs.rmSync(d, { recursive: true, force: true });
  }
}

export interface VolumeFailure {
  seed: number;
  where: VolumeWhere;
  sandboxArgs: string[];
  case: FuzzCase;
  diff: CaseDiff;
}

/** Seeds `start`.. in batches, alternating where the host directory is seen from. */
export function fuzzVolumes(o: { start: number; count: number; ops: number; batch?: number; wheres?: VolumeWhere[]; log?: (m: string) => void }): { seeds: number; failures: VolumeFailure[]; sandboxOpNs: number; referenceOpNs: number; ops: number } {
  const batch = o.batch ?? 100;
  const res = { seeds: 0, failures: [] as VolumeFailure[], sandboxOpNs: 0, referenceOpNs: 0, ops: 0 };
  for (let b = o.start, i = 0; b < o.start + o.count; b += batch, i++) {
    const wheres = o.wheres ?? WHERES;
    const where = wheres[i % wheres.length];
    // every other pair of batches with the gofer in a worker (no Seg.Host transfers: the data
    // through the kernel's buffer and the channel instead) and held to 4 node descriptors (so that
    // nodes give theirs back and open again by name all the time; see gofer/hostdirect.ts)
    const sandboxArgs = Math.floor(i / wheres.length) % 2 === 1 ? ['--gofer', 'worker', 'WASMBOX_HELD_NODES=4'] : [];
    const seeds = Array.from({ length: Math.min(batch, o.start + o.count - b) }, (_, j) => b + j);
    const cases = seeds.map((s) => generateCase(s, o.ops));
    const r = runVolumeBatch(cases, where, sandboxArgs);
    res.seeds += cases.length;
    res.ops += r.sandbox.ops;
    res.sandboxOpNs += r.sandbox.opNs;
    res.referenceOpNs += r.reference.opNs;
    let failed = 0;
    r.diffs.forEach((d, k) => {
      if (!d) return;
      failed++;
      res.failures.push({ seed: seeds[k], where, sandboxArgs, case: cases[k], diff: d });
    });
    o.log?.(`seeds ${seeds[0]}..${seeds[seeds.length - 1]} (${[where, ...sandboxArgs].join(' ')}): ${failed} differ${r.sandbox.status !== 0 ? `; the sandbox exited ${r.sandbox.status}: ${r.sandbox.stderr.trim().split('\n').pop()}` : ''}`);
  }
  return res;
}

/** Shrinks a failing case (same kind of first difference) and returns it with both outputs. */
export function minimiseVolume(c: FuzzCase, where: VolumeWhere, kind: string, sandboxArgs: string[] = []): { minimal: FuzzCase; ours?: string[]; ref?: string[]; diff: CaseDiff | null } {
  const { minimal } = shrink(c, kind, () => {}, (cands) => runVolumeBatch(cands, where, sandboxArgs).diffs.map((d) => d?.kind === kind));
  const r = runVolumeBatch([minimal], where, sandboxArgs);
  return { minimal, ours: r.ours[0], ref: r.ref[0], diff: r.diffs[0] };
}
