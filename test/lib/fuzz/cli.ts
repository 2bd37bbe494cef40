// The long-run fuzzer's command line (scripts/fuzz.mjs bundles and runs this file).
//
//   node scripts/fuzz.mjs [--seeds N] [--start N] [--ops N] [--jobs N] [--batch N] [--no-shrink]
//                         [--no-save] [--no-export] [--tolerate-errno] [--plain]
//   node scripts/fuzz.mjs --replay FILE.json|DIR ... [--refresh]
//                                                    run stored cases and print their reports
//                                                    (--refresh: rewrite their reference outputs)
//   node scripts/fuzz.mjs --show SEED [--ops N]      print one seed's lower tree and script
//
// Runs seeds start .. start+seeds-1 (jobs worker processes, each a contiguous share, batches of
// --batch cases), prints progress, then the totals: seeds and ops run, how many differ, the time per
// 1000 ops in the sandbox and on the real mount (the guest's own clock around its ops, so process
// start, image indexing, mounting and the final dumps are excluded), and the export check. Each
// distinct failure (by signature, see fuzz.ts) is shrunk and, unless --no-save, written to
// test/fixtures/fuzz/; failures that match a stored fixture's signature are counted, not shrunk.
// Batches alternate between the sandbox variants of fuzz.ts VARIANTS (release kernel with the worker
// file server; debug kernel with the in-thread file server); --plain runs the default only.
// --tolerate-errno (exploration) lets a case go on past ops where both sides failed with different
// errnos, to find the behaviour differences behind common errno-order bugs; it stores nothing.
// Exit status 1 when anything differed.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { generateCase } from './gen';
import {
  exportProblems,
  exportSignature,
  exportUnsupported,
  fixtureJson,
  fuzz,
  isExportKind,
  loadFixtures,
  minimise,
  report,
  saveFixture,
  signature,
  type ExportProblem,
  type Fixture,
  type FuzzResult,
  type SeedFailure,
  VARIANTS,
  withArgs,
} from './fuzz';
import { compareLines, comparison, imageLayers, runNativeSide, unavailable } from './run';
import { batchScript, describeLayers, splitOutput } from './spec';
import { evaluate } from './shrink';

interface Args {
  seeds: number;
  start: number;
  ops: number;
  jobs: number;
  batch: number;
  shrink: boolean;
  save: boolean;
  exportCheck: boolean;
  tolerateErrno: boolean;
  plain: boolean;
  worker: boolean;
  replay: string[];
  refresh: boolean;
  show: number | null;
}

function parse(argv: string[]): Args {
  const a: Args = { seeds: 1000, start: 0, ops: 60, jobs: 1, batch: 100, shrink: true, save: true, exportCheck: true, tolerateErrno: false, plain: false, worker: false, replay: [], refresh: false, show: null };
  for (let i = 0; i < argv.length; i++) {
    const f = argv[i];
    const num = (): number => {
      const v = Number(argv[++i]);
      if (!Number.isFinite(v)) throw new Error(`${f} needs a number`);
      return v;
    };
    if (f === '--seeds') a.seeds = num();
    else if (f === '--start') a.start = num();
    else if (f === '--ops') a.ops = num();
    else if (f === '--jobs') a.jobs = Math.max(1, num());
    else if (f === '--batch') a.batch = Math.max(1, num());
    else if (f === '--no-shrink') a.shrink = false;
    else if (f === '--no-save') a.save = false;
    else if (f === '--no-export') a.exportCheck = false;
    else if (f === '--tolerate-errno') a.tolerateErrno = true;
    else if (f === '--plain') a.plain = true;
    else if (f === '--worker') a.worker = true;
    else if (f === '--replay') a.replay.push(argv[++i]);
    else if (f === '--refresh') a.refresh = true;
    else if (f === '--show') a.show = num();
    else if (f === '-h' || f === '--help') {
      process.stdout.write(USAGE);
      process.exit(0);
    } else throw new Error(`unknown argument ${f}`);
  }
  return a;
}

const USAGE = `Usage:
  node scripts/fuzz.mjs [--seeds N] [--start N] [--ops N] [--jobs N] [--batch N] [--no-shrink]
                        [--no-save] [--no-export] [--tolerate-errno] [--plain]
  node scripts/fuzz.mjs --replay FILE.json|DIR ... [--refresh]
                                                    run stored cases and print their reports;
                                                    --refresh rewrites their reference outputs
  node scripts/fuzz.mjs --show SEED [--ops N]        print one seed's lower tree and script
`;

const say = (m: string): void => void process.stderr.write(`fuzz: ${m}\n`);

/** A worker's share, as JSON on stdout: the result without the cases (seeds regenerate them). */
interface WorkerOut {
  result: Omit<FuzzResult, 'failures' | 'exportFailures'> & {
    failures: Array<Omit<SeedFailure, 'case'> & { sandboxArgs?: string[] }>;
    exportFailures: Array<{ seed: number; problem: ExportProblem; sandboxArgs?: string[] }>;
  };
}

function runWorker(a: Args): void {
  const variants = a.plain ? [[]] : VARIANTS;
  const r = fuzz({ start: a.start, count: a.seeds, ops: a.ops, batch: a.batch, checkExport: a.exportCheck, variants, log: say });
  const out: WorkerOut = {
    result: {
      ...r,
      failures: r.failures.map(({ case: c, ...f }) => ({ ...f, sandboxArgs: c.sandboxArgs })),
      exportFailures: r.exportFailures.map(({ seed, problem, case: c }) => ({ seed, problem, sandboxArgs: c.sandboxArgs })),
    },
  };
  process.stdout.write(JSON.stringify(out));
}

function spawnWorker(a: Args, start: number, count: number): Promise<WorkerOut['result']> {
  const args = [__filename, '--worker', '--start', String(start), '--seeds', String(count), '--ops', String(a.ops), '--batch', String(a.batch)];
  if (!a.exportCheck) args.push('--no-export');
  if (a.tolerateErrno) args.push('--tolerate-errno');
  if (a.plain) args.push('--plain');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('close', (code) => {
      try {
        resolve((JSON.parse(out) as WorkerOut).result);
      } catch {
        reject(new Error(`worker ${start}..${start + count - 1} failed (exit ${code})`));
      }
    });
  });
}

const perK = (ns: number, ops: number): string => (ops ? `${((ns / ops) * 1000 / 1e6).toFixed(1)} ms` : 'n/a');

async function main(): Promise<void> {
  const a = parse(process.argv.slice(2));
  comparison.tolerateErrno = a.tolerateErrno;
  if (a.show !== null) {
    const c = generateCase(a.show, a.ops);
    process.stdout.write(`${describeLayers(c.layers)}\nscript:\n${c.ops.join('\n')}\n`);
    return;
  }
  const why = unavailable();
  if (why) {
    say(`cannot run: ${why}`);
    process.exit(2);
  }
  if (a.worker) return runWorker(a);
  if (a.replay.length) return replay(a.replay, a.refresh);

  const t0 = Date.now();
  say(`seeds ${a.start}..${a.start + a.seeds - 1}, ${a.ops} ops each, ${a.jobs} job(s), batches of ${a.batch}`);
  const shares: Array<[number, number]> = [];
  const per = Math.ceil(a.seeds / a.jobs);
  for (let s = a.start; s < a.start + a.seeds; s += per) shares.push([s, Math.min(per, a.start + a.seeds - s)]);
  const results = await Promise.all(shares.map(([s, n]) => spawnWorker(a, s, n)));
  const total = results.reduce((acc, r) => {
    for (const k of ['seeds', 'ops', 'sandboxOpNs', 'referenceOpNs', 'sandboxOps', 'referenceOps', 'sandboxWallMs', 'referenceWallMs'] as const) acc[k] += r[k];
    acc.failures.push(...r.failures);
    acc.exportFailures.push(...r.exportFailures);
    acc.exportSkipped ??= r.exportSkipped;
    return acc;
  });
  const secs = ((Date.now() - t0) / 1000).toFixed(0);
  const failing = new Set(total.failures.map((f) => f.seed));
  const lines = [
    `ran ${total.seeds} seeds, ${total.ops} ops, in ${secs} s`,
    `${total.seeds - failing.size} seeds (${total.ops - total.failures.length * a.ops} ops) with zero differences; ${failing.size} seeds differ`,
    `time per 1000 ops (inside the guest, setup excluded): sandbox ${perK(total.sandboxOpNs, total.sandboxOps)}, ` +
      `node:wasi on overlayfs ${perK(total.referenceOpNs, total.referenceOps)}`,
    `wall time per side (setup included): sandbox ${(total.sandboxWallMs / 1000).toFixed(1)} s, reference ${(total.referenceWallMs / 1000).toFixed(1)} s`,
    total.exportSkipped
      ? `export check skipped: ${total.exportSkipped}`
      : `export check: ${total.exportFailures.filter((f) => f.problem.kind === 'export-mismatch').length} seeds whose exported ` +
        `upper does not reproduce the final tree; ${total.exportFailures.filter((f) => f.problem.kind === 'export-error').length} ` +
        `batches whose export failed (the first failing seed of each is listed below)`,
  ];
  for (const l of lines) say(l);

  // Group by signature; shrink one of each new group.
  const known = new Map<string, Fixture>();
  for (const f of loadFixtures()) {
    const d = compareLines(f.sandbox, f.reference);
    if (d) known.set(signature(d), f);
  }
  for (const f of loadFixtures()) if (isExportKind(f.kind)) known.set(exportSignature(f.kind, f.export), f);
  const groups = new Map<string, Array<{ seed: number; kind: string; sandboxArgs?: string[] }>>();
  const add = (s: string, seed: number, kind: string, sandboxArgs?: string[]): void => {
    if (!groups.has(s)) groups.set(s, []);
    groups.get(s)!.push({ seed, kind, sandboxArgs });
  };
  for (const f of total.failures) add(signature(f.diff), f.seed, f.diff.kind, f.sandboxArgs);
  for (const f of total.exportFailures) add(exportSignature(f.problem.kind, f.problem.detail), f.seed, f.problem.kind, f.sandboxArgs);
  for (const [sig, fs_] of [...groups].sort((x, y) => y[1].length - x[1].length)) {
    const k = known.get(sig);
    say(`${fs_.length} seed(s): ${sig}${k ? `  (known: ${k.name})` : ''}; e.g. seed ${fs_[0].seed}`);
  }
  if (a.tolerateErrno) a.save = false;
  if (a.shrink) {
    for (const [sig, fs_] of groups) {
      if (known.has(sig)) continue;
      const f = fs_[0];
      say(`shrinking seed ${f.seed} (${sig}) ...`);
      const fx = minimise(withArgs(generateCase(f.seed, a.ops), f.sandboxArgs), f.kind, `seed ${f.seed}, ${a.ops} ops`, say);
      process.stdout.write(`\n${report(fx)}\n`);
      if (a.save) say(`stored ${path.relative(process.cwd(), saveFixture(fx))}`);
    }
  }
  process.exit(failing.size || total.exportFailures.length ? 1 : 0);
}

/**
 * Replays fixture files (or every fixture in a directory) and prints their current reports. With
 * `refresh`, rewrites each fixture's reference and native outputs (after a change of the fsops
 * output format; the stored sandbox output stays what it was when the bug was found).
 */
function replay(files: string[], refresh: boolean): void {
  const list: Array<Fixture & { file: string }> = [];
  for (const f of files) {
    if (fs.statSync(f).isDirectory()) {
      list.push(...fs.readdirSync(f).filter((x) => x.endsWith('.json')).sort().map((x) => ({ ...readFixture(path.join(f, x)), file: path.join(f, x) })));
    } else list.push({ ...readFixture(f), file: f });
  }
  const cases = list.map((f) => ({ name: f.name, layers: f.layers, ops: f.ops, sandboxArgs: f.sandboxArgs }));
  const ev = evaluate(cases);
  const native = runNativeSide(imageLayers(cases), batchScript(cases));
  const nat = native ? splitOutput(native.stdout, cases.length) : [];
  const exp = list.some((f) => isExportKind(f.kind)) && !exportUnsupported() ? exportProblems(cases) : [];
  list.forEach(({ file, ...f }, i) => {
    const now: Fixture = { ...f, sandbox: ev[i].ours, reference: ev[i].ref, native: nat[i] };
    const bad = isExportKind(f.kind) && exp[i];
    if (bad) now.export = bad.detail;
    process.stdout.write(`\n${ev[i].diff ? 'DIFFERS' : bad ? `EXPORT FAILS (${bad.kind})` : 'same'}: ${report(now)}\n`);
    if (refresh) fs.writeFileSync(file, fixtureJson({ ...f, reference: ev[i].ref, native: nat[i] }));
  });
}

function readFixture(file: string): Fixture {
  return { ...(JSON.parse(fs.readFileSync(file, 'utf8')) as Fixture), name: path.basename(file, '.json') };
}

main().catch((e) => {
  say(String(e?.stack ?? e));
  process.exit(2);
});
