// Capping a guest module's memory (`--memory`): the memory section's maximum is rewritten before the
// module is compiled, so that memory.grow past the cap fails inside the guest (malloc returns NULL,
// as under a ulimit) instead of the host process running out of memory. A module whose declared
// minimum alone is over the cap is refused (MemoryLimitError): it could not start without passing
// it. Only the module's own memory is touched; a module whose memory is imported is left alone (the
// host provides none).
//
// Binary format (WebAssembly core spec 5.5): magic, version, then sections { id u8, size u32 LEB,
// contents }. The memory section (id 5) is vec(limits); limits are 0x00 min | 0x01 min max (LEB u32),
// or with bit 0x02 (shared) / 0x04 (memory64) set.

/** A module whose memory's declared minimum is more than the cap. */
export class MemoryLimitError extends Error {
  constructor(
    readonly minPages: number,
    readonly capPages: number,
  ) {
    super(`its memory starts at ${mib(minPages)}, more than the ${mib(capPages)} left`);
  }
}

const mib = (pages: number) => `${Math.round((pages * 65536) / 2 ** 20)} MiB`;

function readLeb(b: Uint8Array, at: number): [number, number] {
  let v = 0;
  let shift = 0;
  let i = at;
  for (;;) {
    const byte = b[i++];
    if (byte === undefined) throw new Error('truncated LEB128');
    v += (byte & 0x7f) * 2 ** shift;
    shift += 7;
    if (!(byte & 0x80)) break;
    if (shift > 63) throw new Error('LEB128 too long');
  }
  return [v, i];
}

function leb(v: number): number[] {
  const out: number[] = [];
  do {
    let byte = v % 128;
    v = Math.floor(v / 128);
    if (v) byte |= 0x80;
    out.push(byte);
  } while (v);
  return out;
}

/**
 * `bytes` with every defined memory's maximum at most `maxPages` (64 KiB pages); MemoryLimitError if
 * a declared minimum is above it. Malformed input is returned as is (compilation then reports it).
 */
export function capMemory(bytes: Uint8Array, maxPages: number): Uint8Array {
  try {
    if (bytes.length < 8 || bytes[0] !== 0 || bytes[1] !== 0x61 || bytes[2] !== 0x73 || bytes[3] !== 0x6d) return bytes;
    let at = 8;
    while (at < bytes.length) {
      const id = bytes[at];
      const [size, body] = readLeb(bytes, at + 1);
      if (id === 5) {
        let p = body;
        const [count, p1] = readLeb(bytes, p);
        p = p1;
        const out: number[] = [...leb(count)];
        for (let i = 0; i < count; i++) {
          const flags = bytes[p++];
          const [min, p2] = readLeb(bytes, p);
          p = p2;
          let max = Infinity;
          if (flags & 1) {
            const [m, p3] = readLeb(bytes, p);
            max = m;
            p = p3;
          }
          if (flags & 4) return bytes; // memory64: leave alone
          if (min > maxPages) throw new MemoryLimitError(min, maxPages);
          const cap = Math.min(max, maxPages);
          out.push(flags | 1, ...leb(min), ...leb(cap));
        }
        if (p !== body + size) return bytes;
        const section = [5, ...leb(out.length), ...out];
        const res = new Uint8Array(at + section.length + (bytes.length - (body + size)));
        res.set(bytes.subarray(0, at), 0);
        res.set(section, at);
        res.set(bytes.subarray(body + size), at + section.length);
        return res;
      }
      at = body + size;
    }
  } catch (e) {
    if (e instanceof MemoryLimitError) throw e;
    // not well-formed: leave it to the compiler to say so
  }
  return bytes;
}
