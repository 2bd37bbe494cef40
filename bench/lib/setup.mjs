// Benchmark set-up: the bench image and the native file systems it runs on.
//
// The image (OCI, built once into bench/.work/ and reused while its inputs are unchanged):
//   layer 0  /usr: clang's sysroot and headers (@yowasp/clang's llvm-resources.tar), and
//            /usr/bin/clang, clang++: @yowasp/clang's llvm.core.wasm, a plain WASI command
//   layer 1  /bin: fsstress, opbench, sh, the toolbox; /bench/build-*.sh; /work, /out, /tmp, /src, /log
// The build job compiles LevelDB 1.20 (from the leveldown@6.1.1 npm package; BSD licence): its 43
// translation units that build for wasm32-wasip1, C++ that includes many libc++ headers. The
// sources are bind-mounted at /src; objects go to /out in the root file system.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
// A guest module's kept code (docs/cli.md, Start-up) is compiled before each sandbox run returns,
// not in the background, where it would compete with the next measurement (the first run of a
// module pays that compile after its figures are taken; the later runs load the kept code).
process.env.WASMBOX_GUEST_CODE ??= 'sync';
const require = createRequire(import.meta.url);
export const lib = require(path.join(ROOT, 'dist', 'lib.js'));

export const LEVELDB = path.join(ROOT, 'node_modules', 'leveldown', 'deps', 'leveldb', 'leveldb-1.20');
const CLANG = path.join(ROOT, 'node_modules', '@yowasp', 'clang', 'gen');
/** Translation units the quick build compiles (bench:quick must finish in under two minutes). */
export const QUICK_TUS = 2;
export const CLANG_WASM = path.join(CLANG, 'llvm.core.wasm');
const FLAGS = ['-c', '-O1', '-std=c++11', '-I/src', '-I/src/include', '-DLEVELDB_PLATFORM_POSIX', '-DLEVELDB_ATOMIC_PRESENT'];

/** The translation units of the build job (LevelDB's library and tools, not its tests). */
export function translationUnits() {
  const out = [];
  const walk = (dir, rel) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(path.join(dir, e.name), r);
      else if (r.endsWith('.cc') && !/_test\.cc$|bench|env_posix\.cc|windows/.test(r)) out.push(r);
    }
  };
  walk(LEVELDB, '');
  return out.sort();
}

/** clang++ argv for one unit. */
export function compileArgs(tu) {
  return ['clang++', ...FLAGS, `/src/${tu}`, '-o', `/out/${tu.replace(/\//g, '_').replace(/\.cc$/, '.o')}`];
}

/** The shell script the sandbox runs for the build job: timestamps, one clang++ per unit, object sizes. */
function buildScript(tus) {
  const lines = ['date +%s%N'];
  for (const tu of tus) lines.push(['/usr/bin/' + compileArgs(tu)[0], ...compileArgs(tu).slice(1)].join(' ') + ' || exit 1');
  lines.push('date +%s%N', 'wc -c /out/*.o');
  return lines.join('\n') + '\n';
}

function tarEntries(tarPath, prefix) {
  // llvm-resources.tar is a plain ustar archive of files and directories
  const buf = fs.readFileSync(tarPath);
  const out = [];
  for (let off = 0; off + 512 <= buf.length; ) {
    const h = buf.subarray(off, off + 512);
    if (h.every((b) => b === 0)) break;
    const str = (a, b) => h.subarray(a, b).toString('latin1').replace(/\0.*$/s, '');
    let name = str(0, 100);
    const pre = str(345, 500);
    if (pre) name = `${pre}/${name}`;
    const size = parseInt(str(124, 136).trim() || '0', 8);
    const type = String.fromCharCode(h[156] || 48);
    const mode = parseInt(str(100, 108).trim() || '644', 8);
    name = name.replace(/^\.\//, '').replace(/\/$/, '');
    if (name) {
      if (type === '5') out.push({ path: `${prefix}/${name}`, type: 'dir', mode });
      else if (type === '0' || type === '\0') out.push({ path: `${prefix}/${name}`, type: 'file', data: buf.subarray(off + 512, off + 512 + size), mode });
    }
    off += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}

/** Builds (or reuses) the bench image; returns its path. */
export function benchImage(work) {
  const image = path.join(work, 'image.tar');
  const inputs = [CLANG_WASM, path.join(CLANG, 'llvm-resources.tar'), ...['fsstress', 'opbench', 'churn', 'sh', 'toolbox'].map((g) => path.join(ROOT, 'dist/guests', `${g}.wasm`)), path.join(ROOT, 'bench/lib/setup.mjs')];
  if (fs.existsSync(image) && inputs.every((f) => fs.statSync(f).mtimeMs < fs.statSync(image).mtimeMs)) return image;
  const guest = (g) => fs.readFileSync(path.join(ROOT, 'dist/guests', `${g}.wasm`));
  const tus = translationUnits();
  const usr = [
    ...tarEntries(path.join(CLANG, 'llvm-resources.tar'), 'usr'),
    { path: 'usr/bin/clang', type: 'file', data: fs.readFileSync(CLANG_WASM), mode: 0o755 },
    { path: 'usr/bin/clang++', type: 'symlink', target: 'clang' },
  ];
  const tools = ['ls', 'cat', 'echo', 'wc', 'date', 'mkdir', 'rm', 'true'];
  const bin = [
    { path: 'bin/fsstress', type: 'file', data: guest('fsstress'), mode: 0o755 },
    { path: 'bin/opbench', type: 'file', data: guest('opbench'), mode: 0o755 },
    { path: 'bin/churn', type: 'file', data: guest('churn'), mode: 0o755 },
    { path: 'bin/sh', type: 'file', data: guest('sh'), mode: 0o755 },
    { path: 'bin/toolbox', type: 'file', data: guest('toolbox'), mode: 0o755 },
    ...tools.map((t) => ({ path: `bin/${t}`, type: 'symlink', target: 'toolbox' })),
    { path: 'bench/build-full.sh', type: 'file', data: buildScript(tus) },
    { path: 'bench/build-quick.sh', type: 'file', data: buildScript(tus.slice(0, QUICK_TUS)) },
    ...['work', 'out', 'tmp', 'src', 'log'].map((d) => ({ path: d, type: 'dir', mode: 0o777 })),
  ];
  lib.writeImage({ layers: [usr, bin], env: ['PATH=/bin:/usr/bin'], cmd: ['/bin/sh'] }, `${image}.tmp`, { format: 'oci' });
  fs.renameSync(`${image}.tmp`, image);
  return image;
}

/** Extracts the image into `dest` (fresh). */
export function extract(image, dest, cacheDir) {
  fs.rmSync(dest, { recursive: true, force: true });
  fs.mkdirSync(dest, { recursive: true });
  lib.extractImage(image, dest, cacheDir);
}

export function copyTree(src, dest) {
  fs.rmSync(dest, { recursive: true, force: true });
  execFileSync('cp', ['-a', src, dest]);
}

/** Mounts a tmpfs at `dir`; false when this machine cannot. */
export function mountTmpfs(dir, size = '4g') {
  fs.mkdirSync(dir, { recursive: true });
  spawnSync('umount', [dir], { stdio: 'ignore' });
  return spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]).status === 0;
}

/** Mounts an overlayfs whose lower is `lower` and whose upper/work live under `state` (on disk). */
export function mountOverlay(lower, state, mnt) {
  spawnSync('umount', [mnt], { stdio: 'ignore' });
  fs.rmSync(state, { recursive: true, force: true });
  fs.mkdirSync(path.join(state, 'upper'), { recursive: true });
  fs.mkdirSync(path.join(state, 'work'), { recursive: true });
  fs.mkdirSync(mnt, { recursive: true });
  const r = spawnSync('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${lower},upperdir=${state}/upper,workdir=${state}/work`, mnt], { encoding: 'utf8' });
  return r.status === 0;
}

export function unmount(dir) {
  spawnSync('umount', [dir], { stdio: 'ignore' });
}

/** Empties the directories a run writes into, so every run starts alike. */
export function resetRoot(root) {
  if (!fs.existsSync(root)) throw new Error(`${root} has vanished (was its tmpfs unmounted?)`);
  for (const d of ['work', 'out', 'tmp']) {
    const p = path.join(root, d);
    fs.rmSync(p, { recursive: true, force: true });
    fs.mkdirSync(p, { mode: 0o777 });
  }
}
