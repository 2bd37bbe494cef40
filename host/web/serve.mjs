#!/usr/bin/env node
// `npm run demo`: builds the browser demo (build.mjs) and serves it on localhost.
//
//   node host/web/serve.mjs [--port N] [--host ADDR] [--image FILE] [--no-build]
//
// Every response carries the cross-origin isolation headers SharedArrayBuffer needs (COOP
// same-origin, COEP require-corp). Routes: / and the bundles from dist/web/, /kernel.wasm from
// dist/, /images/default.tar (the default image: --image FILE, else dist/images/default.tar) and
// /images/NAME (dist/images/NAME). Images are served with HTTP Range support (206 + Content-Range),
// because the page reads them on demand and never downloads them whole. Only these files are
// served: no directory listings, no paths outside them.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT, WEB_DIST, buildWeb } from './build.mjs';

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json',
  '.wasm': 'application/wasm',
  '.tar': 'application/x-tar',
  '.gz': 'application/gzip',
};

const ISOLATION = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Cache-Control': 'no-cache',
  'X-Content-Type-Options': 'nosniff',
};

/** Maps a request path to a file, or null. */
function fileFor(urlPath, image) {
  const p = decodeURIComponent(urlPath.split('?')[0]);
  if (p === '/' || p === '/index.html') return path.join(WEB_DIST, 'index.html');
  if (p === '/kernel.wasm') return path.join(ROOT, 'dist', 'kernel.wasm');
  // the WebAssembly glue's modules (host/sandbox/wasm-glue.ts)
  const glue = /^\/(wasm-glue(?:-[tj])?\.wasm)$/.exec(p);
  if (glue) return path.join(ROOT, 'dist', glue[1]);
  if (p === '/images/default.tar') return image;
  const img = /^\/images\/([\w.-]+)$/.exec(p);
  if (img) return path.join(ROOT, 'dist', 'images', img[1]);
  const web = /^\/([\w-]+\.(?:js|css|map))$/.exec(p);
  if (web) return path.join(WEB_DIST, web[1]);
  return null;
}

/** Starts the server; resolves to { url, server, close() }. */
export function startServer({ port = 8080, host = '127.0.0.1', image = path.join(ROOT, 'dist', 'images', 'default.tar'), log = () => {} } = {}) {
  const server = http.createServer((req, res) => {
    const file = fileFor(req.url ?? '/', image);
    let st;
    try {
      st = file && fs.statSync(file);
    } catch {
      st = null;
    }
    if (!file || !st || !st.isFile() || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(file ? 404 : 404, { ...ISOLATION, 'Content-Type': 'text/plain' });
      res.end('not found\n');
      return;
    }
    const headers = { ...ISOLATION, 'Content-Type': TYPES[path.extname(file)] ?? 'application/octet-stream', 'Accept-Ranges': 'bytes' };
    let start = 0;
    let end = st.size - 1;
    let status = 200;
    const range = req.headers.range;
    if (range) {
      const m = /^bytes=(\d*)-(\d*)$/.exec(range.trim());
      if (!m || (m[1] === '' && m[2] === '')) {
        res.writeHead(416, { ...headers, 'Content-Range': `bytes */${st.size}` });
        res.end();
        return;
      }
      if (m[1] === '') start = Math.max(0, st.size - Number(m[2]));
      else {
        start = Number(m[1]);
        end = m[2] === '' ? st.size - 1 : Math.min(Number(m[2]), st.size - 1);
      }
      if (start > end || start >= st.size) {
        res.writeHead(416, { ...headers, 'Content-Range': `bytes */${st.size}` });
        res.end();
        return;
      }
      status = 206;
      headers['Content-Range'] = `bytes ${start}-${end}/${st.size}`;
    }
    headers['Content-Length'] = String(st.size === 0 ? 0 : end - start + 1);
    log(`${req.method} ${req.url}${range ? ` ${range}` : ''} -> ${status}`);
    res.writeHead(status, headers);
    if (req.method === 'HEAD' || st.size === 0) {
      res.end();
      return;
    }
    fs.createReadStream(file, { start, end }).pipe(res);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const a = server.address();
      const url = `http://${host.includes(':') ? `[${host}]` : host}:${a.port}/`;
      resolve({ url, server, close: () => new Promise((r) => server.close(() => r())) });
    });
  });
}

async function main() {
  const args = process.argv.slice(2);
  const opt = { port: 8080, host: '127.0.0.1', image: undefined, build: true, verbose: false };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--port') opt.port = Number(args[++i]);
    else if (a === '--host') opt.host = args[++i];
    else if (a === '--image') opt.image = path.resolve(args[++i]);
    else if (a === '--no-build') opt.build = false;
    else if (a === '--verbose') opt.verbose = true;
    else {
      console.error(`usage: node host/web/serve.mjs [--port N] [--host ADDR] [--image FILE] [--no-build] [--verbose]`);
      process.exit(2);
    }
  }
  if (opt.build) {
    const t0 = Date.now();
    const { total } = await buildWeb();
    console.error(`built dist/web/ in ${Date.now() - t0} ms: ${(total.gzip / 1024).toFixed(1)} KB gzip (page and workers, without kernel.wasm)`);
  }
  if (!fs.existsSync(path.join(ROOT, 'dist', 'kernel.wasm'))) {
    console.error('wasmbox demo: dist/kernel.wasm is missing; run `npm run build` first');
    process.exit(1);
  }
  const image = opt.image ?? path.join(ROOT, 'dist', 'images', 'default.tar');
  if (!fs.existsSync(image)) console.error(`wasmbox demo: warning: no image at ${image}`);
  let s;
  try {
    s = await startServer({ port: opt.port, host: opt.host, image, log: opt.verbose ? (l) => console.error(l) : undefined });
  } catch (e) {
    if (e.code === 'EADDRINUSE' && !args.includes('--port')) s = await startServer({ port: 0, host: opt.host, image });
    else throw e;
  }
  console.log(`wasmbox demo: ${s.url}`);
}

// Run as a program (not when imported, or bundled into a test).
if (process.argv[1] && path.basename(process.argv[1]) === 'serve.mjs' && import.meta.url === pathToFileURL(fs.realpathSync(process.argv[1])).href) {
  main().catch((e) => {
    console.error(`wasmbox demo: ${e.message}`);
    process.exit(1);
  });
}
