// gofer/image/cache.ts: gzip layers are inflated once into <cacheDir>/layers/<algo>-<hex>.tar, named
// by the compressed digest, published atomically, reused by later opens, and rebuilt (never trusted)
// when the cached file or its sidecar is broken.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { gzip, imageBytes, tarLayer, type ImageSpec } from '../../../host/image/image-writer';
import { LayerCache, setProgressTiming } from '../../../gofer/image/cache';
import { Where } from '../../../gofer/image/errors';
import { buildImage, tempDir } from '../../lib/images';
import { listing, open, openError, writeTemp } from './util';

const spec: ImageSpec = {
  layers: [
    [
      { path: 'a/big', type: 'file', data: 'A'.repeat(100000) },
      { path: 'a/small', type: 'file', data: 'small' },
    ],
    [
      { path: 'a/small', type: 'whiteout' },
      { path: 'b', type: 'file', data: 'bee' },
    ],
  ],
};
const want = { a: 'dir 755', 'a/big': `file 644 ${'A'.repeat(100000)}`, b: 'file 644 bee' };

/** Opens p with a counting progress callback; returns the listing and how many layers were inflated. */
function openCounting(p: string, cacheDir: string) {
  const msgs: string[] = [];
  const img = open(p, { cacheDir, onInflate: (m) => msgs.push(m) });
  const result = { listing: listing(img.tree), inflated: msgs.length, msgs, layers: img.layers };
  img.close();
  return result;
}
const cacheFiles = (cacheDir: string) => fs.readdirSync(path.join(cacheDir, 'layers')).sort();

test('inflated layers are cached as layers/sha256-<compressed digest>.tar with a .json sidecar, and no temp files remain', () => {
  const cacheDir = tempDir('cache');
  const p = buildImage(spec, { format: 'oci', gzip: true });
  const r = openCounting(p, cacheDir);
  assert.equal(r.listing, want);
  assert.is(r.inflated, 2);
  const names = r.layers.flatMap((l) => [`sha256-${l.digest.slice(7)}.json`, `sha256-${l.digest.slice(7)}.tar`]).sort();
  assert.equal(cacheFiles(cacheDir), names);
  assert.match(r.msgs[0], /^layer 0 \(sha256:[0-9a-f]{12}…, \d+ KB\)$/);
});

test('a cached file is the inflated layer tar, byte for byte', () => {
  const cacheDir = tempDir('cache');
  const p = buildImage(spec, { format: 'docker', dockerBlobs: true, gzip: true });
  const r = openCounting(p, cacheDir);
  const tar = fs.readFileSync(path.join(cacheDir, 'layers', `sha256-${r.layers[1].digest.slice(7)}.tar`));
  assert.ok(Buffer.from(tarLayer(spec.layers[1])).equals(tar));
});

test('a second open reuses the cache and inflates nothing', () => {
  const cacheDir = tempDir('cache');
  const p = buildImage(spec, { format: 'oci', gzip: true });
  assert.is(openCounting(p, cacheDir).inflated, 2);
  // the layer files are not rewritten (their sidecars' mtimes move: they are the LRU clock)
  const tars = () => cacheFiles(cacheDir).filter((f) => f.endsWith('.tar')).map((f) => fs.statSync(path.join(cacheDir, 'layers', f)).mtimeMs);
  const before = tars();
  const again = openCounting(p, cacheDir);
  assert.is(again.inflated, 0);
  assert.equal(again.listing, want);
  assert.equal(tars(), before);
});

test('the cache is content-addressed: another image with the same layer reuses it', () => {
  const cacheDir = tempDir('cache');
  assert.is(openCounting(buildImage(spec, { format: 'oci', gzip: true }), cacheDir).inflated, 2);
  const other: ImageSpec = { layers: [spec.layers[0], [{ path: 'c', type: 'file', data: 'sea' }]] };
  assert.is(openCounting(buildImage(other, { format: 'oci', gzip: true, nestedIndex: true }), cacheDir).inflated, 1);
});

test('file data of a gzip layer is served from the cache file, held open in place', () => {
  const cacheDir = tempDir('cache');
  const img = open(buildImage(spec, { format: 'oci', gzip: true }), { cacheDir });
  const links = fs.readdirSync('/proc/self/fd').map((fd) => {
    try {
      return fs.readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      return '';
    }
  });
  for (const l of img.layers) assert.ok(links.includes(path.join(cacheDir, 'layers', `sha256-${l.digest.slice(7)}.tar`)), l.digest);
  img.close();
});

const corruptions: { name: string; corrupt: (tar: string, json: string) => void }[] = [
  { name: 'truncated', corrupt: (tar) => fs.truncateSync(tar, 1000) },
  { name: 'emptied', corrupt: (tar) => fs.writeFileSync(tar, '') },
  { name: 'overwritten with garbage of the same size', corrupt: (tar) => fs.writeFileSync(tar, crypto.randomBytes(fs.statSync(tar).size)) },
  { name: 'missing its sidecar', corrupt: (_tar, json) => fs.rmSync(json) },
  { name: 'with a garbage sidecar', corrupt: (_tar, json) => fs.writeFileSync(json, '{"size":') },
  { name: 'deleted (sidecar left behind)', corrupt: (tar) => fs.rmSync(tar) },
  {
    name: 'with a broken header but its size and mtime restored',
    corrupt: (tar) => {
      const st = fs.statSync(tar);
      const b = fs.readFileSync(tar);
      b[0] ^= 0xff; // first header's checksum now fails
      fs.writeFileSync(tar, b);
      fs.utimesSync(tar, st.atime, st.mtime);
    },
  },
];

for (const c of corruptions) {
  test(`a cached file ${c.name} is rebuilt, never trusted`, () => {
    const cacheDir = tempDir('cache');
    const p = buildImage(spec, { format: 'oci', gzip: true });
    const first = openCounting(p, cacheDir);
    const hex = first.layers[0].digest.slice(7);
    const tar = path.join(cacheDir, 'layers', `sha256-${hex}.tar`);
    const good = fs.readFileSync(tar);
    c.corrupt(tar, path.join(cacheDir, 'layers', `sha256-${hex}.json`));
    const second = openCounting(p, cacheDir);
    assert.is(second.inflated, 1);
    assert.equal(second.listing, want);
    assert.ok(fs.readFileSync(tar).equals(good));
    assert.is(openCounting(p, cacheDir).inflated, 0); // and the rebuilt file is trusted again
  });
}

test('a gzip-compressed whole archive is cached under the sha256 of its bytes', () => {
  const cacheDir = tempDir('cache');
  const p = buildImage(spec, { format: 'docker', gzipArchive: true });
  const r = openCounting(p, cacheDir);
  assert.equal(r.listing, want);
  assert.is(r.inflated, 1);
  assert.match(r.msgs[0], /^docker\.tar\.gz \(\d+ KB\)$/);
  const hex = crypto.createHash('sha256').update(fs.readFileSync(p)).digest('hex');
  assert.equal(cacheFiles(cacheDir), [`sha256-${hex}.json`, `sha256-${hex}.tar`]);
  assert.is(openCounting(p, cacheDir).inflated, 0);
});

test('a legacy docker gzip layer (no blob digest) is cached under the sha256 of its compressed bytes', () => {
  const cacheDir = tempDir('cache');
  const p = buildImage(spec, { format: 'docker', gzip: true });
  const r = openCounting(p, cacheDir);
  assert.is(r.inflated, 2);
  const hex = crypto.createHash('sha256').update(gzip(tarLayer(spec.layers[0]))).digest('hex');
  assert.ok(cacheFiles(cacheDir).includes(`sha256-${hex}.tar`));
  assert.is(openCounting(p, cacheDir).inflated, 0);
});

test('identical gzip layers in one image are inflated once', () => {
  const same: ImageSpec = { layers: [spec.layers[0], spec.layers[0], spec.layers[0]] };
  const cacheDir = tempDir('cache');
  const r = openCounting(buildImage(same, { format: 'oci', gzip: true }), cacheDir);
  assert.is(r.inflated, 1);
  assert.is(cacheFiles(cacheDir).length, 2);
});

test('many gzip layers are all inflated (in parallel) and merged in order', () => {
  const layers = Array.from({ length: 9 }, (_, i) => [
    { path: 'n', type: 'file' as const, data: String(i) },
    { path: `f${i}`, type: 'file' as const, data: 'x'.repeat(1000 * i) },
  ]);
  const cacheDir = tempDir('cache');
  const r = openCounting(buildImage({ layers }, { format: 'oci', gzip: true }), cacheDir);
  assert.is(r.inflated, 9);
  assert.is(r.listing.n, 'file 644 8');
  assert.is(Object.keys(r.listing).length, 10);
});

test('corrupt gzip data is an ImageError naming the layer, and nothing is cached for it', () => {
  const cacheDir = tempDir('cache');
  const p = buildImage(spec, { format: 'docker', gzip: true });
  const b = fs.readFileSync(p);
  // The first layer.tar member holds the first gzip stream: damage its deflate data.
  const at = b.indexOf(Buffer.from([0x1f, 0x8b, 0x08]));
  for (let i = 20; i < 60; i++) b[at + i] ^= 0x55;
  fs.writeFileSync(p, b);
  assert.match(openError(p, { cacheDir }), /^docker\.tar: layer 0 \(sha256:[0-9a-f]{12}…\) has corrupt gzip data \([^)]+\)$/);
  // Only the intact layer 1 may have been published (its inflation ran alongside); no temp files.
  const hex1 = crypto.createHash('sha256').update(gzip(tarLayer(spec.layers[1]))).digest('hex');
  for (const f of cacheFiles(cacheDir)) assert.ok([`sha256-${hex1}.tar`, `sha256-${hex1}.json`].includes(f), f);
});

test('a truncated gzip archive is an ImageError ("unexpected end of file") and leaves no temp file', () => {
  const cacheDir = tempDir('cache');
  const gz = imageBytes(spec, { format: 'oci', gzipArchive: true });
  const p = writeTemp(gz.subarray(0, gz.length >> 1), 'image.tar.gz');
  assert.is(openError(p, { cacheDir }), 'image.tar.gz: archive has corrupt gzip data (unexpected end of file)');
  assert.equal(cacheFiles(cacheDir), []);
});

test('inflating never closes the caller\'s file descriptor, on success or on corrupt data', async () => {
  const good = gzip(tarLayer(spec.layers[0]));
  const bad = Buffer.from(good);
  for (let i = 20; i < 60; i++) bad[i] ^= 0x55;
  for (const bytes of [good, bad]) {
    const file = writeTemp(bytes, 'layer.tar.gz');
    const fd = fs.openSync(file, 'r');
    const key = { algo: 'sha256' as const, hex: crypto.createHash('sha256').update(bytes).digest('hex') };
    const cache = new LayerCache(tempDir('cache'), new Where('layer.tar.gz', 'layer 0'));
    try {
      cache.inflate([{ fd, start: 0, length: bytes.length, key, where: new Where('layer.tar.gz', 'layer 0'), label: 'layer 0' }]);
    } catch (e) {
      assert.is((e as Error).name, 'ImageError');
    }
    await new Promise((r) => setTimeout(r, 200)); // let the worker wind down
    assert.ok(fs.fstatSync(fd).isFile()); // still ours, still open
    fs.closeSync(fd);
  }
});

test('an unusable cache directory is an ImageError', () => {
  const blocker = path.join(tempDir('cache'), 'file');
  fs.writeFileSync(blocker, '');
  const p = buildImage(spec, { format: 'oci', gzip: true });
  assert.match(openError(p, { cacheDir: blocker }), /^oci\.tar: archive cannot be cached: cannot create .*\/file\/layers \(ENOTDIR\)$/);
});


test('progress: nothing for a quick inflate; for a slow one, lines of compressed bytes done per layer, then the total and rate', () => {
  // 3 MiB of incompressible data: quick (well under half a second)
  const noise = crypto.randomBytes(3 << 20);
  const p = buildImage({ layers: [[{ path: 'n', type: 'file', data: noise }]] }, { format: 'oci', gzip: true });
  const quiet: string[] = [];
  open(p, { progress: (m) => quiet.push(m) }).close();
  assert.equal(quiet, []);
  // the same with the thresholds at zero: every tick reports
  setProgressTiming(0, 0);
  try {
    const said: string[] = [];
    open(p, { progress: (m) => said.push(m) }).close();
    assert.ok(said.length >= 2, said.join('\n'));
    for (const m of said.slice(0, -1)) assert.match(m, /^inflating: [\d.]+ MB of [\d.]+ MB compressed( \(layer 0 \(sha256:[0-9a-f]{12}…, [\d.]+ MB\) \d+%\))?$/);
    assert.match(said[said.length - 1], /^inflated 1 layer\(s\) into [\d.]+ MB in [\d.]+ s \(\d+ MB\/s\)$/);
  } finally {
    setProgressTiming(500, 1000);
  }
});

test.run();
