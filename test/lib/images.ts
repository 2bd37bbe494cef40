// Test images: builds image archives from layer specs into a private temp directory under
// os.tmpdir(), removed when the process exits (or earlier by cleanupImages()). Owns nothing else;
// the archive bytes come from host/image-writer.ts.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { writeImage, type ImageSpec, type WriteImageOptions } from '../../host/image-writer';

let root: string | null = null;
let serial = 0;

/** A fresh directory inside this process's temp area (for caches, extraction, hand-made files). */
export function tempDir(name = 'dir'): string {
  root ??= fs.mkdtempSync(path.join(os.tmpdir(), 'wasmbox-images-'));
  const d = path.join(root, `${name}-${++serial}`);
  fs.mkdirSync(d);
  return d;
}

/** Writes `spec` as an image archive and returns its path (a .tar, or .tar.gz for gzipArchive / plain gzip). */
export function buildImage(spec: ImageSpec, opts: WriteImageOptions & { name?: string }): string {
  const gz = opts.gzipArchive || (opts.format === 'plain' && opts.gzip);
  const file = path.join(tempDir('image'), `${opts.name ?? opts.format}.tar${gz ? '.gz' : ''}`);
  writeImage(spec, file, opts);
  return file;
}

/** Removes everything buildImage and tempDir made. Also runs at process exit. */
export function cleanupImages(): void {
  if (root !== null) fs.rmSync(root, { recursive: true, force: true });
  root = null;
}

process.on('exit', cleanupImages);
