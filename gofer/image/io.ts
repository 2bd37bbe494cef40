// Positioned reads of image files. Owns: the retry loop around fs.readSync and the window buffer
// the tar indexer reads headers through. Does not own file descriptors: callers open and close them.
// Invariant: nothing here reads outside [start, start + length) of the range it was given, and a
// short result means the file ended (or shrank underneath us), never a partial retry.
import fs from 'node:fs';

/** Reads up to `length` bytes at `position` into buf[at..]; returns the count (short only at EOF). */
export function readAt(fd: number, buf: Uint8Array, at: number, length: number, position: number): number {
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
