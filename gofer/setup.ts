// Building one sandbox's gofer: the image's tree (mount 0, if there is an image) and the host trees
// (mounts 1..n, from the host's configuration only, never from a request). Used by the worker entry
// and by the in-thread gofer alike.
import { ImageError, LowerTree, openImage, type ImageConfig } from './image/index';
import type { SharedTree } from './image/share';
import { HostServer, type HostMount } from './hosttree';
import { GoferServer, LowerServer } from './server';

export interface GoferConfig {
  image: string | null;
  mounts: HostMount[];
  cacheDir: string;
  /**
   * The image, already opened by another thread of this process and shared (share.ts): used
   * instead of opening `image`. Its descriptors stay the sharer's; close() leaves them open.
   */
  shared?: { tree: SharedTree; config: ImageConfig };
}

export interface Gofer {
  server: GoferServer;
  /** The image's config (empty without an image). */
  config: ImageConfig;
  nodes: number;
  close(): void;
}

export class GoferSetupError extends Error {
  constructor(
    message: string,
    readonly image: boolean,
  ) {
    super(message);
  }
}

export function createGofer(cfg: GoferConfig, progress?: (msg: string) => void): Gofer {
  let img: { tree: LowerTree; config: ImageConfig; close(): void } | null = null;
  if (cfg.shared) {
    img = { tree: new LowerTree(cfg.shared.tree.tables), config: cfg.shared.config, close() {} };
  } else if (cfg.image !== null) {
    try {
      img = openImage(cfg.image, { cacheDir: cfg.cacheDir, progress });
    } catch (e) {
      throw new GoferSetupError((e as Error)?.message ?? String(e), e instanceof ImageError);
    }
  }
  let host: HostServer | null = null;
  if (cfg.mounts.length) {
    try {
      host = new HostServer(cfg.mounts);
    } catch (e) {
      img?.close();
      throw new GoferSetupError(`volume: ${(e as Error)?.message ?? e}`, false);
    }
  }
  const server = new GoferServer(img ? new LowerServer(img.tree) : null, host);
  return {
    server,
    config: img?.config ?? { entrypoint: [], cmd: [], env: [], workingDir: '' },
    nodes: img?.tree.count ?? 0,
    close() {
      host?.closeAll();
      img?.close();
    },
  };
}
