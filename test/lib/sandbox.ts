// Running the sandbox from tests: `node host/run.js ...` as a child process, the way a user runs it,
// with stdout, stderr and the exit status captured.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { KernelFault } from '../../host/sandbox/kernel';

function findRoot(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json')) || !fs.existsSync(path.join(dir, 'host', 'run.js'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('test: cannot find the project root');
    dir = up;
  }
  return dir;
}

/** The checkout's root directory. */
export const ROOT = findRoot();
export const RUN_JS = path.join(ROOT, 'host', 'run.js');

export function guestWasm(name: string): Uint8Array {
  return fs.readFileSync(path.join(ROOT, 'dist', 'guests', `${name}.wasm`));
}

export interface RunOutput {
  stdout: string;
  stderr: string;
  status: number;
}

/** Runs `node host/run.js ...args`; never throws for a failing run. */
export function runSandbox(args: string[], opts: { input?: string; env?: Record<string, string>; timeoutMs?: number } = {}): RunOutput {
  const r = spawnSync(process.execPath, [RUN_JS, ...args], {
    cwd: ROOT,
    input: opts.input ?? '',
    env: { ...process.env, ...opts.env },
    encoding: 'utf8',
    timeout: opts.timeoutMs ?? 60_000,
    maxBuffer: 64 << 20,
  });
  if (r.error) throw r.error;
  return { stdout: r.stdout, stderr: r.stderr, status: r.status ?? (r.signal ? 128 : -1) };
}

/** 'ok' if `f` returns, 'fault' if it throws a KernelFault (a hostile kernel caught); anything else is rethrown. */
export function outcome(f: () => unknown): 'ok' | 'fault' {
  try {
    f();
    return 'ok';
  } catch (e) {
    if (e instanceof KernelFault) return 'fault';
    throw e;
  }
}
