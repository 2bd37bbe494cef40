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
// CODE FOR THIS NODE'S FLAGS. Any V8 flag on Node's command line or in NODE_OPTIONS
// (`--max-old-space-size=4096`, `--stack-size`, a tuning flag) changes the flags V8 records, so the
// build's code is refused and the kernel starts in Liftoff. The kernel is then compiled here with
// TurboFan, as the build does it (about 55 ms, once), used for this run, and its code kept beside
// the build's, in `kernel-flags/` next to the kernel, named by the kernel's bytes and by Node's
// version, architecture, arguments and NODE_OPTIONS, for the next run with the same flags; the 8
// most recently used such files are kept. Beside the build's and nowhere else: V8 runs that code
// without verifying it, so it must be as safe from the guest as dist/ itself is, which a cache
// under $HOME (bind-mounted into a sandbox as often as not) is not. Where that directory cannot be
// written, the kernel is compiled the ordinary way, as before. Not done either where those flags
// set one of the tiering flags this compile switches and then back to their defaults
// (`--liftoff`, `--wasm-lazy-compilation`, `--wasm-tier-up`, `--wasm-dynamic-tiering`): the code
// would be recorded under other flags than the run's. A kept file is checked as the build's is.
//
// The WebAssembly glue's two modules (host/sandbox/wasm-glue.ts) come the same way, from
// wasm-glue.wasm.code and wasm-glue-t.wasm.code (their compile was about 1 ms of every start-up);
// without them they are compiled at start-up, the ordinary way (kept code for other flags is the
// kernel's alone: theirs costs too little to keep).
//
// Guests' own modules are kept the same way, after their first run (guest-code.ts, with loadCode,
// writeGuestCode and prune from here).
//
// The file: MAGIC (8 bytes), SHA-256 of the module's bytes (32), SHA-256 of the code (32), V8's code.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import v8 from 'node:v8';
import * as jspi from './jspi';
import { GLUE_CALLS, glueStamped, type WasmGlueModules } from './wasm-glue';

const compiled = new Map<string, WebAssembly.Module>();

/** How the kernel in this process was compiled, for --stats. */
let how = 'not loaded';

const MAGIC = Buffer.from('WBXKCODE');
const HEAD = MAGIC.length + 64;

/**
 * The compiled kernel at `file` (dist/kernel.wasm or dist/kernel.debug.wasm): the build's code, or
 * code for this Node's flags (CODE FOR THIS NODE'S FLAGS), or compiled the ordinary way.
 */
export function kernelModule(file: string): WebAssembly.Module {
  let m = compiled.get(file);
  if (!m) {
    const bytes = fs.readFileSync(file);
    m = precompiled(file, bytes) ?? forTheseFlags(file, bytes) ?? new WebAssembly.Module(bytes);
    compiled.set(file, m);
  }
  return m;
}

export function kernelFile(dist: string, debug: boolean): string {
  return path.join(dist, debug ? 'kernel.debug.wasm' : 'kernel.wasm');
}

/** Where code for other flags than the build's is kept (CODE FOR THIS NODE'S FLAGS). */
export function kernelFlagsDir(file: string): string {
  return path.join(path.dirname(file), 'kernel-flags');
}

/** Where the precompiled code of `file` is, for a Node with (`jspi`) or without JSPI's flag. */
export function kernelCodeFile(file: string, jspi: boolean): string {
  return `${file}${jspi ? '.jspi' : ''}.code`;
}

/** How this process's kernel was compiled: "precompiled (FILE)" or "here (why)", for --stats. */
export function kernelCompiled(): string {
  return how;
}

/** The kernel module from the build's precompiled code, or null (and `how` says why). */
function precompiled(file: string, bytes: Buffer): WebAssembly.Module | null {
  const codeFile = kernelCodeFile(file, jspi.available());
  const r = loadCode(codeFile, bytes);
  if (typeof r === 'string') {
    how = `here (${r})`;
    return null;
  }
  how = `precompiled (${path.basename(codeFile)})`;
  return r;
}

/**
 * The module (the kernel, a glue module, a guest's) from the code in `codeFile`, or why not (a
 * phrase naming the file). `digest`: the bytes' SHA-256, where the caller has made it already.
 */
export function loadCode(codeFile: string, bytes: Buffer, digest: Buffer = sha256(bytes)): WebAssembly.Module | string {
  const name = path.basename(codeFile);
  let code: Buffer;
  try {
    code = fs.readFileSync(codeFile);
  } catch {
    return `no ${name}`;
  }
  if (code.length <= HEAD || !code.subarray(0, MAGIC.length).equals(MAGIC)) return `${name} is not precompiled code`;
  const body = code.subarray(HEAD);
  if (!digest.equals(code.subarray(MAGIC.length, MAGIC.length + 32))) return `${name} was made for other bytes`;
  if (!sha256(body).equals(code.subarray(MAGIC.length + 32, HEAD))) return `${name} is damaged`;
  const fns = intrinsics();
  if (!fns) return 'this Node cannot load precompiled code';
  // V8 wants an ArrayBuffer of its own for the code and a typed array of the wire bytes
  const own = new ArrayBuffer(body.length);
  new Uint8Array(own).set(body);
  const m = fns.deserialize(own, new Uint8Array(bytes));
  if (!(m instanceof WebAssembly.Module)) return `V8 refused ${name}: made by another Node, with other V8 flags or for another CPU`;
  return m;
}

/** The V8 flags compileWithTurbofan switches and then sets back to their defaults. */
export const SWITCHED = /--(no[-_])?(liftoff|wasm[-_]lazy[-_]compilation|wasm[-_]tier[-_]up|wasm[-_]dynamic[-_]tiering)\b/;
/** A custom section "wasmbox.tf" (id 0, size 11, name length 10, the name), appended in forTheseFlags. */
const OWN_SECTION = Buffer.from([0, 11, 10, ...Buffer.from('wasmbox.tf')]);
/** How many files of code for other flags (or older kernels) the cache keeps. */
const KEEP = 8;

/** This Node's V8 flags as V8 records them with code: its version, architecture, arguments and NODE_OPTIONS (16 hex digits). */
export function flagsKey(): string {
  return sha256(Buffer.from([process.version, process.arch, ...process.execArgv, process.env.NODE_OPTIONS ?? ''].join('\0'))).toString('hex').slice(0, 16);
}

/** Whether this Node's flags set one of the tiering flags compileWithTurbofan switches (its code would be recorded under other flags). */
export function switchesTiering(): boolean {
  return [...process.execArgv, process.env.NODE_OPTIONS ?? ''].some((a) => SWITCHED.test(a));
}

/**
 * CODE FOR THIS NODE'S FLAGS: the kernel from code kept for this Node and its flags, or compiled
 * with TurboFan now (and kept); null where neither can be (`how` says why).
 */
function forTheseFlags(file: string, bytes: Buffer): WebAssembly.Module | null {
  const why = how; // the build's code: why it was not used
  if (!intrinsics()) return null;
  if (switchesTiering()) {
    how = `${why.replace(/\)$/, '')}; not compiled for this Node's flags: they set a WebAssembly tiering flag)`;
    return null;
  }
  const key = flagsKey();
  const dir = kernelFlagsDir(file);
  const codeFile = path.join(dir, `${sha256(bytes).toString('hex').slice(0, 16)}-${key}.code`);
  // V8 keeps one compiled module per process for the same bytes: had anything here compiled the
  // kernel's own bytes the usual way (functions left for their first call), the compile below
  // would get that module back, and serializing a module with functions missing is a fatal error
  // in V8. The kernel with a section only this compiles (and the load below) uses is bytes V8 has
  // never seen compiled otherwise; the section changes nothing else.
  const wire = Buffer.concat([bytes, OWN_SECTION]);
  const kept = loadCode(codeFile, wire);
  if (typeof kept !== 'string') {
    touch(codeFile);
    how = `precompiled (for this Node's flags: ${codeFile})`;
    return kept;
  }
  try {
    fs.accessSync(fs.existsSync(dir) ? dir : path.dirname(dir), fs.constants.W_OK);
  } catch {
    how = `${why.replace(/\)$/, '')}; not compiled for this Node's flags: ${path.dirname(dir)} cannot be written)`;
    return null;
  }
  const { module, code } = compileWithTurbofan(wire);
  try {
    fs.mkdirSync(dir, { recursive: true });
    writeCode(codeFile, wire, code);
    prune(dir);
    how = `compiled here with TurboFan for this Node's flags (${why.replace(/^here \((.*)\)$/, '$1')}), kept in ${codeFile}`;
  } catch (e) {
    how = `compiled here with TurboFan for this Node's flags, not kept (${(e as Error).message})`;
  }
  return module;
}

export function touch(file: string): void {
  try {
    const now = new Date();
    fs.utimesSync(file, now, now);
  } catch {
    // read-only cache: the file is still good
  }
}

/** Removes all but the `keep` most recently used code files of `dir`, and then the oldest while they come to more than `maxBytes`. */
export function prune(dir: string, keep = KEEP, maxBytes = Infinity): void {
  const files = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.code'))
    .map((f) => {
      try {
        const st = fs.statSync(path.join(dir, f));
        return { f, t: st.mtimeMs, size: st.size };
      } catch {
        return { f, t: 0, size: 0 };
      }
    })
    .sort((a, b) => b.t - a.t);
  let total = 0;
  files.forEach(({ f, size }, i) => {
    total += size;
    if (i >= keep || (i > 0 && total > maxBytes)) fs.rmSync(path.join(dir, f), { force: true });
  });
}

/**
 * A guest's module (its bytes in `file`) compiled with TurboFan and its code written to `out`
 * (host/sandbox/guest-code.ts, in a Node of its own started with the sandbox's flags); then out's
 * directory pruned to the `keep` most recently used code files and at most `maxBytes`.
 */
export function writeGuestCode(file: string, out: string, keep: number, maxBytes: number): void {
  writeKernelCode(file, out);
  prune(path.dirname(out), keep, maxBytes);
}

/**
 * Compiles the module at `file` (the kernel, or one of the WebAssembly glue's) with TurboFan and
 * writes its code to `out` (the build, in a Node of its own: V8's flags change while it compiles).
 * Throws when this Node cannot.
 */
export function writeKernelCode(file: string, out: string): void {
  const bytes = fs.readFileSync(file);
  writeCode(out, bytes, compileWithTurbofan(bytes).code);
}

/**
 * The kernel compiled with TurboFan, every function now, and V8's code for it. Then the defaults
 * back, implications included (--no-liftoff turns tier-up off), so that the flags V8 records with
 * the code are those of a run that did not switch them. Throws when this Node cannot serialize.
 */
function compileWithTurbofan(bytes: Buffer): { module: WebAssembly.Module; code: Buffer } {
  const fns = intrinsics();
  if (!fns) throw new Error('this Node cannot serialize WebAssembly code');
  v8.setFlagsFromString('--no-liftoff');
  v8.setFlagsFromString('--no-wasm-lazy-compilation');
  let module: WebAssembly.Module;
  try {
    module = new WebAssembly.Module(bytes as BufferSource);
  } finally {
    v8.setFlagsFromString('--liftoff');
    v8.setFlagsFromString('--wasm-lazy-compilation');
    v8.setFlagsFromString('--wasm-tier-up');
    v8.setFlagsFromString('--wasm-dynamic-tiering');
  }
  return { module, code: Buffer.from(fns.serialize(module)) };
}

/** Writes a code file (the file format above) whole or not at all: a temporary renamed into place. */
function writeCode(out: string, bytes: Buffer, body: Buffer): void {
  const tmp = `${out}.${process.pid}`;
  try {
    fs.writeFileSync(tmp, Buffer.concat([MAGIC, sha256(bytes), sha256(body), body]));
    fs.renameSync(tmp, out);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
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

let glueHow = 'javascript (not asked for)';
const glues = new Map<string, { m: WasmGlueModules | null; how: string }>();

/**
 * The WebAssembly glue's modules (host/sandbox/wasm-glue.ts) as the build made them in `dist`, or
 * null: WASMBOX_GLUE=js asks for the JavaScript glue alone, and a build without them (or with
 * others than this code's) has only that. wasmGlueUsed says which, for --stats. Compiled here, in
 * about 1 ms (WebAssembly.compile was slower still: it finishes only when the event loop turns,
 * and a sandbox's start-up does not let it turn before it needs the glue).
 */
export function wasmGlueModules(dist: string): WasmGlueModules | null {
  return glueOf(dist, () => {
    const g = glueModule(path.join(dist, 'wasm-glue.wasm'));
    const t = glueModule(path.join(dist, 'wasm-glue-t.wasm'));
    return { m: glueFrom(dist, g.m, t.m), code: g.why ?? t.why ?? 'precompiled' };
  });
}

/**
 * A glue module from the build's precompiled code beside it (as the kernel's, PRECOMPILED CODE:
 * its functions in TurboFan's code from the first call, and no compile at start-up, about 1 ms
 * here), or compiled here, with the reason. Throws where the file cannot be read.
 */
function glueModule(file: string): { m: WebAssembly.Module; why: string | null } {
  const bytes = fs.readFileSync(file);
  const r = loadCode(kernelCodeFile(file, jspi.available()), bytes);
  return typeof r === 'string' ? { m: new WebAssembly.Module(bytes as BufferSource), why: `compiled here: ${r}` } : { m: r, why: null };
}

/** `make` gives the modules and how they were compiled ("precompiled", or why here), for --stats. */
function glueOf(dist: string, make: () => { m: WasmGlueModules; code: string }): WasmGlueModules | null {
  if (process.env.WASMBOX_GLUE === 'js') {
    glueHow = 'javascript (WASMBOX_GLUE=js)';
    return null;
  }
  let g = glues.get(dist);
  if (g === undefined) {
    try {
      const { m, code } = make();
      g = { m, how: `webassembly (${path.join(dist, 'wasm-glue.wasm')}, ${code}) for ${GLUE_CALLS.map(([n]) => n).join(', ')}` };
    } catch (e) {
      const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? `the build has none: no ${(e as NodeJS.ErrnoException).path}` : (e as Error).message;
      g = { m: null, how: `javascript (the WebAssembly glue cannot be used: ${why})` };
    }
    glues.set(dist, g);
  }
  glueHow = g.how;
  return g.m;
}

function glueFrom(dist: string, glue: WebAssembly.Module, trampolines: WebAssembly.Module): WasmGlueModules {
  if (!glueStamped(glue) || !glueStamped(trampolines)) throw new Error('it is from another build; npm run build makes it again');
  let j: WebAssembly.Module | null | undefined;
  const fallback = () => {
    if (j === undefined) {
      try {
        j = new WebAssembly.Module(fs.readFileSync(path.join(dist, 'wasm-glue-j.wasm'))); // no code of its own to precompile
        if (!glueStamped(j)) j = null;
      } catch {
        j = null;
      }
    }
    return j;
  };
  return { glue, trampolines, fallback };
}

/** Which glue the last wasmGlueModules call gave, and why, for --stats. */
export function wasmGlueUsed(): string {
  return glueHow;
}
