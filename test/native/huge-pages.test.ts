// The addon's hugePages (native/wasmbox_native.c) and its use by the sandbox (host/sandbox/huge-pages.ts):
// a WebAssembly memory's reservation past its first 2 MiB is advised MADV_HUGEPAGE (the "hg" flag
// in /proc/self/smaps, checked rather than huge pages themselves, which depend on the host's free
// memory), the advice survives V8 growing the memory, a file mapping is left alone, and a sandbox
// advises each process's memory unless WASMBOX_HUGE_PAGES=0.
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadNative } from '../../native/index';
import { buildImage, tempDir } from '../lib/images';
import { guestWasm, ROOT, runSandbox } from '../lib/sandbox';

const n = loadNative().addon;
const thp = (() => {
  try {
    return !/\[never\]/.test(fs.readFileSync('/sys/kernel/mm/transparent_hugepage/enabled', 'utf8'));
  } catch {
    return false;
  }
})();
/**
 * Every memory the tests make, kept alive: one collected while a test counts the advised bytes
 * would take its advised mapping with it.
 */
const keep: WebAssembly.Memory[] = [];
const memory = (d: WebAssembly.MemoryDescriptor) => (keep.push(new WebAssembly.Memory(d)), keep[keep.length - 1]);
// a kernel before 6.11 has no PROCMAP_QUERY, and the addon then advises nothing
const probe = () => n!.hugePages!(memory({ initial: 1, maximum: 1024 }).buffer, 0, 2 ** 26) > 0;
const why = !n?.hugePages
  ? `SKIP huge pages: ${loadNative().reason ?? 'the addon lacks hugePages (rebuild it)'}`
  : !thp
    ? 'SKIP huge pages: this kernel has no transparent huge pages'
    : !probe()
      ? 'SKIP huge pages: this kernel gives no advice (no PROCMAP_QUERY before Linux 6.11)'
      : null;
if (why) console.log(why);
const t = why ? test.skip : test;
const MiB = 2 ** 20;

/** Bytes of this process's mappings advised MADV_HUGEPAGE, and the huge pages in them. */
function advised(): { bytes: number; huge: number } {
  let bytes = 0;
  let huge = 0;
  let size = 0;
  let hugeHere = 0;
  for (const line of fs.readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
    const range = /^([0-9a-f]+)-([0-9a-f]+) /.exec(line);
    if (range) size = Number(BigInt(`0x${range[2]}`) - BigInt(`0x${range[1]}`));
    const h = /^AnonHugePages:\s+(\d+) kB/.exec(line);
    if (h) hugeHere = Number(h[1]) * 1024;
    if (line.startsWith('VmFlags:') && / hg( |$)/.test(line)) {
      bytes += size;
      huge += hugeHere;
    }
  }
  return { bytes, huge };
}

t('a memory is advised past its first 2 MiB, across V8 growing it', () => {
  const mem = memory({ initial: 1, maximum: 65536 });
  const before = advised();
  const got = n!.hugePages!(mem.buffer, 2 * MiB, 2 ** 32);
  assert.ok(got >= 2 ** 32 - 6 * MiB && got <= 2 ** 32 - 2 * MiB, `advised ${got} bytes`);
  assert.is(got % (2 * MiB), 0);
  assert.is(advised().bytes - before.bytes, got);
  mem.grow(64 * 16); // 64 MiB more, made accessible by V8
  new Uint8Array(mem.buffer).fill(1);
  const after = advised();
  assert.is(after.bytes - before.bytes, got, 'the flag stays on the pages V8 made accessible');
  console.log(`  (huge pages in the grown memory: ${Math.round((after.huge - before.huge) / MiB)} MiB of 64)`);
});

t('the reserve and the start are honoured, in whole 2 MiB blocks', () => {
  const mem = memory({ initial: 1, maximum: 65536 });
  const before = advised().bytes;
  const got = n!.hugePages!(mem.buffer, 0, 9 * MiB);
  assert.ok(got === 8 * MiB || got === 6 * MiB, `advised ${got} bytes`); // the data's alignment decides
  assert.is(advised().bytes - before, got);
  assert.is(n!.hugePages!(memory({ initial: 1 }).buffer, 4 * MiB, 5 * MiB), 0); // no whole block
});

t('a file mapping is not advised; arguments are checked', () => {
  const file = path.join(tempDir('huge'), 'f');
  fs.writeFileSync(file, Buffer.alloc(8 * MiB));
  const fd = fs.openSync(file, 'r+');
  const ab = n!.mmap(fd, 0, 8 * MiB);
  assert.is(n!.hugePages!(ab, 0, 8 * MiB), 0);
  n!.munmap(ab);
  fs.closeSync(fd);
  assert.throws(() => n!.hugePages!(new Uint8Array(8) as any, 0, 0), /buffer must be an ArrayBuffer/);
  assert.throws(() => n!.hugePages!(new ArrayBuffer(8), -1, 0), /from must be an integer/);
});

t('a sandbox advises each process, and WASMBOX_HUGE_PAGES=0 turns that off', () => {
  const image = path.join(ROOT, 'dist/images/default.tar');
  const on = runSandbox(['--stats', image, 'sh', '-c', '/bin/true; /bin/true']);
  assert.is(on.status, 0, on.stderr);
  assert.match(on.stderr, /stats: hugePages advised \(3 memories, \d+ MiB of address space\)/);
  const off = runSandbox(['--stats', image, '/bin/true'], { env: { WASMBOX_HUGE_PAGES: '0' } });
  assert.is(off.status, 0, off.stderr);
  assert.match(off.stderr, /stats: hugePages off \(WASMBOX_HUGE_PAGES=0\)/);
});

// The benchmark's guest (bench/memory.mjs) fills and checks its block, advised or not: the same answer.
test('a guest taking 96 MiB at once fills it the same with and without the advice', () => {
  const img = buildImage({ layers: [[{ path: 'memfill', type: 'file', data: guestWasm('memfill'), mode: 0o755 }]] }, { format: 'oci' });
  for (const env of [{}, { WASMBOX_HUGE_PAGES: '0' }] as Record<string, string>[]) {
    const r = runSandbox([img, '/memfill', '96'], { env });
    assert.is(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^memfill n=100663296 first_ns=\d+ again_ns=\d+$/m);
  }
});

test.run();
