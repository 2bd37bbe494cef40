// Many sandboxes from one image in one host process (`--replicas N`, and runReplicas() in the
// library). Owns: opening the image once and sharing its tree with every thread (gofer/image/
// share.ts), compiling kernel.wasm once, the pool of worker threads that run the sandboxes, the
// job queue, the prefixed output, the summary, and cleaning up after every sandbox whatever happens.
//
// Each sandbox has its own kernel instance, filestore, upper layer, processes and inline gofer (over
// the shared, read-only image tree; bind mounts are opened per sandbox), so nothing one sandbox
// writes or runs is visible to another. `threads` (default: the number of CPUs, at most N) sets how
// many threads run them, and `perThread` (default 1) how many sandboxes each thread keeps going at
// once. Every thread costs about 8 MiB of its own (a Node isolate). With perThread above 1 the
// guests run suspendable (host/sandbox/jspi.ts): a guest that sleeps is put aside and its thread runs the
// others, so N sandboxes can be alive at once on a few threads (bench:replicas).
//
// Output: each line a sandbox writes is prefixed with its number ("3| ...") and written whole, so
// lines never interleave mid-line. stdin is empty. Their files under root:self live in one
// temporary directory, removed at the end, on SIGINT/SIGTERM (130/143) and on any error.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { ImageError, openImage, type Image } from '../../gofer/image/index';
import { shareTree } from '../../gofer/image/share';
import * as jspi from './jspi';
import { kernelFile, kernelModule } from './kernel-node';
import { PROJECT, SandboxError, defaultCacheDir, distDir, type RunOptions } from './sandbox';

export interface ReplicaOptions extends Omit<RunOptions, 'streams' | 'shared' | 'kernelModule' | 'handleSignals' | 'exportUpper' | 'rootfs'> {
  image: string;
  /** How many sandboxes. */
  replicas: number;
  /** How many threads run them (default: CPUs, at most `replicas`). */
  threads?: number;
  /**
   * How many sandboxes each thread keeps going at once (default 1). Above 1 the guests run
   * suspendable (host/sandbox/jspi.ts): one that sleeps is put aside while its thread runs the others, so
   * many sandboxes can be alive at once without a thread (and its ~8 MiB) each.
   */
  perThread?: number;
  /** Prefix each output line with the sandbox's number (default: when replicas > 1). */
  prefix?: boolean;
  /** Called with each sandbox's result as it ends. */
  onExit?: (index: number, status: number) => void;
}

export interface ReplicaResult {
  /** Exit status of each sandbox, by number (0-based). */
  statuses: number[];
  /** Wall-clock seconds from the first start to the last exit (after the shared image is open). */
  seconds: number;
  threads: number;
}

/** What the main thread sends a replica thread at start (plain data: cloned, SABs shared). */
export interface ReplicaWorkerData {
  base: Omit<ReplicaOptions, 'onExit' | 'progress'>;
  shared: RunOptions['shared'];
  kernel: WebAssembly.Module;
  prefix: boolean;
}

export type ReplicaJob = { index: number; upperDir?: string } | { stop: true };
export type ReplicaReply = { index: number; status: number } | { ready: true; jspi: boolean };

export async function runReplicas(opts: ReplicaOptions): Promise<ReplicaResult> {
  const n = opts.replicas;
  if (!Number.isInteger(n) || n < 1) throw new SandboxError(`${PROJECT}: --replicas: must be a whole number >= 1, not ${n}`, 125);
  const mode = opts.overlay2 ?? { kind: 'self' };
  if (mode.kind === 'none') throw new SandboxError(`${PROJECT}: --replicas needs an overlay (not --overlay2 none)`, 125);
  if (mode.kind === 'dir') throw new SandboxError(`${PROJECT}: --replicas: use root:self or root:memory (sandboxes cannot share one dir= filestore directory name)`, 125);
  const threads = Math.max(1, Math.min(n, opts.threads ?? os.availableParallelism()));
  const slots = opts.perThread ?? 1;
  if (!Number.isInteger(slots) || slots < 1) throw new SandboxError(`${PROJECT}: --per-thread: must be a whole number >= 1, not ${slots}`, 125);
  // JSPI has to be on from the start of the process: set later (v8.setFlagsFromString), the
  // threads get it but the main thread's collector crashes. The CLI starts Node again with it.
  if (slots > 1 && !jspi.available()) {
    throw new SandboxError(`${PROJECT}: --per-thread above 1 needs WebAssembly JSPI: start Node with ${jspi.FLAG} (Node 20)`, 125);
  }
  const cacheDir = opts.cacheDir ?? defaultCacheDir();

  let img: Image;
  try {
    if (!fs.existsSync(opts.image)) throw new ImageError(`image not found: ${opts.image}`);
    img = openImage(opts.image, { cacheDir, progress: opts.progress, limits: opts.imageLimits });
  } catch (e) {
    if (e instanceof ImageError) throw new SandboxError(`${PROJECT}: ${e.message}`, 125);
    throw e;
  }
  const workers: Worker[] = [];
  let tmp: string | null = null;
  const cleanup = () => {
    for (const w of workers) void w.terminate();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    tmp = null;
    img.close();
  };
  const onSignal = (sig: NodeJS.Signals) => {
    cleanup();
    process.stderr.write(`${PROJECT}: stopped by ${sig}\n`);
    process.exit(sig === 'SIGTERM' ? 143 : 130);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    if (mode.kind === 'self') {
      const parent = opts.upperDir ?? os.tmpdir();
      if (!fs.existsSync(parent) || !fs.statSync(parent).isDirectory()) throw new SandboxError(`${PROJECT}: --upper-dir ${parent}: not a directory`, 125);
      tmp = fs.mkdtempSync(path.join(parent, `${PROJECT}-replicas-`));
    }
    const { onExit, progress: _progress, perThread: _perThread, ...base } = opts;
    const data: ReplicaWorkerData = {
      base: { ...base, cacheDir, suspend: slots > 1 },
      shared: { tree: shareTree(img.tree), config: img.config },
      kernel: kernelModule(kernelFile(distDir(), !!opts.debugKernel)),
      prefix: opts.prefix ?? n > 1,
    };
    const statuses = new Array<number>(n).fill(-1);
    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: threads }, () => {
        const w = new Worker(path.join(distDir(), 'replica-worker.js'), { workerData: data });
        workers.push(w);
        let current = -1;
        let inFlight = 0;
        let stopped = false;
        const give = () => {
          if (next >= n) {
            if (inFlight === 0 && !stopped) w.postMessage({ stop: true } satisfies ReplicaJob);
            stopped ||= inFlight === 0;
            return;
          }
          current = next++;
          inFlight++;
          let upperDir: string | undefined;
          if (tmp) {
            upperDir = path.join(tmp, String(current));
            fs.mkdirSync(upperDir);
          }
          w.postMessage({ index: current, upperDir } satisfies ReplicaJob);
        };
        return new Promise<void>((resolve, reject) => {
          w.on('message', (m: ReplicaReply) => {
            if ('index' in m) {
              inFlight--;
              statuses[m.index] = m.status;
              if (tmp) fs.rmSync(path.join(tmp, String(m.index)), { recursive: true, force: true });
              onExit?.(m.index, m.status);
              give();
            } else if (slots > 1 && !m.jspi) {
              reject(new SandboxError(`${PROJECT}: --per-thread above 1 needs WebAssembly JSPI, which this thread does not have (${jspi.FLAG}, Node ${process.version})`, 125));
            } else {
              for (let i = 0; i < slots; i++) give();
            }
          });
          w.on('error', (e) => reject(new SandboxError(`${PROJECT}: sandbox thread failed${current >= 0 ? ` (sandbox ${current})` : ''}: ${e.message}`, 125)));
          w.on('exit', () => resolve());
        });
      }),
    );
    const missing = statuses.indexOf(-1);
    if (missing >= 0) throw new SandboxError(`${PROJECT}: sandbox ${missing} never ran (its thread ended early)`, 125);
    return { statuses, seconds: (performance.now() - t0) / 1000, threads };
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    cleanup();
  }
}
