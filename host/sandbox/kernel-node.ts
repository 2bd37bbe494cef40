// Loading kernel.wasm from dist/ in Node, compiled once per process (host/sandbox/kernel.ts itself is the
// same in Node and in the browser).
import fs from 'node:fs';
import path from 'node:path';

const compiled = new Map<string, WebAssembly.Module>();

/** The compiled kernel at `file` (dist/kernel.wasm or dist/kernel.debug.wasm). */
export function kernelModule(file: string): WebAssembly.Module {
  let m = compiled.get(file);
  if (!m) {
    m = new WebAssembly.Module(fs.readFileSync(file));
    compiled.set(file, m);
  }
  return m;
}

export function kernelFile(dist: string, debug: boolean): string {
  return path.join(dist, debug ? 'kernel.debug.wasm' : 'kernel.wasm');
}
