// Escapes tried from inside a guest, modelled on published WASI sandbox escapes: cap-std's
// trailing-slash symlink (GHSA-vqjp-4c8c-hfgg), wasmer's symlink and "/.." traversals
// (CVE-2024-38358, CVE-2023-51661) and wazero #2321 (a symlink created on a mount that points out of
// it). The host has a canary directory next to the bind-mounted one; no path the guest builds may
// reach it, and nothing the guest does may change it. Writes to `:ro` mounts and to the image's
// layers are refused or stay in the sandbox.
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { buildImage, tempDir } from '../lib/images';
import { guestWasm, runSandbox } from '../lib/sandbox';

const CANARY = 'host canary, outside every mount\n';
const base = tempDir('escape');
const vol = path.join(base, 'vol');
const ro = path.join(base, 'ro');
const secret = path.join(base, 'secret');
fs.mkdirSync(vol);
fs.mkdirSync(ro);
fs.mkdirSync(secret);
fs.writeFileSync(path.join(secret, 'canary'), CANARY);
fs.writeFileSync(path.join(ro, 'keep'), 'read only\n');
// planted by "the host": links on the mount that point out of it
fs.symlinkSync(secret, path.join(vol, 'abs-out'));
fs.symlinkSync('../secret', path.join(vol, 'rel-out'));

const img = buildImage(
  {
    layers: [[{ path: 'fsops', type: 'file', data: guestWasm('fsops'), mode: 0o755 }, { path: 'etc/passwd', type: 'file', data: 'image passwd\n' }]],
    entrypoint: ['/fsops'],
  },
  { format: 'oci' },
);

function run(script: string[]): string[] {
  const r = runSandbox(['-v', `${vol}:/vol`, '-v', `${ro}:/ro:ro`, img], { input: script.join('\n') + '\n' });
  assert.is(r.status, 0, r.stderr);
  return r.stdout.split('\n').filter(Boolean);
}

function result(out: string[], op: string): string {
  const l = out.find((x) => x.startsWith(op + ' -> '));
  assert.ok(l, `no result for ${op}:\n${out.join('\n')}`);
  return l!.slice(op.length + 4);
}

function untouched(): void {
  assert.equal(fs.readdirSync(secret), ['canary']);
  assert.is(fs.readFileSync(path.join(secret, 'canary'), 'utf8'), CANARY);
}

test('"..", "/.." and deep ".." chains stay at the sandbox root (CVE-2023-51661)', () => {
  const out = run(['seed vol', 'ls ../../../../..', 'cat ../../../../../etc/passwd', 'cat ../../secret/canary', 'ls ../../../..' + secret]);
  assert.is(result(out, 'ls ../../../../..'), 'ok dev/ etc/ fsops ro/ vol/');
  assert.is(result(out, 'cat ../../../../../etc/passwd').split(' ')[1], 'n=13');
  assert.is(result(out, 'cat ../../secret/canary'), 'ENOENT');
  assert.is(result(out, 'ls ../../../..' + secret), 'ENOENT');
  untouched();
});

test('links planted on the mount that point outside it resolve inside the sandbox (wazero #2321)', () => {
  const out = run(['seed vol', 'cat abs-out/canary', 'cat rel-out/canary', 'ls abs-out', 'put abs-out/new 3 1', 'put rel-out/new 3 1']);
  for (const op of ['cat abs-out/canary', 'cat rel-out/canary', 'ls abs-out', 'put abs-out/new 3 1', 'put rel-out/new 3 1']) {
    assert.ok(['ENOENT', 'ENOTDIR'].includes(result(out, op)), `${op}: ${result(out, op)}`);
  }
  untouched();
});

test('links the guest creates on the mount cannot reach out (CVE-2024-38358)', () => {
  const out = run([
    'seed vol',
    `symlink ${secret} mine-abs`,
    'symlink ../../../../../../.. mine-up',
    'symlink mine-up/tmp mine-chain',
    'cat mine-abs/canary',
    'ls mine-up',
    'cat mine-up' + secret + '/canary',
    'put mine-abs/planted 4 2',
  ]);
  assert.is(result(out, 'cat mine-abs/canary'), 'ENOENT');
  assert.is(result(out, 'ls mine-up'), 'ok dev/ etc/ fsops ro/ vol/');
  assert.is(result(out, 'cat mine-up' + secret + '/canary'), 'ENOENT');
  assert.is(result(out, 'put mine-abs/planted 4 2'), 'ENOENT');
  // the links are stored on the host as written, and lead nowhere there either
  assert.is(fs.readlinkSync(path.join(vol, 'mine-abs')), secret);
  untouched();
});

test('trailing-slash tricks on links to outside directories (GHSA-vqjp-4c8c-hfgg)', () => {
  const out = run(['seed vol', 'ls abs-out/', 'open 0 abs-out/ rd', 'mkdir abs-out/x/', 'rename rel-out/ stolen', 'cat rel-out/canary/']);
  assert.is(result(out, 'ls abs-out/'), 'ENOENT');
  assert.is(result(out, 'open 0 abs-out/ rd'), 'ENOENT');
  assert.is(result(out, 'mkdir abs-out/x/'), 'ENOENT');
  assert.is(result(out, 'rename rel-out/ stolen'), 'ENOTDIR'); // rename does not follow the link; a slash needs a directory
  assert.is(fs.readlinkSync(path.join(vol, 'rel-out')), '../secret');
  assert.ok(['ENOENT', 'ENOTDIR'].includes(result(out, 'cat rel-out/canary/')));
  untouched();
});

test('writes to a :ro mount are EROFS; writes to the image stay in the sandbox', () => {
  const out = run(['seed ro', 'put keep 3 1', 'unlink keep', 'mkdir d', 'seed etc', 'put passwd 5 1', 'cat passwd']);
  assert.is(result(out, 'put keep 3 1'), 'EROFS');
  assert.is(result(out, 'unlink keep'), 'EROFS');
  assert.is(result(out, 'mkdir d'), 'EROFS');
  assert.match(result(out, 'put passwd 5 1'), /^ok/);
  assert.match(result(out, 'cat passwd'), /^ok n=5 /);
  assert.is(fs.readFileSync(path.join(ro, 'keep'), 'utf8'), 'read only\n');
  // a second run sees the image's file again
  const again = run(['seed etc', 'cat passwd']);
  assert.match(result(again, 'cat passwd'), /^ok n=13 /);
});

test.run();
