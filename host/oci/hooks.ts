// OCI hooks (trusted): the bundle's prestart, createRuntime, poststart and poststop commands, run on
// the host as runc runs them: the hook's path with its args and env, the container's state (JSON)
// on stdin, and its timeout. A failing hook is an OciError naming it and its last line of stderr.
import { spawnSync } from 'node:child_process';
import type { Hook } from './bundle';
import { OciError } from './state';

/** Runs one OCI hook with the state on its stdin; a failure is an OciError. */
export function runHook(kind: string, h: Hook, stateText: string): void {
  const r = spawnSync(h.path, (h.args ?? [h.path]).slice(1), {
    input: stateText,
    env: h.env ? Object.fromEntries(h.env.map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)])) : {},
    argv0: h.args?.[0],
    timeout: h.timeout ? h.timeout * 1000 : undefined,
    encoding: 'utf8',
  });
  if (r.error) throw new OciError(`${kind} hook ${h.path}: ${r.error.message}`);
  if (r.status !== 0) throw new OciError(`${kind} hook ${h.path} failed (status ${r.status ?? r.signal}): ${(r.stderr || '').trim().split('\n').pop() ?? ''}`);
}

