// `npm run bench:ab -- REV` : opbench (guests/opbench.c) of an earlier build against this checkout's,
// with node:wasi beside them, in alternating rounds of one batch. The VMs this project is measured on
// change speed by up to 2× within an hour, so a change is judged by builds run turn about, never by
// figures from two runs. Prints medians (µs per operation, first pass and second) and each build's
// ratio to node:wasi; writes nothing under bench/results.
//
//   REV          a commit (or a checkout's directory with its dist/ built): the "before" build. A
//                commit is checked out as a git worktree in $TMPDIR (reused while it exists) and
//                built there (kernel and host; the guests, the addon and the rest come from here)
//   --where W    self: the container's root in the overlay (root:self, node:wasi on a tmpfs);
//                bind: a tmpfs bind mount (-v), node:wasi given the same directory (default)
//   --rounds N   rounds (default 5); --iterations N (default 20000); --only stat,pwrite-4k,...
// Needs root for the tmpfs (else /dev/shm). Usage: node bench/ab.mjs bc0a439 --where self --rounds 7
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT, lib, mountTmpfs, unmount } from './lib/setup.mjs';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args.splice(i, 2)[1] : dflt;
};
const WHERE = opt('--where', 'bind');
const ROUNDS = Number(opt('--rounds', '5'));
const N = opt('--iterations', '20000');
const ONLY = opt('--only', '');
const rev = args[0];
if (!rev || !['bind', 'self'].includes(WHERE) || !(ROUNDS > 0) || !(Number(N) > 0)) {
  console.error('usage: node bench/ab.mjs REV|DIR [--where bind|self] [--rounds N] [--iterations N] [--only OPS]');
  process.exit(2);
}
const say = (m) => process.stderr.write(`bench:ab: ${m}\n`);

/** The before build's root: `rev` itself if it is a built checkout, else a worktree of it, built. */
function beforeRoot() {
  if (fs.existsSync(path.join(rev, 'dist', 'run.js'))) return path.resolve(rev);
  const sha = execFileSync('git', ['-C', ROOT, 'rev-parse', '--verify', `${rev}^{commit}`], { encoding: 'utf8' }).trim();
  const dir = path.join(os.tmpdir(), `wasmbox-ab-${sha.slice(0, 12)}`);
  if (!fs.existsSync(path.join(dir, 'dist', 'run.js'))) {
    say(`checking out ${sha.slice(0, 12)} in ${dir} and building its kernel and host`);
    fs.rmSync(dir, { recursive: true, force: true });
    execFileSync('git', ['-C', ROOT, 'worktree', 'add', '--detach', '-f', dir, sha], { stdio: 'ignore' });
    fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
    fs.cpSync(path.join(ROOT, 'dist'), path.join(dir, 'dist'), { recursive: true });
    // the addon as that commit has it (a later one may have calls the earlier glue does not know)
    execFileSync(process.execPath, [path.join(dir, 'native', 'build.js')], { cwd: dir, stdio: 'ignore' });
    execFileSync('npm', ['run', 'build', '--', 'kernel', 'host'], { cwd: dir, stdio: 'ignore' });
  }
  return dir;
}

const before = beforeRoot();
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'wasmbox-ab-run-'));
const tmpfs = path.join(work, 'tmpfs');
const mounted = mountTmpfs(tmpfs, '1g');
const host = mounted ? tmpfs : fs.mkdtempSync(path.join('/dev/shm', 'wasmbox-ab-'));
process.on('exit', () => {
  if (mounted) unmount(tmpfs);
  else fs.rmSync(host, { recursive: true, force: true });
  fs.rmSync(work, { recursive: true, force: true });
});
const image = path.join(work, 'image.tar');
const opbench = path.join(ROOT, 'dist/guests/opbench.wasm');
lib.writeImage({ layers: [[{ path: 'bin/opbench', type: 'file', data: fs.readFileSync(opbench), mode: 0o755 }, { path: 'tmp', type: 'dir', mode: 0o1777 }]] }, image, { format: 'oci' });

/** opbench's lines as { 'op stat': µs, 'warm stat': µs, ... }. */
function parse(out) {
  const m = {};
  for (const l of out.split('\n')) {
    const x = /^(op|warm) (\S+)\s+\d+\s+([\d.]+)/.exec(l);
    if (x) m[`${x[1] === 'op' ? 'first' : 'second'} ${x[2]}`] = Number(x[3]) / 1000;
  }
  return m;
}

function sandbox(root) {
  const dir = WHERE === 'bind' ? '/b/ob' : '/tmp/ob';
  const flags = WHERE === 'bind' ? ['-v', `${host}:/b`] : ['--overlay2', 'root:self'];
  const r = spawnSync(process.execPath, [path.join(root, 'host/run.js'), ...flags, image, '/bin/opbench', N, dir, '2'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${root}: exit ${r.status}: ${r.stderr.trim().split('\n').pop()}`);
  return parse(r.stdout);
}

function nodewasi() {
  const spec = { runtime: 'nodewasi', wasm: opbench, runs: [['opbench', N, '/mnt/ob', '2']], preopens: { '/mnt': host } };
  const r = spawnSync(process.execPath, ['--no-warnings', path.join(ROOT, 'bench/lib/child.mjs'), JSON.stringify(spec)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
  if (r.status !== 0) throw new Error(`node:wasi: exit ${r.status}: ${r.stderr.trim()}`);
  return parse(r.stdout);
}

const runs = { before: [], after: [], 'node:wasi': [] };
for (let i = 0; i < ROUNDS; i++) {
  say(`round ${i + 1}/${ROUNDS}`);
  runs.before.push(sandbox(before));
  runs.after.push(sandbox(ROOT));
  runs['node:wasi'].push(nodewasi());
}

const median = (xs) => {
  const v = xs.filter(Number.isFinite).sort((a, b) => a - b);
  return v.length ? v[Math.floor(v.length / 2)] : NaN;
};
const only = ONLY ? new Set(ONLY.split(',')) : null;
const keys = Object.keys(runs.after[0]).filter((k) => !only || only.has(k.split(' ')[1]));
const col = (who, k) => median(runs[who].map((m) => m[k]));
console.log(`opbench ${N}, ${WHERE === 'bind' ? 'a tmpfs bind mount (node:wasi: the same directory)' : 'root:self (node:wasi: a tmpfs)'}, ${ROUNDS} rounds alternating, medians in µs`);
console.log(`before: ${before}\nafter:  ${ROOT}\n`);
console.log('| pass, operation | before | after | node:wasi |');
console.log('| --- | --- | --- | --- |');
for (const k of keys) {
  const w = col('node:wasi', k);
  const cell = (who) => `${col(who, k).toFixed(2)} (${(col(who, k) / w).toFixed(2)}×)`;
  console.log(`| ${k} | ${cell('before')} | ${cell('after')} | ${w.toFixed(2)} |`);
}
