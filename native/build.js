#!/usr/bin/env node
// Builds the N-API addon (native/wasmbox_native.c -> build/Release/wasmbox_native.node) and the
// OCI runtime's native front end (runtime.c -> dist/wasmbox-runtime) with the node-gyp that npm
// bundles. Run by `npm install` / `npm ci` (the "install" script), or by hand.
//
// It never fails the install: if the addon cannot be built, it prints one warning line (the full
// compiler output goes to native/build.log) and exits 0. The host then uses the memory
// filestore and says so (native/index.ts gives the reason).
//
// Environment: WASMBOX_NATIVE=0 skips the build. npm_config_node_gyp / npm_config_nodedir (set by
// npm from its config) pick node-gyp and the Node headers; without them, the node-gyp next to this
// Node's npm and the headers under this Node's prefix are used, so no header download is needed.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const here = __dirname;
const log = path.join(here, 'build.log');
const output = path.join(here, 'build', 'Release', 'wasmbox_native.node');
const t0 = Date.now();

function warn(reason) {
  process.stderr.write(`wasmbox: warning: native addon not built (${reason}); the filestore falls back to memory\n`);
  process.exit(0);
}

function findNodeGyp() {
  const env = process.env.npm_config_node_gyp;
  if (env && fs.existsSync(env)) return env;
  const prefix = path.dirname(path.dirname(process.execPath));
  const roots = [
    path.join(prefix, 'lib', 'node_modules', 'npm', 'node_modules'),
    path.join(prefix, 'node_modules', 'npm', 'node_modules'), // Windows-style layouts, for completeness
  ];
  try {
    return require.resolve('node-gyp/bin/node-gyp.js', { paths: roots });
  } catch {
    return null;
  }
}

function findNodeDir() {
  const env = process.env.npm_config_nodedir;
  if (env) return env;
  const prefix = path.dirname(path.dirname(process.execPath));
  if (fs.existsSync(path.join(prefix, 'include', 'node', 'node_api.h'))) return prefix;
  return null; // node-gyp would try to download headers; with no network that fails, and we warn
}

function main() {
  if (process.env.WASMBOX_NATIVE === '0') warn('WASMBOX_NATIVE=0');
  if (process.platform !== 'linux') warn(`platform ${process.platform} is not supported`);
  const gyp = findNodeGyp();
  if (!gyp) warn('node-gyp not found next to npm; set npm_config_node_gyp');
  // the front end runs the node that built it (containerd's PATH may not lead to this one)
  fs.writeFileSync(path.join(here, 'node_exec.h'), `#define NODE_EXEC ${JSON.stringify(process.execPath)}\n`);
  const args = [gyp, 'rebuild', '--jobs', '1'];
  const nodedir = findNodeDir();
  if (nodedir) args.push(`--nodedir=${nodedir}`);
  const r = spawnSync(process.execPath, args, {
    cwd: here,
    encoding: 'utf8',
    timeout: 5 * 60 * 1000,
    env: { ...process.env, npm_config_loglevel: 'warn' },
    maxBuffer: 16 * 1024 * 1024,
  });
  const text = `${r.stdout || ''}${r.stderr || ''}`;
  if (r.error || r.status !== 0 || !fs.existsSync(output)) {
    try {
      fs.writeFileSync(log, `$ ${process.execPath} ${args.join(' ')}\n${text}${r.error ? `\n${r.error.message}\n` : ''}`);
    } catch {}
    const why = r.error ? r.error.message : r.status !== 0 ? `node-gyp exited with ${r.status ?? r.signal}` : 'no output';
    warn(`${why}; see ${path.relative(process.cwd(), log) || log}`);
  }
  // It built; make sure this Node can load it.
  try {
    const m = { exports: {} };
    process.dlopen(m, output);
    if (typeof m.exports.mmap !== 'function') throw new Error('exports are missing');
  } catch (e) {
    try {
      fs.writeFileSync(log, `built ${output} but it does not load: ${e && e.message}\n${text}`);
    } catch {}
    try {
      fs.rmSync(output, { force: true });
    } catch {}
    warn(`built but does not load: ${e && e.message}`);
  }
  try {
    fs.rmSync(log, { force: true });
  } catch {}
  // the front end goes where engines are told to find it (docs/oci.md): dist/wasmbox-runtime
  const front = path.join(here, 'build', 'Release', 'wasmbox-runtime');
  const dist = path.join(here, '..', 'dist');
  if (fs.existsSync(front)) {
    fs.mkdirSync(dist, { recursive: true });
    fs.copyFileSync(front, path.join(dist, 'wasmbox-runtime.tmp'));
    fs.chmodSync(path.join(dist, 'wasmbox-runtime.tmp'), 0o755);
    fs.renameSync(path.join(dist, 'wasmbox-runtime.tmp'), path.join(dist, 'wasmbox-runtime'));
  }
  process.stderr.write(`build: native addon native/build/Release/wasmbox_native.node and dist/wasmbox-runtime (${Date.now() - t0} ms)\n`);
}

try {
  main();
} catch (e) {
  warn(`build script error: ${e && e.message}`);
}
