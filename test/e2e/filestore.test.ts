// The filestore from the outside: size limits give ENOSPC with nothing lost, a host that runs out
// of space gives ENOSPC rather than a crash, copy-up that cannot fit leaves the lower file as it
// was, `root:self` keeps its file in --upper-dir only while the sandbox runs, and two sandboxes on
// one upper dir never see each other's data. The guest is guests/bigfile.c.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { buildImage, tempDir } from '../lib/images';
import { guestWasm, ROOT, RUN_JS, runSandbox } from '../lib/sandbox';
import { DEFAULT_IMAGE } from '../lib/oci';
import { runNodeWasi } from '../lib/nodewasi';

const lower = new Uint8Array(20 << 20).map((_, i) => (i * 13) & 255);
const img = buildImage(
  {
    layers: [[{ path: 'bigfile', type: 'file', data: guestWasm('bigfile'), mode: 0o755 }, { path: 'tmp', type: 'dir' }, { path: 'lower.bin', type: 'file', data: lower }]],
    entrypoint: ['/bigfile'],
  },
  { format: 'oci' },
);

function lines(out: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const l of out.split('\n')) {
    const [cmd, p, ...rest] = l.split(' ');
    if (cmd && p) m.set(`${cmd} ${p}`, rest.join(' '));
  }
  return m;
}

for (const mode of ['root:self', 'root:memory']) {
  test(`${mode},size=64m: writing 100 MiB stops with ENOSPC near 64 MiB; earlier files intact; space comes back`, () => {
    const r = runSandbox(['--overlay2', `${mode},size=64m`, img, 'write', '/tmp/a', '10', 'hash', '/tmp/a', 'write', '/tmp/big', '100', 'hash', '/tmp/a', 'write', '/tmp/c', '1', 'rm', '/tmp/big', 'write', '/tmp/c', '1']);
    assert.is(r.status, 0, r.stderr);
    const out = r.stdout.split('\n');
    const big = /^write \/tmp\/big n=(\d+) error=ENOSPC$/.exec(out[2]);
    assert.ok(big, `expected ENOSPC, got: ${out[2]}`);
    const n = Number(big![1]);
    assert.ok(n >= 50 << 20 && n <= 54 << 20, `stopped at ${n} bytes (64 MiB minus the 10 MiB file)`);
    assert.is(out[1], out[3], 'the earlier file hashes the same after ENOSPC');
    assert.match(out[4], /^write \/tmp\/c n=\d+ error=ENOSPC$/);
    assert.is(out[5], 'rm /tmp/big ok');
    assert.match(out[6], /^write \/tmp\/c n=1048576 ns=\d+$/);
  });
}

test('copy-up that does not fit: ENOSPC, and the lower file still reads as it was', () => {
  // `rand` opens the file O_RDWR: a data copy-up of 20 MiB into an 8 MiB filestore
  const r = runSandbox(['--overlay2', 'root:self,size=8m', img, 'hash', '/lower.bin', 'rand', '/lower.bin', '10', 'hash', '/lower.bin', 'write', '/tmp/x', '7']);
  assert.is(r.status, 0, r.stderr);
  const out = r.stdout.split('\n');
  assert.match(out[0], /^hash \/lower.bin n=20971520 h=/);
  assert.is(out[1], 'rand /lower.bin error=ENOSPC');
  assert.is(out[2], out[0]);
  assert.match(out[3], /^write \/tmp\/x n=7340032 ns=/, 'every page of the failed copy-up came back');
});

test('a host file system that fills up gives ENOSPC (never a crash), and what was written stays', () => {
  const mnt = tempDir('small');
  const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=24m', 'tmpfs', mnt]);
  if (m.status !== 0) {
    console.log('SKIP host-full test: cannot mount a tmpfs here');
    return;
  }
  try {
    const r = runSandbox(['--overlay2', `root:dir=${mnt},size=1g`, img, 'write', '/tmp/a', '4', 'hash', '/tmp/a', 'write', '/tmp/big', '64', 'hash', '/tmp/a', 'rm', '/tmp/big', 'write', '/tmp/c', '8']);
    assert.is(r.status, 0, r.stderr);
    const out = r.stdout.split('\n');
    assert.match(out[2], /^write \/tmp\/big n=\d+ error=ENOSPC$/);
    assert.is(out[1], out[3]);
    assert.match(out[5], /^write \/tmp\/c n=8388608 ns=\d+$/);
  } finally {
    spawnSync('umount', [mnt]);
  }
});

test('root:self keeps .wasmbox.filestore.<id> in --upper-dir while running, and removes it at exit', async () => {
  const upper = tempDir('upper');
  const child = spawn(process.execPath, [RUN_JS, '--upper-dir', upper, img, 'write', '/tmp/a', '8', 'mark', 'written', 'sleep', '1500'], { cwd: ROOT });
  let out = '';
  await new Promise<void>((resolve) => {
    child.stdout.on('data', (d) => {
      out += d;
      if (out.includes('mark written')) resolve();
    });
    child.on('exit', () => resolve());
  });
  const names = fs.readdirSync(upper).sort();
  assert.is(names.length, 2, `upper dir holds: ${names.join(', ')}`);
  assert.match(names[0], /^\.wasmbox\.filestore\.[0-9a-f]+$/);
  assert.is(names[1], `${names[0]}.lock`, 'and its lock file (pid and start time, for the stale sweep)');
  assert.ok(fs.statSync(path.join(upper, names[0])).blocks * 512 >= 8 << 20, 'du sees the data');
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  assert.is(code, 0);
  assert.equal(fs.readdirSync(upper), []);
});

test('two sandboxes on one upper dir get separate filestores and see only their own data', async () => {
  const upper = tempDir('shared');
  const run = (n: string) =>
    new Promise<string>((resolve) => {
      const c = spawn(process.execPath, [RUN_JS, '--upper-dir', upper, img, 'write', `/tmp/${n}`, n === 'x' ? '3' : '5', 'sleep', '300', 'hash', `/tmp/${n}`, 'hash', `/tmp/${n === 'x' ? 'y' : 'x'}`], { cwd: ROOT });
      let o = '';
      c.stdout.on('data', (d) => (o += d));
      c.on('exit', () => resolve(o));
    });
  const [x, y] = await Promise.all([run('x'), run('y')]);
  const lx = lines(x);
  const ly = lines(y);
  assert.match(lx.get('hash /tmp/x')!, /^n=3145728 /);
  assert.is(lx.get('hash /tmp/y'), 'error=ENOENT');
  assert.match(ly.get('hash /tmp/y')!, /^n=5242880 /);
  assert.is(ly.get('hash /tmp/x'), 'error=ENOENT');
  assert.equal(fs.readdirSync(upper), []);
});

// issue 17: a guest that reaches its own filestore file through a bind mount could truncate it under
// the host's mapping (the host died of SIGBUS, status 135, and left the file behind) or rewrite its
// upper layer's data. A filestore a bind mount would expose is unlinked at once.
for (const how of ['the default upper directory in $TMPDIR', 'an --upper-dir inside the mounted directory']) {
  test(`the filestore through a bind mount (${how}): out of the guest's reach`, () => {
    const tmp = tempDir('exposed');
    const upper = path.join(tmp, 'up');
    fs.mkdirSync(upper);
    const attack = 'echo hello-upper-data > /tmp/x; touch /tmp/empty; ls -a /hosttmp /hosttmp/*; cp /tmp/empty /hosttmp/wasmbox-upper-*/.wasmbox.filestore.????????????????; cp /tmp/empty /hosttmp/up/.wasmbox.filestore.????????????????; cat /tmp/x';
    const flags = how.startsWith('an') ? ['--upper-dir', upper] : [];
    const r = runSandbox(['--stats', ...flags, '-v', `${tmp}:/hosttmp`, DEFAULT_IMAGE, '/bin/sh', '-c', attack], { env: { TMPDIR: tmp } });
    assert.is(r.status, 0, r.stderr); // the last command's, cat's
    assert.not.match(r.stdout, /wasmbox\.filestore/, 'no filestore name is visible to the guest');
    assert.match(r.stdout, /hello-upper-data\n$/, 'the upper layer reads back intact');
    assert.match(r.stderr, /stats: filestore file:dir=\//, 'the filestore was made unlinked');
    // (the guest's cp made a file named by the unmatched pattern itself, in the bind mount: its right)
    const left = [...fs.readdirSync(upper), ...fs.readdirSync(tmp)].filter((n) => /^\.wasmbox\.filestore\.[0-9a-f]{16}|^wasmbox-/.test(n));
    assert.equal(left, [], 'no filestore, lock or upper directory left behind');
  });
}

// A path the start-up check cannot see (a host bind mount of the upper directory's parent, which
// realpath does not resolve): the filestore keeps its name there, and the gofer refuses its inode.
test('the filestore through a host bind mount of its directory: EACCES under every guest path', () => {
  const tmp = tempDir('exposed');
  const upper = path.join(tmp, 'up');
  fs.mkdirSync(upper);
  const other = tempDir('alias');
  if (spawnSync('mount', ['--bind', tmp, other]).status !== 0) {
    console.log('  (skipped: cannot bind-mount here; needs root)');
    return;
  }
  try {
    const store = '/hosttmp/up/.wasmbox.filestore.????????????????';
    // (cp opens its target O_CREAT|O_TRUNC: the path that must not truncate before it checks)
    const attack = `echo hello-upper-data > /tmp/x; ls -a /hosttmp/up; cat ${store}; cp /tmp/x ${store}; cat /tmp/x`;
    for (const gofer of ['inline', 'worker']) {
      const r = runSandbox(['--stats', '--gofer', gofer, '--upper-dir', upper, '-v', `${other}:/hosttmp`, DEFAULT_IMAGE, '/bin/sh', '-c', attack]);
      assert.is(r.status, 0, r.stderr);
      assert.match(r.stdout, /\.wasmbox\.filestore\.[0-9a-f]{16}\n/, 'the name shows in the listing (the start-up check did not see this path)');
      assert.match(r.stderr, /stats: filestore file:self/, 'the filestore kept its name');
      assert.is((r.stderr.match(/[Pp]ermission denied/g) ?? []).length, 2, `cat and cp are refused:\n${r.stderr}`);
      assert.match(r.stdout, /hello-upper-data\n$/, 'the upper layer reads back intact');
    }
    assert.equal(fs.readdirSync(upper), [], 'no filestore or lock left behind');
  } finally {
    spawnSync('umount', [other]);
  }
});

// Long reads and writes of pages this process has not mapped go by system call; short ones, and
// long ones over pages already mapped, through the mapping (host/filestore/filestore-file.ts, LONG
// READS). Either way every byte must read back as node:wasi has it on a plain directory.
const stat = (stderr: string, name: string) => Number((new RegExp(`stats: ${name} (\\d+)`).exec(stderr) || [])[1]);
test('long reads of pages not mapped go by system call (a memfd\'s: mapped in bulk), the rest through the mapping, pages by the addon; every hash equals node:wasi', () => {
  // write (new pages, by system call); hash (cold long reads); rand (short stores and loads, which
  // map pages); hash; write again over held pages (stores: no host call); rand; hash
  // (and rand of 8 and 12 KiB: writes over more than one page, which the WebAssembly glue copies a
  // page at a time; wasm-glue.ts PIECED_MAX)
  const cmds = ['write', '/tmp/a', '6', 'hash', '/tmp/a', 'rand', '/tmp/a', '3000', 'hash', '/tmp/a', 'write', '/tmp/a', '6', 'rand', '/tmp/a', '700', 'hash', '/tmp/a', 'rand', '/tmp/a', '500', '8192', 'hash', '/tmp/a', 'rand', '/tmp/a', '500', '12288', 'hash', '/tmp/a'];
  const hashes = (out: string) => out.split('\n').filter((l) => l.startsWith('hash '));
  const dir = tempDir();
  fs.mkdirSync(path.join(dir, 'tmp'));
  const ref = runNodeWasi(guestWasm('bigfile'), cmds, dir);
  assert.is(ref.status, 0, ref.stderr);
  assert.is(hashes(ref.stdout).length, 5);
  for (const mode of ['root:self', 'root:memory']) {
    const r = runSandbox(['--stats', '--overlay2', mode, img, ...cmds]);
    assert.is(r.status, 0, r.stderr);
    assert.equal(hashes(r.stdout), hashes(ref.stdout), mode);
    if (/filestore memory \(fallback/.test(r.stderr)) continue; // no addon: no host file to read
    // the 4 KiB pwrites and preads are copied by the addon, a whole page into one not copied
    // lately by streaming stores (NATIVE COPIES); the hashes above say the bytes are right
    assert.ok(stat(r.stderr, 'filestoreNativeCopies') >= 3000, `${mode}: copies by the addon: ${r.stderr}`);
    assert.ok(stat(r.stderr, 'filestoreStreamedCopies') >= 100, `${mode}: streamed: ${r.stderr}`);
    if (mode === 'root:memory' && stat(r.stderr, 'filestoreBulkMaps') > 0) {
      // a memfd's cold long reads map their pages in bulk instead (filestore-file.ts LONG READS)
      assert.is(stat(r.stderr, 'filestoreSyscallReads'), 0, r.stderr);
      continue;
    }
    assert.ok(stat(r.stderr, 'filestoreSyscallReads') >= 6, `${mode}: cold 1 MiB reads by system call: ${r.stderr}`);
  }
  // Writes of 8 and 12 KiB (two and three pages) alone: the WebAssembly glue copies each page of
  // them through the addon (wasm-glue.ts PIECED_MAX), so all but a few go that way (a memfd's pages
  // after the first hash has mapped them: filestore-file.ts LONG READS); the same bytes.
  const pieced = ['write', '/tmp/c', '6', 'hash', '/tmp/c', 'rand', '/tmp/c', '500', '8192', 'rand', '/tmp/c', '500', '12288', 'hash', '/tmp/c'];
  const ref2 = runNodeWasi(guestWasm('bigfile'), pieced, dir);
  assert.is(ref2.status, 0, ref2.stderr);
  for (const mode of ['root:self', 'root:memory']) {
    const r = runSandbox(['--stats', '--overlay2', mode, img, ...pieced]);
    assert.is(r.status, 0, r.stderr);
    assert.equal(hashes(r.stdout), hashes(ref2.stdout), mode);
    if (/filestore memory \(fallback/.test(r.stderr)) continue;
    assert.ok(stat(r.stderr, 'filestoreNativeCopies') >= 2000, `${mode}: 2,500 pages written in pieces: ${r.stderr}`);
  }
  // A file whose every page was touched by short pwrites and preads: its long reads are copies.
  const warm = runSandbox(['--stats', '--overlay2', 'root:memory', img, 'write', '/tmp/b', '1', 'rand', '/tmp/b', '6000', 'hash', '/tmp/b']);
  assert.is(warm.status, 0, warm.stderr);
  if (!/filestore memory \(fallback/.test(warm.stderr)) {
    assert.is(stat(warm.stderr, 'filestoreSyscallReads'), 0, warm.stderr);
    assert.is(stat(warm.stderr, 'filestoreBulkMaps'), 0, warm.stderr);
    const cold = runSandbox(['--stats', '--overlay2', 'root:memory', img, 'write', '/tmp/b', '1', 'hash', '/tmp/b']);
    assert.ok(stat(cold.stderr, 'filestoreSyscallReads') + stat(cold.stderr, 'filestoreBulkMaps') >= 1, cold.stderr);
  }
});

test('--stats names the filestore in use', () => {
  const r = runSandbox(['--stats', '--overlay2', 'root:memory', img, 'write', '/tmp/a', '1']);
  assert.match(r.stderr, /stats: filestore file:memfd|stats: filestore memory \(fallback/);
});

test.run();
