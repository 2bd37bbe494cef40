// Positioned reads of image files. Owns: the byte sources an image is read from (a Node file
// descriptor, or a registered Source: a Blob or a URL in a browser worker, an inflated layer in
// memory), the retry loop around fs.readSync, and the window buffer the tar indexer reads headers
// through. Does not own file descriptors or Sources: callers open and close them.
//
// Every reader in this folder names its input by a number, a "descriptor": a Node fd (>= 0), or a
// handle (< 0) from registerSource() that stands for a Source. Handles are never valid fds, so the
// two cannot be confused, and code that only passes descriptors along (tar.ts, merge.ts) does not
// care which kind it holds.
// Invariant: nothing here reads outside [start, start + length) of the range it was given, and a
// short result means the file ended (or shrank underneath us), never a partial retry.
import fs from 'node:fs';

/**
 * A random-access, synchronous byte source that is not a Node fd (browsers: a Blob through
 * FileReaderSync, a URL through synchronous HTTP Range requests, both in a worker).
 */
export interface Source {
  /** Bytes in the source; fixed while it is open. */
  readonly size: number;
  /** Reads up to `length` bytes at `position` into into[at..]; returns the count (short only at the end). */
  read(into: Uint8Array, at: number, length: number, position: number): number;
  close(): void;
}

const sources = new Map<number, Source>();
let nextHandle = -1;

/** A descriptor (< 0) for `source`, until releaseDescriptor(); the Source stays the caller's to close. */
export function registerSource(source: Source): number {
  const h = nextHandle--;
  sources.set(h, source);
  return h;
}

/** Closes a Node fd, or forgets a handle (the Source itself is not closed). Never throws. */
export function releaseDescriptor(fd: number): void {
  if (fd < 0) {
    sources.delete(fd);
    return;
  }
  try {
    fs.closeSync(fd);
  } catch {
    // already closed: nothing to release
  }
}

/** Bytes in the file or Source behind a descriptor. */
export function sizeOf(fd: number): number {
  if (fd < 0) return sourceOf(fd).size;
  return fs.fstatSync(fd).size;
}

function sourceOf(fd: number): Source {
  const s = sources.get(fd);
  if (!s) throw new Error(`image reader: descriptor ${fd} is not open`);
  return s;
}

/** Reads up to `length` bytes at `position` into buf[at..]; returns the count (short only at EOF). */
export function readAt(fd: number, buf: Uint8Array, at: number, length: number, position: number): number {
  if (fd < 0) {
    const s = sourceOf(fd);
    let done = 0;
    while (done < length) {
      const n = s.read(buf, at + done, length - done, position + done);
      if (n <= 0) break;
      done += n;
    }
    return done;
  }
  let done = 0;
  while (done < length) {
    const n = fs.readSync(fd, buf, at + done, length - done, position + done);
    if (n === 0) break;
    done += n;
  }
  return done;
}

/**
 * A read-ahead window over one byte range of a file, for scanning many small records (tar headers)
 * that usually sit close together. `view(pos, n)` returns the offset inside `buf` where the n bytes
 * at range offset `pos` are, refilling the window when needed. n must not exceed WINDOW.
 */
export class Window {
  static readonly WINDOW = 64 * 1024;
  readonly buf = Buffer.from(new ArrayBuffer(Window.WINDOW)); // own, 4-byte aligned memory ...
  readonly words = new Uint32Array(this.buf.buffer); // ... so headers can be summed a word at a time
  private lo = 0; // range offset of buf[0]
  private len = 0; // valid bytes in buf

  constructor(
    readonly fd: number,
    readonly start: number, // file offset of the range
    readonly length: number, // bytes in the range
  ) {}

  /** Offset in buf of range bytes [pos, pos + n); the caller has checked pos + n <= length. */
  view(pos: number, n: number): number {
    if (pos >= this.lo && pos + n <= this.lo + this.len) return pos - this.lo;
    const want = Math.min(Window.WINDOW, this.length - pos);
    this.lo = pos;
    this.len = readAt(this.fd, this.buf, 0, want, this.start + pos);
    if (this.len < n) throw new ShortRead(pos + this.len);
    return 0;
  }
}

/** The file holds fewer bytes than its size said (it changed while we read it). */
export class ShortRead extends Error {
  constructor(readonly at: number) {
    super(`file ended at byte ${at}`);
  }
}
