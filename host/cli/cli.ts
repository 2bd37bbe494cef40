// The command line (`node host/run.js`): parses docker-style arguments and calls sandbox.run. Thin
// on purpose: everything it does is available from host/index.ts.
//
//   node host/run.js [OPTIONS] IMAGE [COMMAND] [ARG...]
//
// Options stop at IMAGE; everything after it is the command, as with `docker run`.
import { parseSize } from '../filestore/filestore';
import { checkEnvEntry, parseMount, parseOverlay2, parseTmpfs, parseVolume, readEnvFile, splitFlag } from './options';
import fs from 'node:fs';
import { spawn } from 'node:child_process';
import path from 'node:path';
import tty from 'node:tty';
import * as jspi from '../sandbox/jspi';
import { SHELLS } from '../stdio/jobcontrol';
import { runReplicas } from '../sandbox/replicas';
import { PROJECT, SandboxError, distDir, run, type RunOptions } from '../sandbox/sandbox';

/** The built-in default image, built by `npm install`. */
function defaultImage(): string {
  return path.join(distDir(), 'images', 'default.tar');
}

/** The default image's demo script (guests/rootfs/app/...; the image's Cmd runs it with /bin/sh). */
const DEMO_SCRIPT = '/usr/share/wasmbox/demo.sh';

/**
 * What the default image runs when no IMAGE is given: with -i or -t, the shell; else, when stdin is
 * a terminal, the demo and then a shell in the same sandbox, to look at what the demo changed;
 * else (a pipe, a file, CI) the image's own Cmd, the demo.
 */
function defaultCommand(shell: boolean, terminal: boolean): string[] {
  if (shell) return ['/bin/sh'];
  if (terminal) return ['/bin/sh', '-c', `sh ${DEMO_SCRIPT}; echo; echo 'Now a shell in the same sandbox (exit or Ctrl-D ends it):'; sh`];
  return [];
}

const USAGE = `Usage: node host/run.js [OPTIONS] [IMAGE [COMMAND] [ARG...]]
       node host/run.js [OPTIONS] --rootfs DIR [IMAGE.tar] COMMAND [ARG...]

Runs a WASI program from a container image inside the ${PROJECT} sandbox, on a root file system
whose writable layer lives inside the sandbox.

IMAGE is a \`docker save\` archive, an OCI image-layout archive or a plain rootfs tar (layers may
be gzip-compressed). COMMAND replaces the image's Cmd; the Entrypoint stays, as in \`docker run\`.
Without IMAGE, the built-in default image runs its demo; on a terminal, a shell follows it in the
same sandbox; with -it (or -i, or -t), the shell alone.

Options:
  -i, --interactive    with no IMAGE: run the default image's shell, /bin/sh (stdin is always
                       connected, with or without -i)
  -t, --tty            the same (the guest sees the terminal this command runs on, if any; no
                       pseudo-terminal is made); -it and -ti as with docker
  --entrypoint PATH    replace the image's Entrypoint ("" clears it)
  -e, --env KEY=VALUE  set an environment variable (repeatable; KEY alone copies it from the host)
      --env-file FILE  environment variables from FILE, one KEY=VALUE a line (# comments, blank lines
                       skipped); -e wins over it. Node 20 reads this flag too, even after the script:
                       the file's variables also reach this process (NODE_OPTIONS, TMPDIR... act
                       on it), and a missing file is Node's own error (status 9)
  -w, --workdir DIR    working directory, absolute; made if missing, as docker run does. The guest
                       gets it as PWD (the image's sh and toolbox start there; see docs/wasi.md)
  -v, --volume HOST:GUEST[:ro]
                       bind-mount a host directory (no overlay: writes reach the host; :ro refuses them)
      --tmpfs PATH[:OPTIONS]
                       mount a tmpfs at PATH inside the sandbox (options: size=N, mode=OCTAL, ro; the
                       mount flags noexec, nosuid, nodev... are accepted and mean nothing here)
      --mount type=bind,source=HOST,target=GUEST[,readonly]
      --mount type=tmpfs,target=GUEST[,tmpfs-size=N][,tmpfs-mode=OCTAL]
                       docker's long form of -v and --tmpfs
      --read-only      make the root file system read-only (EROFS); mounts keep their own mode
  -u, --user UID[:GID] the owner of the files the guest creates (numbers; the guest runs as root
                       either way: WASI has no users)
      --hostname NAME  HOSTNAME in the guest's environment
      --name NAME      the sandbox's name: in its messages (wasmbox[NAME]: ...) and, with --replicas,
                       in the line prefixes (NAME.3| ...)
      --platform P     wasi/wasm (or wasip1/wasm): checked against the image's config
      --rm, --init     accepted: a run never keeps its container, and the sandbox reaps its own
                       processes (WASI has no signals for an init to forward)
      --network MODE   accepted; WASI preview1 programs have no network, so every mode means none
  -d, --detach         not here: run.js stays in the foreground (under Podman or containerd, the
                       OCI runtime runs containers detached; docs/oci.md)
      --overlay2 MODE  the root file system, as runsc: root:self (default; the upper layer's data in a
                       file in --upper-dir), root:memory (in shared memory), root:dir=/abs/path (in a
                       file there), or none (no overlay: the rootfs is a writable host directory, given
                       by --rootfs or extracted from the image); add ,size=N to limit it (e.g. 512m)
      --size SIZE      the same limit as ,size=N
      --rootfs DIR     a host directory as the root file system instead of an image: read-only under
                       the sandbox's upper layer (with root:self the filestore lives inside it, hidden
                       from the guest); with --overlay2 none, used writable with no overlay. An
                       IMAGE.tar given after it supplies only the config (Cmd, Env, WorkingDir)
      --volume-cache-ms N
                       how long names and attributes from a bind mount are trusted before they are
                       checked with the host again (default 1000; 0: every lookup asks the host)
      --upper-dir DIR  the host directory standing for the container's upper layer (root:self keeps its
                       filestore there; default: a temporary directory, removed at exit)
      --gofer MODE     inline (default) or worker: run the file server in this thread, or in a
                       worker thread of its own (slower: every request crosses threads)
      --cache-dir DIR  where inflated gzip layers and image index snapshots are kept (default:
                       $WASMBOX_CACHE, else $XDG_CACHE_HOME/${PROJECT}, else ~/.cache/${PROJECT})
      --cache-size SIZE
                       the most the cache keeps (default 16g): past it, the least recently used
                       layers and snapshots are removed (never those of the image being opened)
      --max-layer-size SIZE
                       the most one gzip layer may inflate to (default: 100 times its compressed
                       size, at least 1g and at most 8g); a layer past it is refused (125)
      --export-upper FILE  at exit, write the sandbox's upper layer (its changes to the image) to
                       FILE as an OCI layer tar
      --timeout SECONDS
                       stop the sandbox after this long (exit status 124, as timeout(1))
  -m, --memory SIZE    the container's memory limit (e.g. 256m): the WebAssembly memories of all
                       its processes together stay under it; memory.grow past it fails inside the
                       guest, as malloc does under docker run -m (default: half the host's memory)
      --replicas N     run N sandboxes of IMAGE at once, sharing the opened image (each with its
                       own upper layer, filestore and processes); output lines are prefixed "I| ";
                       a summary goes to stderr; the status is 0 if every sandbox exited 0, else
                       that of the first (lowest-numbered) one that did not
      --threads T      with --replicas: how many threads run them (default: the number of CPUs;
                       each thread costs about 8 MiB)
      --per-thread K   with --replicas: how many sandboxes each thread keeps going at once
                       (default 1); above 1 a guest that sleeps is put aside while the thread runs
                       the others (WebAssembly JSPI; --timeout then ends each process at its next
                       call after the deadline)
      --stats          print kernel statistics to stderr at exit
      --debug-kernel   use the debug build of the kernel (assertions on)
  -h, --help           show this help

Exit status: the program's own, or 125 (the runtime failed, e.g. a bad image), 126 (the command
cannot be run, e.g. not WebAssembly), 127 (the command was not found), 134/136/139 (the guest
trapped: unreachable / arithmetic / memory fault), 124 (--timeout), 130/143 (stopped by SIGINT /
SIGTERM).`;

/** --platform values that name what this runtime runs (docker's spellings for WASI images). */
const WASM_PLATFORMS = new Set(['wasi/wasm', 'wasip1/wasm', 'wasi/wasm32', 'wasip1/wasm32', 'wasm']);

function fail(msg: string): never {
  process.stderr.write(`${PROJECT}: ${msg}\nSee 'node host/run.js --help'.\n`);
  process.exit(125);
}

/** fn's result, or its error's message as a usage error (the option parsers throw OptionError). */
function orFail<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    fail((e as Error).message);
  }
}

type CliOptions = RunOptions & { stats: boolean; replicas?: number; threads?: number; perThread?: number };

export function parseArgs(argv: string[]): CliOptions {
  const opts: CliOptions = { env: [], volumes: [], tmpfs: [], stats: false };
  const envFiles: string[] = []; // --env-file entries: -e wins over them, as with docker
  let hostname: string | undefined;
  let size: number | undefined;
  let shell = false; // -i / -t
  let i = 0;
  const value = (flag: string): string => {
    if (i + 1 >= argv.length) fail(`flag needs an argument: ${flag}`);
    return argv[++i];
  };
  for (; i < argv.length; i++) {
    const [a, inline] = splitFlag(argv[i]);
    const val = (flag: string) => (inline !== undefined ? inline : value(flag));
    if (a === '-h' || a === '--help') {
      process.stdout.write(USAGE + '\n');
      process.exit(0);
    } else if (a === '-i' || a === '--interactive' || a === '-t' || a === '--tty' || a === '-it' || a === '-ti') {
      shell = true;
    } else if (a === '--entrypoint') {
      const v = val(a);
      opts.entrypoint = v === '' ? [] : [v];
    } else if (a === '-e' || a === '--env') {
      const v = val(a);
      orFail(() => checkEnvEntry(v, '--env'));
      opts.env!.push(v);
    } else if (a === '--env-file') {
      const f = val(a);
      let text: string;
      try {
        text = fs.readFileSync(f, 'utf8');
      } catch (e) {
        fail(`--env-file ${f}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
      }
      orFail(() => envFiles.push(...readEnvFile(f, text)));
    } else if (a === '--mount') {
      const m = orFail(() => parseMount(val(a)));
      if ('volume' in m) opts.volumes!.push(m.volume);
      else opts.tmpfs!.push(m.tmpfs);
    } else if (a === '--rm' || a === '--init') {
      // --rm: a run never keeps its container; --init: the sandbox reaps its own processes and WASI
      // has no signals to forward, so there is nothing for an init to do
    } else if (a === '--name') {
      const v = val(a);
      if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(v)) fail(`--name: "${v}" is not a valid name (letters, digits, then also _ . -, as docker allows)`);
      opts.name = v;
    } else if (a === '-u' || a === '--user') {
      const v = val(a);
      const m = /^(\d{1,10})(?::(\d{1,10}))?$/.exec(v);
      if (!m || Number(m[1]) > 0xfffffffe || Number(m[2] ?? 0) > 0xfffffffe) {
        fail(`--user: "${v}" is not UID[:GID] in numbers (user names would need the image's /etc/passwd, which is not read)`);
      }
      opts.owner = { uid: Number(m[1]), gid: Number(m[2] ?? 0) };
    } else if (a === '--hostname') {
      const v = val(a);
      if (!/^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$/.test(v) || v.length > 253) fail(`--hostname: "${v}" is not a valid host name`);
      hostname = v;
    } else if (a === '--platform') {
      const v = val(a);
      if (!WASM_PLATFORMS.has(v)) fail(`--platform ${v}: this runtime runs WebAssembly (WASI preview1) images only: wasi/wasm, wasip1/wasm`);
      opts.platform = v;
    } else if (a === '--network' || a === '--net') {
      const v = val(a);
      // WASI preview1 has no sockets to make: whatever the mode, the guest has no network
      if (v !== 'none') process.stderr.write(`${PROJECT}: note: --network ${v}: WASI preview1 programs have no network; it means none here\n`);
    } else if (a === '-d' || a === '--detach') {
      fail(`${a}: run.js runs in the foreground; to run detached, run the image under Podman or containerd with ${PROJECT}'s OCI runtime (docs/oci.md)`);
    } else if (a === '-w' || a === '--workdir') {
      opts.workdir = val(a);
      if (!opts.workdir.startsWith('/')) fail(`--workdir: "${opts.workdir}" is not an absolute path (as docker run requires)`);
    } else if (a === '--size') {
      const v = val(a);
      const n = parseSize(v);
      if (!Number.isFinite(n)) fail(`--size: cannot parse "${v}" (use e.g. 512m or 2g)`);
      if (n < 4096) fail(`--size: ${v} is less than one filestore page (4k)`);
      size = n;
    } else if (a === '--overlay2') {
      opts.overlay2 = orFail(() => parseOverlay2(val(a)));
    } else if (a === '-v' || a === '--volume') {
      opts.volumes!.push(orFail(() => parseVolume(val(a))));
    } else if (a === '--tmpfs') {
      opts.tmpfs!.push(orFail(() => parseTmpfs(val(a))));
    } else if (a === '--read-only') opts.readonlyRoot = true;
    else if (a === '--rootfs') opts.rootfs = val(a);
    else if (a === '--upper-dir') opts.upperDir = val(a);
    else if (a === '--volume-cache-ms') {
      const v = val(a);
      if (!/^\d+$/.test(v)) fail(`--volume-cache-ms: "${v}" is not a number of milliseconds`);
      opts.volumeCacheMs = Number(v);
    } else if (a === '--gofer') {
      const v = val(a);
      if (v !== 'worker' && v !== 'inline') fail(`--gofer: must be worker or inline, not "${v}"`);
      opts.gofer = v;
    } else if (a === '--cache-dir') opts.cacheDir = val(a);
    else if (a === '--cache-size' || a === '--max-layer-size') {
      const v = val(a);
      const n = parseSize(v);
      if (!Number.isFinite(n) || n < 1) fail(`${a}: cannot parse "${v}" (use e.g. 512m or 4g)`);
      opts.imageLimits = { ...opts.imageLimits, [a === '--cache-size' ? 'cacheSize' : 'maxLayerSize']: n };
    }
    else if (a === '--export-upper') opts.exportUpper = val(a);
    else if (a === '--timeout') {
      const v = val(a);
      const n = Number(v);
      if (!/^\d+(\.\d+)?$/.test(v)) fail(`--timeout: "${v}" is not a number of seconds`);
      if (!(n > 0)) fail(`--timeout: ${v}: must be more than 0 seconds`);
      opts.timeoutSec = n;
    } else if (a === '-m' || a === '--memory') {
      const v = val(a);
      const n = parseSize(v);
      if (!Number.isFinite(n)) fail(`--memory: cannot parse "${v}" (use e.g. 256m)`);
      if (n < 65536) fail(`--memory: ${v} is less than one WebAssembly page (64k), the least a program can have`);
      opts.memoryBytes = n;
    }
    else if (a === '--replicas' || a === '--threads' || a === '--per-thread') {
      const v = val(a);
      if (!/^[1-9]\d{0,5}$/.test(v)) fail(`${a}: "${v}" is not a whole number from 1 to 999999`);
      opts[a === '--replicas' ? 'replicas' : a === '--threads' ? 'threads' : 'perThread'] = Number(v);
    } else if (a === '--stats') opts.stats = true;
    else if (a === '--debug-kernel') opts.debugKernel = true;
    else if (a === '--') {
      i++;
      break;
    } else if (a.startsWith('-') && a !== '-') fail(`unknown flag: ${a}`);
    else break;
  }
  opts.env = [...(hostname !== undefined ? [`HOSTNAME=${hostname}`] : []), ...envFiles, ...opts.env!];
  if (size !== undefined) {
    const mode = opts.overlay2 ?? { kind: 'self' };
    if (mode.kind === 'none') fail('--size: --overlay2 none has no filestore to limit');
    opts.overlay2 = { ...mode, size };
  }
  if (opts.rootfs !== undefined) {
    // the rootfs comes from --rootfs: everything after the options is the command (an image first,
    // named by its .tar suffix, supplies only its config)
    if (i < argv.length && /\.(tar|tgz|tar\.gz)$/.test(argv[i]) && argv.length > i) {
      opts.image = argv[i];
      opts.command = argv.slice(i + 1);
    } else opts.command = argv.slice(i);
    return opts;
  }
  if (i >= argv.length) {
    opts.image = defaultImage();
    opts.command = defaultCommand(shell, tty.isatty(0));
    return opts;
  }
  opts.image = argv[i];
  opts.command = argv.slice(i + 1);
  return opts;
}

/**
 * Whether this run should have its guests suspendable (JSPI), so that a pipeline's stages run side
 * by side: when the command is a shell that may build one (an interactive or script shell, or
 * `sh -c` with a '|' or '&' in its text), or the built-in demo. Without it a pipeline still works,
 * stage after stage (host/stdio/pipes.ts). Other commands start without the cost of starting Node again.
 */
function wantsPipelines(opts: CliOptions): boolean {
  // WASMBOX_JSPI=1: always (a `sh -c` whose text runs a script that builds pipelines)
  if (process.env.WASMBOX_JSPI === '1') return true;
  const cmd = opts.command ?? [];
  if (cmd.length === 0) return opts.image === defaultImage();
  if (!SHELLS.has(path.posix.basename(cmd[0]))) return false;
  const c = cmd.indexOf('-c');
  return c < 0 || c + 1 >= cmd.length || /[|&]/.test(cmd[c + 1]);
}

/**
 * Runs this command again in a Node with JSPI (it must be on from the start of the process:
 * turning it on later crashes V8's collector), once, passing signals on; resolves with nothing
 * after setting the exit code. Returns false when this Node cannot have it.
 */
async function restartWithJspi(): Promise<boolean> {
  if (process.env.WASMBOX_JSPI_RESTART) return false;
  const env = { ...process.env, WASMBOX_JSPI_RESTART: '1' };
  const child = spawn(process.execPath, [jspi.FLAG, ...process.execArgv, ...process.argv.slice(1)], { stdio: 'inherit', env });
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  // it cleans up and exits 130/143; a terminal's Ctrl-C reaches it directly (the same process
  // group), and passing it on as well would make it a second Ctrl-C (host/stdio/jobcontrol.ts)
  const fromTerminal = tty.isatty(0);
  const forward = (sig: NodeJS.Signals) => {
    if (!(sig === 'SIGINT' && fromTerminal)) child.kill(sig);
  };
  for (const sig of signals) process.on(sig, forward);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => {
    child.on('error', (e) => {
      process.stderr.write(`${PROJECT}: cannot start Node again with ${jspi.FLAG}: ${e.message}\n`);
      process.exit(125);
    });
    child.on('exit', (c, sig) => resolve([c, sig]));
  });
  for (const sig of signals) process.off(sig, forward);
  // killed by the signal itself (the native watchdog's last resort, or SIGKILL): it said nothing
  if (signal) process.stderr.write(`${PROJECT}: stopped by ${signal}\n`);
  process.exitCode = code ?? 128 + (signal === 'SIGTERM' ? 15 : signal === 'SIGHUP' ? 1 : 2);
  return true;
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const interactive = process.stderr.isTTY;
  opts.progress = (m) => {
    if (interactive) process.stderr.write(`${PROJECT}: ${m}\n`);
  };
  try {
    if (opts.replicas !== undefined || opts.threads !== undefined || opts.perThread !== undefined) {
      await replicas(opts);
      return;
    }
    if (opts.replicas === undefined && wantsPipelines(opts)) {
      if (jspi.available()) opts.suspend = true;
      else if (process.env.WASMBOX_JSPI !== '0' && (await restartWithJspi())) return;
    }
    // every guest waiting on a pipe or a child that cannot come: nothing is left to run
    const stuck = () => {
      process.stderr.write(`${PROJECT}: every process in the sandbox waits for another (a pipe nobody writes or reads); stopped\n`);
      process.exit(125);
    };
    process.on('beforeExit', stuck);
    const r = await run(opts).finally(() => process.off('beforeExit', stuck));
    if (opts.stats) {
      for (const [k, v] of Object.entries(r.stats)) process.stderr.write(`${PROJECT}: stats: ${k} ${v}\n`);
    }
    process.exitCode = r.status & 255;
  } catch (e) {
    if (e instanceof SandboxError) {
      // with --name, the sandbox says which it is: "wasmbox[NAME]: ..."
      const msg = opts.name && e.message.startsWith(`${PROJECT}: `) ? `${PROJECT}[${opts.name}]: ${e.message.slice(PROJECT.length + 2)}` : e.message;
      process.stderr.write(msg + '\n');
      process.exitCode = e.status;
    } else {
      process.stderr.write(`${PROJECT}: internal error: ${(e as Error)?.message ?? e}\n`);
      process.exitCode = 125;
    }
  }
  // as a container ends with its first process: background programs it did not wait for (which,
  // suspended, would keep Node running over a sandbox already taken down) end with it
  if (opts.suspend) process.exit();
}

/** --replicas: the sandboxes, then a summary line on stderr. */
async function replicas(opts: CliOptions): Promise<void> {
  if (opts.replicas === undefined) fail(`${opts.threads !== undefined ? '--threads' : '--per-thread'}: only with --replicas`);
  for (const [bad, flag] of [
    [opts.exportUpper, '--export-upper'],
    [opts.rootfs, '--rootfs'],
    [opts.gofer === 'worker' ? 1 : undefined, '--gofer worker'],
  ] as const) {
    if (bad !== undefined) fail(`${flag}: not with --replicas`);
  }
  if ((opts.perThread ?? 1) > 1 && !jspi.available()) {
    if (await restartWithJspi()) return;
    throw new SandboxError(`${PROJECT}: --per-thread above 1 needs WebAssembly JSPI as Node 20 has it (${jspi.FLAG}); this Node (${process.version}) does not provide it`, 125);
  }
  const r = await runReplicas({ ...opts, image: opts.image!, replicas: opts.replicas });
  const counts = new Map<number, number>();
  for (const s of r.statuses) counts.set(s, (counts.get(s) ?? 0) + 1);
  const by = [...counts].sort((a, b) => a[0] - b[0]).map(([s, c]) => `${c} exited ${s}`).join(', ');
  const rate = r.statuses.length / r.seconds;
  process.stderr.write(`${PROJECT}: ${r.statuses.length} sandboxes on ${r.threads} threads in ${r.seconds.toFixed(2)} s (${rate.toFixed(1)}/s): ${by}\n`);
  process.exitCode = (r.statuses.find((s) => s !== 0) ?? 0) & 255;
}

void main();
