// `npm run bench:gofer` (also part of `npm run bench`): the gofer's own costs.
//   round trip   a no-op request, to a gofer worker through the shared-memory channel (back to back,
//                and after a 1 ms pause, when the worker has gone to sleep) and to the in-thread
//                server (--gofer inline); bench/lib/gofer-rt.ts
//   bind mount   opbench (guests/opbench.c) in a directory on a tmpfs bind mount (-v), the sandbox
//                with each gofer, against node:wasi given the same host directory as a preopen; two
//                passes in one process: the first includes V8's warm-up of the sandbox's JavaScript
//                glue and gofer, the second is the steady state
//   1 MiB reads  sequential 1 MiB read()s of a 256 MiB file on that bind mount (guests/bigfile.c),
//                twice in one process: the first pass includes the sandbox's first few hundred
//                reads, which ran a few percent slower (cause not found), the second does not
//   host call    renameat2 on that tmpfs through the addon, back to back and with other work between
//                (bench/lib/host-call.ts): what a system call costs once caches are not its own
// Results: bench/results/gofer.{json,md} (gofer-quick.* with --quick). Usage: node bench/gofer.mjs [--quick]
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT, lib, mountTmpfs, unmount } from './lib/setup.mjs';

const QUICK = process.argv.includes('--quick');
const RUNS = QUICK ? 1 : 5;
/**
 * The reads get more runs: on the VM measured, the speed of a 1 MiB copy moved by 10-20% from one
 * run to the next and sometimes within one (a native C program's too), with the host's state, not
 * with the runtime (bench/results/analysis.md).
 */
const READ_RUNS = QUICK ? 1 : 11;
const OPB_N = QUICK ? '5000' : '20000';
const READ_MIB = QUICK ? 64 : 256;
/** bigfile's commands: the file read twice over. */
const READ_TWICE = ['read', '/mnt/big', 'read', '/mnt/big'];
const work = path.join(ROOT, 'bench', '.work', 'gofer');
fs.mkdirSync(work, { recursive: true });
const say = (m) => process.stderr.write(`bench:gofer: ${m}\n`);
const median = (xs) => {
  const v = xs.filter(Number.isFinite).sort((a, b) => a - b);
  return v.length ? v[Math.floor(v.length / 2)] : NaN;
};

// --- round trip
say('no-op round trips');
const esbuild = await import('esbuild');
const rtBundle = path.join(work, 'gofer-rt.cjs');
await esbuild.build({ entryPoints: [path.join(ROOT, 'bench/lib/gofer-rt.ts')], bundle: true, platform: 'node', outfile: rtBundle, logLevel: 'warning' });
const rts = [];
for (let i = 0; i < RUNS; i++) {
  const r = spawnSync(process.execPath, [rtBundle, QUICK ? '50000' : '200000', path.join(ROOT, 'dist')], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`gofer-rt: ${r.stderr}`);
  rts.push(JSON.parse(r.stdout));
}
const roundTrip = { inlineNs: median(rts.map((r) => r.inlineNs)), workerNs: median(rts.map((r) => r.workerNs)), workerAfterPauseNs: median(rts.map((r) => r.workerAfterPauseNs)) };

// --- a tmpfs host directory, and an image with the two guests
const tmpfs = path.join(work, 'tmpfs');
const mounted = mountTmpfs(tmpfs);
const host = mounted ? tmpfs : fs.mkdtempSync(path.join('/dev/shm', 'wasmbox-bench-gofer-'));
process.on('exit', () => (mounted ? unmount(tmpfs) : fs.rmSync(host, { recursive: true, force: true })));
const image = path.join(work, 'image.tar');
lib.writeImage(
  {
    layers: [
      [
        { path: 'bin/opbench', type: 'file', data: fs.readFileSync(path.join(ROOT, 'dist/guests/opbench.wasm')), mode: 0o755 },
        { path: 'bin/bigfile', type: 'file', data: fs.readFileSync(path.join(ROOT, 'dist/guests/bigfile.wasm')), mode: 0o755 },
      ],
    ],
  },
  image,
  { format: 'oci' },
);
// --- one host call, back to back and with other work between (bench/lib/host-call.ts)
say('a host call, alone and between other work');
const hcBundle = path.join(work, 'host-call.cjs');
await esbuild.build({ entryPoints: [path.join(ROOT, 'bench/lib/host-call.ts')], bundle: true, platform: 'node', outfile: hcBundle, logLevel: 'warning' });
const hostCalls = [];
for (let i = 0; i < RUNS; i++) {
  const r = spawnSync(process.execPath, [hcBundle, host, QUICK ? '20000' : '100000'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`host-call: ${r.stderr}`);
  hostCalls.push(JSON.parse(r.stdout));
}
const HC_KB = ['0', '4', '16', '64'];
const hostCall = Object.fromEntries(HC_KB.map((k) => [k, median(hostCalls.map((h) => h[k]))]));

const big = path.join(host, 'big');
{
  const block = Buffer.alloc(1 << 20);
  for (let i = 0; i < block.length; i += 4096) block[i] = i >> 12;
  const fd = fs.openSync(big, 'w');
  for (let i = 0; i < READ_MIB; i++) fs.writeSync(fd, block);
  fs.closeSync(fd);
}

const cacheDir = path.join(work, 'cache');
function sandbox(gofer, argv) {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'host/run.js'), '--cache-dir', cacheDir, '--gofer', gofer, '-v', `${host}:/mnt`, image, ...argv], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`sandbox (${gofer}) ${argv.join(' ')}: exit ${r.status}: ${r.stderr}`);
  return r.stdout;
}
function nodewasi(wasm, argv) {
  const spec = { runtime: 'nodewasi', wasm, runs: [argv], preopens: { '/mnt': host } };
  const r = spawnSync(process.execPath, ['--no-warnings', path.join(ROOT, 'bench/lib/child.mjs'), JSON.stringify(spec)], { stdio: ['ignore', 'pipe', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
  const res = JSON.parse(r.output[3].toString());
  if (res.error || res.statuses[0] !== 0) throw new Error(`node:wasi ${argv.join(' ')}: ${res.error ?? r.stderr}`);
  return r.stdout.toString(); // the guest writes to the child's own stdout
}
const ops = (out) => Object.fromEntries([...out.matchAll(/^(op|warm) (\S+)\s+\d+ ([\d.]+)$/gm)].map((m) => [m[1] === 'op' ? m[2] : `warm ${m[2]}`, Number(m[3]) / 1000]));
/** GB/s of each `read` line of bigfile's output, in order (the first pass, the second). */
const readGBs = (out) => [...out.matchAll(/read \S+ n=(\d+) ns=(\d+)/g)].map((m) => Number(m[1]) / Number(m[2]));

const configs = {
  'node:wasi (preopen of the same directory)': {
    opbench: () => nodewasi(path.join(ROOT, 'dist/guests/opbench.wasm'), ['opbench', OPB_N, '/mnt/opbench', '2']),
    read: () => nodewasi(path.join(ROOT, 'dist/guests/bigfile.wasm'), ['bigfile', ...READ_TWICE]),
  },
  'sandbox -v, gofer inline (default)': {
    opbench: () => sandbox('inline', ['/bin/opbench', OPB_N, '/mnt/opbench', '2']),
    read: () => sandbox('inline', ['/bin/bigfile', ...READ_TWICE]),
  },
  'sandbox -v, gofer worker': {
    opbench: () => sandbox('worker', ['/bin/opbench', OPB_N, '/mnt/opbench', '2']),
    read: () => sandbox('worker', ['/bin/bigfile', ...READ_TWICE]),
  },
};
const results = {};
for (let round = 1; round <= Math.max(RUNS, READ_RUNS); round++) {
  for (const [name, c] of Object.entries(configs)) {
    say(`round ${round}/${Math.max(RUNS, READ_RUNS)}: ${name}`);
    const slot = (results[name] ??= { ops: [], read: [] });
    if (round <= RUNS) {
      fs.rmSync(path.join(host, 'opbench'), { recursive: true, force: true });
      slot.ops.push(ops(c.opbench()));
    }
    if (round <= READ_RUNS) slot.read.push(readGBs(c.read()));
  }
}
const OPS = ['stat', 'open+close', 'pread-4k', 'pwrite-4k', 'create+unlink', 'mkdir+rmdir', 'rename', 'readdir-100'];
const table = {};
for (const [name, r] of Object.entries(results)) {
  table[name] = { read1MiBGBs: median(r.read.map((x) => x[0])), 'warm read1MiBGBs': median(r.read.map((x) => x[1])) };
  for (const op of OPS) {
    table[name][op] = median(r.ops.map((o) => o[op]));
    table[name][`warm ${op}`] = median(r.ops.map((o) => o[`warm ${op}`]));
  }
}
const ref = table['node:wasi (preopen of the same directory)'];
const fmt = (x, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : '—');
/** A throughput, and beside it (but for the reference) its share of the reference's. */
const gbs = (t, r, k) => `${fmt(t[k])}${t === r ? '' : ` (${fmt(t[k] / r[k])}×)`}`;
const md = [
  '## The gofer',
  '',
  `${os.cpus().length} × ${os.cpus()[0]?.model}, Node ${process.version}, ${new Date().toISOString()}; ${QUICK ? 'quick set, ' : ''}medians of ${RUNS} runs (the reads: ${READ_RUNS}).`,
  '',
  '### No-op round trip',
  '',
  '| path | µs |',
  '| --- | --- |',
  `| inline (a call in the sandbox's thread) | ${fmt(roundTrip.inlineNs / 1000, 3)} |`,
  `| worker, back to back (the gofer still spinning from the last answer) | ${fmt(roundTrip.workerNs / 1000, 3)} |`,
  `| worker, after a 1 ms pause (the gofer asleep in Atomics.wait: a futex wake-up) | ${fmt(roundTrip.workerAfterPauseNs / 1000, 1)} |`,
  '',
  '### One host call: renameat2 on that tmpfs, through the addon, back to back and with K KiB of memory read between calls',
  '',
  "What the same system call costs when other work runs between calls (the loop's time minus that of the reads alone): a sandbox does its own work (guest, glue, kernel, gofer) between two host calls, and the host kernel then runs with caches that work has taken.",
  '',
  `| ${HC_KB.map((k) => `${k} KiB between`).join(' | ')} |`,
  `| ${HC_KB.map(() => '---').join(' | ')} |`,
  `| ${HC_KB.map((k) => `${fmt(hostCall[k] / 1000)} µs`).join(' | ')} |`,
  '',
  `### A bind mount (-v) on tmpfs, opbench ${OPB_N} iterations (µs per operation), and 1 MiB reads of a ${READ_MIB} MiB file`,
  '',
  `| configuration | ${OPS.join(' | ')} | 1 MiB reads (GB/s) |`,
  `| --- | ${OPS.map(() => '---').join(' | ')} | --- |`,
  ...Object.entries(table).map(([name, t]) => `| ${name} | ${OPS.map((o) => `${fmt(t[o])}${t === ref ? '' : ` (${fmt(t[o] / ref[o])}×)`}`).join(' | ')} | ${gbs(t, ref, 'read1MiBGBs')} |`),
  '',
  "Beside each time, its multiple of node:wasi's (lower is faster); beside each throughput, its share of node:wasi's (higher is faster). The sandbox runs opbench from its kept code (TurboFan's, [cli.md](../../docs/cli.md#start-up)) from its second run on; node:wasi compiles it at every run (Liftoff first, TurboFan once hot).",
  '',
  'The same, second pass in the same process (warmed up: V8 has compiled the glue and the gofer by then):',
  '',
  `| configuration | ${OPS.join(' | ')} | 1 MiB reads (GB/s) |`,
  `| --- | ${OPS.map(() => '---').join(' | ')} | --- |`,
  ...Object.entries(table).map(([name, t]) => `| ${name} | ${OPS.map((o) => `${fmt(t[`warm ${o}`])}${t === ref ? '' : ` (${fmt(t[`warm ${o}`] / ref[`warm ${o}`])}×)`}`).join(' | ')} | ${gbs(t, ref, 'warm read1MiBGBs')} |`),
  '',
];
fs.mkdirSync(path.join(ROOT, 'bench/results'), { recursive: true });
fs.writeFileSync(path.join(ROOT, `bench/results/gofer${QUICK ? '-quick' : ''}.md`), md.join('\n')); // --quick never overwrites the full figures
fs.writeFileSync(path.join(ROOT, `bench/results/gofer${QUICK ? '-quick' : ''}.json`), JSON.stringify({ quick: QUICK, roundTrip, hostCall, table }, null, 2));
process.stdout.write(md.join('\n'));
