// Replays every minimal case the fuzzer found (test/fixtures/fuzz/*.json: a lower tree and an op
// script, see test/lib/fuzz/fuzz.ts), so that every bug found stays fixed. All cases run as one
// batch, in the sandbox and under node:wasi on the overlayfs reference, and each must print the
// same lines on both. Cases of the export check (kind export-error / export-mismatch) must also
// export an upper layer (--export-upper) that, stacked on the image, shows the run's final tree.
// Without root (no reference mount) each case is compared with the reference output stored in its
// fixture instead.
import fs from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { exportProblems, exportUnsupported, isExportKind, loadFixtures, report, type Fixture } from '../lib/fuzz/fuzz';
import { buildBatchImage, compareLines, FSOPS_WASM, imageLayers, removeImage, runSandboxSide, unavailable } from '../lib/fuzz/run';
import { evaluate } from '../lib/fuzz/shrink';
import { batchScript, perArgsGroup, splitOutput, type FuzzCase } from '../lib/fuzz/spec';

const fixtures = loadFixtures();
const cases: FuzzCase[] = fixtures.map((f) => ({ name: f.name, layers: f.layers, ops: f.ops, sandboxArgs: f.sandboxArgs }));

function fail(summary: string, details: string): never {
  throw new assert.Assertion({ message: summary, details, operator: 'fuzz regression', generated: false, expects: null, actual: null });
}

if (!fs.existsSync(FSOPS_WASM)) {
  test('dist/guests/fsops.wasm exists', () => assert.unreachable('dist/guests/fsops.wasm is missing: run `node scripts/build.mjs guests`'));
} else if (fixtures.length === 0) {
  test.skip('no stored fuzz cases', () => {});
} else {
  const why = unavailable();
  let now: Array<{ ours?: string[]; ref?: string[] }>;
  if (why === null) {
    now = evaluate(cases).map((e) => ({ ours: e.ours, ref: e.ref }));
  } else {
    console.log(`e2e/fuzz-regressions: no reference mount (${why}); comparing with the stored reference outputs`);
    const ours = perArgsGroup(cases, (group) => {
      const image = buildBatchImage(imageLayers(group));
      const r = runSandboxSide(image, batchScript(group), { sandboxArgs: group[0].sandboxArgs });
      removeImage(image);
      return splitOutput(r.stdout, group.length);
    });
    now = fixtures.map((f, k) => ({ ours: ours[k], ref: f.reference }));
  }
  const exportCases = cases.filter((_, k) => isExportKind(fixtures[k].kind));
  const noExport = exportCases.length ? exportUnsupported() : null;
  const exported = noExport ? [] : exportProblems(exportCases);

  fixtures.forEach((f: Fixture, k) => {
    test(`${f.name}: ${f.about ?? `the sandbox answers like the reference (${f.kind})`}`, () => {
      const d = compareLines(now[k].ours, now[k].ref);
      if (d) fail(`${f.name}: line ${d.line + 1}: sandbox "${d.ours ?? '(nothing)'}", reference "${d.ref ?? '(nothing)'}"`, report({ ...f, sandbox: now[k].ours, reference: now[k].ref }));
      if (!isExportKind(f.kind)) return;
      if (noExport) {
        console.log(`  SKIP export check of ${f.name}: ${noExport}`);
        return;
      }
      const p = exported[exportCases.indexOf(cases[k])];
      if (p) fail(`${f.name}: ${p.kind}: ${p.detail.split('\n')[0]}`, report({ ...f, sandbox: now[k].ours, reference: now[k].ref, export: p.detail }));
    });
  });
}

test.run();
