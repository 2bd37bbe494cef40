// Host streams for a sandbox run from the command line: the guest's stdin, stdout and stderr are
// this process's fds 0, 1 and 2, used synchronously (the sandbox runs on one thread and blocks).
// Pipes that Node made non-blocking answer EAGAIN when full or empty; we wait and retry.
// With `asyncTerminal` (an interactive shell's sandbox, host/stdio/jobcontrol.ts) a terminal on stdin is
// read without blocking the thread (host/stdio/input.ts): a guest waiting for a line is put aside while
// the others run, and a Ctrl-C can end the wait (interruptReads).
import fs from 'node:fs';
import tty from 'node:tty';
import { hostErrno } from '../../gofer/errno';
import { E } from '../../kernel/wasi/errno';
import { Filetype } from '../../kernel/wasi/types';
import { READY, type StreamReady, type Streams } from '../sandbox/glue';
import { InputReader } from './input';

const cell = new Int32Array(new SharedArrayBuffer(4));

function retry<T>(fn: () => T): T {
  for (let wait = 1; ; wait = Math.min(wait * 2, 50)) {
    try {
      return fn();
    } catch (e: any) {
      if (e?.code !== 'EAGAIN') throw e;
      Atomics.wait(cell, 0, 0, wait);
    }
  }
}

/** The WASI filetype of a host fd: a tty is a character device, a pipe or socket a stream. */
export function hostFiletype(fd: number): number {
  try {
    const st = fs.fstatSync(fd);
    if (st.isCharacterDevice()) return Filetype.CHARACTER_DEVICE;
    if (st.isFile()) return Filetype.REGULAR_FILE;
    if (st.isFIFO() || st.isSocket()) return Filetype.SOCKET_STREAM;
    return Filetype.UNKNOWN;
  } catch {
    return Filetype.UNKNOWN;
  }
}

/** The WASI errno for a failed host stream call; a closed socket counts as a broken pipe. */
function streamErrno(e: unknown): number {
  const code = (e as NodeJS.ErrnoException)?.code;
  if (code === 'EPIPE' || code === 'ECONNRESET') return E.PIPE;
  if (typeof code !== 'string') throw e; // not a system call failure: a bug
  return hostErrno(e);
}

export class HostStreams implements Streams {
  private readonly types = [hostFiletype(0), hostFiletype(1), hostFiletype(2)];
  private input: InputReader | null = null;
  /** Bumped by interruptReads: a read waiting since an older one gives up. */
  private epoch = 0;
  private readonly wakers = new Set<() => void>();
  /** Set when stdin is a terminal read without blocking (the constructor's `asyncTerminal`). */
  readonly readAsync?: (stream: number, data: Uint8Array, off: number, len: number) => number | Promise<number>;

  constructor(asyncTerminal = false) {
    if (asyncTerminal && tty.isatty(0)) this.readAsync = (s, d, o, l) => (s === 0 ? this.readTerminal(d, o, l) : this.read(s, d, o, l));
  }

  private readTerminal(data: Uint8Array, off: number, len: number): number | Promise<number> {
    const reader = (this.input ??= new InputReader(0));
    const epoch = this.epoch;
    const again = (): number | Promise<number> => {
      if (epoch !== this.epoch) return -E.INTR;
      const got = reader.take(len, data, off);
      if (got !== null) return got;
      return new Promise<void>((resolve) => {
        this.wakers.add(resolve);
        void reader.ready().then(() => this.wakers.delete(resolve) && resolve());
      }).then(again);
    };
    return again();
  }

  /** poll_oneoff: a terminal read without blocking is ready when a line (or its end) is here; the rest always are. */
  poll(stream: number, write: boolean): StreamReady | Promise<void> {
    if (stream !== 0 || write || !this.readAsync) return READY;
    const reader = (this.input ??= new InputReader(0));
    const n = reader.pending();
    if (n !== null) return { nbytes: n, hangup: n === 0 };
    return reader.ready();
  }

  /** Ends every waiting read of the terminal with EINTR (Ctrl-C); what arrives later is kept for the next. */
  interruptReads(): void {
    this.epoch++;
    const w = [...this.wakers];
    this.wakers.clear();
    for (const f of w) f();
  }

  /** Stops reading the terminal, so that this process can exit. */
  close(): void {
    this.input?.close();
    this.input = null;
  }

  write(stream: number, data: Uint8Array, off: number, len: number): number {
    let done = 0;
    while (done < len) {
      try {
        done += retry(() => fs.writeSync(stream, data, off + done, len - done));
      } catch (e) {
        return done || -streamErrno(e); // e.g. the reader went away: the guest sees EPIPE
      }
    }
    return done;
  }

  read(stream: number, data: Uint8Array, off: number, len: number): number {
    if (len === 0) return 0;
    try {
      return retry(() => fs.readSync(stream, data, off, len, null));
    } catch (e) {
      if ((e as NodeJS.ErrnoException)?.code === 'EOF') return 0;
      return -streamErrno(e);
    }
  }

  filetype(stream: number): number {
    return this.types[stream] ?? Filetype.UNKNOWN;
  }
}
