// Performance sanity of the image reader (not a test: run by hand, and report the numbers):
//   npx esbuild test/gofer/image/perf.ts --bundle --platform=node --format=esm --packages=external \
//     --outfile=.cache/image-perf.mjs && node --expose-gc .cache/image-perf.mjs [files] [MB]
// Writes (once, to .cache/image-perf/) an image of 20,000 files / 100 MB of incompressible data in
// ~2,800 directories: a plain rootfs tar, an OCI layout with 4 uncompressed layers (plus symlinks and
// whiteouts), and the same with gzip layers. Then, in a fresh process, times openImage and measures
// what the Image keeps (heap + array buffers after GC) and the process RSS.
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { openImage } from '../../../gofer/image/index';
import { writeImage, type Entry, type ImageSpec } from '../../../host/image/image-writer';

const files = Number(process.argv[2] ?? 20000);
const totalMB = Number(process.argv[3] ?? 100);
const dir = path.resolve('.cache/image-perf', `${files}-${totalMB}`);
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});

function spec(): ImageSpec {
  const per = Math.floor((totalMB << 20) / files);
  const layers: Entry[][] = [[], [], [], []];
  for (let i = 0; i < files; i++) {
    const l = layers[i % 4];
    l.push({ path: `usr/share/pkg${i % 400}/sub${i % 7}/file-${i}.dat`, type: 'file', data: new Uint8Array(crypto.randomBytes(per)), mode: 0o644 });
    if (i % 1000 === 0) l.push({ path: `usr/share/pkg${i % 400}/link-${i}`, type: 'symlink', target: `sub0/file-${i}.dat` });
  }
  for (let i = 0; i < 50; i++) layers[3].push({ path: `usr/share/pkg${i}/sub1`, type: 'whiteout' });
  return { layers };
}

function measure(label: string, p: string, cacheDir: string): void {
  gc();
  const m0 = process.memoryUsage();
  const t0 = performance.now();
  const img = openImage(p, { cacheDir });
  const ms = performance.now() - t0;
  gc();
  const m1 = process.memoryUsage();
  const mb = (n: number) => (n / 1048576).toFixed(1);
  console.log(
    `${label}: ${ms.toFixed(0)} ms, ${img.tree.count} nodes; kept heap ${mb(m1.heapUsed - m0.heapUsed)} MB + buffers ${mb(m1.arrayBuffers - m0.arrayBuffers)} MB; rss ${mb(m1.rss)} MB`,
  );
  img.close();
}

if (!fs.existsSync(path.join(dir, 'done'))) {
  fs.mkdirSync(dir, { recursive: true });
  const s = spec();
  writeImage({ layers: [s.layers.flat()] }, path.join(dir, 'plain.tar'), { format: 'plain' });
  writeImage(s, path.join(dir, 'oci.tar'), { format: 'oci' });
  writeImage(s, path.join(dir, 'oci-gz.tar'), { format: 'oci', gzip: true });
  fs.writeFileSync(path.join(dir, 'done'), '');
  // Measure in a fresh process, so the generator's memory does not show.
  execFileSync(process.execPath, [...process.execArgv, ...process.argv.slice(1)], { stdio: 'inherit' });
} else {
  const size = (f: string) => `${(fs.statSync(path.join(dir, f)).size / 1048576).toFixed(0)} MB`;
  console.log(`image: ${files} files; plain tar ${size('plain.tar')}, oci ${size('oci.tar')}, oci with gzip layers ${size('oci-gz.tar')}`);
  const cache = path.join(dir, 'cache');
  fs.rmSync(cache, { recursive: true, force: true });
  for (let i = 1; i <= 3; i++) measure(`plain tar, 1 layer, run ${i}`, path.join(dir, 'plain.tar'), cache);
  for (let i = 1; i <= 3; i++) measure(`oci, 4 tar layers, run ${i}`, path.join(dir, 'oci.tar'), cache);
  measure('oci, 4 gzip layers, first open (inflates)', path.join(dir, 'oci-gz.tar'), cache);
  for (let i = 1; i <= 2; i++) measure(`oci, 4 gzip layers, cached, run ${i}`, path.join(dir, 'oci-gz.tar'), cache);
}
