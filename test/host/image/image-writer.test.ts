// host/image/image-writer.ts, cross-checked with GNU tar: what tarLayer writes, `tar -tvf` lists and
// `tar -xf` extracts exactly as the spec says (long and non-ASCII names, links, modes, mtimes,
// whiteouts), in every writer mode; docker-save and OCI layouts carry real digests, sizes and diff_ids.
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DEFAULT_MTIME, imageBytes, tarLayer, writeImage, type Entry, type ImageSpec, type TarWriterOptions } from '../../../host/image/image-writer';
import { FIXTURE_MTIME } from '../../lib/layers';
import { buildImage, tempDir } from '../../lib/images';

const long = `${'d'.repeat(70)}/${'e'.repeat(70)}/${'f'.repeat(120)}`;
const entries: Entry[] = [
  { path: 'etc', type: 'dir', mode: 0o750 },
  { path: 'etc/hosts', type: 'file', data: '127.0.0.1 localhost\n', mode: 0o600 },
  { path: 'bin/run', type: 'file', data: new Uint8Array([0, 1, 2, 255]), mode: 0o4755, mtime: 1000000000 },
  { path: 'bin/sh', type: 'symlink', target: '/usr/bin/busybox' },
  { path: 'bin/hard', type: 'hardlink', target: 'bin/run' },
  { path: long, type: 'file', data: 'long path' },
  { path: 'lnk', type: 'symlink', target: `${'../'.repeat(40)}${'t'.repeat(50)}` },
  { path: 'hl', type: 'hardlink', target: long },
  { path: 'grüße/日本語', type: 'file', data: 'unicode' },
  { path: 'tmp', type: 'dir', mode: 0o1777 },
  { path: 'gone', type: 'whiteout' },
  { path: 'etc/old', type: 'whiteout' },
  { path: 'var/cache', type: 'opaque', mode: 0o700 },
  { path: 'frac', type: 'file', data: 'f', mtime: 1680153482.5 },
];

const TZ = { ...process.env, TZ: 'UTC', LC_ALL: 'C.UTF-8' };
const modes: { name: string; opts: TarWriterOptions }[] = [
  { name: 'PAX long names', opts: {} },
  { name: 'GNU long names', opts: { longNames: 'gnu' } },
  { name: 'base-256 numbers', opts: { numeric: 'base256' } },
];

const modeString = (type: string, mode: number) => {
  const c = (b: number, ch: string) => (mode & b ? ch : '-');
  let s = `${type}${c(0o400, 'r')}${c(0o200, 'w')}${mode & 0o4000 ? (mode & 0o100 ? 's' : 'S') : c(0o100, 'x')}`;
  s += `${c(0o40, 'r')}${c(0o20, 'w')}${mode & 0o2000 ? (mode & 0o10 ? 's' : 'S') : c(0o10, 'x')}`;
  s += `${c(0o4, 'r')}${c(0o2, 'w')}${mode & 0o1000 ? (mode & 0o1 ? 't' : 'T') : c(0o1, 'x')}`;
  return s;
};

/** What `tar --numeric-owner --full-time -tv` should print for the entries (TZ=UTC). */
function expectedListing(opts: TarWriterOptions): string[] {
  const pax = !opts.longNames && !opts.numeric; // only PAX records carry fractional seconds
  const date = (t = DEFAULT_MTIME) => {
    const s = new Date(Math.floor(t) * 1000).toISOString().replace('T', ' ').slice(0, 19);
    return pax && t !== Math.floor(t) ? `${s}${String(t - Math.floor(t)).slice(1)}` : s;
  };
  const out: string[] = [];
  for (const e of entries) {
    const size = e.type === 'file' ? (typeof e.data === 'string' ? Buffer.byteLength(e.data) : e.data!.length) : 0;
    switch (e.type) {
      case 'file':
        out.push(`${modeString('-', e.mode ?? 0o644)} 0/0 ${size} ${date(e.mtime)} ${e.path}`);
        break;
      case 'dir':
        out.push(`${modeString('d', e.mode ?? 0o755)} 0/0 0 ${date(e.mtime)} ${e.path}/`);
        break;
      case 'symlink':
        out.push(`${modeString('l', 0o777)} 0/0 0 ${date(e.mtime)} ${e.path} -> ${e.target}`);
        break;
      case 'hardlink':
        out.push(`${modeString('h', 0o644)} 0/0 0 ${date()} ${e.path} link to ${e.target}`);
        break;
      case 'whiteout': {
        const i = e.path.lastIndexOf('/');
        out.push(`${modeString('-', 0o644)} 0/0 0 ${date()} ${e.path.slice(0, i + 1)}.wh.${e.path.slice(i + 1)}`);
        break;
      }
      case 'opaque':
        out.push(`${modeString('d', e.mode ?? 0o755)} 0/0 0 ${date(e.mtime)} ${e.path}/`);
        out.push(`${modeString('-', 0o644)} 0/0 0 ${date()} ${e.path}/.wh..wh..opq`);
        break;
    }
  }
  return out;
}

for (const m of modes) {
  test(`tarLayer (${m.name}): tar -tvf lists every entry with its type, mode, size, time and target`, () => {
    const file = path.join(tempDir('w'), 'layer.tar');
    fs.writeFileSync(file, tarLayer(entries, m.opts));
    const got = execFileSync('tar', ['--numeric-owner', '--full-time', '--quoting-style=literal', '-tvf', file], { env: TZ, encoding: 'utf8' })
      .trimEnd()
      .split('\n')
      .map((l) => l.replace(/ +/g, ' '));
    assert.equal(got, expectedListing(m.opts));
  });

  test(`tarLayer (${m.name}): tar -xf extracts exactly the spec`, () => {
    const file = path.join(tempDir('w'), 'layer.tar');
    fs.writeFileSync(file, tarLayer(entries, m.opts));
    const dir = tempDir('x');
    execFileSync('tar', ['-xpf', file, '-C', dir]);
    const st = (p: string) => fs.lstatSync(path.join(dir, p), { bigint: true });
    assert.is(fs.readFileSync(path.join(dir, 'etc/hosts'), 'utf8'), '127.0.0.1 localhost\n');
    assert.is(Number(st('etc/hosts').mode & 0o7777n), 0o600);
    assert.equal([...fs.readFileSync(path.join(dir, 'bin/run'))], [0, 1, 2, 255]);
    assert.is(Number(st('bin/run').mode & 0o7777n), 0o4755);
    assert.is(st('bin/run').mtimeMs, 1000000000000n);
    assert.is(st('bin/hard').ino, st('bin/run').ino);
    assert.is(st('hl').ino, st(long).ino);
    assert.is(fs.readlinkSync(path.join(dir, 'bin/sh')), '/usr/bin/busybox');
    assert.is(fs.readlinkSync(path.join(dir, 'lnk')), `${'../'.repeat(40)}${'t'.repeat(50)}`);
    assert.is(fs.readFileSync(path.join(dir, long), 'utf8'), 'long path');
    assert.is(fs.readFileSync(path.join(dir, 'grüße/日本語'), 'utf8'), 'unicode');
    assert.is(Number(st('tmp').mode & 0o7777n), 0o1777);
    assert.is(Number(st('var/cache').mode & 0o7777n), 0o700);
    assert.is(fs.statSync(path.join(dir, 'gone/../.wh.gone')).size, 0);
    assert.is(fs.statSync(path.join(dir, 'etc/.wh.old')).size, 0);
    assert.is(fs.statSync(path.join(dir, 'var/cache/.wh..wh..opq')).size, 0);
    assert.is(st('etc/hosts').mtimeMs, BigInt(FIXTURE_MTIME) * 1000n);
    if (!m.opts.numeric && !m.opts.longNames) assert.is(st('frac').mtimeNs, 1680153482500000000n); // PAX keeps the fraction
  });
}

test('tarLayer: a gzip layer gunzips to the plain layer', () => {
  assert.ok(Buffer.from(zlib.gunzipSync(tarLayer(entries, { gzip: true }))).equals(Buffer.from(tarLayer(entries))));
});

test('tarLayer: output is deterministic', () => {
  assert.ok(Buffer.from(tarLayer(entries)).equals(Buffer.from(tarLayer(entries))));
  const spec: ImageSpec = { layers: [entries.slice(0, 3), entries.slice(3, 6)], cmd: ['x'] };
  for (const format of ['docker', 'oci'] as const) {
    assert.ok(Buffer.from(imageBytes(spec, { format, gzip: true })).equals(Buffer.from(imageBytes(spec, { format, gzip: true }))));
  }
});

// --- image layouts -------------------------------------------------------------------------------

const spec: ImageSpec = {
  layers: [
    [{ path: 'a', type: 'file', data: 'one' }],
    [{ path: 'b', type: 'file', data: 'two' }, { path: 'a', type: 'whiteout' }],
  ],
  entrypoint: ['/a'],
  cmd: ['-x'],
  env: ['K=V'],
  workingDir: '/w',
};
const sha = (b: Uint8Array) => crypto.createHash('sha256').update(b).digest('hex');
const layerTars = spec.layers.map((l) => tarLayer(l));

function extract(p: string): string {
  const dir = tempDir('x');
  execFileSync('tar', ['-xf', p, '-C', dir]);
  return dir;
}
const rj = (p: string) => JSON.parse(fs.readFileSync(p, 'utf8'));

test('docker (legacy): manifest.json, <sha256>.json config with the spec config and diff_ids, <id>/layer.tar, repositories', () => {
  const dir = extract(buildImage(spec, { format: 'docker', tag: 'me/app:1.0' }));
  const [m] = rj(path.join(dir, 'manifest.json'));
  assert.equal(m.RepoTags, ['me/app:1.0']);
  const configBytes = fs.readFileSync(path.join(dir, m.Config));
  assert.is(m.Config, `${sha(configBytes)}.json`);
  const config = JSON.parse(configBytes.toString());
  assert.equal(config.config, { Env: ['K=V'], Entrypoint: ['/a'], Cmd: ['-x'], WorkingDir: '/w' });
  assert.equal(config.rootfs, { type: 'layers', diff_ids: layerTars.map((t) => `sha256:${sha(t)}`) });
  assert.is(m.Layers.length, 2);
  m.Layers.forEach((l: string, i: number) => {
    assert.match(l, /^[0-9a-f]{64}\/layer\.tar$/);
    assert.ok(fs.readFileSync(path.join(dir, l)).equals(Buffer.from(layerTars[i])));
    assert.is(fs.readFileSync(path.join(dir, path.dirname(l), 'VERSION'), 'utf8'), '1.0');
  });
  assert.equal(rj(path.join(dir, 'repositories')), { 'me/app': { '1.0': m.Layers[1].split('/')[0] } });
});

test('docker (blobs): every blob is named by the sha256 of its bytes', () => {
  const dir = extract(buildImage(spec, { format: 'docker', dockerBlobs: true, gzip: true }));
  const [m] = rj(path.join(dir, 'manifest.json'));
  for (const p of [m.Config, ...m.Layers]) {
    assert.match(p, /^blobs\/sha256\/[0-9a-f]{64}$/);
    assert.is(sha(fs.readFileSync(path.join(dir, p))), p.slice(13));
  }
  m.Layers.forEach((p: string, i: number) => assert.ok(zlib.gunzipSync(fs.readFileSync(path.join(dir, p))).equals(Buffer.from(layerTars[i]))));
});

for (const gzip of [false, true]) {
  for (const nestedIndex of [false, true]) {
    test(`oci (gzip ${gzip}, nested index ${nestedIndex}): descriptors carry real digests, sizes and media types; diff_ids hash the uncompressed layers`, () => {
      const dir = extract(buildImage(spec, { format: 'oci', gzip, nestedIndex }));
      assert.equal(rj(path.join(dir, 'oci-layout')), { imageLayoutVersion: '1.0.0' });
      const blob = (d: { digest: string; size: number; mediaType: string }) => {
        const b = fs.readFileSync(path.join(dir, 'blobs/sha256', d.digest.slice(7)));
        assert.is(`sha256:${sha(b)}`, d.digest);
        assert.is(b.length, d.size);
        return b;
      };
      let index = rj(path.join(dir, 'index.json'));
      assert.is(index.schemaVersion, 2);
      if (nestedIndex) {
        assert.is(index.manifests[0].mediaType, 'application/vnd.oci.image.index.v1+json');
        index = JSON.parse(blob(index.manifests[0]).toString());
      }
      const desc = index.manifests[0];
      assert.is(desc.mediaType, 'application/vnd.oci.image.manifest.v1+json');
      assert.equal(desc.platform, { architecture: 'wasm', os: 'wasip1' });
      const manifest = JSON.parse(blob(desc).toString());
      assert.is(manifest.config.mediaType, 'application/vnd.oci.image.config.v1+json');
      const config = JSON.parse(blob(manifest.config).toString());
      assert.equal(config.rootfs.diff_ids, layerTars.map((t) => `sha256:${sha(t)}`));
      manifest.layers.forEach((l: { digest: string; size: number; mediaType: string }, i: number) => {
        assert.is(l.mediaType, gzip ? 'application/vnd.oci.image.layer.v1.tar+gzip' : 'application/vnd.oci.image.layer.v1.tar');
        const b = blob(l);
        assert.ok((gzip ? zlib.gunzipSync(b) : b).equals(Buffer.from(layerTars[i])));
      });
    });
  }
}

test('gzipArchive: the output gunzips to the uncompressed archive', () => {
  const plain = imageBytes(spec, { format: 'oci' });
  assert.ok(zlib.gunzipSync(imageBytes(spec, { format: 'oci', gzipArchive: true })).equals(Buffer.from(plain)));
});

test("plain: one layer is the archive itself; more than one is an error; none is an empty archive", () => {
  assert.ok(Buffer.from(imageBytes({ layers: [spec.layers[0]] }, { format: 'plain' })).equals(Buffer.from(layerTars[0])));
  assert.throws(() => writeImage(spec, path.join(tempDir('w'), 'x.tar'), { format: 'plain' }), /format 'plain' takes one layer, not 2/);
  const empty = path.join(tempDir('w'), 'empty.tar');
  writeImage({ layers: [] }, empty, { format: 'plain' });
  assert.is(execFileSync('tar', ['-tf', empty], { encoding: 'utf8' }), '');
});

test.run();
