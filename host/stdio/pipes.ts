// Pipes between the guest processes of one sandbox (trusted): the `wasmbox.pipe` call of a shell's
// pipeline, command substitution and here-document; and the devices of /dev (null, zero, full,
// random), which the kernel opens as host streams Stream.DEV_* (kernel/abi.ts). A pipe is a byte queue in this host; its two
// ends are host streams (ids from Stream.FIRST_PIPE) that the kernel puts in a process's fd table
// like stdin or stdout, so fd_read, fd_write, fd_close and a child's inherited stdio all work as for
// any stream. The kernel says when the last fd of an end is closed (Kernel.onStreamRelease).
//
// Two ways to run, chosen per sandbox:
//   - suspendable (JSPI, host/sandbox/jspi.ts): a read of an empty pipe puts the reader aside until a byte
//     or the end comes, and a write to a full one (64 KiB, Linux's default) puts the writer aside
//     until there is room, so a pipeline's stages run side by side on one thread and `yes | head -1`
//     ends;
//   - synchronous (no JSPI): a child runs to completion inside its parent's call, so a pipeline runs
//     stage after stage and each pipe holds all that its writer wrote, up to SYNC_LIMIT; past it the
//     writer is stopped with a message. A read that would have to wait for a writer that cannot run
//     meanwhile fails with EDEADLK instead of hanging.
// A write to a pipe nobody can read any more ends the writer with status 141 (128 + SIGPIPE), as
// Linux's default action for SIGPIPE does; WASI has no signals to catch it with.
import { Stream } from '../../kernel/abi';
import { E } from '../../kernel/wasi/errno';
import { Filetype } from '../../kernel/wasi/types';
import { ExitSignal, READY, type StreamReady, type Streams } from '../sandbox/glue';
import { KernelFault } from '../sandbox/kernel';

/** What a suspendable writer may have queued before it waits (Linux's default pipe size). */
export const PIPE_CAPACITY = 64 * 1024;
/** What a pipe may hold when its reader cannot run until the writer has finished (no JSPI). */
export const SYNC_LIMIT = 256 * 1024 * 1024;
/** Writes shorter than this are copied into a shared buffer of TAIL_SIZE rather than kept one by one. */
const SMALL_WRITE = 4096;
const TAIL_SIZE = 64 * 1024;
/** The status a writer to a broken pipe ends with: killed by SIGPIPE. */
export const SIGPIPE_STATUS = 128 + 13;

class Pipe {
  chunks: Uint8Array[] = [];
  /** Bytes of chunks[0] already read. */
  head = 0;
  size = 0;
  readerOpen = true;
  writerOpen = true;
  /** Wakes whoever waits for a change (data, room, or an end closed). */
  waiters: (() => void)[] = [];

  /** Where writes under SMALL_WRITE are gathered, so that a pipe costs its bytes, not an object per write. */
  private tail: Uint8Array | null = null;
  private tailUsed = 0;

  constructor(readonly unbounded: boolean) {}

  /** Queues len bytes of data from off: a large write as it is (kept: data is the caller's to give), a small one into the tail. */
  put(data: Uint8Array, off: number, len: number, keep: boolean): void {
    if (len === 0) return;
    this.size += len;
    if (len >= SMALL_WRITE) {
      this.chunks.push(keep ? data.subarray(off, off + len) : data.slice(off, off + len));
      return;
    }
    let t = this.tail;
    if (!t || this.tailUsed + len > t.length) {
      t = this.tail = new Uint8Array(TAIL_SIZE);
      this.tailUsed = 0;
    }
    t.set(data.subarray(off, off + len), this.tailUsed);
    const last = this.chunks.length - 1;
    const c = this.chunks[last];
    // the queue's last chunk ends where this write goes: it grows (a partly read chunks[0] keeps its start)
    if (c && c.buffer === t.buffer && c.byteOffset + c.length === this.tailUsed) this.chunks[last] = t.subarray(c.byteOffset, this.tailUsed + len);
    else this.chunks.push(t.subarray(this.tailUsed, this.tailUsed + len));
    this.tailUsed += len;
  }

  wake(): void {
    const w = this.waiters;
    if (w.length === 0) return;
    this.waiters = [];
    for (const f of w) f();
  }

  changed(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  take(data: Uint8Array, off: number, len: number): number {
    let n = 0;
    while (n < len && this.chunks.length > 0) {
      const c = this.chunks[0];
      const k = Math.min(len - n, c.length - this.head);
      data.set(c.subarray(this.head, this.head + k), off + n);
      n += k;
      this.head += k;
      if (this.head === c.length) {
        this.chunks.shift();
        this.head = 0;
      }
    }
    this.size -= n;
    return n;
  }
}

/**
 * The sandbox's streams with its pipes: ids below Stream.FIRST_PIPE go to the base streams (the
 * terminal or the host's stdio), the others to pipes. `suspendable` says whether readers and
 * writers may wait (the processes run with JSPI).
 */
export class PipeStreams implements Streams {
  private readonly pipes = new Map<number, Pipe>();
  private next = 0;
  private warned = false;

  constructor(
    private readonly base: Streams,
    readonly suspendable: boolean,
    private readonly report: (line: string) => void,
  ) {}

  /** A new pipe: its read end's stream id, and its write end's (read + 1). */
  make(unbounded: boolean): [number, number] {
    const id = Stream.FIRST_PIPE + 2 * this.next++;
    this.pipes.set(id, new Pipe(unbounded));
    return [id, id + 1];
  }

  /** The kernel closed the last fd of end `id`. */
  release(id: number): void {
    const p = this.pipes.get(id & ~1);
    if (!p) return;
    if (id & 1) p.writerOpen = false;
    else {
      p.readerOpen = false;
      p.chunks = [];
      p.size = 0;
    }
    p.wake();
    if (!p.readerOpen && !p.writerOpen) this.pipes.delete(id & ~1);
  }

  /** Pipes with an end still open (for tests and --stats). */
  get open(): number {
    return this.pipes.size;
  }

  private pipe(id: number): Pipe {
    const p = this.pipes.get(id & ~1);
    // the kernel releases an end only when no fd refers to it any more: an unknown id is a kernel bug
    if (!p) throw new KernelFault(`stream ${id} is not a pipe end`);
    return p;
  }

  filetype(stream: number): number {
    // a pipe is reported as the host reports its own pipes (host/stdio/streams.ts)
    if (stream >= Stream.FIRST_PIPE) return Filetype.SOCKET_STREAM;
    return stream >= Stream.DEV_NULL ? Filetype.CHARACTER_DEVICE : this.base.filetype(stream);
  }

  /** A device's read: null is empty, zero and full read zeros, random reads random bytes. */
  private deviceRead(stream: number, data: Uint8Array, off: number, len: number): number {
    if (stream === Stream.DEV_NULL) return 0;
    const out = data.subarray(off, off + len);
    if (stream === Stream.DEV_RANDOM) {
      for (let i = 0; i < len; i += 65536) crypto.getRandomValues(out.subarray(i, Math.min(len, i + 65536)));
    } else out.fill(0);
    return len;
  }

  write(stream: number, data: Uint8Array, off: number, len: number): number {
    if (stream >= Stream.DEV_NULL && stream < Stream.FIRST_PIPE) return stream === Stream.DEV_FULL ? -E.NOSPC : len;
    if (stream < Stream.FIRST_PIPE) return this.base.write(stream, data, off, len);
    const p = this.pipe(stream);
    if (!p.readerOpen) throw new ExitSignal(SIGPIPE_STATUS);
    if (p.size + len > SYNC_LIMIT && !p.unbounded) {
      this.report(`pipe: its writer has written more than ${SYNC_LIMIT >> 20} MiB, which this host keeps while the reader waits for the writer to finish (pipeline stages run side by side only with JSPI); the writer was stopped`);
      throw new ExitSignal(SIGPIPE_STATUS);
    }
    p.put(data, off, len, false);
    return len;
  }

  read(stream: number, data: Uint8Array, off: number, len: number): number {
    if (stream >= Stream.DEV_NULL && stream < Stream.FIRST_PIPE) return this.deviceRead(stream, data, off, len);
    if (stream < Stream.FIRST_PIPE) return this.base.read(stream, data, off, len);
    const p = this.pipe(stream);
    if (p.size > 0 || len === 0) return p.take(data, off, len);
    if (!p.writerOpen) return 0;
    if (!this.warned) {
      this.warned = true;
      this.report('pipe: a read would wait for a writer that cannot run until it returns (no JSPI): EDEADLK');
    }
    return -E.DEADLK;
  }

  readAsync(stream: number, data: Uint8Array, off: number, len: number): number | Promise<number> {
    if (stream >= Stream.DEV_NULL && stream < Stream.FIRST_PIPE) return this.deviceRead(stream, data, off, len);
    if (stream < Stream.FIRST_PIPE) return this.base.readAsync ? this.base.readAsync(stream, data, off, len) : this.base.read(stream, data, off, len);
    const p = this.pipe(stream);
    if (p.size > 0 || len === 0) {
      const n = p.take(data, off, len);
      p.wake(); // room for a waiting writer
      return n;
    }
    if (!p.writerOpen) return 0;
    return p.changed().then(() => this.readAsync(stream, data, off, len));
  }

  poll(stream: number, write: boolean): StreamReady | Promise<void> {
    if (stream >= Stream.DEV_NULL && stream < Stream.FIRST_PIPE) return { nbytes: write ? PIPE_CAPACITY : 1, hangup: false };
    if (stream < Stream.FIRST_PIPE) return this.base.poll ? this.base.poll(stream, write) : READY;
    const p = this.pipe(stream);
    // a reader or writer that cannot wait: reported ready, and its call answers (host/stdio/pipes.ts header)
    if (!this.suspendable) return READY;
    if (write) {
      if (!p.readerOpen) return { nbytes: 0, hangup: true };
      const room = p.unbounded ? PIPE_CAPACITY : PIPE_CAPACITY - p.size;
      return room > 0 ? { nbytes: room, hangup: false } : p.changed();
    }
    if (p.size > 0) return { nbytes: p.size, hangup: false };
    return p.writerOpen ? p.changed() : { nbytes: 0, hangup: true };
  }

  writeAsync(stream: number, data: Uint8Array, off: number, len: number): number | Promise<number> {
    if (stream >= Stream.DEV_NULL && stream < Stream.FIRST_PIPE) return this.write(stream, data, off, len);
    if (stream < Stream.FIRST_PIPE) return this.base.writeAsync ? this.base.writeAsync(stream, data, off, len) : this.base.write(stream, data, off, len);
    const p = this.pipe(stream);
    // the glue hands over a buffer of its own for each call: kept, not copied
    const put = (done: number): number | Promise<number> => {
      if (!p.readerOpen) throw new ExitSignal(SIGPIPE_STATUS);
      const room = p.unbounded ? len - done : Math.min(len - done, PIPE_CAPACITY - p.size);
      if (room > 0) {
        p.put(data, off + done, room, true);
        done += room;
        p.wake();
      }
      if (done === len) return len;
      return p.changed().then(() => put(done));
    };
    return put(0);
  }
}
