// Writing the sandbox's upper layer as an OCI layer tar (`--export-upper FILE`), from the records
// the kernel's export walk produces (kernel/fs/export.ts): directories, files (data streamed through
// read plans), symlinks, hard links, whiteouts as `.wh.NAME`, and opaque directories marked with
// `.wh..wh..opq`. Stacked on the image, the tar reproduces the sandbox's final tree. The file is
// written under a temporary name and renamed into place, so a failed export leaves nothing behind.
import fs from 'node:fs';
import { ExportKind as Kind, Io } from '../../kernel/abi';
import { E } from '../../kernel/wasi/errno';
import type { GuestProcess } from '../sandbox/glue';
import { OPAQUE_MARKER, tarHeader } from './image-writer';
import type { Kernel } from '../sandbox/kernel';

const CHUNK = 1 << 20;

export interface ExportStats {
  entries: number;
  bytes: number;
}

/** Exports the upper layer to `out`. Throws an Error with a one-line message on failure. */
export function exportUpper(kernel: Kernel, proc: GuestProcess, out: string): ExportStats {
  const k = kernel.exports;
  const tmp = `${out}.${process.pid}.tmp`;
  const fd = fs.openSync(tmp, 'w');
  const stats = { entries: 0, bytes: 0 };
  const write = (b: Uint8Array) => {
    fs.writeSync(fd, b);
    stats.bytes += b.length;
  };
  try {
    const fail = (e: number, what: string) => {
      throw new Error(`export of the upper layer failed: ${what} (errno ${e})`);
    };
    let e = k.export_begin();
    if (e) fail(e, 'begin');
    const buf = new Uint8Array(CHUNK);
    for (;;) {
      e = k.export_next();
      if (e) fail(e, 'walk');
      kernel.view();
      const dv = kernel.dv;
      const s = kernel.io + Io.STRUCT;
      if (dv.getUint32(kernel.io + Io.RES, true) === 0) break;
      const kind = dv.getUint32(s, true);
      const flags = dv.getUint32(s + 4, true);
      const mode = dv.getUint32(s + 8, true) & 0o7777;
      const uid = dv.getUint32(s + 12, true);
      const gid = dv.getUint32(s + 16, true);
      const mtime = Number(dv.getBigUint64(s + 24, true)) / 1e9;
      const size = Number(dv.getBigUint64(s + 32, true));
      const pathLen = dv.getUint32(s + 40, true);
      const targetLen = dv.getUint32(s + 44, true);
      if (pathLen === 0 || pathLen + targetLen > Io.DATA_SIZE) fail(E.IO, 'bad record');
      const d = kernel.io + Io.DATA;
      const path = kernel.u8.slice(d, d + pathLen);
      const target = kernel.u8.slice(d + pathLen, d + pathLen + targetLen);
      stats.entries++;
      switch (kind) {
        case Kind.DIR:
          write(tarHeader({ path, type: 'dir', mode, uid, gid, mtime }));
          if (flags & 1) {
            const marker = OPAQUE_MARKER;
            const opq = new Uint8Array(pathLen + marker.length);
            opq.set(path);
            opq.set(marker, pathLen);
            write(tarHeader({ path: opq, type: 'file', mode: 0o644, mtime }));
          }
          break;
        case Kind.FILE: {
          write(tarHeader({ path, type: 'file', mode, uid, gid, mtime, sizeField: size }));
          let off = 0;
          while (off < size) {
            const want = Math.min(CHUNK, size - off);
            const n = proc.readPlanned(() => k.export_read(BigInt(off), want), buf, 0, want);
            if (n < 0) fail(-n, 'read');
            if (n === 0) fail(E.IO, 'short file');
            write(buf.subarray(0, n));
            off += n;
          }
          const pad = (512 - (size % 512)) % 512;
          if (pad) write(new Uint8Array(pad));
          break;
        }
        case Kind.SYMLINK:
          write(tarHeader({ path, type: 'symlink', linkname: target, mode, uid, gid, mtime }));
          break;
        case Kind.HARDLINK:
          write(tarHeader({ path, type: 'hardlink', linkname: target, mode, uid, gid, mtime }));
          break;
        case Kind.WHITEOUT:
          write(tarHeader({ path, type: 'file', mode: 0o644 }));
          break;
        default:
          fail(E.IO, `unknown record kind ${kind}`);
      }
    }
    write(new Uint8Array(1024));
    fs.closeSync(fd);
    fs.renameSync(tmp, out);
    return stats;
  } catch (err) {
    try {
      fs.closeSync(fd);
    } catch {}
    fs.rmSync(tmp, { force: true });
    throw err;
  }
}
