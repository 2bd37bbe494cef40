// Builds everything `npm install` promises: the kernel (AssemblyScript -> dist/kernel.wasm and
// dist/kernel.debug.wasm), the trusted host and gofer bundles (esbuild -> dist/*.js), and the C
// guests (@yowasp/clang, in-process, -> dist/guests/*.wasm).
//
// Usage: node scripts/build.mjs [kernel|host|guests|image|web ...]   (no argument: all of them)
// Guests are rebuilt only when their source or shared headers are newer than the output, because a
// clang run costs a few hundred milliseconds each.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(root, 'dist');
const want = new Set(process.argv.slice(2));
const all = want.size === 0;

function step(name, fn) {
  const t0 = Date.now();
  return Promise.resolve(fn()).then((r) => {
    process.stderr.write(`build: ${name} (${Date.now() - t0} ms)\n`);
    return r;
  });
}

async function buildKernel() {
  const asc = path.join(root, 'node_modules', '.bin', 'asc');
  for (const target of ['release', 'debug']) {
    execFileSync(asc, ['--config', 'asconfig.json', '--target', target], { cwd: root, stdio: 'inherit' });
  }
}

async function buildHost() {
  const esbuild = await import('esbuild');
  const common = {
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    sourcemap: 'linked',
    logLevel: 'warning',
    absWorkingDir: root,
  };
  for (const [name, entry] of [['run', 'host/cli/cli.ts'], ['gofer-worker', 'gofer/worker.ts'], ['lib', 'host/index.ts'], ['pack', 'host/cli/pack.ts'], ['replica-worker', 'host/sandbox/replica-worker.ts'], ['oci', 'host/oci/cli.ts'], ['oci-sandbox', 'host/oci/sandbox-main.ts'], ['kernel-code', 'host/sandbox/kernel-code.ts']]) {
    const r = await esbuild.build({ ...common, entryPoints: { [name]: entry }, outdir: dist, write: false });
    for (const f of r.outputFiles) fs.writeFileSync(f.path, f.path.endsWith('.js') ? cheapBuiltins(f.text) : f.contents);
  }
}

/**
 * The WebAssembly glue (host/sandbox/wasm-glue.ts): its three modules' text, made from the kernel's
 * ABI constants by that file, assembled and optimized by binaryen (assemblyscript's own dependency)
 * into dist/wasm-glue.wasm (the glue), dist/wasm-glue-t.wasm (the guest's trampolines) and
 * dist/wasm-glue-j.wasm (the JavaScript glue's functions for the trampolines' table), each with
 * the lists it was made from in a custom section (glueStamp), which the host checks.
 */
async function buildWasmGlue() {
  const esbuild = await import('esbuild');
  const binaryen = (await import('binaryen')).default;
  const r = await esbuild.build({ entryPoints: [path.join(root, 'host/sandbox/wasm-glue.ts')], bundle: true, platform: 'neutral', format: 'esm', write: false, logLevel: 'warning' });
  const { glueText, trampolineText, fallbackText, glueStamp } = await import(`data:text/javascript;base64,${Buffer.from(r.outputFiles[0].text).toString('base64')}`);
  for (const [file, text] of [['wasm-glue.wasm', glueText()], ['wasm-glue-t.wasm', trampolineText()], ['wasm-glue-j.wasm', fallbackText()]]) {
    const m = binaryen.parseText(text);
    m.setFeatures(binaryen.Features.MVP | binaryen.Features.MutableGlobals | binaryen.Features.BulkMemory | binaryen.Features.SignExt);
    try {
      if (!m.validate()) throw new Error(`${file}: the module does not validate`);
      binaryen.setOptimizeLevel(2);
      binaryen.setShrinkLevel(0);
      m.optimize();
      m.addCustomSection('wasmbox.glue', new TextEncoder().encode(glueStamp()));
      fs.writeFileSync(path.join(dist, file), m.emitBinary());
    } finally {
      m.dispose();
    }
  }
}

/**
 * esbuild turns `import fs from 'node:fs'` into __toESM(require("node:fs")), which copies every
 * property of the module into a new object, once per importing file: about 4 ms of start-up for our
 * 30 such imports. A builtin is a plain CommonJS object, so an object that inherits from it and adds
 * `default` serves every use the bundle makes (default and named imports, property reads).
 */
function cheapBuiltins(js) {
  const helper = 'var __builtin = (m) => Object.create(m, { default: { value: m, enumerable: true } });\n';
  const out = js.replace(/__toESM\(require\("(node:[a-z_/]+)"\)(?:, 1)?\)/g, '__builtin(require("$1"))');
  return out === js ? js : out.replace(/^("use strict";\n)?/, (m) => m + helper);
}

async function buildGuests() {
  const { runClang } = await import('@yowasp/clang');
  const srcDir = path.join(root, 'guests');
  const outDir = path.join(dist, 'guests');
  fs.mkdirSync(outDir, { recursive: true });
  const headers = {};
  let newestHeader = 0;
  for (const f of fs.readdirSync(srcDir)) {
    if (f.endsWith('.h')) {
      headers[f] = fs.readFileSync(path.join(srcDir, f));
      newestHeader = Math.max(newestHeader, fs.statSync(path.join(srcDir, f)).mtimeMs);
    }
  }
  for (const f of fs.readdirSync(srcDir).sort()) {
    if (!f.endsWith('.c')) continue;
    const name = f.slice(0, -2);
    const src = path.join(srcDir, f);
    const out = path.join(outDir, `${name}.wasm`);
    const srcTime = Math.max(fs.statSync(src).mtimeMs, newestHeader);
    if (fs.existsSync(out) && fs.statSync(out).mtimeMs >= srcTime) continue;
    const files = { ...headers, [f]: fs.readFileSync(src) };
    let result;
    try {
      // the shell recurses through nested commands, functions and $(...): a stack of 1 MiB, not 64 KiB
      const stack = name === 'sh' ? ['-Wl,-z,stack-size=1048576'] : [];
      result = await runClang(['clang', '-O2', '-Wall', '-Werror', ...stack, f, '-o', `${name}.wasm`], files, {
        stderr: (b) => b && process.stderr.write(b),
      });
    } catch (e) {
      throw new Error(`guest ${f} did not compile`);
    }
    fs.writeFileSync(out, result[`${name}.wasm`]);
    process.stderr.write(`build:   guests/${f} -> dist/guests/${name}.wasm\n`);
  }
  // guests in AssemblyScript, through @assemblyscript/wasi-shim as AssemblyScript programs reach WASI
  const asDir = path.join(srcDir, 'as');
  const asc = path.join(root, 'node_modules', '.bin', 'asc');
  const shim = './node_modules/@assemblyscript/wasi-shim/asconfig.json'; // relative: asc resolves its "lib" from it
  for (const f of fs.existsSync(asDir) ? fs.readdirSync(asDir).sort() : []) {
    if (!f.endsWith('.ts')) continue;
    const name = `as-${f.slice(0, -3)}`;
    const src = path.join(asDir, f);
    const out = path.join(outDir, `${name}.wasm`);
    if (fs.existsSync(out) && fs.statSync(out).mtimeMs >= fs.statSync(src).mtimeMs) continue;
    execFileSync(asc, [src, '--config', shim, '-O2', '--outFile', out], { cwd: root, stdio: 'inherit' });
    process.stderr.write(`build:   guests/as/${f} -> dist/guests/${name}.wasm\n`);
  }
}

// ---------------------------------------------------------------------------------------------
// The default image (dist/images/default.tar), what `node host/run.js` runs with no IMAGE. Two
// layers, written by host/cli/pack.ts's readLayer and the image writer, like `node host/pack.js`:
//   0 "userland": /bin/sh, /bin/toolbox and a symlink /bin/NAME -> toolbox for every command that
//     `toolbox --list` names; /etc from guests/rootfs/base; /home/user, /root (0700), /tmp (1777);
//   1 "app": guests/rootfs/app: the demo script /usr/share/wasmbox/demo.sh, a new /etc/motd, and
//     etc/.wh.issue, a whiteout deleting layer 0's /etc/issue.
// Cmd: /bin/sh /usr/share/wasmbox/demo.sh. Every entry gets the same mtime and modes 0755/0644 (the
// checkout's umask and times do not leak in), so the image is the same byte for byte on every build.

/** The toolbox's commands, from `toolbox --list` (run under node:wasi, with the wasmbox imports stubbed). */
function toolboxApplets(wasm) {
  const script = `
    const { WASI } = require('node:wasi');
    const wasi = new WASI({ version: 'preview1', args: ['toolbox', '--list'], env: {}, returnOnExit: true });
    const mod = new WebAssembly.Module(require('node:fs').readFileSync(process.argv[1]));
    const nosys = () => 52;
    const inst = new WebAssembly.Instance(mod, { ...wasi.getImportObject(), wasmbox: { spawn: nosys, layer: nosys, statfs: nosys } });
    process.exitCode = wasi.start(inst);`;
  const out = execFileSync(process.execPath, ['--no-warnings', '-e', script, wasm], { encoding: 'utf8' });
  const m = /^Commands:(.*)$/m.exec(out);
  if (!m) throw new Error(`toolbox --list printed no "Commands:" line: ${out}`);
  return m[1].trim().split(/\s+/);
}

async function buildDefaultImage() {
  const { createRequire } = await import('node:module');
  const req = createRequire(import.meta.url);
  const lib = req(path.join(dist, 'lib.js'));
  const { readLayer } = req(path.join(dist, 'pack.js'));
  const guest = (n) => path.join(dist, 'guests', `${n}.wasm`);
  const rootfs = path.join(root, 'guests', 'rootfs');
  const MTIME = 1680153482; // host/image/image-writer.ts DEFAULT_MTIME
  /** Same times and plain modes for what comes from the checkout; the special modes are set below. */
  const normalize = (entries) =>
    entries.map((e) => {
      if (e.type === 'hardlink' || e.type === 'whiteout') return e;
      const mode = e.type === 'file' ? (e.mode & 0o111 ? 0o755 : 0o644) : e.type === 'symlink' ? undefined : 0o755;
      return { ...e, mtime: MTIME, ...(mode === undefined ? {} : { mode }) };
    });
  const applets = toolboxApplets(guest('toolbox'));
  const userland = [
    { path: 'bin', type: 'dir', mtime: MTIME },
    { path: 'bin/sh', type: 'file', data: fs.readFileSync(guest('sh')), mode: 0o755, mtime: MTIME },
    { path: 'bin/toolbox', type: 'file', data: fs.readFileSync(guest('toolbox')), mode: 0o755, mtime: MTIME },
    ...applets.map((name) => ({ path: `bin/${name}`, type: 'symlink', target: 'toolbox', mtime: MTIME })),
    ...normalize(readLayer(path.join(rootfs, 'base'))),
    { path: 'home', type: 'dir', mtime: MTIME },
    { path: 'home/user', type: 'dir', mtime: MTIME },
    { path: 'root', type: 'dir', mode: 0o700, mtime: MTIME },
    { path: 'tmp', type: 'dir', mode: 0o1777, mtime: MTIME },
  ];
  const spec = {
    layers: [userland, normalize(readLayer(path.join(rootfs, 'app')))],
    cmd: ['/bin/sh', '/usr/share/wasmbox/demo.sh'],
    env: ['PATH=/bin', 'HOME=/root'],
    workingDir: '/',
    platform: { os: 'wasi', architecture: 'wasm' },
    history: ['wasmbox userland: /bin/sh, /bin/toolbox and its links, /etc', 'wasmbox demo: /usr/share/wasmbox/demo.sh, /etc/motd, whiteout of /etc/issue'],
  };
  fs.mkdirSync(path.join(dist, 'images'), { recursive: true });
  lib.writeImage(spec, path.join(dist, 'images', 'default.tar'), { format: 'oci', tag: 'wasmbox/default:latest', dockerManifest: true });
}

/**
 * The kernel's and the WebAssembly glue's precompiled code (host/sandbox/kernel-node.ts, PRECOMPILED
 * CODE): dist/kernel.wasm, dist/wasm-glue.wasm and dist/wasm-glue-t.wasm compiled by TurboFan, once for a plain
 * Node and once for a Node with JSPI's flag. Best effort: without it they are compiled at each
 * start, and `--stats` says so.
 */
async function buildKernelCode() {
  const { spawnSync } = await import('node:child_process');
  // (not wasm-glue-j.wasm: it only passes JavaScript functions on, and V8 fails fatally on
  // serializing a module with no code of its own)
  const files = ['kernel.wasm', 'wasm-glue.wasm', 'wasm-glue-t.wasm'].map((f) => path.join(dist, f)).filter((f) => fs.existsSync(f));
  for (const flags of [[], ['--experimental-wasm-stack-switching']]) {
    const r = spawnSync(process.execPath, [...flags, path.join(dist, 'kernel-code.js'), ...files], { encoding: 'utf8' });
    if (r.status !== 0) process.stderr.write(`build: warning: precompiled code missing${flags.length ? ' for JSPI' : ''}: ${r.stderr.trim()}\n`);
  }
}

/**
 * V8's code cache for dist/run.js (host/run.js loads it): written by one run of the default image,
 * so the functions every start-up needs are in it. Best effort: without it the bundle is compiled.
 */
async function buildCodeCache() {
  const out = path.join(dist, 'run.js.cache');
  fs.rmSync(out, { force: true });
  const { spawnSync } = await import('node:child_process');
  const cacheDir = fs.mkdtempSync(path.join((await import('node:os')).tmpdir(), 'wasmbox-build-'));
  try {
    const tmp = `${out}.${process.pid}`;
    const r = spawnSync(process.execPath, [path.join(root, 'host', 'run.js'), '--cache-dir', cacheDir, path.join(dist, 'images', 'default.tar'), '/bin/true'], {
      env: { ...process.env, WASMBOX_CODE_CACHE_OUT: tmp },
      encoding: 'utf8',
    });
    if (r.status !== 0 || !fs.existsSync(tmp)) throw new Error(`the default image did not run (${r.status}): ${r.stderr.trim()}`);
    fs.renameSync(tmp, out);
  } finally {
    fs.rmSync(cacheDir, { recursive: true, force: true });
  }
}

try {
  fs.mkdirSync(dist, { recursive: true });
  if (all || want.has('kernel')) await step('kernel', buildKernel);
  if (all || want.has('host')) await step('host and gofer bundles', buildHost);
  if (all || want.has('host')) await step('WebAssembly glue (dist/wasm-glue.wasm)', buildWasmGlue);
  if (all || want.has('guests')) await step('guests', buildGuests);
  if (all || want.has('image')) await step('default image', buildDefaultImage);
  if (all || want.has('kernel') || want.has('host')) await step('precompiled kernel and glue (dist/*.wasm.code)', buildKernelCode);
  if (all || want.has('host') || want.has('image')) await step('code cache (dist/run.js.cache)', buildCodeCache);
  if (all || want.has('web')) await step('browser demo (dist/web)', async () => (await import('../host/web/build.mjs')).buildWeb());
} catch (e) {
  process.stderr.write(`build failed: ${e.message}\n`);
  process.exit(1);
}
