// The demo page (UI thread only): the terminal and its line discipline, the layer view, and the
// two workers it starts: the gofer (image) and the sandbox (kernel + guests), joined by one gofer
// channel SharedArrayBuffer. Nothing here runs guest code or touches the image's bytes.
//
// URL parameters: ?image=URL (default: images/default.tar next to the page), ?fs=opfs (default
// memory). window.wasmbox exposes the terminal text and the last reports, for tests and curious users.
import '@xterm/xterm/css/xterm.css';
import './style.css';
import { FitAddon } from '@xterm/addon-fit';
import { Terminal } from '@xterm/xterm';
import { createChannelBuffer } from '../../gofer/channel';
import { LineEditor, Screen } from './line';
import { GoferStat, Reader, Request, Tty, type FilestoreKind, type GoferMessage, type ImageSpec, type SandboxMessage, type UpperEntry } from './protocol';
import { renderFetch, renderLive, renderLower, renderStats, renderUpper, size } from './view';

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const enc = new TextEncoder();

// ---------------------------------------------------------------------------------------------
// Options (from the URL, changed by the controls)

const params = new URLSearchParams(location.search);
let imageSpec: ImageSpec = params.get('image')
  ? { kind: 'url', url: new URL(params.get('image')!, location.href).href, name: baseName(params.get('image')!) }
  : { kind: 'url', url: new URL('images/default.tar', location.href).href, name: 'default.tar' };
let fsKind: FilestoreKind = params.get('fs') === 'opfs' ? 'opfs' : 'memory';

function baseName(u: string): string {
  return decodeURIComponent(u.split(/[?#]/)[0].split('/').filter(Boolean).pop() ?? u);
}

function syncUrl(): void {
  const p = new URLSearchParams();
  if (imageSpec.kind === 'url' && !imageSpec.url.endsWith('/images/default.tar')) p.set('image', imageSpec.url);
  if (fsKind === 'opfs') p.set('fs', 'opfs');
  const q = p.toString();
  history.replaceState(null, '', q ? `?${q}` : location.pathname);
  $('img-default').classList.toggle('on', imageSpec.kind === 'url' && imageSpec.url.endsWith('/images/default.tar'));
  $('img-file-label').classList.toggle('on', imageSpec.kind === 'file');
  $('fs-memory').classList.toggle('on', fsKind === 'memory');
  $('fs-opfs').classList.toggle('on', fsKind === 'opfs');
}

// ---------------------------------------------------------------------------------------------
// Terminal

const term = new Terminal({
  convertEol: true, // a tty's ONLCR: guests write "\n"
  cursorBlink: true,
  fontFamily: "ui-monospace, 'JetBrains Mono', 'DejaVu Sans Mono', Menlo, Consolas, monospace",
  fontSize: 14,
  lineHeight: 1.15,
  scrollback: 5000,
  theme: {
    background: '#0d1320',
    foreground: '#d7dde8',
    cursor: '#5cc8ff',
    selectionBackground: '#264f78',
    black: '#1b2333',
    blue: '#7aa2ff',
    cyan: '#5cc8ff',
    green: '#3ddc97',
    magenta: '#c792ea',
    red: '#ff6b81',
    white: '#d7dde8',
    yellow: '#f5b942',
    brightBlack: '#56627a',
  },
});
const fit = new FitAddon();
term.loadAddon(fit);
term.open($('terminal'));
fit.fit();
new ResizeObserver(() => fit.fit()).observe($('terminal'));

const dim = (s: string) => `\x1b[2m${s}\x1b[0m`;
const red = (s: string) => `\x1b[31m${s}\x1b[0m`;
const yellow = (s: string) => `\x1b[33m${s}\x1b[0m`;

// ---------------------------------------------------------------------------------------------
// One sandbox: its two workers and shared buffers

interface Run {
  gofer: Worker;
  sandbox: Worker | null;
  ctl: Int32Array;
  ring: Uint8Array;
  goferStats: Float64Array;
  imageSize: number;
  alive: boolean;
  /** The sandbox has reported 'started' (its terminal, and so Quit, is live). */
  started: boolean;
  t0: number;
}

let run: Run | null = null;
const pendingInput: Uint8Array[] = [];
let intrHint = false;
let intrTimer = 0;
let commandStart = 0;
let filestoreLabel = '';
const state = {
  prompts: 0,
  firstPromptMs: 0,
  lastCommandMs: 0,
  upper: [] as UpperEntry[],
  upperTotal: 0,
  reports: [] as string[],
  busy: true,
  fatal: '',
  reattached: null as string | null,
  /** Where the sandbox keeps file data (its 'started' report): "OPFS page file (...)" or "memory...". */
  filestore: '',
  persisted: null as string | null,
  imageReadyMs: 0,
  /** Milestones of the last boot, ms since navigation: boot, image open, sandbox started (kernel set up). */
  bootMs: 0,
  startedMs: 0,
  /** What the gofer has read of the image so far (at the last prompt). */
  fetched: { requests: 0, bytes: 0, size: 0 },
};

const editor = new LineEditor(term, {
  submit(line) {
    if (!run?.alive) {
      boot();
      return;
    }
    if (Atomics.load(run.ctl, Tty.Reader) === Reader.Shell) {
      commandStart = performance.now();
      setBusy(true);
    }
    send(enc.encode(line + '\n'));
  },
  eof() {
    if (!run?.alive) return;
    Atomics.add(run.ctl, Tty.Eof, 1);
    wake();
  },
  interrupt() {
    const r = run;
    if (!r?.alive || Atomics.load(r.ctl, Tty.Reader) === Reader.Shell) {
      editor.cancel('^C\r\n');
      if (r?.alive) send(enc.encode('\n')); // the shell prints a fresh prompt
      return;
    }
    editor.cancel('^C\r\n');
    if (Atomics.load(r.ctl, Tty.Intr) === 1 && intrHint) {
      screen.write(yellow('[restarting the sandbox]') + '\r\n');
      boot();
      return;
    }
    Atomics.store(r.ctl, Tty.Intr, 1);
    wake();
    clearTimeout(intrTimer);
    intrTimer = window.setTimeout(() => {
      if (run === r && r.alive && Atomics.load(r.ctl, Tty.Intr) === 1) {
        intrHint = true;
        screen.write(yellow('[the program has not stopped: it is not using its terminal. Press Ctrl-C again to restart the sandbox.]') + '\r\n');
      }
    }, 1500);
  },
});
const screen = new Screen(term, editor, (n) => {
  if (!run) return;
  Atomics.sub(run.ctl, Tty.OutPending, n);
  Atomics.notify(run.ctl, Tty.OutPending);
});
editor.screen = screen;
term.onData((d) => editor.input(d));

function wake(): void {
  if (!run) return;
  Atomics.add(run.ctl, Tty.Wake, 1);
  Atomics.notify(run.ctl, Tty.Wake);
}

/** Queues input bytes for the guest and moves as many as fit into the ring. */
function send(bytes: Uint8Array): void {
  pendingInput.push(bytes);
  pump();
}

function pump(): void {
  const r = run;
  if (!r) return;
  while (pendingInput.length) {
    const head = Atomics.load(r.ctl, Tty.Head);
    const tail = Atomics.load(r.ctl, Tty.Tail);
    const space = Tty.RingSize - ((head - tail) | 0);
    if (space === 0) break;
    const b = pendingInput[0];
    const n = Math.min(space, b.length);
    for (let i = 0; i < n; i++) r.ring[(head + i) & (Tty.RingSize - 1)] = b[i];
    Atomics.store(r.ctl, Tty.Head, (head + n) | 0);
    if (n === b.length) pendingInput.shift();
    else pendingInput[0] = b.subarray(n);
  }
  wake();
  if (pendingInput.length) setTimeout(pump, 10);
}

function setBusy(busy: boolean): void {
  state.busy = busy;
  const el = $('state');
  el.textContent = busy ? 'running' : 'ready';
  el.className = `state ${busy ? 'busy' : 'idle'}`;
}

function status(msg: string, error = false): void {
  const el = $('status');
  el.textContent = msg;
  el.className = error ? 'error' : '';
}

function timings(): void {
  const parts: string[] = [];
  if (state.firstPromptMs) parts.push(`first prompt ${(state.firstPromptMs / 1000).toFixed(2)} s (image opened in ${(state.imageReadyMs / 1000).toFixed(2)} s)`);
  if (state.lastCommandMs) parts.push(`last command ${(state.lastCommandMs / 1000).toFixed(3)} s`);
  $('timings').textContent = parts.join(' · ');
}

function fetchedLine(): string {
  if (!run) return '';
  const s = run.goferStats;
  return renderFetch(s[GoferStat.Requests], s[GoferStat.Bytes], run.imageSize, imageSpec.kind);
}

/** A short stable name for an image, for its OPFS directory. */
function persistKey(parts: string[]): string {
  let h1 = 0x811c9dc5;
  let h2 = 0x1234567;
  for (const c of parts.join('\n')) {
    h1 = Math.imul(h1 ^ c.charCodeAt(0), 0x01000193);
    h2 = Math.imul(h2 ^ c.charCodeAt(0), 0x5bd1e995) + (h1 >>> 7);
  }
  return `img-${(h1 >>> 0).toString(16).padStart(8, '0')}${(h2 >>> 0).toString(16).padStart(8, '0')}`;
}

let currentKey = '';

/**
 * Ends the sandbox and the gofer. The sandbox first closes its OPFS handles (Tty.Quit): handles of
 * a terminated worker are released only seconds later, and the next sandbox for the same image (a
 * reload) needs them. It sees Quit when it waits in its terminal or at a child's next WASI call; we
 * wait for that briefly, spinning (no Atomics.wait on the main thread). A sandbox busy otherwise (a
 * computing guest, or still starting) is terminated without it.
 */
function stop(): void {
  const r = run;
  if (!r) return;
  r.alive = false;
  run = null;
  if (r.sandbox) {
    Atomics.store(r.ctl, Tty.Quit, 1);
    Atomics.add(r.ctl, Tty.Wake, 1);
    Atomics.notify(r.ctl, Tty.Wake);
    const end = performance.now() + (r.started ? 150 : 0);
    while (Atomics.load(r.ctl, Tty.Closed) === 0 && performance.now() < end) {
      // spin: the sandbox answers within microseconds when it waits for input or a child makes calls
    }
    r.sandbox.terminate();
  }
  r.gofer.terminate();
}

/** (Re)starts the gofer and the sandbox with the current options. */
function boot(): void {
  stop();
  syncUrl();
  pendingInput.length = 0;
  intrHint = false;
  state.fatal = '';
  state.busy = true;
  setBusy(true);
  $('state').textContent = 'starting';
  const channel = createChannelBuffer();
  const ttySab = new SharedArrayBuffer(Tty.Bytes);
  const stats = new SharedArrayBuffer(GoferStat.Words * 8);
  const r: Run = {
    gofer: new Worker('gofer-worker.js', { name: 'gofer' }),
    sandbox: null,
    ctl: new Int32Array(ttySab, 0, Tty.Words),
    ring: new Uint8Array(ttySab, Tty.RingOffset, Tty.RingSize),
    goferStats: new Float64Array(stats),
    imageSize: 0,
    alive: true,
    started: false,
    t0: performance.now(),
  };
  run = r;
  state.bootMs = r.t0;
  $('term-title').textContent = `${imageSpec.name} — /bin/sh`;
  const fresh = term.buffer.active.cursorX > 0 ? '\r\n' : '';
  screen.write(fresh + dim(`wasmbox: opening ${imageSpec.name} (${imageSpec.kind === 'url' ? 'HTTP Range requests' : 'picked file'}), upper layer in ${fsKind === 'opfs' ? 'OPFS (file data in a page file, the layer saved at each prompt)' : 'memory'}`) + '\r\n');
  const dead = (msg: string) => {
    if (run !== r) return;
    r.alive = false;
    state.fatal = msg;
    screen.write(red(msg) + '\r\n' + dim('[press Enter to start again]') + '\r\n');
    $('state').textContent = 'stopped';
    $('state').className = 'state dead';
    status(msg, true);
  };
  r.gofer.onerror = (e) => dead(`wasmbox: the gofer failed: ${e.message}`);
  r.gofer.onmessage = (ev: MessageEvent<GoferMessage>) => {
    if (run !== r) return;
    const m = ev.data;
    if (m.type === 'progress') status(m.message);
    else if (m.type === 'error') dead(`wasmbox: ${m.message}`);
    else if (m.type === 'ready') {
      r.imageSize = m.size;
      state.imageReadyMs = performance.now() - r.t0;
      renderLower(m.layers, m.format, imageSpec.name, m.size, m.nodes);
      currentKey = persistKey([imageSpec.name, String(m.size), m.format, ...m.layers.map((l) => l.digest)]);
      status('');
      startSandbox(r, channel, ttySab, m.config);
    }
  };
  r.gofer.postMessage({ sab: channel, stats, image: imageSpec });
  // the sandbox worker starts now and compiles kernel.wasm while the gofer opens the image
  r.sandbox = new Worker('sandbox-worker.js', { name: 'sandbox' });
  r.sandbox.postMessage({ kernelUrl: kernelUrl() });
}

const kernelUrl = () => new URL('kernel.wasm', location.href).href;

function startSandbox(r: Run, channel: SharedArrayBuffer, tty: SharedArrayBuffer, config: any): void {
  const w = r.sandbox!;
  const dead = (msg: string) => {
    if (run !== r) return;
    r.alive = false;
    state.fatal = msg;
    screen.write(red(msg) + '\r\n' + dim('[press Enter to start a new sandbox]') + '\r\n');
    $('state').textContent = 'stopped';
    $('state').className = 'state dead';
  };
  w.onerror = (e) => dead(`wasmbox: the sandbox failed: ${e.message}`);
  w.onmessage = (ev: MessageEvent<SandboxMessage>) => {
    if (run !== r) return;
    const m = ev.data;
    switch (m.type) {
      case 'out':
        screen.write(m.data, m.data.length);
        break;
      case 'report':
        state.reports.push(m.line);
        screen.write(red(m.line) + '\r\n');
        break;
      case 'status':
        status(m.message);
        screen.write(yellow(m.message) + '\r\n');
        break;
      case 'started':
        state.startedMs = performance.now();
        r.started = true;
        state.reattached = m.reattached;
        state.filestore = m.filestore;
        filestoreLabel = m.filestore;
        if (m.reattached) screen.write(dim(`wasmbox: reattached the upper layer saved in OPFS (${m.reattached})`) + '\r\n');
        if (!m.shell) screen.write(yellow('wasmbox: this image has no /bin/sh; running its command') + '\r\n');
        break;
      case 'stats':
        renderStats(m.stats, m.filestorePages, filestoreLabel, fetchedLine());
        break;
      case 'prompt': {
        const now = performance.now();
        state.prompts++;
        if (state.prompts === 1 && !state.firstPromptMs) state.firstPromptMs = now;
        if (commandStart) {
          state.lastCommandMs = now - commandStart;
          commandStart = 0;
        }
        state.upper = m.upper;
        state.upperTotal = m.upperTotal;
        if (m.persisted) {
          state.persisted = m.persisted;
          status(`upper layer saved to OPFS: ${m.persisted}`);
        }
        renderUpper(m.upper, m.upperTotal);
        renderStats(m.stats, m.filestorePages, filestoreLabel, fetchedLine());
        state.fetched = { requests: r.goferStats[GoferStat.Requests], bytes: r.goferStats[GoferStat.Bytes], size: r.imageSize };
        setBusy(false);
        timings();
        break;
      }
      case 'exit':
        if (m.shell) screen.write(dim(`[sh exited with status ${m.status}; press Enter for a new shell]`) + '\r\n');
        else {
          r.alive = false; // Enter boots a new sandbox (editor.submit)
          screen.write(dim(`[the image's command exited with status ${m.status}; press Enter to run it again in a new sandbox]`) + '\r\n');
          $('state').textContent = 'exited';
          $('state').className = 'state';
        }
        break;
      case 'export': {
        const a = document.createElement('a');
        a.href = URL.createObjectURL(new Blob([m.tar as BlobPart], { type: 'application/x-tar' }));
        a.download = 'upper.tar';
        a.click();
        setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
        status(`exported the upper layer: ${size(m.tar.length)}`);
        break;
      }
      case 'fatal':
        dead(`wasmbox: ${m.message}`);
        break;
    }
  };
  w.postMessage({
    channel,
    tty,
    kernelUrl: kernelUrl(),
    config,
    filestore: fsKind,
    persistKey: currentKey,
    limitBytes: 1024 * 1024 * 1024,
  });
}

async function forgetSaved(key: string): Promise<void> {
  const root = await navigator.storage.getDirectory();
  const top = await root.getDirectoryHandle('wasmbox', { create: true });
  for (let i = 0; i < 40; i++) {
    try {
      await top.removeEntry(key, { recursive: true });
      return;
    } catch (e) {
      if ((e as DOMException)?.name === 'NotFoundError') return;
      await new Promise((r) => setTimeout(r, 50)); // the old worker may still hold its handles
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Controls

$('img-default').onclick = () => {
  imageSpec = { kind: 'url', url: new URL('images/default.tar', location.href).href, name: 'default.tar' };
  boot();
};
$<HTMLInputElement>('img-file').onchange = (ev) => {
  const f = (ev.target as HTMLInputElement).files?.[0];
  if (!f) return;
  imageSpec = { kind: 'file', file: f, name: f.name };
  boot();
};
$<HTMLInputElement>('img-url').onkeydown = (ev) => {
  const v = (ev.target as HTMLInputElement).value.trim();
  if (ev.key !== 'Enter' || !v) return;
  imageSpec = { kind: 'url', url: new URL(v, location.href).href, name: baseName(v) };
  boot();
  term.focus();
};
$('fs-memory').onclick = () => {
  if (fsKind === 'memory') return;
  fsKind = 'memory';
  boot();
};
$('fs-opfs').onclick = () => {
  if (fsKind === 'opfs') return;
  fsKind = 'opfs';
  boot();
};
$('export').onclick = () => {
  if (!run?.alive) return;
  Atomics.store(run.ctl, Tty.Request, Request.Export);
  wake();
  if (state.busy) status('the upper layer will be exported when the running command ends');
};
$('reset').onclick = async () => {
  const key = currentKey;
  stop();
  term.reset();
  screen.clear();
  if (fsKind === 'opfs' && key) await forgetSaved(key);
  boot();
  term.focus();
};
// While a command runs, the sandbox reports only when its guest uses the terminal; the gofer's
// request count and the filestore's size are in shared memory, and shown live from there.
setInterval(() => {
  if (run?.alive && state.busy && run.sandbox) renderLive(run.goferStats[GoferStat.Served], Atomics.load(run.ctl, Tty.Pages), fetchedLine());
}, 250);

// For tests and the curious: the terminal's text and the page's view of the sandbox.
(window as any).wasmbox = {
  state,
  text(): string {
    const b = term.buffer.active;
    const out: string[] = [];
    for (let i = 0; i < b.length; i++) {
      const line = b.getLine(i);
      const s = line?.translateToString() ?? '';
      if (line?.isWrapped && out.length) out[out.length - 1] += s; // a long line the terminal wrapped
      else out.push(s);
    }
    return out.map((l) => l.trimEnd()).join('\n').replace(/\n+$/, '');
  },
  isolated: crossOriginIsolated,
};

// End the workers at once on unload: the sandbox holds OPFS access handles, which the next page
// load can open only after they are released.
addEventListener('pagehide', () => stop());

if (!crossOriginIsolated) {
  screen.write(red('wasmbox: this page is not cross-origin isolated, so SharedArrayBuffer is unavailable. Serve it with `npm run demo` (it sends the COOP/COEP headers).') + '\r\n');
} else {
  boot();
}
term.focus();
