// The build's step that precompiles the kernel and the WebAssembly glue's modules
// (dist/kernel-code.js, run by scripts/build.mjs):
//   node [--experimental-wasm-stack-switching] dist/kernel-code.js FILE.wasm...
// compiles each FILE.wasm with TurboFan and writes V8's code for it beside it, where
// host/sandbox/kernel-node.ts looks for it (PRECOMPILED CODE): FILE.wasm.code, or
// FILE.wasm.jspi.code when run with JSPI's flag. Run once per flag set the sandbox starts Node
// with: V8 takes the code only under the flags it was made with. A failure leaves no file for
// that module (the others are still written) and exits 1.
import fs from 'node:fs';
import * as jspi from './jspi';
import { kernelCodeFile, writeKernelCode } from './kernel-node';

const files = process.argv.slice(2);
if (files.length === 0) {
  process.stderr.write('usage: node dist/kernel-code.js FILE.wasm...\n');
  process.exit(2);
}
let status = 0;
for (const file of files) {
  const out = kernelCodeFile(file, jspi.available());
  try {
    fs.rmSync(out, { force: true });
    writeKernelCode(file, out);
  } catch (e) {
    process.stderr.write(`kernel-code: ${file}: ${(e as Error).message}\n`);
    status = 1;
  }
}
process.exit(status);
