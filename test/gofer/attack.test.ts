// A compromised kernel attacking the gofer: hand-crafted and random messages straight to the
// server for a host tree (a bind mount), with a canary file outside the served root. Every attack
// must fail with an errno, leave no side effect, never touch the canary, and leave the gofer
// serving the next honest request; for both host-tree servers, the checked path-based one and the
// direct one (held descriptors, openat2). Includes the swap race: while requests run, another thread
// keeps moving a walked directory out of the root and planting a symlink to a host directory
// outside it in its place. Also the glue's direct reads and writes (hostIO), whose arguments come
// from a kernel plan, and OpenAt of a file whose name a host process gave to something else.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { HostServer, type HostMount, type HostTree } from '../../gofer/hosttree';
import { HostDirect } from '../../gofer/hostdirect';
import { HOST_RW_ASK, loadNative } from '../../native/index';
import { GoferServer } from '../../gofer/server';
import { Chan, Msg, OpenFlags, Ref, Stat, WalkResp } from '../../gofer/protocol/messages';
import { E } from '../../kernel/wasi/errno';
import { wire } from '../lib/gofer';
import { tempDir } from '../lib/images';

const base = tempDir('attack');
const served = path.join(base, 'served');
const outside = path.join(base, 'outside');
fs.mkdirSync(path.join(served, 'dir/sub'), { recursive: true });
fs.mkdirSync(outside);
fs.writeFileSync(path.join(served, 'dir/file'), 'inside\n');
const CANARY = 'CANARY-outside-the-root\n';
fs.writeFileSync(path.join(outside, 'canary'), CANARY);
fs.symlinkSync(outside, path.join(served, 'to-outside'));
fs.symlinkSync('/etc', path.join(served, 'to-etc'));

const native = loadNative();
const directWhy = HostDirect.unavailable(native.addon, native.reason);
if (directWhy) console.log(`SKIP the direct host calls: ${directWhy}`);
const impls: [string, (m: HostMount[]) => HostTree][] = [
  ['checked (path-based)', (m) => new HostServer(m)],
  ...(directWhy ? [] : [['direct (openat2)', (m: HostMount[]) => new HostDirect(m, native.addon!)] as [string, (m: HostMount[]) => HostTree]]),
];

for (const [label, make] of impls) {
  const t = (name: string, fn: () => void | Promise<void>) => test(`${label}: ${name}`, fn);
  const server = new GoferServer(null, make([{ path: served, readonly: false }]));
  const { w, dv, send } = wire(server);
  const enc = new TextEncoder();

  function mount(): number {
    assert.is(send(Msg.Mount, [1]), 72);
    return dv.getUint32(0, true);
  }

  function walk(dir: number, names: string[]): { r: number; nodes: number[] } {
    const parts: number[] = [dir, names.length];
    const bytes: number[] = [];
    for (const n of names) {
      const b = enc.encode(n);
      parts.push(b.length);
      // name bytes padded to 4 follow each length
      const padded = new Uint8Array((b.length + 3) & ~3);
      padded.set(b);
      for (let i = 0; i < padded.length; i += 4) parts.push(padded[i] | (padded[i + 1] << 8) | (padded[i + 2] << 16) | (padded[i + 3] << 24));
    }
    const r = send(Msg.Walk, parts, new Uint8Array(bytes));
    const nodes: number[] = [];
    if (r > 0) for (let i = 0; i < dv.getUint32(0, true); i++) nodes.push(dv.getUint32(WalkResp.Steps + i * WalkResp.StepBytes, true));
    return { r, nodes };
  }

  function readAll(node: number): string {
    assert.is(send(Msg.OpenAt, [node, 1]), 4);
    const h = dv.getUint32(0, true);
    const n = send(Msg.PRead, [h, 4096, 0, 0]);
    const s = n > 0 ? new TextDecoder().decode(w.subarray(0, n)) : '';
    send(Msg.Close, [1, h]);
    return s;
  }

  function canaryIntact(): void {
    assert.is(fs.readFileSync(path.join(outside, 'canary'), 'utf8'), CANARY);
    assert.equal(fs.readdirSync(outside), ['canary']);
  }

  t('names that are not single components are refused: "..", ".", "/" inside, NUL, empty', () => {
    const root = mount();
    for (const bad of ['..', '.', 'dir/file', '/etc', '', 'a\0b', 'x'.repeat(256)]) {
      assert.is(walk(root, [bad]).r, -E.INVAL, JSON.stringify(bad));
    }
    for (const id of [Msg.MkdirAt, Msg.UnlinkAt, Msg.OpenCreateAt]) {
      const name = enc.encode('..');
      const r = id === Msg.MkdirAt ? send(id, [root, 0o755, name.length], name) : id === Msg.UnlinkAt ? send(id, [root, 0, name.length, Ref.None], name) : send(id, [root, 3, 0o644, name.length], name);
      assert.is(r, -E.INVAL);
    }
    canaryIntact();
  });

  t('symlinks are never followed by the gofer: walking stops at them, opening them is ELOOP', () => {
    const root = mount();
    const r = walk(root, ['to-outside', 'canary']);
    assert.is(dv.getUint32(0, true), 1, 'the walk stops at the link');
    assert.is(dv.getUint8(WalkResp.Steps + 8 + Stat.Kind), 7);
    assert.is(send(Msg.OpenAt, [r.nodes[0], 1]), -E.LOOP);
    // even a walk *through* the link, one step at a time, cannot continue from a symlink node
    assert.is(walk(r.nodes[0], ['canary']).r, -E.NOTDIR);
    canaryIntact();
  });

  t('references out of range, closed, or of the wrong kind are EBADF and change nothing', () => {
    const root = mount();
    const f = walk(root, ['dir', 'file']).nodes[1];
    for (const ref of [0, 12345, Ref.Host | 0xffff, Ref.Host | 0x3fffffff, 0xffffffff, Ref.None]) {
      assert.is(send(Msg.FStat, [ref]), -E.BADF, `ref ${ref}`);
    }
    assert.is(send(Msg.OpenAt, [f, 1]), 4);
    const h = dv.getUint32(0, true);
    assert.is(send(Msg.Close, [1, h]), 0);
    assert.is(send(Msg.PRead, [h, 10, 0, 0]), -E.BADF);
    assert.is(send(Msg.Close, [1, h]), -E.BADF);
    assert.is(send(Msg.PRead, [f, 10, 0, 0]), -E.BADF, 'a node is not an open handle');
    assert.is(send(Msg.Close, [2, f, 0x7ffffff]), -E.BADF, 'one bad ref: nothing closed');
    assert.is(send(Msg.FStat, [f]), 64, 'f still open');
  });

  t('lengths past the window, truncated messages and trailing bytes are EINVAL', () => {
    const root = mount();
    assert.is(server.handle(Msg.Walk, Chan.Window + 1, w), -E.INVAL);
    assert.is(server.handle(Msg.FStat, -1, w), -E.INVAL);
    assert.is(send(Msg.FStat, [root, 0]), -E.INVAL);
    assert.is(send(Msg.Walk, [root, 1, 1000]), -E.INVAL);
    const f = walk(root, ['dir', 'file']).nodes[1];
    send(Msg.OpenAt, [f, 3]);
    const h = dv.getUint32(0, true);
    assert.is(send(Msg.PWrite, [h, 100, 0, 0], new Uint8Array(10)), -E.INVAL, 'data shorter than its length');
    assert.is(send(Msg.PWrite, [h, 1, 0, 0], new Uint8Array(10)), -E.INVAL, 'trailing bytes');
    assert.is(send(Msg.PRead, [h, Chan.Window + 1, 0, 0]), -E.INVAL);
    assert.is(fs.readFileSync(path.join(served, 'dir/file'), 'utf8'), 'inside\n');
  });

  t('offsets near 2^64 are refused, not wrapped', () => {
    const root = mount();
    const f = walk(root, ['dir', 'file']).nodes[1];
    send(Msg.OpenAt, [f, 3]);
    const h = dv.getUint32(0, true);
    for (const hi of [0xffffffff, 0x80000000, 0x200000]) {
      assert.is(send(Msg.PRead, [h, 8, 0xfffffff0, hi]), -E.INVAL);
      assert.is(send(Msg.PWrite, [h, 1, 0xfffffff0, hi], new Uint8Array(1)), -E.INVAL);
    }
    assert.is(fs.readFileSync(path.join(served, 'dir/file'), 'utf8'), 'inside\n');
  });

  t('a request that fails has no side effect (create over an existing dir, rename onto a non-empty dir)', () => {
    const root = mount();
    const name = enc.encode('dir');
    assert.is(send(Msg.OpenCreateAt, [root, 3 | 8, 0o644, name.length], name), -E.EXIST);
    assert.is(send(Msg.OpenCreateAt, [root, 3, 0o644, name.length], name), -E.ISDIR);
    assert.ok(fs.statSync(path.join(served, 'dir')).isDirectory());
    fs.mkdirSync(path.join(served, 'full/x'), { recursive: true });
    const names = enc.encode('dirfull');
    assert.is(send(Msg.RenameAt, [root, root, 3, 4, Ref.None, Ref.None], names), -E.NOTEMPTY);
    assert.ok(fs.existsSync(path.join(served, 'dir/file')));
    fs.rmSync(path.join(served, 'full'), { recursive: true });
  });

  t('a created file keeps its node while open even once a host process unlinks its name', () => {
    const root = mount();
    assert.ok(send(Msg.OpenCreateAt, [root, 3, 0o644, 3], enc.encode('tmp')) > 0);
    const node = dv.getUint32(0, true);
    const handle = dv.getUint32(4, true);
    assert.ok(send(Msg.PWrite, [handle, 5, 0, 0], enc.encode('hello')) > 0);
    fs.unlinkSync(path.join(served, 'tmp'));
    assert.is(send(Msg.FStat, [node]), Stat.Bytes);
    assert.is(dv.getBigUint64(Stat.Size, true), 5n);
    assert.is(dv.getUint32(Stat.Nlink, true), 0);
    send(Msg.Close, [1, handle]);
    assert.is(send(Msg.FStat, [node]), Stat.Bytes, 'the node opened while the handle was open keeps its descriptor');
    // a second file, closed before the host takes its name: the direct server's node had no
    // descriptor yet and opens by name, so it is stale (as a node that gave its descriptor back);
    // the checked one holds a descriptor per node
    assert.ok(send(Msg.OpenCreateAt, [root, 3, 0o644, 3], enc.encode('tm2')) > 0);
    const node2 = dv.getUint32(0, true);
    send(Msg.Close, [1, dv.getUint32(4, true)]);
    fs.unlinkSync(path.join(served, 'tm2'));
    assert.is(send(Msg.FStat, [node2]), label.startsWith('direct') ? -E.STALE : Stat.Bytes);
    send(Msg.Close, [2, node, node2]);
  });

  t('names of every length reach the host exactly (a short name after a long one in the same place)', () => {
    const root = mount();
    const long = 'L'.repeat(255);
    const rename = (a: string, b: string) => send(Msg.RenameAt, [root, root, a.length, b.length, Ref.None, Ref.None], enc.encode(a + b));
    const mkfile = (a: string) => {
      const r = send(Msg.OpenCreateAt, [root, 3, 0o644, a.length], enc.encode(a));
      if (r > 0) send(Msg.Close, [2, dv.getUint32(0, true), dv.getUint32(4, true)]); // the node and the handle
      return r;
    };
    assert.ok(mkfile(long) > 0);
    assert.is(rename(long, 'b'), 0);
    assert.is(rename('b', long.slice(0, 254)), 0);
    assert.is(rename(long.slice(0, 254), 'cc'), 0);
    const made = send(Msg.MkdirAt, [root, 0o755, 1], enc.encode('m'));
    // the whole answer, or (the direct server) one without the stat, and saying so
    assert.ok(made === 72 || (made === 8 && dv.getUint32(4, true) === 1), `MkdirAt answered ${made}`);
    send(Msg.Close, [1, dv.getUint32(0, true)]);
    assert.ok(fs.existsSync(path.join(served, 'cc')) && fs.statSync(path.join(served, 'm')).isDirectory());
    assert.not.ok(fs.readdirSync(served).some((n) => n.startsWith('L') || n === 'b'));
    assert.is(rename('cc', long + 'L'), -E.INVAL); // 256 bytes
    assert.is(rename('cc', ''), -E.INVAL);
    assert.is(send(Msg.UnlinkAt, [root, 0, 2, Ref.None], enc.encode('cc')), 0);
    assert.is(send(Msg.UnlinkAt, [root, 1, 1, Ref.None], enc.encode('m')), 0);
  });

  t('the swap race: a walked directory moved out and replaced by a symlink never leads outside', async () => {
    const root = mount();
    fs.mkdirSync(path.join(served, 'race'), { recursive: true }); // the other server's run made it too
    fs.writeFileSync(path.join(served, 'race/canary'), 'inside-race\n');
    const swapper = new Worker(
      `const fs = require('fs'); const { workerData: d } = require('worker_threads');
       const end = Date.now() + d.ms; let n = 0;
       while (Date.now() < end) {
         try { fs.renameSync(d.race, d.away); fs.symlinkSync(d.outside, d.race); } catch {}
         try { fs.unlinkSync(d.race); fs.renameSync(d.away, d.race); } catch {}
         n++;
       }
       require('worker_threads').parentPort.postMessage(n);`,
      { eval: true, workerData: { ms: 1500, race: path.join(served, 'race'), away: path.join(outside, 'moved'), outside } },
    );
    let reads = 0;
    let leaks = 0;
    const t0 = Date.now();
    while (Date.now() - t0 < 1400) {
      const step = walk(root, ['race']);
      if (step.r <= 0 || step.nodes.length !== 1) continue;
      const dir = step.nodes[0];
      // from the walked directory: whatever it is now, reading "canary" through it must never give the outside canary
      const c = walk(dir, ['canary']);
      if (c.r > 0 && c.nodes.length === 1) {
        const body = (() => {
          try {
            return readAll(c.nodes[0]);
          } catch {
            return '';
          }
        })();
        reads++;
        if (body === CANARY) leaks++;
        send(Msg.Close, [1, c.nodes[0]]);
      }
      send(Msg.Close, [1, dir]);
    }
    const swaps = await new Promise<number>((resolve) => swapper.on('message', resolve));
    await swapper.terminate();
    // put things back
    try {
      fs.unlinkSync(path.join(served, 'race'));
    } catch {}
    if (fs.existsSync(path.join(outside, 'moved'))) fs.renameSync(path.join(outside, 'moved'), path.join(served, 'race'));
    assert.is(leaks, 0, `${leaks} of ${reads} reads returned the outside canary (${swaps} swaps)`);
    assert.ok(swaps > 100, `the race ran (${swaps} swaps, ${reads} reads)`);
    assert.is(fs.readFileSync(path.join(outside, 'canary'), 'utf8'), CANARY);
  });

  t('a rename or link between a host tree and the image\'s tree is EXDEV, and moves nothing', () => {
    const root = mount();
    fs.writeFileSync(path.join(served, 'xdev'), 'x');
    const lowerRef = 5; // no Ref.Host bit: a reference into the image's tree
    const names = enc.encode('xdev' + 'moved');
    assert.is(send(Msg.RenameAt, [root, lowerRef, 4, 5, Ref.None, Ref.None], names), -E.XDEV);
    assert.is(send(Msg.RenameAt, [lowerRef, root, 4, 5, Ref.None, Ref.None], names), -E.XDEV);
    const f = walk(root, ['xdev']).nodes[0];
    assert.is(send(Msg.LinkAt, [lowerRef, f, 5], enc.encode('moved')), -E.XDEV);
    assert.ok(fs.existsSync(path.join(served, 'xdev')) && !fs.existsSync(path.join(served, 'moved')));
    // within the host tree the same rename is made
    assert.is(send(Msg.RenameAt, [root, root, 4, 5, Ref.None, Ref.None], names), 0);
    assert.ok(fs.existsSync(path.join(served, 'moved')));
    fs.rmSync(path.join(served, 'moved'));
    send(Msg.Close, [1, f]);
  });

  t('hostIO (the glue\'s reads and writes straight into guest memory) checks what a kernel plan passes it', () => {
    const root = mount();
    const f = walk(root, ['dir', 'file']).nodes[1];
    assert.is(send(Msg.OpenAt, [f, 1]), 4);
    const h = dv.getUint32(0, true);
    const buf = new Uint8Array(64);
    const before = server.counts();
    assert.is(server.hostIO(false, h & ~Ref.Host, 0, buf, 0, 7), -E.BADF, 'not a host handle');
    assert.is(server.hostIO(false, Ref.Host | 0x3fffff, 0, buf, 0, 7), -E.BADF, 'no such handle');
    assert.is(server.hostIO(false, f, 0, buf, 0, 7), -E.BADF, 'a node, not an open handle');
    for (const [pos, off, len] of [[-1, 0, 7], [2 ** 53, 0, 7], [0.5, 0, 7], [NaN, 0, 7], [0, 60, 7], [0, -1, 7], [0, 0, -1], [0, 0, 65]]) {
      assert.is(server.hostIO(false, h, pos, buf, off, len), -E.INVAL, `pos ${pos} off ${off} len ${len}`);
    }
    assert.is(server.hostIO(true, h, 0, buf, 0, 7), -E.BADF, 'a write through a read-only handle (EBADF from the host)');
    assert.is(server.hostIO(false, h, 0, buf, 0, 7), 7);
    assert.is(new TextDecoder().decode(buf.subarray(0, 7)), 'inside\n');
    const after = server.counts();
    assert.is(after.byId[Msg.PRead] - before.byId[Msg.PRead], 12, 'each call counted as the PRead it stands for');
    assert.is(after.byId[Msg.PWrite] - before.byId[Msg.PWrite], 1);
    assert.is(after.requests - before.requests, 13);
    send(Msg.Close, [1, h]);
    assert.is(fs.readFileSync(path.join(served, 'dir/file'), 'utf8'), 'inside\n');
  });

  t('nativeHostIO (hostIO made by the addon for the WebAssembly glue): the same bytes as hostIO for an open file, HOST_RW_ASK for the rest, and never a handle once closed', () => {
    const mem = new WebAssembly.Memory({ initial: 1 });
    const rw = server.nativeHostIO(mem);
    if (!(server.host instanceof HostDirect) || !native.addon?.hostRw) {
      assert.is(rw, null, 'only the direct tree has it');
      return;
    }
    assert.type(rw, 'function');
    const root = mount();
    const [d, f] = walk(root, ['dir', 'file']).nodes;
    assert.is(send(Msg.OpenAt, [f, 1]), 4);
    const h = dv.getUint32(0, true);
    const u8 = new Uint8Array(mem.buffer);
    const before = server.counts();
    assert.is(rw!(0, h, 0, 0, 64, 7), 7);
    assert.is(new TextDecoder().decode(u8.subarray(64, 71)), 'inside\n');
    assert.is(server.counts().byId[Msg.PRead] - before.byId[Msg.PRead], 1, 'counted as the PRead it stands for');
    // what hostIO must answer itself: a node (a directory's too), a write through a read-only
    // handle (EBADF from the host), a handle of the other tree
    assert.is(rw!(0, f, 0, 0, 64, 7), HOST_RW_ASK, 'a node, not an open handle');
    assert.is(rw!(0, d, 0, 0, 64, 7), HOST_RW_ASK, 'a directory node');
    assert.is(rw!(1, h, 0, 0, 64, 7), HOST_RW_ASK, 'a write through a read-only handle');
    assert.is(rw!(0, h & ~Ref.Host, 0, 0, 64, 7), HOST_RW_ASK, 'not a host handle');
    // closed: its slot is cleared before its fd is, whatever takes that fd number next
    send(Msg.Close, [1, h]);
    assert.is(rw!(0, h, 0, 0, 64, 7), HOST_RW_ASK, 'a closed handle');
    const keep = fs.openSync(path.join(outside, 'canary'), 'r'); // likely the fd number just freed
    try {
      assert.is(rw!(0, h, 0, 0, 64, 7), HOST_RW_ASK, 'a closed handle, its fd number taken again');
      // a new handle in the same slot reads its own file
      assert.is(send(Msg.OpenAt, [f, 3]), 4);
      const h2 = dv.getUint32(0, true);
      u8.fill(0, 64, 80);
      assert.is(rw!(0, h2, 0, 0, 64, 7), 7);
      assert.is(new TextDecoder().decode(u8.subarray(64, 71)), 'inside\n');
      send(Msg.Close, [1, h2]);
    } finally {
      fs.closeSync(keep);
    }
    assert.is(fs.readFileSync(path.join(outside, 'canary'), 'utf8'), CANARY);
  });

  t('random messages: no crash, no escape, and the gofer still serves an honest request', () => {
    let seed = 0x9e3779b9;
    const rnd = () => ((seed = (seed * 1664525 + 1013904223) >>> 0) / 2 ** 32);
    const root = mount();
    const refs = [root, Ref.Host, Ref.Host | 1, Ref.Host | 2, 0, 1, 0xffffffff, Ref.None];
    const N = Number(process.env.GOFER_FUZZ_COUNT || 20000);
    for (let i = 0; i < N; i++) {
      const id = Math.floor(rnd() * (Msg.Limit + 2)) - 1;
      const len = Math.floor(rnd() * (rnd() < 0.9 ? 64 : 4096));
      for (let j = 0; j < len; j += 4) {
        const r = rnd();
        dv.setUint32(j, r < 0.3 ? refs[Math.floor(rnd() * refs.length)] : r < 0.6 ? Math.floor(rnd() * 300) : Math.floor(rnd() * 2 ** 32), true);
      }
      // names made of the dangerous bytes now and then
      if (rnd() < 0.2) w.set(enc.encode(['..', '.', '/', 'to-outside', 'dir', 'canary'][Math.floor(rnd() * 6)]), 16);
      const r = server.handle(id, len, w);
      if (!Number.isInteger(r) || r > Chan.Window) assert.unreachable(`message ${i}: bad answer ${r}`);
    }
    canaryIntact();
    assert.is(walk(root, ['dir', 'file']).nodes.length, 2);
    assert.is(readAll(walk(root, ['dir', 'file']).nodes[1]), 'inside\n');
  });

}

if (!directWhy) {
  // OpenAt of a node opens it by its name beneath its directory (openSame) when the name still
  // holds that object, and through the node's own fd (reopen, /proc/self/fd) otherwise: whatever a
  // host process puts in its place, the open reaches the object walked to, and never waits on it.
  test('direct (openat2): OpenAt opens the walked file, by name only while the name still holds it', () => {
    const calls = { openSame: 0, reopen: 0 };
    const n = native.addon!;
    const counted = Object.create(n);
    counted.openSame = (...a: Parameters<NonNullable<typeof n.openSame>>) => (calls.openSame++, n.openSame!(...a));
    counted.reopen = (fd: number, flags: number) => (calls.reopen++, n.reopen!(fd, flags));
    const dir = path.join(served, 'swapped');
    fs.mkdirSync(dir);
    const file = path.join(dir, 'f');
    fs.writeFileSync(file, 'walked\n');
    const server = new GoferServer(null, new HostDirect([{ path: served, readonly: false }], counted));
    const { w, dv, send } = wire(server);
    assert.is(send(Msg.Mount, [1]), 72);
    const root = dv.getUint32(0, true);
    const name = (s: string) => {
      const b = new TextEncoder().encode(s);
      const words = [b.length];
      for (let i = 0; i < b.length; i += 4) words.push(b[i] | ((b[i + 1] ?? 0) << 8) | ((b[i + 2] ?? 0) << 16) | ((b[i + 3] ?? 0) << 24));
      return words;
    };
    assert.ok(send(Msg.Walk, [root, 2, ...name('swapped'), ...name('f')]) > 0);
    const node = dv.getUint32(WalkResp.Steps + WalkResp.StepBytes, true);
    const read = (flags: number) => {
      const t0 = performance.now();
      const r = send(Msg.OpenAt, [node, flags]);
      const ms = performance.now() - t0;
      assert.is(r, 4, `OpenAt answered ${r}`);
      const h = dv.getUint32(0, true);
      const got = send(Msg.PRead, [h, 4096, 0, 0]);
      const s = got > 0 ? new TextDecoder().decode(w.subarray(0, got)) : '';
      send(Msg.Close, [1, h]);
      return { s, ms };
    };
    assert.is(read(1).s, 'walked\n');
    assert.equal(calls, { openSame: 1, reopen: 0 }, 'the name still holds it: opened by name');
    // another file under the name: the walked one is opened, through its own fd
    fs.renameSync(file, path.join(dir, 'moved'));
    fs.writeFileSync(file, 'newcomer\n');
    assert.is(read(1).s, 'walked\n');
    assert.equal(calls, { openSame: 2, reopen: 1 });
    // a FIFO under the name, no writer: opening it without O_NONBLOCK would wait for one forever.
    // A writer that comes after 3 s keeps a broken gofer from hanging the test.
    fs.rmSync(file);
    execFileSync('mkfifo', [file]);
    const writer = spawn('sh', ['-c', `sleep 3; exec 3>'${file}'`], { stdio: 'ignore' });
    try {
      const r = read(1);
      assert.is(r.s, 'walked\n');
      assert.ok(r.ms < 1000, `OpenAt waited ${r.ms.toFixed(0)} ms on a FIFO put in the file's place`);
    } finally {
      writer.kill('SIGKILL');
    }
    // O_TRUNC never goes by name (nothing is truncated before it is known to be the file)
    fs.rmSync(file);
    fs.renameSync(path.join(dir, 'moved'), file);
    calls.openSame = calls.reopen = 0;
    assert.is(send(Msg.OpenAt, [node, OpenFlags.Write | OpenFlags.Truncate]), 4);
    send(Msg.Close, [1, dv.getUint32(0, true)]);
    assert.equal(calls, { openSame: 0, reopen: 1 });
    assert.is(fs.statSync(file).size, 0);
    // and back under its own name, by name again, with O_APPEND as asked
    calls.reopen = 0;
    assert.is(send(Msg.OpenAt, [node, OpenFlags.Write | OpenFlags.Append]), 4);
    const h = dv.getUint32(0, true);
    assert.ok(send(Msg.PWrite, [h, 3, 0, 0], new TextEncoder().encode('abc')) > 0);
    assert.ok(send(Msg.PWrite, [h, 2, 0, 0], new TextEncoder().encode('de')) > 0);
    send(Msg.Close, [1, h]);
    assert.equal(calls, { openSame: 1, reopen: 0 });
    assert.is(fs.readFileSync(file, 'utf8'), 'abcde', 'O_APPEND kept through the by-name open');
  });
}

test.run();
