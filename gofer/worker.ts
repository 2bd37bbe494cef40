// Entry point of the gofer worker thread (trusted). It opens the image and the host trees, reports
// the image config to the sandbox thread, then serves the shared-memory channel until the sandbox
// ends. A setup error is reported as a message, never thrown across the thread boundary.
import { parentPort, workerData } from 'node:worker_threads';
import { serveChannel } from './channel';
import { createGofer, GoferSetupError, type GoferConfig } from './setup';

export interface GoferWorkerData extends GoferConfig {
  sab: SharedArrayBuffer;
}

export type GoferWorkerMessage =
  | { type: 'ready'; config: unknown; nodes: number }
  | { type: 'progress'; message: string }
  | { type: 'error'; message: string; image: boolean };

function main(): void {
  const data = workerData as GoferWorkerData;
  const post = (m: GoferWorkerMessage) => parentPort!.postMessage(m);
  let gofer;
  try {
    gofer = createGofer(data, (message) => post({ type: 'progress', message }));
  } catch (e) {
    post({ type: 'error', message: (e as Error)?.message ?? String(e), image: e instanceof GoferSetupError && e.image });
    return;
  }
  post({ type: 'ready', config: gofer.config, nodes: gofer.nodes });
  try {
    serveChannel(data.sab, gofer.server.handle);
  } finally {
    gofer.close();
  }
}

main();
