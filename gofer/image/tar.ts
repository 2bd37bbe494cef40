// Tar indexer: one pass over the headers of a tar stream that lies in a byte range of a file, skipping
// member data by offset. Owns: header decoding (v7, ustar with prefix, GNU `L`/`K` long names and
// old-GNU magic, PAX `x`/`g` records), numeric fields (octal and base-256), checksums, path
// normalisation and the hostile-path rule. Does not own layer semantics (whiteouts, implied parents,
// hard-link resolution): merge.ts applies those to what this returns.
//
// Invariants of a TarMembers result:
// - every path is normalised: no leading "/" or "./", no empty or "." components, no trailing "/",
//   the root itself is "" ; ".." components are resolved lexically, as Docker's extraction does
//   (a/b/../c is a/c), and a path that climbs above the root, or holds a NUL, is rejected
//   (ImageError, "hostile"); a name (one component) over 255 bytes is rejected as ENAMETOOLONG;
// - paths and link targets are latin1 strings holding the raw name bytes (1 char = 1 byte), so that
//   non-UTF-8 names survive and string order is byte order;
// - hard-link targets are normalised like paths; symlink targets are kept byte-for-byte;
// - offset[i] + size[i] lies inside the range for every File member (checked, never trusted).
// Behaviour follows POSIX pax/ustar and GNU tar's formats (as Go's archive/tar reads them): types
// 1-6 carry no data whatever their size field says; a NUL typeflag with a trailing "/" is a v7
// directory; '7' (contiguous) is a regular file; devices, FIFOs and unknown types are skipped and
// counted; sparse files (GNU 'S', PAX GNU.sparse.*) are rejected rather than served wrongly.
// The archive ends at the first zero block (GNU tar stops there too) or at the end of the range.
import { Where, quotePath } from './errors';
import { ShortRead, Window, readAt } from './io';

export const enum MemberType {
  File = 1,
  Dir = 2,
  Symlink = 3,
  HardLink = 4,
}

const BLOCK = 512;
/** Largest PAX / GNU long-name payload we read into memory (GNU tar itself has no fixed limit). */
const META_MAX = 1 << 20;
const NS = 1000000000n;

/** The members of one tar stream, as parallel arrays (index i = i-th kept member, in stream order). */
export class TarMembers {
  count = 0;
  /** Members skipped because of their type (devices, FIFOs, unknown typeflags). */
  skipped = 0;
  type = new Uint8Array(64);
  mode = new Uint16Array(64); // permission bits, 07777
  uid = new Uint32Array(64);
  gid = new Uint32Array(64);
  size = new Float64Array(64); // data bytes (File); 0 otherwise
  mtimeNs = new BigInt64Array(64);
  offset = new Float64Array(64); // absolute file offset of the data (File)
  headerAt = new Float64Array(64); // range offset of the member's header, for messages
  path: string[] = [];
  link: string[] = []; // symlink target (raw) or hard-link target (normalised); "" otherwise

  /** Appends a member and returns its index; the caller fills the numeric fields. */
  push(type: MemberType, path: string, link: string): number {
    const i = this.count;
    if (i === this.type.length) this.grow();
    this.type[i] = type;
    this.path.push(path);
    this.link.push(link);
    this.count = i + 1;
    return i;
  }

  private grow(): void {
    const n = this.type.length * 2;
    this.type = grown(this.type, n);
    this.mode = grown(this.mode, n);
    this.uid = grown(this.uid, n);
    this.gid = grown(this.gid, n);
    this.size = grown(this.size, n);
    this.mtimeNs = grown(this.mtimeNs, n);
    this.offset = grown(this.offset, n);
    this.headerAt = grown(this.headerAt, n);
  }
}

type Typed = Uint8Array | Uint16Array | Uint32Array | Float64Array | BigInt64Array;

/** A copy of `a` with room for `cap` elements (the growable-table helper of tar.ts and merge.ts). */
export function grown<T extends Typed>(a: T, cap: number): T {
  const b = new (a.constructor as new (n: number) => T)(cap);
  (b as { set(x: T): void }).set(a);
  return b;
}

/** Values a PAX header may override; undefined = not given. */
interface Pax {
  path?: string;
  linkpath?: string;
  size?: number;
  mtimeNs?: bigint;
  uid?: number;
  gid?: number;
}

/**
 * Indexes the tar stream in bytes [start, start + length) of fd. Throws ImageError (worded by
 * `where`) for truncation, bad checksums, garbage, hostile paths and unsupported members.
 */
export function indexTar(fd: number, start: number, length: number, where: Where): TarMembers {
  try {
    return scan(fd, start, length, where);
  } catch (e) {
    if (e instanceof ShortRead) throw where.error(`is truncated at byte ${e.at}`);
    throw e;
  }
}

function scan(fd: number, start: number, length: number, where: Where): TarMembers {
  const win = new Window(fd, start, length);
  const b = win.buf;
  const m = new TarMembers();
  const global: Pax = {};
  let local: Pax | null = null;
  let longName: string | null = null;
  let longLink: string | null = null;
  let metaAt = -1; // header position of pending x/L/K headers, -1 if none
  let pos = 0;

  while (pos < length) {
    if (length - pos < BLOCK) {
      // A partial block: fine only as zero padding after the last member.
      const tail = Buffer.alloc(length - pos);
      readAt(fd, tail, 0, tail.length, start + pos);
      if (tail.every((c) => c === 0)) break;
      throw where.error(`is truncated at byte ${length}`);
    }
    const o = win.view(pos, BLOCK);
    if (isZeroBlock(b, o)) break;
    if (!checksumOk(b, o, win.words)) {
      if (pos === 0) throw where.error('is not a tar archive (no valid tar header at byte 0)');
      throw where.error(`has a bad header checksum at byte ${pos}`);
    }
    const flag = b[o + 156];
    const field = (off: number, len: number, what: string): number => {
      const v = parseNumber(b, o + off, len);
      if (v === null) throw where.error(`has a bad ${what} field in the header at byte ${pos}`);
      return v;
    };
    const dataAt = pos + BLOCK;
    const headerOnly = flag >= 0x31 && flag <= 0x36; // '1'..'6': no data follows
    const needData = (n: number): void => {
      if (n < 0) throw where.error(`has a negative size in the header at byte ${pos}`);
      if (dataAt + n > length) throw where.error(`is truncated at byte ${length}`);
    };

    // --- metadata headers: they describe the next member ---
    if (flag === 0x78 /* x */ || flag === 0x67 /* g */ || flag === 0x4c /* L */ || flag === 0x4b /* K */) {
      const headerSize = field(124, 12, 'size');
      needData(headerSize);
      if (headerSize > META_MAX) throw where.error(`has an extended header of ${headerSize} bytes at byte ${pos} (limit ${META_MAX})`);
      const data = Buffer.allocUnsafe(headerSize);
      if (readAt(fd, data, 0, headerSize, start + dataAt) < headerSize) throw new ShortRead(dataAt);
      if (flag === 0x78) parsePax(data, (local ??= {}), pos, where);
      else if (flag === 0x67) parsePax(data, global, pos, where);
      else {
        const z = data.indexOf(0);
        const s = data.toString('latin1', 0, z < 0 ? data.length : z);
        if (flag === 0x4c) longName = s;
        else longLink = s;
      }
      if (flag !== 0x67 && metaAt < 0) metaAt = pos;
      pos = dataAt + roundUp(headerSize);
      continue;
    }

    // --- a member ---
    let rawPath = local?.path ?? longName ?? global.path;
    if (rawPath === undefined) {
      rawPath = cstr(b, o, 100);
      if (isPosixUstar(b, o)) {
        const prefix = cstr(b, o + 345, 155);
        if (prefix) rawPath = `${prefix}/${rawPath}`;
      }
    }
    const rawLink = local?.linkpath ?? longLink ?? global.linkpath ?? cstr(b, o + 157, 100);
    const size = local?.size ?? global.size ?? field(124, 12, 'size'); // a PAX size wins, whatever the field holds
    if (!headerOnly) needData(size);

    let type: MemberType | 0 = 0;
    if (flag === 0x30 || flag === 0x37) type = MemberType.File;
    else if (flag === 0) type = rawPath.endsWith('/') ? MemberType.Dir : MemberType.File;
    else if (flag === 0x31) type = MemberType.HardLink;
    else if (flag === 0x32) type = MemberType.Symlink;
    else if (flag === 0x35) type = MemberType.Dir;
    else if (flag === 0x53 /* S */) throw where.error(`has a GNU sparse file ${quotePath(rawPath)}, which is not supported`);

    if (type === 0) {
      m.skipped++;
    } else {
      const path = normalizePath(rawPath);
      if (path === null) throw where.error(`has a hostile path ${quotePath(rawPath)} at byte ${pos}`);
      const long = longComponent(path);
      if (long >= 0) throw where.error(`has a name of ${long} bytes (ENAMETOOLONG: at most 255) in ${quotePath(path)} at byte ${pos}`);
      let link = '';
      if (type === MemberType.HardLink) {
        const t = normalizePath(rawLink);
        if (t === null) throw where.error(`has a hostile hard-link target ${quotePath(rawLink)} at byte ${pos}`);
        if (t === '') throw where.error(`has a hard link ${quotePath(path)} with no target at byte ${pos}`);
        link = t;
      } else if (type === MemberType.Symlink) {
        if (rawLink.includes('\0')) throw where.error(`has a hostile symlink target at byte ${pos}`);
        link = rawLink;
      }
      const uid = local?.uid ?? global.uid ?? field(108, 8, 'uid');
      const gid = local?.gid ?? global.gid ?? field(116, 8, 'gid');
      if (uid < 0 || uid > 0xffffffff || gid < 0 || gid > 0xffffffff) {
        throw where.error(`has an out-of-range uid or gid at byte ${pos}`);
      }
      const i = m.push(type, path, link);
      m.mode[i] = field(100, 8, 'mode') & 0o7777;
      m.uid[i] = uid;
      m.gid[i] = gid;
      m.mtimeNs[i] = clampI64(local?.mtimeNs ?? global.mtimeNs ?? BigInt(field(136, 12, 'mtime')) * NS);
      m.size[i] = type === MemberType.File ? size : 0;
      m.offset[i] = type === MemberType.File ? start + dataAt : 0;
      m.headerAt[i] = pos;
    }
    local = null;
    longName = null;
    longLink = null;
    metaAt = -1;
    pos = dataAt + (headerOnly ? 0 : roundUp(size));
  }
  if (metaAt >= 0) throw where.error(`is truncated at byte ${length}, after the extended header at byte ${metaAt}`);
  return m;
}

/** True if `b` starts with a tar header block (checksum holds) or a zero block (an empty archive). */
export function looksLikeTarHeader(b: Uint8Array): boolean {
  return b.length >= BLOCK && (isZeroBlock(b, 0) || checksumOk(b, 0));
}

/** The length of the first path component over 255 bytes (NAME_MAX), or -1. */
function longComponent(p: string): number {
  if (p.length <= 255) return -1;
  let start = 0;
  for (let i = 0; i <= p.length; i++) {
    if (i < p.length && p.charCodeAt(i) !== 0x2f) continue;
    if (i - start > 255) return i - start;
    start = i + 1;
  }
  return -1;
}

/**
 * Normalises a member path (latin1 string of bytes): strips leading "/" and "./", collapses "//" and
 * "/./", drops a trailing "/", and resolves ".." lexically (as Docker's extraction does). Returns
 * null for a hostile path: one that climbs above the root, or holds a NUL byte.
 */
export function normalizePath(p: string): string | null {
  if (isNormal(p)) return p; // the common case: nothing to do, no allocation
  if (p.includes('\0')) return null;
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length === 0) return null;
      out.pop();
    } else out.push(part);
  }
  return out.join('/');
}

/** True if p is already normal: no NUL, and no empty, "." or ".." component (so no leading/trailing/double "/"). */
function isNormal(p: string): boolean {
  let start = 0;
  for (let i = 0; i <= p.length; i++) {
    const c = i < p.length ? p.charCodeAt(i) : 0x2f;
    if (c === 0) return false;
    if (c !== 0x2f) continue;
    const len = i - start;
    if (len === 0 && p.length !== 0) return false;
    if (len === 1 && p.charCodeAt(start) === 0x2e) return false;
    if (len === 2 && p.charCodeAt(start) === 0x2e && p.charCodeAt(start + 1) === 0x2e) return false;
    start = i + 1;
  }
  return true;
}

const I64_MAX = (1n << 63n) - 1n;
const I64_MIN = -(1n << 63n);

/** Times beyond ±292 years from 1970 are clamped, not wrapped, when stored as int64 nanoseconds. */
function clampI64(v: bigint): bigint {
  return v > I64_MAX ? I64_MAX : v < I64_MIN ? I64_MIN : v;
}

function roundUp(n: number): number {
  return Math.ceil(n / BLOCK) * BLOCK;
}

function isZeroBlock(b: Uint8Array, o: number): boolean {
  for (let i = 0; i < BLOCK; i++) if (b[o + i] !== 0) return false;
  return true;
}

/**
 * The header checksum: the unsigned byte sum with the checksum field counted as spaces (old tars that
 * summed signed bytes are accepted too). When the block is 4-byte aligned, bytes are summed four at a
 * time in two 16-bit lanes (128 words x 2 bytes x 255 < 65536, so a lane never carries).
 */
function checksumOk(b: Uint8Array, o: number, words?: Uint32Array): boolean {
  const want = parseNumber(b, o + 148, 8);
  if (want === null) return false;
  let u = 8 * 0x20;
  if (words !== undefined && words.buffer === b.buffer && b.byteOffset === 0 && (o & 3) === 0) {
    const w0 = o >>> 2;
    let lanes = 0;
    for (let i = 0; i < BLOCK / 4; i++) {
      if (i === 37) i = 39; // bytes 148..155: the checksum field itself
      const x = words[w0 + i];
      lanes += (x & 0xff00ff) + ((x >>> 8) & 0xff00ff);
    }
    u += (lanes & 0xffff) + (lanes >>> 16);
  } else {
    for (let i = 0; i < BLOCK; i++) {
      if (i === 148) i = 156;
      u += b[o + i];
    }
  }
  if (want === u) return true;
  let s = 8 * 0x20;
  for (let i = 0; i < BLOCK; i++) {
    if (i === 148) i = 156;
    const c = b[o + i];
    s += c < 0x80 ? c : c - 0x100;
  }
  return want === s;
}

/** POSIX ustar ("ustar\0"), whose prefix field extends the name; old GNU ("ustar  \0") has none. */
function isPosixUstar(b: Uint8Array, o: number): boolean {
  return b[o + 257] === 0x75 && b[o + 258] === 0x73 && b[o + 259] === 0x74 && b[o + 260] === 0x61 && b[o + 261] === 0x72 && b[o + 262] === 0;
}

/** A NUL-terminated (or field-filling) string as latin1. */
function cstr(b: Buffer, off: number, len: number): string {
  let end = off;
  while (end < off + len && b[end] !== 0) end++;
  return b.toString('latin1', off, end);
}

/**
 * A numeric header field: octal ASCII (leading spaces allowed, ended by space or NUL, empty = 0) or
 * GNU/star base-256 (top bit of the first byte set; two's complement, negative when bit 6 is set).
 * Returns null for garbage or a value beyond 2^53.
 */
export function parseNumber(b: Uint8Array, off: number, len: number): number | null {
  if (b[off] & 0x80) {
    const neg = (b[off] & 0x40) !== 0;
    const inv = neg ? 0xff : 0;
    let x = 0;
    for (let i = 0; i < len; i++) {
      let c = b[off + i] ^ inv;
      if (i === 0) c &= 0x7f;
      x = x * 256 + c;
      if (x > Number.MAX_SAFE_INTEGER) return null;
    }
    return neg ? -x - 1 : x;
  }
  let i = off;
  const end = off + len;
  while (i < end && b[i] === 0x20) i++;
  let x = 0;
  let digits = 0;
  while (i < end && b[i] >= 0x30 && b[i] <= 0x37) {
    x = x * 8 + (b[i] - 0x30);
    digits++;
    i++;
  }
  for (; i < end; i++) if (b[i] !== 0 && b[i] !== 0x20) return null;
  if (digits === 0 && b[off] !== 0 && b[off] !== 0x20) return null;
  return x;
}

/** Parses PAX records ("<len> <key>=<value>\n") into `into`; values stay raw bytes (latin1). */
function parsePax(data: Buffer, into: Pax, at: number, where: Where): void {
  const bad = (): never => {
    throw where.error(`has a malformed PAX header at byte ${at}`);
  };
  let p = 0;
  while (p < data.length) {
    if (data[p] === 0) break; // NUL padding after the last record (some writers)
    let q = p;
    let len = 0;
    while (q < data.length && data[q] >= 0x30 && data[q] <= 0x39 && len <= data.length) len = len * 10 + data[q++] - 0x30;
    if (q === p || data[q] !== 0x20 || p + len > data.length || len < q - p + 3 || data[p + len - 1] !== 0x0a) bad();
    const eq = data.indexOf(0x3d, q + 1);
    if (eq < 0 || eq >= p + len - 1) bad();
    const key = data.toString('latin1', q + 1, eq);
    const value = data.toString('latin1', eq + 1, p + len - 1);
    const int = (): number | undefined => {
      if (value === '') return undefined;
      if (!/^\d{1,16}$/.test(value) || Number(value) > Number.MAX_SAFE_INTEGER) bad();
      return Number(value);
    };
    switch (key) {
      case 'path':
        into.path = value === '' ? undefined : value;
        break;
      case 'linkpath':
        into.linkpath = value === '' ? undefined : value;
        break;
      case 'size':
        into.size = int();
        break;
      case 'uid':
        into.uid = int();
        break;
      case 'gid':
        into.gid = int();
        break;
      case 'mtime': {
        if (value === '') {
          into.mtimeNs = undefined;
          break;
        }
        const t = /^(-?)(\d{1,20})(?:\.(\d*))?$/.exec(value);
        if (!t) bad();
        const ns = BigInt(t![2]) * NS + BigInt((t![3] ?? '').slice(0, 9).padEnd(9, '0'));
        into.mtimeNs = t![1] ? -ns : ns;
        break;
      }
      default:
        if (key.startsWith('GNU.sparse.')) throw where.error(`has a PAX sparse file at byte ${at}, which is not supported`);
    }
    p += len;
  }
}
