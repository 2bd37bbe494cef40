// Reading a host input fd without ever blocking a thread (trusted): the container's stdin in the
// OCI runtime's sandbox process, an exec proxy's stdin or terminal, and the terminal of an
// interactive shell run from the command line (host/stdio/streams.ts). A read(2) parked in libuv's thread
// pool on an idle pipe or terminal would also hold up the process's exit (libuv joins its pool
// threads when the process ends), so pipes, sockets and terminals are read through libuv streams
// (epoll), and only what never blocks for long (regular files, /dev/null) through fs.read.
//
// One InputReader per fd: bytes that arrive for a reader that has gone (a guest's read abandoned by
// Ctrl-C) wait for the next one. A terminal's end of input (Ctrl-D) ends one read; a pipe's is seen
// by every later read too.
import fs from 'node:fs';
import net from 'node:net';
import tty from 'node:tty';
import { hostErrno } from '../../gofer/errno';

export class InputReader {
  private data: Buffer[] = [];
  private ended = false;
  private sticky = false;
  private errno = 0;
  private stream: net.Socket | tty.ReadStream | null = null;
  private waiting: (() => void) | null = null;
  private inflight = false;

  private readonly kind: 'tty' | 'pipe' | 'file';

  constructor(private readonly fd: number) {
    let st: fs.Stats | null = null;
    try {
      st = fs.fstatSync(fd);
    } catch {}
    this.kind = st && tty.isatty(fd) ? 'tty' : st && (st.isFIFO() || st.isSocket()) ? 'pipe' : 'file';
  }

  /** A libuv stream over the fd (a terminal is reopened by libuv, so a new one can follow an end). */
  private open(): net.Socket | tty.ReadStream {
    const s = this.kind === 'tty' ? new tty.ReadStream(this.fd) : new net.Socket({ fd: this.fd, readable: true, writable: false });
    s.pause();
    s.on('data', (chunk: Buffer) => {
      this.data.push(chunk);
      s.pause();
      this.notify();
    });
    s.on('end', () => {
      this.ended = true;
      // a pipe's end is for good; a terminal's Ctrl-D ends one read, and the next opens it again
      if (this.kind === 'tty') this.stream = null;
      else this.sticky = true;
      this.notify();
    });
    s.on('error', (e) => {
      // a terminal whose other side has gone reads as its end (EIO)
      if ((e as NodeJS.ErrnoException).code === 'EIO') this.ended = this.sticky = true;
      else this.errno = hostErrno(e);
      this.notify();
    });
    return s;
  }

  private notify(): void {
    const w = this.waiting;
    this.waiting = null;
    w?.();
  }

  /**
   * Up to `len` bytes already here (copied to into[off..]), 0 at the end of input, or -errno; null
   * when a read has to wait (then ready()).
   */
  take(len: number, into: Uint8Array, off: number): number | null {
    const head = this.data[0];
    if (head) {
      const n = Math.min(len, head.length);
      into.set(head.subarray(0, n), off);
      if (n === head.length) this.data.shift();
      else this.data[0] = head.subarray(n);
      return n;
    }
    if (this.errno) {
      const e = this.errno;
      this.errno = 0;
      return -e;
    }
    if (this.ended) {
      if (!this.sticky) this.ended = false;
      return 0;
    }
    return null;
  }

  /** What take() would give now: the bytes here (0 at the end of input or an error), or null if it would wait. */
  pending(): number | null {
    if (this.data.length) return this.data.reduce((n, b) => n + b.length, 0);
    return this.errno || this.ended ? 0 : null;
  }

  /** Settles when take() has something to say. */
  ready(): Promise<void> {
    return new Promise<void>((resolve) => {
      const prev = this.waiting;
      this.waiting = () => {
        prev?.();
        resolve();
      };
      if (this.kind === 'file') this.readFile();
      else (this.stream ??= this.open()).resume();
    });
  }

  /** Not a stream: one fs.read at a time (a regular file or a character device such as /dev/null). */
  private readFile(): void {
    if (this.inflight) return;
    this.inflight = true;
    const buf = Buffer.allocUnsafe(65536);
    fs.read(this.fd, buf, 0, buf.length, null, (err, n) => {
      this.inflight = false;
      if (err) this.errno = hostErrno(err);
      else if (n === 0) this.ended = true;
      else this.data.push(buf.subarray(0, n));
      this.notify();
    });
  }

  /** Stops reading, so that the process can exit. */
  close(): void {
    this.stream?.destroy();
  }
}
