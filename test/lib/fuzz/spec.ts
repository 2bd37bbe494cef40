// Fuzz cases: a lower tree (layers in a compact, JSON-friendly form of the layer specs of
// test/lib/layers.ts) and an op script for guests/fsops.c, plus the batching of many cases into one
// image. Owns the case format that test/fixtures/fuzz/*.json store and the data pattern shared with
// the guest. Not the generator (gen.ts) nor the runs (run.ts).
//
// A case's paths are relative to its own directory: in a batch, case k lives under /<dir>/ (its
// `seed DIR` line makes the guest resolve the script's paths there), so many cases share one image,
// one mount and one guest process without touching each other.
import type { Entry, Layers } from '../layers';

/** One lower-tree entry. Files carry a size and a data pattern instead of bytes. */
export type FEntry =
  | { path: string; type: 'file'; size: number; pat: number }
  | { path: string; type: 'dir' }
  | { path: string; type: 'symlink'; target: string }
  | { path: string; type: 'hardlink'; target: string }
  | { path: string; type: 'whiteout' }
  | { path: string; type: 'opaque' };

/** Bottom layer first. */
export type FLayers = FEntry[][];

export interface FuzzCase {
  /** A label: "seed 1234", or a fixture's name. */
  name: string;
  layers: FLayers;
  /** Script lines (guests/fsops.c format) with paths relative to the case's directory. */
  ops: string[];
  /** Extra host/run.js options the case runs with (e.g. --debug-kernel); a batch shares them. */
  sandboxArgs?: string[];
}

/** The key of a case's sandbox options, for grouping cases into batches. */
export const argsKey = (c: FuzzCase): string => (c.sandboxArgs ?? []).join(' ');

/**
 * Runs `fn` once per group of cases with the same sandbox options and returns its answers in the
 * order of `cases`.
 */
export function perArgsGroup<T>(cases: FuzzCase[], fn: (group: FuzzCase[]) => T[]): T[] {
  const out: T[] = new Array(cases.length);
  const keys = [...new Set(cases.map(argsKey))];
  for (const key of keys) {
    const idx = cases.map((c, i) => (argsKey(c) === key ? i : -1)).filter((i) => i >= 0);
    fn(idx.map((i) => cases[i])).forEach((r, j) => (out[idx[j]] = r));
  }
  return out;
}

/** Byte i of pattern `pat`; guests/fsops.c pat_byte() computes the same. */
export function patByte(pat: number, i: number): number {
  return (pat * 131 + i * 7 + Math.floor(i / 512) * 13) & 0xff;
}

export function patData(pat: number, size: number): Uint8Array {
  const b = new Uint8Array(size);
  for (let i = 0; i < size; i++) b[i] = patByte(pat, i);
  return b;
}

/** The layer-spec entries of `layers`, under directory `dir` ('' for the root). */
export function toLayers(layers: FLayers, dir: string): Layers {
  const pre = dir ? `${dir}/` : '';
  return layers.map((layer) =>
    layer.map((e): Entry => {
      const path = pre + e.path;
      switch (e.type) {
        case 'file':
          return { path, type: 'file', data: patData(e.pat, e.size) };
        case 'hardlink':
          return { path, type: 'hardlink', target: pre + e.target };
        case 'symlink':
          return { path, type: 'symlink', target: e.target };
        default:
          return { path, type: e.type };
      }
    }),
  );
}

/** The directory of the k-th case of a batch. */
export const caseDir = (k: number): string => `s${k}`;

/**
 * One image's layers holding every case under its own directory (caseDir(k)), plus `extra` entries
 * (the guest) in the bottom layer.
 */
export function batchLayers(cases: FuzzCase[], extra: Entry[] = []): Layers {
  const depth = Math.max(1, ...cases.map((c) => c.layers.length));
  const out: Layers = Array.from({ length: depth }, () => []);
  out[0].push(...extra);
  cases.forEach((c, k) => {
    const dir = caseDir(k);
    out[0].push({ path: dir, type: 'dir' });
    toLayers(c.layers, dir).forEach((l, i) => out[i].push(...l));
  });
  return out;
}

/** The script of a batch: each case's ops under `seed PREFIX DIR`, then `dump /`. */
export function batchScript(cases: FuzzCase[], withDump = true, prefix = ''): string {
  const lines: string[] = [];
  cases.forEach((c, k) => {
    lines.push(`seed ${prefix}${caseDir(k)}`, ...c.ops);
    if (withDump) lines.push('dump /');
  });
  return lines.join('\n') + '\n';
}

/** Splits guest stdout into the lines of each case ("## DIR" headers), indexed like the batch. */
export function splitOutput(stdout: string, count: number): Array<string[] | undefined> {
  const out: Array<string[] | undefined> = new Array(count).fill(undefined);
  let cur: string[] | undefined;
  for (const line of stdout.split('\n')) {
    const m = /^## (?:[^ ]*\/)?s(\d+)$/.exec(line);
    if (m) {
      const k = Number(m[1]);
      cur = k < count ? (out[k] = []) : undefined;
    } else if (line !== '' && cur) cur.push(line);
  }
  return out;
}

/** The case as a readable layer listing (for reports). */
export function describeLayers(layers: FLayers): string {
  const out: string[] = [];
  layers.forEach((l, i) => {
    out.push(`layer ${i}:`);
    for (const e of l) {
      if (e.type === 'file') out.push(`  ${e.path}  file size=${e.size} pat=${e.pat}`);
      else if (e.type === 'symlink' || e.type === 'hardlink') out.push(`  ${e.path}  ${e.type} -> ${e.target}`);
      else out.push(`  ${e.path}  ${e.type}`);
    }
  });
  return out.join('\n');
}
