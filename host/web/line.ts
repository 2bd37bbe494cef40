// The page's line discipline (a tty in cooked mode, done in the UI): echo, editing, history, and the
// special keys. Guests see whole lines on stdin, as from a terminal in canonical mode.
//
// Keys: printable text (and paste) inserts; Enter sends the line plus "\n"; Backspace, Delete,
// Left/Right, Home/End (Ctrl-A/Ctrl-E), Ctrl-U (kill to start), Ctrl-K (kill to end), Ctrl-W (kill
// word), Up/Down (history, kept in localStorage), Ctrl-L (clear screen), Ctrl-D (end of input on
// an empty line, else delete), Ctrl-C (the owner decides: see main.ts).
//
// Drawing: all terminal writes go through one queue (Screen), so the editor always knows where the
// cursor is: after each of its own draws the cursor sits at the edit position. The edit line's
// start is taken from xterm's cursor (absolute buffer row and column) when a line begins, after
// all earlier output has been parsed; a redraw moves there, rewrites the text, clears below, and
// moves to the edit position. Output that arrives while a line is being typed is written above it:
// the line is erased, the output written, and the line redrawn after it.
import type { Terminal } from '@xterm/xterm';

const HISTORY_KEY = 'wasmbox.history';
const HISTORY_MAX = 200;

export interface LineOwner {
  submit(line: string): void;
  eof(): void;
  interrupt(): void;
}

type Item = { kind: 'out'; data: Uint8Array | string; ack: number } | { kind: 'commit'; text: string; tail: string } | { kind: 'clear' };

export class Screen {
  private busy = false;
  private queue: Item[] = [];
  private wantDraw = false;
  /** Edit line start, absolute buffer row/column; row < 0: not placed yet. */
  private row = -1;
  private col = 0;
  private drawn = false; // the edit line is on screen

  constructor(
    private readonly term: Terminal,
    private readonly editor: LineEditor,
    private readonly acked: (n: number) => void,
  ) {}

  /** Queues output (acknowledged with `ack` bytes once shown). */
  write(data: Uint8Array | string, ack = 0): void {
    this.queue.push({ kind: 'out', data, ack });
    this.kick();
  }

  /** The edit line changed. */
  draw(): void {
    this.wantDraw = true;
    this.kick();
  }

  /** The edit line ends as `text`, followed by `tail` ("\r\n", "^C\r\n"); the next one starts after. */
  commit(text: string, tail: string): void {
    this.queue.push({ kind: 'commit', text, tail });
    this.kick();
  }

  /** Clears the screen and the scrollback, keeping the prompt line and the edit line. */
  clear(): void {
    this.queue.push({ kind: 'clear' });
    this.wantDraw = true;
    this.kick();
  }

  private put(data: Uint8Array | string): Promise<void> {
    return new Promise((resolve) => this.term.write(data, resolve));
  }

  private kick(): void {
    if (this.busy) return;
    this.busy = true;
    void this.run().finally(() => {
      this.busy = false;
      if (this.queue.length || this.wantDraw) this.kick();
    });
  }

  private async run(): Promise<void> {
    while (this.queue.length || this.wantDraw) {
      const item = this.queue.shift();
      if (!item) {
        this.wantDraw = false;
        await this.redraw(this.editor.text, this.editor.pos, '');
        continue;
      }
      if (item.kind === 'clear') {
        if (this.drawn) await this.put(this.moveTo(0) + '\x1b[J');
        this.term.clear();
        await this.put('');
        this.row = -1;
        this.drawn = false;
        continue;
      }
      if (item.kind === 'commit') {
        await this.redraw(item.text, item.text.length, item.tail);
        this.row = -1;
        this.drawn = false;
        continue;
      }
      if (this.drawn) await this.put(this.moveTo(0) + '\x1b[J');
      this.drawn = false;
      this.row = -1;
      let ack = item.ack;
      await this.put(item.data);
      // more output in a row: write it before drawing the line again
      while (this.queue[0]?.kind === 'out') {
        const next = this.queue.shift() as Extract<Item, { kind: 'out' }>;
        await this.put(next.data);
        ack += next.ack;
      }
      if (ack) this.acked(ack);
      if (this.editor.text.length) this.wantDraw = true;
    }
  }

  /** Moves from the current cursor to edit offset `off` (the line must be drawn that far). */
  private moveTo(off: number): string {
    const b = this.term.buffer.active;
    const cols = this.term.cols;
    const curRow = b.baseY + b.cursorY;
    const abs = this.col + off;
    const row = this.row + Math.floor(abs / cols);
    const col = abs % cols;
    let s = '';
    if (row < curRow) s += `\x1b[${curRow - row}A`;
    else if (row > curRow) s += `\x1b[${row - curRow}B`;
    return s + `\x1b[${col + 1}G`;
  }

  /** Draws `text` as the edit line with the cursor at `pos`, or (with a tail) ends it. */
  private async redraw(text: string, pos: number, tail: string): Promise<void> {
    const b = this.term.buffer.active;
    if (this.row < 0) {
      this.row = b.baseY + b.cursorY;
      this.col = b.cursorX;
      this.drawn = false;
    }
    const cols = this.term.cols;
    // at the right margin the cursor waits to wrap: a space and a backspace make the wrap happen
    const wrap = text.length > 0 && (this.col + text.length) % cols === 0 ? ' \b' : '';
    await this.put((this.drawn ? this.moveTo(0) : '') + text + wrap + '\x1b[J' + tail);
    if (tail) return;
    await this.put(this.moveTo(pos));
    this.drawn = true;
  }
}

export class LineEditor {
  text = '';
  pos = 0;
  private history: string[] = [];
  private hist = 0; // index into history while browsing; history.length = the line being typed
  private stash = '';
  screen!: Screen;

  constructor(
    private readonly term: Terminal,
    private readonly owner: LineOwner,
  ) {
    try {
      this.history = JSON.parse(localStorage.getItem(HISTORY_KEY) ?? '[]').filter((s: unknown) => typeof s === 'string');
    } catch {
      this.history = [];
    }
    this.hist = this.history.length;
  }

  /** xterm's onData: keys and pasted text. */
  input(data: string): void {
    let i = 0;
    while (i < data.length) {
      const rest = data.slice(i);
      const seq = /^\x1b(?:\[[0-9;]*[A-Za-z~]|O[A-Za-z])/.exec(rest);
      if (seq) {
        this.key(seq[0]);
        i += seq[0].length;
        continue;
      }
      const c = data[i++];
      if (c === '\r' || c === '\n') {
        if (c === '\n' && data[i - 2] === '\r') continue;
        this.enter();
      } else if (c < ' ' || c === '\x7f') this.control(c);
      else {
        // a run of printable text (a paste) is inserted at once
        let j = i;
        while (j < data.length && data[j] >= ' ' && data[j] !== '\x7f') j++;
        this.insert(data.slice(i - 1, j));
        i = j;
      }
    }
  }

  private insert(s: string): void {
    this.text = this.text.slice(0, this.pos) + s + this.text.slice(this.pos);
    this.pos += s.length;
    this.screen.draw();
  }

  private set(text: string, pos = text.length): void {
    this.text = text;
    this.pos = pos;
    this.screen.draw();
  }

  private enter(): void {
    const line = this.text;
    if (line.trim() && this.history[this.history.length - 1] !== line) {
      this.history.push(line);
      if (this.history.length > HISTORY_MAX) this.history.splice(0, this.history.length - HISTORY_MAX);
      try {
        localStorage.setItem(HISTORY_KEY, JSON.stringify(this.history));
      } catch {}
    }
    this.hist = this.history.length;
    this.stash = '';
    this.text = '';
    this.pos = 0;
    this.screen.commit(line, '\r\n');
    this.owner.submit(line);
  }

  /** Drops the line being typed (Ctrl-C), leaving it on screen followed by `mark`. */
  cancel(mark: string): void {
    const line = this.text;
    this.text = '';
    this.pos = 0;
    this.hist = this.history.length;
    this.screen.commit(line, mark);
  }

  private control(c: string): void {
    switch (c) {
      case '\x7f':
      case '\b':
        if (this.pos > 0) this.set(this.text.slice(0, this.pos - 1) + this.text.slice(this.pos), this.pos - 1);
        break;
      case '\x01':
        this.set(this.text, 0);
        break;
      case '\x05':
        this.set(this.text, this.text.length);
        break;
      case '\x15':
        this.set(this.text.slice(this.pos), 0);
        break;
      case '\x0b':
        this.set(this.text.slice(0, this.pos), this.pos);
        break;
      case '\x17': {
        const before = this.text.slice(0, this.pos).replace(/\S+\s*$/, '');
        this.set(before + this.text.slice(this.pos), before.length);
        break;
      }
      case '\x0c':
        this.screen.clear();
        break;
      case '\x03':
        this.owner.interrupt();
        break;
      case '\x04':
        if (this.text.length === 0) this.owner.eof();
        else if (this.pos < this.text.length) this.set(this.text.slice(0, this.pos) + this.text.slice(this.pos + 1), this.pos);
        break;
      case '\t':
        break;
      default:
        break;
    }
  }

  private key(seq: string): void {
    const code = seq.slice(-1);
    if (seq.endsWith('~')) {
      const n = seq.slice(2, -1);
      if (n === '3') {
        if (this.pos < this.text.length) this.set(this.text.slice(0, this.pos) + this.text.slice(this.pos + 1), this.pos);
      } else if (n === '1' || n === '7') this.set(this.text, 0);
      else if (n === '4' || n === '8') this.set(this.text, this.text.length);
      return;
    }
    switch (code) {
      case 'A':
        if (this.hist > 0) {
          if (this.hist === this.history.length) this.stash = this.text;
          this.hist--;
          this.set(this.history[this.hist]);
        }
        break;
      case 'B':
        if (this.hist < this.history.length) {
          this.hist++;
          this.set(this.hist === this.history.length ? this.stash : this.history[this.hist]);
        }
        break;
      case 'C':
        if (this.pos < this.text.length) this.set(this.text, this.pos + 1);
        break;
      case 'D':
        if (this.pos > 0) this.set(this.text, this.pos - 1);
        break;
      case 'H':
        this.set(this.text, 0);
        break;
      case 'F':
        this.set(this.text, this.text.length);
        break;
    }
  }
}
