// Parsing of the runsc- and docker-style options that describe a sandbox's file systems:
//   --overlay2 none | root:memory | root:self | root:dir=/abs/path   each with an optional ,size=N
//   -v / --volume HOST:GUEST[:ro]
// Mistakes are errors whose message names the flag. splitFlag() is the one reading of
// "--flag=value" that run.js's and pack.js's argument loops share.
import path from 'node:path';
import { parseSize } from '../filestore/filestore';

/** "--flag=value" as ["--flag", "value"]; any other argument as [arg, undefined]. */
export function splitFlag(arg: string): [string, string | undefined] {
  const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
  return eq < 0 ? [arg, undefined] : [arg.slice(0, eq), arg.slice(eq + 1)];
}

export type Overlay2 =
  | { kind: 'none' }
  | { kind: 'memory'; size?: number }
  | { kind: 'self'; size?: number }
  | { kind: 'dir'; dir: string; size?: number };

export class OptionError extends Error {}

/** Parses an --overlay2 value. The default, as in runsc, is root:self. */
export function parseOverlay2(v: string): Overlay2 {
  const parts = v.split(',');
  const head = parts[0];
  let size: number | undefined;
  for (const p of parts.slice(1)) {
    const m = /^size=(.*)$/.exec(p);
    if (!m) throw new OptionError(`--overlay2: unknown option "${p}" (only size=N, e.g. size=512m)`);
    const n = parseSize(m[1]);
    if (!Number.isFinite(n) || n < 4096) throw new OptionError(`--overlay2: size=${m[1]}: not a size (use e.g. 512m or 2g)`);
    size = n;
  }
  if (head === 'none') {
    if (size !== undefined) throw new OptionError('--overlay2: none takes no size');
    return { kind: 'none' };
  }
  if (head === 'root:memory') return { kind: 'memory', size };
  if (head === 'root:self') return { kind: 'self', size };
  if (head.startsWith('root:dir=')) {
    const dir = head.slice('root:dir='.length);
    if (!path.isAbsolute(dir)) throw new OptionError(`--overlay2: dir=${dir}: the directory must be an absolute path`);
    return { kind: 'dir', dir, size };
  }
  throw new OptionError(`--overlay2: "${v}" is not none, root:memory, root:self or root:dir=/abs/path`);
}

export interface Volume {
  host: string;
  guest: string;
  readonly: boolean;
}

/** Parses a -v value, HOST:GUEST[:ro|:rw]; HOST must be an existing directory (checked by the caller). */
export function parseVolume(v: string): Volume {
  const parts = v.split(':');
  let readonly = false;
  if (parts.length === 3) {
    if (parts[2] === 'ro') readonly = true;
    else if (parts[2] !== 'rw') throw new OptionError(`-v ${v}: the mode must be ro or rw`);
  } else if (parts.length !== 2) {
    throw new OptionError(`-v ${v}: expected HOST:GUEST[:ro]`);
  }
  const [host, guest] = parts;
  if (!host || !path.isAbsolute(host)) throw new OptionError(`-v ${v}: the host path must be absolute`);
  if (!guest || !guest.startsWith('/')) throw new OptionError(`-v ${v}: the guest path must be absolute`);
  if (path.posix.normalize(guest) === '/') throw new OptionError(`-v ${v}: cannot mount over /`);
  return { host: path.resolve(host), guest: path.posix.normalize(guest), readonly };
}

/**
 * Parses a --mount value, docker's long form: type=bind,source=HOST,target=GUEST[,readonly] or
 * type=tmpfs,target=GUEST[,tmpfs-size=N][,tmpfs-mode=OCTAL][,readonly]. Keys as docker spells them
 * (src/source, dst/destination/target, ro/readonly[=true|false]); bind-propagation and consistency
 * are accepted and mean nothing here. Named volumes (type=volume) are refused: there is no store.
 */
export function parseMount(v: string): { volume: Volume } | { tmpfs: TmpfsMount } {
  const what = `--mount ${v}`;
  const kv = new Map<string, string>();
  for (const part of v.split(',')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const key = eq < 0 ? part : part.slice(0, eq);
    if (kv.has(key)) throw new OptionError(`${what}: "${key}" given twice`);
    kv.set(key, eq < 0 ? '' : part.slice(eq + 1));
  }
  const type = kv.get('type') ?? 'volume';
  const target = kv.get('target') ?? kv.get('destination') ?? kv.get('dst');
  const source = kv.get('source') ?? kv.get('src');
  const roValue = kv.get('readonly') ?? kv.get('ro');
  if (roValue !== undefined && !['', 'true', 'false', '1', '0'].includes(roValue)) throw new OptionError(`${what}: readonly=${roValue}: not true or false`);
  const readonly = roValue !== undefined && roValue !== 'false' && roValue !== '0';
  const known = new Set(['type', 'target', 'destination', 'dst', 'source', 'src', 'readonly', 'ro', 'bind-propagation', 'consistency', 'tmpfs-size', 'tmpfs-mode']);
  for (const k of kv.keys()) if (!known.has(k)) throw new OptionError(`${what}: unknown key "${k}"`);
  if (!target) throw new OptionError(`${what}: no target (target=/path in the sandbox)`);
  if (type === 'bind') {
    if (!source) throw new OptionError(`${what}: no source (source=/host/dir)`);
    if (kv.has('tmpfs-size') || kv.has('tmpfs-mode')) throw new OptionError(`${what}: tmpfs- keys are for type=tmpfs`);
    return { volume: parseVolume(`${source}:${target}${readonly ? ':ro' : ''}`) };
  }
  if (type === 'tmpfs') {
    if (source) throw new OptionError(`${what}: a tmpfs has no source`);
    const opts = [];
    if (kv.has('tmpfs-size')) opts.push(`size=${kv.get('tmpfs-size')}`);
    if (kv.has('tmpfs-mode')) opts.push(`mode=${kv.get('tmpfs-mode')}`);
    if (readonly) opts.push('ro');
    return { tmpfs: parseTmpfs(`${target}:${opts.join(',')}`, what) };
  }
  if (type === 'volume') throw new OptionError(`${what}: named volumes are not supported (no volume store): use type=bind with a host directory`);
  throw new OptionError(`${what}: type must be bind or tmpfs, not "${type}"`);
}

/**
 * Reads a docker --env-file: one KEY=VALUE per line (KEY alone copies it from the host, as -e
 * does); blank lines and lines starting with # are skipped.
 */
export function readEnvFile(file: string, text: string): string[] {
  const out: string[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/\r$/, '');
    if (line.trim() === '' || line.trimStart().startsWith('#')) return;
    const entry = line.trimStart();
    checkEnvEntry(entry, `--env-file ${file}, line ${i + 1}`);
    out.push(entry);
  });
  return out;
}

/** An -e / --env-file entry must name a variable: "=x" is not one (docker: invalid argument). */
export function checkEnvEntry(entry: string, what: string): void {
  const key = entry.includes('=') ? entry.slice(0, entry.indexOf('=')) : entry;
  if (key === '') throw new OptionError(`${what}: "${entry}" has no variable name`);
  if (/\s/.test(key)) throw new OptionError(`${what}: variable "${key}" contains whitespace`);
}

export interface TmpfsMount {
  /** Where it appears in the sandbox (absolute). */
  guest: string;
  /** Quota in bytes (size=), or undefined for none of its own (the filestore's limit still holds). */
  sizeBytes?: number;
  /** Permission bits of its root directory (mode=, octal; default 1777 as Docker's --tmpfs). */
  mode: number;
  readonly: boolean;
}

/** Options of a tmpfs mount that change nothing inside a Wasm sandbox, accepted as Docker accepts them. */
const TMPFS_NOOPS = new Set(['rw', 'exec', 'noexec', 'suid', 'nosuid', 'dev', 'nodev', 'sync', 'async', 'atime', 'noatime', 'relatime', 'norelatime', 'strictatime', 'nostrictatime', 'diratime', 'nodiratime', 'private', 'rprivate', 'shared', 'rshared', 'slave', 'rslave', 'nr_inodes', 'tmpcopyup', 'notmpcopyup']);

/**
 * Parses a --tmpfs value, PATH[:OPTIONS] as `docker run --tmpfs` (OPTIONS comma-separated: size=N,
 * mode=OCTAL, ro, and mount flags that mean nothing in the sandbox, which are accepted), or the
 * options of an OCI `tmpfs` mount (`what` names the source of the value in messages).
 */
export function parseTmpfs(v: string, what = `--tmpfs ${v}`): TmpfsMount {
  const colon = v.indexOf(':');
  const guest = colon < 0 ? v : v.slice(0, colon);
  const opts = colon < 0 ? [] : v.slice(colon + 1).split(',').filter(Boolean);
  if (!guest.startsWith('/')) throw new OptionError(`${what}: the path must be absolute`);
  if (path.posix.normalize(guest) === '/') throw new OptionError(`${what}: cannot mount over /`);
  return { guest: path.posix.normalize(guest), ...tmpfsOptions(opts, what) };
}

/** The options of a tmpfs mount (docker's --tmpfs list, or an OCI mount's `options`). */
export function tmpfsOptions(opts: string[], what: string): Omit<TmpfsMount, 'guest'> {
  const out: Omit<TmpfsMount, 'guest'> = { mode: 0o1777, readonly: false };
  for (const o of opts) {
    const eq = o.indexOf('=');
    const key = eq < 0 ? o : o.slice(0, eq);
    const val = eq < 0 ? '' : o.slice(eq + 1);
    if (key === 'size') {
      const n = /^\d+%$/.test(val) ? NaN : parseSize(val);
      if (!Number.isFinite(n) || n < 0) throw new OptionError(`${what}: size=${val}: not a size (use e.g. 64m)`);
      out.sizeBytes = n;
    } else if (key === 'mode') {
      if (!/^[0-7]{1,4}$/.test(val)) throw new OptionError(`${what}: mode=${val}: not an octal mode`);
      out.mode = parseInt(val, 8);
    } else if (key === 'ro') out.readonly = true;
    else if (key === 'uid' || key === 'gid' || key === 'nr_inodes' || key === 'nr_blocks') {
      if (!/^\d+[kmg]?$/i.test(val)) throw new OptionError(`${what}: ${o}: not a number`);
    } else if (!TMPFS_NOOPS.has(key)) throw new OptionError(`${what}: unknown option "${o}"`);
  }
  return out;
}
