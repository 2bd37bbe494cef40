// The OPFS filestore (trusted, sandbox worker only): the browser's host-backed filestore, as memfd
// and dir= are Node's (host/filestore/filestore-file.ts). The upper layer's file data lives in one file of the
// Origin Private File System, <OPFS root>/wasmbox/<key>/pages, through one FileSystemSyncAccessHandle
// opened up front (opening is asynchronous; every call after it is synchronous, as the kernel's
// imports must be). The worker's memory holds no page of it.
//
// Direct-only (Filestore.direct): OPFS cannot be mapped, so there are no chunk views; the glue and
// the kernel imports check every range with directInBounds (host/filestore/filestore.ts) and then call
// readDirect / writeDirect / zeroDirect here, which trust that check. Page p is bytes
// [p*4096, +4096) of the file, and the file is always exactly `pages` pages long.
//
//   grow     truncate larger; the new bytes read as zeros
//   release  write zeros over the released pages (OPFS cannot punch holes): one write per run of
//            adjacent pages, from one zero buffer that is reused
//   shrink   truncate
//   limit    the smaller of the page's limit and a third of the origin's free quota
//            (navigator.storage.estimate()): the saved layer tars (persist.ts) need room beside it
//   close    truncate to nothing, then close: the pages mean nothing without the kernel's inode tree,
//            which ends with the worker (the upper layer outlives it as a tar, persist.ts)
// Invariant (the kernel allocator's): free pages, and pages the file grows by, read as zeros.
//
// Errors: a truncate that fails leaves the size as it was (grow returns the old count: the kernel
// answers ENOSPC); a read or write that fails throws an Error whose `code` is an errno name (ENOSPC
// for a full quota, EIO otherwise), which the glue turns into the guest's errno; in release() and
// zeroDirect() (kernel imports with no errno to return) it ends the sandbox, since free pages that
// do not read as zeros would break the allocator. The file is emptied when opened: a worker
// terminated while busy leaves its pages behind.
import { Page } from '../../kernel/abi';
import type { Filestore } from '../filestore/filestore';
import { syncHandle, type SyncHandle } from './persist';

/** The page file's name in the image's OPFS directory. */
export const PAGE_FILE = 'pages';
/** The zero buffer's largest size: the kernel releases pages in batches of 256 (1 MiB). */
const ZERO_MAX = 256 * Page.SIZE;

function errnoError(e: unknown, what: string): Error {
  const name = (e as DOMException)?.name;
  const err = new Error(`OPFS filestore: ${what}: ${(e as Error)?.message ?? e}`) as Error & { code: string };
  err.code = name === 'QuotaExceededError' ? 'ENOSPC' : 'EIO';
  return err;
}

export class OpfsFilestore implements Filestore {
  readonly kind = 'opfs';
  readonly direct = true;
  readonly limitPages: number;
  /** Pages backed: the file's size / 4096 (changed only by grow, shrink and close). */
  pages = 0;
  /** Why the limit is what it is, for the layer view. */
  readonly limitNote: string;
  /** zeroDirect and release write from here; grown on demand up to ZERO_MAX, never shrunk. */
  private zeros = new Uint8Array(Page.SIZE);
  private closed = false;

  private constructor(
    private readonly h: SyncHandle,
    limitBytes: number,
    limitNote: string,
  ) {
    this.limitPages = Math.max(0, Math.floor(limitBytes / Page.SIZE));
    this.limitNote = limitNote;
  }

  /** Opens (creating, then emptying) the page file in `dir`, limited to `limitBytes` and the quota. */
  static async open(dir: FileSystemDirectoryHandle, limitBytes: number): Promise<OpfsFilestore> {
    const h = await syncHandle(dir, PAGE_FILE);
    try {
      h.truncate(0);
      h.flush();
      let limit = limitBytes;
      let note = 'set by the page';
      const est = await navigator.storage.estimate().catch(() => ({}) as StorageEstimate);
      if (typeof est.quota === 'number') {
        const share = Math.floor(Math.max(0, est.quota - (est.usage ?? 0)) / 3);
        if (share < limit) {
          limit = share;
          note = 'a third of the free OPFS quota';
        }
      }
      return new OpfsFilestore(h, limit, note);
    } catch (e) {
      h.close();
      throw e;
    }
  }

  chunk(): undefined {
    return undefined;
  }

  grow(pages: number): number {
    if (this.closed) return this.pages;
    pages = Math.min(Math.max(0, Math.floor(pages)), this.limitPages);
    if (!(pages > this.pages)) return this.pages;
    try {
      this.h.truncate(pages * Page.SIZE);
    } catch {
      return this.pages; // quota: the kernel reports ENOSPC
    }
    this.pages = pages;
    return pages;
  }

  release(list: Uint32Array): void {
    if (this.closed) return;
    const n = list.length;
    for (let i = 0; i < n; ) {
      const p = list[i];
      let run = 1;
      if (p < this.pages) {
        while (i + run < n && list[i + run] === p + run && p + run < this.pages) run++;
        this.zeroBytes(p * Page.SIZE, run * Page.SIZE, 'release');
      }
      i += run;
    }
  }

  shrink(pages: number): number {
    if (this.closed) return this.pages;
    pages = Math.max(0, Math.floor(pages));
    if (pages >= this.pages) return this.pages;
    try {
      this.h.truncate(pages * Page.SIZE);
    } catch {
      return this.pages;
    }
    this.pages = pages;
    return pages;
  }

  readDirect(page: number, off: number, dst: Uint8Array, dstOff: number, len: number): void {
    this.transfer(false, page * Page.SIZE + off, dst, dstOff, len);
  }

  writeDirect(page: number, off: number, src: Uint8Array, srcOff: number, len: number): void {
    this.transfer(true, page * Page.SIZE + off, src, srcOff, len);
  }

  /** Reads or writes buf[bufOff, +len) at byte `at` of the page file, to the end (a short call is an error). */
  private transfer(write: boolean, at: number, buf: Uint8Array, bufOff: number, len: number): void {
    const what = write ? 'write' : 'read';
    let done = 0;
    while (done < len) {
      let n: number;
      try {
        const part = buf.subarray(bufOff + done, bufOff + len);
        n = write ? this.h.write(part, { at: at + done }) : this.h.read(part, { at: at + done });
      } catch (e) {
        throw errnoError(e, what);
      }
      if (!(n > 0)) throw errnoError(`short ${what}`, what);
      done += n;
    }
  }

  zeroDirect(page: number, off: number, len: number): void {
    this.zeroBytes(page * Page.SIZE + off, len, 'zero');
  }

  /** Writes `len` zero bytes at file offset `at`: one write when len <= ZERO_MAX. */
  private zeroBytes(at: number, len: number, what: string): void {
    if (this.zeros.length < Math.min(len, ZERO_MAX)) this.zeros = new Uint8Array(Math.min(ZERO_MAX, Math.max(len, this.zeros.length * 2)));
    for (let done = 0; done < len; ) {
      const n = Math.min(len - done, this.zeros.length);
      let w: number;
      try {
        w = this.h.write(n === this.zeros.length ? this.zeros : this.zeros.subarray(0, n), { at: at + done });
      } catch (e) {
        throw errnoError(e, what);
      }
      if (!(w > 0)) throw errnoError('short write', what);
      done += w;
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.pages = 0;
    try {
      this.h.truncate(0);
    } catch {}
    try {
      this.h.close();
    } catch {}
  }
}
