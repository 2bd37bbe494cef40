// Ctrl-C for an interactive shell run from the command line (trusted): what a terminal's job
// control gives `docker run -it IMAGE sh`. It is used when the sandbox's first process is a shell,
// its stdin is a terminal, and guests run suspendable (JSPI), so that the shell and its children
// are separate guests on one thread.
//
//   - The foreground is the shell's children started since it last read the terminal (a command
//     line's programs and theirs); children of earlier lines (`cmd &`) are background and are left
//     alone, as a shell with job control leaves a background job's process group alone.
//   - Ctrl-C (SIGINT from the terminal) ends every foreground process with status 130 (killed by
//     SIGINT): one that waits (a sleep, a pipe, the terminal, a child) at once, one that computes at
//     its next call. The shell gets 130 and goes on; at its prompt, with no foreground, its read of
//     the terminal fails with EINTR and it drops the line.
//   - A second Ctrl-C within a second, while a process the first one stopped has not ended yet (it
//     computes without calls) or while the shell itself is busy, ends the sandbox (130). JavaScript
//     may not run then (a guest spinning holds the thread), so the native watchdog does it, armed
//     whenever the shell is not at its prompt (native/: armWatchdog's `second` mode); without
//     the addon, only what the event loop or a guest's call sees is acted on.
//
// The signal is seen in two ways: Node's handler, when the event loop is free, and a counter the
// native addon keeps (watchSignals), checked before every call of every guest.
import { E } from '../../kernel/wasi/errno';
import { ExitSignal, type GuestProcess, type Streams } from '../sandbox/glue';
import { loadNative } from '../../native/index';

const SIGINT = 2;
/** Two Ctrl-Cs closer than this end the sandbox when the first has not been answered. */
export const SECOND_MS = 1000;

/** The shells whose Ctrl-C this applies to (by the program's base name). */
export const SHELLS = new Set(['sh', 'ash', 'dash', 'bash']);

export class JobControl {
  /** The shell's terminal reads so far: a child started after read N belongs to line N. */
  private line = 0;
  /** Live children, with the line they belong to. */
  private readonly lineOf = new Map<GuestProcess, number>();
  /** Children stopped by a Ctrl-C that have not ended yet: each throws at its next call. */
  private readonly doomed = new Set<GuestProcess>();
  /** The rejecter of each child's pending wait. */
  private readonly waits = new Map<GuestProcess, (e: unknown) => void>();
  /** Ends the shell's pending terminal read with EINTR. */
  private prompt: ((n: number) => void) | null = null;
  private lastIntr = -Infinity;
  private readonly native = loadNative().addon;
  private readonly cell: Int32Array | null;
  private seen = 0;
  // with the counter, one Ctrl-C is acted on once, whether a guest's call or Node's handler sees it first
  private readonly listener = () => (this.cell ? this.poll() : this.sigint());

  /**
   * `fatal` ends the sandbox (130) when a second Ctrl-C comes too soon; `paths` are what the native
   * watchdog removes if it has to end the process itself (files, then their directories).
   */
  constructor(
    private readonly fatal: () => void,
    private readonly paths: string[],
    private readonly interruptReads: () => void,
  ) {
    // Node's handler first, then the counter (which chains to it)
    process.on('SIGINT', this.listener);
    this.cell = this.native?.watchSignals ? this.native.watchSignals([SIGINT]) : null;
    if (this.cell) this.seen = Atomics.load(this.cell, SIGINT);
    this.arm(true);
  }

  close(): void {
    process.off('SIGINT', this.listener);
    this.arm(false);
  }

  private arm(on: boolean): void {
    if (!this.native?.armWatchdog) return;
    if (on) this.native.armWatchdog([SIGINT], SECOND_MS, this.paths, true);
    else this.native.disarmWatchdog?.();
  }

  /** A child started (`parent` is the shell or another child) or ended. */
  child(delta: 1 | -1, proc: GuestProcess, parent: GuestProcess): void {
    if (delta > 0) this.lineOf.set(proc, this.lineOf.get(parent) ?? this.line);
    else {
      this.lineOf.delete(proc);
      this.doomed.delete(proc);
      this.waits.delete(proc);
    }
  }

  /** Before every call of every process: a Ctrl-C that came while guests ran. */
  poll(): void {
    const c = this.cell;
    if (c && Atomics.load(c, SIGINT) !== this.seen) this.sigint();
  }

  /** Before every call of a child: ends it if a Ctrl-C stopped it. */
  check(proc: GuestProcess): void {
    this.poll();
    if (this.doomed.has(proc)) throw new ExitSignal(130);
  }

  /** A child's wait (`p`), abandoned with ExitSignal(130) if a Ctrl-C stops the child meanwhile. */
  wait(proc: GuestProcess, p: Promise<number>): Promise<number> {
    if (this.doomed.has(proc)) return Promise.reject(new ExitSignal(130));
    return new Promise<number>((resolve, reject) => {
      this.waits.set(proc, reject);
      const done = () => this.waits.get(proc) === reject && this.waits.delete(proc);
      p.then(
        (v) => done() && resolve(v),
        (e) => done() && reject(e),
      );
    });
  }

  /**
   * The shell's streams: its reads of the terminal (stream 0) mark a new line, and one that waits
   * (at the prompt) can be ended with EINTR by a Ctrl-C. The watchdog rests meanwhile.
   */
  shellStreams(base: Streams): Streams {
    const readAsync = base.readAsync?.bind(base);
    return {
      write: base.write.bind(base),
      read: base.read.bind(base),
      filetype: base.filetype.bind(base),
      writeAsync: base.writeAsync?.bind(base),
      poll: base.poll?.bind(base),
      readAsync: readAsync
        ? (stream, data, off, len) => {
            const r = readAsync(stream, data, off, len);
            if (stream !== 0) return r;
            this.line++;
            if (typeof r === 'number') return r;
            this.arm(false);
            return new Promise<number>((resolve) => {
              const settle = (n: number) => {
                if (this.prompt !== settle) return;
                this.prompt = null;
                this.lastIntr = -Infinity;
                this.arm(true);
                resolve(n);
              };
              this.prompt = settle;
              r.then(settle, (e) => settle(-(e instanceof ExitSignal ? E.INTR : E.IO)));
            });
          }
        : undefined,
    };
  }

  /** A Ctrl-C. */
  private sigint(): void {
    if (this.cell) this.seen = Atomics.load(this.cell, SIGINT);
    const now = performance.now();
    // every read of the terminal waiting now is a stopped child's or the shell's at its prompt
    this.interruptReads();
    if (this.prompt) {
      // at the prompt, nothing in the foreground: the shell drops its line
      this.prompt(-E.INTR);
      return;
    }
    const soon = now - this.lastIntr < SECOND_MS;
    this.lastIntr = now;
    const fg = [...this.lineOf].filter(([, line]) => line === this.line).map(([p]) => p);
    // a second Ctrl-C while the first is unanswered: a child it stopped lives on, or the shell is
    // busy with no child to stop
    if (soon && (this.doomed.size > 0 || fg.length === 0)) {
      this.fatal();
      return;
    }
    for (const p of fg) {
      this.doomed.add(p);
      const reject = this.waits.get(p);
      if (reject) {
        this.waits.delete(p);
        reject(new ExitSignal(130));
      }
    }
  }
}
