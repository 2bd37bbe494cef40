// guests/fsstress.c, our port of LTP's fsstress: small runs in the sandbox and under node:wasi on a
// tmpfs directory must give identical result logs and exit 0; the same seed gives the same log twice;
// -S prints the operation table; and a file system that lets a directory move into its own subtree
// (the @wasmer/wasi 1.2.2 bug) makes fsstress stop with status 3 instead of looping forever.
//
// Needs dist/guests/fsstress.wasm (`node scripts/build.mjs guests`). The reference directory is on
// /dev/shm when that is tmpfs, else a tmpfs mounted for the test (root), else os.tmpdir() (noted).
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { buildImage } from '../lib/images';
import type { Entry } from '../lib/layers';
import { runNodeWasi, type NodeWasiResult } from '../lib/nodewasi';
import { ROOT, runSandbox, type RunOutput } from '../lib/sandbox';

const WASM_PATH = path.join(ROOT, 'dist', 'guests', 'fsstress.wasm');
const OPS = ['creat', 'fdatasync', 'fsync', 'getdents', 'link', 'mkdir', 'read', 'readlink', 'rename', 'rmdir', 'stat', 'symlink', 'truncate', 'unlink', 'write'];
const FREQ: Record<string, number> = { creat: 4, mkdir: 2, rename: 2, symlink: 2, truncate: 2, write: 4 };

// ---------------------------------------------------------------------------------------------
// A tmpfs directory for the node:wasi reference runs.

function makeTmpfs(): { dir: string; cleanup: () => void } {
  const mounts = fs.existsSync('/proc/mounts') ? fs.readFileSync('/proc/mounts', 'utf8') : '';
  if (/^\S+ \/dev\/shm tmpfs /m.test(mounts)) {
    const dir = fs.mkdtempSync('/dev/shm/wasmbox-fsstress-');
    return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wasmbox-fsstress-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=512m', 'tmpfs', dir], { stdio: 'ignore' });
    return {
      dir,
      cleanup: () => {
        spawnSync('umount', [dir]);
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch {
    console.log(`NOTE fsstress: no tmpfs available, the reference runs on ${dir}`);
    return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
  }
}

const tmpfs = makeTmpfs();
process.on('exit', () => tmpfs.cleanup());
let serial = 0;

/** A fresh, empty directory on the tmpfs, used as the guest's '/'. */
function freshRoot(): string {
  const d = path.join(tmpfs.dir, `root-${++serial}`);
  fs.mkdirSync(d);
  return d;
}

// ---------------------------------------------------------------------------------------------
// Runs

const built = fs.existsSync(WASM_PATH);
const wasm = built ? new Uint8Array(fs.readFileSync(WASM_PATH)) : new Uint8Array(0);
const fsstressFile: Entry = { path: 'fsstress.wasm', type: 'file', data: wasm, mode: 0o755 };
let plainImage: string | undefined;

function image(): string {
  plainImage ??= buildImage({ layers: [[fsstressFile]], entrypoint: ['/fsstress.wasm'] }, { format: 'oci' });
  return plainImage;
}

function native(args: string[], root = freshRoot()): NodeWasiResult {
  return runNodeWasi(WASM_PATH, args, root, { timeoutMs: 120_000 });
}

function sandbox(args: string[], img = image()): RunOutput {
  return runSandbox(['--entrypoint', '/fsstress.wasm', img, ...args], { timeoutMs: 120_000 });
}

function runArgs(seed: number, extra: string[] = []): string[] {
  return ['-d', '/fss', '-n', '200', '-p', '3', '-l', '2', '-s', String(seed), '-V', '-L', ...extra];
}

/** First line of the first difference between two logs, for the failure message. */
function firstDiff(a: string, b: string): string {
  const x = a.split('\n');
  const y = b.split('\n');
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    if (x[i] !== y[i]) return `line ${i + 1}:\n  node:wasi: ${x[i]}\n  sandbox:   ${y[i]}`;
  }
  return 'no difference';
}

const LINE = /^(fsstress seed=\d+ ops=\d+ procs=\d+ loops=\d+|\d+ \d+\/\d+ [a-z]+ \S+( .*)? = \S+( .*)?|\d+ \d+\/end files=\d+ dirs=\d+ symlinks=\d+|\d+ cleanup = 0 n=\d+)$/;

function checkLog(log: string, ops: number, procs: number, loops: number): void {
  const lines = log.trimEnd().split('\n');
  assert.is(lines.length, 1 + loops * (procs * (ops + 1) + 1), 'one line per op, per process end and per cleanup');
  for (const l of lines) assert.ok(LINE.test(l), `log line of an unexpected shape: ${l}`);
}

// ---------------------------------------------------------------------------------------------

if (!built) {
  test('dist/guests/fsstress.wasm exists', () => {
    assert.unreachable('dist/guests/fsstress.wasm is missing: run `node scripts/build.mjs guests`');
  });
} else {
  test('-S prints the operation table with LTP frequencies (node:wasi and sandbox)', () => {
    const want = OPS.map((op) => `${op.padStart(20)} ${FREQ[op] ?? 1}/25 ${['getdents', 'read', 'readlink', 'stat'].includes(op) ? ' ' : 'write op'}`).join('\n') + '\n\n';
    const n = native(['-S']);
    assert.is(n.status, 0, n.stderr);
    assert.is(n.stdout, want);
    const s = sandbox(['-S']);
    assert.is(s.status, 0, s.stderr);
    assert.is(s.stdout, want);
  });

  test('-f changes the table, and LTP ops that WASI lacks are accepted and ignored', () => {
    const n = native(['-S', '-f', 'write=0', '-f', 'dwrite=0', '-f', 'creat=9']);
    assert.is(n.status, 0, n.stderr);
    assert.not.match(n.stdout, /^ +write /m); // zero frequencies are not listed
    assert.match(n.stdout, /^ {15}creat 9\/26 write op$/m);
    assert.is(native(['-S', '-f', 'nosuchop=1']).status, 1);
  });

  for (const seed of [1, 2, 1680153482]) {
    test(`seed ${seed}: sandbox and node:wasi on tmpfs give the same log, and exit 0`, () => {
      const args = runArgs(seed);
      const n = native(args);
      assert.is(n.status, 0, n.stderr);
      assert.is(n.stderr, '');
      checkLog(n.stdout, 200, 3, 2);
      const s = sandbox(args);
      assert.is(s.status, 0, s.stderr);
      assert.is(s.stderr, '');
      assert.ok(s.stdout === n.stdout, `logs differ at ${firstDiff(n.stdout, s.stdout)}`);
    });
  }

  test('the same seed gives the same log twice; another seed another log', () => {
    const a = native(runArgs(7));
    const b = native(runArgs(7));
    const c = native(runArgs(8));
    for (const r of [a, b, c]) assert.is(r.status, 0, r.stderr);
    assert.is(a.stdout, b.stdout);
    assert.is.not(a.stdout, c.stdout);
    const s1 = sandbox(runArgs(7));
    const s2 = sandbox(runArgs(7));
    assert.is(s1.stdout, s2.stdout);
    assert.is(s1.stdout, a.stdout);
  });

  test('-o LOGFILE writes the same log as -L; cleanup leaves DIR empty, -c keeps the files', () => {
    const root = freshRoot();
    const n = native(['-d', '/fss', '-n', '100', '-p', '2', '-s', '5', '-o', '/log.txt'], root);
    assert.is(n.status, 0, n.stderr);
    const l = native(['-d', '/fss', '-n', '100', '-p', '2', '-s', '5', '-L']);
    assert.is(fs.readFileSync(path.join(root, 'log.txt'), 'utf8'), l.stdout);
    assert.equal(fs.readdirSync(path.join(root, 'fss')), []);
    const root2 = freshRoot();
    const c = native(['-d', '/fss', '-n', '100', '-p', '2', '-s', '5', '-c'], root2);
    assert.is(c.status, 0, c.stderr);
    assert.equal(fs.readdirSync(path.join(root2, 'fss')).sort(), ['p0', 'p1']);
  });

  test('-c (no cleanup between loops) and -r (padded names): sandbox and node:wasi agree', () => {
    for (const extra of [['-c'], ['-r']]) {
      const args = runArgs(11, extra);
      const n = native(args);
      assert.is(n.status, 0, n.stderr);
      const s = sandbox(args);
      assert.is(s.status, 0, s.stderr);
      assert.ok(s.stdout === n.stdout, `${extra}: logs differ at ${firstDiff(n.stdout, s.stdout)}`);
    }
    const c = native(runArgs(11, ['-c']));
    assert.match(c.stdout, /^2 \d+\/\d+ mkdir \S+ = EEXIST$/m); // loop 2 meets loop 1's names
  });

  test('on a DIR the image already fills (lower layer), sandbox and node:wasi on a copy agree', () => {
    // Phase 1 (node:wasi, -c) leaves a tree of files, dirs, symlinks and hard links behind.
    const gen = freshRoot();
    const g = native(['-d', '/fss', '-n', '300', '-p', '3', '-s', '21', '-c'], gen);
    assert.is(g.status, 0, g.stderr);
    const entries: Entry[] = [];
    const firstPath = new Map<number, string>();
    const walk = (rel: string) => {
      for (const name of fs.readdirSync(path.join(gen, rel)).sort()) {
        const r = `${rel}/${name}`;
        const p = path.join(gen, r);
        const st = fs.lstatSync(p);
        if (st.isDirectory()) {
          entries.push({ path: r, type: 'dir' });
          walk(r);
          continue;
        }
        const first = firstPath.get(st.ino);
        if (first !== undefined) entries.push({ path: r, type: 'hardlink', target: first });
        else if (st.isSymbolicLink()) entries.push({ path: r, type: 'symlink', target: fs.readlinkSync(p) });
        else entries.push({ path: r, type: 'file', data: fs.readFileSync(p) });
        if (first === undefined) firstPath.set(st.ino, r);
      }
    };
    walk('fss');
    assert.ok(entries.some((e) => e.type === 'hardlink'), 'the lower tree has hard links');
    const img = buildImage({ layers: [[fsstressFile], entries], entrypoint: ['/fsstress.wasm'] }, { format: 'oci' });
    // Phase 2: another seed, and the phase-1 seed again (its names collide with the lower layer).
    for (const seed of ['22', '21']) {
      const ref = freshRoot();
      execFileSync('cp', ['-a', path.join(gen, 'fss'), path.join(ref, 'fss')]);
      const args = ['-d', '/fss', '-n', '300', '-p', '3', '-l', '2', '-s', seed, '-V', '-L'];
      const n = native(args, ref);
      assert.is(n.status, 0, n.stderr);
      const s = sandbox(args, img);
      assert.is(s.status, 0, s.stderr);
      assert.ok(s.stdout === n.stdout, `seed ${seed}: logs differ at ${firstDiff(n.stdout, s.stdout)}`);
    }
  });

  test('a file system that moves a directory into its own subtree: exit 3 and a message, no hang', () => {
    // node:wasi with path_rename patched to claim success for rename(d, d/...), as @wasmer/wasi 1.2.2.
    const runner = `
      const { WASI } = require('node:wasi');
      const fs = require('node:fs');
      const [wasmPath, root, ...args] = process.argv.slice(1);
      const wasi = new WASI({ version: 'preview1', args: ['fsstress', ...args], env: {}, preopens: { '/': root }, returnOnExit: true });
      const imports = wasi.getImportObject();
      const w = imports.wasi_snapshot_preview1;
      const rename = w.path_rename;
      let memory;
      w.path_rename = (fd, op, ol, nfd, np, nl) => {
        const dec = new TextDecoder();
        const from = dec.decode(new Uint8Array(memory.buffer, op, ol));
        const to = dec.decode(new Uint8Array(memory.buffer, np, nl));
        return to.startsWith(from + '/') ? 0 : rename(fd, op, ol, nfd, np, nl);
      };
      const inst = new WebAssembly.Instance(new WebAssembly.Module(fs.readFileSync(wasmPath)), imports);
      memory = inst.exports.memory;
      process.exit(wasi.start(inst));
    `;
    const r = spawnSync(process.execPath, ['--no-warnings', '-e', runner, WASM_PATH, freshRoot(), '-d', '/fss', '-n', '500', '-p', '20', '-s', '1680153482', '-L'], {
      encoding: 'utf8',
      timeout: 60_000,
      maxBuffer: 64 << 20,
    });
    assert.is(r.status, 3, `status ${r.status}, stderr: ${r.stderr}`);
    assert.match(r.stderr, /^fsstress: file system inconsistent: .*rename (\S+) \1\/\S+ succeeded: a directory cannot move into itself/);
  });
}

test.run();
