#!/usr/bin/env node
// The command-line entry: `node host/run.js [OPTIONS] IMAGE [COMMAND] [ARG...]`. It only loads the
// bundle that `npm install` builds from host/cli.ts (see scripts/build.mjs).
'use strict';
const path = require('node:path');
const fs = require('node:fs');
const bundle = path.join(__dirname, '..', 'dist', 'run.js');
if (!fs.existsSync(bundle)) {
  process.stderr.write('wasmbox: the build is missing (dist/run.js); run `npm install` first\n');
  process.exit(125);
}
require(bundle);
