// The shared-memory channel between the sandbox thread (client) and the gofer worker (server).
//
// One SharedArrayBuffer: a control block of Int32 words (layout in protocol/messages.ts, Chan) and a
// payload window of Chan.Window bytes that carries the request, then the response. Exactly one
// request is in flight. The client writes the payload, stores id and length, flips State to Request
// and notifies; the server handles it, writes errno, length and payload, flips State to Response and
// notifies; the client reads the response and flips State back to Idle. Both sides spin briefly
// before sleeping in Atomics.wait, because a round trip is usually a few microseconds.
//
// The server's side is trusted; the client's is the sandbox's. The server never trusts the length
// word: it is clamped to the window before use.
import { Chan } from './protocol/messages';

export const CHANNEL_BYTES = Chan.WindowOffset + Chan.Window;

/**
 * How long each side spins (busy-polls the state word) before sleeping in Atomics.wait: a futex
 * wake-up costs tens of microseconds, a round trip with both sides awake a few. The client spins
 * for its answer; the server spins after each answer, since requests come in bursts.
 */
const CLIENT_SPIN_MS = 0.05;
const SERVER_SPIN_MS = 0.2;

/** Polls the state word while it equals `value`, for at most `ms`; returns the last state seen. */
function spinWhile(ctl: Int32Array, value: number, ms: number): number {
  let state = Atomics.load(ctl, Chan.State);
  if (state !== value) return state;
  const end = performance.now() + ms;
  for (let i = 1; ; i++) {
    state = Atomics.load(ctl, Chan.State);
    if (state !== value) return state;
    if ((i & 63) === 0 && performance.now() > end) return state;
  }
}

/** Polls the state word until it equals `value`, for at most `ms`; returns the last state seen. */
function spinUntil(ctl: Int32Array, value: number, ms: number): number {
  const end = performance.now() + ms;
  for (let i = 1; ; i++) {
    const state = Atomics.load(ctl, Chan.State);
    if (state === value) return state;
    if ((i & 63) === 0 && performance.now() > end) return state;
  }
}

export function createChannelBuffer(): SharedArrayBuffer {
  return new SharedArrayBuffer(CHANNEL_BYTES);
}

/** The sandbox end. */
export class ChannelClient {
  readonly ctl: Int32Array;
  readonly window: Uint8Array;
  /** How long to wait for one response before declaring the gofer dead (ms). */
  timeoutMs = 60_000;

  constructor(sab: SharedArrayBuffer) {
    this.ctl = new Int32Array(sab, 0, Chan.WindowOffset >> 2);
    this.window = new Uint8Array(sab, Chan.WindowOffset, Chan.Window);
  }

  /**
   * Sends the request already in window[0, len) and waits for the answer. Returns the response
   * length (payload in window[0, n)), or a negated errno.
   */
  call(id: number, len: number): number {
    const ctl = this.ctl;
    if (Atomics.load(ctl, Chan.Dead) !== 0) return -29; // EIO
    ctl[Chan.Id] = id;
    ctl[Chan.Length] = len;
    Atomics.store(ctl, Chan.State, Chan.Request);
    Atomics.notify(ctl, Chan.State, 1);
    let state = spinWhile(ctl, Chan.Request, CLIENT_SPIN_MS);
    if (state !== Chan.Response) {
      const deadline = Date.now() + this.timeoutMs;
      while ((state = Atomics.load(ctl, Chan.State)) !== Chan.Response) {
        if (Atomics.load(ctl, Chan.Dead) !== 0 || Date.now() > deadline) {
          Atomics.store(ctl, Chan.Dead, 1);
          return -29; // EIO: the gofer is gone
        }
        Atomics.wait(ctl, Chan.State, Chan.Request, 100);
      }
    }
    const errno = ctl[Chan.Errno];
    const n = ctl[Chan.Length];
    Atomics.store(ctl, Chan.State, Chan.Idle);
    if (errno !== 0) return -errno;
    return n >= 0 && n <= Chan.Window ? n : -29;
  }

  /** Whether the server has stopped (it marked the channel dead, or a call gave up on it). */
  isDead(): boolean {
    return Atomics.load(this.ctl, Chan.Dead) !== 0;
  }

  /** Marks the channel dead (the worker exited); later calls fail with EIO at once. */
  markDead(): void {
    Atomics.store(this.ctl, Chan.Dead, 1);
    Atomics.notify(this.ctl, Chan.State);
  }
}

/** What serves requests: given (id, payload in window[0, len)), writes the response and returns its length or a negated errno. */
export type Handler = (id: number, len: number, window: Uint8Array) => number;

/** Marks a channel dead from the server's side (the gofer is going away): clients fail with EIO at once. */
export function markChannelDead(sab: SharedArrayBuffer): void {
  const ctl = new Int32Array(sab, 0, Chan.WindowOffset >> 2);
  Atomics.store(ctl, Chan.Dead, 1);
  Atomics.notify(ctl, Chan.State);
}

/** The gofer end: serves requests forever (until `stop` returns true while idle). */
export function serveChannel(sab: SharedArrayBuffer, handle: Handler, stop: () => boolean = () => false): void {
  const ctl = new Int32Array(sab, 0, Chan.WindowOffset >> 2);
  const window = new Uint8Array(sab, Chan.WindowOffset, Chan.Window);
  for (;;) {
    let state = Atomics.load(ctl, Chan.State);
    if (state !== Chan.Request) state = spinUntil(ctl, Chan.Request, SERVER_SPIN_MS);
    while (state !== Chan.Request) {
      if (stop() || Atomics.load(ctl, Chan.Dead) !== 0) return;
      Atomics.wait(ctl, Chan.State, state, 1000);
      state = Atomics.load(ctl, Chan.State);
    }
    const id = ctl[Chan.Id];
    const len = ctl[Chan.Length];
    let r: number;
    if (len < 0 || len > Chan.Window) r = -28; // EINVAL
    else {
      try {
        r = handle(id, len, window);
      } catch {
        r = -29; // EIO: a handler bug must not take the gofer down
      }
    }
    if (r < 0) {
      ctl[Chan.Errno] = -r;
      ctl[Chan.Length] = 0;
    } else {
      ctl[Chan.Errno] = 0;
      ctl[Chan.Length] = r;
    }
    Atomics.store(ctl, Chan.State, Chan.Response);
    Atomics.notify(ctl, Chan.State, 1);
  }
}
