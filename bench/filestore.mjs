// `npm run bench:filestore`: what the filestore costs and where its data lives, for every mode.
//
// For each of root:self, root:memory and root:dir=, one sandbox writes 1 GiB into /tmp/big in 1 MiB
// blocks, pauses (the harness then reads `du -sb` of the upper directory and the host process's
// RssAnon / RssShmem / RssFile from /proc), re-reads it, does random 4 KiB pwrites and preads over
// it (twice, at the same offsets), deletes it, and pauses again (du and memory once more). Then a
// size=64m run writes 100 MiB and must stop with ENOSPC near 64 MiB. The same large-file workload
// runs under node:wasi for reference in the same run, twice: in a tmpfs directory, and in a
// directory on the disk that holds root:self's upper directory (the same file system's costs).
// Results: bench/results/filestore.json and .md.
//
// Every configuration runs --runs times (default 3), the configurations alternating; throughput and
// latency are medians, `du` while written the smallest seen, `du` after rm and RssAnon growth the
// largest (the figures the issue bounds, taken at their least favourable).
//
// Usage: node bench/filestore.mjs [--mib N] [--rand N] [--runs N]
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
process.env.WASMBOX_GUEST_CODE ??= 'sync'; // as bench/lib/setup.mjs says
const require = createRequire(import.meta.url);
const lib = require(path.join(root, 'dist', 'lib.js'));
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const MIB = opt('--mib', 1024);
const RAND = opt('--rand', 200000);
const RUNS = opt('--runs', 3);

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'wasmbox-bench-fs-'));
/** The file system the work directory (root:self's upper) is on, as df names it. */
const diskName = (() => {
  const r = spawnSync('df', ['--output=fstype,source', work], { encoding: 'utf8' });
  const [type, source] = (r.stdout.split('\n')[1] || '').trim().split(/\s+/);
  return type ? `${type} (${source})` : 'the work directory\'s disk';
})();
process.on('exit', () => fs.rmSync(work, { recursive: true, force: true }));
const image = path.join(work, 'image.tar');
lib.writeImage(
  {
    layers: [[{ path: 'bigfile', type: 'file', data: fs.readFileSync(path.join(root, 'dist/guests/bigfile.wasm')), mode: 0o755 }, { path: 'tmp', type: 'dir' }]],
    entrypoint: ['/bigfile'],
  },
  image,
  { format: 'oci' },
);

function procMem(pid) {
  const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = fs.readFileSync('/proc/meminfo', 'utf8');
  const kb = (t, k) => Number((new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(t) || [0, 0])[1]) * 1024;
  // the host process's anonymous memory, and the machine's shared memory (memfd, tmpfs)
  return { anon: kb(s, 'RssAnon'), shmem: kb(m, 'Shmem') };
}

function du(dir) {
  const r = spawnSync('du', ['-sb', dir], { encoding: 'utf8' });
  return Number(r.stdout.split('\t')[0]);
}

// rand twice: bigfile's generator starts from the same seed each time, so the second round goes to
// the same offsets, pages the first round has mapped (the first round meets them unmapped)
const steps = (p) => ['write', p, String(MIB), 'mark', 'written', 'sleep', '1500', 'read', p, 'rand', p, String(RAND), 'rand', p, String(RAND), 'rm', p, 'mark', 'removed', 'sleep', '1500'];
/** The figures of a bigfile run's output: throughputs, and both rand rounds' per-call times. */
function figures(out) {
  const get = (re) => (re.exec(out) || [])[1];
  const rand = [...out.matchAll(/pwrite_ns=([\d.]+) pread_ns=([\d.]+)/g)].map((m) => [Number(m[1]) / 1000, Number(m[2]) / 1000]);
  return {
    writeGBs: (MIB * 2 ** 20) / Number(get(/^write \S+ n=\d+ ns=(\d+)/m)),
    readGBs: (MIB * 2 ** 20) / Number(get(/^read \S+ n=\d+ ns=(\d+)/m)),
    pwriteUs: rand[0]?.[0] ?? NaN,
    preadUs: rand[0]?.[1] ?? NaN,
    pwriteAgainUs: rand[1]?.[0] ?? NaN,
    preadAgainUs: rand[1]?.[1] ?? NaN,
  };
}

/** Runs one sandbox; samples du and memory at the marks. */
function runMode(mode) {
  return new Promise((resolve, reject) => {
    const upper = fs.mkdtempSync(path.join(work, 'upper-'));
    const dirArg = mode === 'root:dir' ? `root:dir=${upper}` : mode;
    const child = spawn(process.execPath, [path.join(root, 'host/run.js'), '--overlay2', dirArg, '--upper-dir', upper, image, ...steps('/tmp/big')], { cwd: root });
    const start = procMem(child.pid);
    const res = { mode, start };
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      if (out.includes('mark written') && !res.written) res.written = { du: du(upper), mem: procMem(child.pid) };
      if (out.includes('mark removed') && !res.removed) res.removed = { du: du(upper), mem: procMem(child.pid) };
    });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`${mode}: exit ${code}: ${err}`));
      Object.assign(res, figures(out));
      res.leftover = fs.readdirSync(upper);
      resolve(res);
    });
  });
}

/** node:wasi with a fresh directory under `base` preopened: /dev/shm (a tmpfs), or the disk root:self's upper is on. */
function runNodeWasi(base, mode) {
  const dir = fs.mkdtempSync(path.join(base, 'wasmbox-bench-'));
  const runner = `
    const { WASI } = require('node:wasi');
    const fs = require('node:fs');
    const wasi = new WASI({ version: 'preview1', args: ['bigfile', ...${JSON.stringify(steps('/big').filter((s, i, a) => a[i] !== 'mark' && a[i - 1] !== 'mark' && a[i] !== 'sleep' && a[i - 1] !== 'sleep'))}], preopens: { '/': ${JSON.stringify(dir)} } });
    const m = new WebAssembly.Module(fs.readFileSync(${JSON.stringify(path.join(root, 'dist/guests/bigfile.wasm'))}));
    wasi.start(new WebAssembly.Instance(m, { wasi_snapshot_preview1: wasi.wasiImport }));`;
  const r = spawnSync(process.execPath, ['--no-warnings', '-e', runner], { encoding: 'utf8' });
  fs.rmSync(dir, { recursive: true, force: true });
  if (r.status !== 0) throw new Error(`${mode}: exit ${r.status}: ${r.stderr}`);
  return { mode, ...figures(r.stdout) };
}

function runLimit() {
  const r = spawnSync(process.execPath, [path.join(root, 'host/run.js'), '--overlay2', 'root:self,size=64m', image, 'write', '/tmp/a', '10', 'hash', '/tmp/a', 'write', '/tmp/big', '100', 'hash', '/tmp/a'], { encoding: 'utf8', cwd: root });
  const out = r.stdout.split('\n');
  const n = Number((/n=(\d+) error=ENOSPC/.exec(out[2]) || [])[1]);
  return { status: r.status, stoppedAtMiB: n / 2 ** 20, totalMiB: (n + 10 * 2 ** 20) / 2 ** 20, intact: out[1] === out[3] && out[1] !== '' };
}

const MB = (b) => (b / 2 ** 20).toFixed(1);
const median = (xs) => {
  const a = [...xs].sort((x, y) => x - y);
  return a.length % 2 ? a[(a.length - 1) / 2] : (a[a.length / 2 - 1] + a[a.length / 2]) / 2;
};
const MODES = ['root:self', 'root:memory', 'root:dir'];
const runs = Object.fromEntries([...MODES, 'native', 'nativeDisk'].map((m) => [m, []]));
for (let i = 0; i < RUNS; i++) {
  for (const mode of MODES) {
    process.stderr.write(`bench:filestore: run ${i + 1}/${RUNS}: ${mode} (${MIB} MiB)...\n`);
    runs[mode].push(await runMode(mode));
  }
  process.stderr.write(`bench:filestore: run ${i + 1}/${RUNS}: node:wasi on tmpfs...\n`);
  runs.native.push(runNodeWasi('/dev/shm', 'node:wasi, tmpfs'));
  process.stderr.write(`bench:filestore: run ${i + 1}/${RUNS}: node:wasi on ${diskName}...\n`);
  runs.nativeDisk.push(runNodeWasi(work, `node:wasi, ${diskName}`));
}
process.stderr.write('bench:filestore: size limit...\n');
const limit = runLimit();

/** One row per configuration: medians of the speeds, the least favourable of the space figures. */
const summarize = (mode, rs) => {
  const out = { mode: rs[0].mode ?? mode, runs: rs.length };
  for (const k of ['writeGBs', 'readGBs', 'pwriteUs', 'preadUs', 'pwriteAgainUs', 'preadAgainUs']) out[k] = median(rs.map((r) => r[k]));
  if (rs[0].written) {
    out.duWritten = Math.min(...rs.map((r) => r.written.du));
    out.duRemoved = Math.max(...rs.map((r) => r.removed.du));
    out.anonGrowth = Math.max(...rs.map((r) => Math.max(r.written.mem.anon, r.removed.mem.anon) - r.start.anon));
    out.shmemWritten = median(rs.map((r) => r.written.mem.shmem - r.start.shmem));
    out.shmemRemoved = median(rs.map((r) => r.removed.mem.shmem - r.start.shmem));
  }
  return out;
};
const results = MODES.map((m) => summarize(m, runs[m]));
const native = summarize('node:wasi, tmpfs', runs.native);
const nativeDisk = summarize(`node:wasi, ${diskName}`, runs.nativeDisk);

const rows = [
  // du -sb is what kubelet-style accounting of --upper-dir sees (root:dir= unlinks its file at once, so du cannot).
  '| mode | write GB/s | re-read GB/s | 4K rand pwrite µs | 4K rand pread µs | the same offsets again: pwrite µs | pread µs | du -sb upper, written (MiB) | du -sb upper after rm (MiB) | host RssAnon growth (MiB) | machine Shmem growth, written (MiB) | after rm (MiB) |',
  '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
];
const speeds = (r) => `${r.writeGBs.toFixed(2)} | ${r.readGBs.toFixed(2)} | ${r.pwriteUs.toFixed(2)} | ${r.preadUs.toFixed(2)} | ${r.pwriteAgainUs.toFixed(2)} | ${r.preadAgainUs.toFixed(2)}`;
for (const r of results) {
  rows.push(`| ${r.mode} | ${speeds(r)} | ${MB(r.duWritten)} | ${MB(r.duRemoved)} | ${MB(r.anonGrowth)} | ${MB(r.shmemWritten)} | ${MB(r.shmemRemoved)} |`);
}
for (const r of [native, nativeDisk]) rows.push(`| ${r.mode} | ${speeds(r)} | | | | | |`);
const md = [
  `# Filestore benchmark`,
  '',
  `${os.cpus().length} × ${os.cpus()[0].model}, ${MB(os.totalmem())} MiB, Node ${process.version}, ${new Date().toISOString()}.`,
  `Each sandbox writes ${MIB} MiB in 1 MiB blocks, re-reads it, does ${RAND} random 4 KiB pwrites and then preads over it, the same again at the same offsets, then deletes it.`,
  `root:self's upper directory and the second node:wasi row's directory are on ${diskName}; root:dir= puts its file there too.`,
  `${RUNS} runs per configuration, alternating: speeds are medians; du while written is the smallest seen, du after rm and RssAnon growth the largest.`,
  'RssAnon growth is the host process\'s anonymous memory at its highest sample minus at start.',
  '',
  ...rows,
  '',
  `Size limit (root:self,size=64m): a 10 MiB file, then 100 MiB: ENOSPC after ${limit.stoppedAtMiB.toFixed(1)} MiB (${limit.totalMiB.toFixed(1)} MiB in all); the first file ${limit.intact ? 'intact (same hash)' : 'CHANGED'}; exit ${limit.status}.`,
  '',
];
fs.mkdirSync(path.join(root, 'bench/results'), { recursive: true });
fs.writeFileSync(path.join(root, 'bench/results/filestore.md'), md.join('\n'));
fs.writeFileSync(path.join(root, 'bench/results/filestore.json'), JSON.stringify({ mib: MIB, rand: RAND, runs: RUNS, results, native, nativeDisk, limit, samples: runs }, null, 2));
process.stdout.write(md.join('\n'));
