// `npm run bench:startup`: how long from process start to the guest's first instruction, for a big
// image (20,000 files, 100 MB), against node:wasi on the same tree already extracted.
//
// The guest (guests/t0.c) prints CLOCK_REALTIME first thing; the harness notes the wall clock just
// before it spawns the process; the difference is the start-up time. Cases:
//   node:wasi on the extracted directory (the reference)
//   sandbox, uncompressed OCI image: a first run (no index snapshot yet: every tar header is read),
//     later runs (from the snapshot), and later runs with the gofer in a worker thread
//   sandbox, gzip OCI image: first run (inflating into an empty cache; the inflate rate is reported)
//     and second run (from the cache)
// Medians of --runs (default 7). Results: bench/results/startup.json and startup.md.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { lib, ROOT } from './lib/setup.mjs';

const argv = process.argv.slice(2);
const RUNS = Number(argv.includes('--runs') ? argv[argv.indexOf('--runs') + 1] : 7);
const FILES = Number(argv.includes('--files') ? argv[argv.indexOf('--files') + 1] : 20000);
const MB = Number(argv.includes('--mb') ? argv[argv.indexOf('--mb') + 1] : 100);
const work = path.join(ROOT, 'bench', '.work', 'startup');
fs.mkdirSync(work, { recursive: true });
const say = (m) => process.stderr.write(`bench:startup: ${m}\n`);

// --- the image: FILES files of about MB/FILES bytes, in a tree 3 levels deep, plus /t0
const plain = path.join(work, `big-${FILES}-${MB}.tar`);
const gz = path.join(work, `big-${FILES}-${MB}.gz.tar`);
const extracted = path.join(work, `big-${FILES}-${MB}-root`);
if (!fs.existsSync(plain) || !fs.existsSync(gz)) {
  say(`writing a ${FILES}-file, ${MB} MB image`);
  const per = Math.floor((MB * 1e6) / FILES);
  const entries = [{ path: 't0', type: 'file', data: fs.readFileSync(path.join(ROOT, 'dist/guests/t0.wasm')), mode: 0o755 }];
  let seed = 1;
  for (let i = 0; i < FILES; i++) {
    const data = new Uint8Array(per);
    for (let j = 0; j < per; j += 64) data[j] = (seed = (seed * 1103515245 + 12345) >>> 0) & 255; // not too compressible
    entries.push({ path: `d${i % 20}/e${(i >> 5) % 50}/f${i}`, type: 'file', data });
  }
  const spec = { layers: [entries], entrypoint: ['/t0'] };
  lib.writeImage(spec, plain, { format: 'oci' });
  lib.writeImage(spec, gz, { format: 'oci', gzip: true });
}
if (!fs.existsSync(extracted)) {
  say('extracting it for the node:wasi reference');
  fs.mkdirSync(extracted);
  lib.extractImage(plain, extracted, path.join(work, 'cache'));
}

const wall = () => performance.timeOrigin + performance.now(); // ms, µs precision

function once(args, env = {}) {
  const t = wall();
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', env: { ...process.env, ...env } });
  const m = /^t0 (\d+)$/m.exec(r.stdout);
  if (!m) throw new Error(`no t0 from ${args.join(' ')}: ${r.stderr}`);
  return Number(m[1]) / 1e6 - t; // ms from spawn to the guest's first instruction
}

const nodewasi = ['--no-warnings', '-e', `
  const { WASI } = require('node:wasi');
  const fs = require('node:fs');
  const wasi = new WASI({ version: 'preview1', args: ['t0'], preopens: { '/': ${JSON.stringify(extracted)} }, returnOnExit: true });
  const m = new WebAssembly.Module(fs.readFileSync(${JSON.stringify(path.join(extracted, 't0'))}));
  wasi.start(new WebAssembly.Instance(m, { wasi_snapshot_preview1: wasi.wasiImport }));`];
const run = (image, extra = []) => [path.join(ROOT, 'host/run.js'), '--cache-dir', path.join(work, 'cache'), ...extra, image];

const median = (xs) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const cases = {};
const add = (name, xs) => (cases[name] = { median: median(xs), min: Math.min(...xs), runs: xs.map((x) => +x.toFixed(1)) });

const ref = [];
const first = [];
const inline = [];
const worker = [];
for (let i = 0; i < RUNS; i++) {
  say(`round ${i + 1}/${RUNS}`);
  ref.push(once(nodewasi));
  const fresh = path.join(work, `cache-first-${i}`);
  fs.rmSync(fresh, { recursive: true, force: true });
  first.push(once([path.join(ROOT, 'host/run.js'), '--cache-dir', fresh, plain]));
  fs.rmSync(fresh, { recursive: true, force: true });
  inline.push(once(run(plain)));
  worker.push(once(run(plain, ['--gofer', 'worker'])));
}
add('node:wasi, extracted directory (reference)', ref);
add('sandbox, uncompressed image, first run (no index snapshot)', first);
add('sandbox, uncompressed image, later runs', inline);
add('sandbox, uncompressed image, later runs, --gofer worker', worker);

// gzip: a first run into an empty cache, then warm runs
const gzFirst = [];
const gzWarm = [];
for (let i = 0; i < Math.min(RUNS, 3); i++) {
  const cache = path.join(work, `gzcache-${i}`);
  fs.rmSync(cache, { recursive: true, force: true });
  const t = wall();
  const args = [path.join(ROOT, 'host/run.js'), '--cache-dir', cache, gz];
  gzFirst.push(once(args));
  void t;
  for (let j = 0; j < Math.ceil(RUNS / 3); j++) gzWarm.push(once(args));
  fs.rmSync(cache, { recursive: true, force: true });
}
add('sandbox, gzip image, first run (inflating)', gzFirst);
add('sandbox, gzip image, later runs (cached)', gzWarm);
const compressed = fs.statSync(gz).size;
const tarBytes = fs.statSync(plain).size;
const inflateRate = tarBytes / 1e6 / ((median(gzFirst) - median(first)) / 1000);

const refMs = cases['node:wasi, extracted directory (reference)'].median;
const refMin = cases['node:wasi, extracted directory (reference)'].min;
const md = [
  '# Start-up benchmark',
  '',
  `${os.cpus().length} × ${os.cpus()[0]?.model}, Node ${process.version}, ${new Date().toISOString()}. Image: ${FILES} files, ${(tarBytes / 1e6).toFixed(0)} MB uncompressed (${(compressed / 1e6).toFixed(0)} MB gzip). Time from spawning the process to the guest's first instruction, over ${RUNS} runs (gzip first runs: 3).`,
  '',
  '| case | median ms | × reference | ms above reference | fastest ms | × reference | ms above reference |',
  '| --- | --- | --- | --- | --- | --- | --- |',
  ...Object.entries(cases).map(
    ([k, v]) =>
      `| ${k} | ${v.median.toFixed(1)} | ${(v.median / refMs).toFixed(2)} | ${(v.median - refMs).toFixed(1)} | ${v.min.toFixed(1)} | ${(v.min / refMin).toFixed(2)} | ${(v.min - refMin).toFixed(1)} |`,
  ),
  '',
  'This machine is a small VM whose timings wander by tens of ms from run to run (plain `node -e 0` included), so both the median and the fastest run are given; the fastest is the better view of what the code costs.',
  '',
  `Inflate rate on the first gzip run: ${inflateRate.toFixed(0)} MB/s of tar (the first gzip run minus the first uncompressed run, over the tar's size).`,
  '',
];
fs.mkdirSync(path.join(ROOT, 'bench/results'), { recursive: true });
fs.writeFileSync(path.join(ROOT, 'bench/results/startup.md'), md.join('\n'));
fs.writeFileSync(path.join(ROOT, 'bench/results/startup.json'), JSON.stringify({ files: FILES, mb: MB, cases, inflateRate }, null, 2));
process.stdout.write(md.join('\n'));
