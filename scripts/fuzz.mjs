#!/usr/bin/env node
// The long-run differential fuzzer: random lower trees and op scripts run in the sandbox and under
// node:wasi on a real Linux overlayfs mount, compared op by op (test/lib/fuzz/, guests/fsops.c).
// Bundles test/lib/fuzz/cli.ts with esbuild (it imports the TypeScript test libraries) and runs it;
// see that file for the options, or `node scripts/fuzz.mjs --help`.
//
//   node scripts/fuzz.mjs --seeds 10000 [--start N] [--ops N] [--jobs 2]
//
// Needs root (for the mount) and dist/ (npm install). Failures are shrunk and stored as regression
// cases in test/fixtures/fuzz/, which test/e2e/fuzz-regressions.test.ts replays.
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = path.join(root, '.cache', 'fuzz', 'cli.cjs');
fs.mkdirSync(path.dirname(out), { recursive: true });
const esbuild = await import('esbuild');
await esbuild.build({
  entryPoints: [path.join(root, 'test', 'lib', 'fuzz', 'cli.ts')],
  outfile: out,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  packages: 'external',
  sourcemap: 'inline',
  logLevel: 'warning',
  absWorkingDir: root,
});
process.chdir(root);
createRequire(import.meta.url)(out);
