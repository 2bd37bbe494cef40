// The image reader's bounds (issue 17): a gzip layer stops inflating past its limit (--max-layer-size,
// or by default 100 times its compressed size within [1 GiB, 8 GiB]) and before the cache's file
// system runs low, leaving nothing behind; the cache keeps at most --cache-size bytes, removing the
// least recently used layers and snapshots first and never the ones the current open uses; dead
// writers' temporaries are swept.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { layerLimit } from '../../../gofer/image/cache';
import type { ImageSpec } from '../../../host/image/image-writer';
import { buildImage, gzipBomb, tempDir } from '../../lib/images';
import { listing, open, openError } from './util';

const MiB = 2 ** 20;
const GiB = 2 ** 30;
const layerFiles = (cacheDir: string): string[] => {
  try {
    return fs.readdirSync(path.join(cacheDir, 'layers')).sort();
  } catch {
    return [];
  }
};

test('the default layer limit is 100 times the compressed size, at least 1 GiB, at most 8 GiB; --max-layer-size replaces it', () => {
  assert.is(layerLimit(3 * MiB), GiB);
  assert.is(layerLimit(50 * MiB), 5000 * MiB);
  assert.is(layerLimit(2 * GiB), 8 * GiB);
  assert.is(layerLimit(3 * MiB, { maxLayerSize: 64 * MiB }), 64 * MiB);
  assert.is(layerLimit(2 * GiB, { maxLayerSize: 20 * GiB }), 20 * GiB);
});

test('a gzip bomb stops inflating at --max-layer-size: one line, bounded time, nothing left in the cache', () => {
  const bomb = gzipBomb(512); // 512 MiB of zeros from about 0.5 MB
  const cacheDir = tempDir('cache');
  const t0 = Date.now();
  const msg = openError(bomb, { cacheDir, limits: { maxLayerSize: 32 * MiB } });
  const ms = Date.now() - t0;
  assert.is(msg, 'bomb.tar: layer 0 inflates to more than 32 MiB (the --max-layer-size limit); if it is genuine, raise --max-layer-size');
  assert.ok(ms < 10_000, `stopped after ${ms} ms`);
  assert.equal(layerFiles(cacheDir), [], 'no layer, sidecar or temporary is kept');
  // the same image under a limit it fits opens, and is served
  const img = open(bomb, { cacheDir, limits: { maxLayerSize: GiB } });
  assert.is(img.tree.size(img.tree.lookup(img.tree.root, Buffer.from('zeros'))), 512 * MiB);
  img.close();
});

test('by default a bomb is stopped at 1 GiB, whatever it would inflate to', () => {
  const bomb = gzipBomb(1100);
  const cacheDir = tempDir('cache');
  assert.match(openError(bomb, { cacheDir }), /^bomb\.tar: layer 0 inflates to more than 1 GiB \(the limit for a layer of 1\.1 MiB: 100 times its size, at least 1 GiB, at most 8 GiB\); if it is genuine, raise --max-layer-size$/);
  assert.equal(layerFiles(cacheDir), []);
});

test('inflating stops before the cache file system runs low (a 256 MiB tmpfs), leaving nothing', (ctx) => {
  const dir = tempDir('smallfs');
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=256m', 'tmpfs', dir]).status === 0;
  if (!mounted) {
    console.log('  (skipped: cannot mount a tmpfs here; needs root)');
    return;
  }
  try {
    const msg = openError(gzipBomb(512), { cacheDir: dir, limits: { maxLayerSize: 4 * GiB } });
    assert.match(msg, /^bomb\.tar: layer 0 cannot be inflated: the cache's file system \(.*\/layers\) would have less than 12\.8 MiB free$/);
    assert.equal(layerFiles(dir), []);
  } finally {
    execFileSync('umount', [dir]);
  }
});

/** Three gzip images with layers of their own, each about 200 KB inflated. */
const images = ['a', 'b', 'c'].map((n) => {
  const spec: ImageSpec = { layers: [[{ path: `${n}/big`, type: 'file', data: n.repeat(200_000) }]] };
  return buildImage(spec, { format: 'oci', gzip: true, name: n });
});
const tarsOf = (cacheDir: string): number => layerFiles(cacheDir).filter((f) => f.endsWith('.tar')).length;
/** Opens image i (not from a snapshot: the snapshot of an earlier open is removed first). */
function openFresh(i: number, cacheDir: string, cacheSize: number): string[] {
  fs.rmSync(path.join(cacheDir, 'index'), { recursive: true, force: true });
  const img = open(images[i], { cacheDir, limits: { cacheSize } });
  const names = img.layers.map((l) => `sha256-${l.digest.slice(7)}.tar`);
  img.close();
  return names;
}
/** Makes every cache item look used `secondsAgo` seconds ago (the clock: sidecars and snapshots). */
function age(cacheDir: string, secondsAgo: number): void {
  const t = new Date(Date.now() - secondsAgo * 1000);
  for (const d of ['layers', 'index']) {
    for (const f of fs.existsSync(path.join(cacheDir, d)) ? fs.readdirSync(path.join(cacheDir, d)) : []) {
      if (!f.endsWith('.tar')) fs.utimesSync(path.join(cacheDir, d, f), t, t); // a layer's own mtime is part of its identity
    }
  }
}

test('the cache keeps at most --cache-size: the least recently used layers go first, never those of the open image', () => {
  const cacheDir = tempDir('cache');
  const limit = 450_000; // room for two of the three layers (about 200 KB each)
  const a = openFresh(0, cacheDir, limit);
  age(cacheDir, 60);
  const b = openFresh(1, cacheDir, limit);
  age(cacheDir, 30); // a: 90 s ago, b: 30 s ago
  const c = openFresh(2, cacheDir, limit);
  assert.equal(
    layerFiles(cacheDir).filter((f) => f.endsWith('.tar')),
    [...b, ...c].sort(),
    'a, the least recently used, is gone',
  );
  // using b (a cache hit) makes it recent: opening a again then removes c, not b
  age(cacheDir, 60);
  let inflated = 0;
  const img = open(images[1], { cacheDir, limits: { cacheSize: limit }, onInflate: () => inflated++ });
  img.close();
  assert.is(inflated, 0, 'b was a cache hit');
  assert.equal(openFresh(0, cacheDir, limit).sort(), a);
  assert.equal(layerFiles(cacheDir).filter((f) => f.endsWith('.tar')), [...a, ...b].sort());
  // a limit smaller than one image: its own layers stay (it is being used), everything else goes
  age(cacheDir, 60);
  openFresh(2, cacheDir, 1000);
  assert.equal(layerFiles(cacheDir).filter((f) => f.endsWith('.tar')), c);
});

test('a snapshot open counts as a use of its layers (they stay recent)', () => {
  const cacheDir = tempDir('cache');
  const img = open(images[0], { cacheDir });
  img.close();
  age(cacheDir, 3600);
  const again = open(images[0], { cacheDir });
  assert.ok(again.snapshot, 'opened from the snapshot');
  again.close();
  const side = layerFiles(cacheDir).find((f) => f.endsWith('.json'))!;
  assert.ok(Date.now() - fs.statSync(path.join(cacheDir, 'layers', side)).mtimeMs < 60_000, 'the sidecar was touched');
  const idx = fs.readdirSync(path.join(cacheDir, 'index'))[0];
  assert.ok(Date.now() - fs.statSync(path.join(cacheDir, 'index', idx)).mtimeMs < 60_000, 'the snapshot was touched');
  assert.is(tarsOf(cacheDir), 1);
});

test('temporaries of dead writers are swept when the cache is next used; a live writer\'s are kept', () => {
  const cacheDir = tempDir('cache');
  const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout;
  fs.mkdirSync(path.join(cacheDir, 'layers'), { recursive: true });
  fs.mkdirSync(path.join(cacheDir, 'index'), { recursive: true });
  const stale = path.join(cacheDir, 'layers', `.tmp-${dead}-0011223344aa-sha256-00.tar`);
  const staleIdx = path.join(cacheDir, 'index', `.tmp-${dead}-00112233.idx`);
  const live = path.join(cacheDir, 'layers', `.tmp-${process.ppid}-0011223344aa-sha256-00.tar`);
  for (const f of [stale, staleIdx, live]) fs.writeFileSync(f, 'partial');
  const img = open(images[1], { cacheDir });
  assert.equal(listing(img.tree)['b/big'].length > 0, true);
  img.close();
  assert.not.ok(fs.existsSync(stale), 'a dead writer\'s layer temporary is removed');
  assert.not.ok(fs.existsSync(staleIdx), 'a dead writer\'s snapshot temporary is removed');
  assert.ok(fs.existsSync(live), 'a live process\'s temporary is kept');
});

test.run();
