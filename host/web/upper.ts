// The sandbox's upper layer, seen from the host (trusted): listed for the layer view, saved as an
// OCI layer tar, and written back into a fresh sandbox (the OPFS "reattach").
//
// Listing and saving read the kernel's export walk (kernel/fs/export.ts; the records host/image/export.ts
// turns into `--export-upper` tars): directories, files, symlinks, hard links, whiteouts, opaque
// directories. The saved tar has exactly host/image/export.ts's format (`.wh.NAME` whiteouts,
// `.wh..wh..opq` markers, PAX for long names), so it is also a layer any OCI tool can stack on the
// image. Restoring replays it through the agent's WASI calls (agent.ts), in tar order (parents
// first): a whiteout removes the lower object, an opaque marker empties the directory of its lower
// entries, a file is created or truncated (a lower file is thereby copied up) and written, and the
// saved mtimes are set last, directories deepest first. What WASI cannot set is not restored: uid,
// gid and permission bits (files the sandbox created have the default mode anyway, and copied-up
// files keep the image's).
//
// Runs only where no kernel call is in progress (the agent's rule).
import { ExportKind as Kind, Io } from '../../kernel/abi';
import { E } from '../../kernel/wasi/errno';
import { Where } from '../../gofer/image/errors';
import { registerSource, releaseDescriptor, readAt, type Source } from '../../gofer/image/io';
import { MemberType, indexTar } from '../../gofer/image/tar';
import { OPAQUE_MARKER, tarHeader } from '../image/image-writer';
import { AGENT_DATA, Agent, O_CREAT, O_TRUNC, join } from '../sandbox/agent';
import type { UpperEntry } from './protocol';

export interface ExportRecord {
  kind: number;
  opaque: boolean;
  mode: number;
  uid: number;
  gid: number;
  mtimeNs: bigint;
  size: number;
  path: Uint8Array; // relative: "etc/motd"
  target: Uint8Array; // symlink target, or a hard link's first path
}

/**
 * Walks the export records; `each` sees every record (and may read a FILE's data with
 * agent.proc.readPlanned + export_read before returning). Throws on a kernel error.
 */
export function walkUpper(agent: Agent, each: (r: ExportRecord) => void): void {
  const kernel = agent.kernel;
  const k = kernel.exports;
  let e = k.export_begin();
  if (e) throw new Error(`export walk: begin failed (errno ${e})`);
  for (;;) {
    e = k.export_next();
    if (e) throw new Error(`export walk failed (errno ${e})`);
    kernel.view();
    const dv = kernel.dv;
    if (dv.getUint32(kernel.io + Io.RES, true) === 0) return;
    const s = kernel.io + Io.STRUCT;
    const pathLen = dv.getUint32(s + 40, true);
    const targetLen = dv.getUint32(s + 44, true);
    if (pathLen === 0 || pathLen + targetLen > Io.DATA_SIZE) throw new Error('export walk: bad record');
    const d = kernel.io + Io.DATA;
    each({
      kind: dv.getUint32(s, true),
      opaque: (dv.getUint32(s + 4, true) & 1) !== 0,
      mode: dv.getUint32(s + 8, true) & 0o7777,
      uid: dv.getUint32(s + 12, true),
      gid: dv.getUint32(s + 16, true),
      mtimeNs: dv.getBigUint64(s + 24, true),
      size: Number(dv.getBigUint64(s + 32, true)),
      path: kernel.u8.slice(d, d + pathLen),
      target: kernel.u8.slice(d + pathLen, d + pathLen + targetLen),
    });
  }
}

const dec = new TextDecoder();
const KIND_NAMES: Record<number, UpperEntry['kind']> = {
  [Kind.DIR]: 'dir',
  [Kind.FILE]: 'file',
  [Kind.SYMLINK]: 'symlink',
  [Kind.HARDLINK]: 'hardlink',
  [Kind.WHITEOUT]: 'whiteout',
};

/**
 * The upper layer for the layer view: at most `max` entries (and the total), each with the layer
 * wasmbox.layer reports, plus a signature of the whole listing (changes when anything in it does).
 */
export function listUpper(agent: Agent, max: number): { entries: UpperEntry[]; total: number; signature: string } {
  const records: ExportRecord[] = [];
  let total = 0;
  let h1 = 0x811c9dc5;
  let h2 = 0;
  const mix = (x: number) => {
    h1 = Math.imul(h1 ^ x, 0x01000193);
    h2 = (h2 + h1 + x) | 0;
  };
  walkUpper(agent, (r) => {
    total++;
    for (const b of r.path) mix(b);
    for (const b of r.target) mix(b);
    mix(r.kind | (r.opaque ? 16 : 0));
    mix(r.size | 0);
    mix(Number(r.mtimeNs % 1000000007n));
    mix(r.mode);
    if (records.length < max) records.push(r);
  });
  // layer queries only after the walk: lookups may load directories the walk is iterating
  const entries = records.map((r): UpperEntry => {
    // a whiteout's record names the marker ("etc/.wh.motd"); the view shows what it hides
    let path = '/' + dec.decode(r.path);
    if (r.kind === Kind.WHITEOUT) path = path.replace(/\/\.wh\.([^/]*)$/, '/$1');
    const kind = KIND_NAMES[r.kind] ?? 'file';
    const where = kind === 'whiteout' || kind === 'hardlink' ? 0 : Math.max(0, agent.layer(r.path));
    const e: UpperEntry = { path, kind, where, size: r.size, opaque: r.opaque };
    if (r.target.length) e.target = (kind === 'hardlink' ? '/' : '') + dec.decode(r.target);
    return e;
  });
  return { entries, total, signature: `${total}:${(h1 >>> 0).toString(16)}:${(h2 >>> 0).toString(16)}` };
}


/** Writes the upper layer as an OCI layer tar to `sink` (in order); returns its byte count. */
export function saveUpper(agent: Agent, sink: (b: Uint8Array) => void): number {
  const k = agent.kernel.exports;
  let bytes = 0;
  const write = (b: Uint8Array) => {
    sink(b);
    bytes += b.length;
  };
  const buf = new Uint8Array(1 << 20);
  walkUpper(agent, (r) => {
    const { path, mode, uid, gid } = r;
    const mtime = Number(r.mtimeNs) / 1e9;
    switch (r.kind) {
      case Kind.DIR:
        write(tarHeader({ path, type: 'dir', mode, uid, gid, mtime }));
        if (r.opaque) {
          const opq = new Uint8Array(path.length + OPAQUE_MARKER.length);
          opq.set(path);
          opq.set(OPAQUE_MARKER, path.length);
          write(tarHeader({ path: opq, type: 'file', mode: 0o644, mtime }));
        }
        break;
      case Kind.FILE: {
        write(tarHeader({ path, type: 'file', mode, uid, gid, mtime, sizeField: r.size }));
        for (let off = 0; off < r.size; ) {
          const want = Math.min(buf.length, r.size - off);
          const n = agent.proc.readPlanned(() => k.export_read(BigInt(off), want), buf, 0, want);
          if (n <= 0) throw new Error(`export: cannot read /${dec.decode(path)} (errno ${n < 0 ? -n : E.IO})`);
          write(buf.slice(0, n));
          off += n;
        }
        const pad = (512 - (r.size % 512)) % 512;
        if (pad) write(new Uint8Array(pad));
        break;
      }
      case Kind.SYMLINK:
        write(tarHeader({ path, type: 'symlink', linkname: r.target, mode, uid, gid, mtime }));
        break;
      case Kind.HARDLINK:
        write(tarHeader({ path, type: 'hardlink', linkname: r.target, mode, uid, gid, mtime }));
        break;
      case Kind.WHITEOUT: // the record's path is already the whiteout's: "dir/.wh.NAME"
        write(tarHeader({ path, type: 'file', mode: 0o644 }));
        break;
      default:
        throw new Error(`export: unknown record kind ${r.kind}`);
    }
  });
  write(new Uint8Array(1024));
  return bytes;
}

function latin1Bytes(s: string): Uint8Array {
  const b = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) b[i] = s.charCodeAt(i);
  return b;
}

/**
 * Replays a saved upper layer (a tar in `source`) into the sandbox. Returns the number of members
 * applied; throws with a one-line message on the first failure (the caller starts clean then).
 */
export function restoreUpper(agent: Agent, source: Source): number {
  const fd = registerSource(source);
  try {
    const m = indexTar(fd, 0, source.size, new Where('upper.tar', 'saved upper layer'));
    const dirTimes: [Uint8Array, bigint][] = [];
    const fileTimes: [Uint8Array, bigint][] = [];
    const fail = (what: string, p: Uint8Array, e: number) => {
      throw new Error(`${what} /${dec.decode(p)}: errno ${e}`);
    };
    const data = agent.data();
    for (let i = 0; i < m.count; i++) {
      const path = latin1Bytes(m.path[i]);
      const slash = path.lastIndexOf(0x2f);
      const base = dec.decode(path.subarray(slash + 1));
      const parent = path.subarray(0, Math.max(0, slash));
      if (base === '.wh..wh..opq') {
        // an opaque directory: it hides every lower entry (its own entries follow in the tar)
        const names = agent.list(parent.length ? parent : new Uint8Array([0x2f]));
        if (typeof names === 'number') fail('opaque', parent, -names);
        else for (const n of names) {
          const e = agent.remove(parent.length ? join(parent, n) : n);
          if (e) fail('opaque', parent, e);
        }
        continue;
      }
      if (base.startsWith('.wh.')) {
        const victim = new Uint8Array(path.length - 4);
        victim.set(path.subarray(0, slash + 1));
        victim.set(path.subarray(slash + 5), slash + 1);
        const e = agent.remove(victim);
        if (e) fail('whiteout', victim, e);
        continue;
      }
      let e = 0;
      switch (m.type[i]) {
        case MemberType.Dir: {
          const t = agent.filetype(path);
          if (t >= 0 && t !== 3) agent.remove(path);
          if (t !== 3) e = agent.mkdir(path);
          dirTimes.push([path, m.mtimeNs[i]]);
          break;
        }
        case MemberType.File: {
          const t = agent.filetype(path);
          if (t >= 0 && t !== 4) agent.remove(path);
          const f = agent.open(path, O_CREAT | O_TRUNC);
          if (f < 0) fail('create', path, -f);
          try {
            for (let off = 0; off < m.size[i]; ) {
              const n = Math.min(AGENT_DATA, m.size[i] - off);
              if (readAt(fd, data, 0, n, m.offset[i] + off) < n) fail('read saved', path, E.IO);
              e = agent.writeData(f, n);
              if (e) break;
              off += n;
            }
          } finally {
            agent.close(f);
          }
          fileTimes.push([path, m.mtimeNs[i]]);
          break;
        }
        case MemberType.Symlink:
          agent.remove(path);
          e = agent.symlink(latin1Bytes(m.link[i]), path);
          fileTimes.push([path, m.mtimeNs[i]]);
          break;
        case MemberType.HardLink:
          agent.remove(path);
          e = agent.link(latin1Bytes(m.link[i]), path);
          break;
      }
      if (e) fail('restore', path, e);
    }
    for (const [p, t] of fileTimes) agent.setMtime(p, t);
    dirTimes.sort((a, b) => b[0].length - a[0].length);
    for (const [p, t] of dirTimes) agent.setMtime(p, t);
    return m.count;
  } finally {
    releaseDescriptor(fd);
  }
}
