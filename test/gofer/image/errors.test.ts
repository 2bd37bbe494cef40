// openImage's contract for bad input: every problem is an ImageError with one line that names the
// file, the layer (index and digest) and the problem; nothing else is ever thrown (fuzzed below).
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { gzip, imageBytes, tarLayer, type ImageSpec, type WriteImageOptions } from '../../../host/image/image-writer';
import { openImage } from '../../../gofer/image/index';
import { buildImage, tempDir } from '../../lib/images';
import { open, openError, resealDocker, writeTemp } from './util';

const spec: ImageSpec = {
  layers: [
    [
      { path: 'etc/passwd', type: 'file', data: 'root:x:0:0::/root:/bin/sh\n' },
      { path: 'bin/sh', type: 'file', data: 'S'.repeat(3000) },
    ],
    [
      { path: 'usr/bin/tool', type: 'file', data: 'T'.repeat(5000) },
      { path: 'usr/bin/link', type: 'hardlink', target: 'usr/bin/tool' },
      { path: 'etc/passwd', type: 'whiteout' },
    ],
  ],
  entrypoint: ['/bin/sh'],
};

/** A docker save archive whose layer 1 tar (layer.tar) has been replaced by `edit(original)`. */
function withLayer1(edit: (tar: Buffer) => Uint8Array): string {
  const dir = tempDir('unpacked');
  execFileSync('tar', ['-xf', buildImage(spec, { format: 'docker' }), '-C', dir]);
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
  const layer = path.join(dir, manifest[0].Layers[1]);
  fs.writeFileSync(layer, edit(fs.readFileSync(layer)));
  resealDocker(dir); // past the digest checks, to the layer's own fault
  const out = path.join(tempDir('edited'), 'image.tar');
  execFileSync('tar', ['-cf', out, '-C', dir, ...fs.readdirSync(dir).sort()]);
  return out;
}
const L1 = 'image\\.tar: layer 1 \\(sha256:[0-9a-f]{12}…\\)';

/** A docker save archive whose manifest.json is `text`. */
function withManifest(text: string): string {
  const dir = tempDir('unpacked');
  execFileSync('tar', ['-xf', buildImage(spec, { format: 'docker' }), '-C', dir]);
  fs.writeFileSync(path.join(dir, 'manifest.json'), text);
  const out = path.join(tempDir('edited'), 'image.tar');
  execFileSync('tar', ['-cf', out, '-C', dir, ...fs.readdirSync(dir).sort()]);
  return out;
}

const cases: { name: string; file: () => string; want: RegExp }[] = [
  {
    name: 'a missing file',
    file: () => path.join(tempDir('none'), 'nope.tar'),
    want: /^nope\.tar: cannot open \(no such file\)$/,
  },
  {
    name: 'a directory',
    file: () => {
      const d = path.join(tempDir('d'), 'imagedir');
      fs.mkdirSync(d);
      return d;
    },
    want: /^imagedir: is a directory, not an image file$/,
  },
  {
    // issue 17: opening a FIFO blocked for ever, and neither SIGTERM nor Ctrl-C stopped it
    name: 'a FIFO (no writer: an open without O_NONBLOCK would block for ever)',
    file: () => {
      const f = path.join(tempDir('fifo'), 'fifo.tar');
      execFileSync('mkfifo', [f]);
      return f;
    },
    want: /^fifo\.tar: is a FIFO, not a regular file$/,
  },
  {
    name: 'a character device',
    file: () => '/dev/null',
    want: /^null: is a character device, not a regular file$/,
  },
  // issue 17: these fell back to a plain rootfs (and ended in 127, no command found)
  {
    name: 'a docker save archive whose manifest.json is not JSON',
    file: () => withManifest('{not json'),
    want: /^image\.tar: manifest\.json .*is not valid JSON$/,
  },
  {
    name: 'a docker save archive whose manifest.json is []',
    file: () => withManifest('[]'),
    want: /^image\.tar: manifest\.json lists no image$/,
  },
  {
    name: 'a docker save archive whose manifest.json is an object',
    file: () => withManifest('{"Config": "x.json"}'),
    want: /^image\.tar: manifest\.json is not a list of images$/,
  },
  {
    name: 'an empty file',
    file: () => writeTemp(new Uint8Array(0), 'empty.tar'),
    want: /^empty\.tar: is an empty file, not an image$/,
  },
  {
    name: 'random bytes',
    file: () => writeTemp(crypto.randomBytes(100000), 'junk.bin'),
    want: /^junk\.bin: is not an image \(neither a tar archive nor gzip\)$/,
  },
  {
    name: 'a short text file',
    file: () => writeTemp(Buffer.from('hello, world\n'), 'notes.txt'),
    want: /^notes\.txt: is not an image \(neither a tar archive nor gzip\)$/,
  },
  {
    name: 'gzip of something that is not a tar',
    file: () => writeTemp(gzip(crypto.randomBytes(5000)), 'junk.tar.gz'),
    want: /^junk\.tar\.gz: archive is not a tar archive \(no valid tar header at byte 0\)$/,
  },
  {
    name: 'a gzip stream cut short',
    file: () => {
      const gz = imageBytes(spec, { format: 'docker', gzipArchive: true });
      return writeTemp(gz.subarray(0, gz.length - 100), 'cut.tar.gz');
    },
    want: /^cut\.tar\.gz: archive has corrupt gzip data \(unexpected end of file\)$/,
  },
  {
    name: 'an archive cut in the middle of a layer member',
    file: () => {
      const b = imageBytes(spec, { format: 'docker' });
      return writeTemp(b.subarray(0, 4096 + 1000), 'image.tar');
    },
    want: /^image\.tar: archive is truncated at byte 5096$/,
  },
  {
    name: 'a layer cut in the middle of file data',
    file: () => withLayer1((t) => t.subarray(0, 512 + 3000)),
    want: new RegExp(`^${L1} is truncated at byte 3512$`),
  },
  {
    name: 'a layer cut in the middle of a header',
    file: () => withLayer1((t) => t.subarray(0, 512 + 5120 + 100)),
    want: new RegExp(`^${L1} is truncated at byte 5732$`),
  },
  {
    name: 'a layer with a bad header checksum',
    file: () =>
      withLayer1((t) => {
        t[5632 + 1] ^= 0x20; // second header's name
        return t;
      }),
    want: new RegExp(`^${L1} has a bad header checksum at byte 5632$`),
  },
  {
    name: 'a layer that is not a tar at all',
    file: () => withLayer1(() => crypto.randomBytes(2048)),
    want: new RegExp(`^${L1} is not a tar archive \\(no valid tar header at byte 0\\)$`),
  },
  {
    name: 'a layer with a ".." path',
    file: () => withLayer1(() => tarLayer([{ path: 'usr/../../../etc/shadow', type: 'file', data: 'x' }])),
    want: new RegExp(`^${L1} has a hostile path "usr/\\.\\./\\.\\./\\.\\./etc/shadow" at byte 0$`),
  },
  {
    name: 'a layer with a ".." path that climbs just above the root',
    file: () => withLayer1(() => tarLayer([{ path: 'a/../../x', type: 'file', data: 'x' }])),
    want: new RegExp(`^${L1} has a hostile path "a/\\.\\./\\.\\./x" at byte 0$`),
  },
  {
    // issue 17: a 5,000-byte name ended as "exec ...: input/output error" (126), a 256-byte one as EIO on opendir
    name: 'a layer with a name of 256 bytes',
    file: () => withLayer1(() => tarLayer([{ path: `usr/${'n'.repeat(256)}/f`, type: 'file', data: 'x' }])),
    want: new RegExp(`^${L1} has a name of 256 bytes \\(ENAMETOOLONG: at most 255\\) in "usr/n{56}…n{38}/f" at byte \\d+$`),
  },
  {
    name: 'a layer with a hard link to a missing target',
    file: () => withLayer1(() => tarLayer([{ path: 'usr/bin/link', type: 'hardlink', target: 'usr/bin/nothing' }])),
    want: new RegExp(`^${L1} has a hard link "usr/bin/link" to missing "usr/bin/nothing"$`),
  },
  {
    name: 'a gzip layer with corrupt data',
    file: () => {
      const gz = Buffer.from(gzip(tarLayer(spec.layers[1])));
      for (let i = 30; i < 50; i++) gz[i] ^= 0xa5;
      return withLayer1(() => gz);
    },
    want: new RegExp(`^${L1} has corrupt gzip data \\([^)]+\\)$`),
  },
];

for (const c of cases) {
  test(`bad input: ${c.name} is one ImageError line`, () => {
    const msg = openError(c.file());
    assert.match(msg, c.want);
    assert.not.match(msg, /\n/);
  });
}

/** Open descriptors of files under the temp area (the image and cache files). */
function tempFds(): number {
  return fs.readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return fs.readlinkSync(`/proc/self/fd/${fd}`).startsWith(os.tmpdir());
    } catch {
      return false;
    }
  }).length;
}

test('bad input: a failed open leaves no file descriptor behind', () => {
  const count = tempFds;
  const bad = withLayer1((t) => t.subarray(0, 600));
  const before = count();
  for (let i = 0; i < 20; i++) openError(bad);
  assert.is(count(), before);
});

test('a good open and close leave no file descriptor behind', () => {
  const count = tempFds;
  const p = buildImage(spec, { format: 'oci', gzip: true });
  const cacheDir = tempDir('cache');
  open(p, { cacheDir }).close(); // warm the cache (the inflate workers own their descriptors)
  const before = count();
  for (let i = 0; i < 20; i++) open(p, { cacheDir }).close();
  assert.is(count(), before);
});

/** Deterministic PRNG (mulberry32), so a failure is reproducible from its seed. */
function rng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const fuzzForms: { opts: WriteImageOptions; rounds: number }[] = [
  { opts: { format: 'plain' }, rounds: 300 },
  { opts: { format: 'docker' }, rounds: 300 },
  { opts: { format: 'oci' }, rounds: 300 },
  { opts: { format: 'oci', gzip: true }, rounds: 25 },
  { opts: { format: 'docker', gzipArchive: true }, rounds: 25 },
];

for (const f of fuzzForms) {
  test(`fuzz: damaged ${JSON.stringify(f.opts)} images open or throw ImageError, nothing else`, () => {
    const s = f.opts.format === 'plain' ? { layers: [spec.layers[0].concat(spec.layers[1])] } : spec;
    const good = imageBytes(s, f.opts);
    const cacheDir = tempDir('fuzz-cache');
    const file = path.join(tempDir('fuzz'), 'f.tar');
    for (let seed = 1; seed <= f.rounds; seed++) {
      const r = rng(seed);
      let b = Buffer.from(good);
      const mode = Math.floor(r() * 3);
      if (mode === 0) for (let k = 0, n = 1 + Math.floor(r() * 8); k < n; k++) b[Math.floor(r() * b.length)] = Math.floor(r() * 256);
      else if (mode === 1) b = b.subarray(0, Math.floor(r() * b.length));
      else {
        const at = Math.floor((r() * b.length) / 512) * 512;
        b.fill(Math.floor(r() * 256), at, Math.min(at + 512, b.length));
      }
      fs.writeFileSync(file, b);
      try {
        const img = openImage(file, { cacheDir });
        // Whatever opened must be readable within its bounds.
        const t = img.tree;
        const into = new Uint8Array(4096);
        for (let n = 0; n < t.count; n++) t.read(n, 0, 4096, into, 0);
        img.close();
      } catch (e) {
        if ((e as Error).name !== 'ImageError') throw new Error(`seed ${seed}: ${(e as Error).stack}`);
        assert.not.match((e as Error).message, /\n/);
      }
    }
  });
}

test.run();
