// The persisted upper layer in the Origin Private File System (trusted, sandbox worker only), and
// the OPFS helpers the page file shares (syncHandle, imageDir).
//
// With `?fs=opfs`, what lives where:
//   - file data of the running sandbox: the OPFS page file <key>/pages (filestore-opfs.ts), read
//     and written by the glue page by page; not in the worker's memory;
//   - the kernel's inode tree (names, directories, metadata, which page belongs to which file): the
//     kernel's memory in the sandbox worker, so it ends with the worker;
//   - the upper layer as a whole: an OCI layer tar here, saved each time the shell waits for a
//     command (if anything changed) and replayed into the next sandbox for the same image.
// The page file cannot be reattached by itself (without the inode tree its pages are anonymous), so
// a reload starts an empty page file and the replay writes the saved files into it. The kernel
// already knows how to express its upper layer (its export walk, upper.ts), which is why the tar,
// not a dump of kernel memory, is what outlives the page.
//
// Layout: <OPFS root>/wasmbox/<key>/ upper-0.tar, upper-1.tar (two slots: a save writes the slot
// not in use, flushes it, then flips state.json, so a crash mid-save keeps the previous layer),
// state.json { slot, bytes, signature, savedAt, entries }, and the page file `pages`. The page
// forgets a saved layer by removing the directory (main.ts, reset), after this worker has closed
// its handles.
// All handles are FileSystemSyncAccessHandles opened up front (opening is asynchronous; the worker
// is blocked in the guest afterwards), so saving, loading and page I/O are synchronous.
import type { Source } from '../../gofer/image/io';

export interface SyncHandle {
  read(buf: Uint8Array, opts?: { at?: number }): number;
  write(buf: Uint8Array, opts?: { at?: number }): number;
  truncate(size: number): void;
  getSize(): number;
  flush(): void;
  close(): void;
}

interface FileHandleWithSync extends FileSystemFileHandle {
  createSyncAccessHandle(): Promise<SyncHandle>;
}

export interface SavedState {
  slot: number;
  bytes: number;
  signature: string;
  savedAt: number;
  entries: number;
}

/** A sync access handle on `name` in `dir` (created if missing), waiting a while for a lock. */
export async function syncHandle(dir: FileSystemDirectoryHandle, name: string): Promise<SyncHandle> {
  const fh = (await dir.getFileHandle(name, { create: true })) as FileHandleWithSync;
  // A reload may start this worker before the old one has released its locks: retry for a while.
  for (let i = 0; ; i++) {
    try {
      return await fh.createSyncAccessHandle();
    } catch (e) {
      if (i >= 40) throw new Error(`OPFS: ${name} is in use (another tab with the same image?)`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** The image's directory, <OPFS root>/wasmbox/<key> (created if missing). */
export async function imageDir(key: string): Promise<FileSystemDirectoryHandle> {
  const root = await navigator.storage.getDirectory();
  const top = await root.getDirectoryHandle('wasmbox', { create: true });
  return top.getDirectoryHandle(key, { create: true });
}

const STATE_BYTES = 512;

class HandleSource implements Source {
  constructor(
    private readonly h: SyncHandle,
    readonly size: number,
  ) {}
  read(into: Uint8Array, at: number, length: number, position: number): number {
    if (position >= this.size) return 0;
    const n = Math.min(length, this.size - position);
    return this.h.read(into.subarray(at, at + n), { at: position });
  }
  close(): void {}
}

export class UpperStore {
  private constructor(
    private readonly slots: SyncHandle[],
    private readonly stateFile: SyncHandle,
    public state: SavedState | null,
  ) {}

  static async open(dir: FileSystemDirectoryHandle): Promise<UpperStore> {
    const handles: SyncHandle[] = [];
    try {
      for (const name of ['upper-0.tar', 'upper-1.tar', 'state.json']) handles.push(await syncHandle(dir, name));
    } catch (e) {
      for (const h of handles) h.close();
      throw e;
    }
    const stateFile = handles[2];
    let state: SavedState | null = null;
    try {
      const n = stateFile.getSize();
      if (n > 0 && n <= STATE_BYTES) {
        const b = new Uint8Array(n);
        stateFile.read(b, { at: 0 });
        const s = JSON.parse(new TextDecoder().decode(b)) as SavedState;
        if ((s.slot === 0 || s.slot === 1) && s.bytes <= handles[s.slot].getSize()) state = s;
      }
    } catch {
      state = null; // a torn or foreign state file: start clean
    }
    return new UpperStore(handles.slice(0, 2), stateFile, state);
  }

  /** The saved layer tar, or null. */
  saved(): Source | null {
    if (!this.state || this.state.bytes === 0) return null;
    return new HandleSource(this.slots[this.state.slot], this.state.bytes);
  }

  /** Saves a new layer: `produce` writes the tar through the sink it is given. */
  save(signature: string, entries: number, produce: (sink: (b: Uint8Array) => void) => void): SavedState {
    const slot = this.state ? 1 - this.state.slot : 0;
    const h = this.slots[slot];
    let at = 0;
    h.truncate(0);
    produce((b) => {
      for (let done = 0; done < b.length; ) done += h.write(b.subarray(done), { at: at + done });
      at += b.length;
    });
    h.flush();
    const state: SavedState = { slot, bytes: at, signature, savedAt: Date.now(), entries };
    this.writeState(state);
    this.state = state;
    return state;
  }

  /** One write of a fixed-size record (JSON padded with spaces), never a truncate: no empty moment. */
  private writeState(s: SavedState): void {
    const b = new Uint8Array(STATE_BYTES).fill(0x20);
    b.set(new TextEncoder().encode(JSON.stringify(s)));
    this.stateFile.write(b, { at: 0 });
    this.stateFile.flush();
  }

  close(): void {
    for (const h of [...this.slots, this.stateFile]) {
      try {
        h.close();
      } catch {}
    }
  }
}
