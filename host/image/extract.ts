// Extracting an image's merged tree into a host directory, for `--overlay2 none` (where the rootfs
// is a plain writable host directory served by the gofer) and for benchmarks that need the image on
// a native file system. Paths come from the image's index, which has already rejected `..` and
// absolute names; files are created exclusively, and symlinks are written, never followed.
import fs from 'node:fs';
import path from 'node:path';
import type { CacheLimits } from '../../gofer/image/cache';
import { NodeKind, openImage, type ImageConfig } from '../../gofer/image/index';

/** A path for a one-line message: over-long components shortened, with their length. */
function shown(p: string): string {
  return p
    .split('/')
    .map((c) => (Buffer.byteLength(c) > 48 ? `${c.slice(0, 24)}…(${Buffer.byteLength(c)} bytes)` : c))
    .join('/');
}

const REASONS: Record<string, string> = {
  ENAMETOOLONG: 'the host refuses the name (over 255 bytes, or the whole path too long)',
  ENOSPC: 'no space left on the host file system',
  EDQUOT: 'the host disk quota is exhausted',
  EACCES: 'the host refuses access',
  EPERM: 'the host refuses the operation',
};

/** Extracts `image` into the empty directory `dest`; returns the image's config. */
export function extractImage(image: string, dest: string, cacheDir: string, limits?: CacheLimits): ImageConfig {
  const img = openImage(image, { cacheDir, limits });
  try {
    return extractTree(img, dest);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (typeof err.code !== 'string' || typeof err.path !== 'string') throw e;
    const rel = path.relative(dest, err.path);
    throw new Error(`${image}: cannot extract /${shown(rel)}: ${REASONS[err.code] ?? `${err.code} from ${err.syscall ?? 'the host'}`}`);
  } finally {
    img.close();
  }
}

function extractTree(img: ReturnType<typeof openImage>, dest: string): ImageConfig {
  const t = img.tree;
  const dec = new TextDecoder();
  const firstPath = new Map<number, string>(); // node -> first path written (hard links)
  const buf = new Uint8Array(1 << 20);
  const dirs: { p: string; n: number }[] = [];
  const walk = (dir: number, at: string) => {
    const first = t.entryFirst(dir);
    for (let e = first; e < first + t.entryCount(dir); e++) {
      const n = t.entryNode(e);
      const off = t.entryNameOffset(e);
      const name = dec.decode(t.names.subarray(off, off + t.entryNameLength(e)));
      const p = path.join(at, name);
      const kind = t.kind(n);
      if (kind === NodeKind.Dir) {
        fs.mkdirSync(p, { mode: 0o700 });
        walk(n, p);
        dirs.push({ p, n });
      } else if (kind === NodeKind.Symlink) {
        fs.symlinkSync(Buffer.from(t.readlink(n)), p);
      } else {
        const prev = firstPath.get(n);
        if (prev !== undefined) {
          fs.linkSync(prev, p);
          continue;
        }
        const fd = fs.openSync(p, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, t.mode(n) & 0o7777);
        try {
          const size = t.size(n);
          for (let o = 0; o < size; ) {
            const got = t.read(n, o, Math.min(buf.length, size - o), buf, 0);
            if (got <= 0) break;
            fs.writeSync(fd, buf, 0, got);
            o += got;
          }
          fs.fchmodSync(fd, t.mode(n) & 0o7777);
        } finally {
          fs.closeSync(fd);
        }
        const mt = Number(t.mtimeNs(n)) / 1e9;
        fs.utimesSync(p, mt, mt);
        if (t.nlink(n) > 1) firstPath.set(n, p);
      }
    }
  };
  walk(t.root, dest);
  // directory modes and times last, once their contents are written
  for (const { p, n } of dirs) {
    fs.chmodSync(p, t.mode(n) & 0o7777);
    const mt = Number(t.mtimeNs(n)) / 1e9;
    fs.utimesSync(p, mt, mt);
  }
  return img.config;
}
