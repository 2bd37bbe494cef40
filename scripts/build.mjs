// Builds everything `npm install` promises: the kernel (AssemblyScript -> dist/kernel.wasm and
// dist/kernel.debug.wasm), the trusted host and gofer bundles (esbuild -> dist/*.js), and the C
// guests (@yowasp/clang, in-process, -> dist/guests/*.wasm).
//
// Usage: node scripts/build.mjs [kernel|host|guests|image ...]   (no argument: all of them)
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
  await esbuild.build({ ...common, entryPoints: { run: 'host/cli.ts' }, outdir: dist });
  await esbuild.build({ ...common, entryPoints: { 'gofer-worker': 'gofer/worker.ts' }, outdir: dist });
  await esbuild.build({ ...common, entryPoints: { lib: 'host/index.ts' }, outdir: dist });
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
      result = await runClang(['clang', '-O2', '-Wall', '-Werror', f, '-o', `${name}.wasm`], files, {
        stderr: (b) => b && process.stderr.write(b),
      });
    } catch (e) {
      throw new Error(`guest ${f} did not compile`);
    }
    fs.writeFileSync(out, result[`${name}.wasm`]);
    process.stderr.write(`build:   guests/${f} -> dist/guests/${name}.wasm\n`);
  }
}

/** The built-in default image (dist/images/default.tar), run by `node host/run.js` with no IMAGE. */
async function buildDefaultImage() {
  const { createRequire } = await import('node:module');
  const lib = createRequire(import.meta.url)(path.join(dist, 'lib.js'));
  const guest = (n) => fs.readFileSync(path.join(dist, 'guests', `${n}.wasm`));
  fs.mkdirSync(path.join(dist, 'images'), { recursive: true });
  const spec = {
    layers: [
      [
        { path: 'bin/demo', type: 'file', data: guest('demo'), mode: 0o755 },
        { path: 'etc/hostname', type: 'file', data: 'wasmbox\n' },
        { path: 'etc/motd', type: 'file', data: 'Welcome to wasmbox: this file lives in a read-only image layer.\n' },
        { path: 'etc/issue', type: 'file', data: 'wasmbox default image\n' },
        { path: 'etc/os-release', type: 'file', data: 'NAME=wasmbox\nID=wasmbox\n' },
        { path: 'home', type: 'dir' },
        { path: 'tmp', type: 'dir', mode: 0o1777 },
      ],
    ],
    entrypoint: ['/bin/demo'],
    env: ['PATH=/bin', 'HOME=/home/user'],
    workingDir: '/',
  };
  lib.writeImage(spec, path.join(dist, 'images', 'default.tar'), { format: 'oci' });
}

try {
  fs.mkdirSync(dist, { recursive: true });
  if (all || want.has('kernel')) await step('kernel', buildKernel);
  if (all || want.has('host')) await step('host and gofer bundles', buildHost);
  if (all || want.has('guests')) await step('guests', buildGuests);
  if (all || want.has('image')) await step('default image', buildDefaultImage);
} catch (e) {
  process.stderr.write(`build failed: ${e.message}\n`);
  process.exit(1);
}
