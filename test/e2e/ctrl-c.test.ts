// Ctrl-C at `node host/run.js -it`, through a real pseudo-terminal (the native addon's openpty):
// the terminal's line discipline turns ^C into SIGINT for the foreground process group, as when a
// person types it. Ctrl-C stops the running command (130 in $?) and the shell goes on; at the
// prompt it drops the line; background jobs are left alone; a second Ctrl-C within a second while
// the first is unanswered ends the sandbox; Ctrl-D at an empty prompt exits.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tty from 'node:tty';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadNative } from '../../native/index';
import { RUN_JS, guestWasm } from '../lib/sandbox';

const native = loadNative().addon;
const ok = !!native?.openpty;
if (!ok) console.log('SKIP Ctrl-C at -it: the native addon (openpty) is not built');
const ptest = ok ? test : test.skip;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

class Session {
  out = '';
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly reader: tty.ReadStream;
  private readonly master: number;

  constructor(args: string[] = []) {
    const pty = native!.openpty!();
    this.master = pty.master;
    // setsid -c: a session of its own with the pseudo-terminal as its controlling terminal, so
    // that ^C reaches its process group as SIGINT
    this.child = spawn('setsid', ['-c', '-w', process.execPath, RUN_JS, ...args, '-it'], { stdio: [pty.slave, pty.slave, pty.slave] });
    fs.closeSync(pty.slave);
    this.exited = new Promise((r) => this.child.on('exit', (code, signal) => r({ code, signal })));
    this.reader = new tty.ReadStream(pty.master);
    this.reader.on('data', (d) => (this.out += d));
    this.reader.on('error', () => {});
  }

  /** Waits until the output since `from` matches. */
  async wait(re: RegExp, from = 0, ms = 20_000): Promise<void> {
    const t0 = Date.now();
    while (!re.test(this.out.slice(from))) {
      if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${re} in ${JSON.stringify(this.out.slice(-400))}`);
      await sleep(20);
    }
  }

  type(s: string): number {
    const at = this.out.length;
    fs.writeSync(this.master, s);
    return at;
  }

  /** Types a command and waits for its output line `re` (anchored after an echo or a prompt). */
  async run(cmd: string, re: RegExp): Promise<void> {
    const at = this.type(cmd + '\n');
    await this.wait(re, at);
  }

  close(): void {
    this.reader.destroy();
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}

ptest('Ctrl-C stops a sleeping child, a pipeline and a reader of the terminal; the shell goes on with 130 in $?', async () => {
  const s = new Session();
  try {
    await s.wait(/\$ $/);
    await s.run('echo typed back', /\r\ntyped back\r\n/);
    for (const cmd of ['sleep 30', 'yes | cat > /dev/null', 'cat', 'while true; do sleep 1; done; echo not-reached']) {
      s.type(cmd + '\n');
      await sleep(700);
      const t0 = Date.now();
      const at = s.type('\x03');
      await s.wait(/\$ $/, at, 5000);
      await s.run('echo "status=$?"', /\r\nstatus=130\r\n/);
      assert.ok(Date.now() - t0 < 5000, `${cmd}: Ctrl-C ended it and the shell went on`);
    }
    assert.not.match(s.out, /\r\nnot-reached\r\n/, 'Ctrl-C ends the whole command line');
    // the line typed after cat's Ctrl-C reached the shell, not the stopped cat
    await s.run('echo still here', /\r\nstill here\r\n/);
    const at = s.type('exit 3\n');
    assert.equal(await s.exited, { code: 3, signal: null }, s.out.slice(at));
  } finally {
    s.close();
  }
});

ptest('Ctrl-C at the prompt drops the line; background jobs live on; Ctrl-D at an empty prompt exits', async () => {
  const s = new Session();
  try {
    await s.wait(/\$ $/);
    await s.run('sleep 2 & echo started', /\r\nstarted\r\n/);
    s.type('echo dropped');
    await sleep(300);
    let at = s.type('\x03');
    await s.wait(/\$ $/, at);
    await s.run('echo "after=$?"', /\r\nafter=130\r\n/);
    assert.not.match(s.out, /\r\ndropped\r\n/, 'the dropped line did not run');
    // a second Ctrl-C at the prompt, soon after the first, is only another dropped line
    at = s.type('\x03');
    await s.wait(/\$ $/, at);
    at = s.type('\x03');
    await s.wait(/\$ $/, at);
    await s.run('wait $!; echo "bg=$?"', /\r\nbg=0\r\n/);
    s.type('\x04');
    assert.equal(await s.exited, { code: 0, signal: null }, s.out);
  } finally {
    s.close();
  }
});

ptest('a program polling the terminal with a timeout sees its timeouts until a line is typed (poll_oneoff), then the line and Ctrl-D', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wbt-poll-'));
  fs.writeFileSync(path.join(dir, 'pollin'), guestWasm('pollin'));
  fs.chmodSync(path.join(dir, 'pollin'), 0o755);
  const s = new Session(['-v', `${dir}:/t:ro`]);
  try {
    await s.wait(/\$ $/);
    await s.run('/t/pollin 100', /\r\nwait\r\n/);
    await s.run('abc', /\r\ndata abc\r\n/);
    let at = s.type('\x04');
    await s.wait(/end\r\n\$ $/, at);
    at = s.type('exit 4\n');
    assert.equal(await s.exited, { code: 4, signal: null }, s.out.slice(at));
  } finally {
    s.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

const spinners = [
  { what: 'a child computes without calls', cmd: '/t/trap spin' },
  { what: 'the shell itself computes', cmd: 'while :; do :; done' },
];
for (const { what, cmd } of spinners) {
  ptest(`a second Ctrl-C within a second ends the sandbox when ${what}, and it cleans up`, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wbt-ctrlc-'));
    fs.writeFileSync(path.join(dir, 'trap'), guestWasm('trap'));
    fs.chmodSync(path.join(dir, 'trap'), 0o755);
    const uppers = () => fs.readdirSync(os.tmpdir()).filter((n) => n.startsWith('wasmbox-upper-'));
    const before = uppers();
    const s = new Session(['-v', `${dir}:/t:ro`]);
    try {
      await s.wait(/\$ $/);
      s.type(cmd + '\n');
      await sleep(700);
      s.type('\x03');
      await sleep(300);
      assert.is(s.child.exitCode, null, 'one Ctrl-C does not end the sandbox');
      const t0 = Date.now();
      s.type('\x03');
      const r = await Promise.race([s.exited, sleep(5000).then(() => null)]);
      assert.ok(r, `the sandbox ended (${Date.now() - t0} ms): ${JSON.stringify(s.out)}`);
      assert.is(r!.code, 130, JSON.stringify(r));
      assert.equal(uppers().filter((n) => !before.includes(n)), [], 'its temporary upper directory is gone');
    } finally {
      s.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
}

test.run();
