// The guests' compiled code, kept across runs (trusted, Node only): what wasmtime's compilation
// cache does for a native runtime.
//
// A guest's module is compiled the usual way at its first run: each function in Liftoff, V8's
// baseline tier, at its first call, and again by TurboFan once hot, on the same two cores the guest
// runs on. Its first few thousand calls of anything run the slow code (opbench's first pass:
// readdir of 100 entries 5.8-7.9 µs against 3.6-3.8 from TurboFan's code, stat 0.22-0.43 against
// 0.17-0.19; bench/results/analysis.md). So a module compiled here that has no code kept yet is
// compiled again with TurboFan, whole, after the run, by `node dist/kernel-code.js --guest` in a
// Node of its own (V8's flags change while it compiles, as for the kernel's code) started with this
// Node's flags, and V8's code for it kept in `guest-code/` beside the kernel. Later runs of the same
// bytes under the same Node and flags load that code instead of compiling (loadCode: the file
// carries a SHA-256 of the module's bytes and of the code, and V8 checks its version, flags and
// CPU). Beside the kernel and nowhere else, for the reason the kernel's own code is kept there
// (kernel-node.ts, CODE FOR THIS NODE'S FLAGS): V8 runs it unverified, so it must be as far from
// any guest as dist/ itself, which a cache under $HOME is not.
//
// WASMBOX_GUEST_CODE: unset or `1`, the compile runs in the background after the sandbox has
// finished (detached: the run's exit does not wait for it, nor does anything of the run's own
// compete with it); `sync`, the sandbox waits for it before it returns (the tests and the
// benchmarks' runs: nothing left running after them); `0`, no code is kept or loaded. Not done
// where dist/ cannot be written, where Node's flags set one of V8's tiering flags (the code would
// be recorded under other flags), or for a module over 16 MiB (TurboFan compiles about 1 MB of
// WebAssembly a second here, and its code is 2-3 times the size). A `.pending` file beside the code
// file keeps two runs from compiling the same module at once (one older than 10 minutes is a
// compile that died, and is taken over). The 64 most recently used code files, at most 512 MiB, are
// kept.
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { loadNative } from '../../native/index';
import { flagsKey, loadCode, switchesTiering, touch } from './kernel-node';

const KEEP = 64;
/** At most this much code kept in all. */
const KEEP_BYTES = 512 << 20;
/** Larger modules are not kept, and at most QUEUE_BYTES of modules are compiled after one run. */
const MAX_BYTES = 16 << 20;
const QUEUE_BYTES = 32 << 20;
const STALE_MS = 10 * 60 * 1000;

type Mode = 'background' | 'sync' | 'off';

export interface GuestCode {
  /** The module of `bytes`: from kept code, or compiled here (and queued to be kept). */
  compile(bytes: Uint8Array): WebAssembly.Module;
  /** Starts (or, in `sync` mode, makes) the compiles queued by this run. Never throws. */
  flush(): void;
  /** For --stats. */
  stat(): string;
}

export function guestCode(dist: string): GuestCode {
  const dir = path.join(dist, 'guest-code');
  const env = process.env.WASMBOX_GUEST_CODE;
  let mode: Mode = env === '0' ? 'off' : env === 'sync' ? 'sync' : 'background';
  let why = env === '0' ? 'WASMBOX_GUEST_CODE=0' : '';
  if (mode !== 'off' && switchesTiering()) [mode, why] = ['off', "this Node's flags set a WebAssembly tiering flag"];
  if (mode !== 'off') {
    try {
      fs.accessSync(fs.existsSync(dir) ? dir : dist, fs.constants.W_OK);
    } catch {
      [mode, why] = ['off', `${dist} cannot be written`];
    }
  }
  const key = mode === 'off' ? '' : flagsKey();
  const queued = new Map<string, Uint8Array>();
  let queuedBytes = 0;
  let kept = 0;
  let here = 0;
  let refused = '';
  let started = '';

  const codeFile = (hash: string) => path.join(dir, `${hash.slice(0, 32)}-${key}.code`);

  return {
    compile(bytes) {
      if (mode === 'off' || bytes.length > MAX_BYTES) {
        here++;
        return new WebAssembly.Module(bytes as BufferSource);
      }
      const digest = crypto.createHash('sha256').update(bytes).digest();
      const file = codeFile(digest.toString('hex'));
      const r = loadCode(file, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length), digest);
      if (typeof r !== 'string') {
        kept++;
        touch(file);
        return r;
      }
      here++;
      if (!r.startsWith('no ')) refused = r; // a damaged or foreign file: compiled again below, replacing it
      if (queuedBytes + bytes.length <= QUEUE_BYTES && !queued.has(file)) {
        queued.set(file, bytes);
        queuedBytes += bytes.length;
      }
      return new WebAssembly.Module(bytes as BufferSource);
    },

    flush() {
      if (queued.size === 0) return;
      const args: string[] = [];
      try {
        fs.mkdirSync(dir, { recursive: true });
        sweep(dir);
        for (const [file, bytes] of queued) {
          if (!claim(`${file}.pending`)) continue;
          const input = `${file}.${process.pid}.wasm`;
          args.push(file, input);
          fs.writeFileSync(input, bytes, { mode: 0o600 });
        }
      } catch (e) {
        // what this run claimed goes again at once, not after STALE_MS
        for (let i = 0; i < args.length; i += 2) for (const f of [`${args[i]}.pending`, args[i + 1]]) fs.rmSync(f, { force: true });
        started = `not started: ${(e as Error).message}`;
        return;
      } finally {
        queued.clear();
        queuedBytes = 0;
      }
      if (args.length === 0) return;
      const argv = [...process.execArgv, path.join(dist, 'kernel-code.js'), '--guest', String(KEEP), String(KEEP_BYTES), ...args];
      const wait = (note: string) => {
        const r = spawnSync(process.execPath, argv, { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
        started = r.status === 0 ? `${args.length / 2} kept${note}` : `failed: ${(r.stderr || `exit ${r.status}`).trim().split('\n')[0]}`;
      };
      if (mode === 'sync') return wait('');
      // nothing of this process's may outlive it in the compile (a pipe its caller waits on): where
      // the addon cannot mark every descriptor close-on-exec, the run waits for the compile instead
      if (loadNative().addon?.cloexecAll?.() !== 0) return wait(' (waited for: no native addon to keep descriptors from the compile)');
      try {
        spawn(process.execPath, argv, { detached: true, stdio: 'ignore' }).unref();
        started = `${args.length / 2} compiling in the background`;
      } catch (e) {
        started = `not started: ${(e as Error).message}`;
      }
    },

    stat() {
      if (mode === 'off') return `off (${why})`;
      const parts = [`${kept} from kept code`, `${here} compiled here`];
      if (refused) parts.push(`refused: ${refused}`);
      if (queued.size) parts.push(`${queued.size} to compile after the run`);
      if (started) parts.push(started);
      return `${mode}: ${parts.join(', ')}`;
    },
  };
}

/** Removes what compiles that died left behind: inputs and locks older than STALE_MS. */
function sweep(dir: string): void {
  for (const f of fs.readdirSync(dir)) {
    if (!f.endsWith('.wasm') && !f.endsWith('.pending')) continue;
    const file = path.join(dir, f);
    try {
      if (Date.now() - fs.statSync(file).mtimeMs >= STALE_MS) fs.rmSync(file, { force: true });
    } catch {
      // gone meanwhile
    }
  }
}

/** Takes the lock of a module's compile: false while another run's compile holds it. */
function claim(lock: string): boolean {
  try {
    fs.writeFileSync(lock, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
    return true;
  } catch {
    try {
      if (Date.now() - fs.statSync(lock).mtimeMs < STALE_MS) return false;
      fs.writeFileSync(lock, `${process.pid}\n`, { mode: 0o600 });
      return true;
    } catch {
      return false;
    }
  }
}
