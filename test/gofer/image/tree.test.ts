// gofer/image/tree.ts: the LowerTree API the gofer serves from: node ids, sorted entry tables, byte
// lookups, walkPath, read() bounds (offsets, EOF, never past the member), readlink, close().
import crypto from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Entry } from '../../../host/image/image-writer';
import { NodeKind } from '../../../gofer/image/tree';
import { entryName, open, plainTar, rawTar, writeTemp } from './util';

const enc = (s: string) => new TextEncoder().encode(s);
const big = crypto.randomBytes(200 * 1024 + 7);

function image(entries: Entry[]) {
  return open(plainTar(entries));
}

test('node ids are 0..count-1, node 0 is the root directory, and every node but the root has an entry', () => {
  const img = image([
    { path: 'a/b/c', type: 'file', data: '1' },
    { path: 'a/d', type: 'symlink', target: 'b' },
    { path: 'e', type: 'dir' },
  ]);
  const t = img.tree;
  assert.is(t.root, 0);
  assert.is(t.kind(0), NodeKind.Dir);
  assert.is(t.count, 6);
  const seen = new Set<number>();
  for (let n = 0; n < t.count; n++) {
    if (t.kind(n) !== NodeKind.Dir) continue;
    for (let e = t.entryFirst(n); e < t.entryFirst(n) + t.entryCount(n); e++) seen.add(t.entryNode(e));
  }
  assert.equal([...seen].sort(), [1, 2, 3, 4, 5]);
  img.close();
});

test('directory entries are sorted by name bytes (memcmp order, a prefix first)', () => {
  const names = ['b', 'a', 'B', 'ab', 'é', 'a.b', '~', 'a-', 'Z', '0'];
  const img = image(names.map((n) => ({ path: `d/${n}`, type: 'file' as const, data: n })));
  const t = img.tree;
  const d = t.walkPath('d');
  const got: string[] = [];
  for (let e = t.entryFirst(d); e < t.entryFirst(d) + t.entryCount(d); e++) got.push(entryName(t, e));
  const bytesOrder = [...names].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
  assert.equal(got, bytesOrder);
  assert.equal(got, ['0', 'B', 'Z', 'a', 'a-', 'a.b', 'ab', 'b', '~', 'é']);
  img.close();
});

test('lookup finds every name by binary search and -1 for absent names', () => {
  const names = Array.from({ length: 300 }, (_, i) => `n${(i * 7919) % 1000}`);
  const img = image(names.map((n) => ({ path: n, type: 'file' as const, data: n })));
  const t = img.tree;
  for (const n of names) {
    const node = t.lookup(t.root, enc(n));
    assert.ok(node > 0, n);
    assert.is(t.size(node), n.length);
  }
  for (const n of ['', 'n', 'n1000', 'n99999', 'zzz', 'a']) assert.is(t.lookup(t.root, enc(n)), -1, n);
  img.close();
});

test('lookup takes a [start, end) slice of a larger buffer', () => {
  const img = image([{ path: 'usr/bin/env', type: 'file', data: 'x' }]);
  const t = img.tree;
  const buf = enc('/usr/bin/env');
  const usr = t.lookup(t.root, buf, 1, 4);
  const bin = t.lookup(usr, buf, 5, 8);
  assert.is(t.lookup(bin, buf, 9, 12), t.walkPath('usr/bin/env'));
  assert.is(t.lookup(t.root, buf, 1, 3), -1); // "us"
  img.close();
});

test('lookup in a non-directory is -1', () => {
  const img = image([{ path: 'f', type: 'file', data: 'x' }]);
  assert.is(img.tree.lookup(img.tree.walkPath('f'), enc('x')), -1);
  img.close();
});

test('walkPath resolves from the root, ignores empty components and never follows symlinks', () => {
  const img = image([
    { path: 'a/b/c', type: 'file', data: '1' },
    { path: 'l', type: 'symlink', target: 'a' },
  ]);
  const t = img.tree;
  assert.is(t.walkPath(''), 0);
  assert.is(t.walkPath('/'), 0);
  assert.is(t.walkPath('a/b/c'), t.walkPath('/a//b/c/'));
  assert.is(t.walkPath('l/b/c'), -1);
  assert.is(t.walkPath('a/b/c/d'), -1);
  assert.is(t.walkPath('a/x'), -1);
  img.close();
});

test('readlink returns the target bytes; other kinds give an empty array', () => {
  const img = image([
    { path: 'l', type: 'symlink', target: '../ziel/ö' },
    { path: 'f', type: 'file', data: 'x' },
  ]);
  const t = img.tree;
  assert.equal(Buffer.from(t.readlink(t.walkPath('l'))), Buffer.from('../ziel/ö'));
  assert.is(t.size(t.walkPath('l')), Buffer.byteLength('../ziel/ö'));
  assert.is(t.readlink(t.walkPath('f')).length, 0);
  assert.is(t.readlink(t.root).length, 0);
  img.close();
});

test('attributes come from the headers: mode, uid, gid, mtime', () => {
  const img = open(writeTemp(rawTar([{ path: 'f', type: 'file', data: 'x', mode: 0o6750, uid: 1000, gid: 2000, mtime: 1234567890 }])));
  const t = img.tree;
  const f = t.walkPath('f');
  assert.is(t.mode(f), 0o6750);
  assert.is(t.uid(f), 1000);
  assert.is(t.gid(f), 2000);
  assert.is(t.mtimeNs(f), 1234567890n * 1000000000n);
  img.close();
});

const reads: { name: string; offset: number; length: number; want: number }[] = [
  { name: 'the whole file', offset: 0, length: big.length, want: big.length },
  { name: 'from the middle', offset: 70000, length: 5000, want: 5000 },
  { name: 'across the 64 KiB boundary', offset: 65530, length: 20, want: 20 },
  { name: 'past EOF is short', offset: big.length - 10, length: 100, want: 10 },
  { name: 'at EOF is 0', offset: big.length, length: 100, want: 0 },
  { name: 'beyond EOF is 0', offset: big.length + 5000, length: 100, want: 0 },
  { name: 'of length 0 is 0', offset: 10, length: 0, want: 0 },
  { name: 'at a negative offset is 0', offset: -1, length: 10, want: 0 },
];

for (const r of reads) {
  test(`read ${r.name} returns exactly the member bytes (${r.want})`, () => {
    const img = image([
      { path: 'before', type: 'file', data: 'B'.repeat(1000) },
      { path: 'big', type: 'file', data: big },
      { path: 'after', type: 'file', data: 'A'.repeat(1000) },
    ]);
    const t = img.tree;
    const into = new Uint8Array(Math.max(r.length, 1) + 16).fill(0xee);
    const got = t.read(t.walkPath('big'), r.offset, r.length, into, 16);
    assert.is(got, r.want);
    if (got > 0) assert.ok(Buffer.from(into.subarray(16, 16 + got)).equals(big.subarray(r.offset, r.offset + got)));
    assert.ok(into.subarray(0, 16).every((c) => c === 0xee)); // nothing before `at`
    assert.ok(into.subarray(16 + got).every((c) => c === 0xee)); // nothing after the count
    img.close();
  });
}

test('read never reads past the member, however much is asked for', () => {
  const img = image([
    { path: 'a', type: 'file', data: 'abc' },
    { path: 'b', type: 'file', data: 'NEXT' },
  ]);
  const into = new Uint8Array(4096);
  assert.is(img.tree.read(img.tree.walkPath('a'), 0, 4096, into, 0), 3);
  assert.is(Buffer.from(into.subarray(0, 4)).toString('latin1'), 'abc\0');
  img.close();
});

test('read is clamped to the room left in the buffer', () => {
  const img = image([{ path: 'a', type: 'file', data: 'abcdef' }]);
  const into = new Uint8Array(4);
  assert.is(img.tree.read(img.tree.walkPath('a'), 0, 6, into, 1), 3);
  assert.is(Buffer.from(into).toString('latin1'), '\0abc');
  img.close();
});

test('read of an empty file, a directory or a symlink is 0', () => {
  const img = image([
    { path: 'empty', type: 'file', data: '' },
    { path: 'l', type: 'symlink', target: 'empty' },
  ]);
  const t = img.tree;
  const into = new Uint8Array(8);
  for (const n of [t.walkPath('empty'), t.walkPath('l'), t.root]) assert.is(t.read(n, 0, 8, into, 0), 0);
  img.close();
});

test('random reads of a large file match the data', () => {
  const img = image([{ path: 'big', type: 'file', data: big }]);
  const t = img.tree;
  const n = t.walkPath('big');
  for (let i = 0; i < 200; i++) {
    const off = crypto.randomInt(0, big.length);
    const len = crypto.randomInt(1, 70000);
    const into = new Uint8Array(len);
    const got = t.read(n, off, len, into, 0);
    assert.is(got, Math.min(len, big.length - off));
    assert.ok(Buffer.from(into.subarray(0, got)).equals(big.subarray(off, off + got)));
  }
  img.close();
});

test('after close() a read throws instead of touching a reused descriptor; close is idempotent', () => {
  const img = image([{ path: 'a', type: 'file', data: 'x' }]);
  const n = img.tree.walkPath('a');
  img.close();
  img.close();
  assert.throws(() => img.tree.read(n, 0, 1, new Uint8Array(1), 0), /closed/);
});

test.run();
