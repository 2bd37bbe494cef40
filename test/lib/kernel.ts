// Stand-in kernels for the glue's tests: the views of a Kernel (host/sandbox/kernel.ts) that the
// glue reads, over a plain buffer with the exchange area at a chosen place.
import { Io } from '../../kernel/abi';

/** io, u8, u32, dv, view() and structViews of a Kernel over `u8`, its exchange area at `io`. */
export function kernelViews(u8: Uint8Array, io: number) {
  return {
    io,
    u8,
    u32: new Uint32Array(u8.buffer),
    dv: new DataView(u8.buffer),
    view: () => u8,
    structViews: Array.from({ length: 65 }, (_, n) => new Uint8Array(u8.buffer, io + Io.STRUCT, n)),
  };
}

/** A gofer transport that serves no requests, only the given in-thread host I/O. */
export function hostIOOnly(hostIO: (write: boolean, handle: number, pos: number, buf: Uint8Array, off: number, len: number) => number) {
  return {
    window: new Uint8Array(4096),
    call: (): number => {
      throw new Error('no gofer requests in this test');
    },
    hostIO,
  };
}
