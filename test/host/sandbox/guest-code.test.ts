// host/sandbox/guest-code.ts: a guest's module compiled here is compiled again with TurboFan after
// the run (in a Node of its own) and its code kept, and the next load of the same bytes takes it; a
// damaged or foreign code file is refused with its reason and replaced; a compile under way (its
// lock) is not started twice, a dead one's lock is taken over; WASMBOX_GUEST_CODE=0 keeps nothing;
// the background compile finishes on its own and leaves nothing behind; the kept files are pruned;
// and through the CLI, a program's second run says it ran from kept code, with the same output, and
// a background compile holds none of the descriptors the run was given.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { guestCode } from '../../../host/sandbox/guest-code';
import { prune } from '../../../host/sandbox/kernel-node';
import { writeImage } from '../../../host/image/image-writer';
import { guestWasm, ROOT, runSandbox } from '../../lib/sandbox';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wasmbox-gcode-'));
let n = 0;

/** A directory standing for dist/: the compiler beside it, and its guest-code/ (made by the first compile). */
function dist(): string {
  const d = path.join(tmp, `dist${n++}`);
  fs.mkdirSync(d);
  fs.copyFileSync(path.join(ROOT, 'dist/kernel-code.js'), path.join(d, 'kernel-code.js'));
  return d;
}

/** The args guest with a custom section of its own: bytes no other test has compiled. */
function unique(tag: string): Uint8Array {
  const name = Buffer.from(`wasmbox.test.${tag}.${process.pid}.${n++}`);
  const section = Buffer.concat([Buffer.from([0, name.length + 1, name.length]), name]);
  return Buffer.concat([guestWasm('args'), section]);
}

const codeFiles = (d: string) => (fs.existsSync(path.join(d, 'guest-code')) ? fs.readdirSync(path.join(d, 'guest-code')).filter((f) => f.endsWith('.code')) : []);
const others = (d: string) => (fs.existsSync(path.join(d, 'guest-code')) ? fs.readdirSync(path.join(d, 'guest-code')).filter((f) => !f.endsWith('.code')) : []);
const exportsOf = (m: WebAssembly.Module) => WebAssembly.Module.exports(m).map((e) => `${e.kind}:${e.name}`);

function withMode<T>(mode: string | undefined, f: () => T): T {
  const was = process.env.WASMBOX_GUEST_CODE;
  if (mode === undefined) delete process.env.WASMBOX_GUEST_CODE;
  else process.env.WASMBOX_GUEST_CODE = mode;
  try {
    return f();
  } finally {
    if (was === undefined) delete process.env.WASMBOX_GUEST_CODE;
    else process.env.WASMBOX_GUEST_CODE = was;
  }
}

test('sync: compiled here, kept after the run, and the next load takes the kept code', () => {
  const d = dist();
  const bytes = unique('sync');
  const reference = exportsOf(new WebAssembly.Module(bytes as BufferSource));
  const first = withMode('sync', () => guestCode(d));
  assert.equal(exportsOf(first.compile(bytes)), reference);
  assert.is(first.stat(), 'sync: 0 from kept code, 1 compiled here, 1 to compile after the run');
  first.flush();
  assert.is(first.stat(), 'sync: 0 from kept code, 1 compiled here, 1 kept');
  assert.is(codeFiles(d).length, 1);
  assert.equal(others(d), []);
  const second = withMode('sync', () => guestCode(d));
  assert.equal(exportsOf(second.compile(bytes)), reference);
  assert.is(second.stat(), 'sync: 1 from kept code, 0 compiled here');
  second.flush(); // nothing queued: nothing started
  assert.is(second.stat(), 'sync: 1 from kept code, 0 compiled here');
  // other bytes are not served by it
  const third = withMode('sync', () => guestCode(d));
  third.compile(unique('other'));
  assert.match(third.stat(), /0 from kept code, 1 compiled here/);
});

/** A module of its own compiled in `d` and its code kept (sync): its bytes, and its code file's name and path. */
function keptOnce(d: string, tag: string): { bytes: Uint8Array; name: string; file: string } {
  const bytes = unique(tag);
  const before = new Set(codeFiles(d));
  const g = withMode('sync', () => guestCode(d));
  g.compile(bytes);
  g.flush();
  const name = codeFiles(d).find((f) => !before.has(f))!;
  assert.ok(name, 'kept');
  return { bytes, name, file: path.join(d, 'guest-code', name) };
}

test('a damaged or foreign code file is refused with its reason, and replaced', () => {
  const d = dist();
  const { bytes, name, file } = keptOnce(d, 'damaged');
  const good = fs.readFileSync(file);
  const bad = Buffer.from(good);
  bad[bad.length - 100] ^= 0xff;
  fs.writeFileSync(file, bad);
  const h = withMode('sync', () => guestCode(d));
  assert.equal(exportsOf(h.compile(bytes)), exportsOf(new WebAssembly.Module(bytes as BufferSource)));
  assert.match(h.stat(), new RegExp(`0 from kept code, 1 compiled here, refused: ${name.replace(/[.]/g, '\\.')} is damaged`));
  h.flush();
  assert.ok(fs.readFileSync(file).equals(good), 'compiled again and replaced');
  // another module's code under this one's name
  fs.copyFileSync(keptOnce(d, 'foreign').file, file);
  const k = withMode('sync', () => guestCode(d));
  k.compile(bytes);
  assert.match(k.stat(), /refused: .* was made for other bytes/);
});

test('a compile under way is not started again; a dead one\'s lock is taken over', () => {
  const d = dist();
  const { bytes, name, file } = keptOnce(d, 'lock');
  fs.rmSync(file);
  fs.writeFileSync(`${file}.pending`, '1\n');
  const busy = withMode('sync', () => guestCode(d));
  busy.compile(bytes);
  busy.flush();
  assert.equal(codeFiles(d), [], 'another run holds the lock');
  const old = new Date(Date.now() - 11 * 60 * 1000);
  fs.utimesSync(`${file}.pending`, old, old);
  fs.writeFileSync(`${file}.1.wasm`, 'left by a compile that died');
  fs.utimesSync(`${file}.1.wasm`, old, old);
  const after = withMode('sync', () => guestCode(d));
  after.compile(bytes);
  after.flush();
  assert.equal(codeFiles(d), [name]);
  assert.equal(others(d), [], 'the dead compile\'s lock and input are gone');
});

test('WASMBOX_GUEST_CODE=0: nothing loaded, nothing kept', () => {
  const d = dist();
  const bytes = unique('off');
  const g = withMode('0', () => guestCode(d));
  assert.equal(exportsOf(g.compile(bytes)), exportsOf(new WebAssembly.Module(bytes as BufferSource)));
  g.flush();
  assert.is(g.stat(), 'off (WASMBOX_GUEST_CODE=0)');
  assert.not.ok(fs.existsSync(path.join(d, 'guest-code')));
});

test('background: the run does not wait, and the compile finishes on its own, leaving only the code', async () => {
  const d = dist();
  const bytes = unique('background');
  const g = withMode(undefined, () => guestCode(d));
  g.compile(bytes);
  g.flush();
  assert.match(g.stat(), /^background: 0 from kept code, 1 compiled here, 1 compiling in the background$/);
  const until = Date.now() + 60_000;
  while ((codeFiles(d).length === 0 || others(d).length > 0) && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
  assert.is(codeFiles(d).length, 1);
  assert.equal(others(d), []);
  const h = withMode(undefined, () => guestCode(d));
  h.compile(bytes);
  assert.match(h.stat(), /^background: 1 from kept code/);
});

test('the kept files are pruned to the most recently used', () => {
  const d = dist();
  for (const i of [0, 1, 2]) keptOnce(d, `prune${i}`);
  assert.is(codeFiles(d).length, 3);
  const dir = path.join(d, 'guest-code');
  const all = codeFiles(d).map((f) => ({ f, t: fs.statSync(path.join(dir, f)).mtimeMs })).sort((a, b) => b.t - a.t);
  prune(dir, 2);
  assert.equal(codeFiles(d).sort(), all.slice(0, 2).map((x) => x.f).sort());
  prune(dir, 2, 1); // over the byte bound: the newest alone stays
  assert.equal(codeFiles(d), [all[0].f]);
});

test('through the CLI: the second run of a program runs from kept code, with the same output', () => {
  const image = path.join(tmp, 'image.tar');
  writeImage({ layers: [[{ path: 'bin/args', type: 'file', data: unique('cli'), mode: 0o755 }]] }, image, { format: 'oci' });
  const env = { WASMBOX_GUEST_CODE: 'sync' };
  const first = runSandbox(['--stats', image, '/bin/args', 'x'], { env });
  assert.is(first.status, 0, first.stderr);
  assert.match(first.stderr, /stats: guestCode sync: 0 from kept code, 1 compiled here, 1 to compile after the run/);
  const second = runSandbox(['--stats', image, '/bin/args', 'x'], { env });
  assert.is(second.status, 0, second.stderr);
  assert.match(second.stderr, /stats: guestCode sync: 1 from kept code, 0 compiled here/);
  assert.is(second.stdout, first.stdout);
  assert.match(second.stdout, /argv\[1\]=x/);
});

test('background, through the CLI: the compile holds none of the descriptors the run was given', async () => {
  // the CLI is given a pipe as fd 200 by bash's `200>&3`, not close-on-exec (as a shell's redirection
  // or an engine's preserved fd is): it must close when the CLI exits, not when the compile it
  // leaves behind does
  const image = path.join(tmp, 'image-bg.tar');
  writeImage({ layers: [[{ path: 'bin/args', type: 'file', data: unique('cli-bg'), mode: 0o755 }]] }, image, { format: 'oci' });
  const env = { ...process.env };
  delete env.WASMBOX_GUEST_CODE;
  const dir = path.join(ROOT, 'dist/guest-code');
  const child = spawn('/bin/bash', ['-c', 'exec "$0" "$@" 200>&3 3>&-', process.execPath, path.join(ROOT, 'host/run.js'), '--stats', image, '/bin/args'], { env, stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const fd3 = child.stdio[3] as NodeJS.ReadableStream;
  fd3.resume();
  const closed = new Promise<void>((resolve) => fd3.on('close', () => resolve()));
  const exited = new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? -1)));
  assert.is(await exited, 0);
  await closed;
  assert.match(stderr, /guestCode background: 0 from kept code, 1 compiled here, 1 to compile after the run/);
  // the compile was still to finish when fd 3 closed: it holds the lock the CLI took for it (the
  // CLI's pid inside; tests beside this one keep code in the same directory), and its code comes after
  const held = (f: string) => {
    try {
      return f.endsWith('.pending') && fs.readFileSync(path.join(dir, f), 'utf8') === `${child.pid}\n`;
    } catch {
      return false;
    }
  };
  const locks = fs.readdirSync(dir).filter(held);
  assert.is(locks.length, 1, `this run's lock: ${fs.readdirSync(dir).join()}`);
  const code = locks[0].slice(0, -'.pending'.length);
  assert.not.ok(fs.existsSync(path.join(dir, code)), `already kept: ${code}`);
  const mine = () => fs.readdirSync(dir).filter((f) => f.startsWith(code));
  const until = Date.now() + 60_000;
  while (!(fs.existsSync(path.join(dir, code)) && mine().length === 1) && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
  assert.equal(mine(), [code], 'the code alone: no lock or input left');
});

test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));
test.run();
