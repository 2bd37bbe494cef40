// One benchmark run under a JS WASI runtime, in its own process: Node's node:wasi on a directory
// (the native reference), or a peer with its own in-memory file system (@wasmer/wasi 1.2.2 with
// MemFS, @bjorn3/browser_wasi_shim). Input: one JSON argument
//   { runtime, wasm, runs: [[argv...], ...], preopens: { guestPath: hostDir }, dirs: [...] }
// It compiles the module once, runs each argv in turn in a fresh instance, and prints one JSON line:
//   { ms, statuses, stdout, stderr, error? }  (ms: compile + all runs, wall time in this process)
//
// node:wasi note: on Node 20, a WebAssembly instance that calls node:wasi's imports directly can
// abort the process (SIGABRT) part-way through clang; calling them through plain JS functions does
// not. Every import is therefore wrapped in a JS function, which costs a few nanoseconds a call.
import fs from 'node:fs';

const spec = JSON.parse(process.argv[2]);
const out = { ms: 0, statuses: [], stdout: '', stderr: '' };
const enc = new TextEncoder();
const dec = new TextDecoder();

/** Each import wrapped in a JS function of the same arity (node:wasi checks the argument count). */
function wrap(imports) {
  const w = {};
  const names = 'abcdeghijklm'; // no 'f': that is the wrapped function
  for (const [k, f] of Object.entries(imports)) {
    const ps = names.slice(0, f.length).split('').join(',');
    w[k] = new Function('f', `return function (${ps}) { return f(${ps}); }`)(f);
  }
  return w;
}

async function main() {
  const t0 = performance.now();
  const module = new WebAssembly.Module(fs.readFileSync(spec.wasm));
  if (spec.runtime === 'nodewasi') {
    const { WASI } = await import('node:wasi');
    for (const argv of spec.runs) {
      const wasi = new WASI({ version: 'preview1', args: argv, env: { PATH: '/bin:/usr/bin' }, preopens: spec.preopens, returnOnExit: true });
      const inst = new WebAssembly.Instance(module, { wasi_snapshot_preview1: wrap(wasi.wasiImport) });
      out.statuses.push(wasi.start(inst));
    }
  } else if (spec.runtime === 'wasmer') {
    const { init, WASI, MemFS } = await import('@wasmer/wasi');
    await init();
    const memfs = new MemFS();
    for (const d of spec.dirs ?? []) memfs.createDir(d);
    for (const argv of spec.runs) {
      const wasi = new WASI({ args: argv, env: {}, fs: memfs });
      const inst = wasi.instantiate(module, {});
      out.statuses.push(wasi.start(inst));
      out.stdout += wasi.getStdoutString();
      out.stderr += wasi.getStderrString();
    }
  } else if (spec.runtime === 'shim') {
    const shim = await import('@bjorn3/browser_wasi_shim');
    const root = new Map();
    for (const d of spec.dirs ?? []) root.set(d.replace(/^\//, ''), new shim.Directory(new Map()));
    for (const argv of spec.runs) {
      const fds = [
        new shim.OpenFile(new shim.File([])),
        new shim.ConsoleStdout((b) => (out.stdout += dec.decode(b, { stream: true }))),
        new shim.ConsoleStdout((b) => (out.stderr += dec.decode(b, { stream: true }))),
        new shim.PreopenDirectory('/', root),
      ];
      const wasi = new shim.WASI(argv, [], fds);
      const inst = new WebAssembly.Instance(module, { wasi_snapshot_preview1: wasi.wasiImport });
      out.statuses.push(wasi.start(inst));
    }
  } else throw new Error(`unknown runtime ${spec.runtime}`);
  out.ms = performance.now() - t0;
}

// node:wasi writes the guest's stdout/stderr straight to this process's fds; the parent captures them.
main().then(
  () => {
    if (spec.runtime === 'nodewasi') fs.writeSync(3, enc.encode(JSON.stringify(out) + '\n'));
    else process.stdout.write(JSON.stringify(out) + '\n');
  },
  (e) => {
    out.error = String(e?.message ?? e).split('\n')[0];
    if (spec.runtime === 'nodewasi') fs.writeSync(3, enc.encode(JSON.stringify(out) + '\n'));
    else process.stdout.write(JSON.stringify(out) + '\n');
  },
);
