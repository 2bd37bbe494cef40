// `npm run bench` / `npm run bench:quick`: the seed's two benchmarks and a per-operation one, every
// rootfs mode and the peers side by side, in one process tree, alternating, medians of the runs.
//
//   fsstress   our port (guests/fsstress.c), `-n 500 -p 20 -s 1680153482 -l 10` (100,000 ops);
//              its result log must match node:wasi-on-tmpfs's for the same seed (a fast wrong answer
//              does not count)
//   build      clang++ (@yowasp/clang, a plain WASI command, in the image) compiles LevelDB 1.20's
//              43 translation units: sources on a bind mount, objects into the root file system
//   opbench    per-operation latency from inside the guest (guests/opbench.c), 20,000 iterations, then
//              a second pass in the same process (the steady state, after the JIT warm-up)
//   churn      a write-heavy file churn (guests/churn.c): 40,000 random creates, appends,
//              overwrites, truncates, unlinks, renames and stats over 200 files of 4-256 KiB; its
//              digest of every file's final contents must match node:wasi-on-tmpfs's
//
// fsstress and churn also run as native programs built with the system's gcc (when there is one)
// on the same tmpfs, and report whole-process wall time beside the guest's own clock.
// Configurations: native = node:wasi with / on (a) a tmpfs, (b) a directory on disk, (c) a real
// overlayfs (lower: the extracted image; upper: on disk), which is how Docker runs a container;
// sandbox = --overlay2 none / root:memory / root:self, each with the gofer as a worker and inline;
// peers = @wasmer/wasi 1.2.2 and @bjorn3/browser_wasi_shim (fsstress and opbench only).
// Overhead = (sandbox - native) / native against (c), as the seed reports it.
//
// Results: bench/results/latest.json, latest.md (tables) and overhead.svg (chart).
//   gofer      the gofer's round trip, and a bind mount against node:wasi (bench/gofer.mjs)
// A full run takes over an hour (the build alone is ~12 min a round), so it can be taken in parts:
// --only picks workloads and --configs picks configurations (ids: native-tmpfs, native-disk,
// native-overlay, gcc-tmpfs, sandbox-{none,memory,self}-{worker,inline}, peer-wasmer, peer-shim; native-tmpfs,
// the correctness reference, always runs). A full (not --quick) run merges into the previous
// latest.json: what it did not run keeps its earlier figures, and every row says how many runs and
// which date it comes from.
//
// Usage: node bench/run.mjs [--quick] [--runs N] [--only fsstress,build,opbench,churn,gofer] [--configs id,...]
// One run at a time (bench/.work/lock): a second one exits with status 3 and says which pid holds it.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  ROOT, CLANG_WASM, LEVELDB, benchImage, compileArgs, copyTree, extract, mountOverlay, mountTmpfs, resetRoot, translationUnits, unmount,
} from './lib/setup.mjs';
import { overheadChart } from './lib/chart.mjs';
import { QUICK_TUS } from './lib/setup.mjs';

const argv = process.argv.slice(2);
const QUICK = argv.includes('--quick');
const arg = (name, dflt) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : dflt);
const RUNS = Number(arg('--runs', QUICK ? 1 : 5));
const ONLY = new Set(arg('--only', 'fsstress,build,opbench,churn,gofer').split(','));
const CONFIGS = argv.includes('--configs') ? new Set(['native-tmpfs', ...arg('--configs', '').split(',')]) : null;
const work = path.join(ROOT, 'bench', '.work');
const cacheDir = path.join(work, 'cache');
fs.mkdirSync(cacheDir, { recursive: true });
const t0 = Date.now();
const say = (m) => process.stderr.write(`bench [${((Date.now() - t0) / 1000).toFixed(0)}s] ${m}\n`);

// One run at a time: a second one would rebuild the roots under the first and unmount its tmpfs
// when it exits. The lock file holds the pid; a lock whose process is gone is taken over.
const lockFile = path.join(work, 'lock');
for (;;) {
  try {
    fs.writeFileSync(lockFile, `${process.pid}\n`, { flag: 'wx' });
    break;
  } catch (e) {
    if (e.code !== 'EEXIST') throw e;
    const pid = Number(fs.readFileSync(lockFile, 'utf8').trim());
    let alive = false;
    try {
      alive = Number.isInteger(pid) && pid > 0 && (process.kill(pid, 0), true);
    } catch (k) {
      alive = k.code === 'EPERM';
    }
    if (alive) {
      process.stderr.write(`bench: another benchmark run (pid ${pid}) is using ${path.relative(ROOT, work)}; wait for it to finish\n`);
      process.exit(3);
    }
    fs.rmSync(lockFile, { force: true });
  }
}
process.on('exit', () => {
  try {
    if (fs.readFileSync(lockFile, 'utf8').trim() === String(process.pid)) fs.rmSync(lockFile);
  } catch {
    // gone already
  }
});

if (process.getuid?.() !== 0) say('not root: the native overlayfs configuration (c) is skipped (it needs mount)');

// ---------------------------------------------------------------------------------------------
// Set-up

say('building the bench image');
const image = benchImage(work);
const rootfs = path.join(work, 'rootfs');
say('extracting it for the native configurations');
extract(image, rootfs, cacheDir);
const tmpfsDir = path.join(work, 'tmpfs');
const haveTmpfs = mountTmpfs(tmpfsDir);
const nativeTmpfs = haveTmpfs ? path.join(tmpfsDir, 'root') : path.join('/dev/shm', `wasmbox-bench-${process.pid}`);
copyTree(rootfs, nativeTmpfs);
const nativeDisk = path.join(work, 'disk-root');
copyTree(rootfs, nativeDisk);
const noneRoot = path.join(work, 'none-root');
copyTree(rootfs, noneRoot);
// none's root on the tmpfs too, to set against node:wasi on a tmpfs (issue 15)
const noneTmpfsRoot = haveTmpfs ? path.join(tmpfsDir, 'none-root') : path.join('/dev/shm', `wasmbox-bench-none-${process.pid}`);
copyTree(rootfs, noneTmpfsRoot);
const ovlMnt = path.join(work, 'ovl-mnt');
const ovlState = path.join(work, 'ovl-state');
const haveOverlay = process.getuid?.() === 0 && mountOverlay(rootfs, ovlState, ovlMnt);
if (!haveOverlay) say('overlayfs is not available: configuration (c) is skipped');
unmount(ovlMnt);
const logDir = path.join(work, 'log');
fs.mkdirSync(logDir, { recursive: true });
// ^C or a kill still unmounts (the exit handler below)
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => process.exit(128 + os.constants.signals[sig]));
process.on('exit', () => {
  unmount(ovlMnt);
  if (haveTmpfs) unmount(tmpfsDir);
  else for (const d of [nativeTmpfs, noneTmpfsRoot]) fs.rmSync(d, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------
// Configurations

const native = [
  { id: 'native-tmpfs', label: 'node:wasi, tmpfs', kind: 'native', root: () => nativeTmpfs },
  { id: 'native-disk', label: 'node:wasi, disk', kind: 'native', root: () => nativeDisk },
  ...(haveOverlay ? [{ id: 'native-overlay', label: 'node:wasi, overlayfs (Docker)', kind: 'native', root: () => (mountOverlay(rootfs, ovlState, ovlMnt), ovlMnt), after: () => unmount(ovlMnt) }] : []),
];
// the same C programs built natively with the system's gcc, on the same tmpfs (fsstress and churn)
const gccDir = path.join(work, 'gcc');
const gccOk = (() => {
  if (spawnSync('gcc', ['--version']).status !== 0) return false;
  fs.mkdirSync(gccDir, { recursive: true });
  for (const g of ['fsstress', 'churn']) {
    // wasi-libc's ENOTCAPABLE has no Linux counterpart: any unused number does
    const r = spawnSync('gcc', ['-O2', '-DENOTCAPABLE=76', '-o', path.join(gccDir, g), path.join(ROOT, 'guests', `${g}.c`)], { encoding: 'utf8' });
    if (r.status !== 0) {
      say(`gcc could not build guests/${g}.c: ${r.stderr.trim().split('\n')[0]}`);
      return false;
    }
  }
  return true;
})();
if (!gccOk) say('no gcc here: the native gcc configuration is skipped');
const gccRoot = path.join(haveTmpfs ? tmpfsDir : '/dev/shm', `gcc-root-${process.pid}`);
const gcc = gccOk ? [{ id: 'gcc-tmpfs', label: 'native gcc, tmpfs', kind: 'gcc', root: () => gccRoot }] : [];
process.on('exit', () => fs.rmSync(gccRoot, { recursive: true, force: true }));

const sandbox = [];
for (const [mode, flags] of [
  ['none', ['--overlay2', 'none', '--rootfs', noneRoot]],
  ['none-tmpfs', ['--overlay2', 'none', '--rootfs', noneTmpfsRoot]],
  ['root:memory', ['--overlay2', 'root:memory']],
  ['root:self', ['--overlay2', 'root:self']],
]) {
  const label = mode === 'none' ? 'none (root on disk)' : mode === 'none-tmpfs' ? 'none (root on a tmpfs)' : mode;
  for (const gofer of ['worker', 'inline']) {
    sandbox.push({ id: `sandbox-${mode.replace('root:', '')}-${gofer}`, label: `sandbox ${label}, gofer ${gofer}`, kind: 'sandbox', flags: [...flags, '--gofer', gofer], root: flags[3] });
  }
}
const peers = [
  { id: 'peer-wasmer', label: '@wasmer/wasi 1.2.2 (MemFS)', kind: 'peer', runtime: 'wasmer' },
  { id: 'peer-shim', label: '@bjorn3/browser_wasi_shim 0.4.2', kind: 'peer', runtime: 'shim' },
];

// ---------------------------------------------------------------------------------------------
// Running one configuration once

function runNative(cfg, runs, { wasm, src = false, collect }) {
  const root = cfg.root();
  resetRoot(root);
  const preopens = { '/': root, '/log': logDir };
  if (src) preopens['/src'] = LEVELDB;
  const spec = { runtime: 'nodewasi', wasm, runs, preopens };
  const t = performance.now();
  const r = spawnSync(process.execPath, ['--no-warnings', path.join(ROOT, 'bench/lib/child.mjs'), JSON.stringify(spec)], {
    stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
    maxBuffer: 256 << 20,
    timeout: 30 * 60_000,
  });
  const wallMs = performance.now() - t;
  const collected = collect?.(root);
  cfg.after?.();
  const res = r.output[3]?.length ? JSON.parse(r.output[3].toString()) : { error: `exit ${r.status} ${r.signal ?? ''}` };
  return { ...res, wallMs, stdout: r.stdout.toString(), stderr: r.stderr.toString(), collected };
}

/** A gcc-built program, `argv` with '{root}' standing for the fresh tmpfs directory it works in. */
function runGcc(cfg, prog, argv) {
  const root = cfg.root();
  fs.rmSync(root, { recursive: true, force: true });
  fs.mkdirSync(root, { recursive: true });
  const t = performance.now();
  const r = spawnSync(path.join(gccDir, prog), argv.map((a) => a.replace('{root}', root)), { maxBuffer: 256 << 20, timeout: 30 * 60_000 });
  const wallMs = performance.now() - t;
  return { wallMs, statuses: [r.status], stdout: r.stdout.toString(), stderr: r.stderr.toString(), error: r.status === null ? 'killed' : undefined };
}

function runPeer(cfg, runs, { wasm, dirs }) {
  const spec = { runtime: cfg.runtime, wasm, runs, preopens: {}, dirs };
  const r = spawnSync(process.execPath, ['--no-warnings', path.join(ROOT, 'bench/lib/child.mjs'), JSON.stringify(spec)], { maxBuffer: 256 << 20, timeout: 10 * 60_000 });
  try {
    return JSON.parse(r.stdout.toString().trim().split('\n').pop());
  } catch {
    return { error: r.signal === 'SIGTERM' ? 'timed out (10 min)' : `exit ${r.status}: ${r.stderr.toString().split('\n')[0]}` };
  }
}

function runSandbox(cfg, command, { src = false } = {}) {
  if (cfg.root) resetRoot(cfg.root);
  const vols = ['-v', `${logDir}:/log`, ...(src ? ['-v', `${LEVELDB}:/src:ro`] : [])];
  const args = [path.join(ROOT, 'host/run.js'), '--cache-dir', cacheDir, ...cfg.flags, ...vols];
  if (!cfg.flags.includes('none')) args.push(image);
  else args.push(image); // the image supplies the config; --rootfs the files
  const t = performance.now();
  const r = spawnSync(process.execPath, [...args, ...command], { maxBuffer: 256 << 20, timeout: 30 * 60_000 });
  return { ms: performance.now() - t, statuses: [r.status], stdout: r.stdout.toString(), stderr: r.stderr.toString(), error: r.status === null ? 'killed' : undefined };
}

// ---------------------------------------------------------------------------------------------
// Workloads

const FSS = QUICK ? ['-n', '500', '-p', '10', '-s', '1680153482', '-l', '1'] : ['-n', '500', '-p', '20', '-s', '1680153482', '-l', '10'];
const FSS_ARGV = ['fsstress', '-d', '/work/fss', ...FSS, '-T', '-L'];
const OPB_N = QUICK ? '1000' : '20000';
const CHURN = QUICK ? ['4000', '200', '7'] : ['40000', '200', '7']; // operations, files, seed
const TUS = QUICK ? translationUnits().slice(0, QUICK_TUS) : translationUnits();

const workloads = {
  fsstress: {
    title: `fsstress ${FSS.join(' ')}`,
    configs: [...native, ...gcc, ...sandbox, ...peers],
    run(cfg) {
      const wasm = path.join(ROOT, 'dist/guests/fsstress.wasm');
      const r =
        cfg.kind === 'native' ? runNative(cfg, [FSS_ARGV], { wasm })
        : cfg.kind === 'gcc' ? runGcc(cfg, 'fsstress', ['-d', '{root}/fss', ...FSS_ARGV.slice(3)])
        : cfg.kind === 'peer' ? runPeer(cfg, [FSS_ARGV], { wasm, dirs: ['/work', '/tmp'] })
        : runSandbox(cfg, ['/bin/fsstress', ...FSS_ARGV.slice(1)]);
      const ns = /fsstress: elapsed_ns (\d+)/.exec(r.stderr ?? '');
      const log = (r.stdout ?? '').split('\n').filter((l) => /^\d+ /.test(l) || l.startsWith('fsstress seed')).join('\n');
      return { value: ns ? Number(ns[1]) / 1e9 : NaN, wall: (r.wallMs ?? r.ms) / 1000, unit: 's', log, error: r.error ?? (r.statuses?.[0] !== 0 ? `exit ${r.statuses?.[0]}: ${(r.stderr ?? '').trim().split('\n').pop()}` : undefined) };
    },
  },
  churn: {
    title: `churn ${CHURN.join(' ')}`,
    configs: [...native, ...gcc, ...sandbox],
    run(cfg) {
      const wasm = path.join(ROOT, 'dist/guests/churn.wasm');
      const argv = ['churn', ...CHURN, '/work/churn'];
      const r =
        cfg.kind === 'native' ? runNative(cfg, [argv], { wasm })
        : cfg.kind === 'gcc' ? runGcc(cfg, 'churn', [...CHURN, '{root}/churn'])
        : runSandbox(cfg, ['/bin/churn', ...argv.slice(1)]);
      const ns = /churn: elapsed_ns (\d+)/.exec(r.stderr ?? '');
      const log = /^churn digest .*$/m.exec(r.stdout ?? '')?.[0];
      return { value: ns ? Number(ns[1]) / 1e9 : NaN, wall: (r.wallMs ?? r.ms) / 1000, unit: 's', log, error: r.error ?? (r.statuses?.[0] !== 0 ? `exit ${r.statuses?.[0]}: ${(r.stdout + r.stderr).trim().split('\n').pop()}` : undefined) };
    },
  },
  build: {
    title: `clang++ -O1, LevelDB 1.20, ${TUS.length} translation units`,
    // --quick: the reference, Docker's layout, and the overlay against none (each config costs ~10 s)
    configs: [...native, ...sandbox].filter((c) => !QUICK || ['native-tmpfs', 'native-overlay', 'sandbox-none-inline', 'sandbox-self-inline'].includes(c.id)),
    run(cfg) {
      if (cfg.kind === 'native') {
        const r = runNative(cfg, TUS.map(compileArgs), { wasm: CLANG_WASM, src: true, collect: (root) => objectSizes(path.join(root, 'out')) });
        const bad = r.statuses?.findIndex((s) => s !== 0) ?? -1;
        return { value: r.ms / 1000, unit: 's', log: r.collected, error: r.error ?? (bad >= 0 ? `unit ${TUS[bad]} failed` : undefined) };
      }
      const r = runSandbox(cfg, ['/bin/sh', QUICK ? '/bench/build-quick.sh' : '/bench/build-full.sh'], { src: true });
      const stamps = (r.stdout.match(/^\d{16,}$/gm) ?? []).map(Number);
      const sizes = r.stdout.split('\n').filter((l) => /^\s*\d+ \/out\//.test(l)).map((l) => l.trim().replace(/\s+/, ' ')).join('\n');
      return { value: stamps.length === 2 ? (stamps[1] - stamps[0]) / 1e9 : NaN, unit: 's', log: sizes, error: r.statuses[0] !== 0 ? `exit ${r.statuses[0]}: ${r.stderr.trim().split('\n').pop()}` : undefined };
    },
  },
  opbench: {
    title: `opbench, ${OPB_N} iterations (readdir: a tenth)`,
    configs: [...native, ...sandbox, ...peers],
    run(cfg) {
      const wasm = path.join(ROOT, 'dist/guests/opbench.wasm');
      const a = ['opbench', OPB_N, '/tmp/opbench', '2'];
      const r = cfg.kind === 'native' ? runNative(cfg, [a], { wasm }) : cfg.kind === 'peer' ? runPeer(cfg, [a], { wasm, dirs: ['/tmp'] }) : runSandbox(cfg, ['/bin/opbench', ...a.slice(1)]);
      const ops = {};
      // pass 1 ("op"): the issue's figure, warm-up included; pass 2 ("warm"): the steady state
      for (const m of (r.stdout ?? '').matchAll(/^(op|warm) (\S+)\s+\d+ ([\d.]+)$/gm)) ops[m[1] === 'op' ? m[2] : `warm ${m[2]}`] = Number(m[3]) / 1000;
      const err = /^error (.*)$/m.exec(r.stdout ?? '');
      return { value: ops, unit: 'µs', error: r.error ?? (err ? `opbench: ${err[1]}` : undefined) };
    },
  },
};

/** "size path" lines of the objects in `dir`, sorted: the build job's answer, compared across configs. */
function objectSizes(dir) {
  if (!fs.existsSync(dir)) return '';
  return fs.readdirSync(dir).sort().map((f) => `${fs.statSync(path.join(dir, f)).size} /out/${f}`).join('\n');
}

// ---------------------------------------------------------------------------------------------
// The runs: every configuration once per round, rounds alternating, then medians

const median = (xs) => {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return NaN;
  return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
};

const results = {};
// A failure part-way (a configuration that cannot even start) still reports every finished run.
let failure = null;
try {
for (const [name, w] of Object.entries(workloads)) {
  if (!ONLY.has(name)) continue;
  results[name] = { title: w.title, configs: {} };
  const ref = {}; // the reference answer (native tmpfs) for the correctness guard
  const configs = w.configs.filter((c) => !CONFIGS || CONFIGS.has(c.id));
  for (let round = 1; round <= RUNS; round++) {
    for (const cfg of configs) {
      say(`${name}: round ${round}/${RUNS}, ${cfg.label}`);
      const r = w.run(cfg);
      const slot = (results[name].configs[cfg.id] ??= { label: cfg.label, kind: cfg.kind, values: [], errors: [], wrong: 0, date: new Date().toISOString() });
      if (r.error) slot.errors.push(r.error);
      slot.values.push(r.value);
      if (r.wall !== undefined) (slot.walls ??= []).push(r.wall);
      if (r.log !== undefined) {
        if (cfg.id === 'native-tmpfs' && ref.log === undefined && !r.error) ref.log = r.log;
        else if (ref.log !== undefined && r.log !== ref.log) slot.wrong++;
      }
    }
  }
  for (const c of Object.values(results[name].configs)) {
    if (name === 'opbench') {
      c.median = {};
      for (const op of Object.keys(c.values.find((v) => v && Object.keys(v).length) ?? {})) c.median[op] = median(c.values.map((v) => v?.[op]));
    } else c.median = median(c.values);
    if (c.walls) c.wallMedian = median(c.walls);
  }
}
} catch (e) {
  failure = e;
  say(`stopped: ${e?.message ?? e}; reporting the runs that finished`);
  for (const [name, r] of Object.entries(results)) {
    for (const c of Object.values(r.configs)) {
      if (c.median !== undefined) continue;
      if (name === 'opbench') {
        c.median = {};
        for (const op of Object.keys(c.values.find((v) => v && Object.keys(v).length) ?? {})) c.median[op] = median(c.values.map((v) => v?.[op]));
      } else c.median = median(c.values);
    }
  }
}

// A full run merges into the previous one: workloads and configurations not run now keep theirs.
const out = QUICK ? 'quick' : 'latest';
const jsonFile = path.join(ROOT, `bench/results/${out}.json`);
if (!QUICK && fs.existsSync(jsonFile)) {
  let prev = null;
  try {
    prev = JSON.parse(fs.readFileSync(jsonFile, 'utf8'));
  } catch {
    say(`${jsonFile} does not parse: not merged`);
  }
  if (prev && !prev.quick && prev.results) {
    for (const [name, r] of Object.entries(prev.results)) {
      for (const c of Object.values(r.configs)) c.date ??= prev.date; // results from before per-row dates
      if (!results[name]) {
        results[name] = r;
        continue;
      }
      for (const [id, c] of Object.entries(r.configs)) if (!results[name].configs[id]) results[name].configs[id] = c;
    }
  }
}
// Rows in the configurations' order, whichever run they come from.
const order = [...native, ...gcc, ...sandbox, ...peers].map((c) => c.id);
for (const r of Object.values(results)) {
  r.configs = Object.fromEntries(Object.entries(r.configs).sort(([a], [b]) => order.indexOf(a) - order.indexOf(b)));
}
const runsOf = (c) => `${c.values.length}${c.date ? ` (${c.date.slice(0, 10)})` : ''}`;

// ---------------------------------------------------------------------------------------------
// Report

const nativeRef = haveOverlay ? 'native-overlay' : 'native-disk';
const fmt = (x, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : '—');
const status = (c) => (c.errors.length ? `fails: ${c.errors[0]}` : c.wrong ? `wrong results in ${c.wrong} of ${c.values.length} runs` : 'ok');
const md = [
  '# Benchmark results',
  '',
  `${os.cpus().length} × ${os.cpus()[0]?.model}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Linux ${os.release()}, Node ${process.version}, ${new Date().toISOString()}.`,
  `${QUICK ? 'Quick set' : 'Full set'}; medians of the runs each row names, configurations alternating within a run. Overhead = (s − n) / n against ${nativeRef === 'native-overlay' ? 'node:wasi on a real overlayfs (how Docker runs a container)' : 'node:wasi on disk (no overlayfs here)'}.`,
  "The sandbox runs a program's module from its kept code (TurboFan's, [cli.md](../../docs/cli.md#start-up)) from the program's second run on, as wasmtime's compilation cache would; node:wasi compiles it at every run (Liftoff first, TurboFan once hot).",
  '',
];
const overheads = {};
for (const name of ['fsstress', 'build', 'churn']) {
  const r = results[name];
  if (!r) continue;
  const n = r.configs[nativeRef]?.median;
  const walls = name !== 'build';
  md.push(`## ${r.title}`, '');
  if (walls) md.push("time: the guest's own clock around its work; whole process: from spawn to exit, start-up included.", '');
  md.push(`| configuration | time (s) |${walls ? ' whole process (s) |' : ''} overhead vs native | runs | result |`, `| --- | --- |${walls ? ' --- |' : ''} --- | --- | --- |`);
  if (name !== 'churn') overheads[name] = {};
  for (const [id, c] of Object.entries(r.configs)) {
    const oh = Number.isFinite(n) && n > 0 ? (c.median - n) / n : NaN;
    if (name !== 'churn') overheads[name][id] = { label: c.label, value: oh, bad: status(c) !== 'ok' };
    md.push(`| ${c.label} | ${fmt(c.median)} |${walls ? ` ${fmt(c.wallMedian)} |` : ''} ${id === nativeRef ? '(reference)' : Number.isFinite(oh) ? `${(oh * 100).toFixed(0)}%` : '—'} | ${runsOf(c)} | ${status(c)} |`);
  }
  md.push('');
}
if (results.opbench) {
  const r = results.opbench;
  const ops = ['stat', 'open+close', 'create+unlink', 'mkdir+rmdir', 'pwrite-4k', 'pread-4k', 'readdir-100', 'rename'];
  md.push(`## ${r.title} (µs per operation)`, '', `| configuration | ${ops.join(' | ')} | runs | result |`, `| --- | ${ops.map(() => '---').join(' | ')} | --- | --- |`);
  for (const c of Object.values(r.configs)) md.push(`| ${c.label} | ${ops.map((o) => fmt(c.median?.[o])).join(' | ')} | ${runsOf(c)} | ${status(c)} |`);
  md.push('');
  if (Object.values(r.configs).some((c) => Number.isFinite(c.median?.[`warm ${ops[0]}`]))) {
    md.push(
      '### The same, second pass in the same process (steady state)',
      '',
      "The first pass above is the issue's figure. It includes the runtime's warm-up: V8 compiles the hot paths (what remains of the sandbox's JavaScript on a call's path, the guest's wasm) only after some thousands of calls; the kernel's code is compiled at build time, and the commonest calls go through the WebAssembly glue, which has no such warm-up to speak of. The second pass shows the steady state.",
      '',
      `| configuration | ${ops.join(' | ')} |`,
      `| --- | ${ops.map(() => '---').join(' | ')} |`,
    );
    for (const c of Object.values(r.configs)) md.push(`| ${c.label} | ${ops.map((o) => fmt(c.median?.[`warm ${o}`])).join(' | ')} |`);
    md.push('');
  }
}
// The issue's targets against what was measured (all from the tables above).
{
  const med = (w, id) => results[w]?.configs[id]?.median;
  const rows = [];
  const row = (what, target, value, ok, note = '') => rows.push(`| ${what} | ${target} | ${value} | ${ok === undefined ? '—' : ok ? 'met' : 'missed'} | ${note} |`);
  const self = med('fsstress', 'sandbox-self-inline');
  const tmpfs = med('fsstress', 'native-tmpfs');
  if (Number.isFinite(self) && Number.isFinite(tmpfs)) row('fsstress, root:self ÷ node:wasi on tmpfs', '≤ 0.5×', `${fmt(self / tmpfs)}× (${fmt(self)} s ÷ ${fmt(tmpfs)} s)`, self / tmpfs <= 0.5);
  for (const none of ['sandbox-none-inline', 'sandbox-none-worker']) {
    const n = med('fsstress', none);
    // issue 6's target: the overlay's gain over a root that is all round trips; issue 15 made none
    // itself about as fast as node:wasi on the same file system, so the gain shrank by design
    if (Number.isFinite(self) && Number.isFinite(n)) row(`fsstress, ${results.fsstress.configs[none].label} ÷ root:self (issue 6)`, '≥ 30×', `${fmt(n / self, 1)}×`, n / self >= 30, n / self < 30 ? 'none is now near node:wasi on the same file system (issue 15), so the overlay gains less over it' : '');
  }
  // issue 15: none against node:wasi on the same kind of file system
  for (const [none, native, target] of [['sandbox-none-tmpfs-inline', 'native-tmpfs', 1.5], ['sandbox-none-inline', 'native-disk', 1.2]]) {
    const n = med('fsstress', none);
    const w = med('fsstress', native);
    if (Number.isFinite(n) && Number.isFinite(w)) row(`fsstress, ${results.fsstress.configs[none].label} ÷ ${results.fsstress.configs[native].label} (issue 15)`, `≤ ${target}×`, `${fmt(n / w)}× (${fmt(n)} s ÷ ${fmt(w)} s)`, n / w <= target);
  }
  // issue 20: the overlay against native gcc and node:wasi on a tmpfs, whole process
  const wall = (w, id) => results[w]?.configs[id]?.wallMedian;
  for (const w of ['fsstress', 'churn']) {
    const sb = wall(w, 'sandbox-self-inline');
    const g = wall(w, 'gcc-tmpfs');
    const nw = wall(w, 'native-tmpfs');
    if (Number.isFinite(sb) && Number.isFinite(g)) row(`${w}, root:self ÷ native gcc on tmpfs, whole process (issue 20)`, '≤ 1×', `${fmt(sb / g)}× (${fmt(sb)} s ÷ ${fmt(g)} s)`, sb / g <= 1);
    if (Number.isFinite(sb) && Number.isFinite(nw)) row(`${w}, root:self ÷ node:wasi on tmpfs, whole process (issue 20)`, '≤ 0.5×', `${fmt(sb / nw)}× (${fmt(sb)} s ÷ ${fmt(nw)} s)`, sb / nw <= 0.5);
  }
  const bSelf = med('build', 'sandbox-self-inline');
  const bRef = med('build', nativeRef);
  const bNone = med('build', 'sandbox-none-inline');
  if (Number.isFinite(bSelf) && Number.isFinite(bRef)) {
    const oh = (bSelf - bRef) / bRef;
    row('build, root:self overhead', '≤ 2%', `${(oh * 100).toFixed(1)}%`, oh <= 0.02, Number.isFinite(bNone) ? `none: ${(((bNone - bRef) / bRef) * 100).toFixed(1)}%` : '');
  }
  const opTargets = { stat: 0.5, 'open+close': 1, 'create+unlink': 2, 'mkdir+rmdir': 2, 'pwrite-4k': 0.5, 'pread-4k': 0.5, 'readdir-100': 5, rename: 1 };
  const ob = results.opbench?.configs['sandbox-self-inline']?.median;
  const on = results.opbench?.configs['native-tmpfs']?.median;
  if (ob) {
    for (const [op, t] of Object.entries(opTargets)) {
      if (!Number.isFinite(ob[op])) continue;
      const notes = [];
      if (Number.isFinite(ob[`warm ${op}`])) notes.push(`second pass: ${fmt(ob[`warm ${op}`])}`);
      if (on && Number.isFinite(on[op])) notes.push(`node:wasi on tmpfs: ${fmt(on[op])}${Number.isFinite(on[`warm ${op}`]) ? `, second pass ${fmt(on[`warm ${op}`])}` : ''}`);
      row(`opbench ${op}, root:self (µs)`, `≤ ${t}`, fmt(ob[op]), ob[op] <= t, notes.join('; '));
    }
  }
  if (rows.length) {
    md.push('## Targets', '', 'Where a target is missed, [analysis.md](analysis.md) has the profile and what remains.', '', '| what | target | measured | | |', '| --- | --- | --- | --- | --- |', ...rows, '');
  }
}
if (ONLY.has('gofer')) {
  say('gofer: bench/gofer.mjs');
  const g = spawnSync(process.execPath, [path.join(ROOT, 'bench/gofer.mjs'), ...(QUICK ? ['--quick'] : [])], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  md.push(g.status === 0 ? g.stdout.replace(/^## /m, '## ') : `## The gofer\n\nbench/gofer.mjs failed (exit ${g.status})\n`, '');
} else if (!QUICK && fs.existsSync(path.join(ROOT, 'bench/results/gofer.md'))) {
  md.push(fs.readFileSync(path.join(ROOT, 'bench/results/gofer.md'), 'utf8'), ''); // its last run (it carries its own date)
}
fs.mkdirSync(path.join(ROOT, 'bench/results'), { recursive: true });
fs.writeFileSync(jsonFile, JSON.stringify({ quick: QUICK, runs: RUNS, date: new Date().toISOString(), node: process.version, machine: os.cpus()[0]?.model, nativeRef, results }, null, 2));
fs.writeFileSync(path.join(ROOT, `bench/results/${out}.md`), md.join('\n'));
if (Object.keys(overheads).length) fs.writeFileSync(path.join(ROOT, `bench/results/${QUICK ? 'quick-' : ''}overhead.svg`), overheadChart(overheads, nativeRef));
say(`done: bench/results/${out}.md`);
process.stdout.write(md.join('\n') + '\n');
if (failure) process.exitCode = 1;
