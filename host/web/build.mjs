// Builds the browser demo into dist/web/ with esbuild (the project's only bundler): the page
// (main.js + main.css, with xterm.js), the sandbox worker and the gofer worker, and index.html.
// The shared TypeScript of host/ and gofer/ is bundled as is; Node built-ins are replaced: Buffer by
// shims/buffer.ts (injected), node:crypto by shims/node-crypto.ts, every other node:* module by a
// stub that throws if it is ever used (Node-only paths: host trees, the layer cache).
// kernel.wasm and the images are not copied: the server maps them (serve.mjs).
//
// Used by scripts/build.mjs (`web` step) and by serve.mjs (`npm run demo`).
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';

/** The checkout's root: the first directory up from this module holding host/web/build.mjs (the tests bundle this file elsewhere). */
function findRoot() {
  for (let dir = path.dirname(fileURLToPath(import.meta.url)); ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'host', 'web', 'build.mjs'))) return dir;
    if (path.dirname(dir) === dir) throw new Error('wasmbox: cannot find the checkout (host/web/build.mjs)');
  }
}
export const ROOT = findRoot();
export const WEB_DIST = path.join(ROOT, 'dist', 'web');
const here = path.join(ROOT, 'host', 'web');

/** Resolves node:* (and bare Node built-in names) to the browser shims. */
const nodeShims = {
  name: 'node-shims',
  setup(build) {
    const stub = path.join(here, 'shims', 'node-stub.cjs');
    build.onResolve({ filter: /^node:/ }, (args) => {
      if (args.path === 'node:crypto') return { path: path.join(here, 'shims', 'node-crypto.ts') };
      return { path: args.path, namespace: 'node-stub' };
    });
    build.onLoad({ filter: /.*/, namespace: 'node-stub' }, (args) => ({
      contents: `module.exports = require(${JSON.stringify(stub)})(${JSON.stringify(args.path)});`,
      loader: 'js',
      resolveDir: here,
    }));
  },
};

/** Builds dist/web/; returns the files with their raw and gzip sizes. */
export async function buildWeb({ minify = true } = {}) {
  const esbuild = await import('esbuild');
  fs.mkdirSync(WEB_DIST, { recursive: true });
  await esbuild.build({
    absWorkingDir: ROOT,
    entryPoints: {
      main: 'host/web/main.ts',
      'sandbox-worker': 'host/web/sandbox-worker.ts',
      'gofer-worker': 'host/web/gofer-worker.ts',
    },
    outdir: WEB_DIST,
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: ['chrome111', 'firefox115', 'safari16.4'],
    minify,
    sourcemap: 'linked',
    legalComments: 'none',
    logLevel: 'warning',
    inject: [path.join(here, 'shims', 'buffer.ts')],
    plugins: [nodeShims],
  });
  fs.copyFileSync(path.join(here, 'index.html'), path.join(WEB_DIST, 'index.html'));
  return sizes();
}

/** Raw and gzip sizes of the page's own files (not kernel.wasm, not images, not source maps). */
export function sizes() {
  const files = fs.readdirSync(WEB_DIST).filter((f) => /\.(js|css|html)$/.test(f));
  const list = files.map((f) => {
    const b = fs.readFileSync(path.join(WEB_DIST, f));
    return { file: f, bytes: b.length, gzip: zlib.gzipSync(b, { level: 9 }).length };
  });
  const total = list.reduce((a, f) => ({ bytes: a.bytes + f.bytes, gzip: a.gzip + f.gzip }), { bytes: 0, gzip: 0 });
  return { files: list, total };
}
