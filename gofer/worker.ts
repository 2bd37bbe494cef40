// Entry point of the gofer worker thread (trusted). It opens the image and the host trees, reports
// the image config to the sandbox thread, then serves the shared-memory channel until the sandbox
// ends. A setup error is reported as a message, never thrown across the thread boundary.
import { parentPort, workerData } from 'node:worker_threads';
import { markChannelDead, serveChannel } from './channel';
import { createGofer, GoferSetupError, type GoferConfig } from './setup';

export interface GoferWorkerData extends GoferConfig {
  sab: SharedArrayBuffer;
}

export type GoferWorkerMessage =
  | { type: 'ready'; config: unknown; nodes: number; notes: string[] }
  | { type: 'progress'; message: string }
  | { type: 'error'; message: string; image: boolean };

function main(): void {
  const data = workerData as GoferWorkerData;
  // However this thread ends, the sandbox must not wait for it: its calls fail with EIO at once.
  process.on('exit', () => markChannelDead(data.sab));
  // Fault injection for the tests (WASMBOX_FAULT=gofer-exit:N): the gofer dies after N requests.
  const fault = /^gofer-exit:(\d+)$/.exec(process.env.WASMBOX_FAULT ?? '');
  let served = 0;
  const post = (m: GoferWorkerMessage) => parentPort!.postMessage(m);
  let gofer;
  try {
    gofer = createGofer(data, (message) => post({ type: 'progress', message }));
  } catch (e) {
    post({ type: 'error', message: (e as Error)?.message ?? String(e), image: e instanceof GoferSetupError && e.image });
    return;
  }
  post({ type: 'ready', config: gofer.config, nodes: gofer.nodes, notes: gofer.notes });
  const handle = gofer.server.handle;
  const serve = fault
    ? (id: number, len: number, w: Uint8Array) => {
        if (++served > Number(fault[1])) process.exit(70);
        return handle(id, len, w);
      }
    : handle;
  try {
    serveChannel(data.sab, serve);
  } finally {
    gofer.close();
  }
}

main();
