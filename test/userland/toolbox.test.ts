// The toolbox (guests/toolbox.c) against GNU coreutils, findutils, grep and util-linux hexdump.
// Every case runs three times on the same tree: in the sandbox (the tree is an image layer under
// /data), with the host's GNU tool on a copy of the tree in a temp directory, and with the toolbox
// under node:wasi on that copy. stdout, stderr and the exit status must be equal, after the
// normalisations below, each of which is a difference documented in the table at the top of
// guests/toolbox.c: permission bits (WASI has none), block counts ("total", stat Blocks/IO Block:
// WASI has no st_blocks), inode/device numbers and ctime/atime (another file system), directory
// order (find, grep -r, du), and du's apparent sizes (GNU is run with --apparent-size).
// Commands that change the tree run in the sandbox (output, messages, status) and under node:wasi
// and GNU on fresh copies whose resulting trees are compared; in the sandbox their effects are
// checked through the shell in sh.test.ts (one sandbox runs one command until spawn exists).
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  APPLETS,
  box,
  boxHead,
  gnu,
  hostTree,
  normPerms,
  normStat,
  normTotal,
  snapshot,
  sortLines,
  systemEntries,
  dataEntries,
  userlandImage,
  wasiHead,
  wasiToolbox,
  writeTree,
  type RunOutput,
} from '../lib/userland';
import { tempDir } from '../lib/images';

const img = userlandImage();
// the host copy mirrors the whole image, so that even '..' of /data looks the same
const hostRoot = writeTree([...systemEntries(), ...dataEntries()], tempDir('root'));
fs.utimesSync(hostRoot, 0, 0); // the image's implied root directory has mtime 0
const hostData = path.join(hostRoot, 'data');

interface Case {
  cmd: string[];
  /** Sandbox working directory (default /data); the host runs in the same place of its copy. */
  cwd?: string;
  input?: string;
  /** The GNU command line, when it differs (documented difference). */
  gnu?: string[];
  /** Compare stdout lines in sorted order (directory order differs between file systems). */
  sort?: boolean;
  /** Extra normalisation of both outputs. */
  norm?: (s: string) => string;
  /** Do not run under node:wasi (uvwasi differs for reasons that are not the toolbox's). */
  noWasi?: string;
}

const ident = (s: string) => s;

function normalise(r: RunOutput, c: Case): RunOutput {
  const n = (s: string) => {
    let t = normStat(normTotal(normPerms(s)));
    t = (c.norm ?? ident)(t);
    return c.sort ? sortLines(t) : t;
  };
  return { stdout: n(r.stdout), stderr: n(r.stderr), status: r.status };
}

function check(c: Case) {
  const cwd = c.cwd ?? '/data';
  const hostCwd = path.join(hostRoot, cwd);
  const label = `${c.cmd.join(' ')} (in ${cwd})`;
  const sb = normalise(box(img, c.cmd, { cwd, input: c.input }), c);
  const ref = normalise(gnu(c.gnu ?? c.cmd, hostCwd, c.input), c);
  assert.is(sb.stdout, ref.stdout, `${label}: stdout vs GNU`);
  assert.is(sb.stderr, ref.stderr, `${label}: stderr vs GNU`);
  assert.is(sb.status, ref.status, `${label}: status vs GNU (${sb.stderr})`);
  if (!c.noWasi) {
    const w = normalise(wasiToolbox(c.cmd, hostRoot, cwd, c.input), c);
    assert.is(sb.stdout, w.stdout, `${label}: stdout vs node:wasi`);
    assert.is(sb.stderr, w.stderr, `${label}: stderr vs node:wasi`);
    assert.is(sb.status, w.status, `${label}: status vs node:wasi`);
  }
}

function cases(name: string, list: Case[]) {
  test(name, () => {
    for (const c of list) check(c);
  });
}

// ---------------------------------------------------------------------------------------------

cases('ls: names, -a, -A, -1, -d, several operands, symlinks to directories', [
  { cmd: ['ls'] },
  { cmd: ['ls', '-a'] },
  { cmd: ['ls', '-A'] },
  { cmd: ['ls', '-1', 'sub'] },
  { cmd: ['ls', '-d', 'sub', 'empty', 'a.txt'] },
  { cmd: ['ls', 'sub', 'a.txt', 'empty', 'zero'] },
  { cmd: ['ls', 'dirlink'] },
  { cmd: ['ls', 'link', 'broken'] },
  { cmd: ['ls', 'empty'] },
  { cmd: ['ls', '.', 'sub/deep'] },
  { cmd: ['ls'], cwd: '/data/sub' },
  { cmd: ['ls', '..'], cwd: '/data/sub/deep' },
]);

cases('ls -l: modes, links, sizes, dates, symlink targets, totals', [
  { cmd: ['ls', '-l'] },
  { cmd: ['ls', '-la', 'sub'] },
  { cmd: ['ls', '-l', 'a.txt', 'link', 'dirlink', 'broken', 'zero', 'big.bin'] },
  { cmd: ['ls', '-ld', 'sub', 'dirlink', 'empty'] },
  { cmd: ['ls', '-l', 'dirlink'] },
  { cmd: ['ls', '-l', 'sub', 'a.txt'] },
  { cmd: ['ls', '-l', '../etc'] },
]);

cases('ls -R, and errors (exit 2 for a bad operand)', [
  { cmd: ['ls', '-R'] },
  { cmd: ['ls', '-R', 'sub', 'empty'] },
  { cmd: ['ls', '-lR', 'sub'] },
  { cmd: ['ls', '-aR', 'sub'] },
  { cmd: ['ls', '-R', 'dirlink'] },
  { cmd: ['ls', 'nonexistent'] },
  { cmd: ['ls', 'nonexistent', 'a.txt', 'sub'] },
  { cmd: ['ls', '-l', 'nonexistent', 'empty'] },
  { cmd: ['ls', '-z'] },
  { cmd: ['ls', 'a.txt/'] },
]);

cases('cat: files, stdin, -, errors', [
  { cmd: ['cat', 'a.txt', 'b.txt', 'zero', 'notes.md'] },
  { cmd: ['cat', 'link', 'sp ace.txt'] },
  { cmd: ['cat'], input: 'from stdin\n' },
  { cmd: ['cat', 'a.txt', '-', 'b.txt'], input: 'middle\n' },
  { cmd: ['cat', 'nonexistent', 'a.txt', 'sub', 'broken', 'sp ace'] },
  { cmd: ['cat', 'big.bin'] },
]);

cases('echo: -n, -e escapes, -E, options that are not options', [
  { cmd: ['echo', 'a', 'b  c', ''] },
  { cmd: ['echo'] },
  { cmd: ['echo', '-n', 'no', 'newline'] },
  { cmd: ['echo', '-e', 'tab\\there\\nnl \\x41\\x4a2 \\0101 \\101 \\\\ \\q \\e.\\a\\b\\f\\r\\v'] },
  { cmd: ['echo', '-e', 'stop\\c here', 'gone'] },
  { cmd: ['echo', '-E', 'raw\\n'] },
  { cmd: ['echo', '-ne', 'x\\ty'] },
  { cmd: ['echo', '-en', 'x\\ty'] },
  { cmd: ['echo', '-n', '-e', 'a\\nb'] },
  { cmd: ['echo', '--', '-n'] },
  { cmd: ['echo', '-x', '-n'] },
  { cmd: ['echo', 'trailing\\'] },
  { cmd: ['echo', '-e', 'trailing\\'] },
]);

cases('wc: -l -w -c, widths, totals, stdin, errors', [
  { cmd: ['wc', 'a.txt'] },
  { cmd: ['wc', '-l', 'notes.md'] },
  { cmd: ['wc', '-w', 'words'] },
  { cmd: ['wc', '-c', 'bin.dat'] },
  { cmd: ['wc', '-lw', 'notes.md', 'words'] },
  { cmd: ['wc', 'a.txt', 'b.txt', 'notes.md', 'words', 'zero', 'big.bin'] },
  { cmd: ['wc'], input: 'one two\nthree\n' },
  { cmd: ['wc', '-l'], input: 'one two\nthree\n' },
  { cmd: ['wc', '-', 'a.txt'], input: 'x y z\n' },
  { cmd: ['wc', 'nonexistent', 'a.txt'] },
  { cmd: ['wc', 'nonexistent'] },
  { cmd: ['wc', 'sub'] },
  { cmd: ['wc', '-c', 'sub', 'a.txt'] },
]);

cases('head: -n N, -N, -n -N, -c, several files, errors', [
  { cmd: ['head', 'notes.md'] },
  { cmd: ['head', '-n', '3', 'notes.md'] },
  { cmd: ['head', '-3', 'notes.md'] },
  { cmd: ['head', '-n3', 'notes.md'] },
  { cmd: ['head', '-n', '-22', 'notes.md'] },
  { cmd: ['head', '-n', '-1', 'b.txt'] },
  { cmd: ['head', '-n', '0', 'a.txt'] },
  { cmd: ['head', '-n', '100', 'b.txt'] },
  { cmd: ['head', '-c', '7', 'notes.md'] },
  { cmd: ['head', '-c', '-3', 'a.txt'] },
  { cmd: ['head', '-n', '2', 'a.txt', 'b.txt', 'zero'] },
  { cmd: ['head', '-n', '1', '-'], input: 'x\ny\n' },
  { cmd: ['head', '-c', '3'], input: 'abcdef' },
  { cmd: ['head', '-n', '2'], input: 'x\n'.repeat(100000) },
  { cmd: ['head', 'nonexistent', 'a.txt'] },
  { cmd: ['head', '-n', 'x', 'a.txt'] },
]);

cases('tail: -n N, +N, -N, -c, several files, errors', [
  { cmd: ['tail', 'notes.md'] },
  { cmd: ['tail', '-n', '3', 'notes.md'] },
  { cmd: ['tail', '-3', 'notes.md'] },
  { cmd: ['tail', '-n', '+23', 'notes.md'] },
  { cmd: ['tail', '-n', '+1', 'a.txt'] },
  { cmd: ['tail', '-n', '1', 'b.txt'] },
  { cmd: ['tail', '-n', '0', 'a.txt'] },
  { cmd: ['tail', '-c', '5', 'b.txt'] },
  { cmd: ['tail', '-c', '+4', 'a.txt'] },
  { cmd: ['tail', '-n', '1', 'a.txt', 'b.txt'] },
  { cmd: ['tail', '-n', '2'], input: 'a\nb\nc\n' },
  { cmd: ['tail', 'nonexistent'] },
  { cmd: ['tail', '-n', 'x', 'a.txt'] },
]);

cases('grep: -v -i -n -c, several files, binary files, exit status', [
  { cmd: ['grep', 'hello', 'a.txt', 'b.txt', 'notes.md', '.hidden'] },
  { cmd: ['grep', 'hello', 'notes.md'] },
  { cmd: ['grep', '-i', 'hello', 'a.txt', 'b.txt', 'sub/deep/more.txt'] },
  { cmd: ['grep', '-v', 'line 1', 'notes.md'] },
  { cmd: ['grep', '-n', 'Gamma', 'notes.md'] },
  { cmd: ['grep', '-c', 'hello', 'a.txt', 'notes.md', 'zero'] },
  { cmd: ['grep', '-vc', 'a', 'notes.md'] },
  { cmd: ['grep', '-in', 'HELLO', 'sub/deep/more.txt'] },
  { cmd: ['grep', 'no newline', 'b.txt'] },
  { cmd: ['grep', '', 'a.txt'] },
  { cmd: ['grep', 'x.x', 'notes.md'] },
  { cmd: ['grep', 'nothing-matches', 'a.txt'] },
  { cmd: ['grep', 'hello', 'bin.dat'] },
  { cmd: ['grep', '-c', 'hello', 'bin.dat'] },
  { cmd: ['grep', 'hello', 'nonexistent', 'a.txt'] },
  { cmd: ['grep', 'hello', 'sub'] },
  { cmd: ['grep', '-e', 'alpha', '-e', 'beta', 'notes.md'] },
  { cmd: ['grep', '-x', 'world', 'a.txt'] },
  { cmd: ['grep', '-l', 'hello', 'a.txt', 'b.txt', 'notes.md'] },
  { cmd: ['grep', '-q', 'hello', 'a.txt'] },
  { cmd: ['grep', 'o'], input: 'foo\nbar\nboo\n' },
  { cmd: ['grep'] },
]);

cases('grep -r: names relative to the operand, directory order normalised', [
  { cmd: ['grep', '-r', 'hello'], sort: true },
  { cmd: ['grep', '-r', 'hello', 'sub'], sort: true },
  { cmd: ['grep', '-rn', 'hello', '.'], sort: true },
  { cmd: ['grep', '-rc', 'hello', 'sub'], sort: true },
  { cmd: ['grep', '-ri', 'HELLO', 'sub/deep'], sort: true },
  { cmd: ['grep', '-r', 'hello', 'a.txt'], sort: true },
  { cmd: ['grep', '-rl', 'hello', 'sub', 'a.txt'], sort: true },
]);

const GREP_IN = 'foo bar\nfoobar\nbaz\nfoo\n\nab ab\naaa\n(x)\na+b\n{1}\nx.x\n';
const grepIn = (...args: string[]): Case => ({ cmd: ['grep', ...args], input: GREP_IN });
cases('grep: basic and extended regular expressions, -o, -x, -F; leftmost-longest matches', [
  { cmd: ['grep', '-n', '^line 1[0-9]', 'notes.md'] },
  { cmd: ['grep', '-c', 'x\\{3\\}', 'notes.md'] },
  { cmd: ['grep', '-E', 'alpha|beta', 'notes.md'] },
  { cmd: ['grep', '-E', '(del|eps)[a-z]+ x{2,}$', 'notes.md'] },
  { cmd: ['grep', '-o', 'x\\+', 'notes.md'] },
  { cmd: ['grep', '-on', '[0-9][0-9]*', 'notes.md'] },
  { cmd: ['grep', '-i', 'gamma$', 'notes.md'] },
  grepIn('-x', 'fo*'), grepIn('-xE', 'fo+|ba.'), grepIn('x.x'), grepIn('-F', 'x.x'), grepIn('-F', 'a+b'),
  grepIn('a+b'), grepIn('a\\+b'), grepIn('-E', 'a+b'), grepIn('-E', 'a\\+b'), grepIn('[[:punct:]]'), grepIn('-c', '^$'),
  grepIn('\\<foo\\>'), grepIn('-o', '\\<.'), grepIn('-o', '\\bab'), grepIn('-o', 'o\\b'), grepIn('-o', 'a*'),
  grepIn('-o', ''),
  grepIn('-Eo', '(ab) \\1'), grepIn('\\(a\\)\\1'), grepIn('-E', '(a)\\1'), grepIn('-Eo', 'b+|a'), grepIn('-Eo', 'a|ab|b'),
  grepIn('-E', 'a{,2}b'), grepIn('-E', 'a{1'), grepIn('-E', 'x)'), grepIn('-E', '(x)'), grepIn('-E', 'a|'),
  grepIn('-E', 'z*^f'),
  grepIn('-E', 'a$b'), grepIn('{1}'), grepIn('\\{1\\}'), grepIn('[]a]'), grepIn('[^]a-z]'), grepIn('[[.a.]]'),
  grepIn('[[=a=]]'),
  grepIn('-e', 'foo', '-e', 'ba[rz]', '-o'), grepIn('-ov', 'foo'), grepIn('-oc', 'o'), grepIn('-ox', 'foo'),
  grepIn('-oi', 'FOO'),
  { cmd: ['grep', '-o', 'h.', 'bin.dat'] },
  { cmd: ['grep', '-c', '^h', 'bin.dat'] },
  { cmd: ['grep', '-r', 'h[ae]llo', 'sub'], sort: true },
]);

const GREPW_IN = 'hello\nhelloworld\nsay hello there\nhello_x hello\nxhello hello!\n(hello)\nfoo-bar foo_bar\n';
const grepW = (...args: string[]): Case => ({ cmd: ['grep', ...args], input: GREPW_IN });
cases('grep -w: matches with non-word characters (or the line ends) on each side, shorter or later ones too', [
  grepW('-w', 'hello'), grepW('-wo', 'hello'), grepW('-wc', 'hello'), grepW('-w', 'hel*o'), grepW('-wo', 'hel*o'),
  grepW('-wF', 'hello'), grepW('-woF', 'hello'), grepW('-wE', 'foo|bar'), grepW('-woE', 'foo|bar'), grepW('-w', 'o'),
  grepW('-wv', 'hello'), grepW('-wo', '[a-z]*'), grepW('-wn', '\\(l\\)\\1o'), grepW('-wi', 'HELLO'), grepW('-wx', 'hello'),
  grepW('-wo', 'hello.'), grepW('-w', 'hello.'), { cmd: ['grep', '-w', 'hello', 'sub/deep/more.txt'] },
]);

// errors: a file operand, not stdin (GNU exits before it reads, and the input would meet EPIPE)
const grepBad = (...args: string[]): Case => ({ cmd: ['grep', ...args, 'a.txt'] });
cases("grep: GNU's warnings and errors for bad patterns (exit 2)", [
  grepIn('-E', '*a'), grepIn('-E', 'x|+b'), grepIn('-E', '{1}'), grepIn('-E', '^*a'),
  grepBad('\\(x'), grepBad('x\\)'), grepBad('-E', '(x'), grepBad('a\\{1'), grepBad('a\\{x\\}'), grepBad('a\\{2,1\\}'),
  grepBad('-E', 'a{2,1}'), grepBad('-E', 'a{32768}'), grepBad('[[:foo:]]'), grepBad('[b-a]'), grepBad('[:space:]'),
  grepBad('[a'),
  grepBad('a\\'), grepBad('\\1'), grepBad('[[.ab.]]'), grepBad('-E', '-F', 'x'), grepBad('-G', '-E', 'x'),
]);

const SED_IN = 'one two\nthree four\nfive six\nseven\neight nine ten\n';
const sedIn = (...args: string[]): Case => ({ cmd: ['sed', ...args], input: SED_IN });
cases('sed: s with flags, groups, case conversion and any delimiter; empty matches as GNU', [
  sedIn('s/o/0/'), sedIn('s/o/0/g'), sedIn('s/e/E/2'), sedIn('s/e/E/2g'), sedIn('-n', 's/e/E/p'), sedIn('s/O/x/Ig'),
  sedIn('s/\\(t\\)\\(h\\)/\\2\\1/'), sedIn('-E', 's/(\\w+) (\\w+)/\\2 \\1/'), sedIn('-r', 's/(o|e)+/_/g'),
  sedIn('s/o\\+/_/g'),
  sedIn('s|o|/|g'), sedIn('s/[aeiou]/<&>/g'), sedIn('s/x*/-/g'), sedIn('s/e*/X/g'), sedIn('s/\\(o\\)/\\1\\1/g'),
  sedIn('s/\\<./\\u&/g'), sedIn('s/\\bt/T/g'), sedIn('s/e\\b/E/g'), sedIn('s/.*/\\U&/'),
  sedIn('s/\\(.\\)\\(.*\\)/\\2\\l\\1/'),
  sedIn('s/o/\\n/'), sedIn('s/ /\\t/'), sedIn('s/[/]/X/'), sedIn('s.o\\.t.X.'), sedIn('/two/s//2/'),
  sedIn('s/e/E/;s//#/'), sedIn('s//x/'), sedIn('-n', '//p'),
  sedIn('-e', 's/one/1/', '-e', 's/two/2/'), sedIn('y/abcdefghij/ABCDEFGHIJ/'),
]);

cases('sed: addresses, ranges, !, blocks, and the other commands', [
  sedIn('-n', '2p'), sedIn('-n', '$p'), sedIn('2d'), sedIn('2,3d'), sedIn('/three/,/seven/d'), sedIn('/f/,+1d'),
  sedIn('0,/e/d'), sedIn('1,/e/d'), sedIn('1~2d'), sedIn('0~2d'), sedIn('2,~4d'), sedIn('2!d'), sedIn('1,2!s/^/#/'),
  sedIn('3q'), sedIn('3q5'), sedIn('2Q'), sedIn('-n', '/e/='), sedIn('='), sedIn('-n', '/t/{s/t/T/;p}'),
  sedIn('-n', '/one/,/three/{/three/!p}'), sedIn('2{h;d};${G}'), sedIn('1!G;h;$!d'), sedIn(':a;N;$!ba;s/\\n/,/g'),
  sedIn('$!N;s/\\n/+/'), sedIn('N;P;D'), sedIn('n;d'), sedIn('z;s/^$/empty/'), sedIn('x;$!d;x'), sedIn('2{x;p;x}'),
  sedIn('-e', '2i\\', '-e', 'inserted'), sedIn('2a appended'), sedIn('2,3c changed'), sedIn('-e', '$a\\', '-e', 'end'),
  sedIn('1i\\  lead'), sedIn('s/o/0/;ta;s/$/!/;:a'), sedIn('s/o/0/;Ta;s/$/!/;:a'), sedIn('#comment\np'), sedIn('p;p'),
  sedIn('l'),
  { cmd: ['sed', '-n', 'l;l 5;l 0'], input: 'a\tb\\c\x01\xe9 ' + 'x'.repeat(150) + '\n' },
  { cmd: ['sed', '-n', 'l', 'bin.dat'] },
]);

cases('sed: files, -s, a missing last newline, unreadable files (exit 2 and 4)', [
  { cmd: ['sed', '-s', '-n', '$p', 'a.txt', 'b.txt'] },
  { cmd: ['sed', '-n', '$p', 'a.txt', 'b.txt'] },
  { cmd: ['sed', 'p', 'b.txt'] },
  { cmd: ['sed', '=', 'b.txt', 'a.txt'] },
  { cmd: ['sed', 'p', 'nonexistent', 'a.txt'] },
  { cmd: ['sed', '-n', '/hello/p', 'a.txt', 'sub'] },
  { cmd: ['sed', 's/l/L/', '-', 'a.txt'], input: 'from stdin\n' },
]);

// errors: no input (GNU exits before it reads, and the input would meet EPIPE)
const sedBad = (...args: string[]): Case => ({ cmd: ['sed', ...args] });
cases("sed: GNU's messages for bad scripts (exit 1, 4 for a missing label or dfa's errors)", [
  sedBad('s/a/b'), sedBad('s/a/b/q'), sedBad('k'), sedBad('s/a/b/gg'), sedBad('s/a/b/0'), sedBad('s/a/\\1/'),
  sedBad('s/\\(a/b/'), sedBad('-E', 's/(a/x/;p'), sedBad('{p'), sedBad('p}'), sedBad('1,2q'), sedBad('b nowhere'),
  sedBad('p x'), sedBad('1,p'), sedBad('0p'), sedBad('y/ab/c/'), sedBad('s//x/'), sedBad(':'), sedBad('s/[:space:]/x/'),
  sedBad('-E', 's/*a/x/'), sedBad('-E', 's/a{1/x/'), sedBad('a'), sedBad('/a'), sedBad('s/a\nb/x/'), sedBad('s/a/x\ny/'),
]);

const SORT_IN = 'b 2 x\na 10 y\nB 1 z\n  c 3\na 10 a\n\n-1 q\n0.5 r\nb 2 x\n';
const sortIn = (...args: string[]): Case => ({ cmd: ['sort', ...args], input: SORT_IN });
cases('sort: byte order, -r -n -u -f -b -d -s, keys -k with -t and their options, -o', [
  sortIn(), sortIn('-r'), sortIn('-n'), sortIn('-rn'), sortIn('-u'), sortIn('-f'), sortIn('-fu'), sortIn('-b'), sortIn('-d'),
  sortIn('-k2'), sortIn('-k2,2'), sortIn('-k2,2n'), sortIn('-k2n,2'), sortIn('-n', '-k2,2'), sortIn('-k3'), sortIn('-k1.2'),
  sortIn('-k1.2,1.2'), sortIn('-t', ' ', '-k2,2n'), sortIn('-t', ' ', '-k3r'), sortIn('-k2,2', '-u'), sortIn('-s', '-k2,2'),
  sortIn('-k1,1', '-k2,2nr'), sortIn('-k1b,1'), sortIn('-b', '-k1,1'),
  { cmd: ['sort', 'notes.md', 'a.txt'] }, { cmd: ['sort', '-k3', 'notes.md'] },
  { cmd: ['sort', '-t', ':', '-k2', 'notes.md'] },
  { cmd: ['sort', '-u', 'a.txt', 'hard', 'link'] }, { cmd: ['sort', 'b.txt', '-'], input: 'z\n' },
]);

cases("sort: GNU's messages for bad keys, separators and files (exit 2)", [
  { cmd: ['sort', 'nonexistent'] }, { cmd: ['sort', 'sub'] }, { cmd: ['sort', '-k'] }, { cmd: ['sort', '-k', '0', 'a.txt'] },
  { cmd: ['sort', '-k', 'x', 'a.txt'] }, { cmd: ['sort', '-k', '1.0', 'a.txt'] }, { cmd: ['sort', '-k', '1,x', 'a.txt'] },
  { cmd: ['sort', '-k', '1.x', 'a.txt'] }, { cmd: ['sort', '-k', '1x', 'a.txt'] }, { cmd: ['sort', '-t', 'ab', 'a.txt'] },
  { cmd: ['sort', '-t', '', 'a.txt'] }, { cmd: ['sort', '-o', 'sub', 'a.txt'] }, { cmd: ['sort', '-o', 'nope/x', 'a.txt'] },
]);

const UNIQ_IN = 'a\na\nA\nb\nb\nb\nc x\nd x\nc';
const uniqIn = (...args: string[]): Case => ({ cmd: ['uniq', ...args], input: UNIQ_IN });
cases('uniq: -c -d -u -i, -f -s -w, files and errors', [
  uniqIn(), uniqIn('-c'), uniqIn('-d'), uniqIn('-u'), uniqIn('-du'), uniqIn('-i'), uniqIn('-ic'), uniqIn('-f1', '-c'),
  uniqIn('-s1', '-w1', '-c'), uniqIn('-', '-'), { cmd: ['uniq', '-f', 'x', 'a.txt'] }, { cmd: ['uniq', '-c', 'notes.md'] },
  { cmd: ['uniq', 'nonexistent'] }, { cmd: ['uniq', 'a.txt', 'b.txt', 'c'] }, { cmd: ['uniq', 'sub'] },
]);

const CUT_IN = 'name:age:city\nann:31:Oslo\nbob:27:Rome\nno delimiter here\ncy::Paris:extra\n';
const cutIn = (...args: string[]): Case => ({ cmd: ['cut', ...args], input: CUT_IN });
cases('cut: -f with -d and -s, -b and -c lists, --complement, --output-delimiter', [
  cutIn('-d:', '-f1'), cutIn('-d:', '-f2,3'), cutIn('-d:', '-f2-'), cutIn('-d:', '-f-2'), cutIn('-d:', '-f1,3', '-s'),
  cutIn('-d:', '-f2', '--complement'), cutIn('-d:', '-f1-3', '--output-delimiter=|'), cutIn('-b1-3'), cutIn('-c2,4-5'),
  cutIn('-b3-,1'), cutIn('-b1,2,4-5', '--output-delimiter=+'), cutIn('-b1-2,2-3'), cutIn('-b2-3', '--complement'),
  cutIn('-f1'), cutIn('-f', '1', '-d', ' '), { cmd: ['cut', '-f1', 'nonexistent', 'a.txt'] }, { cmd: ['cut', '-f1', 'sub'] },
  { cmd: ['cut', '-c', '1-3', 'b.txt'] },
]);

cases("cut: GNU's messages for bad lists and options (exit 1)", [
  { cmd: ['cut'] }, { cmd: ['cut', '-f', '0'] }, { cmd: ['cut', '-f', 'x'] }, { cmd: ['cut', '-f', '3-1'] },
  { cmd: ['cut', '-b', '1', '-f', '1'] }, { cmd: ['cut', '-d', 'ab', '-f1'] }, { cmd: ['cut', '-d', ':', '-b1'] },
  { cmd: ['cut', '-s', '-b1'] }, { cmd: ['cut', '-f', '-'] }, { cmd: ['cut', '-f', '1,,2'] }, { cmd: ['cut', '-b', '0'] },
  { cmd: ['cut', '-c', 'x'] }, { cmd: ['cut', '-f', '1-x'] }, { cmd: ['cut', '-f', '1-2-3'] },
  { cmd: ['cut', '-f', '99999999999999999999999'] },
]);

const TR_IN = 'Hello, World!\n\tTabs  and   spaces 123\nzzz aaa\n';
const trIn = (...args: string[]): Case => ({ cmd: ['tr', ...args], input: TR_IN });
cases('tr: ranges, classes, escapes, [c*n], -d -s -c -t', [
  trIn('a-z', 'A-Z'), trIn('[:lower:]', '[:upper:]'), trIn('[:upper:][:lower:]', '[:lower:][:upper:]'),
  trIn('-d', '[:space:]'),
  trIn('-d', 'a-z'), trIn('-cd', '[:alnum:]\\n'), trIn('-s', ' '), trIn('-s', '[:space:]'), trIn('-s', 'a-z', 'A-Z'),
  trIn('-ds', 'l', 'z'), trIn('-c', 'a-zA-Z', '\\n'), trIn('-cs', 'a-zA-Z', '\\n'), trIn('lo', '01'), trIn('a-z', 'x'),
  trIn('-t', 'a-z', 'xy'), trIn('\\t\\n', '_~'), trIn('[:digit:]', '#'), trIn('a-c', '[x*]'), trIn('a-f', '[x*2]y'),
  trIn('[=l=]', 'L'), trIn('\\154', 'L'), trIn('-d', '\\\\'), trIn('ll', 'xy'), trIn('[:punct:]', '.'), trIn('a\\', 'x'),
  trIn('\\777', 'x'),
]);

cases("tr: GNU's messages for bad operands and sets (exit 1)", [
  { cmd: ['tr'] }, { cmd: ['tr', 'a'] }, { cmd: ['tr', '-d'] }, { cmd: ['tr', '-d', 'a', 'b'] }, { cmd: ['tr', '-ds', 'a'] },
  { cmd: ['tr', 'a', 'b', 'c'] }, { cmd: ['tr', 'z-a', 'x'] }, { cmd: ['tr', 'a', '[:digit:]'] },
  { cmd: ['tr', '-c', 'a', '[:lower:]'] }, { cmd: ['tr', 'a', ''] }, { cmd: ['tr', '[:foo:]', 'x'] },
  { cmd: ['tr', '[a*]', 'x'] },
  { cmd: ['tr', 'a-z', '[:upper:]'] }, { cmd: ['tr', '[:alpha:]', '[:upper:]'] },
]);

const testCmd = (...args: string[]): Case => ({ cmd: ['test', ...args] });
const bracket = (...args: string[]): Case => ({ cmd: ['[', ...args] });
cases('test and [: POSIX by the number of arguments, precedence beyond; file tests; GNU messages (exit 2)', [
  testCmd(), testCmd(''), testCmd('-n'), testCmd('-z', ''), testCmd('x', '=', 'x'), testCmd('x', '==', 'y'),
  testCmd('x', '!=', 'y'), testCmd('a', '<', 'b'), testCmd('1', '-eq', '01'),
  testCmd(' 1 ', '-eq', '1'), testCmd('abc', '-eq', '1'), testCmd('1', '-eq'),
  testCmd('-f', 'a.txt', '-a', '-d', 'sub'), testCmd('!', '-e', 'nope'),
  testCmd('(', 'x', ')'), testCmd('(', 'x'), testCmd('x', 'y'), testCmd('-x', 'a.txt'), testCmd('-x', 'sub'),
  testCmd('x', '-a'), testCmd('-q', 'x'), testCmd('a', 'b', 'c'),
  testCmd('1', '-lt', '2', '-o', '3'), testCmd('99999999999999999999', '-gt', '1'), testCmd('-1', '-lt', '-01'),
  testCmd('!'), testCmd('('), testCmd('(', ')'),
  testCmd('-e'), testCmd('x', '-o', '(', 'y', ')', 'z'), testCmd('-h', 'link'), testCmd('-L', 'a.txt'),
  testCmd('a.txt', '-nt', 'b.txt'), testCmd('a.txt', '-ot', 'nope'),
  testCmd('a.txt', '-ef', 'hard'), testCmd('a.txt', '-ef', 'b.txt'), testCmd('-s', 'zero'), testCmd('-s', 'a.txt'),
  testCmd('-r', 'nope'), testCmd('-w', 'a.txt'),
  testCmd('-t', '1'), testCmd('1', '-eq', '2', '3'), testCmd('', '-o', ''), testCmd('!', '', '-a', ''),
  testCmd('-l', 'x', '-eq', '1'), testCmd('x', '='),
  testCmd('+1', '-eq', '1'), testCmd('1x', '-eq', '1'), testCmd('', '-eq', '0'), testCmd('!', 'x', '=', 'y'),
  testCmd('!', '!', 'x'), testCmd('(', 'x', '-a', '', ')'),
  testCmd('-d', 'dirlink', '-a', '!', '-h', 'sub', '-o', 'x'), testCmd('(', '(', 'x', ')', ')'),
  testCmd('(', 'x', 'y', ')'), testCmd('-e', 'a.txt', '-a'),
  testCmd('!', '!'), testCmd('-p', 'a.txt'), testCmd('-b', 'a.txt'), testCmd('-c', 'a.txt'), testCmd('-S', 'a.txt'),
  testCmd('-e', 'broken'), testCmd('-h', 'broken'),
  bracket(), bracket(']'), bracket('1'), bracket('1', ']'), bracket('-d', 'sub', ']'), bracket('x', '=', 'y', ']'),
  bracket('(', '1', ')', ']'), bracket('a', 'b', ']'),
]);

const printfCmd = (...args: string[]): Case => ({ cmd: ['printf', ...args] });
cases('printf: conversions, flags, widths, escapes, %b, the format reused, bad numbers', [
  printfCmd(), printfCmd('%d\\n', '12abc'), printfCmd('%d\\n', 'abc'), printfCmd('%d %s\\n', '1'),
  printfCmd('%s|', 'a', 'b', 'c'), printfCmd('x\\n', 'extra'),
  printfCmd(
    '%5.2f|%-5d|%05d|%+d|% d|%x|%X|%o|%#x|%#o|%e|%g|%E|%G\\n',
    ...['3.14159', '42', '42', '42', '42', '255', '255', '8', '255', '8', '12345.678', '0.0001234', '1e10', '1e-10'],
  ),
  printfCmd('%c%c|\\n', 'hello', ''), printfCmd('%b\\n', 'a\\tb\\0101\\c', 'no'),
  printfCmd('\\101\\x41\\0101\\e\\q%%\\n'), printfCmd('%d\\n', "'A", '"B', '0x1F', '010', '-5', ' 7'),
  printfCmd('%u\\n', '-1'), printfCmd('%i\\n', '99999999999999999999'), printfCmd('%z'), printfCmd('%'),
  printfCmd('%5%|\\n'), printfCmd('%.3s|%*d|%-*d|%.*f\\n', 'abcdef', '5', '1', '4', '2', '3', '2.71828'),
  printfCmd('%f\\n', 'abc'), printfCmd('%f\\n', '1.5x'), printfCmd('%d\\n', ''), printfCmd('%s\\n'),
  printfCmd('%ld %hd %lld\\n', '1', '2', '3'), printfCmd('\\c'), printfCmd('a\\'), printfCmd('%b', 'x\\'),
  printfCmd('%08.3f|%-8.3e|\\n', '-3.14159', '1234.5'), printfCmd('%x\\n', '-1'),
  printfCmd('%.0f %.0f\\n', '0.5', '1.5'), printfCmd('%s %d\\n', 'a', '1', 'b'),
  printfCmd('%5c|%-3c|\\n', 'x', 'y'), printfCmd('%#.3g|%g|%g\\n', '1', '100000', '1000000'),
  printfCmd('%d\\n', '1e3'), printfCmd('%d\\n', '1.5'), printfCmd('%d\\n', '+5', ' -3 '),
  printfCmd('%-6s|%6s|\\n', 'ab', 'cd'), printfCmd('%.2d|%.0d|\\n', '5', '0'), printfCmd('%b|%5b|\\n', 'x\\ny', 'ab'),
  printfCmd('%b|\\n', 'x\\ny\\\\z'), printfCmd('\\"\\\\\\a\\b\\f\\r\\t\\v\\n'), printfCmd('%s', 'no newline'),
  printfCmd('--', '%s\\n', 'dashes'), printfCmd('-%s-\\n', 'x'), printfCmd('%i %o\\n', '0755', '0755'),
  printfCmd('%F %G\\n', '1.5', '0.00001'),
]);

const seqCmd = (...args: string[]): Case => ({ cmd: ['seq', ...args] });
cases('seq, basename, dirname, yes: operands, -w -s, decimals, errors', [
  seqCmd(), seqCmd('3'), seqCmd('2', '5'), seqCmd('5', '2'), seqCmd('1', '2', '9'), seqCmd('10', '-3', '1'),
  seqCmd('0', '0', '1'), seqCmd('-w', '8', '11'), seqCmd('-w', '-3', '2'),
  seqCmd('-s,', '3'), seqCmd('-s', '', '3'), seqCmd('x'), seqCmd('1', '2', '3', '4'), seqCmd('1.5', '3'),
  seqCmd('1', '0.5', '3'), seqCmd('-w', '1', '0.5', '3'),
  seqCmd('0.1', '0.1', '0.5'), seqCmd('-2'), seqCmd('--', '-2', '0'), seqCmd('1e2', '1e2'), seqCmd('2', '1', '1'),
  seqCmd('-s:', '-w', '9', '10'), seqCmd(' 3'),
  seqCmd('3 '), seqCmd('1', '-1'), seqCmd('0x10', '0x12'), seqCmd('1', 'nan'), seqCmd('-5', '-2'),
  seqCmd('-1', '0.25', '0'), seqCmd('--separator=+', '3'), seqCmd('-q'),
  { cmd: ['basename'] }, { cmd: ['basename', 'a', 'b', 'c'] }, { cmd: ['basename', '/'] }, { cmd: ['basename', '//'] },
  { cmd: ['basename', '///a//'] }, { cmd: ['basename', 'a/b/'] }, { cmd: ['basename', 'a'] }, { cmd: ['basename', ''] },
  { cmd: ['basename', 'a/b.txt', '.txt'] }, { cmd: ['basename', 'b.txt', 'b.txt'] },
  { cmd: ['basename', '-a', 'x/y', 'z/w'] },
  { cmd: ['basename', '-s', '.c', 'a.c', 'b.c', 'c'] }, { cmd: ['basename', '-z', 'a/b'] },
  { cmd: ['basename', '--', '-x'] },
  { cmd: ['dirname'] }, { cmd: ['dirname', '/', '//', '///a//', 'a/b/', 'a', '', '/a', '//a', 'a//b', './', '..', 'a/b/c'] },
  { cmd: ['dirname', '-z', 'a/b'] }, { cmd: ['yes', '-x'] }, { cmd: ['yes', '--bogus'] },
]);

cases('find: -name globs, -type, -maxdepth, !, -o, errors (directory order normalised)', [
  { cmd: ['find'], sort: true },
  { cmd: ['find', '.'], sort: true },
  { cmd: ['find', 'sub'], sort: true },
  { cmd: ['find', 'sub/', 'empty'], sort: true },
  { cmd: ['find', '.', '-name', '*.txt'], sort: true },
  { cmd: ['find', '.', '-name', '[ab]*'], sort: true },
  { cmd: ['find', '.', '-name', '?.txt'], sort: true },
  { cmd: ['find', '.', '-iname', 'A*'], sort: true },
  { cmd: ['find', '.', '-type', 'd'], sort: true },
  { cmd: ['find', '.', '-type', 'f'], sort: true },
  { cmd: ['find', '.', '-type', 'l'], sort: true },
  { cmd: ['find', '.', '-type', 'f', '-name', '*.md'], sort: true },
  { cmd: ['find', '.', '-maxdepth', '1', '-type', 'f'], sort: true },
  { cmd: ['find', '.', '-mindepth', '2'], sort: true },
  { cmd: ['find', '.', '!', '-type', 'd', '-name', '*e*'], sort: true },
  { cmd: ['find', '.', '-name', 'file', '-o', '-name', 's.md'], sort: true },
  { cmd: ['find', '.', '(', '-name', '*.md', '-o', '-name', '*.txt', ')', '-type', 'f', '-print'], sort: true },
  { cmd: ['find', 'dirlink'], sort: true },
  { cmd: ['find', 'nonexistent', 'empty'], sort: true },
  { cmd: ['find', '.', '-bogus'] },
  { cmd: ['find', '.', '-name'] },
  { cmd: ['find', '.', '-type', 'q'] },
]);

// du: WASI has no block counts, so the toolbox reports apparent sizes: GNU runs with --apparent-size.
const du = (...args: string[]): Case => ({ cmd: ['du', ...args], gnu: ['du', '--apparent-size', ...args], sort: true });
cases('du: apparent sizes (as du --apparent-size), -s, -h, -a, -b, -c, hard links counted once', [
  du(),
  du('sub'),
  du('-s', '.'),
  du('-s', 'sub', 'empty', 'a.txt'),
  du('-sh', '.'),
  du('-h', 'sub'),
  du('-a', 'sub'),
  du('-b', 'a.txt', 'big.bin'),
  du('-c', 'a.txt', 'b.txt'),
  du('-sh', 'big.bin'),
  du('a.txt', 'hard'),
  du('nonexistent', 'a.txt'),
]);

cases('stat: default format and -c, symlinks, -L, errors (inode, blocks, modes, ctime normalised)', [
  { cmd: ['stat', 'a.txt'] },
  { cmd: ['stat', 'sub', 'link', 'zero', 'dirlink'] },
  { cmd: ['stat', '-L', 'link'] },
  { cmd: ['stat', 'sp ace.txt'] },
  { cmd: ['stat', '-c', '%n %s %F %h %U %G %u %g %Y %y', 'a.txt', 'sub', 'link', 'zero', 'hard'] },
  { cmd: ['stat', '-c', '[%N] [%-8s] [%8s] [%05s]', 'link', 'a.txt'] },
  { cmd: ['stat', '-c', '%n\\t%s %%', 'a.txt'] },
  { cmd: ['stat', 'nonexistent', 'a.txt'] },
  { cmd: ['stat'] },
]);

cases('hexdump: -C canonical and the default format, squeezing, several files', [
  { cmd: ['hexdump', '-C', 'a.txt'] },
  { cmd: ['hexdump', '-C', 'bin.dat'] },
  { cmd: ['hexdump', '-C', 'big.bin'] },
  { cmd: ['hexdump', 'bin.dat'] },
  { cmd: ['hexdump', 'big.bin'] },
  { cmd: ['hexdump', 'b.txt'] },
  { cmd: ['hexdump', 'sp ace.txt'] },
  { cmd: ['hexdump'], input: 'odd' },
  { cmd: ['hexdump', '-C', 'a.txt', 'b.txt'] },
  { cmd: ['hexdump', '-C', 'zero'] },
  { cmd: ['hexdump', '-C'], input: 'from stdin' },
  { cmd: ['hexdump', '-C', 'nonexistent', 'a.txt'] },
  { cmd: ['hexdump', 'nonexistent'] },
]);

cases('date: fixed times in UTC, formats, -d @N, -r FILE, -R, -I', [
  { cmd: ['date', '-d', '@0'] },
  { cmd: ['date', '-u', '-d', '@1680153482'] },
  { cmd: ['date', '-d', '@1680153482', '+%Y-%m-%dT%H:%M:%S %j %a %A %b %B %e %H %I %p %y %Z %z %s %%'] },
  { cmd: ['date', '-d', '@1680153482.25', '+%s.%N'] },
  { cmd: ['date', '-R', '-d', '@86400'] },
  { cmd: ['date', '-I', '-d', '@1680153482'] },
  { cmd: ['date', '-r', 'a.txt'] },
  { cmd: ['date', '-r', 'nonexistent'] },
]);

cases('true, false, env -i, sleep errors', [
  { cmd: ['true'] },
  { cmd: ['false'] },
  { cmd: ['env', '-i', 'A=1', 'B=two words'] },
  { cmd: ['env', '-i'] },
  { cmd: ['sleep', '0'] },
  { cmd: ['sleep', 'x'] },
  { cmd: ['sleep'] },
  { cmd: ['sleep', '0.05', '0.01s'] },
]);

// ---------------------------------------------------------------------------------------------
// Commands that change the tree: messages and statuses in the sandbox (against GNU on a fresh
// copy), and the resulting trees under node:wasi against GNU's.

interface Change {
  cmd: string[];
  input?: string;
  /** Do not compare the resulting trees (the result depends on directory order). */
  noTree?: string;
  /** Compare stdout lines sorted (-v output follows directory order). */
  sort?: boolean;
}

function checkChange(c: Change) {
  const label = c.cmd.join(' ');
  const gnuRoot = hostTree();
  const wasiRoot = hostTree();
  const ref = gnu(c.cmd, path.join(gnuRoot, 'data'), c.input);
  const w = wasiToolbox(c.cmd, wasiRoot, '/data', c.input);
  const sb = box(img, c.cmd, { cwd: '/data', input: c.input });
  const n = (s: string) => (c.sort ? sortLines(s) : s);
  for (const [name, r] of [['sandbox', sb], ['node:wasi', w]] as const) {
    assert.is(n(r.stdout), n(ref.stdout), `${label}: ${name} stdout vs GNU`);
    assert.is(r.stderr, ref.stderr, `${label}: ${name} stderr vs GNU`);
    assert.is(r.status, ref.status, `${label}: ${name} status vs GNU (${r.stderr})`);
  }
  if (!c.noTree) assert.is(snapshot(wasiRoot), snapshot(gnuRoot), `${label}: tree after node:wasi vs GNU`);
}

function changes(name: string, list: Change[]) {
  test(name, () => {
    for (const c of list) checkChange(c);
  });
}

changes('mkdir, -p, -v, and its errors', [
  { cmd: ['mkdir', 'new'] },
  { cmd: ['mkdir', '-v', 'new', 'new2'] },
  { cmd: ['mkdir', '-pv', 'x/y/z', 'sub/deep', 'sub/n'] },
  { cmd: ['mkdir', '-p', 'sub', 'a//b/'] },
  { cmd: ['mkdir', 'sub', 'a.txt', 'nope/x'] },
  { cmd: ['mkdir', '-p', 'a.txt/x'] },
  { cmd: ['mkdir', '-p', 'a.txt'] },
  { cmd: ['mkdir'] },
]);

changes('rmdir and rm (-r, -f), and their errors', [
  { cmd: ['rmdir', 'empty'] },
  { cmd: ['rmdir', 'sub', 'nonexistent', 'a.txt', 'empty'] },
  { cmd: ['rmdir'] },
  { cmd: ['rm', 'a.txt', 'link', 'broken'] },
  { cmd: ['rm', 'sub', 'nonexistent'] },
  { cmd: ['rm', '-f', 'nonexistent', 'zero'] },
  { cmd: ['rm', '-r', 'sub', 'dirlink', 'empty'] },
  { cmd: ['rm', '-rf', 'sub', 'nonexistent'] },
  { cmd: ['rm', '-rv', 'sub'], sort: true },
  { cmd: ['rm', '-r', '.', '..'] },
  { cmd: ['rm'] },
  { cmd: ['rm', '-f'] },
]);

changes('mv: rename, into a directory, and its errors', [
  { cmd: ['mv', 'a.txt', 'renamed'] },
  { cmd: ['mv', '-v', 'a.txt', 'b.txt', 'sub'] },
  { cmd: ['mv', 'sub', 'empty'] },
  { cmd: ['mv', 'zero', 'b.txt'] },
  { cmd: ['mv', 'link', 'sub/deep/'] },
  { cmd: ['mv', 'nonexistent', 'x'] },
  { cmd: ['mv', 'sub', 'sub/deep'] },
  { cmd: ['mv', 'a.txt', 'b.txt', 'zero'] },
  { cmd: ['mv', 'a.txt', 'hard'] },
  { cmd: ['mv', 'a.txt'] },
  { cmd: ['mv', 'sub', 'a.txt'] },
]);

changes('cp: files, -r, into a directory, and its errors', [
  { cmd: ['cp', 'a.txt', 'copy'] },
  { cmd: ['cp', 'a.txt', 'b.txt', 'big.bin', 'empty'] },
  { cmd: ['cp', 'link', 'deref'] },
  { cmd: ['cp', '-r', 'sub', 'copy'] },
  { cmd: ['cp', '-r', 'sub', 'empty'] },
  { cmd: ['cp', '-rv', 'sub', 'copy'], sort: true },
  { cmd: ['cp', '-r', 'dirlink', 'link', 'empty'] },
  { cmd: ['cp', 'sub', 'x'] },
  { cmd: ['cp', 'nonexistent', 'x'] },
  { cmd: ['cp', 'a.txt', 'a.txt'] },
  { cmd: ['cp', 'a.txt', 'hard'] },
  // GNU copies in directory order until it meets its own copy, so what got copied depends on the order
  { cmd: ['cp', '-r', 'sub', 'sub/deep'], noTree: 'directory order' },
  { cmd: ['cp', '-r', 'empty', 'empty'] },
  { cmd: ['cp', 'a.txt', 'b.txt', 'zero'] },
  { cmd: ['cp', 'a.txt', 'sub'] },
  { cmd: ['cp'] },
]);

changes('ln: hard and symbolic links, -f, into a directory, and its errors', [
  { cmd: ['ln', 'a.txt', 'hard2'] },
  { cmd: ['ln', '-s', 'a.txt', 'soft'] },
  { cmd: ['ln', '-s', '../a.txt', 'sub'] },
  { cmd: ['ln', '-sv', 'x', 'y', 'empty'] },
  { cmd: ['ln', '-s', 'a.txt', 'link'] },
  { cmd: ['ln', '-sf', 'b.txt', 'link'] },
  { cmd: ['ln', 'a.txt', 'b.txt'] },
  { cmd: ['ln', '-f', 'a.txt', 'b.txt'] },
  { cmd: ['ln', 'nonexistent', 'x'] },
  { cmd: ['ln', 'sub', 'x'] },
  { cmd: ['ln', '-s', 'a.txt', 'b.txt', 'zero'] },
  { cmd: ['ln'] },
]);

changes('touch: existing files keep their data, new files are created, errors', [
  { cmd: ['touch', 'a.txt', 'new', 'sub'] },
  { cmd: ['touch', '-c', 'nonexistent'] },
  { cmd: ['touch', 'nope/x'] },
  { cmd: ['touch'] },
]);

changes('tee: stdout and files, -a appends, files that cannot be written', [
  { cmd: ['tee', 'new', 'sub/t'], input: 'one\ntwo\n' },
  { cmd: ['tee', '-a', 'a.txt', 'new'], input: 'more\n' },
  { cmd: ['tee', 'b.txt'], input: '' },
  { cmd: ['tee', 'nope/x', 'sub', 'ok'], input: 'x\n' },
  { cmd: ['tee'], input: 'only stdout\n' },
  { cmd: ['sort', '-o', 'a.txt', 'a.txt', 'notes.md'] },
  { cmd: ['uniq', 'a.txt', 'out'] },
]);

// A reader that goes away (head) makes the next write fail with EPIPE: commands that write in a
// loop stop then, with status 1 and no message (GNU's die of SIGPIPE, which WASI does not have).
test('yes and seq stop when their reader goes away (EPIPE), in the sandbox and under node:wasi', async () => {
  for (const [cmd, want] of [
    [['yes'], 'y\ny\n'],
    [['yes', 'a', 'b'], 'a b\na b\n'],
    [['seq', '1000000000000'], '1\n2\n'],
  ] as const) {
    for (const [where, r] of [
      ['sandbox', await boxHead(img, [...cmd], 2)],
      ['node:wasi', await wasiHead([...cmd], hostRoot, 2)],
    ] as const) {
      assert.is(r.status, 1, `${cmd.join(' ')} (${where}): stopped with status 1 (${r.stderr})`);
      assert.is(r.stderr, '', `${cmd.join(' ')} (${where}): no message`);
      assert.is(r.head, want, `${cmd.join(' ')} (${where})`);
    }
  }
});

test('touch sets the modification time to now', () => {
  const root = hostTree();
  const before = Date.now() / 1000;
  const w = wasiToolbox(['touch', 'a.txt', 'fresh'], root, '/data');
  assert.is(w.status, 0, w.stderr);
  for (const f of ['a.txt', 'fresh']) {
    const m = fs.statSync(path.join(root, 'data', f)).mtimeMs / 1000;
    assert.ok(m >= before - 2, `${f}: mtime ${m} is not recent`);
  }
  const r = box(img, ['touch', 'a.txt']);
  assert.is(r.status, 0, r.stderr);
});

// ---------------------------------------------------------------------------------------------
// What cannot be compared with GNU as it stands

test('pwd: the working directory from PWD; physical by default, -L keeps a symlink', () => {
  let r = box(img, ['pwd'], { cwd: '/data/sub/deep' });
  assert.equal(r, { stdout: '/data/sub/deep\n', stderr: '', status: 0 });
  r = box(img, ['pwd']);
  assert.equal(r, { stdout: '/\n', stderr: '', status: 0 });
  r = box(img, ['pwd'], { cwd: '/data/dirlink' });
  assert.equal(r, { stdout: '/data/sub\n', stderr: '', status: 0 });
  r = box(img, ['pwd', '-L'], { cwd: '/data/dirlink' });
  assert.equal(r, { stdout: '/data/dirlink\n', stderr: '', status: 0 });
  r = box(img, ['pwd', '-P'], { cwd: '/data/dirlink/deep' });
  assert.equal(r, { stdout: '/data/sub/deep\n', stderr: '', status: 0 });
  // relative paths are resolved from PWD too
  r = box(img, ['cat', 'file'], { cwd: '/data/sub/deep' });
  assert.equal(r, { stdout: 'deep\n', stderr: '', status: 0 });
  r = box(img, ['ls', '../..'], { cwd: '/data/sub/deep' });
  assert.is(r.stdout, gnu(['ls'], hostData).stdout);
});

test('env: the image environment plus PWD; NAME=VALUE adds; a command runs as a child (wasmbox.spawn)', () => {
  let r = box(img, ['env'], { cwd: '/data' });
  assert.is(r.status, 0, r.stderr);
  assert.equal(r.stdout.split('\n').filter(Boolean).sort(), ['HOME=/home/user', 'PATH=/bin', 'PWD=/data']);
  r = box(img, ['env', 'X=1'], { env: ['Y=2'] });
  assert.equal(r.stdout.split('\n').filter(Boolean).sort(), ['HOME=/home/user', 'PATH=/bin', 'X=1', 'Y=2']);
  r = box(img, ['env', '-i', 'A=1', 'env']);
  assert.equal(r, { stdout: 'A=1\nPWD=/\n', stderr: '', status: 0 }, 'the host gives a child PWD');
  assert.equal(box(img, ['env', 'cat', '/etc/hostname']), { stdout: 'wasmbox\n', stderr: '', status: 0 });
  assert.is(box(img, ['env', 'false']).status, 1);
  assert.equal(box(img, ['env', 'nope']), gnu(['env', 'nope'], hostData));
  // under another WASI host there is no spawn: exit 126
  r = wasiToolbox(['env', 'ls'], hostRoot, '/data');
  assert.equal(r, { stdout: '', stderr: "env: 'ls': cannot run commands here (WASI has no exec; run it from sh)\n", status: 126 });
});

test('sleep waits; date prints the current time in GNU date format (UTC)', () => {
  const t0 = Date.now();
  let r = box(img, ['sleep', '0.3']);
  assert.is(r.status, 0, r.stderr);
  assert.ok(Date.now() - t0 >= 300, 'sleep 0.3 returned early');
  r = box(img, ['date']);
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun) [A-Z][a-z]{2} [ 1-3]\d \d\d:\d\d:\d\d UTC \d{4}\n$/);
  r = box(img, ['date', '+%s']);
  assert.ok(Math.abs(Number(r.stdout) - Date.now() / 1000) < 60, r.stdout);
  // only @SECONDS dates: documented difference
  r = box(img, ['date', '-d', 'yesterday']);
  assert.equal(r, { stdout: '', stderr: "date: invalid date 'yesterday'\n", status: 1 });
});

test('df: the overlay size is the filestore limit, its use the upper layer pages; GNU columns', () => {
  const flags = ['--overlay2', 'root:memory,size=64m'];
  const r = box(img, ['df'], { flags });
  assert.equal(r, {
    stdout: 'Filesystem     1K-blocks  Used Available Use% Mounted on\noverlay            65536     0     65536   0% /\n',
    stderr: '',
    status: 0,
  });
  const ref = gnu(['df', '.'], hostData);
  assert.equal(r.stdout.split('\n')[0].split(/\s+/), ref.stdout.split('\n')[0].split(/\s+/));
  // 16 MiB (from /dev/zero) and 4 KiB written into the upper layer show as used
  const w = box(img, ['sh', '-c', 'head -c 16777216 /dev/zero > /tmp/z 2>/dev/null; cp /etc/motd /tmp/m && df -h /etc'], { flags });
  assert.match(w.stdout, /^Filesystem      Size  Used Avail Use% Mounted on\noverlay          64M   17M   48M  26% \/\n$/);
  const h = box(img, ['df', '-h', '/etc'], { flags });
  assert.is(h.stdout, 'Filesystem      Size  Used Avail Use% Mounted on\noverlay          64M     0   64M   0% /\n');
  assert.equal(h.stdout.split('\n')[0].split(/\s+/), gnu(['df', '-h', '.'], hostData).stdout.split('\n')[0].split(/\s+/));
  const e = box(img, ['df', 'nonexistent']);
  assert.equal(e, { stdout: '', stderr: 'df: nonexistent: No such file or directory\n', status: 1 });
  // issue 18: df FILE reports the file system holding FILE: a bind mount shows the host file
  // system's figures (as GNU df of the host directory, but for the device name), a tmpfs its own
  const host = tempDir('df-host');
  fs.mkdirSync(path.join(host, 'sub'));
  const b = box(img, ['sh', '-c', 'df /h/sub /t; cd /h && df .'], { flags: [...flags, '-v', `${host}:/h`, '--tmpfs', '/t:size=8m'] });
  assert.is(b.status, 0, b.stderr);
  const lines = b.stdout.trimEnd().split('\n');
  const hostLine = gnu(['df', host], '/').stdout.trimEnd().split('\n')[1].split(/\s+/);
  for (const l of [lines[1], lines[4]]) {
    const f = l.split(/\s+/);
    assert.equal([f[0], f[5]], ['host', '/h'], l);
    assert.is(f[1], hostLine[1], `size in 1K blocks, as GNU df: ${l} / ${hostLine.join(' ')}`);
    // used and available move with the host's other writers: within 1%
    assert.ok(Math.abs(Number(f[3]) - Number(hostLine[3])) <= Number(hostLine[1]) / 100, `available: ${l} / ${hostLine.join(' ')}`);
  }
  assert.is(lines[2], 'tmpfs               8192     0      8192   0% /t');
  // under another WASI host there is nothing to report: sizes 0, Use% "-"
  const wr = wasiToolbox(['df'], hostRoot, '/data');
  assert.is(wr.stdout, 'Filesystem     1K-blocks  Used Available Use% Mounted on\noverlay                0     0         0    - /\n');
});

// issue 18: --hostname reaches `uname -n`; the other fields name WASI, not the host's kernel
test('uname: WASI, the host name from $HOSTNAME or /etc/hostname, GNU option handling', () => {
  assert.equal(box(img, ['uname']), { stdout: 'WASI\n', stderr: '', status: 0 });
  assert.is(box(img, ['uname', '-a'], { flags: ['--hostname', 'web-1'] }).stdout, 'WASI web-1 preview1 wasmbox wasm32 WASI\n');
  assert.is(box(img, ['uname', '-n', '-m']).stdout, 'wasmbox wasm32\n', "the image's /etc/hostname");
  const extra = box(img, ['uname', 'x']);
  const ref = gnu(['uname', 'x'], hostData);
  assert.equal([extra.stderr, extra.status], [ref.stderr, ref.status]);
});

test('layers names the layer that serves each file, as files are created, copied up and changed', () => {
  const r = box(img, ['sh', '-c', 'layers /etc/motd /etc /bin; echo x >> /etc/motd; touch /etc/hostname; mkdir /new; cp /etc/motd /new/f; layers /etc/motd /etc/hostname /etc /new/f; layers /nope']);
  assert.is(
    r.stdout,
    [
      '/etc/motd: image layer 0',
      '/etc: image layer 0',
      '/bin: image layer 0',
      '/etc/motd: upper (copied up from image layer 0)',
      '/etc/hostname: image layer 0 (metadata changed in the upper layer)',
      '/etc: merged (image layer 0, changed in the upper layer)',
      '/new/f: upper (created in the sandbox)',
      '',
    ].join('\n'),
  );
  assert.is(r.stderr, "layers: '/nope': No such file or directory\n");
  assert.is(box(img, ['layers']).status, 1);
  // under another WASI host: no layers, exit 2
  const w = wasiToolbox(['layers', '/etc'], hostRoot, '/data');
  assert.equal(w, { stdout: '', stderr: 'layers: this system has no layers (not running in the wasmbox sandbox)\n', status: 2 });
});

test('ls -l and stat show the permission bits the image gives (the wasmbox host reports them)', () => {
  for (const cmd of [['ls', '-l', '/etc'], ['ls', '-la', '/data'], ['stat', '-c', '%A %a %u %g %n', '/etc/motd', '/bin', '/data']]) {
    const sb = box(img, cmd);
    const ref = gnu(cmd.map((a) => (a.startsWith('/') ? path.join(hostRoot, a) : a)), hostRoot);
    // '..' of /data is the root, whose links and time come from the /dev the runtime makes there
    const strip = (s: string) => normTotal(s).split(hostRoot).join('').replace(/^.* \.\.\n/m, '');
    assert.is(strip(sb.stdout), strip(ref.stdout), cmd.join(' '));
  }
});

test('dispatch: links, `toolbox NAME`, --list, unknown names', () => {
  let r = box(img, ['/bin/toolbox', 'cat', '/etc/hostname']);
  assert.equal(r, { stdout: 'wasmbox\n', stderr: '', status: 0 });
  r = box(img, ['cat', '/etc/hostname']); // through PATH, /bin/cat -> toolbox
  assert.equal(r, { stdout: 'wasmbox\n', stderr: '', status: 0 });
  r = box(img, ['/bin/toolbox', '--list']);
  assert.is(r.status, 0);
  assert.is(r.stdout.split('\n')[1], `Commands: ${APPLETS.join(' ')}`);
  r = box(img, ['/bin/toolbox']);
  assert.is(r.status, 1);
  assert.match(r.stderr, /^Usage: toolbox COMMAND/);
  r = box(img, ['/bin/toolbox', 'nope']);
  assert.is(r.status, 127);
  assert.match(r.stderr, /^toolbox: nope: no such command\n/);
  r = box(img, ['ls', '--help']);
  assert.equal(r, { stdout: 'Usage: ls [-laAdR1] [FILE]...\n', stderr: '', status: 0 });
});

test('every applet is linked in /bin', () => {
  const r = box(img, ['ls', '-l', '/bin']);
  assert.is(r.status, 0, r.stderr);
  for (const a of APPLETS) assert.ok(r.stdout.includes(` ${a} -> toolbox\n`), `${a} missing:\n${r.stdout}`);
});

test.run();
