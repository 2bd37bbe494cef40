// Entry of a replica thread (host/sandbox/replicas.ts): runs the sandboxes the main thread hands it (several
// at once when they run suspendable), over the shared image and the precompiled kernel, and reports
// each exit status. Output
// lines are prefixed with the sandbox's number and written whole; stdin is empty (like /dev/null).
import { parentPort, workerData } from 'node:worker_threads';
import { Filetype } from '../../kernel/wasi/types';
import type { Streams } from './glue';
import * as jspi from './jspi';
import type { ReplicaJob, ReplicaReply, ReplicaWorkerData } from './replicas';
import { PROJECT, SandboxError, run } from './sandbox';
import { HostStreams } from '../stdio/streams';

const data = workerData as ReplicaWorkerData;
const host = new HostStreams();
const enc = new TextEncoder();
/** A line longer than this is written in pieces, each with the prefix. */
const MAX_LINE = 64 * 1024;

class ReplicaStreams implements Streams {
  private readonly pending: [number[], number[], number[]] = [[], [], []];
  private readonly prefix: Uint8Array;

  /** `label`: the sandbox's number, or NAME.number with --name. */
  constructor(label: string, prefix: boolean) {
    this.prefix = prefix ? enc.encode(`${label}| `) : new Uint8Array(0);
  }

  write(stream: number, bytes: Uint8Array, off: number, len: number): number {
    if (stream !== 1 && stream !== 2) return len;
    const line = this.pending[stream];
    for (let i = off; i < off + len; i++) {
      line.push(bytes[i]);
      if (bytes[i] === 0x0a || line.length >= MAX_LINE) this.emit(stream);
    }
    return len;
  }

  read(): number {
    return 0;
  }

  filetype(stream: number): number {
    return stream === 0 ? Filetype.CHARACTER_DEVICE : host.filetype(stream);
  }

  /** Writes what is left of unterminated lines, and `message` (a whole line) on stderr. */
  finish(message?: string): void {
    for (const s of [1, 2]) if (this.pending[s].length) this.emit(s);
    if (message) {
      for (const b of enc.encode(`${message}\n`)) this.pending[2].push(b);
      this.emit(2);
    }
  }

  private emit(stream: number): void {
    const line = this.pending[stream];
    const out = new Uint8Array(this.prefix.length + line.length);
    out.set(this.prefix, 0);
    out.set(line, this.prefix.length);
    host.write(stream, out, 0, out.length); // one write: lines from different threads never mix
    line.length = 0;
  }
}

parentPort!.on('message', async (job: ReplicaJob) => {
  if ('stop' in job) {
    process.exit(0);
  }
  const streams = new ReplicaStreams(data.base.name ? `${data.base.name}.${job.index}` : String(job.index), data.prefix);
  let status: number;
  let message: string | undefined;
  try {
    const r = await run({
      ...data.base,
      upperDir: job.upperDir ?? data.base.upperDir,
      shared: data.shared,
      kernelModule: data.kernel,
      handleSignals: false,
      streams,
    });
    status = r.status;
  } catch (e) {
    status = e instanceof SandboxError ? e.status : 125;
    message = e instanceof SandboxError ? e.message : `${PROJECT}: internal error: ${(e as Error)?.message ?? e}`;
  }
  streams.finish(message);
  parentPort!.postMessage({ index: job.index, status } satisfies ReplicaReply);
});
parentPort!.postMessage({ ready: true, jspi: jspi.available() } satisfies ReplicaReply);
