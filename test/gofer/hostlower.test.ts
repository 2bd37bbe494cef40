// gofer/hostlower.ts: a host directory served as the overlay's read-only lower, straight through
// the server with crafted requests (a compromised kernel's view). It must read like an image tree
// (dense node numbers, whole listings, hard links as one node), refuse every mutation with EROFS and
// change nothing on the host, never follow a host symlink, refuse objects swapped after they were
// listed (a directory for a symlink, a file for a FIFO) without hanging, hide the sandbox's own
// filestore names at the root, and serve names that are not UTF-8 exactly.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { HOST_LOWER_LIMIT, HostLowerServer } from '../../gofer/hostlower';
import { GoferServer } from '../../gofer/server';
import { Chan, GetdentsResp, Kind, Msg, Ref, Stat, WalkResp } from '../../gofer/protocol/messages';
import { E } from '../../kernel/wasi/errno';
import { wire } from '../lib/gofer';
import { tempDir } from '../lib/images';

const base = tempDir('hostlower');
const root = path.join(base, 'rootfs');
const outside = path.join(base, 'outside');
fs.mkdirSync(path.join(root, 'etc'), { recursive: true });
fs.mkdirSync(path.join(root, 'dir/sub'), { recursive: true });
fs.mkdirSync(outside);
const CANARY = 'CANARY outside the rootfs\n';
fs.writeFileSync(path.join(outside, 'canary'), CANARY);
fs.writeFileSync(path.join(root, 'etc/hostname'), 'rootfs\n');
fs.writeFileSync(path.join(root, 'dir/file'), 'x'.repeat(10000));
fs.linkSync(path.join(root, 'dir/file'), path.join(root, 'dir/sub/hardlink'));
fs.symlinkSync(outside, path.join(root, 'abs-out'));
fs.symlinkSync('../outside/canary', path.join(root, 'rel-out'));
fs.writeFileSync(path.join(root, '.wasmbox.filestore.0123abcd'), 'filestore pages');
fs.writeFileSync(path.join(root, '.wasmbox.filestore.0123abcd.lock'), '1 2\n');
fs.writeFileSync(path.join(root, 'dir/.wasmbox.filestore.deep'), 'not at the root: shown');
execFileSync('mkfifo', [path.join(root, 'fifo')]);
fs.writeFileSync(Buffer.concat([Buffer.from(path.join(root, 'latin1-')), Buffer.from([0xe9, 0xff])]), 'raw name\n');

/** A listing of the host tree (paths, modes, sizes, mtimes, contents): nothing may change it. */
function snapshot(dir: string): string {
  return execFileSync('find', [dir, '-printf', '%P %y %m %s %T@ %l\\n'], { encoding: 'utf8' }).split('\n').sort().join('\n') +
    execFileSync('sh', ['-c', `cd ${dir} && find . -type f ! -name fifo -exec md5sum {} + | sort`], { encoding: 'utf8' });
}
const before = snapshot(base);

const lower = new HostLowerServer({ path: root, hideAtRoot: ['.wasmbox.filestore.'] });
const server = new GoferServer(lower, null);
const { w, dv, send } = wire(server);
const enc = new TextEncoder();

function nameWords(names: (string | Uint8Array)[]): number[] {
  const out: number[] = [];
  for (const n of names) {
    const b = typeof n === 'string' ? enc.encode(n) : n;
    out.push(b.length);
    const p = new Uint8Array((b.length + 3) & ~3);
    p.set(b);
    for (let i = 0; i < p.length; i += 4) out.push(p[i] | (p[i + 1] << 8) | (p[i + 2] << 16) | (p[i + 3] << 24));
  }
  return out;
}

function walk(dir: number, names: (string | Uint8Array)[]): { r: number; nodes: number[]; kinds: number[] } {
  const r = send(Msg.Walk, [dir, names.length, ...nameWords(names)]);
  const nodes: number[] = [];
  const kinds: number[] = [];
  if (r > 0) {
    for (let i = 0; i < dv.getUint32(0, true); i++) {
      const at = WalkResp.Steps + i * WalkResp.StepBytes;
      nodes.push(dv.getUint32(at + WalkResp.StepNode, true));
      kinds.push(dv.getUint32(at + WalkResp.StepStat + Stat.Kind, true));
    }
  }
  return { r, nodes, kinds };
}

function list(dir: number): Map<string, number> {
  const out = new Map<string, number>();
  let start = 0;
  for (;;) {
    const r = send(Msg.Getdents, [dir, start, 0xffffffff]);
    assert.ok(r > 0, `getdents: ${r}`);
    const count = dv.getUint32(GetdentsResp.Count, true);
    let at = GetdentsResp.Entries;
    for (let i = 0; i < count; i++) {
      const node = dv.getUint32(at + GetdentsResp.EntNode, true);
      const len = dv.getUint32(at + GetdentsResp.EntNameLen, true);
      out.set(Buffer.from(w.subarray(at + GetdentsResp.EntName, at + GetdentsResp.EntName + len)).toString('latin1'), node);
      at += (GetdentsResp.EntName + len + 7) & ~7;
    }
    const next = dv.getUint32(GetdentsResp.Next, true);
    if (next === GetdentsResp.End) return out;
    start = next;
  }
}

function readAll(node: number): string | number {
  const r = send(Msg.OpenAt, [node, 1]);
  if (r < 0) return r;
  const h = dv.getUint32(0, true);
  let s = '';
  for (let off = 0; ; ) {
    const n = send(Msg.PRead, [h, 4096, off, 0]);
    if (n <= 0) break;
    s += Buffer.from(w.subarray(0, n)).toString('latin1');
    off += n;
  }
  assert.is(send(Msg.Close, [1, h]), 0);
  return s;
}

test('mount: node 0 is the root, with the big node limit and no host bit', () => {
  assert.is(send(Msg.Mount, [0]), 72);
  assert.is(dv.getUint32(0, true), 0);
  assert.is(dv.getUint32(4, true), HOST_LOWER_LIMIT);
  assert.is(dv.getUint32(8 + Stat.Kind, true), Kind.Dir);
  assert.is(HOST_LOWER_LIMIT & Ref.Host, 0);
  assert.ok(send(Msg.Mount, [1]) < 0, 'only mount 0 is the lower');
});

test('the root listing holds served kinds only, hides the filestore names, keeps other dot files', () => {
  const names = [...list(0).keys()].sort();
  assert.equal(names, ['abs-out', 'dir', 'etc', 'latin1-\xe9\xff', 'rel-out']);
  assert.ok(list(walk(0, ['dir']).nodes[0]).has('.wasmbox.filestore.deep'));
  assert.is(walk(0, ['.wasmbox.filestore.0123abcd']).r, -E.NOENT);
  assert.is(walk(0, ['fifo']).r, -E.NOENT);
});

test('node numbers are stable: a walk and two listings agree, and hard links are one node', () => {
  const a = list(0).get('dir')!;
  assert.is(list(0).get('dir'), a);
  assert.is(walk(0, ['dir']).nodes[0], a);
  const file = list(a).get('file')!;
  const sub = list(a).get('sub')!;
  assert.is(list(sub).get('hardlink'), file);
  assert.is(walk(0, ['dir', 'sub', 'hardlink']).nodes[2], file);
});

test('file data reads back; symlinks give their targets and are never followed', () => {
  const dir = walk(0, ['dir', 'file']);
  assert.is(readAll(dir.nodes[1]), 'x'.repeat(10000));
  const link = walk(0, ['abs-out']);
  assert.is(link.kinds[0], Kind.Symlink);
  assert.is(send(Msg.ReadLinkAt, [link.nodes[0]]), outside.length);
  assert.is(new TextDecoder().decode(w.subarray(0, outside.length)), outside);
  assert.is(readAll(link.nodes[0]), -E.LOOP);
  // a walk stops at the symlink: nothing below it is reached
  const through = walk(0, ['abs-out', 'canary']);
  assert.is(through.nodes.length, 1);
  assert.is(readAll(walk(0, ['rel-out']).nodes[0]), -E.LOOP);
});

test('a name that is not UTF-8 is listed and read exactly', () => {
  const raw = new Uint8Array([...enc.encode('latin1-'), 0xe9, 0xff]);
  const r = walk(0, [raw]);
  assert.is(r.nodes.length, 1);
  assert.is(readAll(r.nodes[0]), 'raw name\n');
});

test('every mutation is EROFS, and opening for write too', () => {
  const file = walk(0, ['etc', 'hostname']).nodes[1];
  const cases: [string, number, number[]][] = [
    ['SetStat', Msg.SetStat, [file, 1, 0o777, 0, 0, 0, 0, 0, 0, 0]],
    ['OpenCreateAt', Msg.OpenCreateAt, [0, 3, 0o644, 1, 0x78]],
    ['MkdirAt', Msg.MkdirAt, [0, 0o755, 1, 0x78]],
    ['SymlinkAt', Msg.SymlinkAt, [0, 1, 1, 0x7878]],
    ['LinkAt', Msg.LinkAt, [0, file, 1, 0x78]],
    ['UnlinkAt', Msg.UnlinkAt, [0, 0, 3, 0, 0x637465]],
    ['RenameAt', Msg.RenameAt, [0, 0, 3, 3, 0, 0, 0x637465, 0x78]],
    ['PWrite', Msg.PWrite, [0, 1, 0, 0, 0x78]],
    ['Allocate', Msg.Allocate, [0, 0, 0, 0, 4096, 0]],
  ];
  for (const [name, id, words] of cases) assert.is(send(id, words), -E.ROFS, name);
  assert.is(send(Msg.OpenAt, [file, 2]), -E.ROFS);
  assert.is(send(Msg.OpenAt, [file, 1 | 4]), -E.ROFS);
  assert.is(snapshot(base), before);
});

test('bad references and malformed requests are errors, and the server goes on', () => {
  assert.is(send(Msg.FStat, [123456]), -E.BADF);
  assert.is(send(Msg.Getdents, [99999, 0, 1]), -E.BADF);
  assert.is(send(Msg.PRead, [777, 10, 0, 0]), -E.BADF);
  assert.is(send(Msg.Close, [1, 777]), -E.BADF);
  assert.is(send(Msg.Walk, [0, 1, 2, 0x2e2e]), -E.INVAL); // ".."
  assert.is(send(Msg.Walk, [0, 1, 3, 0x632f61]), -E.INVAL); // "a/c"
  assert.is(send(Msg.FStat, [0, 0]), -E.INVAL); // trailing bytes
  assert.is(send(Msg.Getdents, [walk(0, ['etc', 'hostname']).nodes[1], 0, 1]), -E.NOTDIR);
  assert.is(readAll(walk(0, ['etc', 'hostname']).nodes[1]), 'rootfs\n');
});

test('a directory swapped for a symlink after it was listed is refused, and the canary stays unread', () => {
  fs.mkdirSync(path.join(root, 'swap'));
  fs.writeFileSync(path.join(root, 'swap/inner'), 'inner\n');
  const swap = walk(0, ['swap']).nodes[0];
  // the directory is moved away and a link to the outside planted under its name, before the
  // gofer ever opened it
  const fresh = new HostLowerServer({ path: root });
  const fw = new Uint8Array(Chan.Window);
  const fdv = new DataView(fw.buffer);
  const call = (id: number, words: number[]) => {
    words.forEach((x, i) => fdv.setUint32(4 * i, x >>> 0, true));
    return fresh.handle(id, 4 * words.length, fw);
  };
  assert.ok(call(Msg.Getdents, [0, 0, 0xffffffff]) > 0);
  const names = new Map<string, number>();
  let at = GetdentsResp.Entries;
  for (let i = 0; i < fdv.getUint32(GetdentsResp.Count, true); i++) {
    const len = fdv.getUint32(at + GetdentsResp.EntNameLen, true);
    names.set(Buffer.from(fw.subarray(at + GetdentsResp.EntName, at + GetdentsResp.EntName + len)).toString(), fdv.getUint32(at, true));
    at += (GetdentsResp.EntName + len + 7) & ~7;
  }
  fs.renameSync(path.join(root, 'swap'), path.join(base, 'swapped-away'));
  fs.symlinkSync(outside, path.join(root, 'swap'));
  // O_DIRECTORY|O_NOFOLLOW on the planted link fails (ENOTDIR); had it opened, st_ino would differ (EIO)
  const r = call(Msg.Getdents, [names.get('swap')!, 0, 0xffffffff]);
  assert.ok(r === -E.NOTDIR || r === -E.IO, `got ${r}`);
  fresh.closeAll();
  fs.unlinkSync(path.join(root, 'swap'));
  fs.renameSync(path.join(base, 'swapped-away'), path.join(root, 'swap'));
  assert.ok(swap >= 0);
  assert.is(fs.readFileSync(path.join(outside, 'canary'), 'utf8'), CANARY);
});

test('a file swapped for a FIFO after it was listed: the open fails at once, it does not hang', () => {
  fs.writeFileSync(path.join(root, 'etc/victim'), 'data\n');
  const node = walk(0, ['etc', 'victim']).nodes[1];
  fs.unlinkSync(path.join(root, 'etc/victim'));
  execFileSync('mkfifo', [path.join(root, 'etc/victim')]);
  const t0 = Date.now();
  assert.is(send(Msg.OpenAt, [node, 1]), -E.IO);
  assert.ok(Date.now() - t0 < 2000);
  fs.unlinkSync(path.join(root, 'etc/victim'));
});

test('statfs answers with the host file system holding the rootfs', () => {
  assert.is(send(Msg.StatFS, [0]), 48); // StatFSResp.Bytes
  assert.ok(dv.getBigUint64(0, true) > 0n);
  assert.is(dv.getUint32(32, true), 4096);
});

test.after(() => {
  lower.closeAll();
  fs.rmSync(base, { recursive: true, force: true });
});

test.run();
