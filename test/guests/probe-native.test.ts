// Proves guests/probe.c on the reference: the probe runs under node:wasi on a real Linux overlayfs
// mount of probeImageSpec (test/lib/overlayfs.ts), and prints what Linux overlayfs must give. If
// this suite fails, the probe or the fixture is wrong, not the sandbox (test/e2e/probe.test.ts is
// the sandbox's turn). Owns only these assertions.
//
// Needs root (mount -t overlay) and dist/guests/probe.wasm (`node scripts/build.mjs guests`);
// without root the suite prints why and skips.
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { BIG_SIZE, flattenSpec, PROBE_EXIT, PROBE_SECTIONS, probeImageSpec, probeSections } from '../lib/fixtures';
import type { Entry, ImageSpec } from '../lib/layers';
import { runNodeWasi, type NodeWasiResult } from '../lib/nodewasi';
import { mountOverlay, OverlayUnavailable } from '../lib/overlayfs';

const PROBE = path.join(process.cwd(), 'dist', 'guests', 'probe.wasm');

/** Runs the probe with `args` on a fresh overlay mount of the fixture (or of `flat`tened layers). */
function runOnOverlay(args: string[], flat = false): NodeWasiResult {
  const wasm = fs.readFileSync(PROBE);
  const spec = probeImageSpec(wasm);
  const m = mountOverlay((flat ? flattenSpec(spec) : spec).layers);
  try {
    return runNodeWasi(wasm, args, m.root);
  } finally {
    m.cleanup();
  }
}

/**
 * The merged view of `spec` in `dir` as the probe prints a listing (sorted; dirs end in '/',
 * symlinks in '@'): overlayfs semantics applied to the layer spec directly, independently of
 * overlayfs.ts, so that the fixture, the mount and the probe are checked against each other.
 */
function mergedListing(spec: ImageSpec, dir: string): string {
  const tree = new Map<string, Entry['type']>(); // path -> type, merged so far
  let added = new Set<string>(); // paths the current layer wrote
  const drop = (p: string, self: boolean, lowerOnly = false) => {
    for (const k of [...tree.keys()]) {
      if (!((self && k === p) || k.startsWith(p + '/'))) continue;
      if (!lowerOnly || !added.has(k)) tree.delete(k);
    }
  };
  for (const layer of spec.layers) {
    added = new Set();
    for (const e of layer) {
      const parts = e.path.split('/');
      for (let i = 1; i < parts.length; i++) {
        const parent = parts.slice(0, i).join('/');
        if (tree.get(parent) !== 'dir') {
          drop(parent, true);
          tree.set(parent, 'dir');
        }
        added.add(parent);
      }
      if (e.type === 'whiteout') {
        drop(e.path, true);
        continue;
      }
      if (e.type === 'opaque') drop(e.path, false, true); // hides the lower children only
      const t = e.type === 'opaque' ? 'dir' : e.type === 'hardlink' ? 'file' : e.type;
      if (t !== 'dir' || tree.get(e.path) !== 'dir') drop(e.path, true);
      tree.set(e.path, t);
      added.add(e.path);
    }
  }
  const prefix = dir === '/' ? '' : dir.slice(1) + '/';
  const names: string[] = [];
  for (const [p, t] of tree) {
    if (!p.startsWith(prefix) || p.slice(prefix.length).includes('/') || p === prefix) continue;
    names.push(p.slice(prefix.length) + (t === 'dir' ? '/' : t === 'symlink' ? '@' : ''));
  }
  return `readdir ${dir} -> ${names.sort().join(' ')}`;
}

let skipReason: string | undefined;
let full: NodeWasiResult | undefined;
if (!fs.existsSync(PROBE)) {
  test('dist/guests/probe.wasm exists', () => {
    assert.unreachable('dist/guests/probe.wasm is missing: run `node scripts/build.mjs guests`');
  });
} else {
  try {
    full = runOnOverlay([]);
  } catch (e) {
    if (!(e instanceof OverlayUnavailable)) throw e;
    skipReason = e.message;
  }
}

if (skipReason) {
  console.log(`SKIP probe-native: ${skipReason}`);
  test.skip('probe on the overlayfs reference (skipped)', () => {});
} else if (full) {
  const run = full;
  const sections = probeSections(run.stdout);

  test('the probe prints every section in order, then `exit 7`, and exits 7', () => {
    assert.is(run.stderr, '');
    assert.equal([...sections.keys()], [...PROBE_SECTIONS]);
    assert.is(run.stdout.trimEnd().split('\n').pop(), `exit ${PROBE_EXIT}`);
    assert.is(run.status, PROBE_EXIT);
  });

  test('no setup step of the probe failed', () => {
    const bad = run.stdout.split('\n').filter((l) => l.startsWith('setup:'));
    assert.equal(bad, []);
  });

  test('listings of the merged tree match the layer spec (whiteouts, opaque dir, re-created name)', () => {
    const spec = probeImageSpec(new Uint8Array(0));
    const want: Array<[string, string]> = [
      ['prestat', mergedListing(spec, '/')],
      ['overlay', mergedListing(spec, '/etc')],
      ['overlay', mergedListing(spec, '/opq')],
      ['readdir', mergedListing(spec, '/data/many')],
      ['symlink', mergedListing(spec, '/lnk')],
    ];
    for (const [sec, line] of want) assert.ok(sections.get(sec)?.includes(line), `${sec}: missing ${line}`);
  });

  // Facts that must hold on Linux overlayfs (and do under node:wasi): table-driven, by section.
  const FACTS: Array<[string, string]> = [
    // open
    ['open', 'open /etc wronly -> EISDIR'],
    ['open', 'open /etc/passwd O_DIRECTORY -> ENOTDIR'],
    ['open', 'open /etc/passwd/ rdonly -> ENOTDIR'],
    ['open', 'open /s/open/new O_CREAT|O_EXCL again -> EEXIST'],
    ['open', 'size after O_TRUNC -> 0'],
    ['open', 'open /s/open/missing/x O_CREAT -> ENOENT'],
    // rw
    ['rw', 'read rest -> "world"'],
    ['rw', 'seek SET -1 -> EINVAL'],
    ['rw', 'tell after failed seeks -> 11'],
    ['rw', 'gap reads zeros -> yes'],
    ['rw', 'tell after pread/pwrite -> 21'],
    ['rw', 'close again -> EBADF'],
    ['rw', 'tell after append -> 26'],
    // fdstat
    ['fdstat', 'read /s/fdstat/f -> "helloZ"'], // APPEND set by fd_fdstat_set_flags took effect
    ['fdstat', 'read /s/fdstat/f -> "JelloZ"'], // and clearing it too
    // filestat
    ['filestat', 'pread count 100, head "abcdef", rest zeros -> yes'],
    ['filestat', 'after shrink -> "abc"'],
    ['filestat', 'atime set -> yes, mtime set -> yes'],
    ['filestat', 'fd set_times atim+atim_now -> EINVAL'],
    ['filestat', 'stat nofollow /s/filestat/ln -> SYMBOLIC_LINK size 1'],
    ['filestat', 'lower mtime is the fixture mtime -> yes'],
    ['filestat', 'each write after a stat: later mtime and ctime -> yes'],
    ['filestat', 'each truncate after a stat: later mtime and ctime -> yes'],
    ['filestat', 'each create or unlink after a stat of the directory: later mtime -> yes'],
    ['filestat', 'a file made after another is older -> no'],
    // dirs
    ['dirs', 'rmdir /s/dirs/a (not empty) -> ENOTEMPTY'],
    ['dirs', 'rmdir /s/dirs/a/f (a file) -> ENOTDIR'],
    ['dirs', 'unlink /s/dirs/a (a dir) -> EISDIR'], // Linux says EISDIR where POSIX allows EPERM
    ['dirs', 'rmdir /etc (lower, not empty) -> ENOTEMPTY'],
    // readdir
    ['readdir', 'took more than one call -> yes'],
    ['readdir', 'resume from a saved cookie lists exactly the rest -> yes'],
    ['readdir', 'cookie 0 restarts the listing -> yes'],
    // rename
    ['rename', 'rename d2 e (dir over empty dir) -> ok'],
    ['rename', 'rename e g (dir over non-empty dir) -> ENOTEMPTY'],
    ['rename', 'rename e e/sub (into itself) -> EINVAL'],
    ['rename', 'rename e e/sub/deeper (into its subtree) -> EINVAL'],
    ['rename', 'rename c g (file over dir) -> EISDIR'],
    ['rename', 'rename g c (dir over file) -> ENOTDIR'],
    // symlink
    ['symlink', 'read /lnk/chain1 -> "wasmbox\\n"'],
    ['symlink', 'read /lnk/loop1 -> ELOOP'],
    ['symlink', 'read /lnk/dangling -> ENOENT'],
    ['symlink', 'read /lnk/dirlink/c/d/file.txt -> "deep\\n"'],
    ['symlink', 'read /../../etc/hostname -> "wasmbox\\n"'], // '..' at the root stays there
    ['symlink', 'read /lnk/up -> "wasmbox\\n"'],
    ['symlink', 'rmdir /s/symlink/dl (link to a dir) -> ENOTDIR'],
    // link
    ['link', 'same ino -> yes, nlink 2 2'],
    ['link', 'link /s/link (a dir) -> EPERM'],
    ['link', 'lower pair same ino -> yes, nlink 2 2'],
    ['link', 'same ino -> yes, ino kept -> yes, nlink 2 2'],
    // misc
    ['misc', 'fd_advise 99 -> EINVAL'],
    ['misc', 'head kept, rest zeros -> yes'],
    ['misc', 'target number reads -> "0123456789"'],
    ['misc', 'close the old number -> EBADF'],
    // overlay
    ['overlay', 'read /etc/motd -> "layer1 motd\\n"'],
    ['overlay', 'read /etc/removed -> ENOENT'],
    ['overlay', 'read /opq/old1 -> ENOENT'],
    ['overlay', 'read /data/many/f05 -> "f05 again\\n"'],
    ['overlay', 'the earlier rdonly fd reads on -> "CONTENT\\n"'],
    ['overlay', 'ino same after copy-up (old fd) -> yes'],
    ['overlay', 'ino same after copy-up (path) -> yes'],
    ['overlay', 'read /ovl/cow.txt -> "UPPER CONTENT\\n"'],
    ['overlay', 'readdir /ovl/fulldir -> (empty)'],
    ['overlay', 'rename /ovl/mvdir /ovl/mvdir2 (lower dir) -> EXDEV'], // overlayfs without redirect_dir
    ['overlay', 'read /ovl/hl2 -> "pair\\n"'], // overlayfs without index: copy-up breaks a lower pair
    ['overlay', 'dir ino same after copy-up -> yes'],
    ['overlay', 'read /ovl/trunc.txt -> "0123"'],
    // big
    ['big', `sequential read -> ${BIG_SIZE} bytes, pattern yes`],
    ['big', 'pread across a page -> 20 bytes, pattern yes'],
    ['big', `after copy-up -> ${BIG_SIZE} bytes, pattern with patch yes`],
    ['big', 'ino same after copy-up -> yes'],
    ['big', 'after shrink and grow -> 400000 bytes, head kept and hole zeros yes'],
  ];
  test('facts of Linux overlayfs hold in the probe output (table)', () => {
    const missing = FACTS.filter(([sec, line]) => !sections.get(sec)?.includes(line));
    assert.equal(missing, [], 'lines missing from the probe output');
  });

  test('each section run alone on a fresh mount prints exactly its part of the full run', () => {
    for (const sec of PROBE_SECTIONS) {
      const r = runOnOverlay([sec]);
      const want = [`## ${sec}`, ...sections.get(sec)!, `exit ${PROBE_EXIT}`].join('\n') + '\n';
      assert.fixture(r.stdout, want, `section ${sec}`);
      assert.is(r.status, PROBE_EXIT);
    }
  });

  test('the fixture flattened to one layer (for plain rootfs tars) prints the same as three layers', () => {
    const r = runOnOverlay([], true);
    assert.fixture(r.stdout, run.stdout);
    assert.is(r.status, PROBE_EXIT);
  });

  test('an unknown section is refused with exit 2', () => {
    const r = runOnOverlay(['nosuch']);
    assert.is(r.stdout, 'unknown section nosuch\nexit 2\n');
    assert.is(r.status, 2);
  });
}

test.run();
