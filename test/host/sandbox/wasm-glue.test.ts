// The WebAssembly glue (host/sandbox/wasm-glue.ts) against the JavaScript glue it stands in for:
// the same calls, with the same guest memory, filestore and a scripted stand-in kernel, must give
// the same result, leave the same guest memory and filestore bytes, and show the kernel the same
// requests (path bytes included). The cases are the edges: pointers and lengths at and one past
// the end of guest memory, wrapping pointers, paths of every tail length up to and past the limit,
// absolute paths, two paths (rename), the results of open, seek and tell, plans of every kind the fast path takes or hands on, and a kernel that lies (a
// page outside the filestore, counts past the plan). Then, through runModule with a real guest: a
// trap in kernel code under the glue ends the sandbox as a kernel fault, a trap in the guest is the
// guest's, and a guest whose memory the glue cannot import (a shared one) keeps the JavaScript glue.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import binaryen from 'binaryen';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Io, Page, Plan, PlanFlag, Readdir, Seg } from '../../../kernel/abi';
import { MemoryFilestore } from '../../../host/filestore/filestore';
import { ExitSignal, GuestProcess } from '../../../host/sandbox/glue';
import { type Kernel, KernelFault } from '../../../host/sandbox/kernel';
import { kernelCodeFile, wasmGlueModules, wasmGlueUsed } from '../../../host/sandbox/kernel-node';
import { runModule, type ProcessHost } from '../../../host/sandbox/process';
import { WasmGlue, type WasmGlueModules } from '../../../host/sandbox/wasm-glue';
import { hostIOOnly, kernelViews } from '../../lib/kernel';
import { ROOT } from '../../lib/sandbox';

const mods = wasmGlueModules(path.join(ROOT, 'dist'));

/** What the stand-in kernel plans for a read or write of `len` bytes at `off`. */
type Scene = 'dir' | 'dir-big' | 'dir-liar' | 'dir-late-errno' | 'page' | 'page-unaligned' | 'page-outside' | 'page-across' | 'host' | 'host-liar' | 'host-far' | 'zero' | 'two-segs' | 'errno' | 'empty';

interface Seen {
  calls: string[];
}

function standIn(scene: Scene, seen: Seen): Kernel {
  const u8 = new Uint8Array(1 << 17);
  const io = 8192;
  const dv = new DataView(u8.buffer);
  const res = io + Io.RES;
  const seg = (i: number, kind: number, len: number, a: number, b: number) => {
    const s = io + Io.SEGS + i * Io.SEG_BYTES;
    dv.setUint32(s, kind, true);
    dv.setUint32(s + 4, len, true);
    dv.setUint32(s + 8, a, true);
    dv.setUint32(s + 12, b, true);
  };
  const plan = (bytes: number, nsegs: number, flags: number) => {
    dv.setUint32(res + 4 * Plan.BYTES, bytes, true);
    dv.setUint32(res + 4 * Plan.NSEGS, nsegs, true);
    dv.setUint32(res + 4 * Plan.FLAGS, flags, true);
  };
  const stat = (tag: number) => {
    for (let i = 0; i < 64; i++) u8[io + Io.STRUCT + i] = (tag + i * 7) & 0xff;
  };
  const path = (len: number) => Buffer.from(u8.subarray(io + Io.PATH1, io + Io.PATH1 + len)).toString('latin1');
  return {
    ...kernelViews(u8, io),
    gofer: hostIOOnly((write: boolean, handle: number, pos: number, buf: Uint8Array, off: number, len: number): number => {
      seen.calls.push(`hostIO ${write} ${handle} ${pos} ${off} ${len}`);
      if (!write) buf.fill(9, off, off + len);
      return scene === 'host-liar' ? len + 1 : len;
    }),
    exports: {
      fd_io: (pid: number, fd: number, len: number, off: bigint, flags: number) => {
        seen.calls.push(`fd_io ${pid} ${fd} ${len} ${off} ${flags}`);
        if (scene === 'errno') return 8;
        const n = Math.min(len, 100);
        if (scene === 'empty') plan(0, 0, 0);
        else if (scene === 'page') (seg(0, Seg.Page, n, 3, 40), plan(n, 1, 0));
        else if (scene === 'page-unaligned') (seg(0, Seg.Page, n, 2, 4095 - n + 1), plan(n, 1, 0));
        else if (scene === 'page-across') (seg(0, Seg.Page, n, 2, 4096 - n + 1), plan(n, 1, 0));
        else if (scene === 'page-outside') (seg(0, Seg.Page, n, 1 << 20, 0), plan(n, 1, 0));
        else if (scene === 'zero') (seg(0, Seg.Zero, n, 0, 0), plan(n, 1, 0));
        else if (scene === 'two-segs') {
          const h = n >>> 1;
          seg(0, Seg.Page, h, 4, 100);
          seg(1, Seg.Page, n - h, 5, 0);
          plan(n, 2, 0);
        } else {
          seg(0, Seg.Host, n, 0x80000007, 0);
          plan(n, 1, PlanFlag.COMMIT);
          dv.setUint32(res + 4 * Plan.HOST_OFF, 0x12345678, true);
          dv.setUint32(res + 4 * Plan.HOST_OFF + 4, scene === 'host-far' ? 0x200000 : 3, true);
        }
        return 0;
      },
      io_commit: (pid: number, result: number) => {
        seen.calls.push(`io_commit ${pid} ${result}`);
        dv.setUint32(res, Math.max(result, 0), true);
        return 0;
      },
      io_word: (off: number) => dv.getUint32(io + (off & 0xfffc), true),
      io_dword: (off: number) => dv.getBigUint64(io + (off & 0xfff8), true),
      io_put: (off: number, w: bigint) => dv.setBigUint64(io + (off & 0xfff8), w, true),
      fd_filestat_get: (pid: number, fd: number) => {
        seen.calls.push(`fd_filestat_get ${pid} ${fd}`);
        if (fd === 9) return 8;
        stat(fd);
        return 0;
      },
      fd_fdstat_get: (pid: number, fd: number) => {
        seen.calls.push(`fd_fdstat_get ${pid} ${fd}`);
        if (fd === 9) return 8;
        stat(fd + 100);
        return 0;
      },
      path_filestat_get: (pid: number, fd: number, flags: number, len: number) => {
        const p = path(len);
        seen.calls.push(`path_filestat_get ${pid} ${fd} ${flags} ${len} ${JSON.stringify(p)}`);
        if (p === 'missing') return 44;
        stat(len);
        return 0;
      },
      path_open: (pid: number, fd: number, dirflags: number, len: number, oflags: number, base: bigint, inh: bigint, fdflags: number) => {
        const p = path(len);
        seen.calls.push(`path_open ${pid} ${fd} ${dirflags} ${len} ${oflags} ${base} ${inh} ${fdflags} ${JSON.stringify(p)}`);
        if (p === 'missing') return 44;
        dv.setUint32(res, 17 + len, true);
        return 0;
      },
      fd_close: (pid: number, fd: number) => {
        seen.calls.push(`fd_close ${pid} ${fd}`);
        return fd === 9 ? 8 : 0;
      },
      fd_seek: (pid: number, fd: number, off: bigint, whence: number) => {
        seen.calls.push(`fd_seek ${pid} ${fd} ${off} ${whence}`);
        if (whence > 2) return 28;
        dv.setBigInt64(res, off * 3n, true);
        return 0;
      },
      fd_tell: (pid: number, fd: number) => {
        seen.calls.push(`fd_tell ${pid} ${fd}`);
        dv.setBigUint64(res, 0x100000005n + BigInt(fd), true);
        return fd === 9 ? 8 : 0;
      },
      ...Object.fromEntries(
        ['path_unlink_file', 'path_create_directory', 'path_remove_directory'].map((n) => [
          n,
          (pid: number, fd: number, len: number) => {
            const p = path(len);
            seen.calls.push(`${n} ${pid} ${fd} ${len} ${JSON.stringify(p)}`);
            return p === 'missing' ? 44 : 0;
          },
        ]),
      ),
      path_rename: (pid: number, ofd: number, ol: number, nfd: number, nl: number) => {
        const b = Buffer.from(u8.subarray(io + Io.PATH2, io + Io.PATH2 + nl)).toString('latin1');
        seen.calls.push(`path_rename ${pid} ${ofd} ${ol} ${nfd} ${nl} ${JSON.stringify(path(ol))} ${JSON.stringify(b)}`);
        return b === 'missing' ? 44 : 0;
      },
      fd_readdir: (pid: number, fd: number, room: number, cookie: bigint) => {
        seen.calls.push(`fd_readdir ${pid} ${fd} ${room} ${cookie}`);
        if (fd === 9) return 54;
        if (scene === 'dir-late-errno' && cookie > 0n) return 20;
        // a listing of `size` bytes in 40-byte records; the cookie is a record's index
        const size = scene === 'dir-big' || scene === 'dir-late-errno' ? 200_000 : 4_000;
        const from = Number(cookie) * 40;
        const cap = Math.min(room, Io.DATA_SIZE);
        const used = Math.min(cap, Math.max(size - from, 0));
        const whole = Math.min(Math.floor(cap / 40) * 40, used);
        for (let i = 0; i < used; i++) u8[io + Io.DATA + i] = ((from + i) * 7 + 3) & 0xff;
        dv.setUint32(res + 4 * Readdir.USED, scene === 'dir-liar' ? room + 1 : used, true);
        dv.setUint32(res + 4 * Readdir.WHOLE, whole, true);
        dv.setUint32(res + 4 * Readdir.EOF, from + used >= size ? 1 : 0, true);
        dv.setBigUint64(res + 8 * Readdir.COOKIE64, cookie + BigInt(whole / 40), true);
        return 0;
      },
      io_abort: () => 0,
    },
  } as unknown as Kernel;
}

interface World {
  mem: WebAssembly.Memory;
  fs: MemoryFilestore;
  seen: Seen;
  call: Record<string, (...a: any[]) => any>;
}

/** A process over a fresh stand-in kernel, its imports either the JavaScript glue's or the WebAssembly glue's. */
function world(scene: Scene, wasm: boolean): World {
  const seen: Seen = { calls: [] };
  const fs = new MemoryFilestore(1 << 24);
  fs.grow(16);
  for (let pg = 0; pg < 16; pg++) fs.chunk(0)!.fill(pg + 1, pg * Page.SIZE, (pg + 1) * Page.SIZE);
  const K = standIn(scene, seen);
  const p = new GuestProcess(K, fs, 5, ['t'], [], { write: () => 0, read: () => 0, filetype: () => 0 });
  const mem = new WebAssembly.Memory({ initial: 2 });
  const g = new Uint8Array(mem.buffer);
  for (let i = 0; i < g.length; i++) g[i] = (i * 13) & 0xff;
  p.bindMemory(mem);
  let call = p.imports() as Record<string, (...a: any[]) => any>;
  if (wasm) {
    const wg = new WasmGlue(mods!, K.exports, 5, p.wasmGlueSide(), call);
    assert.ok(wg.bind(mem), 'G made over an ordinary memory');
    call = wg.imports;
  }
  return { mem, fs, seen, call };
}

/** Runs `name(args)` both ways and compares everything; returns the JavaScript glue's result. */
function same(scene: Scene, name: string, args: (number | bigint)[], setup?: (g: DataView) => void): number | string {
  const out = [false, true].map((wasm) => {
    const w = world(scene, wasm);
    setup?.(new DataView(w.mem.buffer));
    let r: number | string;
    try {
      r = w.call[name](...args);
    } catch (e) {
      if (!(e instanceof KernelFault)) throw e;
      r = 'fault';
    }
    return { r, mem: new Uint8Array(w.mem.buffer).slice(), store: w.fs.chunk(0)!.slice(0, 16 * Page.SIZE), calls: w.seen.calls };
  });
  const what = `${scene} ${name}(${args.join(', ')})`;
  assert.is(out[1].r, out[0].r, `${what}: result`);
  assert.equal(out[1].calls, out[0].calls, `${what}: what the kernel and the gofer were asked`);
  assert.ok(Buffer.from(out[1].mem).equals(Buffer.from(out[0].mem)), `${what}: guest memory`);
  assert.ok(Buffer.from(out[1].store).equals(Buffer.from(out[0].store)), `${what}: filestore`);
  return out[0].r;
}

const END = 2 * 65536; // the guest memory of world(): two pages, so that a buffer can be larger than the kernel's DATA
const iov = (at: number, p: number, len: number) => (g: DataView) => {
  g.setUint32(at, p, true);
  g.setUint32(at + 4, len, true);
};

test('the build made the WebAssembly glue', () => {
  assert.ok(mods, 'dist/wasm-glue.wasm and dist/wasm-glue-t.wasm load (npm run build)');
});

test('a dist/ without the glue, or with a glue from another build, leaves the JavaScript glue, and --stats says why', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wasm-glue-'));
  const dir2 = fs.mkdtempSync(path.join(os.tmpdir(), 'wasm-glue-'));
  try {
    assert.is(wasmGlueModules(dir), null);
    assert.match(wasmGlueUsed(), /^javascript \(the WebAssembly glue cannot be used: the build has none: no .*wasm-glue\.wasm\)$/);
    const other = binaryen.parseText('(module (import "j" "fd_read" (func (param i32 i32 i32 i32) (result i32))))');
    fs.copyFileSync(path.join(ROOT, 'dist', 'wasm-glue.wasm'), path.join(dir2, 'wasm-glue.wasm'));
    fs.writeFileSync(path.join(dir2, 'wasm-glue-t.wasm'), other.emitBinary());
    other.dispose();
    assert.is(wasmGlueModules(dir2), null);
    assert.match(wasmGlueUsed(), /another build; npm run build makes it again/);
    assert.ok(wasmGlueModules(path.join(ROOT, 'dist')));
    assert.match(wasmGlueUsed(), /^webassembly /);
    assert.is(wasmGlueModules(dir), null, 'asked again');
    assert.match(wasmGlueUsed(), /the build has none/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(dir2, { recursive: true, force: true });
  }
});

test('the glue comes from the build\'s precompiled code; code that is missing, damaged or for other bytes is passed over, with the reason, and the glue compiled here', () => {
  const dist = path.join(ROOT, 'dist');
  for (const f of ['wasm-glue.wasm', 'wasm-glue-t.wasm']) for (const jspi of [false, true]) assert.ok(fs.statSync(kernelCodeFile(path.join(dist, f), jspi)).size > 1000, f);
  const copy = (code: (f: string) => Buffer | null) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wasm-glue-'));
    for (const f of ['wasm-glue.wasm', 'wasm-glue-t.wasm', 'wasm-glue-j.wasm']) {
      fs.copyFileSync(path.join(dist, f), path.join(dir, f));
      const c = f === 'wasm-glue-j.wasm' ? null : code(f);
      if (c) fs.writeFileSync(kernelCodeFile(path.join(dir, f), false), c);
    }
    return dir;
  };
  const built = (f: string) => fs.readFileSync(kernelCodeFile(path.join(dist, f), false));
  const dirs: string[] = [];
  try {
    const cases: [(f: string) => Buffer | null, RegExp][] = [
      [built, /^webassembly \(.*wasm-glue\.wasm, precompiled\) for fd_read, /],
      [() => null, /^webassembly \(.*wasm-glue\.wasm, compiled here: no wasm-glue\.wasm\.code\) for /],
      [(f) => (f === 'wasm-glue.wasm' ? null : built(f)), /compiled here: no wasm-glue\.wasm\.code/],
      [(f) => (f === 'wasm-glue-t.wasm' ? null : built(f)), /compiled here: no wasm-glue-t\.wasm\.code/],
      [(f) => {
        const c = Buffer.from(built(f));
        c[c.length - 50] ^= 0x5a;
        return c;
      }, /compiled here: wasm-glue\.wasm\.code is damaged/],
      // the trampolines' code beside the glue's bytes: code for another module
      [(f) => built(f === 'wasm-glue.wasm' ? 'wasm-glue-t.wasm' : f), /compiled here: wasm-glue\.wasm\.code was made for other bytes/],
    ];
    for (const [code, how] of cases) {
      const dir = copy(code);
      dirs.push(dir);
      const m = wasmGlueModules(dir);
      assert.ok(m, wasmGlueUsed());
      assert.match(wasmGlueUsed(), how);
      // whole modules, which the sandbox can use (their imports and exports as the build's)
      for (const [a, b] of [[m!.glue, mods!.glue], [m!.trampolines, mods!.trampolines]]) {
        assert.equal(WebAssembly.Module.exports(a), WebAssembly.Module.exports(b));
        assert.equal(WebAssembly.Module.imports(a), WebAssembly.Module.imports(b));
      }
      assert.ok(m!.fallback(), 'J compiles');
    }
  } finally {
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  }
});

test('reads and writes of one iovec: every plan kind, pointers at and past the end of memory, alike', () => {
  const scenes: Scene[] = ['page', 'page-unaligned', 'page-across', 'page-outside', 'host', 'host-liar', 'host-far', 'zero', 'two-segs', 'errno', 'empty'];
  // [iovs, out, buffer, length]
  const ptrs: [number, number, number, number][] = [
    [0, 16, 1000, 64],
    [END - 8, END - 4, END - 100, 100],
    [END - 7, 16, 1000, 64],
    [0, END - 3, 1000, 64],
    [0, 16, END - 99, 100],
    [0, 16, 0xffffff00, 0x200],
    [0, 16, 0, 0x7fffffff],
    [0, 16, 2000, 0],
    [0xfffffffc, 16, 1000, 64],
  ];
  const seenResults = new Set<string>();
  for (const scene of scenes) {
    for (const [iovs, out, p, len] of ptrs) {
      const setup = iovs + 8 <= END ? iov(iovs, p, len) : undefined;
      for (const [name, extra] of [['fd_read', []], ['fd_write', []], ['fd_pread', [77n]], ['fd_pwrite', [2n ** 40n]]] as const) {
        const args = extra.length ? [3, iovs, 1, ...extra, out] : [3, iovs, 1, out];
        seenResults.add(String(same(scene, name, args, setup)));
      }
    }
  }
  // the cases reach success, EFAULT, the kernel's errno and kernel faults
  for (const r of ['0', '21', '8', 'fault']) assert.ok(seenResults.has(r), `some case gave ${r}`);
});

test('two iovecs and none go to the JavaScript glue whole', () => {
  const two = (g: DataView) => {
    iov(0, 1000, 30)(g);
    iov(8, 2000, 40)(g);
  };
  for (const scene of ['page', 'host', 'two-segs'] as Scene[]) {
    assert.is(same(scene, 'fd_pwrite', [3, 0, 2, 9n, 16], two), 0);
    assert.is(same(scene, 'fd_read', [3, 0, 2, 16], two), 0);
    same(scene, 'fd_write', [3, 0, 0, 16]);
  }
});

test('fd_fdstat_get: the 24-byte struct copied out, its pointer checked at the end of memory, the errno passed on', () => {
  for (const [fd, ptr] of [[3, 100], [4, END - 24], [4, END - 23], [4, 0xffffffe9], [9, 100], [9, END - 23]]) same('page', 'fd_fdstat_get', [fd, ptr]);
  assert.is(same('page', 'fd_fdstat_get', [9, 100]), 8);
  assert.is(same('page', 'fd_fdstat_get', [3, END - 23]), 21);
  assert.is(same('page', 'fd_fdstat_get', [3, END - 24]), 0);
});

test('fd_filestat_get: the struct copied out, its pointer checked at the end of memory, the errno passed on', () => {
  for (const [fd, ptr] of [[3, 100], [4, END - 64], [4, END - 63], [4, 0xffffffc1], [9, 100]]) same('page', 'fd_filestat_get', [fd, ptr]);
  assert.is(same('page', 'fd_filestat_get', [9, 100]), 8);
  assert.is(same('page', 'fd_filestat_get', [3, END - 63]), 21);
});

test('path_filestat_get: every tail length, paths at the end of memory, "/" first, too long, the struct pointer', () => {
  const put = (at: number, s: string) => (g: DataView) => {
    for (let i = 0; i < s.length; i++) g.setUint8(at + i, s.charCodeAt(i));
  };
  for (let l = 0; l <= 40; l++) {
    const s = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGH'.slice(0, l);
    same('page', 'path_filestat_get', [3, 1, 5000, l, 100], put(5000, s));
    same('page', 'path_filestat_get', [3, 0, END - l, l, 100], put(END - l, s));
    same('page', 'path_filestat_get', [3, 0, END - l + 1, l, 100], l ? put(END - l + 1, s.slice(0, l - 1)) : undefined);
  }
  assert.is(same('page', 'path_filestat_get', [3, 0, 5000, 7, 100], put(5000, 'missing')), 44);
  assert.is(same('page', 'path_filestat_get', [3, 0, 5000, 4, 100], put(5000, '/etc')), 76);
  assert.is(same('page', 'path_filestat_get', [3, 0, 5000, 4, END - 63], put(5000, 'etc/')), 21);
  for (const l of [4095, 4096, 5000, 0xffffffff]) same('page', 'path_filestat_get', [3, 0, 1000, l, 100], put(1000, 'x'.repeat(Math.min(l, 6000))));
  assert.is(same('page', 'path_filestat_get', [3, 0, 1000, 4096, 100]), 37);
});

test('path_open and fd_close: the fd written back, its place and the path checked first, errnos passed on', () => {
  const put = (at: number, s: string) => (g: DataView) => {
    for (let i = 0; i < s.length; i++) g.setUint8(at + i, s.charCodeAt(i));
  };
  // i64s as a guest passes them (signed)
  const open = (p: number, l: number, out: number) => [3, 1, p, l, 9, BigInt.asIntN(64, 0x8000000000000001n), -1n, 4, out];
  for (let l = 0; l <= 20; l++) {
    const s = 'etc/passwd/abcdefghijk'.slice(0, l);
    same('page', 'path_open', open(5000, l, 100), put(5000, s));
    same('page', 'path_open', open(END - l, l, END - 4), put(END - l, s));
    same('page', 'path_open', open(END - l + 1, l, 100), l ? put(END - l + 1, s.slice(0, l - 1)) : undefined);
  }
  assert.is(same('page', 'path_open', open(5000, 3, 100), put(5000, 'etc')), 0);
  assert.is(same('page', 'path_open', open(5000, 3, END - 3), put(5000, 'etc')), 21);
  assert.is(same('page', 'path_open', open(5000, 7, 100), put(5000, 'missing')), 44);
  assert.is(same('page', 'path_open', open(5000, 4, 100), put(5000, '/etc')), 76);
  assert.is(same('page', 'path_open', open(5000, 4096, 100)), 37);
  assert.is(same('page', 'fd_close', [4]), 0);
  assert.is(same('page', 'fd_close', [9]), 8);
});

test('fd_seek and fd_tell: the offset written back, its place checked at the end of memory, errnos passed on', () => {
  for (const out of [100, END - 8, END - 7, 0xfffffffc]) {
    same('page', 'fd_seek', [3, -5n, 1, out]);
    same('page', 'fd_seek', [3, 2n ** 62n, 0, out]);
    same('page', 'fd_tell', [4, out]);
  }
  assert.is(same('page', 'fd_seek', [3, 5n, 7, 100]), 28);
  assert.is(same('page', 'fd_tell', [9, 100]), 8);
  assert.is(same('page', 'fd_seek', [3, 5n, 0, END - 7]), 21);
});

test('unlink, mkdir, rmdir and rename: both paths copied, checked in order, errnos passed on', () => {
  const put = (at: number, s: string) => (g: DataView) => {
    for (let i = 0; i < s.length; i++) g.setUint8(at + i, s.charCodeAt(i));
  };
  for (const n of ['path_unlink_file', 'path_create_directory', 'path_remove_directory']) {
    for (const l of [0, 1, 7, 8, 9, 16, 17]) {
      same('page', n, [3, 5000, l], put(5000, 'abcdefghijklmnopq'.slice(0, l)));
      same('page', n, [3, END - l + 1, l], l ? put(END - l + 1, 'abcdefghijklmnopq'.slice(0, l - 1)) : undefined);
    }
    assert.is(same('page', n, [3, 5000, 7], put(5000, 'missing')), 44);
    assert.is(same('page', n, [3, 5000, 2], put(5000, '/a')), 76);
    assert.is(same('page', n, [3, 5000, 4096]), 37);
  }
  const both = (a: string, b: string) => (g: DataView) => (put(5000, a)(g), put(9000, b)(g));
  for (const [a, b] of [['old', 'new'], ['a/b/c/d/e/f/g/h/i', 'x'], ['', 'y'], ['z', '']]) same('page', 'path_rename', [3, 5000, a.length, 4, 9000, b.length], both(a, b));
  assert.is(same('page', 'path_rename', [3, 5000, 3, 4, 9000, 7], both('old', 'missing')), 44);
  assert.is(same('page', 'path_rename', [3, 5000, 4, 4, 9000, 3], both('/old', 'new')), 76);
  assert.is(same('page', 'path_rename', [3, 5000, 3, 4, 9000, 4], both('old', '/new')), 76);
  assert.is(same('page', 'path_rename', [3, 5000, 3, 4, END - 2, 3], both('old', '')), 21);
  assert.is(same('page', 'path_rename', [3, 5000, 4096, 4, 9000, 3], both('', 'new')), 37);
});

test('fd_readdir: one round or many (a buffer larger than the kernel`s), an errno first or later, a kernel that claims too much, pointers at the end of memory', () => {
  const results = new Set<string>();
  for (const scene of ['dir', 'dir-big', 'dir-liar', 'dir-late-errno'] as Scene[]) {
    for (const [buf, len, out] of [[100, 1000, 50], [100, 60000, 50], [100, 100000, 50], [0, END, END - 4], [END - 39, 39, 50], [100, 0, 50], [100, 1000, END - 3], [END - 100, 101, 50]]) {
      for (const cookie of [0n, 3n]) {
        for (const fd of [3, 9]) results.add(String(same(scene, 'fd_readdir', [fd, buf, len, cookie, out])));
      }
    }
  }
  for (const r of ['0', '21', '54', '20', 'fault']) assert.ok(results.has(r), `some case gave ${r}: ${[...results]}`);
});

/** A process (pid 5) over a stand-in kernel (or what `make` gives), with a memory filestore of 16 pages. */
function fresh(make: (seen: Seen) => Kernel = (seen) => standIn('page', seen)) {
  const seen: Seen = { calls: [] };
  const fs = new MemoryFilestore(1 << 24);
  fs.grow(16);
  const K = make(seen);
  const reports: string[] = [];
  const p = new GuestProcess(K, fs, 5, ['t'], [], { write: () => 0, read: () => 0, filetype: () => 0 });
  return { seen, fs, K, reports, p };
}

/** A guest (WAT) that imports fd_pwrite, writes 4 bytes at fd 3 and then runs `after`. */
function guest(after: string, shared = false): WebAssembly.Module {
  const mem = shared ? '(memory (export "memory") 1 1 shared)' : '(memory (export "memory") 1)';
  const m = binaryen.parseText(`(module
    (import "wasi_snapshot_preview1" "fd_pwrite" (func $pw (param i32 i32 i32 i64 i32) (result i32)))
    ${mem}
    (data (i32.const 0) "\\10\\00\\00\\00\\04\\00\\00\\00")
    (data (i32.const 16) "wxyz")
    (func (export "_start") (drop (call $pw (i32.const 3) (i32.const 0) (i32.const 1) (i64.const 0) (i32.const 32))) ${after}))`);
  m.setFeatures(binaryen.Features.MVP | binaryen.Features.Atomics | binaryen.Features.BulkMemory);
  const bytes = m.emitBinary();
  m.dispose();
  return new WebAssembly.Module(bytes as BufferSource);
}

/** A kernel whose fd_io is WebAssembly that traps (the stand-in's, otherwise). */
function trappingKernel(seen: Seen): Kernel {
  const K = standIn('page', seen);
  const m = binaryen.parseText('(module (func (export "fd_io") (param i32 i32 i32 i64 i32) (result i32) unreachable))');
  const trap = new WebAssembly.Instance(new WebAssembly.Module(m.emitBinary() as BufferSource), {});
  m.dispose();
  (K.exports as any).fd_io = trap.exports.fd_io;
  return K;
}

function host(K: Kernel, fs: MemoryFilestore, reports: string[], glue: WasmGlueModules | undefined): ProcessHost {
  return { kernel: K, filestore: fs, streams: { write: () => 0, read: () => 0, filetype: () => 0 }, report: (l) => reports.push(l), wasmGlue: glue };
}

test('a trap in kernel code under the WebAssembly glue is a kernel fault; one in the guest is the guest`s', () => {
  for (const glue of [mods!, undefined]) {
    const { fs, K, reports, p } = fresh(trappingKernel);
    assert.throws(() => runModule(host(K, fs, reports, glue), p, guest(''), 'g'), (e: unknown) => e instanceof KernelFault, glue ? 'WebAssembly glue' : 'JavaScript glue');
    assert.equal(reports, []);
  }
  for (const glue of [mods!, undefined]) {
    const { seen, fs, K, reports, p } = fresh();
    assert.is(runModule(host(K, fs, reports, glue), p, guest('unreachable'), 'g'), 134);
    assert.ok(/guest trapped/.test(reports.join('\n')), reports.join('\n'));
    assert.is(seen.calls.length, 1, 'the write reached the kernel first');
  }
});

test('before the guest`s memory is known (a start function), every call through the trampolines is EFAULT and reaches nothing', () => {
  const { seen, K, p } = fresh();
  const wg = new WasmGlue(mods!, K.exports, 5, p.wasmGlueSide(), p.imports() as Record<string, (...a: any[]) => any>);
  assert.is(wg.imports.fd_close(3), 21);
  assert.is(wg.imports.fd_pwrite(3, 0, 1, 0n, 16), 21);
  assert.is(wg.imports.path_open(3, 0, 0, 1, 0, 0n, 0n, 0, 16), 21);
  assert.equal(seen.calls, []);
});

test('the host`s check runs before each call through the WebAssembly glue: an ExitSignal ends the guest, any other error is a kernel fault', () => {
  const again = '(drop (call $pw (i32.const 3) (i32.const 0) (i32.const 1) (i64.const 0) (i32.const 32)))';
  for (const glue of [mods!, undefined]) {
    const what = glue ? 'WebAssembly glue' : 'JavaScript glue';
    for (const bad of ['exit', 'error'] as const) {
      const { seen, fs, K, p } = fresh();
      let checks = 0;
      const h: ProcessHost = {
        ...host(K, fs, [], glue),
        expire: () => {
          if (++checks < 2) return;
          if (bad === 'exit') throw new ExitSignal(124);
          throw new Error('the check broke');
        },
      };
      if (bad === 'exit') assert.is(runModule(h, p, guest(again), 'g'), 124, what);
      else assert.throws(() => runModule(h, p, guest(again), 'g'), (e: unknown) => e instanceof KernelFault && /the check broke/.test(e.message), what);
      assert.is(checks, 2, `${what}: checked before each call`);
      assert.is(seen.calls.length, 1, `${what}: the second call did not reach the kernel`);
    }
  }
});

test('a guest with a shared memory keeps the JavaScript glue, and its write still lands', () => {
  const { seen, fs, K, reports, p } = fresh();
  const m = guest('', true);
  const shared = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true } as WebAssembly.MemoryDescriptor);
  const wg = new WasmGlue(mods!, K.exports, 5, p.wasmGlueSide(), p.imports() as Record<string, (...a: any[]) => any>);
  assert.not.ok(wg.bind(shared), 'G does not take a shared memory');
  const none = new WasmGlue({ ...mods!, fallback: () => null }, K.exports, 5, p.wasmGlueSide(), p.imports() as Record<string, (...a: any[]) => any>);
  assert.throws(() => none.bind(shared), /no fallback/);
  assert.is(runModule(host(K, fs, reports, mods!), p, m, 'g'), 0, reports.join('\n'));
  assert.equal(seen.calls, ['fd_io 5 3 4 0 3']);
  // the stand-in planned page 3 at 40: the 4 bytes the guest had at 16
  assert.is(Buffer.from(fs.chunk(0)!.subarray(3 * Page.SIZE + 40, 3 * Page.SIZE + 44)).toString(), 'wxyz');
});

test.run();
