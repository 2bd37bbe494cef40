// Podman running WASI containers through wasmbox-runtime (`podman --runtime dist/wasmbox-runtime`): Debian's
// podman and conmon with private storage, run as a user would. `podman run --rm` with -e, -w, -v (a
// directory and a single file), --read-only and --tmpfs; `podman run -it` driven through a real
// pseudo-terminal (a command typed and read back, Ctrl-C ending a sleeping child but not the shell,
// `exit 3` as the status); `podman exec`, `podman ps` while running, `podman stop` and `podman kill`.
// Skipped, saying why, when podman or conmon is not installed.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tty from 'node:tty';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadNative } from '../../native/index';
import { tempDir } from '../lib/images';
import { OCI_BIN, until, which } from '../lib/oci';
import { ROOT } from '../lib/sandbox';

const podman = which('podman');
const native = loadNative().addon;
const missing = !podman ? 'podman' : !which('conmon') ? 'conmon' : process.getuid?.() !== 0 ? 'root' : null;
if (missing) console.log(`SKIP podman tests: ${missing} is not available (.ci/run installs podman with apt)`);
const ptest = missing ? test.skip : test;
const ttyTest = missing || !native?.openpty ? test.skip : test;
if (!missing && !native?.openpty) console.log('SKIP podman -it: the native addon (openpty) is not built');

// short: Podman refuses a --runroot longer than 50 characters
const base = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-'));
process.on('exit', () => fs.rmSync(base, { recursive: true, force: true }));
const IMAGE = 'docker.io/wasmbox/default:latest';
const GLOBAL = [
  '--root', path.join(base, 'storage'),
  '--runroot', path.join(base, 'run'),
  '--tmpdir', path.join(base, 'tmp'),
  '--cgroup-manager', 'cgroupfs',
  '--events-backend', 'file',
  '--storage-driver', 'overlay',
  '--runtime', OCI_BIN,
];
// The runtime's default root, as a Podman user has it: Podman passes its --runtime-flag options to
// `create` but not to the `podman container cleanup` that conmon runs at exit, whose `delete` must
// find the container.
const RUNTIME_ROOT = '/run/wasmbox';
const rootEntries = () => (fs.existsSync(RUNTIME_ROOT) ? fs.readdirSync(RUNTIME_ROOT).sort() : []);
const rootBefore = rootEntries();

function pod(args: string[], opts: { input?: string; timeoutMs?: number } = {}): { stdout: string; stderr: string; status: number } {
  const r = spawnSync(podman!, [...GLOBAL, ...args], { encoding: 'utf8', input: opts.input ?? '', timeout: opts.timeoutMs ?? 60_000 });
  if (r.error) throw r.error;
  // Podman warns that a wasi/wasm image does not match the host's platform: expected, not an error
  const stderr = r.stderr.split('\n').filter((l) => !/image platform .* does not match the expected platform/.test(l)).join('\n');
  return { stdout: r.stdout, stderr, status: r.status ?? 128 };
}

const run = (flags: string[], cmd: string[], input = '') => pod(['run', '--rm', '--network', 'none', ...flags, IMAGE, ...cmd], { input });

test.before(() => {
  if (missing) return;
  const r = pod(['load', '-i', path.join(ROOT, 'dist', 'images', 'default.tar')]);
  if (r.status !== 0) throw new Error(`podman load: ${r.stderr}`);
});

ptest('podman run --rm: output and exit status', () => {
  const r = run([], ['/bin/sh', '-c', 'echo hello from podman; ls /etc; exit 4']);
  assert.is(r.status, 4, r.stderr);
  // Podman's /etc/hosts, /etc/hostname and /etc/resolv.conf are single-file binds: copied in
  assert.match(r.stdout, /^hello from podman\n/);
  assert.match(r.stdout, /\nhostname\nhosts\n/);
});

ptest('podman run -e, -w, -v (a directory, rw and ro, and a single file)', () => {
  const vol = tempDir('podman-vol');
  const file = path.join(tempDir('podman-file'), 'settings.conf');
  fs.writeFileSync(file, 'key = value\n');
  const r = run(['-e', 'GREETING=hi', '-w', '/tmp', '-v', `${vol}:/data`, '-v', `${vol}:/data-ro:ro`, '-v', `${file}:/etc/app.conf:ro`], [
    '/bin/sh', '-c', 'echo $GREETING $PWD; echo written > /data/f; cat /data-ro/f; cat /etc/app.conf; echo x > /data-ro/g',
  ]);
  assert.is(r.status, 1, r.stderr);
  assert.is(r.stdout, 'hi /tmp\nwritten\nkey = value\n');
  assert.match(r.stderr, /\/data-ro\/g: Read-only file system/);
  assert.is(fs.readFileSync(path.join(vol, 'f'), 'utf8'), 'written\n');
});

ptest('podman run --read-only and --tmpfs', () => {
  const r = run(['--read-only', '--tmpfs', '/scratch:size=1m'], ['/bin/sh', '-c', 'echo s > /scratch/s; cat /scratch/s; echo t > /tmp/t; cat /tmp/t; echo x > /etc/x']);
  assert.is(r.status, 1);
  // --read-only keeps /tmp, /run and /var/tmp writable tmpfs mounts, as Podman's read-only-tmpfs does
  assert.is(r.stdout, 's\nt\n');
  assert.match(r.stderr, /\/etc\/x: Read-only file system/);
});

ptest('podman run -d, ps while running, exec, stop (143) and kill (137)', async () => {
  const d = pod(['run', '-d', '--name', 'pbg', '--network', 'none', IMAGE, '/bin/sh', '-c', 'echo from-init > /tmp/shared; sleep 60']);
  assert.is(d.status, 0, d.stderr);
  await until(() => /pbg/.test(pod(['ps', '--format', '{{.Names}} {{.Status}}']).stdout), 20_000, 'pbg in podman ps');
  assert.match(pod(['ps', '--format', '{{.Names}} {{.Status}}']).stdout, /pbg Up/);
  await new Promise((r) => setTimeout(r, 300));
  const e = pod(['exec', 'pbg', '/bin/sh', '-c', 'cat /tmp/shared; exit 5']);
  assert.is(e.status, 5, e.stderr);
  assert.is(e.stdout, 'from-init\n');
  assert.is(pod(['exec', '-i', 'pbg', '/bin/cat'], { input: 'into exec\n' }).stdout, 'into exec\n');
  const t0 = Date.now();
  assert.is(pod(['stop', '-t', '10', 'pbg']).status, 0);
  assert.ok(Date.now() - t0 < 5000, 'stop ended it with SIGTERM, without waiting for the SIGKILL');
  assert.match(pod(['ps', '-a', '--format', '{{.Names}} {{.Status}}']).stdout, /pbg Exited \(143\)/);
  assert.is(pod(['rm', 'pbg']).status, 0);
  const k = pod(['run', '-d', '--name', 'pkill', '--network', 'none', IMAGE, '/bin/sleep', '60']);
  assert.is(k.status, 0, k.stderr);
  await until(() => /pkill Up/.test(pod(['ps', '--format', '{{.Names}} {{.Status}}']).stdout), 20_000, 'pkill to run');
  assert.is(pod(['kill', 'pkill']).status, 0);
  await until(() => /pkill Exited \(137\)/.test(pod(['ps', '-a', '--format', '{{.Names}} {{.Status}}']).stdout), 20_000, 'pkill to exit 137');
  assert.is(pod(['rm', 'pkill']).status, 0);
  assert.equal(rootEntries(), rootBefore);
});

ttyTest('podman run -it through a pseudo-terminal: typing, Ctrl-C of a sleeping child, exit 3', async () => {
  const pty = native!.openpty!();
  // setsid -c: podman in a session of its own, with the pseudo-terminal as its controlling terminal
  const child = spawn('setsid', ['-c', '-w', podman!, ...GLOBAL, 'run', '-it', '--rm', '--network', 'none', IMAGE, '/bin/sh'], { stdio: [pty.slave, pty.slave, pty.slave] });
  fs.closeSync(pty.slave);
  const exited = new Promise<number | null>((r) => child.on('exit', r));
  let out = '';
  const reader = new tty.ReadStream(pty.master);
  reader.on('data', (d) => (out += d));
  reader.on('error', () => {});
  const wait = (re: RegExp) => until(() => re.test(out), 20_000, `${re} in ${JSON.stringify(out.slice(-300))}`);
  const type = (s: string) => fs.writeSync(pty.master, s);
  try {
    await wait(/\$ $/);
    type('echo typed back\n');
    await wait(/(\n|\$ )typed back\r\n/);
    type('sleep 30\n');
    await new Promise((r) => setTimeout(r, 700));
    const t0 = Date.now();
    type('\x03');
    type('echo after interrupt\n');
    await wait(/(\n|\$ )after interrupt\r\n/);
    assert.ok(Date.now() - t0 < 5000, 'Ctrl-C ended the sleep, and the shell went on');
    type('exit 3\n');
    assert.is(await exited, 3);
  } finally {
    reader.destroy();
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});

ptest('nothing is left in the runtime root after the --rm runs and the removed containers', () => {
  assert.equal(rootEntries(), rootBefore);
});

test.after(() => {
  if (!missing) {
    pod(['rm', '-f', '-a']);
    // storage holds overlay mounts of podman's own; let podman take them down, then remove the rest
    spawnSync(podman!, [...GLOBAL, 'system', 'reset', '--force'], { timeout: 60_000 });
    for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').reverse()) {
      const mp = line.split(' ')[4];
      if (mp && mp.startsWith(base)) spawnSync('umount', ['-l', mp]);
    }
  }
  fs.rmSync(base, { recursive: true, force: true });
});

test.run();
