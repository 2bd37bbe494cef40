// Direct-only filestores (host/filestore/filestore.ts `direct`), which the browser's OPFS filestore
// (host/web/filestore-opfs.ts) is, run in Node:
//   - the glue's plan checks and the kernel imports' fs_write/fs_zero checks are exactly as strict on
//     the direct path as on the view path: the same table of hostile ranges faults on both;
//   - OpfsFilestore over a stand-in FileSystemSyncAccessHandle: grow reads as zeros, release zeroes
//     with one write per run of adjacent pages from one reused buffer, shrink, the quota limit, close;
//   - a real kernel over it runs fsstress to the same result log as over memory;
//   - the process host's interrupt hook (the browser's Ctrl-C) stops a child at its next call, is
//     never called for the top process, and ends only the child.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Io, Page, Seg } from '../../kernel/abi';
import { MemoryFilestore, directInBounds, type Filestore } from '../../host/filestore/filestore';
import { ExitSignal, GuestProcess, type Streams } from '../../host/sandbox/glue';
import { Kernel, KernelFault, type GoferTransport } from '../../host/sandbox/kernel';
import { kernelFile, kernelModule } from '../../host/sandbox/kernel-node';
import { loadProgram, runModuleSync, type ProcessHost } from '../../host/sandbox/process';
import { AGENT_DATA, Agent, O_CREAT, O_TRUNC } from '../../host/sandbox/agent';
import { OpfsFilestore } from '../../host/web/filestore-opfs';
import type { SyncHandle } from '../../host/web/persist';
import { ROOT, guestWasm, outcome } from '../lib/sandbox';
import path from 'node:path';

const SIZE = Page.SIZE;

// ---------------------------------------------------------------------------------------------
// Stand-ins

/** A MemoryFilestore that hides its views: every byte through the direct calls, which are counted. */
class DirectOnly implements Filestore {
  readonly kind = 'direct-test';
  readonly direct = true;
  calls = { read: 0, write: 0, zero: 0 };
  constructor(readonly m: MemoryFilestore) {}
  get limitPages() {
    return this.m.limitPages;
  }
  get pages() {
    return this.m.pages;
  }
  chunk(): undefined {
    return undefined;
  }
  grow(n: number) {
    return this.m.grow(n);
  }
  shrink(n: number) {
    return this.m.shrink(n);
  }
  release(p: Uint32Array) {
    this.m.release(p);
  }
  private at(page: number, off: number): [Uint8Array, number] {
    return [this.m.chunk(page >>> Page.CHUNK_SHIFT)!, (page & (Page.CHUNK_PAGES - 1)) * SIZE + off];
  }
  readDirect(page: number, off: number, dst: Uint8Array, dstOff: number, len: number) {
    this.calls.read++;
    const [v, at] = this.at(page, off);
    dst.set(v.subarray(at, at + len), dstOff);
  }
  writeDirect(page: number, off: number, src: Uint8Array, srcOff: number, len: number) {
    this.calls.write++;
    const [v, at] = this.at(page, off);
    v.set(src.subarray(srcOff, srcOff + len), at);
  }
  zeroDirect(page: number, off: number, len: number) {
    this.calls.zero++;
    const [v, at] = this.at(page, off);
    v.fill(0, at, at + len);
  }
  close() {
    this.m.close();
  }
}

/** A FileSystemSyncAccessHandle in memory: truncate zero-fills, writes past the end extend. */
class FakeHandle implements SyncHandle {
  bytes = new Uint8Array(0);
  size = 0;
  writes: { at: number; len: number; buffer: ArrayBufferLike }[] = [];
  truncates: number[] = [];
  quota = Infinity;
  closed = false;
  private ensure(n: number) {
    if (n <= this.bytes.length) return;
    const b = new Uint8Array(Math.max(n, this.bytes.length * 2));
    b.set(this.bytes);
    this.bytes = b;
  }
  read(buf: Uint8Array, opts?: { at?: number }): number {
    const at = opts?.at ?? 0;
    const n = Math.max(0, Math.min(buf.length, this.size - at));
    buf.set(this.bytes.subarray(at, at + n));
    return n;
  }
  write(buf: Uint8Array, opts?: { at?: number }): number {
    const at = opts?.at ?? 0;
    if (at + buf.length > this.quota) throw new DOMException('over quota', 'QuotaExceededError');
    this.ensure(at + buf.length);
    this.bytes.set(buf, at);
    this.size = Math.max(this.size, at + buf.length);
    this.writes.push({ at, len: buf.length, buffer: buf.buffer });
    return buf.length;
  }
  truncate(n: number): void {
    if (n > this.quota) throw new DOMException('over quota', 'QuotaExceededError');
    this.truncates.push(n);
    this.ensure(n);
    this.bytes.fill(0, n);
    this.size = n;
  }
  getSize(): number {
    return this.size;
  }
  flush(): void {}
  close(): void {
    this.closed = true;
  }
}

/** navigator.storage.estimate() as the OPFS filestore sees it (Node has no navigator). */
function setQuota(quota: number | undefined, usage = 0): void {
  (globalThis as any).navigator = { storage: { estimate: async () => (quota === undefined ? {} : { quota, usage }) } };
}

async function opfs(limitBytes: number, h = new FakeHandle()): Promise<{ fs: OpfsFilestore; h: FakeHandle }> {
  const dir = { getFileHandle: async () => ({ createSyncAccessHandle: async () => h }) } as unknown as FileSystemDirectoryHandle;
  return { fs: await OpfsFilestore.open(dir, limitBytes), h };
}

const noGofer: GoferTransport = {
  window: new Uint8Array(4096),
  call: () => {
    throw new Error('no gofer in this test');
  },
};

// ---------------------------------------------------------------------------------------------
// The glue's plan checks: view path and direct path side by side

/** Just enough of a Kernel for GuestProcess: an exchange area whose plan the test writes. */
function fakeKernel(): { kernel: Kernel; plan(segs: [number, number, number, number][]): void } {
  const u8 = new Uint8Array(1 << 17);
  const io = 4096;
  const dv = new DataView(u8.buffer);
  const kernel = {
    io,
    u8,
    u32: new Uint32Array(u8.buffer),
    dv,
    view: () => u8,
    exports: {
      fd_read: () => 0,
      fd_io: () => 0,
      io_abort: () => 0,
    },
  } as unknown as Kernel;
  return {
    kernel,
    plan(segs) {
      let bytes = 0;
      segs.forEach(([kind, len, a, b], i) => {
        const s = io + Io.SEGS + i * Io.SEG_BYTES;
        dv.setUint32(s, kind, true);
        dv.setUint32(s + 4, len, true);
        dv.setUint32(s + 8, a, true);
        dv.setUint32(s + 12, b, true);
        bytes += len;
      });
      dv.setUint32(io + Io.RES, bytes, true);
      dv.setUint32(io + Io.RES + 4, segs.length, true);
      dv.setUint32(io + Io.RES + 8, 0, true);
    },
  };
}

const PAGES = 10;
const RANGES: [string, number, number, number, boolean][] = [
  // name, page, offset, length, allowed
  ['a whole first page', 0, 0, SIZE, true],
  ['the last page', PAGES - 1, 0, SIZE, true],
  ['every page, from offset 100', 0, 100, PAGES * SIZE - 100, true],
  ['the last byte', PAGES - 1, SIZE - 1, 1, true],
  ['nothing, at the last page', PAGES - 1, 0, 0, true],
  ['one byte past the end', PAGES - 1, 1, SIZE, false],
  ['every page and one byte more', 0, 100, PAGES * SIZE - 99, false],
  ['a page not grown yet', PAGES, 0, 1, false],
  ['nothing, at a page not grown yet', PAGES, 0, 0, false],
  ['offset 4096 (not inside the page)', 0, SIZE, 1, false],
  ['page 2^32-1', 0xffffffff, 0, 1, false],
  ['length 2^32-1', 0, 0, 0xffffffff, false],
];

/** Runs one page segment as a read or a write through the glue; 'ok' or 'fault'. */
function runSeg(fs: Filestore, write: boolean, kind: number, page: number, off: number, len: number): { r: 'ok' | 'fault'; data?: Uint8Array } {
  const { kernel, plan } = fakeKernel();
  const p = new GuestProcess(kernel, fs, 1, ['t'], [], { write: () => 0, read: () => 0, filetype: () => 0 });
  const want = Math.min(len, 1 << 24);
  try {
    if (write) {
      const mem = new WebAssembly.Memory({ initial: 1 + (want >>> 16) + 1 });
      p.bindMemory(mem);
      const dv = new DataView(mem.buffer);
      dv.setUint32(0, 64, true); // one iovec: [64, +want)
      dv.setUint32(4, want, true);
      new Uint8Array(mem.buffer, 64, want).fill(0xab);
      (kernel.exports as any).fd_io = () => (plan([[kind, len, page, off]]), 0);
      const e = p.imports().fd_write(3, 0, 1, 16);
      assert.is(e, 0);
      return { r: 'ok' };
    }
    const buf = new Uint8Array(want);
    const n = p.readPlanned(() => (plan([[kind, len, page, off]]), 0), buf, 0, want);
    assert.is(n, len);
    return { r: 'ok', data: buf };
  } catch (e) {
    if (e instanceof KernelFault) return { r: 'fault' };
    throw e;
  }
}

function filled(): MemoryFilestore {
  const m = new MemoryFilestore(64 * SIZE);
  m.grow(PAGES);
  const v = m.chunk(0)!;
  for (let i = 0; i < PAGES * SIZE; i++) v[i] = (i * 31 + 7) & 255;
  return m;
}

for (const [name, page, off, len, allowed] of RANGES) {
  test(`plan segment, ${name}: ${allowed ? 'allowed' : 'a kernel fault'} on the view path and on the direct path alike`, () => {
    for (const write of [false, true]) {
      for (const kind of write ? [Seg.Page, Seg.PageNew] : [Seg.Page]) {
        const view = filled();
        const direct = new DirectOnly(filled());
        const a = runSeg(view, write, kind, page, off, len);
        const b = runSeg(direct, write, kind, page, off, len);
        const what = `${write ? 'write' : 'read'} (segment kind ${kind})`;
        assert.is(a.r, allowed ? 'ok' : 'fault', `view path, ${what}`);
        assert.is(b.r, a.r, `direct path, ${what}`);
        if (a.data) assert.equal(b.data, a.data, `the same bytes read, ${what}`);
        if (write && allowed) assert.equal(direct.m.chunk(0)!.slice(0, PAGES * SIZE), view.chunk(0)!.slice(0, PAGES * SIZE), `the same bytes written, ${what}`);
        if (allowed && len > 0) assert.ok(direct.calls.read + direct.calls.write > 0, 'the direct path went through the direct calls');
        if (!allowed) assert.is(direct.calls.read + direct.calls.write, 0, 'nothing copied before the fault');
      }
    }
  });
}

test('directInBounds: a range may not run from one 1 GiB chunk into the next (the views cannot), even when both are grown', () => {
  const pages = Page.CHUNK_PAGES + 16;
  const last = Page.CHUNK_PAGES - 1;
  assert.ok(directInBounds(pages, last, 0, SIZE));
  assert.not.ok(directInBounds(pages, last, 0, SIZE + 1));
  assert.not.ok(directInBounds(pages, last, SIZE - 1, 2));
  assert.ok(directInBounds(pages, Page.CHUNK_PAGES, 0, 16 * SIZE));
  assert.not.ok(directInBounds(pages, Page.CHUNK_PAGES, 0, 16 * SIZE + 1));
});

// ---------------------------------------------------------------------------------------------
// The kernel's fs_write / fs_zero imports: a stand-in kernel.wasm that re-exports them

/** A module importing host.fs_write, fs_zero, fs_grow and exporting them with a 64 KiB memory. */
function importsModule(): WebAssembly.Module {
  const str = (s: string) => [s.length, ...Buffer.from(s)];
  const section = (id: number, body: number[]) => [id, body.length, ...body];
  const I32 = 0x7f;
  const types = [3, 0x60, 4, I32, I32, I32, I32, 1, I32, 0x60, 3, I32, I32, I32, 0, 0x60, 1, I32, 1, I32];
  const imports = [3, ...str('host'), ...str('fs_write'), 0, 0, ...str('host'), ...str('fs_zero'), 0, 1, ...str('host'), ...str('fs_grow'), 0, 2];
  const memory = [1, 0, 1];
  const exports = [4, ...str('memory'), 2, 0, ...str('fs_write'), 0, 0, ...str('fs_zero'), 0, 1, ...str('fs_grow'), 0, 2];
  const bytes = [0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, ...section(1, types), ...section(2, imports), ...section(5, memory), ...section(7, exports)];
  return new WebAssembly.Module(new Uint8Array(bytes));
}

const KMEM = 65536;
const WRITES: [string, number, number, number, number, boolean][] = [
  // name, page, offset, kernel source address, length, allowed
  ['a whole page', 3, 0, 0, SIZE, true],
  ['the last page', PAGES - 1, 0, 100, SIZE, true],
  ['past the last page', PAGES - 1, 1, 0, SIZE, false],
  ['a page not grown yet', PAGES, 0, 0, 1, false],
  ['offset 4096', 0, SIZE, 0, 1, false],
  ['a source past kernel memory', 0, 0, KMEM - 10, 11, false],
  ['a source ending at kernel memory\'s end', 0, 0, KMEM - 10, 10, true],
  ['page 2^32-1 (negative as i32)', 0xffffffff, 0, 0, 1, false],
];
const ZEROS: [string, number, number, number, boolean][] = [
  ['part of a page', 2, 100, 200, true],
  ['to the end of a page', PAGES - 1, 96, SIZE - 96, true],
  ['nothing at offset 4096', 0, SIZE, 0, true],
  ['across a page end', 2, 100, SIZE, false],
  ['a page not grown yet', PAGES, 0, 1, false],
];

function kernelOver(fs: Filestore): Kernel {
  const k = new Kernel(importsModule(), fs, noGofer);
  const u8 = new Uint8Array(k.exports.memory.buffer);
  for (let i = 0; i < u8.length; i++) u8[i] = (i * 13 + 5) & 255;
  return k;
}


test('fs_write: the same table of ranges is allowed or a kernel fault on the view and the direct path, with the same bytes written', () => {
  for (const [name, page, off, src, len, allowed] of WRITES) {
    const view = filled();
    const direct = new DirectOnly(filled());
    const kv = kernelOver(view);
    const kd = kernelOver(direct);
    const a = outcome(() => assert.is(kv.exports.fs_write(page, off, src, len), 0));
    const b = outcome(() => assert.is(kd.exports.fs_write(page, off, src, len), 0));
    assert.is(a, allowed ? 'ok' : 'fault', `view: ${name}`);
    assert.is(b, a, `direct: ${name}`);
    assert.equal(direct.m.chunk(0)!.slice(0, PAGES * SIZE), view.chunk(0)!.slice(0, PAGES * SIZE), `same contents: ${name}`);
  }
});

test('fs_zero: the same table of ranges is allowed or a kernel fault on the view and the direct path, with the same bytes zeroed', () => {
  for (const [name, page, off, len, allowed] of ZEROS) {
    const view = filled();
    const direct = new DirectOnly(filled());
    const a = outcome(() => kernelOver(view).exports.fs_zero(page, off, len));
    const b = outcome(() => kernelOver(direct).exports.fs_zero(page, off, len));
    assert.is(a, allowed ? 'ok' : 'fault', `view: ${name}`);
    assert.is(b, a, `direct: ${name}`);
    assert.equal(direct.m.chunk(0)!.slice(0, PAGES * SIZE), view.chunk(0)!.slice(0, PAGES * SIZE), `same contents: ${name}`);
  }
});

test('a filestore that says direct but lacks a direct call is refused when the kernel and the glue are built', () => {
  const bad = new DirectOnly(filled()) as any;
  bad.zeroDirect = undefined;
  assert.throws(() => new Kernel(importsModule(), bad, noGofer), /direct-only without/);
  assert.throws(() => new GuestProcess(fakeKernel().kernel, bad, 1, [], [], { write: () => 0, read: () => 0, filetype: () => 0 }), /direct-only without/);
});

// ---------------------------------------------------------------------------------------------
// OpfsFilestore over a stand-in sync access handle

test('OpfsFilestore: opening empties the page file; grow truncates larger and the new pages read as zeros; the limit holds', async () => {
  setQuota(undefined);
  const h = new FakeHandle();
  h.write(new Uint8Array(3 * SIZE).fill(9), { at: 0 }); // a previous worker's leftovers
  const { fs } = await opfs(8 * SIZE, h);
  assert.is(h.size, 0);
  assert.ok(fs.direct);
  assert.is(fs.chunk(), undefined);
  assert.is(fs.limitPages, 8);
  assert.is(fs.grow(3), 3);
  assert.is(h.size, 3 * SIZE);
  const buf = new Uint8Array(3 * SIZE).fill(1);
  fs.readDirect(0, 0, buf, 0, buf.length);
  assert.ok(buf.every((b) => b === 0), 'grown pages read as zeros');
  assert.is(fs.grow(100), 8, 'clamped to the limit');
  assert.is(h.size, 8 * SIZE);
  assert.is(fs.grow(5), 8, 'never shrinks by grow');
});

test('OpfsFilestore: a quota error at grow leaves the size as it was (the kernel reports ENOSPC); at write it is ENOSPC', async () => {
  setQuota(undefined);
  const h = new FakeHandle();
  const { fs } = await opfs(64 * SIZE, h);
  assert.is(fs.grow(4), 4);
  h.quota = 6 * SIZE;
  assert.is(fs.grow(8), 4);
  assert.is(fs.pages, 4);
  h.quota = 2 * SIZE;
  try {
    fs.writeDirect(3, 0, new Uint8Array(10), 0, 10);
    assert.unreachable('the write should fail');
  } catch (e: any) {
    assert.is(e.code, 'ENOSPC');
  }
});

test('OpfsFilestore: the limit is a third of the free quota when that is smaller than the page\'s limit', async () => {
  setQuota(30 * SIZE + 3 * 1000, 3 * 1000);
  const { fs } = await opfs(64 * SIZE);
  assert.is(fs.limitPages, 10);
  assert.match(fs.limitNote, /quota/);
  setQuota(3000 * SIZE, 0);
  const big = await opfs(64 * SIZE);
  assert.is(big.fs.limitPages, 64);
});

test('OpfsFilestore: release zeroes the pages with one write per run of adjacent pages, from one reused buffer; pages past the end are skipped', async () => {
  setQuota(undefined);
  const { fs, h } = await opfs(64 * SIZE);
  fs.grow(16);
  const ones = new Uint8Array(16 * SIZE).fill(0xee);
  fs.writeDirect(0, 0, ones, 0, ones.length);
  h.writes.length = 0;
  fs.release(new Uint32Array([3, 4, 5, 9, 10, 2, 40, 15]));
  assert.equal(
    h.writes.map((w) => [w.at / SIZE, w.len / SIZE]),
    [
      [3, 3],
      [9, 2],
      [2, 1],
      [15, 1],
    ],
  );
  const buffers = new Set(h.writes.map((w) => w.buffer));
  fs.release(new Uint32Array([0, 1]));
  for (const w of h.writes.slice(4)) buffers.add(w.buffer);
  assert.is(buffers.size, 1, 'one zero buffer for every release');
  const all = new Uint8Array(16 * SIZE);
  fs.readDirect(0, 0, all, 0, all.length);
  for (let p = 0; p < 16; p++) {
    const zero = [0, 1, 2, 3, 4, 5, 9, 10, 15].includes(p);
    assert.ok(all.subarray(p * SIZE, (p + 1) * SIZE).every((b) => b === (zero ? 0 : 0xee)), `page ${p}`);
  }
});

test('OpfsFilestore: zeroDirect, shrink, and close (which empties the file and closes the handle)', async () => {
  setQuota(undefined);
  const { fs, h } = await opfs(64 * SIZE);
  fs.grow(4);
  fs.writeDirect(1, 0, new Uint8Array(SIZE).fill(7), 0, SIZE);
  fs.zeroDirect(1, 100, 50);
  const b = new Uint8Array(SIZE);
  fs.readDirect(1, 0, b, 0, SIZE);
  assert.ok(b.subarray(100, 150).every((x) => x === 0) && b[99] === 7 && b[150] === 7);
  assert.is(fs.shrink(2), 2);
  assert.is(h.size, 2 * SIZE);
  assert.is(fs.shrink(3), 2, 'never grows by shrink');
  fs.close();
  assert.ok(h.closed);
  assert.is(h.size, 0);
  assert.is(fs.grow(4), 0, 'closed: no more growth');
});

// ---------------------------------------------------------------------------------------------
// A real kernel over it

const CHARACTER_DEVICE = 2;

/** A kernel with a tmpfs root over `fs`, the shell, the toolbox and fsstress in /bin. */
function sandbox(fs: Filestore, interrupt?: () => void) {
  const kernel = new Kernel(kernelModule(kernelFile(path.join(ROOT, 'dist'), false)), fs, noGofer);
  assert.is(kernel.setup(Math.min(fs.limitPages, 0xfffffffe), 0), 0);
  const agent = new Agent(kernel, fs);
  agent.mkdir('/bin');
  agent.mkdir('/tmp');
  for (const name of ['sh', 'toolbox', 'fsstress']) {
    const bytes = guestWasm(name);
    const f = agent.open(`/bin/${name}`, O_CREAT | O_TRUNC);
    assert.ok(f >= 0);
    for (let off = 0; off < bytes.length; off += AGENT_DATA) {
      const n = Math.min(AGENT_DATA, bytes.length - off);
      agent.data().set(bytes.subarray(off, off + n));
      assert.is(agent.writeData(f, n), 0);
    }
    agent.close(f);
  }
  for (const applet of ['echo', 'ls', 'cat']) assert.is(agent.symlink('toolbox', `/bin/${applet}`), 0);
  agent.destroy();
  let out = '';
  const streams: Streams = {
    write: (_s, d, o, l) => ((out += Buffer.from(d.subarray(o, o + l)).toString()), l),
    read: () => 0,
    filetype: () => CHARACTER_DEVICE,
  };
  const host: ProcessHost = { kernel, filestore: fs, streams, report: (l) => (out += `report: ${l}\n`), interrupt };
  const run = (argv: string[]): { status: number; out: string } => {
    out = '';
    const pid = kernel.exports.proc_create(CHARACTER_DEVICE, CHARACTER_DEVICE, CHARACTER_DEVICE);
    const proc = new GuestProcess(kernel, fs, pid, argv, ['PATH=/bin'], streams);
    try {
      return { status: runModuleSync(host, proc, loadProgram(proc, argv[0], ['PATH=/bin'], '/'), argv[0]), out };
    } finally {
      kernel.exports.proc_destroy(pid);
    }
  };
  return { kernel, run };
}

test('a real kernel over the OPFS filestore: fsstress writes the same result log as over memory, its page bytes in the page file', async () => {
  setQuota(undefined);
  const argv = ['/bin/fsstress', '-d', '/tmp/f', '-n', '400', '-p', '4', '-s', '1680153482', '-l', '2', '-L'];
  const mem = sandbox(new MemoryFilestore(256 << 20)).run(argv);
  const { fs, h } = await opfs(256 << 20);
  const direct = sandbox(fs).run(argv);
  assert.is(mem.status, 0, mem.out.slice(-500));
  assert.is(direct.status, 0, direct.out.slice(-500));
  assert.ok(mem.out.split('\n').length > 3000 && / read .* = 0 n=[1-9]/.test(mem.out), 'a full log, with data read');
  assert.is(direct.out, mem.out);
  assert.ok(h.writes.length > 100, `page bytes went to the page file (${h.writes.length} writes)`);
  assert.ok(h.truncates.length > 1, 'the page file grew (and shrank) with the data');
});

test('the interrupt hook stops a child at its next call (status 130, the shell goes on) and is never called for the top process', async () => {
  let calls = 0;
  let armed = false;
  const hook = () => {
    calls++;
    if (armed && calls > 5000) {
      armed = false; // once, as the terminal clears its Ctrl-C flag
      throw new ExitSignal(130);
    }
  };
  const sb = sandbox(new MemoryFilestore(64 << 20), hook);
  // builtins only (echo is one, /bin/echo not): every call is the top shell's
  const top = sb.run(['/bin/sh', '-c', 'A=1; export A; pwd; type cd']);
  assert.is(top.status, 0);
  assert.match(top.out, /^\/\n.*cd/);
  assert.is(calls, 0, 'the top process never calls the hook');
  assert.is(sb.run(['/bin/sh', '-c', '/bin/echo child']).out, 'child\n');
  assert.ok(calls > 0, 'a child calls it');
  // a child that never ends by itself (-l 0) and prints nothing
  armed = true;
  const r = sb.run(['/bin/sh', '-c', 'fsstress -d /tmp/busy -n 100 -p 1 -s 1 -l 0; echo status $?; ls /tmp/busy']);
  assert.equal(r, { status: 0, out: 'status 130\np0\n' });
  assert.ok(calls > 5000);
});

test('without a hook, a child runs to its end as before', () => {
  const sb = sandbox(new MemoryFilestore(64 << 20));
  assert.equal(sb.run(['/bin/sh', '-c', 'fsstress -d /tmp/x -n 50 -p 1 -s 1; echo status $?']), { status: 0, out: 'status 0\n' });
});

test.run();
