// The addon's clock ticker (native/wasmbox_native.c, "A coarse clock"; kernel/host.ts COARSE
// TIME): a thread keeping CLOCK_REALTIME in ns at a slot of a WebAssembly memory every millisecond,
// parking (slot 0) once the u32 after the slot has stayed clear for 256 ticks, woken by clockWake,
// ended by clockStop; made only for a memory whose address V8 keeps fixed. Through a sandbox:
// stamps with no stat between them take no call to the host's clock, --stats says so.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadNative, type NativeAddon } from '../../native/index';

const n = loadNative().addon as NativeAddon;
const have = !!n?.clockTicker;
if (!have) console.log(`SKIP clock ticker: ${loadNative().reason ?? 'the addon lacks clockTicker (rebuild it)'}`);
const t = have ? test : test.skip;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const nowNs = () => BigInt(Date.now()) * 1_000_000n;

t('clockTicker: keeps the time at the slot, parks unused, wakes, stops', async () => {
  const mem = new WebAssembly.Memory({ initial: 1, maximum: 10 });
  const dv = () => new DataView(mem.buffer);
  const slot = 4096;
  const ticker = n.clockTicker!(mem, slot)!;
  assert.ok(ticker, 'made for a WebAssembly memory');
  try {
    const use = setInterval(() => dv().setUint32(slot + 8, 1, true), 2); // the kernel taking the time
    await sleep(30);
    const got = dv().getBigUint64(slot, true);
    assert.ok(got > nowNs() - 50_000_000n && got <= nowNs() + 50_000_000n, `the time: ${got} against ${nowNs()}`);
    await sleep(20);
    assert.ok(dv().getBigUint64(slot, true) > got, 'it ticks');
    // the memory grows (a new buffer, the same address): the slot is still kept
    mem.grow(2);
    await sleep(20);
    assert.ok(dv().getBigUint64(slot, true) > got);
    clearInterval(use);
    // unused for 256 ticks: 0, and it stays so
    let parked = false;
    for (let i = 0; i < 100 && !parked; i++) {
      await sleep(20);
      parked = dv().getBigUint64(slot, true) === 0n;
    }
    assert.ok(parked, 'parked once unused');
    await sleep(30);
    assert.is(dv().getBigUint64(slot, true), 0n, 'no ticks while parked');
    n.clockWake!(ticker);
    await sleep(30);
    assert.ok(dv().getBigUint64(slot, true) > got, 'woken');
  } finally {
    n.clockStop!(ticker);
  }
  dv().setBigUint64(slot, 7n, true);
  await sleep(30);
  assert.is(dv().getBigUint64(slot, true), 7n, 'nothing stored once stopped');
  n.clockStop!(ticker); // again: nothing
});

t('clockTicker: null for memory whose address may move; bad arguments are clean errors', () => {
  assert.is(n.clockTicker!({ buffer: new ArrayBuffer(65536) } as unknown as WebAssembly.Memory, 0), null);
  const mem = new WebAssembly.Memory({ initial: 1 });
  assert.throws(() => n.clockTicker!(mem, 4), /multiple of 8/);
  assert.throws(() => n.clockTicker!(mem, 65536 - 8), /passes the end of the memory/);
  assert.throws(() => n.clockTicker!(mem, -8), /offset/);
  assert.throws(() => (n.clockTicker as any)({}, 0), /memory must be a WebAssembly.Memory/);
  assert.throws(() => n.clockWake!({} as any), /ticker must be what clockTicker\(\) returned/);
});

t('through a sandbox: writes with no stat between take the coarse clock, no call out; WASMBOX_COARSE_CLOCK=0 calls each time', () => {
  const run = (env: Record<string, string>) => {
    const r = spawnSync(process.execPath, [path.join(process.cwd(), 'host/run.js'), '--stats', 'dist/images/default.tar', 'sh', '-c', 'i=0; while [ $i -lt 300 ]; do echo x >> /tmp/f; i=$((i+1)); done; wc -l < /tmp/f'], {
      encoding: 'utf8',
      env: { ...process.env, ...env },
    });
    assert.is(r.status, 0, r.stderr);
    assert.is(r.stdout.trim(), '300');
    const reads = Number((/hostClockReads (\d+)/.exec(r.stderr) ?? [])[1]);
    const clock = (/stats: clock (.*)/.exec(r.stderr) ?? [])[1];
    return { reads, clock };
  };
  const coarse = run({});
  assert.is(coarse.clock, 'coarse (a ticker every 1 ms)');
  const fine = run({ WASMBOX_COARSE_CLOCK: '0' });
  assert.match(fine.clock, /fine only \(WASMBOX_COARSE_CLOCK=0\)/);
  assert.ok(fine.reads >= 300, `every append stamps the file: ${fine.reads} calls`);
  assert.ok(coarse.reads < fine.reads / 4, `coarse: ${coarse.reads} calls against ${fine.reads}`);
});

test.run();
