// The container's process under the OCI runtime (trusted): what `create` starts, whose pid the
// engine's shim waits for and whose exit status is the container's. Bundled as dist/oci-sandbox.js
// and started by a front end (cli.ts, or the native one, native/runtime.c) as
//   node --experimental-wasm-stack-switching dist/oci-sandbox.js create --root R --id ID --bundle B
//        --pid-file P --log L --log-format F --debug 0|1 --console 0|1 --foreground 0|1
// with the container's stdio as fds 0-2 (a pseudo-terminal's slave with a console socket) and a
// pipe to the front end as fd 3. It does the whole of `create`: it checks the bundle, sets the
// sandbox up (host/sandbox/sandbox.ts openSandbox) over the bundle's rootfs, finds the program, listens on
// the control socket, writes the state and the pid file, runs the createRuntime hooks, and says
// "ready" on fd 3; or it logs its error (one --log line), undoes everything and says "error STATUS
// MESSAGE". Then it waits for `start`. Then the init process runs, and `exec` requests add processes to the same kernel and
// upper layer, each a "job" with its own streams (the exec proxy's, over the socket). Guests run
// suspendable (JSPI): a guest waiting for input, a sleep or a child puts itself aside, so the
// others, and the control socket, keep going on this one thread. A guest that computes without
// making calls holds the thread until it calls again.
//
// Signals (a WASI guest has no handlers, so every fatal one ends the container, as an unhandled
// signal ends a native process): SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 end every process at
// its next call (or at once when it waits), and the sandbox exits 128 + the signal after cleaning
// up; SIGINT does the same without a terminal; with one, it is Ctrl-C: it ends the running child of
// the init process (130), as a shell's job control would, and nothing when there is none. The
// native addon counts signals in memory the guest's calls check (they may never return to the
// event loop) and, as a last resort for a guest spinning without calls, removes the filestore and
// dies of the signal 2 s later. When the init process ends, exec'd processes end too (137, as
// SIGKILL ends them when a container's pid 1 exits) and the sandbox exits with init's status.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { hostErrno } from '../../gofer/errno';
import { E } from '../../kernel/wasi/errno';
import { Filetype } from '../../kernel/wasi/types';
import { ExitSignal, GuestProcess, type Streams } from '../sandbox/glue';
import * as jspi from '../sandbox/jspi';
import { loadNative } from '../../native/index';
import { ExecError, loadProgram, runModule, type ProcessHost } from '../sandbox/process';
import { Cleanup, defaultMemoryLimit, openSandbox, PROJECT, SandboxError, type OpenedSandbox } from '../sandbox/sandbox';
import { hostFiletype } from '../stdio/streams';
import { loadBundle, type SandboxSpec } from './bundle';
import { runHook } from './hooks';
import { debug, logLine, setLog } from './log';
import { Frame, frame, readFrames, u32Frame, type Reply, type Request } from './control';
import { InputReader } from '../stdio/input';
import { OCI_VERSION, OciError, StateDir, checkId, startTime, stateJson, sweep, writeAtomic } from './state';

// A guest module's kept code (host/sandbox/guest-code.ts) is compiled before the sandbox ends, never
// by a detached process, which would outlive the container's exit in its cgroup.
process.env.WASMBOX_GUEST_CODE ??= 'sync';

/** Signals that end the container (a guest cannot handle any), by number. */
const FATAL = [1, 2, 3, 10, 12, 14, 15];
const SIGINT = 2;
/** How long a guest that makes no calls gets to notice a fatal signal before the process dies of it. */
const GRACE_MS = 2000;

// ---------------------------------------------------------------------------------------------
// Jobs: a top-level process and its children

class Job {
  children = 0;
  /** Non-zero once the job must end: every call of its processes throws ExitSignal(stopCode). */
  stopCode = 0;
  interruptPending = false;
  /** Rejecters of the job's pending waits (sleeps, reads): at most one process of a job waits. */
  private readonly waits = new Set<(e: unknown) => void>();

  constructor(readonly terminal: boolean) {}

  /** `p`, abandoned (rejected with ExitSignal) if the job is stopped or interrupted meanwhile. */
  wait<T>(p: Promise<T>): Promise<T> {
    if (this.stopCode) return Promise.reject(new ExitSignal(this.stopCode));
    return new Promise<T>((resolve, reject) => {
      this.waits.add(reject);
      p.then(
        (v) => {
          if (this.waits.delete(reject)) resolve(v);
        },
        (e) => {
          if (this.waits.delete(reject)) reject(e);
        },
      );
    });
  }

  private wake(code: number): number {
    const n = this.waits.size;
    for (const r of [...this.waits]) r(new ExitSignal(code));
    this.waits.clear();
    return n;
  }

  stop(code: number): void {
    if (!this.stopCode) this.stopCode = code;
    this.wake(this.stopCode);
  }

  /** Ctrl-C: ends the job's running child (the innermost one), if there is one. */
  interrupt(): void {
    if (this.children === 0) return;
    if (this.wake(130) === 0) this.interruptPending = true; // it computes: end it at its next call
  }
}

// ---------------------------------------------------------------------------------------------
// Streams

/** The init process's streams: this process's fds 0, 1 and 2. Reads wait without blocking the thread. */
class FdStreams implements Streams {
  private readonly types = [hostFiletype(0), hostFiletype(1), hostFiletype(2)];
  private readonly readers = new Map<number, InputReader>();
  constructor(private readonly job: Job) {}

  filetype(stream: number): number {
    return this.types[stream] ?? Filetype.UNKNOWN;
  }

  write(stream: number, data: Uint8Array, off: number, len: number): number {
    let done = 0;
    for (let wait = 1; done < len; ) {
      try {
        done += fs.writeSync(stream, data, off + done, len - done);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN') {
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, (wait = Math.min(wait * 2, 50)));
          continue;
        }
        return done || -(code === 'EPIPE' || code === 'ECONNRESET' ? E.PIPE : hostErrno(e));
      }
    }
    return done;
  }

  writeAsync(stream: number, data: Uint8Array, off: number, len: number): number {
    return this.write(stream, data, off, len);
  }

  read(stream: number, data: Uint8Array, off: number, len: number): number {
    try {
      return fs.readSync(stream, data, off, len, null);
    } catch (e) {
      return -hostErrno(e);
    }
  }

  readAsync(stream: number, data: Uint8Array, off: number, len: number): number | Promise<number> {
    let r = this.readers.get(stream);
    if (!r) this.readers.set(stream, (r = new InputReader(stream)));
    const reader = r;
    const now = reader.take(len, data, off);
    if (now !== null) return now;
    const again = (): number | Promise<number> => {
      const got = reader.take(len, data, off);
      return got !== null ? got : this.job.wait(reader.ready()).then(again);
    };
    return this.job.wait(reader.ready()).then(again);
  }
}

/** An exec'd process's streams: frames on its proxy's connection. */
class SocketStreams implements Streams {
  private readonly queue: Buffer[] = [];
  private ended = false;
  private wake: (() => void) | null = null;

  constructor(
    private readonly sock: net.Socket,
    private readonly job: Job,
  ) {}

  /** Stdin from the proxy; an empty chunk is the end of input. */
  push(chunk: Buffer): void {
    if (chunk.length === 0) this.ended = true;
    else this.queue.push(Buffer.from(chunk));
    this.wake?.();
    this.wake = null;
  }

  filetype(stream: number): number {
    return this.job.terminal ? Filetype.CHARACTER_DEVICE : stream <= 2 ? Filetype.SOCKET_STREAM : Filetype.UNKNOWN;
  }

  write(stream: number, data: Uint8Array, off: number, len: number): number {
    if (this.sock.destroyed || !this.sock.writable) return -E.PIPE;
    this.sock.write(frame(stream === 2 ? Frame.Stderr : Frame.Stdout, Buffer.from(data.subarray(off, off + len))));
    return len;
  }

  writeAsync(stream: number, data: Uint8Array, off: number, len: number): number | Promise<number> {
    const n = this.write(stream, data, off, len);
    if (n < 0 || !this.sock.writableNeedDrain) return n;
    return this.job.wait(new Promise<void>((r) => this.sock.once('drain', r).once('close', r))).then(() => n);
  }

  private take(data: Uint8Array, off: number, len: number): number | null {
    const head = this.queue[0];
    if (head) {
      const n = Math.min(len, head.length);
      data.set(head.subarray(0, n), off);
      if (n === head.length) this.queue.shift();
      else this.queue[0] = head.subarray(n);
      return n;
    }
    return this.ended ? 0 : null;
  }

  read(_stream: number, data: Uint8Array, off: number, len: number): number {
    return this.take(data, off, len) ?? 0;
  }

  readAsync(_stream: number, data: Uint8Array, off: number, len: number): number | Promise<number> {
    const now = this.take(data, off, len);
    if (now !== null) return now;
    const again = (): number | Promise<number> => this.take(data, off, len) ?? this.job.wait(new Promise<void>((r) => (this.wake = r))).then(again);
    return again();
  }
}

// ---------------------------------------------------------------------------------------------
// The sandbox

class Container {
  private readonly jobs = new Set<Job>();
  private started = false;
  private startWaiter: (() => void) | null = null;
  private stopping = 0;
  private readonly cell: Int32Array | null;
  private readonly seen = new Int32Array(65);
  private readonly native = loadNative().addon;
  private readonly enc = new TextEncoder();
  readonly init: Job;
  private sb: OpenedSandbox | null = null;
  private server: net.Server | null = null;
  private readonly cleanup = new Cleanup();

  constructor(
    private readonly spec: SandboxSpec,
    private readonly state: StateDir,
  ) {
    this.init = new Job(spec.terminal);
    this.jobs.add(this.init);
    for (const sig of FATAL) process.on(signalName(sig), () => this.onSignal(sig));
    this.cell = this.native?.watchSignals ? this.native.watchSignals(FATAL) : null;
  }

  /** A signal, seen by Node's handler (the loop was free) or by a guest's call (through the cell). */
  private onSignal(sig: number): void {
    if (this.cell) this.seen[sig] = this.cell[sig];
    if (sig === SIGINT && this.spec.terminal) {
      this.init.interrupt();
      return;
    }
    this.stopAll(128 + sig);
  }

  /** Checked before every call of every guest: signals that arrived while a guest ran. */
  private pollSignals(): void {
    const c = this.cell;
    if (!c) return;
    for (const sig of FATAL) if (c[sig] !== this.seen[sig]) this.onSignal(sig);
  }

  /**
   * A fatal signal: the init process ends with `code`, and with it the container (exec'd processes
   * end as it exits, with 137, as the kernel's SIGKILL ends them when a pid namespace's init dies).
   */
  private stopAll(code: number): void {
    if (!this.stopping) this.stopping = code;
    this.init.stop(code);
    if (!this.started) void this.exit(code); // nothing runs yet: end here
  }

  private host(job: Job, streams: Streams): ProcessHost {
    const sb = this.sb!;
    const memoryBytes = this.spec.memoryBytes;
    return {
      kernel: sb.kernel,
      filestore: sb.filestore,
      streams,
      adviseMemory: sb.adviseMemory,
      report: (line) => {
        const b = this.enc.encode(`${PROJECT}: ${line}\n`);
        streams.write(2, b, 0, b.length);
      },
      suspend: (ms) => job.wait(new Promise<void>((r) => setTimeout(r, Math.min(ms, 2 ** 31 - 1)))),
      expire: () => {
        this.pollSignals();
        if (job.stopCode) throw new ExitSignal(job.stopCode);
      },
      interrupt: () => {
        if (job.interruptPending) {
          job.interruptPending = false;
          throw new ExitSignal(130);
        }
      },
      onChild: (d) => {
        job.children += d;
        if (job.children === 0) job.interruptPending = false;
      },
      memoryLimit: memoryBytes ?? defaultMemoryLimit(),
    };
  }

  /** A process for `job`: its GuestProcess and compiled program (ExecError if it cannot run). */
  private spawn(job: Job, streams: Streams, args: string[], env: string[], cwd: string) {
    const k = this.sb!.kernel.exports;
    const pid = k.proc_create(streams.filetype(0), streams.filetype(1), streams.filetype(2));
    if (pid < 0) throw new ExecError(E.NOMEM, 'cannot create a process');
    const fullEnv = cwd && cwd !== '/' ? [...env.filter((kv) => !kv.startsWith('PWD=')), `PWD=${cwd}`] : env;
    const proc = new GuestProcess(this.sb!.kernel, this.sb!.filestore, pid, args, fullEnv, streams);
    const host = this.host(job, streams);
    try {
      const module = loadProgram(proc, args[0], fullEnv, cwd, host.memoryLimit);
      return { proc, host, module, pid };
    } catch (e) {
      k.proc_destroy(pid);
      throw e;
    }
  }

  async main(ready: (line: string) => void, pidFile: string, consoleTty: boolean): Promise<void> {
    const spec = this.spec;
    if (!jspi.available()) throw new SandboxError(`${PROJECT}: this Node (${process.version}) lacks WebAssembly JSPI (${jspi.FLAG})`, 1);
    // the terminal a console socket got: ours, so that its Ctrl-C is our SIGINT
    if (consoleTty) this.native?.setControllingTerminal?.(0);
    this.sb = await openSandbox(
      {
        rootfs: spec.rootfs,
        overlay2: spec.overlay2,
        volumes: spec.volumes,
        tmpfs: spec.tmpfs,
        files: spec.files,
        readonlyRoot: spec.readonlyRoot,
        owner: { uid: spec.uid, gid: spec.gid },
        gofer: 'inline',
        handleSignals: false,
        suspend: true,
        cacheDir: path.join(this.state.dir, 'cache'),
      },
      this.cleanup,
    );
    this.state.writeHostFiles(this.sb.hostFiles);
    // the last resort for a guest that never calls: not for Ctrl-C on a terminal, which is not fatal
    const fatal = spec.terminal ? FATAL.filter((sig) => sig !== SIGINT) : FATAL;
    this.native?.armWatchdog?.(fatal, GRACE_MS, this.sb.hostFiles);
    const streams = new FdStreams(this.init);
    const init = this.spawn(this.init, streams, spec.args, spec.env, spec.cwd);
    await this.listen();
    const st = {
      ociVersion: OCI_VERSION,
      id: spec.id,
      bundle: spec.bundle,
      rootfs: spec.rootfs,
      pid: process.pid,
      pidStart: startTime(process.pid),
      created: new Date().toISOString(),
      annotations: spec.annotations,
      owner: '',
    };
    this.state.write(st);
    const text = stateJson(this.state, st);
    for (const h of [...spec.hooks.prestart, ...spec.hooks.createRuntime]) runHook('createRuntime', h, text);
    if (pidFile) writeAtomic(pidFile, String(process.pid));
    ready('ready');
    await new Promise<void>((r) => (this.startWaiter = r));
    fs.writeFileSync(this.state.startedFile, '');
    let status: number;
    try {
      status = await runModule(init.host, init.proc, init.module, spec.args[0]);
    } catch (e) {
      status = this.fault(e, streams);
    }
    await this.exit(status);
  }

  /** Undoes the sandbox (a create that failed after openSandbox). */
  undo(): void {
    this.server?.close();
    this.cleanup.run();
  }

  /** A kernel fault (or a bug) ends the sandbox: one line on the container's stderr, status 125. */
  private fault(e: unknown, streams: Streams): number {
    const b = this.enc.encode(`${PROJECT}: sandbox failed: ${(e as Error)?.message ?? e}\n`);
    streams.write(2, b, 0, b.length);
    return 125;
  }

  private listen(): Promise<void> {
    fs.rmSync(this.state.socket, { force: true });
    const server = net.createServer((sock) => this.connection(sock));
    this.server = server;
    const addr = this.state.socketAddress();
    this.cleanup.add(() => addr.release());
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(addr.path, () => {
        fs.chmodSync(this.state.socket, 0o600);
        resolve();
      });
    });
  }

  private connection(sock: net.Socket): void {
    let job: Job | null = null;
    let streams: SocketStreams | null = null;
    let done = false;
    const reply = (r: Reply) => sock.write(frame(Frame.Reply, JSON.stringify(r)));
    sock.on('error', () => {});
    sock.on('close', () => {
      if (job && !done) job.stop(137); // the proxy went away: as if its process were SIGKILLed
    });
    readFrames(sock, (type, payload) => {
      if (type === Frame.Request && !job) {
        let req: Request;
        try {
          req = JSON.parse(payload.toString());
        } catch {
          sock.destroy();
          return;
        }
        if (req.op === 'start') {
          if (this.started) reply({ ok: false, error: 'cannot start an already running container', status: 1 });
          else if (this.stopping) reply({ ok: false, error: 'cannot start a container that has stopped', status: 1 });
          else {
            this.started = true;
            reply({ ok: true });
            this.startWaiter?.();
          }
          sock.end();
          return;
        }
        if (req.op === 'exec') {
          if (!this.started || this.stopping) {
            reply({ ok: false, error: `cannot exec in a ${this.stopping ? 'stopped' : 'created'} container`, status: 1 });
            sock.end();
            return;
          }
          job = new Job(req.terminal);
          streams = new SocketStreams(sock, job);
          let p;
          try {
            p = this.spawn(job, streams, req.args, req.env, req.cwd);
          } catch (e) {
            const status = e instanceof ExecError ? (e.errno === E.NOENT || e.errno === E.NOTDIR ? 127 : 126) : 125;
            reply({ ok: false, error: (e as Error).message, status });
            sock.end();
            return;
          }
          reply({ ok: true });
          this.jobs.add(job);
          const j = job;
          const pid = p.pid;
          const finish = (status: number) => {
            done = true;
            this.jobs.delete(j);
            this.sb?.kernel.exports.proc_destroy(pid);
            sock.end(u32Frame(Frame.Exit, status));
          };
          Promise.resolve()
            .then(() => runModule(p.host, p.proc, p.module, req.args[0]))
            .then(finish, (e) => finish(this.fault(e, streams!)));
          return;
        }
        sock.destroy();
        return;
      }
      if (!job || !streams) return;
      if (type === Frame.Stdin) streams.push(payload);
      else if (type === Frame.Signal && payload.length === 4) {
        const sig = payload.readUInt32LE(0);
        if (sig === SIGINT && job.terminal) job.interrupt();
        else if (sig === 9 || FATAL.includes(sig)) job.stop(128 + sig);
      }
    });
  }

  /** Ends every exec'd process (137), lets their proxies hear it, undoes the sandbox and exits. */
  private async exit(status: number): Promise<never> {
    for (const j of this.jobs) if (j !== this.init) j.stop(137);
    const deadline = Date.now() + 1000;
    while (this.jobs.size > 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    this.server?.close();
    fs.rmSync(this.state.socket, { force: true });
    this.cleanup.run();
    this.native?.disarmWatchdog?.();
    process.exit(status & 255);
  }
}

function signalName(sig: number): NodeJS.Signals {
  const names: Record<number, NodeJS.Signals> = { 1: 'SIGHUP', 2: 'SIGINT', 3: 'SIGQUIT', 10: 'SIGUSR1', 12: 'SIGUSR2', 14: 'SIGALRM', 15: 'SIGTERM' };
  return names[sig];
}

/** The `create` arguments the front ends pass (every flag present; "" for none). */
function createArgs(argv: string[]): Record<string, string> {
  if (argv[0] !== 'create') throw new Error('usage: oci-sandbox.js create --root R --id ID --bundle B ...');
  const o: Record<string, string> = {};
  for (let i = 1; i + 1 < argv.length; i += 2) {
    if (!argv[i].startsWith('--')) throw new Error(`unexpected argument ${argv[i]}`);
    o[argv[i].slice(2)] = argv[i + 1];
  }
  for (const k of ['root', 'id', 'bundle']) if (!o[k]) throw new Error(`--${k} is missing`);
  return o;
}

async function start(): Promise<void> {
  let reported = false;
  const ready = (line: string) => {
    reported = true;
    try {
      fs.writeSync(3, `${line}\n`);
      fs.closeSync(3);
    } catch {}
  };
  let state: StateDir | null = null;
  let made = false;
  let container: Container | null = null;
  /** Before "ready": one log line, everything undone, the error on fd 3. After: the container's stderr. */
  const failed = (status: number, message: string) => {
    if (!reported) {
      logLine('error', message);
      container?.undo();
      if (state && made) {
        for (const f of state.hostFiles()) fs.rmSync(f, { force: true });
        fs.rmSync(state.dir, { recursive: true, force: true });
      }
      ready(`error ${status} ${message.replace(/\s+/g, ' ')}`);
    } else process.stderr.write(`${PROJECT}: ${message}\n`);
    process.exit(reported ? status : 1);
  };
  try {
    const o = createArgs(process.argv.slice(2));
    setLog({ file: o.log || undefined, format: o['log-format'] === 'json' ? 'json' : 'text', debug: o.debug === '1' });
    state = new StateDir(o.root, checkId(o.id));
    sweep(o.root);
    if (fs.existsSync(state.dir)) throw new OciError(`container with id exists: ${o.id}`);
    const spec = loadBundle(o.bundle, o.id);
    for (const n of spec.notes) debug(n);
    const foreground = o.foreground === '1';
    if (spec.terminal && o.console !== '1' && !foreground) throw new OciError('cannot allocate tty if runc will detach without setting console socket');
    if (!spec.terminal && o.console === '1') throw new OciError('cannot use console socket if runc will not detach or allocate tty');
    fs.mkdirSync(o.root, { recursive: true, mode: 0o711 });
    fs.mkdirSync(state.dir, { mode: 0o700 });
    made = true;
    writeAtomic(state.specFile, JSON.stringify(spec));
    if (spec.hooks.poststart.length || spec.hooks.poststop.length) fs.writeFileSync(state.hooksFile, '');
    container = new Container(spec, state);
    await container.main(ready, o['pid-file'], o.console === '1');
  } catch (e) {
    if (e instanceof OciError) failed(1, e.message);
    else if (e instanceof ExecError) {
      const status = e.errno === E.NOENT || e.errno === E.NOTDIR ? 127 : 126;
      failed(status, e.errno === E.ACCES ? `exec ${e.message.split(':')[0].replace(/^exec /, '')}: is a directory` : e.message);
    } else if (e instanceof SandboxError) failed(e.status, e.message.replace(new RegExp(`^${PROJECT}: `), ''));
    else failed(125, `internal error: ${(e as Error)?.message ?? e}`);
  }
}

void start();
