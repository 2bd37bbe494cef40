// End to end through `node host/run.js`: command lines as `docker run` builds them, environment,
// exit statuses, and every kind of bad input, each of which must give one clear line on stderr and
// a distinct exit status, never a stack trace or a hang.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { buildImage, tempDir } from '../lib/images';
import type { ImageSpec } from '../lib/layers';
import { ROOT, RUN_JS, guestWasm, runSandbox } from '../lib/sandbox';
import { DEFAULT_IMAGE } from '../lib/oci';

const args = guestWasm('args');
const trap = guestWasm('trap');

function image(spec: Partial<ImageSpec> & { layers?: ImageSpec['layers'] }, format: 'plain' | 'docker' | 'oci' = 'oci'): string {
  const layers = spec.layers ?? [
    [
      { path: 'bin/args', type: 'file', data: args, mode: 0o755 },
      { path: 'bin/trap', type: 'file', data: trap, mode: 0o755 },
      { path: 'etc/motd', type: 'file', data: 'hello\n' },
    ],
  ];
  return buildImage({ ...spec, layers }, { format });
}

/** One line on stderr, no stack trace. */
function oneLine(stderr: string): string {
  const lines = stderr.trimEnd().split('\n');
  assert.is(lines.length, 1, `expected one line on stderr, got:\n${stderr}`);
  assert.not.match(stderr, /\n\s+at /, 'stack trace on stderr');
  return lines[0];
}

test('entrypoint plus cmd make argv, and a command replaces cmd but keeps the entrypoint (docker run)', () => {
  const img = image({ entrypoint: ['/bin/args', 'fixed'], cmd: ['default'] });
  let r = runSandbox([img]);
  assert.is(r.status, 0, r.stderr);
  assert.is(r.stdout, 'argv[0]=/bin/args\nargv[1]=fixed\nargv[2]=default\n');
  r = runSandbox([img, 'a b', 'exit=7']);
  assert.is(r.status, 7, r.stderr);
  assert.is(r.stdout, 'argv[0]=/bin/args\nargv[1]=fixed\nargv[2]=a b\nargv[3]=exit=7\n');
});

test('--entrypoint replaces the entrypoint and drops the image cmd', () => {
  const img = image({ entrypoint: ['/bin/trap'], cmd: ['unreachable'] });
  const r = runSandbox(['--entrypoint', '/bin/args', img, 'x']);
  assert.is(r.status, 0, r.stderr);
  assert.is(r.stdout, 'argv[0]=/bin/args\nargv[1]=x\n');
});

test('a bare command name is found through PATH inside the sandbox', () => {
  const img = image({ cmd: ['args', 'exit=3'], env: ['PATH=/usr/bin:/bin'] });
  const r = runSandbox([img]);
  assert.is(r.status, 3, r.stderr);
  assert.match(r.stdout, /^argv\[0\]=args\n/);
});

test('image env, -e overrides and workdir reach the guest', () => {
  const img = image({ cmd: ['/bin/args'], env: ['A=1', 'B=2', 'WANT_ENV=A,B,C,PWD'], workingDir: '/etc' });
  const r = runSandbox(['-e', 'B=two', '--env=C=3', img]);
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /env A=1\nenv B=two\nenv C=3\nenv PWD=\/etc\n/);
});

// issue 16: -w relative is a usage error; a missing working directory is made, as docker run does
test('-w: absolute only; a missing directory is made (even under --read-only); a file in the way is one line, 125', () => {
  const img = image({ cmd: ['/bin/args'], env: ['WANT_ENV=PWD'] });
  const rel = runSandbox(['-w', 'app', img]);
  assert.is(rel.status, 125);
  assert.match(rel.stderr, /^wasmbox: --workdir: "app" is not an absolute path/);
  const made = runSandbox(['--read-only', '-w', '/app/sub', img]);
  assert.is(made.status, 0, made.stderr);
  assert.match(made.stdout, /env PWD=\/app\/sub\n/);
  const box = runSandbox(['-w', '/srv/data', DEFAULT_IMAGE, '/bin/sh', '-c', 'pwd; echo x > here.txt; ls /srv/data']);
  assert.is(box.status, 0, box.stderr);
  assert.is(box.stdout, '/srv/data\nhere.txt\n', "the image's sh starts there, and relative paths resolve from it");
  const blocked = runSandbox(['-w', '/etc/motd/x', img]);
  assert.is(blocked.status, 125);
  assert.is(oneLine(blocked.stderr), 'wasmbox: working directory /etc/motd/x: cannot make /etc/motd/x: not a directory');
});

for (const format of ['plain', 'docker', 'oci'] as const) {
  test(`runs from a ${format} image, and with gzip layers`, () => {
    for (const gzip of [false, true]) {
      const img = buildImage(
        { layers: [[{ path: 'bin/args', type: 'file', data: args }]], cmd: ['/bin/args', 'exit=5'] },
        { format, gzip },
      );
      const cache = tempDir('cache');
      const r = runSandbox(['--cache-dir', cache, img]);
      assert.is(r.status, format === 'plain' ? 125 : 5, `${format} gzip=${gzip}: ${r.stderr}`);
      if (format === 'plain') assert.match(r.stderr, /no command/); // a plain rootfs tar has no config
    }
  });
}

test('a plain rootfs tar runs the command given on the command line', () => {
  const img = buildImage({ layers: [[{ path: 'bin/args', type: 'file', data: args }]] }, { format: 'plain' });
  const r = runSandbox([img, '/bin/args', 'exit=9']);
  assert.is(r.status, 9, r.stderr);
});

test('the guest exit code propagates, including 0 and values above 125', () => {
  const img = image({ cmd: ['/bin/trap', 'exit'] });
  for (const code of [0, 1, 42, 200]) {
    const r = runSandbox([img, '/bin/trap', 'exit', String(code)]);
    assert.is(r.status, code, r.stderr);
  }
});

test('a missing image file: 125 and one line', () => {
  const r = runSandbox([path.join(tempDir('none'), 'nope.tar')]);
  assert.is(r.status, 125);
  assert.match(oneLine(r.stderr), /image not found/);
});

test('a file that is not an image: 125 and one line', () => {
  const dir = tempDir('junk');
  for (const [name, bytes] of [
    ['random.tar', Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 7919) & 255))],
    ['empty.tar', Buffer.alloc(0)],
    ['text.tar', Buffer.from('this is not a tar file\n'.repeat(100))],
  ] as const) {
    const p = path.join(dir, name);
    fs.writeFileSync(p, bytes);
    const r = runSandbox([p]);
    assert.is(r.status, 125, `${name}: ${r.stderr}`);
    oneLine(r.stderr);
  }
});

test('a truncated or corrupt layer: 125 and one line naming the problem', () => {
  const big = new Uint8Array(200_000).map((_, i) => i & 255);
  const spec: ImageSpec = { layers: [[{ path: 'bin/args', type: 'file', data: args }, { path: 'big', type: 'file', data: big }]], cmd: ['/bin/args'] };
  const dir = tempDir('trunc');
  // truncated docker archive (cut in the middle of the layer)
  const docker = fs.readFileSync(buildImage(spec, { format: 'docker' }));
  const cut = path.join(dir, 'cut.tar');
  fs.writeFileSync(cut, docker.subarray(0, Math.floor(docker.length * 0.6)));
  let r = runSandbox([cut]);
  assert.is(r.status, 125, r.stderr);
  oneLine(r.stderr);
  // corrupt gzip layer in an OCI image: flip bytes in the middle of the compressed blob
  const oci = Buffer.from(fs.readFileSync(buildImage(spec, { format: 'oci', gzip: true })));
  const gz = oci.indexOf(Buffer.from([0x1f, 0x8b, 0x08]));
  assert.ok(gz > 0, 'gzip member found');
  for (let i = gz + 200; i < gz + 260; i++) oci[i] ^= 0x5a;
  const bad = path.join(dir, 'badgz.tar');
  fs.writeFileSync(bad, oci);
  r = runSandbox(['--cache-dir', tempDir('cache'), bad]);
  assert.is(r.status, 125, r.stderr);
  oneLine(r.stderr);
});

test('a missing command: 127; a command that is a directory or not WebAssembly: 126', () => {
  const img = image({
    layers: [
      [
        { path: 'bin/args', type: 'file', data: args },
        { path: 'bin/script.sh', type: 'file', data: '#!/bin/sh\necho hi\n', mode: 0o755 },
        { path: 'bin/tiny', type: 'file', data: '\0asm' },
        { path: 'bin/dir', type: 'dir' },
      ],
    ],
  });
  let r = runSandbox([img, '/bin/missing']);
  assert.is(r.status, 127);
  assert.match(oneLine(r.stderr), /no such file/);
  r = runSandbox([img, 'missing-everywhere']);
  assert.is(r.status, 127);
  oneLine(r.stderr);
  r = runSandbox([img, '/bin/script.sh']);
  assert.is(r.status, 126);
  assert.match(oneLine(r.stderr), /exec format error/);
  r = runSandbox([img, '/bin/tiny']);
  assert.is(r.status, 126);
  oneLine(r.stderr);
  r = runSandbox([img, '/bin/dir']);
  assert.is(r.status, 126);
  assert.match(oneLine(r.stderr), /is a directory/);
});

test('an image with no entrypoint and no cmd, and no command given: 125', () => {
  const img = image({});
  const r = runSandbox([img]);
  assert.is(r.status, 125);
  assert.match(oneLine(r.stderr), /no command/);
});

test('guest traps end with a message naming the trap and a signal-like status', () => {
  const img = image({ cmd: ['/bin/trap'] });
  for (const [how, status, msg] of [
    ['unreachable', 134, /unreachable/],
    ['oob', 139, /out of bounds/],
    ['div0', 136, /divide by zero|division/i],
  ] as const) {
    const r = runSandbox([img, '/bin/trap', how]);
    assert.is(r.status, status, `${how}: ${r.stderr}`);
    assert.is(r.stdout, `trap: ${how}\n`);
    assert.match(oneLine(r.stderr), msg);
  }
});

test('bad flags: 125 with a message naming the flag', () => {
  for (const [argv, re] of [
    [['--size', 'lots', 'x.tar'], /--size/],
    [['--gofer', 'elsewhere', 'x.tar'], /--gofer/],
    [['--no-such-flag', 'x.tar'], /--no-such-flag/],
  ] as const) {
    const r = runSandbox([...argv]);
    assert.is(r.status, 125, r.stderr);
    assert.match(r.stderr.split('\n')[0], re);
  }
});

test('with no IMAGE the built-in default image runs its demo, and the next run starts afresh', () => {
  for (let i = 0; i < 2; i++) {
    const r = runSandbox([]);
    assert.is(r.status, 0, r.stderr);
    // the demo script (test/e2e/default-image.test.ts checks it line by line)
    assert.match(r.stdout, /^Welcome to wasmbox/);
    assert.match(r.stdout, /\/etc\/motd: image layer 1\n/);
    assert.match(r.stdout, /\$ echo \/etc\/\*\n\/etc\/group \/etc\/hostname \/etc\/motd \/etc\/os-release \/etc\/passwd\n/);
    assert.match(r.stdout, /\/etc\/motd: upper \(copied up from image layer 1\)\n/);
  }
});

test('a reader that goes away (| head): the guest gets EPIPE and ends, no spinning', async () => {
  // cat writes /bin/toolbox 30 times (4 MB, far more than a pipe holds) into a pipe closed at once
  const files = Array.from({ length: 30 }, () => '/bin/toolbox');
  const child = spawn(process.execPath, [RUN_JS, path.join(ROOT, 'dist/images/default.tar'), 'cat', ...files], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  child.stdout.once('data', () => child.stdout.destroy());
  const status = await new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve(null);
    }, 20_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
  assert.ok(status !== null, 'the sandbox did not end after its reader went away');
  assert.is(status, 1, err);
  // silent, as a cat killed by SIGPIPE is (the toolbox ends with 1 when a write finds the reader gone)
  assert.match(err, /^(cat: write error: Broken pipe\n)?$/);
});

test('the worker gofer gives the same results as the inline one', () => {
  const img = image({ cmd: ['/bin/args', 'exit=4'] });
  const r = runSandbox(['--gofer', 'worker', img]);
  assert.is(r.status, 4, r.stderr);
  assert.match(r.stdout, /argv\[1\]=exit=4/);
});

test.run();
