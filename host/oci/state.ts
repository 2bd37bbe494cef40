// The OCI runtime's state on the host (trusted): one directory per container under the runtime's
// root (`--root`, default /run/wasmbox), as runc keeps /run/runc/<id>. Only this module knows its
// layout. Light on purpose: `state`, `kill`, `start` and `delete` load nothing else.
//
//   <root>/<id>/state.json    written by the sandbox once it is ready (atomically, by rename): id,
//                             bundle, rootfs, pid, created, annotations (what `state` prints)
//   <root>/<id>/pid           "PID STARTTIME": the sandbox's pid and field 22 of its /proc/PID/stat,
//                             so that a reused pid is never taken for the sandbox
//   <root>/<id>/spec.json     the sandbox's options, derived from config.json at create
//   <root>/<id>/ctl.sock      the sandbox's control socket (start, exec)
//   <root>/<id>/files         host files the sandbox made that a hard kill would leave (its filestore
//                             and lock), one per line; `delete` removes them
//   <root>/<id>/started       made by the sandbox when `start` released it
//   <root>/<id>/paused        made by `pause`, removed by `resume`
//   <root>/<id>/hooks         present when the bundle has poststart or poststop hooks
//   <root>/<id>/execs/<pid>-<starttime>   one per running exec proxy (for `ps` and `kill --all`)
//
// The plain-text files are what the native front end (native/runtime.c) reads for the calls an
// engine makes most (start, kill, delete); it hands anything else to host/oci.js.
//
// Status, as the OCI runtime spec and runc report it: `created` while the sandbox waits for start,
// `running` after, `paused` under `pause`, `stopped` once its process is gone.
import fs from 'node:fs';
import path from 'node:path';

export const OCI_VERSION = '1.0.2';

export interface ContainerState {
  ociVersion: string;
  id: string;
  bundle: string;
  rootfs: string;
  pid: number;
  /** Field 22 of /proc/<pid>/stat when the sandbox started: tells the sandbox from a later process with its pid. */
  pidStart: string;
  created: string;
  annotations: Record<string, string>;
  owner: string;
}

export type Status = 'creating' | 'created' | 'running' | 'paused' | 'stopped';

/** An error for the user: one line (the JSON log's msg), and the runtime's exit status. */
export class OciError extends Error {
  constructor(
    message: string,
    readonly status = 1,
    /** Already in the log (the container's process wrote it). */
    readonly logged = false,
  ) {
    super(message);
  }
}

/** Container ids as runc accepts them: letters, digits, and _ + - . not at the start. */
export function checkId(id: string | undefined): string {
  if (!id) throw new OciError('container id cannot be empty');
  if (!/^[A-Za-z0-9][A-Za-z0-9_+.-]*$/.test(id) || id.length > 1024) throw new OciError(`invalid container id format: ${id}`);
  return id;
}

export class StateDir {
  readonly dir: string;
  constructor(
    readonly root: string,
    readonly id: string,
  ) {
    this.dir = path.join(root, id);
  }

  get stateFile(): string {
    return path.join(this.dir, 'state.json');
  }
  get specFile(): string {
    return path.join(this.dir, 'spec.json');
  }
  get socket(): string {
    return path.join(this.dir, 'ctl.sock');
  }

  /**
   * A path naming the control socket that fits in a unix socket address (108 bytes): a long root
   * and a 64-character id (Podman's) do not, so the socket is reached through a descriptor of the
   * state directory (/proc/self/fd/N/ctl.sock). `release` closes that descriptor.
   */
  socketAddress(): { path: string; release(): void } {
    if (Buffer.byteLength(this.socket) < 100) return { path: this.socket, release() {} };
    const fd = fs.openSync(this.dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
    return { path: `/proc/self/fd/${fd}/ctl.sock`, release: () => fs.closeSync(fd) };
  }
  get filesFile(): string {
    return path.join(this.dir, 'files');
  }
  get pidFile(): string {
    return path.join(this.dir, 'pid');
  }
  get pausedFile(): string {
    return path.join(this.dir, 'paused');
  }
  get hooksFile(): string {
    return path.join(this.dir, 'hooks');
  }
  get startedFile(): string {
    return path.join(this.dir, 'started');
  }
  get execDir(): string {
    return path.join(this.dir, 'execs');
  }

  exists(): boolean {
    return fs.existsSync(this.stateFile);
  }

  /** The state, or an OciError naming the container when there is none. */
  read(): ContainerState {
    let text: string;
    try {
      text = fs.readFileSync(this.stateFile, 'utf8');
    } catch {
      throw new OciError(`container "${this.id}" does not exist`);
    }
    try {
      return JSON.parse(text) as ContainerState;
    } catch {
      throw new OciError(`container "${this.id}": its state file is corrupt (${this.stateFile})`);
    }
  }

  /** Writes state.json and the pid file (the pid file last: the native front end reads it). */
  write(st: ContainerState): void {
    writeAtomic(this.stateFile, JSON.stringify(st));
    writeAtomic(this.pidFile, `${st.pid} ${st.pidStart}\n`);
  }

  status(st: ContainerState): Status {
    if (!alive(st.pid, st.pidStart)) return 'stopped';
    if (fs.existsSync(this.pausedFile)) return 'paused';
    return fs.existsSync(this.startedFile) ? 'running' : 'created';
  }

  /** Records the host files the sandbox made (its filestore and lock), for `delete` and sweeps. */
  writeHostFiles(files: string[]): void {
    writeAtomic(this.filesFile, files.map((f) => f + '\n').join(''));
  }

  /** Host files the sandbox reported, for `delete` and sweeps. */
  hostFiles(): string[] {
    try {
      return fs.readFileSync(this.filesFile, 'utf8').split('\n').filter((x) => path.isAbsolute(x));
    } catch {
      return [];
    }
  }

  /** Pids of live exec proxies. */
  execPids(): number[] {
    let names: string[];
    try {
      names = fs.readdirSync(this.execDir);
    } catch {
      return [];
    }
    const out: number[] = [];
    for (const n of names) {
      const [pid, start] = n.split('-');
      if (/^\d+$/.test(pid) && alive(Number(pid), start ?? '')) out.push(Number(pid));
      else fs.rmSync(path.join(this.execDir, n), { force: true });
    }
    return out;
  }

  /** Removes the container's host files and its state directory. */
  remove(): void {
    for (const f of this.hostFiles()) fs.rmSync(f, { force: true });
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The state as `state` prints it (the runtime spec's state, as runc writes it). */
export function stateJson(sd: StateDir, st: ContainerState): string {
  const status = sd.status(st);
  const out = {
    ociVersion: st.ociVersion,
    id: st.id,
    pid: status === 'stopped' ? 0 : st.pid,
    status,
    bundle: st.bundle,
    rootfs: st.rootfs,
    created: st.created,
    owner: st.owner,
    ...(Object.keys(st.annotations).length ? { annotations: st.annotations } : {}),
  };
  return JSON.stringify(out, null, 2);
}

/** Writes a file by rename, so that a reader sees the old contents or the new, never half. */
export function writeAtomic(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, text, { mode: 0o600 });
  fs.renameSync(tmp, file);
}

/** Field 22 (starttime) of /proc/<pid>/stat, or '' if there is no such process. */
export function startTime(pid: number): string {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? '';
  } catch {
    return '';
  }
}

/** Whether process `pid` exists and is the one that started at `start` (not a zombie). */
export function alive(pid: number, start: string): boolean {
  if (!(pid > 0)) return false;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[0] !== 'Z' && fields[0] !== 'X' && (start === '' || fields[19] === start);
  } catch {
    return false;
  }
}

/** Every container under `root`, by id. */
export function listContainers(root: string): StateDir[] {
  let names: string[];
  try {
    names = fs.readdirSync(root);
  } catch {
    return [];
  }
  return names.map((n) => new StateDir(root, n)).filter((s) => s.exists());
}

/**
 * What crashed runs left under `root`: a container whose sandbox is gone loses its host files (its
 * filestore: nothing can use it any more), and its whole state when its bundle is gone too (the
 * engine that made it will never call delete). Live containers are never touched.
 */
export function sweep(root: string): void {
  for (const sd of listContainers(root)) {
    let st: ContainerState;
    try {
      st = sd.read();
    } catch {
      continue;
    }
    if (alive(st.pid, st.pidStart)) continue;
    for (const f of sd.hostFiles()) fs.rmSync(f, { force: true });
    if (!fs.existsSync(st.bundle)) fs.rmSync(sd.dir, { recursive: true, force: true });
  }
}
