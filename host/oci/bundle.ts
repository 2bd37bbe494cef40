// An OCI bundle's config.json, checked and turned into what the sandbox runs (trusted): the
// SandboxSpec. `create` does this before it starts anything, so that a bad bundle is one error line
// and nothing left behind. Light: no kernel, no gofer.
//
// How each part of the runtime spec (config.md, config-linux.md) is treated:
//   process.args       the program: a .wasm file in the rootfs (a bare name through PATH); required
//   process.env, cwd   the environment; cwd becomes PWD (WASI has no working directory)
//   process.terminal   a pseudo-terminal on the console socket (cli.ts)
//   process.user       uid:gid of the files the guest creates (permission bits are not enforced)
//   root.path          the lower, served read-only by the gofer (relative to the bundle)
//   root.readonly      the root answers EROFS (docker --read-only); mounts keep their own mode
//   mounts: bind/rbind a directory: a bind mount (ro with "ro"); a regular file: copied into the
//                      upper layer when the sandbox starts (a snapshot: later changes on either
//                      side are not seen by the other); tmpfs: a tmpfs in the sandbox (size=,
//                      mode=, ro); proc, sysfs, devpts, mqueue, cgroup, cgroup2: not mounted (WASI
//                      has no /proc, /sys, devices, message queues or cgroups); anything else is an
//                      error
//   hostname           HOSTNAME in the environment (unless set there)
//   annotations        dev.wasmbox.overlay2 (an --overlay2 mode) and dev.wasmbox.size (its limit)
//   linux.resources.memory.limit   caps each guest's memory, as run.js -m
//   hooks              prestart, createRuntime, poststart, poststop run on the host (cli.ts);
//                      createContainer and startContainer would run in the container's
//                      namespaces, which a Wasm sandbox does not have: refused
//   rlimits, capabilities, namespaces, seccomp, cgroups, devices, apparmor, selinux, sysctl,
//   maskedPaths, readonlyPaths: accepted and not applied; the WebAssembly sandbox is the isolation
import fs from 'node:fs';
import path from 'node:path';
import { parseSize } from '../filestore/filestore';
import { OptionError, parseOverlay2, tmpfsOptions, type Overlay2, type TmpfsMount, type Volume } from '../cli/options';
import { OciError } from './state';

export interface Hook {
  path: string;
  args?: string[];
  env?: string[];
  timeout?: number;
}

export interface Hooks {
  prestart: Hook[];
  createRuntime: Hook[];
  poststart: Hook[];
  poststop: Hook[];
}

/** What the sandbox process needs, as JSON (spec.json). */
export interface SandboxSpec {
  id: string;
  bundle: string;
  args: string[];
  env: string[];
  cwd: string;
  terminal: boolean;
  uid: number;
  gid: number;
  rootfs: string;
  readonlyRoot: boolean;
  overlay2: Overlay2;
  volumes: Volume[];
  tmpfs: TmpfsMount[];
  /** Regular files bind-mounted: copied into the upper layer at start. */
  files: { host: string; guest: string; readonly: boolean }[];
  memoryBytes?: number;
  hooks: Hooks;
  annotations: Record<string, string>;
  /** What was accepted but not applied, for --debug. */
  notes: string[];
}

const IGNORED_MOUNTS = new Set(['proc', 'sysfs', 'devpts', 'mqueue', 'cgroup', 'cgroup2']);

type Json = Record<string, unknown>;

function bad(what: string): never {
  throw new OciError(`config.json: ${what}`);
}

function obj(v: unknown, what: string): Json {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) bad(`${what} must be an object`);
  return v as Json;
}

function strings(v: unknown, what: string): string[] {
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) bad(`${what} must be an array of strings`);
  return v as string[];
}

function uint(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffffffff) bad(`${what} must be a whole number`);
  return v as number;
}

/** Reads and checks BUNDLE/config.json. Every problem is an OciError naming the field. */
export function loadBundle(bundleDir: string, id: string): SandboxSpec {
  const bundle = path.resolve(bundleDir);
  const file = path.join(bundle, 'config.json');
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new OciError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file (is --bundle right?)' : (e as Error).message}`);
  }
  let cfg: Json;
  try {
    cfg = obj(JSON.parse(text), 'the document');
  } catch (e) {
    if (e instanceof OciError) throw e;
    throw new OciError(`${file} is not valid JSON: ${(e as Error).message}`);
  }
  return specFromConfig(cfg, bundle, id);
}

export function specFromConfig(cfg: Json, bundle: string, id: string): SandboxSpec {
  const notes: string[] = [];
  if (typeof cfg.ociVersion !== 'string' || !/^1\.\d+\.\d+/.test(cfg.ociVersion)) bad(`ociVersion "${cfg.ociVersion}" is not 1.x`);
  // process
  if (cfg.process === undefined) bad('process is missing (nothing to run)');
  const proc = obj(cfg.process, 'process');
  const args = strings(proc.args, 'process.args');
  if (args.length === 0 || args[0] === '') bad('process.args is empty');
  const env = proc.env === undefined ? [] : strings(proc.env, 'process.env');
  for (const kv of env) if (!/^[^=]+=/.test(kv)) bad(`process.env: "${kv}" is not KEY=VALUE`);
  if (typeof proc.cwd !== 'string' || !proc.cwd.startsWith('/')) bad('process.cwd must be an absolute path');
  const terminal = proc.terminal === undefined ? false : proc.terminal === true ? true : proc.terminal === false ? false : bad('process.terminal must be true or false');
  let uid = 0;
  let gid = 0;
  if (proc.user !== undefined) {
    const user = obj(proc.user, 'process.user');
    uid = uint(user.uid ?? 0, 'process.user.uid');
    gid = uint(user.gid ?? 0, 'process.user.gid');
  }
  for (const k of ['rlimits', 'capabilities', 'noNewPrivileges', 'apparmorProfile', 'oomScoreAdj', 'selinuxLabel', 'consoleSize']) {
    if (proc[k] !== undefined) notes.push(`process.${k}: not applied (the WebAssembly sandbox is the isolation)`);
  }
  // root
  const root = obj(cfg.root, 'root');
  if (typeof root.path !== 'string' || root.path === '') bad('root.path must be a path');
  const rootfs = path.resolve(bundle, root.path);
  let st: fs.Stats;
  try {
    st = fs.statSync(rootfs);
  } catch {
    bad(`root.path ${rootfs}: no such directory`);
  }
  if (!st.isDirectory()) bad(`root.path ${rootfs}: not a directory`);
  const readonlyRoot = root.readonly === true;
  // annotations
  const annotations: Record<string, string> = {};
  if (cfg.annotations !== undefined) {
    for (const [k, v] of Object.entries(obj(cfg.annotations, 'annotations'))) {
      if (typeof v !== 'string') bad(`annotations.${k} must be a string`);
      annotations[k] = v;
    }
  }
  let overlay2: Overlay2 = { kind: 'self' };
  try {
    if (annotations['dev.wasmbox.overlay2'] !== undefined) overlay2 = parseOverlay2(annotations['dev.wasmbox.overlay2']);
  } catch (e) {
    bad(`annotation dev.wasmbox.overlay2: ${(e as OptionError).message.replace(/^--overlay2: /, '')}`);
  }
  if (annotations['dev.wasmbox.size'] !== undefined) {
    const n = parseSize(annotations['dev.wasmbox.size']);
    if (!Number.isFinite(n) || n < 4096) bad(`annotation dev.wasmbox.size: "${annotations['dev.wasmbox.size']}" is not a size (use e.g. 512m)`);
    if (overlay2.kind === 'none') bad('annotation dev.wasmbox.size: --overlay2 none has no filestore to limit');
    overlay2 = { ...overlay2, size: n };
  }
  // mounts
  const volumes: Volume[] = [];
  const tmpfs: TmpfsMount[] = [];
  const files: SandboxSpec['files'] = [];
  const mounts = cfg.mounts === undefined ? [] : cfg.mounts;
  if (!Array.isArray(mounts)) bad('mounts must be an array');
  mounts.forEach((mv, i) => {
    const m = obj(mv, `mounts[${i}]`);
    if (typeof m.destination !== 'string' || m.destination === '') bad(`mounts[${i}].destination must be a path`);
    const dest = path.posix.normalize(m.destination.startsWith('/') ? m.destination : `/${m.destination}`);
    const options = m.options === undefined ? [] : strings(m.options, `mounts[${i}].options`);
    const type = m.type === undefined ? '' : typeof m.type === 'string' ? m.type : bad(`mounts[${i}].type must be a string`);
    const what = `mounts[${i}] (${dest})`;
    const isBind = type === 'bind' || options.includes('bind') || options.includes('rbind');
    if (dest === '/') bad(`${what}: cannot mount over /`);
    if (isBind) {
      if (typeof m.source !== 'string' || m.source === '') bad(`${what}: a bind mount needs a source`);
      const source = path.resolve(bundle, m.source);
      const readonly = options.includes('ro');
      let s: fs.Stats;
      try {
        s = fs.statSync(source);
      } catch {
        bad(`${what}: bind source ${source} does not exist`);
      }
      if (s.isDirectory()) volumes.push({ host: source, guest: dest, readonly });
      else if (s.isFile()) files.push({ host: source, guest: dest, readonly });
      else notes.push(`${what}: ${source} is a device or socket: not mounted (a WASI guest cannot use it)`);
    } else if (type === 'tmpfs') {
      try {
        tmpfs.push({ guest: dest, ...tmpfsOptions(options, what) });
      } catch (e) {
        bad((e as OptionError).message);
      }
    } else if (IGNORED_MOUNTS.has(type)) {
      notes.push(`${what}: ${type} is not mounted (WASI has no /proc, /sys, devices, message queues or cgroups)`);
    } else {
      bad(`${what}: unknown mount type "${type}" (wasmbox mounts bind, rbind and tmpfs; it skips ${[...IGNORED_MOUNTS].join(', ')})`);
    }
  });
  // hostname
  if (cfg.hostname !== undefined) {
    if (typeof cfg.hostname !== 'string') bad('hostname must be a string');
    if (cfg.hostname !== '' && !env.some((kv) => kv.startsWith('HOSTNAME='))) env.push(`HOSTNAME=${cfg.hostname}`);
  }
  // linux
  let memoryBytes: number | undefined;
  if (cfg.linux !== undefined) {
    const linux = obj(cfg.linux, 'linux');
    const mem = (linux.resources as Json | undefined)?.memory as Json | undefined;
    if (mem && typeof mem.limit === 'number' && mem.limit > 0) memoryBytes = Math.max(65536, mem.limit);
    for (const k of Object.keys(linux)) if (k !== 'resources') notes.push(`linux.${k}: not applied (the WebAssembly sandbox is the isolation)`);
  }
  // hooks
  const hooks: Hooks = { prestart: [], createRuntime: [], poststart: [], poststop: [] };
  if (cfg.hooks !== undefined) {
    const h = obj(cfg.hooks, 'hooks');
    for (const [k, list] of Object.entries(h)) {
      if (k === 'createContainer' || k === 'startContainer') {
        if (Array.isArray(list) && list.length) bad(`hooks.${k}: these run inside the container's namespaces, which a WebAssembly sandbox does not have`);
        continue;
      }
      if (!(k in hooks)) bad(`hooks.${k}: unknown hook`);
      if (!Array.isArray(list)) bad(`hooks.${k} must be an array`);
      hooks[k as keyof Hooks] = list.map((hv, i) => {
        const hk = obj(hv, `hooks.${k}[${i}]`);
        if (typeof hk.path !== 'string' || !path.isAbsolute(hk.path)) bad(`hooks.${k}[${i}].path must be an absolute path`);
        return {
          path: hk.path,
          args: hk.args === undefined ? undefined : strings(hk.args, `hooks.${k}[${i}].args`),
          env: hk.env === undefined ? undefined : strings(hk.env, `hooks.${k}[${i}].env`),
          timeout: hk.timeout === undefined ? undefined : uint(hk.timeout, `hooks.${k}[${i}].timeout`),
        };
      });
    }
  }
  return {
    id,
    bundle,
    args,
    env,
    cwd: proc.cwd,
    terminal,
    uid,
    gid,
    rootfs,
    readonlyRoot,
    overlay2,
    volumes,
    tmpfs,
    files,
    memoryBytes,
    hooks,
    annotations,
    notes,
  };
}

/** The config.json `spec` writes: a shell in ./rootfs, as `runc spec` writes one. */
export function exampleConfig(terminal: boolean): Json {
  return {
    ociVersion: '1.0.2',
    process: { terminal, user: { uid: 0, gid: 0 }, args: ['sh'], env: ['PATH=/usr/local/bin:/usr/bin:/bin', 'TERM=xterm'], cwd: '/' },
    root: { path: 'rootfs', readonly: false },
    hostname: 'wasmbox',
    mounts: [
      { destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=1777'] },
      { destination: '/proc', type: 'proc', source: 'proc' },
    ],
    annotations: { 'dev.wasmbox.overlay2': 'root:self' },
  };
}
