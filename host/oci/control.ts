// The sandbox's control socket protocol (trusted on both ends: the runtime's own processes, as root,
// through a 0700 state directory): how `start` releases a created sandbox and how an exec proxy runs
// a process in it and carries that process's stdio and exit status.
//
// A connection carries frames: type u8, length u32 LE, payload. The client's first frame is a
// Request (JSON); the server answers with one Reply (JSON). For `start` that is all. For `exec`, if
// the reply is ok, the process runs: the client sends Stdin frames (an empty one is end of input)
// and Signal frames (u32 signal number); the server sends Stdout and Stderr frames, then one Exit
// frame (u32 status) and closes. A client that goes away ends its process as SIGKILL would (137).
import type net from 'node:net';

export const enum Frame {
  Request = 1,
  Reply = 2,
  Stdin = 3,
  Stdout = 4,
  Stderr = 5,
  Exit = 6,
  Signal = 7,
}

export type Request =
  | { op: 'start' }
  | { op: 'exec'; args: string[]; env: string[]; cwd: string; terminal: boolean; uid?: number; gid?: number };

export type Reply = { ok: true } | { ok: false; error: string; status: number };

/** Largest frame accepted (a stdio chunk is at most 256 KiB; a request a few KiB). */
const MAX_FRAME = 1 << 20;

export function frame(type: Frame, payload: Uint8Array | string = new Uint8Array(0)): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const head = Buffer.alloc(5);
  head.writeUInt8(type, 0);
  head.writeUInt32LE(body.length, 1);
  return Buffer.concat([head, body]);
}

export function u32Frame(type: Frame, n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0, 0);
  return frame(type, b);
}

/** Calls `on` with each whole frame arriving on `sock`; a frame too long ends the connection. */
export function readFrames(sock: net.Socket, on: (type: number, payload: Buffer) => void): void {
  let buf: Buffer = Buffer.alloc(0);
  sock.on('data', (d: Buffer) => {
    buf = buf.length ? Buffer.concat([buf, d]) : d;
    while (buf.length >= 5) {
      const len = buf.readUInt32LE(1);
      if (len > MAX_FRAME) {
        sock.destroy();
        return;
      }
      if (buf.length < 5 + len) break;
      const type = buf.readUInt8(0);
      const payload = buf.subarray(5, 5 + len);
      buf = buf.subarray(5 + len);
      on(type, payload);
    }
  });
}
