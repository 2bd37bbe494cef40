// Userland fixtures (issue 7): the image with the toolbox (/bin/toolbox and a symlink per command)
// and the shell (/bin/sh); the comparison tree under /data, written both into the image and into a
// host directory; and runners for the sandbox, for the GNU tools of the host (the reference), for
// the toolbox under node:wasi (a second reference), and for the shell under node:wasi with a
// stand-in for the host's wasmbox.spawn.
//
// Owns: the fixture tree and these runners. Not the image format (images.ts) or the sandbox CLI.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { buildImage, tempDir } from './images';
import { FIXTURE_MTIME, type Entry, type ImageSpec } from './layers';
import { runNodeWasi } from './nodewasi';
import { ROOT, RUN_JS, runSandbox, type RunOutput } from './sandbox';

export type { RunOutput };

/** Every command of the toolbox; each is a symlink /bin/NAME -> toolbox in the image. */
export const APPLETS = [
  '[', 'basename', 'cat', 'cp', 'cut', 'date', 'df', 'dirname', 'du', 'echo', 'env', 'false', 'find', 'grep', 'head',
  'hexdump', 'layers', 'ln', 'ls', 'mkdir', 'mv', 'printf', 'pwd', 'rm', 'rmdir', 'sed', 'seq', 'sleep', 'sort', 'stat',
  'tail', 'tee', 'test', 'touch', 'tr', 'true', 'uname', 'uniq', 'wc', 'yes',
];

export const TOOLBOX_WASM = path.join(ROOT, 'dist', 'guests', 'toolbox.wasm');
export const SH_WASM = path.join(ROOT, 'dist', 'guests', 'sh.wasm');

/** 25 numbered lines with repeating words: for head, tail, grep and wc. */
export const NOTES = Array.from(
  { length: 25 },
  (_, i) => `line ${i + 1}: ${['alpha', 'beta', 'Gamma', 'delta hello', 'epsilon'][i % 5]} ${'x'.repeat(i % 7)}`,
).join('\n') + '\n';

/** 5000 bytes: a run of 'A', a run of zeros (hexdump squeezes both into '*'), then a byte ramp. */
export function bigBin(): Uint8Array {
  const b = new Uint8Array(5000);
  b.fill(0x41, 0, 100);
  for (let i = 3100; i < 5000; i++) b[i] = i & 255;
  return b;
}

/** The comparison tree, under data/ (every directory listed, so all carry the fixture mtime). */
export function dataEntries(): Entry[] {
  return [
    { path: 'data', type: 'dir' },
    { path: 'data/a.txt', type: 'file', data: 'hello\nworld\n' },
    { path: 'data/b.txt', type: 'file', data: 'Hello again\nno newline' },
    { path: 'data/notes.md', type: 'file', data: NOTES },
    { path: 'data/words', type: 'file', data: '  leading spaces\n\ttabs\tand  more\n\nempty above\n  \n' },
    { path: 'data/bin.dat', type: 'file', data: new Uint8Array([104, 101, 108, 108, 111, 0, 1, 2, 10, 104, 105, 10]) },
    { path: 'data/big.bin', type: 'file', data: bigBin() },
    { path: 'data/zero', type: 'file', data: '' },
    { path: 'data/.hidden', type: 'file', data: 'secret hello\n' },
    { path: 'data/sp ace.txt', type: 'file', data: 'with space\n' },
    { path: 'data/link', type: 'symlink', target: 'a.txt' },
    { path: 'data/dirlink', type: 'symlink', target: 'sub' },
    { path: 'data/broken', type: 'symlink', target: 'nowhere' },
    { path: 'data/hard', type: 'hardlink', target: 'data/a.txt' },
    { path: 'data/empty', type: 'dir' },
    { path: 'data/sub', type: 'dir' },
    { path: 'data/sub/s.md', type: 'file', data: 'sub hello\n' },
    { path: 'data/sub/deep', type: 'dir' },
    { path: 'data/sub/deep/file', type: 'file', data: 'deep\n' },
    { path: 'data/sub/deep/more.txt', type: 'file', data: 'more hello\nHELLO\n' },
  ];
}

/** /bin (toolbox, links, sh), /etc, /home/user, /tmp. */
export function systemEntries(): Entry[] {
  const toolbox = fs.readFileSync(TOOLBOX_WASM);
  const sh = fs.readFileSync(SH_WASM);
  return [
    { path: 'bin', type: 'dir' },
    { path: 'bin/toolbox', type: 'file', data: toolbox, mode: 0o755 },
    ...APPLETS.map((name): Entry => ({ path: `bin/${name}`, type: 'symlink', target: 'toolbox' })),
    { path: 'bin/sh', type: 'file', data: sh, mode: 0o755 },
    { path: 'etc', type: 'dir' },
    { path: 'etc/hostname', type: 'file', data: 'wasmbox\n' },
    { path: 'etc/motd', type: 'file', data: 'Welcome to wasmbox.\n' },
    { path: 'etc/os-release', type: 'file', data: 'NAME=wasmbox\nID=wasmbox\n' },
    { path: 'home', type: 'dir' },
    { path: 'home/user', type: 'dir' },
    { path: 'home/user/notes.txt', type: 'file', data: 'remember the milk\n' },
    { path: 'tmp', type: 'dir', mode: 0o1777 },
  ];
}

export const USERLAND_ENV = ['PATH=/bin', 'HOME=/home/user'];

/** The userland image: one layer with the system and the data tree, plus any extra layers. */
export function userlandSpec(extra: Entry[][] = []): ImageSpec {
  return {
    layers: [[...systemEntries(), ...dataEntries()], ...extra],
    env: USERLAND_ENV,
    cmd: ['/bin/sh'],
    workingDir: '/',
  };
}

export function userlandImage(extra: Entry[][] = []): string {
  return buildImage(userlandSpec(extra), { format: 'oci', name: 'userland' });
}

/**
 * Writes entries (one layer, no whiteouts) into `dir` as real files, with their modes and the
 * fixture mtime on everything, so GNU tools on the host see the tree the image holds.
 */
export function writeTree(entries: Entry[], dir: string): string {
  const dirs: string[] = [];
  const stamped: string[] = [];
  for (const e of entries) {
    const p = path.join(dir, e.path);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    switch (e.type) {
      case 'dir':
        fs.mkdirSync(p, { recursive: true });
        if (e.mode !== undefined) fs.chmodSync(p, e.mode);
        dirs.push(p);
        break;
      case 'file':
        fs.writeFileSync(p, e.data ?? '');
        fs.chmodSync(p, e.mode ?? 0o644);
        stamped.push(p);
        break;
      case 'symlink':
        fs.symlinkSync(e.target, p);
        stamped.push(p);
        break;
      case 'hardlink':
        fs.linkSync(path.join(dir, e.target), p);
        break;
      default:
        throw new Error(`writeTree: ${e.type} entries are not supported`);
    }
  }
  const t = FIXTURE_MTIME;
  for (const p of stamped) fs.lutimesSync(p, t, t);
  // directories last (children change their mtime), deepest first
  for (const p of dirs.sort((a, b) => b.length - a.length)) fs.utimesSync(p, t, t);
  return dir;
}

/** A fresh host directory holding `entries` (default: the data tree), returned with its path. */
export function hostTree(entries: Entry[] = dataEntries()): string {
  return writeTree(entries, tempDir('tree'));
}

/** Runs COMMAND in the sandbox: `node host/run.js [-w CWD] [-e KV]... IMAGE COMMAND...`. */
export function box(img: string, command: string[], opts: { cwd?: string; input?: string; env?: string[]; flags?: string[] } = {}): RunOutput {
  const args: string[] = [...(opts.flags ?? [])];
  if (opts.cwd) args.push('-w', opts.cwd);
  for (const kv of opts.env ?? []) args.push('-e', kv);
  return runSandbox([...args, img, ...command], { input: opts.input });
}

/** The environment GNU tools run with: C locale, UTC, so that they compare with the sandbox. */
export const GNU_ENV = { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C', TZ: 'UTC' };

/** Runs a host program (GNU coreutils and friends) in `cwd`. */
export function gnu(command: string[], cwd: string, input = ''): RunOutput {
  const r = spawnSync(command[0], command.slice(1), { cwd, input, env: GNU_ENV, encoding: 'utf8', timeout: 60_000 });
  // a program that exits without reading all its input (head) may leave Node's write of it to a
  // closed pipe: EPIPE, with the program's own output and status complete
  const epipe = (r.error as NodeJS.ErrnoException | undefined)?.code === 'EPIPE' && r.status !== null;
  if (r.error && !epipe) throw r.error;
  return { stdout: r.stdout, stderr: r.stderr, status: r.status ?? -1 };
}

/** Runs `toolbox COMMAND...` under node:wasi with `root` as '/' and `cwd` (inside it) as PWD. */
export function wasiToolbox(command: string[], root: string, cwd: string, input = ''): RunOutput {
  const r = runNodeWasi(TOOLBOX_WASM, command, root, { env: [`PWD=${cwd}`], stdin: input });
  return { stdout: r.stdout, stderr: r.stderr.replace(/^.*ExperimentalWarning.*\n(.*--trace-warnings.*\n)?/m, ''), status: r.status ?? -1 };
}

// The shell under node:wasi, with a stand-in for the host's wasmbox.spawn: it runs the child
// (found in `root`) in the same process under its own node:wasi instance, with the same stdio, and
// supports only children whose fds 0-2 are the shell's own 0-2 (node:wasi cannot hand a guest fd
// to another instance): with a redirection it returns ENOTSUP (58), which the shell reports. It
// answers ENOENT (44) for a missing file and ENOEXEC (45) for one that is not WebAssembly.
const SH_RUNNER = `
const { WASI } = require('node:wasi');
const fs = require('node:fs');
const path = require('node:path');
const [wasmPath, root, argsJson, envJson] = process.argv.slice(1);
function envObj(list) { const o = {}; for (const kv of list) { const i = kv.indexOf('='); o[kv.slice(0, i)] = kv.slice(i + 1); } return o; }
function run(bytes, argv, env) {
  const wasi = new WASI({ version: 'preview1', args: argv, env, preopens: { '/': root }, returnOnExit: true });
  const mod = new WebAssembly.Module(bytes);
  let inst;
  const spawn = (pp, pl, ap, al, ac, ep, el, ec, cp, cl, fp, sp) => {
    const mem = Buffer.from(inst.exports.memory.buffer);
    const s = (p, n) => mem.subarray(p, p + n).toString();
    const file = s(pp, pl), av = s(ap, al).split('\\0').slice(0, ac), ev = s(ep, el).split('\\0').slice(0, ec), cwd = s(cp, cl);
    const fds = new Int32Array(inst.exports.memory.buffer, fp, 3);
    if (fds[0] !== 0 || fds[1] !== 1 || fds[2] !== 2) return 58;
    let b;
    try { b = fs.readFileSync(path.join(root, file)); } catch { return 44; }
    if (b.length < 4 || b.readUInt32LE(0) !== 0x6d736100) return 45;
    const status = run(b, av, { ...envObj(ev), PWD: cwd });
    new DataView(inst.exports.memory.buffer).setInt32(sp, status, true);
    return 0;
  };
  inst = new WebAssembly.Instance(mod, { ...wasi.getImportObject(), wasmbox: { spawn, start: () => 52, wait: () => 52, pipe: () => 52, layer: () => 52, statfs: () => 52 } });
  return wasi.start(inst);
}
let status;
try {
  status = run(fs.readFileSync(wasmPath), JSON.parse(argsJson), envObj(JSON.parse(envJson)));
} catch (e) {
  process.stderr.write('nodewasi: guest trapped: ' + (e && e.stack || e) + '\\n');
  status = 134;
}
process.exit(status);
`;

/**
 * Runs `sh ARGS...` (argv[0] "sh") under node:wasi with the stand-in spawn above, `root` as '/',
 * and the environment PATH=/bin, HOME=/home/user, PWD=cwd plus `env`.
 */
export function wasiShell(args: string[], root: string, cwd: string, opts: { input?: string; env?: string[] } = {}): RunOutput {
  const env = [...USERLAND_ENV, `PWD=${cwd}`, ...(opts.env ?? [])];
  const r = spawnSync(
    process.execPath,
    ['--no-warnings', '-e', SH_RUNNER, SH_WASM, root, JSON.stringify(['sh', ...args]), JSON.stringify(env)],
    { input: opts.input ?? '', encoding: 'utf8', timeout: 60_000, maxBuffer: 64 << 20 },
  );
  if (r.error) throw r.error;
  return { stdout: r.stdout, stderr: r.stderr, status: r.status ?? -1 };
}

export interface HeadOutput {
  /** The lines read before the pipe was closed. */
  head: string;
  /** The exit status; null when the process had to be killed (it did not stop writing). */
  status: number | null;
  stderr: string;
}

/**
 * Runs `node ARGS...` with stdout piped, reads `lines` lines, then closes the pipe as `head -n`
 * would: the program's next write fails (EPIPE), and it should stop. Killed after timeoutMs.
 */
function headOf(args: string[], lines: number, timeoutMs: number): Promise<HeadOutput> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let head = '';
    let stderr = '';
    let killed = false;
    const timer = setTimeout(() => {
      killed = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      if (head.split('\n').length > lines) return;
      head += d;
      if (head.split('\n').length > lines) {
        head = head.split('\n').slice(0, lines).join('\n') + '\n';
        child.stdout.destroy();
      }
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ head, status: killed ? null : code, stderr });
    });
  });
}

/** `head -n LINES` of COMMAND in the sandbox (see headOf). */
export function boxHead(img: string, command: string[], lines: number, timeoutMs = 30_000): Promise<HeadOutput> {
  return headOf([RUN_JS, img, ...command], lines, timeoutMs);
}

/** `head -n LINES` of `toolbox COMMAND...` under node:wasi (see headOf). */
export function wasiHead(command: string[], root: string, lines: number, timeoutMs = 30_000): Promise<HeadOutput> {
  const env = [...USERLAND_ENV, 'PWD=/'];
  return headOf(['--no-warnings', '-e', SH_RUNNER, TOOLBOX_WASM, root, JSON.stringify(command), JSON.stringify(env)], lines, timeoutMs);
}

/** A listing of a host tree for comparing results: "path type size content|target", sorted. */
export function snapshot(dir: string): string {
  const out: string[] = [];
  const walk = (rel: string) => {
    const p = path.join(dir, rel);
    const st = fs.lstatSync(p);
    if (st.isSymbolicLink()) out.push(`${rel} link -> ${fs.readlinkSync(p)}`);
    else if (st.isDirectory()) {
      if (rel) out.push(`${rel}/ dir`);
      for (const n of fs.readdirSync(p)) walk(rel ? `${rel}/${n}` : n);
    } else out.push(`${rel} file ${st.size} nlink=${st.nlink} ${JSON.stringify(fs.readFileSync(p, 'latin1').slice(0, 40))}`);
  };
  walk('');
  return out.sort().join('\n') + '\n';
}

// ---------------------------------------------------------------------------------------------
// Normalisers for the documented differences between the toolbox and GNU (guests/toolbox.c)

/** Permission bits: WASI reports none, so `ls -l` shows '?????????'. Applied to GNU's output. */
export function normPerms(s: string): string {
  return s.replace(/^([-dlcbps])[-rwxsStT?]{9}(?=[ .+])\.?/gm, '$1?????????');
}

/** `ls -l` "total": GNU counts allocated blocks, the toolbox apparent sizes (WASI has no st_blocks). */
export function normTotal(s: string): string {
  return s.replace(/^total \d+$/gm, 'total N');
}

/** `stat`: no blocks, no mode, inode and device numbers of another file system, ctime/atime of the copy. */
export function normStat(s: string): string {
  return s
    .replace(/Blocks: \S+ +IO Block: \S+ +/g, 'Blocks: B IO Block: B ')
    .replace(/^Device: .*?\tInode: \d+ +Links:/gm, 'Device: D\tInode: I Links:')
    .replace(/^Access: \(\S+\/(.)\S{9}\)/gm, 'Access: (P/$1?????????)')
    .replace(/^Access: \d{4}-.*$/gm, 'Access: TIME')
    .replace(/^Change: .*$/gm, 'Change: TIME')
    .replace(/^ Birth: .*$/gm, ' Birth: TIME')
    .replace(/cannot statx/g, 'cannot stat');
}

/** Lines in sorted order (find, grep -r and du list in directory order, which differs by file system). */
export function sortLines(s: string): string {
  const lines = s.split('\n');
  const last = lines.pop();
  return [...lines.sort(), last].join('\n');
}
