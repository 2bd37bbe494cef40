// The runtime driven as containerd's shim and Podman's conmon drive runc: create, start, state,
// kill, delete, exec, run, pause, list, ps, the bundle's settings, terminals over a console socket,
// and bad bundles; every test twice, through host/oci.js and through the native front end
// (dist/wasmbox-runtime, which answers create, start, kill and delete itself and hands the rest over). What must hold: the life cycle's states and errors are runc's; the host rootfs
// is unchanged byte for byte; delete leaves nothing in the runtime root, the rootfs or /tmp; a bad
// bundle is one JSON log line, a non-zero status and nothing left behind; a container's links
// planted on the host lead nowhere outside its rootfs.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadNative } from '../../native/index';
import { tempDir } from '../lib/images';
import { OCI_FRONT, OCI_JS, Runtime, filestoresIn, makeBundle, snapshot } from '../lib/oci';

let serial = 0;
const newId = () => `c${process.pid}-${++serial}`;
const read = (f: string) => fs.readFileSync(f, 'utf8');

const badBundles: [string, (b: string) => void, RegExp][] = [
  ['a missing config.json', (b) => fs.rmSync(path.join(b, 'config.json')), /cannot read .*config\.json: no such file/],
  ['invalid JSON', (b) => fs.writeFileSync(path.join(b, 'config.json'), '{"ociVersion": "1.0.2", '), /is not valid JSON/],
  ['a program that is not WebAssembly', (b) => editConfig(b, (c) => (c.process.args = ['/etc/motd'])), /exec \/etc\/motd: exec format error/],
  ['a missing program', (b) => editConfig(b, (c) => (c.process.args = ['nosuch'])), /exec nosuch: no such file or directory/],
  ['a missing rootfs', (b) => fs.rmSync(path.join(b, 'rootfs'), { recursive: true }), /root\.path .*: no such directory/],
  ['an unknown mount type', (b) => editConfig(b, (c) => c.mounts.push({ destination: '/x', type: 'nfs', source: 'server:/x' })), /unknown mount type "nfs"/],
  ['empty process.args', (b) => editConfig(b, (c) => (c.process.args = [])), /process\.args is empty/],
  ['a relative cwd', (b) => editConfig(b, (c) => (c.process.cwd = 'tmp')), /process\.cwd must be an absolute path/],
  ['a bad annotation', (b) => editConfig(b, (c) => (c.annotations = { 'dev.wasmbox.overlay2': 'sideways' })), /annotation dev\.wasmbox\.overlay2/],
  ['a missing bind source', (b) => editConfig(b, (c) => c.mounts.push({ destination: '/x', type: 'bind', source: '/no/such/dir', options: ['rbind'] })), /bind source \/no\/such\/dir does not exist/],
  ['a terminal without a console socket', (b) => editConfig(b, (c) => (c.process.terminal = true)), /cannot allocate tty/],
];

function editConfig(b: string, fn: (c: any) => void): void {
  const f = path.join(b, 'config.json');
  const c = JSON.parse(read(f));
  fn(c);
  fs.writeFileSync(f, JSON.stringify(c));
}

const native = loadNative().addon;
if (!native?.listenFdSocket) console.log('SKIP terminal test: the native addon (with listenFdSocket) is not built');
if (!OCI_FRONT) console.log('SKIP the native front end: dist/wasmbox-runtime was not built (no C compiler at install?)');
const runtimes = [new Runtime(OCI_JS), ...(OCI_FRONT ? [new Runtime(OCI_FRONT)] : [])];

for (const rt of runtimes) {
  const t = (name: string, fn: () => void | Promise<void>) => test(`${rt.name}: ${name}`, fn);
  const tt = native?.listenFdSocket && native.acceptFd ? t : (name: string, fn: () => void | Promise<void>) => test.skip(`${rt.name}: ${name}`, fn);
  /** The container's directory in the runtime root exists no more, nor its filestore. */
  function gone(id: string, bundle: string): void {
    assert.not.ok(fs.existsSync(path.join(rt.root, id)), `${id}: state left in the runtime root`);
    assert.equal(filestoresIn(path.join(bundle, 'rootfs')), []);
  }

  t('create parks the sandbox (created, pid alive, pid file), start runs it, delete cleans up', async () => {
    const b = makeBundle({ args: ['/bin/sh', '-c', 'echo hello; echo data > /etc/new; cat /etc/new; ls /'] });
    const before = snapshot(path.join(b, 'rootfs'));
    const id = newId();
    const pidFile = path.join(b, 'pid');
    const c = rt.runDetached(['create', '--bundle', b, '--pid-file', pidFile, id]);
    assert.is(c.status, 0, read(c.err));
    const st = rt.state(id);
    assert.is(st.status, 'created');
    assert.is(read(pidFile), String(st.pid));
    assert.ok(fs.existsSync(`/proc/${st.pid}`));
    assert.is(read(c.out), ''); // nothing runs before start
    // the filestore is inside the rootfs while the sandbox lives, hidden from it
    assert.is(filestoresIn(path.join(b, 'rootfs')).length, 2);
    const s = rt.run(['start', id]);
    assert.is(s.status, 0, s.stderr);
    await rt.waitStatus(id);
    assert.is(read(c.out), 'hello\ndata\nbin\ndev\netc\nhome\nroot\ntmp\nusr\n');
    assert.is(rt.state(id).pid, 0);
    const d = rt.run(['delete', id]);
    assert.is(d.status, 0, d.stderr);
    gone(id, b);
    assert.is(snapshot(path.join(b, 'rootfs')), before);
  });

  t('run: the exit status, env, cwd, hostname and user come from config.json', () => {
    const b = makeBundle({
      args: ['/bin/sh', '-c', 'echo $GREETING $PWD $HOSTNAME; touch /tmp/owned; stat /tmp/owned; exit 7'],
      env: ['PATH=/bin', 'GREETING=hi'],
      cwd: '/home/user',
      process: { user: { uid: 1000, gid: 100 } },
      extra: { hostname: 'box7' },
    });
    const r = rt.run(['run', '--bundle', b, newId()]);
    assert.is(r.status, 7, r.stderr);
    assert.match(r.stdout, /^hi \/home\/user box7\n/);
    assert.match(r.stdout, /Uid: \( 1000\/.*Gid: \(  100\//);
  });

  t('run: root.readonly, tmpfs, bind mounts (rw, ro) and a file bind mount', () => {
    const vol = tempDir('oci-vol');
    const ro = tempDir('oci-ro');
    fs.writeFileSync(path.join(ro, 'keep'), 'kept\n');
    const hosts = path.join(tempDir('oci-file'), 'hosts');
    fs.writeFileSync(hosts, '127.0.0.1 localhost box\n');
    const b = makeBundle({
      args: ['/bin/sh', '-c', 'echo x > /etc/x; echo t > /scratch/t; cat /scratch/t; echo v > /vol/v; cat /ro/keep; echo w > /ro/w; cat /etc/hosts; ls /dev'],
      extra: {
        root: { path: 'rootfs', readonly: true },
        mounts: [
          { destination: '/proc', type: 'proc', source: 'proc' },
          { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'mode=755', 'size=65536k'] },
          { destination: '/dev/pts', type: 'devpts', source: 'devpts' },
          { destination: '/scratch', type: 'tmpfs', source: 'tmpfs', options: ['size=1m'] },
          { destination: '/vol', type: 'bind', source: vol, options: ['rbind', 'rw'] },
          { destination: '/ro', type: 'bind', source: ro, options: ['rbind', 'ro'] },
          { destination: '/etc/hosts', type: 'bind', source: hosts, options: ['rbind', 'ro'] },
          { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['ro'] },
        ],
      },
    });
    const r = rt.run(['run', '--bundle', b, newId()]);
    assert.is(r.status, 0, r.stderr);
    // /dev is the bundle's tmpfs, with the sandbox's devices in it (as runc makes them); the devpts
    // and sysfs mounts are skipped, mount points and all
    assert.is(r.stdout, 't\nkept\n127.0.0.1 localhost box\nfull\nnull\nrandom\nshm\nstderr\nstdin\nstdout\nurandom\nzero\n');
    assert.match(r.stderr, /\/etc\/x: Read-only file system/);
    assert.match(r.stderr, /\/ro\/w: Read-only file system/);
    assert.is(read(path.join(vol, 'v')), 'v\n');
    assert.equal(fs.readdirSync(ro), ['keep']);
  });

  t('annotations choose the overlay2 mode and its size', () => {
    const b = makeBundle({
      args: ['/bin/sh', '-c', 'bigfile write /big 3; ls /'],
      extra: { annotations: { 'dev.wasmbox.overlay2': 'root:memory', 'dev.wasmbox.size': '2m' } },
    });
    const r = rt.run(['run', '--bundle', b, newId()]);
    assert.is(r.status, 0, r.stderr);
    assert.match(r.stdout, /error=ENOSPC/);
  });

  t('kill before start ends the parked sandbox; delete of a created container needs no force', async () => {
    const b = makeBundle({ args: ['/bin/sh', '-c', 'echo never'] });
    const id = newId();
    const c = rt.runDetached(['create', '--bundle', b, id]);
    assert.is(c.status, 0, read(c.err));
    assert.is(rt.run(['kill', id, 'KILL']).status, 0);
    await rt.waitStatus(id);
    assert.is(rt.run(['start', id]).stderr.trim(), 'wasmbox-runtime: cannot start a container that has stopped');
    assert.is(rt.run(['delete', id]).status, 0);
    gone(id, b);
    assert.is(read(c.out), '');
    // and delete of a container still created (not started) kills it, as runc does
    const id2 = newId();
    assert.is(rt.runDetached(['create', '--bundle', b, id2]).status, 0);
    const pid = rt.state(id2).pid;
    assert.is(rt.run(['delete', id2]).status, 0);
    assert.not.ok(fs.existsSync(`/proc/${pid}/cmdline`) && read(`/proc/${pid}/cmdline`).includes('oci-sandbox'));
    gone(id2, b);
  });

  t('kill after start: signal names and numbers; the sleeping guest ends at once; delete refuses a running one without --force', async () => {
    const b = makeBundle({ args: ['/bin/sleep', '60'] });
    for (const sig of ['TERM', 'SIGTERM', '15', 'sigint', 'HUP']) {
      const id = newId();
      assert.is(rt.runDetached(['create', '--bundle', b, id]).status, 0);
      assert.is(rt.run(['start', id]).status, 0);
      assert.is(rt.state(id).status, 'running');
      const del = rt.run(['delete', id]);
      assert.is(del.status, 1);
      assert.match(del.stderr, /cannot delete container .* that is not stopped: running/);
      const t0 = Date.now();
      assert.is(rt.run(['kill', id, sig]).status, 0, sig);
      await rt.waitStatus(id);
      assert.ok(Date.now() - t0 < 3000, `${sig} took ${Date.now() - t0} ms`);
      assert.is(rt.run(['kill', id, 'TERM']).stderr.trim(), 'wasmbox-runtime: container not running');
      assert.is(rt.run(['delete', id]).status, 0);
      gone(id, b);
    }
    const id = newId();
    assert.is(rt.runDetached(['create', '--bundle', b, id]).status, 0);
    assert.is(rt.run(['start', id]).status, 0);
    assert.is(rt.run(['delete', '--force', id]).status, 0);
    gone(id, b);
    assert.match(rt.run(['kill', id]).stderr, /does not exist/);
    assert.is(rt.run(['kill', 'x', 'NOSUCH']).status, 1);
  });

  t('exec: a new process in the same sandbox sees and changes its upper layer; statuses come back', async () => {
    const b = makeBundle({ args: ['/bin/sh', '-c', 'echo from-init > /tmp/shared; sleep 60'] });
    const id = newId();
    assert.is(rt.runDetached(['create', '--bundle', b, id]).status, 0);
    assert.match(rt.run(['exec', id, '/bin/true']).stderr, /cannot exec in a created container/);
    assert.is(rt.run(['start', id]).status, 0);
    await new Promise((r) => setTimeout(r, 300));
    const e = rt.run(['exec', '--env', 'X=1', id, '/bin/sh', '-c', 'cat /tmp/shared; echo $X; echo from-exec > /tmp/back; exit 9']);
    assert.is(e.status, 9, e.stderr);
    assert.is(e.stdout, 'from-init\n1\n');
    assert.is(rt.run(['exec', id, '/bin/cat', '/tmp/back']).stdout, 'from-exec\n');
    // stdin reaches the exec'd process
    assert.is(rt.run(['exec', id, '/bin/cat'], { input: 'piped in\n' }).stdout, 'piped in\n');
    // --process FILE, as the shims pass it
    const pf = path.join(b, 'process.json');
    fs.writeFileSync(pf, JSON.stringify({ args: ['/bin/sh', '-c', 'echo $Y in $PWD'], env: ['Y=2'], cwd: '/etc', terminal: false }));
    assert.is(rt.run(['exec', '--process', pf, id]).stdout, '2 in /etc\n');
    const missing = rt.run(['exec', id, '/bin/nope']);
    assert.is(missing.status, 127);
    assert.match(missing.stderr, /exec \/bin\/nope: no such file or directory/);
    // detached: the proxy's pid goes to the pid file and lives as long as the process
    const pidFile = path.join(b, 'exec.pid');
    const d = rt.runDetached(['exec', '--detach', '--pid-file', pidFile, id, '/bin/sleep', '30']);
    assert.is(d.status, 0, read(d.err));
    const proxy = Number(read(pidFile));
    assert.ok(fs.existsSync(`/proc/${proxy}`));
    const ps = JSON.parse(rt.run(['ps', '--format', 'json', id]).stdout);
    assert.equal(ps.sort(), [rt.state(id).pid, proxy].sort());
    // the init process ends: so does the exec'd one, and its proxy
    assert.is(rt.run(['kill', id, 'TERM']).status, 0);
    await rt.waitStatus(id);
    for (let i = 0; i < 100 && fs.existsSync(`/proc/${proxy}/stat`) && !read(`/proc/${proxy}/stat`).includes(') Z'); i++) await new Promise((r) => setTimeout(r, 30));
    assert.ok(!fs.existsSync(`/proc/${proxy}/stat`) || read(`/proc/${proxy}/stat`).includes(') Z'), 'the exec proxy ended');
    assert.is(rt.run(['delete', id]).status, 0);
    gone(id, b);
  });

  t('pause and resume stop and continue the whole sandbox; list and state report it', async () => {
    const b = makeBundle({ args: ['/bin/sleep', '60'] });
    const id = newId();
    assert.is(rt.runDetached(['create', '--bundle', b, id]).status, 0);
    assert.is(rt.run(['start', id]).status, 0);
    assert.is(rt.run(['pause', id]).status, 0);
    assert.is(rt.state(id).status, 'paused');
    const pid = rt.state(id).pid;
    assert.match(read(`/proc/${pid}/stat`), /\) T /);
    const list = JSON.parse(rt.run(['list', '--format', 'json']).stdout);
    assert.is(list.find((c: { id: string }) => c.id === id).status, 'paused');
    assert.is(rt.run(['resume', id]).status, 0);
    assert.is(rt.state(id).status, 'running');
    assert.match(rt.run(['list']).stdout, new RegExp(`${id}\\s+${pid}\\s+running`));
    assert.is(rt.run(['delete', '-f', id]).status, 0);
    gone(id, b);
  });

  t('a container whose rootfs holds planted host symlinks cannot reach past it', () => {
    const outside = tempDir('oci-canary');
    fs.writeFileSync(path.join(outside, 'canary'), 'CANARY\n');
    const b = makeBundle({ args: ['/bin/fsops'] });
    fs.symlinkSync(outside, path.join(b, 'rootfs', 'abs-out'));
    fs.symlinkSync(path.relative(path.join(b, 'rootfs', 'etc'), outside), path.join(b, 'rootfs', 'etc', 'rel-out'));
    const ops = ['seed /', 'cat abs-out/canary', 'cat etc/rel-out/canary', 'put abs-out/x 3 1', 'put etc/rel-out/x 3 1', 'ls ../../../..'];
    const r = rt.run(['run', '--bundle', b, newId()], { input: ops.join('\n') + '\n' });
    assert.is(r.status, 0, r.stderr);
    for (const op of ops.slice(1, 5)) {
      const l = r.stdout.split('\n').find((x) => x.startsWith(op + ' -> '));
      assert.ok(l && /-> (ENOENT|ENOTDIR)$/.test(l), `${op}: ${l}`);
    }
    assert.equal(fs.readdirSync(outside), ['canary']);
    assert.is(read(path.join(outside, 'canary')), 'CANARY\n');
  });

  t('a crashed sandbox (SIGKILL) leaves its filestore only until the next create sweeps it', async () => {
    const b = makeBundle({ args: ['/bin/sleep', '60'] });
    const id = newId();
    assert.is(rt.runDetached(['create', '--bundle', b, id]).status, 0);
    assert.is(rt.run(['start', id]).status, 0);
    process.kill(rt.state(id).pid, 'SIGKILL');
    await rt.waitStatus(id);
    assert.is(filestoresIn(path.join(b, 'rootfs')).length, 2);
    const other = makeBundle({ args: ['/bin/true'] });
    assert.is(rt.run(['run', '--bundle', other, newId()]).status, 0);
    assert.equal(filestoresIn(path.join(b, 'rootfs')), []);
    assert.is(rt.state(id).status, 'stopped'); // its state stays for the engine's delete
    assert.is(rt.run(['delete', id]).status, 0);
    gone(id, b);
  });

  for (const [what, spoil, re] of badBundles) {
    t(`a bad bundle (${what}): one JSON log line, status 1, nothing left`, () => {
      const b = makeBundle({ args: ['/bin/true'] });
      spoil(b);
      const rootfsBefore = fs.existsSync(path.join(b, 'rootfs')) ? snapshot(path.join(b, 'rootfs')) : '';
      rt.clearLog();
      const id = newId();
      const r = rt.runDetached(['create', '--bundle', b, id]);
      assert.is(r.status, 1);
      const err = read(r.err).trim().split('\n');
      assert.is(err.length, 1, err.join('\n'));
      assert.match(err[0], re);
      const log = rt.logLines();
      assert.is(log.length, 1);
      assert.is(log[0].level, 'error');
      assert.match(log[0].msg, re);
      assert.ok(!Number.isNaN(Date.parse(log[0].time)));
      assert.not.ok(fs.existsSync(path.join(rt.root, id)));
      if (rootfsBefore) assert.is(snapshot(path.join(b, 'rootfs')), rootfsBefore);
    });
  }

  t('runc\'s answers for what does not exist or does not apply', () => {
    for (const [args, re] of [
      [['state', 'nosuch'], /container "nosuch" does not exist/],
      [['delete', 'nosuch'], /container "nosuch" does not exist/],
      [['start', 'nosuch'], /does not exist/],
      [['update', 'x'], /update: the WebAssembly sandbox has no cgroups/],
      [['checkpoint', 'x'], /not supported/],
      [['bogus'], /unknown command "bogus"/],
      [['create', '--frobnicate', 'x'], /flag provided but not defined: -frobnicate/],
      [['create', '../x'], /invalid container id format/],
    ] as const) {
      const r = rt.run([...args]);
      assert.is(r.status, 1, `${args.join(' ')}: ${r.stdout}`);
      assert.match(r.stderr, re);
    }
    assert.is(rt.run(['delete', '--force', 'nosuch']).status, 0);
    assert.match(rt.run(['--version']).stdout, /^wasmbox-runtime version \S+\nspec: 1\.0\.2\n$/);
    const f = JSON.parse(rt.run(['features']).stdout);
    assert.is(f.ociVersionMax, '1.0.2');
  });


  tt('terminal: the pty master arrives on the console socket; typing runs commands; Ctrl-C ends only the child; exit 3 is the status', async () => {
    const b = makeBundle({ args: ['/bin/sh'], terminal: true, env: ['PATH=/bin', 'TERM=xterm'] });
    const sockPath = path.join(tempDir('oci-console'), 'console.sock');
    const listener = native!.listenFdSocket!(sockPath);
    const id = newId();
    const child = spawn(rt.binary === OCI_JS ? process.execPath : rt.binary, [...(rt.binary === OCI_JS ? [OCI_JS] : []), '--root', rt.root, 'run', '--bundle', b, '--console-socket', sockPath, id], { stdio: 'ignore', env: rt.env });
    const exited = new Promise<number | null>((r) => child.on('exit', r));
    try {
      const { fd } = native!.acceptFd!(listener, 20_000);
      fs.closeSync(listener);
      let out = '';
      const reader = new (await import('node:tty')).ReadStream(fd);
      reader.on('data', (d) => (out += d));
      reader.on('error', () => {});
      const until = async (re: RegExp, ms = 10_000) => {
        const end = Date.now() + ms;
        while (!re.test(out)) {
          if (Date.now() > end) throw new Error(`no ${re} in ${JSON.stringify(out)}`);
          await new Promise((r) => setTimeout(r, 20));
        }
      };
      const type = (s: string) => fs.writeSync(fd, s);
      await until(/\$ $/);
      type('echo one two\n');
      await until(/(\n|\$ )one two\r\n/);
      type('sleep 30\n');
      await new Promise((r) => setTimeout(r, 500));
      const t0 = Date.now();
      type('\x03');
      type('echo after\n');
      await until(/(\n|\$ )after\r\n/);
      assert.ok(Date.now() - t0 < 3000, 'Ctrl-C ended the sleep, not the shell');
      type('exit 3\n');
      assert.is(await exited, 3);
      reader.destroy();
      gone(id, b);
    } finally {
      if (child.exitCode === null) rt.run(['delete', '--force', id]);
      child.kill('SIGKILL');
    }
  });

}

for (const rt of runtimes) {
  test(`${rt.name}: nothing is left in the runtime's TMPDIR or its root`, () => {
    assert.equal(fs.readdirSync(rt.tmp), []);
    assert.equal(fs.readdirSync(rt.root).filter((n) => fs.existsSync(path.join(rt.root, n, 'state.json')) && rt.state(n).status !== 'stopped'), []);
  });
}

test.run();
