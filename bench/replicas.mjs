// `npm run bench:replicas`: many sandboxes in one host process (`--replicas N`), the default image,
// each running a short script with a few file operations. For N = 1, 10, 50, 100:
//   throughput   sandboxes started, run and ended per second, with --threads = CPUs (the default)
//   memory       peak RSS of the whole process with N sandboxes alive at once (a script that
//                sleeps 2 s after its file work so they overlap), per sandbox beyond one, two ways:
//                a thread each (--threads N), and all on threads = CPUs (--per-thread N/CPUs: a
//                sleeping guest is put aside, host/sandbox/jspi.ts); and, for scale, what one idle Node
//                worker thread costs on its own
// RSS is sampled from /proc/PID/status every 10 ms. Results: bench/results/replicas.{json,md}.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from './lib/setup.mjs';

const argv = process.argv.slice(2);
const NS = (argv.includes('--n') ? argv[argv.indexOf('--n') + 1] : '1,10,50,100').split(',').map(Number);
const IMAGE = path.join(ROOT, 'dist', 'images', 'default.tar');
const say = (m) => process.stderr.write(`bench:replicas: ${m}\n`);
const WORK = 'echo hi > /tmp/a; cat /tmp/a; mkdir /tmp/d; echo x >> /etc/motd; rm /etc/hostname; ls /etc';

function rssOf(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Runs node with args; returns wall seconds, peak RSS (bytes), status and stderr. */
function measure(args) {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    let peak = 0;
    child.stderr.on('data', (d) => (err += d));
    const timer = setInterval(() => (peak = Math.max(peak, rssOf(child.pid))), 10);
    child.on('exit', (code) => {
      clearInterval(timer);
      resolve({ seconds: (performance.now() - t0) / 1000, peak, status: code, stderr: err });
    });
  });
}

// with --per-thread above 1, Node is started with the JSPI flag here, so that the CLI need not start
// itself again (which would put the sandboxes in a grandchild, out of the RSS sampling's sight)
const run = (n, threads, script, perThread = 1) =>
  measure([...(perThread > 1 ? ['--experimental-wasm-stack-switching'] : []), path.join(ROOT, 'host/run.js'), '--replicas', String(n), '--threads', String(threads), '--per-thread', String(perThread), IMAGE, '/bin/sh', '-c', script]);

const cpus = os.availableParallelism();
const rows = [];
await run(2, 2, WORK); // warm the index snapshot and the page cache
for (const n of NS) {
  say(`N = ${n}`);
  const thr = await run(n, Math.min(n, cpus), WORK);
  if (thr.status !== 0) throw new Error(`--replicas ${n} failed: ${thr.stderr}`);
  const m = /in ([\d.]+) s \(([\d.]+)\/s\)/.exec(thr.stderr);
  const mem = await run(n, n, `${WORK}; sleep 2`);
  if (mem.status !== 0) throw new Error(`--replicas ${n} --threads ${n} failed: ${mem.stderr}`);
  const threads = Math.min(n, cpus);
  const perThread = Math.ceil(n / threads);
  const shared = await run(n, threads, `${WORK}; sleep 2`, perThread);
  if (shared.status !== 0) throw new Error(`--replicas ${n} --threads ${threads} --per-thread ${perThread} failed: ${shared.stderr}`);
  rows.push({ n, rate: Number(m[2]), sandboxSeconds: Number(m[1]), processSeconds: thr.seconds, peakPooled: thr.peak, peakConcurrent: mem.peak, peakShared: shared.peak, sharedSeconds: shared.seconds });
}

// one idle worker thread, for scale
const idle = await measure(['-e', `
  const { Worker } = require('node:worker_threads');
  const N = 50; let up = 0;
  for (let i = 0; i < N; i++) new Worker("require('node:worker_threads').parentPort.postMessage(1); setTimeout(() => {}, 1500)", { eval: true }).on('message', () => { if (++up === N) setTimeout(() => process.exit(0), 500); });`]);
const base = await measure(['-e', 'setTimeout(() => {}, 1000)']);
const perIdleWorker = (idle.peak - base.peak) / 50;

const one = rows.find((r) => r.n === 1) ?? rows[0];
const mib = (b) => (b / 1048576).toFixed(1);
const md = [
  '# Many sandboxes in one process (`--replicas N`)',
  '',
  `${cpus} × ${os.cpus()[0]?.model}, Node ${process.version}, ${new Date().toISOString()}. The default image; each sandbox runs \`sh -c '${WORK}'\`.`,
  '',
  `Throughput: \`--threads ${cpus}\` (the default). Memory, with every sandbox alive at once (the script then sleeps 2 s), per sandbox = (peak(N) − peak(1)) / (N − 1), two ways: a thread each (\`--threads N\`), and all on ${cpus} threads (\`--per-thread N/${cpus}\`, node started with --experimental-wasm-stack-switching: a sleeping guest is put aside while its thread runs the others). One idle Node worker thread alone costs ${mib(perIdleWorker)} MiB.`,
  '',
  '| N | sandboxes/s | wall s (process) | peak RSS, threads = CPUs (MiB) | peak RSS, a thread each (MiB) | per extra sandbox, a thread each (MiB) | peak RSS, all on the CPUs\' threads (MiB) | per extra sandbox, on the CPUs\' threads (MiB) | wall s, on the CPUs\' threads |',
  '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ...rows.map((r) => {
    const per = r.n > 1 ? (r.peakConcurrent - one.peakConcurrent) / (r.n - 1) : NaN;
    const perShared = r.n > 1 ? (r.peakShared - one.peakShared) / (r.n - 1) : NaN;
    const f = (x) => (Number.isNaN(x) ? '—' : mib(x));
    return `| ${r.n} | ${r.rate.toFixed(1)} | ${r.processSeconds.toFixed(2)} | ${mib(r.peakPooled)} | ${mib(r.peakConcurrent)} | ${f(per)} | ${mib(r.peakShared)} | ${f(perShared)} | ${r.sharedSeconds.toFixed(2)} |`;
  }),
  '',
];
fs.mkdirSync(path.join(ROOT, 'bench/results'), { recursive: true });
fs.writeFileSync(path.join(ROOT, 'bench/results/replicas.md'), md.join('\n'));
fs.writeFileSync(path.join(ROOT, 'bench/results/replicas.json'), JSON.stringify({ cpus, rows, perIdleWorker }, null, 2));
process.stdout.write(md.join('\n'));
