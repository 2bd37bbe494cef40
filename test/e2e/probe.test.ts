// The differential end-to-end test: guests/probe.c run through the sandbox (`node host/run.js`) must
// print, line for line, what it prints under node:wasi on a real Linux overlayfs mount of the same
// layers (test/guests/probe-native.test.ts proves the probe on that reference), and exit with the
// same status. Owns the table of known node:wasi quirks that are excused, and nothing else.
//
// Variants: docker, OCI and plain archives, gzip-compressed or not; the image's Entrypoint with
// extra arguments; and an explicit command (`IMAGE /probe.wasm SECTION`, on a Cmd-only image),
// one section at a time. Needs root for the reference mount; without it the suite prints why and
// skips.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { flattenSpec, PROBE_EXIT, PROBE_SECTIONS, probeImageSpec, probeSections } from '../lib/fixtures';
import { buildImage, tempDir } from '../lib/images';
import type { ImageSpec } from '../lib/layers';
import { runNodeWasi } from '../lib/nodewasi';
import { mountOverlay, OverlayUnavailable } from '../lib/overlayfs';

const ROOT = process.cwd();
const PROBE = path.join(ROOT, 'dist', 'guests', 'probe.wasm');
const RUN_JS = path.join(ROOT, 'host', 'run.js');

// ---------------------------------------------------------------------------------------------
// Known node:wasi (uvwasi 0.0.23, Node 20) quirks. When the reference prints `native`, the sandbox
// must print `sandbox` instead (or one of them): the answer Linux gives for the same syscalls. Each
// Linux answer was checked by running the same calls with Python under chroot on the overlay mount;
// uvwasi's behaviour is from its source (src/uvwasi.c, src/path_resolver.c). Keep this table
// minimal: a quirk that no longer shows up natively fails the first test below, so remove it.

interface Quirk {
  native: string | RegExp;
  /** The line(s) the sandbox may print instead; a function derives them from the reference line. */
  sandbox: string | string[] | ((line: string) => string);
  why: string;
}

const RIGHTS =
  'uvwasi checks its rights table before the syscall and answers ENOTCAPABLE; Linux answers the ' +
  'syscall errno. Both are valid WASI, so the sandbox may give either.';
const READDIR_REOPEN =
  'uvwasi reopens the directory and seekdir()s to the cookie on every fd_readdir call, and its ' +
  'cookies count entries (seen on plain ext4 too), so names repeat or vanish when the directory ' +
  'changes between calls. POSIX readdir, and the kernel\'s stable directory order, give names that ' +
  'exist throughout exactly once.';
const LEXICAL =
  'uvwasi resolves paths as strings: it folds ".." lexically before following links, and resolves ' +
  'only the last component itself, so a link in the middle is followed by the host kernel (an ' +
  'absolute target then names the host\'s root). Linux in the image root gives "deep\\n".';

const QUIRKS: Quirk[] = [
  // The probe's fault section: every guest pointer out of bounds.
  {
    native: /(far out|straddling the end) -> EOVERFLOW$/,
    sandbox: (line) => line.replace(/EOVERFLOW$/, 'EFAULT'),
    why: "Node's WASI answers a guest pointer outside memory with EOVERFLOW (its bounds check in node_wasi.cc); Linux answers a bad user pointer with EFAULT, and WASI has EFAULT for it",
  },
  // fd_fdstat_get returns the raw Linux F_GETFL word as fs_flags: bit 0 (APPEND) then reads O_WRONLY
  // and O_APPEND (0x400) never shows. (`O_APPEND flags append -> yes` is right only because that fd
  // is also O_WRONLY.) The flag itself works: the write after set_flags lands at the end.
  {
    native: 'flags append after set -> no',
    sandbox: 'flags append after set -> yes',
    why: 'uvwasi fd_fdstat_get reports raw F_GETFL bits',
  },
  {
    native: "'.' and '..' listed -> no no",
    sandbox: "'.' and '..' listed -> yes yes",
    why: "libuv's uv_fs_readdir drops '.' and '..'; getdents on Linux returns both",
  },
  {
    native: 'd_ino of f10 equals st_ino -> no',
    sandbox: 'd_ino of f10 equals st_ino -> yes',
    why: 'uvwasi sets d_ino = 0 (libuv dirents carry no inode); overlayfs makes d_ino equal st_ino',
  },
  {
    native: /^names present throughout seen exactly once -> /,
    sandbox: 'names present throughout seen exactly once -> yes (missing 0, repeated 0)',
    why: READDIR_REOPEN,
  },
  { native: /^no name returned twice -> no$/, sandbox: 'no name returned twice -> yes', why: READDIR_REOPEN },
  {
    native: 'write on rdonly fd -> ENOTCAPABLE',
    sandbox: ['write on rdonly fd -> EBADF', 'write on rdonly fd -> ENOTCAPABLE'],
    why: RIGHTS,
  },
  {
    native: 'read on wronly fd -> ENOTCAPABLE',
    sandbox: ['read on wronly fd -> EBADF', 'read on wronly fd -> ENOTCAPABLE'],
    why: RIGHTS,
  },
  {
    native: 'read on a directory fd -> ENOTCAPABLE',
    sandbox: ['read on a directory fd -> EISDIR', 'read on a directory fd -> ENOTCAPABLE'],
    why: RIGHTS,
  },
  {
    native: 'fd_readdir on a file -> ENOTCAPABLE',
    sandbox: ['fd_readdir on a file -> ENOTDIR', 'fd_readdir on a file -> ENOTCAPABLE'],
    why: RIGHTS,
  },
  // path_open without SYMLINK_FOLLOW does not pass O_NOFOLLOW to the host, which then follows.
  {
    native: 'open /lnk/rel nofollow -> ok',
    sandbox: 'open /lnk/rel nofollow -> ELOOP',
    why: 'uvwasi drops O_NOFOLLOW; Linux open(O_NOFOLLOW) on a symlink is ELOOP',
  },
  {
    native: 'open /lnk/dirlink nofollow O_DIRECTORY -> ok',
    sandbox: 'open /lnk/dirlink nofollow O_DIRECTORY -> ENOTDIR',
    why: 'uvwasi drops O_NOFOLLOW; Linux open(O_NOFOLLOW|O_DIRECTORY) on a symlink is ENOTDIR',
  },
  {
    native: 'open /s/symlink/dangle O_CREAT|O_EXCL -> ok',
    sandbox: 'open /s/symlink/dangle O_CREAT|O_EXCL -> EEXIST',
    why: 'uvwasi follows the last link itself before open, so O_EXCL never sees it; Linux O_EXCL fails on any existing name, a dangling link included',
  },
  { native: 'read /lnk/absdir/c/d/file.txt -> ENOENT', sandbox: 'read /lnk/absdir/c/d/file.txt -> "deep\\n"', why: LEXICAL },
  {
    native: 'read /lnk/dirlink/../b/c/d/file.txt -> ENOENT',
    sandbox: 'read /lnk/dirlink/../b/c/d/file.txt -> "deep\\n"',
    why: LEXICAL,
  },
  {
    native: 'readlink /s/symlink/new (3-byte buffer) -> ENOBUFS',
    sandbox: 'readlink /s/symlink/new (3-byte buffer) -> "tar"',
    why: 'uvwasi fails with ENOBUFS; readlink(2) (and wasmtime) truncate to the buffer',
  },
  {
    native: 'symlink /etc/hostname /s/symlink/a/abs -> EPERM',
    sandbox: 'symlink /etc/hostname /s/symlink/a/abs -> ok',
    why: 'uvwasi refuses absolute symlink targets; Linux stores any target',
  },
  {
    native: 'read /s/symlink/a/abs -> ENOENT',
    sandbox: 'read /s/symlink/a/abs -> "wasmbox\\n"',
    why: 'follows from the refused symlink above; in the image root the target is /etc/hostname',
  },
];

// Deliberate divergences from Linux overlayfs (as mounted for the reference: redirect_dir=off,
// index=off, the defaults Docker's overlay2 gets). Each is written up in docs/overlay.md; the
// sandbox does what gVisor's overlay does, which is what a program would expect of one file system.
const OVERLAY_DOC = 'deliberate divergence, see docs/overlay.md';
const DIVERGENCES: Quirk[] = [
  {
    native: 'rename /ovl/mvdir /ovl/mvdir2 (lower dir) -> EXDEV',
    sandbox: 'rename /ovl/mvdir /ovl/mvdir2 (lower dir) -> ok',
    why: `renaming a lower directory works, as in gVisor, instead of Linux's EXDEV (${OVERLAY_DOC})`,
  },
  {
    native: 'readdir /ovl -> conc/ cow.txt fulldir/ hl1 hl2 mvdir/ nest/ times.txt trunc.txt unlinkme updir2/',
    sandbox: 'readdir /ovl -> conc/ cow.txt fulldir/ hl1 hl2 mvdir2/ nest/ times.txt trunc.txt unlinkme updir2/',
    why: `follows from the directory rename above (${OVERLAY_DOC})`,
  },
  {
    native: 'read /ovl/hl2 -> "pair\\n"',
    sandbox: 'read /ovl/hl2 -> "pair\\nmore\\n"',
    why: `a lower hard link stays one file across copy-up; Linux without index=on breaks it (${OVERLAY_DOC})`,
  },
];
QUIRKS.push(...DIVERGENCES);

// ---------------------------------------------------------------------------------------------
// Comparison

interface Want {
  line: string; // what the reference printed
  ok: string[]; // what the sandbox may print
  quirk?: Quirk;
}

function expectFrom(referenceLines: string[]): Want[] {
  return referenceLines.map((line) => {
    const quirk = QUIRKS.find((q) => (typeof q.native === 'string' ? q.native === line : q.native.test(line)));
    if (!quirk) return { line, ok: [line] };
    const ok = typeof quirk.sandbox === 'function' ? [quirk.sandbox(line)] : ([] as string[]).concat(quirk.sandbox);
    return { line, ok, quirk };
  });
}

const lines = (s: string): string[] => s.split('\n').filter((l, i, a) => l !== '' || i < a.length - 1);

/** null when `got` matches `want` line for line; otherwise a readable diff (LCS, 2 lines of context). */
function diff(want: Want[], got: string[]): string | null {
  const n = want.length;
  const m = got.length;
  const eq = (i: number, j: number) => want[i].ok.includes(got[j]);
  if (n === m && want.every((_, i) => eq(i, i))) return null;
  const L = new Int32Array((n + 1) * (m + 1)); // L[i][j] = LCS of want[i..] and got[j..]
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      L[i * (m + 1) + j] = eq(i, j) ? L[(i + 1) * (m + 1) + j + 1] + 1 : Math.max(L[(i + 1) * (m + 1) + j], L[i * (m + 1) + j + 1]);
    }
  }
  const ops: Array<[' ' | '-' | '+', string]> = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && eq(i, j)) {
      ops.push([' ', got[j]]);
      i++;
      j++;
    } else if (j < m && (i === n || L[i * (m + 1) + j + 1] >= L[(i + 1) * (m + 1) + j])) {
      ops.push(['+', got[j++]]);
    } else {
      const w = want[i++];
      ops.push(['-', w.quirk ? `${w.ok.join('  OR  ')}    (node:wasi printed: ${w.line})` : w.line]);
    }
  }
  const out: string[] = [];
  let lastShown = -1;
  let section = '';
  let changes = 0;
  for (let k = 0; k < ops.length; k++) {
    if (ops[k][0] === ' ' && ops[k][1].startsWith('## ')) section = ops[k][1];
    if (ops[k][0] === ' ') continue;
    changes++;
    const from = Math.max(k - 2, lastShown + 1);
    if (from > lastShown + 1) out.push(`@@ ${section || '(start)'}`);
    for (let c = from; c <= k; c++) out.push(`${ops[c][0]} ${ops[c][1]}`);
    lastShown = k;
    for (let c = k + 1; c < ops.length && c <= k + 2 && ops[c][0] === ' '; c++) {
      out.push(`  ${ops[c][1]}`);
      lastShown = c;
    }
  }
  const shown = out.length > 150 ? [...out.slice(0, 150), `... (${out.length - 150} more diff lines)`] : out;
  return [`${changes} line(s) differ; - reference (quirks excused), + sandbox`, ...shown].join('\n');
}

interface Run {
  stdout: string;
  stderr: string;
  status: number | null;
}

function runSandbox(image: string, args: string[]): Run {
  const r = spawnSync(process.execPath, [RUN_JS, '--cache-dir', tempDir('cache'), image, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 120_000,
    maxBuffer: 64 << 20,
  });
  return { stdout: r.stdout ?? '', stderr: (r.stderr ?? '') + (r.error ? `\n(spawn: ${r.error.message})` : ''), status: r.status };
}

/** null when `run` printed `want` (reference lines) and exited with PROBE_EXIT; else the report. */
function differences(what: string, run: Run, want: string[]): string | null {
  const d = diff(expectFrom(want), lines(run.stdout));
  if (d === null && run.status === PROBE_EXIT) return null;
  const stderr = run.stderr.trim().split('\n').slice(-15).join('\n');
  return (
    `[${what}] exit status: sandbox ${run.status}, reference ${PROBE_EXIT}\n` +
    (d ?? 'stdout: same') +
    (stderr ? `\nsandbox stderr (last lines):\n${stderr}` : '')
  );
}

/** Fails with a one-line message and the report as uvu `details` (uvu re-prints multi-line messages). */
function fail(summary: string, report: string): never {
  throw new assert.Assertion({ message: summary, details: report, operator: 'probe diff', generated: false, expects: null, actual: null });
}

function assertSameAsReference(what: string, run: Run, want: string[]): void {
  const d = differences(what, run, want);
  if (d !== null) fail(`${what}: the sandbox differs from the reference`, d);
}

// ---------------------------------------------------------------------------------------------
// The reference run, then the tests.

let reference: string | undefined;
let skipReason: string | undefined;
let wasm: Uint8Array | undefined;
if (fs.existsSync(PROBE)) {
  wasm = fs.readFileSync(PROBE);
  try {
    const m = mountOverlay(probeImageSpec(wasm).layers);
    try {
      // a container's root has /dev, which the runtime makes (Docker mounts a tmpfs there)
      fs.mkdirSync(`${m.root}/dev`);
      const r = runNodeWasi(wasm, [], m.root);
      if (r.status !== PROBE_EXIT) throw new Error(`the probe failed on the reference (status ${r.status}): ${r.stderr}`);
      reference = r.stdout;
    } finally {
      m.cleanup();
    }
  } catch (e) {
    if (!(e instanceof OverlayUnavailable)) throw e;
    skipReason = e.message;
  }
}

if (!wasm) {
  test('dist/guests/probe.wasm exists', () => {
    assert.unreachable('dist/guests/probe.wasm is missing: run `node scripts/build.mjs guests`');
  });
} else if (reference === undefined) {
  console.log(`SKIP e2e/probe: no reference: ${skipReason}`);
  test.skip('probe: sandbox vs. the overlayfs reference (skipped)', () => {});
} else {
  const ref = reference;
  const refLines = lines(ref);
  const sections = probeSections(ref);
  const spec = probeImageSpec(wasm);
  const sectionWant = (sec: string) => [`## ${sec}`, ...sections.get(sec)!, `exit ${PROBE_EXIT}`];

  test('every excused node:wasi quirk and overlay divergence still shows up in the reference output', () => {
    const stale = QUIRKS.filter((q) => !refLines.some((l) => (typeof q.native === 'string' ? q.native === l : q.native.test(l))));
    assert.equal(stale.map((q) => String(q.native)), [], 'quirks that node:wasi no longer shows: remove them');
  });

  const variants: Array<{ label: string; spec: ImageSpec; opts: Parameters<typeof buildImage>[1]; args: string[] }> = [
    { label: 'docker', spec, opts: { format: 'docker' }, args: [] },
    { label: 'docker, gzip layers', spec, opts: { format: 'docker', gzip: true }, args: [] },
    { label: 'docker save | gzip', spec, opts: { format: 'docker', gzipArchive: true }, args: [] },
    { label: 'oci', spec, opts: { format: 'oci' }, args: [] },
    { label: 'oci, gzip layers', spec, opts: { format: 'oci', gzip: true }, args: [] },
    // A plain rootfs tar holds one layer and no config: the merged tree, and the command given.
    { label: 'plain', spec: flattenSpec(spec), opts: { format: 'plain' }, args: ['/probe.wasm'] },
    { label: 'plain, gzip', spec: flattenSpec(spec), opts: { format: 'plain', gzip: true }, args: ['/probe.wasm'] },
  ];
  for (const v of variants) {
    test(`sandbox (${v.label} image) prints what the reference prints, line for line, and exits ${PROBE_EXIT}`, () => {
      const image = buildImage(v.spec, { ...v.opts, name: v.label.replace(/\W+/g, '-') });
      assertSameAsReference(v.label, runSandbox(image, v.args), refLines);
    });
  }

  test('arguments after IMAGE go to the Entrypoint: `IMAGE overlay` runs that section alone', () => {
    const image = buildImage(spec, { format: 'docker', name: 'entrypoint-args' });
    assertSameAsReference('docker IMAGE overlay', runSandbox(image, ['overlay']), sectionWant('overlay'));
  });

  test('an explicit command `IMAGE /probe.wasm SECTION` (Cmd-only OCI image) runs each section like the reference', () => {
    const cmdSpec: ImageSpec = { ...spec, entrypoint: undefined, cmd: ['/probe.wasm'] };
    const image = buildImage(cmdSpec, { format: 'oci', name: 'cmd-only' });
    const failed = PROBE_SECTIONS.map((sec) =>
      differences(`oci IMAGE /probe.wasm ${sec}`, runSandbox(image, ['/probe.wasm', sec]), sectionWant(sec)),
    ).filter((d) => d !== null);
    if (failed.length) fail(`${failed.length} of ${PROBE_SECTIONS.length} sections differ`, failed.join('\n\n'));
  });
}

test.run();
