// The shell corpus: test/fixtures/sh-corpus/NNN-topic.sh, small scripts as people write them
// (pipelines, if/for/while/until/case, $(...) and backquotes, $((...)), functions with local and
// return, subshells and groups, here-documents, break/continue, read, eval, set -e, trap EXIT,
// background jobs and wait, redirections) over the toolbox (grep, sed, sort, uniq, cut, tr, tee,
// test, printf, yes, seq, basename, dirname, ...). Each script must print on stdout, and end with the
// status, that dash with GNU coreutils gives; stderr is not compared (the shells word messages
// differently).
//
// All scripts run in ONE sandbox run (speed): the corpus is put into the image under /corpus, and a
// driver runs each with a fresh scratch directory, printing a header, the script's stdout and its
// exit status. The same driver runs with the host's dash and GNU tools on a host copy of the tree.
// The scripts find the data tree through $D (/data in the sandbox), their scratch directory through
// $T (/tmp/x) and write nothing else; they never print those paths, so both outputs compare as is.
// Then one test per script compares its section of both outputs.
//
// A script that hangs stops the sandbox run: every script after it fails as "no output".
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tempDir } from '../lib/images';
import type { Entry } from '../lib/layers';
import { ROOT, RUN_JS } from '../lib/sandbox';
import { APPLETS, dataEntries, systemEntries, userlandImage, writeTree } from '../lib/userland';

const CORPUS_DIR = path.join(ROOT, 'test', 'fixtures', 'sh-corpus');
const NAMES = fs
  .readdirSync(CORPUS_DIR)
  .filter((n) => /^\d{3}-[A-Za-z0-9._-]+\.sh$/.test(n))
  .sort();

/** The commands the scripts may use (the toolbox's, old and new), besides the shell's builtins. */
const COMMANDS = [
  'basename', 'cat', 'cp', 'cut', 'date', 'df', 'dirname', 'du', 'echo', 'env', 'false', 'find', 'grep',
  'head', 'ln', 'ls', 'mkdir', 'mv', 'printf', 'pwd', 'rm', 'rmdir', 'sed', 'seq', 'sleep', 'sort', 'stat',
  'tail', 'tee', 'test', '[', 'touch', 'tr', 'true', 'uname', 'uniq', 'wc', 'yes',
];

const SANDBOX_ENV = { D: '/data', T: '/tmp/x', C: '/corpus' };
const SANDBOX_TIMEOUT_MS = 240_000;

/** The corpus as an image layer (plus a /bin link for each command the userland list lacks). */
function corpusLayer(): Entry[] {
  return [
    ...COMMANDS.filter((c) => !APPLETS.includes(c)).map((c): Entry => ({ path: `bin/${c}`, type: 'symlink', target: 'toolbox' })),
    { path: 'corpus', type: 'dir' },
    ...NAMES.map((n): Entry => ({ path: `corpus/${n}`, type: 'file', data: fs.readFileSync(path.join(CORPUS_DIR, n)), mode: 0o755 })),
  ];
}

/** The driver: one flat list (no loop), so that it depends on as little of the shell as possible. */
function driver(): string {
  return NAMES.map(
    (n) =>
      `cd /; rm -rf "$T"; mkdir "$T"; cd "$T"; echo "=== sh-corpus: ${n}"; ` +
      `sh "$C/${n}" 2>/dev/null </dev/null; s=$?; echo; echo "--- sh-corpus: status $s"\n`,
  ).join('');
}

interface Result {
  stdout: string;
  status: number;
}

interface RunAll {
  results: Map<string, Result>;
  /** Why sections may be missing: how the run ended. */
  ending: string;
  /** The host copy of the tree (for the host run), which no output may show. */
  root?: string;
}

/** Splits a driver's output into the sections of the scripts. */
function parse(out: string): Map<string, Result> {
  const results = new Map<string, Result>();
  const re = /^=== sh-corpus: (\S+)\n([\s\S]*?)\n--- sh-corpus: status (\d+)\n/gm;
  for (let m; (m = re.exec(out)); ) results.set(m[1], { stdout: m[2], status: Number(m[3]) });
  return results;
}

function ending(r: ReturnType<typeof spawnSync>, what: string): string {
  const lines = String(r.stderr ?? '').trim().split('\n');
  // the last lines, and a fatal V8 error's own message ("# Fatal error ...", "# Check failed ..."),
  // which comes before its long native stack trace
  const fatal = lines.filter((l) => /^# \S/.test(l)).slice(0, 4);
  const stderr = [...fatal, ...lines.slice(-5)].join('\n');
  const how = r.error ? `${r.error.message}` : r.signal ? `signal ${r.signal}` : `status ${r.status}`;
  const last = /^=== sh-corpus: (\S+)\n(?![\s\S]*^=== sh-corpus:)/m.exec(String(r.stdout ?? ''))?.[1];
  return `${what} ended with ${how}${last ? `, last script started: ${last}` : ''}${stderr ? `; stderr:\n${stderr}` : ''}`;
}

/**
 * Every script in one sandbox run: `node host/run.js -e D=/data ... IMAGE sh -c DRIVER`, spawned here
 * rather than through box(), whose 60 s limit throws the output away: a run cut short (a script that
 * hangs) still gives the results of the scripts before it.
 */
function runSandboxAll(): RunAll {
  const img = userlandImage([corpusLayer()]);
  const args = [RUN_JS, ...Object.entries({ ...SANDBOX_ENV, LC_ALL: 'C', TZ: 'UTC' }).flatMap(([k, v]) => ['-e', `${k}=${v}`])];
  const r = spawnSync(process.execPath, [...args, img, 'sh', '-c', driver()], {
    cwd: ROOT,
    // the scripts build pipelines (as `sh SCRIPT` would, whose stages run side by side), the
    // driver's own text does not
    env: { ...process.env, WASMBOX_JSPI: '1' },
    input: '',
    encoding: 'utf8',
    timeout: SANDBOX_TIMEOUT_MS,
    maxBuffer: 256 << 20,
  });
  return { results: parse(r.stdout ?? ''), ending: ending(r, 'the sandbox run') };
}

/** Where each command is on the host: dash for sh, GNU tools for the rest; or why it cannot be. */
function hostBin(): { dir: string } | { missing: string } {
  const which = (cmd: string): string | null => {
    const dirs = ['/usr/local/opt/coreutils/libexec/gnubin', ...(process.env.PATH ?? '').split(':'), '/usr/bin', '/bin'];
    for (const d of dirs) {
      if (!d) continue;
      const p = path.join(d, cmd);
      try {
        fs.accessSync(p, fs.constants.X_OK);
        if (fs.statSync(p).isFile()) return p;
      } catch {
        // not here
      }
    }
    return null;
  };
  const dash = which('dash');
  if (!dash) return { missing: 'dash is not installed (apt-get install dash)' };
  const gnu: [string, RegExp][] = [
    ['sort', /GNU coreutils/],
    ['grep', /GNU grep/],
    ['sed', /GNU sed/],
  ];
  for (const [cmd, re] of gnu) {
    const p = which(cmd);
    const v = p ? spawnSync(p, ['--version'], { encoding: 'utf8' }).stdout ?? '' : '';
    if (!re.test(v)) return { missing: `${cmd} on the host is not ${re.source} (${p ?? 'not found'})` };
  }
  const dir = tempDir('corpus-bin');
  fs.symlinkSync(dash, path.join(dir, 'sh'));
  for (const c of COMMANDS) {
    const p = which(c);
    if (!p) return { missing: `${c} is not on the host` };
    fs.symlinkSync(p, path.join(dir, c));
  }
  return { dir };
}

/** Every script under the host's dash with GNU tools (PATH holds only the listed commands). */
function runHostAll(bin: string): RunAll {
  const root = writeTree([...systemEntries(), ...dataEntries(), ...corpusLayer().filter((e) => !e.path.startsWith('bin/'))], tempDir('corpus-root'));
  const r = spawnSync(path.join(bin, 'sh'), ['-c', driver()], {
    cwd: root,
    input: '',
    encoding: 'utf8',
    timeout: 300_000,
    maxBuffer: 256 << 20,
    env: {
      PATH: bin,
      HOME: path.join(root, 'home', 'user'),
      LC_ALL: 'C',
      TZ: 'UTC',
      D: path.join(root, 'data'),
      T: path.join(root, 'tmp', 'x'),
      C: path.join(root, 'corpus'),
    },
  });
  return { results: parse(r.stdout ?? ''), ending: ending(r, 'the host (dash) run'), root };
}

function show(r: Result): string {
  return `${r.stdout}${r.stdout === '' || r.stdout.endsWith('\n') ? '' : '\\ (no newline at the end)\n'}[exit status ${r.status}]\n`;
}

const bin = hostBin();
if ('missing' in bin) {
  console.log(`SKIP sh-corpus: ${bin.missing}; the corpus needs the host's dash and GNU tools as its reference`);
  test('sh-corpus: skipped (no dash or GNU tools on the host)', () => {});
} else {
  const host = runHostAll(bin.dir);
  const box = runSandboxAll();

  test(`sh-corpus: at least 100 scripts, each with a result under dash (${NAMES.length} scripts)`, () => {
    assert.ok(NAMES.length >= 100, `only ${NAMES.length} scripts in ${CORPUS_DIR}`);
    const missing = NAMES.filter((n) => !host.results.has(n));
    assert.equal(missing, [], `no dash result for: ${missing.join(' ')} (${host.ending})`);
  });

  for (const name of NAMES) {
    test(`sh-corpus: ${name}`, () => {
      const ref = host.results.get(name);
      assert.ok(ref, `no dash result (${host.ending})`);
      assert.not.ok(host.root && ref.stdout.includes(host.root), `the script prints a host path (${host.root}): print relative names`);
      const got = box.results.get(name);
      assert.ok(got, `no output from the sandbox for this script: ${box.ending}`);
      assert.fixture(show(got), show(ref), `${name}: stdout and exit status differ from dash with GNU tools (- sandbox, + dash)`);
    });
  }
}

test.run();
