// The browser demo (host/web/), end to end in real headless Chromium driven by playwright-core:
// the page is built with esbuild, served by host/web/serve.mjs (COOP/COEP, HTTP Range), and used
// the way a person would: typing into the terminal and reading the terminal and the layer view.
// The image is the userland image (test/lib/userland.ts: /bin/sh and the toolbox) plus fsstress,
// the trap guest and a large file, so that reading the image on demand can be seen.
//
// Chromium is Debian's package (/usr/bin/chromium; WASMBOX_CHROMIUM overrides); without it every
// test is skipped and the reason printed. WASMBOX_SCREENSHOT=FILE also saves the README screenshot.
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { buildWeb, type WebSizes } from '../../host/web/build.mjs';
import { startServer } from '../../host/web/serve.mjs';
import { buildImage, tempDir } from '../lib/images';
import { userlandSpec } from '../lib/userland';
import { guestWasm } from '../lib/sandbox';

const CHROMIUM = process.env.WASMBOX_CHROMIUM ?? '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'];
const BIG = 6 << 20;

interface PageState {
  prompts: number;
  filestore: string;
  firstPromptMs: number;
  lastCommandMs: number;
  reports: string[];
  reattached: string | null;
  busy: boolean;
  fatal: string;
  fetched: { requests: number; bytes: number; size: number };
  upper: { path: string; kind: string; where: number }[];
}

let browser: Browser;
let server: { url: string; close(): Promise<void> };
const served: string[] = [];
let sizes: WebSizes;
const skip = fs.existsSync(CHROMIUM) ? '' : `chromium is not installed (${CHROMIUM}; .ci/run installs Debian's chromium package)`;

/** A big, not very compressible file: the image is 7 MB, of which the first prompt needs little. */
function bigFile(): Uint8Array {
  const b = new Uint8Array(BIG);
  let x = 2463534242;
  for (let i = 0; i < b.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

test.before(async () => {
  if (skip) return;
  sizes = await buildWeb();
  const image = buildImage(
    userlandSpec([
      [
        { path: 'bin/fsstress', type: 'file', data: guestWasm('fsstress'), mode: 0o755 },
        { path: 'bin/trap', type: 'file', data: guestWasm('trap'), mode: 0o755 },
        { path: 'srv/big.bin', type: 'file', data: bigFile() },
      ],
    ]),
    { format: 'oci', name: 'web' },
  );
  server = await startServer({ port: 0, image, log: (line: string) => served.push(line) });
  const { chromium } = await import('playwright-core');
  browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
});

test.after(async () => {
  await browser?.close();
  await server?.close();
});

function st(page: Page): Promise<PageState> {
  return page.evaluate(() => (window as any).wasmbox.state);
}

function screenText(page: Page): Promise<string> {
  return page.evaluate(() => (window as any).wasmbox.text());
}

/**
 * A context with an on-disk profile (its own browser process; closing the context ends it). Its OPFS
 * is on disk, as in a person's browser; a plain context is incognito-like, and its OPFS is kept in
 * the browser process's memory, where each sync access handle call is an IPC of ~0.3-1 ms.
 */
async function profileContext(): Promise<BrowserContext> {
  const { chromium } = await import('playwright-core');
  return chromium.launchPersistentContext(tempDir('profile'), { executablePath: CHROMIUM, args: FLAGS, viewport: { width: 1400, height: 820 } });
}

/** Opens the page (with a query) in a fresh context and waits for the shell's first prompt. */
async function open(query = '', ctx?: BrowserContext): Promise<Page> {
  ctx ??= await browser.newContext({ viewport: { width: 1400, height: 820 } });
  const page = await ctx.newPage();
  page.on('pageerror', (e) => console.log(`page error: ${e.message}`));
  await page.goto(server.url + query);
  await waitPrompt(page, 0);
  return page;
}

async function waitPrompt(page: Page, after: number, timeout = 20_000): Promise<void> {
  await page.waitForFunction((n) => (window as any).wasmbox?.state.prompts > n || (window as any).wasmbox?.state.fatal, after, { timeout });
  const s = await st(page);
  assert.is(s.fatal, '', 'the sandbox died');
  // the prompt's text is on its way to the terminal: wait until it is drawn
  await page.waitForFunction(() => /^wasmbox\$ ?$/.test((window as any).wasmbox.text().split('\n').pop()), null, { timeout: 5000 });
}

/** Types a command line and Enter, waits for the next prompt, returns what the command printed. */
async function run(page: Page, line: string, timeout = 20_000): Promise<string> {
  const before = (await st(page)).prompts;
  await page.keyboard.type(line);
  await page.keyboard.press('Enter');
  await waitPrompt(page, before, timeout);
  return outputOf(await screenText(page), line);
}

/** The lines between the last echo of `line` after a prompt and the next prompt. */
function outputOf(text: string, line: string): string {
  const lines = text.split('\n');
  let i = lines.length - 1;
  while (i >= 0 && lines[i] !== `wasmbox$ ${line}`) i--;
  assert.ok(i >= 0, `the command line ${JSON.stringify(line)} is not on the screen:\n${text}`);
  const out: string[] = [];
  for (let j = i + 1; j < lines.length && !lines[j].startsWith('wasmbox$'); j++) out.push(lines[j]);
  return out.join('\n');
}

const it = (name: string, fn: () => Promise<void>) => (skip ? test.skip(`${name} (skipped: ${skip})`, fn) : test(name, fn));
if (skip) console.log(`SKIP test/web: ${skip}`);

it('the page loads, and echo/cat/ls in the terminal show the right output', async () => {
  const page = await open();
  assert.ok(await page.evaluate(() => crossOriginIsolated), 'cross-origin isolated (COOP/COEP)');
  const first = await st(page);
  assert.ok(first.fetched.bytes < first.fetched.size / 2, `the image is read on demand, not whole: ${first.fetched.bytes} of ${first.fetched.size} bytes before the first prompt`);
  const out = await run(page, 'echo hi > /etc/x; cat /etc/x; ls /etc');
  assert.equal(out.split(/\s+/).filter(Boolean), ['hi', 'hostname', 'motd', 'os-release', 'x']);
  await page.waitForSelector('#upper-list li.file:has-text("/etc/x") .k-new');
  await page.context().close();
});

it('the sandbox worker loads the WebAssembly glue served beside kernel.wasm', async () => {
  for (const f of ['wasm-glue.wasm', 'wasm-glue-t.wasm', 'wasm-glue-j.wasm']) {
    assert.ok(served.includes(`GET /${f} -> 200`), `${f} fetched: ${served.filter((l) => /wasm/.test(l)).join('; ')}`);
  }
});

it('rm of a lower file shows a whiteout in the layer view', async () => {
  const page = await open();
  assert.is(await run(page, 'rm /etc/motd; ls /etc'), 'hostname  os-release');
  const row = await page.waitForSelector('#upper-list li.whiteout');
  assert.is(await row.$eval('.path', (e) => e.textContent), '/etc/motd');
  assert.is(await row.$eval('.badge', (e) => e.textContent), 'whiteout');
  assert.match(await page.textContent('#upper-summary') ?? '', /1 whiteout/);
  await page.context().close();
});

it('an OPFS-backed sandbox keeps its files across a reload', async () => {
  const page = await open('?fs=opfs');
  await run(page, 'echo kept > /etc/x; mkdir /home/user/d; echo deep > /home/user/d/f; rm /etc/motd; echo more >> /home/user/notes.txt');
  // an opaque directory (a lower directory removed and made again), a hard link, a rename
  await run(page, 'rm -r /data/sub; mkdir /data/sub; echo new > /data/sub/n; ln /data/a.txt /data/a2; mv /data/b.txt /data/c.txt');
  await page.reload();
  await waitPrompt(page, 0);
  const s = await st(page);
  assert.ok(s.reattached, 'the saved upper layer was reattached');
  assert.is(await run(page, 'cat /etc/x /home/user/d/f /home/user/notes.txt; ls /etc'), 'kept\ndeep\nremember the milk\nmore\nhostname  os-release  x');
  assert.is(await run(page, 'ls /data/sub; ls /data/b.txt /data/c.txt; cat /data/a2'), 'n\nls: cannot access \'/data/b.txt\': No such file or directory\n/data/c.txt\nhello\nworld');
  assert.match(await run(page, 'stat /data/a2'), /Links: 3/);
  await page.waitForSelector('#upper-list li.whiteout:has-text("/etc/motd")');
  // a fresh context has its own (empty) OPFS: nothing leaks between them
  const other = await open('?fs=opfs');
  assert.is(await run(other, 'ls /etc'), 'hostname  motd  os-release');
  await other.context().close();
  await page.context().close();
});

/** The largest OPFS page file (wasmbox/<key>/pages) of the page's origin, in bytes (0 if none). */
function opfsPageFileBytes(page: Page): Promise<number> {
  return page.evaluate(async () => {
    const root = await navigator.storage.getDirectory();
    let top: FileSystemDirectoryHandle;
    try {
      top = await root.getDirectoryHandle('wasmbox');
    } catch {
      return 0;
    }
    let max = 0;
    for await (const [, h] of (top as any).entries() as AsyncIterable<[string, FileSystemHandle]>) {
      if (h.kind !== 'directory') continue;
      try {
        const f = await (await (h as FileSystemDirectoryHandle).getFileHandle('pages')).getFile();
        max = Math.max(max, f.size);
      } catch {}
    }
    return max;
  });
}

/** The layer view's "N pages used". */
async function pagesUsed(page: Page): Promise<number> {
  const m = /([\d,]+)\s*pages used/.exec((await page.textContent('#fs-line')) ?? '');
  assert.ok(m, 'the layer view shows pages used');
  return Number(m![1].replace(/,/g, ''));
}

const LINE = '0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde'; // 63 + newline = 64 bytes

it('with ?fs=opfs the file data is in an OPFS page file: a 32 MiB file written in the terminal reads back whole, the page file holds it, and it survives a reload', async () => {
  const page = await open('?fs=opfs');
  assert.match((await st(page)).filestore, /^OPFS page file/);
  assert.ok((await opfsPageFileBytes(page)) < 1 << 20, 'the page file starts (nearly) empty');
  // 64 bytes, four times larger nine times (16 MiB), then twice: 32 MiB of identical lines
  await run(page, `echo ${LINE} > /tmp/a`);
  const steps: string[] = [];
  let [src, dst] = ['/tmp/a', '/tmp/b'];
  for (let i = 0; i < 9; i++) {
    steps.push(`cat ${src} ${src} ${src} ${src} > ${dst}`);
    [src, dst] = [dst, src];
  }
  await run(page, steps.slice(0, 5).join('; '));
  await run(page, steps.slice(5).join('; '), 60_000);
  await run(page, `cat ${src} ${src} > /tmp/big; rm /tmp/a /tmp/b`, 60_000);
  const check = `wc -c /tmp/big; wc -l /tmp/big; grep -cvxF ${LINE} /tmp/big`;
  const expect = `${32 << 20} /tmp/big\n${(32 << 20) / 64} /tmp/big\n0`;
  assert.is(await run(page, check, 60_000), expect);
  const bytes = await opfsPageFileBytes(page);
  assert.ok(bytes >= 32 << 20, `the OPFS page file holds the data: ${bytes} bytes`);
  assert.match((await page.textContent('#fs-line')) ?? '', /OPFS page file/);
  const used = await pagesUsed(page);
  assert.ok(used >= (32 << 20) / 4096 && used * 4096 <= bytes, `pages used (${used}) cover the file and fit in the page file (${bytes} bytes)`);

  // A reload: the saved layer is replayed into a fresh (empty) page file.
  await page.reload();
  await waitPrompt(page, 0, 60_000);
  assert.ok((await st(page)).reattached, 'the saved upper layer was reattached');
  assert.is(await run(page, check, 60_000), expect);
  assert.ok((await opfsPageFileBytes(page)) >= 32 << 20, 'the replayed file is in the new page file');

  // Freed pages go back: the file shrinks (the kernel keeps at most a batch of 255 pages pending).
  await run(page, 'rm /tmp/big');
  const after = await opfsPageFileBytes(page);
  assert.ok(after <= 2 << 20, `the page file shrank after rm: ${after} bytes`);
  console.log(`web: OPFS page file ${bytes} bytes with the 32 MiB file, ${after} after rm`);
  await page.context().close();
});

it('fsstress gives the same result log with the OPFS page file as with memory (reads hash the data, holes and reused pages included)', async () => {
  const cmd = '/bin/fsstress -d /tmp/f -n 250 -p 4 -s 1680153482 -l 2 -L';
  const logs: string[] = [];
  for (const q of ['', '?fs=opfs']) {
    const page = await open(q, q ? await profileContext() : undefined);
    const out = await run(page, cmd, 120_000);
    assert.is(await run(page, 'echo status $?'), 'status 0', q);
    logs.push(out);
    await page.context().close();
  }
  const lines = logs[0].split('\n');
  assert.ok(lines.length > 2000 && lines.some((l) => / read .* = 0 n=[1-9]/.test(l)), `a full log with reads of data (${lines.length} lines)`);
  assert.is(logs[1], logs[0]);
});

it('a picked image file works (gzip layers, read as Blob slices)', async () => {
  const picked = buildImage(userlandSpec([[{ path: 'etc/picked', type: 'file', data: 'from a picked file\n' }]]), { format: 'docker', gzip: true, name: 'picked' });
  const page = await open();
  const before = (await st(page)).prompts;
  await page.setInputFiles('#img-file', picked);
  await waitPrompt(page, before);
  assert.is(await run(page, 'cat /etc/picked'), 'from a picked file');
  assert.match(await page.textContent('#image-line') ?? '', /picked\.tar · docker/);
  assert.match(await page.textContent('#gofer-line') ?? '', /Blob slices/);
  await page.context().close();
});

it('a guest that traps shows an error in the terminal, and the next command works', async () => {
  const page = await open();
  assert.is(await run(page, '/bin/trap unreachable'), 'trap: unreachable\nwasmbox: /bin/trap: guest trapped: unreachable');
  assert.is(await run(page, 'echo status $?'), 'status 134');
  assert.match(await run(page, '/bin/trap oob'), /guest trapped: .*out of bounds/);
  assert.is(await run(page, 'echo next'), 'next');
  await page.context().close();
});

it('Ctrl-C stops a child reading the terminal; the shell goes on', async () => {
  const page = await open();
  const before = (await st(page)).prompts;
  await page.keyboard.type('cat\n');
  await page.keyboard.type('one\n');
  await page.waitForFunction(() => /^one\none$/m.test((window as any).wasmbox.text()));
  await page.keyboard.press('Control+C');
  await waitPrompt(page, before);
  assert.is(await run(page, 'echo status $?'), 'status 130');
  await page.context().close();
});

it('Ctrl-C stops a child busy with file-system calls (no terminal I/O) at its next call: status 130, the shell goes on', async () => {
  const page = await open();
  const before = (await st(page)).prompts;
  // -l 0: loop for ever; fsstress prints nothing until it ends, so only the per-call check can stop it
  await page.keyboard.type('fsstress -d /tmp/busy -n 2000 -p 1 -s 1 -l 0\n');
  await page.waitForFunction(() => (window as any).wasmbox.state.busy);
  await page.waitForTimeout(700);
  assert.is((await st(page)).prompts, before, 'fsstress is still running before Ctrl-C');
  await page.keyboard.press('Control+C');
  await waitPrompt(page, before, 3000);
  assert.not.match(await screenText(page), /has not stopped/, 'no restart offer: the child stopped');
  assert.is(await run(page, 'echo status $?'), 'status 130');
  assert.is(await run(page, 'ls /tmp/busy; echo ok'), 'p0\nok');
  await page.context().close();
});

it('a child that only computes is not stopped by Ctrl-C: the page offers a restart, and a second Ctrl-C restarts the sandbox', async () => {
  const page = await open();
  const before = (await st(page)).prompts;
  await page.keyboard.type('/bin/trap spin\n');
  await page.waitForFunction(() => /^trap: spin$/m.test((window as any).wasmbox.text()));
  await page.keyboard.press('Control+C');
  await page.waitForFunction(() => /has not stopped: it is not using its terminal/.test((window as any).wasmbox.text()), null, { timeout: 5000 });
  assert.is((await st(page)).prompts, before, 'the spinning child is still running');
  await page.keyboard.press('Control+C');
  await waitPrompt(page, before);
  assert.match(await screenText(page), /\[restarting the sandbox\]/);
  assert.is(await run(page, 'echo alive'), 'alive');
  await page.context().close();
});

it('line editing: cursor keys insert in the middle, Up recalls history, Ctrl-U kills the line', async () => {
  const page = await open();
  await run(page, 'echo first');
  let before = (await st(page)).prompts;
  await page.keyboard.type('echo wrld');
  for (let i = 0; i < 3; i++) await page.keyboard.press('ArrowLeft');
  await page.keyboard.type('o');
  await page.keyboard.press('Enter');
  await waitPrompt(page, before);
  assert.is(outputOf(await screenText(page), 'echo world'), 'world');
  before = (await st(page)).prompts;
  await page.keyboard.type('garbage');
  await page.keyboard.press('Control+U');
  await page.keyboard.press('ArrowUp');
  await page.keyboard.press('ArrowUp');
  await page.keyboard.press('Enter');
  await waitPrompt(page, before);
  assert.is(outputOf(await screenText(page), 'echo first'), 'first');
  await page.context().close();
});

it('fsstress (the benchmark headline run) completes in the page, over memory and over the OPFS page file', async () => {
  for (const q of ['', '?fs=opfs']) {
    const page = await open(q, q ? await profileContext() : undefined); // OPFS on disk (see profileContext)
    const out = await run(page, '/bin/fsstress -d /tmp/f -n 500 -p 20 -s 1680153482 -l 10 -T', 180_000);
    assert.match(out, /fsstress: elapsed_ns \d+/);
    const s = await st(page);
    assert.is(await run(page, 'echo status $?'), 'status 0');
    console.log(`web (${s.filestore}): first prompt ${s.firstPromptMs.toFixed(0)} ms; fsstress ${(s.lastCommandMs / 1000).toFixed(2)} s in the page (${out.trim()})`);
    await page.context().close();
  }
});

it('the page stays light: its own code is under 300 KB gzip (without kernel.wasm and the image)', async () => {
  assert.ok(sizes.total.gzip < 300 * 1024, `${sizes.total.gzip} bytes gzip: ${JSON.stringify(sizes.files)}`);
});

if (process.env.WASMBOX_SCREENSHOT) {
  // The README's picture: the default image (dist/images/default.tar), a few changes of each kind.
  it('screenshot for the README', async () => {
    const def = await startServer({ port: 0 });
    const ctx = await browser.newContext({ viewport: { width: 1400, height: 820 }, deviceScaleFactor: 1 });
    const page = await ctx.newPage();
    await page.goto(def.url);
    await waitPrompt(page, 0);
    await run(page, 'cat /etc/motd');
    await run(page, 'echo "hello from the upper layer" > /root/hello.txt');
    await run(page, 'echo wasmbox-dev > /etc/hostname; rm /etc/os-release');
    await run(page, 'mkdir -p /srv/app; ln -s /root/hello.txt /srv/app/hello');
    await run(page, 'layers /etc/hostname /etc/passwd /etc/motd /root/hello.txt');
    await run(page, 'ls -l /etc');
    await page.mouse.move(0, 0);
    await page.screenshot({ path: path.resolve(process.env.WASMBOX_SCREENSHOT!) });
    await ctx.close();
    await def.close();
  });
}

test.run();
