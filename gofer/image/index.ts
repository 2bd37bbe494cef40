// openImage: the image reader's public entry. Opens an image archive, works out its format from its
// content (never its name), indexes every layer in place, merges them, and returns the LowerTree the
// gofer serves plus the image config. Owns: format detection, the order of work, which file each
// layer is read from, and the contract that bad input is always an ImageError.
//
// Formats: a plain rootfs tar (one layer); a `docker save` archive (manifest.json); an OCI
// image-layout archive (oci-layout + index.json). Any of them may be gzip'd as a whole (inflated to
// the cache first). Layers are plain tar (indexed at their offset inside the archive: never
// extracted, never copied) or gzip (detected by magic bytes; inflated once into the cache, then
// indexed in place there). zstd is detected and refused.
// Invariants:
// - synchronous; every problem with the input (missing, unreadable, not an image, truncated,
//   corrupt, hostile) is thrown as ImageError with a one-line message; other exceptions are bugs;
// - on failure nothing stays open; on success the Image owns its file descriptors until close();
// - when an archive has both manifest.json and an OCI layout (Docker >= 25), manifest.json is used.
import fs from 'node:fs';
import path from 'node:path';
import { LayerCache, hashRange, type CacheKey } from './cache';
import { ImageError, Where, layerSubject, shortDigest } from './errors';
import { ShortRead, readAt } from './io';
import { Archive, EMPTY_CONFIG, isDocker, isOci, readDocker, readOci, type ImageConfig, type LayerRef } from './manifest';
import { TreeBuilder } from './merge';
import { indexTar, looksLikeTarHeader, type TarMembers } from './tar';
import type { LowerTree } from './tree';

export { ImageError } from './errors';
export type { ImageConfig } from './manifest';
export { LowerTree, NodeKind } from './tree';

export type ImageFormat = 'plain' | 'docker' | 'oci';

export interface LayerInfo {
  index: number; // 0 = bottom
  digest: string; // "sha256:…" (OCI / docker blob digest; legacy docker: the config's diff_id) or ""
  compressed: boolean; // the layer (or, for a plain tar, the whole file) was gzip'd
  files: number; // members that became tree entries (whiteouts and skipped members not counted)
  skipped: number; // members skipped for their type (devices, FIFOs, unknown typeflags)
}

export interface Image {
  tree: LowerTree;
  config: ImageConfig;
  layers: LayerInfo[];
  format: ImageFormat;
  close(): void;
}

export interface OpenImageOptions {
  cacheDir: string; // inflated layers go to <cacheDir>/layers/
  progress?: (msg: string) => void; // told about slow steps (inflating)
}

const MAX_LAYERS = 4096;

export function openImage(imagePath: string, opts: OpenImageOptions): Image {
  const file = path.basename(imagePath);
  const fds: number[] = [];
  try {
    return open(imagePath, file, opts, fds);
  } catch (e) {
    for (const fd of fds) {
      try {
        fs.closeSync(fd);
      } catch {
        // nothing to release
      }
    }
    if (e instanceof ImageError) throw e;
    if (e instanceof ShortRead) throw new ImageError(`${file}: is truncated at byte ${e.at} (it changed while being read)`);
    const code = (e as NodeJS.ErrnoException | null)?.code;
    if (typeof code === 'string') throw new ImageError(`${file}: ${String((e as Error).message).split('\n')[0]}`);
    throw e;
  }
}

function open(imagePath: string, file: string, opts: OpenImageOptions, fds: number[]): Image {
  let fd: number;
  try {
    fd = fs.openSync(imagePath, 'r');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new ImageError(`${file}: cannot open (${err.code === 'ENOENT' ? 'no such file' : err.code})`);
  }
  fds.push(fd);
  const st = fs.fstatSync(fd);
  if (st.isDirectory()) throw new ImageError(`${file}: is a directory, not an image file`);
  if (!st.isFile()) throw new ImageError(`${file}: is not a regular file`);
  if (st.size === 0) throw new ImageError(`${file}: is an empty file, not an image`);

  const archiveWhere = new Where(file, 'archive');
  let cache: LayerCache | undefined;
  const getCache = (): LayerCache => (cache ??= new LayerCache(opts.cacheDir, archiveWhere));

  // 1. The outer archive, inflated first if it is gzip'd as a whole.
  let size = st.size;
  let wholeGzip = false;
  const magic = head(fd, 0, size);
  let outer: TarMembers;
  if (isGzip(magic)) {
    wholeGzip = true;
    const key: CacheKey = { algo: 'sha256', hex: hashRange(fd, 0, size) };
    const job = { fd, start: 0, length: size, key, where: archiveWhere, label: `${file} (${mb(size)})` };
    ({ fd, size, members: outer } = openCached(getCache(), job, opts, fds, archiveWhere));
    fs.closeSync(fds.shift()!); // the gzip file is no longer needed: the cache file replaces it
  } else {
    if (isZstd(magic)) throw new ImageError(`${file}: is zstd-compressed, which is not supported (decompress it first)`);
    if (!looksLikeTarHeader(magic)) throw new ImageError(`${file}: is not an image (neither a tar archive nor gzip)`);
    outer = indexTar(fd, 0, size, archiveWhere);
  }

  // 2. Format, layers and config.
  const archive = new Archive(fd, outer, file);
  const builder = new TreeBuilder();
  const format: ImageFormat = isDocker(archive) ? 'docker' : isOci(archive) ? 'oci' : 'plain';
  if (format === 'plain') {
    const files = builder.addLayer(outer, 0, 0, archiveWhere);
    const layers = [{ index: 0, digest: '', compressed: wholeGzip, files, skipped: outer.skipped }];
    return makeImage(builder.finish(fds.slice()), EMPTY_CONFIG, layers, 'plain');
  }
  const meta = format === 'docker' ? readDocker(archive) : readOci(archive);
  if (meta.layers.length > MAX_LAYERS) throw new ImageError(`${file}: has ${meta.layers.length} layers (limit ${MAX_LAYERS})`);

  // 3. Inflate the gzip layers that are not cached yet, all at once (in parallel).
  const plan = meta.layers.map((ref, i) => planLayer(ref, i, fd, file));
  const missing = plan.filter((p) => p.job && getCache().lookup(p.job.key, p.job.diffId) === null);
  if (missing.length) getCache().inflate(missing.map((p) => p.job!), opts.progress);

  // 4. Index and merge, bottom layer first.
  const layers: LayerInfo[] = [];
  for (const p of plan) {
    let members: TarMembers;
    let src = 0;
    if (p.job) {
      const c = openCached(getCache(), p.job, opts, fds, p.where);
      members = c.members;
      src = fds.length - 1;
    } else {
      members = indexTar(fd, p.ref.offset, p.ref.size, p.where);
    }
    const files = builder.addLayer(members, p.index, src, p.where);
    layers.push({ index: p.index, digest: p.ref.digest, compressed: p.job !== undefined, files, skipped: members.skipped });
  }
  return makeImage(builder.finish(fds.slice()), meta.config, layers, format);
}

interface LayerPlan {
  index: number;
  ref: LayerRef;
  where: Where;
  job?: { fd: number; start: number; length: number; key: CacheKey; diffId?: string; where: Where; label: string };
}

/** Decides how a layer is read: in place, or (gzip) through the cache under which key. */
function planLayer(ref: LayerRef, index: number, fd: number, file: string): LayerPlan {
  const where = new Where(file, layerSubject(index, ref.digest));
  const magic = head(fd, ref.offset, ref.size);
  if (isZstd(magic) || ref.mediaType.includes('zstd')) throw where.error('is zstd-compressed, which is not supported');
  if (!isGzip(magic)) return { index, ref, where };
  let key: CacheKey;
  if (ref.blobDigest) {
    const [algo, hex] = ref.blobDigest.split(':');
    key = { algo: algo as CacheKey['algo'], hex };
  } else {
    key = { algo: 'sha256', hex: hashRange(fd, ref.offset, ref.size) };
  }
  const label = ref.digest ? `layer ${index} (${shortDigest(ref.digest)}, ${mb(ref.size)})` : `layer ${index} (${mb(ref.size)})`;
  return { index, ref, where, job: { fd, start: ref.offset, length: ref.size, key, diffId: ref.diffId, where, label } };
}

/**
 * Opens and indexes the cached inflation of `job` (inflating it if missing), adding its fd to `fds`.
 * A cached file from an earlier run whose headers do not parse is rebuilt once, never trusted.
 */
function openCached(
  cache: LayerCache,
  job: NonNullable<LayerPlan['job']>,
  opts: OpenImageOptions,
  fds: number[],
  where: Where,
): { fd: number; size: number; members: TarMembers } {
  for (let attempt = 0; ; attempt++) {
    let p = cache.lookup(job.key, job.diffId);
    if (p === null) {
      cache.inflate([job], opts.progress);
      p = cache.pathOf(job.key);
    }
    const fd = fs.openSync(p, 'r');
    fds.push(fd);
    const size = fs.fstatSync(fd).size;
    try {
      return { fd, size, members: indexTar(fd, 0, size, where) };
    } catch (e) {
      const name = LayerCache.name(job.key);
      if (!(e instanceof ImageError) || cache.fresh.has(name) || attempt > 0) throw e;
      fds.pop();
      fs.closeSync(fd);
      cache.discard(job.key); // a cached file from an earlier run went bad: rebuild it
    }
  }
}

function makeImage(tree: LowerTree, config: ImageConfig, layers: LayerInfo[], format: ImageFormat): Image {
  return { tree, config, layers, format, close: () => tree.close() };
}

/** The first 512 bytes (or fewer) of a range. */
function head(fd: number, start: number, size: number): Buffer {
  const b = Buffer.alloc(Math.min(512, size));
  readAt(fd, b, 0, b.length, start);
  return b;
}

function isGzip(b: Uint8Array): boolean {
  return b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b;
}

function isZstd(b: Uint8Array): boolean {
  return b.length >= 4 && b[0] === 0x28 && b[1] === 0xb5 && b[2] === 0x2f && b[3] === 0xfd;
}

function mb(n: number): string {
  return n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MB` : `${Math.ceil(n / 1024)} KB`;
}
