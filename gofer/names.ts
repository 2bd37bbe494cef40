// Name checks shared by every gofer handler: a name in a request is one path component.

/** Checks a single path component: 1..255 bytes, not "." or "..", no '/' and no NUL. */
export function validName(b: Uint8Array, off: number, len: number): boolean {
  if (len === 0 || len > 255) return false;
  if (b[off] === 0x2e && (len === 1 || (len === 2 && b[off + 1] === 0x2e))) return false;
  for (let i = off; i < off + len; i++) {
    const c = b[i];
    if (c === 0x2f || c === 0) return false;
  }
  return true;
}
