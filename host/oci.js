#!/usr/bin/env node
// wasmbox-runtime, the OCI runtime (runc's command line) for containerd, Podman and Kubernetes:
// `node host/oci.js [--root DIR] COMMAND ...`, or as an engine's runtime binary (it is executable).
// It only loads the bundle that `npm install` builds from host/oci/cli.ts (see scripts/build.mjs).
// Engines are better given dist/wasmbox-runtime, the native front end, which answers the calls made
// for every container without starting Node and hands the rest to this file (docs/oci.md).
'use strict';
const path = require('node:path');
const fs = require('node:fs');
const bundle = path.join(__dirname, '..', 'dist', 'oci.js');
if (!fs.existsSync(bundle)) {
  process.stderr.write('wasmbox-runtime: the build is missing (dist/oci.js); run `npm install` first\n');
  process.exit(1);
}
require(bundle)
  .main(process.argv.slice(2))
  .then((status) => {
    process.exitCode = status;
  });
