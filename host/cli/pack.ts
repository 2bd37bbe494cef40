// Pack (trusted host code): makes a container image from host directories, one layer per directory,
// bottom first, as `node host/pack.js DIR [--layer DIR2]... -o IMAGE.tar`. dist/pack.js is this
// module bundled; host/pack.js is the thin CLI that calls main().
//
// Owns: reading a directory tree into a layer spec (readLayer), the pack options and the CLI. Not
// the tar and image formats: host/image/image-writer.ts writes the archive (one writer for tests, the
// default image and pack).
//
// What a layer directory holds, and what goes into the layer tar:
// - directories, regular files and symlinks, with their permission bits (including setuid, setgid
//   and sticky) and their mtimes in whole seconds; owners are written as 0:0 (root), as a rootless
//   build does; file data is read when packing (the layer is built in memory);
// - a regular file linked more than once inside the layer (same device and inode) becomes one file
//   and hard links to it, in walk order (the first name in byte order holds the data);
// - `.wh.NAME`, an empty regular file, is the OCI whiteout of NAME: the layer deletes NAME from the
//   layers below. `.wh..wh..opq` makes its directory opaque: it hides everything the layers below
//   hold in it. Both are written as they are named, which IS the OCI encoding; pack checks them (a
//   whiteout with data, of "." or "..", or another `.wh..wh.` name is an error) and writes them
//   before their siblings, as the image spec asks (layer.md: "whiteout files appear before sibling
//   directory entries"). In the bottom layer they delete nothing;
// - nothing else: device nodes, FIFOs and sockets are errors, and so are names that are not UTF-8
//   and paths of PATH_MAX (4096 bytes, with the leading '/') or more, which the sandbox cannot open.
// Entries are written in a deterministic order (byte order of names, parents first), so the same
// tree with the same times gives the same image, digest for digest.
//
// The archive (format 'oci', the default) is an OCI image layout that `docker load` also takes: see
// WriteImageOptions.dockerManifest in host/image/image-writer.ts and the README section on pack.
import fs from 'node:fs';
import path from 'node:path';
import { imageBytes, writeImage, type Entry, type ImageSpec } from '../image/image-writer';
import { splitFlag } from './options';

/** A failure with its exit status: 2 for a usage error, 125 when packing fails (as run.js). */
export class PackError extends Error {
  constructor(
    message: string,
    readonly status: 2 | 125 = 125,
  ) {
    super(message);
  }
}

/** Longest path (bytes, with the leading '/') the sandbox's kernel walks: PATH_MAX - 1. */
const PATH_LIMIT = 4095;
const OPAQUE = '.wh..wh..opq';
const WH = '.wh.';

function errnoText(e: unknown): string {
  const code = (e as NodeJS.ErrnoException)?.code;
  switch (code) {
    case 'ENOENT':
      return 'no such file or directory';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'ENAMETOOLONG':
      return 'name too long';
    case 'ELOOP':
      return 'too many levels of symbolic links';
    case 'ENOTDIR':
      return 'not a directory';
    case 'EIO':
      return 'input/output error';
    default:
      return code ?? String((e as Error)?.message ?? e);
  }
}

/** Runs a host file-system call, turning its error into a one-line PackError about `where`. */
function host<T>(where: string, what: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof PackError) throw e;
    throw new PackError(`${where}: cannot ${what}: ${errnoText(e)}`);
  }
}

/** A name or link target as a string, or an error when its bytes are not UTF-8 (tar names are). */
function utf8(where: string, b: Buffer): string {
  const s = b.toString('utf8');
  if (!Buffer.from(s, 'utf8').equals(b)) throw new PackError(`${where}: the name is not valid UTF-8`);
  return s;
}

const seconds = (st: fs.BigIntStats): number => Number(st.mtimeNs / 1_000_000_000n) - (st.mtimeNs < 0n && st.mtimeNs % 1_000_000_000n !== 0n ? 1 : 0);
const perm = (st: fs.BigIntStats): number => Number(st.mode & 0o7777n);

function kindOf(st: fs.BigIntStats): string {
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  return 'an unknown kind of file';
}

/**
 * Reads the directory `dir` (symlinks in its own path followed, none below it) into the entries of
 * one layer. Throws PackError with a one-line message naming the host path.
 */
export function readLayer(dir: string): Entry[] {
  const rootStat = host(dir, 'read the layer directory', () => {
    try {
      return fs.statSync(dir, { bigint: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new PackError(`${dir}: no such directory`);
      throw e;
    }
  });
  if (!rootStat.isDirectory()) throw new PackError(`${dir}: not a directory`);
  const out: Entry[] = [];
  const links = new Map<string, string>(); // "dev:ino" of a multiply-linked file -> its first path
  const walk = (abs: string, rel: string): void => {
    const raw = host(abs, 'read the directory', () => fs.readdirSync(abs, { encoding: 'buffer' }));
    const names = raw.map((b) => utf8(path.join(abs, b.toString('utf8')), b)).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    // whiteouts first (the opaque marker is already written with its directory), then the rest
    const ordered = [...names.filter((n) => n.startsWith(WH) && n !== OPAQUE), ...names.filter((n) => !n.startsWith(WH))];
    for (const name of ordered) {
      const p = path.join(abs, name);
      const r = rel ? `${rel}/${name}` : name;
      if (Buffer.byteLength(r) + 1 > PATH_LIMIT) {
        throw new PackError(`${p}: name too long (the image path /${r.slice(0, 20)}... is ${Buffer.byteLength(r) + 1} bytes; the limit is ${PATH_LIMIT})`);
      }
      const st = host(p, 'stat', () => fs.lstatSync(p, { bigint: true }));
      if (name.startsWith(WH)) {
        out.push(whiteout(p, rel, name, st));
        continue;
      }
      if (st.isDirectory()) {
        const opaque = host(p, 'read the directory', () => fs.readdirSync(p)).includes(OPAQUE);
        if (opaque) checkWhiteoutFile(path.join(p, OPAQUE), host(p, 'stat', () => fs.lstatSync(path.join(p, OPAQUE), { bigint: true })));
        out.push({ path: r, type: opaque ? 'opaque' : 'dir', mode: perm(st), mtime: seconds(st) });
        walk(p, r);
      } else if (st.isFile()) {
        if (st.nlink > 1n) {
          const key = `${st.dev}:${st.ino}`;
          const first = links.get(key);
          if (first !== undefined) {
            out.push({ path: r, type: 'hardlink', target: first });
            continue;
          }
          links.set(key, r);
        }
        const data = host(p, 'read the file', () => fs.readFileSync(p));
        out.push({ path: r, type: 'file', data, mode: perm(st), mtime: seconds(st) });
      } else if (st.isSymbolicLink()) {
        const target = utf8(p, host(p, 'read the symbolic link', () => fs.readlinkSync(p, { encoding: 'buffer' })));
        out.push({ path: r, type: 'symlink', target, mtime: seconds(st) });
      } else {
        throw new PackError(`${p}: ${kindOf(st)} cannot go into an image (only directories, files and symbolic links)`);
      }
    }
  };
  // an opaque marker at the top of the layer hides everything below: it has no directory entry to
  // ride on, so it is written as the plain empty file it is
  if (host(dir, 'read the directory', () => fs.readdirSync(dir)).includes(OPAQUE)) {
    checkWhiteoutFile(path.join(dir, OPAQUE), host(dir, 'stat', () => fs.lstatSync(path.join(dir, OPAQUE), { bigint: true })));
    out.push({ path: OPAQUE, type: 'file', data: '', mode: 0o644 });
  }
  walk(dir, '');
  return out;
}

function checkWhiteoutFile(p: string, st: fs.BigIntStats): void {
  if (!st.isFile() || st.size !== 0n) throw new PackError(`${p}: a whiteout must be an empty regular file`);
}

/** The entry for the whiteout file `name` (`.wh.X`) found at host path `p`, in directory `dirRel`. */
function whiteout(p: string, dirRel: string, name: string, st: fs.BigIntStats): Entry {
  checkWhiteoutFile(p, st);
  const victim = name.slice(WH.length);
  if (victim.startsWith(WH)) throw new PackError(`${p}: names starting with ${WH}${WH} are reserved (only ${OPAQUE}, the opaque marker)`);
  if (victim === '' || victim === '.' || victim === '..') throw new PackError(`${p}: a whiteout of "${victim}" deletes nothing`);
  return { path: dirRel ? `${dirRel}/${victim}` : victim, type: 'whiteout' };
}

// ---------------------------------------------------------------------------------------------
// Packing

export interface PackOptions {
  /** Layer directories, bottom first. */
  layers: string[];
  entrypoint?: string[];
  cmd?: string[];
  env?: string[];
  workingDir?: string;
  /** gzip every layer (media type tar+gzip). */
  gzip?: boolean;
  /** 'oci' (default): OCI image layout plus docker's manifest.json; 'docker': the classic `docker save` layout. */
  format?: 'oci' | 'docker';
  /** The image's name, NAME[:TAG] (default wasmbox-image:latest). */
  tag?: string;
  /** OS/ARCH of the image (default wasi/wasm, what Docker's Wasm images use). */
  platform?: string;
}

/** The image spec of a pack: the layers read from their directories, and the config. */
export function packSpec(opts: PackOptions): ImageSpec {
  if (opts.layers.length === 0) throw new PackError('no layer directory given', 2);
  const [os, architecture] = (opts.platform ?? 'wasi/wasm').split('/');
  return {
    layers: opts.layers.map(readLayer),
    entrypoint: opts.entrypoint,
    cmd: opts.cmd,
    env: opts.env,
    workingDir: opts.workingDir,
    platform: { os, architecture },
    history: opts.layers.map((d) => `wasmbox pack: COPY ${path.basename(path.resolve(d))}/ /`),
  };
}

function writeOptions(opts: PackOptions) {
  return { format: opts.format ?? 'oci', gzip: opts.gzip, tag: opts.tag ?? 'wasmbox-image:latest', dockerManifest: true } as const;
}

/** The bytes of the image archive. */
export function packBytes(opts: PackOptions): Uint8Array {
  return imageBytes(packSpec(opts), writeOptions(opts));
}

/** Packs into the file `out`, atomically: a failure leaves no file (or the old one) behind. */
export function pack(opts: PackOptions, out: string): void {
  const spec = packSpec(opts);
  const tmp = path.join(path.dirname(out), `.${path.basename(out)}.${process.pid}.tmp`);
  try {
    host(out, 'write the image', () => writeImage(spec, tmp, writeOptions(opts)));
    host(out, 'write the image', () => fs.renameSync(tmp, out));
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// Command line

export const USAGE = `Usage: node host/pack.js DIR [--layer DIR]... [OPTIONS] -o IMAGE.tar

Makes a container image with one layer per directory: DIR is the bottom layer, each --layer goes on
top of the ones before. In a layer, an empty file .wh.NAME deletes NAME from the layers below (the
OCI whiteout) and an empty file .wh..wh..opq hides everything the layers below hold in its directory.
Modes, mtimes, symbolic links and hard links are kept; owners become root.

The archive is an OCI image layout that \`docker load\` also accepts, and that \`node host/run.js\`
runs.

Options:
  -o, --output FILE      where to write the image ("-": standard output); required
      --layer DIR        one more layer (repeatable)
      --entrypoint CMD   the image's Entrypoint: a JSON array ('["/bin/sh","-c"]') or words split
                         on spaces ("" for none)
      --cmd CMD          the image's Cmd, in the same forms
  -e, --env KEY=VALUE    an environment variable of the image (repeatable)
  -w, --workdir DIR      the image's working directory (absolute)
      --tag NAME[:TAG]   the name docker load gives the image (default: the output file's name)
      --platform OS/ARCH the image's platform (default wasi/wasm, as Docker's Wasm images)
      --gzip             compress the layers
      --format FORMAT    oci (default: OCI layout plus docker's manifest.json) or docker (the
                         classic \`docker save\` layout)
  -h, --help             show this help

Exit status: 0, 2 for a usage error, 125 when packing fails (a missing directory, an unreadable file,
a file type an image cannot hold, a name too long).`;

/** A command-line word list as Entrypoint/Cmd: a JSON array of strings, or words split on spaces. */
function commandWords(flag: string, v: string): string[] {
  if (v.trimStart().startsWith('[')) {
    let a: unknown;
    try {
      a = JSON.parse(v);
    } catch {
      throw new PackError(`${flag}: not a JSON array: ${v}`, 2);
    }
    if (!Array.isArray(a) || !a.every((x) => typeof x === 'string')) throw new PackError(`${flag}: the JSON array must hold strings only`, 2);
    return a;
  }
  return v.split(/\s+/).filter((w) => w !== '');
}

const REF_COMPONENT = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/;
const REF_TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

/** Checks a docker reference NAME[:TAG] (distribution/reference's grammar, without digests). */
export function validTag(ref: string): boolean {
  const colon = ref.lastIndexOf(':');
  const hasTag = colon > ref.lastIndexOf('/');
  const name = hasTag ? ref.slice(0, colon) : ref;
  if (hasTag && !REF_TAG.test(ref.slice(colon + 1))) return false;
  const parts = name.split('/');
  if (parts.length > 1 && /[.:]|^localhost$/.test(parts[0])) {
    if (!/^[A-Za-z0-9.-]+(?::\d+)?$/.test(parts.shift()!)) return false;
  }
  return name.length <= 255 && parts.length > 0 && parts.every((p) => REF_COMPONENT.test(p));
}

/** The default name: the output file's name without .tar/.tgz/.tar.gz, as a valid docker name. */
function tagFromOutput(out: string): string {
  const base = path
    .basename(out)
    .replace(/\.(tar|tgz|tar\.gz)$/i, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return out !== '-' && base && validTag(base) ? `${base}:latest` : 'wasmbox-image:latest';
}

export interface PackCommand {
  opts: PackOptions;
  out: string;
}

/** Parses the command line. Throws PackError(…, 2) on a usage error; exits 0 for --help. */
export function parsePackArgs(argv: string[]): PackCommand {
  const opts: PackOptions = { layers: [] };
  const env: string[] = [];
  let out: string | undefined;
  let dir: string | undefined;
  let i = 0;
  const positional = (a: string): void => {
    if (dir !== undefined) throw new PackError(`unexpected argument "${a}" (give further layers with --layer DIR)`, 2);
    dir = a;
  };
  for (; i < argv.length; i++) {
    const [a, inline] = splitFlag(argv[i]);
    const val = (): string => {
      if (inline !== undefined) return inline;
      if (i + 1 >= argv.length) throw new PackError(`flag needs an argument: ${a}`, 2);
      return argv[++i];
    };
    if (a === '-h' || a === '--help') {
      process.stdout.write(USAGE + '\n');
      process.exit(0);
    } else if (a === '-o' || a === '--output') out = val();
    else if (a === '--layer') opts.layers.push(val());
    else if (a === '--entrypoint') opts.entrypoint = commandWords(a, val());
    else if (a === '--cmd') opts.cmd = commandWords(a, val());
    else if (a === '-e' || a === '--env') {
      const kv = val();
      if (!/^[^=]+=/.test(kv)) throw new PackError(`${a}: "${kv}" is not KEY=VALUE`, 2);
      env.push(kv);
    } else if (a === '-w' || a === '--workdir') {
      const w = val();
      if (!w.startsWith('/')) throw new PackError(`${a}: "${w}" is not an absolute path`, 2);
      opts.workingDir = w;
    } else if (a === '--tag') {
      const t = val();
      if (!validTag(t)) throw new PackError(`--tag: "${t}" is not an image name (NAME[:TAG], lowercase, e.g. me/app:1.0)`, 2);
      opts.tag = t;
    } else if (a === '--platform') {
      const p = val();
      if (!/^[a-z0-9_.-]+\/[a-z0-9_.-]+$/.test(p)) throw new PackError(`--platform: "${p}" is not OS/ARCH (e.g. wasi/wasm)`, 2);
      opts.platform = p;
    } else if (a === '--gzip') opts.gzip = true;
    else if (a === '--format') {
      const f = val();
      if (f !== 'oci' && f !== 'docker') throw new PackError(`--format: must be oci or docker, not "${f}"`, 2);
      opts.format = f;
    } else if (a === '--') {
      for (i++; i < argv.length; i++) positional(argv[i]);
    } else if (a.startsWith('-') && a !== '-') throw new PackError(`unknown flag: ${a}`, 2);
    else positional(a);
  }
  if (dir === undefined) throw new PackError('no layer directory given', 2);
  if (out === undefined) throw new PackError('no output file given: -o IMAGE.tar', 2);
  opts.layers.unshift(dir);
  if (env.length) opts.env = env;
  opts.tag ??= tagFromOutput(out);
  return { opts, out };
}

/** The CLI: returns the exit status; errors are one line on stderr. */
export function main(argv: string[]): number {
  try {
    const { opts, out } = parsePackArgs(argv);
    if (out === '-') process.stdout.write(packBytes(opts));
    else pack(opts, out);
    return 0;
  } catch (e) {
    if (e instanceof PackError) {
      const hint = e.status === 2 ? " (see 'node host/pack.js --help')" : '';
      process.stderr.write(`pack: ${e.message}${hint}\n`);
      return e.status;
    }
    process.stderr.write(`pack: internal error: ${(e as Error)?.message ?? e}\n`);
    return 125;
  }
}
