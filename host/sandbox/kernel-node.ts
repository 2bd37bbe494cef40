// Loading kernel.wasm from dist/ in Node, compiled once per process (host/sandbox/kernel.ts itself is the
// same in Node and in the browser), and the kernel's precompiled code.
//
// PRECOMPILED CODE. Compiled the usual way, each kernel function starts in Liftoff, V8's baseline
// tier, and is recompiled by TurboFan on a background thread once it is hot. A sandbox's first
// thousands of calls run the slow code, and the recompiles queue in front of the glue's own
// optimization (bench/results/analysis.md, "opbench"). Compiling the whole kernel with TurboFan at
// start-up costs 55 ms. So the build does it once (host/sandbox/kernel-code.ts) and stores V8's
// serialized code beside the kernel: dist/kernel.wasm.code for a plain Node, kernel.wasm.jspi.code
// for a Node started with JSPI's flag (V8 refuses code made under other flags). Loading it costs
// about what the usual start-up compile does (3-4 ms), which only validates and leaves every
// function to be compiled at its first call.
//
// Node 20 has no API for this, so it goes through V8's own runtime functions
// (%SerializeWasmModule, %DeserializeWasmModule), reachable from JavaScript compiled while
// --allow-natives-syntax is on; the flag is on only while two one-line functions are compiled. V8
// checks that the code was made by this V8, with these flags, for this CPU, and answers undefined
// otherwise; it does not check the code against the module's bytes, nor the code itself, so the
// file carries a SHA-256 of both and nothing is handed to V8 unless they match. Whenever the code
// cannot be used (no file, another kernel, another Node or other V8 flags, the functions gone from
// a later Node) the kernel is compiled as before, and `--stats` says which happened and why.
//
// The file: MAGIC (8 bytes), SHA-256 of kernel.wasm (32), SHA-256 of the code (32), V8's code.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import v8 from 'node:v8';
import * as jspi from './jspi';

const compiled = new Map<string, WebAssembly.Module>();

/** How the kernel in this process was compiled, for --stats. */
let how = 'not loaded';

const MAGIC = Buffer.from('WBXKCODE');
const HEAD = MAGIC.length + 64;

/** The compiled kernel at `file` (dist/kernel.wasm or dist/kernel.debug.wasm). */
export function kernelModule(file: string): WebAssembly.Module {
  let m = compiled.get(file);
  if (!m) {
    const bytes = fs.readFileSync(file);
    m = precompiled(file, bytes) ?? new WebAssembly.Module(bytes);
    compiled.set(file, m);
  }
  return m;
}

export function kernelFile(dist: string, debug: boolean): string {
  return path.join(dist, debug ? 'kernel.debug.wasm' : 'kernel.wasm');
}

/** Where the precompiled code of `file` is, for a Node with (`jspi`) or without JSPI's flag. */
export function kernelCodeFile(file: string, jspi: boolean): string {
  return `${file}${jspi ? '.jspi' : ''}.code`;
}

/** How this process's kernel was compiled: "precompiled (FILE)" or "here (why)", for --stats. */
export function kernelCompiled(): string {
  return how;
}

/** The kernel module from its precompiled code, or null (and `how` says why). */
function precompiled(file: string, bytes: Buffer): WebAssembly.Module | null {
  const codeFile = kernelCodeFile(file, jspi.available());
  let code: Buffer;
  try {
    code = fs.readFileSync(codeFile);
  } catch {
    how = `here (no ${path.basename(codeFile)})`;
    return null;
  }
  if (code.length <= HEAD || !code.subarray(0, MAGIC.length).equals(MAGIC)) {
    how = `here (${path.basename(codeFile)} is not kernel code)`;
    return null;
  }
  const body = code.subarray(HEAD);
  if (!sha256(bytes).equals(code.subarray(MAGIC.length, MAGIC.length + 32))) {
    how = `here (${path.basename(codeFile)} is for another kernel)`;
    return null;
  }
  if (!sha256(body).equals(code.subarray(MAGIC.length + 32, HEAD))) {
    how = `here (${path.basename(codeFile)} is damaged)`;
    return null;
  }
  const fns = intrinsics();
  if (!fns) {
    how = 'here (this Node cannot load precompiled code)';
    return null;
  }
  // V8 wants an ArrayBuffer of its own for the code and a typed array of the wire bytes
  const own = new ArrayBuffer(body.length);
  new Uint8Array(own).set(body);
  const m = fns.deserialize(own, new Uint8Array(bytes));
  if (!(m instanceof WebAssembly.Module)) {
    how = `here (V8 refused ${path.basename(codeFile)}: made by another Node, with other V8 flags or for another CPU)`;
    return null;
  }
  how = `precompiled (${path.basename(codeFile)})`;
  return m;
}

/**
 * Compiles the kernel at `file` with TurboFan and writes its code to `out` (the build, in a Node
 * of its own: V8's flags change while it compiles). Throws when this Node cannot.
 */
export function writeKernelCode(file: string, out: string): void {
  const fns = intrinsics();
  if (!fns) throw new Error('this Node cannot serialize WebAssembly code');
  const bytes = fs.readFileSync(file);
  // every function now, by TurboFan; then the defaults back, implications included (--no-liftoff
  // turns tier-up off), so that the flags V8 records with the code are a plain run's
  v8.setFlagsFromString('--no-liftoff');
  v8.setFlagsFromString('--no-wasm-lazy-compilation');
  let m: WebAssembly.Module;
  try {
    m = new WebAssembly.Module(bytes);
  } finally {
    v8.setFlagsFromString('--liftoff');
    v8.setFlagsFromString('--wasm-lazy-compilation');
    v8.setFlagsFromString('--wasm-tier-up');
    v8.setFlagsFromString('--wasm-dynamic-tiering');
  }
  const body = Buffer.from(fns.serialize(m));
  const tmp = `${out}.${process.pid}`;
  fs.writeFileSync(tmp, Buffer.concat([MAGIC, sha256(bytes), sha256(body), body]));
  fs.renameSync(tmp, out);
}

function sha256(b: Uint8Array): Buffer {
  return crypto.createHash('sha256').update(b).digest();
}

interface Intrinsics {
  serialize(m: WebAssembly.Module): ArrayBuffer;
  deserialize(code: ArrayBuffer, wire: Uint8Array): WebAssembly.Module | undefined;
}

let fns: Intrinsics | null | undefined;

/**
 * V8's two runtime functions, or null where this Node has them not. The flag goes off again at once
 * (it is read when code is compiled, and V8 records the flags with the code it serializes).
 */
function intrinsics(): Intrinsics | null {
  if (fns !== undefined) return fns;
  try {
    v8.setFlagsFromString('--allow-natives-syntax');
    fns = {
      serialize: new Function('m', 'return %SerializeWasmModule(m)'),
      deserialize: new Function('c', 'w', 'return %DeserializeWasmModule(c, w)'),
    } as Intrinsics;
  } catch {
    fns = null; // a later V8 without them: a SyntaxError
  } finally {
    v8.setFlagsFromString('--no-allow-natives-syntax');
  }
  return fns;
}
