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
import crypto from 'node:crypto';
import tty from 'node:tty';
import vm from 'node:vm';
import { ChannelClient, createChannelBuffer } from '../../gofer/channel';
import type { HostMount } from '../../gofer/hosttree';
import type { CacheLimits } from '../../gofer/image/cache';
import type { ImageConfig } from '../../gofer/image/index';
import { MSG_NAMES } from '../../gofer/protocol/messages';
import { createGofer, type GoferConfig } from '../../gofer/setup';
import type { GoferWorkerMessage } from '../../gofer/worker';
import { Io, Stream } from '../../kernel/abi';
import { E } from '../../kernel/wasi/errno';
import { MemoryFilestore, type Filestore } from '../filestore/filestore';
import { SELF_PREFIX, openFilestore, selfFileName } from '../filestore/filestore-file';
import { exportUpper } from '../image/export';
import { extractImage } from '../image/extract';
import { OptionError, type Overlay2, type TmpfsMount, type Volume } from '../cli/options';
import { loadNative } from '../../native/index';
import { ExitSignal, GuestProcess, type Streams } from './glue';
import { Kernel, KernelFault, type GoferTransport } from './kernel';
import { hugePages } from './huge-pages';
import { coarseClock } from './coarse-clock';
import { kernelCompiled, kernelFile, kernelModule, wasmGlueModules, wasmGlueUsed } from './kernel-node';
import type { WasmGlueModules } from './wasm-glue';
import { ExecError, errnoText, loadProgram, runModule, setGuestCompiler, type ProcessHost } from './process';
import { guestCode, type GuestCode } from './guest-code';
import { PipeStreams } from '../stdio/pipes';
import { HostStreams } from '../stdio/streams';
import { JobControl, SECOND_MS, SHELLS } from '../stdio/jobcontrol';
import { AGENT_DATA, Agent, O_CREAT, O_TRUNC } from './agent';

export const PROJECT = 'wasmbox';

export class SandboxError extends Error {
  constructor(message: string, readonly status: number) {
    super(message);
  }
}

export interface RunOptions {
  /** Path of the image archive; without one, `rootfs` (with overlay2 none) supplies the root. */
  image?: string;
  /** Replaces the image's Cmd (docker run IMAGE COMMAND...). */
  command?: string[];
  /** Replaces the image's Entrypoint (docker run --entrypoint); [] clears it. */
  entrypoint?: string[];
  /** Extra environment, KEY=VALUE, overriding the image's. */
  env?: string[];
  /** Working directory, overriding the image's (exported to the guest as PWD; made if missing). */
  workdir?: string;
  /** The sandbox's name (--name): in messages, and the --replicas line prefixes (NAME.N| ). */
  name?: string;
  /** --platform: the image's config must name this platform, when it names one (both WASI/wasm spellings match). */
  platform?: string;
  /** Where the gofer runs: this thread (default) or a worker thread of its own. */
  gofer?: 'worker' | 'inline';
  /** Cache for inflated layers. */
  cacheDir?: string;
  /** Bounds on layer inflation and on the cache (--max-layer-size, --cache-size). */
  imageLimits?: CacheLimits;
  /** The root file system (runsc --overlay2); default root:self. */
  overlay2?: Overlay2;
  /**
   * A host directory that is the root file system. With `--overlay2 none` it is used writable (else
   * the image is extracted to a temporary one); with an overlay it is the read-only lower, served by
   * the gofer, and root:self keeps the filestore inside it (hidden from the guest), as runsc does.
   * An image given as well supplies only its config.
   */
  rootfs?: string;
  /** The host directory standing for the container's upper layer (root:self puts its filestore there). */
  upperDir?: string;
  /** Bind mounts, docker -v. */
  volumes?: Volume[];
  /** tmpfs mounts inside the sandbox (docker --tmpfs): file data in the filestore, with a quota each. */
  tmpfs?: TmpfsMount[];
  /** The root file system is read-only (docker --read-only): EROFS, while mounts keep their own rule. */
  readonlyRoot?: boolean;
  /** Owner of the files the guest creates (OCI process.user, docker -u); default 0:0. */
  owner?: { uid: number; gid: number };
  /**
   * Host files copied into the upper layer before any process runs (an OCI bundle's bind mounts of
   * single files, such as /etc/hosts): a snapshot, not a live mount.
   */
  files?: { host: string; guest: string }[];
  /** How long (ms) names and attributes from a bind mount are trusted before revalidation (default 1000). */
  volumeCacheMs?: number;
  streams?: Streams;
  debugKernel?: boolean;
  progress?: (msg: string) => void;
  /** Write the upper layer to this file at exit, as an OCI layer tar. */
  exportUpper?: string;
  /** End the sandbox after this many seconds (status 124, as timeout(1)). */
  timeoutSec?: number;
  /**
   * Run the guests suspendable (host/sandbox/jspi.ts): a sleeping guest puts itself aside and lets the thread
   * run other sandboxes (--replicas with --per-thread). Needs JSPI. timeoutSec then ends each
   * process at its next call after the deadline (a guest computing without calls is not reached).
   */
  suspend?: boolean;
  /** Cap on each guest's WebAssembly memory, in bytes (memory.grow past it fails in the guest). */
  memoryBytes?: number;
  /** Cap on the objects the sandbox may create (ENOSPC past it); default 4 million. */
  inodes?: number;
  /**
   * The image, already opened and shared by another thread (runReplicas): used instead of opening
   * `image` again (which then only names it in messages).
   */
  shared?: GoferConfig['shared'];
  /** kernel.wasm, already compiled (runReplicas compiles it once for every thread). */
  kernelModule?: WebAssembly.Module;
  /** Stop on SIGINT / SIGTERM, cleaning up (default true; worker threads receive no signals). */
  handleSignals?: boolean;
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

interface GoferHandle {
  transport: GoferTransport;
  /** The image config, once the gofer has opened the image (rejects with a SandboxError if it cannot). */
  ready: Promise<ImageConfig>;
  /** After `ready`: warnings about the image for the user (Gofer.notes). */
  notes(): string[];
  stats(): Record<string, number | string>;
  /** Why the gofer stopped serving during the run, or null. */
  died(): string | null;
  close(): void;
}

function setupError(message: string): SandboxError {
  return new SandboxError(`${PROJECT}: ${message}`, 125);
}

/**
 * Starts the gofer in a worker thread. The transport exists at once, so the kernel can be built
 * while the worker boots and opens the image; nothing may call through it before `ready`.
 */
function startWorkerGofer(cfg: GoferConfig, progress?: (m: string) => void): GoferHandle {
  const sab = createChannelBuffer();
  const worker = new Worker(path.join(distDir(), 'gofer-worker.js'), { workerData: { ...cfg, sab } });
  const client = new ChannelClient(sab);
  let closing = false;
  let notes: string[] = [];
  const ready = new Promise<ImageConfig>((resolve, reject) => {
    worker.on('message', (m: GoferWorkerMessage) => {
      if (m.type === 'ready') {
        notes = m.notes;
        resolve(m.config as ImageConfig);
      }
      else if (m.type === 'progress') progress?.(m.message);
      else if (m.type === 'error') reject(setupError(m.message));
    });
    worker.on('error', (e) => reject(setupError(`gofer failed: ${e.message}`)));
    worker.on('exit', (code) => {
      client.markDead();
      reject(setupError(`gofer exited (${code}) before it was ready`));
    });
  });
  ready.catch(() => {}); // awaited later; a failure before then must not count as unhandled
  return {
    transport: client,
    ready,
    notes: () => notes,
    stats: () => ({}),
    died: () => (!closing && client.isDead() ? 'the gofer (file server) stopped during the run' : null),
    close() {
      closing = true;
      client.markDead();
      void worker.terminate();
    },
  };
}

function startInlineGofer(cfg: GoferConfig, progress?: (m: string) => void): GoferHandle {
  let g;
  try {
    g = createGofer(cfg, progress);
  } catch (e) {
    throw setupError((e as Error).message);
  }
  const window = new Uint8Array(0x200000);
  const server = g.server;
  return {
    transport: {
      window,
      call: (id, len) => server.handle(id, len, window),
      hostIO: server.hostIO,
      nativeHostIO: (memory) => server.nativeHostIO(memory),
    },
    ready: Promise.resolve(g.config),
    notes: () => g.notes,
    stats: () => {
      const c = server.counts();
      const s: Record<string, number | string> = { goferRequests: c.requests };
      if (g.hostCalls) s.hostCalls = g.hostCalls;
      c.byId.forEach((n, id) => n && (s[`gofer${MSG_NAMES[id]}`] = n));
      return s;
    },
    died: () => null,
    close: () => g.close(),
  };
}

/**
 * Mounts the bind mounts (gofer mounts firstVolume..) and tmpfs mounts, parents before what lies
 * below them (as Docker sorts mounts by depth), so that `-v /a` and `--tmpfs /a/b` nest as expected.
 */
function mountAll(kernel: Kernel, volumes: Volume[], firstVolume: number, tmpfs: TmpfsMount[], ttlMs: number): void {
  const k = kernel.exports;
  const depth = (p: string) => p.split('/').filter(Boolean).length;
  const all = [
    ...volumes.map((v, i) => ({ guest: v.guest, what: `-v ${v.host}:${v.guest}`, mount: (len: number) => k.mount_bind(len, firstVolume + i, ttlMs) })),
    ...tmpfs.map((t) => ({
      guest: t.guest,
      what: `--tmpfs ${t.guest}`,
      mount: (len: number) => {
        const pages = t.sizeBytes === undefined ? 0xffffffff : Math.min(Math.ceil(t.sizeBytes / 4096), 0xfffffffe);
        return k.mount_tmpfs(len, t.mode, pages, t.readonly ? 1 : 0);
      },
    })),
  ].sort((a, b) => depth(a.guest) - depth(b.guest));
  for (const m of all) {
    const bytes = new TextEncoder().encode(m.guest);
    if (bytes.length >= Io.PATH_MAX) throw setupError(`${m.what}: path too long`);
    kernel.view().set(bytes, kernel.io + Io.PATH1);
    const e = m.mount(bytes.length);
    if (e !== 0) throw setupError(`${m.what}: cannot mount: ${errnoText(e)}`);
  }
}

/** The size of the tmpfs at /dev, as Docker's (65536k). */
const DEV_SIZE = 64 << 20;

/** The devices Docker's /dev has that WASI programs can use (host/stdio/pipes.ts serves them). */
const DEVICES: [string, number][] = [
  ['null', Stream.DEV_NULL],
  ['zero', Stream.DEV_ZERO],
  ['full', Stream.DEV_FULL],
  ['random', Stream.DEV_RANDOM],
  ['urandom', Stream.DEV_RANDOM],
  ['stdin', Stream.DEV_FD0],
  ['stdout', Stream.DEV_FD0 + 1],
  ['stderr', Stream.DEV_FD0 + 2],
];

/**
 * /dev as `docker run` makes it: the character devices above and /dev/shm, in the tmpfs mounted
 * there (or in what the user mounted at /dev; a host directory there is left as it is).
 */
function makeDevices(kernel: Kernel, filestore: Filestore): void {
  const k = kernel.exports;
  for (const [name, rdev] of DEVICES) {
    const bytes = new TextEncoder().encode(`/dev/${name}`);
    kernel.view().set(bytes, kernel.io + Io.PATH1);
    const e = k.dev_node(bytes.length, rdev);
    if (e === E.PERM) return; // a host directory mounted at /dev: its own devices, if any
    if (e !== 0 && e !== E.EXIST) throw setupError(`/dev/${name}: cannot make it: ${errnoText(e)}`);
  }
  const agent = new Agent(kernel, filestore);
  try {
    const e = agent.mkdir('/dev/shm');
    if (e !== 0 && e !== E.EXIST) throw setupError(`/dev/shm: cannot make it: ${errnoText(e)}`);
  } finally {
    agent.destroy();
  }
}

/** Largest single file copyFilesIn takes (the files it is for are a few hundred bytes). */
const MAX_COPIED_FILE = 64 << 20;

/**
 * Copies host files into the sandbox's file system (through the WASI calls, as the agent makes
 * them), creating their directories. Runs before the root is made read-only.
 */
function copyFilesIn(kernel: Kernel, filestore: Filestore, files: { host: string; guest: string }[]): void {
  const agent = new Agent(kernel, filestore);
  try {
    for (const f of files) {
      const fail = (why: string) => setupError(`mount ${f.host}:${f.guest}: ${why}`);
      const parts = f.guest.split('/').filter(Boolean);
      for (let i = 1; i < parts.length; i++) {
        const e = agent.mkdir('/' + parts.slice(0, i).join('/'));
        if (e && e !== E.EXIST) throw fail(`cannot make its directory: ${errnoText(e)}`);
      }
      let data: Buffer;
      try {
        if (fs.statSync(f.host).size > MAX_COPIED_FILE) throw new Error(`larger than ${MAX_COPIED_FILE >> 20} MiB`);
        data = fs.readFileSync(f.host);
      } catch (e) {
        throw fail(`cannot read it: ${(e as Error).message}`);
      }
      const fd = agent.open(f.guest, O_CREAT | O_TRUNC);
      if (fd < 0) throw fail(`cannot create it: ${errnoText(-fd)}`);
      try {
        for (let off = 0; off < data.length; off += AGENT_DATA) {
          const chunk = data.subarray(off, off + AGENT_DATA);
          agent.data().set(chunk);
          const e = agent.writeData(fd, chunk.length);
          if (e) throw fail(`cannot write it: ${errnoText(e)}`);
        }
      } finally {
        agent.close(fd);
      }
    }
  } finally {
    agent.destroy();
  }
}

/** Whether two platforms ("os/arch", or "arch") name the same: WASI's os and wasm's arch each have two spellings. */
function samePlatform(a: string, b: string): boolean {
  const norm = (p: string): string => {
    const [os, arch] = p.includes('/') ? p.split('/') : ['wasi', p];
    return `${os === 'wasip1' ? 'wasi' : os}/${arch === 'wasm32' ? 'wasm' : arch}`;
  };
  return norm(a) === norm(b);
}

/** Makes the working directory `dir` and its parents where missing; one-line errors (125). */
function makeWorkdir(kernel: Kernel, filestore: Filestore, dir: string): void {
  const agent = new Agent(kernel, filestore);
  try {
    const parts = dir.split('/').filter(Boolean);
    for (let i = 1; i <= parts.length; i++) {
      const p = '/' + parts.slice(0, i).join('/');
      const e = agent.mkdir(p);
      if (e && e !== E.EXIST) throw setupError(`working directory ${dir}: cannot make ${p}: ${errnoText(e)}`);
    }
  } finally {
    agent.destroy();
  }
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

/** kernel/fs/remote.ts TTL_EXCLUSIVE: a mount only this sandbox changes, never revalidated. */
const TTL_EXCLUSIVE = 0xffffffff;

let guests: GuestCode | null = null;

/** This process's kept guest code (guest-code.ts), the compiler of every guest's module from the first sandbox on. */
function guestCodeOnce(): GuestCode {
  if (!guests) {
    const g = guestCode(distDir());
    setGuestCompiler((bytes) => g.compile(bytes));
    guests = g;
  }
  return guests;
}

/** Things to undo at the end of a run, last first. */
export class Cleanup {
  private readonly steps: (() => void)[] = [];
  add(fn: () => void): void {
    this.steps.push(fn);
  }
  run(): void {
    while (this.steps.length) {
      try {
        this.steps.pop()!();
      } catch {}
    }
  }
}

// Temporary directories ($TMPDIR/wasmbox-upper-XXXXXX for root:self's default upper directory,
// wasmbox-rootfs-XXXXXX for an image extracted for `none`) each have an owner file beside them,
// `<dir>.owner`, holding the pid and start time of the process that made it. A run removes its own
// at exit; a run killed with SIGKILL cannot, so every start sweeps the ones whose owner is gone
// (sweepStaleTemps). Nothing is kept inside the directory itself: a rootfs is the guest's root.
const OWNED = /^wasmbox-(upper|rootfs)-[A-Za-z0-9]{6}\.owner$/;

function tempDir(prefix: string, cleanup: Cleanup): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), `${PROJECT}-${prefix}-`));
  const owner = `${d}.owner`;
  try {
    fs.writeFileSync(owner, `${process.pid} ${processStartTime(process.pid)}\n`, { flag: 'wx', mode: 0o600 });
  } catch (e) {
    fs.rmSync(d, { recursive: true, force: true });
    throw e;
  }
  cleanup.add(() => {
    removeTree(d);
    fs.rmSync(owner, { force: true });
  });
  return d;
}

/** Whether the process a lock or owner file names ("PID STARTTIME") is still the one that wrote it. */
function ownerAlive(file: string): boolean {
  let owner = '';
  try {
    owner = fs.readFileSync(file, 'utf8').trim();
  } catch {
    return true; // unreadable: leave it alone
  }
  const [pid, start] = owner.split(' ');
  return /^\d+$/.test(pid ?? '') && start !== '' && processStartTime(Number(pid)) === start;
}

/**
 * Removes the temporary directories (and the self filestores in them) of runs that were killed:
 * those whose owner file names a process that is gone. A live run's are never touched. Returns the
 * directories removed.
 */
export function sweepStaleTemps(tmp = os.tmpdir()): string[] {
  return sweepDead(tmp, OWNED, (owner) => {
    const dir = owner.slice(0, -'.owner'.length);
    removeTree(dir);
    return fs.existsSync(dir) ? null : dir;
  });
}

/**
 * For every file in `dir` whose name matches `pattern` and whose owner (pid and start time, inside
 * it) is gone: `remove(file, match)` removes what it stands for and says what (null: nothing gone,
 * the file stays); the file itself then goes too. Returns what was removed.
 */
function sweepDead(dir: string, pattern: RegExp, remove: (file: string, m: RegExpExecArray) => string | null): string[] {
  const removed: string[] = [];
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return removed;
  }
  for (const n of names) {
    const m = pattern.exec(n);
    if (!m) continue;
    const file = path.join(dir, n);
    if (ownerAlive(file)) continue;
    const gone = remove(file, m);
    if (gone === null) continue;
    fs.rmSync(file, { force: true });
    removed.push(gone);
  }
  return removed;
}

/**
 * Removes a directory tree of any depth. fs.rmSync works by path and fails past PATH_MAX (a tree
 * 2,000 levels deep); so first every directory whose path grows long is moved up beside `root`
 * (rename is one call on two paths that are still short enough) and removed in its turn.
 */
export function removeTree(root: string): void {
  const pending = [root];
  let moved = 0;
  while (pending.length) {
    const top = pending.pop()!;
    const stack = [top];
    while (stack.length) {
      const d = stack.pop()!;
      let entries: fs.Dirent[];
      try {
        entries = fs.readdirSync(d, { withFileTypes: true });
      } catch {
        continue;
      }
      for (const e of entries) {
        if (!e.isDirectory()) continue;
        const sub = path.join(d, e.name);
        if (sub.length < 2048) stack.push(sub);
        else {
          const up = `${root}.deep-${moved++}`;
          try {
            fs.renameSync(sub, up);
            pending.push(up);
          } catch {
            // cannot move it: rmSync below fails on it, and the directory stays
          }
        }
      }
    }
    try {
      fs.rmSync(top, { recursive: true, force: true });
    } catch {
      // what cannot be removed stays (the caller sees the directory still there)
    }
  }
}

/** The start time of process `pid` (field 22 of /proc/PID/stat), or '' if there is no such process. */
function processStartTime(pid: number): string {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? '';
  } catch {
    return '';
  }
}

/**
 * Removes the self filestores of sandboxes that were killed (SIGKILL leaves them behind): each has
 * a lock file naming its host process and that process's start time, and is removed only when no
 * process with that pid and start time exists. A live sandbox's filestore is never touched.
 */
export function sweepStaleFilestores(dir: string): string[] {
  return sweepDead(dir, /^(\.wasmbox\.filestore\.[0-9a-f]+)\.lock$/, (_lock, m) => {
    fs.rmSync(path.join(dir, m[1]), { force: true });
    return m[1];
  });
}

/**
 * root:self over a host rootfs: the filestore goes inside the rootfs directory, as runsc puts it, so
 * that a container engine's accounting of the rootfs (its snapshot's upper directory, kubelet's du)
 * sees the sandbox's writes. A rootfs that cannot take a file (read-only on the host) keeps the
 * filestore in a temporary directory instead, and says so.
 */
function selfDirInRootfs(rootfs: string | undefined, progress?: (m: string) => void): string | undefined {
  if (rootfs === undefined) return undefined;
  try {
    fs.accessSync(rootfs, fs.constants.W_OK); // EROFS on a read-only mount, even for root
    return rootfs;
  } catch {
    progress?.(`--rootfs ${rootfs} is not writable on the host: the filestore goes to a temporary directory`);
    return undefined;
  }
}

/** The bind mount whose host side is `dir` or holds it (so that the guest could reach into it), if any. */
function exposedBy(dir: string, volumes: Volume[]): Volume | undefined {
  const real = (p: string) => {
    try {
      return fs.realpathSync(p);
    } catch {
      return path.resolve(p);
    }
  };
  const d = real(dir);
  return volumes.find((v) => {
    const h = real(v.host);
    return d === h || d.startsWith(h === '/' ? '/' : `${h}/`);
  });
}

/**
 * The memory limit of a sandbox run without -m: half of the host's memory, so that an unconfigured
 * run cannot take it all (every process's linear memory and the kernel's count, as under -m).
 */
export function defaultMemoryLimit(): number {
  return Math.floor(os.totalmem() / 2);
}

/** Opens the filestore the overlay2 mode asks for; `note` says when it fell back to memory. */
function filestoreFor(mode: Overlay2, opts: RunOptions, cleanup: Cleanup): { filestore: Filestore; note: string | null; files: string[] } {
  const memLimit = Math.floor(os.totalmem() / 2);
  if (mode.kind === 'none') return { filestore: new MemoryFilestore(0), note: null, files: [] };
  // Fresh pages of a host-backed filestore are written by system call (Seg.PageNew), so a full disk
  // is ENOSPC, never SIGBUS, without reserving blocks up front (fallocate'd, unwritten extents make
  // every later write several times slower on ext4).
  if (mode.kind === 'memory') return { ...openFilestore('memfd', { limitBytes: mode.size ?? memLimit }), files: [] };
  const dir = mode.kind === 'dir' ? mode.dir : opts.upperDir ?? selfDirInRootfs(opts.rootfs, opts.progress) ?? tempDir('upper', cleanup);
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
    throw setupError(`${mode.kind === 'dir' ? '--overlay2 dir=' : '--upper-dir '}${dir}: not a directory`);
  }
  // Without a size, the limit is the space free where the filestore lives (it can use no more).
  let limit = mode.size;
  if (limit === undefined) {
    const st = fs.statfsSync(dir);
    limit = Math.min(Number(st.bavail) * Number(st.bsize), 2 ** 44);
  }
  let spec = mode.kind === 'dir' ? `dir=${dir}` : 'self';
  // root:self keeps its file by name; where a bind mount would let the guest reach that name (and
  // truncate the file under its own mapping: SIGBUS), it is made as dir= makes it, unlinked at once
  const exposing = mode.kind === 'self' ? exposedBy(dir, opts.volumes ?? []) : undefined;
  if (exposing) {
    spec = `dir=${path.resolve(dir)}`;
    opts.progress?.(`-v ${exposing.host}:${exposing.guest} contains the upper directory ${dir}: its filestore is unlinked there at once, out of the guest's reach`);
  }
  const sandboxId = crypto.randomBytes(8).toString('hex');
  const files: string[] = [];
  if (mode.kind === 'self' && !exposing) {
    sweepStaleFilestores(dir);
    const lock = path.join(dir, `${selfFileName(sandboxId)}.lock`);
    fs.writeFileSync(lock, `${process.pid} ${processStartTime(process.pid)}\n`, { flag: 'wx', mode: 0o600 });
    cleanup.add(() => fs.rmSync(lock, { force: true }));
    files.push(path.join(path.resolve(dir), selfFileName(sandboxId)), lock);
  }
  return { ...openFilestore(spec, { limitBytes: limit, upperDir: dir, sandboxId }), files };
}

/** WASMBOX_TRACE_STARTUP=1: each start-up phase's end, in ms since the process started, on stderr. */
const TRACE = typeof process.env.WASMBOX_TRACE_STARTUP === 'string';
function mark(phase: string): void {
  if (TRACE) process.stderr.write(`${PROJECT}: startup: ${performance.now().toFixed(1)} ms ${phase}\n`);
}

/**
 * A sandbox, set up and ready to run processes: the gofer serving the lower and the mounts, the
 * filestore, the kernel with everything mounted. Made by openSandbox; `cleanup` undoes it all.
 */
export interface OpenedSandbox {
  kernel: Kernel;
  filestore: Filestore;
  /** The image's config (or the --rootfs run's: empty unless an image was given for it). */
  config: ImageConfig;
  /** Warnings about the image, one line each, for the caller to show (special files left out). */
  warnings: string[];
  mode: Overlay2;
  /** Files this sandbox made on the host that a hard kill would leave (root:self's filestore and lock). */
  hostFiles: string[];
  /** Kernel and gofer statistics, and which filestore is in use. */
  stats(): Record<string, number | string>;
  /** Advises a process's memory as the kernel's was (ProcessHost.adviseMemory; huge-pages.ts). */
  adviseMemory(mem: WebAssembly.Memory): void;
  /** The WebAssembly glue's modules (ProcessHost.wasmGlue), or null for the JavaScript glue alone. */
  wasmGlue: WasmGlueModules | null;
  /** Why the gofer stopped serving during the run, or null. */
  goferDied(): string | null;
  cleanup: Cleanup;
}

/**
 * Sets a sandbox up from `opts` (everything but the processes). Errors are SandboxErrors; on one,
 * whatever was made is undone before it is thrown.
 */
export async function openSandbox(opts: RunOptions, cleanup = new Cleanup()): Promise<OpenedSandbox> {
  // first, so that it runs last: the compiles of guests' code start once everything else is done
  const guests = guestCodeOnce();
  cleanup.add(() => guests.flush());
  const cacheDir = opts.cacheDir ?? defaultCacheDir();
  const mode = opts.overlay2 ?? { kind: 'self' };
  const volumes = opts.volumes ?? [];
  let kernel: Kernel | null = null;
  try {
    sweepStaleTemps();
    if (opts.image !== undefined && !opts.shared && !fs.existsSync(opts.image)) throw setupError(`image not found: ${opts.image}`);
    if (opts.shared && mode.kind === 'none') throw setupError('a shared image needs an overlay (not --overlay2 none)');
    for (const v of volumes) {
      if (!fs.existsSync(v.host) || !fs.statSync(v.host).isDirectory()) throw setupError(`-v ${v.host}:${v.guest}: ${v.host} is not a directory`);
    }
    // The gofer's mounts: 0 is the image (if the overlay is used); then the rootfs (none); then volumes.
    const hostMounts: HostMount[] = [];
    let imageForGofer: string | null = opts.image ?? null;
    let noneConfig: ImageConfig | null = null;
    let lowerDir: GoferConfig['lowerDir'];
    if (mode.kind === 'none') {
      let rootfs = opts.rootfs;
      if (rootfs === undefined) {
        if (opts.image === undefined) throw setupError('--overlay2 none needs --rootfs DIR or an image');
        rootfs = tempDir('rootfs', cleanup);
        opts.progress?.(`extracting ${opts.image} for --overlay2 none`);
        try {
          noneConfig = extractImage(opts.image, rootfs, cacheDir, opts.imageLimits);
        } catch (e) {
          throw setupError((e as Error).message);
        }
      } else if (!fs.existsSync(rootfs) || !fs.statSync(rootfs).isDirectory()) {
        throw setupError(`--rootfs ${rootfs}: not a directory`);
      } else if (opts.image !== undefined) {
        noneConfig = null; // the image supplies the config only
      }
      hostMounts.push({ path: rootfs, readonly: !!opts.readonlyRoot });
      imageForGofer = opts.rootfs !== undefined ? opts.image ?? null : null;
    } else if (opts.rootfs !== undefined) {
      // a host directory is the lower, read-only; an image, if given too, supplies only its config
      if (opts.shared) throw setupError('--rootfs: not with a shared image');
      if (!fs.existsSync(opts.rootfs) || !fs.statSync(opts.rootfs).isDirectory()) throw setupError(`--rootfs ${opts.rootfs}: not a directory`);
      lowerDir = { path: opts.rootfs, hideAtRoot: [SELF_PREFIX] };
    } else if (opts.image === undefined) {
      throw setupError('an IMAGE is required (or --rootfs DIR)');
    }
    const firstVolume = hostMounts.length + 1;
    for (const v of volumes) hostMounts.push({ path: v.host, readonly: v.readonly });
    mark('setup');
    // The filestore first: the gofer must know its file, to serve it under no name (HiddenFile).
    const { filestore, note, files: filestoreFiles } = filestoreFor(mode, opts, cleanup);
    cleanup.add(() => filestore.close());
    mark('filestore');
    const hidden = filestore.hostFile?.() ?? null;
    const goferCfg: GoferConfig = {
      image: imageForGofer, lowerDir, mounts: hostMounts, cacheDir, limits: opts.imageLimits, shared: opts.shared, hidden: hidden ? [hidden] : [],
    };
    const gofer = opts.gofer === 'worker' ? startWorkerGofer(goferCfg, opts.progress) : startInlineGofer(goferCfg, opts.progress);
    cleanup.add(() => gofer.close());

    // While the gofer worker boots and opens the image: the kernel.
    mark('gofer');
    kernel = new Kernel(opts.kernelModule ?? kernelModule(kernelFile(distDir(), !!opts.debugKernel)), filestore, gofer.transport);
    // guests' memories only: the kernel's grows by doubling and touches little of what it adds, and
    // advised, opbench's first-pass pwrite was 0.1-0.15 µs slower (zeroing 2 MiB pages it barely used)
    const huge = hugePages();
    mark('kernel');
    const goferConfig = await gofer.ready;
    mark('gofer ready');
    const k = kernel.exports;
    let se = kernel.setup(Math.min(filestore.limitPages, 0xfffffffe), mode.kind === 'none' ? 2 : 1);
    // the rootfs of none is the sandbox's alone, as gVisor's --file-access=exclusive root: cached, never revalidated
    if (se === 0 && mode.kind === 'none') se = k.mount_root_remote(1, TTL_EXCLUSIVE);
    if (se !== 0) throw setupError(`cannot mount the root file system: ${errnoText(se)}`);
    const clock = coarseClock(kernel);
    cleanup.add(() => clock.stop());
    k.kernel_set_inode_limit(opts.inodes ?? 4_000_000);
    const userDev = [...volumes, ...(opts.tmpfs ?? [])].some((m) => m.guest.replace(/\/+$/, '') === '/dev');
    const tmpfs = userDev ? opts.tmpfs ?? [] : [...(opts.tmpfs ?? []), { guest: '/dev', mode: 0o755, sizeBytes: DEV_SIZE, readonly: false }];
    mountAll(kernel, volumes, firstVolume, tmpfs, opts.volumeCacheMs ?? 1000);
    makeDevices(kernel, filestore);
    if (opts.files?.length) copyFilesIn(kernel, filestore, opts.files);
    const config = noneConfig ?? goferConfig;
    // as `docker run`, a working directory that is not there yet is made (before the root turns read-only)
    const workdir = opts.workdir ?? config.workingDir;
    if (workdir && workdir !== '/') makeWorkdir(kernel, filestore, workdir);
    if (opts.owner) k.kernel_set_owner(opts.owner.uid, opts.owner.gid);
    if (opts.readonlyRoot && mode.kind !== 'none') k.mount_root_readonly();

    return {
      kernel,
      filestore,
      config,
      warnings: gofer.notes(),
      mode,
      hostFiles: filestoreFiles,
      stats: () => ({ ...kernel!.stats(), kernelCode: opts.kernelModule ? 'given by the caller' : kernelCompiled(), glue: wasmGlueUsed(), guestCode: guests.stat(), hugePages: huge.stat(), clock: clock.stat(), hostClockReads: kernel!.clockReads, filestore: filestore.kind + (note ? ` (${note})` : ''), ...filestore.counters?.(), ...gofer.stats() }),
      goferDied: () => gofer.died(),
      adviseMemory: huge.advise,
      wasmGlue: wasmGlueModules(distDir()),
      cleanup,
    };
  } catch (e) {
    cleanup.run();
    throw asSandboxError(e, kernel);
  }
}

/** Any failure of a run as a SandboxError: one line, status 125 unless it says otherwise. */
function asSandboxError(e: unknown, kernel: Kernel | null): SandboxError {
  if (e instanceof SandboxError) return e;
  if (e instanceof OptionError) return new SandboxError(`${PROJECT}: ${e.message}`, 125);
  const why = kernel?.panicMessage ? ` (${kernel.panicMessage})` : '';
  if (e instanceof KernelFault || e instanceof WebAssembly.RuntimeError) {
    return new SandboxError(`${PROJECT}: kernel fault: ${(e as Error).message}${why}`, 125);
  }
  return new SandboxError(`${PROJECT}: internal error: ${(e as Error)?.message ?? e}`, 125);
}

/** The environment and working directory of the first process, from the config and the overrides. */
export function processEnv(config: ImageConfig, opts: Pick<RunOptions, 'env' | 'workdir'>): { env: string[]; workdir: string } {
  const workdir = opts.workdir ?? config.workingDir ?? '';
  return { env: mergeEnv(config.env ?? [], opts.env ?? [], workdir), workdir };
}

export async function run(opts: RunOptions): Promise<RunResult> {
  mark('run');
  const cleanup = new Cleanup();
  const signals = { jobControl: false };
  const stopSignals = opts.handleSignals === false ? () => {} : onStopSignals(cleanup, signals);
  let kernel: Kernel | null = null;
  try {
    const sb = await openSandbox(opts, cleanup);
    kernel = sb.kernel;
    const { filestore, config, mode } = sb;
    const k = kernel.exports;
    if (opts.platform && config.platform && !samePlatform(opts.platform, config.platform)) {
      throw setupError(`--platform ${opts.platform}: the image is for ${config.platform}`);
    }
    const argv = commandLine(config, opts);
    if (argv.length === 0) throw setupError('no command specified (the image has no Entrypoint or Cmd)');
    const { env, workdir } = processEnv(config, opts);
    // an interactive shell (its stdin a terminal, guests suspendable): Ctrl-C stops its foreground
    const jobControl = opts.suspend === true && !opts.streams && opts.handleSignals !== false && tty.isatty(0) && SHELLS.has(path.posix.basename(argv[0]));
    const hostStreams = opts.streams ? null : new HostStreams(jobControl);
    if (hostStreams) cleanup.add(() => hostStreams.close());
    const baseStreams = opts.streams ?? hostStreams!;
    const report = (line: string) => {
      // on the sandbox's own stderr: with --replicas, prefixed with its number like its other lines
      const b = new TextEncoder().encode(`${PROJECT}: ${line}\n`);
      baseStreams.write(2, b, 0, b.length);
    };
    // pipes between the guests (wasmbox.pipe): stages side by side when they run suspendable
    const pipes = new PipeStreams(baseStreams, opts.suspend === true, report);
    kernel.onStreamRelease = (id) => pipes.release(id);
    const streams: Streams = pipes;
    for (const w of sb.warnings) {
      const b = new TextEncoder().encode(`${PROJECT}: warning: ${w}\n`);
      streams.write(2, b, 0, b.length);
    }
    mark('mounted');
    const pid = k.proc_create(streams.filetype(0), streams.filetype(1), streams.filetype(2));
    if (pid < 0) throw setupError('cannot create a process');
    // what the native watchdog removes if it has to end the process itself
    const paths = [...sb.hostFiles];
    const upper = sb.hostFiles.length ? path.dirname(sb.hostFiles[0]) : '';
    if (path.basename(upper).startsWith(`${PROJECT}-upper-`) && path.dirname(upper) === os.tmpdir()) paths.push(upper, `${upper}.owner`);
    let jobs: JobControl | null = null;
    if (jobControl) {
      signals.jobControl = true;
      const fatal = () => {
        cleanup.run();
        process.stderr.write(`${PROJECT}: stopped by SIGINT (a second Ctrl-C within ${SECOND_MS / 1000} s)\n`);
        process.exit(130);
      };
      jobs = new JobControl(fatal, paths, () => hostStreams!.interruptReads());
      cleanup.add(() => jobs!.close());
    } else if (opts.suspend && opts.handleSignals !== false) {
      // Suspendable guests run outside vm's watchdog: SIGINT or SIGTERM is acted on by Node's
      // handler once the thread is free; a guest that computes without letting it go is ended by
      // the native watchdog after STOP_GRACE_MS, its files removed, killed by the same signal.
      const native = loadNative().addon;
      if (native?.armWatchdog) {
        native.armWatchdog([SIGINT, SIGTERM], STOP_GRACE_MS, paths);
        cleanup.add(() => native.disarmWatchdog?.());
      }
    }
    const proc = new GuestProcess(kernel, filestore, pid, argv, env, jobs ? jobs.shellStreams(streams) : streams);
    const clock = opts.suspend ? suspendClock(opts.timeoutSec) : null;
    const timedOut = () => new SandboxError(`${PROJECT}: timed out after ${opts.timeoutSec}s (--timeout); the sandbox was stopped`, 124);
    const expire = clock?.expire;
    const host: ProcessHost = {
      kernel,
      filestore,
      streams,
      pipes,
      report,
      run: (start) => guardedRun(start, opts.timeoutSec),
      suspend: clock?.sleep,
      expire: jobs ? () => (expire?.(), jobs!.poll()) : expire,
      memoryLimit: opts.memoryBytes ?? defaultMemoryLimit(),
      adviseMemory: sb.adviseMemory,
      wasmGlue: sb.wasmGlue ?? undefined,
    };
    if (jobs) {
      const j = jobs;
      host.interrupt = (p) => j.check(p);
      host.childWait = (p, w) => j.wait(p, w);
      host.onChild = (d, c, parent) => j.child(d, c, parent);
    }
    // The program is found inside the sandbox's namespace (a bare name through the image's PATH).
    let status: number;
    try {
      const module = loadProgram(proc, argv[0], env, workdir, host.memoryLimit);
      mark('program loaded');
      status = await runModule(host, proc, module, argv[0]);
      if (clock?.expired()) throw timedOut();
    } catch (e) {
      const code = (e as { code?: string })?.code;
      if (code === 'ERR_SCRIPT_EXECUTION_TIMEOUT') throw timedOut();
      if (code === 'ERR_SCRIPT_EXECUTION_INTERRUPTED') throw interrupted();
      if (e instanceof ExecError) {
        const code = e.errno === E.NOENT || e.errno === E.NOTDIR ? 127 : 126;
        const msg = e.errno === E.ACCES ? `exec ${argv[0]}: is a directory` : e.message;
        throw new SandboxError(`${PROJECT}: ${msg}`, code);
      }
      throw e;
    }
    const died = sb.goferDied();
    if (died) throw setupError(`${died}; file operations that needed it failed with EIO`);
    if (opts.exportUpper) {
      if (mode.kind === 'none') throw setupError('--export-upper needs an overlay (not --overlay2 none)');
      try {
        exportUpper(kernel, proc, opts.exportUpper);
      } catch (e) {
        throw setupError(`--export-upper ${opts.exportUpper}: ${(e as Error).message}`);
      }
    }
    return { status, stats: sb.stats() };
  } catch (e) {
    throw asSandboxError(e, kernel);
  } finally {
    cleanup.run();
    stopSignals();
  }
}

// ---------------------------------------------------------------------------------------------
// Stopping: --timeout, SIGINT and SIGTERM

/**
 * Runs the guest under vm's watchdog: a timeout, and SIGINT, stop it even in the middle of a tight
 * loop. SIGTERM is turned into SIGINT by the native addon (Node can break only on SIGINT); without
 * the addon SIGTERM stops the sandbox as soon as the guest returns to the host.
 */
/**
 * --timeout for a suspendable sandbox, which runs outside guardedRun's watchdog: `sleep` (the
 * sleeps of its guests) ends at the deadline by rejecting with ExitSignal(124), and `expire`
 * (before every import of every process; it reads the clock every 64th call) throws it once the
 * deadline has passed, so each process in the sandbox ends at its next call. A guest that computes
 * without making any call is not reached.
 */
function suspendClock(timeoutSec?: number): { sleep: (ms: number) => Promise<void>; expire?: () => void; expired: () => boolean } {
  const deadline = timeoutSec ? performance.now() + timeoutSec * 1000 : Infinity;
  let out = false;
  let calls = 0;
  const sleep = (ms: number) =>
    new Promise<void>((resolve, reject) => {
      const left = deadline - performance.now();
      if (ms < left) setTimeout(resolve, Math.min(ms, 2 ** 31 - 1));
      else
        setTimeout(() => {
          out = true;
          reject(new ExitSignal(124));
        }, Math.max(0, left));
    });
  const expire = () => {
    if (out || ((++calls & 63) === 0 && performance.now() > deadline)) {
      out = true;
      throw new ExitSignal(124);
    }
  };
  return { sleep, expire: timeoutSec ? expire : undefined, expired: () => out };
}

const SIGINT = 2;
const SIGTERM = 15;
/** How long a suspendable sandbox's guests have to let Node act on SIGINT or SIGTERM. */
const STOP_GRACE_MS = 2000;

function guardedRun(start: () => void, timeoutSec?: number): void {
  vm.runInNewContext('start()', { start }, { breakOnSigint: true, timeout: timeoutSec ? Math.round(timeoutSec * 1000) : undefined });
}

function interrupted(): SandboxError {
  const term = loadNative().addon?.takeSigterm() ?? false;
  return new SandboxError(`${PROJECT}: stopped by ${term ? 'SIGTERM' : 'SIGINT'}`, term ? 143 : 130);
}

/**
 * While a run is set up or torn down (outside the guest), SIGINT and SIGTERM undo what it made
 * (filestore, temporary directories, gofer) and end the process: 130 / 143. Returns the undo.
 * Once `state.jobControl` is set, SIGINT is left to host/stdio/jobcontrol.ts.
 */
function onStopSignals(cleanup: Cleanup, state: { jobControl: boolean }): () => void {
  const native = loadNative().addon;
  native?.forwardSigterm();
  const handler = (sig: NodeJS.Signals) => {
    const term = sig === 'SIGTERM' || (native?.takeSigterm() ?? false);
    if (!term && state.jobControl) return; // Ctrl-C is the shell's (host/stdio/jobcontrol.ts)
    cleanup.run();
    process.stderr.write(`${PROJECT}: stopped by ${term ? 'SIGTERM' : 'SIGINT'}\n`);
    process.exit(term ? 143 : 130);
  };
  process.on('SIGINT', handler);
  if (!native) process.on('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    if (!native) process.off('SIGTERM', handler);
  };
}
