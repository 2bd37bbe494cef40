#!/usr/bin/env node
// The image packer: `node host/pack.js DIR [--layer DIR2]... [OPTIONS] -o IMAGE.tar`. It only loads
// the bundle that `npm install` builds from host/cli/pack.ts (see scripts/build.mjs) and calls its main.
'use strict';
const path = require('node:path');
const fs = require('node:fs');
const bundle = path.join(__dirname, '..', 'dist', 'pack.js');
if (!fs.existsSync(bundle)) {
  process.stderr.write('pack: the build is missing (dist/pack.js); run `npm install` first\n');
  process.exit(125);
}
process.exitCode = require(bundle).main(process.argv.slice(2));
