// OCI bundles and the runtime for tests: a rootfs extracted from the default image (with the test
// guests added), bundles made from it with a config.json, and the runtime (`node host/oci.js`, or
// the native front end dist/wasmbox-runtime) run the way an engine runs it, with a private --root and
// a JSON --log. Also the pieces the engine tests share:
// finding containerd, ctr and podman, and a snapshot of a directory tree to prove it unchanged.
import { execFileSync, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { extractImage } from '../../host/image/extract';
import { tempDir } from './images';
import { ROOT, guestWasm } from './sandbox';

export const OCI_JS = path.join(ROOT, 'host', 'oci.js');
/** The native front end (native/runtime.c), what engines are given; null when it was not built. */
export const OCI_FRONT: string | null = fs.existsSync(path.join(ROOT, 'dist', 'wasmbox-runtime')) ? path.join(ROOT, 'dist', 'wasmbox-runtime') : null;
/** What the engine tests give their engine: the front end, else the full runtime. */
export const OCI_BIN = OCI_FRONT ?? OCI_JS;
export const DEFAULT_IMAGE = path.join(ROOT, 'dist', 'images', 'default.tar');

let template: string | null = null;

/** A rootfs directory: the default image's files plus the fsops and bigfile guests in /bin. */
export function rootfsTemplate(): string {
  if (template) return template;
  const dir = path.join(tempDir('oci-rootfs'), 'rootfs');
  fs.mkdirSync(dir);
  extractImage(DEFAULT_IMAGE, dir, path.join(path.dirname(dir), 'cache'));
  for (const g of ['fsops', 'bigfile']) fs.writeFileSync(path.join(dir, 'bin', g), guestWasm(g), { mode: 0o755 });
  template = dir;
  return dir;
}

export interface BundleOptions {
  args: string[];
  env?: string[];
  cwd?: string;
  terminal?: boolean;
  extra?: Record<string, unknown>;
  process?: Record<string, unknown>;
}

/** A bundle directory with its own copy of the rootfs and a config.json. */
export function makeBundle(o: BundleOptions): string {
  const b = tempDir('bundle');
  execFileSync('cp', ['-a', rootfsTemplate(), path.join(b, 'rootfs')]);
  const config = {
    ociVersion: '1.0.2',
    process: { terminal: o.terminal ?? false, user: { uid: 0, gid: 0 }, args: o.args, env: o.env ?? ['PATH=/bin', 'HOME=/root'], cwd: o.cwd ?? '/', ...o.process },
    root: { path: 'rootfs', readonly: false },
    mounts: [{ destination: '/proc', type: 'proc', source: 'proc' }],
    ...o.extra,
  };
  fs.writeFileSync(path.join(b, 'config.json'), JSON.stringify(config, null, 2));
  return b;
}

export class Runtime {
  readonly root = tempDir('oci-root');
  readonly log = path.join(tempDir('oci-log'), 'log.json');
  /**
   * The TMPDIR of every process the runtime starts: a directory of this test's own, so that a check
   * for leftovers there cannot see the temporary files of tests running beside it.
   */
  readonly tmp = tempDir('oci-tmp');
  /** The command that starts the runtime: node host/oci.js, or the native front end. */
  private readonly cmd: string[];

  constructor(readonly binary: string = OCI_JS) {
    this.cmd = binary.endsWith('.js') ? [process.execPath, binary] : [binary];
  }

  get env(): NodeJS.ProcessEnv {
    return { ...process.env, TMPDIR: this.tmp };
  }

  get name(): string {
    return this.binary.endsWith('.js') ? 'host/oci.js' : 'dist/wasmbox-runtime';
  }

  /** Runs the runtime with this root and log; never throws for a failing command. */
  run(args: string[], opts: { input?: string; timeoutMs?: number } = {}): { stdout: string; stderr: string; status: number } {
    const r: SpawnSyncReturns<string> = spawnSync(this.cmd[0], [...this.cmd.slice(1), '--root', this.root, '--log', this.log, '--log-format', 'json', ...args], {
      input: opts.input ?? '',
      encoding: 'utf8',
      timeout: opts.timeoutMs ?? 30_000,
      env: this.env,
    });
    if (r.error) throw r.error;
    return { stdout: r.stdout ?? '', stderr: r.stderr, status: r.status ?? 128 };
  }

  /**
   * Runs a command whose stdio the container inherits (create, exec --detach): files, not pipes, so
   * that the command can end while the container holds them. Returns their paths and the status.
   */
  runDetached(args: string[], input = '/dev/null'): { out: string; err: string; status: number } {
    const d = tempDir('oci-stdio');
    const out = path.join(d, 'out');
    const err = path.join(d, 'err');
    const fds = [fs.openSync(input, 'r'), fs.openSync(out, 'w'), fs.openSync(err, 'w')];
    try {
      const r = spawnSync(this.cmd[0], [...this.cmd.slice(1), '--root', this.root, '--log', this.log, '--log-format', 'json', ...args], { stdio: fds, timeout: 30_000, env: this.env });
      if (r.error) throw r.error;
      return { out, err, status: r.status ?? 128 };
    } finally {
      for (const fd of fds) fs.closeSync(fd);
    }
  }

  /** The JSON lines of the log, parsed. */
  logLines(): { level: string; msg: string; time: string }[] {
    if (!fs.existsSync(this.log)) return [];
    return fs.readFileSync(this.log, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  }

  clearLog(): void {
    fs.rmSync(this.log, { force: true });
  }

  state(id: string): { status: string; pid: number } {
    const r = this.run(['state', id]);
    if (r.status !== 0) throw new Error(`state ${id}: ${r.stderr}`);
    return JSON.parse(r.stdout);
  }

  /** Waits until the container's status is `want` (default stopped). */
  async waitStatus(id: string, want = 'stopped', ms = 20_000): Promise<void> {
    const end = Date.now() + ms;
    for (;;) {
      const s = this.state(id).status;
      if (s === want) return;
      if (Date.now() > end) throw new Error(`${id}: still ${s} after ${ms} ms (waiting for ${want})`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** Every path, type, mode, owner, size, mtime, link target and file hash below dir (not dir itself). */
export function snapshot(dir: string): string {
  return (
    execFileSync('find', [dir, '-mindepth', '1', '-printf', '%P %y %m %U:%G %s %T@ %l\\n'], { encoding: 'utf8' }).split('\n').sort().join('\n') +
    execFileSync('sh', ['-c', `cd '${dir}' && find . -type f -exec md5sum {} + | sort`], { encoding: 'utf8' })
  );
}

/** The first of `names` on PATH, or null. */
export function which(name: string): string | null {
  for (const d of (process.env.PATH ?? '/usr/bin:/bin').split(':')) {
    const p = path.join(d, name);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {}
  }
  for (const d of ['/usr/sbin', '/sbin', '/usr/local/bin']) {
    const p = path.join(d, name);
    if (fs.existsSync(p)) return p;
  }
  return null;
}

/** Names of regular files under dir whose name starts with `.wasmbox` (filestores and locks). */
export function filestoresIn(dir: string): string[] {
  try {
    return fs.readdirSync(dir).filter((n) => n.startsWith('.wasmbox'));
  } catch {
    return [];
  }
}

/** Polls `fn` until it gives something truthy; an Error naming `what` after `ms`. */
export async function until<T>(fn: () => T | null | undefined | false, ms = 20_000, what = 'condition'): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
