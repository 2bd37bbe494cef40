// Differential fuzzing (issue 3): seeded random lower trees and op scripts (test/lib/fuzz/gen.ts) run
// by guests/fsops.c in the sandbox and under node:wasi on a real Linux overlayfs mount of the same
// layers (redirect_dir=on,index=on: the sandbox's documented behaviour), compared op by op and by
// the final tree; then the exported upper layer (--export-upper) over the image must reproduce that
// tree. Batches alternate between the release kernel (worker file server) and the debug kernel
// (assertions on, in-thread file server). A failure is shrunk to a minimal script and lower tree,
// and printed with both outputs and the verdict of a native Linux run (sandbox bug or node:wasi
// quirk); failures that match a stored regression case (test/fixtures/fuzz/) are only named.
//
// Deterministic: a fixed base seed. FUZZ_SEED=N varies it, FUZZ_SEEDS and FUZZ_OPS the size
// (default 400 seeds x 80 ops). The long run is scripts/fuzz.mjs. Needs root for the reference
// mount; without it the suite prints why and skips.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { exportSignature, fuzz, isExportKind, loadFixtures, minimise, report, signature, VARIANTS, type FuzzResult } from '../lib/fuzz/fuzz';
import { generateCase, mergedTree, NAMES } from '../lib/fuzz/gen';
import { compareLines, unavailable } from '../lib/fuzz/run';

const BASE_SEED = Number(process.env.FUZZ_SEED ?? 20240601);
const SEEDS = Number(process.env.FUZZ_SEEDS ?? 400);
const OPS = Number(process.env.FUZZ_OPS ?? 80);
/** How many distinct new failures CI shrinks (each takes tens of seconds); the rest are listed. */
const SHRINK_AT_MOST = Number(process.env.FUZZ_SHRINK ?? 2);

/** Fails with a one-line message and the report as uvu `details`. */
function fail(summary: string, details: string): never {
  throw new assert.Assertion({ message: summary, details, operator: 'fuzz', generated: false, expects: null, actual: null });
}

test('the generator is deterministic and stays inside what node:wasi answers like Linux', () => {
  for (let s = BASE_SEED; s < BASE_SEED + 200; s++) {
    const a = generateCase(s, OPS);
    assert.equal(JSON.stringify(generateCase(s, OPS)), JSON.stringify(a), `seed ${s} gives the same case twice`);
    assert.is(a.ops.length, OPS);
    for (const e of a.layers.flat()) {
      const parts = e.path.split('/');
      assert.ok(parts.length <= 4 && parts.every((p) => (NAMES as readonly string[]).includes(p)), `seed ${s}: path ${e.path} in the small namespace`);
      if (e.type === 'symlink') {
        // No absolute targets, no '..' or '.': uvwasi resolves those lexically (see gen.ts).
        assert.ok(!e.target.startsWith('/') && !e.target.split('/').some((c) => c === '..' || c === '.'), `seed ${s}: target ${e.target}`);
      }
    }
    for (const op of a.ops) {
      const t = op.split(' ');
      assert.ok(!t.some((x) => x.split('/').some((c) => c === '..' || c === '.')), `seed ${s}: no '.' or '..' in ${op}`);
      if (t[0] === 'open') assert.ok(!(t[3].includes('c') && t[3].includes('d')), `seed ${s}: no O_CREAT|O_DIRECTORY in ${op}`);
      if (t[0] === 'utimes') assert.ok(t[2].endsWith('000000000') && t[3].endsWith('000000000'), `seed ${s}: whole seconds in ${op}`);
      if (t[0] === 'falloc') assert.ok(Number(t[3]) > 0, `seed ${s}: no zero-length fallocate in ${op}`);
      if ((t[0] === 'open' && t[3].includes('c')) || t[0] === 'put') {
        const p = t[t[0] === 'open' ? 2 : 1];
        assert.ok(p === '/' || !p.endsWith('/'), `seed ${s}: no O_CREAT with a trailing slash in ${op}`); // '/': the case directory
      }
    }
    mergedTree(a.layers); // the layers apply cleanly
  }
});

const why = unavailable();
if (why) {
  console.log(`SKIP e2e/fuzz: ${why}`);
  test.skip('fuzz: sandbox vs. the overlayfs reference (skipped)', () => {});
} else {
  let result: FuzzResult | undefined;
  const run = (): FuzzResult =>
    (result ??= fuzz({ start: BASE_SEED, count: SEEDS, ops: OPS, batch: 100, variants: VARIANTS, log: (m) => console.log(`  fuzz: ${m}`) }));

  test(`${SEEDS} seeds x ${OPS} ops (base seed ${BASE_SEED}): every op and the final tree match the overlayfs reference`, () => {
    const t0 = Date.now();
    const r = run();
    const perK = (ns: number, n: number) => (n ? ((ns / n) * 1000 / 1e6).toFixed(1) : '?');
    console.log(
      `  fuzz: ${r.seeds} seeds, ${r.ops} ops in ${((Date.now() - t0) / 1000).toFixed(1)} s; per 1000 ops: sandbox ` +
        `${perK(r.sandboxOpNs, r.sandboxOps)} ms, node:wasi on overlayfs ${perK(r.referenceOpNs, r.referenceOps)} ms`,
    );
    if (r.failures.length === 0) return;

    // Group by signature; known bugs (stored fixtures) are named, new ones shrunk (a few).
    const known = new Map<string, string>();
    for (const f of loadFixtures()) {
      const d = compareLines(f.sandbox, f.reference);
      if (d) known.set(signature(d), f.name);
    }
    const groups = new Map<string, typeof r.failures>();
    for (const f of r.failures) {
      const s = signature(f.diff);
      groups.set(s, [...(groups.get(s) ?? []), f]);
    }
    const out: string[] = [];
    let shrunk = 0;
    for (const [sig, fs] of [...groups].sort((a, b) => b[1].length - a[1].length)) {
      const k = known.get(sig);
      const seeds = fs.map((f) => f.seed);
      out.push(`${fs.length} seed(s): ${sig}${k ? ` (known bug: test/fixtures/fuzz/${k}.json)` : ''}; seeds ${seeds.slice(0, 8).join(' ')}${seeds.length > 8 ? ' ...' : ''}`);
      const f = fs[0];
      if (!k && shrunk < SHRINK_AT_MOST) {
        shrunk++;
        const fx = minimise(f.case, f.diff.kind, `seed ${f.seed}, ${OPS} ops`);
        out.push(report(fx).replace(/^/gm, '    '));
        const variant = f.case.sandboxArgs ? ` (it ran with ${f.case.sandboxArgs.join(' ')}: the CLI's batch of one seed runs without)` : '';
        out.push(`    (store it: node scripts/fuzz.mjs --seeds 1 --start ${f.seed} --ops ${OPS}${variant})`);
      } else if (!k) {
        out.push(`    first difference, line ${f.diff.line + 1}: sandbox ${f.diff.ours ?? '(nothing)'} | reference ${f.diff.ref ?? '(nothing)'}`);
      }
    }
    fail(`${new Set(r.failures.map((f) => f.seed)).size} of ${r.seeds} seeds differ from the reference (${groups.size} kinds)`, out.join('\n'));
  });

  test('the exported upper layer (--export-upper) over the image reproduces every final tree', () => {
    const r = run();
    if (r.exportSkipped) {
      console.log(`  SKIP export check: ${r.exportSkipped}`);
      return;
    }
    if (r.exportFailures.length === 0) return;
    const known = new Map(loadFixtures().filter((f) => isExportKind(f.kind)).map((f) => [exportSignature(f.kind, f.export), f.name]));
    const groups = new Map<string, typeof r.exportFailures>();
    for (const f of r.exportFailures) {
      const sig = exportSignature(f.problem.kind, f.problem.detail);
      groups.set(sig, [...(groups.get(sig) ?? []), f]);
    }
    const out: string[] = [];
    let shrunk = 0;
    for (const [sig, fs] of groups) {
      const k = known.get(sig);
      out.push(`${fs.length} seed(s): ${sig}${k ? ` (known bug: test/fixtures/fuzz/${k}.json)` : ''}; seeds ${fs.map((f) => f.seed).slice(0, 10).join(' ')}`);
      out.push(`  seed ${fs[0].seed}: ${fs[0].problem.detail.replace(/\n/g, '\n  ')}`);
      if (!k && shrunk++ < SHRINK_AT_MOST) {
        const fx = minimise(fs[0].case, fs[0].problem.kind, `seed ${fs[0].seed}, ${OPS} ops`);
        out.push(report(fx).replace(/^/gm, '    '));
      }
    }
    fail(
      `the export check fails (the image plus the exported upper must show the final tree; a failed export is ` +
        `counted once per batch of 100 seeds): ${[...groups.keys()].join('; ')}`,
      out.join('\n'),
    );
  });
}

test.run();
