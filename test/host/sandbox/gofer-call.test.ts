// The kernel's gofer_call import (host/sandbox/kernel.ts): requests and answers move between the
// kernel's memory and the transport's window exactly, by 32-bit words where both ends are 4-aligned
// and by bytes otherwise, and a hostile kernel's buffers are refused. Through a stand-in kernel
// module that imports gofer_call and exports it with its memory, and a transport that records what
// it was sent and answers a set pattern; each case runs with a 4-aligned and an unaligned window.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { MemoryFilestore } from '../../../host/filestore/filestore';
import { Kernel, type GoferTransport } from '../../../host/sandbox/kernel';
import { outcome } from '../../lib/sandbox';

/** A module importing host.gofer_call (five i32, one i32 back) and exporting it with a 64 KiB memory. */
function goferCallModule(): WebAssembly.Module {
  const str = (s: string) => [s.length, ...Buffer.from(s)];
  const section = (id: number, body: number[]) => [id, body.length, ...body];
  const I32 = 0x7f;
  const types = [1, 0x60, 5, I32, I32, I32, I32, I32, 1, I32];
  const imports = [1, ...str('host'), ...str('gofer_call'), 0, 0];
  const memory = [1, 0, 1];
  const exports = [2, ...str('memory'), 2, 0, ...str('gofer_call'), 0, 0];
  const bytes = [0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, ...section(1, types), ...section(2, imports), ...section(5, memory), ...section(7, exports)];
  return new WebAssembly.Module(new Uint8Array(bytes));
}

const KMEM = 65536;

/** A transport whose window starts at byte `shift` of its buffer; answers `answer` bytes of pattern 200+i. */
function transport(shift: number) {
  const window = new Uint8Array(new ArrayBuffer(8192 + shift), shift, 8192);
  const seen: { id: number; bytes: number[] }[] = [];
  let answer = 0;
  const t: GoferTransport = {
    window,
    call(id, len) {
      seen.push({ id, bytes: Array.from(window.subarray(0, len)) });
      for (let i = 0; i < answer; i++) window[i] = (200 + i) & 255;
      return answer;
    },
  };
  return { t, seen, answerWith: (n: number) => (answer = n) };
}

function setup(shift: number) {
  const tr = transport(shift);
  const k = new Kernel(goferCallModule(), new MemoryFilestore(1 << 20), tr.t);
  const u8 = new Uint8Array(k.exports.memory.buffer);
  for (let i = 0; i < u8.length; i++) u8[i] = (i * 7 + 1) & 255;
  return { ...tr, k, u8, call: (id: number, req: number, reqLen: number, resp: number, cap: number) => k.exports.gofer_call(id, req, reqLen, resp, cap) };
}


// request at, its length, answer at, answer capacity, answer length
const CASES: [string, number, number, number, number, number][] = [
  ['aligned, a few bytes each way', 1024, 13, 4096, 8192, 21],
  ['aligned, word multiples', 1024, 16, 4096, 8192, 72],
  ['aligned, 128 bytes each way (the word loop\'s most)', 1024, 128, 4096, 8192, 128],
  ['aligned, past the word loop', 1024, 300, 4096, 8192, 500],
  ['an unaligned request', 1025, 13, 4096, 8192, 21],
  ['an unaligned answer', 1024, 13, 4098, 8192, 21],
  ['an answer that fills its capacity to the byte', 1024, 12, 4096, 22, 22],
  ['a request ending at the end of memory', KMEM - 16, 16, 4096, 8192, 8],
  ['no answer', 1024, 8, 4096, 8192, 0],
];

for (const shift of [0, 1]) {
  test(`gofer_call moves exactly the bytes asked for (window ${shift ? 'unaligned' : '4-aligned'})`, () => {
    for (const [name, req, reqLen, resp, cap, answer] of CASES) {
      const s = setup(shift);
      const before = s.u8.slice();
      s.answerWith(answer);
      assert.is(s.call(9, req, reqLen, resp, cap), answer, name);
      assert.equal(s.seen, [{ id: 9, bytes: Array.from(before.subarray(req, req + reqLen)) }], `request: ${name}`);
      for (let i = 0; i < answer; i++) if (s.u8[resp + i] !== ((200 + i) & 255)) assert.unreachable(`${name}: answer byte ${i}`);
      // a word loop may write up to 3 bytes past the answer, never past its capacity, and nothing else
      const end = Math.min(resp + cap, resp + ((answer + 3) & ~3));
      for (let i = 0; i < s.u8.length; i++) {
        if (i >= resp && i < end) continue;
        if (s.u8[i] !== before[i]) assert.unreachable(`${name}: byte ${i} changed`);
      }
    }
  });

  test(`gofer_call refuses a kernel's bad buffers (window ${shift ? 'unaligned' : '4-aligned'})`, () => {
    const bad: [string, number, number, number, number][] = [
      ['a request past memory', KMEM - 8, 9, 0, 16],
      ['a request at 2^32-4 (negative as i32)', -4, 8, 0, 16],
      ['an answer buffer past memory', 0, 8, KMEM - 8, 9],
      ['a request longer than the window', 0, 8193, 16384, 16],
    ];
    for (const [name, req, reqLen, resp, cap] of bad) {
      const s = setup(shift);
      assert.is(outcome(() => s.call(1, req, reqLen, resp, cap)), 'fault', name);
      assert.is(s.seen.length, 0, `${name}: nothing sent`);
    }
    const s = setup(shift);
    const before = s.u8.slice();
    s.answerWith(40);
    assert.is(s.call(1, 0, 8, 4096, 32), -35, 'an answer longer than its capacity: EMSGSIZE');
    assert.equal(s.u8, before, 'and nothing written');
  });
}

test.run();
