// The gofer worker of the browser demo (trusted): opens the image from a URL or a picked file, read
// in place through host/web/sources.ts, inflates its gzip layers (DecompressionStream, into memory),
// reports the image to the page, then serves the gofer channel forever, like gofer/worker.ts does
// in Node. Only the first message matters; the worker is terminated when the page restarts.
//
// Inflation: openImageSource is synchronous and DecompressionStream is not, so the image is opened
// in rounds: a round that meets gzip data it does not have yet throws InflateNeeded with the
// ranges, they are inflated (their digests checked when the image gives them), and the next round
// finds them, each stopped at its inflation limit (cache.ts layerLimit). Plain layers are never
// copied: the tree reads them in place, on demand; they are hashed against their digests when the
// image is a picked file, not when it is fetched from a URL on demand (that would fetch it whole).
import { serveChannel } from '../../gofer/channel';
import { sizeText } from '../../gofer/image/cache';
import { ImageError, InflateNeeded, openImageSource, type Image, type InflateRange } from '../../gofer/image/index';
import { readAt, registerSource, releaseDescriptor, type Source } from '../../gofer/image/io';
import { GoferServer, LowerServer } from '../../gofer/server';
import { GoferStat, type GoferMessage, type GoferRequest } from './protocol';
import { Sha256 } from './shims/node-crypto';
import { BlobSource, MemorySource, UrlSource } from './sources';

const post = (m: GoferMessage) => (self as unknown as Worker).postMessage(m);

/** Inflates archive[r.start, +r.length) into memory, checking its digests. */
async function inflate(source: Source, r: InflateRange): Promise<Source> {
  const ds = new DecompressionStream('gzip');
  const writer = ds.writable.getWriter();
  const chunks: Uint8Array[] = [];
  let total = 0;
  const compressed = r.digest?.startsWith('sha256:') ? new Sha256() : null;
  const inflated = r.diffId?.startsWith('sha256:') ? new Sha256() : null;
  let over = false;
  const tooLarge = () => r.where.error(`inflates to more than ${sizeText(r.limit)} (the limit for a layer of its size); the image is not opened`);
  const reading = (async () => {
    const rd = ds.readable.getReader();
    for (;;) {
      const { done, value } = await rd.read();
      if (done) break;
      total += value.length;
      if (total > r.limit) {
        over = true; // a gzip bomb, or a layer too large for a browser tab: stop reading and writing
        chunks.length = 0;
        await rd.cancel();
        break;
      }
      chunks.push(value);
      inflated?.update(value);
    }
  })();
  const fd = registerSource(source);
  try {
    for (let pos = 0; pos < r.length; ) {
      const buf = new Uint8Array(Math.min(1 << 20, r.length - pos));
      const n = readAt(fd, buf, 0, buf.length, r.start + pos);
      if (n < buf.length) throw r.where.error(`is truncated at byte ${pos + n}`);
      compressed?.update(buf);
      await writer.write(buf);
      pos += n;
    }
    await writer.close();
    await reading;
  } catch (e) {
    if (over) throw tooLarge();
    if (e instanceof ImageError) throw e;
    throw r.where.error(`has corrupt gzip data (${(e as Error)?.message ?? e})`);
  } finally {
    releaseDescriptor(fd);
  }
  if (over) throw tooLarge();
  if (compressed && compressed.digest('hex') !== r.digest!.slice(7)) throw r.where.error('does not match its digest');
  if (inflated && inflated.digest('hex') !== r.diffId!.slice(7)) throw r.where.error('does not match its diff_id in the image config');
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return new MemorySource(out);
}

/** Opens the image, inflating gzip data between rounds (see the header). */
async function open(source: Source, name: string, verifyInPlace: boolean): Promise<Image> {
  const done = new Map<string, Source>();
  const key = (start: number, length: number) => `${start}:${length}`;
  for (let round = 0; ; round++) {
    try {
      return openImageSource(source, name, { cacheDir: '', verifyInPlace, inflated: { get: (s, l) => done.get(key(s, l)) ?? null } });
    } catch (e) {
      if (!(e instanceof InflateNeeded) || round > 2) throw e;
      // round 0 may find a gzip'd archive; round 1 the gzip layers inside it
      const list = await Promise.all(
        e.ranges.map((r) => {
          post({ type: 'progress', message: `inflating ${r.label}` });
          return inflate(done.get(key(0, source.size)) ?? source, r);
        }),
      );
      e.ranges.forEach((r, i) => done.set(key(r.start, r.length), list[i]));
    }
  }
}

self.onmessage = async (ev: MessageEvent<GoferRequest>) => {
  self.onmessage = null;
  const { sab, stats, image } = ev.data;
  const st = new Float64Array(stats);
  const t0 = performance.now();
  let img: Image;
  let source: UrlSource | BlobSource;
  try {
    source = image.kind === 'url' ? new UrlSource(image.url) : new BlobSource(image.file);
    // an image fetched on demand is not hashed whole before the first prompt (see OpenImageOptions)
    img = await open(source, image.name, image.kind !== 'url');
  } catch (e) {
    post({ type: 'error', message: (e as Error)?.message ?? String(e) });
    return;
  }
  const server = new GoferServer(new LowerServer(img.tree), null);
  const fetched = source.stats;
  st[GoferStat.Requests] = fetched.requests;
  st[GoferStat.Bytes] = fetched.bytes;
  post({
    type: 'ready',
    config: img.config,
    layers: img.layers.map((l) => ({ index: l.index, digest: l.digest, compressed: l.compressed, files: l.files })),
    format: img.format,
    nodes: img.tree.count,
    size: source.size,
    ms: performance.now() - t0,
  });
  serveChannel(sab, (id, len, w) => {
    const r = server.handle(id, len, w);
    st[GoferStat.Served] = server.requests;
    st[GoferStat.Requests] = fetched.requests;
    st[GoferStat.Bytes] = fetched.bytes;
    return r;
  });
};
