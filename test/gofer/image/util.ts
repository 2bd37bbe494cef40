// Shared helpers of the gofer/image tests: write bytes or specs to temp image files, open them, and
// flatten a LowerTree into a { path: description } listing that tests compare with a table.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { TarWriter, tarLayer, type Entry, type TarMember, type TarWriterOptions } from '../../../host/image/image-writer';
import { openImage, type Image, type OpenImageOptions } from '../../../gofer/image/index';
import { NodeKind, type LowerTree } from '../../../gofer/image/tree';
import { tempDir } from '../../lib/images';

/** Writes bytes to a fresh temp file called `name` and returns its path. */
export function writeTemp(bytes: Uint8Array, name = 'image.tar'): string {
  const p = path.join(tempDir('raw'), name);
  fs.writeFileSync(p, bytes);
  return p;
}

/** A plain rootfs tar made of these spec entries. */
export function plainTar(entries: Entry[], opts: TarWriterOptions = {}, name = 'rootfs.tar'): string {
  return writeTemp(tarLayer(entries, opts), name);
}

/** Tar bytes made of raw members (with everything TarWriter can vary). */
export function rawTar(members: TarMember[], opts: TarWriterOptions = {}): Uint8Array {
  const w = new TarWriter(opts);
  for (const m of members) w.add(m);
  return w.finish();
}

/** openImage with a fresh cache dir unless one is given. */
export function open(p: string, opts: Partial<OpenImageOptions> = {}): Image {
  return openImage(p, { cacheDir: opts.cacheDir ?? tempDir('cache'), progress: opts.progress, onInflate: opts.onInflate, limits: opts.limits });
}

/**
 * Makes an unpacked `docker save` directory (legacy layout: <id>/layer.tar, <hex>.json config)
 * consistent again after a test edited it, as a forger who controls the whole archive would: the
 * config's diff_ids become the hashes of the (inflated) layers as they now are (unless `diffIds` is
 * false), and the config is renamed after its new digest. Tests of what lies past the digest
 * checks (tar parsing, config values) need this, since an edit alone is caught as a mismatch.
 */
export function resealDocker(dir: string, opts: { diffIds?: boolean } = {}): void {
  const mfile = path.join(dir, 'manifest.json');
  const manifest = JSON.parse(fs.readFileSync(mfile, 'utf8'));
  const config = JSON.parse(fs.readFileSync(path.join(dir, manifest[0].Config), 'utf8'));
  if (opts.diffIds !== false) {
    config.rootfs.diff_ids = manifest[0].Layers.map((l: string, i: number) => {
      const b = fs.readFileSync(path.join(dir, l));
      let tar = b;
      try {
        if (b[0] === 0x1f && b[1] === 0x8b) tar = zlib.gunzipSync(b);
      } catch {
        return config.rootfs.diff_ids[i]; // corrupt gzip: it fails before its diff_id matters
      }
      return `sha256:${crypto.createHash('sha256').update(tar).digest('hex')}`;
    });
  }
  const bytes = Buffer.from(JSON.stringify(config));
  fs.rmSync(path.join(dir, manifest[0].Config));
  manifest[0].Config = `${crypto.createHash('sha256').update(bytes).digest('hex')}.json`;
  fs.writeFileSync(path.join(dir, manifest[0].Config), bytes);
  fs.writeFileSync(mfile, JSON.stringify(manifest));
}

/** The whole content of file node n. */
export function readAll(t: LowerTree, n: number): string {
  const buf = new Uint8Array(t.size(n));
  const got = t.read(n, 0, buf.length, buf, 0);
  return Buffer.from(buf.subarray(0, got)).toString('utf8');
}

/** Name of entry e as a (UTF-8-decoded) string. */
export function entryName(t: LowerTree, e: number): string {
  const off = t.entryNameOffset(e);
  return Buffer.from(t.names.subarray(off, off + t.entryNameLength(e))).toString('utf8');
}

/**
 * Every path in the tree (depth-first, sorted) mapped to a short description:
 *   "dir 755", "file 644 <content>", "link -> <target>" (attributes the test did not ask for omitted).
 */
export function listing(t: LowerTree, opts: { mode?: boolean } = {}): Record<string, string> {
  const withMode = opts.mode ?? true;
  const out: Record<string, string> = {};
  const walk = (dir: number, prefix: string): void => {
    const first = t.entryFirst(dir);
    for (let e = first; e < first + t.entryCount(dir); e++) {
      const n = t.entryNode(e);
      const p = prefix + entryName(t, e);
      const mode = withMode ? ` ${t.mode(n).toString(8)}` : '';
      switch (t.kind(n)) {
        case NodeKind.Dir:
          out[p] = `dir${mode}`;
          walk(n, `${p}/`);
          break;
        case NodeKind.File:
          out[p] = `file${mode} ${readAll(t, n)}`;
          break;
        case NodeKind.Symlink:
          out[p] = `link -> ${Buffer.from(t.readlink(n)).toString('utf8')}`;
          break;
      }
    }
  };
  walk(t.root, '');
  return out;
}

/** The ImageError message openImage throws for `p`, or "" if it opens. */
export function openError(p: string, opts: Partial<OpenImageOptions> = {}): string {
  try {
    open(p, opts).close();
    return '';
  } catch (e) {
    if ((e as Error).name !== 'ImageError') throw e;
    return (e as Error).message;
  }
}
