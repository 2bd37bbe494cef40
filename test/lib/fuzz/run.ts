// Running fuzz batches: one image of many cases (spec.ts), the same script run by guests/fsops.c
//   - in the sandbox:  node host/run.js --cache-dir TMP IMAGE /fsops.wasm   (a Cmd-only OCI image),
//   - the reference:   node:wasi on a real Linux overlayfs mount of the same layers, mounted with
//                      FUZZ_MOUNT_OPTIONS,
//   - and, for triage, natively: fsops.c built with the host's gcc, run on another fresh mount with
//     its working directory at the mount root (script paths are relative and symlink targets never
//     climb, so nothing leaves the mount). That is Linux with no WASI runtime in between: when the
//     sandbox agrees with it and node:wasi does not, the difference is a node:wasi quirk.
// Owns the runs and the per-case comparison. Not the generator (gen.ts) nor shrinking (shrink.ts).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { buildImage, tempDir } from '../images';
import type { Layers } from '../layers';
import { runNodeWasi } from '../nodewasi';
import { mountOverlay, OverlayUnavailable } from '../overlayfs';
import { ROOT, RUN_JS } from '../sandbox';
import { argsKey, batchLayers, batchScript, splitOutput, type FuzzCase } from './spec';

export { OverlayUnavailable };

/**
 * The reference mount's options. With redirect_dir=on Linux renames lower directories (instead of
 * EXDEV), and with index=on a lower hard-link pair stays one file across copy-up: the sandbox's
 * documented behaviour (docs/overlay.md), so that the comparison can be strict.
 */
export const FUZZ_MOUNT_OPTIONS = 'redirect_dir=on,index=on,metacopy=off,xino=off';

export const FSOPS_WASM = path.join(ROOT, 'dist', 'guests', 'fsops.wasm');
const FSOPS_C = path.join(ROOT, 'guests', 'fsops.c');

/** What one side printed and how long its ops took (the guest's own clock, setup excluded). */
export interface SideRun {
  stdout: string;
  stderr: string;
  status: number | null;
  /** Ops run and their total time in ns, as fsops reports on stderr (0 when it did not). */
  ops: number;
  opNs: number;
  dumpNs: number;
  /** Wall time of the whole side, setup included (ms). */
  wallMs: number;
}

function timing(stderr: string): { ops: number; opNs: number; dumpNs: number } {
  const m = /fsops: ops (\d+) op_ns (\d+) dump_ns (\d+)/.exec(stderr);
  return m ? { ops: Number(m[1]), opNs: Number(m[2]), dumpNs: Number(m[3]) } : { ops: 0, opNs: 0, dumpNs: 0 };
}

/** Why the fuzzer cannot run here, or null. */
export function unavailable(): string | null {
  if (!fs.existsSync(FSOPS_WASM)) return `${path.relative(ROOT, FSOPS_WASM)} is missing: run \`node scripts/build.mjs guests\``;
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    return `the overlayfs reference needs root (uid is ${process.getuid()})`;
  }
  return null;
}

let nativeBin: string | null | undefined;
/** The native build of fsops.c (gcc), rebuilt when the source changes; null without gcc. */
export function nativeFsops(): string | null {
  if (nativeBin !== undefined) return nativeBin;
  const dir = path.join(ROOT, '.cache', 'fuzz');
  const bin = path.join(dir, 'fsops-native');
  fs.mkdirSync(dir, { recursive: true });
  if (fs.existsSync(bin) && fs.statSync(bin).mtimeMs >= fs.statSync(FSOPS_C).mtimeMs) return (nativeBin = bin);
  const tmp = `${bin}.${process.pid}`;
  const r = spawnSync('gcc', ['-O2', '-Wall', '-Werror', FSOPS_C, '-o', tmp], { encoding: 'utf8' });
  if (r.status !== 0) return (nativeBin = null);
  fs.renameSync(tmp, bin);
  return (nativeBin = bin);
}

/** The image's and mount's layers for a batch: the cases, and the guest at /fsops.wasm. */
export function imageLayers(cases: FuzzCase[]): Layers {
  return batchLayers(cases, [{ path: 'fsops.wasm', type: 'file', data: fs.readFileSync(FSOPS_WASM), mode: 0o755 }]);
}

/** Builds the Cmd-only OCI image of `layers` (plus raw tar layers on top) and returns its path. */
export function buildBatchImage(layers: Layers, tarLayers: Uint8Array[] = []): string {
  return buildImage({ layers, tarLayers, cmd: ['/fsops.wasm'] }, { format: 'oci', name: 'fuzz' });
}

export interface SandboxRunOptions {
  /** Pass `--export-upper FILE`. */
  exportUpper?: string;
  /** More options for host/run.js (e.g. --debug-kernel, --gofer worker). */
  sandboxArgs?: string[];
  /** More environment for the sandbox (added to this process's). */
  env?: Record<string, string>;
  timeoutMs?: number;
}

/** Runs the script in the sandbox, on `image` (null: the options name the root, e.g. --rootfs). */
export function runSandboxSide(image: string | null, script: string, opts: SandboxRunOptions = {}): SideRun {
  const t0 = Date.now();
  const args = [RUN_JS, '--cache-dir', tempDir('cache')];
  if (opts.exportUpper) args.push('--export-upper', opts.exportUpper);
  if (opts.sandboxArgs) args.push(...opts.sandboxArgs);
  if (image !== null) args.push(image);
  args.push('/fsops.wasm');
  const r = spawnSync(process.execPath, args, {
    cwd: ROOT,
    input: script,
    encoding: 'utf8',
    env: opts.env ? { ...process.env, ...opts.env } : process.env,
    timeout: opts.timeoutMs ?? 300_000,
    maxBuffer: 256 << 20,
  });
  const stderr = (r.stderr ?? '') + (r.error ? `\n(spawn: ${r.error.message})` : '') + (r.signal ? `\n(killed by ${r.signal})` : '');
  return { stdout: r.stdout ?? '', stderr, status: r.status, ...timing(stderr), wallMs: Date.now() - t0 };
}

/** Runs the script under node:wasi on a fresh overlayfs mount of `layers`. Throws OverlayUnavailable. */
export function runReferenceSide(layers: Layers, script: string): SideRun {
  const t0 = Date.now();
  const m = mountOverlay(layers, { options: FUZZ_MOUNT_OPTIONS });
  try {
    const r = runNodeWasi(FSOPS_WASM, [], m.root, { stdin: script, timeoutMs: 300_000 });
    return { stdout: r.stdout ?? '', stderr: r.stderr ?? '', status: r.status, ...timing(r.stderr ?? ''), wallMs: Date.now() - t0 };
  } finally {
    m.cleanup();
  }
}

/** Runs the native build on a fresh mount of `layers`; null without gcc. */
export function runNativeSide(layers: Layers, script: string): SideRun | null {
  const bin = nativeFsops();
  if (!bin) return null;
  const t0 = Date.now();
  const m = mountOverlay(layers, { options: FUZZ_MOUNT_OPTIONS });
  try {
    const r = spawnSync(bin, [], { cwd: m.root, input: script, encoding: 'utf8', timeout: 300_000, maxBuffer: 256 << 20 });
    return { stdout: r.stdout ?? '', stderr: r.stderr ?? '', status: r.status, ...timing(r.stderr ?? ''), wallMs: Date.now() - t0 };
  } finally {
    m.cleanup();
  }
}

// ---------------------------------------------------------------------------------------------
// Comparison

/** Where two outputs of one case first differ. */
export interface CaseDiff {
  /** Index of the first differing line (or the length of the shorter output). */
  line: number;
  ours: string | undefined;
  ref: string | undefined;
  /** What kind of difference: the op of the first differing line, 'dump', or 'missing' (no output). */
  kind: string;
}

/** The op name of an output line ("rename a b -> ok" -> "rename"; dump lines "= ..." -> "dump"). */
function opOf(line: string | undefined): string {
  if (line === undefined) return 'missing';
  if (line.startsWith('= ')) return 'dump';
  return line.split(' ')[0];
}

/**
 * Exploration only (scripts/fuzz.mjs --tolerate-errno): skip lines where both sides failed, with
 * different errnos, so that the first difference shown is one of behaviour. Errno-only differences
 * leave no state behind, so the rest of the case still compares; they are real bugs all the same.
 */
export const comparison = { tolerateErrno: false };

const bothFailed = (a: string, b: string): boolean => {
  const i = a.indexOf(' -> ');
  return i > 0 && a.slice(0, i) === b.slice(0, i) && /^E[A-Z]+$/.test(a.slice(i + 4)) && /^E[A-Z]+$/.test(b.slice(i + 4));
};

export function compareLines(ours: string[] | undefined, ref: string[] | undefined): CaseDiff | null {
  if (ours === undefined || ref === undefined) {
    if (ours === undefined && ref === undefined) return null;
    return { line: 0, ours: ours?.[0], ref: ref?.[0], kind: 'missing' };
  }
  const n = Math.max(ours.length, ref.length);
  for (let i = 0; i < n; i++) {
    if (ours[i] !== ref[i]) {
      if (comparison.tolerateErrno && ours[i] !== undefined && ref[i] !== undefined && bothFailed(ours[i], ref[i])) continue;
      const a = opOf(ours[i]);
      const b = opOf(ref[i]);
      // A dump that lists more or fewer objects shifts the next op's line: still a dump difference.
      const kind = a === 'dump' || b === 'dump' ? 'dump' : a === 'missing' ? b : a;
      return { line: i, ours: ours[i], ref: ref[i], kind };
    }
  }
  return null;
}

export interface BatchResult {
  sandbox: SideRun;
  /** The guest finished (it printed its timing line): a bad exit status came after it. */
  guestDone: boolean;
  reference: SideRun;
  /** Per case: its sandbox and reference output lines (undefined: the side printed nothing for it). */
  ours: Array<string[] | undefined>;
  ref: Array<string[] | undefined>;
  diffs: Array<CaseDiff | null>;
}

/** Runs `cases` as one batch on both sides and compares them case by case. */
export function runBatch(cases: FuzzCase[], opts: SandboxRunOptions & { image?: string } = {}): BatchResult {
  const layers = imageLayers(cases);
  const script = batchScript(cases);
  const image = opts.image ?? buildBatchImage(layers);
  const sandboxArgs = opts.sandboxArgs ?? cases[0]?.sandboxArgs;
  if (cases.some((c) => argsKey(c) !== argsKey(cases[0]))) throw new Error('runBatch: the cases of a batch must share their sandboxArgs');
  const sandbox = runSandboxSide(image, script, { ...opts, sandboxArgs });
  const reference = runReferenceSide(layers, script);
  if (reference.status !== 0) throw new Error(`fsops failed on the reference (status ${reference.status}): ${reference.stderr}`);
  const ours = splitOutput(sandbox.stdout, cases.length);
  const ref = splitOutput(reference.stdout, cases.length);
  let diffs = cases.map((_, k) => compareLines(ours[k], ref[k]));
  // A sandbox that died part-way printed nothing for the cases after the one it died in. (A guest
  // that finished and a bad status after it, e.g. a failed --export-upper, is no case's fault.)
  const guestDone = /fsops: ops \d+/.test(sandbox.stderr);
  if (sandbox.status !== 0 && !guestDone) {
    const last = ours.reduce((acc, o, k) => (o ? k : acc), -1);
    diffs = diffs.map((d, k) => (k === last && !d ? { line: ours[k]!.length, ours: undefined, ref: ref[k]![ours[k]!.length], kind: 'crash' } : d));
  }
  return { sandbox, guestDone, reference, ours, ref, diffs };
}

/** Removes the image and cache files a batch left (they can be large). */
export function removeImage(image: string): void {
  fs.rmSync(path.dirname(image), { recursive: true, force: true });
}
