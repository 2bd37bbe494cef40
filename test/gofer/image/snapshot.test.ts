// gofer/image/snapshot.ts: the second open of an unchanged image file comes from its index snapshot
// and gives the same tree; a changed image, a changed or missing cache file, a corrupted snapshot and
// a forged one (valid checksum, bad structure) are never trusted; an unwritable cache only costs speed.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { writeImage, type ImageSpec } from '../../../host/image/image-writer';
import { openImage, type Image } from '../../../gofer/image/index';
import { buildImage, tempDir } from '../../lib/images';
import { listing, readAll } from './util';

const spec: ImageSpec = {
  layers: [
    [
      { path: 'etc/passwd', type: 'file', data: 'root:x:0:0\n' },
      { path: 'bin/tool', type: 'file', data: 'T'.repeat(5000), mode: 0o755 },
      { path: 'bin/alias', type: 'symlink', target: 'tool' },
      { path: 'gone', type: 'file', data: 'bye' },
    ],
    [
      { path: 'gone', type: 'whiteout' },
      { path: 'etc/motd', type: 'file', data: 'layer 1\n' },
      { path: 'etc/hard', type: 'hardlink', target: 'etc/passwd' },
    ],
  ],
  cmd: ['/bin/tool'],
  env: ['A=1'],
};

function openIn(image: string, cacheDir: string): { img: Image; tree: Record<string, string>; hard: number } {
  const img = openImage(image, { cacheDir });
  const hard = img.tree.nlink(img.tree.walkPath('etc/passwd'));
  return { img, tree: listing(img.tree), hard };
}

function twice(image: string, cacheDir = tempDir('cache')) {
  const a = openIn(image, cacheDir);
  a.img.close();
  const b = openIn(image, cacheDir);
  return { a, b, cacheDir };
}

const snapshotFile = (cacheDir: string): string => {
  const files = fs.readdirSync(path.join(cacheDir, 'index'));
  assert.equal(files.length, 1, `one snapshot: ${files}`);
  return path.join(cacheDir, 'index', files[0]);
};

for (const format of ['plain', 'docker', 'oci'] as const) {
  for (const gzip of [false, true]) {
    test(`${format}${gzip ? ', gzip' : ''}: the second open comes from the snapshot and gives the same tree, config and layers`, () => {
      const image = buildImage(format === 'plain' ? { layers: [spec.layers[0]] } : spec, { format, gzip });
      const { a, b } = twice(image);
      try {
        assert.is(a.img.snapshot, false);
        assert.is(b.img.snapshot, true);
        assert.equal(b.tree, a.tree);
        assert.is(b.hard, a.hard);
        assert.equal(b.img.config, a.img.config);
        assert.equal(b.img.layers, a.img.layers);
        assert.is(b.img.format, a.img.format);
        const t = b.img.tree;
        assert.is(readAll(t, t.walkPath('bin/tool')), 'T'.repeat(5000));
      } finally {
        b.img.close();
      }
    });
  }
}

test('a rewritten image (same size, same mtime) is read again, not served from the old snapshot', () => {
  const image = buildImage(spec, { format: 'oci' });
  const cacheDir = tempDir('cache');
  openIn(image, cacheDir).img.close();
  const st = fs.statSync(image);
  const changed: ImageSpec = { ...spec, layers: [spec.layers[0], spec.layers[1].map((e) => (e.path === 'etc/motd' ? { ...e, data: 'LAYER 1\n' } : e))] };
  const other = path.join(tempDir('other'), 'x.tar');
  writeImage(changed, other, { format: 'oci' });
  assert.is(fs.statSync(other).size, st.size, 'same size');
  fs.writeFileSync(image, fs.readFileSync(other)); // in place: same inode
  fs.utimesSync(image, st.atime, st.mtime); // and the old mtime: only ctime tells
  const b = openIn(image, cacheDir);
  try {
    assert.is(b.img.snapshot, false);
    assert.is(b.tree['etc/motd'], 'file 644 LAYER 1\n');
  } finally {
    b.img.close();
  }
  const c = openIn(image, cacheDir); // and the new snapshot replaced the old one
  c.img.close();
  assert.is(c.img.snapshot, true);
  assert.is(c.tree['etc/motd'], 'file 644 LAYER 1\n');
  snapshotFile(cacheDir);
});

test('gzip layers: a snapshot whose cache file was replaced or removed is not used; the layer is inflated again', () => {
  const image = buildImage(spec, { format: 'oci', gzip: true });
  const { a, b, cacheDir } = twice(image);
  b.img.close();
  const layers = path.join(cacheDir, 'layers');
  const tars = fs.readdirSync(layers).filter((f) => f.endsWith('.tar'));
  assert.is(tars.length, 2);
  fs.rmSync(path.join(layers, tars[0]));
  const c = openIn(image, cacheDir);
  c.img.close();
  assert.is(c.img.snapshot, false);
  assert.equal(c.tree, a.tree);
  // a cache file rewritten in place (new mtime) also voids the snapshot
  const d0 = openIn(image, cacheDir);
  d0.img.close();
  assert.is(d0.img.snapshot, true);
  const f = path.join(layers, tars[1]);
  fs.utimesSync(f, new Date(), new Date(Date.now() - 86400_000));
  const d = openIn(image, cacheDir);
  d.img.close();
  assert.is(d.img.snapshot, false);
  assert.equal(d.tree, a.tree);
});

test('a corrupted snapshot (any flipped byte, or cut short) is ignored and rewritten', () => {
  const image = buildImage(spec, { format: 'docker' });
  const cacheDir = tempDir('cache');
  const a = openIn(image, cacheDir);
  a.img.close();
  const file = snapshotFile(cacheDir);
  const good = fs.readFileSync(file);
  for (const at of [0, 9, 40, Math.floor(good.length / 2), good.length - 40, good.length - 1]) {
    const bad = Buffer.from(good);
    bad[at] ^= 0x40;
    fs.writeFileSync(file, bad);
    const b = openIn(image, cacheDir);
    b.img.close();
    assert.is(b.img.snapshot, false, `byte ${at}`);
    assert.equal(b.tree, a.tree);
  }
  fs.writeFileSync(file, good.subarray(0, good.length - 100));
  const c = openIn(image, cacheDir);
  c.img.close();
  assert.is(c.img.snapshot, false);
  assert.ok(fs.readFileSync(file).equals(good), 'rewritten');
});

/** Rewrites one u32 of a table in the snapshot and fixes up its checksum (a forged snapshot). */
function forge(file: string, table: string, index: number, value: number): void {
  const order = ['kind', 1, 'count', 'mode', 2, 'count', 'uid', 4, 'count', 'gid', 4, 'count', 'size', 8, 'count', 'mtimeNs', 8, 'count', 'nlink', 4, 'count', 'layer', 2, 'count', 'src', 2, 'count', 'off', 8, 'count', 'entFirst', 4, 'count', 'entCount', 4, 'count', 'entNode', 4, 'entries', 'entNameOff', 4, 'entries', 'entNameLen', 4, 'entries'] as const;
  const b = fs.readFileSync(file);
  const jsonLen = b.readUInt32LE(8);
  const h = JSON.parse(b.toString('utf8', 12, 12 + jsonLen));
  let at = (12 + jsonLen + 7) & ~7;
  for (let i = 0; i < order.length; i += 3) {
    const [name, width, len] = [order[i], order[i + 1] as number, order[i + 2] as string];
    if (name === table) {
      if (width === 4) b.writeUInt32LE(value, at + index * 4);
      else if (width === 8) b.writeDoubleLE(value, at + index * 8);
      else if (width === 2) b.writeUInt16LE(value, at + index * 2);
      else b[at + index] = value;
      break;
    }
    at = (at + h[len] * width + 7) & ~7;
  }
  crypto.createHash('sha256').update(b.subarray(0, b.length - 32)).digest().copy(b, b.length - 32);
  fs.writeFileSync(file, b);
}

test('a forged snapshot (checksum fixed up) with an out-of-bounds index, data range or a directory cycle is refused', () => {
  const image = buildImage(spec, { format: 'oci' });
  const cacheDir = tempDir('cache');
  const a = openIn(image, cacheDir);
  a.img.close();
  const file = snapshotFile(cacheDir);
  const good = fs.readFileSync(file);
  const t = a.img.tree;
  const etc = t.walkPath('etc');
  const tool = t.walkPath('bin/tool');
  const cases: [string, number, number][] = [
    ['entNode', 0, 0], // an entry naming the root: a cycle
    ['entNode', t.entryFirst(etc), etc], // etc contains itself
    ['entNode', 0, t.count + 5], // no such node
    ['entFirst', 0, 1000], // entries past the table
    ['off', tool, fs.statSync(image).size], // file data past the end of the archive
    ['src', tool, 7], // no such source
    ['kind', tool, 9], // no such kind
    ['entNameLen', 0, 1 << 20], // a name past the string table
  ];
  for (const [table, index, value] of cases) {
    fs.writeFileSync(file, good);
    forge(file, table, index, value);
    const b = openIn(image, cacheDir);
    b.img.close();
    assert.is(b.img.snapshot, false, `${table}[${index}] = ${value}`);
    assert.equal(b.tree, a.tree);
  }
  // and the unforged file, rewritten, still works (the forging helper itself is right)
  fs.writeFileSync(file, good);
  forge(file, 'mode', tool, 0o700);
  const c = openIn(image, cacheDir);
  c.img.close();
  assert.is(c.img.snapshot, true);
  assert.is(c.tree['bin/tool'].slice(0, 8), 'file 700');
});

test('a cache directory that cannot be written: the image opens the slow way every time', () => {
  const image = buildImage(spec, { format: 'oci' });
  const cacheDir = tempDir('cache');
  fs.writeFileSync(path.join(cacheDir, 'index'), 'not a directory');
  const { a, b } = twice(image, cacheDir);
  b.img.close();
  assert.is(b.img.snapshot, false);
  assert.equal(b.tree, a.tree);
});

test('snapshots: false neither reads nor writes one', () => {
  const image = buildImage(spec, { format: 'oci' });
  const cacheDir = tempDir('cache');
  openImage(image, { cacheDir, snapshots: false }).close();
  assert.not.ok(fs.existsSync(path.join(cacheDir, 'index')));
  openImage(image, { cacheDir }).close();
  const c = openImage(image, { cacheDir, snapshots: false });
  c.close();
  assert.is(c.snapshot, false);
});

test.run();
