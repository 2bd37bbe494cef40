// gofer/image/tar.ts: header decoding (ustar prefix, PAX x/g, GNU L/K, base-256), checksums, types,
// path normalisation, and exact one-line errors for truncation, garbage and hostile paths. Archives
// here are plain rootfs tars written member by member, so every header variant can be produced.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { TarWriter, type TarMember } from '../../../host/image/image-writer';
import { NodeKind } from '../../../gofer/image/tree';
import { listing, open, openError, rawTar, readAll, writeTemp } from './util';

const file = (path: string | Uint8Array, data = 'x', more: Partial<TarMember> = {}): TarMember => ({ path, type: 'file', data, ...more });
const NS = 1000000000n;

/** Rewrites header fields of the header at `at` and fixes its checksum. */
function patch(b: Uint8Array, at: number, fn: (h: Uint8Array) => void): Uint8Array {
  const c = b.slice();
  const h = c.subarray(at, at + 512);
  fn(h);
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const x of h) sum += x;
  h.set(Buffer.from(`${sum.toString(8).padStart(6, '0')}\0 `), 148);
  return c;
}

function openBytes(b: Uint8Array) {
  return open(writeTemp(b, 'rootfs.tar'));
}
function errorOf(b: Uint8Array): string {
  return openError(writeTemp(b, 'rootfs.tar'));
}

const long = (n: number, c = 'n') => c.repeat(n);
const path150 = `${long(60, 'p')}/${long(89, 'q')}`; // fits ustar only with the prefix field
const name200 = long(200); // a single 200-byte component: needs PAX or GNU L

// --- names ---------------------------------------------------------------------------------------

const nameCases: { name: string; members: TarMember[]; opts?: { longNames?: 'pax' | 'gnu' }; want: Record<string, string> }[] = [
  {
    name: 'ustar prefix + name make one path',
    members: [file(path150, 'p')],
    want: { [long(60, 'p')]: 'dir 755', [path150]: 'file 644 p' },
  },
  {
    name: 'a PAX path longer than 100 bytes replaces the header name',
    members: [file(`d/${name200}`, 'pax')],
    want: { d: 'dir 755', [`d/${name200}`]: 'file 644 pax' },
  },
  {
    name: 'a GNU L long name replaces the header name',
    members: [file(`d/${name200}`, 'gnu')],
    opts: { longNames: 'gnu' },
    want: { d: 'dir 755', [`d/${name200}`]: 'file 644 gnu' },
  },
  {
    name: 'a PAX linkpath longer than 100 bytes is the symlink target',
    members: [{ path: 'l', type: 'symlink', linkname: `/${name200}/t` }],
    want: { l: `link -> /${name200}/t` },
  },
  {
    name: 'a GNU K long link is the symlink target',
    members: [{ path: 'l', type: 'symlink', linkname: `/${name200}/t` }],
    opts: { longNames: 'gnu' },
    want: { l: `link -> /${name200}/t` },
  },
  {
    name: 'a long hard-link target (PAX linkpath) resolves',
    members: [file(`d/${name200}`, 'hl'), { path: 'h', type: 'hardlink', linkname: `d/${name200}` }],
    want: { d: 'dir 755', [`d/${name200}`]: 'file 644 hl', h: 'file 644 hl' },
  },
  {
    name: 'a long hard-link target (GNU K) resolves',
    members: [file(`d/${name200}`, 'hl'), { path: 'h', type: 'hardlink', linkname: `d/${name200}` }],
    opts: { longNames: 'gnu' },
    want: { d: 'dir 755', [`d/${name200}`]: 'file 644 hl', h: 'file 644 hl' },
  },
  {
    name: 'non-ASCII names (PAX, UTF-8) are kept byte for byte',
    members: [file('grüße/日本語.txt', 'u'), { path: 'ln', type: 'symlink', linkname: 'ziel/ö' }],
    want: { 'grüße': 'dir 755', 'grüße/日本語.txt': 'file 644 u', ln: 'link -> ziel/ö' },
  },
  {
    name: 'non-ASCII names in GNU format (raw bytes in the header) are kept byte for byte',
    members: [file('grüße/日本語.txt', 'u')],
    opts: { longNames: 'gnu' },
    want: { 'grüße': 'dir 755', 'grüße/日本語.txt': 'file 644 u' },
  },
  {
    name: 'leading "/" and "./", "//", "/./" and trailing "/" are normalised away',
    members: [file('/abs/x', '1'), file('./rel/y', '2'), file('a//b/./c', '3'), { path: 'dir//', type: 'dir' }],
    want: { a: 'dir 755', 'a/b': 'dir 755', 'a/b/c': 'file 644 3', abs: 'dir 755', 'abs/x': 'file 644 1', dir: 'dir 755', rel: 'dir 755', 'rel/y': 'file 644 2' },
  },
];

for (const c of nameCases) {
  test(`names: ${c.name}`, () => {
    const img = openBytes(rawTar(c.members, c.opts));
    assert.equal(listing(img.tree), c.want);
    img.close();
  });
}

test('names: raw non-UTF-8 name bytes survive and are looked up by bytes', () => {
  const raw = Uint8Array.of(0x61, 0xff, 0xfe, 0x62);
  const img = openBytes(rawTar([file(raw, 'bin')]));
  const t = img.tree;
  const n = t.lookup(t.root, raw);
  assert.is.not(n, -1);
  assert.is(readAll(t, n), 'bin');
  assert.equal(Array.from(t.names.subarray(t.entryNameOffset(0), t.entryNameOffset(0) + 4)), Array.from(raw));
  img.close();
});

// --- numbers and times ---------------------------------------------------------------------------

test('numbers: PAX mtime keeps nanoseconds, including negative times', () => {
  const img = openBytes(
    rawTar([
      file('frac', 'x', { pax: { mtime: '1680153482.123456789' } }),
      file('neg', 'x', { pax: { mtime: '-1.5' } }),
      file('long', 'x', { pax: { mtime: '12.1234567891234' } }),
      file('plain', 'x', { mtime: 1000 }),
    ]),
  );
  const t = img.tree;
  assert.is(t.mtimeNs(t.walkPath('frac')), 1680153482n * NS + 123456789n);
  assert.is(t.mtimeNs(t.walkPath('neg')), -1500000000n);
  assert.is(t.mtimeNs(t.walkPath('long')), 12n * NS + 123456789n);
  assert.is(t.mtimeNs(t.walkPath('plain')), 1000n * NS);
  img.close();
});

test('numbers: PAX uid, gid and size override the header fields', () => {
  const img = openBytes(rawTar([file('f', 'hello', { sizeField: 0, pax: { size: '5', uid: '4000000000', gid: '77' } }), file('next', 'ok')]));
  const t = img.tree;
  const n = t.walkPath('f');
  assert.is(t.size(n), 5);
  assert.is(readAll(t, n), 'hello');
  assert.is(t.uid(n), 4000000000);
  assert.is(t.gid(n), 77);
  assert.is(readAll(t, t.walkPath('next')), 'ok');
  img.close();
});

test('numbers: a PAX size wins even when the header size field holds garbage', () => {
  const b = patch(rawTar([file('f', 'hello', { pax: { size: '5' } }), file('next', 'ok')]), 1024, (h) => h.set(Buffer.from('garbage!!!!\0'), 124));
  const img = openBytes(b);
  assert.is(readAll(img.tree, img.tree.walkPath('f')), 'hello');
  assert.is(readAll(img.tree, img.tree.walkPath('next')), 'ok');
  img.close();
});

test('numbers: a PAX global header applies to every later member until overridden', () => {
  const w = new TarWriter();
  w.add(file('before', 'b', { uid: 1 }));
  w.global({ uid: '500', mtime: '42.5' });
  w.add(file('after', 'a', { uid: 2 }));
  w.add(file('own', 'o', { pax: { uid: '9' } }));
  const img = openBytes(w.finish());
  const t = img.tree;
  assert.is(t.uid(t.walkPath('before')), 1);
  assert.is(t.uid(t.walkPath('after')), 500);
  assert.is(t.mtimeNs(t.walkPath('after')), 42n * NS + 500000000n);
  assert.is(t.uid(t.walkPath('own')), 9);
  img.close();
});

test('numbers: base-256 fields (mode, uid, gid, size, mtime) decode, negative mtimes too', () => {
  const img = openBytes(
    rawTar(
      [
        file('f', 'base256 data', { uid: 3000000000, gid: 2097152, mtime: 1680153482, mode: 0o4755 }),
        file('old', 'x', { mtime: -86400 }),
        file('next', 'ok'),
      ],
      { numeric: 'base256' },
    ),
  );
  const t = img.tree;
  const n = t.walkPath('f');
  assert.is(t.uid(n), 3000000000);
  assert.is(t.gid(n), 2097152);
  assert.is(t.mode(n), 0o4755);
  assert.is(readAll(t, n), 'base256 data');
  assert.is(t.mtimeNs(n), 1680153482n * NS);
  assert.is(t.mtimeNs(t.walkPath('old')), -86400n * NS);
  assert.is(readAll(t, t.walkPath('next')), 'ok');
  img.close();
});

test('numbers: a base-256 size beyond the archive is truncation, not garbage', () => {
  const b = patch(rawTar([file('big', 'x')]), 0, (h) => {
    h.fill(0, 124, 136);
    h[124] = 0x80;
    h[131] = 0x02; // 2^33 bytes = 8 GiB, more than octal's 11 digits hold
  });
  assert.is(errorOf(b), 'rootfs.tar: archive is truncated at byte 2048');
});

test('numbers: octal fields with leading spaces and space terminators decode', () => {
  const b = patch(rawTar([file('f', 'abc')]), 0, (h) => {
    h.set(Buffer.from('   644 \0'), 100);
    h.set(Buffer.from('         3 '), 124);
  });
  const img = openBytes(b);
  assert.is(img.tree.mode(img.tree.walkPath('f')), 0o644);
  assert.is(readAll(img.tree, img.tree.walkPath('f')), 'abc');
  img.close();
});

test('numbers: garbage in a numeric field is an ImageError naming the field', () => {
  const b = patch(rawTar([file('a'), file('f')]), 1024, (h) => h.set(Buffer.from('12x4\0'), 108));
  assert.is(errorOf(b), 'rootfs.tar: archive has a bad uid field in the header at byte 1024');
});

// --- types ---------------------------------------------------------------------------------------

test('types: devices, FIFOs and unknown types are skipped (no entry, no implied parent) and counted, their data skipped too', () => {
  const b = rawTar([
    { path: 'dev/null', type: 'char' },
    { path: 'dev/sda', type: 'block' },
    { path: 'fifo', type: 'fifo' },
    file('vendor', 'unknown type with data', { typeflag: 'Z' }),
    file('after', 'still read'),
  ]);
  const img = openBytes(b);
  assert.equal(listing(img.tree), { after: 'file 644 still read' });
  assert.is(img.layers[0].skipped, 4);
  assert.is(img.layers[0].files, 1);
  img.close();
});

test("types: '7' (contiguous) is a regular file; a v7 NUL typeflag with a trailing '/' is a directory", () => {
  const b = rawTar([file('c', 'contig', { typeflag: '7' }), file('v7dir/', '', { typeflag: '\0' }), file('v7file', 'v7', { typeflag: '\0' })]);
  const img = openBytes(b);
  assert.equal(listing(img.tree), { c: 'file 644 contig', v7dir: 'dir 644', v7file: 'file 644 v7' });
  img.close();
});

test('types: directories, links and devices carry no data whatever their size field says', () => {
  const b = rawTar([
    { path: 'd', type: 'dir', sizeField: 4096 },
    { path: 's', type: 'symlink', linkname: 't', sizeField: 100 },
    file('f', 'data'),
    { path: 'h', type: 'hardlink', linkname: 'f', sizeField: 4 },
    { path: 'c', type: 'char', sizeField: 999 },
    file('g', 'last'),
  ]);
  const img = openBytes(b);
  assert.equal(listing(img.tree), { d: 'dir 755', f: 'file 644 data', g: 'file 644 last', h: 'file 644 data', s: 'link -> t' });
  img.close();
});

test('types: sparse files are refused rather than served wrongly', () => {
  assert.is(errorOf(rawTar([file('s', 'x', { typeflag: 'S' })])), 'rootfs.tar: archive has a GNU sparse file "s", which is not supported');
  assert.is(errorOf(rawTar([file('s', 'x', { pax: { 'GNU.sparse.major': '1' } })])), 'rootfs.tar: archive has a PAX sparse file at byte 0, which is not supported');
});

test('types: kinds, sizes and link targets are recorded', () => {
  const img = openBytes(rawTar([file('f', '12345'), { path: 'l', type: 'symlink', linkname: 'f' }, { path: 'd', type: 'dir' }]));
  const t = img.tree;
  assert.is(t.kind(t.walkPath('f')), NodeKind.File);
  assert.is(t.size(t.walkPath('f')), 5);
  assert.is(t.kind(t.walkPath('l')), NodeKind.Symlink);
  assert.is(t.size(t.walkPath('l')), 1);
  assert.is(t.kind(t.walkPath('d')), NodeKind.Dir);
  assert.is(t.size(t.walkPath('d')), 0);
  img.close();
});

// --- framing -------------------------------------------------------------------------------------

test('framing: a missing end marker on a complete archive is fine', () => {
  const b = rawTar([file('a', 'x'.repeat(700))]);
  const img = openBytes(b.subarray(0, b.length - 1024));
  assert.equal(listing(img.tree), { a: `file 644 ${'x'.repeat(700)}` });
  img.close();
});

test('framing: missing padding after the last data block is fine', () => {
  const b = rawTar([file('a', 'x'.repeat(700))]);
  const img = openBytes(b.subarray(0, 512 + 700));
  assert.is(readAll(img.tree, img.tree.walkPath('a')), 'x'.repeat(700));
  img.close();
});

test('framing: the first zero block ends the archive (what follows is ignored)', () => {
  const b = rawTar([file('a')]);
  const junk = new Uint8Array(b.length + 512 + 512).fill(0x41);
  junk.set(b.subarray(0, 1024 + 512), 0); // a, its data, one zero block, then junk
  const img = openBytes(junk);
  assert.equal(listing(img.tree), { a: 'file 644 x' });
  img.close();
});

test('framing: zero padding shorter than a block after the end is fine', () => {
  const b = rawTar([file('a')]);
  const padded = new Uint8Array(b.length + 100);
  padded.set(b);
  const img = openBytes(padded.subarray(0, 1024 + 100)); // header, data, then 100 zero bytes
  assert.equal(listing(img.tree), { a: 'file 644 x' });
  img.close();
});

const bad: { name: string; bytes: () => Uint8Array; want: string }[] = [
  {
    name: 'data cut short is truncation at the cut',
    bytes: () => rawTar([file('a', 'y'.repeat(2000))]).subarray(0, 1024),
    want: 'rootfs.tar: archive is truncated at byte 1024',
  },
  {
    name: 'a header cut short is truncation at the cut',
    bytes: () => rawTar([file('a', 'y'.repeat(10)), file('b')]).subarray(0, 1024 + 200),
    want: 'rootfs.tar: archive is truncated at byte 1224',
  },
  {
    name: 'a PAX header whose member is cut off is truncation',
    bytes: () => rawTar([file(name200, 'z')]).subarray(0, 1024),
    want: 'rootfs.tar: archive is truncated at byte 1024, after the extended header at byte 0',
  },
  {
    name: 'a flipped byte in a header fails its checksum',
    bytes: () => {
      const b = rawTar([file('a'), file('b')]);
      b[1024 + 3] ^= 0x10;
      return b;
    },
    want: 'rootfs.tar: archive has a bad header checksum at byte 1024',
  },
  {
    name: 'garbage after the last member is a bad header',
    bytes: () => {
      const b = rawTar([file('a')]);
      b.fill(0x5a, 1024, 1536);
      return b;
    },
    want: 'rootfs.tar: archive has a bad header checksum at byte 1024',
  },
  {
    name: 'a ".." component is hostile',
    bytes: () => rawTar([file('a/../../etc/passwd')]),
    want: 'rootfs.tar: archive has a hostile path "a/../../etc/passwd" at byte 0',
  },
  {
    name: 'a bare ".." is hostile',
    bytes: () => rawTar([file('ok'), { path: '..', type: 'dir' }]),
    want: 'rootfs.tar: archive has a hostile path "../" at byte 1024',
  },
  {
    name: 'a NUL inside a PAX path is hostile',
    bytes: () => rawTar([file('x', 'x', { pax: { path: 'a\0b' } })]),
    want: 'rootfs.tar: archive has a hostile path "a\\u0000b" at byte 1024',
  },
  {
    name: 'a ".." in a hard-link target is hostile',
    bytes: () => rawTar([file('a'), { path: 'h', type: 'hardlink', linkname: '../a' }]),
    want: 'rootfs.tar: archive has a hostile hard-link target "../a" at byte 1024',
  },
  {
    name: 'a malformed PAX record is an ImageError',
    bytes: () => rawTar([file('x', 'x', { pax: { path: 'p' } })]).map((c, i) => (i === 512 ? 0x38 : c)), // record length 9 -> 8
    want: 'rootfs.tar: archive has a malformed PAX header at byte 0',
  },
  {
    name: 'an oversized extended header is refused',
    bytes: () => rawTar([file('x', 'x', { pax: { comment: 'c'.repeat(1100000) } })]),
    want: 'rootfs.tar: archive has an extended header of 1100017 bytes at byte 0 (limit 1048576)',
  },
];

for (const c of bad) {
  test(`errors: ${c.name}`, () => {
    assert.is(errorOf(c.bytes()), c.want);
  });
}

test('checksums: old tars that summed signed bytes are accepted', () => {
  const b = patch(rawTar([file(Uint8Array.of(0x61, 0xe9), 'é')]), 0, () => {});
  // Re-sum the header with bytes as signed chars, as old Sun/BSD tars did.
  const h = b.subarray(0, 512);
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const x of h) sum += x < 128 ? x : x - 256;
  h.set(Buffer.from(`${sum.toString(8).padStart(6, '0')}\0 `), 148);
  const img = openBytes(b);
  assert.is(img.tree.lookup(0, Uint8Array.of(0x61, 0xe9)) > 0, true);
  img.close();
});

test.run();
