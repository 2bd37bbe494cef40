#!/usr/bin/env node
// wasmbox-runtime, the OCI runtime (runc's command line) for containerd, Podman and Kubernetes:
// `node host/oci.js [--root DIR] COMMAND ...`, or as an engine's runtime binary (it is executable).
// It only loads the bundle that `npm install` builds from host/oci/cli.ts (see scripts/build.mjs),
// through V8's code cache when the build wrote one: engines start it for every container operation.
'use strict';
const path = require('node:path');
const fs = require('node:fs');
const bundle = path.join(__dirname, '..', 'dist', 'oci.js');
let source;
try {
  source = fs.readFileSync(bundle, 'utf8');
} catch {
  process.stderr.write('wasmbox-runtime: the build is missing (dist/oci.js); run `npm install` first\n');
  process.exit(1);
}
const vm = require('node:vm');
const Module = require('node:module');
let cachedData;
try {
  cachedData = fs.readFileSync(`${bundle}.cache`);
} catch {
  // no cache: compile
}
const script = new vm.Script(Module.wrap(source), { filename: bundle, cachedData });
const mod = { exports: {}, filename: bundle, id: bundle, loaded: false };
script.runInThisContext().call(mod.exports, mod.exports, Module.createRequire(bundle), mod, bundle, path.dirname(bundle));
mod.exports.main(process.argv.slice(2)).then((status) => {
  process.exitCode = status;
});
