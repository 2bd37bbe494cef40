// native (the N-API addon) and host/filestore/filestore-file.ts (host-file-backed filestores): the
// mapping is the file (checked with pread/pwrite on the fd), punching holes gives blocks back (st_blocks
// and `du`), the three backings (memfd, dir=, self) leave the right traces on the host, the size limit
// and chunk geometry hold past 1 GiB, bad arguments throw clean errors, and data written through the
// mapping does not count as the process's anonymous memory.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Page } from '../../../kernel/abi';
import { MemoryFilestore } from '../../../host/filestore/filestore';
import { FileFilestore, openFilestore, selfFileName } from '../../../host/filestore/filestore-file';
import { loadNative, type NativeAddon } from '../../../native/index';

const PAGE = Page.SIZE;
const CHUNK = Page.CHUNK_PAGES * PAGE;
const MiB = 1024 * 1024;

// Child mode: report what openFilestore does when the addon is disabled (WASMBOX_NATIVE=0).
if (process.env.WASMBOX_TEST_FALLBACK_CHILD) {
  const { filestore, note } = openFilestore('memfd', { limitBytes: 16 * MiB });
  process.stdout.write(JSON.stringify({ available: FileFilestore.available(), kind: filestore.kind, note, memory: filestore instanceof MemoryFilestore }));
  process.exit(0);
}

const loaded = loadNative();
const n = loaded.addon as NativeAddon;
// Without the addon, only 'the addon loads' (which then fails, unless WASMBOX_NATIVE=0 disabled it on
// purpose) and the fallback test run; the rest are skipped rather than failing one by one.
const ntest = n ? test : test.skip;
const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'wasmbox-filestore-'));
let serial = 0;
const tempDir = () => {
  const d = path.join(tmpRoot, `d${++serial}`);
  fs.mkdirSync(d);
  return d;
};
test.after(() => fs.rmSync(tmpRoot, { recursive: true, force: true }));

const blocksOf = (fd: number) => fs.fstatSync(fd).blocks * 512;
const pread = (fd: number, len: number, pos: number) => {
  const b = Buffer.alloc(len);
  assert.is(fs.readSync(fd, b, 0, len, pos), len);
  return b;
};
/** Fields of /proc/self/status in KiB. */
const status = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync('/proc/self/status', 'utf8'))![1]);
const fdTarget = (fd: number) => fs.readlinkSync(`/proc/self/fd/${fd}`);
/** The fd FileFilestore holds (private; read for host-side checks only). */
const fdOf = (f: FileFilestore) => (f as any).fd as number;
/** Throws with .code and a message matching `msg`, of class `cls`. */
function throwsCode(fn: () => unknown, code: string, msg: RegExp, cls: Function = Error) {
  try {
    fn();
  } catch (e: any) {
    assert.instance(e, cls, `${e?.constructor?.name}: ${e?.message}`);
    assert.is(e.code, code, e.message);
    assert.match(e.message, msg);
    return e;
  }
  assert.unreachable(`expected a ${code} error`);
}

test('the addon loads (built by npm install) and has its API', () => {
  if (!n && process.env.WASMBOX_NATIVE === '0') return;
  assert.is(loaded.reason, null, `addon not loaded: ${loaded.reason}`);
  assert.ok(FileFilestore.available());
  for (const k of ['mmap', 'munmap', 'memfdCreate', 'fallocate', 'punch', 'allocate', 'ftruncate', 'populateWrite', 'populateRead', 'pageStore', 'pageStorePages', 'pageStoreChunk', 'pageStoreCounts', 'pageCopy']) assert.type((n as any)[k], 'function', k);
  assert.is(n.FALLOC_FL_PUNCH_HOLE, 2);
  assert.is(n.FALLOC_FL_KEEP_SIZE, 1);
  assert.is(n.MFD_CLOEXEC, 1);
  assert.ok(n.PAGE_SIZE >= 4096 && (n.PAGE_SIZE & (n.PAGE_SIZE - 1)) === 0);
});

ntest('mmap: stores through the ArrayBuffer are the file (pread), pwrite shows in the mapping; munmap detaches', () => {
  const file = path.join(tempDir(), 'f');
  const fd = fs.openSync(file, 'w+');
  try {
    n.ftruncate(fd, 3 * PAGE);
    assert.is(fs.fstatSync(fd).size, 3 * PAGE);
    const ab = n.mmap(fd, PAGE, 2 * PAGE); // the 2nd and 3rd page of the file
    assert.is(ab.byteLength, 2 * PAGE);
    const u8 = new Uint8Array(ab);
    u8.set(Buffer.from('hello, file'), 100);
    u8[2 * PAGE - 1] = 0xee;
    assert.is(pread(fd, 11, PAGE + 100).toString(), 'hello, file');
    assert.is(pread(fd, 1, 3 * PAGE - 1)[0], 0xee);
    assert.is(pread(fd, 1, 100)[0], 0); // page 0 untouched
    fs.writeSync(fd, Buffer.from('from pwrite'), 0, 11, PAGE + 2000);
    assert.is(Buffer.from(u8.subarray(2000, 2011)).toString(), 'from pwrite');
    // a second mapping of the same range sees the same bytes (MAP_SHARED)
    const ab2 = n.mmap(fd, PAGE, PAGE);
    assert.is(Buffer.from(new Uint8Array(ab2, 100, 11)).toString(), 'hello, file');
    assert.is(n.munmap(ab2), true);
    assert.is(n.munmap(ab), true);
    assert.is(ab.byteLength, 0); // detached: views read as empty instead of faulting
    assert.is(u8.length, 0);
    assert.is(u8[0], undefined);
    assert.is(n.munmap(ab), false); // twice is fine
    assert.is(pread(fd, 11, PAGE + 100).toString(), 'hello, file'); // the data stays in the file
  } finally {
    fs.closeSync(fd);
  }
});

ntest('mmap: an ArrayBuffer dropped without munmap is unmapped by its finalizer', async () => {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  const fd = n.memfdCreate('wasmbox-fin-test');
  try {
    n.ftruncate(fd, PAGE);
    const count = () => fs.readFileSync('/proc/self/maps', 'utf8').split('\n').filter((l) => l.includes('memfd:wasmbox-fin-test')).length;
    (() => {
      for (let i = 0; i < 20; i++) new Uint8Array(n.mmap(fd, 0, PAGE))[0] = i;
    })();
    assert.ok(count() > 0);
    for (let i = 0; i < 20 && count() > 0; i++) {
      gc();
      await new Promise((r) => setTimeout(r, 10)); // finalizers run from the event loop
    }
    assert.is(count(), 0);
  } finally {
    fs.closeSync(fd);
  }
});

ntest('mmap: V8 does not count a mapping as external memory (a 1 GiB mapping sets off no collection)', () => {
  const fd = n.memfdCreate('wasmbox-ext-test');
  try {
    n.ftruncate(fd, 1 << 30);
    const before = process.memoryUsage();
    const ab = n.mmap(fd, 0, 1 << 30);
    new Uint8Array(ab)[12345] = 1;
    const after = process.memoryUsage();
    assert.ok(after.arrayBuffers - before.arrayBuffers < 1 << 20, `arrayBuffers grew by ${after.arrayBuffers - before.arrayBuffers}`);
    assert.ok(after.external - before.external < 1 << 20, `external grew by ${after.external - before.external}`);
    assert.is(n.munmap(ab), true);
  } finally {
    fs.closeSync(fd);
  }
});

ntest('punch: st_blocks and du shrink; one fallocate per run of adjacent pages; punched pages read zero', () => {
  const file = path.join(tempDir(), 'f');
  const fd = fs.openSync(file, 'w+');
  try {
    n.ftruncate(fd, 64 * PAGE);
    const u8 = new Uint8Array(n.mmap(fd, 0, 64 * PAGE));
    u8.fill(0x5a);
    fs.fsyncSync(fd);
    const full = blocksOf(fd);
    assert.ok(full >= 64 * PAGE, `blocks ${full}`);
    const du = () => Number(execFileSync('du', ['-k', file], { encoding: 'utf8' }).split('\t')[0]);
    assert.ok(du() >= 256);
    // unsorted, with a duplicate: runs {1,2,3}, {8,9}, {20} -> 3 calls
    assert.is(n.punch(fd, new Uint32Array([9, 2, 20, 1, 3, 8, 2]), PAGE), 3);
    assert.is(blocksOf(fd), full - 6 * PAGE);
    assert.is(n.punch(fd, new Uint32Array(Array.from({ length: 32 }, (_, i) => 32 + i)), PAGE), 1);
    assert.is(blocksOf(fd), full - 38 * PAGE);
    assert.ok(du() <= 26 * 4 + 8, `du ${du()}`);
    assert.is(n.punch(fd, new Uint32Array(0), PAGE), 0);
    assert.is(fs.fstatSync(fd).size, 64 * PAGE); // KEEP_SIZE
    for (const p of [1, 2, 3, 8, 9, 20, 40, 63]) assert.ok(u8.subarray(p * PAGE, (p + 1) * PAGE).every((b) => b === 0), `page ${p}`);
    for (const p of [0, 4, 7, 10, 19, 21, 31]) assert.ok(u8.subarray(p * PAGE, (p + 1) * PAGE).every((b) => b === 0x5a), `page ${p}`);
    assert.is(pread(fd, 1, 8 * PAGE)[0], 0);
    // fallocate with the exported constants, directly
    n.fallocate(fd, n.FALLOC_FL_PUNCH_HOLE | n.FALLOC_FL_KEEP_SIZE, 0, 64 * PAGE);
    assert.is(blocksOf(fd), 0);
    n.munmap(u8.buffer as ArrayBuffer);
  } finally {
    fs.closeSync(fd);
  }
});

ntest('memfd: FileFilestore.memfd grows, maps, releases, closes', () => {
  const f = FileFilestore.memfd(64 * MiB, { reserve: true });
  const fd = fdOf(f);
  try {
    assert.is(f.kind, 'file:memfd');
    assert.match(fdTarget(fd), /^\/memfd:wasmbox-filestore/);
    assert.is(f.limitPages, (64 * MiB) / PAGE);
    assert.is(f.pages, 0);
    assert.is(f.chunk(0), undefined);
    assert.is(f.grow(256), 256);
    assert.is(fs.fstatSync(fd).size, 256 * PAGE);
    assert.is(f.grow(100), 256); // never shrinks
    const c = f.chunk(0)!;
    assert.is(c.length, 256 * PAGE);
    assert.is(f.chunk(1), undefined);
    // reserve: grown pages have their storage (STORAGE FIRST), and stores there cannot SIGBUS
    assert.is(f.allocatedBytes(), 256 * PAGE);
    assert.is(f.reserveCalls, 1);
    assert.not.ok(f.unbacked(0, 0, 256 * PAGE));
    c.fill(7, 10 * PAGE, 12 * PAGE);
    assert.is(pread(fd, 1, 11 * PAGE + 5)[0], 7);
    f.release(new Uint32Array([11, 10, 5000])); // 5000 is past the end: ignored
    assert.is(f.punchCalls, 1);
    assert.is(f.releasedPages, 2);
    assert.is(f.allocatedBytes(), 254 * PAGE);
    // released pages are holes again: a write there must go by system call
    assert.ok(f.unbacked(10, 0, PAGE) && f.unbacked(9, 100, PAGE) && !f.unbacked(12, 0, PAGE));
    assert.ok(c.subarray(10 * PAGE, 12 * PAGE).every((b) => b === 0));
    // growing gives a longer view of the same mapping; old bytes stay
    c[0] = 42;
    assert.is(f.grow(1000), 1000);
    assert.is(f.chunk(0)!.length, 1000 * PAGE);
    assert.is(f.chunk(0)![0], 42);
  } finally {
    f.close();
  }
  assert.is(f.pages, 0);
  assert.is(f.chunk(0), undefined);
  assert.throws(() => fs.fstatSync(fd)); // closed
  f.close(); // idempotent
});

ntest('dir=: the file is unlinked at once (not in the directory), disk-backed, and gone with close', () => {
  const dir = tempDir();
  const f = FileFilestore.inDir(dir, 16 * MiB);
  try {
    assert.is(f.kind, `file:dir=${dir}`);
    assert.equal(fs.readdirSync(dir), []);
    assert.is(f.path, null);
    const target = fdTarget(fdOf(f));
    assert.ok(target.startsWith(path.join(dir, '.wasmbox-filestore-')), target);
    assert.ok(target.endsWith(' (deleted)'), target);
    f.grow(16);
    f.chunk(0)!.fill(1);
    assert.is(pread(fdOf(f), 4, 0).toString('hex'), '01010101');
    assert.equal(fs.readdirSync(dir), []);
  } finally {
    f.close();
  }
  assert.throws(() => FileFilestore.inDir('relative/dir', MiB), /not an absolute path/);
  assert.throws(() => FileFilestore.inDir(path.join(dir, 'missing'), MiB), /ENOENT/);
});

ntest('self: .wasmbox.filestore.<id> exists in the upper dir while open, and is deleted by close', () => {
  const upper = tempDir();
  const f = FileFilestore.self(upper, 'sbx-42', 16 * MiB);
  const file = path.join(upper, '.wasmbox.filestore.sbx-42');
  try {
    assert.is(selfFileName('sbx-42'), '.wasmbox.filestore.sbx-42');
    assert.is(f.kind, 'file:self');
    assert.is(f.path, file);
    assert.equal(fs.readdirSync(upper), ['.wasmbox.filestore.sbx-42']);
    assert.is(fs.statSync(file).mode & 0o777, 0o600);
    f.grow(8);
    f.chunk(0)!.set(Buffer.from('upper data'), PAGE);
    assert.is(fs.statSync(file).size, 8 * PAGE);
    assert.is(fs.readFileSync(file).subarray(PAGE, PAGE + 10).toString(), 'upper data');
    // a second sandbox with the same id does not take the file over
    assert.throws(() => FileFilestore.self(upper, 'sbx-42', MiB), /EEXIST/);
  } finally {
    f.close();
  }
  assert.equal(fs.readdirSync(upper), []);
  for (const bad of ['', '../x', 'a/b', '.hidden', 'x'.repeat(201)]) assert.throws(() => FileFilestore.self(upper, bad, MiB), /bad sandbox id/);
  // a symlink planted under the name is not followed
  fs.symlinkSync(path.join(upper, 'elsewhere'), path.join(upper, selfFileName('s2')));
  assert.throws(() => FileFilestore.self(upper, 's2', MiB), /EEXIST/);
  assert.not.ok(fs.existsSync(path.join(upper, 'elsewhere')));
});

ntest('limit: grow never passes the size limit, the file is never longer, views end at the limit', () => {
  const f = FileFilestore.memfd(10 * PAGE + 100); // a partial page does not count
  try {
    assert.is(f.limitPages, 10);
    assert.is(f.grow(4), 4);
    assert.is(f.grow(1e9), 10);
    assert.is(f.grow(2 ** 40), 10);
    assert.is(f.pages, 10);
    assert.is(fs.fstatSync(fdOf(f)).size, 10 * PAGE);
    assert.is(f.chunk(0)!.length, 10 * PAGE);
    assert.is(f.chunk(0)!.buffer.byteLength, 10 * PAGE); // mapped no further than the limit
    assert.is(f.grow(-5), 10);
    assert.is(f.grow(NaN), 10);
  } finally {
    f.close();
  }
  const z = FileFilestore.memfd(0);
  assert.is(z.grow(10), 0);
  assert.is(z.chunk(0), undefined);
  z.close();
});

ntest('chunks: a sparse 1 GiB + 4 page filestore spans two chunks at the right file offsets', () => {
  const f = FileFilestore.inDir(tempDir(), CHUNK + 8 * PAGE, { reserve: false });
  try {
    assert.is(f.grow(Page.CHUNK_PAGES + 4), Page.CHUNK_PAGES + 4);
    const fd = fdOf(f);
    assert.is(fs.fstatSync(fd).size, CHUNK + 4 * PAGE);
    const c0 = f.chunk(0)!;
    const c1 = f.chunk(1)!;
    assert.is(c0.length, CHUNK);
    assert.is(c1.length, 4 * PAGE);
    assert.is(c1.buffer.byteLength, 8 * PAGE); // chunk 1 is mapped up to the limit only
    assert.is(f.chunk(2), undefined);
    c0[CHUNK - 1] = 0xc0;
    c1[0] = 0xc1;
    c1[4 * PAGE - 1] = 0xc2;
    assert.equal([...pread(fd, 2, CHUNK - 1)], [0xc0, 0xc1]);
    assert.is(pread(fd, 1, CHUNK + 4 * PAGE - 1)[0], 0xc2);
    assert.ok(f.allocatedBytes() <= 16 * PAGE, `sparse: ${f.allocatedBytes()} bytes allocated`);
    // release across the boundary: pages CHUNK_PAGES-1 and CHUNK_PAGES are adjacent -> one call
    f.release(new Uint32Array([Page.CHUNK_PAGES, Page.CHUNK_PAGES - 1, Page.CHUNK_PAGES + 3]));
    assert.is(f.punchCalls, 2);
    assert.is(c0[CHUNK - 1], 0);
    assert.is(c1[0], 0);
    assert.is(f.allocatedBytes(), 0);
    assert.is(f.grow(Page.CHUNK_PAGES + 100), Page.CHUNK_PAGES + 8);
    assert.is(f.chunk(1)!.length, 8 * PAGE);
  } finally {
    f.close();
  }
});

ntest('prefault: pages written by writeDirect are mapped writable in bulk, per 64-page cluster, at the first store; released pages never are', () => {
  const upper = tempDir();
  const f = FileFilestore.self(upper, 'pop-1', 64 * MiB, { reserve: false }); // grown pages unmapped, as after a failed reservation
  const file = path.join(upper, selfFileName('pop-1'));
  // Rss of our mapping of the file, from /proc/self/smaps (0 when no page of it is mapped)
  const rss = () => {
    const lines = fs.readFileSync('/proc/self/smaps', 'utf8').split('\n');
    let total = 0;
    for (let i = 0; i < lines.length; i++) {
      if (!lines[i].endsWith(file)) continue;
      for (let j = i + 1; j < lines.length && !/^[0-9a-f]+-/.test(lines[j]); j++) {
        const m = /^Rss:\s+(\d+) kB/.exec(lines[j]);
        if (m) total += Number(m[1]) * 1024;
      }
    }
    return total;
  };
  try {
    f.grow(2048); // 8 MiB
    assert.is(rss(), 0);
    const data = new Uint8Array(4 * MiB).fill(0x5a);
    f.writeDirect(16, 0, data, 0, data.length); // pages 16..1039, by system call
    assert.is(rss(), 0, 'writeDirect alone maps nothing');
    // (the host may map more than asked where its page cache holds large folios, never less)
    f.prefault!(100, 8, 16); // cluster 64..127: all written
    const one = rss();
    assert.ok(one >= 64 * PAGE && one < 4 * MiB, `one cluster mapped: ${one}`);
    f.prefault!(101, 0, 16); // the same cluster again: nothing new
    assert.is(rss(), one);
    f.prefault!(2000, 0, 16); // never written: nothing
    assert.is(rss(), one);
    // released pages lose their marks: a store there maps nothing in bulk, and no hole is refilled
    const blocks = () => fs.statSync(file).blocks * 512;
    f.release(Uint32Array.from({ length: 64 * 4 }, (_, i) => 256 + i)); // clusters 256..511
    const before = blocks();
    assert.ok(before <= 4 * MiB - 256 * PAGE, `punched: ${before}`);
    f.prefault!(300, 0, 16);
    assert.is(rss(), one);
    assert.is(blocks(), before, 'no block allocated for released pages');
    f.prefault!(129, 0, 16); // a cluster still marked
    assert.ok(rss() > one, 'the next cluster mapped');
    const v = f.chunk(0)!;
    assert.is(v[16 * PAGE], 0x5a);
    assert.is(v[300 * PAGE], 0);
    assert.is(v[(16 + 1024) * PAGE - 1], 0x5a);
    assert.is(v[(16 + 1024) * PAGE], 0);
    // the addon's own checks, for both advices
    for (const populate of [n.populateWrite!.bind(n), n.populateRead!.bind(n)]) {
      assert.throws(() => populate(new ArrayBuffer(PAGE), 0, PAGE), (e: any) => e instanceof TypeError && (e as any).code === 'EINVAL' && /not a live ArrayBuffer returned by mmap/.test(e.message));
      assert.throws(() => (populate as any)(new Uint8Array(8), 0, 8), (e: any) => e instanceof TypeError && /must be an ArrayBuffer/.test(e.message));
      assert.throws(() => populate(v.buffer as ArrayBuffer, v.buffer.byteLength - PAGE, 2 * PAGE), (e: any) => e instanceof RangeError && /passes the end/.test(e.message));
      assert.throws(() => populate(v.buffer as ArrayBuffer, -1, PAGE), (e: any) => e instanceof RangeError && /offset must be an integer/.test(e.message));
    }
  } finally {
    f.close();
  }
});

ntest('ready: a page is ready for a plain copy only once it has storage, has been touched, and has no system-call write waiting to be mapped; release and shrink take it back', () => {
  for (const make of [() => FileFilestore.memfd(64 * MiB), () => FileFilestore.self(tempDir(), 'ready-1', 64 * MiB)]) {
    const f = make();
    try {
      f.grow(256);
      // grown pages are holes: a store could SIGBUS (STORAGE FIRST)
      assert.not.ok(f.ready(5));
      // a read through the mapping touches a hole but gives it no storage
      f.prefault!(5, 0, 16);
      assert.not.ok(f.ready(5), 'touched, but a hole');
      // written by system call: storage, but not touched (and, in a file, marked for WRITE FAULTS)
      f.writeDirect(6, 0, new Uint8Array(PAGE).fill(1), 0, PAGE);
      assert.not.ok(f.ready(6), 'written by system call, not touched');
      f.prefault!(6, 0, 16, true);
      assert.ok(f.ready(6), 'storage, touched, mapped');
      assert.not.ok(f.ready(7), 'its neighbour is not');
      // a page touched before a system-call write waits for prefault again where it marks pages
      f.writeDirect(6, 100, new Uint8Array(8).fill(2), 0, 8);
      if (f.kind === 'file:self') {
        assert.not.ok(f.ready(6), 'a new system-call write is waiting to be mapped writable');
        f.prefault!(6, 0, 8, true);
      }
      assert.ok(f.ready(6));
      // released: punched, a hole again
      f.release(Uint32Array.of(6));
      assert.not.ok(f.ready(6), 'released');
      f.writeDirect(6, 0, new Uint8Array(PAGE), 0, PAGE);
      f.prefault!(6, 0, PAGE, true);
      assert.ok(f.ready(6));
      // shrunk away and grown again: not touched any more (and a hole)
      f.shrink(6);
      f.grow(256);
      assert.not.ok(f.ready(6), 'cut by shrink');
    } finally {
      f.close();
    }
  }
});

ntest('readyBits: over random grows, system-call writes, touches, releases and shrinks, a page whose bit is set is always touched, backed and without a write waiting, and prefault() sets it', () => {
  const noPunch = () => {
    // a file system that cannot punch holes: release() zeroes pages in place instead
    const f = FileFilestore.self(tempDir(), 'ready-bits-np', 64 * MiB);
    (f as any).punchSupported = false;
    return f;
  };
  for (const [name, make] of [['memfd', () => FileFilestore.memfd(64 * MiB)], ['self', () => FileFilestore.self(tempDir(), 'ready-bits', 64 * MiB)], ['self, no punching', noPunch]] as const) {
    const f = make();
    const bit = (maps: (Uint8Array | undefined)[], p: number) => {
      const m = maps[p >>> Page.CHUNK_SHIFT];
      return m !== undefined && (m[(p & (Page.CHUNK_PAGES - 1)) >>> 3] & (1 << (p & 7))) !== 0;
    };
    let seed = 12345;
    const rnd = (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) % n;
    const any = f as any;
    let readySeen = 0;
    try {
      f.grow(300);
      for (let step = 0; step < 600; step++) {
        const p = rnd(Math.max(f.pages, 1));
        const n = 1 + rnd(8);
        const last = Math.min(p + n, f.pages) - 1;
        switch (rnd(6)) {
          case 0:
          case 1:
            if (last >= p) f.writeDirect(p, 0, new Uint8Array((last - p + 1) * PAGE).fill(step & 255), 0, (last - p + 1) * PAGE);
            break;
          case 2:
          case 3:
            // within one chunk, as the glue calls it
            if (last >= p) f.prefault!(p, 0, (last - p + 1) * PAGE, rnd(2) === 1);
            break;
          case 4:
            f.release(Uint32Array.from({ length: last - p + 1 }, (_, i) => p + i));
            break;
          default:
            if (rnd(4) === 0) f.shrink(rnd(300));
            else f.grow(300);
        }
        for (let q = 0; q < f.pages; q++) {
          if (!f.ready(q)) continue;
          readySeen++;
          assert.ok(bit(any.touched, q) && !bit(any.holes, q) && !bit(any.written, q), `${name}: step ${step}: page ${q} ready but touched ${bit(any.touched, q)}, hole ${bit(any.holes, q)}, written ${bit(any.written, q)}`);
        }
      }
      // and prefault makes a backed page ready
      f.grow(300);
      f.writeDirect(10, 0, new Uint8Array(PAGE), 0, PAGE);
      f.prefault!(10, 0, PAGE, true);
      assert.ok(f.ready(10));
      assert.ok(readySeen > 100, `${name}: pages were ready along the way (${readySeen})`);
    } finally {
      f.close();
    }
  }
});

ntest('cold: long ranges not all touched through the mapping are read by system call (readDirect); touching, releasing and shrinking keep the marks right', () => {
  const noBulk = () => {
    // a memfd that cannot map in bulk (an addon or kernel without MADV_POPULATE_READ) reads by system call too
    const f = FileFilestore.memfd(64 * MiB);
    (f as any).bulkMap = false;
    return f;
  };
  for (const make of [noBulk, () => FileFilestore.self(tempDir(), 'cold-1', 64 * MiB)]) {
    const f = make();
    try {
      f.grow(1024); // 4 MiB
      const data = new Uint8Array(2 * MiB).map((_, i) => (i * 31 + (i >> 12)) & 255);
      f.writeDirect(0, 0, data, 0, data.length); // pages 0..511, by system call: none touched
      assert.ok(f.cold(0, 0, 16384), 'a 16 KiB range never touched');
      assert.not.ok(f.cold(0, 0, 16383), 'shorter ranges never are');
      assert.not.ok(f.cold(0, 0, PAGE));
      // readDirect reads what is there, across pages, from an offset inside a page; holes read as zeros
      const out = new Uint8Array(64 * PAGE + 100).fill(0xee);
      f.readDirect(3, 100, out, 50, 40 * PAGE);
      assert.equal(out.subarray(50, 50 + 40 * PAGE), data.subarray(3 * PAGE + 100, 43 * PAGE + 100));
      assert.is(out[49], 0xee);
      assert.is(out[50 + 40 * PAGE], 0xee);
      f.readDirect(600, 0, out, 0, 8 * PAGE);
      assert.ok(out.subarray(0, 8 * PAGE).every((b) => b === 0), 'a hole reads as zeros');
      // touching pages 8..15 through the mapping: a range inside them is no longer cold, one that
      // runs one page past them is
      f.prefault!(8, 0, 8 * PAGE);
      assert.not.ok(f.cold(8, 0, 8 * PAGE));
      assert.not.ok(f.cold(8, 5, 8 * PAGE - 5), 'an offset inside the first page');
      if ((f as any).populate) {
        // a file on a disk: prefault() mapped the whole 64-page cluster of pages written by system
        // call (WRITE FAULTS), so all of them are touched, and none past it
        assert.not.ok(f.cold(0, 0, 64 * PAGE));
        assert.ok(f.cold(60, 0, 8 * PAGE));
      } else {
        assert.ok(f.cold(8, 0, 9 * PAGE));
        assert.ok(f.cold(7, 0, 8 * PAGE));
      }
      // a store's prefault touches too; the bytes stay right
      f.prefault!(16, 0, 64 * PAGE, true);
      assert.not.ok(f.cold(8, 0, 72 * PAGE), 'pages 8..79 all touched');
      const v = f.chunk(0)!;
      assert.equal(v.subarray(16 * PAGE, 80 * PAGE), data.subarray(16 * PAGE, 80 * PAGE), 'loads before stores change nothing');
      // released pages are unmapped (punched): cold again
      f.release(Uint32Array.of(20));
      assert.ok(f.cold(16, 0, 8 * PAGE));
      assert.not.ok(f.cold(21, 0, 8 * PAGE));
      // shrinking unmaps what it cuts: grown again, those pages are cold
      f.prefault!(1000, 0, 8 * PAGE);
      assert.not.ok(f.cold(1000, 0, 8 * PAGE));
      f.shrink(1000);
      f.grow(1024);
      assert.ok(f.cold(1000, 0, 8 * PAGE));
      assert.is(f.counters().filestoreSyscallReads, 2);
    } finally {
      f.close();
    }
  }
});

ntest('a memfd maps the untouched pages of a long range in bulk, one call per run, never a hole; its long reads are never cold', () => {
  const f = FileFilestore.memfd(64 * MiB);
  const rss = () => {
    // the filestore's pages mapped in this process (there is one memfd filestore open here)
    let kb = 0;
    let ours = false;
    for (const line of fs.readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
      if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) ours = line.includes('memfd:wasmbox-filestore');
      else if (ours && line.startsWith('Rss:')) kb += Number(line.split(/\s+/)[1]);
    }
    return kb;
  };
  try {
    f.grow(1024);
    const data = new Uint8Array(64 * PAGE).map((_, i) => (i * 7 + (i >> 12)) & 255);
    f.writeDirect(0, 0, data, 0, data.length); // pages 0..63 have storage, none touched; 64.. are holes
    assert.not.ok(f.cold(0, 0, 64 * PAGE), 'a memfd reads through its mapping');
    f.prefault!(5, 0, PAGE); // page 5 touched on its own
    const before = rss();
    assert.is(f.counters().filestoreBulkMaps, 0, 'a one-page range maps nothing in bulk');
    f.prefault!(0, 0, 3 * PAGE);
    assert.is(f.counters().filestoreBulkMaps, 0, 'nor does a range shorter than a long read');
    // pages 0..15: two runs around page 5
    f.prefault!(0, 0, 16 * PAGE);
    assert.is(f.counters().filestoreBulkMaps, 2);
    for (let p = 0; p < 16; p++) assert.ok(f.ready!(p), `page ${p} ready`);
    assert.ok(rss() - before >= 12 * 4, `pages mapped: ${rss() - before} KiB`);
    // again: nothing left to map
    f.prefault!(0, 0, 16 * PAGE);
    assert.is(f.counters().filestoreBulkMaps, 2);
    // a range over storage and holes (60..75): only 60..63 are mapped, the holes stay holes
    const blocks = f.allocatedBytes();
    f.prefault!(60, 0, 16 * PAGE);
    assert.is(f.counters().filestoreBulkMaps, 3);
    assert.is(f.allocatedBytes(), blocks, 'no hole given storage');
    assert.ok(f.unbacked(64, 0, PAGE));
    assert.ok(f.ready!(63));
    assert.not.ok(f.ready!(64));
    // the bytes read through the mapping are what was written
    assert.equal(f.chunk(0)!.subarray(0, 64 * PAGE), data);
    assert.is(f.counters().filestoreSyscallReads, 0);
  } finally {
    f.close();
  }
});

ntest('bad arguments throw clean errors with .code, before any system call', () => {
  const fd = n.memfdCreate('wasmbox-bad-args');
  try {
    n.ftruncate(fd, 4 * PAGE);
    const ab = new ArrayBuffer(8);
    const cases: [() => unknown, string, RegExp, Function][] = [
      [() => (n as any).mmap(), 'EINVAL', /mmap: expected 3 arguments, got 0/, TypeError],
      [() => (n as any).mmap('3', 0, PAGE), 'EINVAL', /fd must be a number/, TypeError],
      [() => n.mmap(-1, 0, PAGE), 'EINVAL', /fd must be an integer/, RangeError],
      [() => n.mmap(1.5, 0, PAGE), 'EINVAL', /fd must be an integer/, RangeError],
      [() => n.mmap(fd, 100, PAGE), 'EINVAL', /offset must be a multiple of the page size/, RangeError],
      [() => n.mmap(fd, -PAGE, PAGE), 'EINVAL', /offset must be an integer/, RangeError],
      [() => n.mmap(fd, 0, 0), 'EINVAL', /length must be an integer in \[1,/, RangeError],
      [() => n.mmap(fd, 0, 2 ** 32 + 1), 'EINVAL', /length must be an integer/, RangeError],
      [() => n.mmap(fd, 0, NaN), 'EINVAL', /length must be an integer/, RangeError],
      [() => n.mmap(fd, 0, Infinity), 'EINVAL', /length must be an integer/, RangeError],
      [() => n.mmap(987654, 0, PAGE), 'EBADF', /^mmap: EBADF: Bad file descriptor \(fd 987654/, Error],
      [() => (n as any).munmap(), 'EINVAL', /expected 1 arguments/, TypeError],
      [() => (n as any).munmap(new Uint8Array(8)), 'EINVAL', /must be an ArrayBuffer returned by mmap/, TypeError],
      [() => n.munmap(ab), 'EINVAL', /not an ArrayBuffer returned by mmap/, TypeError],
      [() => (n as any).memfdCreate(5), 'EINVAL', /name must be a string/, TypeError],
      [() => n.memfdCreate('x'.repeat(250)), 'EINVAL', /at most 249 bytes/, RangeError],
      [() => n.memfdCreate('a\0b'), 'EINVAL', /must not contain NUL/, RangeError],
      [() => n.memfdCreate('x', 0x8000), 'EINVAL', /^memfd_create: EINVAL/, Error],
      [() => n.fallocate(fd, n.FALLOC_FL_PUNCH_HOLE, 0, PAGE), 'EOPNOTSUPP', /^fallocate: EOPNOTSUPP/, Error], // PUNCH_HOLE needs KEEP_SIZE
      [() => n.fallocate(fd, 0, 0, 0), 'EINVAL', /length must be an integer in \[1,/, RangeError],
      [() => n.fallocate(fd, 0, 2 ** 53 - 1, 2), 'EINVAL', /offset \+ length is too large/, RangeError],
      [() => n.fallocate(987654, 0, 0, PAGE), 'EBADF', /^fallocate: EBADF/, Error],
      [() => (n as any).punch(fd, [1, 2], PAGE), 'EINVAL', /pages must be a Uint32Array/, TypeError],
      [() => (n as any).punch(fd, new Int32Array([1]), PAGE), 'EINVAL', /pages must be a Uint32Array/, TypeError],
      [() => n.punch(fd, new Uint32Array([1]), 3000), 'EINVAL', /pageSize must be a power of two/, RangeError],
      [() => n.punch(fd, new Uint32Array([1]), 0), 'EINVAL', /pageSize must be an integer/, RangeError],
      [() => n.punch(987654, new Uint32Array([1]), PAGE), 'EBADF', /^fallocate: EBADF/, Error],
      [() => n.ftruncate(fd, -1), 'EINVAL', /length must be an integer/, RangeError],
      [() => (n as any).ftruncate(fd, 10n), 'EINVAL', /length must be a number/, TypeError],
      [() => n.ftruncate(987654, 0), 'EBADF', /^ftruncate: EBADF/, Error],
    ];
    for (const [fn, code, msg, cls] of cases) throwsCode(fn, code, msg, cls);
    const e = throwsCode(() => n.mmap(987654, 0, PAGE), 'EBADF', /EBADF/);
    assert.is(e.errno, 9);
    assert.is(e.syscall, 'mmap');
    // mapping a read-only fd for writing is refused by the kernel, not a crash
    const file = path.join(tempDir(), 'ro');
    fs.writeFileSync(file, Buffer.alloc(PAGE));
    const ro = fs.openSync(file, 'r');
    try {
      throwsCode(() => n.mmap(ro, 0, PAGE), 'EACCES', /^mmap: EACCES: Permission denied/);
    } finally {
      fs.closeSync(ro);
    }
    assert.throws(() => openFilestore('tmpfs', { limitBytes: MiB }), /unknown backing "tmpfs"/);
    assert.throws(() => openFilestore('self', { limitBytes: MiB }), /self needs an upper directory/);
  } finally {
    fs.closeSync(fd);
  }
});

ntest('nativePage: the addon copies exactly the ready pages below the page count, whole pages into cold ones by streaming stores, and nothing once closed', () => {
  for (const make of [() => FileFilestore.memfd(64 * MiB), () => FileFilestore.self(tempDir(), 'native-page', 64 * MiB)]) {
    const f = make();
    const memory = new WebAssembly.Memory({ initial: 4 });
    const g = new Uint8Array(memory.buffer);
    const copy = f.nativePage(memory);
    try {
      assert.type(copy, 'function', `${f.kind}: the addon's page copy (a memory with guard regions)`);
      const page = copy!;
      const counts = () => [f.counters().filestoreNativeCopies, f.counters().filestoreStreamedCopies];
      f.grow(300);
      const v = () => f.chunk(0)!;
      g.fill(7, 0, PAGE);
      assert.is(page(1, 5, 0, 0, PAGE), 1, 'a hole is not ready: left to the caller');
      assert.ok(v().subarray(5 * PAGE, 6 * PAGE).every((b) => b === 0), 'and nothing stored');
      f.writeDirect(5, 0, new Uint8Array(PAGE).fill(1), 0, PAGE);
      assert.is(page(1, 5, 0, 0, PAGE), 1, 'written by system call and not mapped since: not ready');
      f.prefault!(5, 0, PAGE, true);
      assert.ok(f.ready(5));
      // a whole page into a page not copied lately: streamed
      for (let i = 0; i < PAGE; i++) g[i] = (i * 13 + 1) & 255;
      assert.is(page(1, 5, 0, 0, PAGE), 0);
      assert.equal(v().subarray(5 * PAGE, 6 * PAGE), g.subarray(0, PAGE));
      assert.equal(pread(fdOf(f), PAGE, 5 * PAGE), Buffer.from(g.subarray(0, PAGE)), 'the file has the bytes (pread)');
      assert.equal(counts(), [1, 1]);
      // the same page again: a plain copy; then a part of it, from an odd place; then reads
      g.fill(9, 0, PAGE);
      assert.is(page(1, 5, 0, 0, PAGE), 0);
      assert.equal(counts(), [2, 1]);
      g.fill(3, 70000, 70000 + 3000);
      assert.is(page(1, 5, 1001, 70000 + 1, 2999), 0);
      const want = new Uint8Array(PAGE).fill(9);
      want.fill(3, 1001, 4000);
      assert.equal(v().subarray(5 * PAGE, 6 * PAGE), want);
      assert.is(page(0, 5, 0, 100000, PAGE), 0);
      assert.equal(g.subarray(100000, 100000 + PAGE), want);
      // out of the page, past the page count, past a chunk: left to the caller, nothing copied
      assert.is(page(1, 5, 4000, 0, 97), 1);
      assert.is(page(1, 5, 4096, 0, 0), 1);
      assert.is(page(0, 300, 0, 0, 16), 1);
      assert.is(page(0, Page.CHUNK_PAGES + 5, 0, 0, 16), 1);
      assert.is(page(0, -1, 0, 0, 16), 1, 'a page number as a negative i32');
      // released: not ready; shrunk: past the count even with its bit set by hand
      f.writeDirect(6, 0, new Uint8Array(PAGE).fill(1), 0, PAGE);
      f.prefault!(6, 0, PAGE, true);
      assert.is(page(0, 6, 0, 0, 16), 0);
      f.release(Uint32Array.of(6));
      assert.is(page(0, 6, 0, 0, 16), 1, 'a released page');
      f.shrink(5);
      (f as any).readyBits[0][0] |= 1 << 5 % 8;
      (f as any).readyBits[0][5 >>> 3] |= 1 << 5 % 8;
      assert.is(page(1, 5, 0, 0, PAGE), 1, 'a page past the count');
      f.grow(300);
      // many copies at random places and lengths, each checked against a model of the page
      f.writeDirect(7, 0, new Uint8Array(16 * PAGE), 0, 16 * PAGE);
      f.prefault!(7, 0, 16 * PAGE, true);
      const model = new Uint8Array(16 * PAGE);
      let seed = 99;
      const rnd = (k: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) % k;
      for (let step = 0; step < 3000; step++) {
        const p = rnd(16);
        const off = rnd(PAGE);
        const len = 1 + rnd(PAGE - off);
        const ptr = rnd(200000);
        if (rnd(2)) {
          for (let i = 0; i < len; i++) g[ptr + i] = rnd(256);
          assert.is(page(1, 7 + p, off, ptr, len), 0);
          model.set(g.subarray(ptr, ptr + len), p * PAGE + off);
        } else {
          assert.is(page(0, 7 + p, off, ptr, len), 0);
          assert.equal(g.subarray(ptr, ptr + len), model.subarray(p * PAGE + off, p * PAGE + off + len), `step ${step}`);
        }
      }
      assert.equal(v().subarray(7 * PAGE, 23 * PAGE), model);
      f.close();
      assert.is(page(0, 5, 0, 0, 16), 1, 'closed: nothing');
    } finally {
      f.close();
    }
  }
  const off = FileFilestore.memfd(MiB, { nativeCopies: false });
  assert.is(off.nativePage(new WebAssembly.Memory({ initial: 1 })), null, 'nativeCopies: false');
  off.close();
});

test('openFilestore: memory, memfd, dir= and self; without the addon, a reported memory fallback', () => {
  const m = openFilestore('memory', { limitBytes: MiB });
  assert.instance(m.filestore, MemoryFilestore);
  assert.is(m.note, null);
  if (!n) {
    const f = openFilestore('memfd', { limitBytes: MiB });
    assert.instance(f.filestore, MemoryFilestore);
    assert.is(f.note, `fallback: memory (addon not built: ${loaded.reason})`);
    return;
  }
  const a = openFilestore('memfd', { limitBytes: MiB });
  assert.is(a.filestore.kind, 'file:memfd');
  assert.is(a.note, null);
  a.filestore.close();
  const dir = tempDir();
  const b = openFilestore(`dir=${dir}`, { limitBytes: MiB });
  assert.is(b.filestore.kind, `file:dir=${dir}`);
  b.filestore.close();
  const c = openFilestore('self', { limitBytes: MiB, upperDir: dir, sandboxId: 'abc' });
  assert.equal(fs.readdirSync(dir), ['.wasmbox.filestore.abc']);
  c.filestore.close();
  assert.equal(fs.readdirSync(dir), []);
  // in a child process with the addon disabled
  const r = spawnSync(process.execPath, [process.argv[1]], {
    env: { ...process.env, WASMBOX_NATIVE: '0', WASMBOX_TEST_FALLBACK_CHILD: '1' },
    encoding: 'utf8',
  });
  assert.is(r.status, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout), {
    available: false,
    kind: 'memory',
    note: 'fallback: memory (addon not built: disabled by WASMBOX_NATIVE=0)',
    memory: true,
  });
});

ntest('RssAnon: 256 MiB written through a memfd mapping is not anonymous memory; releasing it frees it', () => {
  const f = FileFilestore.memfd(512 * MiB);
  try {
    const pages = (256 * MiB) / PAGE;
    const anon0 = status('RssAnon');
    const shmem0 = status('RssShmem');
    assert.is(f.grow(pages), pages); // reserves and maps the pages (STORAGE FIRST)
    const c = f.chunk(0)!;
    for (let at = 0; at < 256 * MiB; at += MiB) c.fill((at / MiB) & 0xff || 1, at, at + MiB);
    const anon1 = status('RssAnon');
    const shmem1 = status('RssShmem');
    const held = f.allocatedBytes();
    assert.ok(anon1 - anon0 < 32 * 1024, `RssAnon grew by ${anon1 - anon0} KiB`);
    assert.ok(shmem1 - shmem0 >= 250 * 1024, `RssShmem grew by only ${shmem1 - shmem0} KiB`);
    assert.is(held, 256 * MiB);
    assert.is(pread(fdOf(f), 1, 5 * MiB + 3)[0], 5);
    f.release(Uint32Array.from({ length: pages }, (_, i) => pages - 1 - i)); // reversed: still one run
    assert.is(f.punchCalls, 1);
    const shmem2 = status('RssShmem');
    assert.is(f.allocatedBytes(), 0);
    assert.ok(shmem1 - shmem2 >= 250 * 1024, `RssShmem fell by only ${shmem1 - shmem2} KiB`);
    console.log(
      `  RssAnon +${anon1 - anon0} KiB, RssShmem +${shmem1 - shmem0} KiB, st_blocks ${held / MiB} MiB for 256 MiB written;` +
        ` after release: RssShmem -${shmem1 - shmem2} KiB, st_blocks ${f.allocatedBytes()} bytes`,
    );
  } finally {
    f.close();
  }
});

ntest('RssAnon: the same through a dir= file (page cache, not anonymous memory)', () => {
  const f = FileFilestore.inDir(tempDir(), 512 * MiB);
  try {
    const pages = (256 * MiB) / PAGE;
    const anon0 = status('RssAnon');
    const file0 = status('RssFile');
    f.grow(pages);
    const c = f.chunk(0)!;
    for (let at = 0; at < 256 * MiB; at += MiB) c.fill(0x33, at, at + MiB);
    const anon1 = status('RssAnon');
    const file1 = status('RssFile');
    assert.ok(anon1 - anon0 < 32 * 1024, `RssAnon grew by ${anon1 - anon0} KiB`);
    assert.ok(file1 - file0 >= 250 * 1024, `RssFile grew by only ${file1 - file0} KiB`);
    const held = f.allocatedBytes();
    f.release(Uint32Array.from({ length: pages }, (_, i) => i));
    console.log(`  dir=: RssAnon +${anon1 - anon0} KiB, RssFile +${file1 - file0} KiB, st_blocks ${held / MiB} MiB -> ${f.allocatedBytes()} after release`);
    assert.is(f.allocatedBytes(), 0);
  } finally {
    f.close();
  }
});

test.run();
