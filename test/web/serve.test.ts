// The demo's server (host/web/serve.mjs): cross-origin isolation headers on everything, HTTP Range
// reads of the image (what the page's gofer depends on), and nothing outside its routes.
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startServer } from '../../host/web/serve.mjs';
import { tempDir } from '../lib/images';

const dir = tempDir('serve');
const image = path.join(dir, 'img.tar');
const bytes = new Uint8Array(100_000).map((_, i) => (i * 7) & 255);
fs.writeFileSync(image, bytes);
let server: { url: string; close(): Promise<void> };

test.before(async () => {
  server = await startServer({ port: 0, image });
});
test.after(async () => {
  await server.close();
});

const get = (p: string, headers: Record<string, string> = {}) => fetch(new URL(p, server.url), { headers });

test('every response carries COOP, COEP and CORP (SharedArrayBuffer needs them)', async () => {
  for (const p of ['/kernel.wasm', '/images/default.tar', '/nope']) {
    const r = await get(p);
    assert.is(r.headers.get('cross-origin-opener-policy'), 'same-origin', p);
    assert.is(r.headers.get('cross-origin-embedder-policy'), 'require-corp', p);
    assert.is(r.headers.get('cross-origin-resource-policy'), 'same-origin', p);
    await r.arrayBuffer();
  }
  const w = await get('/kernel.wasm');
  assert.is(w.headers.get('content-type'), 'application/wasm');
  await w.arrayBuffer();
});

test('ranges of the image: 206 with Content-Range and exactly the bytes asked for', async () => {
  for (const [range, lo, hi] of [
    ['bytes=0-0', 0, 0],
    ['bytes=1000-66535', 1000, 66535],
    ['bytes=99990-', 99990, 99999],
    ['bytes=-10', 99990, 99999],
    ['bytes=99000-200000', 99000, 99999],
  ] as const) {
    const r = await get('/images/default.tar', { Range: range });
    assert.is(r.status, 206, range);
    assert.is(r.headers.get('content-range'), `bytes ${lo}-${hi}/${bytes.length}`, range);
    assert.equal(new Uint8Array(await r.arrayBuffer()), bytes.subarray(lo, hi + 1), range);
  }
  const whole = await get('/images/default.tar');
  assert.is(whole.status, 200);
  assert.is(whole.headers.get('accept-ranges'), 'bytes');
  assert.is((await whole.arrayBuffer()).byteLength, bytes.length);
});

test('an unsatisfiable range is 416; paths outside the routes are 404', async () => {
  const r = await get('/images/default.tar', { Range: 'bytes=100000-' });
  assert.is(r.status, 416);
  assert.is(r.headers.get('content-range'), `bytes */${bytes.length}`);
  await r.arrayBuffer();
  for (const p of ['/../package.json', '/%2e%2e/package.json', '/images/..%2fkernel.wasm', '/host/web/main.ts', '/dist/kernel.wasm']) {
    const x = await get(p);
    assert.is(x.status, 404, p);
    await x.arrayBuffer();
  }
});

test.run();
