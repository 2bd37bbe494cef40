// The build's step that precompiles the kernel and the WebAssembly glue's modules
// (dist/kernel-code.js, run by scripts/build.mjs):
//   node [--experimental-wasm-stack-switching] dist/kernel-code.js FILE.wasm...
// compiles each FILE.wasm with TurboFan and writes V8's code for it beside it, where
// host/sandbox/kernel-node.ts looks for it (PRECOMPILED CODE): FILE.wasm.code, or
// FILE.wasm.jspi.code when run with JSPI's flag. Run once per flag set the sandbox starts Node
// with: V8 takes the code only under the flags it was made with. A failure leaves no file for
// that module (the others are still written) and exits 1.
//
//   node [the sandbox's flags] dist/kernel-code.js --guest KEEP MAXBYTES OUT.code IN.wasm [OUT IN]...
// is a guest's (host/sandbox/guest-code.ts): each IN compiled, its code written to OUT, IN and
// OUT.pending (the compile's lock) removed whatever happens, and then all but the KEEP most
// recently used code files of OUT's directory, fewer if they come to more than MAXBYTES.
import fs from 'node:fs';
import * as jspi from './jspi';
import { kernelCodeFile, writeGuestCode, writeKernelCode } from './kernel-node';

if (process.argv[2] === '--guest') {
  const keep = Number(process.argv[3]);
  const maxBytes = Number(process.argv[4]);
  const pairs = process.argv.slice(5);
  let failed = 0;
  for (let i = 0; i + 1 < pairs.length; i += 2) {
    const [out, input] = [pairs[i], pairs[i + 1]];
    try {
      writeGuestCode(input, out, keep, maxBytes);
    } catch (e) {
      process.stderr.write(`kernel-code: ${input}: ${(e as Error).message}\n`);
      failed = 1;
    } finally {
      fs.rmSync(input, { force: true });
      fs.rmSync(`${out}.pending`, { force: true });
    }
  }
  process.exit(failed);
}

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
