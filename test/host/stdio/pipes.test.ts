// host/stdio/pipes.ts's byte queue, driven directly: what goes in comes out in order, whatever the mix of
// small writes (gathered into shared buffers), large ones (kept as given) and partial reads; a
// pipe of many tiny writes costs about its bytes; a full bounded pipe holds its writer until a
// read makes room; a write after the reader has gone ends the writer with 141.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ExitSignal, type Streams } from '../../../host/sandbox/glue';
import { PIPE_CAPACITY, PipeStreams, SIGPIPE_STATUS } from '../../../host/stdio/pipes';

const base: Streams = {
  write: () => -1,
  read: () => 0,
  filetype: () => 0,
};

/** A deterministic stream of bytes: byte i is (i * 7 + 3) & 255. */
function bytes(from: number, n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = ((from + i) * 7 + 3) & 255;
  return b;
}

test('small and large writes, read back in pieces of every size, come out as written', () => {
  const ps = new PipeStreams(base, false, () => {});
  const [r, w] = ps.make(true);
  const sizes = [1, 2, 4095, 4096, 5, 70_000, 3, 1, 65_536, 9, 100_000, 1, 1, 1];
  let written = 0;
  for (let round = 0; round < 3; round++) {
    for (const n of sizes) {
      // data lent at an offset, as the glue's buffers are
      const lent = new Uint8Array(n + 10);
      lent.set(bytes(written, n), 5);
      assert.is(ps.write(w, lent, 5, n), n);
      lent.fill(0); // a write keeps no reference to a buffer it was lent (the synchronous path copies)
      written += n;
    }
  }
  const got = new Uint8Array(written);
  let at = 0;
  for (let k = 1; at < written; k = (k * 3 + 1) % 9000) {
    const n = ps.read(r, got, at, Math.max(1, Math.min(k, written - at)));
    assert.ok(n > 0);
    at += n;
  }
  assert.equal(got, bytes(0, written));
});

test('a million one-byte writes cost about their bytes, not an object each', () => {
  const ps = new PipeStreams(base, false, () => {});
  const [r, w] = ps.make(true);
  const one = new Uint8Array(1);
  for (let i = 0; i < 1_000_000; i++) {
    one[0] = i & 255;
    ps.write(w, one, 0, 1);
  }
  const pipe = (ps as unknown as { pipes: Map<number, { chunks: Uint8Array[] }> }).pipes.get(r)!;
  assert.ok(pipe.chunks.length <= 20, `${pipe.chunks.length} chunks`);
  const got = new Uint8Array(1_000_000);
  assert.is(ps.read(r, got, 0, got.length), got.length);
  for (let i = 0; i < got.length; i += 9973) assert.is(got[i], i & 255);
});

test('suspendable: a full bounded pipe holds its writer until a read makes room; a gone reader ends it with 141', async () => {
  const ps = new PipeStreams(base, true, () => {});
  const [r, w] = ps.make(false);
  const big = bytes(0, PIPE_CAPACITY + 100);
  const pending = ps.writeAsync(w, big, 0, big.length);
  assert.instance(pending, Promise);
  const got = new Uint8Array(big.length);
  let at = 0;
  while (at < big.length) {
    const n = await ps.readAsync(r, got, at, 1000);
    at += n as number;
    await Promise.resolve();
  }
  assert.is(await pending, big.length);
  assert.equal(got, big);
  ps.release(r);
  assert.throws(() => ps.writeAsync(w, big, 0, 1), (e: unknown) => e instanceof ExitSignal && e.code === SIGPIPE_STATUS);
});

test.run();
