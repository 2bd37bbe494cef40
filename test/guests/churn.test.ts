// guests/churn.c, the write-heavy churn (create, append, overwrite, truncate, unlink, rename, stat
// over a few hundred files): the final contents of every file, hashed by the guest, must be the
// same in the sandbox as under node:wasi on a host directory, in every filestore mode, and with a
// size limit small enough that freed pages are released to the host and reused from holes again
// (kernel/mm/filestore.ts: held pages, clean pages, the top trimmed). --stats must show the reuse:
// a file written again after a delete takes its pages back without a host call.
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { buildImage, tempDir } from '../lib/images';
import { runNodeWasi } from '../lib/nodewasi';
import { ROOT, guestWasm, runSandbox } from '../lib/sandbox';

const WASM_PATH = path.join(ROOT, 'dist', 'guests', 'churn.wasm');
const img = buildImage({ layers: [[{ path: 'churn', type: 'file', data: guestWasm('churn'), mode: 0o755 }, { path: 'tmp', type: 'dir', mode: 0o1777 }]], entrypoint: ['/churn'] }, { format: 'oci' });

const DIGEST = /^churn digest ([0-9a-f]{16}) files (\d+) bytes (\d+)$/m;

function reference(args: string[]): string {
  const root = tempDir('churn-ref');
  const r = runNodeWasi(WASM_PATH, [...args, '/work'], root, { timeoutMs: 120_000 });
  assert.is(r.status, 0, r.stdout + r.stderr);
  const m = DIGEST.exec(r.stdout);
  assert.ok(m, `node:wasi printed: ${r.stdout}`);
  fs.rmSync(root, { recursive: true, force: true });
  return m![0];
}

const cases: { name: string; args: string[]; flags: string[] }[] = [
  { name: 'root:self', args: ['3000', '60', '11'], flags: [] },
  { name: 'root:memory', args: ['3000', '60', '12'], flags: ['--overlay2', 'root:memory'] },
  // 2 MiB held at most (an eighth of 16 MiB): deletes release pages, writes refill holes by system call
  { name: 'root:self,size=16m', args: ['3000', '40', '13'], flags: ['--overlay2', 'root:self,size=16m'] },
  { name: 'root:memory,size=16m', args: ['3000', '40', '14'], flags: ['--overlay2', 'root:memory,size=16m'] },
];

for (const c of cases) {
  test(`churn ${c.args.join(' ')} in ${c.name}: every file's contents as under node:wasi`, () => {
    const want = reference(c.args);
    const r = runSandbox(['--stats', ...c.flags, img, ...c.args, '/tmp/churn'], { timeoutMs: 120_000 });
    assert.is(r.status, 0, r.stdout + r.stderr);
    const m = DIGEST.exec(r.stdout);
    assert.ok(m, `the sandbox printed: ${r.stdout}`);
    assert.is(m![0], want);
    if (c.name.includes('size=16m')) {
      const released = Number(/stats: filestorePagesReleased (\d+)/.exec(r.stderr)?.[1] ?? NaN);
      if (c.name.startsWith('root:self')) assert.ok(released > 0, `pages went back to the host (${released})`);
      const held = Number(/stats: pagesHeld (\d+)/.exec(r.stderr)?.[1]);
      assert.ok(held <= 512, `at most 2 MiB held, saw ${held} pages`);
    }
  });
}

test('a file deleted and written again takes its pages back with no host call', () => {
  const stat = (err: string, k: string) => Number(new RegExp(`stats: ${k} (\\d+)`).exec(err)?.[1]);
  const bf = buildImage({ layers: [[{ path: 'bigfile', type: 'file', data: guestWasm('bigfile'), mode: 0o755 }, { path: 'tmp', type: 'dir' }]], entrypoint: ['/bigfile'] }, { format: 'oci' });
  const once = runSandbox(['--stats', bf, 'write', '/tmp/a', '8', 'hash', '/tmp/a']);
  const again = runSandbox(['--stats', bf, 'write', '/tmp/a', '8', 'rm', '/tmp/a', 'write', '/tmp/b', '8', 'hash', '/tmp/b']);
  assert.is(once.status, 0, once.stderr);
  assert.is(again.status, 0, again.stderr);
  assert.is(/^hash \/tmp\/b (.*)$/m.exec(again.stdout)?.[1], /^hash \/tmp\/a (.*)$/m.exec(once.stdout)?.[1], 'the same bytes');
  assert.is(stat(again.stderr, 'filestoreSyscallWrites'), stat(once.stderr, 'filestoreSyscallWrites'), 'the second file cost no write by system call');
  assert.is(stat(again.stderr, 'filestorePunchCalls'), 0);
  assert.is(stat(again.stderr, 'pagesHeld'), 0, 'every held page was taken back');
  assert.is(stat(again.stderr, 'pagesUsed'), 2048);
});

test.run();
