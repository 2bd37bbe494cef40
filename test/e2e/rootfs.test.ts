// `run.js --rootfs DIR` with an overlay: a host directory is the read-only lower under the sandbox's
// upper layer, in every --overlay2 mode. What a guest does must show inside and change not a byte of
// the directory; the same commands must answer as they do over the image the directory was
// extracted from; with root:self the filestore lives inside the directory while the sandbox runs,
// hidden from the guest, and is gone after; links planted in the directory lead nowhere outside it.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { extractImage } from '../../host/image/extract';
import { tempDir } from '../lib/images';
import { ROOT, RUN_JS, guestWasm, runSandbox } from '../lib/sandbox';

const base = tempDir('rootfs');
const image = path.join(ROOT, 'dist', 'images', 'default.tar');
const rootfs = path.join(base, 'rootfs');
const outside = path.join(base, 'outside');
fs.mkdirSync(rootfs);
fs.mkdirSync(outside);
extractImage(image, rootfs, path.join(base, 'cache'));
fs.writeFileSync(path.join(rootfs, 'bin/fsops'), guestWasm('fsops'), { mode: 0o755 });
fs.writeFileSync(path.join(rootfs, 'bin/bigfile'), guestWasm('bigfile'), { mode: 0o755 });
// a second copy of the tree, with links planted by "the host" that point out of it
const planted = path.join(base, 'planted');
execFileSync('cp', ['-a', rootfs, planted]);
const CANARY = 'host canary beside the rootfs\n';
fs.writeFileSync(path.join(outside, 'canary'), CANARY);
fs.symlinkSync(outside, path.join(planted, 'abs-out'));
fs.symlinkSync('../../../outside', path.join(planted, 'etc/rel-out'));
fs.symlinkSync('/etc/hostname', path.join(planted, 'abs-in'));

/**
 * Every path, type, mode, owner, size, mtime, link target and file hash under dir. The directory's
 * own mtime is left out: root:self creates (and removes) its filestore file there, as runsc does.
 */
function snapshot(dir: string): string {
  return (
    execFileSync('find', [dir, '-mindepth', '1', '-printf', '%P %y %m %U:%G %s %T@ %l\\n'], { encoding: 'utf8' }).split('\n').sort().join('\n') +
    execFileSync('sh', ['-c', `cd '${dir}' && find . -type f -exec md5sum {} + | sort`], { encoding: 'utf8' })
  );
}
const pristine = snapshot(rootfs);

const SCRIPT = [
  'echo changed >> /etc/motd',
  'echo new > /etc/new',
  'rm /etc/passwd',
  'mkdir -p /var/lib/app && echo data > /var/lib/app/state',
  'mv /etc/hostname /etc/hostname.old',
  'rm -r /usr',
  'ln -s /etc/new /etc/link',
  'ls -l /etc /var/lib/app',
  'cat /etc/motd /etc/link /etc/hostname.old',
  'ls /',
].join('; ');

const MODES = ['root:self', 'root:memory', `root:dir=${base}`];

for (const mode of MODES) {
  test(`${mode.split('=')[0]}: changes show inside, the host directory is unchanged byte for byte`, () => {
    const r = runSandbox(['--overlay2', mode, '--rootfs', rootfs, '/bin/sh', '-c', SCRIPT]);
    assert.is(r.status, 0, r.stderr);
    assert.match(r.stdout, /new\nVisited|changed\n/);
    assert.match(r.stdout, /state/);
    assert.not.match(r.stdout, /passwd/);
    assert.not.match(r.stdout, /\busr\b/);
    assert.is(snapshot(rootfs), pristine);
  });
}

test('the same commands answer the same over the rootfs directory as over its image', () => {
  const cmd = ['/bin/sh', '-c', 'ls -l /etc /bin/sh /home; cat /etc/motd; layers /etc/passwd; stat -c "%a %s %F" /tmp /root /etc/group'];
  const overImage = runSandbox([image, ...cmd]);
  const overDir = runSandbox(['--rootfs', rootfs, ...cmd]);
  assert.is(overImage.status, 0, overImage.stderr);
  assert.is(overDir.status, 0, overDir.stderr);
  // the image's layer 1 replaced /etc/motd; extracted, the directory is one layer: only the layer number differs
  assert.is(overDir.stdout, overImage.stdout.replace(/image layer \d/g, 'image layer 0'));
});

test('an image given after --rootfs supplies the config: its Cmd runs over the directory', () => {
  const r = runSandbox(['--rootfs', rootfs, image]);
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /Welcome to wasmbox/);
  assert.is(snapshot(rootfs), pristine);
});

test('root:self: the filestore lives inside the rootfs while the sandbox runs, hidden from the guest, gone after', async () => {
  // a guest that writes 8 MiB, lists /, and sleeps; while it sleeps the file is there
  const child = spawn(
    process.execPath,
    [RUN_JS, '--rootfs', rootfs, '/bin/sh', '-c', 'bigfile write /big 8; ls -a /; sleep 3'],
    { cwd: ROOT },
  );
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  const closed = new Promise<number | null>((r) => child.on('close', r));
  let seen: { name: string; blocks: number } | null = null;
  for (let i = 0; i < 60 && !seen; i++) {
    await new Promise((r) => setTimeout(r, 100));
    for (const n of fs.readdirSync(rootfs)) {
      const m = /^\.wasmbox\.filestore\.[0-9a-f]+$/.exec(n);
      if (!m) continue;
      const st = fs.statSync(path.join(rootfs, n));
      if (st.blocks * 512 >= 8 << 20) seen = { name: n, blocks: st.blocks };
    }
  }
  const status = await closed;
  assert.is(status, 0);
  assert.ok(seen, 'an 8 MiB filestore file in the rootfs directory while the guest ran');
  assert.match(out, /write \/big n=8388608 /);
  assert.not.match(out, /wasmbox/);
  assert.ok(out.includes('big\n'));
  assert.equal(fs.readdirSync(rootfs).filter((n) => n.startsWith('.wasmbox')), []);
  assert.is(snapshot(rootfs), pristine);
});

test('links planted in the rootfs resolve inside the sandbox: the canary beside it is never reached', () => {
  const ops = ['seed /', 'cat abs-out/canary', 'ls abs-out', 'cat etc/rel-out/canary', 'put abs-out/planted 3 1', 'cat abs-in', 'ls ../../..'];
  const before = snapshot(planted);
  const r = runSandbox(['--rootfs', planted, '/bin/fsops'], { input: ops.join('\n') + '\n' });
  assert.is(r.status, 0, r.stderr);
  const res = (op: string) => r.stdout.split('\n').find((l) => l.startsWith(op + ' -> '))?.slice(op.length + 4);
  for (const op of ['cat abs-out/canary', 'ls abs-out', 'cat etc/rel-out/canary', 'put abs-out/planted 3 1']) {
    assert.ok(['ENOENT', 'ENOTDIR'].includes(res(op)!), `${op}: ${res(op)}`);
  }
  assert.match(res('cat abs-in')!, /^ok n=8 /); // /etc/hostname of the rootfs, "wasmbox\n"
  assert.is(res('ls ../../..'), 'ok abs-in@ abs-out@ bin/ dev/ etc/ home/ root/ tmp/ usr/');
  assert.equal(fs.readdirSync(outside), ['canary']);
  assert.is(fs.readFileSync(path.join(outside, 'canary'), 'utf8'), CANARY);
  assert.is(snapshot(planted), before);
});

test('a rootfs that is read-only on the host still runs: root:self keeps the filestore elsewhere', () => {
  const ro = path.join(base, 'ro-mount');
  fs.mkdirSync(ro);
  try {
    execFileSync('mount', ['--bind', rootfs, ro]);
    execFileSync('mount', ['-o', 'remount,bind,ro', ro]);
  } catch (e) {
    console.log(`SKIP read-only rootfs: cannot make a read-only bind mount here (${(e as Error).message.split('\n')[0]})`);
    return;
  }
  try {
    const r = runSandbox(['--rootfs', ro, '/bin/sh', '-c', 'echo hi > /etc/x; cat /etc/x']);
    assert.is(r.status, 0, r.stderr);
    assert.is(r.stdout, 'hi\n');
  } finally {
    execFileSync('umount', [ro]);
  }
  assert.is(snapshot(rootfs), pristine);
});

test('a missing or non-directory --rootfs is one line and status 125', () => {
  for (const bad of [path.join(base, 'nope'), path.join(rootfs, 'etc/motd')]) {
    const r = runSandbox(['--rootfs', bad, '/bin/ls']);
    assert.is(r.status, 125);
    assert.is(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /--rootfs .*: not a directory/);
  }
});

test.after(() => fs.rmSync(base, { recursive: true, force: true }));

test.run();
