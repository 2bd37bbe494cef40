// The sandbox worker of the browser demo (trusted): the kernel and every guest process, the same
// code as in Node (host/sandbox/kernel.ts, host/sandbox/glue.ts, host/sandbox/process.ts), with the terminal's streams and
// Ctrl-C (tty.ts) and, with OPFS, the filestore in an OPFS page file (filestore-opfs.ts) and a
// persisted upper layer (persist.ts). Its gofer is the gofer worker, reached through the shared
// channel the page created.
//
// The commonest file calls go through the WebAssembly glue (host/sandbox/wasm-glue.ts) when the
// server has its modules beside kernel.wasm (serve.mjs does), as in Node.
//
// Sequence (host/sandbox/sandbox.ts is the Node model): compile kernel.wasm, open the filestore (OPFS: the
// page file, falling back to memory, said so on the page, if it cannot be opened), set the kernel
// up over the image's overlay, replay a saved upper layer (OPFS), then run /bin/sh from the image,
// again each time it exits. The worker is synchronous from then on: it only comes up for air
// inside the guest's own calls (tty.ts), which is where it reports to the page. The page ends it
// with terminate(), after asking it (Tty.Quit) to close its OPFS handles, which also empties the
// page file; a worker terminated while busy leaves its pages behind until the next sandbox for the
// image opens (and empties) the file.
import { ChannelClient } from '../../gofer/channel';
import { E } from '../../kernel/wasi/errno';
import { MemoryFilestore, type Filestore } from '../filestore/filestore';
import { OpfsFilestore } from './filestore-opfs';
import { GuestProcess } from '../sandbox/glue';
import { Kernel, KernelFault, type GoferTransport } from '../sandbox/kernel';
import { ExecError, errnoText, loadProgram, runModuleSync, type ProcessHost } from '../sandbox/process';
import { Agent } from '../sandbox/agent';
import { UpperStore, imageDir } from './persist';
import { Request, Tty, type KernelStats, type SandboxMessage, type SandboxRequest } from './protocol';
import { Terminal } from './tty';
import { listUpper, restoreUpper, saveUpper } from './upper';
import { glueStamped, type WasmGlueModules } from '../sandbox/wasm-glue';

const post = (m: SandboxMessage, transfer: Transferable[] = []) => (self as unknown as Worker).postMessage(m, transfer);
/** Entries of the upper layer sent to the page (the count is always exact). */
const VIEW_MAX = 3000;
const CHARACTER_DEVICE = 2;

let kernel: Kernel | null = null;

function fatal(e: unknown): void {
  const why = kernel?.panicMessage ? ` (${kernel.panicMessage})` : '';
  const msg = e instanceof KernelFault || e instanceof WebAssembly.RuntimeError ? `kernel fault: ${(e as Error).message}${why}` : `${(e as Error)?.message ?? e}`;
  post({ type: 'fatal', message: msg });
}

async function main(req: SandboxRequest, kernelModule: Promise<WebAssembly.Module>, glueModules: Promise<WasmGlueModules | null>): Promise<void> {
  const t0 = performance.now();
  const module = await kernelModule;
  const wasmGlue = (await glueModules) ?? undefined;
  let store: UpperStore | null = null;
  let pageFile: OpfsFilestore | null = null;
  if (req.filestore === 'opfs') {
    try {
      const dir = await imageDir(req.persistKey);
      store = await UpperStore.open(dir);
      pageFile = await OpfsFilestore.open(dir, req.limitBytes);
    } catch (e) {
      const what = store ? 'file data kept in memory' : 'upper layer kept in memory only';
      post({ type: 'status', message: `OPFS unavailable, ${what}: ${(e as Error).message}` });
    }
  }
  const filestore = live(pageFile ?? new MemoryFilestore(req.limitBytes), new Int32Array(req.tty, 0, Tty.Words));
  const limitMiB = Math.round((filestore.limitPages * 4096) / 1048576);
  const filestoreLabel = pageFile ? `OPFS page file, up to ${limitMiB} MiB (${pageFile.limitNote})` : store ? 'memory (the layer is saved to OPFS)' : 'memory';
  const client = new ChannelClient(req.channel);
  let goferCalls = 0;
  let lastTick = 0;
  const transport: GoferTransport = {
    window: client.window,
    call: (id, len) => {
      goferCalls++;
      return client.call(id, len);
    },
  };
  kernel = new Kernel(module, filestore, transport);
  const k = kernel.exports;
  const se = kernel.setup(Math.min(filestore.limitPages, 0xfffffffe), 1);
  if (se !== 0) throw new Error(`cannot mount the root file system: ${errnoText(se)}`);
  const agent = new Agent(kernel, filestore);
  const K = kernel;
  const stats = (): KernelStats => K.stats();

  // Reattach a saved upper layer.
  let reattached: string | null = null;
  let savedSignature = store?.state?.signature ?? '';
  const saved = store?.saved();
  if (store && saved) {
    try {
      const n = restoreUpper(agent, saved);
      if (n > 0) reattached = `${n} entries, saved ${new Date(store.state!.savedAt).toLocaleString()}`;
    } catch (e) {
      post({ type: 'status', message: `the saved upper layer could not be restored (${(e as Error).message}); starting from the image` });
      savedSignature = '';
    }
  }

  const onShellWait = () => {
    const t = performance.now();
    let persisted: string | null = null;
    const list = listUpper(agent, VIEW_MAX);
    // (an empty layer needs saving only to replace a saved one)
    if (store && list.signature !== savedSignature && (list.total > 0 || store.state)) {
      try {
        const st = store.save(list.signature, list.total, (sink) => saveUpper(agent, sink));
        savedSignature = list.signature;
        persisted = `${list.total} entries, ${st.bytes} bytes in ${(performance.now() - t).toFixed(0)} ms`;
      } catch (e) {
        post({ type: 'status', message: `saving the upper layer to OPFS failed: ${(e as Error).message}` });
      }
    }
    post({ type: 'prompt', stats: stats(), filestorePages: filestore.pages, upper: list.entries, upperTotal: list.total, persisted });
    lastTick = performance.now();
  };
  const tick = () => {
    const now = performance.now();
    if (now - lastTick < 250) return;
    lastTick = now;
    post({ type: 'stats', stats: stats(), filestorePages: filestore.pages });
  };
  const request = (what: number) => {
    if (what !== Request.Export) return;
    const parts: Uint8Array[] = [];
    const n = saveUpper(agent, (b) => parts.push(b.slice()));
    const tar = new Uint8Array(n);
    let at = 0;
    for (const p of parts) {
      tar.set(p, at);
      at += p.length;
    }
    post({ type: 'export', tar }, [tar.buffer]);
  };
  const quit = () => {
    store?.close();
    filestore.close();
  };
  const term = new Terminal(req.tty, post, { onShellWait, tick, request, quit });
  const host: ProcessHost = {
    kernel,
    filestore,
    streams: term.streams(false),
    report: (line) => post({ type: 'report', line: `wasmbox: ${line}` }),
    interrupt: () => term.checkInterrupt(),
    wasmGlue,
  };

  const env = mergeEnv(req.config.env, ['TERM=xterm-256color', 'PS1=\x1b[1;36mwasmbox\x1b[0m$ ']);
  const cwd = req.config.workingDir || '/';
  if (cwd !== '/') env.push(`PWD=${cwd}`);
  const hasShell = agent.filetype('/bin/sh') >= 0;
  post({ type: 'started', ms: performance.now() - t0, reattached, shell: hasShell, filestore: filestoreLabel });
  const argv = hasShell ? ['sh'] : [...req.config.entrypoint, ...req.config.cmd];
  const program = hasShell ? '/bin/sh' : argv[0];
  if (!program) {
    post({ type: 'fatal', message: 'the image has no /bin/sh and no command to run' });
    return;
  }
  for (;;) {
    const pid = k.proc_create(CHARACTER_DEVICE, CHARACTER_DEVICE, CHARACTER_DEVICE);
    if (pid < 0) throw new Error('cannot create a process');
    const proc = new GuestProcess(kernel, filestore, pid, argv, env, term.streams(true));
    let status: number;
    try {
      status = runModuleSync(host, proc, loadProgram(proc, program, env, cwd), argv[0]);
    } catch (e) {
      if (!(e instanceof ExecError)) throw e;
      host.report(e.message);
      status = e.errno === E.NOENT ? 127 : 126;
    } finally {
      k.proc_destroy(pid);
    }
    post({ type: 'exit', status, shell: hasShell });
    if (!hasShell) {
      onShellWait();
      return;
    }
    // the shell ended (exit, or end of input): wait for a key before starting a new one
    term.streams(true).read(0, new Uint8Array(1), 0, 1);
  }
}

/**
 * The filestore, made to report its backed page count to the page (Tty.Pages) as it changes: its
 * grow and shrink are wrapped in place, so that everything else (direct calls, `pages`) is its own.
 */
function live<T extends Filestore>(fs: T, ctl: Int32Array): T {
  const note = (n: number) => {
    Atomics.store(ctl, Tty.Pages, Math.min(n, 0x7fffffff));
    return n;
  };
  const grow = fs.grow.bind(fs);
  const shrink = fs.shrink.bind(fs);
  fs.grow = (n) => note(grow(n));
  fs.shrink = (n) => note(shrink(n));
  return fs;
}

function mergeEnv(image: string[], extra: string[]): string[] {
  const map = new Map<string, string>();
  for (const kv of [...image, ...extra]) {
    const i = kv.indexOf('=');
    if (i > 0) map.set(kv.slice(0, i), kv);
  }
  if (!map.has('PATH')) map.set('PATH', 'PATH=/usr/local/bin:/usr/bin:/bin');
  return [...map.values()];
}

// Two messages: the kernel's URL, as soon as the page starts (kernel.wasm compiles while the gofer
// opens the image), then the sandbox's configuration, once the image is open.
let kernelModule: Promise<WebAssembly.Module> | null = null;
let glueModules: Promise<WasmGlueModules | null> | null = null;
self.onmessage = (ev: MessageEvent<{ kernelUrl: string } | SandboxRequest>) => {
  const m = ev.data;
  if (!kernelModule) kernelModule = WebAssembly.compileStreaming(fetch(m.kernelUrl));
  kernelModule.catch(() => {}); // reported by main() when it awaits it
  glueModules ??= loadGlue(m.kernelUrl);
  if (!('channel' in m)) return;
  self.onmessage = null;
  main(m, kernelModule, glueModules).catch(fatal);
};

/**
 * The WebAssembly glue's three modules, served beside kernel.wasm, or null (the JavaScript glue
 * then serves every call): not served, or from another build than this bundle (glueStamped).
 */
async function loadGlue(kernelUrl: string): Promise<WasmGlueModules | null> {
  try {
    const get = async (name: string) => {
      const m = await WebAssembly.compileStreaming(fetch(new URL(name, kernelUrl).href));
      if (!glueStamped(m)) throw new Error(`${name} is from another build`);
      return m;
    };
    const [glue, trampolines, fallback] = await Promise.all([get('wasm-glue.wasm'), get('wasm-glue-t.wasm'), get('wasm-glue-j.wasm')]);
    return { glue, trampolines, fallback: () => fallback };
  } catch {
    return null;
  }
}
