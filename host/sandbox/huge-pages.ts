// Transparent huge pages for the guests' WebAssembly memories (Node host only): every guest
// process's memory is advised MADV_HUGEPAGE through the native addon before its first
// instruction runs, over V8's reservation for it past its first 2 MiB, so that the pages a memory
// grows into later are huge too. On the VMs this project runs on, a 4 KiB page costs ~10 µs to
// fault in and a 2 MiB page ~120 µs: a guest that takes 256 MiB at once and fills it spends
// 670-920 ms in page faults with small pages, 34-580 ms with huge ones (as the host finds free
// 2 MiB pages; bench/results/analysis.md). A heap that grows a little at a time stays in small
// pages (a huge page must be accessible whole at its first touch). Where the kernel has no
// transparent huge pages or no PROCMAP_QUERY (Linux < 6.11), or the addon is missing, nothing
// changes. WASMBOX_HUGE_PAGES=0 turns the advice off (to measure without it).
import { loadNative } from '../../native/index';

/** V8 reserves at least this much address space for a 32-bit memory with guard regions. */
const RESERVE = 2 ** 32;
/**
 * The first 2 MiB stay in small pages: a small program's data, stack and heap lie there, and one
 * that touches a few dozen pages would pay more for zeroing a huge page (300 runs of /bin/true from
 * a shell: 4% slower with it advised too).
 */
const SMALL = 2 ** 21;

export interface HugePages {
  /** Advises `mem` (best effort: never throws). */
  advise(mem: WebAssembly.Memory): void;
  /** For --stats: "N memories, M MiB" or why none. */
  stat(): string;
}

export function hugePages(): HugePages {
  const native = loadNative().addon;
  const why = process.env.WASMBOX_HUGE_PAGES === '0' ? 'off (WASMBOX_HUGE_PAGES=0)' : !native?.hugePages ? `off (native addon: ${loadNative().reason ?? 'lacks hugePages'})` : null;
  let memories = 0;
  let bytes = 0;
  return {
    advise(mem) {
      if (why) return;
      try {
        const n = native!.hugePages!(mem.buffer, SMALL, RESERVE);
        if (n > 0) {
          memories++;
          bytes += n;
        }
      } catch {
        // advice only
      }
    },
    stat: () => why ?? `advised (${memories} memories, ${Math.round(bytes / 2 ** 20)} MiB of address space)`,
  };
}
