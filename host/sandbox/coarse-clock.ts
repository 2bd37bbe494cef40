// The kernel's coarse clock (Node host only; kernel/host.ts, COARSE TIME): the addon's ticker
// thread stores the time in the kernel's memory every millisecond, so that the kernel stamps inode
// times (a write's mtime, a create's, an unlink's) with a load instead of a call to the host's
// now_us (~50 ns from WebAssembly, one or two per such call). The kernel marks each time it takes
// it; 256 ms without, the ticker parks and stores 0, the kernel calls now_us again, and the first
// such call wakes the ticker. Without the addon, or for a kernel memory whose address V8 may move,
// there is no ticker and every stamp is a call, as before. WASMBOX_COARSE_CLOCK=0 turns it off
// (for comparison).
import { loadNative, type ClockTicker } from '../../native/index';
import type { Kernel } from './kernel';

export interface CoarseClock {
  /** Ends the ticker (idempotent). */
  stop(): void;
  /** For --stats: "coarse (ticker)" or why not. */
  stat(): string;
}

export function coarseClock(kernel: Kernel): CoarseClock {
  const native = loadNative().addon;
  const off = (why: string): CoarseClock => ({ stop() {}, stat: () => `fine only (${why})` });
  if (process.env.WASMBOX_COARSE_CLOCK === '0') return off('WASMBOX_COARSE_CLOCK=0');
  if (!native?.clockTicker || !native.clockWake || !native.clockStop) return off(`native addon: ${loadNative().reason ?? 'lacks clockTicker'}`);
  if (typeof kernel.exports.clock_slot !== 'function') return off('the kernel has no clock slot');
  const slot = kernel.exports.clock_slot() >>> 0;
  let ticker: ClockTicker | null;
  try {
    ticker = native.clockTicker(kernel.memory(), slot);
  } catch (e) {
    return off(`clockTicker: ${(e as Error).message}`);
  }
  if (!ticker) return off("the kernel's memory may move");
  const t = ticker;
  // the slot's top byte is 0 only while the ticker is parked (ns since 1970 need 61 bits)
  kernel.onClockRead = () => {
    if (kernel.view()[slot + 7] === 0) native.clockWake!(t);
  };
  let stopped = false;
  return {
    stop() {
      if (stopped) return;
      stopped = true;
      kernel.onClockRead = null;
      native.clockStop!(t);
    },
    stat: () => 'coarse (a ticker every 1 ms)',
  };
}
