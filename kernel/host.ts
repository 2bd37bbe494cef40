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
