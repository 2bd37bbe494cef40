// ImageError and the one way image problems are worded. Owns: the error class openImage throws for
// every bad input, and `Where`, which names the part of an image a problem is in.
// Invariants: every ImageError message is ONE line (paths and tool messages are escaped and clipped)
// and reads `<file>: <subject> <predicate>`, e.g.
//   image.tar: layer 2 (sha256:ab12cd34ef56…) is truncated at byte 81920
// Layer numbers are the same 0-based indices as LayerInfo.index and LowerTree.layer() (0 = bottom).
// Byte positions are relative to the start of the tar stream being read (the layer, or the archive).

export class ImageError extends Error {
  override name = 'ImageError';
}

/** Names the archive or layer a problem is in; `fail` builds the error. */
export class Where {
  constructor(
    readonly file: string, // base name of the image file the user gave
    readonly subject: string, // "archive", "layer 2 (sha256:ab12…)", "manifest.json", ...
  ) {}

  error(predicate: string): ImageError {
    return new ImageError(oneLine(`${this.file}: ${this.subject} ${predicate}`));
  }
}

/** "sha256:0123456789ab…" for messages; "" stays "". */
export function shortDigest(digest: string): string {
  const i = digest.indexOf(':');
  if (i < 0 || digest.length <= i + 13) return digest;
  return `${digest.slice(0, i + 13)}…`;
}

/** The subject of a layer in messages: "layer 2 (sha256:ab12…)" or "layer 2". */
export function layerSubject(index: number, digest: string): string {
  return digest ? `layer ${index} (${shortDigest(digest)})` : `layer ${index}`;
}

/** Quotes a path held as a latin1 string of raw bytes: decoded as UTF-8 where valid, JSON-escaped, clipped. */
export function quotePath(latin1: string): string {
  let s = Buffer.from(latin1, 'latin1').toString('utf8');
  if (s.length > 120) s = `${s.slice(0, 60)}…${s.slice(-40)}`;
  return JSON.stringify(s);
}

function oneLine(s: string): string {
  return s.replace(/[\r\n\u2028\u2029]+/g, ' ');
}
