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
// - on failure nothing stays open; on success the Image owns its file descriptors until close()
//   (a Source given to openImageSource stays the caller's: the Image only reads through it);
// - where gzip data cannot be inflated synchronously (browsers: DecompressionStream is async), the
//   caller passes `inflated` and openImage throws InflateNeeded naming the ranges it lacks; the
//   caller inflates them and calls again (nothing is kept open between the calls);
// - when an archive has both manifest.json and an OCI layout (Docker >= 25), manifest.json is used.
import fs from 'node:fs';
import path from 'node:path';
import { DEFAULT_CACHE_SIZE, LayerCache, evictCache, hashRange, layerLimit, verifyRanges, type CacheKey, type CacheLimits, type VerifyJob } from './cache';
import { ImageError, Where, layerSubject, shortDigest } from './errors';
import { ShortRead, readAt, registerSource, releaseDescriptor, sizeOf, type Source } from './io';
import { Archive, EMPTY_CONFIG, isDocker, isOci, readDocker, readOci, type ImageConfig, type LayerRef } from './manifest';
import { TreeBuilder } from './merge';
import { loadSnapshot, saveSnapshot } from './snapshot';
import { indexTar, looksLikeTarHeader, type TarMembers } from './tar';
import type { LowerTree } from './tree';

export { ImageError } from './errors';
export { registerSource, type Source } from './io';
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
  /** The tree came from an index snapshot (snapshot.ts), not from reading the tar headers. */
  snapshot: boolean;
  close(): void;
}

export interface OpenImageOptions {
  cacheDir: string; // inflated layers go to <cacheDir>/layers/ (unused when `inflated` is given)
  progress?: (msg: string) => void; // told about slow steps (inflating for more than half a second)
  /** Called once for each layer (or gzip'd archive) that is inflated into the cache, with its label. */
  onInflate?: (label: string) => void;
  /**
   * Keep an index snapshot of the image file in <cacheDir>/index and use it on later opens of the
   * same unchanged file (snapshot.ts; default true; openImageSource never does).
   */
  snapshots?: boolean;
  /** Inflated gzip ranges supplied by the caller instead of the cache (see the header). */
  inflated?: InflatedRanges;
  /** Bounds on inflation and on the cache (cache.ts; defaults there). */
  limits?: CacheLimits;
  /**
   * Hash uncompressed layers read in place against their digest and diff_id (default true). A
   * browser that reads the image over HTTP on demand turns it off: hashing would fetch the whole
   * image before the first prompt. Gzip layers are always checked as they are inflated.
   */
  verifyInPlace?: boolean;
}

/** A gzip byte range of the archive (a layer, or the whole archive) that must be inflated. */
export interface InflateRange {
  start: number;
  length: number;
  /** "algo:hex" of the compressed bytes, when the manifest gives it (check it while inflating). */
  digest?: string;
  /** "sha256:hex" of the inflated tar, when the image config gives it. */
  diffId?: string;
  label: string; // names it in progress messages
  where: Where; // names it in errors
  /** The most bytes it may inflate to (cache.ts layerLimit): stop and fail past it. */
  limit: number;
}

/** The caller's inflated gzip ranges, by their place in the archive. */
export interface InflatedRanges {
  /** The inflated bytes of archive[start, start + length), or null if not inflated yet. */
  get(start: number, length: number): Source | null;
}

/** Thrown (only with `inflated`) when gzip ranges must be inflated before the image can be opened. */
export class InflateNeeded extends Error {
  constructor(readonly ranges: InflateRange[]) {
    super(`${ranges.length} gzip range(s) must be inflated first`);
  }
}

const MAX_LAYERS = 4096;

export function openImage(imagePath: string, opts: OpenImageOptions): Image {
  const file = path.basename(imagePath);
  return guarded(file, (fds) => open(imagePath, file, opts, fds));
}

/**
 * Opens an image read through `source` (named `name` in messages). The Source stays the caller's:
 * close it after Image.close(). With `opts.inflated`, throws InflateNeeded (see the header).
 */
export function openImageSource(source: Source, name: string, opts: OpenImageOptions): Image {
  return guarded(name, (fds) => {
    if (source.size === 0) throw new ImageError(`${name}: is an empty file, not an image`);
    const fd = registerSource(source);
    fds.push(fd);
    return openArchive(fd, source.size, name, opts, fds);
  });
}

/** Runs an open, releasing every descriptor it took on failure and wording errors as ImageError. */
function guarded(file: string, fn: (fds: number[]) => Image): Image {
  const fds: number[] = [];
  try {
    return fn(fds);
  } catch (e) {
    for (const fd of fds) releaseDescriptor(fd);
    if (e instanceof ImageError || e instanceof InflateNeeded) throw e;
    if (e instanceof ShortRead) throw new ImageError(`${file}: is truncated at byte ${e.at} (it changed while being read)`);
    const code = (e as NodeJS.ErrnoException | null)?.code;
    if (typeof code === 'string') throw new ImageError(`${file}: ${String((e as Error).message).split('\n')[0]}`);
    throw e;
  }
}

function open(imagePath: string, file: string, opts: OpenImageOptions, fds: number[]): Image {
  let fd: number;
  try {
    // O_NONBLOCK: a FIFO (or a terminal) named as the image must not block the open; it is refused below
    fd = fs.openSync(imagePath, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new ImageError(`${file}: cannot open (${err.code === 'ENOENT' ? 'no such file' : err.code})`);
  }
  fds.push(fd);
  const st = fs.fstatSync(fd);
  if (st.isDirectory()) throw new ImageError(`${file}: is a directory, not an image file`);
  if (!st.isFile()) {
    const kind = st.isFIFO() ? 'a FIFO' : st.isCharacterDevice() ? 'a character device' : st.isBlockDevice() ? 'a block device' : st.isSocket() ? 'a socket' : 'not a file';
    throw new ImageError(`${file}: is ${kind}, not a regular file`);
  }
  if (st.size === 0) throw new ImageError(`${file}: is an empty file, not an image`);
  const id = fs.fstatSync(fd, { bigint: true });
  const snap = opts.snapshots === false ? null : loadSnapshot(opts.cacheDir, fd, id);
  if (snap) {
    if (!snap.tree.tables.fds.includes(fd)) fs.closeSync(fds.shift()!); // read from the cache only
    return { ...makeImage(snap.tree, snap.config, snap.layers, snap.format), snapshot: true };
  }
  const began = Date.now();
  const img = openArchive(fd, st.size, file, opts, fds);
  if (opts.snapshots !== false) saveSnapshot(opts.cacheDir, id, img.tree, img);
  // file times come from a coarse kernel clock that may lag Date.now() a little: spare a margin
  evictCache(opts.cacheDir, opts.limits?.cacheSize ?? DEFAULT_CACHE_SIZE, began - 2000);
  return img;
}

/** Opens the archive in descriptor `fd` (fds[0]) of `size` bytes. */
function openArchive(fd: number, size: number, file: string, opts: OpenImageOptions, fds: number[]): Image {
  const archiveWhere = new Where(file, 'archive');
  let cache: LayerCache | undefined;
  const getCache = (): LayerCache => (cache ??= new LayerCache(opts.cacheDir, archiveWhere, opts.limits));

  // 1. The outer archive, inflated first if it is gzip'd as a whole.
  let wholeGzip = false;
  const magic = head(fd, 0, size);
  let outer: TarMembers;
  if (isGzip(magic) && opts.inflated) {
    wholeGzip = true;
    const src = opts.inflated.get(0, size);
    if (src === null) throw new InflateNeeded([{ start: 0, length: size, label: `${file} (${mb(size)})`, where: archiveWhere, limit: layerLimit(size, opts.limits) }]);
    releaseDescriptor(fds.shift()!); // the inflated archive replaces the gzip file
    fd = registerSource(src);
    fds.push(fd);
    size = src.size;
    outer = indexTar(fd, 0, size, archiveWhere);
  } else if (isGzip(magic)) {
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
  const plan = meta.layers.map((ref, i) => planLayer(ref, i, fd, file, !opts.inflated));
  const inflated = opts.inflated;
  if (inflated) {
    const lacking = plan.filter((p) => p.job && inflated.get(p.job.start, p.job.length) === null);
    if (lacking.length) {
      throw new InflateNeeded(
        lacking.map(({ job, ref }) => ({ start: job!.start, length: job!.length, digest: ref.blobDigest, diffId: ref.diffId, label: job!.label, where: job!.where, limit: layerLimit(job!.length, opts.limits) })),
      );
    }
  } else {
    const missing = plan.filter((p) => p.job && getCache().lookup(p.job.key, p.job.diffId) === null);
    if (missing.length) getCache().inflate(missing.map((p) => p.job!), opts.progress, opts.onInflate);
  }
  // Uncompressed layers are read in place: their bytes are what the digest and diff_id name.
  const verify: VerifyJob[] = plan
    .filter((p) => !p.job)
    .map((p) => ({ fd, start: p.ref.offset, length: p.ref.size, digest: p.ref.blobDigest, diffId: p.ref.diffId, where: p.where, label: p.label }));
  if (opts.verifyInPlace === false) {
    // the caller's choice (see OpenImageOptions)
  } else if (inflated || fd < 0) {
    for (const j of verify) verifyInline(j); // no worker threads, or a Source they cannot read
  } else verifyRanges(verify, opts.progress);

  // 4. Index and merge, bottom layer first.
  const layers: LayerInfo[] = [];
  for (const p of plan) {
    let members: TarMembers;
    let src = 0;
    if (p.job && inflated) {
      const layer = inflated.get(p.job.start, p.job.length)!;
      fds.push(registerSource(layer));
      src = fds.length - 1;
      members = indexTar(fds[src], 0, layer.size, p.where);
    } else if (p.job) {
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
  label: string;
  job?: { fd: number; start: number; length: number; key: CacheKey; diffId?: string; where: Where; label: string };
}

/**
 * Decides how a layer is read: in place, or (gzip) through the cache under which key. Without a
 * digest the key is the hash of the compressed bytes, computed only when `cached` (the cache needs it).
 */
function planLayer(ref: LayerRef, index: number, fd: number, file: string, cached: boolean): LayerPlan {
  const where = new Where(file, layerSubject(index, ref.digest));
  const magic = head(fd, ref.offset, ref.size);
  if (isZstd(magic) || ref.mediaType.includes('zstd')) throw where.error('is zstd-compressed, which is not supported');
  const label = ref.digest ? `layer ${index} (${shortDigest(ref.digest)}, ${mb(ref.size)})` : `layer ${index} (${mb(ref.size)})`;
  if (!isGzip(magic)) return { index, ref, where, label };
  let key: CacheKey;
  if (ref.blobDigest) {
    const [algo, hex] = ref.blobDigest.split(':');
    key = { algo: algo as CacheKey['algo'], hex };
  } else {
    key = { algo: 'sha256', hex: cached ? hashRange(fd, ref.offset, ref.size) : '' };
  }
  return { index, ref, where, label, job: { fd, start: ref.offset, length: ref.size, key, diffId: ref.diffId, where, label } };
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
      cache.inflate([job], opts.progress, opts.onInflate);
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

/** verifyRanges for one layer, on this thread (where there are no worker threads: browsers). */
function verifyInline(j: VerifyJob): void {
  if (j.digest !== undefined) {
    const [algo, hex] = j.digest.split(':');
    if (hashRange(j.fd, j.start, j.length, algo as CacheKey['algo']) !== hex) throw j.where.error('does not match its digest');
    if (algo === 'sha256' && j.diffId === j.digest) return;
  }
  if (j.diffId?.startsWith('sha256:') && hashRange(j.fd, j.start, j.length) !== j.diffId.slice(7)) {
    throw j.where.error('does not match its diff_id in the image config');
  }
}

function makeImage(tree: LowerTree, config: ImageConfig, layers: LayerInfo[], format: ImageFormat): Image {
  return { tree, config, layers, format, snapshot: false, close: () => tree.close() };
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
