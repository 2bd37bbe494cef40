// The gofer's request handlers for the image's lower tree, driven directly with hand-encoded
// messages: correct answers for honest requests, and a clean errno with no side effect for every
// malformed one (bad lengths, trailing bytes, bad names, bad nodes and handles, huge offsets).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { openImage } from '../../gofer/image/index';
import { LowerServer } from '../../gofer/server';
import { Chan, GetdentsResp, Kind, Msg, Stat, WalkResp } from '../../gofer/protocol/messages';
import { E } from '../../kernel/wasi/errno';
import { buildImage, tempDir } from '../lib/images';

const big = new Uint8Array(300_000).map((_, i) => (i * 31) & 255);
const img = buildImage(
  {
    layers: [
      [
        { path: 'etc/passwd', type: 'file', data: 'root:x:0:0\n', mode: 0o644 },
        { path: 'etc/hosts', type: 'file', data: '127.0.0.1 localhost\n' },
        { path: 'usr/lib/big', type: 'file', data: big },
        { path: 'usr/lib/link', type: 'symlink', target: '../../etc/passwd' },
        { path: 'usr/lib/hard', type: 'hardlink', target: 'usr/lib/big' },
      ],
    ],
  },
  { format: 'oci' },
);
const image = openImage(img, { cacheDir: tempDir('cache') });
const server = new LowerServer(image.tree);
const w = new Uint8Array(Chan.Window);
const dv = new DataView(w.buffer);

function req(id: number, words: number[], extra?: Uint8Array): number {
  let off = 0;
  for (const x of words) {
    dv.setUint32(off, x >>> 0, true);
    off += 4;
  }
  if (extra) {
    w.set(extra, off);
    off += extra.length;
  }
  return server.handle(id, off, w);
}

function walkReq(dir: number, names: (string | Uint8Array)[], trailing = 0): number {
  const parts: number[] = [];
  let off = 8;
  dv.setUint32(0, dir, true);
  dv.setUint32(4, names.length, true);
  for (const n of names) {
    const b = typeof n === 'string' ? new TextEncoder().encode(n) : n;
    dv.setUint32(off, b.length, true);
    w.set(b, off + 4);
    off += 4 + ((b.length + 3) & ~3);
    parts.push(b.length);
  }
  return server.handle(Msg.Walk, off + trailing, w);
}

test('mount answers the root directory and the node limit', () => {
  const r = req(Msg.Mount, [0]);
  assert.is(r, 72);
  assert.is(dv.getUint32(0, true), image.tree.root);
  assert.is(dv.getUint32(4, true), image.tree.count);
  assert.is(dv.getUint8(8 + Stat.Kind), Kind.Dir);
  assert.is(req(Msg.Mount, [1]), -E.NOENT);
  assert.is(req(Msg.Mount, [0, 0]), -E.INVAL);
});

test('walk returns a stat per step, and stops at a missing name or after a symlink', () => {
  let r = walkReq(0, ['usr', 'lib', 'big']);
  assert.is(dv.getUint32(WalkResp.Found, true), 3);
  assert.is(r, 8 + 3 * 72);
  const last = WalkResp.Steps + 2 * 72;
  assert.is(dv.getUint8(last + 8 + Stat.Kind), Kind.File);
  assert.is(Number(dv.getBigUint64(last + 8 + Stat.Size, true)), big.length);
  assert.is(dv.getUint32(last + 8 + Stat.Nlink, true), 2);
  r = walkReq(0, ['usr', 'nope', 'x']);
  assert.is(dv.getUint32(WalkResp.Found, true), 1);
  r = walkReq(0, ['usr', 'lib', 'link', 'more']);
  assert.is(dv.getUint32(WalkResp.Found, true), 3);
  assert.is(dv.getUint8(WalkResp.Steps + 2 * 72 + 8 + Stat.Kind), Kind.Symlink);
  assert.is(walkReq(0, ['nope']), -E.NOENT);
});

test('walk rejects names that are not single components, and trailing bytes', () => {
  for (const bad of ['.', '..', 'a/b', '', 'x'.repeat(256), new Uint8Array([0x61, 0, 0x62])]) {
    assert.is(walkReq(0, ['usr', bad as string]), -E.INVAL, `name ${JSON.stringify(bad)}`);
  }
  assert.is(walkReq(0, ['usr'], 4), -E.INVAL);
  assert.is(req(Msg.Walk, [0, 0]), -E.INVAL);
  assert.is(req(Msg.Walk, [0, 5, 3]), -E.INVAL); // count says 5, bytes end early
  assert.is(req(Msg.Walk, [0, 1, 0xffffffff]), -E.INVAL); // a name length past the message
});

test('walk from a bad node is EBADF, from a file ENOTDIR', () => {
  assert.is(walkReq(image.tree.count, ['x']), -E.BADF);
  assert.is(walkReq(0xffffffff, ['x']), -E.BADF);
  const file = image.tree.walkPath('etc/passwd');
  assert.is(walkReq(file, ['x']), -E.NOTDIR);
});

test('getdents lists every entry with its stat, in a stable sorted order, and resumes', () => {
  const lib = image.tree.walkPath('usr/lib');
  const names: string[] = [];
  let start = 0;
  for (;;) {
    const r = req(Msg.Getdents, [lib, start, 1]);
    assert.ok(r > 0);
    const count = dv.getUint32(GetdentsResp.Count, true);
    const next = dv.getUint32(GetdentsResp.Next, true);
    assert.is(count, 1);
    const len = dv.getUint32(GetdentsResp.Entries + GetdentsResp.EntNameLen, true);
    names.push(new TextDecoder().decode(w.subarray(GetdentsResp.Entries + GetdentsResp.EntName, GetdentsResp.Entries + GetdentsResp.EntName + len)));
    if (next === GetdentsResp.End) break;
    start = next;
  }
  assert.equal(names, ['big', 'hard', 'link']);
  assert.is(req(Msg.Getdents, [lib, 99, 10]), -E.INVAL);
  assert.is(req(Msg.Getdents, [image.tree.walkPath('etc/hosts'), 0, 10]), -E.NOTDIR);
  assert.is(req(Msg.Getdents, [lib, 0, 10, 0]), -E.INVAL);
});

test('open, pread and close: data at any offset, short at EOF, EBADF after close', () => {
  const node = image.tree.walkPath('usr/lib/big');
  assert.is(req(Msg.OpenAt, [node, 1]), 4);
  const h = dv.getUint32(0, true);
  for (const [off, len] of [[0, 10], [4095, 4098], [299_990, 100], [300_000, 10], [500_000, 10]]) {
    const r = req(Msg.PRead, [h, len, off, 0]);
    const want = Math.max(0, Math.min(len, big.length - off));
    assert.is(r, want, `pread at ${off}`);
    for (let i = 0; i < r; i++) if (w[i] !== big[off + i]) assert.unreachable(`byte ${off + i}`);
  }
  assert.is(req(Msg.PRead, [h, Chan.Window + 1, 0, 0]), -E.INVAL);
  assert.is(req(Msg.PRead, [h, 10, 0xffffffff, 0xffffffff]), -E.INVAL); // offset near 2^64
  assert.is(req(Msg.PRead, [h, 10, 0]), -E.INVAL); // truncated
  assert.is(req(Msg.Close, [2, h, h + 1000]), -E.BADF); // one bad handle: nothing is closed
  assert.is(req(Msg.PRead, [h, 1, 0, 0]), 1);
  assert.is(req(Msg.Close, [1, h]), 0);
  assert.is(req(Msg.PRead, [h, 1, 0, 0]), -E.BADF);
  assert.is(req(Msg.Close, [1, h]), -E.BADF);
});

test('open refuses writing (EROFS), directories (EISDIR), symlinks (ELOOP) and unknown flags', () => {
  const file = image.tree.walkPath('etc/passwd');
  assert.is(req(Msg.OpenAt, [file, 2]), -E.ROFS);
  assert.is(req(Msg.OpenAt, [file, 4]), -E.ROFS);
  assert.is(req(Msg.OpenAt, [file, 64]), -E.INVAL);
  assert.is(req(Msg.OpenAt, [0, 1]), -E.ISDIR);
  assert.is(req(Msg.OpenAt, [image.tree.walkPath('usr/lib/link'), 1]), -E.LOOP);
});

test('readlink returns the target bytes; on a non-link it is EINVAL', () => {
  const r = req(Msg.ReadLinkAt, [image.tree.walkPath('usr/lib/link')]);
  assert.is(new TextDecoder().decode(w.subarray(0, r)), '../../etc/passwd');
  assert.is(req(Msg.ReadLinkAt, [0]), -E.INVAL);
});

test('every mutation of the read-only tree is EROFS; unknown ids ENOSYS', () => {
  for (const id of [Msg.SetStat, Msg.OpenCreateAt, Msg.PWrite, Msg.MkdirAt, Msg.SymlinkAt, Msg.LinkAt, Msg.UnlinkAt, Msg.RenameAt, Msg.SetFlags, Msg.Allocate]) {
    assert.is(req(id, [0, 0, 0]), -E.ROFS, `msg ${id}`);
  }
  for (const id of [0, -1, Msg.Limit, 1000, 2.5]) assert.is(server.handle(id, 0, w), -E.NOSYS);
});

test('after all that, an honest request is still served', () => {
  const r = walkReq(0, ['etc', 'passwd']);
  assert.is(r, 8 + 2 * 72);
});

test.run();
