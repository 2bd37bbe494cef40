// The kernel's imports: everything it asks of the (trusted) host. The host checks every argument;
// the kernel must cope with every failure these return.

/**
 * One synchronous gofer request. The request payload is kernel memory [req, req+reqLen); the
 * response payload is copied to [resp, resp+respCap). Returns the response length (>= 0), or a
 * negated WASI errno: the gofer's answer, or EIO if the gofer is gone, or MSGSIZE if the response
 * did not fit.
 */
@external("host", "gofer_call")
export declare function gofer_call(id: u32, req: usize, reqLen: u32, resp: usize, respCap: u32): i32;

/** Makes the filestore at least `pages` pages long. Returns the new length in pages (less than asked: out of space). */
@external("host", "fs_grow")
export declare function fs_grow(pages: u32): u32;

/** Copies kernel memory [src, src+len) to filestore byte page*4096+off. Returns 0 or an errno (NOSPC). */
@external("host", "fs_write")
export declare function fs_write(page: u32, off: u32, src: usize, len: u32): u32;

/** Zeroes filestore bytes [page*4096+off, +len). */
@external("host", "fs_zero")
export declare function fs_zero(page: u32, off: u32, len: u32): void;

/** Shrinks the filestore to `pages` pages (all pages above are free). Returns the new length in pages. */
@external("host", "fs_shrink")
export declare function fs_shrink(pages: u32): u32;

/** Gives back freed pages (a u32 array of page numbers): the host zeroes them or punches them out. */
@external("host", "fs_release")
export declare function fs_release(pages: usize, count: u32): void;

/** The last fd of host stream `id` (a pipe end, id >= Stream.FIRST_PIPE) has been closed. */
@external("host", "stream_release")
export declare function stream_release(id: u32): void;

/** Wall-clock time in microseconds since the Unix epoch (f64, to avoid a BigInt per call). */
@external("host", "now_us")
export declare function now_us(): f64;

/** Reports a kernel bug (an assertion or abort) before the kernel traps. */
@external("host", "kernel_panic")
export declare function kernel_panic(msg: usize, msgLen: u32, file: usize, fileLen: u32, line: u32, col: u32): void;

// @ts-ignore: decorator
@inline export function nowNs(): u64 {
  return <u64>now_us() * 1000;
}

// COARSE TIME. An inode's times are stamped as Linux stamps them on a file system with multigrain
// timestamps (ext4, xfs, btrfs, tmpfs since 6.13, so overlay2's upper): with the coarse clock (the
// last timer tick's time) unless someone has read the inode's times since they last changed, in
// which case with the fine clock, so that a change after a stat is seen as one: a fine stamp is
// later than every stamp before it, a coarse one never earlier than a fine one before it. The
// coarse clock here is a u64 of ns at CLOCK, which a host thread refreshes every millisecond
// (native/wasmbox_native.c, "A coarse clock"); the kernel sets the u32 after it whenever it takes
// it, and the host stops ticking (and stores 0) after 256 ticks without. Where it is 0 (no such
// thread: a browser, no addon, or parked) the fine clock is the host's now_us, a call out of the
// kernel (~50 ns), as for every stamp before.
const CLOCK: usize = memory.data(16, 8);
/** The latest fine stamp handed out, and the latest stamp of either kind. */
let fineFloor: u64 = 0;
let latest: u64 = 0;

/** Where the host keeps the coarse clock (COARSE TIME). */
export function clockSlot(): usize {
  return CLOCK;
}

/** A fine stamp: now from the host's clock (ns), but later than every stamp handed out before. */
export function fineNs(): u64 {
  let t = <u64>now_us() * 1000;
  if (t <= latest) t = latest + 1;
  fineFloor = t;
  latest = t;
  return t;
}

/** The coarse clock (ns), marked as taken; 0 where there is none (COARSE TIME). */
// @ts-ignore: decorator
@inline function coarseTaken(): u64 {
  const c = load<u64>(CLOCK);
  if (c != 0) store<u32>(CLOCK, 1, 8);
  return c;
}

/** Now for cache validity (a remote inode's), in ns: the coarse clock where there is one, else the host's. */
// @ts-ignore: decorator
@inline export function coarseNs(): u64 {
  const c = coarseTaken();
  return c != 0 ? c : nowNs();
}

/** Now for changing inode times (COARSE TIME): fine if `queried` (their times were read), else coarse where there is a coarse clock. */
// @ts-ignore: decorator
@inline export function stampNs(queried: bool): u64 {
  const c = queried ? 0 : coarseTaken();
  if (c == 0) return fineNs();
  const s = c > fineFloor ? c : fineFloor;
  if (s > latest) latest = s;
  return s;
}
