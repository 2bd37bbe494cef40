// Guests from other toolchains than wasi-libc (issue 16): guests/as/corpus.ts, AssemblyScript through
// @assemblyscript/wasi-shim, checks args, environ, clocks, random_get, poll_oneoff with clock and fd
// subscriptions, and fd_readdir with cookies in small pieces. Its output is the same whatever the
// runtime (relations, not values), so the sandbox's must equal node:wasi's line for line.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { buildImage, tempDir } from '../lib/images';
import { runNodeWasi } from '../lib/nodewasi';
import { guestWasm, runSandbox } from '../lib/sandbox';

const wasm = guestWasm('as-corpus');
const args = ['scratch', 'two words', 'é ü', ''];
const env = ['CORPUS_A=1', 'CORPUS_B=with = sign', 'CORPUS_EMPTY='];
const img = buildImage({ layers: [[{ path: 'bin/corpus', type: 'file', data: wasm, mode: 0o755 }]] }, { format: 'oci' });

test('the AssemblyScript corpus passes every check in the sandbox', () => {
  const r = runSandbox([...env.flatMap((e) => ['-e', e]), img, '/bin/corpus', ...args]);
  assert.is(r.status, 0, r.stderr);
  assert.ok(r.stdout.endsWith('done\n'), r.stdout);
  assert.equal(r.stdout.split('\n').filter((l) => / bad /.test(l)), []);
  assert.match(r.stdout, /^argc 5\narg scratch\narg two words\narg é ü\narg \nenv CORPUS_A=1\nenv CORPUS_B=with = sign\nenv CORPUS_EMPTY=\n/);
});

test('and prints what node:wasi prints, line for line (also in --overlay2 none)', () => {
  const ref = runNodeWasi(wasm, args, tempDir('corpus-node'), { env });
  assert.is(ref.status, 0, ref.stderr);
  for (const flags of [[], ['--overlay2', 'none']]) {
    const r = runSandbox([...flags, ...env.flatMap((e) => ['-e', e]), img, '/bin/corpus', ...args]);
    assert.is(r.status, 0, r.stderr);
    assert.fixture(r.stdout, ref.stdout);
  }
});

test.run();
