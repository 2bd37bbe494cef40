// host/sandbox/kernel-node.ts's precompiled kernel (PRECOMPILED CODE): the build's code files are
// taken by a plain run and by a run with JSPI's flag, and every code file that must not be used
// (missing, not kernel code, for another kernel, damaged, made under other V8 flags) is passed
// over with its reason, the kernel then being compiled as before.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { kernelCodeFile, kernelCompiled, kernelModule } from '../../../host/sandbox/kernel-node';
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
});

test('code made here is taken, and the kernel it gives has every export', () => {
  const file = kernelCopy();
  precompile(file);
  assert.is(load(file), 'precompiled (kernel.wasm.code)');
});

test('no code file: compiled here', () => {
  assert.is(load(kernelCopy()), 'here (no kernel.wasm.code)');
});

test('a file that is not kernel code: compiled here', () => {
  const file = kernelCopy();
  fs.writeFileSync(kernelCodeFile(file, false), 'x'.repeat(500));
  assert.is(load(file), 'here (kernel.wasm.code is not kernel code)');
});

test('code for another kernel: compiled here', () => {
  const file = kernelCopy();
  precompile(file);
  // the same kernel with one more custom section: valid, and not the bytes the code was made for
  const other = Buffer.concat([fs.readFileSync(KERNEL), Buffer.from([0, 4, 1, 0x78, 0xaa, 0xbb])]);
  fs.writeFileSync(file, other);
  const m = kernelModule(file);
  assert.equal(exportsOf(m), reference);
  assert.is(kernelCompiled(), 'here (kernel.wasm.code is for another kernel)');
});

test('damaged code (one byte changed): compiled here, V8 never sees it', () => {
  const file = kernelCopy();
  precompile(file);
  const code = fs.readFileSync(kernelCodeFile(file, false));
  code[code.length - 100] ^= 0x5a;
  fs.writeFileSync(kernelCodeFile(file, false), code);
  assert.is(load(file), 'here (kernel.wasm.code is damaged)');
});

test('code made under other V8 flags: V8 refuses it, compiled here', () => {
  const file = kernelCopy();
  precompile(file, ['--wasm-tiering-budget=123457']);
  assert.match(load(file), /^here \(V8 refused kernel\.wasm\.code: /);
});

test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));
test.run();
