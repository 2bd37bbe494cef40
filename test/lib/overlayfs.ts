// The native reference file system: builds a layer spec (layers.ts) as Linux overlayfs lower
// directories and mounts them with a fresh on-disk upper, so a guest can run on the real thing
// (under node:wasi, see nodewasi.ts) and its output can be compared with the sandbox's.
//
// Owns: materialising layers in overlayfs lower format, the mount, and its cleanup. Not the image
// archives (images.ts) nor running guests (nodewasi.ts).
// Needs root and a kernel with overlayfs; otherwise mountOverlay throws OverlayUnavailable, which
// tests turn into a printed skip reason.
//
// Lower format (Documentation/filesystems/overlayfs.rst):
//   OCI whiteout `.wh.NAME`   -> NAME is a character device 0/0 (mknod NAME c 0 0)
//   opaque dir `.wh..wh..opq` -> the dir has xattr trusted.overlay.opaque=y
//   hard links                -> real hard links inside the layer directory
// Mount options are pinned (index, redirect_dir, metacopy, xino all off) so that the reference does
// not depend on the host's overlay module defaults: without redirect_dir, renaming a directory that
// has lower layers is EXDEV, and without index a hard link pair from a lower layer breaks on copy-up.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FIXTURE_MTIME, type Entry, type Layers } from './layers';

export class OverlayUnavailable extends Error {}

export interface OverlayMount {
  /** The merged mount point; the guest's '/'. */
  root: string;
  /** The on-disk upper directory (what the guest wrote). */
  upper: string;
  /** Unmounts and removes every directory. Idempotent. */
  cleanup(): void;
}

export const OVERLAY_OPTIONS = 'index=off,redirect_dir=off,metacopy=off,xino=off';

const live = new Set<() => void>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // A failing test must not leak mounts: 'exit' handlers run on process.exit and normal ends.
  process.on('exit', () => {
    for (const c of [...live]) {
      try {
        c();
      } catch {
        // best effort during exit
      }
    }
  });
}

function setOpaque(dirs: string[]): void {
  if (dirs.length === 0) return;
  const setfattr = spawnSync('setfattr', ['--version'], { stdio: 'ignore' });
  if (setfattr.status === 0) {
    for (const d of dirs) execFileSync('setfattr', ['-n', 'trusted.overlay.opaque', '-v', 'y', d]);
    return;
  }
  const py = spawnSync(
    'python3',
    ['-c', "import os,sys\nfor d in sys.argv[1:]: os.setxattr(d, 'trusted.overlay.opaque', b'y')", ...dirs],
    { encoding: 'utf8' },
  );
  if (py.status !== 0) {
    throw new OverlayUnavailable(`cannot set trusted.overlay.opaque (no setfattr, python3 failed: ${py.stderr || py.error})`);
  }
}

function removeAny(p: string): void {
  fs.rmSync(p, { recursive: true, force: true });
}

function isDir(p: string): boolean {
  try {
    return fs.lstatSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** Writes one layer into the empty directory `dir`. Returns the opaque dirs (absolute paths). */
function materialiseLayer(dir: string, layer: Entry[]): string[] {
  const mtimes = new Map<string, number>(); // every dir and file -> mtime, applied last
  const symlinkMtimes = new Map<string, number>();
  const opaque = new Set<string>();
  const ensureParents = (rel: string): void => {
    const parts = rel.split('/');
    let cur = dir;
    for (let i = 0; i < parts.length - 1; i++) {
      cur = path.join(cur, parts[i]);
      if (!isDir(cur)) {
        removeAny(cur);
        fs.mkdirSync(cur, { mode: 0o755 });
        fs.chmodSync(cur, 0o755);
        if (!mtimes.has(cur)) mtimes.set(cur, FIXTURE_MTIME);
      }
    }
  };
  for (const e of layer) {
    if (e.path === '' || e.path.startsWith('/') || e.path.split('/').some((c) => c === '' || c === '.' || c === '..')) {
      throw new Error(`layer entry path must be relative and normal: ${JSON.stringify(e.path)}`);
    }
    const p = path.join(dir, e.path);
    ensureParents(e.path);
    mtimes.delete(p);
    symlinkMtimes.delete(p);
    opaque.delete(p);
    switch (e.type) {
      case 'file':
        removeAny(p);
        fs.writeFileSync(p, e.data ?? '');
        fs.chmodSync(p, e.mode ?? 0o644);
        mtimes.set(p, e.mtime ?? FIXTURE_MTIME);
        break;
      case 'dir':
      case 'opaque':
        // As tar extraction does: a dir entry over an existing dir keeps its contents.
        if (!isDir(p)) {
          removeAny(p);
          fs.mkdirSync(p);
        }
        fs.chmodSync(p, e.mode ?? 0o755);
        mtimes.set(p, e.mtime ?? FIXTURE_MTIME);
        if (e.type === 'opaque') opaque.add(p);
        break;
      case 'symlink':
        removeAny(p);
        fs.symlinkSync(e.target, p);
        symlinkMtimes.set(p, e.mtime ?? FIXTURE_MTIME);
        break;
      case 'hardlink': {
        const t = path.join(dir, e.target);
        if (!fs.lstatSync(t, { throwIfNoEntry: false })?.isFile()) {
          throw new Error(`hardlink ${e.path}: target ${e.target} is not a regular file earlier in the layer`);
        }
        removeAny(p);
        fs.linkSync(t, p);
        break;
      }
      case 'whiteout':
        removeAny(p);
        execFileSync('mknod', [p, 'c', '0', '0']);
        break;
    }
  }
  // mtimes last, deepest first, so that creating children does not disturb a parent's mtime.
  const byDepth = (a: [string, number], b: [string, number]) => b[0].length - a[0].length;
  const exists = ([p]: [string, number]) => fs.lstatSync(p, { throwIfNoEntry: false }) !== undefined;
  for (const [p, t] of [...symlinkMtimes].filter(exists).sort(byDepth)) fs.lutimesSync(p, t, t);
  for (const [p, t] of [...mtimes].filter(exists).sort(byDepth)) fs.utimesSync(p, t, t);
  fs.utimesSync(dir, FIXTURE_MTIME, FIXTURE_MTIME);
  return [...opaque];
}

export interface MountOptions {
  /**
   * The overlay mount options after lowerdir/upperdir/workdir. Default OVERLAY_OPTIONS (Docker's
   * overlay2 defaults). The fuzzer (test/lib/fuzz/) mounts with redirect_dir=on,index=on, under
   * which Linux renames lower directories and keeps lower hard links together, as the sandbox does.
   */
  options?: string;
}

/**
 * Mounts `layers` (bottom first) as an overlay with a fresh, empty upper under os.tmpdir().
 * Throws OverlayUnavailable when not root or when the mount fails.
 */
export function mountOverlay(layers: Layers, mountOpts: MountOptions = {}): OverlayMount {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new OverlayUnavailable(`the overlayfs reference needs root (uid is ${process.getuid()})`);
  }
  if (layers.length === 0) throw new Error('mountOverlay: no layers');
  installExitHook();
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'wasmbox-ovl-'));
  const lowers: string[] = [];
  const upper = path.join(base, 'upper');
  const work = path.join(base, 'work');
  const root = path.join(base, 'mnt');
  let mounted = false;
  let done = false;
  const cleanup = (): void => {
    if (done) return;
    done = true;
    live.delete(cleanup);
    if (mounted) {
      const r = spawnSync('umount', [root], { stdio: 'ignore' });
      if (r.status !== 0) spawnSync('umount', ['-l', root], { stdio: 'ignore' });
    }
    fs.rmSync(base, { recursive: true, force: true });
  };
  live.add(cleanup);
  try {
    const opaque: string[] = [];
    layers.forEach((layer, i) => {
      const d = path.join(base, `l${i}`);
      fs.mkdirSync(d);
      opaque.push(...materialiseLayer(d, layer));
      lowers.push(d);
    });
    setOpaque(opaque);
    for (const d of [upper, work, root]) fs.mkdirSync(d);
    const opts = `lowerdir=${lowers.slice().reverse().join(':')},upperdir=${upper},workdir=${work},${mountOpts.options ?? OVERLAY_OPTIONS}`;
    const r = spawnSync('mount', ['-t', 'overlay', 'overlay', '-o', opts, root], { encoding: 'utf8' });
    if (r.status !== 0) {
      throw new OverlayUnavailable(`mount -t overlay failed: ${(r.stderr || String(r.error) || '').trim()}`);
    }
    mounted = true;
  } catch (e) {
    cleanup();
    throw e;
  }
  return { root, upper, cleanup };
}
