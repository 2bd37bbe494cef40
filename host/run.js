#!/usr/bin/env node
// The command-line entry: `node host/run.js [OPTIONS] IMAGE [COMMAND] [ARG...]`. It only loads the
// bundle that `npm install` builds from host/cli/cli.ts (see scripts/build.mjs).
//
// The bundle is compiled with V8's code cache (dist/run.js.cache, written by the build after one
// run of the default image): about 15 ms less start-up than compiling 190 KB of JavaScript, and the
// functions start-up uses come precompiled. V8 refuses a cache that does not match the bundle, this
// Node or its flags, and then the bundle is simply compiled. WASMBOX_CODE_CACHE_OUT=FILE writes a
// fresh cache to FILE when the process exits (what the build does).
'use strict';
const path = require('node:path');
const fs = require('node:fs');
const bundle = path.join(__dirname, '..', 'dist', 'run.js');
let source;
try {
  source = fs.readFileSync(bundle, 'utf8');
} catch {
  process.stderr.write('wasmbox: the build is missing (dist/run.js); run `npm install` first\n');
  process.exit(125);
}
const vm = require('node:vm');
const Module = require('node:module');
let cachedData;
if (!process.env.WASMBOX_CODE_CACHE_OUT) {
  try {
    cachedData = fs.readFileSync(`${bundle}.cache`);
  } catch {
    // no cache: compile
  }
}
const script = new vm.Script(Module.wrap(source), { filename: bundle, cachedData });
const out = process.env.WASMBOX_CODE_CACHE_OUT;
if (out) process.on('exit', () => fs.writeFileSync(out, script.createCachedData()));
const mod = { exports: {}, filename: bundle, id: bundle, loaded: false };
script.runInThisContext().call(mod.exports, mod.exports, Module.createRequire(bundle), mod, bundle, path.dirname(bundle));
