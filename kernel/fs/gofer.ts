// The gofer client: encodes requests into a kernel buffer, makes the synchronous call through the
// host, and checks the shape of every response before anyone reads it. Layouts come from the shared
// gofer/protocol/messages.ts. Responses land in one buffer (`resp`), valid until the next call.
import { gofer_call } from "../host";
import { E } from "../wasi/errno";
import { NO_NODE } from "../vfs/inode";
import {
  AllocateReq, Chan, CloseReq, CreateReq, CreateResp, GetdentsReq, GetdentsResp, LinkReq, MkdirReq, MountReq, MountResp, Msg, OpenFlags,
  NodeFlags, NodeReq, NodeResp, OpenReq, OpenResp, PReadReq, PWriteReq, PWriteResp, Ref, RenameReq, SetFlagsReq, SetStatReq, SetStatResp, Stat,
  StatFSResp, SymlinkReq, UnlinkReq, WalkReq, WalkResp,
} from "../../gofer/protocol/messages";

const REQ_SIZE: u32 = <u32>Chan.Window;

/** Request buffer (REQ_SIZE bytes) and response buffer (Chan.Window bytes). Immutable after setup. */
export let req: usize = 0;
export let resp: usize = 0;
/** Length of the last response. */
export let respLen: u32 = 0;
/** Round trips made, for statistics. */
export let goferCalls: u64 = 0;

/**
 * References given back (Close) are sent in batches: a dropped name costs no round trip of its own.
 * The host keeps those objects a little longer; nothing else changes, since a reference is never
 * used again once given back. Flushed when full (CLOSE_BATCH), and by the close of an open host file
 * (goferCloseNow), which must not wait: the host sees that close (ext4 frees a file unlinked while
 * open only at its last close, a watcher waits for IN_CLOSE_WRITE, NFS writes back at close).
 */
const CLOSE_BATCH: u32 = 64;
let closing: usize = 0;
let closingCount: u32 = 0;

export function goferSetup(): void {
  req = heap.alloc(REQ_SIZE);
  resp = heap.alloc(<usize>Chan.Window);
  closing = heap.alloc(<usize>CLOSE_BATCH << 2);
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

/** StatFS of the file system holding `node`: copies blocks, bfree, files, ffree and bsize to `out` (filestat-like). */
export function goferStatFS(node: u32, out: usize): u32 {
  const e = goferNodeCall(Msg.StatFS, node);
  if (e) return e;
  if (respLen != StatFSResp.Bytes) return E.IO;
  store<u64>(out, load<u64>(resp + StatFSResp.Blocks));
  store<u64>(out, load<u64>(resp + StatFSResp.BlocksFree), 8);
  store<u64>(out, load<u64>(resp + StatFSResp.Files), 16);
  store<u64>(out, load<u64>(resp + StatFSResp.FilesFree), 24);
  store<u32>(out, load<u32>(resp + StatFSResp.BlockSize), 32);
  store<u64>(out, load<u64>(resp + StatFSResp.BlocksAvail), 48);
  return 0;
}

/** FSync (or, `dataOnly`, FDataSync: fdatasync on the host) of one open handle. */
export function goferFSync(handle: u32, dataOnly: bool): u32 {
  store<u32>(req + CloseReq.Count, 1);
  store<u32>(req + CloseReq.Handles, handle);
  return call(dataOnly ? Msg.FDataSync : Msg.FSync, CloseReq.Handles + 4);
}

/** Gives a node or handle back to the gofer (batched; see CLOSE_BATCH). */
export function goferClose(ref: u32): void {
  store<u32>(closing + (<usize>closingCount << 2), ref);
  if (++closingCount == CLOSE_BATCH) goferFlushCloses();
}

/** Gives an open file's handle back at once, with the references waiting in the batch (one call). */
export function goferCloseNow(ref: u32): void {
  goferClose(ref);
  goferFlushCloses();
}

/** Sends the batched Close now. */
export function goferFlushCloses(): void {
  if (closingCount == 0) return;
  store<u32>(req + CloseReq.Count, closingCount);
  memory.copy(req + CloseReq.Handles, closing, <usize>closingCount << 2);
  const len = CloseReq.Handles + (closingCount << 2);
  closingCount = 0;
  call(Msg.Close, len);
}

/** SetFlags: turns O_APPEND on or off on an open handle. */
export function goferAllocate(handle: u32, off: u64, len: u64): u32 {
  store<u32>(req + AllocateReq.Handle, handle);
  store<u32>(req + 4, 0);
  store<u64>(req + AllocateReq.Offset, off);
  store<u64>(req + AllocateReq.Length, len);
  return call(Msg.Allocate, AllocateReq.Bytes);
}

export function goferSetFlags(handle: u32, append: bool): u32 {
  store<u32>(req + SetFlagsReq.Handle, handle);
  store<u32>(req + SetFlagsReq.Flags, append ? <u32>OpenFlags.Append : 0);
  return call(Msg.SetFlags, SetFlagsReq.Bytes);
}

// @ts-ignore: decorator
@inline export function statKind(stat: usize): u8 {
  return load<u8>(stat + Stat.Kind);
}

/**
 * Walk (or WalkStat) of one name from `dir`. On success the step's node is at resp+8 and its Stat
 * at resp+16. A missing name is NOENT.
 */
export function goferWalkOne(dir: u32, name: usize, len: u32, handOut: bool): u32 {
  store<u32>(req + WalkReq.Dir, dir);
  store<u32>(req + WalkReq.Count, 1);
  store<u32>(req + WalkReq.Names, len);
  memory.copy(req + WalkReq.Names + 4, name, len);
  const total = (<u32>WalkReq.Names + 4 + len + 3) & ~3;
  memory.fill(req + WalkReq.Names + 4 + len, 0, total - (WalkReq.Names + 4 + len));
  const e = call(handOut ? Msg.Walk : Msg.WalkStat, total);
  if (e) return e;
  if (respLen != <u32>WalkResp.Steps + WalkResp.StepBytes || load<u32>(resp + WalkResp.Found) != 1) return E.IO;
  return 0;
}

/** SetStat: on success resp holds { failed mask, errno }. */
export function goferSetStat(node: u32, mask: u32, mode: u32, size: u64, atime: u64, mtime: u64): u32 {
  store<u32>(req + SetStatReq.Node, node);
  store<u32>(req + SetStatReq.Mask, mask);
  store<u32>(req + SetStatReq.Mode, mode);
  store<u32>(req + SetStatReq.Mode + 4, 0);
  store<u64>(req + SetStatReq.Size, size);
  store<u64>(req + SetStatReq.Atime, atime);
  store<u64>(req + SetStatReq.Mtime, mtime);
  const e = call(Msg.SetStat, SetStatReq.Bytes);
  if (e) return e;
  if (respLen != SetStatResp.Bytes) return E.IO;
  return load<u32>(resp + SetStatResp.Failed) != 0 ? max<u32>(load<u32>(resp + SetStatResp.Errno), 1) : 0;
}

/** OpenCreateAt: resp holds { node, handle, Stat }. */
export function goferCreate(dir: u32, name: usize, len: u32, flags: u32, mode: u32): u32 {
  store<u32>(req + CreateReq.Dir, dir);
  store<u32>(req + CreateReq.Flags, flags);
  store<u32>(req + CreateReq.Mode, mode);
  store<u32>(req + CreateReq.NameLen, len);
  memory.copy(req + CreateReq.Name, name, len);
  const e = call(Msg.OpenCreateAt, CreateReq.Name + len);
  if (e) return e;
  return respLen == CreateResp.Bytes ? 0 : E.IO;
}

/** Where PWrite data goes in the request buffer, and how much of it fits. */
export function pwriteBuffer(): usize {
  return req + PWriteReq.Data;
}
export const PWRITE_MAX: u32 = REQ_SIZE - PWriteReq.Data;

/**
 * PWrite of `len` bytes already at pwriteBuffer(); sets *written. With PWriteFlags.HasStat at
 * resp + PWriteResp.Flags, the file's Stat after it is at resp + PWriteResp.Stat.
 */
export function goferPWrite(handle: u32, offset: u64, len: u32, written: usize): u32 {
  store<u32>(req + PWriteReq.Handle, handle);
  store<u32>(req + PWriteReq.Length, len);
  store<u64>(req + PWriteReq.Offset, offset);
  const e = call(Msg.PWrite, PWriteReq.Data + len);
  if (e) return e;
  if (respLen != PWriteResp.Bytes) return E.IO;
  const n = load<u32>(resp + PWriteResp.Written);
  if (n > len) return E.IO;
  store<u32>(written, n);
  return 0;
}

/** MkdirAt: resp holds { node, flags, Stat }, or { node, flags } alone with NodeFlags.NoStat. */
export function goferMkdir(dir: u32, name: usize, len: u32, mode: u32): u32 {
  store<u32>(req + MkdirReq.Dir, dir);
  store<u32>(req + MkdirReq.Mode, mode);
  store<u32>(req + MkdirReq.NameLen, len);
  memory.copy(req + MkdirReq.Name, name, len);
  const e = call(Msg.MkdirAt, MkdirReq.Name + len);
  if (e) return e;
  if (respLen == NodeResp.Bytes) return 0;
  return respLen == <u32>NodeResp.Stat && (load<u32>(resp + NodeResp.Flags) & NodeFlags.NoStat) ? 0 : E.IO;
}

export function goferSymlink(dir: u32, name: usize, len: u32, target: usize, tlen: u32): u32 {
  store<u32>(req + SymlinkReq.Dir, dir);
  store<u32>(req + SymlinkReq.NameLen, len);
  store<u32>(req + SymlinkReq.TargetLen, tlen);
  memory.copy(req + SymlinkReq.Name, name, len);
  memory.copy(req + SymlinkReq.Name + len, target, tlen);
  const e = call(Msg.SymlinkAt, SymlinkReq.Name + len + tlen);
  if (e) return e;
  return respLen == NodeResp.Bytes ? 0 : E.IO;
}

export function goferLink(dir: u32, node: u32, name: usize, len: u32): u32 {
  store<u32>(req + LinkReq.Dir, dir);
  store<u32>(req + LinkReq.Node, node);
  store<u32>(req + LinkReq.NameLen, len);
  memory.copy(req + LinkReq.Name, name, len);
  const e = call(Msg.LinkAt, LinkReq.Name + len);
  if (e) return e;
  return respLen == NodeResp.Bytes ? 0 : E.IO;
}

export function goferUnlink(dir: u32, name: usize, len: u32, rmdir: bool, node: u32): u32 {
  store<u32>(req + UnlinkReq.Dir, dir);
  store<u32>(req + UnlinkReq.Node, node == NO_NODE ? Ref.None : node);
  store<u32>(req + UnlinkReq.Flags, rmdir ? <u32>UnlinkReq.RemoveDir : 0);
  store<u32>(req + UnlinkReq.NameLen, len);
  memory.copy(req + UnlinkReq.Name, name, len);
  return call(Msg.UnlinkAt, UnlinkReq.Name + len);
}

export function goferRename(oldDir: u32, oldName: usize, oldLen: u32, node: u32, newDir: u32, newName: usize, newLen: u32, victim: u32): u32 {
  store<u32>(req + RenameReq.OldDir, oldDir);
  store<u32>(req + RenameReq.Node, node == NO_NODE ? Ref.None : node);
  store<u32>(req + RenameReq.Victim, victim == NO_NODE ? Ref.None : victim);
  store<u32>(req + RenameReq.NewDir, newDir);
  store<u32>(req + RenameReq.OldLen, oldLen);
  store<u32>(req + RenameReq.NewLen, newLen);
  memory.copy(req + RenameReq.Names, oldName, oldLen);
  memory.copy(req + RenameReq.Names + oldLen, newName, newLen);
  return call(Msg.RenameAt, RenameReq.Names + oldLen + newLen);
}
