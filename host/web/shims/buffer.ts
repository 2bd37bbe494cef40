// Browser shim (injected by host/web/build.mjs as the global `Buffer`): the few Buffer methods the
// image reader uses (gofer/image: alloc, allocUnsafe, from(ArrayBuffer | latin1 string),
// toString('latin1' | 'utf8', start, end), write(string, offset, 'latin1')). Everything else is
// plain Uint8Array. Not a general Buffer: a call outside this set is a bug and throws.

const utf8 = new TextDecoder();

function latin1(b: Uint8Array, start: number, end: number): string {
  let s = '';
  for (let i = start; i < end; i += 8192) s += String.fromCharCode.apply(null, b.subarray(i, Math.min(end, i + 8192)) as unknown as number[]);
  return s;
}

class BrowserBuffer extends Uint8Array {
  toString(enc = 'utf8', start = 0, end = this.length): string {
    end = Math.min(end, this.length);
    if (enc === 'latin1' || enc === 'binary') return latin1(this, start, end);
    if (enc === 'utf8' || enc === 'utf-8') return utf8.decode(this.subarray(start, end));
    throw new Error(`Buffer.toString(${enc}) is not available in the browser`);
  }

  write(s: string, offset = 0, enc = 'utf8'): number {
    if (enc !== 'latin1' && enc !== 'binary') throw new Error(`Buffer.write(${enc}) is not available in the browser`);
    const n = Math.min(s.length, this.length - offset);
    for (let i = 0; i < n; i++) this[offset + i] = s.charCodeAt(i);
    return n;
  }
}

// The static side differs from Uint8Array's (from() takes a string and an encoding), so it is
// assigned rather than declared.
export const Buffer = Object.assign(BrowserBuffer, {
  alloc: (n: number) => new BrowserBuffer(n),
  allocUnsafe: (n: number) => new BrowserBuffer(n),
  isBuffer: (v: unknown) => v instanceof BrowserBuffer,
  from(v: ArrayBuffer | string, enc?: string): BrowserBuffer {
    if (v instanceof ArrayBuffer) return new BrowserBuffer(v);
    if (typeof v === 'string' && (enc === 'latin1' || enc === 'binary')) {
      const b = new BrowserBuffer(v.length);
      for (let i = 0; i < v.length; i++) b[i] = v.charCodeAt(i);
      return b;
    }
    throw new Error(`Buffer.from(${typeof v}, ${enc}) is not available in the browser`);
  },
});
