// The shared-memory channel: exactly one response per request, payloads up to the 2 MiB window,
// errnos carried through, a server that survives its handler failing, lengths clamped on both
// sides, and a dead gofer turned into EIO instead of a hang.
import esbuild from 'esbuild';
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';
import { Worker } from 'node:worker_threads';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ChannelClient, createChannelBuffer } from '../../gofer/channel';
import { Chan } from '../../gofer/protocol/messages';

const workerDir = fs.mkdtempSync(path.join(os.tmpdir(), 'wasmbox-chan-'));
process.on('exit', () => fs.rmSync(workerDir, { recursive: true, force: true }));
const workerFile = path.join(workerDir, 'echo-worker.cjs');
esbuild.buildSync({ entryPoints: [path.join(__dirname.split('.cache')[0], 'test/gofer/fixtures/echo-worker.ts')], bundle: true, platform: 'node', format: 'cjs', outfile: workerFile, logLevel: 'error' });

const sab = createChannelBuffer();
const worker = new Worker(workerFile, { workerData: { sab } });
const client = new ChannelClient(sab);

test('payloads of every size up to the window come back transformed', () => {
  for (const n of [0, 1, 7, 4096, 65537, Chan.Window]) {
    for (let i = 0; i < n; i++) client.window[i] = i & 255;
    const r = client.call(1, n);
    assert.is(r, n);
    for (const i of [0, n >> 1, n - 1]) if (n > 0) assert.is(client.window[i], (i + 1) & 255);
  }
});

test('an errno from the handler reaches the client, and the next call still works', () => {
  client.window[0] = 44;
  assert.is(client.call(2, 1), -44);
  client.window[0] = 1;
  assert.is(client.call(1, 1), 1);
  assert.is(client.window[0], 2);
});

test('a throwing handler becomes EIO and the server keeps serving', () => {
  assert.is(client.call(3, 0), -29);
  assert.is(client.call(1, 0), 0);
});

test('a response length past the window is refused by the client', () => {
  assert.is(client.call(4, 0), -29);
  assert.is(client.call(1, 3), 3);
});

test('a request length past the window is refused by the server', () => {
  assert.is(client.call(1, Chan.Window + 1), -28);
  assert.is(client.call(1, -5), -28);
  assert.is(client.call(1, 2), 2);
});

test('ten thousand round trips stay in step', () => {
  for (let i = 0; i < 10000; i++) {
    client.window[0] = i & 255;
    assert.is(client.call(1, 1), 1);
    if (client.window[0] !== ((i + 1) & 255)) assert.unreachable(`round trip ${i} out of step`);
  }
});

test('after the worker is gone, calls fail with EIO at once instead of hanging', async () => {
  await worker.terminate();
  client.markDead();
  const t0 = Date.now();
  assert.is(client.call(1, 1), -29);
  assert.ok(Date.now() - t0 < 1000);
});

test('a client whose server never answers gives up with EIO after its timeout', () => {
  const lonely = new ChannelClient(createChannelBuffer());
  lonely.timeoutMs = 300;
  const t0 = Date.now();
  assert.is(lonely.call(1, 0), -29);
  assert.ok(Date.now() - t0 >= 250);
  assert.is(lonely.call(1, 0), -29); // and stays dead
});

test.run();
