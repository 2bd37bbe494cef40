// The fuzzer's driver, shared by test/e2e/fuzz.test.ts, fuzz-regressions.test.ts and
// scripts/fuzz.mjs: runs seeds in batches, checks the exported upper layer, shrinks failures and
// stores them as regression fixtures (test/fixtures/fuzz/*.json). Owns the fixture format.
import fs from 'node:fs';
import path from 'node:path';
import { tempDir } from '../images';
import { ROOT } from '../sandbox';
import { generateCase } from './gen';
import {
  buildBatchImage,
  compareLines,
  imageLayers,
  nativeFsops,
  removeImage,
  runBatch,
  runNativeSide,
  runSandboxSide,
  type CaseDiff,
} from './run';
import { differsWith, shrink, type Predicate } from './shrink';
import { argsKey, batchScript, caseDir, describeLayers, perArgsGroup, splitOutput, type FLayers, type FuzzCase } from './spec';

export const FIXTURE_DIR = path.join(ROOT, 'test', 'fixtures', 'fuzz');

// ---------------------------------------------------------------------------------------------
// Fixtures

/** A stored minimal reproduction (test/fixtures/fuzz/NAME.json). */
export interface Fixture {
  name: string;
  /** What the bug is, in words (written by whoever triaged it). */
  about?: string;
  /** Where it was found ("seed 1234, 60 ops"). */
  found?: string;
  /**
   * The kind of failure: for a difference from the reference, the op of the first differing line
   * ('dump', 'crash'); for the export check, 'export-error' (--export-upper failed) or
   * 'export-mismatch' (the image plus the exported upper shows another tree than the run ended with).
   */
  kind: string;
  layers: FLayers;
  ops: string[];
  /** Extra host/run.js options the case needs (e.g. ["--debug-kernel"]). */
  sandboxArgs?: string[];
  /**
   * Outputs: the sandbox's when the bug was found (it stays as evidence), node:wasi's on the overlay
   * mount and Linux's natively (rewritten by `scripts/fuzz.mjs --replay DIR --refresh` when the
   * fsops output format changes; the regression test compares with `reference` when not root).
   */
  sandbox?: string[];
  reference?: string[];
  native?: string[];
  /** Export-check kinds: what the check said when the fixture was stored. */
  export?: string;
}

export function loadFixtures(dir = FIXTURE_DIR): Fixture[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => ({ ...(JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as Fixture), name: f.replace(/\.json$/, '') }));
}

/** Compact JSON: one line per layer entry and per op, so that fixtures read and diff well. */
export function fixtureJson(f: Fixture): string {
  const lines: string[] = ['{'];
  const field = (k: string, v: unknown, last = false) => lines.push(`  ${JSON.stringify(k)}: ${v}${last ? '' : ','}`);
  const list = (items: unknown[], indent: string) =>
    items.length === 0 ? '[]' : `[\n${items.map((x) => `${indent}  ${JSON.stringify(x)}`).join(',\n')}\n${indent}]`;
  field('name', JSON.stringify(f.name));
  if (f.about) field('about', JSON.stringify(f.about));
  if (f.found) field('found', JSON.stringify(f.found));
  field('kind', JSON.stringify(f.kind));
  if (f.sandboxArgs?.length) field('sandboxArgs', JSON.stringify(f.sandboxArgs));
  field('layers', f.layers.length === 0 ? '[]' : `[\n${f.layers.map((l) => `    ${list(l, '    ')}`).join(',\n')}\n  ]`);
  const rest = (['sandbox', 'reference', 'native'] as const).filter((k) => f[k]);
  field('ops', list(f.ops, '  '), rest.length === 0 && !f.export);
  rest.forEach((k, i) => field(k, list(f[k]!, '  '), i === rest.length - 1 && !f.export));
  if (f.export) field('export', JSON.stringify(f.export), true);
  lines.push('}');
  return lines.join('\n') + '\n';
}

export function saveFixture(f: Fixture, dir = FIXTURE_DIR): string {
  fs.mkdirSync(dir, { recursive: true });
  let file = path.join(dir, `${f.name}.json`);
  for (let i = 2; fs.existsSync(file); i++) file = path.join(dir, `${f.name}-${i}.json`);
  fs.writeFileSync(file, fixtureJson({ ...f, name: path.basename(file, '.json') }));
  return file;
}

/** The result part of an output line ("rename a b -> EINVAL" -> "EINVAL"). */
const resultOf = (l: string | undefined): string => (l === undefined ? '(nothing)' : l.includes(' -> ') ? l.slice(l.indexOf(' -> ') + 4) : l);

/**
 * A short signature of a difference, for grouping failures that are probably one bug:
 * "rename: sandbox ENOTDIR, reference EINVAL". Dump differences group by kind only.
 */
export function signature(d: CaseDiff): string {
  if (d.kind === 'dump' || d.kind === 'crash' || d.kind === 'missing') return d.kind;
  return `${d.kind}: sandbox ${resultOf(d.ours).split(' ')[0]}, reference ${resultOf(d.ref).split(' ')[0]}`;
}

// ---------------------------------------------------------------------------------------------
// Export check

let exportSupport: string | null | undefined;
/**
 * Whether `node host/run.js --export-upper FILE` is accepted: null when it is, else why not (a tiny
 * run with an empty script decides, once per process).
 */
export function exportUnsupported(): string | null {
  if (exportSupport !== undefined) return exportSupport;
  const dir = tempDir('export-probe');
  const image = buildBatchImage(imageLayers([]));
  const out = path.join(dir, 'upper.tar');
  const r = runSandboxSide(image, '', { exportUpper: out });
  removeImage(image);
  const ok = r.status === 0 && fs.existsSync(out);
  fs.rmSync(dir, { recursive: true, force: true });
  if (ok) return (exportSupport = null);
  const why = r.stderr.trim().split('\n')[0] || `exit status ${r.status}`;
  return (exportSupport = `--export-upper is not accepted yet (${why})`);
}

export const isExportKind = (kind: string): boolean => kind === 'export-error' || kind === 'export-mismatch';

/** The signature of an export-check failure: its kind, and for errors the message. */
export const exportSignature = (kind: string, detail: string | undefined): string =>
  kind === 'export-error' ? `${kind}: ${(detail ?? '').replace(/^exit \d+: /, '')}` : kind;

/** An export-check failure of one case. */
export interface ExportProblem {
  kind: 'export-error' | 'export-mismatch';
  /** The error message, or the two dumps. */
  detail: string;
  run?: string[];
  exported?: string[];
}

/**
 * The export check of a batch whose run exported `upperTar`: the image's layers plus the exported
 * upper as a top layer must show exactly the trees the run's final dumps showed. Returns a problem
 * per case (null where the trees match).
 */
export function checkExport(cases: FuzzCase[], ours: Array<string[] | undefined>, upperTar: Uint8Array): Array<ExportProblem | null> {
  const image = buildBatchImage(imageLayers(cases), [upperTar]);
  const script = cases.map((_, k) => `seed ${caseDir(k)}\ndump /`).join('\n') + '\n';
  const r = runSandboxSide(image, script, { sandboxArgs: cases[0]?.sandboxArgs });
  removeImage(image);
  const got = splitOutput(r.stdout, cases.length);
  return cases.map((_, k) => {
    const run = finalDump(ours[k]);
    if (!run) return null;
    const exported = got[k] ?? [`(no output; exit ${r.status}: ${r.stderr.trim().split('\n').pop()})`];
    if (JSON.stringify(run) === JSON.stringify(exported)) return null;
    return {
      kind: 'export-mismatch',
      detail: `final dump of the run:\n${run.join('\n')}\ndump of the image plus the exported upper:\n${exported.join('\n')}`,
      run,
      exported,
    };
  });
}

/**
 * Runs `cases` in the sandbox with --export-upper and checks the export; a batch whose export fails
 * is split until the failing cases are found. One answer per case. With `firstOnly`, the search
 * stops at the first failing case (a handful of runs instead of one per failing case); the cases
 * after it are then answered null, unchecked.
 */
export function exportProblems(cases: FuzzCase[], firstOnly = false): Array<ExportProblem | null> {
  if (cases.length === 0) return [];
  if (cases.some((c) => argsKey(c) !== argsKey(cases[0]))) return perArgsGroup(cases, (g) => exportProblems(g, firstOnly));
  const dir = tempDir('upper');
  const upper = path.join(dir, 'upper.tar');
  const image = buildBatchImage(imageLayers(cases));
  const r = runSandboxSide(image, batchScript(cases), { exportUpper: upper, sandboxArgs: cases[0].sandboxArgs });
  removeImage(image);
  try {
    if (r.status === 0 && fs.existsSync(upper)) return checkExport(cases, splitOutput(r.stdout, cases.length), fs.readFileSync(upper));
    if (cases.length === 1) {
      const msg = r.stderr
        .trim()
        .split('\n')
        .filter((l) => !/^fsops: ops /.test(l))
        .slice(-3)
        .join(' | ')
        .replace(/--export-upper [^\s]+?(?=:\s|\s|$)/g, '--export-upper FILE');
      return [{ kind: 'export-error', detail: `exit ${r.status}: ${msg}` }];
    }
    const half = Math.ceil(cases.length / 2);
    const left = exportProblems(cases.slice(0, half), firstOnly);
    if (firstOnly && left.some((p) => p)) return [...left, ...new Array(cases.length - half).fill(null)];
    return [...left, ...exportProblems(cases.slice(half), firstOnly)];
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Candidates whose export check still fails with `kind` (for shrink()). */
export const exportFailsWith =
  (kind: string): Predicate =>
  (cands) =>
    exportProblems(cands).map((p) => p?.kind === kind);

/** The lines of a case's last `dump /` (its header line included), or undefined. */
function finalDump(lines: string[] | undefined): string[] | undefined {
  if (!lines) return undefined;
  let i = lines.length - 1;
  while (i >= 0 && lines[i].startsWith('= ')) i--;
  if (i < 0 || !lines[i].startsWith('dump / -> ')) return undefined;
  return lines.slice(i);
}

// ---------------------------------------------------------------------------------------------
// Runs

export interface FuzzOptions {
  start: number;
  count: number;
  ops: number;
  /** Cases per batch (one image, one mount, one process per side). */
  batch?: number;
  /** Check --export-upper when the sandbox accepts it. */
  checkExport?: boolean;
  /**
   * Sandbox variants: batch k runs with variants[k % n] as extra host/run.js options (default one
   * variant, no options). For example [[], ['--debug-kernel', '--gofer', 'worker']]: the debug
   * kernel's assertions and the in-thread file server see half the batches.
   */
  variants?: string[][];
  log?: (msg: string) => void;
}

export interface SeedFailure {
  seed: number;
  case: FuzzCase;
  diff: CaseDiff;
  ours?: string[];
  ref?: string[];
}

export interface FuzzResult {
  seeds: number;
  ops: number;
  failures: SeedFailure[];
  /** Export-check failures. */
  exportFailures: Array<{ seed: number; case: FuzzCase; problem: ExportProblem }>;
  /** Why the export check did not run, or null. */
  exportSkipped: string | null;
  /**
   * Time the ops took inside each side (ns; the guest's clock, setup excluded), and their count. The
   * sandbox's counts only batches of the default variant (release kernel, worker file server).
   */
  sandboxOpNs: number;
  referenceOpNs: number;
  sandboxOps: number;
  referenceOps: number;
  /** Wall time of each side (ms, setup included). */
  sandboxWallMs: number;
  referenceWallMs: number;
}

export function fuzz(o: FuzzOptions): FuzzResult {
  const batch = o.batch ?? 100;
  const log = o.log ?? (() => {});
  const res: FuzzResult = {
    seeds: 0,
    ops: 0,
    failures: [],
    exportFailures: [],
    exportSkipped: o.checkExport === false ? 'not asked for' : null,
    sandboxOpNs: 0,
    referenceOpNs: 0,
    sandboxOps: 0,
    referenceOps: 0,
    sandboxWallMs: 0,
    referenceWallMs: 0,
  };
  if (o.checkExport !== false) res.exportSkipped = exportUnsupported();
  for (let b = o.start; b < o.start + o.count; b += batch) {
    const seeds = Array.from({ length: Math.min(batch, o.start + o.count - b) }, (_, i) => b + i);
    const variants = o.variants?.length ? o.variants : [[]];
    const sandboxArgs = variants[Math.floor((b - o.start) / batch) % variants.length];
    const cases = seeds.map((s) => withArgs(generateCase(s, o.ops), sandboxArgs));
    const layers = imageLayers(cases);
    const image = buildBatchImage(layers);
    const upper = res.exportSkipped === null ? path.join(tempDir('upper'), 'upper.tar') : undefined;
    const r = runBatch(cases, { image, exportUpper: upper });
    res.seeds += cases.length;
    res.ops += cases.reduce((n, c) => n + c.ops.length, 0);
    if (sandboxArgs.length === 0) {
      // Timing: the default sandbox only (the debug kernel is slower on purpose).
      res.sandboxOpNs += r.sandbox.opNs;
      res.sandboxOps += r.sandbox.ops;
    }
    res.referenceOpNs += r.reference.opNs;
    res.referenceOps += r.reference.ops;
    res.sandboxWallMs += r.sandbox.wallMs;
    res.referenceWallMs += r.reference.wallMs;
    let failedHere = 0;
    r.diffs.forEach((d, k) => {
      if (!d) return;
      failedHere++;
      res.failures.push({ seed: seeds[k], case: cases[k], diff: d, ours: r.ours[k], ref: r.ref[k] });
    });
    // A sandbox that died left the later cases unrun: run them again (without the dead one).
    if (r.sandbox.status !== 0 && !r.guestDone) {
      const lastPrinted = r.ours.reduce((acc, x, k) => (x ? k : acc), -1);
      const rerun = seeds.filter((_, k) => k > lastPrinted);
      if (rerun.length) log(`sandbox exited ${r.sandbox.status} in seed ${seeds[Math.max(lastPrinted, 0)]}; rerunning ${rerun.length} later seeds`);
      res.failures = res.failures.filter((f) => !rerun.includes(f.seed));
      res.seeds -= rerun.length;
      res.ops -= rerun.length * o.ops;
      if (rerun.length) {
        const sub = fuzz({ ...o, start: rerun[0], count: rerun.length, log, checkExport: false, variants: [sandboxArgs] });
        merge(res, sub);
      }
    } else if (upper) {
      // The export failed: find the cases it failed for. Or it worked: check the trees.
      // (Only the first case the export fails for is looked for: finding them all costs a run each.)
      const problems = r.sandbox.status === 0 && fs.existsSync(upper) ? checkExport(cases, r.ours, fs.readFileSync(upper)) : exportProblems(cases, true);
      problems.forEach((p, k) => {
        if (p) res.exportFailures.push({ seed: seeds[k], case: cases[k], problem: p });
      });
    }
    removeImage(image);
    if (upper) fs.rmSync(path.dirname(upper), { recursive: true, force: true });
    log(`seeds ${seeds[0]}..${seeds[seeds.length - 1]}${sandboxArgs.length ? ` (${sandboxArgs.join(' ')})` : ''}: ${failedHere} differ`);
  }
  return res;
}

/**
 * The sandbox variants fuzz runs alternate between, batch by batch: the release kernel with the
 * file server in a worker (the default), and the debug kernel (its assertions on) with the file
 * server in the sandbox's thread. Both must print the reference's lines.
 */
export const VARIANTS: string[][] = [[], ['--debug-kernel', '--gofer', 'worker']];

/** The case with extra sandbox options (none: unchanged). */
export function withArgs(c: FuzzCase, sandboxArgs: string[] | undefined): FuzzCase {
  return sandboxArgs?.length ? { ...c, sandboxArgs } : c;
}

function merge(into: FuzzResult, from: FuzzResult): void {
  into.seeds += from.seeds;
  into.ops += from.ops;
  into.failures.push(...from.failures);
  into.exportFailures.push(...from.exportFailures);
  for (const k of ['sandboxOpNs', 'referenceOpNs', 'sandboxOps', 'referenceOps', 'sandboxWallMs', 'referenceWallMs'] as const) into[k] += from[k];
}

// ---------------------------------------------------------------------------------------------
// Reports

/** Shrinks a failing case and returns it as a fixture with every side's output. */
export function minimise(c: FuzzCase, kind: string, found: string, log: (m: string) => void = () => {}): Fixture {
  const { minimal } = shrink(c, kind, log, isExportKind(kind) ? exportFailsWith(kind) : differsWith(kind));
  const r = runBatch([minimal]);
  const fx: Fixture = {
    name: `${kind}-${found.replace(/\W+/g, '-').replace(/^-|-$/g, '')}`,
    found,
    kind,
    layers: minimal.layers,
    ops: minimal.ops,
    ...(minimal.sandboxArgs ? { sandboxArgs: minimal.sandboxArgs } : {}),
    sandbox: r.ours[0],
    reference: r.ref[0],
  };
  if (nativeFsops()) {
    const n = runNativeSide(imageLayers([minimal]), batchScript([minimal]));
    if (n) fx.native = splitOutput(n.stdout, 1)[0];
  }
  if (isExportKind(kind)) fx.export = exportProblems([minimal])[0]?.detail ?? '(passes now)';
  return fx;
}

/**
 * A readable report of a fixture: the script, the lower tree, both outputs side by side from the
 * first difference, and the verdict of the native run when there is one.
 */
export function report(f: Fixture): string {
  const ours = f.sandbox ?? [];
  const ref = f.reference ?? [];
  const d = compareLines(ours, ref);
  const out: string[] = [];
  out.push(`${f.name}${f.found ? ` (found: ${f.found})` : ''}`);
  if (f.sandboxArgs?.length) out.push(`sandbox options: ${f.sandboxArgs.join(' ')}`);
  if (f.about) out.push(`  ${f.about}`);
  out.push('lower tree (paths relative to the case directory):', indent(describeLayers(f.layers)));
  out.push('script:', indent(f.ops.join('\n') || '(no ops)'));
  out.push('sandbox output:', indent(ours.join('\n')));
  out.push('reference output (node:wasi on overlayfs):', indent(ref.join('\n')));
  if (f.export) out.push(`export check (${f.kind}):`, indent(f.export));
  if (d) out.push(`first difference, line ${d.line + 1}:\n  sandbox:   ${d.ours ?? '(nothing)'}\n  reference: ${d.ref ?? '(nothing)'}`);
  if (f.native) {
    const vsOurs = compareLines(ours, f.native);
    const vsRef = compareLines(ref, f.native);
    if (!vsRef && vsOurs) out.push('native Linux agrees with the reference: a sandbox bug');
    else if (!vsOurs && vsRef) out.push(`native Linux agrees with the sandbox: a node:wasi quirk (native line ${vsRef.line + 1}: ${vsRef.ref})`);
    else if (vsOurs && vsRef) out.push(`native Linux differs from both (line ${vsRef.line + 1}: ${vsRef.ref})`);
  }
  return out.join('\n');
}

const indent = (s: string): string =>
  s
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n');

