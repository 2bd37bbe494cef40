// Image metadata: finds the layers and the config of a `docker save` archive or an OCI image-layout
// archive, given the members of the outer tar. Owns: manifest.json / oci-layout / index.json parsing,
// choosing one manifest from an index, descriptor and digest validation, and ImageConfig extraction.
// Does not read layer contents (index.ts does).
// Invariants: every JSON document read here is size-limited and, when named by a descriptor, checked
// against the descriptor's size and digest; every member path is normalised and resolved inside the
// archive (symlinks and hard links between members, as old `docker save` writes for shared layers,
// are followed at most 8 times and never out of the archive root). Bad metadata is an ImageError.
// References: OCI image-spec (image-layout.md, image-index.md, manifest.md, config.md); Docker's
// image/spec and `docker save` (moby image/tarexport).
import crypto from 'node:crypto';
import { ImageError, layerSubject, quotePath } from './errors';
import { readAt } from './io';
import { MemberType, normalizePath, type TarMembers } from './tar';

export interface ImageConfig {
  entrypoint: string[];
  cmd: string[];
  env: string[];
  workingDir: string;
  /** "os/architecture" as the config says (e.g. "wasip1/wasm"), or "" when it does not say. */
  platform: string;
}

/** One layer as the metadata describes it. */
export interface LayerRef {
  offset: number; // byte range of the layer blob in the outer archive
  size: number;
  digest: string; // "sha256:…" (blob digest; for legacy docker layers the config's diff_id) or ""
  blobDigest?: string; // digest of the stored (possibly compressed) bytes, when the manifest gives it
  diffId?: string; // the config's rootfs.diff_ids[i]: sha256 of the uncompressed tar
  mediaType: string; // "" when unknown
}

export interface ImageMeta {
  config: ImageConfig;
  layers: LayerRef[];
}

const JSON_MAX = 16 << 20;
const DIGEST = /^(?:sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;
const INDEX_TYPES = new Set(['application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json']);

export const EMPTY_CONFIG: ImageConfig = { entrypoint: [], cmd: [], env: [], workingDir: '', platform: '' };

/** Read access to the members of the outer archive. */
export class Archive {
  private byPathMap: Map<string, number> | null = null; // built on first resolve(): a plain rootfs never needs it

  constructor(
    readonly fd: number,
    readonly members: TarMembers,
    readonly file: string, // image base name, for messages
  ) {}

  private get byPath(): Map<string, number> {
    if (this.byPathMap === null) {
      this.byPathMap = new Map();
      for (let i = 0; i < this.members.count; i++) this.byPathMap.set(this.members.path[i], i); // later members win, as in extraction
    }
    return this.byPathMap;
  }

  /** True if the archive has a non-directory member `path` (a linear scan: used a few times for detection). */
  has(path: string): boolean {
    const m = this.members;
    for (let i = m.count - 1; i >= 0; i--) if (m.path[i] === path) return m.type[i] !== MemberType.Dir;
    return false;
  }

  /** The byte range of the regular file at `path`, following member symlinks and hard links. */
  resolve(path: string, what: string): { offset: number; size: number } {
    let p = normalizePath(path);
    if (p === null) throw this.fail(`${what} names a hostile path ${quotePath(path)}`);
    for (let hops = 0; hops < 8; hops++) {
      const i = this.byPath.get(p);
      if (i === undefined) throw this.fail(`${what} names ${quotePath(path)}, which is not in the archive`);
      const m = this.members;
      switch (m.type[i]) {
        case MemberType.File:
          return { offset: m.offset[i], size: m.size[i] };
        case MemberType.HardLink:
          p = m.link[i];
          continue;
        case MemberType.Symlink: {
          const next = joinInside(p.includes('/') ? p.slice(0, p.lastIndexOf('/')) : '', m.link[i]);
          if (next === null) throw this.fail(`${what} names ${quotePath(path)}, a symlink out of the archive`);
          p = next;
          continue;
        }
        default:
          throw this.fail(`${what} names ${quotePath(path)}, which is not a file`);
      }
    }
    throw this.fail(`${what} names ${quotePath(path)}, a chain of more than 8 links`);
  }

  /** Parses the JSON member at `path` (size-limited; checked against `desc` when given). */
  json(path: string, what: string, desc?: { digest: string; size: number }): unknown {
    const { offset, size } = this.resolve(path, what);
    if (desc && size !== desc.size) throw this.fail(`${what} ${quotePath(path)} has ${size} bytes, but its descriptor says ${desc.size}`);
    if (size > JSON_MAX) throw this.fail(`${what} ${quotePath(path)} is too large (${size} bytes)`);
    const buf = Buffer.allocUnsafe(size);
    if (readAt(this.fd, buf, 0, size, offset) < size) throw this.fail(`${what} ${quotePath(path)} is truncated`);
    if (desc) {
      const [algo, hex] = desc.digest.split(':');
      if (crypto.createHash(algo).update(buf).digest('hex') !== hex) throw this.fail(`${what} ${quotePath(path)} does not match its digest`);
    }
    try {
      return JSON.parse(buf.toString('utf8'));
    } catch {
      throw this.fail(`${what} ${quotePath(path)} is not valid JSON`);
    }
  }

  fail(msg: string): ImageError {
    return new ImageError(`${this.file}: ${msg.replace(/[\r\n]+/g, ' ')}`);
  }
}

/** Joins a member symlink target onto its directory, lexically; null if it climbs out of the root. */
function joinInside(dir: string, target: string): string | null {
  const out = target.startsWith('/') ? [] : dir.split('/').filter((s) => s !== '');
  for (const part of target.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length === 0) return null;
      out.pop();
    } else out.push(part);
  }
  return out.join('/');
}

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Whether the archive is laid out as an image archive rather than a root file system: it has a
 * `repositories` file, a layer as `docker save` names them (`<id>/layer.tar`), or OCI blobs.
 */
function looksLikeImageArchive(a: Archive): boolean {
  const m = a.members;
  for (let i = 0; i < m.count; i++) {
    const p = m.path[i];
    if (p === 'repositories' || p.startsWith('blobs/sha256/') || /^[^/]+\/layer\.tar$/.test(p)) return true;
  }
  return false;
}

/**
 * True if the archive holds a `docker save` manifest.json (an array of {Config, Layers}). A
 * manifest.json that is not one is a rootfs's own file, unless the archive is otherwise laid out as
 * an image (then it is a broken image, and says so: not JSON, empty, or the wrong shape).
 */
export function isDocker(a: Archive): boolean {
  if (!a.has('manifest.json')) return false;
  let m: unknown;
  let why: string;
  try {
    m = a.json('manifest.json', 'manifest.json');
    if (Array.isArray(m) && m.length > 0 && isObj(m[0]) && typeof m[0].Config === 'string' && Array.isArray(m[0].Layers)) return true;
    why = !Array.isArray(m) ? 'manifest.json is not a list of images' : m.length === 0 ? 'manifest.json lists no image' : 'manifest.json: its first image has no Config and Layers';
  } catch (e) {
    why = (e as Error).message.slice(a.file.length + 2); // "manifest.json ... is not valid JSON" and the like
  }
  if (looksLikeImageArchive(a)) throw a.fail(why);
  return false; // a rootfs that happens to hold a manifest.json
}

/** True if the archive is an OCI image layout (oci-layout with imageLayoutVersion, and index.json). */
export function isOci(a: Archive): boolean {
  if (!a.has('oci-layout') || !a.has('index.json')) return false;
  try {
    const l = a.json('oci-layout', 'oci-layout');
    return isObj(l) && typeof l.imageLayoutVersion === 'string';
  } catch {
    return false;
  }
}

/** The first image of a `docker save` archive (docker load takes them all; we serve one). */
export function readDocker(a: Archive): ImageMeta {
  const m = (a.json('manifest.json', 'manifest.json') as Json[])[0];
  const layerPaths = m.Layers as unknown[];
  if (!layerPaths.every((p) => typeof p === 'string')) throw a.fail('manifest.json has a Layers entry that is not a string');
  // the config's name is its digest (<hex>.json before Docker 25, blobs/<algo>/<hex> since): checked,
  // so that its diff_ids (which the layers are checked against) cannot be edited unnoticed
  const named = /^(?:\.\/)?(?:blobs\/(sha256|sha512)\/([a-f0-9]+)|([a-f0-9]{64})\.json)$/.exec(m.Config as string);
  const digest = named ? (named[3] ? `sha256:${named[3]}` : `${named[1]}:${named[2]}`) : '';
  const desc = DIGEST.test(digest) ? { digest, size: a.resolve(m.Config as string, 'manifest.json Config').size } : undefined;
  const config = a.json(m.Config as string, 'manifest.json Config', desc);
  const diffIds = diffIdsOf(config, layerPaths.length);
  const layers = (layerPaths as string[]).map((p, i): LayerRef => {
    const { offset, size } = a.resolve(p, `manifest.json layer ${i}`);
    // Docker >= 25 stores layers as content-addressed blobs; older versions as <v1-id>/layer.tar,
    // whose name is no digest (the config's diff_id is the digest of the uncompressed layer).
    const blob = /^(?:\.\/)?blobs\/(sha256|sha512)\/([a-f0-9]+)$/.exec(p);
    const blobDigest = blob && DIGEST.test(`${blob[1]}:${blob[2]}`) ? `${blob[1]}:${blob[2]}` : undefined;
    return { offset, size, digest: blobDigest ?? diffIds?.[i] ?? '', blobDigest, diffId: diffIds?.[i], mediaType: '' };
  });
  return { config: imageConfig(config, a), layers };
}

/** The image an OCI layout's index.json points to (through nested indexes, choosing one manifest). */
export function readOci(a: Archive): ImageMeta {
  let doc = a.json('index.json', 'index.json');
  let what = 'index.json';
  for (let depth = 0; ; depth++) {
    if (depth > 4) throw a.fail('index.json nests image indexes more than 4 deep');
    if (!isObj(doc)) throw a.fail(`${what} is not a JSON object`);
    if (!Array.isArray(doc.manifests)) {
      if (Array.isArray(doc.layers)) break; // a manifest
      throw a.fail(`${what} is neither an image index nor an image manifest`);
    }
    const desc = pickManifest(doc.manifests, a, what);
    what = `manifest ${desc.digest.slice(0, 19)}…`;
    doc = a.json(blobPath(desc.digest), what, desc);
  }
  const manifest = doc as Json;
  const configDesc = descriptor(manifest.config, a, `${what} config`);
  const config = a.json(blobPath(configDesc.digest), 'image config', configDesc);
  const layerDescs = (manifest.layers as unknown[]).map((d, i) => descriptor(d, a, `${what} layer ${i}`));
  const diffIds = diffIdsOf(config, layerDescs.length);
  const layers = layerDescs.map((d, i): LayerRef => {
    const { offset, size } = a.resolve(blobPath(d.digest), `${what} layer ${i}`);
    if (size !== d.size) throw a.fail(`${layerSubject(i, d.digest)} has ${size} bytes, but its descriptor says ${d.size}`);
    return { offset, size, digest: d.digest, blobDigest: d.digest, diffId: diffIds?.[i], mediaType: d.mediaType };
  });
  return { config: imageConfig(config, a), layers };
}

interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Json;
  annotations?: Json;
}

function descriptor(v: unknown, a: Archive, what: string): Descriptor {
  if (!isObj(v)) throw a.fail(`${what} is not a descriptor`);
  const { mediaType, digest, size } = v;
  if (typeof digest !== 'string' || !DIGEST.test(digest)) throw a.fail(`${what} has an unsupported or malformed digest ${JSON.stringify(String(digest)).slice(0, 90)}`);
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) throw a.fail(`${what} has a bad size`);
  return {
    mediaType: typeof mediaType === 'string' ? mediaType : '',
    digest,
    size,
    platform: isObj(v.platform) ? v.platform : undefined,
    annotations: isObj(v.annotations) ? v.annotations : undefined,
  };
}

/**
 * Chooses one manifest of an index: attestation manifests (platform unknown/unknown, or Docker's
 * attestation-manifest annotation) are skipped; a wasm platform is preferred; otherwise the first.
 */
function pickManifest(list: unknown[], a: Archive, what: string): Descriptor {
  const descs = list.map((d, i) => descriptor(d, a, `${what} manifest ${i}`));
  const images = descs.filter((d) => {
    const p = d.platform;
    if (p && p.os === 'unknown' && p.architecture === 'unknown') return false;
    return d.annotations?.['vnd.docker.reference.type'] !== 'attestation-manifest';
  });
  if (images.length === 0) throw a.fail(`${what} lists no image manifest`);
  return images.find((d) => d.platform?.architecture === 'wasm') ?? images[0];
}

function blobPath(digest: string): string {
  const [algo, hex] = digest.split(':');
  return `blobs/${algo}/${hex}`;
}

function diffIdsOf(config: unknown, layers: number): string[] | undefined {
  const ids = isObj(config) && isObj(config.rootfs) ? config.rootfs.diff_ids : undefined;
  if (!Array.isArray(ids) || ids.length !== layers || !ids.every((d) => typeof d === 'string' && DIGEST.test(d))) return undefined;
  return ids as string[];
}

/** Entrypoint/Cmd/Env/WorkingDir of an image config (docker and OCI share the shape). */
function imageConfig(config: unknown, a: Archive): ImageConfig {
  if (!isObj(config)) throw a.fail('the image config is not a JSON object');
  const c = config.config ?? {};
  if (!isObj(c)) throw a.fail('the image config has a "config" that is not an object');
  const list = (v: unknown, name: string): string[] => {
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) throw a.fail(`the image config's ${name} is not a list of strings`);
    return v.slice();
  };
  const wd = c.WorkingDir;
  if (wd !== undefined && wd !== null && typeof wd !== 'string') throw a.fail("the image config's WorkingDir is not a string");
  const os = typeof config.os === 'string' ? config.os : '';
  const arch = typeof config.architecture === 'string' ? config.architecture : '';
  const platform = os || arch ? `${os}/${arch}` : '';
  return { entrypoint: list(c.Entrypoint, 'Entrypoint'), cmd: list(c.Cmd, 'Cmd'), env: list(c.Env, 'Env'), workingDir: wd ?? '', platform };
}
