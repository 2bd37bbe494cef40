// native (the N-API addon): its terminal, descriptor-passing and signal functions, checked
// with real processes. openpty gives a working pair; sendFd / listenFdSocket / acceptFd / recvFd
// carry a descriptor between processes as runc's console socket does; setControllingTerminal makes
// ^C on the master a SIGINT for the child; watchSignals counts signals while JavaScript never
// yields and still lets Node see them; armWatchdog ends a process that never yields with the
// signal, after its grace period, removing the files it was given. Children are plain Node
// processes that load the addon by its file; every one is killed in a finally.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tty from 'node:tty';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadNative, type NativeAddon } from '../../native/index';

const loaded = loadNative();
const n = loaded.addon as Required<NativeAddon>;
const API = ['openpty', 'sendFd', 'listenFdSocket', 'acceptFd', 'recvFd', 'setControllingTerminal', 'dup2', 'setWinsize', 'getWinsize', 'watchSignals', 'armWatchdog', 'disarmWatchdog'];
const missing = n ? API.filter((k) => typeof (n as any)[k] !== 'function') : API;
const why = !n ? `the addon is not loaded (${loaded.reason})` : missing.length ? `${loaded.file} lacks ${missing.join(', ')}; rebuild it (node native/build.js)` : '';
if (why) console.log(`SKIP native-tty: ${why}`);
const ntest = why ? test.skip : test;

const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'wasmbox-tty-'));
let serial = 0;
const tempPath = (name: string) => path.join(tmpRoot, `${++serial}-${name}`);
const children = new Set<Child>();
test.after(() => {
  for (const c of children) c.kill();
  fs.rmSync(tmpRoot, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const O_CLOEXEC = 0o2000000;
const fdFlags = (fd: number) => parseInt(/^flags:\s+(\d+)/m.exec(fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))![1], 8);
/** Linux's dev_t as glibc and /proc/PID/stat's tty_nr encode it. */
const devMajor = (d: number) => Number((BigInt(d) >> 8n) & 0xfffn) | Number((BigInt(d) >> 32n) & ~0xfffn);
const devMinor = (d: number) => Number(BigInt(d) & 0xffn) | Number((BigInt(d) >> 12n) & ~0xffn);

/** Throws an Error (or cls) with .code `code`; `what` names the case in a failure. */
function throwsCode(fn: () => unknown, code: string, cls: Function = Error, what = '') {
  const pre = what ? `${what}: ` : '';
  try {
    fn();
  } catch (e: any) {
    assert.instance(e, cls, `${pre}${e?.constructor?.name}: ${e?.message}`);
    assert.is(e.code, code, `${pre}${e.message}`);
    return e;
  }
  assert.unreachable(`${pre}expected a ${code} error`);
}

type Exit = { code: number | null; signal: NodeJS.Signals | null; at: number };

/** A Node child running `code` with `n` (the addon), `fs`, `say(line)` and `spin(ms)` in scope. */
class Child {
  readonly cp: ChildProcess;
  out = '';
  exit: Exit | null = null;
  readonly closed: Promise<Exit>;
  constructor(code: string, opts: { detached?: boolean; fds?: number[] } = {}) {
    const prelude = [
      `const m = { exports: {} }; process.dlopen(m, ${JSON.stringify(loaded.file)}); const n = m.exports;`,
      `const fs = require('node:fs');`,
      `const say = (s) => fs.writeSync(1, s + '\\n');`,
      `const spin = (ms) => { const t = Date.now(); while (Date.now() - t < ms); };`,
      `const nap = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);`,
    ].join('\n');
    this.cp = spawn(process.execPath, ['-e', `${prelude}\n${code}`], {
      stdio: ['ignore', 'pipe', 'pipe', ...(opts.fds ?? [])],
      detached: opts.detached ?? false,
    });
    children.add(this);
    this.cp.stdout!.on('data', (d) => (this.out += d));
    this.cp.stderr!.on('data', (d) => (this.out += d));
    this.closed = new Promise((resolve) => this.cp.on('close', (code, signal) => resolve((this.exit = { code, signal, at: Date.now() }))));
  }
  /** Waits for output matching re (rejecting after ms, or once the child is gone without it). */
  async waitFor(re: RegExp, ms = 5000): Promise<RegExpExecArray> {
    const until = Date.now() + ms;
    for (;;) {
      const m = re.exec(this.out);
      if (m) return m;
      if (this.exit || Date.now() > until) {
        const state = this.exit ? `exited ${this.exit.code ?? this.exit.signal}` : `still running after ${ms} ms`;
        throw new Error(`child ${state} without printing ${re}; its output:\n${this.out}`);
      }
      await sleep(10);
    }
  }
  /** Waits for the exit, at most ms. */
  async exited(ms = 5000): Promise<Exit> {
    const r = await Promise.race([this.closed, sleep(ms).then(() => null)]);
    if (!r) throw new Error(`child still running after ${ms} ms; its output:\n${this.out}`);
    return r;
  }
  signal(sig: NodeJS.Signals) {
    if (!this.exit) this.cp.kill(sig);
  }
  kill() {
    if (this.cp.exitCode === null && this.cp.signalCode === null) this.cp.kill('SIGKILL');
    children.delete(this);
  }
}

/** Collects what a (blocking) pty master fd yields, through libuv's poll: never blocks the test. Owns the fd. */
function masterReader(fd: number) {
  const s = new tty.ReadStream(fd);
  let text = '';
  s.on('data', (d: Buffer) => (text += d.toString('latin1')));
  s.on('error', () => {}); // EIO once every slave is closed
  return {
    get text() {
      return text;
    },
    async until(sub: string, ms = 3000) {
      const end = Date.now() + ms;
      while (!text.includes(sub)) {
        if (Date.now() > end) assert.unreachable(`the master did not yield ${JSON.stringify(sub)}; got ${JSON.stringify(text)}`);
        await sleep(5);
      }
      return text;
    },
    close: () => s.destroy(), // closes fd
  };
}

/** Reads a non-blocking fd until `sub` has arrived (at most ms); returns all that was read. */
async function readUntil(fd: number, sub: string, ms = 3000) {
  const buf = Buffer.alloc(4096);
  const end = Date.now() + ms;
  let got = '';
  for (;;) {
    try {
      got += buf.toString('latin1', 0, fs.readSync(fd, buf, 0, buf.length, null));
    } catch (e: any) {
      if (e.code !== 'EAGAIN') throw e;
    }
    if (got.includes(sub)) return got;
    if (Date.now() > end) assert.unreachable(`did not read ${JSON.stringify(sub)}; got ${JSON.stringify(got)}`);
    await sleep(5);
  }
}

const openSlaveNonblocking = (p: string) => fs.openSync(p, fs.constants.O_RDWR | fs.constants.O_NOCTTY | fs.constants.O_NONBLOCK);

// ---------------------------------------------------------------------------------------------

test('the addon has the terminal and signal API (or the file says why it is skipped)', () => {
  if (why) return;
  for (const k of API) assert.type((n as any)[k], 'function', k);
});

ntest('openpty: /dev/pts/N is the slave (stat = fstat), both ends close-on-exec; a line reaches the slave only after its newline, echoed on the master', async () => {
  const p = n.openpty();
  assert.match(p.path, /^\/dev\/pts\/\d+$/);
  const st = fs.statSync(p.path);
  const fst = fs.fstatSync(p.slave);
  assert.is(st.rdev, fst.rdev);
  assert.is(st.ino, fst.ino);
  assert.is(devMajor(fst.rdev), 136); // UNIX98_PTY_SLAVE_MAJOR
  assert.ok(fdFlags(p.master) & O_CLOEXEC, 'master O_CLOEXEC');
  assert.ok(fdFlags(p.slave) & O_CLOEXEC, 'slave O_CLOEXEC');
  const master = masterReader(p.master);
  const slave = openSlaveNonblocking(p.path);
  try {
    fs.writeSync(p.master, 'hello');
    await master.until('hello'); // echoed at once: the line discipline has the bytes now
    throwsCode(() => fs.readSync(slave, Buffer.alloc(64)), 'EAGAIN'); // canonical mode: no line yet
    fs.writeSync(p.master, '\n');
    assert.is(await readUntil(slave, '\n'), 'hello\n');
    assert.is(await master.until('hello\r\n'), 'hello\r\n'); // ONLCR on the echo
  } finally {
    master.close();
    fs.closeSync(slave);
    fs.closeSync(p.slave);
  }
});

ntest('winsize: setWinsize on the master is what getWinsize reads on both ends; bad sizes and non-terminals throw', () => {
  const p = n.openpty();
  try {
    for (const [rows, cols] of [
      [24, 80],
      [0, 0],
      [65535, 1],
    ]) {
      n.setWinsize(p.master, rows, cols);
      assert.equal(n.getWinsize(p.master), { rows, cols });
      assert.equal(n.getWinsize(p.slave), { rows, cols });
    }
    throwsCode(() => n.setWinsize(p.master, 65536, 80), 'EINVAL', RangeError);
    throwsCode(() => n.setWinsize(p.master, 24, -1), 'EINVAL', RangeError);
    const file = tempPath('plain');
    const fd = fs.openSync(file, 'w');
    try {
      throwsCode(() => n.getWinsize(fd), 'ENOTTY');
      throwsCode(() => n.setWinsize(fd, 1, 1), 'ENOTTY');
    } finally {
      fs.closeSync(fd);
    }
  } finally {
    fs.closeSync(p.master);
    fs.closeSync(p.slave);
  }
});

ntest('dup2: newfd then refers to the same file, without close-on-exec; a closed oldfd is EBADF', () => {
  const file = tempPath('dup');
  const fd = fs.openSync(file, 'w');
  const newfd = 900;
  try {
    n.dup2(fd, newfd);
    assert.is(fs.readlinkSync(`/proc/self/fd/${newfd}`), file);
    assert.is(fdFlags(newfd) & O_CLOEXEC, 0);
    n.close(newfd);
    throwsCode(() => n.dup2(newfd, newfd + 1), 'EBADF');
  } finally {
    fs.closeSync(fd);
  }
});

// sendFd in a child, the descriptor received here: each kind of descriptor is written through on
// this side and read at its other end.
const sendCases: { name: string; setup(): { child: string; check(r: { fd: number; name: string }): Promise<void>; cleanup(): void } }[] = [
  {
    name: 'a pty master (named by its slave path, as runc does)',
    setup: () => ({
      child: `const p = n.openpty(); n.sendFd(SOCK, p.master, p.path); say('sent ' + p.path);`,
      async check(r) {
        assert.match(r.name, /^\/dev\/pts\/\d+$/);
        const slave = openSlaveNonblocking(r.name);
        try {
          fs.writeSync(r.fd, 'ping\n');
          assert.is(await readUntil(slave, '\n'), 'ping\n');
        } finally {
          fs.closeSync(slave);
        }
      },
      cleanup() {},
    }),
  },
  {
    name: "a pipe's write end (a FIFO the child opened)",
    setup() {
      const fifo = tempPath('fifo');
      execFileSync('mkfifo', [fifo]);
      const rd = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
      return {
        child: `const w = fs.openSync(${JSON.stringify(fifo)}, 'w'); n.sendFd(SOCK, w, 'fifo-writer'); say('sent');`,
        async check(r) {
          assert.is(r.name, 'fifo-writer');
          fs.writeSync(r.fd, 'through the pipe');
          assert.is(await readUntil(rd, 'pipe'), 'through the pipe');
        },
        cleanup: () => fs.closeSync(rd),
      };
    },
  },
];

for (const c of sendCases) {
  ntest(`sendFd -> listenFdSocket/acceptFd: ${c.name} sent by a child arrives close-on-exec and works`, async () => {
    const sock = tempPath('console.sock');
    const setup = c.setup();
    const listener = n.listenFdSocket(sock);
    const child = new Child(`const SOCK = ${JSON.stringify(sock)};\n${setup.child}`);
    let fd = -1;
    try {
      const r = n.acceptFd(listener, 5000);
      fd = r.fd;
      assert.ok(fdFlags(fd) & O_CLOEXEC, 'received fd O_CLOEXEC');
      await setup.check(r);
      await child.waitFor(/^sent/m);
      assert.is((await child.exited()).code, 0, child.out);
      assert.ok(fs.existsSync(sock), 'acceptFd leaves the socket file alone');
    } finally {
      child.kill();
      if (fd >= 0) fs.closeSync(fd);
      n.close(listener);
      setup.cleanup();
    }
  });
}

ntest('recvFd: waits for a sender that connects later, returns its fd and name, closes the listener and removes the socket file', async () => {
  const sock = tempPath('recv.sock');
  const p = n.openpty();
  // the child waits for the socket to appear, then sends its fd 3 (the pty's slave)
  const child = new Child(`const SOCK = ${JSON.stringify(sock)}; while (!fs.existsSync(SOCK)) nap(5); n.sendFd(SOCK, 3, 'the slave'); say('sent');`, { fds: [p.slave] });
  let fd = -1;
  try {
    const r = n.recvFd(sock, 5000);
    fd = r.fd;
    assert.is(r.name, 'the slave');
    assert.not.ok(fs.existsSync(sock), 'socket file removed');
    assert.is(fs.fstatSync(fd).rdev, fs.fstatSync(p.slave).rdev);
    assert.ok(fdFlags(fd) & O_CLOEXEC);
    assert.is((await child.exited()).code, 0, child.out);
  } finally {
    child.kill();
    if (fd >= 0) fs.closeSync(fd);
    fs.closeSync(p.master);
    fs.closeSync(p.slave);
  }
});

ntest('descriptor passing: each failure is its errno (too long a path before any syscall, no listener, timeout, socket exists, bad fd)', () => {
  const long = path.join(tmpRoot, 'x'.repeat(120)); // sun_path holds 107 bytes and a NUL
  const stale = tempPath('stale.sock');
  n.close(n.listenFdSocket(stale)); // a socket file with nobody listening
  const live = tempPath('live.sock');
  const listener = n.listenFdSocket(live);
  const existing = tempPath('existing');
  fs.writeFileSync(existing, 'not a socket');
  const p = n.openpty();
  try {
    const cases: [string, () => unknown, string, Function?][] = [
      ['sendFd to a path longer than sun_path', () => n.sendFd(long, p.master, 'x'), 'ENAMETOOLONG'],
      ['listenFdSocket at a path longer than sun_path', () => n.listenFdSocket(long), 'ENAMETOOLONG'],
      ['recvFd at a path longer than sun_path', () => n.recvFd(long, 10), 'ENAMETOOLONG'],
      ['sendFd where no socket exists', () => n.sendFd(tempPath('none.sock'), p.master, 'x'), 'ENOENT'],
      ['sendFd to a socket nobody listens on', () => n.sendFd(stale, p.master, 'x'), 'ECONNREFUSED'],
      ['acceptFd with no sender', () => n.acceptFd(listener, 30), 'ETIMEDOUT'],
      ['recvFd where a file exists', () => n.recvFd(existing, 10), 'EADDRINUSE'],
      ['sendFd of a closed fd', () => n.sendFd(live, 987, 'x'), 'EBADF'],
      ['sendFd with an empty name', () => n.sendFd(live, p.master, ''), 'EINVAL', RangeError],
      ['sendFd with a name over 4096 bytes', () => n.sendFd(live, p.master, 'x'.repeat(4097)), 'EINVAL', RangeError],
      ['acceptFd with a bad timeout', () => n.acceptFd(listener, -2), 'EINVAL', RangeError],
    ];
    for (const [what, fn, code, cls] of cases) throwsCode(fn, code, cls, what);
    assert.is(fs.readFileSync(existing, 'utf8'), 'not a socket', 'recvFd never removes a file it did not make');
    // recvFd's timeout removes the socket it made
    const gone = tempPath('gone.sock');
    throwsCode(() => n.recvFd(gone, 20), 'ETIMEDOUT');
    assert.not.ok(fs.existsSync(gone));
  } finally {
    n.close(listener);
    fs.closeSync(p.master);
    fs.closeSync(p.slave);
  }
});

// The child gets the slave as its fd 3, makes it its controlling terminal, and reports its
// /proc/self/stat; then ^C on the master must reach it as SIGINT.
const cttyCases = [
  { name: 'a session leader (spawned detached)', detached: true },
  { name: 'a child in our session (setsid first)', detached: false },
];
for (const c of cttyCases) {
  ntest(`setControllingTerminal: ${c.name} gets the slave as its tty (tty_nr = st_rdev), and ^C on the master is its SIGINT`, async () => {
    const p = n.openpty();
    const child = new Child(
      `process.on('SIGINT', () => { say('SIGINT'); process.exit(0); });
       n.setControllingTerminal(3);
       const st = fs.readFileSync('/proc/self/stat', 'utf8');
       const f = st.slice(st.lastIndexOf(')') + 2).split(' '); // state ppid pgrp session tty_nr ...
       say('ctty ' + JSON.stringify({ pid: process.pid, session: +f[3], ttyNr: +f[4], rdev: fs.fstatSync(3).rdev }));
       setTimeout(() => { say('no SIGINT'); process.exit(1); }, 5000);`,
      { detached: c.detached, fds: [p.slave] },
    );
    try {
      const info = JSON.parse((await child.waitFor(/^ctty (.*)$/m))[1]);
      assert.is(info.session, info.pid, 'the child leads its session');
      assert.is(devMajor(info.ttyNr), devMajor(info.rdev));
      assert.is(devMinor(info.ttyNr), devMinor(info.rdev));
      assert.is(info.rdev, fs.fstatSync(p.slave).rdev);
      fs.writeSync(p.master, '\x03'); // VINTR
      await child.waitFor(/^SIGINT$/m);
      assert.is((await child.exited()).code, 0, child.out);
    } finally {
      child.kill();
      fs.closeSync(p.master);
      fs.closeSync(p.slave);
    }
  });
}

ntest('setControllingTerminal: a descriptor that is not a terminal is ENOTTY', async () => {
  const fd = fs.openSync('/dev/null', 'r');
  const child = new Child(`try { n.setControllingTerminal(3); say('no error'); } catch (e) { say('error ' + e.code + ' ' + e.syscall); }`, { detached: true, fds: [fd] });
  try {
    await child.waitFor(/^(error|no error)/m);
    assert.match(child.out, /^error ENOTTY ioctl$/m);
  } finally {
    child.kill();
    fs.closeSync(fd);
  }
});

ntest('watchSignals: every call views the same 65 cells; bad signal lists throw EINVAL', () => {
  const a = n.watchSignals([]);
  const b = n.watchSignals([]);
  assert.instance(a, Int32Array);
  assert.is(a.length, 65);
  assert.is(a.buffer, b.buffer);
  const cases: [unknown, Function][] = [
    [[0], RangeError],
    [[65], RangeError],
    [[9], RangeError], // SIGKILL
    [[19], RangeError], // SIGSTOP
    [[1.5], RangeError],
    [['15'], TypeError],
    [15, TypeError],
  ];
  for (const [arg, cls] of cases) throwsCode(() => n.watchSignals(arg as number[]), 'EINVAL', cls);
  const e = throwsCode(() => n.watchSignals([32]), 'EINVAL'); // glibc keeps 32 and 33 for itself
  assert.is(e.syscall, 'sigaction');
});

ntest('watchSignals after process.on: a JS loop that never yields sees cell[15] rise, and Node still emits SIGTERM once it returns', async () => {
  const child = new Child(
    `process.on('SIGTERM', () => { say('event'); process.exit(0); });
     const cell = n.watchSignals([15]);
     const again = n.watchSignals([]); // the same memory
     say('ready');
     const t = Date.now();
     while (Atomics.load(again, 15) === 0) if (Date.now() - t > 5000) { say('never seen'); process.exit(2); }
     say('seen ' + Atomics.load(cell, 15));
     setTimeout(() => { say('no event'); process.exit(3); }, 5000);`,
  );
  try {
    await child.waitFor(/^ready$/m);
    child.signal('SIGTERM');
    await child.waitFor(/^seen 1$/m);
    await child.waitFor(/^event$/m);
    assert.is((await child.exited()).code, 0, child.out);
  } finally {
    child.kill();
  }
});

// What the chained-to handler was decides what happens after the count.
const chainCases = [
  {
    name: 'no JS listener: Node default handler still ends the process with SIGTERM (SA_RESETHAND kept, no loop)',
    code: `const cell = n.watchSignals([15]); say('ready'); setTimeout(() => { say('alive'); process.exit(0); }, 5000);`,
    signal: 'SIGTERM' as NodeJS.Signals,
    expect: { code: null, signal: 'SIGTERM' },
  },
  {
    name: 'previous action SIG_DFL (SIGUSR2): the signal is only counted, the process lives on',
    code: `const cell = n.watchSignals([12]); say('ready'); const t = Date.now();
           while (Atomics.load(cell, 12) === 0 && Date.now() - t < 5000);
           say('counted ' + Atomics.load(cell, 12)); process.exit(0);`,
    signal: 'SIGUSR2' as NodeJS.Signals,
    expect: { code: 0, signal: null, out: /^counted 1$/m },
  },
];
for (const c of chainCases) {
  ntest(`watchSignals chains to the previous action: ${c.name}`, async () => {
    const child = new Child(c.code);
    try {
      await child.waitFor(/^ready$/m);
      child.signal(c.signal);
      const r = await child.exited();
      assert.equal({ code: r.code, signal: r.signal }, { code: c.expect.code, signal: c.expect.signal }, child.out);
      if (c.expect.out) assert.match(child.out, c.expect.out);
    } finally {
      child.kill();
    }
  });
}

ntest('watchSignals: a blocking read of a terminal returns EINTR on a watched signal (no SA_RESTART)', async () => {
  const child = new Child(
    `const p = n.openpty();
     process.on('SIGTERM', () => {});
     const cell = n.watchSignals([15]);
     say('ready');
     try { fs.readSync(p.slave, Buffer.alloc(16)); say('read returned'); }
     catch (e) { say('read threw ' + e.code + ' after ' + (Atomics.load(cell, 15) > 0 ? 'the signal' : 'nothing')); }
     process.exit(0);`,
  );
  try {
    await child.waitFor(/^ready$/m);
    // until it answers: a signal that lands before the read blocks is only counted
    for (let i = 0; i < 50 && !/^read /m.test(child.out) && !child.exit; i++) {
      child.signal('SIGTERM');
      await sleep(100);
    }
    await child.waitFor(/^read /m);
    assert.match(child.out, /^read threw EINTR after the signal$/m);
  } finally {
    child.kill();
  }
});

// The child never yields after arming: only the native watchdog can act on the SIGTERM.
const GRACE = 300;
const watchdogCases = [
  { name: 'armed: dies of SIGTERM after the grace period, its paths unlinked', steps: `n.armWatchdog([15], ${GRACE}, FILES);`, dies: true },
  { name: 'disarmed before the signal: outlives the grace period and exits by itself, paths kept', steps: `n.armWatchdog([15], ${GRACE}, FILES); n.disarmWatchdog();`, dies: false },
  { name: 'disarmed then armed again: dies as armed', steps: `n.armWatchdog([15], 5000, []); n.disarmWatchdog(); n.armWatchdog([15], ${GRACE}, FILES);`, dies: true },
  {
    name: 'disarmed during the grace period: the countdown is cancelled',
    steps: `n.armWatchdog([15], ${GRACE}, FILES); const cell = n.watchSignals([]); const t0 = Date.now();
            AFTER_READY = () => { while (Atomics.load(cell, 15) === 0 && Date.now() - t0 < 5000); n.disarmWatchdog(); };`,
    dies: false,
  },
];
for (const c of watchdogCases) {
  ntest(`armWatchdog: ${c.name}`, async () => {
    const files = [tempPath('a.lock'), tempPath('b.pid')];
    for (const f of files) fs.writeFileSync(f, 'x');
    const child = new Child(
      `process.on('SIGTERM', () => {}); // Node alone would not die of it
       const FILES = ${JSON.stringify(files)};
       let AFTER_READY = () => {};
       ${c.steps}
       say('ready');
       AFTER_READY();
       spin(${GRACE} + 900); // never yields
       say('survived'); process.exit(7);`,
    );
    try {
      await child.waitFor(/^ready$/m);
      const sent = Date.now();
      child.signal('SIGTERM');
      const r = await child.exited(8000);
      if (c.dies) {
        assert.equal({ code: r.code, signal: r.signal }, { code: null, signal: 'SIGTERM' }, child.out);
        assert.ok(r.at - sent >= GRACE - 20, `died ${r.at - sent} ms after the signal, before the grace of ${GRACE} ms`);
        assert.ok(r.at - sent < 4000, `died only ${r.at - sent} ms after the signal`);
        for (const f of files) assert.not.ok(fs.existsSync(f), `${f} unlinked`);
      } else {
        assert.equal({ code: r.code, signal: r.signal }, { code: 7, signal: null }, child.out);
        for (const f of files) assert.ok(fs.existsSync(f), `${f} kept`);
      }
    } finally {
      child.kill();
    }
  });
}

ntest('armWatchdog second: one signal is only noted; a second within the grace ends it at once, a directory among its paths removed', async () => {
  const dir = tempPath('upper');
  fs.mkdirSync(dir);
  const file = path.join(dir, 'filestore');
  fs.writeFileSync(file, 'x');
  const child = new Child(
    `process.on('SIGINT', () => {});
     n.armWatchdog([2], 1000, ${JSON.stringify([file, dir])}, true);
     const cell = n.watchSignals([]);
     say('ready');
     const t0 = Date.now();
     while (Atomics.load(cell, 2) === 0 && Date.now() - t0 < 5000);
     say('first ' + Atomics.load(cell, 2));
     spin(3000); // never yields
     say('survived'); process.exit(7);`,
  );
  try {
    await child.waitFor(/^ready$/m);
    child.signal('SIGINT');
    await child.waitFor(/^first 1$/m);
    await sleep(1200); // past the grace: the next one counts as a first again
    assert.ok(child.exit === undefined || child.exit === null, 'one signal did not end it');
    child.signal('SIGINT');
    await sleep(200);
    const sent = Date.now();
    child.signal('SIGINT');
    const r = await child.exited(8000);
    assert.equal({ code: r.code, signal: r.signal }, { code: null, signal: 'SIGINT' }, child.out);
    assert.ok(r.at - sent < 900, `died ${r.at - sent} ms after the second signal`);
    assert.not.ok(fs.existsSync(dir), 'the directory and its file removed');
  } finally {
    child.kill();
  }
});

ntest('armWatchdog: bad arguments throw EINVAL before anything is armed', () => {
  const cases: [() => unknown, Function][] = [
    [() => n.armWatchdog([], 100, []), RangeError],
    [() => n.armWatchdog([9], 100, []), RangeError],
    [() => n.armWatchdog([15], -1, []), RangeError],
    [() => n.armWatchdog([15], 100, 'x' as any), TypeError],
    [() => n.armWatchdog([15], 100, [1 as any]), TypeError],
    [() => n.armWatchdog([15], 100, ['a\0b']), RangeError],
    [() => n.armWatchdog([15], 100, [], 1 as any), TypeError],
  ];
  for (const [fn, cls] of cases) throwsCode(fn, 'EINVAL', cls);
});

test.run();
