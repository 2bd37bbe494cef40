// The gofer client: encodes requests into a kernel buffer, makes the synchronous call through the
// host, and checks the shape of every response before anyone reads it. Layouts come from the shared
// gofer/protocol/messages.ts. Responses land in one buffer (`resp`), valid until the next call.
import { gofer_call } from "../host";
import { E } from "../wasi/errno";
import {
  Chan, CloseReq, GetdentsReq, GetdentsResp, MountReq, MountResp, Msg, NodeReq, OpenReq, OpenResp, PReadReq, Stat,
} from "../../gofer/protocol/messages";

const REQ_SIZE: u32 = 65536;

/** Request buffer (REQ_SIZE bytes) and response buffer (Chan.Window bytes). Immutable after setup. */
export let req: usize = 0;
export let resp: usize = 0;
/** Length of the last response. */
export let respLen: u32 = 0;
/** Round trips made, for statistics. */
export let goferCalls: u64 = 0;

export function goferSetup(): void {
  req = heap.alloc(REQ_SIZE);
  resp = heap.alloc(<usize>Chan.Window);
}

/** Makes the call; returns 0 and sets respLen, or an errno. */
function call(id: u32, reqLen: u32): u32 {
  goferCalls++;
  const r = gofer_call(id, req, reqLen, resp, <u32>Chan.Window);
  if (r < 0) return <u32>-r;
  if (<u32>r > <u32>Chan.Window) return E.IO;
  respLen = <u32>r;
  return 0;
}

/** Mount: the root node of mount `m` (its Stat at resp+MountResp.Stat). */
export function goferMount(m: u32): u32 {
  store<u32>(req + MountReq.Mount, m);
  const e = call(Msg.Mount, MountReq.Bytes);
  if (e) return e;
  return respLen == MountResp.Bytes ? 0 : E.IO;
}

/**
 * Getdents: one batch of `dir`'s entries starting at `start`. On success the response holds
 * { count, next, entries }; the caller walks them with the offsets in GetdentsResp after checking
 * each record fits in respLen (getdentsCheck does it once for the whole batch).
 */
export function goferGetdents(dir: u32, start: u32): u32 {
  store<u32>(req + GetdentsReq.Dir, dir);
  store<u32>(req + GetdentsReq.Start, start);
  store<u32>(req + GetdentsReq.Max, 0xffffffff);
  const e = call(Msg.Getdents, GetdentsReq.Bytes);
  if (e) return e;
  return getdentsCheck();
}

function getdentsCheck(): u32 {
  if (respLen < <u32>GetdentsResp.Entries) return E.IO;
  const n = load<u32>(resp + GetdentsResp.Count);
  let off: u32 = GetdentsResp.Entries;
  for (let i: u32 = 0; i < n; i++) {
    if (off + GetdentsResp.EntName > respLen) return E.IO;
    const nameLen = load<u32>(resp + off + GetdentsResp.EntNameLen);
    if (nameLen == 0 || nameLen > 255) return E.IO;
    off += (GetdentsResp.EntName + nameLen + 7) & ~7;
    if (off > respLen) return E.IO;
  }
  return 0;
}

/** FStat / ReadLinkAt on a node. */
export function goferNodeCall(id: u32, node: u32): u32 {
  store<u32>(req + NodeReq.Node, node);
  return call(id, NodeReq.Bytes);
}

export function goferOpen(node: u32, flags: u32, handle: usize): u32 {
  store<u32>(req + OpenReq.Node, node);
  store<u32>(req + OpenReq.Flags, flags);
  const e = call(Msg.OpenAt, OpenReq.Bytes);
  if (e) return e;
  if (respLen != OpenResp.Bytes) return E.IO;
  store<u32>(handle, load<u32>(resp + OpenResp.Handle));
  return 0;
}

/** PRead: up to `len` (<= Chan.Window) bytes at `offset`, into resp[0, respLen). */
export function goferPRead(handle: u32, offset: u64, len: u32): u32 {
  store<u32>(req + PReadReq.Handle, handle);
  store<u32>(req + PReadReq.Length, len);
  store<u64>(req + PReadReq.Offset, offset);
  const e = call(Msg.PRead, PReadReq.Bytes);
  if (e) return e;
  return respLen <= len ? 0 : E.IO;
}

export function goferClose(handle: u32): void {
  store<u32>(req + CloseReq.Count, 1);
  store<u32>(req + CloseReq.Handles, handle);
  call(Msg.Close, CloseReq.Handles + 4);
}

// @ts-ignore: decorator
@inline export function statKind(stat: usize): u8 {
  return load<u8>(stat + Stat.Kind);
}
