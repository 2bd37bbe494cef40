// Runs a WASI preview1 guest under Node's own node:wasi (uvwasi), with the host directory `root`
// preopened as '/': the reference runtime that the sandbox is compared against. The guest runs in a
// child process, so that its stdout, stderr and exit status are captured cleanly and a trap or a
// proc_exit cannot take the test process down.
//
// Owns: the child runner and its result. Not the file system it runs on (overlayfs.ts).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface NodeWasiOptions {
  /** Environment of the guest (KEY=VALUE strings). Default: none. */
  env?: string[];
  /** Bytes for the guest's stdin. Default: empty. */
  stdin?: string | Uint8Array;
  /** Kill the child after this many ms. Default: 60000. */
  timeoutMs?: number;
}

export interface NodeWasiResult {
  stdout: string;
  stderr: string;
  /** The guest's exit code; TRAP_STATUS when it trapped; null when the child was killed. */
  status: number | null;
}

/** Exit status of the runner when the guest traps (or the module fails to instantiate). */
export const TRAP_STATUS = 134;

// argv: [wasmPath, root, argsJson, envJson]. The guest's argv[0] is 'probe' whatever the file.
const RUNNER = `
const { WASI } = require('node:wasi');
const fs = require('node:fs');
const [wasmPath, root, argsJson, envJson] = process.argv.slice(1);
const env = {};
for (const kv of JSON.parse(envJson)) { const i = kv.indexOf('='); env[kv.slice(0, i)] = kv.slice(i + 1); }
let status;
try {
  const wasi = new WASI({ version: 'preview1', args: JSON.parse(argsJson), env, preopens: { '/': root }, returnOnExit: true });
  const mod = new WebAssembly.Module(fs.readFileSync(wasmPath));
  // a guest that can use the wasmbox host's extra calls gets ENOSYS from each here (another host)
  const wasmbox = {};
  for (const i of WebAssembly.Module.imports(mod)) if (i.module === 'wasmbox') wasmbox[i.name] = () => 52;
  const inst = new WebAssembly.Instance(mod, { ...wasi.getImportObject(), wasmbox });
  status = wasi.start(inst);
} catch (e) {
  process.stderr.write('nodewasi: guest trapped: ' + (e && e.stack || e) + '\\n');
  status = ${TRAP_STATUS};
}
process.exit(status);
`;

/**
 * Runs `wasm` (bytes, or a path to a .wasm file) with argv [argv0, ...args] under node:wasi, with
 * `root` preopened as '/'. argv0 is the basename of the wasm path, or 'guest.wasm' for bytes.
 */
export function runNodeWasi(wasm: Uint8Array | string, args: string[], root: string, opts: NodeWasiOptions = {}): NodeWasiResult {
  let wasmPath: string;
  let tmp: string | undefined;
  if (typeof wasm === 'string') {
    wasmPath = wasm;
  } else {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wasmbox-nodewasi-'));
    wasmPath = path.join(tmp, 'guest.wasm');
    fs.writeFileSync(wasmPath, wasm);
  }
  try {
    const argv = [path.basename(wasmPath), ...args];
    const r = spawnSync(
      process.execPath,
      ['--no-warnings', '-e', RUNNER, wasmPath, root, JSON.stringify(argv), JSON.stringify(opts.env ?? [])],
      { input: opts.stdin ?? '', encoding: 'utf8', timeout: opts.timeoutMs ?? 60000, maxBuffer: 64 << 20 },
    );
    if (r.error && (r.error as NodeJS.ErrnoException).code !== 'ETIMEDOUT') throw r.error;
    return { stdout: r.stdout, stderr: r.stderr, status: r.status };
  } finally {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  }
}
