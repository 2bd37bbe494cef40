// Talking to a gofer server the way a (compromised) kernel does, for the gofer's tests: requests
// built from 32-bit words and raw bytes in a window of the channel's size, the answer's length (or
// -errno) back, and the window to read the response from.
import { Chan } from '../../gofer/protocol/messages';

export interface Handler {
  handle(id: number, len: number, w: Uint8Array): number;
}

export function wire(server: Handler) {
  const w = new Uint8Array(Chan.Window);
  const dv = new DataView(w.buffer);
  /** Sends message `id` made of `words` (little-endian u32) then `tail`; returns the handler's answer. */
  const send = (id: number, words: number[], tail: Uint8Array = new Uint8Array(0)): number => {
    let off = 0;
    for (const x of words) {
      dv.setUint32(off, x >>> 0, true);
      off += 4;
    }
    w.set(tail, off);
    return server.handle(id, off + tail.length, w);
  };
  return { w, dv, send };
}
