// `--replicas N` (host/sandbox/replicas.ts): N sandboxes of one image in one process, sharing the opened
// image but nothing they write; prefixed output, a summary, the exit status rule, bad usage, and
// no files left behind, also when stopped by a signal.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ROOT, RUN_JS, runSandbox } from '../lib/sandbox';

const IMAGE = path.join(ROOT, 'dist', 'images', 'default.tar');
// (only replicas' own directories: other test files running at the same time make wasmbox-upper-*)
const strays = () => fs.readdirSync(os.tmpdir()).filter((n) => /^wasmbox-replicas-/.test(n));

/** stdout lines grouped by the sandbox number in their "I| " prefix. */
function bySandbox(stdout: string): Map<number, string[]> {
  const out = new Map<number, string[]>();
  for (const line of stdout.split('\n').filter(Boolean)) {
    const m = /^(\d+)\| (.*)$/.exec(line);
    assert.ok(m, `unprefixed line: ${line}`);
    const list = out.get(Number(m[1])) ?? [];
    list.push(m[2]);
    out.set(Number(m[1]), list);
  }
  return out;
}

for (const overlay of ['root:self', 'root:memory']) {
  test(`${overlay}: every sandbox starts from the image and sees only what it wrote itself`, () => {
    const before = strays();
    const script = 'echo start; ls /tmp; echo $$ > /tmp/mine; mkdir /tmp/d; ls /tmp; cat /tmp/mine; rm /etc/motd; ls /etc';
    const r = runSandbox(['--overlay2', overlay, '--replicas', '6', '--threads', '3', IMAGE, '/bin/sh', '-c', script]);
    assert.is(r.status, 0, r.stderr);
    const groups = bySandbox(r.stdout);
    assert.equal([...groups.keys()].sort(), [0, 1, 2, 3, 4, 5]);
    for (const [i, lines] of groups) {
      // ls of an empty /tmp prints nothing: start, then the two new names, the pid, then /etc without motd
      assert.is(lines[0], 'start', `sandbox ${i}`);
      assert.equal(lines.slice(1, 3), ['d', 'mine'], `sandbox ${i}: ${lines.join(' / ')}`);
      assert.match(lines[3], /^\d+$/);
      assert.equal(lines.slice(4), ['group', 'hostname', 'os-release', 'passwd'], `sandbox ${i}`);
    }
    assert.match(r.stderr, /^wasmbox: 6 sandboxes on 3 threads in [\d.]+ s \([\d.]+\/s\): 6 exited 0\n$/);
    assert.equal(strays(), before);
  });
}

test('the exit status is 0 only if every sandbox exited 0; the summary counts each status', () => {
  const r = runSandbox(['--replicas', '3', IMAGE, '/bin/sh', '-c', 'exit 3']);
  assert.is(r.status, 3);
  assert.match(r.stderr, /3 exited 3\n$/);
  const ok = runSandbox(['--replicas', '1', IMAGE, '/bin/sh', '-c', 'echo one']);
  assert.is(ok.status, 0, ok.stderr);
  assert.is(ok.stdout, 'one\n', 'one sandbox: no prefix');
});

test('a sandbox that fails to start reports its own error line, prefixed, and the others still run', () => {
  const r = runSandbox(['--replicas', '2', IMAGE, '/bin/nonesuch']);
  assert.is(r.status, 127);
  const lines = r.stderr.trimEnd().split('\n');
  assert.is(lines.filter((l) => /^\d\| wasmbox: .*nonesuch/.test(l)).length, 2, r.stderr);
  assert.match(lines[lines.length - 1], /2 exited 127$/);
});

test('bad usage: one line and 125', () => {
  for (const [args, re] of [
    [['--replicas', '0', IMAGE], /--replicas: "0" is not a whole number/],
    [['--replicas', 'x', IMAGE], /--replicas: "x"/],
    [['--threads', '2', IMAGE], /--threads: only with --replicas/],
    [['--replicas', '2', '--overlay2', 'none', IMAGE], /--replicas needs an overlay/],
    [['--replicas', '2', '--export-upper', '/tmp/x.tar', IMAGE], /--export-upper: not with --replicas/],
    [['--replicas', '2', '/nonexistent.tar'], /image not found: \/nonexistent\.tar/],
    [['--replicas', '2', '--per-thread', '0', IMAGE], /--per-thread: "0" is not a whole number/],
    [['--per-thread', '2', IMAGE], /--per-thread: only with --replicas/],
  ] as const) {
    const r = runSandbox([...args]);
    assert.is(r.status, 125, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr.split('\n')[0], re);
    assert.not.match(r.stderr, /\n\s+at /);
  }
});

test('--per-thread: sandboxes that sleep share one thread, each still sees only its own files', () => {
  const before = strays();
  // each sleeps 0.6 s in a child process (sleep, spawned by sh): one after another that is 3.6 s
  const script = 'ls /tmp; echo $$ > /tmp/mine; sleep 0.6; ls /tmp; cat /tmp/mine; sleep 0.1; exit 4';
  const t0 = Date.now();
  const r = runSandbox(['--replicas', '6', '--threads', '1', '--per-thread', '6', IMAGE, '/bin/sh', '-c', script]);
  const wall = (Date.now() - t0) / 1000;
  assert.is(r.status, 4, r.stderr);
  assert.match(r.stderr, /^wasmbox: 6 sandboxes on 1 threads in [\d.]+ s \([\d.]+\/s\): 6 exited 4\n$/);
  assert.ok(wall < 3, `6 sleeps of 0.6 s overlapped on one thread: ${wall} s`);
  const groups = bySandbox(r.stdout);
  assert.equal([...groups.keys()].sort(), [0, 1, 2, 3, 4, 5]);
  for (const [i, lines] of groups) {
    assert.is(lines.length, 2, `sandbox ${i}: ${lines.join(' / ')}`);
    assert.is(lines[0], 'mine', `sandbox ${i}`);
    assert.match(lines[1], /^\d+$/);
  }
  assert.equal(strays(), before);
});

test('--per-thread: a child that traps while others sleep ends only itself; the report is prefixed', () => {
  const guests = path.join(ROOT, 'dist', 'guests');
  const script = 'sleep 0.2; /g/trap.wasm unreachable; echo "child said $?"; exit 5';
  const r = runSandbox(['--replicas', '3', '--threads', '1', '--per-thread', '3', '-v', `${guests}:/g:ro`, IMAGE, '/bin/sh', '-c', script]);
  assert.is(r.status, 5, r.stderr);
  for (const [i, lines] of bySandbox(r.stdout)) assert.equal(lines, ['trap: unreachable', 'child said 134'], `sandbox ${i}`);
  const reports = r.stderr.split('\n').filter((l) => /guest trapped: unreachable/.test(l));
  assert.equal(reports.map((l) => l.slice(0, 3)).sort(), ['0| ', '1| ', '2| '], r.stderr);
  assert.match(r.stderr, /3 exited 5\n$/);
});

test('--per-thread with --timeout: a sleeping sandbox is stopped at the deadline, 124, with its own line', () => {
  const before = strays();
  const t0 = Date.now();
  const r = runSandbox(['--replicas', '3', '--threads', '1', '--per-thread', '3', '--timeout', '1', IMAGE, '/bin/sh', '-c', 'echo up; sleep 30; echo never']);
  assert.ok(Date.now() - t0 < 15_000, 'stopped at the deadline, not after the sleep');
  assert.is(r.status, 124, r.stderr);
  for (const [i, lines] of bySandbox(r.stdout)) assert.equal(lines, ['up'], `sandbox ${i}`);
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.filter((l) => / wasmbox: timed out after 1s \(--timeout\); the sandbox was stopped$/.test(l)).map((l) => l.slice(0, 3)).sort(), ['0| ', '1| ', '2| '], r.stderr);
  assert.match(lines[lines.length - 1], /3 exited 124$/);
  assert.equal(strays(), before);
});

test('--per-thread with --timeout: a sandbox busy with calls (no sleep) is stopped at its next calls', () => {
  const busy = Array.from({ length: 1000 }, () => 'ls -l /etc > /tmp/o').join('; ');
  const r = runSandbox(['--replicas', '1', '--per-thread', '2', '--timeout', '0.3', IMAGE, '/bin/sh', '-c', `${busy}; echo done`]);
  assert.is(r.status, 124, r.stderr);
  assert.not.match(r.stdout, /done/);
  assert.match(r.stderr, /timed out after 0\.3s/);
});

test('--per-thread where the restarted Node still has no JSPI: one line and 125, no loop', () => {
  // WASMBOX_JSPI_RESTART marks the restarted process; a Node that has no JSPI even with the flag stops there
  const r = runSandbox(['--replicas', '2', '--per-thread', '2', IMAGE, '/bin/true'], { env: { WASMBOX_JSPI_RESTART: '1' } });
  assert.is(r.status, 125, r.stderr);
  assert.match(r.stderr, /^wasmbox: --per-thread above 1 needs WebAssembly JSPI .*\n$/);
});

test('--per-thread: SIGTERM reaches the sandboxes (Node started again with JSPI): 143, nothing left', async () => {
  const before = strays();
  const child = spawn(process.execPath, [RUN_JS, '--replicas', '4', '--per-thread', '2', IMAGE, '/bin/sh', '-c', 'echo up; sleep 30'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const end = Date.now() + 20_000;
  while ((out.match(/up/g) ?? []).length < 4 && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
  assert.is((out.match(/up/g) ?? []).length, 4, out);
  child.kill('SIGTERM');
  assert.is(await exit, 143);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(strays(), before);
});

test('SIGTERM while sandboxes run: 143, and no temporary files are left', async () => {
  const before = strays();
  const child = spawn(process.execPath, [RUN_JS, '--replicas', '4', IMAGE, '/bin/sh', '-c', 'echo up; sleep 30'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const end = Date.now() + 20_000;
  while (!/up/.test(out) && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
  assert.match(out, /up/);
  child.kill('SIGTERM');
  assert.is(await exit, 143);
  assert.equal(strays(), before);
});

test.run();
