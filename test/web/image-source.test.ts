// The image reader over a Source that is not a Node fd (gofer/image/io.ts, openImageSource), as the
// browser's gofer uses it, and the browser shims it needs (host/web/shims): run in Node, against
// the same images and Node's own Buffer and crypto as the reference.
import crypto from 'node:crypto';
import fs from 'node:fs';
import zlib from 'node:zlib';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ImageError, InflateNeeded, openImage, openImageSource, type Image } from '../../gofer/image/index';
import type { Source } from '../../gofer/image/io';
import { Buffer as ShimBuffer } from '../../host/web/shims/buffer';
import { Sha256, createHash } from '../../host/web/shims/node-crypto';
import { MemorySource } from '../../host/web/sources';
import { buildImage, tempDir } from '../lib/images';
import type { ImageSpec } from '../lib/layers';

const SPEC: ImageSpec = {
  layers: [
    [
      { path: 'etc/motd', type: 'file', data: 'lower motd\n' },
      { path: 'etc/issue', type: 'file', data: 'issue\n' },
      { path: 'bin/tool', type: 'file', data: 'x'.repeat(2_000_000), mode: 0o755 },
      { path: 'bin/link', type: 'symlink', target: 'tool' },
    ],
    [
      { path: 'etc/motd', type: 'file', data: 'upper motd\n' },
      { path: 'etc/.wh.issue', type: 'file', data: '' },
    ],
  ],
  cmd: ['/bin/tool'],
};

/** A Source over a file's bytes that counts what was read. */
class Counting extends MemorySource {
  count = 0;
  read(into: Uint8Array, at: number, length: number, position: number): number {
    const n = super.read(into, at, length, position);
    this.count += n;
    return n;
  }
}

function text(img: Image, path: string): string {
  const n = img.tree.walkPath(path);
  assert.ok(n >= 0, `${path} is in the image`);
  const b = new Uint8Array(img.tree.size(n));
  assert.is(img.tree.read(n, 0, b.length, b, 0), b.length);
  return new TextDecoder().decode(b);
}

/** Opens like the browser's gofer: rounds of InflateNeeded, inflating with zlib in between. */
function openInRounds(src: Source, name: string): { img: Image; rounds: number } {
  const done = new Map<string, Source>();
  for (let rounds = 0; ; rounds++) {
    try {
      return { img: openImageSource(src, name, { cacheDir: '', inflated: { get: (s, l) => done.get(`${s}:${l}`) ?? null } }), rounds };
    } catch (e) {
      if (!(e instanceof InflateNeeded)) throw e;
      for (const r of e.ranges) {
        const from = done.get(`0:${src.size}`) ?? src;
        const gz = new Uint8Array(r.length);
        from.read(gz, 0, r.length, r.start);
        if (r.digest) assert.is(`sha256:${crypto.createHash('sha256').update(gz).digest('hex')}`, r.digest, 'the range digest is the compressed bytes');
        done.set(`${r.start}:${r.length}`, new MemorySource(new Uint8Array(zlib.gunzipSync(gz))));
      }
    }
  }
}

for (const [label, opts] of [
  ['OCI, plain layers', { format: 'oci' }],
  ['docker save, plain layers', { format: 'docker' }],
] as const) {
  test(`openImageSource reads a ${label} image in place, the same tree as openImage`, () => {
    const file = buildImage(SPEC, { ...opts, name: 'src' });
    const bytes = new Uint8Array(fs.readFileSync(file));
    const src = new Counting(bytes);
    const img = openImageSource(src, 'src.tar', { cacheDir: '', verifyInPlace: false }); // as the demo reads a URL
    const ref = openImage(file, { cacheDir: tempDir('cache') });
    try {
      assert.is(img.tree.count, ref.tree.count);
      assert.is(text(img, 'etc/motd'), 'upper motd\n');
      assert.is(img.tree.walkPath('etc/issue'), -1, 'the whiteout hides the lower file');
      assert.equal(img.config, ref.config);
      assert.ok(src.count < bytes.length, `indexing read ${src.count} of ${bytes.length} bytes: file data is not read`);
      assert.is(text(img, 'bin/tool').length, 2_000_000);
    } finally {
      img.close();
      ref.close();
    }
  });
}

test('a picked file (verifyInPlace, the default) is hashed whole: a tampered plain layer is refused', () => {
  const file = buildImage(SPEC, { format: 'oci', name: 'src' });
  const bytes = new Uint8Array(fs.readFileSync(file));
  const ok = openImageSource(new MemorySource(bytes), 'src.tar', { cacheDir: '' });
  ok.close();
  const at = Buffer.from(bytes).indexOf('upper motd');
  bytes[at] ^= 0x20;
  assert.throws(
    () => openImageSource(new MemorySource(bytes), 'src.tar', { cacheDir: '' }),
    (e: Error) => e instanceof ImageError && /^src\.tar: layer 1 \(sha256:[0-9a-f]{12}…\) does not match its digest$/.test(e.message),
  );
});

test('gzip layers: InflateNeeded names each gzip range with its digest; the next round opens', () => {
  const file = buildImage(SPEC, { format: 'oci', gzip: true, name: 'gz' });
  const { img, rounds } = openInRounds(new MemorySource(new Uint8Array(fs.readFileSync(file))), 'gz.tar');
  assert.is(rounds, 1);
  assert.ok(img.layers.every((l) => l.compressed));
  assert.is(text(img, 'etc/motd'), 'upper motd\n');
  img.close();
});

test('a gzip-compressed whole archive with gzip layers takes two rounds', () => {
  const file = buildImage(SPEC, { format: 'docker', gzip: true, gzipArchive: true, name: 'whole' });
  const { img, rounds } = openInRounds(new MemorySource(new Uint8Array(fs.readFileSync(file))), 'whole.tar.gz');
  assert.is(rounds, 2);
  assert.is(text(img, 'etc/motd'), 'upper motd\n');
  img.close();
});

test('a bad Source image is an ImageError, and the caller keeps its Source usable', () => {
  const src = new MemorySource(new TextEncoder().encode('this is not a tar archive at all'.repeat(40)));
  assert.throws(() => openImageSource(src, 'junk', { cacheDir: '' }), (e: unknown) => e instanceof ImageError && /junk: is not an image/.test((e as Error).message));
  const b = new Uint8Array(4);
  assert.is(src.read(b, 0, 4, 0), 4);
  assert.throws(() => openImageSource(new MemorySource(new Uint8Array(0)), 'empty', { cacheDir: '' }), /empty file/);
});

test('shims: Sha256 matches node:crypto for every length around the block size, fed in pieces', () => {
  for (const n of [0, 1, 55, 56, 63, 64, 65, 119, 120, 1000, 70_000]) {
    const b = crypto.randomBytes(n);
    const h = new Sha256();
    for (let i = 0; i < n; i += 37) h.update(b.subarray(i, i + 37));
    assert.is(h.digest('hex'), crypto.createHash('sha256').update(b).digest('hex'), `length ${n}`);
  }
  assert.is(createHash('sha256').update('abc').digest('hex'), crypto.createHash('sha256').update('abc').digest('hex'));
  assert.throws(() => createHash('sha512'), /not supported in the browser/);
});

test('shims: Buffer does what the image reader asks of it, as Node does', () => {
  const latin1 = 'caf\xe9 \xff\x00x';
  assert.equal([...ShimBuffer.from(latin1, 'latin1')], [...Buffer.from(latin1, 'latin1')]);
  const b = ShimBuffer.alloc(16);
  assert.is(b.write('h\xe9llo', 2, 'latin1'), 5);
  assert.is(b.toString('latin1', 2, 7), 'h\xe9llo');
  const u = ShimBuffer.from(new TextEncoder().encode('über').buffer as ArrayBuffer);
  assert.is(u.toString('utf8'), 'über');
  assert.is(u.indexOf(0x72), 4);
  assert.throws(() => ShimBuffer.from('x', 'base64'), /not available in the browser/);
});

test.run();
