// `npm run bench:oci`: the OCI runtime against the engines' own runtimes, in one run, alternating,
// medians (bench/results/oci.md and oci.json):
//
//   ctr run --rm        a WASI hello (guests/args.c) through wasmbox-runtime, against containerd's
//                       default runc running a statically linked native hello (gcc -static)
//   podman run --rm     the same pair through Podman: wasmbox-runtime against crun and runc
//   fsstress            `-n 500 -p 20 -s 1680153482 -l 10` with root:self over a host-directory lower
//                       (run.js --rootfs, and wasmbox-runtime run on a bundle), over the image-tar
//                       lower (run.js IMAGE), and node:wasi on a tmpfs; the guest's own elapsed time
//   20 at once          20 `ctr run --rm` started together: all must exit 0; the wall time
//   idle RSS            the resident memory of one running sandbox process that sleeps
//
// It starts its own containerd (private root, state and socket, docs/oci.md's configuration) and
// uses Podman with private storage. Parts whose engine or gcc is missing are reported as skipped.
// Usage: node bench/oci.mjs [--runs N] [--quick]
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT, lib, mountTmpfs, unmount } from './lib/setup.mjs';

const argv = process.argv.slice(2);
const QUICK = argv.includes('--quick');
const RUNS = Number(argv.includes('--runs') ? argv[argv.indexOf('--runs') + 1] : QUICK ? 3 : 10);
// what engines are given: the native front end (host/oci.js when it was not built)
const OCI = fs.existsSync(path.join(ROOT, 'dist', 'wasmbox-runtime')) ? path.join(ROOT, 'dist', 'wasmbox-runtime') : path.join(ROOT, 'host', 'oci.js');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'wasmbox-bench-oci-'));
const t0 = Date.now();
const say = (m) => process.stderr.write(`bench:oci [${((Date.now() - t0) / 1000).toFixed(0)}s] ${m}\n`);
const which = (n) => spawnSync('sh', ['-c', `command -v ${n}`], { encoding: 'utf8' }).stdout.trim() || null;
const median = (xs) => {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : NaN;
};
const fmt = (x, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : '—');
const results = { date: new Date().toISOString(), runs: RUNS, node: process.version, rows: {}, skipped: [] };
const timed = (fn) => {
  const s = performance.now();
  const r = fn();
  return { ms: performance.now() - s, r };
};

// ---------------------------------------------------------------------------------------------
// Images: a WASI hello and a native one

const wasmRoot = path.join(work, 'wasm-rootfs');
fs.mkdirSync(path.join(wasmRoot, 'bin'), { recursive: true });
fs.copyFileSync(path.join(ROOT, 'dist/guests/args.wasm'), path.join(wasmRoot, 'bin/hello'));
fs.chmodSync(path.join(wasmRoot, 'bin/hello'), 0o755);
const wasmImage = path.join(work, 'hello-wasm.tar');
execFileSync(process.execPath, [path.join(ROOT, 'host/pack.js'), wasmRoot, '--tag', 'wasmbox/hello:latest', '--cmd', '/bin/hello', '-o', wasmImage]);

let nativeImage = null;
const gcc = which('gcc');
if (gcc) {
  const natRoot = path.join(work, 'native-rootfs');
  fs.mkdirSync(path.join(natRoot, 'bin'), { recursive: true });
  fs.writeFileSync(path.join(work, 'hello.c'), '#include <stdio.h>\nint main(int c, char **v) { for (int i = 0; i < c; i++) printf("argv[%d]=%s\\n", i, v[i]); return 0; }\n');
  const r = spawnSync(gcc, ['-static', '-O2', '-o', path.join(natRoot, 'bin/hello'), path.join(work, 'hello.c')]);
  if (r.status === 0) {
    nativeImage = path.join(work, 'hello-native.tar');
    execFileSync(process.execPath, [path.join(ROOT, 'host/pack.js'), natRoot, '--tag', 'native/hello:latest', '--platform', 'linux/amd64', '--cmd', '/bin/hello', '-o', nativeImage]);
  }
}
if (!nativeImage) results.skipped.push('native hello: gcc -static is not available, so there is no runc reference');

// ---------------------------------------------------------------------------------------------
// containerd

const ctd = { root: path.join(work, 'ctd-root'), state: path.join(work, 'ctd-state'), sock: path.join(work, 'ctd.sock'), runc: path.join(work, 'runtime-root') };
let daemon = null;
const ctr = (args, opts = {}) => spawnSync('ctr', ['-a', ctd.sock, '-n', 'bench', ...args], { encoding: 'utf8', timeout: 120_000, ...opts });

async function startContainerd() {
  const doc = fs.readFileSync(path.join(ROOT, 'docs/oci.md'), 'utf8');
  let toml = /<!-- containerd-config: begin -->\n```toml\n([\s\S]*?)```/.exec(doc)[1];
  toml = toml
    .replace('root = "/var/lib/containerd"', `root = "${ctd.root}"`)
    .replace('state = "/run/containerd"', `state = "${ctd.state}"`)
    .replace('address = "/run/containerd/containerd.sock"', `address = "${ctd.sock}"`)
    .replace('BinaryName = "/opt/wasmbox/dist/wasmbox-runtime"', `BinaryName = "${OCI}"`)
    .replace('Root = "/run/wasmbox"', `Root = "${ctd.runc}"`);
  fs.writeFileSync(path.join(work, 'containerd.toml'), toml);
  fs.mkdirSync(ctd.runc);
  daemon = spawn('containerd', ['--config', path.join(work, 'containerd.toml')], { stdio: 'ignore' });
  for (let i = 0; i < 300 && ctr(['version']).status !== 0; i++) await new Promise((r) => setTimeout(r, 100));
  for (const img of [wasmImage, nativeImage, path.join(ROOT, 'dist/images/default.tar')].filter(Boolean)) {
    const r = ctr(['image', 'import', '--all-platforms', img]);
    if (r.status !== 0) throw new Error(`ctr image import ${img}: ${r.stderr}`);
  }
}

function stopContainerd() {
  if (!daemon) return;
  daemon.kill('SIGTERM');
  spawnSync('pkill', ['-f', 'containerd-shim-runc-v2 -namespace bench']);
  for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').reverse()) {
    const mp = line.split(' ')[4];
    if (mp && mp.startsWith(work)) spawnSync('umount', ['-l', mp]);
  }
}

let serial = 0;
const ctrRun = (wasm) => {
  const id = `b${++serial}`;
  const args = wasm ? ['run', '--rm', '--runc-binary', OCI, '--runc-root', ctd.runc, 'docker.io/wasmbox/hello:latest', id, '/bin/hello', 'hi'] : ['run', '--rm', 'docker.io/native/hello:latest', id, '/bin/hello', 'hi'];
  const { ms, r } = timed(() => ctr(args));
  if (r.status !== 0 || !/argv\[1\]=hi/.test(r.stdout)) throw new Error(`ctr run (${wasm ? 'wasmbox' : 'runc'}): ${r.status} ${r.stderr}`);
  return ms;
};

// ---------------------------------------------------------------------------------------------
// Podman

const podStore = path.join(work, 'podman');
const pod = (runtime, args) =>
  spawnSync('podman', ['--root', `${podStore}/storage`, '--runroot', `${podStore}/run`, '--tmpdir', `${podStore}/tmp`, '--cgroup-manager', 'cgroupfs', '--events-backend', 'file', '--storage-driver', 'overlay', '--runtime', runtime, ...args], { encoding: 'utf8', timeout: 120_000 });
const podRun = (runtime, wasm) => {
  // Podman's default rlimits (1048576 files and processes) are above this VM's hard limits, which a
  // root without CAP_SYS_RESOURCE cannot raise: runc and crun would refuse to start
  const { ms, r } = timed(() => pod(runtime, ['run', '--rm', '--network', 'none', '--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=4096:4096', wasm ? 'docker.io/wasmbox/hello:latest' : 'docker.io/native/hello:latest', '/bin/hello', 'hi']));
  if (r.status !== 0 || !/argv\[1\]=hi/.test(r.stdout)) throw new Error(`podman run (${runtime}): ${r.status} ${r.stderr}`);
  return ms;
};

// ---------------------------------------------------------------------------------------------
// fsstress

const FSS = QUICK ? ['-n', '500', '-p', '10', '-s', '1680153482', '-l', '1'] : ['-n', '500', '-p', '20', '-s', '1680153482', '-l', '10'];
const fssRoot = path.join(work, 'fss-rootfs');
fs.mkdirSync(path.join(fssRoot, 'bin'), { recursive: true });
fs.mkdirSync(path.join(fssRoot, 'work'), { mode: 0o777 });
fs.copyFileSync(path.join(ROOT, 'dist/guests/fsstress.wasm'), path.join(fssRoot, 'bin/fsstress'));
const fssImage = path.join(work, 'fss.tar');
execFileSync(process.execPath, [path.join(ROOT, 'host/pack.js'), fssRoot, '--tag', 'wasmbox/fss:latest', '-o', fssImage]);
const fssBundle = path.join(work, 'fss-bundle');
fs.mkdirSync(fssBundle);
execFileSync('cp', ['-a', fssRoot, path.join(fssBundle, 'rootfs')]);
fs.writeFileSync(
  path.join(fssBundle, 'config.json'),
  JSON.stringify({ ociVersion: '1.0.2', process: { args: ['/bin/fsstress', '-d', '/work/fss', ...FSS, '-T'], env: ['PATH=/bin'], cwd: '/' }, root: { path: 'rootfs' } }),
);
const tmpfsDir = path.join(work, 'tmpfs');

function fsstress(kind) {
  let r;
  const cmd = ['/bin/fsstress', '-d', '/work/fss', ...FSS, '-T'];
  if (kind === 'tar') r = spawnSync(process.execPath, [path.join(ROOT, 'host/run.js'), '--cache-dir', path.join(work, 'cache'), fssImage, ...cmd], { encoding: 'utf8' });
  else if (kind === 'dir') r = spawnSync(process.execPath, [path.join(ROOT, 'host/run.js'), '--rootfs', fssRoot, ...cmd], { encoding: 'utf8' });
  else if (kind === 'oci') {
    const args = ['--root', path.join(work, 'fss-runtime-root'), 'run', '--bundle', fssBundle, `fss${++serial}`];
    r = OCI.endsWith('.js') ? spawnSync(process.execPath, [OCI, ...args], { encoding: 'utf8' }) : spawnSync(OCI, args, { encoding: 'utf8' });
  }
  else {
    fs.rmSync(path.join(tmpfsDir, 'fss'), { recursive: true, force: true });
    const spec = { runtime: 'nodewasi', wasm: path.join(ROOT, 'dist/guests/fsstress.wasm'), runs: [['fsstress', '-d', '/work/fss', ...FSS, '-T']], preopens: { '/work': tmpfsDir } };
    // node:wasi's guest writes to the child's own stdio; the child's summary comes on fd 3
    r = spawnSync(process.execPath, ['--no-warnings', path.join(ROOT, 'bench/lib/child.mjs'), JSON.stringify(spec)], { stdio: ['ignore', 'pipe', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
    const out = JSON.parse(r.output[3].toString().trim().split('\n').pop());
    r = { status: out.statuses?.[0], stderr: r.stderr.toString() };
  }
  const m = /fsstress: elapsed_ns (\d+)/.exec(r.stderr ?? '');
  if (r.status !== 0 || !m) throw new Error(`fsstress (${kind}): ${r.status} ${(r.stderr ?? '').trim().split('\n').pop()}`);
  return Number(m[1]) / 1e9;
}

// ---------------------------------------------------------------------------------------------

async function main() {
  const haveCtd = which('containerd') && which('ctr');
  const havePodman = which('podman') && which('conmon');
  if (haveCtd) {
    say('starting containerd');
    await startContainerd();
  } else results.skipped.push('containerd: not installed');
  if (havePodman) {
    for (const img of [wasmImage, nativeImage].filter(Boolean)) {
      const r = pod('crun', ['load', '-i', img]);
      if (r.status !== 0) throw new Error(`podman load: ${r.stderr}`);
    }
  } else results.skipped.push('podman: not installed');
  if (!mountTmpfs(tmpfsDir, '2g')) throw new Error('cannot mount a tmpfs for node:wasi');

  const series = {};
  const add = (k, v) => (series[k] ??= []).push(v);
  // warm-up: one of each, not counted (image unpack, page cache, V8 code caches); a native runtime
  // that cannot run here is reported as skipped
  if (haveCtd) {
    ctrRun(true);
    if (nativeImage) ctrRun(false);
  }
  const podRuntimes = [];
  if (havePodman) {
    podRun(OCI, true);
    for (const rt of ['crun', 'runc'].filter((x) => nativeImage && which(x))) {
      try {
        podRun(rt, false);
        podRuntimes.push(rt);
      } catch (e) {
        results.skipped.push(`podman with ${rt}: ${e.message.split('\n')[0].trim()}`);
      }
    }
  }
  for (let round = 1; round <= RUNS; round++) {
    say(`round ${round}/${RUNS}`);
    if (haveCtd) {
      add('ctr-wasmbox', ctrRun(true));
      if (nativeImage) add('ctr-runc', ctrRun(false));
    }
    if (havePodman) {
      add('podman-wasmbox', podRun(OCI, true));
      for (const rt of podRuntimes) add(`podman-${rt}`, podRun(rt, false));
    }
    for (const k of ['tar', 'dir', 'oci', 'nodewasi']) add(`fsstress-${k}`, fsstress(k));
  }
  for (const [k, v] of Object.entries(series)) results.rows[k] = { median: median(v), runs: v };

  if (haveCtd) {
    say('20 containers at once');
    const t = performance.now();
    const procs = Array.from({ length: 20 }, (_, i) =>
      new Promise((resolve) => {
        const c = spawn('ctr', ['-a', ctd.sock, '-n', 'bench', 'run', '--rm', '--runc-binary', OCI, '--runc-root', ctd.runc, 'docker.io/wasmbox/hello:latest', `many${i}`, '/bin/hello', `n${i}`], { stdio: ['ignore', 'pipe', 'ignore'] });
        let out = '';
        c.stdout.on('data', (d) => (out += d));
        c.on('close', (code) => resolve(code === 0 && out.includes(`argv[1]=n${i}`)));
      }),
    );
    const ok = await Promise.all(procs);
    results.rows['many-20'] = { ok: ok.filter(Boolean).length, seconds: (performance.now() - t) / 1000 };
    say('idle RSS');
    const bg = spawn('ctr', ['-a', ctd.sock, '-n', 'bench', 'run', '--rm', '--runc-binary', OCI, '--runc-root', ctd.runc, 'docker.io/wasmbox/default:latest', 'idle', '/bin/sleep', '60'], { stdio: 'ignore' });
    bg.unref();
    let pid = 0;
    for (let i = 0; i < 100 && !pid; i++) {
      await new Promise((r) => setTimeout(r, 100));
      pid = Number(/idle\s+(\d+)\s+RUNNING/.exec(ctr(['task', 'ls']).stdout)?.[1] ?? 0);
    }
    await new Promise((r) => setTimeout(r, 1500));
    const rss = Number(/VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN) / 1024;
    results.rows['idle-rss-mib'] = { value: rss };
    ctr(['task', 'kill', '-s', 'SIGKILL', 'idle']);
    await new Promise((r) => setTimeout(r, 500));
    ctr(['task', 'delete', 'idle']);
    ctr(['containers', 'rm', 'idle']);
  }
  report();
}

function report() {
  const r = results.rows;
  const m = (k) => r[k]?.median ?? NaN;
  const lines = [
    '# The OCI runtime',
    '',
    `\`npm run bench:oci\` on ${results.date.slice(0, 10)}, Node ${results.node}, ${os.cpus().length} CPUs; medians of ${results.runs} alternating rounds (bench/oci.mjs).`,
    '',
    '## Starting a container, command to exit (ms)',
    '',
    '| engine | wasmbox-runtime, WASI hello | runc, static native hello | crun, static native hello | wasmbox ÷ best native |',
    '| --- | --- | --- | --- | --- |',
  ];
  if (r['ctr-wasmbox']) lines.push(`| \`ctr run --rm\` (containerd) | ${fmt(m('ctr-wasmbox'), 0)} | ${fmt(m('ctr-runc'), 0)} | — | ${fmt(m('ctr-wasmbox') / m('ctr-runc'))}× |`);
  if (r['podman-wasmbox']) {
    const best = Math.min(...['podman-crun', 'podman-runc'].map(m).filter(Number.isFinite));
    lines.push(`| \`podman run --rm\` | ${fmt(m('podman-wasmbox'), 0)} | ${fmt(m('podman-runc'), 0)} | ${fmt(m('podman-crun'), 0)} | ${fmt(m('podman-wasmbox') / best)}× |`);
  }
  lines.push(
    '',
    `## fsstress \`${FSS.join(' ')}\` (s, the guest's own elapsed time)`,
    '',
    '| lower | time | ÷ image-tar lower | ÷ node:wasi on tmpfs |',
    '| --- | --- | --- | --- |',
  );
  for (const [k, label] of [
    ['fsstress-tar', 'image tar, root:self (`run.js IMAGE`)'],
    ['fsstress-dir', 'host directory, root:self (`run.js --rootfs DIR`)'],
    ['fsstress-oci', 'host directory, root:self (`wasmbox-runtime run`, a bundle)'],
    ['fsstress-nodewasi', 'node:wasi on a tmpfs'],
  ]) {
    lines.push(`| ${label} | ${fmt(m(k))} | ${fmt(m(k) / m('fsstress-tar'))}× | ${fmt(m(k) / m('fsstress-nodewasi'))}× |`);
  }
  lines.push('', '## Many and idle', '');
  if (r['many-20']) lines.push(`- 20 \`ctr run --rm\` started at once: ${r['many-20'].ok} of 20 ran to completion, in ${fmt(r['many-20'].seconds)} s.`);
  if (r['idle-rss-mib']) lines.push(`- RSS of one running sandbox process whose guest sleeps (\`sleep 60\` in the default image): ${fmt(r['idle-rss-mib'].value, 1)} MiB.`);
  lines.push('', '## Targets', '', '| target | figure | met |', '| --- | --- | --- |');
  const target = (name, fig, ok) => lines.push(`| ${name} | ${fig} | ${Number.isNaN(ok) ? '—' : ok ? 'yes' : 'no'} |`);
  if (r['ctr-runc']) target('`ctr run --rm` ≤ 1.5× containerd with runc', `${fmt(m('ctr-wasmbox') / m('ctr-runc'))}×`, m('ctr-wasmbox') / m('ctr-runc') <= 1.5);
  if (r['podman-crun'] || r['podman-runc']) {
    const best = Math.min(...['podman-crun', 'podman-runc'].map(m).filter(Number.isFinite));
    target('`podman run --rm` ≤ 1.5× crun or runc', `${fmt(m('podman-wasmbox') / best)}×`, m('podman-wasmbox') / best <= 1.5);
  }
  target('fsstress, host-directory lower ≤ 1.2× image-tar lower', `${fmt(m('fsstress-dir') / m('fsstress-tar'))}× (runtime: ${fmt(m('fsstress-oci') / m('fsstress-tar'))}×)`, Math.max(m('fsstress-dir'), m('fsstress-oci')) / m('fsstress-tar') <= 1.2);
  target('fsstress, host-directory lower ≤ 0.5× node:wasi on tmpfs', `${fmt(m('fsstress-dir') / m('fsstress-nodewasi'))}×`, m('fsstress-dir') / m('fsstress-nodewasi') <= 0.5);
  if (r['many-20']) target('20 containers at once all complete', `${r['many-20'].ok} of 20`, r['many-20'].ok === 20);
  if (r['idle-rss-mib']) target('RSS of one idle sandbox ≤ 60 MiB', `${fmt(r['idle-rss-mib'].value, 1)} MiB`, r['idle-rss-mib'].value <= 60);
  if (results.skipped.length) lines.push('', 'Skipped: ' + results.skipped.join('; ') + '.');
  const out = path.join(ROOT, 'bench', 'results', QUICK ? 'oci-quick' : 'oci');
  fs.writeFileSync(`${out}.json`, JSON.stringify(results, null, 2) + '\n');
  fs.writeFileSync(`${out}.md`, lines.join('\n') + '\n');
  process.stdout.write(lines.join('\n') + '\n');
}

try {
  await main();
} finally {
  stopContainerd();
  unmount(tmpfsDir);
  spawnSync('podman', ['--root', `${podStore}/storage`, '--runroot', `${podStore}/run`, '--storage-driver', 'overlay', 'system', 'reset', '--force'], { stdio: 'ignore', timeout: 60_000 });
  for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').reverse()) {
    const mp = line.split(' ')[4];
    if (mp && mp.startsWith(work)) spawnSync('umount', ['-l', mp]);
  }
  fs.rmSync(work, { recursive: true, force: true });
}
