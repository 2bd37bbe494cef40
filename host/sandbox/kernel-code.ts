// The build's step that precompiles the kernel (dist/kernel-code.js, run by scripts/build.mjs):
//   node [--experimental-wasm-stack-switching] dist/kernel-code.js KERNEL.wasm OUT
// compiles KERNEL.wasm with TurboFan and writes V8's code for it to OUT, in the format
// host/sandbox/kernel-node.ts loads (PRECOMPILED CODE). Run once per flag set the sandbox starts
// Node with: V8 takes the code only under the flags it was made with.
import { writeKernelCode } from './kernel-node';

const [file, out] = process.argv.slice(2);
if (!file || !out) {
  process.stderr.write('usage: node dist/kernel-code.js KERNEL.wasm OUT\n');
  process.exit(2);
}
try {
  writeKernelCode(file, out);
} catch (e) {
  process.stderr.write(`kernel-code: ${(e as Error).message}\n`);
  process.exit(1);
}
