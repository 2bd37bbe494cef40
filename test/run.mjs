// The test command (`npm test`). Finds test/**/*.test.ts, bundles each with esbuild (so tests import
// the TypeScript sources of host/ and gofer/ directly), runs each file as its own uvu process, two at
// a time, and ends with one line: `N passed, N failed`.
//
// Usage: node test/run.mjs [substring ...]   runs only the files whose path contains a substring.
// A file that crashes before uvu prints its totals counts as one failure.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
// Each run bundles into its own directory, so two runs at once (an editor's and a terminal's) do not
// delete each other's files; directories of runs that are gone are swept.
const testsDir = path.join(root, '.cache', 'tests');
const outDir = path.join(testsDir, `run-${process.pid}`);
const filters = process.argv.slice(2);

function findTests(dir) {
  const out = [];
  for (const ent of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, ent.name);
    if (ent.isDirectory()) out.push(...findTests(p));
    else if (ent.name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

const files = findTests(path.join(root, 'test'))
  .map((f) => path.relative(root, f))
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort();

if (!fs.existsSync(path.join(root, 'dist', 'kernel.wasm'))) {
  console.error('test: dist/ is missing; run `npm install` (or `npm run build`) first');
  process.exit(1);
}

const esbuild = await import('esbuild');
fs.mkdirSync(testsDir, { recursive: true });
for (const d of fs.readdirSync(testsDir)) {
  const pid = /^run-(\d+)$/.exec(d)?.[1];
  if (pid === undefined || !alive(Number(pid))) fs.rmSync(path.join(testsDir, d), { recursive: true, force: true });
}
process.on('exit', () => fs.rmSync(outDir, { recursive: true, force: true }));

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
}
const built = await esbuild.build({
  entryPoints: files,
  outdir: outDir,
  outbase: root,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  outExtension: { '.js': '.mjs' },
  packages: 'external',
  sourcemap: 'inline',
  logLevel: 'warning',
  absWorkingDir: root,
  banner: {
    js: [
      "import { createRequire as __cr } from 'node:module';",
      "import { fileURLToPath as __fu } from 'node:url';",
      "import { dirname as __dn } from 'node:path';",
      'const require = __cr(import.meta.url);',
      'const __filename = __fu(import.meta.url);',
      'const __dirname = __dn(__filename);',
    ].join(' '),
  },
}).then(
  () => true,
  (e) => {
    console.log(`FAIL the test files do not build: ${e.message.split('\n')[0]}`);
    return false;
  },
);
if (!built) {
  console.log('\n0 passed, 1 failed');
  process.exit(1);
}

let passed = 0;
let failed = 0;
const failures = [];

// Every test file runs with its own $TMPDIR inside one private directory; whatever is left there at
// the end (a temporary directory, a filestore, a mount) is a failure of its own (issue 17).
// Short names (a unix socket's path must fit in 108 bytes; a deep tree in PATH_MAX), and open to
// all like /tmp itself (some tests run commands as an unprivileged user).
const testTmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wbt-'));
fs.chmodSync(testTmp, 0o755);
let tmpSerial = 0;
const tmpNames = new Map(); // its number -> the test file

function runOne(file) {
  const bundle = path.join(outDir, file.replace(/\.ts$/, '.mjs'));
  return new Promise((resolve) => {
    const t0 = Date.now();
    const tmp = path.join(testTmp, String(++tmpSerial));
    fs.mkdirSync(tmp);
    fs.chmodSync(tmp, 0o1777);
    tmpNames.set(path.basename(tmp), file);
    const child = spawn(process.execPath, ['--enable-source-maps', bundle], {
      cwd: root,
      // guests' code kept (host/sandbox/guest-code.ts) is compiled before a run returns: nothing left running
      env: { WASMBOX_GUEST_CODE: 'sync', ...process.env, FORCE_COLOR: '0', TMPDIR: tmp },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('close', (code) => {
      const total = /Total:\s+(\d+)/.exec(out);
      const ok = /Passed:\s+(\d+)/.exec(out);
      let p = 0;
      let f = 0;
      if (total && ok) {
        p = Number(ok[1]);
        f = Number(total[1]) - p; // uvu's Total already leaves skipped tests out
      }
      if (!total || (code !== 0 && f === 0)) f += 1; // crashed or exited badly without a counted failure
      passed += p;
      failed += f;
      const secs = ((Date.now() - t0) / 1000).toFixed(1);
      console.log(`${f ? 'FAIL' : 'ok  '} ${file}  (${p} passed, ${f} failed, ${secs}s)`);
      // a file that skips tests says why in a line starting SKIP; show it even when the file passed
      for (const line of out.split('\n')) if (line.startsWith('SKIP ')) console.log(`     ${line}`);
      if (f) failures.push({ file, out });
      resolve();
    });
  });
}

const queue = files.slice();
const workers = Math.max(1, Math.min(Number(process.env.TEST_JOBS || os.availableParallelism()), 4));
await Promise.all(
  Array.from({ length: workers }, async () => {
    while (queue.length) await runOne(queue.shift());
  }),
);

{
  // what the test files left in their $TMPDIRs
  const left = [];
  for (const d of fs.readdirSync(testTmp)) for (const n of fs.readdirSync(path.join(testTmp, d))) left.push(`${tmpNames.get(d) ?? d}: ${n}`);
  if (left.length) {
    failed += 1;
    console.log(`FAIL $TMPDIR left clean  (${left.length} entries left: ${left.slice(0, 8).join('; ')})`);
  } else {
    passed += 1;
    console.log('ok   $TMPDIR left clean');
  }
  fs.rmSync(testTmp, { recursive: true, force: true });
}

for (const { file, out } of failures) {
  console.log(`\n===== ${file} =====\n${out.trimEnd()}`);
}
console.log(`\n${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
