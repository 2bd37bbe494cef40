// The addon's hostRw (native/wasmbox_native.c, for gofer/hostdirect.ts NATIVE HOST I/O): a
// function that reads or writes a host file straight into or out of a WebAssembly memory, made
// only for a memory whose address V8 keeps fixed (a guard-region reservation of 8 GiB or more),
// serving only the slots its fd table names, a read-only slot for reads only, and answering
// HOST_RW_ASK for everything else, including every failed system call (so that the JavaScript
// path, with its checks and errno mapping, decides); counted in its counts array. Guest ranges go to
// pread/pwrite, so an unmapped page is EFAULT or a short count from the host kernel, never a fault.
// It and pageCopy are plain V8 functions, not N-API ones (native/rawcall.cc), unless WASMBOX_RAW_CALLS=0.
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { HOST_RW_ASK, loadNative, type NativeAddon } from '../../native/index';
import { Ref } from '../../gofer/protocol/messages';
import { tempDir } from '../lib/images';
import { glueText } from '../../host/sandbox/wasm-glue';

const n = loadNative().addon as NativeAddon;
const have = !!n?.hostRw;
if (!have) console.log(`SKIP hostRw: ${loadNative().reason ?? 'the addon lacks hostRw (rebuild it)'}`);
const t = have ? test : test.skip;

t('hostRw: made for a WebAssembly memory, not for a plain buffer; wrong arguments are clean errors', () => {
  const fds = new Int32Array(8);
  const counts = new Uint32Array(2);
  assert.type(n.hostRw!(new WebAssembly.Memory({ initial: 1 }), fds, counts), 'function');
  // an ArrayBuffer's data is not followed by a reservation of 8 GiB: its address is not trusted
  assert.is(n.hostRw!({ buffer: new ArrayBuffer(1 << 16) } as unknown as WebAssembly.Memory, fds, counts), null);
  assert.throws(() => (n.hostRw as any)({}, fds, counts), /memory must be a WebAssembly.Memory/);
  assert.throws(() => (n.hostRw as any)(new WebAssembly.Memory({ initial: 1 }), new Uint32Array(8), counts), /fds must be an Int32Array/);
  assert.throws(() => (n.hostRw as any)(new WebAssembly.Memory({ initial: 1 }), fds, new Uint32Array(1)), /counts must be a Uint32Array of 2/);
});

/** A file holding `content`, open read-write; a memory (growable); a hostRw over it and empty tables. */
function setup(content: string) {
  const file = path.join(tempDir('host-rw'), 'f');
  fs.writeFileSync(file, content);
  const fd = fs.openSync(file, 'r+');
  const mem = new WebAssembly.Memory({ initial: 1, maximum: 100 });
  const fds = new Int32Array(8);
  const counts = new Uint32Array(2);
  return { file, fd, mem, fds, counts, rw: n.hostRw!(mem, fds, counts)! };
}

t('hostRw: reads and writes the slots its table names, at the position asked, into and out of the memory, also after it grows', () => {
  const { file, fd, mem, fds, counts, rw } = setup('hello, host file');
  const H = Ref.Host;
  try {
    fds[5] = fd + 1;
    assert.is(rw(0, H | 5, 7, 0, 100, 9), 9);
    assert.is(Buffer.from(mem.buffer, 100, 9).toString(), 'host file');
    new Uint8Array(mem.buffer).set(Buffer.from('HOST'), 300);
    assert.is(rw(1, H | 5, 7, 0, 300, 4), 4);
    assert.is(fs.readFileSync(file, 'utf8'), 'hello, HOST file');
    // the memory grows (its buffer changes): the same function reaches the new pages
    mem.grow(10);
    assert.is(rw(0, H | 5, 0, 0, 5 * 65536 + 17, 5), 5);
    assert.is(Buffer.from(mem.buffer, 5 * 65536 + 17, 5).toString(), 'hello');
    // past the end of the file: 0, as pread says
    assert.is(rw(0, H | 5, 1000, 0, 100, 9), 0);
    // a position of 2^32 + 7 is the high word's
    assert.is(rw(0, H | 5, 7, 1, 100, 9), 0);
    assert.equal([...counts], [4, 1]);
  } finally {
    fs.closeSync(fd);
  }
});

t('hostRw: HOST_RW_ASK for all it does not serve, and nothing moved', () => {
  const { file, fd, mem, fds, counts, rw } = setup('abc');
  const dfd = fs.openSync(path.dirname(file), 'r');
  const H = Ref.Host;
  try {
    fds[1] = fd + 1;
    fds[2] = -(fd + 1); // a read-only mount's
    fds[3] = dfd + 1; // a directory: read fails (EISDIR)
    const asks: [string, number[]][] = [
      ['no Host bit', [0, 1, 0, 0, 0, 3]],
      ['an empty slot', [0, H | 4, 0, 0, 0, 3]],
      ['a slot past the table', [0, H | 8, 0, 0, 0, 3]],
      ['a slot far past it', [0, H | 0x3fffffff, 0, 0, 0, 3]],
      ['a write on a read-only mount', [1, H | 2, 0, 0, 0, 3]],
      ['a position past 2^53', [0, H | 1, 0, 0x200000, 0, 3]],
      ['a range past 4 GiB', [0, H | 1, 0, 0, 0xffffffff, 2]],
      ['a length past Linux\'s cap', [0, H | 1, 0, 0, 0, 0x7ffff001]],
      ['a range wholly past the memory, inside the reservation (EFAULT from the host)', [0, H | 1, 0, 0, 65536, 3]],
      ['a failed read (EISDIR)', [0, H | 3, 0, 0, 0, 3]],
    ];
    for (const [why, a] of asks) assert.is((rw as any)(...a), HOST_RW_ASK, why);
    assert.equal([...counts], [0, 0], 'nothing counted');
    assert.is(fs.readFileSync(file, 'utf8'), 'abc');
    assert.ok(new Uint8Array(mem.buffer).every((b) => b === 0), 'nothing moved into the memory');
    // a range running past the memory: the host kernel moves what is mapped and stops (the glue
    // never asks for such a range: it checks the guest's pointers first)
    assert.is(rw(0, H | 1, 0, 0, 65535, 3), 1);
    assert.is(new Uint8Array(mem.buffer)[65535], 'a'.charCodeAt(0));
    // a read-only slot still reads
    assert.is(rw(0, H | 2, 0, 0, 10, 3), 3);
    assert.is(Buffer.from(mem.buffer, 10, 3).toString(), 'abc');
  } finally {
    fs.closeSync(fd);
    fs.closeSync(dfd);
  }
});

t('hostRw and pageCopy are plain V8 functions (native/rawcall.cc), N-API ones with WASMBOX_RAW_CALLS=0; both answer alike', () => {
  const made = (raw: boolean) => {
    const before = process.env.WASMBOX_RAW_CALLS;
    if (raw) delete process.env.WASMBOX_RAW_CALLS;
    else process.env.WASMBOX_RAW_CALLS = '0';
    try {
      const s = setup('0123456789');
      const store = n.pageStore!();
      return { ...s, page: n.pageCopy!(store, s.mem)! };
    } finally {
      if (before === undefined) delete process.env.WASMBOX_RAW_CALLS;
      else process.env.WASMBOX_RAW_CALLS = before;
    }
  };
  const H = Ref.Host;
  const seen: unknown[][] = [];
  for (const raw of [true, false]) {
    const { fd, fds, rw, page, mem } = made(raw);
    try {
      // V8 gives a function made from a template its argument count as its length; N-API's have 0
      assert.is(rw.length, raw ? 6 : 0, 'hostRw length');
      assert.is(page.length, raw ? 5 : 0, 'pageCopy length');
      fds[2] = fd + 1;
      const r = [
        rw(0, H | 2, 3, 0, 40, 4),
        Buffer.from(mem.buffer, 40, 4).toString(),
        (rw as any)(0, H | 2, 3, 0, 40), // too few arguments
        (rw as any)(0, H | 2, '3', 0, 40, 4), // not a number
        rw(0, H | 2, -1, 0, 40, 4), // a negative i32 is its bits: position 2^32 - 1, past the end
        rw(0, H | 2, 0, 0, -4096, 2), // a pointer as a negative i32, its bits: 2^32 - 4096, unmapped (EFAULT: asked)
        page(1, 0, 0, 0, 16), // a store with no pages: not its to copy
        (page as any)(1, 0, 0, 0), // too few arguments
      ];
      seen.push(r);
    } finally {
      fs.closeSync(fd);
    }
  }
  assert.equal(seen[0], [4, '3456', HOST_RW_ASK, HOST_RW_ASK, 0, HOST_RW_ASK, 1, 1]);
  assert.equal(seen[1], seen[0]);
});

test('HOST_RW_ASK is the value the WebAssembly glue tests for', () => {
  assert.match(glueText(), new RegExp(`\\(i32\\.const ${HOST_RW_ASK}\\)`));
});

test.run();
