// The batched messages' wire forms, shared by the read-only trees' handlers (server.ts for an image,
// hostlower.ts for a host directory): Walk's list of names in, its steps out, and Getdents' entry
// records. Everything is bounds-checked against the request's length and the channel's window.
import { E } from '../kernel/wasi/errno';
import { validName } from './names';
import { Chan, GetdentsResp, WalkReq, WalkResp } from './protocol/messages';

/**
 * The names of a Walk request, as offset and length pairs into w (every one checked to be a single
 * component, the request to end exactly after the last), or -errno.
 */
export function walkNames(len: number, w: Uint8Array, dv: DataView): number[] | number {
  const count = dv.getUint32(WalkReq.Count, true);
  if (count === 0 || count > 4096) return -E.INVAL;
  const offs: number[] = [];
  let off = WalkReq.Names;
  for (let i = 0; i < count; i++) {
    if (off + 4 > len) return -E.INVAL;
    const n = dv.getUint32(off, true);
    off += 4;
    if (n > 255 || off + n > len || !validName(w, off, n)) return -E.INVAL;
    offs.push(off, n);
    off += (n + 3) & ~3;
  }
  if (off !== len) return -E.INVAL;
  if (WalkResp.Steps + count * WalkResp.StepBytes > Chan.Window) return -E.INVAL;
  return offs;
}

/** Writes Walk's response for the nodes met (at least one); returns its length. */
export function walkResponse(dv: DataView, steps: number[], writeStat: (dv: DataView, at: number, node: number) => void): number {
  dv.setUint32(WalkResp.Found, steps.length, true);
  dv.setUint32(4, 0, true);
  let at = WalkResp.Steps;
  for (const n of steps) {
    dv.setUint32(at + WalkResp.StepNode, n, true);
    dv.setUint32(at + 4, 0, true);
    writeStat(dv, at + WalkResp.StepStat, n);
    at += WalkResp.StepBytes;
  }
  return at;
}

/**
 * Writes one Getdents batch: entries start.. of `total`, at most `max`, as many as fit the window.
 * `entry(i)` gives entry i's node and name bytes. Returns the response length and the next index
 * (total when the listing is done).
 */
export function direntBatch(
  w: Uint8Array,
  dv: DataView,
  start: number,
  total: number,
  max: number,
  entry: (i: number) => { node: number; name: Uint8Array },
  writeStat: (dv: DataView, at: number, node: number) => void,
): { length: number; next: number } {
  let at = GetdentsResp.Entries;
  let i = start;
  let count = 0;
  while (i < total && count < max) {
    const { node, name } = entry(i);
    const rec = (GetdentsResp.EntName + name.length + 7) & ~7;
    if (at + rec > Chan.Window) break;
    dv.setUint32(at + GetdentsResp.EntNode, node, true);
    dv.setUint32(at + GetdentsResp.EntNameLen, name.length, true);
    writeStat(dv, at + GetdentsResp.EntStat, node);
    w.set(name, at + GetdentsResp.EntName);
    at += rec;
    i++;
    count++;
  }
  dv.setUint32(GetdentsResp.Count, count, true);
  dv.setUint32(GetdentsResp.Next, i >= total ? GetdentsResp.End : i, true);
  return { length: at, next: i };
}
