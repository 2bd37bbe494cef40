// gofer/image/index.ts + manifest.ts: every archive form (plain, plain.gz, docker save legacy and
// blob layouts, OCI layout with and without a nested index), gzip layers and gzip'd whole archives,
// detection by content, config extraction, manifest choice, and metadata errors.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { imageBytes, type ImageSpec, type WriteImageOptions } from '../../../host/image/image-writer';
import { Where } from '../../../gofer/image/errors';
import { indexTar } from '../../../gofer/image/tar';
import { buildImage, tempDir } from '../../lib/images';
import { listing, open, openError, resealDocker, writeTemp } from './util';

const spec: ImageSpec = {
  layers: [
    [
      { path: 'bin/app.wasm', type: 'file', data: 'wasm', mode: 0o755 },
      { path: 'etc/gone', type: 'file', data: 'bye' },
      { path: 'etc/keep', type: 'file', data: 'keep' },
      { path: 'lib', type: 'symlink', target: 'usr/lib' },
    ],
    [
      { path: 'etc/gone', type: 'whiteout' },
      { path: 'etc/new', type: 'file', data: 'new' },
      { path: 'data', type: 'opaque' },
    ],
  ],
  entrypoint: ['/bin/app.wasm'],
  cmd: ['--serve', 'x y'],
  env: ['PATH=/bin', 'A=b=c'],
  workingDir: '/data',
};
const want = {
  bin: 'dir 755',
  'bin/app.wasm': 'file 755 wasm',
  data: 'dir 755',
  etc: 'dir 755',
  'etc/keep': 'file 644 keep',
  'etc/new': 'file 644 new',
  lib: 'link -> usr/lib',
};
const config = { entrypoint: ['/bin/app.wasm'], cmd: ['--serve', 'x y'], env: ['PATH=/bin', 'A=b=c'], workingDir: '/data', platform: 'wasip1/wasm' };

const forms: { name: string; opts: WriteImageOptions; format: string; compressed: boolean }[] = [
  { name: 'docker save (legacy <id>/layer.tar)', opts: { format: 'docker' }, format: 'docker', compressed: false },
  { name: 'docker save with gzip layer.tar', opts: { format: 'docker', gzip: true }, format: 'docker', compressed: true },
  { name: 'docker save (blobs/sha256 layout)', opts: { format: 'docker', dockerBlobs: true }, format: 'docker', compressed: false },
  { name: 'docker save (blobs) with gzip layers', opts: { format: 'docker', dockerBlobs: true, gzip: true }, format: 'docker', compressed: true },
  { name: 'docker save | gzip', opts: { format: 'docker', gzipArchive: true }, format: 'docker', compressed: false },
  { name: 'OCI layout', opts: { format: 'oci' }, format: 'oci', compressed: false },
  { name: 'OCI layout with tar+gzip layers', opts: { format: 'oci', gzip: true }, format: 'oci', compressed: true },
  { name: 'OCI layout via a nested index', opts: { format: 'oci', nestedIndex: true }, format: 'oci', compressed: false },
  { name: 'OCI layout, gzip layers, gzip archive', opts: { format: 'oci', gzip: true, gzipArchive: true }, format: 'oci', compressed: true },
];

for (const f of forms) {
  test(`forms: ${f.name} gives the merged tree, the config and the layer list`, () => {
    const img = open(buildImage(spec, f.opts));
    assert.is(img.format, f.format);
    assert.equal(listing(img.tree), want);
    assert.equal(img.config, config);
    assert.equal(
      img.layers.map((l) => [l.index, l.compressed, l.files]),
      [
        [0, f.compressed, 4],
        [1, f.compressed, 2],
      ],
    );
    for (const l of img.layers) assert.match(l.digest, /^sha256:[0-9a-f]{64}$/);
    img.close();
  });
}

const plainSpec: ImageSpec = { layers: [spec.layers[0]] };
const plainWant = { bin: 'dir 755', 'bin/app.wasm': 'file 755 wasm', etc: 'dir 755', 'etc/gone': 'file 644 bye', 'etc/keep': 'file 644 keep', lib: 'link -> usr/lib' };

test('forms: a plain rootfs tar is one layer with no digest and an empty config', () => {
  const img = open(buildImage(plainSpec, { format: 'plain' }));
  assert.is(img.format, 'plain');
  assert.equal(listing(img.tree), plainWant);
  assert.equal(img.config, { entrypoint: [], cmd: [], env: [], workingDir: '', platform: '' });
  assert.equal(img.layers, [{ index: 0, digest: '', compressed: false, files: 4, skipped: 0 }]);
  img.close();
});

test('forms: a gzip-compressed plain rootfs tar is inflated and read', () => {
  const img = open(buildImage(plainSpec, { format: 'plain', gzip: true }));
  assert.is(img.format, 'plain');
  assert.equal(listing(img.tree), plainWant);
  assert.is(img.layers[0].compressed, true);
  img.close();
});

test('forms: an empty tar (just the end marker) is an image with an empty root', () => {
  const img = open(writeTemp(new Uint8Array(10240)));
  assert.is(img.tree.count, 1);
  assert.is(img.tree.entryCount(0), 0);
  img.close();
});

test('detection: the format comes from the content, not the file name', () => {
  const dir = tempDir('names');
  const cases: [WriteImageOptions, string, string][] = [
    [{ format: 'docker' }, 'image.tar.gz', 'docker'],
    [{ format: 'oci', gzipArchive: true }, 'image.tar', 'oci'],
    [{ format: 'plain', gzip: true }, 'layout.json', 'plain'],
    [{ format: 'oci' }, 'noext', 'oci'],
  ];
  for (const [opts, name, format] of cases) {
    const p = path.join(dir, name);
    fs.writeFileSync(p, imageBytes(opts.format === 'plain' ? plainSpec : spec, opts));
    const img = open(p);
    assert.is(img.format, format, name);
    img.close();
  }
});

test('detection: a rootfs that merely contains manifest.json / oci-layout files is a plain tar', () => {
  const img = open(
    buildImage(
      {
        layers: [
          [
            { path: 'manifest.json', type: 'file', data: '{"name":"my-app","version":"1.0.0"}' },
            { path: 'oci-layout', type: 'file', data: 'not json' },
            { path: 'index.json', type: 'file', data: '[]' },
          ],
        ],
      },
      { format: 'plain' },
    ),
  );
  assert.is(img.format, 'plain');
  assert.is(img.tree.entryCount(0), 3);
  img.close();
});

test('digests: OCI layers report the blob digest; legacy docker layers the diff_id', () => {
  const oci = open(buildImage(spec, { format: 'oci', gzip: true }));
  const docker = open(buildImage(spec, { format: 'docker' }));
  const blobs = open(buildImage(spec, { format: 'docker', dockerBlobs: true, gzip: true }));
  // diff_id = sha256 of the uncompressed layer tar = what legacy docker stores as layer.tar
  for (let i = 0; i < 2; i++) {
    assert.is.not(oci.layers[i].digest, docker.layers[i].digest);
    assert.is(blobs.layers[i].digest, oci.layers[i].digest); // same gzip bytes, same blob digest
  }
  oci.close();
  docker.close();
  blobs.close();
});

test('config: missing Entrypoint/Cmd/Env/WorkingDir read as empty', () => {
  const img = open(buildImage({ layers: spec.layers }, { format: 'oci' }));
  assert.equal(img.config, { entrypoint: [], cmd: [], env: [], workingDir: '', platform: 'wasip1/wasm' });
  img.close();
});

// --- hand-edited archives (extract with GNU tar, edit, re-pack with GNU tar) -------------------------

function unpack(opts: WriteImageOptions): string {
  const dir = tempDir('unpacked');
  const p = buildImage(spec, opts);
  execFileSync('tar', ['-xf', p, '-C', dir]);
  return dir;
}
function repack(dir: string, name = 'edited.tar'): string {
  const out = path.join(tempDir('repacked'), name);
  const entries = fs.readdirSync(dir).sort();
  execFileSync('tar', ['--format=gnu', '-cf', out, '-C', dir, ...entries]);
  return out;
}
const readJson = (p: string) => JSON.parse(fs.readFileSync(p, 'utf8'));
const writeJson = (p: string, v: unknown) => fs.writeFileSync(p, JSON.stringify(v));

test('docker >= 25: an archive with manifest.json AND an OCI layout is read through manifest.json', () => {
  const dir = unpack({ format: 'oci' });
  const index = readJson(path.join(dir, 'index.json'));
  const manifest = readJson(path.join(dir, 'blobs/sha256', index.manifests[0].digest.split(':')[1]));
  writeJson(path.join(dir, 'manifest.json'), [
    { Config: `blobs/sha256/${manifest.config.digest.split(':')[1]}`, RepoTags: ['x:latest'], Layers: manifest.layers.map((l: { digest: string }) => `blobs/sha256/${l.digest.split(':')[1]}`) },
  ]);
  const img = open(repack(dir));
  assert.is(img.format, 'docker');
  assert.equal(listing(img.tree), want);
  assert.equal(img.config, config);
  img.close();
});

test('docker: a layer.tar that is a symlink to another layer (old docker save dedup) is followed', () => {
  const same: ImageSpec = { layers: [[{ path: 'a', type: 'file', data: 'same' }], [{ path: 'a', type: 'file', data: 'same' }]] };
  const dir = tempDir('dedup');
  execFileSync('tar', ['-xf', buildImage(same, { format: 'docker' }), '-C', dir]);
  const m = readJson(path.join(dir, 'manifest.json'));
  const [first, second] = m[0].Layers as string[];
  fs.rmSync(path.join(dir, second));
  fs.symlinkSync(`../${first}`, path.join(dir, second));
  const img = open(repack(dir));
  assert.equal(listing(img.tree), { a: 'file 644 same' });
  assert.is(img.layers.length, 2);
  assert.is(img.tree.layer(img.tree.walkPath('a')), 1);
  img.close();
});

test('docker: a member symlink that climbs out of the archive is refused', () => {
  const dir = unpack({ format: 'docker' });
  const m = readJson(path.join(dir, 'manifest.json'));
  const second = m[0].Layers[1] as string;
  fs.rmSync(path.join(dir, second));
  fs.symlinkSync('../../../etc/passwd', path.join(dir, second));
  assert.is(openError(repack(dir)), `edited.tar: manifest.json layer 1 names "${second}", a symlink out of the archive`);
});

test('oci: an index with several manifests yields the wasm one, skipping attestations', () => {
  const dir = unpack({ format: 'oci' });
  const index = readJson(path.join(dir, 'index.json'));
  const real = index.manifests[0];
  const fake = (n: string) => `sha256:${n.repeat(64)}`;
  index.manifests = [
    { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: fake('a'), size: 10, platform: { architecture: 'unknown', os: 'unknown' } },
    { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: fake('b'), size: 10, platform: { architecture: 'amd64', os: 'linux' } },
    real,
  ];
  writeJson(path.join(dir, 'index.json'), index);
  let img = open(repack(dir));
  assert.equal(listing(img.tree), want);
  img.close();
  // No wasm platform: the first manifest that is not an attestation.
  delete real.platform;
  index.manifests = [
    { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: fake('c'), size: 10, annotations: { 'vnd.docker.reference.type': 'attestation-manifest' } },
    real,
    { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: fake('d'), size: 10 },
  ];
  writeJson(path.join(dir, 'index.json'), index);
  img = open(repack(dir));
  assert.equal(listing(img.tree), want);
  img.close();
});

const ociErrors: { name: string; edit: (dir: string) => void; want: RegExp }[] = [
  {
    name: 'an index with no manifests',
    edit: (dir) => writeJson(path.join(dir, 'index.json'), { schemaVersion: 2, manifests: [] }),
    want: /^edited\.tar: index\.json lists no image manifest$/,
  },
  {
    name: 'a manifest blob that does not match its digest',
    edit: (dir) => {
      const index = readJson(path.join(dir, 'index.json'));
      const p = path.join(dir, 'blobs/sha256', index.manifests[0].digest.split(':')[1]);
      const b = fs.readFileSync(p);
      b[b.length - 2] = b[b.length - 2] === 0x5d ? 0x20 : b[b.length - 2]; // "]}" -> " }": same size, other bytes
      fs.writeFileSync(p, b);
    },
    want: /^edited\.tar: manifest sha256:[0-9a-f]{12}… "blobs\/sha256\/[0-9a-f]{64}" does not match its digest$/,
  },
  {
    name: 'a layer blob missing from the archive',
    edit: (dir) => {
      const index = readJson(path.join(dir, 'index.json'));
      const manifest = readJson(path.join(dir, 'blobs/sha256', index.manifests[0].digest.split(':')[1]));
      fs.rmSync(path.join(dir, 'blobs/sha256', manifest.layers[1].digest.split(':')[1]));
    },
    want: /^edited\.tar: manifest sha256:[0-9a-f]{12}… layer 1 names "blobs\/sha256\/[0-9a-f]{64}", which is not in the archive$/,
  },
  {
    name: 'a layer blob whose size differs from its descriptor',
    edit: (dir) => {
      const index = readJson(path.join(dir, 'index.json'));
      const manifest = readJson(path.join(dir, 'blobs/sha256', index.manifests[0].digest.split(':')[1]));
      fs.appendFileSync(path.join(dir, 'blobs/sha256', manifest.layers[0].digest.split(':')[1]), Buffer.alloc(512));
    },
    want: /^edited\.tar: layer 0 \(sha256:[0-9a-f]{12}…\) has \d+ bytes, but its descriptor says \d+$/,
  },
  {
    name: 'a malformed digest',
    edit: (dir) => {
      const index = readJson(path.join(dir, 'index.json'));
      index.manifests[0].digest = 'sha256:../../etc/passwd';
      writeJson(path.join(dir, 'index.json'), index);
    },
    want: /^edited\.tar: index\.json manifest 0 has an unsupported or malformed digest "sha256:\.\.\/\.\.\/etc\/passwd"$/,
  },
  {
    name: 'index.json that is not JSON',
    edit: (dir) => fs.writeFileSync(path.join(dir, 'index.json'), '{"manifests": ['),
    want: /^edited\.tar: index\.json "index\.json" is not valid JSON$/,
  },
];

for (const c of ociErrors) {
  test(`oci errors: ${c.name} is an ImageError`, () => {
    const dir = unpack({ format: 'oci' });
    c.edit(dir);
    assert.match(openError(repack(dir)), c.want);
  });
}

test('docker errors: a config with a non-list Entrypoint is an ImageError', () => {
  const dir = unpack({ format: 'docker' });
  const m = readJson(path.join(dir, 'manifest.json'));
  const cfg = readJson(path.join(dir, m[0].Config));
  cfg.config.Entrypoint = '/bin/sh -c';
  writeJson(path.join(dir, m[0].Config), cfg);
  resealDocker(dir);
  assert.is(openError(repack(dir)), "edited.tar: the image config's Entrypoint is not a list of strings");
});

test('docker errors: manifest.json naming a layer that is not in the archive', () => {
  const dir = unpack({ format: 'docker' });
  const m = readJson(path.join(dir, 'manifest.json'));
  m[0].Layers.push('nope/layer.tar');
  writeJson(path.join(dir, 'manifest.json'), m);
  assert.is(openError(repack(dir)), 'edited.tar: manifest.json layer 2 names "nope/layer.tar", which is not in the archive');
});

/** Offset of member `name`'s data in an archive file. */
function memberData(file: string, name: string): { offset: number; size: number } {
  const fd = fs.openSync(file, 'r');
  try {
    const m = indexTar(fd, 0, fs.fstatSync(fd).size, new Where('t', 't'));
    const i = m.path.indexOf(name);
    return { offset: m.offset[i], size: m.size[i] };
  } finally {
    fs.closeSync(fd);
  }
}

test('paths: ".." that stays inside the image is resolved as Docker resolves it (a/b/../c.txt is a/c.txt); a 255-byte name is fine', () => {
  const long = 'n'.repeat(255);
  const img = open(buildImage({ layers: [[{ path: 'a/b/../c.txt', type: 'file', data: 'inside' }, { path: `d/${long}`, type: 'file', data: 'long' }]] }, { format: 'oci' }));
  try {
    const l = listing(img.tree, { mode: false });
    assert.is(l['a/c.txt'], 'file inside');
    assert.is(l[`d/${long}`], 'file long');
    assert.not.ok(Object.keys(l).some((p) => p.includes('..')));
  } finally {
    img.close();
  }
});

test('digests: a gzip layer whose bytes do not match its OCI digest is refused (and not cached)', () => {
  const p = buildImage(spec, { format: 'oci', gzip: true });
  const probe = open(p);
  const digest = probe.layers[1].digest;
  probe.close();
  const { offset } = memberData(p, `blobs/sha256/${digest.slice(7)}`);
  const b = fs.readFileSync(p);
  b[offset + 4] ^= 1; // gzip header MTIME: still valid gzip, different bytes
  fs.writeFileSync(p, b);
  const cacheDir = tempDir('cache');
  assert.match(openError(p, { cacheDir }), /^oci\.tar: layer 1 \(sha256:[0-9a-f]{12}…\) does not match its digest \(its bytes hash to sha256:[0-9a-f]{12}…\)$/);
  assert.equal(fs.readdirSync(path.join(cacheDir, 'layers')).filter((f) => f.includes(digest.slice(7))), []);
});

test('digests: a docker config edited in place no longer matches the digest it is named by', () => {
  const p = buildImage(spec, { format: 'docker', gzip: true });
  const b = fs.readFileSync(p);
  const at = b.indexOf('"diff_ids":["sha256:') + '"diff_ids":["sha256:'.length;
  b[at] = b[at] === 0x30 ? 0x31 : 0x30;
  fs.writeFileSync(p, b);
  assert.match(openError(p), /^docker\.tar: manifest\.json Config "[0-9a-f]{64}\.json" does not match its digest$/);
});

/** An unpacked docker image whose first diff_id is changed (`zero`: all zeros), config re-sealed. */
function wrongDiffId(opts: WriteImageOptions, zero = false): string {
  const dir = unpack(opts);
  const m = readJson(path.join(dir, 'manifest.json'));
  const cfg = readJson(path.join(dir, m[0].Config));
  const id: string = cfg.rootfs.diff_ids[0];
  cfg.rootfs.diff_ids[0] = zero ? `sha256:${'0'.repeat(64)}` : `${id.slice(0, 7)}${id[7] === '0' ? '1' : '0'}${id.slice(8)}`;
  writeJson(path.join(dir, m[0].Config), cfg);
  resealDocker(dir, { diffIds: false });
  return repack(dir, 'docker.tar');
}

test('digests: a gzip layer that does not inflate to its diff_id is refused', () => {
  const cacheDir = tempDir('cache');
  assert.match(openError(wrongDiffId({ format: 'docker', gzip: true }), { cacheDir }), /^docker\.tar: layer 0 \(sha256:[0-9a-f]{12}…\) does not match its diff_id in the image config \(it inflates to sha256:[0-9a-f]{12}…\)$/);
  // layer 1 is sound and stays cached; of layer 0 nothing is kept (not even a temporary)
  assert.is(fs.readdirSync(path.join(cacheDir, 'layers')).filter((f) => f.endsWith('.tar')).length, 1);
  assert.equal(fs.readdirSync(path.join(cacheDir, 'layers')).filter((f) => f.startsWith('.tmp')), []);
});

// issue 17: a Docker-format image whose diff_id is all zeros ran; a same-size tampered OCI blob ran
test('digests: an uncompressed docker layer is checked against its diff_id (a zero diff_id is refused)', () => {
  assert.match(openError(wrongDiffId({ format: 'docker' }, true)), /^docker\.tar: layer 0 \(sha256:0{12}…\) does not match its diff_id in the image config \(it hashes to sha256:[0-9a-f]{12}…\)$/);
  assert.match(openError(wrongDiffId({ format: 'docker' })), /^docker\.tar: layer 0 \(sha256:[0-9a-f]{12}…\) does not match its diff_id/);
});

test('digests: a same-size tampered uncompressed OCI blob is refused', () => {
  const p = buildImage(spec, { format: 'oci' });
  const probe = open(p);
  const digest = probe.layers[1].digest;
  probe.close();
  const { offset, size } = memberData(p, `blobs/sha256/${digest.slice(7)}`);
  const b = fs.readFileSync(p);
  const at = b.indexOf('new', offset + 512); // the data of etc/new, past its header
  assert.ok(at > offset && at < offset + size, 'the layer holds the file data');
  b[at] ^= 0x20;
  fs.writeFileSync(p, b);
  assert.match(openError(p), /^oci\.tar: layer 1 \(sha256:[0-9a-f]{12}…\) does not match its digest \(its bytes hash to sha256:[0-9a-f]{12}…\)$/);
});

test('digests: a docker >= 25 blob layer is checked against the digest its path names', () => {
  const dir = unpack({ format: 'docker', dockerBlobs: true });
  const m = readJson(path.join(dir, 'manifest.json'));
  const layer = path.join(dir, m[0].Layers[1]);
  const b = fs.readFileSync(layer);
  const at = b.indexOf('new', 1024); // the data of etc/new, past the headers
  b[at] ^= 0x20;
  fs.writeFileSync(layer, b);
  assert.match(openError(repack(dir, 'docker.tar')), /^docker\.tar: layer 1 \(sha256:[0-9a-f]{12}…\) does not match its digest/);
});

test('zstd: a zstd layer or archive is refused with a clear message', () => {
  const p = buildImage(spec, { format: 'oci' });
  const probe = open(p);
  const digest = probe.layers[0].digest;
  probe.close();
  const { offset } = memberData(p, `blobs/sha256/${digest.slice(7)}`);
  const b = fs.readFileSync(p);
  b.set([0x28, 0xb5, 0x2f, 0xfd], offset);
  fs.writeFileSync(p, b);
  assert.match(openError(p), /^oci\.tar: layer 0 \(sha256:[0-9a-f]{12}…\) is zstd-compressed, which is not supported$/);
  const z = writeTemp(Uint8Array.of(0x28, 0xb5, 0x2f, 0xfd, 1, 2, 3), 'image.tar.zst');
  assert.is(openError(z), 'image.tar.zst: is zstd-compressed, which is not supported (decompress it first)');
});

test('digests: an uncompressed OCI layer is read in place, not hashed or copied', () => {
  const cacheDir = tempDir('cache');
  const img = open(buildImage(spec, { format: 'oci' }), { cacheDir });
  assert.equal(listing(img.tree), want);
  assert.is(fs.existsSync(path.join(cacheDir, 'layers')), false);
  img.close();
});

test.run();
