// The gofer's no-op round trip (bench/gofer.mjs bundles and runs this): Msg.Nop through the
// shared-memory channel to a real gofer worker (dist/gofer-worker.js), and the same request handed
// to the server in this thread (--gofer inline). Prints one JSON line: ns per call for each, back
// to back (the worker still spinning from the last answer) and after a 1 ms pause (the worker has
// gone to sleep in Atomics.wait and must be woken).
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { ChannelClient, createChannelBuffer } from '../../gofer/channel';
import { Msg } from '../../gofer/protocol/messages';
import { createGofer } from '../../gofer/setup';

const N = Number(process.argv[2] ?? 200000);
const dist = path.resolve(process.argv[3]);

function perCall(fn: () => void, n: number): number {
  for (let i = 0; i < Math.min(n, 20000); i++) fn(); // warm up
  const t = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn();
  return Number(process.hrtime.bigint() - t) / n;
}

const g = createGofer({ image: null, mounts: [], cacheDir: '/nonexistent' });
const w = new Uint8Array(0x200000);
const inline = perCall(() => {
  if (g.server.handle(Msg.Nop, 0, w) !== 0) throw new Error('inline Nop failed');
}, N);

const sab = createChannelBuffer();
const worker = new Worker(path.join(dist, 'gofer-worker.js'), { workerData: { image: null, mounts: [], cacheDir: '/nonexistent', sab } });
worker.once('message', (m: { type: string }) => {
  if (m.type !== 'ready') throw new Error(`gofer worker: ${JSON.stringify(m)}`);
  const client = new ChannelClient(sab);
  const viaWorker = perCall(() => {
    if (client.call(Msg.Nop, 0) !== 0) throw new Error('worker Nop failed');
  }, N);
  // after a pause: each call timed alone
  const M = 2000;
  let total = 0n;
  for (let i = 0; i < M; i++) {
    const until = process.hrtime.bigint() + 1_000_000n;
    while (process.hrtime.bigint() < until);
    const t = process.hrtime.bigint();
    if (client.call(Msg.Nop, 0) !== 0) throw new Error('worker Nop failed');
    total += process.hrtime.bigint() - t;
  }
  process.stdout.write(JSON.stringify({ inlineNs: inline, workerNs: viaWorker, workerAfterPauseNs: Number(total) / M, n: N }) + '\n');
  process.exit(0);
});
