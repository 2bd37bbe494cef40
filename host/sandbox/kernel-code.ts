// The build's step that precompiles the kernel (dist/kernel-code.js, run by scripts/build.mjs):
//   node [--experimental-wasm-stack-switching] dist/kernel-code.js KERNEL.wasm
// compiles KERNEL.wasm with TurboFan and writes V8's code for it beside it, where
// host/sandbox/kernel-node.ts looks for it (PRECOMPILED CODE): KERNEL.wasm.code, or
// KERNEL.wasm.jspi.code when run with JSPI's flag. Run once per flag set the sandbox starts Node
// with: V8 takes the code only under the flags it was made with. A failure leaves no file.
import fs from 'node:fs';
import * as jspi from './jspi';
import { kernelCodeFile, writeKernelCode } from './kernel-node';

const [file] = process.argv.slice(2);
if (!file) {
  process.stderr.write('usage: node dist/kernel-code.js KERNEL.wasm\n');
  process.exit(2);
}
const out = kernelCodeFile(file, jspi.available());
try {
  fs.rmSync(out, { force: true });
  writeKernelCode(file, out);
} catch (e) {
  process.stderr.write(`kernel-code: ${(e as Error).message}\n`);
  process.exit(1);
}
