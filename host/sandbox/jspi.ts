// Suspending a guest at a blocking call (trusted), so that one thread can run several sandboxes:
// while one guest sleeps, the others run. It uses JSPI, WebAssembly's JavaScript promise
// integration, in the form Node 20's V8 (11.3) has behind --experimental-wasm-stack-switching:
//
//   - an import made with `new WebAssembly.Function(type, fn, { suspending: 'first' })` takes a
//     WebAssembly.Suspender as its first parameter; when fn returns a promise, the wasm stack up to
//     the matching promising call is put aside, and taken up again with the promise's value;
//   - an export wrapped with `{ promising: 'first' }` creates that suspender, passes it as the first
//     argument, and returns a promise of the export's result.
//
// A guest compiled by clang knows nothing of suspenders, so a small generated wasm module, the shim,
// sits between it and the host. The shim keeps the suspender in a global; for every import that may
// block it exports a function with the guest's signature that calls the suspending host import with
// the suspender in front; and its `run(suspender)` stores the suspender and calls the guest's
// `_start` through a table. Only wasm frames lie between `run` and the suspending import, as JSPI
// requires. Measured in a prototype: about 4 ns more per call through the shim when it does not
// suspend, and about 6 KiB per suspended guest.
//
// The flag must be on from the start of the process. Set later with v8.setFlagsFromString, threads
// started afterwards have JSPI, but the main thread's garbage collector then crashes (it walks
// stack-switching roots its isolate never set up). So the CLI starts Node again with the flag when
// it is needed (host/cli/cli.ts), and runReplicas refuses without it.

/** WebAssembly's JSPI constructors, when this Node has them. */
const WA = WebAssembly as unknown as {
  Function?: new (type: { parameters: string[]; results: string[] }, fn: (...a: any[]) => any, how?: { suspending?: 'first'; promising?: 'first' }) => (...a: any[]) => any;
  Suspender?: unknown;
};

/** Whether guests can be suspended in this thread. */
export function available(): boolean {
  return typeof WA.Suspender === 'function' && typeof WA.Function === 'function';
}

/** The V8 flag (a node command-line option) that makes available() true. */
export const FLAG = '--experimental-wasm-stack-switching';

/** An import that may block: its result, or a promise of it (all parameters and the result are i32). */
export interface SuspendPoint {
  module: string;
  name: string;
  params: number;
  fn: (...a: number[]) => number | Promise<number>;
}

// ---------------------------------------------------------------------------------------------
// The shim, generated as bytes (wasm binary format, with reference types)

const I32 = 0x7f;
const EXTERNREF = 0x6f;
const FUNCREF = 0x70;

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
}

const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
const name = (s: string): number[] => [...uleb(s.length), ...Array.from(s, (c) => c.charCodeAt(0))];
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];
const functype = (params: number[], results: number[]): number[] => [0x60, ...vec(params.map((p) => [p])), ...vec(results.map((r) => [r]))];

/**
 * The shim for points with these parameter counts. Types: 2k is point k's host import (externref
 * then its i32s), 2k+1 its export; 2n is `_start`, 2n+1 `run`. Functions: imports 0..n-1 ("h"
 * "k"), forwarders n..2n-1 (exported as "k"), run at 2n; table "t" holds `_start`.
 */
function shimBytes(params: number[]): Uint8Array<ArrayBuffer> {
  const n = params.length;
  const types: number[][] = [];
  for (const p of params) {
    const i32s = new Array<number>(p).fill(I32);
    types.push(functype([EXTERNREF, ...i32s], [I32]), functype(i32s, [I32]));
  }
  types.push(functype([], []), functype([EXTERNREF], [I32]));
  const imports = params.map((_, k) => [...name('h'), ...name(String(k)), 0x00, ...uleb(2 * k)]);
  const funcs = [...params.map((_, k) => uleb(2 * k + 1)), uleb(2 * n + 1)];
  const table = [[FUNCREF, 0x00, 0x01]]; // funcref, min 1
  const globals = [[EXTERNREF, 0x01, 0xd0, EXTERNREF, 0x0b]]; // mutable, ref.null extern
  const exports = [...params.map((_, k) => [...name(String(k)), 0x00, ...uleb(n + k)]), [...name('run'), 0x00, ...uleb(2 * n)], [...name('t'), 0x01, 0x00]];
  const body = (code: number[]): number[] => {
    const b = [0x00, ...code, 0x0b]; // no locals
    return [...uleb(b.length), ...b];
  };
  const codes = params.map((p, k) => {
    const args: number[] = [];
    for (let i = 0; i < p; i++) args.push(0x20, ...uleb(i)); // local.get i
    return body([0x23, 0x00, ...args, 0x10, ...uleb(k)]); // global.get 0; args; call k
  });
  // run: global.set 0 (local 0); call_indirect (type 2n) table 0, entry 0; i32.const 0
  codes.push(body([0x20, 0x00, 0x24, 0x00, 0x41, 0x00, 0x11, ...uleb(2 * n), 0x00, 0x41, 0x00]));
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec(types)),
    ...section(2, vec(imports)),
    ...section(3, vec(funcs)),
    ...section(4, vec(table)),
    ...section(6, vec(globals)),
    ...section(7, vec(exports)),
    ...section(10, vec(codes)),
  ]);
}

const shims = new Map<string, WebAssembly.Module>();

function shimModule(params: number[]): WebAssembly.Module {
  const key = params.join(',');
  let m = shims.get(key);
  if (!m) {
    m = new WebAssembly.Module(shimBytes(params));
    shims.set(key, m);
  }
  return m;
}

/**
 * Instantiates `module` with `imports`, routing the given points through a fresh shim. Returns the
 * instance and `start`, which runs the guest's `_start`. When the guest suspends, `start` returns a
 * promise that settles when it returns or throws (it may suspend many times on the way). When it
 * never suspended, V8 11.3 returns the shim's 0, or throws, at once. The caller checks first that
 * available() holds and that the module exports `_start`.
 */
export function instantiate(module: WebAssembly.Module, imports: Record<string, Record<string, unknown>>, points: SuspendPoint[]): { instance: WebAssembly.Instance; start: () => unknown } {
  const F = WA.Function!;
  const hostFns: Record<string, unknown> = {};
  points.forEach((p, k) => {
    hostFns[String(k)] = new F({ parameters: ['externref', ...new Array<string>(p.params).fill('i32')], results: ['i32'] }, p.fn, { suspending: 'first' });
  });
  const shim = new WebAssembly.Instance(shimModule(points.map((p) => p.params)), { h: hostFns as WebAssembly.ModuleImports });
  const routed: Record<string, Record<string, unknown>> = {};
  for (const [mod, fns] of Object.entries(imports)) routed[mod] = { ...fns };
  points.forEach((p, k) => {
    routed[p.module] ??= {};
    routed[p.module][p.name] = shim.exports[String(k)];
  });
  const instance = new WebAssembly.Instance(module, routed as WebAssembly.Imports);
  (shim.exports.t as WebAssembly.Table).set(0, instance.exports._start as () => void);
  const run = new F({ parameters: [], results: ['externref'] }, shim.exports.run as () => number, { promising: 'first' });
  return { instance, start: () => run() };
}
