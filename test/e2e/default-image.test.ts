// The built-in default image (dist/images/default.tar, built by `npm install` from the userland and
// guests/rootfs/ by scripts/build.mjs) and what `node host/run.js` does without IMAGE: the scripted
// demo (stdin not a terminal), the shell with -i / -t / -it, the demo and then the shell on a
// terminal (through script(1), which gives the sandbox a pseudo-terminal).
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ROOT, runSandbox } from '../lib/sandbox';

const IMAGE = path.join(ROOT, 'dist', 'images', 'default.tar');
const sha = (b: Uint8Array) => crypto.createHash('sha256').update(b).digest('hex');

/** The demo's output with the clock taken out (ls -l shows the times of the files it wrote). */
const timeless = (s: string) => s.replace(/ [A-Z][a-z]{2} [ \d]\d ( \d{4}|\d\d:\d\d) /g, ' DATE ');

test('the default image is an OCI layout with two layers whose digests, sizes and diff_ids hold, and a matching manifest.json', () => {
  const tar = (member: string) => spawnSync('tar', ['-xOf', IMAGE, member], { maxBuffer: 64 << 20 }).stdout;
  const json = (member: string) => JSON.parse(tar(member).toString());
  const blob = (d: { digest: string; size: number }) => {
    const b = tar(`blobs/sha256/${d.digest.slice(7)}`);
    assert.is(b.length, d.size);
    assert.is(`sha256:${sha(b)}`, d.digest);
    return b;
  };
  assert.equal(json('oci-layout'), { imageLayoutVersion: '1.0.0' });
  const index = json('index.json');
  const desc = index.manifests[0];
  assert.equal(desc.platform, { architecture: 'wasm', os: 'wasi' });
  assert.is(desc.annotations['io.containerd.image.name'], 'docker.io/wasmbox/default:latest');
  const manifest = JSON.parse(blob(desc).toString());
  const config = JSON.parse(blob(manifest.config).toString());
  assert.is(manifest.layers.length, 2);
  manifest.layers.forEach((l: { digest: string; size: number }, i: number) => assert.is(config.rootfs.diff_ids[i], `sha256:${sha(blob(l))}`));
  assert.equal(config.config.Cmd, ['/bin/sh', '/usr/share/wasmbox/demo.sh']);
  const [docker] = json('manifest.json');
  assert.is(docker.Config, `blobs/sha256/${manifest.config.digest.slice(7)}`);
  assert.equal(docker.Layers, manifest.layers.map((l: { digest: string }) => `blobs/sha256/${l.digest.slice(7)}`));
  assert.equal(docker.RepoTags, ['wasmbox/default:latest']);
});

test('node host/run.js (stdin not a terminal) runs the demo: motd, copy-up, whiteout, merged view, layers, df; exit 0', () => {
  const t0 = Date.now();
  const r = runSandbox([]);
  const ms = Date.now() - t0;
  assert.is(r.status, 0, r.stderr);
  assert.is(r.stderr, '');
  const out = r.stdout;
  const has = (s: string) => assert.ok(out.includes(s), `missing ${JSON.stringify(s)} in:\n${out}`);
  has('Welcome to wasmbox: a WebAssembly sandbox with a container root file system.\n');
  // the image: layer 1 replaced /etc/motd and whited out /etc/issue of layer 0
  has('$ layers /etc/motd /etc/hostname /bin/ls\n/etc/motd: image layer 1\n/etc/hostname: image layer 0\n/bin/ls: image layer 0\n');
  has('$ echo /etc/*\n/etc/group /etc/hostname /etc/motd /etc/os-release /etc/passwd\n');
  // after the writes and the delete: the merged view (os-release gone, demo.d new, motd grown)
  assert.match(timeless(out), /\$ ls -l \/etc\ntotal \d+\ndrwxr-xr-x 2 root root +\d+ DATE demo\.d\n-rw-r--r-- 1 root root +23 DATE group\n-rw-r--r-- 1 root root +8 DATE hostname\n-rw-r--r-- 1 root root +\d+ DATE motd\n-rw-r--r-- 1 root root +71 DATE passwd\n/);
  has('Visited by the demo.\n');
  has(
    [
      '/etc: merged (image layer 1, changed in the upper layer)',
      '/etc/motd: upper (copied up from image layer 1)',
      '/etc/hostname: upper (copied up from image layer 0)',
      '/etc/demo.d/app.conf: upper (created in the sandbox)',
      '/etc/passwd: image layer 0',
      '/bin/ls: image layer 0',
      '',
    ].join('\n'),
  );
  assert.match(out, /\$ df -h \/\nFilesystem +Size +Used +Avail +Use% +Mounted on\noverlay +\S+ +\d+(\.\d)?K +\S+ +\d+% \/\n/);
  has('the next run starts afresh');
  // "well under a second after start-up": the whole run, start-up included, stays within a few
  console.log(`  (the demo run took ${ms} ms)`);
  assert.ok(ms < 5000, `the demo took ${ms} ms`);
});

test('running the demo twice starts afresh: the same output, the image unchanged', () => {
  const before = sha(fs.readFileSync(IMAGE));
  const a = runSandbox([]);
  const b = runSandbox([]);
  assert.is(a.status, 0, a.stderr);
  assert.is(b.status, 0, b.stderr);
  assert.is(timeless(b.stdout), timeless(a.stdout));
  assert.is(sha(fs.readFileSync(IMAGE)), before);
});

test('-i, -t, -it, -i -t with stdin a pipe: sh runs the commands it reads, no prompt; its exit status is ours', () => {
  for (const flags of [['-i'], ['-t'], ['-it'], ['-ti'], ['-i', '-t'], ['--interactive', '--tty']]) {
    const r = runSandbox(flags, { input: 'echo hi; ls /etc\ncat /etc/hostname\n' });
    assert.is(r.status, 0, `${flags}: ${r.stderr}`);
    assert.is(r.stdout, 'hi\ngroup\nhostname\nmotd\nos-release\npasswd\nwasmbox\n', flags.join(' '));
    assert.is(r.stderr, '');
  }
  const r = runSandbox(['-i'], { input: 'rm /etc/motd && echo removed\nexit 3\necho not reached\n' });
  assert.is(r.status, 3);
  assert.is(r.stdout, 'removed\n');
  // -i with an IMAGE changes nothing: COMMAND runs as always
  const r2 = runSandbox(['-i', IMAGE, '/bin/cat', '/etc/hostname']);
  assert.is(r2.stdout, 'wasmbox\n');
});

test('on a terminal: no COMMAND runs the demo then a shell in the same sandbox; -it a shell with a prompt', () => {
  const script = spawnSync('script', ['--version'], { encoding: 'utf8' });
  if (script.error) {
    console.log('  (skipped: no script(1) to give the sandbox a terminal)');
    return;
  }
  const tty = (cmd: string, input: string) =>
    spawnSync('script', ['-qec', cmd, '/dev/null'], { cwd: ROOT, input, encoding: 'utf8', timeout: 60_000 });
  const r = tty(`${process.execPath} host/run.js`, 'echo in-shell; cat /etc/hostname\nexit 7\n');
  assert.is(r.status, 7, r.stdout + r.stderr);
  const out = r.stdout.replace(/\r\n/g, '\n');
  assert.ok(out.includes('/etc/motd: upper (copied up from image layer 1)\n'), out);
  assert.ok(out.includes('Now a shell in the same sandbox (exit or Ctrl-D ends it):\n'), out);
  assert.match(out, /in-shell\nsandbox\n/); // the demo's /etc/hostname, still there for the shell
  const r2 = tty(`${process.execPath} host/run.js -it`, 'echo hi\n');
  assert.is(r2.status, 0, r2.stdout + r2.stderr);
  const out2 = r2.stdout.replace(/\r\n/g, '\n');
  assert.match(out2, /\$ /); // the prompt
  assert.match(out2, /^(\$ )?hi$/m); // (the prompt may come first: the input is typed ahead)
  assert.not.ok(out2.includes('Welcome to wasmbox'));
});

test('the toolbox has a /bin link for every command `toolbox --list` names, and each link runs it', () => {
  const list = runSandbox([IMAGE, '/bin/toolbox', '--list']);
  assert.is(list.status, 0, list.stderr);
  const applets = /^Commands:(.*)$/m.exec(list.stdout)![1].trim().split(/\s+/);
  assert.ok(applets.length >= 26, list.stdout);
  const ls = runSandbox([IMAGE, '/bin/ls', '-l', '/bin']);
  assert.is(ls.status, 0, ls.stderr);
  for (const a of applets) assert.match(ls.stdout, new RegExp(`^lrwxrwxrwx 1 root root +7 .* ${a.replace(/[[\]\\^$.|?*+()]/g, "\\$&")} -> toolbox$`, "m"));
  assert.match(ls.stdout, /^-rwxr-xr-x 1 root root +\d+ .* sh$/m);
  assert.match(ls.stdout, /^-rwxr-xr-x 1 root root +\d+ .* toolbox$/m);
  // every link runs its own command: a bad flag draws that command's message (echo, true and false
  // take any argument)
  const script = applets.map((a) => `/bin/${a} --no-such-flag </etc/hostname; echo ${a}=$?`).join('\n');
  const r = runSandbox([IMAGE, '/bin/sh', '-c', script]);
  for (const a of applets) {
    if (a === 'echo') assert.match(r.stdout, /^--no-such-flag\necho=0$/m);
    else if (a === 'true' || a === 'false') assert.match(r.stdout, new RegExp(`^${a}=${a === 'true' ? 0 : 1}$`, 'm'));
    // test's operand is a non-empty string (true); printf's is its format; [ wants its closing ]
    else if (a === 'test') assert.match(r.stdout, /^test=0$/m);
    else if (a === 'printf') assert.match(r.stdout, /^--no-such-flagprintf=0$/m);
    else if (a === '[') {
      assert.match(r.stderr, /^\[: missing '\]'$/m);
      assert.match(r.stdout, /^\[=2$/m);
    }
    else {
      assert.match(r.stderr, new RegExp(`^${a}: .*no-such-flag|^${a}: invalid option`, 'm'), `${a}:\n${r.stderr}`);
      assert.match(r.stdout, new RegExp(`^${a}=[1-9]\\d*$`, 'm'));
    }
  }
});

test('the layout: /etc files, /home/user, /root 0700, /tmp 1777, root in passwd and group, PATH and HOME', () => {
  const r = runSandbox([IMAGE, '/bin/sh', '-c', 'stat -c "%a %n" /home/user /root /tmp /etc/passwd /bin/sh; cat /etc/passwd /etc/group /etc/os-release; echo "$PATH $HOME $PWD"']);
  assert.is(r.status, 0, r.stderr);
  assert.ok(r.stdout.startsWith('755 /home/user\n700 /root\n1777 /tmp\n644 /etc/passwd\n755 /bin/sh\nroot:x:0:0:root:/root:/bin/sh\n'), r.stdout);
  assert.match(r.stdout, /^root:x:0:$/m);
  assert.match(r.stdout, /^ID=wasmbox$/m);
  assert.match(r.stdout, /^\/bin \/root \/$/m);
});

test.run();
