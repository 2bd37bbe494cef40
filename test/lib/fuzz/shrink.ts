// Shrinking a failing fuzz case to a minimal reproduction: delta debugging (ddmin) of the op
// script, then of the lower tree (entries and whole layers), then the script again. Every round's
// candidates run together as one batch (each in its own case directory), so a round costs one
// sandbox run and one mount, not one per candidate.
//
// A candidate "still fails" when the sandbox and the reference still differ with the same kind of
// first difference (the op of the first differing line, 'dump', or 'crash'), so that shrinking does
// not drift from one bug to another.
import { compareLines, runBatch, type CaseDiff } from './run';
import { perArgsGroup, type FEntry, type FLayers, type FuzzCase } from './spec';

export interface Evaluated {
  diff: CaseDiff | null;
  ours: string[] | undefined;
  ref: string[] | undefined;
}

/**
 * Runs `cases` on both sides and compares each. A sandbox that dies in one case prints nothing for
 * the later ones: those run again in a new batch.
 */
export function evaluate(cases: FuzzCase[]): Evaluated[] {
  return perArgsGroup(cases, evaluateGroup);
}

function evaluateGroup(cases: FuzzCase[]): Evaluated[] {
  const out: Evaluated[] = [];
  let rest = cases;
  while (rest.length) {
    const r = runBatch(rest);
    let done = rest.length;
    if (r.sandbox.status !== 0 && !r.guestDone) {
      // The case the sandbox died in is the last one it printed anything for.
      let last = -1;
      r.ours.forEach((o, k) => {
        if (o) last = k;
      });
      done = Math.max(last + 1, 1);
    }
    for (let k = 0; k < done; k++) {
      let diff = r.diffs[k];
      if (r.sandbox.status !== 0 && !r.guestDone && k === done - 1) {
        diff = compareLines(r.ours[k], r.ref[k]) ?? { line: r.ours[k]?.length ?? 0, ours: undefined, ref: undefined, kind: 'crash' };
        if (diff.ours === undefined) diff = { ...diff, kind: 'crash' };
      }
      out.push({ diff, ours: r.ours[k], ref: r.ref[k] });
    }
    rest = rest.slice(done);
  }
  return out;
}

export interface ShrinkResult {
  minimal: FuzzCase;
  kind: string;
  rounds: number;
  candidates: number;
}

/** Which candidates still fail: one answer per candidate. */
export type Predicate = (cands: FuzzCase[]) => boolean[];

/** Candidates whose sandbox and reference outputs still differ first at an op of kind `kind`. */
export const differsWith =
  (kind: string): Predicate =>
  (cands) =>
    evaluate(cands).map((e) => e.diff !== null && e.diff.kind === kind);

/** Shrinks `c`, which `pred` says fails (by default: differs with a first difference of `kind`). */
export function shrink(c: FuzzCase, kind: string, log: (msg: string) => void = () => {}, pred: Predicate = differsWith(kind)): ShrinkResult {
  let rounds = 0;
  let candidates = 0;
  const fails = (cands: FuzzCase[]): boolean[] => {
    rounds++;
    candidates += cands.length;
    return pred(cands);
  };

  let cur = c;
  for (let pass = 0; pass < 3; pass++) {
    const before = size(cur);
    cur = shrinkOps(cur, fails);
    cur = shrinkLayers(cur, fails);
    cur = simplifyFiles(cur, fails);
    log(`shrink pass ${pass + 1}: ${cur.ops.length} ops, ${cur.layers.flat().length} entries in ${cur.layers.length} layers`);
    if (size(cur) === before) break;
  }
  return { minimal: cur, kind, rounds, candidates };
}

const size = (c: FuzzCase): number => c.ops.length * 1000 + c.layers.flat().length * 10 + c.layers.length;

/** ddmin over the op list. */
function shrinkOps(c: FuzzCase, fails: (cands: FuzzCase[]) => boolean[]): FuzzCase {
  let ops = c.ops;
  let n = 2;
  while (ops.length >= 1) {
    n = Math.min(n, ops.length);
    const chunks: string[][] = [];
    for (let i = 0; i < n; i++) chunks.push(ops.slice(Math.floor((i * ops.length) / n), Math.floor(((i + 1) * ops.length) / n)));
    const subsets = n > 1 ? chunks : [];
    const complements = chunks.map((_, i) => chunks.filter((_, j) => j !== i).flat());
    const cands = [...subsets, ...complements].map((o) => ({ ...c, ops: o }));
    const r = fails(cands);
    const s = subsets.findIndex((_, i) => r[i]);
    if (s >= 0) {
      ops = subsets[s];
      n = 2;
      continue;
    }
    const k = complements.findIndex((_, i) => r[subsets.length + i]);
    if (k >= 0) {
      ops = complements[k];
      n = Math.max(n - 1, 2);
      continue;
    }
    if (n >= ops.length) break;
    n = Math.min(n * 2, ops.length);
  }
  return { ...c, ops };
}

/** The layers without entry `e` (and without the hard links to it, which would have no target). */
function without(layers: FLayers, li: number, ei: number): FLayers {
  const e = layers[li][ei];
  return layers.map((l, i) =>
    i !== li ? l : l.filter((x, j) => j !== ei && !(e.type === 'file' && x.type === 'hardlink' && x.target === e.path)),
  );
}

/** Greedy removal of lower-tree entries and layers, one batch per round. */
function shrinkLayers(c: FuzzCase, fails: (cands: FuzzCase[]) => boolean[]): FuzzCase {
  let layers = c.layers;
  for (;;) {
    const cands: FLayers[] = [];
    if (layers.length > 1) layers.forEach((_, i) => cands.push(layers.filter((_, j) => j !== i)));
    layers.forEach((l, li) => l.forEach((_, ei) => cands.push(without(layers, li, ei))));
    if (cands.length === 0) break;
    const r = fails(cands.map((l) => ({ ...c, layers: nonEmpty(l) })));
    const ok = cands.filter((_, i) => r[i]);
    if (ok.length === 0) break;
    // Try every single removal that worked at once; else take the first.
    if (ok.length > 1) {
      const all = intersect(layers, ok);
      if (all && fails([{ ...c, layers: nonEmpty(all) }])[0]) {
        layers = nonEmpty(all);
        continue;
      }
    }
    layers = nonEmpty(ok[0]);
  }
  return { ...c, layers };
}

/** Layers keep at least one (possibly empty) layer. */
function nonEmpty(layers: FLayers): FLayers {
  return layers.length ? layers : [[]];
}

/** The entries present in every candidate (only when no candidate dropped a layer). */
function intersect(layers: FLayers, cands: FLayers[]): FLayers | null {
  if (cands.some((l) => l.length !== layers.length)) return null;
  return layers.map((l, i) => l.filter((e) => cands.every((c) => c[i].includes(e))));
}

/**
 * Simpler entries, one kind of change per round (one batch each): opaque dirs become plain dirs,
 * then file sizes go to 0, 1 or 100 bytes.
 */
function simplifyFiles(c: FuzzCase, fails: (cands: FuzzCase[]) => boolean[]): FuzzCase {
  let layers = c.layers;
  const steps: Array<(e: FEntry) => FEntry | null> = [
    (e) => (e.type === 'opaque' ? { path: e.path, type: 'dir' } : null),
    ...[0, 1, 100].map((n) => (e: FEntry) => (e.type === 'file' && e.size > n ? { ...e, size: n } : null)),
  ];
  for (const step of steps) {
    const idx: Array<[number, number, FEntry]> = [];
    layers.forEach((l, li) =>
      l.forEach((e, ei) => {
        const s = step(e);
        if (s) idx.push([li, ei, s]);
      }),
    );
    if (idx.length === 0) continue;
    const apply = (which: Array<[number, number, FEntry]>): FLayers =>
      layers.map((l, li) => l.map((e, ei) => which.find(([a, b]) => a === li && b === ei)?.[2] ?? e));
    const cands = idx.map((x) => apply([x]));
    const r = fails(cands.map((l) => ({ ...c, layers: l })));
    // Apply every change that worked alone, then check them together.
    const good = idx.filter((_, i) => r[i]);
    if (good.length === 0) continue;
    const all = apply(good);
    if (good.length > 1 && fails([{ ...c, layers: all }])[0]) layers = all;
    else layers = cands[idx.indexOf(good[0])];
  }
  return { ...c, layers };
}
