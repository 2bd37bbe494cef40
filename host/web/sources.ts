// Image sources in a browser worker (trusted, the gofer's side): random-access, synchronous reads of
// an image archive that is never copied whole. A URL is read with synchronous XMLHttpRequests
// carrying Range headers, a picked file (Blob) with FileReaderSync over Blob.slice; both are
// synchronous only in a worker, which is where the gofer runs. Reads go through a cache of aligned
// blocks, so that the tar indexer's many small header reads cost one request per block, and a run
// of missing blocks is fetched with one request. Inflated gzip layers are MemorySources.
//
// Owns: the block cache and the fetch statistics the page shows (requests, bytes). Does not own
// interpreting the bytes (gofer/image does).
// Invariants: read() never returns bytes outside [0, size); a source that cannot deliver what its
// size promised throws (the gofer answers EIO for that request), it never returns short garbage.
import type { Source } from '../../gofer/image/io';

/** What a source has fetched, for the layer view. */
export interface FetchStats {
  requests: number;
  bytes: number;
}

/** Bytes already in memory: an inflated layer, or a URL whose server ignored Range. */
export class MemorySource implements Source {
  readonly size: number;
  constructor(private bytes: Uint8Array) {
    this.size = bytes.length;
  }
  read(into: Uint8Array, at: number, length: number, position: number): number {
    if (position >= this.size || length <= 0) return 0;
    const n = Math.min(length, this.size - position);
    into.set(this.bytes.subarray(position, position + n), at);
    return n;
  }
  close(): void {
    this.bytes = new Uint8Array(0);
  }
}

/** lib.webworker's FileReaderSync (the project type-checks against lib.dom). */
declare const FileReaderSync: { new (): { readAsArrayBuffer(b: Blob): ArrayBuffer } };

const BLOCK = 64 * 1024;
const CACHE_BYTES = 64 * 1024 * 1024;

/** A source read in aligned blocks through an LRU cache; subclasses fetch byte ranges. */
abstract class BlockSource implements Source {
  abstract readonly size: number;
  readonly stats: FetchStats = { requests: 0, bytes: 0 };
  private readonly blocks = new Map<number, Uint8Array>(); // block index -> bytes; Map order = LRU order
  private cached = 0;

  /** Exactly the bytes [pos, pos + len) (within size), or throws. */
  protected abstract fetch(pos: number, len: number): Uint8Array;

  read(into: Uint8Array, at: number, length: number, position: number): number {
    if (position >= this.size || length <= 0) return 0;
    length = Math.min(length, this.size - position, into.length - at);
    const first = Math.floor(position / BLOCK);
    const last = Math.floor((position + length - 1) / BLOCK);
    // fetch each run of missing blocks with one request
    for (let b = first; b <= last; ) {
      if (this.blocks.has(b)) {
        b++;
        continue;
      }
      let e = b;
      while (e + 1 <= last && !this.blocks.has(e + 1)) e++;
      const lo = b * BLOCK;
      const hi = Math.min((e + 1) * BLOCK, this.size);
      const bytes = this.fetch(lo, hi - lo);
      this.stats.requests++;
      this.stats.bytes += bytes.length;
      for (let i = b; i <= e; i++) this.put(i, bytes.subarray((i - b) * BLOCK, Math.min((i - b + 1) * BLOCK, bytes.length)));
      b = e + 1;
    }
    let done = 0;
    for (let b = first; b <= last; b++) {
      const blk = this.blocks.get(b)!;
      this.blocks.delete(b); // touch: most recently used last
      this.blocks.set(b, blk);
      const off = position + done - b * BLOCK;
      const n = Math.min(blk.length - off, length - done);
      into.set(blk.subarray(off, off + n), at + done);
      done += n;
    }
    this.trim();
    return done;
  }

  private put(i: number, bytes: Uint8Array): void {
    this.blocks.set(i, bytes.slice());
    this.cached += bytes.length;
  }

  /** Drops least recently used blocks above the cache budget (never the ones just read). */
  private trim(): void {
    for (const [i, b] of this.blocks) {
      if (this.cached <= CACHE_BYTES || this.blocks.size <= 8) break;
      this.blocks.delete(i);
      this.cached -= b.length;
    }
  }

  close(): void {
    this.blocks.clear();
    this.cached = 0;
  }
}

/** An image at a URL, read with HTTP Range requests (synchronous XHR: workers only). */
export class UrlSource extends BlockSource {
  readonly size: number;
  private whole: Uint8Array | null = null;

  constructor(readonly url: string) {
    super();
    // One request learns the size and whether Range works: bytes=0-0 answers 206 with Content-Range.
    const x = UrlSource.get(url, 'bytes=0-0');
    this.stats.requests++;
    if (x.status === 206) {
      const m = /\/(\d+)\s*$/.exec(x.getResponseHeader('Content-Range') ?? '');
      if (!m) throw new Error(`${url}: the server's Content-Range gives no size`);
      this.size = Number(m[1]);
      this.stats.bytes += 1;
    } else if (x.status === 200) {
      // no Range support: the server sent it all; keep it (the only way left to read it)
      this.whole = new Uint8Array(x.response as ArrayBuffer);
      this.size = this.whole.length;
      this.stats.bytes += this.size;
    } else {
      throw new Error(`${url}: HTTP ${x.status || 'request failed'}`);
    }
  }

  private static get(url: string, range: string): XMLHttpRequest {
    const x = new XMLHttpRequest();
    x.open('GET', url, false);
    x.responseType = 'arraybuffer';
    x.setRequestHeader('Range', range);
    try {
      x.send();
    } catch (e) {
      throw new Error(`${url}: ${(e as Error)?.message ?? 'network error'}`);
    }
    return x;
  }

  protected fetch(pos: number, len: number): Uint8Array {
    if (this.whole) return this.whole.subarray(pos, pos + len);
    const x = UrlSource.get(this.url, `bytes=${pos}-${pos + len - 1}`);
    const bytes = new Uint8Array((x.response as ArrayBuffer | null) ?? new ArrayBuffer(0));
    if (x.status === 206 && bytes.length === len) return bytes;
    if (x.status === 200 && bytes.length === this.size) return bytes.subarray(pos, pos + len);
    throw new Error(`${this.url}: bytes ${pos}-${pos + len - 1}: HTTP ${x.status}, ${bytes.length} bytes`);
  }
}

/** A file the user picked, read slice by slice (FileReaderSync: workers only). */
export class BlobSource extends BlockSource {
  readonly size: number;
  private readonly reader = new FileReaderSync();

  constructor(private readonly blob: Blob) {
    super();
    this.size = blob.size;
  }

  protected fetch(pos: number, len: number): Uint8Array {
    const bytes = new Uint8Array(this.reader.readAsArrayBuffer(this.blob.slice(pos, pos + len)));
    if (bytes.length !== len) throw new Error(`the file changed while being read (${bytes.length} of ${len} bytes at ${pos})`);
    return bytes;
  }
}
