// `wasmbox-runtime` (host/oci.js): an OCI runtime with runc's command line, so that containerd's
// runc shim (BinaryName, `ctr run --runc-binary`), Podman's conmon (`podman --runtime`) and through
// them Kubernetes run WASI containers in the sandbox. Bundled as dist/oci.js; it loads nothing of
// the sandbox itself, so the calls an engine makes often (state, start, kill, delete) cost a Node
// start and a few file reads. `create` starts the container's process (host/oci/sandbox-main.ts);
// `exec` starts a proxy process (this bundle, `__exec-proxy`) that the engine's shim waits for.
//
//   global flags: --root DIR (default /run/wasmbox), --log FILE, --log-format text|json, --debug,
//                 --systemd-cgroup (accepted: there are no cgroups to place), --version
//   create [--bundle DIR] [--pid-file F] [--console-socket SOCK] ID
//   start ID | state ID | kill [--all] ID [SIGNAL] | delete [--force] ID | pause ID | resume ID
//   run [--bundle DIR] [--pid-file F] [--console-socket SOCK] [--detach] ID
//   exec [--process FILE | ARGS...] [--tty] [--detach] [--pid-file F] [--console-socket SOCK]
//        [--cwd DIR] [--env K=V]... ID
//   list [--format table|json] [--quiet] | ps [--format table|json] ID | features | spec [--bundle DIR]
//   update, checkpoint, restore, events: one error line each (nothing of theirs applies)
//
// Errors: one line on stderr, and with --log a JSON line {"level":"error","msg":...,"time":...}
// (or logfmt with --log-format text), which containerd's shim reads back; exit status 1.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import tty from 'node:tty';
import { loadNative, type NativeAddon } from '../../native/index';
import { exampleConfig, type SandboxSpec } from './bundle';
import { Frame, frame, readFrames, u32Frame, type Reply, type Request } from './control';
import { InputReader } from '../stdio/input';
import { runHook } from './hooks';
import { debug, logConfig, logLine, setLog } from './log';
import { OCI_VERSION, OciError, StateDir, alive, checkId, listContainers, startTime, stateJson, writeAtomic, type ContainerState } from './state';

export const RUNTIME = 'wasmbox-runtime';
const VERSION = '0.1.0';
/** The V8 flag the sandbox process needs (WebAssembly JSPI in Node 20; see host/sandbox/jspi.ts). */
const JSPI_FLAG = '--experimental-wasm-stack-switching';


interface Global {
  root: string;
}

let globals: Global = { root: '/run/wasmbox' };

// ---------------------------------------------------------------------------------------------
// Argument parsing (runc's urfave/cli style: -flag and --flag, with " value" or "=value")

interface FlagSpec {
  names: string[];
  value?: boolean;
  repeat?: boolean;
}

function parseFlags(argv: string[], specs: FlagSpec[], cmd: string): { flags: Map<string, string[]>; rest: string[] } {
  const flags = new Map<string, string[]>();
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      i++;
      break;
    }
    if (!a.startsWith('-') || a === '-') break;
    const body = a.replace(/^--?/, '');
    const eq = body.indexOf('=');
    const name = eq < 0 ? body : body.slice(0, eq);
    const spec = specs.find((s) => s.names.includes(name));
    if (!spec) throw new OciError(`${cmd}: flag provided but not defined: -${name}`);
    const key = spec.names[0];
    let v = 'true';
    if (spec.value) {
      if (eq >= 0) v = body.slice(eq + 1);
      else if (i + 1 < argv.length) v = argv[++i];
      else throw new OciError(`${cmd}: flag needs an argument: -${name}`);
    } else if (eq >= 0) v = body.slice(eq + 1);
    const list = flags.get(key) ?? [];
    if (spec.repeat) list.push(v);
    else list[0] = v;
    flags.set(key, list);
  }
  return { flags, rest: argv.slice(i) };
}

const flag = (f: Map<string, string[]>, k: string): string | undefined => f.get(k)?.[0];
const bool = (f: Map<string, string[]>, k: string): boolean => {
  const v = flag(f, k);
  return v !== undefined && v !== 'false';
};

function oneId(rest: string[], cmd: string, extra = 0): string {
  if (rest.length < 1) throw new OciError(`${cmd}: the container id is missing ("${cmd}" requires a container id)`);
  if (rest.length > 1 + extra) throw new OciError(`${cmd}: too many arguments: ${rest.slice(1).join(' ')}`);
  return checkId(rest[0]);
}

// ---------------------------------------------------------------------------------------------
// Helpers

function distDir(): string {
  return __dirname; // dist/, where this bundle lives beside oci-sandbox.js
}

function native(): NativeAddon {
  const n = loadNative();
  if (!n.addon) throw new OciError(`the native addon is needed for terminals: ${n.reason}`);
  return n.addon;
}

const SIGNALS: Record<string, number> = {
  HUP: 1, INT: 2, QUIT: 3, ILL: 4, TRAP: 5, ABRT: 6, IOT: 6, BUS: 7, FPE: 8, KILL: 9, USR1: 10, SEGV: 11, USR2: 12,
  PIPE: 13, ALRM: 14, TERM: 15, STKFLT: 16, CHLD: 17, CONT: 18, STOP: 19, TSTP: 20, TTIN: 21, TTOU: 22, URG: 23,
  XCPU: 24, XFSZ: 25, VTALRM: 26, PROF: 27, WINCH: 28, IO: 29, POLL: 29, PWR: 30, SYS: 31,
};

/** A signal as runc takes it: a name (TERM, SIGTERM, case-blind) or a number. */
export function parseSignal(s: string): number {
  if (/^\d+$/.test(s)) {
    const n = Number(s);
    if (n >= 1 && n <= 64) return n;
  } else {
    const n = SIGNALS[s.toUpperCase().replace(/^SIG/, '')];
    if (n) return n;
  }
  throw new OciError(`unknown signal "${s}"`);
}

function stateOf(sd: StateDir): { st: ContainerState; status: ReturnType<StateDir['status']> } {
  const st = sd.read();
  return { st, status: sd.status(st) };
}

function hooksOf(sd: StateDir): SandboxSpec['hooks'] | null {
  try {
    return (JSON.parse(fs.readFileSync(sd.specFile, 'utf8')) as SandboxSpec).hooks;
  } catch {
    return null;
  }
}

/** Sends a request on the container's control socket and returns the reply, and the socket. */
function request(sd: StateDir, req: Request): Promise<{ reply: Reply; sock: net.Socket; onFrame: (fn: (t: number, p: Buffer) => void) => void }> {
  return new Promise((resolve, reject) => {
    const addr = sd.socketAddress();
    const sock = net.connect(addr.path);
    sock.once('connect', () => addr.release());
    sock.once('error', () => addr.release());
    let handler: ((t: number, p: Buffer) => void) | null = null;
    const early: [number, Buffer][] = [];
    let answered = false;
    sock.once('error', (e) => {
      if (!answered) reject(new OciError(`cannot reach the sandbox of container "${sd.id}": ${(e as NodeJS.ErrnoException).code ?? e.message}`));
    });
    sock.on('connect', () => sock.write(frame(Frame.Request, JSON.stringify(req))));
    readFrames(sock, (t, p) => {
      if (!answered && t === Frame.Reply) {
        answered = true;
        let reply: Reply;
        try {
          reply = JSON.parse(p.toString());
        } catch {
          reject(new OciError('the sandbox sent a bad reply'));
          return;
        }
        resolve({
          reply,
          sock,
          onFrame: (fn) => {
            handler = fn;
            for (const [et, ep] of early.splice(0)) fn(et, ep);
          },
        });
        return;
      }
      if (handler) handler(t, p);
      else early.push([t, Buffer.from(p)]);
    });
    sock.once('close', () => {
      if (!answered) reject(new OciError(`the sandbox of container "${sd.id}" closed the connection`));
    });
  });
}

/** Waits until process `pid` is gone (or a zombie), up to `ms`. */
async function waitGone(pid: number, start: string, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (alive(pid, start)) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// create / run

const CREATE_FLAGS: FlagSpec[] = [
  { names: ['bundle', 'b'], value: true },
  { names: ['pid-file'], value: true },
  { names: ['console-socket'], value: true },
  { names: ['no-pivot'] },
  { names: ['no-new-keyring'] },
  { names: ['preserve-fds'], value: true },
  { names: ['detach', 'd'] },
  { names: ['keep'] },
];

/**
 * Starts the container's process (dist/oci-sandbox.js), which checks the bundle, sets the sandbox
 * up, writes the state and the pid file, and says "ready" on fd 3, or logs its error and says
 * "error STATUS MESSAGE". With a console socket, the pseudo-terminal is made here, its slave is
 * the process's stdio, and its master goes to the socket once the container is ready.
 */
async function createContainer(sd: StateDir, bundle: string, pidFile: string | undefined, consoleSocket: string | undefined, foreground: boolean) {
  const pty = consoleSocket ? native().openpty!() : null;
  const log = logConfig();
  const args = [
    JSPI_FLAG, path.join(distDir(), 'oci-sandbox.js'), 'create',
    '--root', sd.root, '--id', sd.id, '--bundle', path.resolve(bundle), '--pid-file', pidFile ? path.resolve(pidFile) : '',
    '--log', log.file ?? '', '--log-format', log.format, '--debug', log.debug ? '1' : '0', '--console', pty ? '1' : '0', '--foreground', foreground ? '1' : '0',
  ];
  const stdio: ('pipe' | number)[] = pty ? [pty.slave, pty.slave, pty.slave, 'pipe'] : [0, 1, 2, 'pipe'];
  // the runtime makes no TLS connections: NODE_EXTRA_CA_CERTS would only cost the sandbox ~35 ms to load
  const env = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;
  const child = spawn(process.execPath, args, { stdio, detached: !foreground, env });
  if (pty) fs.closeSync(pty.slave);
  const line = await new Promise<string>((resolve) => {
    let text = '';
    const pipe = child.stdio[3]!;
    pipe.on('data', (d) => (text += d));
    pipe.on('end', () => resolve(text));
    pipe.on('error', () => resolve(text));
    child.on('error', (e) => resolve(`error 1 cannot start the sandbox: ${e.message}`));
  });
  (child.stdio[3] as NodeJS.ReadableStream & { destroy(): void })?.destroy();
  if (!line.startsWith('ready')) {
    if (pty) fs.closeSync(pty.master);
    const m = /^error (\d+) (.*)/s.exec(line.trim());
    await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(null) : child.once('exit', r)));
    // the container's process has logged it; as runc, a container that could not be created is status 1
    throw new OciError(m ? m[2] : `the sandbox exited before it was ready (${child.exitCode ?? child.signalCode})`, 1, !!m);
  }
  if (pty) {
    try {
      native().sendFd!(consoleSocket!, pty.master, pty.path);
    } finally {
      fs.closeSync(pty.master);
    }
  }
  if (!foreground) child.unref();
  return { child };
}

async function cmdCreate(argv: string[]): Promise<number> {
  const { flags, rest } = parseFlags(argv, CREATE_FLAGS, 'create');
  const sd = new StateDir(globals.root, oneId(rest, 'create'));
  await createContainer(sd, flag(flags, 'bundle') ?? process.cwd(), flag(flags, 'pid-file'), flag(flags, 'console-socket'), false);
  return 0;
}

async function startContainer(sd: StateDir): Promise<void> {
  const { st, status } = stateOf(sd);
  if (status === 'stopped') throw new OciError('cannot start a container that has stopped');
  if (status !== 'created') throw new OciError(`cannot start an already ${status} container`);
  const { reply, sock } = await request(sd, { op: 'start' });
  sock.destroy();
  if (!reply.ok) throw new OciError(reply.error, reply.status);
  const hooks = hooksOf(sd);
  const text = stateJson(sd, st);
  for (const h of hooks?.poststart ?? []) {
    try {
      runHook('poststart', h, text);
    } catch (e) {
      logLine('warning', (e as Error).message); // runc: a failing poststart hook is only logged
    }
  }
}

async function cmdStart(argv: string[]): Promise<number> {
  const { rest } = parseFlags(argv, [], 'start');
  await startContainer(new StateDir(globals.root, oneId(rest, 'start')));
  return 0;
}

async function cmdRun(argv: string[]): Promise<number> {
  const { flags, rest } = parseFlags(argv, CREATE_FLAGS, 'run');
  const sd = new StateDir(globals.root, oneId(rest, 'run'));
  const detach = bool(flags, 'detach');
  const { child } = await createContainer(sd, flag(flags, 'bundle') ?? process.cwd(), flag(flags, 'pid-file'), flag(flags, 'console-socket'), !detach);
  const exited = detach ? null : new Promise<number>((r) => child.once('exit', (code, sig) => r(code ?? 128 + (sig ? (SIGNALS[sig.replace(/^SIG/, '')] ?? 9) : 9))));
  const forward = (sig: NodeJS.Signals) => child.kill(sig);
  if (!detach) for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'] as const) process.on(s, forward);
  await startContainer(sd);
  if (detach) return 0;
  const status = await exited!;
  if (!bool(flags, 'keep')) await deleteContainer(sd, true);
  return status;
}

// ---------------------------------------------------------------------------------------------
// state, kill, delete, pause, resume, list, ps

async function cmdState(argv: string[]): Promise<number> {
  const { rest } = parseFlags(argv, [], 'state');
  const sd = new StateDir(globals.root, oneId(rest, 'state'));
  process.stdout.write(stateJson(sd, sd.read()) + '\n');
  return 0;
}

async function cmdKill(argv: string[]): Promise<number> {
  const { flags, rest } = parseFlags(argv, [{ names: ['all', 'a'] }], 'kill');
  const sd = new StateDir(globals.root, oneId(rest, 'kill', 1));
  const sig = parseSignal(rest[1] ?? 'SIGTERM');
  const { st, status } = stateOf(sd);
  if (status === 'stopped') throw new OciError('container not running');
  const pids = bool(flags, 'all') ? [...sd.execPids(), st.pid] : [st.pid];
  for (const pid of pids) {
    try {
      process.kill(pid, sig);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw new OciError(`kill ${pid}: ${(e as Error).message}`);
    }
  }
  return 0;
}

async function deleteContainer(sd: StateDir, force: boolean): Promise<void> {
  if (!sd.exists()) {
    fs.rmSync(sd.dir, { recursive: true, force: true }); // an aborted create
    if (force) return;
    throw new OciError(`container "${sd.id}" does not exist`);
  }
  const { st, status } = stateOf(sd);
  if ((status === 'running' || status === 'paused') && !force) throw new OciError(`cannot delete container ${sd.id} that is not stopped: ${status}`);
  if (status !== 'stopped') {
    for (const pid of [...sd.execPids(), st.pid]) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {}
    }
    if (!(await waitGone(st.pid, st.pidStart, 10_000))) throw new OciError(`container ${sd.id}: its process ${st.pid} did not end after SIGKILL`);
  }
  const hooks = hooksOf(sd);
  const text = stateJson(sd, st);
  sd.remove();
  for (const h of hooks?.poststop ?? []) {
    try {
      runHook('poststop', h, text);
    } catch (e) {
      logLine('warning', (e as Error).message);
    }
  }
}

async function cmdDelete(argv: string[]): Promise<number> {
  const { flags, rest } = parseFlags(argv, [{ names: ['force', 'f'] }], 'delete');
  await deleteContainer(new StateDir(globals.root, oneId(rest, 'delete')), bool(flags, 'force'));
  return 0;
}

async function cmdPause(argv: string[], pause: boolean): Promise<number> {
  const cmd = pause ? 'pause' : 'resume';
  const { rest } = parseFlags(argv, [], cmd);
  const sd = new StateDir(globals.root, oneId(rest, cmd));
  const { st, status } = stateOf(sd);
  if (pause && status !== 'running') throw new OciError(`container not running`);
  if (!pause && status !== 'paused') throw new OciError('container not paused');
  // the whole sandbox is one process (plus exec proxies): stopping it freezes every guest in it
  if (pause) fs.writeFileSync(sd.pausedFile, '');
  for (const pid of [st.pid, ...sd.execPids()]) process.kill(pid, pause ? 'SIGSTOP' : 'SIGCONT');
  if (!pause) fs.rmSync(sd.pausedFile, { force: true });
  return 0;
}

async function cmdList(argv: string[]): Promise<number> {
  const { flags } = parseFlags(argv, [{ names: ['format', 'f'], value: true }, { names: ['quiet', 'q'] }], 'list');
  const rows = listContainers(globals.root).flatMap((sd) => {
    try {
      const st = sd.read();
      return [{ sd, st, status: sd.status(st) }];
    } catch {
      return [];
    }
  });
  if (bool(flags, 'quiet')) {
    for (const r of rows) process.stdout.write(r.st.id + '\n');
  } else if (flag(flags, 'format') === 'json') {
    process.stdout.write(JSON.stringify(rows.map((r) => JSON.parse(stateJson(r.sd, r.st)))) + '\n');
  } else {
    const lines = [['ID', 'PID', 'STATUS', 'BUNDLE', 'CREATED', 'OWNER'], ...rows.map((r) => [r.st.id, String(r.status === 'stopped' ? 0 : r.st.pid), r.status, r.st.bundle, r.st.created, r.st.owner || 'root'])];
    const w = lines[0].map((_, i) => Math.max(...lines.map((l) => l[i].length)));
    for (const l of lines) process.stdout.write(l.map((c, i) => (i < l.length - 1 ? c.padEnd(w[i] + 3) : c)).join('') + '\n');
  }
  return 0;
}

async function cmdPs(argv: string[]): Promise<number> {
  const { flags, rest } = parseFlags(argv, [{ names: ['format', 'f'], value: true }], 'ps');
  const sd = new StateDir(globals.root, oneId(rest, 'ps', Infinity));
  const { st, status } = stateOf(sd);
  const pids = status === 'stopped' ? [] : [st.pid, ...sd.execPids()];
  if (flag(flags, 'format') === 'json') {
    process.stdout.write(JSON.stringify(pids) + '\n');
    return 0;
  }
  const r = spawnSync('ps', [...(rest.length > 1 ? rest.slice(1) : ['-f']), '-p', pids.join(',') || '0'], { encoding: 'utf8' });
  process.stdout.write(r.stdout || `PID\n${pids.join('\n')}\n`);
  return 0;
}

// ---------------------------------------------------------------------------------------------
// exec

const EXEC_FLAGS: FlagSpec[] = [
  { names: ['process', 'p'], value: true },
  { names: ['tty', 't'] },
  { names: ['detach', 'd'] },
  { names: ['pid-file'], value: true },
  { names: ['console-socket'], value: true },
  { names: ['cwd'], value: true },
  { names: ['env', 'e'], value: true, repeat: true },
  { names: ['user', 'u'], value: true },
  { names: ['additional-gids', 'g'], value: true, repeat: true },
  { names: ['cap', 'c'], value: true, repeat: true },
  { names: ['no-new-privs'] },
  { names: ['apparmor'], value: true },
  { names: ['process-label'], value: true },
  { names: ['preserve-fds'], value: true },
  { names: ['ignore-paused'] },
  { names: ['cgroup'], value: true, repeat: true },
];

interface ExecJob {
  stateDir: string;
  request: Extract<Request, { op: 'exec' }>;
  consoleSocket?: string;
}

async function cmdExec(argv: string[]): Promise<number> {
  const { flags, rest } = parseFlags(argv, EXEC_FLAGS, 'exec');
  const sd = new StateDir(globals.root, checkId(rest[0]));
  const { status } = stateOf(sd);
  if (status !== 'running') throw new OciError(`cannot exec in a ${status} container`);
  const spec = JSON.parse(fs.readFileSync(sd.specFile, 'utf8')) as SandboxSpec;
  let req: ExecJob['request'];
  const procFile = flag(flags, 'process');
  if (procFile) {
    let p: any;
    try {
      p = JSON.parse(fs.readFileSync(procFile, 'utf8'));
    } catch (e) {
      throw new OciError(`--process ${procFile}: ${(e as Error).message}`);
    }
    if (!Array.isArray(p?.args) || p.args.length === 0 || p.args.some((a: unknown) => typeof a !== 'string')) throw new OciError(`--process ${procFile}: args must be a non-empty array of strings`);
    req = {
      op: 'exec',
      args: p.args,
      env: Array.isArray(p.env) ? p.env.filter((x: unknown) => typeof x === 'string') : spec.env,
      cwd: typeof p.cwd === 'string' && p.cwd.startsWith('/') ? p.cwd : spec.cwd,
      terminal: p.terminal === true,
    };
  } else {
    if (rest.length < 2) throw new OciError('exec: a command or --process is needed');
    req = { op: 'exec', args: rest.slice(1), env: [...spec.env, ...(flags.get('env') ?? [])], cwd: flag(flags, 'cwd') ?? spec.cwd, terminal: bool(flags, 'tty') };
  }
  const consoleSocket = flag(flags, 'console-socket');
  if (req.terminal && bool(flags, 'detach') && !consoleSocket) throw new OciError('cannot allocate tty if runc will detach without setting console socket');
  const job: ExecJob = { stateDir: sd.dir, request: req, consoleSocket };
  if (!bool(flags, 'detach')) return execProxy(job, null);
  // detached: a proxy process carries the exec'd process's stdio and exit status; the shim waits for it
  const jobFile = path.join(sd.dir, `exec-${process.pid}.json`);
  writeAtomic(jobFile, JSON.stringify(job));
  const child = spawn(process.execPath, [path.join(distDir(), 'oci.js'), '__exec-proxy', jobFile], { stdio: [0, 1, 2, 'pipe'], detached: true });
  const line = await new Promise<string>((resolve) => {
    let text = '';
    child.stdio[3]!.on('data', (d) => (text += d));
    child.stdio[3]!.on('end', () => resolve(text));
    child.on('error', (e) => resolve(`error 1 ${e.message}`));
  });
  fs.rmSync(jobFile, { force: true });
  if (!line.startsWith('ok')) {
    const m = /^error (\d+) (.*)/s.exec(line.trim());
    throw new OciError(m ? m[2] : 'the exec proxy ended before the process started', 1);
  }
  const pidFile = flag(flags, 'pid-file');
  if (pidFile) writeAtomic(path.resolve(pidFile), String(child.pid));
  child.unref();
  (child.stdio[3] as NodeJS.ReadableStream & { destroy(): void }).destroy();
  return 0;
}

/**
 * Runs an exec'd process in the sandbox and stays until it ends: relays stdio (a pseudo-terminal
 * sent to the console socket with --tty), forwards signals, and returns the process's status.
 * `report` (the detached form's fd 3) hears "ok" once the process runs, or "error STATUS MESSAGE".
 */
async function execProxy(job: ExecJob, report: ((line: string) => void) | null): Promise<number> {
  const sd = new StateDir(path.dirname(job.stateDir), path.basename(job.stateDir));
  const mark = path.join(sd.execDir, `${process.pid}-${startTime(process.pid)}`);
  fs.mkdirSync(sd.execDir, { recursive: true });
  fs.writeFileSync(mark, '');
  try {
    let input = 0;
    let output = 1;
    let errput = 2;
    if (job.request.terminal && job.consoleSocket) {
      const n = native();
      const pty = n.openpty!();
      n.setControllingTerminal!(pty.slave); // Ctrl-C there is SIGINT here, forwarded below
      n.sendFd!(job.consoleSocket, pty.master, pty.path);
      fs.closeSync(pty.master);
      input = output = errput = pty.slave;
    } else if (job.request.terminal) {
      if (!tty.isatty(0)) job.request.terminal = false; // runc exec -t without a terminal: plain streams
    }
    const { reply, sock, onFrame } = await request(sd, job.request);
    if (!reply.ok) {
      report?.(`error ${reply.status} ${reply.error}`);
      if (!report) throw new OciError(reply.error, reply.status);
      return reply.status;
    }
    report?.('ok');
    const status = new Promise<number>((resolve) => {
      onFrame((t, p) => {
        if (t === Frame.Stdout || t === Frame.Stderr) writeAll(t === Frame.Stdout ? output : errput, p);
        else if (t === Frame.Exit && p.length === 4) resolve(p.readUInt32LE(0));
      });
      sock.on('close', () => resolve(137));
    });
    for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'] as const) {
      process.on(s, () => sock.write(u32Frame(Frame.Signal, SIGNALS[s.slice(3)])));
    }
    pumpInput(input, sock);
    return await status;
  } finally {
    fs.rmSync(mark, { force: true });
  }
}

function writeAll(fd: number, data: Buffer): void {
  let done = 0;
  while (done < data.length) {
    try {
      done += fs.writeSync(fd, data, done);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EAGAIN') continue;
      return; // the reader is gone
    }
  }
}

/** Copies fd's bytes to the sandbox as Stdin frames, then an empty one at its end. */
function pumpInput(fd: number, sock: net.Socket): void {
  const reader = new InputReader(fd);
  const buf = Buffer.allocUnsafe(65536);
  const next = (): void => {
    if (sock.destroyed) return;
    const n = reader.take(buf.length, buf, 0);
    if (n === null) {
      void reader.ready().then(next);
      return;
    }
    if (n <= 0) {
      sock.write(frame(Frame.Stdin)); // the end of input (or an error: nothing more will come)
      return;
    }
    sock.write(frame(Frame.Stdin, Buffer.from(buf.subarray(0, n))));
    next();
  };
  next();
}

async function cmdExecProxy(argv: string[]): Promise<number> {
  const job = JSON.parse(fs.readFileSync(argv[0], 'utf8')) as ExecJob;
  let told = false;
  const report = (line: string) => {
    told = true;
    try {
      fs.writeSync(3, line + '\n');
      fs.closeSync(3);
    } catch {}
  };
  try {
    const status = await execProxy(job, report);
    process.exit(status & 255);
  } catch (e) {
    if (!told) report(`error 1 ${(e as Error).message}`);
    process.exit(1);
  }
}

// ---------------------------------------------------------------------------------------------
// features, spec, and what does not apply

async function cmdFeatures(): Promise<number> {
  const features = {
    ociVersionMin: '1.0.0',
    ociVersionMax: OCI_VERSION,
    hooks: ['prestart', 'createRuntime', 'poststart', 'poststop'],
    mountOptions: ['bind', 'rbind', 'ro', 'rw', 'size', 'mode', 'nosuid', 'nodev', 'noexec'],
    linux: { namespaces: [], capabilities: [], cgroup: { v1: false, v2: false, systemd: false }, seccomp: { enabled: false }, apparmor: { enabled: false }, selinux: { enabled: false } },
    annotations: { 'dev.wasmbox.overlay2': 'root:self | root:memory | root:dir=/abs/path | none', 'dev.wasmbox.size': 'the filestore limit, e.g. 512m' },
  };
  process.stdout.write(JSON.stringify(features, null, 2) + '\n');
  return 0;
}

async function cmdSpec(argv: string[]): Promise<number> {
  const { flags } = parseFlags(argv, [{ names: ['bundle', 'b'], value: true }, { names: ['rootless'] }], 'spec');
  const file = path.join(flag(flags, 'bundle') ?? process.cwd(), 'config.json');
  if (fs.existsSync(file)) throw new OciError(`File ${file} exists. Remove it first`);
  fs.writeFileSync(file, JSON.stringify(exampleConfig(true), null, 2) + '\n');
  return 0;
}

function notApplicable(cmd: string): never {
  const why: Record<string, string> = {
    update: 'the WebAssembly sandbox has no cgroups to change; its limits come from the bundle at create (linux.resources.memory.limit, the dev.wasmbox.size annotation)',
    checkpoint: 'checkpointing a sandbox is not supported',
    restore: 'restoring a checkpoint is not supported',
    events: 'there are no cgroup statistics to report',
  };
  throw new OciError(`${cmd}: ${why[cmd]}`);
}

const USAGE = `${RUNTIME}: an OCI runtime (runc's command line) that runs WASI programs in the wasmbox sandbox

Usage: ${RUNTIME} [--root DIR] [--log FILE] [--log-format text|json] [--debug] COMMAND [ARGS]

Commands: create, start, run, state, kill, delete, exec, list, ps, pause, resume, features, spec
          (update, checkpoint, restore and events answer that they do not apply)
See docs/oci.md.`;

// ---------------------------------------------------------------------------------------------

const GLOBAL_FLAGS: FlagSpec[] = [
  { names: ['root'], value: true },
  { names: ['log'], value: true },
  { names: ['log-format'], value: true },
  { names: ['debug'] },
  { names: ['systemd-cgroup'] },
  { names: ['criu'], value: true },
  { names: ['rootless'], value: true },
  { names: ['version', 'v'] },
  { names: ['help', 'h'] },
];

export async function main(argv: string[]): Promise<number> {
  try {
    const { flags, rest } = parseFlags(argv, GLOBAL_FLAGS, RUNTIME);
    const fmt = flag(flags, 'log-format') ?? 'text';
    if (fmt !== 'text' && fmt !== 'json') throw new OciError(`invalid log format "${fmt}" (text or json)`);
    globals = { root: path.resolve(flag(flags, 'root') ?? '/run/wasmbox') };
    setLog({ file: flag(flags, 'log'), format: fmt, debug: bool(flags, 'debug') });
    if (bool(flags, 'version') || rest[0] === 'version') {
      process.stdout.write(`${RUNTIME} version ${VERSION}\nspec: ${OCI_VERSION}\n`);
      return 0;
    }
    const [cmd, ...args] = rest;
    if (!cmd || cmd === 'help' || bool(flags, 'help')) {
      process.stdout.write(USAGE + '\n');
      return cmd || bool(flags, 'help') ? 0 : 1;
    }
    debug(`${cmd} ${args.join(' ')}`);
    switch (cmd) {
      case 'create':
        return await cmdCreate(args);
      case 'start':
        return await cmdStart(args);
      case 'run':
        return await cmdRun(args);
      case 'state':
        return await cmdState(args);
      case 'kill':
        return await cmdKill(args);
      case 'delete':
        return await cmdDelete(args);
      case 'exec':
        return await cmdExec(args);
      case '__exec-proxy':
        return await cmdExecProxy(args);
      case 'list':
      case 'ls':
        return await cmdList(args);
      case 'ps':
        return await cmdPs(args);
      case 'pause':
        return await cmdPause(args, true);
      case 'resume':
        return await cmdPause(args, false);
      case 'features':
        return await cmdFeatures();
      case 'spec':
        return await cmdSpec(args);
      case 'update':
      case 'checkpoint':
      case 'restore':
      case 'events':
        notApplicable(cmd);
      // falls through (notApplicable throws)
      default:
        throw new OciError(`unknown command "${cmd}" (see ${RUNTIME} --help)`);
    }
  } catch (e) {
    const msg = e instanceof OciError ? e.message : `internal error: ${(e as Error)?.stack ?? e}`;
    if (!(e instanceof OciError && e.logged)) logLine('error', msg);
    process.stderr.write(`${RUNTIME}: ${msg.split('\n')[0]}\n`);
    return e instanceof OciError ? e.status || 1 : 1;
  }
}

// Started directly (the exec proxy is `node dist/oci.js __exec-proxy JOB`) rather than through host/oci.js.
if (typeof require !== 'undefined' && require.main === module) {
  void main(process.argv.slice(2)).then((status) => (process.exitCode = status));
}
