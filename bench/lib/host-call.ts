// One host system call's cost, back to back and with other work between (bench/gofer.mjs bundles
// and runs this): renameat2 through the native addon, relative to a held directory fd, as the gofer
// makes it, in a tight loop, then with K KiB of memory read between calls (the sandbox's own work
// between two host calls: the guest, the glue, the kernel, the gofer). The call's own time is the
// loop's minus that of the same reads alone. Prints one JSON line: { K: ns per call }.
// Usage: node host-call.cjs DIR [N]
import fs from 'node:fs';
import path from 'node:path';
import { loadNative } from '../../native/index';

const n = loadNative().addon;
if (!n?.renameat2) throw new Error(`the native addon is needed: ${loadNative().reason ?? 'it lacks renameat2'}`);
const dir = fs.mkdtempSync(path.join(process.argv[2], 'host-call-'));
fs.writeFileSync(path.join(dir, 'a'), '');
const dfd = fs.openSync(dir, fs.constants.O_DIRECTORY | fs.constants.O_RDONLY);
const N = Number(process.argv[3] ?? 100000);
const a = new Uint8Array([0x61]);
const b = new Uint8Array([0x62]);
const area = new Uint8Array(64 << 20);
let sink = 0;
/** Reads `kb` KiB, a byte per 64-byte line, from a place in `area` that moves on each call. */
function work(kb: number, i: number): void {
  const base = ((i * 7919) % 1000) * 65536;
  for (let j = 0; j < kb * 16; j++) sink += area[base + j * 64];
}
const out: Record<string, number> = {};
for (const kb of [0, 4, 16, 64]) {
  let both = Infinity;
  let alone = Infinity;
  for (let round = 0; round < 3; round++) {
    let t = process.hrtime.bigint();
    for (let i = 0; i < N; i++) {
      work(kb, i);
      if (n.renameat2(dfd, i & 1 ? b : a, dfd, i & 1 ? a : b, 0) !== 0) throw new Error('renameat2 failed');
    }
    both = Math.min(both, Number(process.hrtime.bigint() - t) / N);
    t = process.hrtime.bigint();
    for (let i = 0; i < N; i++) work(kb, i);
    alone = Math.min(alone, Number(process.hrtime.bigint() - t) / N);
  }
  out[kb] = both - alone;
}
fs.closeSync(dfd);
fs.rmSync(dir, { recursive: true, force: true });
process.stdout.write(JSON.stringify({ ...out, sink: sink & 1 }) + '\n');
