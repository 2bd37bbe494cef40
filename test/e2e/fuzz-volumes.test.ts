// Differential fuzzing on host directories (issue 15): the overlay fuzzer's cases run on a bind
// mount (-v) and on --overlay2 none's root, batch by batch, against node:wasi on a copy of the same
// directory; every op and the final host trees must match (test/lib/fuzz/volume.ts). Failures are
// grouped by their first difference and the first of each kind is shrunk.
//
// Deterministic: FUZZ_SEED=N varies the base seed, FUZZ_VOLUME_SEEDS and FUZZ_OPS the size
// (default 400 seeds x 80 ops), FUZZ_VOLUME_WHERE=-v|none runs every batch there. Needs root (the trees come from an overlayfs mount of the layers).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { signature } from '../lib/fuzz/fuzz';
import { unavailable } from '../lib/fuzz/run';
import { describeLayers } from '../lib/fuzz/spec';
import { fuzzVolumes, minimiseVolume, WHERES, type VolumeWhere } from '../lib/fuzz/volume';

const BASE_SEED = Number(process.env.FUZZ_SEED ?? 20261204);
const SEEDS = Number(process.env.FUZZ_VOLUME_SEEDS ?? 400);
const OPS = Number(process.env.FUZZ_OPS ?? 80);
const SHRINK_AT_MOST = Number(process.env.FUZZ_SHRINK ?? 2);
const WHERE = process.env.FUZZ_VOLUME_WHERE;
if (WHERE !== undefined && !(WHERES as string[]).includes(WHERE)) throw new Error(`FUZZ_VOLUME_WHERE: ${WHERE} is not one of ${WHERES.join(' ')}`);

const why = unavailable();
if (why) {
  console.log(`SKIP e2e/fuzz-volumes: ${why}`);
  test.skip('fuzz on host directories (skipped)', () => {});
} else {
  test(`${SEEDS} seeds x ${OPS} ops on a bind mount and in none's root: every op and the host tree match node:wasi`, () => {
    const t0 = Date.now();
    const r = fuzzVolumes({ start: BASE_SEED, count: SEEDS, ops: OPS, wheres: WHERE ? [WHERE as VolumeWhere] : undefined, log: (m) => console.log(`  fuzz-volumes: ${m}`) });
    const perK = (ns: number) => (r.ops ? (((ns / r.ops) * 1000) / 1e6).toFixed(1) : '?');
    console.log(`  fuzz-volumes: ${r.seeds} seeds in ${((Date.now() - t0) / 1000).toFixed(1)} s; per 1000 ops: sandbox ${perK(r.sandboxOpNs)} ms, node:wasi ${perK(r.referenceOpNs)} ms`);
    if (r.failures.length === 0) return;
    const groups = new Map<string, typeof r.failures>();
    for (const f of r.failures) {
      const s = `${[f.where, ...f.sandboxArgs].join(' ')} ${f.diff.kind === 'host-tree' ? 'host-tree' : signature(f.diff)}`;
      groups.set(s, [...(groups.get(s) ?? []), f]);
    }
    const out: string[] = [];
    let shrunk = 0;
    for (const [sig, fs] of groups) {
      out.push(`${fs.length} seed(s): ${sig}; seeds ${fs.map((f) => f.seed).slice(0, 8).join(' ')}`);
      const f = fs[0];
      out.push(`  first difference, line ${f.diff.line + 1}: sandbox ${f.diff.ours ?? '(nothing)'} | node:wasi ${f.diff.ref ?? '(nothing)'}`);
      if (shrunk++ < SHRINK_AT_MOST) {
        const m = minimiseVolume(f.case, f.where, f.diff.kind, f.sandboxArgs);
        out.push('  minimal lower tree:', describeLayers(m.minimal.layers).replace(/^/gm, '    '));
        out.push('  minimal script:', m.minimal.ops.join('\n').replace(/^/gm, '    '));
        out.push('  sandbox:', (m.ours ?? []).join('\n').replace(/^/gm, '    '));
        out.push('  node:wasi:', (m.ref ?? []).join('\n').replace(/^/gm, '    '));
        if (m.diff) out.push(`  first difference: sandbox ${m.diff.ours} | node:wasi ${m.diff.ref}`);
      }
    }
    throw new assert.Assertion({ message: `${r.failures.length} of ${r.seeds} seeds differ from node:wasi on the same directory (${groups.size} kinds)`, details: out.join('\n'), operator: 'fuzz', generated: false, expects: null, actual: null });
  });
}

test.run();
