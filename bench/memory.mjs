// `npm run bench:memory`: a guest's own memory, taken at once and filled (guests/memfill.c), in the
// sandbox with its memories advised for transparent huge pages (host/sandbox/huge-pages.ts), in the
// sandbox without (WASMBOX_HUGE_PAGES=0), and under node:wasi; the three alternate, --runs rounds
// (default 5), medians. "first": malloc and the first fill, where every page is faulted in; "again":
// the same pages filled a second time. Results: bench/results/memory.{json,md}.
// Usage: node bench/memory.mjs [--mib N] [--runs N]
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT, lib } from './lib/setup.mjs';

const argv = process.argv.slice(2);
const opt = (name, dflt) => (argv.includes(name) ? Number(argv[argv.indexOf(name) + 1]) : dflt);
const MIB = opt('--mib', 256);
const RUNS = opt('--runs', 5);
const say = (m) => process.stderr.write(`bench:memory: ${m}\n`);
const median = (xs) => {
  const v = xs.filter(Number.isFinite).sort((a, b) => a - b);
  return v.length ? v[Math.floor(v.length / 2)] : NaN;
};

const wasm = path.join(ROOT, 'dist/guests/memfill.wasm');
const work = path.join(ROOT, 'bench', '.work', 'memory');
fs.mkdirSync(work, { recursive: true });
const image = path.join(work, 'image.tar');
lib.writeImage({ layers: [[{ path: 'bin/memfill', type: 'file', data: fs.readFileSync(wasm), mode: 0o755 }]] }, image, { format: 'oci' });
const parse = (out) => {
  const m = /memfill n=\d+ first_ns=(\d+) again_ns=(\d+)/.exec(out);
  return m ? { first: Number(m[1]) / 1e6, again: Number(m[2]) / 1e6 } : null;
};
function sandbox(env) {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'host/run.js'), '--cache-dir', path.join(work, 'cache'), image, '/bin/memfill', String(MIB)], { encoding: 'utf8', env: { ...process.env, ...env } });
  const f = parse(r.stdout);
  if (r.status !== 0 || !f) throw new Error(`sandbox: exit ${r.status}: ${r.stdout}${r.stderr}`);
  return f;
}
function nodewasi() {
  const spec = { runtime: 'nodewasi', wasm, runs: [['memfill', String(MIB)]], preopens: {} };
  const r = spawnSync(process.execPath, ['--no-warnings', path.join(ROOT, 'bench/lib/child.mjs'), JSON.stringify(spec)], { stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
  const f = parse(r.stdout.toString());
  if (!f) throw new Error(`node:wasi: ${r.output[3]?.toString() ?? ''}${r.stderr}`);
  return f;
}
const configs = {
  'sandbox (huge pages advised)': () => sandbox({}),
  'sandbox, WASMBOX_HUGE_PAGES=0': () => sandbox({ WASMBOX_HUGE_PAGES: '0' }),
  'node:wasi': nodewasi,
};
const samples = {};
for (let round = 1; round <= RUNS; round++) {
  for (const [name, run] of Object.entries(configs)) {
    say(`round ${round}/${RUNS}: ${name}`);
    (samples[name] ??= []).push(run());
  }
}
const thp = (() => {
  try {
    return fs.readFileSync('/sys/kernel/mm/transparent_hugepage/enabled', 'utf8').trim();
  } catch {
    return 'absent';
  }
})();
const rows = Object.entries(samples).map(([name, s]) => ({ name, first: median(s.map((x) => x.first)), again: median(s.map((x) => x.again)), firsts: s.map((x) => x.first) }));
const md = [
  '## A guest\'s own memory: one block taken at once and filled',
  '',
  `${os.cpus().length} × ${os.cpus()[0]?.model}, Node ${process.version}, ${new Date().toISOString()}; ${MIB} MiB, medians of ${RUNS} runs; transparent huge pages: \`${thp}\`.`,
  '',
  '| configuration | malloc + first fill (ms) | every run (ms) | second fill (ms) |',
  '| --- | --- | --- | --- |',
  ...rows.map((r) => `| ${r.name} | ${r.first.toFixed(1)} | ${r.firsts.map((x) => x.toFixed(0)).join(', ')} | ${r.again.toFixed(1)} |`),
  '',
];
fs.writeFileSync(path.join(ROOT, 'bench/results/memory.md'), md.join('\n'));
fs.writeFileSync(path.join(ROOT, 'bench/results/memory.json'), JSON.stringify({ mib: MIB, runs: RUNS, thp, samples }, null, 2));
process.stdout.write(md.join('\n'));
