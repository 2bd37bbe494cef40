// containerd running WASI containers through wasmbox-runtime: a real containerd (Debian's), started
// here with private root, state and socket and the configuration docs/oci.md gives, driven with
// `ctr` as a user would. It checks output, exit codes, env, cwd, bind mounts rw and ro, a 64 MiB
// file written by the guest landing in the filestore inside the container's snapshot (its upper
// directory) and leaving it again when deleted, the image's snapshots unchanged by a run, `ctr task
// kill` with SIGTERM and SIGKILL, `ctr task exec`, and nothing left in the runtime root, /tmp or the
// snapshot afterwards. Skipped, saying why, when containerd or ctr is not installed.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tempDir } from '../lib/images';
import { OCI_BIN, rootfsTemplate, snapshot, until, which } from '../lib/oci';
import { ROOT } from '../lib/sandbox';

const containerd = which('containerd');
const ctrBin = which('ctr');
const missing = !containerd ? 'containerd' : !ctrBin ? 'ctr' : process.getuid?.() !== 0 ? 'root' : null;
if (missing) console.log(`SKIP containerd tests: ${missing} is not available (.ci/run installs containerd with apt)`);
const ctest = missing ? test.skip : test;

const base = tempDir('containerd');
const dirs = { root: path.join(base, 'root'), state: path.join(base, 'state'), sock: path.join(base, 'containerd.sock'), runc: path.join(base, 'runtime-root') };
const ns = `wasmbox-test-${process.pid}`;
const IMAGE = 'docker.io/wasmbox/test:latest';
let daemon: ChildProcess | null = null;
/** containerd's TMPDIR, which reaches the shims, the runtime and the sandboxes: this test's own. */
const tmp = path.join(base, 'tmp');

/** docs/oci.md's containerd configuration, with this test's private paths put in. */
function configFromDocs(): string {
  const doc = fs.readFileSync(path.join(ROOT, 'docs', 'oci.md'), 'utf8');
  const m = /<!-- containerd-config: begin -->\n```toml\n([\s\S]*?)```\n<!-- containerd-config: end -->/.exec(doc);
  if (!m) throw new Error('docs/oci.md has no containerd configuration block');
  let toml = m[1];
  const subst: [string, string][] = [
    ['root = "/var/lib/containerd"', `root = "${dirs.root}"`],
    ['state = "/run/containerd"', `state = "${dirs.state}"`],
    ['address = "/run/containerd/containerd.sock"', `address = "${dirs.sock}"`],
    ['BinaryName = "/opt/wasmbox/dist/wasmbox-runtime"', `BinaryName = "${OCI_BIN}"`],
    ['Root = "/run/wasmbox"', `Root = "${dirs.runc}"`],
  ];
  for (const [from, to] of subst) {
    if (!toml.includes(from)) throw new Error(`docs/oci.md's configuration lacks ${from}`);
    toml = toml.replace(from, to);
  }
  // this containerd serves only the test: no CRI networking, and its own cgroup-free shims
  return toml + '\n[plugins."io.containerd.grpc.v1.cri"]\n  disable_apparmor = true\n';
}

function ctr(args: string[], opts: { input?: string; timeoutMs?: number } = {}): { stdout: string; stderr: string; status: number } {
  const r = spawnSync(ctrBin!, ['-a', dirs.sock, '-n', ns, ...args], { encoding: 'utf8', input: opts.input ?? '', timeout: opts.timeoutMs ?? 60_000 });
  if (r.error) throw r.error;
  return { stdout: r.stdout, stderr: r.stderr, status: r.status ?? 128 };
}

/** `ctr run --rm` of the test image with wasmbox-runtime. */
function run(id: string, cmd: string[], flags: string[] = [], input = ''): { stdout: string; stderr: string; status: number } {
  return ctr(['run', '--rm', '--runc-binary', OCI_BIN, '--runc-root', dirs.runc, ...flags, IMAGE, id, ...cmd], { input });
}

/** The same, in the background; resolves to ctr's exit status. */
function runBackground(id: string, cmd: string[]): { done: Promise<number | null>; out: () => string } {
  const c = spawn(ctrBin!, ['-a', dirs.sock, '-n', ns, 'run', '--rm', '--runc-binary', OCI_BIN, '--runc-root', dirs.runc, IMAGE, id, ...cmd], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  c.stdout!.on('data', (d) => (out += d));
  c.stderr!.on('data', (d) => (out += d));
  return { done: new Promise((r) => c.on('close', r)), out: () => out };
}

/** An option (upperdir, lowerdir) of the overlay mounted as container `id`'s rootfs. */
function rootfsMountOption(id: string, name: string): string | null {
  const rootfs = path.join(dirs.state, 'io.containerd.runtime.v2.task', ns, id, 'rootfs');
  for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const f = line.split(' ');
    if (f[4] !== rootfs) continue;
    const m = new RegExp(`${name}=([^,\\s]+)`).exec(line);
    if (m) return m[1];
  }
  return null;
}

const upperDirOf = (id: string) => rootfsMountOption(id, 'upperdir');
const lowerDirsOf = (id: string) => rootfsMountOption(id, 'lowerdir')?.split(':') ?? null;

const filestoreBytes = (dir: string): number =>
  fs
    .readdirSync(dir)
    .filter((n) => /^\.wasmbox\.filestore\.[0-9a-f]+$/.test(n))
    .reduce((sum, n) => sum + fs.statSync(path.join(dir, n)).blocks * 512, 0);

test.before(async () => {
  try {
    await setUp();
  } catch (e) {
    console.log(`containerd set-up failed: ${(e as Error).message}`);
    throw e;
  }
});

async function setUp(): Promise<void> {
  if (missing) return;
  fs.mkdirSync(dirs.runc);
  const cfg = path.join(base, 'config.toml');
  fs.writeFileSync(cfg, configFromDocs());
  const log = fs.openSync(path.join(base, 'containerd.log'), 'w');
  fs.mkdirSync(tmp);
  daemon = spawn(containerd!, ['--config', cfg], { stdio: ['ignore', log, log], env: { ...process.env, TMPDIR: tmp } });
  await until(() => fs.existsSync(dirs.sock) && spawnSync(ctrBin!, ['-a', dirs.sock, 'version']).status === 0, 30_000, 'containerd to answer');
  // the test image: the default image's files and the test guests, one layer, made by pack
  const img = path.join(base, 'test.tar');
  execFileSync(process.execPath, [path.join(ROOT, 'host', 'pack.js'), rootfsTemplate(), '--tag', 'wasmbox/test:latest', '--env', 'PATH=/bin', '--cmd', '/bin/sh', '-o', img]);
  const imp = ctr(['image', 'import', '--platform', 'wasi/wasm', img]);
  if (imp.status !== 0) throw new Error(`ctr image import: ${imp.stderr}`);
}

ctest('containerd accepts docs/oci.md\'s configuration, and imports the default image', () => {
  const plugins = ctr(['plugins', 'ls']).stdout;
  assert.match(plugins, /io\.containerd\.runtime\.v2\s+task\s+linux\/amd64\s+ok/);
  const r = ctr(['image', 'import', '--platform', 'wasi/wasm', path.join(ROOT, 'dist', 'images', 'default.tar')]);
  assert.is(r.status, 0, r.stderr);
  assert.match(ctr(['images', 'ls']).stdout, /docker\.io\/wasmbox\/default:latest.*wasi\/wasm/);
  const d = ctr(['run', '--rm', '--runc-binary', OCI_BIN, '--runc-root', dirs.runc, 'docker.io/wasmbox/default:latest', 'demo']);
  assert.is(d.status, 0, d.stderr);
  assert.match(d.stdout, /Welcome to wasmbox/);
});

ctest('ctr run: output, exit codes, env and cwd', () => {
  const r = run('out1', ['/bin/sh', '-c', 'echo $GREETING in $PWD; ls /; exit 7'], ['--env', 'GREETING=hello', '--cwd', '/etc']);
  assert.is(r.status, 7, r.stderr);
  assert.match(r.stdout, /^hello in \/etc\nbin\ndev\netc\nhome\nroot\nrun\ntmp\nusr\n$/);
  const nf = run('out2', ['/bin/nosuch']);
  assert.is(nf.status, 1);
  assert.match(nf.stderr, /exec \/bin\/nosuch: no such file or directory/);
});

ctest('ctr run --mount type=bind: rw writes reach the host, ro answers EROFS', () => {
  const rw = tempDir('ctd-rw');
  const ro = tempDir('ctd-ro');
  fs.writeFileSync(path.join(ro, 'keep'), 'keep\n');
  const r = run('mnt1', ['/bin/sh', '-c', 'echo w > /rw/new; cat /ro/keep; echo x > /ro/x'], ['--mount', `type=bind,src=${rw},dst=/rw,options=rbind:rw`, '--mount', `type=bind,src=${ro},dst=/ro,options=rbind:ro`]);
  assert.is(r.status, 1);
  assert.is(r.stdout, 'keep\n');
  assert.match(r.stderr, /\/ro\/x: Read-only file system/);
  assert.is(fs.readFileSync(path.join(rw, 'new'), 'utf8'), 'w\n');
  assert.equal(fs.readdirSync(ro), ['keep']);
});

ctest('a 64 MiB file lives in the filestore inside the snapshot\'s upper directory, and leaves with rm', async () => {
  const bg = runBackground('big1', ['/bin/sh', '-c', 'bigfile write /big 64; sleep 60']);
  const upper = await until(() => upperDirOf('big1'), 20_000, 'the container rootfs mount');
  await until(() => filestoreBytes(upper) >= 64 << 20, 20_000, 'the filestore to hold 64 MiB');
  // the guest does not see the file that holds its data
  const ls = ctr(['task', 'exec', '--exec-id', 'ls1', 'big1', '/bin/ls', '-a', '/']);
  assert.is(ls.status, 0, ls.stderr);
  assert.not.match(ls.stdout, /wasmbox/);
  assert.match(ls.stdout, /\nbig\n/);
  assert.is(ctr(['task', 'exec', '--exec-id', 'rm1', 'big1', '/bin/rm', '/big']).status, 0);
  await until(() => filestoreBytes(upper) < 1 << 20, 10_000, 'the filestore to shrink after rm');
  assert.is(ctr(['task', 'kill', 'big1']).status, 0);
  assert.is(await bg.done, 143);
  // containerd removes the snapshot itself later (its garbage collector); the filestore is gone now
  assert.is(fs.existsSync(upper) ? filestoreBytes(upper) : 0, 0);
  assert.equal(fs.existsSync(upper) ? fs.readdirSync(upper).filter((n) => n.startsWith('.wasmbox')) : [], []);
});

ctest('a run changes nothing in the image\'s layers (the rootfs overlay\'s lower directories), byte for byte', async () => {
  // the layers, as the rootfs mount of a running container names them
  const bg = runBackground('low0', ['/bin/sleep', '60']);
  const layers = await until(() => lowerDirsOf('low0'), 20_000, 'the rootfs mount of low0');
  const before = layers.map(snapshot);
  const r = run('low1', ['/bin/sh', '-c', 'echo x >> /etc/motd; rm /etc/passwd; rm -r /usr; mkdir /new; echo y > /bin/added; touch /etc/group']);
  assert.is(r.status, 0, r.stderr);
  assert.equal(layers.map(snapshot), before);
  assert.is(ctr(['task', 'kill', 'low0']).status, 0);
  assert.is(await bg.done, 143);
});

ctest('ctr task kill: SIGTERM ends a sleeping container with 143, SIGKILL with 137', async () => {
  for (const [sig, status] of [['SIGTERM', 143], ['SIGKILL', 137], ['SIGINT', 130]] as const) {
    const id = `kill-${sig.toLowerCase()}`;
    const bg = runBackground(id, ['/bin/sleep', '60']);
    await until(() => /RUNNING/.test(ctr(['task', 'ls']).stdout.split('\n').find((l) => l.startsWith(id + ' ')) ?? ''), 20_000, `${id} to run`);
    const t0 = Date.now();
    assert.is(ctr(['task', 'kill', '-s', sig, id]).status, 0);
    assert.is(await bg.done, status, `${sig}: ${bg.out()}`);
    assert.ok(Date.now() - t0 < 5000);
  }
});

ctest('ctr task exec: output and status, in the same upper layer as the container\'s process', async () => {
  const bg = runBackground('exec1', ['/bin/sh', '-c', 'echo from-init > /tmp/shared; sleep 60']);
  await until(() => /RUNNING/.test(ctr(['task', 'ls']).stdout), 20_000, 'exec1 to run');
  await new Promise((r) => setTimeout(r, 300));
  const e = ctr(['task', 'exec', '--exec-id', 'e1', 'exec1', '/bin/sh', '-c', 'cat /tmp/shared; echo back > /tmp/back; exit 5']);
  assert.is(e.status, 5, e.stderr);
  assert.is(e.stdout, 'from-init\n');
  assert.is(ctr(['task', 'exec', '--exec-id', 'e2', 'exec1', '/bin/cat', '/tmp/back']).stdout, 'back\n');
  const ps = ctr(['task', 'ps', 'exec1']);
  assert.is(ps.status, 0);
  assert.is(ctr(['task', 'kill', 'exec1']).status, 0);
  assert.is(await bg.done, 143);
});

ctest('nothing is left in the runtime root, /tmp or the shim state', () => {
  // the shim passes --root RUNC_ROOT/NAMESPACE: no container is left in it
  assert.equal(fs.readdirSync(dirs.runc).flatMap((n) => fs.readdirSync(path.join(dirs.runc, n))), []);
  assert.equal(fs.readdirSync(tmp).filter((n) => n.startsWith('wasmbox')), []);
  assert.is(ctr(['containers', 'ls', '-q']).stdout.trim(), '');
  const tasks = path.join(dirs.state, 'io.containerd.runtime.v2.task', ns);
  assert.equal(fs.existsSync(tasks) ? fs.readdirSync(tasks) : [], []);
});

test.after(async () => {
  if (daemon) {
    for (const id of ctr(['tasks', 'ls', '-q']).stdout.split('\n').filter(Boolean)) ctr(['task', 'kill', '-s', 'SIGKILL', id]);
    for (const id of ctr(['containers', 'ls', '-q']).stdout.split('\n').filter(Boolean)) {
      ctr(['task', 'delete', '-f', id]);
      ctr(['containers', 'rm', id]);
    }
    daemon.kill('SIGTERM');
    await new Promise((r) => (daemon!.exitCode !== null ? r(null) : daemon!.once('exit', r)));
    // shims of this containerd (they outlive it by design) and any mount it left
    spawnSync('pkill', ['-f', `containerd-shim-runc-v2 -namespace ${ns}`]);
    for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').reverse()) {
      const mp = line.split(' ')[4];
      if (mp && mp.startsWith(base)) spawnSync('umount', ['-l', mp]);
    }
  }
  fs.rmSync(base, { recursive: true, force: true });
});

test.run();
