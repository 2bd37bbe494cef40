// The terminal's streams in the sandbox worker (trusted): the guests' stdin, stdout and stderr.
//
// stdin is a byte ring in a SharedArrayBuffer (layout: protocol.ts, Tty) that the page fills one
// edited line at a time (the page is the line discipline). A read that finds it empty blocks in
// Atomics.wait: the worker is inside the guest's fd_read and has nothing else to do. stdout and
// stderr are posted to the page as they are written; the page acknowledges what it has shown, and a
// writer that gets more than OUT_LIMIT ahead waits, so a guest printing in a loop cannot flood it.
//
// Ctrl-C: the page sets Tty.Intr when a child (not the shell) is running or reading. The child's
// next WASI call throws ExitSignal(130): checkInterrupt() is the process host's interrupt hook
// (host/sandbox/process.ts calls it before every import of a child, never of the top shell), and a read or
// write of the terminal checks too, also while it waits. The throw unwinds the child's wasm frames,
// runModule returns 130 (killed by SIGINT) to the shell, and the shell goes on. Streams are shared
// by all processes; the top shell gets its own Streams object (`top`), which is how a terminal call
// is known to come from the shell (which ignores Ctrl-C) rather than from a child. A child that
// makes no calls at all (pure computation) cannot be stopped this way: the page then offers to
// restart the sandbox.
import { ExitSignal, type Streams } from '../sandbox/glue';
import { Reader, Tty as T, type SandboxMessage } from './protocol';

const OUT_LIMIT = 1 << 20;
const CHARACTER_DEVICE = 2;

export interface TtyHooks {
  /** The top shell is about to wait for a line (everything before it has run). */
  onShellWait(): void;
  /** Called now and then during output (a safe point: no kernel call is in progress). */
  tick(): void;
  /** The page asked for something (protocol.ts, Request) while the shell waits. */
  request(what: number): void;
  /** The page is about to terminate the worker: release what outlives it (OPFS handles). */
  quit(): void;
}

export class Terminal {
  private readonly ctl: Int32Array;
  private readonly ring: Uint8Array;

  constructor(
    sab: SharedArrayBuffer,
    private readonly post: (m: SandboxMessage) => void,
    private readonly hooks: TtyHooks,
  ) {
    this.ctl = new Int32Array(sab, 0, T.Words);
    this.ring = new Uint8Array(sab, T.RingOffset, T.RingSize);
  }

  /** The streams of the top shell (`top`) or of every other process. */
  streams(top: boolean): Streams {
    return {
      write: (stream, data, off, len) => this.write(top, stream, data, off, len),
      read: (stream, data, off, len) => this.read(top, stream, data, off, len),
      filetype: () => CHARACTER_DEVICE,
    };
  }

  /**
   * The interrupt hook for child processes (ProcessHost.interrupt): throws ExitSignal(130) when
   * Ctrl-C is pending, and honours Quit. Two atomic loads when neither is set.
   */
  checkInterrupt(): void {
    this.interrupted(false);
  }

  /**
   * Throws ExitSignal(130) for a child when Ctrl-C is pending. When the page is about to terminate
   * the worker, releases what must not wait for that, says so, and sleeps until the end.
   */
  private interrupted(top: boolean): void {
    if (Atomics.load(this.ctl, T.Quit) !== 0) {
      this.hooks.quit();
      Atomics.store(this.ctl, T.Closed, 1);
      Atomics.notify(this.ctl, T.Closed);
      for (;;) Atomics.wait(this.ctl, T.Closed, 1);
    }
    if (top || Atomics.load(this.ctl, T.Intr) === 0) return;
    Atomics.store(this.ctl, T.Intr, 0);
    Atomics.store(this.ctl, T.Reader, Reader.None);
    throw new ExitSignal(130);
  }

  private write(top: boolean, stream: number, data: Uint8Array, off: number, len: number): number {
    this.interrupted(top);
    if (len === 0) return 0;
    const ctl = this.ctl;
    for (;;) {
      const pending = Atomics.load(ctl, T.OutPending);
      if (pending < OUT_LIMIT) break;
      Atomics.wait(ctl, T.OutPending, pending, 100);
      this.interrupted(top);
    }
    Atomics.add(ctl, T.OutPending, len);
    this.post({ type: 'out', fd: stream === 2 ? 2 : 1, data: data.slice(off, off + len) });
    this.hooks.tick();
    return len;
  }

  private read(top: boolean, stream: number, data: Uint8Array, off: number, len: number): number {
    if (stream !== 0 || len === 0) return 0;
    const ctl = this.ctl;
    for (let first = true; ; first = false) {
      const gen = Atomics.load(ctl, T.Wake); // before the checks, so that no change is missed
      this.interrupted(top);
      const head = Atomics.load(ctl, T.Head);
      const tail = Atomics.load(ctl, T.Tail);
      const avail = (head - tail) | 0;
      if (avail > 0) {
        const n = Math.min(len, avail);
        for (let i = 0; i < n; i++) data[off + i] = this.ring[(tail + i) & (T.RingSize - 1)];
        Atomics.store(ctl, T.Tail, (tail + n) | 0);
        Atomics.store(ctl, T.Reader, Reader.None);
        return n;
      }
      if (Atomics.load(ctl, T.Eof) > 0) {
        Atomics.sub(ctl, T.Eof, 1);
        Atomics.store(ctl, T.Reader, Reader.None);
        return 0;
      }
      if (first) {
        Atomics.store(ctl, T.Reader, top ? Reader.Shell : Reader.Child);
        if (top) {
          Atomics.store(ctl, T.Intr, 0); // a Ctrl-C that came after its child ended
          this.hooks.onShellWait();
        }
        continue; // the hook took time: look again before sleeping
      }
      Atomics.wait(ctl, T.Wake, gen, 1000);
      if (top) {
        const what = Atomics.exchange(ctl, T.Request, 0);
        if (what) this.hooks.request(what);
      }
    }
  }
}
