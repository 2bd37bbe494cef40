// One sandbox run (trusted): start the gofer, load the kernel, mount the rootfs, create the guest
// process, run it, and turn every outcome into an exit status with at most one line on stderr.
//
// Exit statuses follow `docker run`: 125 when the runtime itself fails (bad image, kernel fault),
// 126 when the command cannot be invoked (not WebAssembly, unsupported imports, a directory), 127
// when it is not found; otherwise the guest's own status. A guest trap is reported like the signal
// a native process would die of: 134 (SIGABRT) for `unreachable`, 139 (SIGSEGV) for memory faults
// and stack overflow, 136 (SIGFPE) for arithmetic traps.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { ChannelClient, createChannelBuffer } from '../gofer/channel';
import type { ImageConfig } from '../gofer/image/index';
import type { GoferWorkerMessage } from '../gofer/worker';
import { Page } from '../kernel/abi';
import { E } from '../kernel/wasi/errno';
import { MemoryFilestore } from './filestore';
import { exportUpper } from './export';
import { GuestProcess, type Streams } from './glue';
import { Kernel, KernelFault, type GoferTransport } from './kernel';
import { ExecError, errnoText, loadProgram, runModule, type ProcessHost } from './process';
import { HostStreams } from './streams';

export const PROJECT = 'wasmbox';

export class SandboxError extends Error {
  constructor(message: string, readonly status: number) {
    super(message);
  }
}

export interface RunOptions {
  /** Path of the image archive. */
  image: string;
  /** Replaces the image's Cmd (docker run IMAGE COMMAND...). */
  command?: string[];
  /** Replaces the image's Entrypoint (docker run --entrypoint); [] clears it. */
  entrypoint?: string[];
  /** Extra environment, KEY=VALUE, overriding the image's. */
  env?: string[];
  /** Working directory, overriding the image's (exported to the guest as PWD). */
  workdir?: string;
  /** Where the gofer runs: a worker thread (default) or this thread. */
  gofer?: 'worker' | 'inline';
  /** Cache for inflated layers. */
  cacheDir?: string;
  /** Filestore size limit in bytes. */
  sizeBytes?: number;
  streams?: Streams;
  debugKernel?: boolean;
  progress?: (msg: string) => void;
  /** Write the upper layer to this file at exit, as an OCI layer tar. */
  exportUpper?: string;
}

export interface RunResult {
  status: number;
  stats: Record<string, number | string>;
}

/** The directory holding kernel.wasm and the bundles (dist/), found from this file's location. */
export function distDir(): string {
  let dir = __dirname;
  for (let i = 0; i < 6; i++) {
    if (fs.existsSync(path.join(dir, 'kernel.wasm'))) return dir;
    if (fs.existsSync(path.join(dir, 'dist', 'kernel.wasm'))) return path.join(dir, 'dist');
    dir = path.dirname(dir);
  }
  throw new SandboxError(`${PROJECT}: the build is missing (no dist/kernel.wasm); run \`npm install\``, 125);
}

export function defaultCacheDir(): string {
  if (process.env.WASMBOX_CACHE) return process.env.WASMBOX_CACHE;
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, PROJECT);
}

interface Gofer {
  transport: GoferTransport;
  config: ImageConfig;
  stats(): Record<string, number>;
  close(): void;
}

async function startWorkerGofer(image: string, cacheDir: string, progress?: (m: string) => void): Promise<Gofer> {
  const sab = createChannelBuffer();
  const worker = new Worker(path.join(distDir(), 'gofer-worker.js'), { workerData: { image, cacheDir, sab } });
  const client = new ChannelClient(sab);
  const config = await new Promise<ImageConfig>((resolve, reject) => {
    worker.on('message', (m: GoferWorkerMessage) => {
      if (m.type === 'ready') resolve(m.config as ImageConfig);
      else if (m.type === 'progress') progress?.(m.message);
      else if (m.type === 'error') reject(new SandboxError(`${PROJECT}: ${m.message}`, 125));
    });
    worker.on('error', (e) => reject(new SandboxError(`${PROJECT}: gofer failed: ${e.message}`, 125)));
    worker.on('exit', (code) => {
      client.markDead();
      reject(new SandboxError(`${PROJECT}: gofer exited (${code}) before the image was ready`, 125));
    });
  });
  return {
    transport: client,
    config,
    stats: () => ({}),
    close() {
      client.markDead();
      void worker.terminate();
    },
  };
}

async function startInlineGofer(image: string, cacheDir: string, progress?: (m: string) => void): Promise<Gofer> {
  const { openImage, ImageError } = await import('../gofer/image/index');
  const { LowerServer } = await import('../gofer/server');
  let img;
  try {
    img = openImage(image, { cacheDir, progress });
  } catch (e: any) {
    throw new SandboxError(`${PROJECT}: ${e instanceof ImageError ? e.message : `gofer failed: ${e?.message ?? e}`}`, 125);
  }
  const server = new LowerServer(img.tree);
  const window = new Uint8Array(0x200000);
  return {
    transport: { window, call: (id, len) => server.handle(id, len, window) },
    config: img.config,
    stats: () => ({ goferRequests: server.stats.requests }),
    close: () => img!.close(),
  };
}

/** argv of the run, from the image config and the overrides, as `docker run` builds it. */
export function commandLine(config: ImageConfig, opts: RunOptions): string[] {
  const entry = opts.entrypoint ?? config.entrypoint ?? [];
  const cmd = opts.command && opts.command.length ? opts.command : opts.entrypoint ? [] : config.cmd ?? [];
  return [...entry, ...cmd];
}

function mergeEnv(image: string[], extra: string[], workdir: string): string[] {
  const map = new Map<string, string>();
  for (const kv of [...image, ...extra]) {
    const i = kv.indexOf('=');
    if (i > 0) map.set(kv.slice(0, i), kv);
    else if (process.env[kv] !== undefined) map.set(kv, `${kv}=${process.env[kv]}`); // docker -e NAME
  }
  if (workdir && workdir !== '/') map.set('PWD', `PWD=${workdir}`);
  return [...map.values()];
}

export async function run(opts: RunOptions): Promise<RunResult> {
  const cacheDir = opts.cacheDir ?? defaultCacheDir();
  if (!fs.existsSync(opts.image)) throw new SandboxError(`${PROJECT}: image not found: ${opts.image}`, 125);
  const dist = distDir();
  const gofer =
    opts.gofer === 'inline'
      ? await startInlineGofer(opts.image, cacheDir, opts.progress)
      : await startWorkerGofer(opts.image, cacheDir, opts.progress);
  let kernel: Kernel | null = null;
  try {
    const limit = opts.sizeBytes ?? Math.floor(os.totalmem() / 2);
    const filestore = new MemoryFilestore(limit);
    kernel = new Kernel(path.join(dist, opts.debugKernel ? 'kernel.debug.wasm' : 'kernel.wasm'), filestore, gofer.transport);
    const se = kernel.setup(Math.min(Math.floor(limit / Page.SIZE), 0xfffffffe), true);
    if (se !== 0) throw new SandboxError(`${PROJECT}: cannot mount the image's root file system: ${errnoText(se)}`, 125);

    const config = gofer.config;
    const argv = commandLine(config, opts);
    if (argv.length === 0) throw new SandboxError(`${PROJECT}: no command specified (the image has no Entrypoint or Cmd)`, 125);
    const workdir = opts.workdir ?? config.workingDir ?? '';
    const env = mergeEnv(config.env ?? [], opts.env ?? [], workdir);
    const streams = opts.streams ?? new HostStreams();
    const pid = kernel.exports.proc_create(streams.filetype(0), streams.filetype(1), streams.filetype(2));
    if (pid < 0) throw new SandboxError(`${PROJECT}: cannot create a process`, 125);
    const proc = new GuestProcess(kernel, filestore, pid, argv, env, streams);
    const host: ProcessHost = {
      kernel,
      filestore,
      streams,
      report: (line) => process.stderr.write(`${PROJECT}: ${line}\n`),
    };
    // The program is found inside the sandbox's namespace (a bare name through the image's PATH).
    let status: number;
    try {
      const module = loadProgram(proc, argv[0], env, workdir);
      status = runModule(host, proc, module, argv[0]);
    } catch (e) {
      if (e instanceof ExecError) {
        const code = e.errno === E.NOENT || e.errno === E.NOTDIR ? 127 : 126;
        const msg = e.errno === E.ACCES ? `exec ${argv[0]}: is a directory` : e.message;
        throw new SandboxError(`${PROJECT}: ${msg}`, code);
      }
      if (e instanceof KernelFault) {
        const why = kernel.panicMessage ? ` (${kernel.panicMessage})` : '';
        throw new SandboxError(`${PROJECT}: kernel fault: ${e.message}${why}`, 125);
      }
      throw e;
    }
    if (opts.exportUpper) {
      try {
        exportUpper(kernel, proc, opts.exportUpper);
      } catch (e) {
        throw new SandboxError(`${PROJECT}: --export-upper ${opts.exportUpper}: ${(e as Error).message}`, 125);
      }
    }
    const ks = kernel.stats();
    return { status, stats: { ...ks, filestore: filestore.kind, ...gofer.stats() } };
  } catch (e) {
    if (e instanceof SandboxError) throw e;
    if (e instanceof KernelFault) throw new SandboxError(`${PROJECT}: kernel fault: ${e.message}`, 125);
    if (e instanceof WebAssembly.RuntimeError) {
      const why = kernel?.panicMessage ? ` (${kernel.panicMessage})` : '';
      throw new SandboxError(`${PROJECT}: kernel fault: ${e.message}${why}`, 125);
    }
    throw new SandboxError(`${PROJECT}: internal error: ${(e as Error)?.message ?? e}`, 125);
  } finally {
    gofer.close();
  }
}
