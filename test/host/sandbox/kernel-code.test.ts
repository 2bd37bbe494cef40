// host/sandbox/kernel-node.ts's precompiled kernel (PRECOMPILED CODE): the build's code files are
// taken by a plain run and by a run with JSPI's flag, and every code file that must not be used
// (missing, not precompiled code, made for other bytes, damaged, made under other V8 flags) is passed
// over with its reason; the kernel is then compiled with TurboFan and its code kept beside it for
// the next load (CODE FOR THIS NODE'S FLAGS), which takes it; a damaged kept file is not trusted,
// and where nothing can be kept, or the flags set a tiering flag, the kernel is compiled the
// ordinary way.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { kernelCodeFile, kernelCompiled, kernelFlagsDir, kernelModule } from '../../../host/sandbox/kernel-node';
import { ROOT } from '../../lib/sandbox';

const DIST = path.join(ROOT, 'dist');
const KERNEL = path.join(DIST, 'kernel.wasm');
const exportsOf = (m: WebAssembly.Module) => WebAssembly.Module.exports(m).map((e) => `${e.kind}:${e.name}`);
const reference = exportsOf(new WebAssembly.Module(fs.readFileSync(KERNEL)));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wasmbox-kcode-'));
let n = 0;

/** A fresh directory with a copy of the kernel (kernelModule caches by path). */
function kernelCopy(bytes: Uint8Array = fs.readFileSync(KERNEL)): string {
  const dir = path.join(tmp, String(n++));
  fs.mkdirSync(dir);
  const file = path.join(dir, 'kernel.wasm');
  fs.writeFileSync(file, bytes);
  return file;
}

/** Precompiles `file` in a child Node (with extra V8 flags, if given), as the build does. */
function precompile(file: string, flags: string[] = []): void {
  const r = spawnSync(process.execPath, [...flags, path.join(DIST, 'kernel-code.js'), file], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
}

/** Loads `file` as the sandbox does; returns how it was compiled (and checks the module is whole). */
function load(file: string): string {
  const m = kernelModule(file);
  assert.equal(exportsOf(m), reference);
  return kernelCompiled();
}

test('the build wrote code for a plain Node and for one with JSPI, and runs take it', () => {
  for (const jspi of [false, true]) assert.ok(fs.statSync(kernelCodeFile(KERNEL, jspi)).size > 1000);
  const plain = spawnSync(process.execPath, [path.join(ROOT, 'host/run.js'), '--stats', path.join(DIST, 'images/default.tar'), '/bin/echo', 'hi'], { encoding: 'utf8' });
  assert.is(plain.status, 0, plain.stderr);
  assert.is(plain.stdout, 'hi\n');
  assert.match(plain.stderr, /kernelCode precompiled \(kernel\.wasm\.code\)/);
  // a shell with a pipeline: the CLI starts Node again with JSPI's flag
  const piped = spawnSync(process.execPath, [path.join(ROOT, 'host/run.js'), '--stats', path.join(DIST, 'images/default.tar'), 'sh', '-c', 'echo hi | cat'], { encoding: 'utf8' });
  assert.is(piped.status, 0, piped.stderr);
  assert.is(piped.stdout, 'hi\n');
  assert.match(piped.stderr, /kernelCode precompiled \(kernel\.wasm\.jspi\.code\)/);
  // and the WebAssembly glue's modules too (host/sandbox/wasm-glue.test.ts has the cases that are not)
  for (const r of [plain, piped]) assert.match(r.stderr, /stats: glue webassembly \(.*wasm-glue\.wasm, precompiled\)/);
});

test('code made here is taken, and the kernel it gives has every export', () => {
  const file = kernelCopy();
  precompile(file);
  assert.is(load(file), 'precompiled (kernel.wasm.code)');
});

/** How a kernel copy is compiled when the build's code cannot be used (CODE FOR THIS NODE'S FLAGS). */
const forFlags = (why: string, file: string) => new RegExp(`^compiled here with TurboFan for this Node's flags \\(${why.replace(/[.()]/g, (c) => `\\${c}`)}\\), kept in ${path.dirname(file).replace(/[.]/g, '\\.')}/kernel-flags/[0-9a-f]{16}-[0-9a-f]{16}\\.code$`);
const kept = (file: string) => (fs.existsSync(kernelFlagsDir(file)) ? fs.readdirSync(kernelFlagsDir(file)).sort() : []);

test('no code file: compiled here with TurboFan, kept beside the kernel, and taken by the next load', () => {
  const file = kernelCopy();
  assert.match(load(file), forFlags('no kernel.wasm.code', file));
  const [name, ...more] = kept(file);
  assert.equal(more, []);
  // the same kernel at another path in the same directory (kernelModule caches by path)
  const again = path.join(path.dirname(file), 'again.wasm');
  fs.copyFileSync(file, again);
  fs.rmSync(kernelCodeFile(again, false), { force: true });
  assert.is(load(again), `precompiled (for this Node's flags: ${path.join(kernelFlagsDir(file), name)})`);
});

test('a file that is not precompiled code: passed over', () => {
  const file = kernelCopy();
  fs.writeFileSync(kernelCodeFile(file, false), 'x'.repeat(500));
  assert.match(load(file), forFlags('kernel.wasm.code is not precompiled code', file));
});

test('code for another kernel: passed over', () => {
  const file = kernelCopy();
  precompile(file);
  // the same kernel with one more custom section: valid, and not the bytes the code was made for
  const other = Buffer.concat([fs.readFileSync(KERNEL), Buffer.from([0, 4, 1, 0x78, 0xaa, 0xbb])]);
  fs.writeFileSync(file, other);
  const m = kernelModule(file);
  assert.equal(exportsOf(m), reference);
  assert.match(kernelCompiled(), forFlags('kernel.wasm.code was made for other bytes', file));
});

test('damaged code (one byte changed): passed over, V8 never sees it; a damaged kept file likewise', () => {
  const file = kernelCopy();
  precompile(file);
  const code = fs.readFileSync(kernelCodeFile(file, false));
  code[code.length - 100] ^= 0x5a;
  fs.writeFileSync(kernelCodeFile(file, false), code);
  assert.match(load(file), forFlags('kernel.wasm.code is damaged', file));
  const [name] = kept(file);
  const keptFile = path.join(kernelFlagsDir(file), name);
  const k = fs.readFileSync(keptFile);
  k[k.length - 100] ^= 0x5a;
  fs.writeFileSync(keptFile, k);
  const again = path.join(path.dirname(file), 'again.wasm');
  fs.copyFileSync(file, again);
  assert.match(load(again), /^compiled here with TurboFan for this Node's flags \(no again\.wasm\.code\), kept in /);
  assert.ok(!fs.readFileSync(keptFile).equals(k), 'the damaged file was written again');
});

test('code made under other V8 flags: V8 refuses it', () => {
  const file = kernelCopy();
  precompile(file, ['--wasm-tiering-budget=123457']);
  assert.match(load(file), /^compiled here with TurboFan for this Node's flags \(V8 refused kernel\.wasm\.code: /);
});

test('a directory that cannot be written: the kernel compiled the ordinary way, nothing kept', () => {
  const dir = path.join(tmp, 'ro');
  fs.mkdirSync(dir);
  // as root, permissions do not stop a write: a read-only mount does
  const root = process.getuid?.() === 0;
  if (root) assert.is(spawnSync('mount', ['-t', 'tmpfs', 'tmpfs', dir]).status, 0);
  try {
    const file = path.join(dir, 'kernel.wasm');
    fs.copyFileSync(KERNEL, file);
    if (root) assert.is(spawnSync('mount', ['-o', 'remount,ro', dir]).status, 0);
    else fs.chmodSync(dir, 0o555);
    assert.is(load(file), `here (no kernel.wasm.code; not compiled for this Node's flags: ${dir} cannot be written)`);
    assert.equal(kept(file), []);
  } finally {
    if (root) spawnSync('umount', [dir]);
    else fs.chmodSync(dir, 0o755);
  }
});

test('the 8 most recently used kept files stay', () => {
  const file = kernelCopy();
  const dir = kernelFlagsDir(file);
  fs.mkdirSync(dir);
  const old = (i: number) => `${String(i).padStart(16, '0')}-${'0'.repeat(16)}.code`;
  for (let i = 0; i < 10; i++) {
    fs.writeFileSync(path.join(dir, old(i)), 'old');
    fs.utimesSync(path.join(dir, old(i)), new Date(1e12 + i * 1000), new Date(1e12 + i * 1000));
  }
  load(file);
  const left = kept(file);
  assert.is(left.length, 8);
  for (const i of [0, 1, 2]) assert.not.ok(left.includes(old(i)), `${old(i)} should have gone`);
});

test("a Node flag (--max-old-space-size): the build's code refused, code for these flags made once and then taken", () => {
  const before = new Set(kept(KERNEL));
  const run = (flags: string[]) => spawnSync(process.execPath, [...flags, path.join(ROOT, 'host/run.js'), '--stats', path.join(DIST, 'images/default.tar'), '/bin/echo', 'hi'], { encoding: 'utf8' });
  try {
    const first = run(['--max-old-space-size=3001']);
    assert.is(first.status, 0, first.stderr);
    assert.is(first.stdout, 'hi\n');
    assert.match(first.stderr, /kernelCode compiled here with TurboFan for this Node's flags \(V8 refused kernel\.wasm\.code: [^\n]*\), kept in /);
    const second = run(['--max-old-space-size=3001']);
    assert.is(second.status, 0, second.stderr);
    assert.match(second.stderr, /kernelCode precompiled \(for this Node's flags: /);
    // no flag: the build's code
    assert.match(run([]).stderr, /kernelCode precompiled \(kernel\.wasm\.code\)/);
  } finally {
    for (const f of kept(KERNEL)) if (!before.has(f)) fs.rmSync(path.join(kernelFlagsDir(KERNEL), f));
  }
});

test('flags that set a WebAssembly tiering flag: not compiled for them (the code would carry other flags)', () => {
  const before = kept(KERNEL);
  const r = spawnSync(process.execPath, ['--no-wasm-dynamic-tiering', path.join(ROOT, 'host/run.js'), '--stats', path.join(DIST, 'images/default.tar'), '/bin/echo', 'hi'], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  assert.is(r.stdout, 'hi\n');
  assert.match(r.stderr, /kernelCode here \(V8 refused kernel\.wasm\.code: [^\n]*; not compiled for this Node's flags: they set a WebAssembly tiering flag\)/);
  assert.equal(kept(KERNEL), before);
});

test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));
test.run();
