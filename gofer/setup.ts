// Building one sandbox's gofer: the lower tree (mount 0: the image's, or a host directory's with
// `lowerDir`) and the host trees (mounts 1..n), all from the host's configuration only, never from a
// request. Used by the worker entry and by the in-thread gofer alike. With both an image and a
// lowerDir, the image supplies only its config (Entrypoint, Cmd, Env, WorkingDir).
import path from 'node:path';
import { ImageError, LowerTree, openImage, type ImageConfig } from './image/index';
import type { CacheLimits } from './image/cache';
import type { SharedTree } from './image/share';
import { HostServer, type HiddenFile, type HostMount, type HostTree } from './hosttree';
import { HostDirect } from './hostdirect';
import { loadNative } from '../native/index';
import { HostLowerServer, type HostLowerConfig } from './hostlower';
import { GoferServer, LowerServer, type ReadOnlyTree } from './server';

export interface GoferConfig {
  image: string | null;
  /** A host directory served read-only as the lower (mount 0) instead of the image's tree. */
  lowerDir?: HostLowerConfig;
  mounts: HostMount[];
  cacheDir: string;
  /** Bounds on layer inflation and on the cache (image/cache.ts). */
  limits?: CacheLimits;
  /** Host files no mount may serve (the sandbox's filestore: hosttree.ts HiddenFile). */
  hidden?: HiddenFile[];
  /**
   * The image, already opened by another thread of this process and shared (share.ts): used
   * instead of opening `image`. Its descriptors stay the sharer's; close() leaves them open.
   */
  shared?: { tree: SharedTree; config: ImageConfig };
}

export interface Gofer {
  server: GoferServer;
  /** How host trees are served: 'direct (...)', 'checked, path-based (why)', or '' without any. */
  hostCalls: string;
  /** The image's config (empty without an image). */
  config: ImageConfig;
  /** What the user should be told once, as warnings (one line each): special files left out. */
  notes: string[];
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
  const notes: string[] = [];
  if (cfg.shared) {
    img = { tree: new LowerTree(cfg.shared.tree.tables), config: cfg.shared.config, close() {} };
  } else if (cfg.image !== null) {
    try {
      const opened = openImage(cfg.image, { cacheDir: cfg.cacheDir, progress, limits: cfg.limits });
      img = opened;
      // device nodes, FIFOs and sockets are not served (the sandbox has none): said once, not silently
      const skipped = opened.layers.reduce((n, l) => n + l.skipped, 0);
      if (skipped > 0) notes.push(`${path.basename(cfg.image)}: ${skipped} device node${skipped === 1 ? '' : 's'}, FIFOs or other special files in its layers are left out (the sandbox has no devices)`);
    } catch (e) {
      throw new GoferSetupError((e as Error)?.message ?? String(e), e instanceof ImageError);
    }
  }
  let lowerDir: HostLowerServer | null = null;
  if (cfg.lowerDir) {
    try {
      lowerDir = new HostLowerServer({ ...cfg.lowerDir, hidden: cfg.hidden });
    } catch (e) {
      img?.close();
      throw new GoferSetupError(`rootfs ${cfg.lowerDir.path}: ${(e as Error)?.message ?? e}`, false);
    }
  }
  let host: HostTree | null = null;
  let hostCalls = '';
  if (cfg.mounts.length) {
    try {
      // through held descriptors where the addon and openat2 allow, else the checked path-based calls
      const native = loadNative();
      const why = process.env.WASMBOX_HOST_CALLS === 'checked' ? 'WASMBOX_HOST_CALLS=checked' : HostDirect.unavailable(native.addon, native.reason);
      host = why === null ? new HostDirect(cfg.mounts, native.addon!, cfg.hidden) : new HostServer(cfg.mounts, cfg.hidden);
      hostCalls = why === null ? 'direct (openat2, held descriptors)' : `checked, path-based (${why})`;
    } catch (e) {
      lowerDir?.closeAll();
      img?.close();
      throw new GoferSetupError(`volume: ${(e as Error)?.message ?? e}`, false);
    }
  }
  const lower: ReadOnlyTree | null = lowerDir ?? (img ? new LowerServer(img.tree) : null);
  const server = new GoferServer(lower, host);
  return {
    server,
    hostCalls,
    config: img?.config ?? { entrypoint: [], cmd: [], env: [], workingDir: '', platform: '' },
    notes,
    nodes: lowerDir ? lowerDir.count : img?.tree.count ?? 0,
    close() {
      host?.closeAll();
      lowerDir?.closeAll();
      img?.close();
    },
  };
}
