// Test images: builds image archives from layer specs into a private temp directory under
// os.tmpdir(), removed when the process exits (or earlier by cleanupImages()). Owns nothing else;
// the archive bytes come from host/image/image-writer.ts.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { tarLayer, writeImage, type ImageSpec, type WriteImageOptions } from '../../host/image/image-writer';

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

/**
 * A gzip bomb: a legacy `docker save` archive whose one gzip layer (a few KB per 64 MiB) inflates to
 * a tar holding one file of `mib` MiB of zeros. Its config has no diff_ids, so only inflating finds
 * out how large it is. Written as gzip members (a header, then 64 MiB of zeros per member).
 */
export function gzipBomb(mib: number, name = 'bomb.tar'): string {
  const header = Buffer.from(tarLayer([{ path: 'zeros', type: 'file', data: '' }]).subarray(0, 512));
  header.write(`${(mib * 2 ** 20).toString(8).padStart(11, '0')}\0`, 124, 'latin1'); // size
  header.fill(' ', 148, 156);
  let sum = 0;
  for (const b of header) sum += b;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1'); // checksum
  const zeros64 = zlib.gzipSync(Buffer.alloc(64 << 20), { level: 9 });
  const parts = [zlib.gzipSync(header)];
  for (let left = mib; left > 0; left -= 64) parts.push(left >= 64 ? zeros64 : zlib.gzipSync(Buffer.alloc(left << 20)));
  parts.push(zlib.gzipSync(Buffer.alloc(1024))); // the end-of-archive blocks
  const layer = Buffer.concat(parts);
  const config = Buffer.from(JSON.stringify({ architecture: 'wasm', os: 'wasip1', config: { Cmd: ['/zeros'] }, rootfs: { type: 'layers' } }));
  const hex = crypto.createHash('sha256').update(config).digest('hex');
  const manifest = JSON.stringify([{ Config: `${hex}.json`, RepoTags: ['bomb:latest'], Layers: ['l/layer.tar'] }]);
  const file = path.join(tempDir('bomb'), name);
  fs.writeFileSync(
    file,
    tarLayer([
      { path: 'manifest.json', type: 'file', data: manifest },
      { path: `${hex}.json`, type: 'file', data: config },
      { path: 'l', type: 'dir' },
      { path: 'l/layer.tar', type: 'file', data: layer },
    ]),
  );
  return file;
}

/** Removes everything buildImage and tempDir made. Also runs at process exit. */
export function cleanupImages(): void {
  if (root !== null) fs.rmSync(root, { recursive: true, force: true });
  root = null;
}

process.on('exit', cleanupImages);
