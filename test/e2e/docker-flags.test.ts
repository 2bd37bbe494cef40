// Docker's run flags with Docker's meaning (issue 18): --rm, --init and --network accepted; --name in
// messages and --replicas prefixes; -u/--user as the owner of what the guest creates; --env-file
// (with -e winning); --mount, the long form of -v and --tmpfs; --hostname; --platform checked
// against the image; -d refused with a pointer to the OCI runtime; values that are wrong said so.
// Each through `node host/run.js` with the default image's sh.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { buildImage, tempDir } from '../lib/images';
import { DEFAULT_IMAGE } from '../lib/oci';
import { guestWasm, runSandbox } from '../lib/sandbox';

const sh = (script: string, flags: string[] = []) => runSandbox([...flags, DEFAULT_IMAGE, '/bin/sh', '-c', script]);
/** A usage error: status 125 and the message as its first line. */
function usage(flags: string[], message: string): void {
  const r = runSandbox([...flags, DEFAULT_IMAGE, '/bin/true']);
  assert.is(r.status, 125, `${flags.join(' ')}: ${r.stderr}`);
  assert.is(r.stderr.split('\n')[0], `wasmbox: ${message}`);
}

test('--rm, --init and --network none are accepted and change nothing; another --network says it means none', () => {
  const r = sh('echo ran', ['--rm', '--init', '--network', 'none']);
  assert.is(r.status, 0, r.stderr);
  assert.is(r.stdout, 'ran\n');
  assert.is(r.stderr, '');
  const host = sh('echo ran', ['--network=host']);
  assert.is(host.status, 0, host.stderr);
  assert.is(host.stderr, 'wasmbox: note: --network host: WASI preview1 programs have no network; it means none here\n');
});

test('--env-file: KEY=VALUE lines, comments and blank lines skipped, KEY alone from the host; -e wins', () => {
  const f = path.join(tempDir('envfile'), 'env');
  fs.writeFileSync(f, '# settings\nA=1\n\nB=two words\r\nFROM_HOST\n  C=indented\n');
  const r = runSandbox(['--env-file', f, '-e', 'A=3', DEFAULT_IMAGE, '/bin/sh', '-c', 'echo "$A|$B|$FROM_HOST|$C"'], { env: { FROM_HOST: 'hosty' } });
  assert.is(r.status, 0, r.stderr);
  assert.is(r.stdout, '3|two words|hosty|indented\n');
  fs.writeFileSync(f, 'OK=1\n=oops\n');
  usage(['--env-file', f], `--env-file ${f}, line 2: "=oops" has no variable name`);
  // Node 20 reads --env-file itself, even after the script's name: a missing file is its error (status 9)
  const missing = runSandbox(['--env-file', '/nonexistent/env', DEFAULT_IMAGE, '/bin/true']);
  assert.ok(missing.status !== 0 && missing.stderr.includes('/nonexistent/env'), missing.stderr);
  usage(['-e', '=x'], '--env: "=x" has no variable name');
});

test('--mount: type=bind (readonly too) and type=tmpfs, as -v and --tmpfs', () => {
  const host = tempDir('mount');
  fs.writeFileSync(path.join(host, 'in.txt'), 'from the host\n');
  const r = sh('cat /h/in.txt; echo new > /h/out.txt; echo t > /t/f && cat /t/f; echo no > /ro/x', [
    '--mount', `type=bind,source=${host},target=/h`,
    '--mount', 'type=tmpfs,destination=/t,tmpfs-size=1m,tmpfs-mode=1777',
    '--mount', `type=bind,src=${host},dst=/ro,readonly`,
  ]);
  assert.is(r.stdout, 'from the host\nt\n');
  assert.match(r.stderr, /\/ro\/x: Read-only file system/);
  assert.is(fs.readFileSync(path.join(host, 'out.txt'), 'utf8'), 'new\n');
  assert.not.ok(fs.existsSync(path.join(host, 'x')));
  usage(['--mount', 'type=volume,source=data,target=/d'], '--mount type=volume,source=data,target=/d: named volumes are not supported (no volume store): use type=bind with a host directory');
  usage(['--mount', 'type=bind,target=/d'], '--mount type=bind,target=/d: no source (source=/host/dir)');
  usage(['--mount', 'type=tmpfs,target=/d,color=red'], '--mount type=tmpfs,target=/d,color=red: unknown key "color"');
});

test('-u/--user: the owner of what the guest creates (seen in --export-upper); names are refused', () => {
  const out = path.join(tempDir('user'), 'upper.tar');
  const r = sh('echo x > /tmp/mine', ['-u', '1000:1001', '--export-upper', out]);
  assert.is(r.status, 0, r.stderr);
  const listing = execFileSync('tar', ['--numeric-owner', '-tvf', out], { encoding: 'utf8' });
  assert.match(listing, /1000\/1001 .* tmp\/mine\n/);
  usage(['--user', 'nobody'], '--user: "nobody" is not UID[:GID] in numbers (user names would need the image\'s /etc/passwd, which is not read)');
});

test('--hostname sets HOSTNAME; --name names the sandbox in its messages', () => {
  const r = sh('echo $HOSTNAME', ['--hostname', 'box-1.example']);
  assert.is(r.stdout, 'box-1.example\n');
  usage(['--hostname', 'bad_name'], '--hostname: "bad_name" is not a valid host name');
  const named = runSandbox(['--name', 'web1', '/nonexistent.tar']);
  assert.is(named.status, 125);
  assert.is(named.stderr, 'wasmbox[web1]: image not found: /nonexistent.tar\n');
  usage(['--name', '-x'], '--name: "-x" is not a valid name (letters, digits, then also _ . -, as docker allows)');
});

test('--name prefixes --replicas lines as NAME.N|', () => {
  const r = runSandbox(['--name', 'job', '--replicas', '2', DEFAULT_IMAGE, '/bin/sh', '-c', 'echo hi']);
  assert.is(r.status, 0, r.stderr);
  assert.equal(r.stdout.trimEnd().split('\n').sort(), ['job.0| hi', 'job.1| hi']);
});

test('--platform: wasi/wasm and its spellings run; another platform, or an image of another, is 125', () => {
  for (const p of ['wasi/wasm', 'wasip1/wasm', 'wasip1/wasm32']) assert.is(sh('true', ['--platform', p]).status, 0, p);
  usage(['--platform', 'linux/amd64'], '--platform linux/amd64: this runtime runs WebAssembly (WASI preview1) images only: wasi/wasm, wasip1/wasm');
  const other = buildImage({ layers: [[{ path: 'bin/args', type: 'file', data: guestWasm('args'), mode: 0o755 }]], cmd: ['/bin/args'], platform: { os: 'linux', architecture: 'amd64' } }, { format: 'oci' });
  const r = runSandbox(['--platform', 'wasi/wasm', other]);
  assert.is(r.status, 125);
  assert.is(r.stderr, 'wasmbox: --platform wasi/wasm: the image is for linux/amd64\n');
  assert.is(runSandbox([other]).status, 0, 'without --platform the image runs, as before');
});

test('-d points to the OCI runtime; wrong values say what is wrong with them', () => {
  usage(['-d'], "-d: run.js runs in the foreground; to run detached, run the image under Podman or containerd with wasmbox's OCI runtime (docs/oci.md)");
  usage(['--memory', '1k'], '--memory: 1k is less than one WebAssembly page (64k), the least a program can have');
  usage(['--size', '1'], '--size: 1 is less than one filestore page (4k)');
  usage(['--timeout', '0'], '--timeout: 0: must be more than 0 seconds');
  usage(['-w', 'rel'], '--workdir: "rel" is not an absolute path (as docker run requires)');
});

test.run();
