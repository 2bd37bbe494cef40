// Faults, and the host left clean after each: a gofer that dies mid-run (EIO to the guest, a clear
// message, no hang), a runaway guest (--timeout, SIGINT, SIGTERM), runaway memory (--memory), the
// kernel's own memory (millions of files end in ENOSPC), SIGKILL leaving a self filestore that the
// next start sweeps (but never a live one), and bind-mount data that is on the host once fsync
// returns, even if the host is killed right after. Every test checks for stray files.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { buildImage, gzipBomb, tempDir } from '../lib/images';
import { guestWasm, ROOT, RUN_JS, runSandbox } from '../lib/sandbox';
import { resealDocker } from '../gofer/image/util';
import { loadNative } from '../../native/index';

// The sandboxes this file starts make their temporary directories in a private TMPDIR, so that
// the stray check below sees only theirs, not those of test files running at the same time.
const privateTmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wasmbox-faults-'));
process.env.TMPDIR = privateTmp;
process.on('exit', () => fs.rmSync(privateTmp, { recursive: true, force: true }));

const img = buildImage(
  {
    layers: [
      [
        { path: 'bin/trap', type: 'file', data: guestWasm('trap'), mode: 0o755 },
        { path: 'bin/args', type: 'file', data: guestWasm('args'), mode: 0o755 },
        { path: 'tmp', type: 'dir' },
        ...Array.from({ length: 30 }, (_, i) => ({ path: `lower/f${i}`, type: 'file' as const, data: `file ${i}\n` })),
      ],
    ],
    entrypoint: ['/bin/trap'],
  },
  { format: 'oci' },
);

/** Names of our temporary directories, to see that a run leaves none behind. */
function strays(): string[] {
  return fs.readdirSync(os.tmpdir()).filter((n) => /^wasmbox-(upper|rootfs)-/.test(n));
}

function startRun(args: string[]): { child: ChildProcess; out: () => string; err: () => string; exit: Promise<number | null> } {
  const child = spawn(process.execPath, [RUN_JS, ...args], { cwd: ROOT });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code, sig) => resolve(code ?? (sig ? 128 : null))));
  return { child, out: () => out, err: () => err, exit };
}

async function until(cond: () => boolean, ms = 10000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('a gofer that dies mid-run: the guest gets errors, not a hang; the sandbox ends with a clear message', () => {
  const before = strays();
  // read the lower files one by one; the gofer exits after a few requests (the program is loaded by then)
  const t0 = Date.now();
  const r = runSandbox(['--gofer', 'worker', img, 'readall', '/lower'], { env: { WASMBOX_FAULT: 'gofer-exit:12' }, timeoutMs: 60_000 });
  assert.ok(Date.now() - t0 < 30_000, 'no hang');
  assert.match(r.stdout, /readall: \d+ read, \d+ failed: I\/O error/);
  assert.is(r.status, 125, r.stderr);
  assert.match(r.stderr, /gofer \(file server\) stopped during the run/);
  assert.equal(strays(), before);
});

test('--timeout stops a guest that loops forever: status 124, one line, nothing left behind', () => {
  const before = strays();
  const t0 = Date.now();
  const r = runSandbox(['--timeout', '1', img, 'spin']);
  const took = Date.now() - t0;
  assert.is(r.status, 124, r.stderr);
  assert.match(r.stderr, /timed out after 1s/);
  assert.ok(took < 10_000, `took ${took} ms`);
  assert.equal(strays(), before);
});

for (const [sig, status] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
  test(`${sig} stops a spinning guest (status ${status}) and removes the self filestore and temp dirs`, async () => {
    const upper = tempDir('sigupper');
    const before = strays();
    const run = startRun(['--upper-dir', upper, img, 'spin']);
    await until(() => fs.readdirSync(upper).some((n) => n.endsWith('.lock')));
    await new Promise((r) => setTimeout(r, 300)); // into the guest's loop
    run.child.kill(sig);
    const code = await run.exit;
    assert.is(code, status, run.err());
    assert.match(run.err(), new RegExp(`stopped by ${sig}`));
    assert.equal(fs.readdirSync(upper), [], 'filestore and lock removed');
    assert.equal(strays(), before);
  });
}

// A shell with a pipe runs its guests suspendable (JSPI, in a Node started again), outside vm's
// watchdog: a stage that computes without a call is ended by the native watchdog after its grace.
const DEFAULT_IMAGE = path.join(ROOT, 'dist', 'images', 'default.tar');
for (const [sig, status] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
  const wd = !!loadNative().addon?.armWatchdog;
  if (!wd) console.log(`SKIP ${sig} in a suspendable sandbox: the native addon (armWatchdog) is not built`);
  (wd ? test : test.skip)(`${sig} stops a spinning pipeline stage of a suspendable sandbox (status ${status}), its files removed`, async () => {
    const upper = tempDir('jspiupper');
    const before = strays();
    const run = startRun(['--upper-dir', upper, DEFAULT_IMAGE, 'sh', '-c', 'while :; do :; done | cat']);
    await until(() => fs.readdirSync(upper).some((n) => n.endsWith('.lock')));
    await new Promise((r) => setTimeout(r, 500)); // into the loop
    const t0 = Date.now();
    run.child.kill(sig);
    const code = await run.exit;
    assert.is(code, status, run.err());
    assert.ok(Date.now() - t0 < 8000, `took ${Date.now() - t0} ms`);
    assert.match(run.err(), new RegExp(`stopped by ${sig}`));
    assert.equal(fs.readdirSync(upper), [], 'filestore and lock removed');
    assert.equal(strays(), before);
  });
}

test('a FIFO given as IMAGE is refused at once (125, one line), not waited on for ever', () => {
  const fifo = path.join(tempDir('fifo'), 'image.tar');
  execFileSync('mkfifo', [fifo]);
  const r = runSandbox([fifo], { timeoutMs: 20_000 });
  assert.is(r.status, 125, r.stderr);
  assert.is(r.stderr, 'wasmbox: image.tar: is a FIFO, not a regular file\n');
});

test('a gzip bomb given to run.js: 125 and one line at --max-layer-size, the cache left as it was', () => {
  const cacheDir = tempDir('cache');
  const bomb = gzipBomb(256);
  const r = runSandbox(['--cache-dir', cacheDir, '--max-layer-size', '16m', bomb], { timeoutMs: 30_000 });
  assert.is(r.status, 125, r.stderr);
  assert.is(r.stderr, 'wasmbox: bomb.tar: layer 0 inflates to more than 16 MiB (the --max-layer-size limit); if it is genuine, raise --max-layer-size\n');
  assert.equal(fs.readdirSync(path.join(cacheDir, 'layers')), []);
  const bad = runSandbox(['--max-layer-size', 'lots', bomb]);
  assert.is(bad.status, 125);
  assert.is(bad.stderr.trim().split('\n')[0], 'wasmbox: --max-layer-size: cannot parse "lots" (use e.g. 512m or 4g)');
});

test('a tampered uncompressed layer, and a zero diff_id, are refused (125, one line)', () => {
  const dir = tempDir('unpacked');
  execFileSync('tar', ['-xf', img, '-C', dir]);
  const blobs = path.join(dir, 'blobs/sha256');
  const layer = fs.readdirSync(blobs).map((f) => path.join(blobs, f)).find((f) => fs.readFileSync(f).includes('file 29\n'))!;
  const b = fs.readFileSync(layer);
  b[b.indexOf('file 29\n')] = 0x46; // 'F': the same size, other bytes
  fs.writeFileSync(layer, b);
  const tampered = path.join(tempDir('tampered'), 'tampered.tar');
  execFileSync('tar', ['-cf', tampered, '-C', dir, ...fs.readdirSync(dir)]);
  const r = runSandbox([tampered]);
  assert.is(r.status, 125, r.stderr);
  assert.match(r.stderr, /^wasmbox: tampered\.tar: layer 0 \(sha256:[0-9a-f]{12}…\) does not match its digest \(its bytes hash to sha256:[0-9a-f]{12}…\)\n$/);
  // a docker save archive whose config says the layer's diff_id is all zeros (config re-sealed)
  const ddir = tempDir('unpacked');
  execFileSync('tar', ['-xf', buildImage({ layers: [[{ path: 'bin/args', type: 'file', data: guestWasm('args'), mode: 0o755 }]], entrypoint: ['/bin/args'] }, { format: 'docker' }), '-C', ddir]);
  const m = JSON.parse(fs.readFileSync(path.join(ddir, 'manifest.json'), 'utf8'));
  const cfg = JSON.parse(fs.readFileSync(path.join(ddir, m[0].Config), 'utf8'));
  cfg.rootfs.diff_ids = [`sha256:${'0'.repeat(64)}`];
  fs.writeFileSync(path.join(ddir, m[0].Config), JSON.stringify(cfg));
  resealDocker(ddir, { diffIds: false });
  const zero = path.join(tempDir('zero'), 'zero.tar');
  execFileSync('tar', ['-cf', zero, '-C', ddir, ...fs.readdirSync(ddir)]);
  const z = runSandbox([zero]);
  assert.is(z.status, 125, z.stderr);
  assert.match(z.stderr, /^wasmbox: zero\.tar: layer 0 \(sha256:0{12}…\) does not match its diff_id in the image config \(it hashes to sha256:[0-9a-f]{12}…\)\n$/);
});

test('device nodes and FIFOs in a layer: left out, and said so in one warning line (they were dropped without a word)', () => {
  const root = path.join(tempDir('devroot'), 'root');
  fs.mkdirSync(path.join(root, 'bin'), { recursive: true });
  fs.mkdirSync(path.join(root, 'dev'));
  fs.writeFileSync(path.join(root, 'bin/trap'), guestWasm('trap'));
  execFileSync('mknod', [path.join(root, 'dev/null2'), 'c', '1', '3']);
  execFileSync('mkfifo', [path.join(root, 'fifo')]);
  const tar = path.join(tempDir('devtar'), 'dev.tar');
  execFileSync('tar', ['-cf', tar, '-C', root, '.']);
  for (const gofer of ['inline', 'worker']) {
    const r = runSandbox(['--gofer', gofer, '--entrypoint', '/bin/trap', tar, 'exit', '3']);
    assert.is(r.status, 3, r.stderr);
    assert.is(r.stderr, 'wasmbox: warning: dev.tar: 2 device nodes, FIFOs or other special files in its layers are left out (the sandbox has no devices)\n');
  }
});

test('--memory caps guest memory: malloc fails inside the guest, the host carries on', () => {
  const r = runSandbox(['--memory', '64m', img, 'hog']);
  assert.is(r.status, 0, r.stderr);
  const m = /hog: (\d+) MiB, then malloc failed/.exec(r.stdout);
  assert.ok(m, r.stdout);
  assert.ok(Number(m![1]) >= 50 && Number(m![1]) <= 64, r.stdout);
});

// issue 17: -m is the container's limit, as docker run -m: every process's memory and the kernel's.
const memImg = buildImage(
  {
    layers: [
      [
        { path: 'bin/spawner', type: 'file', data: guestWasm('spawner'), mode: 0o755 },
        { path: 'bin/trap', type: 'file', data: guestWasm('trap'), mode: 0o755 },
        { path: 'bin/sh', type: 'file', data: guestWasm('sh'), mode: 0o755 },
        // (module (memory (export "memory") 16384) (func (export "_start"))): 1 GiB at start
        { path: 'bin/big-min', type: 'file', data: new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 1, 4, 1, 0x60, 0, 0, 3, 2, 1, 0, 5, 5, 1, 0, 0x80, 0x80, 1, 7, 19, 2, 6, ...Buffer.from('memory'), 2, 0, 6, ...Buffer.from('_start'), 0, 0, 10, 4, 1, 2, 0, 0x0b]), mode: 0o755 },
        { path: 'nest.sh', type: 'file', data: '/bin/spawner alloc 8 --then run /bin/sh /nest.sh\n' },
        { path: 'tmp', type: 'dir' },
      ],
    ],
  },
  { format: 'oci' },
);

test('-m: a module that declares more memory at start than the limit is refused (126, one line); spawned, ENOMEM', () => {
  const r = runSandbox(['-m', '64m', memImg, '/bin/big-min']);
  assert.is(r.status, 126, r.stderr);
  assert.match(r.stderr, /^wasmbox: exec \/bin\/big-min: its memory starts at 1024 MiB, more than the \d+ MiB left of the memory limit \(-m 64m\)\n$/);
  const s = runSandbox(['-m', '64m', memImg, '/bin/spawner', 'run', '/bin/big-min']);
  assert.is(s.status, 0, s.stderr);
  assert.is(s.stdout, 'errno ENOMEM\n');
});

test('-m bounds the whole container: a child gets what its parent left, and a self-spawning script stops at the limit', () => {
  const r = runSandbox(['-m', '64m', memImg, '/bin/spawner', 'alloc', '40', '--then', 'run', '/bin/trap', 'hog']);
  assert.is(r.status, 0, r.stderr);
  const m = /hog: (\d+) MiB, then malloc failed/.exec(r.stdout);
  assert.ok(m && Number(m[1]) <= 24, `the child took ${m?.[1]} MiB beside the parent's 40 (limit 64): ${r.stdout}`);
  const n = runSandbox(['-m', '64m', memImg, '/bin/sh', '/nest.sh'], { timeoutMs: 60_000 });
  assert.is(n.status, 0, n.stderr);
  const held = n.stdout.split('\n').filter((l) => l === 'alloc 8 ok').length;
  assert.ok(held >= 4 && held <= 7, `8 MiB held by ${held} nested processes under 64 MiB`);
  // refused to the shell (its message) or to the spawner (its errno line), whichever reaches the limit
  assert.match(n.stdout + n.stderr, /Cannot allocate memory|errno ENOMEM/, `the nesting ends when a spawn is refused: ${n.stdout}${n.stderr}`);
});

test('millions of tiny files end in ENOSPC (the inode limit), not in a crash', () => {
  // the limit is 4 million by default; the test uses a smaller one through the library API
  const script = `
    const lib = require(${JSON.stringify(path.join(ROOT, 'dist/lib.js'))});
    lib.run({ image: ${JSON.stringify(img)}, command: ['files', '300000'], inodes: 50000, overlay2: { kind: 'memory' } })
      .then((r) => process.exit(r.status), (e) => { console.error(e.message); process.exit(e.status ?? 1); });`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 120_000 });
  assert.is(r.status, 0, r.stderr);
  const m = /files: (\d+) created, then ENOSPC/.exec(r.stdout);
  assert.ok(m, r.stdout + r.stderr);
  assert.ok(Number(m![1]) > 40000 && Number(m![1]) <= 50000, r.stdout);
});

test('after SIGKILL, the next start sweeps the dead sandbox\'s filestore, and never a live one', async () => {
  const upper = tempDir('killed');
  const dead = startRun(['--upper-dir', upper, img, 'spin']);
  await until(() => fs.readdirSync(upper).some((n) => n.endsWith('.lock')));
  dead.child.kill('SIGKILL');
  await dead.exit;
  const left = fs.readdirSync(upper).sort();
  assert.is(left.length, 2, `a filestore and its lock are left: ${left}`);
  // a live sandbox on the same upper dir
  const live = startRun(['--upper-dir', upper, img, 'spin']);
  await until(() => fs.readdirSync(upper).filter((n) => n.endsWith('.lock')).length === 2 || !fs.readdirSync(upper).includes(left[0]));
  await new Promise((r) => setTimeout(r, 300));
  const now = fs.readdirSync(upper);
  assert.not.ok(now.includes(left[0]) || now.includes(left[1]), 'the dead one is swept');
  assert.is(now.length, 2, 'the live one stays');
  // a third start must not touch the live one
  const r = runSandbox(['--upper-dir', upper, img, 'exit', '0']);
  assert.is(r.status, 0, r.stderr);
  assert.equal(fs.readdirSync(upper).sort(), now.sort());
  live.child.kill('SIGINT');
  await live.exit;
  assert.equal(fs.readdirSync(upper), []);
});

// issue 17: SIGKILL left $TMPDIR/wasmbox-upper-* (with its filestore) and, in none, wasmbox-rootfs-*
// (the extracted image), and no later run removed them
test('after SIGKILL, the next start removes the dead run\'s default upper directory and extracted rootfs, never a live one\'s', async () => {
  const mine = () => fs.readdirSync(privateTmp).filter((n) => /^wasmbox-(upper|rootfs)-/.test(n)).sort();
  assert.equal(mine(), [], 'a clean $TMPDIR to start with');
  const a = startRun([img, 'spin']);
  const b = startRun(['--overlay2', 'none', img, 'spin']);
  await until(() => mine().some((n) => /^wasmbox-upper-.*\.owner$/.test(n)) && mine().some((n) => /^wasmbox-rootfs-.*\.owner$/.test(n)));
  await new Promise((r) => setTimeout(r, 300));
  a.child.kill('SIGKILL');
  b.child.kill('SIGKILL');
  await a.exit;
  await b.exit;
  const left = mine();
  assert.is(left.length, 4, `two directories and their owner files are left: ${left}`);
  const upper = left.find((n) => /^wasmbox-upper-[^.]+$/.test(n))!;
  assert.ok(fs.readdirSync(path.join(privateTmp, upper)).some((n) => n.startsWith('.wasmbox.filestore.')), 'with the filestore in it');
  // a live run meanwhile (its start sweeps the dead ones): its own are kept by the next start
  const live = startRun(['--overlay2', 'none', img, 'spin']);
  try {
    await until(() => !left.some((n) => mine().includes(n)) && mine().length === 2);
    const r = runSandbox([img, 'exit', '0']);
    assert.is(r.status, 0, r.stderr);
    const now = mine();
    assert.is(now.length, 2, `the live run's rootfs and owner stay: ${now}`);
    assert.ok(now.every((n) => n.startsWith('wasmbox-rootfs-')));
  } finally {
    live.child.kill('SIGINT');
    await live.exit;
  }
  assert.equal(mine(), []);
});

test('a 1,900-level tree extracted for none is removed at exit (a path-based removal failed past PATH_MAX, silently)', () => {
  const entries: { path: string; type: 'dir' | 'file'; data?: string }[] = [];
  let p = 'deep';
  for (let i = 0; i < 1900; i++) {
    entries.push({ path: p, type: 'dir' });
    p += '/d';
  }
  entries.push({ path: `${p.slice(0, -2)}/leaf`, type: 'file', data: 'x' });
  const deep = buildImage({ layers: [[{ path: 'bin/trap', type: 'file', data: guestWasm('trap'), mode: 0o755 }, ...entries]], entrypoint: ['/bin/trap'] }, { format: 'oci' });
  const r = runSandbox(['--overlay2', 'none', deep, 'exit', '0']);
  assert.is(r.status, 0, r.stderr);
  assert.equal(fs.readdirSync(privateTmp).filter((n) => /^wasmbox-(upper|rootfs)-/.test(n)), []);
});

test('data written and fsynced on a bind mount is on the host when fsync returns, even if the host is killed', async () => {
  const vol = tempDir('durable');
  const run = startRun(['-v', `${vol}:/data`, img, 'sync', '/data/out.bin']);
  await until(() => run.out().includes('synced'));
  run.child.kill('SIGKILL');
  await run.exit;
  const data = fs.readFileSync(path.join(vol, 'out.bin'));
  assert.is(data.length, 1 << 20);
  assert.ok(data.every((b) => b === 0x5a));
});

test.run();
