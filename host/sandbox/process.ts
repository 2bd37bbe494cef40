// Guest processes (trusted): finding a program in the sandbox's namespace, compiling it, running it,
// and the `wasmbox` import module that lets a guest spawn a child.
//
// A sandbox runs one or more processes over one kernel. Each has its own kernel fd table (its
// streams and preopened root), args and environment; all share the VFS. A child runs to
// completion inside its parent's `wasmbox.spawn` call, like vfork + exec + wait: that is enough for
// a shell, and it needs no threads. A child's exit or trap ends only the child; a kernel fault ends
// the sandbox. A host with an interrupt hook (ProcessHost.interrupt: the browser's Ctrl-C) has it
// called before every import of every child, never of the top process; without one, the imports
// are wrapped exactly as before, with no check at all.
//
// The `wasmbox` import module (for guests; declared in guests/wasmbox.h):
//   spawn(path, path_len, argv_buf, argv_buf_len, argc, env_buf, env_buf_len, envc, cwd, cwd_len,
//         fds, status_out) -> errno
//     argv_buf/env_buf hold argc/envc NUL-terminated strings back to back; fds points to three i32
//     fds of the caller that become the child's 0, 1 and 2; cwd is passed to the child as PWD.
//     On success the child has run and exited, and its status is stored at status_out (a trap is
//     reported like a signal death: 128 + signal number). Errors: ENOENT (no such program),
//     ENOEXEC (not WebAssembly, or imports this host does not have), EACCES (a directory), EBADF
//     (a bad fd), EFAULT, EAGAIN (children nested too deeply).
//   layer(path, path_len, follow, out) -> errno
//     Which layer serves an absolute path (symlinks in the last place followed if `follow`). out is
//     32 bytes: where u32 (1 upper: created in the sandbox; 2 copied up from the image; 3 the
//     image's layer, unchanged; 4 the image's data with changed metadata; 5 an image directory
//     with changes, merged; 6 a host mount), layer u32 (the image layer's index + 1, or 0),
//     st_dev u32, filetype u32, then what WASI's filestat lacks: mode u32 (permission bits), uid
//     u32, gid u32, and a zero u32.
//   statfs(path, path_len, out) -> errno
//     Sizes of the file system holding an absolute path, for df. out is 56 bytes: blocks u64,
//     bfree u64, files u64, ffree u64 (for the overlay: the filestore's limit and free pages),
//     bsize u32, kind u32 (1 the overlay root, 2 a host mount, 3 a tmpfs mount), upper pages in
//     use u32, inodes u32, bavail u64 (bfree less what a host file system keeps back).
import { E } from '../../kernel/wasi/errno';
import type { Filestore } from '../filestore/filestore';
import { ExitSignal, GuestProcess, type Streams } from './glue';
import * as jspi from './jspi';
import type { PipeStreams } from '../stdio/pipes';
import { Kernel, KernelFault } from './kernel';
import { MemoryLimitError, capMemory } from './wasm-limits';
import { WasmGlue, type WasmGlueModules } from './wasm-glue';

/** A program that cannot be started: the errno a spawn returns, and the text the CLI prints. */
export class ExecError extends Error {
  constructor(
    readonly errno: number,
    message: string,
  ) {
    super(message);
  }
}

export interface ProcessHost {
  kernel: Kernel;
  filestore: Filestore;
  streams: Streams;
  /** Where the host reports guest traps (one line each). */
  report(line: string): void;
  /**
   * Runs the first process's `_start` (children run inside it): the Node host runs it under a
   * watchdog for --timeout and Ctrl-C. Whatever it throws ends the sandbox.
   */
  run?(start: () => void): void;
  /**
   * Optional: the container's memory limit in bytes (-m, as Docker's): the linear memories of every
   * live process and the kernel's stay under it together. Each module is compiled with a maximum of
   * what is left when it starts (memory.grow past it fails in the guest), and one whose declared
   * minimum is over that is refused (ENOMEM). Exact while one process runs at a time (a parent waits
   * in spawn); processes that run side by side (JSPI) were each capped by what was left at their start.
   */
  memoryLimit?: number;
  /**
   * Optional: called with each process's memory once instantiated, before its first instruction
   * (the Node host asks the host kernel for transparent huge pages there: see sandbox.ts).
   */
  adviseMemory?(mem: WebAssembly.Memory): void;
  /**
   * Optional: called before each WASI or `wasmbox` import of a child process (depth > 0; never the
   * top process), when no kernel call is in progress. It may throw ExitSignal to end the child there
   * (the browser demo's Ctrl-C throws ExitSignal(130)). A child that makes no calls is not reached.
   */
  interrupt?(proc: GuestProcess): void;
  /**
   * Optional: run guests suspendable (host/sandbox/jspi.ts; needs jspi.available()), so that blocking calls
   * put the guest aside instead of blocking the thread: a sleep returns this promise (which may
   * reject, e.g. at a deadline). runModule then returns a promise, and `run` is not used.
   */
  suspend?: (ms: number) => Promise<void>;
  /**
   * Optional: called before each import of every process, the top one included (a suspendable
   * sandbox's --timeout). It may throw ExitSignal to end the process there.
   */
  expire?(): void;
  /**
   * Optional: the WebAssembly glue's modules (wasm-glue.ts); the processes of a host without them,
   * and those it does not fit (see runModule), go through the JavaScript glue alone.
   */
  wasmGlue?: WasmGlueModules;
  /**
   * Optional: the sandbox's pipes (host/stdio/pipes.ts), whose streams are `streams`; without them
   * `wasmbox.pipe` answers ENOSYS.
   */
  pipes?: PipeStreams;
  /** Optional: told when a child starts (+1) and when it has ended (-1). */
  onChild?(delta: 1 | -1, child: GuestProcess, parent: GuestProcess): void;
  /**
   * Optional, for suspendable children: every wait of a child (a call that returned a promise) goes
   * through it, so that the host can abandon the wait by rejecting with ExitSignal (Ctrl-C).
   */
  childWait?(proc: GuestProcess, p: Promise<number>): Promise<number>;
}

const MAX_DEPTH = 32;

/**
 * Compiled programs, by the identity of the file they came from (GuestProcess.fileIdentity), per
 * kernel: a shell that runs `ls` a hundred times compiles it once, and reads it once.
 */
const modules = new WeakMap<Kernel, Map<string, WebAssembly.Module>>();

/** Joins a path to a directory, as path.posix.join (not available in the browser) would. */
function joinPath(dir: string, name: string): string {
  return `${dir.replace(/\/+$/, '')}/${name}`.replace(/\/{2,}/g, '/');
}

const ERRNO_TEXT: Record<number, string> = {
  [E.NOENT]: 'no such file or directory',
  [E.NOTDIR]: 'not a directory',
  [E.ISDIR]: 'is a directory',
  [E.LOOP]: 'too many levels of symbolic links',
  [E.ACCES]: 'permission denied',
  [E.NAMETOOLONG]: 'file name too long',
  [E.IO]: 'input/output error',
  [E.NOEXEC]: 'exec format error',
};

export function errnoText(e: number): string {
  return ERRNO_TEXT[e] ?? `error ${e}`;
}

/**
 * Finds and compiles the program `name` for `proc`: a name with a '/' is a path (relative to
 * `cwd`), a bare name is looked up through PATH (default /usr/local/bin:/usr/bin:/bin).
 */
// The linear memories of the live processes of each kernel (one sandbox), for the memory limit.
const liveMemories = new WeakMap<object, Set<WebAssembly.Memory>>();

function memoriesOf(kernel: object): Set<WebAssembly.Memory> {
  let set = liveMemories.get(kernel);
  if (!set) liveMemories.set(kernel, (set = new Set()));
  return set;
}

/** Bytes of linear memory a sandbox uses now: its live processes' and its kernel's. */
export function memoryInUse(kernel: Kernel): number {
  let n = kernel.memoryBytes();
  for (const m of memoriesOf(kernel)) n += m.buffer.byteLength;
  return n;
}

/**
 * The memory cap (64 KiB pages) for a process starting now under `limit` bytes: what is left, rounded
 * down to a sixteenth of the limit (so that a compiled module is reused while roughly as much is
 * left), and never above 4 GiB.
 */
function capPages(kernel: Kernel, limit: number): number {
  const step = Math.max(16, Math.floor(limit / 65536 / 16));
  const left = Math.max(0, Math.floor((limit - memoryInUse(kernel)) / 65536));
  const rounded = left >= step ? left - (left % step) : left;
  return Math.min(65536, rounded);
}

let compileGuest = (bytes: Uint8Array): WebAssembly.Module => new WebAssembly.Module(bytes as BufferSource);

/** How guests' modules are compiled from now on (the Node host's: with kept code, guest-code.ts). */
export function setGuestCompiler(compile: (bytes: Uint8Array) => WebAssembly.Module): void {
  compileGuest = compile;
}

export function loadProgram(proc: GuestProcess, name: string, env: string[], cwd: string, memoryLimit?: number): WebAssembly.Module {
  const candidates: string[] = [];
  if (name.includes('/')) candidates.push(name.startsWith('/') ? name : joinPath(cwd || '/', name));
  else {
    const pathVar = env.find((kv) => kv.startsWith('PATH='))?.slice(5) ?? '/usr/local/bin:/usr/bin:/bin';
    for (const dir of pathVar.split(':')) if (dir) candidates.push(joinPath(dir, name));
  }
  let cache = modules.get(proc.kernel);
  if (!cache) modules.set(proc.kernel, (cache = new Map()));
  let first: number = E.NOENT;
  const cap = memoryLimit === undefined ? -1 : capPages(proc.kernel, memoryLimit);
  for (const c of candidates) {
    const id = proc.fileIdentity(c);
    if (typeof id === 'number') {
      if (first === E.NOENT) first = id;
      continue;
    }
    const key = cap < 0 ? id : `${id}|${cap}`;
    const hit = cache.get(key);
    if (hit) return hit;
    const r = proc.readFile(c);
    if (typeof r === 'number') {
      if (first === E.NOENT) first = r;
      continue;
    }
    let bytes = r;
    if (cap >= 0) {
      try {
        bytes = capMemory(r, cap);
      } catch (e) {
        if (!(e instanceof MemoryLimitError)) throw e;
        throw new ExecError(E.NOMEM, `exec ${name}: ${e.message} of the memory limit (-m ${Math.round(memoryLimit! / 2 ** 20)}m)`);
      }
    }
    let m: WebAssembly.Module;
    try {
      m = compileGuest(bytes);
    } catch {
      throw new ExecError(E.NOEXEC, `exec ${name}: exec format error (not a WebAssembly module)`);
    }
    if (cache.size >= 64) cache.clear();
    cache.set(key, m);
    return m;
  }
  throw new ExecError(first === E.ISDIR ? E.ACCES : first, `exec ${name}: ${errnoText(first)}`);
}

/** Guest trap -> the status a native process would die with (128 + signal). */
export function trapStatus(e: WebAssembly.RuntimeError): number {
  const m = e.message;
  if (/unreachable/.test(m)) return 134; // SIGABRT
  if (/out of bounds|stack|call stack/i.test(m)) return 139; // SIGSEGV
  if (/divide|remainder|integer overflow|float unrepresentable|conversion/i.test(m)) return 136; // SIGFPE
  return 134;
}

/**
 * Wraps every import so that a fault inside the kernel or the glue is told apart from a guest trap.
 * With `check` (ProcessHost.interrupt, for a child; ProcessHost.expire), it runs before each call;
 * without it, the wrappers are built without the check, so they cost what they always did.
 */
function guard(imports: Record<string, (...a: any[]) => any>, check?: () => void): Record<string, (...a: any[]) => any> {
  const out: Record<string, (...a: any[]) => any> = {};
  for (const [name, fn] of Object.entries(imports)) {
    out[name] = check
      ? (a: any, b: any, c: any, d: any, e: any, f: any, g: any, h: any, i: any, j: any, k: any, l: any) => {
          try {
            check();
            return fn(a, b, c, d, e, f, g, h, i, j, k, l);
          } catch (err) {
            if (err instanceof ExitSignal || err instanceof KernelFault) throw err;
            throw new KernelFault(`${name}: ${(err as Error)?.message ?? err}`);
          }
        }
      : (a: any, b: any, c: any, d: any, e: any, f: any, g: any, h: any, i: any, j: any, k: any, l: any) => {
          try {
            return fn(a, b, c, d, e, f, g, h, i, j, k, l);
          } catch (err) {
            if (err instanceof ExitSignal || err instanceof KernelFault) throw err;
            throw new KernelFault(`${name}: ${(err as Error)?.message ?? err}`);
          }
        };
  }
  return out;
}

/**
 * Instantiates `module` for `proc` and runs it to completion. Returns its exit status; a trap is
 * reported through host.report and becomes 128 + signal. Throws ExecError if the module cannot be
 * instantiated, and KernelFault for a kernel fault. With host.suspend the guest runs suspendable
 * (host/sandbox/jspi.ts), and the status comes as a promise: it settles when the guest has finished, having
 * been put aside at each blocking call while its thread ran others.
 */
export function runModule(host: ProcessHost, proc: GuestProcess, module: WebAssembly.Module, argv0: string, depth = 0): number | Promise<number> {
  const interrupt = depth > 0 && host.interrupt ? () => host.interrupt!(proc) : undefined;
  const expire = host.expire?.bind(host);
  const check = interrupt && expire ? () => (expire(), interrupt()) : interrupt ?? expire;
  const wasi = guard(proc.imports(), check);
  // the WebAssembly glue (wasm-glue.ts) for the commonest file calls, with the check run first as
  // here (guarded alike); for a suspendable guest, its stream reads and writes stay the suspend
  // points set below
  const wg = host.wasmGlue ? new WasmGlue(host.wasmGlue, proc.kernel.exports, proc.pid, proc.wasmGlueSide(), wasi, check && guard({ check }).check) : null;
  const calls = wg ? { ...wasi, ...wg.imports } : wasi;
  const wasmbox = guard(
    {
      spawn: (...a: number[]) => spawn(host, proc, depth, a),
      start: (...a: number[]) => startImport(host, proc, depth, a),
      wait: (h: number, st: number) => wait(proc, h, st),
      pipe: (fds: number, flags: number) => pipe(host, proc, fds, flags),
      ...proc.wasmboxImports(),
    },
    check,
  );
  for (const imp of WebAssembly.Module.imports(module)) {
    const ok = (imp.module === 'wasi_snapshot_preview1' && imp.name in wasi) || (imp.module === 'wasmbox' && imp.name in wasmbox);
    if (!ok) throw new ExecError(E.NOEXEC, `exec ${argv0}: unsupported import ${imp.module}.${imp.name}`);
  }
  const notCommand = () => new ExecError(E.NOEXEC, `exec ${argv0}: not a WASI command (needs exported memory and _start)`);
  let instance: WebAssembly.Instance;
  let suspendable: (() => unknown) | null = null;
  try {
    if (host.suspend) {
      if (!WebAssembly.Module.exports(module).some((e) => e.name === '_start' && e.kind === 'function')) throw notCommand();
      proc.suspend = host.suspend;
      const points: jspi.SuspendPoint[] = [
        { module: 'wasi_snapshot_preview1', name: 'poll_oneoff', params: 4, fn: wasi.poll_oneoff },
        { module: 'wasmbox', name: 'spawn', params: 12, fn: wasmbox.spawn },
        { module: 'wasmbox', name: 'wait', params: 2, fn: wasmbox.wait },
        // a turn for the others: the guest is put aside until the event loop has gone round once
        { module: 'wasi_snapshot_preview1', name: 'sched_yield', params: 0, fn: () => new Promise<number>((resolve) => setImmediate(resolve, 0)) },
      ];
      const streams = proc.hostStreams;
      if (streams.readAsync && streams.writeAsync) {
        // reads of a stream wait for input, and writes for a slow reader, with the guest put aside
        proc.asyncStreams = true;
        points.push(
          { module: 'wasi_snapshot_preview1', name: 'fd_read', params: 4, fn: wasi.fd_read },
          { module: 'wasi_snapshot_preview1', name: 'fd_write', params: 4, fn: wasi.fd_write },
        );
      }
      const childWait = depth > 0 ? host.childWait?.bind(host) : undefined;
      if (childWait) {
        for (const p of points) {
          const f = p.fn;
          p.fn = (...a: number[]) => {
            const r = f(...a);
            return typeof r === 'number' ? r : childWait(proc, r);
          };
        }
      }
      ({ instance, start: suspendable } = jspi.instantiate(module, { wasi_snapshot_preview1: calls, wasmbox }, points));
    } else {
      instance = new WebAssembly.Instance(module, { wasi_snapshot_preview1: calls, wasmbox });
    }
  } catch (e: any) {
    if (e instanceof ExecError) throw e;
    throw new ExecError(E.NOEXEC, `exec ${argv0}: cannot instantiate: ${e?.message ?? e}`);
  }
  const mem = instance.exports.memory;
  const start = instance.exports._start;
  if (!(mem instanceof WebAssembly.Memory) || typeof start !== 'function') throw notCommand();
  proc.bindMemory(mem);
  wg?.bind(mem);
  host.adviseMemory?.(mem);
  const live = memoriesOf(host.kernel);
  live.add(mem); // counted against the memory limit until the process ends
  if (suspendable) {
    // A guest that never suspended has finished already: V8 11.3 then returns (or throws) at once
    // rather than through a promise. What it throws is caught by the Promise constructor (a
    // builtin), not by a try in this function: when this function's optimized code had been
    // invalidated meanwhile, V8 11.3 could die on catching an exception here that came off a
    // guest's own stack (V8_Fatal "Check failed: kind == DeoptimizeKind::kLazy", about once in
    // twenty runs of the shell corpus on a loaded machine).
    let returned = false;
    let r: unknown;
    const settled = new Promise<unknown>((resolve) => {
      r = suspendable!();
      returned = true;
      resolve(r);
    });
    if (returned && !(r instanceof Promise)) {
      live.delete(mem);
      return 0;
    }
    return settled.then(
      () => 0,
      (e) => endStatus(host, argv0, e, wg),
    ).finally(() => live.delete(mem));
  }
  try {
    if (depth === 0 && host.run) host.run(start as () => void);
    else (start as () => void)();
    return 0;
  } catch (e) {
    return endStatus(host, argv0, e, wg);
  } finally {
    live.delete(mem);
  }
}

/** runModule for a host that never runs guests suspendable (the browser's): the status itself. */
export function runModuleSync(host: ProcessHost, proc: GuestProcess, module: WebAssembly.Module, argv0: string): number {
  const status = runModule(host, proc, module, argv0);
  if (typeof status !== 'number') throw new Error('runModuleSync: the host runs guests suspendable');
  return status;
}

/** What a guest that threw `e` exits with: its proc_exit code, or 128 + signal for a trap. Anything else is rethrown. */
function endStatus(host: ProcessHost, argv0: string, e: unknown, wg: WasmGlue | null): number {
  if (e instanceof ExitSignal) return e.code;
  // a trap in the kernel under the WebAssembly glue, not the guest's own
  if (wg?.inKernel() && (e instanceof WebAssembly.RuntimeError || e instanceof RangeError)) throw new KernelFault(`kernel: ${e.message}`);
  if (e instanceof WebAssembly.RuntimeError) {
    host.report(`${argv0}: guest trapped: ${e.message}`);
    return trapStatus(e);
  }
  if (e instanceof RangeError && /call stack/i.test(e.message)) {
    host.report(`${argv0}: guest trapped: stack overflow`);
    return 139;
  }
  throw e;
}

const dec = new TextDecoder();

/** A child started by `wasmbox.start` and not yet waited for: its status, or the promise of it. */
type Started = number | Promise<number>;
const startedOf = new WeakMap<GuestProcess, Map<number, Started>>();
let nextHandle = 1;

/**
 * Starts a child from the 11 spawn arguments (path .. fds): returns an errno, or its status (it has
 * run to completion) or the promise of it (suspendable: it was put aside at its first wait and runs
 * on). The child's kernel process is destroyed when it ends.
 */
function startChild(host: ProcessHost, parent: GuestProcess, depth: number, a: number[]): { errno: number } | { status: Started } {
  const [pathP, pathL, argvP, argvL, argc, envP, envL, envc, cwdP, cwdL, fdsP] = a.map((x) => x >>> 0);
  const mem = parent.memoryBytes();
  const inMem = (p: number, l: number) => p + l <= mem.length;
  if (!inMem(pathP, pathL) || !inMem(argvP, argvL) || !inMem(envP, envL) || !inMem(cwdP, cwdL) || !inMem(fdsP, 12)) {
    return { errno: E.FAULT };
  }
  const strings = (p: number, l: number, n: number): string[] | null => {
    const out = dec.decode(mem.subarray(p, p + l)).split('\0');
    if (out.length < n) return null;
    return out.slice(0, n);
  };
  const name = dec.decode(mem.subarray(pathP, pathP + pathL));
  const argv = strings(argvP, argvL, argc);
  const env = strings(envP, envL, envc);
  if (!argv || !env || argc === 0 || name === '') return { errno: E.INVAL };
  if (depth + 1 >= MAX_DEPTH) return { errno: E.AGAIN };
  const cwd = dec.decode(mem.subarray(cwdP, cwdP + cwdL));
  const dv = new DataView(mem.buffer, mem.byteOffset);
  const fds = [dv.getInt32(fdsP, true), dv.getInt32(fdsP + 4, true), dv.getInt32(fdsP + 8, true)];
  const k = host.kernel.exports;
  const pid = k.proc_create_child(parent.pid, fds[0], fds[1], fds[2]);
  if (pid < 0) return { errno: -pid };
  const childEnv = cwd ? [...env.filter((kv) => !kv.startsWith('PWD=')), `PWD=${cwd}`] : env;
  // host.streams: the streams of the process tree this host runs (the top process may have a variant
  // of them: the browser's shell reads the terminal without the Ctrl-C check its children have)
  const child = new GuestProcess(host.kernel, host.filestore, pid, argv, childEnv, host.streams);
  const end = () => {
    k.proc_destroy(pid);
    host.onChild?.(-1, child, parent);
  };
  host.onChild?.(1, child, parent);
  let status: Started;
  try {
    status = runModule(host, child, loadProgram(child, name, childEnv, cwd, host.memoryLimit), argv[0], depth + 1);
  } catch (e) {
    end();
    if (e instanceof ExecError) return { errno: e.errno };
    throw e;
  }
  if (typeof status === 'number') end();
  else status = status.finally(end);
  return { status };
}

/** Stores a child's status in the caller's memory (which may have grown meanwhile). */
function putStatus(parent: GuestProcess, at: number, status: number): number {
  const mem = parent.memoryBytes();
  if (at + 4 > mem.length) return E.FAULT;
  new DataView(mem.buffer, mem.byteOffset).setInt32(at, status, true);
  return 0;
}

/** The `wasmbox.spawn` import (see the header): start, then wait. */
function spawn(host: ProcessHost, parent: GuestProcess, depth: number, a: number[]): number | Promise<number> {
  const statusP = a[11] >>> 0;
  if (statusP + 4 > parent.memoryBytes().length) return E.FAULT;
  const r = startChild(host, parent, depth, a);
  if ('errno' in r) return r.errno;
  // suspendable: the parent waits, put aside, until the child has finished
  return typeof r.status === 'number' ? putStatus(parent, statusP, r.status) : r.status.then((s) => putStatus(parent, statusP, s));
}

/** The `wasmbox.start` import: spawn's arguments with a handle for `wait` in place of the status. */
function startImport(host: ProcessHost, parent: GuestProcess, depth: number, a: number[]): number {
  const handleP = a[11] >>> 0;
  if (handleP + 4 > parent.memoryBytes().length) return E.FAULT;
  let started = startedOf.get(parent);
  if (!started) startedOf.set(parent, (started = new Map()));
  if (started.size >= 1024) return E.AGAIN;
  const r = startChild(host, parent, depth, a);
  if ('errno' in r) return r.errno;
  const handle = nextHandle++ & 0x7fffffff || nextHandle++;
  started.set(handle, r.status);
  return putStatus(parent, handleP, handle);
}

/** The `wasmbox.wait` import: the status of a started child, once it has ended (ECHILD: no such handle). */
function wait(parent: GuestProcess, handle: number, statusP: number): number | Promise<number> {
  statusP >>>= 0;
  const started = startedOf.get(parent);
  const s = started?.get(handle);
  if (s === undefined) return E.CHILD;
  if (statusP + 4 > parent.memoryBytes().length) return E.FAULT;
  started!.delete(handle);
  return typeof s === 'number' ? putStatus(parent, statusP, s) : s.then((st) => putStatus(parent, statusP, st));
}

/** The `wasmbox.pipe` import: a new pipe, its read fd then its write fd stored at fdsP (flags: 1 = unbounded). */
function pipe(host: ProcessHost, parent: GuestProcess, fdsP: number, flags: number): number {
  fdsP >>>= 0;
  const pipes = host.pipes;
  if (!pipes) return E.NOSYS;
  if (fdsP + 8 > parent.memoryBytes().length) return E.FAULT;
  if ((flags & ~1) !== 0) return E.INVAL;
  const k = host.kernel.exports;
  const [r, w] = pipes.make((flags & 1) !== 0);
  const rfd = k.proc_add_stream(parent.pid, r, 0, pipes.filetype(r));
  if (rfd < 0) {
    pipes.release(r);
    pipes.release(w);
    return -rfd;
  }
  const wfd = k.proc_add_stream(parent.pid, w, 1, pipes.filetype(w));
  if (wfd < 0) {
    pipes.release(w);
    k.fd_close(parent.pid, rfd); // releases the read end
    return -wfd;
  }
  const mem = parent.memoryBytes();
  const dv = new DataView(mem.buffer, mem.byteOffset);
  dv.setInt32(fdsP, rfd, true);
  dv.setInt32(fdsP + 4, wfd, true);
  return 0;
}
