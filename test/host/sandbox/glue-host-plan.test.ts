// The glue's checks on a host-file plan (Seg.Host: the gofer moves a host file's bytes straight
// into or out of guest memory, then the kernel takes note through io_commit). The kernel is
// untrusted, so a plan whose count the gofer did not move, or a commit that claims more than was
// moved, is a kernel fault, and a good plan sets the count the commit gives. A read or write of one
// iovec goes through the glue's FAST PATH (rwFast), of two through the general path (rw, runPlan,
// hostTransfer): both are run here against the same fake kernel and must answer alike.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Io, Plan, PlanFlag, Seg } from '../../../kernel/abi';
import { MemoryFilestore } from '../../../host/filestore/filestore';
import { GuestProcess } from '../../../host/sandbox/glue';
import { type Kernel, KernelFault } from '../../../host/sandbox/kernel';
import { hostIOOnly, kernelViews } from '../../lib/kernel';

interface Fake {
  /** What the gofer's hostIO answers for a request of `len` bytes (it also fills a read with 7s). */
  moved: (len: number) => number;
  /** What the kernel's io_commit returns and leaves in RES[0], given the gofer's result. */
  commit: (result: number) => { errno: number; count: number };
  /** The plan's segment length and file offset. */
  len: number;
  pos: number;
  /** What the fake saw. */
  hostCalls: { write: boolean; handle: number; pos: number; off: number; len: number }[];
  commits: number[];
}

function fakeKernel(f: Fake): Kernel {
  const u8 = new Uint8Array(1 << 16);
  const io = 8192 - Io.RES; // any 8-aligned place with room for the exchange area's words used here
  const dv = new DataView(u8.buffer);
  const res = io + Io.RES;
  return {
    ...kernelViews(u8, io),
    gofer: hostIOOnly((write: boolean, handle: number, pos: number, buf: Uint8Array, off: number, len: number): number => {
      f.hostCalls.push({ write, handle, pos, off, len });
      const n = f.moved(len);
      if (!write && n > 0) buf.fill(7, off, off + Math.min(n, len));
      return n;
    }),
    exports: {
      fd_io: () => {
        const s = io + Io.SEGS;
        dv.setUint32(s, Seg.Host, true);
        dv.setUint32(s + 4, f.len, true);
        dv.setUint32(s + 8, 0x40000005, true); // a host handle
        dv.setUint32(s + 12, 0, true);
        dv.setUint32(res + 4 * Plan.BYTES, f.len, true);
        dv.setUint32(res + 4 * Plan.NSEGS, 1, true);
        dv.setUint32(res + 4 * Plan.FLAGS, PlanFlag.COMMIT, true);
        dv.setUint32(res + 4 * Plan.HOST_OFF, f.pos % 0x100000000, true);
        dv.setUint32(res + 4 * Plan.HOST_OFF + 4, Math.floor(f.pos / 0x100000000), true);
        return 0;
      },
      io_commit: (_pid: number, result: number) => {
        f.commits.push(result);
        const c = f.commit(result);
        dv.setUint32(res, c.count, true);
        return c.errno;
      },
      io_abort: () => 0,
    },
  } as unknown as Kernel;
}

/** fd_pread (or fd_pwrite) of 64 bytes at guest offset 1000, as one iovec or as two of 32; the result, the count written back, and the bytes. */
function run(f: Fake, write: boolean, iovecs: 1 | 2): { r: number | 'fault'; count: number; data: Uint8Array } {
  const p = new GuestProcess(fakeKernel(f), new MemoryFilestore(1 << 20), 1, ['t'], [], { write: () => 0, read: () => 0, filetype: () => 0 });
  const mem = new WebAssembly.Memory({ initial: 1 });
  p.bindMemory(mem);
  const dv = new DataView(mem.buffer);
  if (iovecs === 1) {
    dv.setUint32(0, 1000, true);
    dv.setUint32(4, 64, true);
  } else {
    dv.setUint32(0, 1000, true);
    dv.setUint32(4, 32, true);
    dv.setUint32(8, 1032, true);
    dv.setUint32(12, 32, true);
  }
  dv.setUint32(100, 0xdeadbeef, true);
  const imports = p.imports() as Record<string, (...a: unknown[]) => number>;
  let r: number | 'fault';
  try {
    r = imports[write ? 'fd_pwrite' : 'fd_pread'](3, 0, iovecs, 5n, 100);
  } catch (e) {
    if (!(e instanceof KernelFault)) throw e;
    r = 'fault';
  }
  return { r, count: dv.getUint32(100, true), data: new Uint8Array(mem.buffer, 1000, 64).slice() };
}

const fake = (over: Partial<Fake>): Fake => ({ moved: (n) => n, commit: (r) => ({ errno: 0, count: Math.max(r, 0) }), len: 64, pos: 5, hostCalls: [], commits: [], ...over });

test('a host-file plan: the gofer moves the bytes at the plan offset, the commit sets the count; one iovec and two alike', () => {
  for (const write of [false, true]) {
    for (const iovecs of [1, 2] as const) {
      const f = fake({ pos: 2 ** 40 + 3 });
      const out = run(f, write, iovecs);
      const what = `${write ? 'write' : 'read'}, ${iovecs} iovec(s)`;
      assert.is(out.r, 0, what);
      assert.is(out.count, 64, what);
      assert.equal(f.commits, [64], what);
      assert.is(f.hostCalls.reduce((a, c) => a + c.len, 0), 64, what);
      assert.is(f.hostCalls[0].pos, 2 ** 40 + 3, what);
      assert.is(f.hostCalls[0].handle, 0x40000005, what);
      if (!write) assert.ok(out.data.every((b) => b === 7), what);
    }
  }
});

test('a short count from the gofer is what the commit is told; a failure goes to the commit as -errno', () => {
  for (const iovecs of [1, 2] as const) {
    const f = fake({ moved: (n) => Math.min(n, 10) });
    const out = run(f, false, iovecs);
    assert.is(out.r, 0);
    assert.is(out.count, 10, `${iovecs} iovec(s)`);
    assert.equal(f.commits, [10]);
    const g = fake({ moved: () => -28, commit: (r) => ({ errno: -r, count: 0 }) });
    const bad = run(g, true, iovecs);
    assert.is(bad.r, 28, `the errno the commit returns, ${iovecs} iovec(s)`);
    assert.equal(g.commits, [-28]);
    assert.is(bad.count, 0xdeadbeef, 'no count written on an error');
  }
});

test('a hostile kernel: a gofer count past the plan, a commit claiming more than moved, an offset past 2^53: kernel faults, one iovec and two alike', () => {
  const cases: [string, Partial<Fake>][] = [
    ['the gofer moved more than planned', { moved: (n) => n + 1 }],
    ['the commit claims more than moved', { moved: () => 10, commit: () => ({ errno: 0, count: 11 }) }],
    ['an offset past 2^53', { pos: 2 ** 53 + 2 }],
  ];
  for (const [what, over] of cases) {
    for (const iovecs of [1, 2] as const) {
      for (const write of [false, true]) {
        const out = run(fake(over), write, iovecs);
        assert.is(out.r, 'fault', `${what}: ${write ? 'write' : 'read'}, ${iovecs} iovec(s)`);
        assert.is(out.count, 0xdeadbeef, `${what}: no count written`);
      }
    }
  }
});

test.run();
