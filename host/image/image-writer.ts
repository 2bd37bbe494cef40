// Image writer: turns layer specs into tar layers and image archives (plain rootfs tar, `docker save`,
// OCI image layout), optionally gzip'd. Trusted host code: the test fixtures are written with it, and
// so are the images of host/cli/pack.ts (`node host/pack.js`). Owns: the layer-spec types, a ustar/PAX/GNU
// tar writer, and the docker/OCI metadata (manifests, configs with real sha256 digests, sizes and diff_ids).
// Does not read images (gofer/image/ does) and does not validate paths: a spec is written as given,
// so tests can also write hostile archives.
// Invariants of what it writes:
// - every header is POSIX ustar with a correct checksum; names that do not fit ustar (over 100 bytes
//   with no prefix split, or non-ASCII) and link targets over 100 bytes or non-ASCII get PAX records
//   (or GNU L/K entries with longNames: 'gnu'); numbers that do not fit octal get PAX records (or
//   base-256 with numeric: 'base256', which also forces base-256 for every numeric field);
// - output is deterministic: fixed mtimes (DEFAULT_MTIME unless a spec says otherwise), uid/gid 0,
//   entries in spec order, gzip with no name and mtime 0;
// - whiteouts are OCI `.wh.NAME` empty files; an opaque dir is the dir entry then `DIR/.wh..wh..opq`.
import crypto from 'node:crypto';
import fs from 'node:fs';
import zlib from 'node:zlib';

// ---------------------------------------------------------------------------------------------
// Layer specs: the one description of an image's layers that fixtures are written in. Paths are
// relative to the image root, '/'-separated, without a leading '/'. Parent directories that a layer
// does not list are implied (mode 0755). Later entries of one layer replace earlier ones.

export type Entry =
  | { path: string; type: 'file'; data?: string | Uint8Array; mode?: number; mtime?: number }
  | { path: string; type: 'dir'; mode?: number; mtime?: number }
  | { path: string; type: 'symlink'; target: string; mtime?: number }
  /** A hard link to `target`, a regular file listed earlier in the same layer. */
  | { path: string; type: 'hardlink'; target: string }
  /** Deletes `path` from the layers below (OCI `.wh.NAME`). */
  | { path: string; type: 'whiteout' }
  /** `path` is a directory that hides everything the layers below hold in it (OCI `.wh..wh..opq`). */
  | { path: string; type: 'opaque'; mode?: number; mtime?: number };

/** Bottom layer first, as in an image manifest. */
export type Layers = Entry[][];

export interface ImageSpec {
  layers: Layers;
  /**
   * Layers given as ready-made tar bytes (uncompressed), stacked above `layers` in order: for
   * example an upper layer a sandbox exported. Not for format 'plain'.
   */
  tarLayers?: Uint8Array[];
  entrypoint?: string[];
  cmd?: string[];
  env?: string[];
  workingDir?: string;
  /** The image's platform (config os/architecture, and the index descriptor's); default wasip1/wasm. */
  platform?: { os: string; architecture: string };
  /** The config's history, one `created_by` per layer (default "wasmbox image-writer"). */
  history?: string[];
}

/** The default mtime of written entries (2023-03-30T05:18:02Z), so output does not depend on the clock. */
export const DEFAULT_MTIME = 1680153482;

// ---------------------------------------------------------------------------------------------
// Tar writer.

export interface TarMember {
  /** A string is written as UTF-8; bytes are written as they are. Directories get a trailing '/'. */
  path: string | Uint8Array;
  type: 'file' | 'dir' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo';
  data?: string | Uint8Array; // file contents
  linkname?: string | Uint8Array; // symlink target / hard-link target
  mode?: number; // default: 0644 file, 0755 dir, 0777 symlink
  uid?: number;
  gid?: number;
  mtime?: number; // seconds since the epoch; may be fractional (PAX) or negative
  /** Value for the header's size field instead of the data length (tests of lying headers). */
  sizeField?: number;
  /** Typeflag character instead of the one `type` implies (tests: '7', 'S', unknown types). */
  typeflag?: string;
  /** Extra PAX records written for this member (with the ones the writer needs). */
  pax?: Record<string, string | Uint8Array>;
}

export interface TarWriterOptions {
  /** How names and link targets that do not fit ustar are written (default 'pax'). */
  longNames?: 'pax' | 'gnu';
  /** 'base256' writes EVERY numeric field in GNU base-256 (default 'octal', PAX when too big). */
  numeric?: 'octal' | 'base256';
}

const BLOCK = 512;
const utf8 = new TextEncoder();
const TYPEFLAG = { file: '0', hardlink: '1', symlink: '2', char: '3', block: '4', dir: '5', fifo: '6' } as const;

function bytesOf(s: string | Uint8Array): Uint8Array {
  return typeof s === 'string' ? utf8.encode(s) : s;
}

function isAscii(b: Uint8Array): boolean {
  for (const c of b) if (c >= 0x80) return false;
  return true;
}

/** What marks an opaque directory in an OCI layer: a file of this name inside it (after the directory's path). */
export const OPAQUE_MARKER = new TextEncoder().encode('/.wh..wh..opq');

/** The tar bytes of one member's header (and PAX records), without data or the end-of-archive blocks. */
export function tarHeader(m: TarMember): Uint8Array {
  const w = new TarWriter();
  w.add(m);
  const b = w.finish();
  return b.subarray(0, b.length - 1024);
}

export class TarWriter {
  private readonly chunks: Uint8Array[] = [];
  private length = 0;
  private readonly longNames: 'pax' | 'gnu';
  private readonly base256: boolean;

  constructor(opts: TarWriterOptions = {}) {
    this.longNames = opts.longNames ?? 'pax';
    this.base256 = opts.numeric === 'base256';
  }

  /** Appends bytes as they are (tests: garbage, hand-made headers). */
  raw(b: Uint8Array): void {
    this.chunks.push(b);
    this.length += b.length;
  }

  add(m: TarMember): void {
    let name: Uint8Array = bytesOf(m.path);
    if (m.type === 'dir' && name[name.length - 1] !== 0x2f) name = concat([name, Uint8Array.of(0x2f)]);
    const link = m.linkname === undefined ? new Uint8Array(0) : bytesOf(m.linkname);
    const data = m.type === 'file' && m.data !== undefined ? bytesOf(m.data) : new Uint8Array(0);
    const mode = m.mode ?? (m.type === 'dir' ? 0o755 : m.type === 'symlink' ? 0o777 : 0o644);
    const mtime = m.mtime ?? DEFAULT_MTIME;
    const size = m.sizeField ?? data.length;
    const gnu = this.longNames === 'gnu';
    const pax: [string, Uint8Array][] = [];

    // Name: ustar name, or prefix + name, or a long-name record.
    let hName: Uint8Array = name;
    let hPrefix: Uint8Array = new Uint8Array(0);
    const asciiName = typeof m.path !== 'string' || isAscii(name);
    if (name.length > 100 || !asciiName) {
      const split = asciiName ? ustarSplit(name) : -1;
      if (split >= 0 && !gnu) {
        hPrefix = name.subarray(0, split);
        hName = name.subarray(split + 1);
      } else if (gnu) {
        if (name.length > 100) this.longEntry('L', name, mtime);
        hName = name.subarray(0, 100);
      } else {
        pax.push(['path', name]);
        hName = name.subarray(0, 100);
      }
    }
    let hLink: Uint8Array = link;
    if (link.length > 100 || (typeof m.linkname === 'string' && !isAscii(link))) {
      if (gnu) {
        if (link.length > 100) this.longEntry('K', link, mtime);
      } else pax.push(['linkpath', link]);
      hLink = link.subarray(0, 100);
    }

    // Numbers: octal when they fit, else PAX (or base-256).
    const numField = (key: string, v: number, len: number): number | bigint => {
      if (this.base256) return BigInt(v);
      if (Number.isInteger(v) && v >= 0 && v < 8 ** (len - 1)) return v;
      if (gnu) return BigInt(Math.floor(v));
      pax.push([key, utf8.encode(String(v))]);
      return 0;
    };
    const fUid = numField('uid', m.uid ?? 0, 8);
    const fGid = numField('gid', m.gid ?? 0, 8);
    const fSize = numField('size', size, 12);
    let fMtime: number | bigint;
    if (!Number.isInteger(mtime) && !gnu && !this.base256) {
      pax.push(['mtime', utf8.encode(paxTime(mtime))]);
      fMtime = Math.max(0, Math.floor(mtime));
    } else fMtime = numField('mtime', Math.floor(mtime), 12);
    for (const [k, v] of Object.entries(m.pax ?? {})) pax.push([k, bytesOf(v)]);
    if (pax.length) this.paxEntry(pax, name, Math.floor(mtime));

    const h = new Uint8Array(BLOCK);
    h.set(hName.subarray(0, 100), 0);
    this.number(h, 100, 8, this.base256 ? BigInt(mode) : mode);
    this.number(h, 108, 8, fUid);
    this.number(h, 116, 8, fGid);
    this.number(h, 124, 12, fSize);
    this.number(h, 136, 12, fMtime);
    h[156] = (m.typeflag ?? TYPEFLAG[m.type]).charCodeAt(0);
    h.set(hLink.subarray(0, 100), 157);
    if (gnu) h.set(utf8.encode('ustar  \0'), 257);
    else h.set(utf8.encode('ustar\x0000'), 257);
    h.set(utf8.encode('root'), 265);
    h.set(utf8.encode('root'), 297);
    if (!gnu) {
      this.number(h, 329, 8, 0);
      this.number(h, 337, 8, 0);
      h.set(hPrefix, 345);
    }
    this.header(h);
    this.data(data);
  }

  /** A PAX global header ('g'): its records apply to every later member. */
  global(records: Record<string, string | Uint8Array>): void {
    this.paxEntry(Object.entries(records).map(([k, v]) => [k, bytesOf(v)]), utf8.encode('global'), DEFAULT_MTIME, 'g');
  }

  /** The archive so far plus the end marker (two zero blocks). */
  finish(): Uint8Array {
    this.raw(new Uint8Array(2 * BLOCK));
    return concat(this.chunks, this.length);
  }

  private header(h: Uint8Array): void {
    h.fill(0x20, 148, 156);
    let sum = 0;
    for (const c of h) sum += c;
    h.set(utf8.encode(`${sum.toString(8).padStart(6, '0')}\0 `), 148);
    this.raw(h);
  }

  private data(d: Uint8Array): void {
    if (d.length === 0) return;
    this.raw(d);
    const pad = (BLOCK - (d.length % BLOCK)) % BLOCK;
    if (pad) this.raw(new Uint8Array(pad));
  }

  private number(h: Uint8Array, off: number, len: number, v: number | bigint): void {
    if (typeof v === 'bigint') {
      // GNU base-256: two's complement, big-endian, top bit of the first byte set.
      let x = v < 0n ? (1n << BigInt(8 * len)) + v : v;
      for (let i = len - 1; i >= 0; i--) {
        h[off + i] = Number(x & 0xffn);
        x >>= 8n;
      }
      h[off] |= 0x80;
      return;
    }
    h.set(utf8.encode(`${v.toString(8).padStart(len - 1, '0')}\0`), off);
  }

  private paxEntry(records: [string, Uint8Array][], name: Uint8Array, mtime: number, flag: 'x' | 'g' = 'x'): void {
    const body = concat(records.map(([k, v]) => paxRecord(k, v)));
    const base = name.subarray(name.lastIndexOf(0x2f, name.length - 2) + 1).subarray(0, 80);
    const h = new Uint8Array(BLOCK);
    h.set(concat([utf8.encode('PaxHeaders/'), isAscii(base) ? base : utf8.encode('entry')]).subarray(0, 100), 0);
    this.number(h, 100, 8, 0o644);
    this.number(h, 108, 8, 0);
    this.number(h, 116, 8, 0);
    this.number(h, 124, 12, body.length);
    this.number(h, 136, 12, Math.max(0, mtime));
    h[156] = flag.charCodeAt(0);
    h.set(utf8.encode('ustar\x0000'), 257);
    this.header(h);
    this.data(body);
  }

  private longEntry(flag: 'L' | 'K', value: Uint8Array, mtime: number): void {
    const body = concat([value, new Uint8Array(1)]);
    const h = new Uint8Array(BLOCK);
    h.set(utf8.encode('././@LongLink'), 0);
    this.number(h, 100, 8, 0o644);
    this.number(h, 108, 8, 0);
    this.number(h, 116, 8, 0);
    this.number(h, 124, 12, body.length);
    this.number(h, 136, 12, Math.max(0, Math.floor(mtime)));
    h[156] = flag.charCodeAt(0);
    h.set(utf8.encode('ustar  \0'), 257);
    this.header(h);
    this.data(body);
  }
}

/** Index of the '/' that splits `name` into a ustar prefix (<= 155) and name (<= 100), or -1. */
function ustarSplit(name: Uint8Array): number {
  for (let i = Math.min(155, name.length - 2); i > 0; i--) {
    if (name[i] === 0x2f && name.length - i - 1 <= 100 && name.length - i - 1 > 0) return i;
  }
  return -1;
}

/** "<len> <key>=<value>\n", where len counts the whole record including its own digits. */
function paxRecord(key: string, value: Uint8Array): Uint8Array {
  const rest = 1 + key.length + 1 + value.length + 1;
  let len = rest + String(rest).length;
  if (String(len).length !== String(rest).length) len = rest + String(len).length;
  return concat([utf8.encode(`${len} ${key}=`), value, utf8.encode('\n')]);
}

/** Seconds as a PAX decimal with up to 9 fraction digits ("-1.5", "1680153482.25"). */
function paxTime(t: number): string {
  const neg = t < 0;
  const a = Math.abs(t);
  const sec = Math.floor(a);
  const frac = Math.round((a - sec) * 1e9);
  const s = frac ? `${sec}.${String(frac).padStart(9, '0').replace(/0+$/, '')}` : String(sec);
  return neg ? `-${s}` : s;
}

function concat(parts: Uint8Array[], total = parts.reduce((n, p) => n + p.length, 0)): Uint8Array {
  const out = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Layers.

/** The tar members one spec entry becomes. */
export function entryMembers(e: Entry): TarMember[] {
  const slash = e.path.lastIndexOf('/');
  const dir = slash < 0 ? '' : e.path.slice(0, slash + 1);
  const base = e.path.slice(slash + 1);
  switch (e.type) {
    case 'file':
      return [{ path: e.path, type: 'file', data: e.data ?? '', mode: e.mode, mtime: e.mtime }];
    case 'dir':
      return [{ path: e.path, type: 'dir', mode: e.mode, mtime: e.mtime }];
    case 'symlink':
      return [{ path: e.path, type: 'symlink', linkname: e.target, mtime: e.mtime }];
    case 'hardlink':
      return [{ path: e.path, type: 'hardlink', linkname: e.target }];
    case 'whiteout':
      return [{ path: `${dir}.wh.${base}`, type: 'file', mode: 0o644 }];
    case 'opaque':
      return [
        { path: e.path, type: 'dir', mode: e.mode, mtime: e.mtime },
        { path: `${e.path}/.wh..wh..opq`, type: 'file', mode: 0o644 },
      ];
  }
}

/** One layer as tar bytes (gzip'd if asked). */
export function tarLayer(entries: Entry[], opts: { gzip?: boolean } & TarWriterOptions = {}): Uint8Array {
  const w = new TarWriter(opts);
  for (const e of entries) for (const m of entryMembers(e)) w.add(m);
  const tar = w.finish();
  return opts.gzip ? gzip(tar) : tar;
}

/** Deterministic gzip (no file name, mtime 0). */
export function gzip(b: Uint8Array): Uint8Array {
  return new Uint8Array(zlib.gzipSync(b, { level: 6 }));
}

// ---------------------------------------------------------------------------------------------
// Images.

export type ImageFormat = 'plain' | 'docker' | 'oci';

export interface WriteImageOptions {
  format: ImageFormat;
  /** gzip each layer (OCI media type tar+gzip; docker layer.tar holds gzip). For 'plain', the file. */
  gzip?: boolean;
  /** gzip the whole archive, as `docker save | gzip` does. */
  gzipArchive?: boolean;
  /** docker: store layers and config as blobs/sha256/<hex> (Docker >= 25) instead of <id>/layer.tar. */
  dockerBlobs?: boolean;
  /** oci: index.json points to a nested image index that points to the manifest. */
  nestedIndex?: boolean;
  /** Repository tag recorded in the metadata (default "wasmbox/image:latest"). */
  tag?: string;
  /**
   * oci: make the layout loadable by `docker load` too, as Docker 25+ `docker save` does: add
   * manifest.json (the docker-save index that the classic image store reads) naming the same blobs,
   * and the `io.containerd.image.name` annotation (the full reference that containerd's importer
   * tags the image with) beside `org.opencontainers.image.ref.name`.
   */
  dockerManifest?: boolean;
}

const sha256 = (b: Uint8Array | string): string => crypto.createHash('sha256').update(b).digest('hex');
const json = (v: unknown): Uint8Array => utf8.encode(JSON.stringify(v));

/**
 * A Docker reference in full, as `docker load` and containerd name images: "app" becomes
 * "docker.io/library/app:latest", "me/app:1" "docker.io/me/app:1"; a first component with a '.' or
 * ':', or "localhost", is a registry and stays.
 */
export function normalizeReference(ref: string): string {
  const slash = ref.indexOf('/');
  const first = slash < 0 ? '' : ref.slice(0, slash);
  let name = ref;
  if (slash < 0) name = `docker.io/library/${ref}`;
  else if (!first.includes('.') && !first.includes(':') && first !== 'localhost') name = `docker.io/${ref}`;
  return /:[^/]*$/.test(name.slice(name.lastIndexOf('/'))) || name.includes('@') ? name : `${name}:latest`;
}

/** Writes `spec` as an image archive to the file `out`. */
export function writeImage(spec: ImageSpec, out: string, opts: WriteImageOptions): void {
  fs.writeFileSync(out, imageBytes(spec, opts));
}

/** The bytes writeImage would write. */
export function imageBytes(spec: ImageSpec, opts: WriteImageOptions): Uint8Array {
  if (opts.format === 'plain') {
    if (spec.tarLayers?.length) throw new Error("writeImage: format 'plain' takes no tarLayers");
    if (spec.layers.length > 1) throw new Error(`writeImage: format 'plain' takes one layer, not ${spec.layers.length}`);
    const tar = tarLayer(spec.layers[0] ?? []);
    return opts.gzip || opts.gzipArchive ? gzip(tar) : tar;
  }
  const tars = [...spec.layers.map((l) => tarLayer(l)), ...(spec.tarLayers ?? [])];
  const diffIds = tars.map((t) => `sha256:${sha256(t)}`);
  const blobs = opts.gzip ? tars.map(gzip) : tars;
  const platform = spec.platform ?? { os: 'wasip1', architecture: 'wasm' };
  const config = json({
    created: new Date(DEFAULT_MTIME * 1000).toISOString(),
    architecture: platform.architecture,
    os: platform.os,
    config: {
      ...(spec.env ? { Env: spec.env } : {}),
      ...(spec.entrypoint ? { Entrypoint: spec.entrypoint } : {}),
      ...(spec.cmd ? { Cmd: spec.cmd } : {}),
      ...(spec.workingDir !== undefined ? { WorkingDir: spec.workingDir } : {}),
    },
    rootfs: { type: 'layers', diff_ids: diffIds },
    history: tars.map((_, i) => ({
      created: new Date(DEFAULT_MTIME * 1000).toISOString(),
      created_by: spec.history?.[i] ?? 'wasmbox image-writer',
    })),
  });
  const tag = opts.tag ?? 'wasmbox/image:latest';
  const w = new TarWriter();
  const file = (path: string, data: Uint8Array): void => w.add({ path, type: 'file', data });
  const dir = (path: string): void => w.add({ path, type: 'dir' });
  const written = new Set<string>();
  const blob = (data: Uint8Array): string => {
    const hex = sha256(data);
    if (!written.has(hex)) {
      if (written.size === 0) {
        dir('blobs');
        dir('blobs/sha256');
      }
      written.add(hex);
      file(`blobs/sha256/${hex}`, data);
    }
    return hex;
  };

  if (opts.format === 'docker') {
    const layerPaths: string[] = [];
    let configPath: string;
    if (opts.dockerBlobs) {
      for (const b of blobs) layerPaths.push(`blobs/sha256/${blob(b)}`);
      configPath = `blobs/sha256/${blob(config)}`;
    } else {
      let parent = '';
      for (let i = 0; i < blobs.length; i++) {
        const id = sha256(`${parent}\n${diffIds[i]}`);
        dir(id);
        file(`${id}/VERSION`, utf8.encode('1.0'));
        file(`${id}/json`, json({ id, ...(parent ? { parent } : {}), created: new Date(DEFAULT_MTIME * 1000).toISOString() }));
        file(`${id}/layer.tar`, blobs[i]);
        layerPaths.push(`${id}/layer.tar`);
        parent = id;
      }
      configPath = `${sha256(config)}.json`;
      file(configPath, config);
    }
    const [repo, version] = tag.split(':');
    file('manifest.json', json([{ Config: configPath, RepoTags: [tag], Layers: layerPaths }]));
    if (!opts.dockerBlobs && layerPaths.length) {
      file('repositories', json({ [repo]: { [version ?? 'latest']: layerPaths[layerPaths.length - 1].split('/')[0] } }));
    }
  } else {
    const layerType = opts.gzip ? 'application/vnd.oci.image.layer.v1.tar+gzip' : 'application/vnd.oci.image.layer.v1.tar';
    const manifest = json({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${blob(config)}`, size: config.length },
      layers: blobs.map((b) => ({ mediaType: layerType, digest: `sha256:${blob(b)}`, size: b.length })),
    });
    let top = {
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      digest: `sha256:${blob(manifest)}`,
      size: manifest.length,
      platform: { architecture: platform.architecture, os: platform.os },
      annotations: {
        ...(opts.dockerManifest ? { 'io.containerd.image.name': normalizeReference(tag) } : {}),
        'org.opencontainers.image.ref.name': tag.lastIndexOf(':') > tag.lastIndexOf('/') ? tag.slice(tag.lastIndexOf(':') + 1) : 'latest',
      },
    } as Record<string, unknown>;
    if (opts.nestedIndex) {
      const nested = json({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [top] });
      top = { mediaType: 'application/vnd.oci.image.index.v1+json', digest: `sha256:${blob(nested)}`, size: nested.length };
    }
    file('oci-layout', json({ imageLayoutVersion: '1.0.0' }));
    file('index.json', json({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [top] }));
    if (opts.dockerManifest) {
      const path = (b: Uint8Array): string => `blobs/sha256/${sha256(b)}`;
      file('manifest.json', json([{ Config: path(config), RepoTags: [tag], Layers: blobs.map(path) }]));
    }
  }
  const archive = w.finish();
  return opts.gzipArchive ? gzip(archive) : archive;
}
