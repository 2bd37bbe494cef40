// Entry point of the gofer worker thread (trusted). It opens the image, reports the image config to
// the sandbox thread, then serves the shared-memory channel until the sandbox ends. An image error
// is reported as a message, never thrown across the thread boundary.
import { parentPort, workerData } from 'node:worker_threads';
import { serveChannel } from './channel';
import { ImageError, openImage } from './image/index';
import { LowerServer } from './server';

export interface GoferWorkerData {
  image: string;
  cacheDir: string;
  sab: SharedArrayBuffer;
}

export type GoferWorkerMessage =
  | { type: 'ready'; config: unknown; layers: unknown; nodes: number }
  | { type: 'progress'; message: string }
  | { type: 'error'; message: string; image: boolean };

function main(): void {
  const data = workerData as GoferWorkerData;
  const post = (m: GoferWorkerMessage) => parentPort!.postMessage(m);
  let image;
  try {
    image = openImage(data.image, { cacheDir: data.cacheDir, progress: (message) => post({ type: 'progress', message }) });
  } catch (e: any) {
    post({ type: 'error', message: String(e?.message ?? e), image: e instanceof ImageError });
    return;
  }
  post({ type: 'ready', config: image.config, layers: image.layers, nodes: image.tree.count });
  const server = new LowerServer(image.tree);
  try {
    serveChannel(data.sab, server.handle);
  } finally {
    image.close();
  }
}

main();
