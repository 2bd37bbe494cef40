// The inflated-layer cache: gzip layers (and gzip'd whole archives) are inflated once into
// `<cacheDir>/layers/<algo>-<hex>.tar`, named by the digest of the COMPRESSED bytes (from the
// manifest, or computed when no digest is known), and then read in place like any tar.
// Owns: cache file naming, validation of cached files, and inflating (zlib, streaming, constant
// memory) in worker threads that the caller waits for synchronously.
// Invariants:
// - a cache file is published only complete: written to a unique temp name, fsynced, its compressed
//   digest checked against its name (and its uncompressed sha256 against the config's diff_id when
//   one is known), then renamed into place; a sidecar `<algo>-<hex>.json` records its size and mtime
//   and is renamed into place after it;
// - a cached file is reused only if the sidecar exists and matches the file's size and mtime (and
//   diff_id); anything else is rebuilt, never trusted. index.ts additionally rebuilds a reused file
//   whose tar headers do not parse. Corruption that keeps size and mtime and hits only file data is
//   not detected on reuse (that would need re-hashing the whole layer on every open);
// - concurrent opens of the same image are safe: each writer has its own temp file and rename is
//   atomic; the contents are identical by construction.
// - inflation is bounded: a layer stops inflating past its limit (layerLimit: --max-layer-size, or
//   by default 100 times its compressed size, at least 1 GiB and at most 8 GiB), and before the
//   cache's file system would have less than min(1 GiB, 5%) free; nothing of a stopped layer stays;
// - the cache is bounded (cacheSize, default 16 GiB): at the end of every open that read the image
//   (not from a snapshot), the least recently used layers and index snapshots are removed until the
//   rest fit (evictCache), never one the current open used. "Used" is the mtime of a layer's sidecar
//   (or of a snapshot), set on every lookup and snapshot load. A live run that holds a removed layer
//   open keeps reading it (the inode lives on); its snapshot is then no longer trusted;
// - temporaries of writers that died (`.tmp-<pid>-…`, here and in index/) are removed when the
//   cache is opened for inflating (or a snapshot written).
// Uncompressed layers in place are hashed by the same workers (verifyRanges) against their digest
// and diff_id. Inflation and hashing run in worker threads (up to 4 at once) because zlib offers no
// public synchronous streaming API and openImage is synchronous: the main thread blocks in
// Atomics.wait while they run.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MessageChannel, type MessagePort, Worker, receiveMessageOnPort } from 'node:worker_threads';
import type { ImageError, Where } from './errors';
import { ShortRead, readAt } from './io';

export interface CacheKey {
  algo: 'sha256' | 'sha512';
  hex: string;
}

export interface InflateJob {
  fd: number; // file holding the gzip stream
  start: number; // its byte range
  length: number;
  key: CacheKey; // digest of the compressed bytes: the cache name, checked while inflating
  diffId?: string; // "sha256:<hex>" of the uncompressed tar, checked while inflating, if known
  where: Where; // names the layer (or archive) in errors
  label: string; // names it in progress messages
}

/** An uncompressed layer read in place: its bytes are hashed and compared, nothing is written. */
export interface VerifyJob {
  fd: number;
  start: number;
  length: number;
  digest?: string; // "algo:hex" of the bytes (the blob digest), if known
  diffId?: string; // "sha256:hex" of the same bytes (the config's diff_id), if known
  where: Where;
  label: string;
}

/** The bounds of inflation and of the cache (OpenImageOptions.limits). */
export interface CacheLimits {
  /** The most one layer (or gzip'd archive) may inflate to, in bytes; default: layerLimit's rule. */
  maxLayerSize?: number;
  /** The most the cache directory keeps, in bytes (default DEFAULT_CACHE_SIZE). */
  cacheSize?: number;
}

const GiB = 1024 ** 3;
export const DEFAULT_CACHE_SIZE = 16 * GiB;
const AUTO_RATIO = 100;
const AUTO_MIN = 1 * GiB;
const AUTO_MAX = 8 * GiB;

/** How far a gzip stream of `compressed` bytes may inflate (see the header). */
export function layerLimit(compressed: number, limits?: CacheLimits): number {
  if (limits?.maxLayerSize !== undefined) return limits.maxLayerSize;
  return Math.min(AUTO_MAX, Math.max(AUTO_MIN, AUTO_RATIO * compressed));
}

/** A byte count for messages: "1.5 GiB", "300 MiB", "12 KiB". */
export function sizeText(n: number): string {
  if (n >= GiB) return `${+(n / GiB).toFixed(1)} GiB`;
  if (n >= 1 << 20) return `${+(n / (1 << 20)).toFixed(1)} MiB`;
  return `${Math.ceil(n / 1024)} KiB`;
}

/** Stop waiting for a worker that has made no progress for this long (it died without a word). */
const STALL_MS = 120_000;
const PARALLEL = 4;

export class LayerCache {
  readonly dir: string;
  /** Keys inflated by this LayerCache (so a parse failure of their file is the layer's fault). */
  readonly fresh = new Set<string>();
  constructor(
    cacheDir: string,
    where: Where,
    private readonly limits: CacheLimits = {},
  ) {
    this.dir = path.join(cacheDir, 'layers');
    try {
      fs.mkdirSync(this.dir, { recursive: true });
    } catch (e) {
      throw where.error(`cannot be cached: cannot create ${this.dir} (${(e as NodeJS.ErrnoException).code})`);
    }
    sweepTemps(this.dir);
  }

  static name(key: CacheKey): string {
    return `${key.algo}-${key.hex}`;
  }

  pathOf(key: CacheKey): string {
    return path.join(this.dir, `${LayerCache.name(key)}.tar`);
  }

  /** The path of a valid cached inflation of `key` (with `diffId`, if given), or null. */
  lookup(key: CacheKey, diffId?: string): string | null {
    const file = this.pathOf(key);
    let meta: { size?: unknown; mtimeNs?: unknown; diffId?: unknown };
    try {
      meta = JSON.parse(fs.readFileSync(path.join(this.dir, `${LayerCache.name(key)}.json`), 'utf8'));
      const st = fs.statSync(file, { bigint: true });
      if (!st.isFile() || st.size !== BigInt(meta.size as number) || String(st.mtimeNs) !== meta.mtimeNs) return null;
    } catch {
      return null; // no sidecar, bad sidecar, or no file: rebuild
    }
    if (diffId !== undefined && diffId.startsWith('sha256:') && meta.diffId !== diffId) return null;
    touch(path.join(this.dir, `${LayerCache.name(key)}.json`));
    return file;
  }

  /** Removes a cached file and its sidecar (a reused file turned out broken). */
  discard(key: CacheKey): void {
    for (const f of [this.pathOf(key), path.join(this.dir, `${LayerCache.name(key)}.json`)]) {
      try {
        fs.unlinkSync(f);
      } catch {
        // already gone
      }
    }
  }

  /**
   * Inflates every job into the cache, several at a time, and publishes each atomically. Jobs with
   * the same key are inflated once. Throws ImageError (worded by the job's `where`) for corrupt gzip
   * data or a digest mismatch; nothing is published for a failed job.
   */
  inflate(jobs: InflateJob[], progress?: (msg: string) => void, onInflate?: (label: string) => void): void {
    const unique = new Map<string, InflateJob>();
    for (const j of jobs) if (!unique.has(LayerCache.name(j.key))) unique.set(LayerCache.name(j.key), j);
    const list = [...unique.values()];
    if (list.length === 0) return;
    const tmps = list.map((j) => path.join(this.dir, `.tmp-${process.pid}-${crypto.randomBytes(6).toString('hex')}-${LayerCache.name(j.key)}.tar`));
    for (const j of list) onInflate?.(j.label);
    const report = progress ? inflateProgress(list, progress) : undefined;
    const floor = spaceFloor(this.dir);
    const results = runWorkers(
      list.map((j, i) => ({ fd: j.fd, start: j.start, length: j.length, tmp: tmps[i], algo: j.key.algo, limit: layerLimit(j.length, this.limits), spaceDir: this.dir, floor })),
      report?.tick,
    );
    report?.end(results);
    let failure: ImageError | null = null;
    for (let i = 0; i < list.length; i++) {
      try {
        this.publish(list[i], tmps[i], results[i]);
      } catch (e) {
        failure ??= e as ImageError;
      } finally {
        try {
          fs.unlinkSync(tmps[i]);
        } catch {
          // published (renamed away) or never created
        }
      }
    }
    if (failure) throw failure;
  }

  private publish(job: InflateJob, tmp: string, r: WorkerResult): void {
    if (!r.ok) {
      if (r.stage === 'limit') throw job.where.error(`inflates to more than ${sizeText(Number(r.error))} (${this.limits.maxLayerSize !== undefined ? 'the --max-layer-size limit' : `the limit for a layer of ${sizeText(job.length)}: ${AUTO_RATIO} times its size, at least ${sizeText(AUTO_MIN)}, at most ${sizeText(AUTO_MAX)}`}); if it is genuine, raise --max-layer-size`);
      if (r.stage === 'space') throw job.where.error(`cannot be inflated: the cache's file system (${this.dir}) would have less than ${sizeText(Number(r.error))} free`);
      if (r.stage === 'gzip') throw job.where.error(`has corrupt gzip data (${r.error})`);
      if (r.stage === 'read') throw job.where.error(`cannot be read (${r.error})`);
      throw job.where.error(`cannot be inflated into the cache ${this.dir} (${r.error})`);
    }
    if (r.compressed !== job.key.hex) {
      throw job.where.error(`does not match its digest (its bytes hash to ${job.key.algo}:${r.compressed.slice(0, 12)}…)`);
    }
    const diffId = `sha256:${r.uncompressed}`;
    if (job.diffId !== undefined && job.diffId.startsWith('sha256:') && job.diffId !== diffId) {
      throw job.where.error(`does not match its diff_id in the image config (it inflates to ${diffId.slice(0, 19)}…)`);
    }
    const name = LayerCache.name(job.key);
    const final = this.pathOf(job.key);
    try {
      fs.renameSync(tmp, final);
      const st = fs.statSync(final, { bigint: true });
      const meta = JSON.stringify({ size: Number(st.size), mtimeNs: String(st.mtimeNs), diffId });
      const metaTmp = `${tmp}.json`;
      fs.writeFileSync(metaTmp, meta);
      fs.renameSync(metaTmp, path.join(this.dir, `${name}.json`));
    } catch (e) {
      throw job.where.error(`cannot be published in the cache ${this.dir} (${(e as NodeJS.ErrnoException).code})`);
    }
    this.fresh.add(name);
  }
}

/**
 * Hashes uncompressed layers in place (in worker threads, several at a time) and compares them
 * with their digest and diff_id. Throws ImageError (worded by the job's `where`) on a mismatch.
 */
export function verifyRanges(jobs: VerifyJob[], progress?: (msg: string) => void): void {
  const list = jobs.filter((j) => j.digest !== undefined || j.diffId?.startsWith('sha256:'));
  if (list.length === 0) return;
  const report = progress ? inflateProgress(list, progress, 'verifying') : undefined;
  const algos = list.map((j) => (j.digest?.split(':')[0] ?? 'sha256') as CacheKey['algo']);
  // one layer: hashed here (a worker costs more to start than it saves); several: in parallel
  const results =
    list.length === 1
      ? [hashHere(list[0], algos[0], report?.tick)]
      : runWorkers(
          list.map((j, i) => ({ fd: j.fd, start: j.start, length: j.length, tmp: null, algo: algos[i], limit: -1, spaceDir: null, floor: 0 })),
          report?.tick,
        );
  report?.end(results);
  list.forEach((j, i) => {
    const r = results[i];
    if (!r.ok) throw j.where.error(r.stage === 'read' ? `cannot be read (${r.error})` : `cannot be verified (${r.error})`);
    if (j.digest !== undefined && j.digest !== `${j.digest.split(':')[0]}:${r.compressed}`) {
      throw j.where.error(`does not match its digest (its bytes hash to ${j.digest.split(':')[0]}:${r.compressed.slice(0, 12)}…)`);
    }
    if (j.diffId?.startsWith('sha256:') && j.diffId !== `sha256:${r.uncompressed}`) {
      throw j.where.error(`does not match its diff_id in the image config (it hashes to sha256:${r.uncompressed.slice(0, 12)}…)`);
    }
  });
}

/**
 * Removes the least recently used layers and snapshots of the cache in `cacheDir` until it holds at
 * most `limit` bytes, sparing every item used since `spareSince` (ms since the epoch: the current
 * open's layers and snapshot were all touched or written after it). Never throws: a cache it cannot
 * trim is left as it is.
 */
export function evictCache(cacheDir: string, limit: number, spareSince: number): void {
  const items: { used: number; size: number; files: string[] }[] = [];
  let total = 0;
  const layers = path.join(cacheDir, 'layers');
  const index = path.join(cacheDir, 'index');
  const list = (dir: string): string[] => {
    try {
      return fs.readdirSync(dir);
    } catch {
      return [];
    }
  };
  for (const f of list(layers)) {
    const m = /^([a-z0-9]+-[0-9a-f]+)\.json$/.exec(f);
    if (!m) continue;
    const side = path.join(layers, f);
    const tar = path.join(layers, `${m[1]}.tar`);
    let used = 0;
    let size = 0;
    try {
      used = fs.statSync(side).mtimeMs;
      size = fs.statSync(tar).size;
    } catch {
      // half a pair: counts as nothing
    }
    total += size;
    items.push({ used, size, files: [side, tar] }); // the sidecar first: a lookup then misses
  }
  for (const f of list(index)) {
    if (!f.endsWith('.idx') || f.startsWith('.')) continue;
    try {
      const st = fs.statSync(path.join(index, f));
      total += st.size;
      items.push({ used: st.mtimeMs, size: st.size, files: [path.join(index, f)] });
    } catch {
      // removed meanwhile
    }
  }
  if (total <= limit) return;
  items.sort((a, b) => a.used - b.used);
  for (const it of items) {
    if (total <= limit || it.used >= spareSince) break;
    try {
      for (const f of it.files) fs.rmSync(f, { force: true });
    } catch {
      continue;
    }
    total -= it.size;
  }
}

/** The worker's hash-only job, on this thread (progress through `tick` about every 64 MiB). */
function hashHere(j: VerifyJob, algo: CacheKey['algo'], tick?: (read: number[], done: boolean[]) => void): WorkerResult {
  const ch = crypto.createHash(algo);
  const uh = algo === 'sha256' ? null : crypto.createHash('sha256');
  const buf = Buffer.allocUnsafe(READ_CHUNK);
  try {
    for (let pos = 0; pos < j.length; ) {
      const n = readAt(j.fd, buf, 0, Math.min(buf.length, j.length - pos), j.start + pos);
      if (n === 0) return { ok: false, stage: 'read', error: 'the file ended early' };
      ch.update(buf.subarray(0, n));
      uh?.update(buf.subarray(0, n));
      pos += n;
      if (tick && (pos & (64 * READ_CHUNK - 1)) < n) tick([pos], [false]);
    }
  } catch (e) {
    return { ok: false, stage: 'read', error: (e as Error).message.split('\n')[0] };
  }
  const c = ch.digest('hex');
  return { ok: true, size: j.length, compressed: c, uncompressed: uh ? uh.digest('hex') : c };
}

/** Marks a cache file as used now (its mtime is the cache's LRU clock). Never throws. */
export function touch(file: string): void {
  try {
    const now = new Date();
    fs.utimesSync(file, now, now);
  } catch {
    // a read-only cache: recency is only a hint
  }
}

/** Removes `.tmp-<pid>-…` files whose writer is no longer alive. Never throws. */
export function sweepTemps(dir: string): void {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return;
  }
  for (const f of names) {
    const m = /^\.tmp-(\d+)-/.exec(f);
    if (!m || Number(m[1]) === process.pid || alive(Number(m[1]))) continue;
    fs.rmSync(path.join(dir, f), { force: true });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Free bytes that inflating must leave on the cache's file system: min(1 GiB, 5% of it). */
function spaceFloor(dir: string): number {
  try {
    const st = fs.statfsSync(dir);
    return Math.min(GiB, 0.05 * st.blocks * st.bsize);
  } catch {
    return 0; // unknown: only the layer limit bounds inflation
  }
}

/** Hex digest of bytes [start, start + length) of fd, read synchronously in 1 MiB pieces. */
export function hashRange(fd: number, start: number, length: number, algo: 'sha256' | 'sha512' = 'sha256'): string {
  const h = crypto.createHash(algo);
  const buf = Buffer.allocUnsafe(1 << 20);
  for (let pos = 0; pos < length; ) {
    const n = readAt(fd, buf, 0, Math.min(buf.length, length - pos), start + pos);
    if (n === 0) throw new ShortRead(pos);
    h.update(buf.subarray(0, n));
    pos += n;
  }
  return h.digest('hex');
}

type WorkerResult =
  | { ok: true; size: number; compressed: string; uncompressed: string }
  | { ok: false; stage: 'read' | 'gzip' | 'write' | 'limit' | 'space' | 'internal'; error: string };

interface WorkerJob {
  fd: number;
  start: number;
  length: number;
  tmp: string | null; // null: only hash fd's bytes (an uncompressed layer), write nothing
  algo: string; // of the digest of fd's bytes ("compressed")
  limit: number; // the most bytes the inflated stream may have (-1: no limit)
  spaceDir: string | null; // stop before the free space here falls below `floor`
  floor: number;
}

// Runs in a worker thread: gunzip fd[start, start+length) into `tmp` (created exclusively), hashing
// the compressed and the uncompressed bytes on the way; or, with no `tmp`, only hash fd's bytes (with
// `algo`, and with sha256 for the diff_id when algo is another). Inflating stops past `limit` bytes,
// and before the free space of `spaceDir` falls below `floor` (checked every SPACE_EVERY bytes).
// The worker reads the caller's fd with positioned reads and never closes it (a ReadStream would
// close it when destroyed). It reports exactly once on `port`, only when nothing of its own is still
// in flight (no read pending, the zlib handle closed), then sets its done flag and bumps the
// completion counter (shared[0]) so that the waiting main thread wakes up; the thread then exits by
// itself. shared[slot + 1] is a progress tick the main thread uses to tell a slow worker from a dead one.
/** The worker reads the compressed data in pieces of this size; each bumps the progress tick. */
const READ_CHUNK = 1 << 20;
const SPACE_EVERY = 64 << 20;
const WORKER_SOURCE = `
'use strict';
const { workerData } = require('node:worker_threads');
const fs = require('node:fs');
const zlib = require('node:zlib');
const crypto = require('node:crypto');
const { fd, start, length, tmp, algo, limit, spaceDir, floor, shared, slot, port } = workerData;
let outcome = null;
let finished = false;
let reading = false;
let zclosed = tmp === null;
let out = -1;
let size = 0;
let nextSpaceCheck = ${SPACE_EVERY};
function finish(msg) {
  if (finished) return;
  finished = true;
  if (out >= 0) { try { fs.closeSync(out); } catch (e) {} out = -1; }
  try { port.postMessage(msg); } catch (e) {}
  Atomics.store(shared, slot, 1);
  Atomics.add(shared, 0, 1);
  Atomics.notify(shared, 0);
  try { port.close(); } catch (e) {}
}
function failure(stage, e) {
  const text = e && e.message ? String(e.message) : String(e);
  return { ok: false, stage, error: text.split('\\n')[0] };
}
function maybeFinish() {
  if (outcome !== null && zclosed && !reading) finish(outcome);
}
function decide(msg) {
  if (outcome === null) outcome = msg;
  if (!zclosed) gunzip.destroy();
  maybeFinish();
}
process.on('uncaughtException', (e) => finish(failure('internal', e)));
const ch = crypto.createHash(algo);
const uh = tmp === null && algo === 'sha256' ? null : crypto.createHash('sha256');
const gunzip = tmp === null ? null : zlib.createGunzip({ chunkSize: 1 << 16 });
if (gunzip) {
  gunzip.on('close', () => { zclosed = true; maybeFinish(); });
  gunzip.on('error', (e) => decide(failure('gzip', e)));
  gunzip.on('data', (c) => {
    if (outcome !== null) return;
    size += c.length;
    if (limit >= 0 && size > limit) { decide({ ok: false, stage: 'limit', error: String(limit) }); return; }
    if (size >= nextSpaceCheck && spaceDir !== null) {
      nextSpaceCheck = size + ${SPACE_EVERY};
      try {
        const st = fs.statfsSync(spaceDir);
        if (st.bavail * st.bsize < floor + ${SPACE_EVERY}) { decide({ ok: false, stage: 'space', error: String(floor) }); return; }
      } catch (e) {}
    }
    uh.update(c);
    try {
      for (let off = 0; off < c.length; ) off += fs.writeSync(out, c, off, c.length - off);
    } catch (e) {
      decide(failure('write', e));
    }
  });
  gunzip.on('end', () => {
    if (outcome !== null) return;
    try { fs.fsyncSync(out); } catch (e) { decide(failure('write', e)); return; }
    decide({ ok: true, size, compressed: ch.digest('hex'), uncompressed: uh.digest('hex') });
  });
}
let pos = start;
const end = start + length;
function pump() {
  if (outcome !== null) return;
  if (pos >= end) { gunzip.end(); return; }
  const n = Math.min(${READ_CHUNK}, end - pos);
  const buf = Buffer.allocUnsafe(n);
  reading = true;
  fs.read(fd, buf, 0, n, pos, (err, got) => {
    reading = false;
    if (outcome !== null) { maybeFinish(); return; }
    if (err) { decide(failure('read', err)); return; }
    if (got === 0) { decide(failure('read', new Error('the file ended early'))); return; }
    pos += got;
    const chunk = buf.subarray(0, got);
    ch.update(chunk);
    Atomics.add(shared, slot + 1, 1);
    if (gunzip.write(chunk)) pump();
    else gunzip.once('drain', pump);
  });
}
/** Hash only: a plain loop of synchronous reads into one buffer (no stream to feed). */
function hashAll() {
  const buf = Buffer.allocUnsafe(${READ_CHUNK});
  while (pos < end) {
    let got;
    try {
      got = fs.readSync(fd, buf, 0, Math.min(buf.length, end - pos), pos);
    } catch (e) {
      if (e.code === 'EAGAIN' || e.code === 'EINTR') continue;
      decide(failure('read', e));
      return;
    }
    if (got === 0) { decide(failure('read', new Error('the file ended early'))); return; }
    pos += got;
    const chunk = buf.subarray(0, got);
    ch.update(chunk);
    if (uh) uh.update(chunk);
    Atomics.add(shared, slot + 1, 1);
  }
  const c = ch.digest('hex');
  decide({ ok: true, size: length, compressed: c, uncompressed: uh ? uh.digest('hex') : c });
}
try {
  if (tmp !== null) {
    out = fs.openSync(tmp, 'wx', 0o644);
    pump();
  } else hashAll();
} catch (e) {
  decide(failure('write', e));
}
`;

/** Progress is reported only when inflating takes longer than this, then at most this often. */
let PROGRESS_AFTER_MS = 500;
let PROGRESS_EVERY_MS = 1000;

/** For tests: report progress from `afterMs`, every `everyMs` (defaults 500 and 1000). */
export function setProgressTiming(afterMs: number, everyMs: number): void {
  PROGRESS_AFTER_MS = afterMs;
  PROGRESS_EVERY_MS = everyMs;
}
const mbText = (n: number): string => `${(n / 1e6).toFixed(1)} MB`;

/**
 * Progress lines for a slow inflate: nothing for the first half second; then, at most once a second,
 * which layers are being inflated and how much of their compressed data is done; at the end (if
 * anything was said), the total and the rate.
 */
function inflateProgress(list: { length: number; label: string }[], progress: (msg: string) => void, verb = 'inflating') {
  const t0 = Date.now();
  let last = 0;
  return {
    /** `read[i]`: compressed bytes of job i read so far; `done[i]`: whether it has finished. */
    tick(read: number[], done: boolean[]): void {
      const now = Date.now();
      if (now - t0 < PROGRESS_AFTER_MS || now - last < PROGRESS_EVERY_MS) return;
      last = now;
      const busy = list.map((j, i) => ({ j, i })).filter(({ i }) => !done[i] && read[i] > 0);
      const total = list.reduce((a, j) => a + j.length, 0);
      const got = list.reduce((a, j, i) => a + (done[i] ? j.length : Math.min(read[i], j.length)), 0);
      const what = busy.map(({ j, i }) => `${j.label} ${Math.floor((100 * Math.min(read[i], j.length)) / j.length)}%`).join(', ');
      progress(`${verb}: ${mbText(got)} of ${mbText(total)}${verb === 'inflating' ? ' compressed' : ''}${what ? ` (${what})` : ''}`);
    },
    end(results: WorkerResult[]): void {
      if (last === 0) return;
      const secs = (Date.now() - t0) / 1000;
      const bytes = results.reduce((a, r) => a + (r.ok ? r.size : 0), 0);
      const did = verb === 'inflating' ? `inflated ${list.length} layer(s) into` : `verified ${list.length} layer(s) of`;
      progress(`${did} ${mbText(bytes)} in ${secs.toFixed(1)} s (${(bytes / 1e6 / secs).toFixed(0)} MB/s)`);
    },
  };
}

/**
 * Runs the inflate jobs in worker threads, at most PARALLEL at once, and waits for all of them.
 * `onTick` is called at least every 250 ms with the compressed bytes read per job so far.
 */
function runWorkers(jobs: WorkerJob[], onTick?: (read: number[], done: boolean[]) => void): WorkerResult[] {
  const n = jobs.length;
  // [0] completion counter; per job i: [1 + 2i] done flag, [2 + 2i] progress tick.
  const shared = new Int32Array(new SharedArrayBuffer(4 * (1 + 2 * n)));
  const results: (WorkerResult | undefined)[] = new Array(n);
  const ports: (MessagePort | undefined)[] = new Array(n);
  const workers: (Worker | undefined)[] = new Array(n);
  const lastTick = new Int32Array(n);
  const lastMove = new Float64Array(n);
  const parallel = Math.max(1, Math.min(PARALLEL, os.availableParallelism?.() ?? 2));
  let next = 0;
  let running = 0;
  let done = 0;

  const start = (i: number): void => {
    const { port1, port2 } = new MessageChannel();
    const w = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { ...jobs[i], shared, slot: 1 + 2 * i, port: port2 },
      transferList: [port2],
      stdout: true, // a worker has nothing to print; keep stray output off our streams
      stderr: true,
    });
    w.unref();
    ports[i] = port1;
    workers[i] = w;
    lastMove[i] = Date.now();
    running++;
  };
  const settle = (i: number, r: WorkerResult): void => {
    results[i] = r;
    ports[i]!.close(); // the worker exits by itself once it has reported
    done++;
    running--;
    if (next < n) start(next++);
  };

  while (next < n && running < parallel) start(next++);
  while (done < n) {
    const seen = Atomics.load(shared, 0);
    const now = Date.now();
    for (let i = 0; i < n; i++) {
      if (results[i] !== undefined || ports[i] === undefined) continue;
      if (Atomics.load(shared, 1 + 2 * i) === 1) {
        const msg = receiveMessageOnPort(ports[i]!);
        settle(i, msg ? (msg.message as WorkerResult) : { ok: false, stage: 'internal', error: 'the inflate worker sent no result' });
        continue;
      }
      const tick = Atomics.load(shared, 2 + 2 * i);
      if (tick !== lastTick[i]) {
        lastTick[i] = tick;
        lastMove[i] = now;
      } else if (now - lastMove[i] > STALL_MS) {
        void workers[i]!.terminate(); // it holds no descriptor of ours: it only reads `fd`, never closes it
        settle(i, { ok: false, stage: 'internal', error: `the inflate worker stalled for ${STALL_MS / 1000} s` });
      }
    }
    if (onTick) {
      const read = jobs.map((_, i) => Atomics.load(shared, 2 + 2 * i) * READ_CHUNK);
      onTick(read, jobs.map((_, i) => results[i] !== undefined));
    }
    if (done < n) Atomics.wait(shared, 0, seen, onTick ? 250 : 1000);
  }
  return results as WorkerResult[];
}
