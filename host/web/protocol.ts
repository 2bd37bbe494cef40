// The messages between the page (UI thread) and its two workers, and the shared-memory layouts they
// use. Owns nothing but these shapes; every side validates what it is sent as far as it matters to
// it (the page trusts its own workers: they run its code, not the guest's).
//
// Threads:
//   page (main.ts)           UI only: terminal, line discipline, layer view
//   gofer worker             opens the image (URL or Blob), serves the gofer channel
//   sandbox worker           kernel.wasm + guest processes; blocks in Atomics.wait for stdin
// The gofer and sandbox workers talk only through the gofer channel's SharedArrayBuffer
// (gofer/channel.ts), which the page creates and hands to both.
import type { ImageConfig } from '../../gofer/image/index';

/** How the page names an image to the gofer. */
export type ImageSpec = { kind: 'url'; url: string; name: string } | { kind: 'file'; file: File; name: string };

export interface LayerSummary {
  index: number;
  digest: string;
  compressed: boolean;
  files: number;
}

export type GoferRequest = { sab: SharedArrayBuffer; stats: SharedArrayBuffer; image: ImageSpec };

export type GoferMessage =
  | { type: 'progress'; message: string }
  | { type: 'ready'; config: ImageConfig; layers: LayerSummary[]; format: string; nodes: number; size: number; ms: number }
  | { type: 'error'; message: string };

/** GoferStats SAB (Float64 words, written by the gofer worker, read by the page). */
export const enum GoferStat {
  Requests = 0, // HTTP range requests / file slices read
  Bytes = 1, // bytes fetched from the image source
  Served = 2, // gofer channel requests served
  Words = 3,
}

export type FilestoreKind = 'memory' | 'opfs';

export interface SandboxRequest {
  channel: SharedArrayBuffer;
  tty: SharedArrayBuffer;
  kernelUrl: string;
  config: ImageConfig;
  filestore: FilestoreKind;
  /** OPFS directory for this image's persisted upper layer (filestore 'opfs'). */
  persistKey: string;
  limitBytes: number;
}

/** One entry of the upper layer, as the layer view shows it. */
export interface UpperEntry {
  path: string; // absolute
  kind: 'dir' | 'file' | 'symlink' | 'hardlink' | 'whiteout';
  /** wasmbox.layer's answer: 1 new, 2 copied up, 4 metadata changed, 5 merged dir; 0 for whiteouts and links */
  where: number;
  size: number;
  opaque: boolean;
  target?: string;
}

export interface KernelStats {
  goferCalls: number;
  copyUps: number;
  pagesUsed: number;
  pagesLimit: number;
  inodes: number;
}

export type SandboxMessage =
  | { type: 'out'; fd: number; data: Uint8Array }
  | { type: 'report'; line: string }
  | { type: 'status'; message: string }
  | { type: 'stats'; stats: KernelStats; filestorePages: number }
  /** The shell waits for a line: everything before has run. */
  | { type: 'prompt'; stats: KernelStats; filestorePages: number; upper: UpperEntry[]; upperTotal: number; persisted: string | null }
  /** `filestore`: where file data lives, for the layer view ("OPFS page file (...)", "memory"). */
  | { type: 'started'; ms: number; reattached: string | null; shell: boolean; filestore: string }
  /** The top program ended; `shell`: a new shell starts on the next line (else the sandbox is done). */
  | { type: 'exit'; status: number; shell: boolean }
  | { type: 'export'; tar: Uint8Array }
  | { type: 'fatal'; message: string };

/** What the page can ask of the sandbox; served while the shell waits for input (Tty.Request). */
export const enum Request {
  None = 0,
  Export = 1, // post the upper layer as a tar ({ type: 'export' })
}

// The terminal SAB: an Int32 control block, then a ring of input bytes (the page writes, the
// sandbox reads). Counters are free-running int32s; (head - tail) | 0 is the bytes available.
export const enum Tty {
  Head = 0, // bytes the page has written (page only)
  Tail = 1, // bytes the sandbox has consumed (sandbox only)
  Eof = 2, // pending end-of-input marks (page adds, sandbox takes)
  Intr = 3, // 1: Ctrl-C for the running child (page sets, sandbox clears)
  Reader = 4, // who waits for input: 0 nobody, 1 the top shell, 2 a child (sandbox only)
  OutPending = 5, // output bytes posted and not yet shown (sandbox adds, page subtracts)
  Wake = 6, // bumped (and notified) by the page after any change above
  Request = 7, // a Request for the shell's next wait (page sets, sandbox takes)
  Quit = 8, // 1: the page is about to terminate the sandbox (page sets)
  Closed = 9, // 1: the sandbox has closed its OPFS handles and does nothing more (sandbox sets)
  Pages = 10, // filestore pages backed, kept current while guests run (sandbox sets; the live view)
  Words = 12,
  RingOffset = Words * 4,
  RingSize = 1 << 16,
  Bytes = RingOffset + RingSize,
}

export const enum Reader {
  None = 0,
  Shell = 1,
  Child = 2,
}
