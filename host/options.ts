// Parsing of the runsc- and docker-style options that describe a sandbox's file systems:
//   --overlay2 none | root:memory | root:self | root:dir=/abs/path   each with an optional ,size=N
//   -v / --volume HOST:GUEST[:ro]
// Mistakes are errors whose message names the flag.
import path from 'node:path';
import { parseSize } from './filestore';

export type Overlay2 =
  | { kind: 'none' }
  | { kind: 'memory'; size?: number }
  | { kind: 'self'; size?: number }
  | { kind: 'dir'; dir: string; size?: number };

export class OptionError extends Error {}

/** Parses an --overlay2 value. The default, as in runsc, is root:self. */
export function parseOverlay2(v: string): Overlay2 {
  const parts = v.split(',');
  const head = parts[0];
  let size: number | undefined;
  for (const p of parts.slice(1)) {
    const m = /^size=(.*)$/.exec(p);
    if (!m) throw new OptionError(`--overlay2: unknown option "${p}" (only size=N, e.g. size=512m)`);
    const n = parseSize(m[1]);
    if (!Number.isFinite(n) || n < 4096) throw new OptionError(`--overlay2: size=${m[1]}: not a size (use e.g. 512m or 2g)`);
    size = n;
  }
  if (head === 'none') {
    if (size !== undefined) throw new OptionError('--overlay2: none takes no size');
    return { kind: 'none' };
  }
  if (head === 'root:memory') return { kind: 'memory', size };
  if (head === 'root:self') return { kind: 'self', size };
  if (head.startsWith('root:dir=')) {
    const dir = head.slice('root:dir='.length);
    if (!path.isAbsolute(dir)) throw new OptionError(`--overlay2: dir=${dir}: the directory must be an absolute path`);
    return { kind: 'dir', dir, size };
  }
  throw new OptionError(`--overlay2: "${v}" is not none, root:memory, root:self or root:dir=/abs/path`);
}

export interface Volume {
  host: string;
  guest: string;
  readonly: boolean;
}

/** Parses a -v value, HOST:GUEST[:ro|:rw]; HOST must be an existing directory (checked by the caller). */
export function parseVolume(v: string): Volume {
  const parts = v.split(':');
  let readonly = false;
  if (parts.length === 3) {
    if (parts[2] === 'ro') readonly = true;
    else if (parts[2] !== 'rw') throw new OptionError(`-v ${v}: the mode must be ro or rw`);
  } else if (parts.length !== 2) {
    throw new OptionError(`-v ${v}: expected HOST:GUEST[:ro]`);
  }
  const [host, guest] = parts;
  if (!host || !path.isAbsolute(host)) throw new OptionError(`-v ${v}: the host path must be absolute`);
  if (!guest || !guest.startsWith('/')) throw new OptionError(`-v ${v}: the guest path must be absolute`);
  if (path.posix.normalize(guest) === '/') throw new OptionError(`-v ${v}: cannot mount over /`);
  return { host: path.resolve(host), guest: path.posix.normalize(guest), readonly };
}
