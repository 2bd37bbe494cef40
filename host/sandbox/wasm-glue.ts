// The WebAssembly glue (trusted): the guest's commonest file calls as a small WebAssembly module
// that calls the kernel's exports directly, with no JavaScript between the guest and the kernel.
//
// WHY. What a call costs in a run's first few thousand calls is mostly how long V8 takes to compile
// the JavaScript the call runs (bench/results/analysis.md, "The first pass call by call"): a
// bind-mount pwrite paid 1.3-1.9 µs until about the 6,000th call against node:wasi's steady 0.64,
// while V8 compiled the glue's import wrappers, rwFast and the gofer's hostIO. WebAssembly has no
// such phase worth the name: these functions are small, and the kernel's own code is precompiled.
//
// WHAT. fd_read, fd_write, fd_pread and fd_pwrite of one iovec (the glue's FAST PATH, glue.ts),
// fd_filestat_get, fd_fdstat_get, path_filestat_get, path_open, fd_close, fd_seek, fd_tell,
// path_unlink_file, path_create_directory, path_remove_directory, path_rename and fd_readdir: the
// calls of one path or none and a result of a few words (or a listing, copied out by JavaScript).
// (With stat alone here, open paid for compiling the JavaScript glue's path copy that stat had
// warmed: what stays JavaScript should be what is rare. wasi-libc's open() asks for its
// directory's fdstat before each path_open, so fd_fdstat_get is as common as open.) The module (G, one instance per process) imports the
// guest's memory and the kernel's exports; it checks every guest pointer and length against the
// guest's memory as the JavaScript glue does (EFAULT before anything happens), copies a path into
// the kernel's exchange area and a result struct out of it 8 bytes at a time (io_put, io_dword: G
// cannot see the kernel's memory), and reads the kernel's I/O plan the same way. It calls out to
// JavaScript only to move the bytes: a host file's by the gofer in this thread (`host`), a
// filestore page's (`page`: the filestore is not a WebAssembly memory; a write of up to PIECED_MAX
// bytes over several pages, a page at a time), and for any other plan, the JavaScript glue's rw
// with the plan made (`rw`). The kernel is untrusted:
// every word G reads from it is checked before use, as rwFast checks it; a count the kernel or the
// gofer gets wrong is a KernelFault (`fault`).
//
// TRAMPOLINES. The guest imports its functions before its memory exists (it exports it), so the
// guest gets a second module's functions (T), each a call_indirect through a table that holds G's
// once G is made (WasmGlue.bind). A guest whose memory G cannot import (a shared memory) gets the
// JavaScript glue's functions in that table instead, through a third module (J) that re-exports
// them (only then compiled). T imports nothing: at each instantiation a JavaScript import costs a
// wrapper compiled for its signature, 0.6-1 ms for T's.
//
// KERNEL FAULTS. A trap in the kernel under G reaches the guest's caller as a WebAssembly trap,
// with no import wrapper to tell it from the guest's own (process.ts guard). G sets its exported
// global `kin` while it runs kernel code, so runModule can tell (WasmGlue.inKernel).
//
// The modules' text is built here from the ABI's constants (kernel/abi.ts), assembled by the build
// (scripts/build.mjs, binaryen) into dist/wasm-glue.wasm, -t.wasm and -j.wasm, each stamped with
// the lists it was made from (glueStamp), and loaded by host/sandbox/kernel-node.ts (in Node) and
// host/web/sandbox-worker.ts (in the browser). Nothing here imports Node's modules.
import { Io, IoFlag, Page, Plan, PlanFlag, Readdir, Seg } from '../../kernel/abi';
import { E } from '../../kernel/wasi/errno';

/** The guest imports the WebAssembly glue serves, in its table's order, with their parameter types. */
export const GLUE_CALLS: readonly (readonly [string, string])[] = [
  ['fd_read', 'i32 i32 i32 i32'],
  ['fd_write', 'i32 i32 i32 i32'],
  ['fd_pread', 'i32 i32 i32 i64 i32'],
  ['fd_pwrite', 'i32 i32 i32 i64 i32'],
  ['fd_filestat_get', 'i32 i32'],
  ['fd_fdstat_get', 'i32 i32'],
  ['path_filestat_get', 'i32 i32 i32 i32 i32'],
  ['path_open', 'i32 i32 i32 i32 i32 i64 i64 i32 i32'],
  ['fd_close', 'i32'],
  ['fd_seek', 'i32 i64 i32 i32'],
  ['fd_tell', 'i32 i32'],
  ['path_unlink_file', 'i32 i32 i32'],
  ['path_create_directory', 'i32 i32 i32'],
  ['path_remove_directory', 'i32 i32 i32'],
  ['path_rename', 'i32 i32 i32 i32 i32 i32'],
  ['fd_readdir', 'i32 i32 i32 i64 i32'],
];

/** The kernel's exports G calls, with their types. */
const KERNEL_CALLS: readonly (readonly [string, string])[] = [
  ['fd_io', '(param i32 i32 i32 i64 i32) (result i32)'],
  ['io_commit', '(param i32 i32) (result i32)'],
  ['io_word', '(param i32) (result i32)'],
  ['io_dword', '(param i32) (result i64)'],
  ['io_put', '(param i32 i64)'],
  ['fd_filestat_get', '(param i32 i32) (result i32)'],
  ['fd_fdstat_get', '(param i32 i32) (result i32)'],
  ['path_filestat_get', '(param i32 i32 i32 i32) (result i32)'],
  ['path_open', '(param i32 i32 i32 i32 i32 i64 i64 i32) (result i32)'],
  ['fd_close', '(param i32 i32) (result i32)'],
  ['fd_seek', '(param i32 i32 i64 i32) (result i32)'],
  ['fd_tell', '(param i32 i32) (result i32)'],
  ['path_unlink_file', '(param i32 i32 i32) (result i32)'],
  ['path_create_directory', '(param i32 i32 i32) (result i32)'],
  ['path_remove_directory', '(param i32 i32 i32) (result i32)'],
  ['path_rename', '(param i32 i32 i32 i32 i32) (result i32)'],
  ['fd_readdir', '(param i32 i32 i32 i64) (result i32)'],
];
/** The calls of one path and an errno: glue.ts's `rpath(p, l, PATH1) || k.NAME(pid, fd, l)`. */
const PATH_CALLS = ['path_unlink_file', 'path_create_directory', 'path_remove_directory'];

/** Linux caps one read or write at this many bytes (MAX_RW_COUNT), as glue.ts does. */
const MAX_RW = 0x7ffff000;
/** What the addon's hostRw answers for a call it leaves to `host` (native/index.ts HOST_RW_ASK). */
const HOST_RW_ASK = -65536;
/** A Seg.Host file offset's high word must keep it below 2^53 (an exact JavaScript number). */
const HOST_HI_LIMIT = 0x200000;

/** Why G stopped: the message of the KernelFault that `fault(code)` throws. */
export const GLUE_FAULTS: Record<number, string> = {
  1: 'the gofer moved more than it was asked to',
  2: 'commit wrote more than was planned',
  3: 'readdir result out of bounds',
};

/**
 * What the build writes into each module as its custom section "wasmbox.glue", and what the host
 * checks there: a dist/ whose modules were made from other lists (a partial rebuild) is not used.
 * Bump GLUE_VERSION when G's contract with the JavaScript side changes without the lists changing.
 */
const GLUE_VERSION = 2;
export function glueStamp(): string {
  return JSON.stringify([GLUE_VERSION, GLUE_CALLS, KERNEL_CALLS]);
}

/**
 * The text of the trampolines (T): no imports (a JavaScript import costs a wrapper compiled at
 * each instantiation), and a table that holds, until G is made, a function per call that answers
 * EFAULT: the guest's memory is not known to the host yet (only a start function can call then,
 * and the JavaScript glue answers such a call's pointers with EFAULT as well).
 */
export function trampolineText(): string {
  const types = GLUE_CALLS.map(([n, p]) => `(type $${n} (func (param ${p}) (result i32)))`);
  const early = GLUE_CALLS.map(([n]) => `(func $early_${n} (type $${n}) (i32.const ${E.FAULT}))`);
  const funcs = GLUE_CALLS.map(([n, p], i) => {
    const args = p.split(' ').map((_, k) => `(local.get ${k})`).join(' ');
    return `(func (export "${n}") (type $${n}) (call_indirect (type $${n}) ${args} (i32.const ${i})))`;
  });
  const n = GLUE_CALLS.length;
  return `(module
  ${types.join('\n  ')}
  (table (export "t") ${n} ${n} funcref)
  ${early.join('\n  ')}
  (elem (i32.const 0) func ${GLUE_CALLS.map(([c]) => `$early_${c}`).join(' ')})
  ${funcs.join('\n  ')}
)`;
}

/**
 * The text of the JavaScript glue's functions as WebAssembly functions (J), for T's table when G
 * cannot be made (WasmGlue.bind): it imports them and exports them again. Compiled only then.
 */
export function fallbackText(): string {
  const types = GLUE_CALLS.map(([n, p]) => `(type $${n} (func (param ${p}) (result i32)))`);
  const imports = GLUE_CALLS.map(([n]) => `(import "j" "${n}" (func $j_${n} (type $${n})))`);
  const exports = GLUE_CALLS.map(([n]) => `(export "${n}" (func $j_${n}))`);
  return `(module
  ${types.join('\n  ')}
  ${imports.join('\n  ')}
  ${exports.join('\n  ')}
)`;
}

/**
 * The longest write into filestore pages G copies itself, a page at a time through `page`, when it
 * spans more than one page (an 8 or 16 KiB database page). Each piece is a call, where the
 * JavaScript glue copies a segment's consecutive pages at once: random writes over 1 GiB gain by
 * the addon's streamed stores (8 KiB: 1.77-1.98 µs a call by the JavaScript glue, 0.91-0.98 in
 * pieces; 16 KiB: 2.68-2.94 against 1.41-1.68), reads do not (8 KiB: 1.64-1.79 against 1.50-2.00;
 * 16 KiB 2.23-2.44 against 2.58-2.87), and longer plans would pay a call a page.
 */
const PIECED_MAX = 16384;

/** The text of the glue itself (G). */
export function glueText(): string {
  if (IoFlag.WRITE !== 1 || IoFlag.AT !== 2) throw new Error('wasm-glue: IoFlag changed; G builds the flags from write and at');
  const res = (word: number) => Io.RES + 4 * word;
  const seg = (word: number) => Io.SEGS + 4 * word;
  // the struct's 16 words, from the exchange area to the guest
  const struct64 = Array.from({ length: 8 }, (_, i) => `(i64.store offset=${8 * i} align=1 (local.get $ptr) (call $k_io_dword (i32.const ${Io.STRUCT + 8 * i})))`).join('\n    ');
  return `(module
  (import "g" "memory" (memory 0))
  ${KERNEL_CALLS.map(([n, t]) => `(import "k" "${n}" (func $k_${n} ${t}))`).join('\n  ')}
  (import "j" "host" (func $host (param i32 i32 i32 i32 i32 i32) (result i32)))
  ;; the same call made by the addon (or host itself); ${HOST_RW_ASK}: host must make it
  (import "j" "nhost" (func $nhost (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "j" "page" (func $page (param i32 i32 i32 i32 i32) (result i32)))
  (import "j" "rw" (func $slow (param i32 i32 i32 i32 i64 i32 i32 i32) (result i32)))
  (import "j" "fault" (func $fault (param i32)))
  (import "j" "out" (func $out (param i32 i32 i32)))
  (import "j" "check" (func $check))
  (import "j" "checking" (global $checking i32))
  (import "j" "pid" (global $pid i32))
  ;; 1 while kernel code runs under G (KERNEL FAULTS)
  (global $kin (export "kin") (mut i32) (i32.const 0))

  ;; whether [p, p+n) lies in the guest's memory
  (func $in (param $p i32) (param $n i32) (result i32)
    (i64.le_u (i64.add (i64.extend_i32_u (local.get $p)) (i64.extend_i32_u (local.get $n)))
              (i64.shl (i64.extend_i32_u (memory.size)) (i64.const 16))))

  ;; A plan's \`nsegs\` segments, \`bytes\` in all (checked by the caller to be at most the guest's
  ;; range at p), copied piece by piece, a page at most each, through \`page\`. 1 when all were; 0 when
  ;; a segment is not a filestore page's, crosses a chunk or runs past \`bytes\`, there are more
  ;; segments than a plan holds, the lengths do not add up, or \`page\` left a piece to the caller. The
  ;; caller then hands the whole plan to the JavaScript glue, which copies it all again (the same
  ;; bytes to the same places) and faults the kernel for a plan it finds wrong.
  (func $pages (param $write i32) (param $p i32) (param $nsegs i32) (param $bytes i32) (result i32)
    (local $i i32) (local $w i32) (local $done i32) (local $len i32) (local $a i32) (local $b i32) (local $n i32)
    (if (i32.gt_u (local.get $nsegs) (i32.const ${Io.MAX_SEGS})) (then (return (i32.const 0))))
    (block $segs (loop $seg
      (br_if $segs (i32.ge_u (local.get $i) (local.get $nsegs)))
      (local.set $w (i32.add (i32.const ${Io.SEGS}) (i32.mul (local.get $i) (i32.const ${Io.SEG_BYTES}))))
      (if (i32.ne (call $k_io_word (local.get $w)) (i32.const ${Seg.Page})) (then (return (i32.const 0))))
      (local.set $len (call $k_io_word (i32.add (local.get $w) (i32.const 4))))
      (local.set $a (call $k_io_word (i32.add (local.get $w) (i32.const 8))))
      (local.set $b (call $k_io_word (i32.add (local.get $w) (i32.const 12))))
      (if (i32.or (i32.gt_u (local.get $len) (i32.sub (local.get $bytes) (local.get $done))) (i32.ge_u (local.get $b) (i32.const ${Page.SIZE})))
        (then (return (i32.const 0))))
      ;; within one chunk, as the JavaScript glue requires
      (if (i64.gt_u
            (i64.add (i64.shl (i64.extend_i32_u (i32.and (local.get $a) (i32.const ${Page.CHUNK_PAGES - 1}))) (i64.const ${Page.SHIFT}))
                     (i64.add (i64.extend_i32_u (local.get $b)) (i64.extend_i32_u (local.get $len))))
            (i64.const ${Page.CHUNK_PAGES * Page.SIZE}))
        (then (return (i32.const 0))))
      (block $pieces (loop $piece
        (br_if $pieces (i32.eqz (local.get $len)))
        (local.set $n (i32.sub (i32.const ${Page.SIZE}) (local.get $b)))
        (if (i32.lt_u (local.get $len) (local.get $n)) (then (local.set $n (local.get $len))))
        (if (call $page (local.get $write) (local.get $a) (local.get $b) (i32.add (local.get $p) (local.get $done)) (local.get $n))
          (then (return (i32.const 0))))
        (local.set $done (i32.add (local.get $done) (local.get $n)))
        (local.set $len (i32.sub (local.get $len) (local.get $n)))
        (local.set $a (i32.add (local.get $a) (i32.const 1)))
        (local.set $b (i32.const 0))
        (br $piece)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $seg)))
    (i32.eq (local.get $done) (local.get $bytes)))

  ;; the read or write of one iovec (glue.ts rwFast); any other count goes to the JavaScript glue
  (func $rw (param $write i32) (param $fd i32) (param $iovs i32) (param $n i32) (param $off i64) (param $out i32) (param $at i32) (result i32)
    (local $p i32) (local $want i32) (local $e i32) (local $len i32) (local $kind i32) (local $a i32) (local $b i32)
    (local $flags i32) (local $planned i32) (local $lo i32) (local $hi i32) (local $got i32) (local $written i32)
    (local $nsegs i32) (local $bytes i32)
    ;; the host's check before each call (process.ts guard), where it has one
    (if (global.get $checking) (then (call $check)))
    (if (i32.ne (local.get $n) (i32.const 1))
      (then (return (call $slow (local.get $write) (local.get $fd) (local.get $iovs) (local.get $n) (local.get $off) (local.get $out) (local.get $at) (i32.const 0)))))
    (if (i32.eqz (i32.and (call $in (local.get $iovs) (i32.const 8)) (call $in (local.get $out) (i32.const 4))))
      (then (return (i32.const ${E.FAULT}))))
    (local.set $p (i32.load align=1 (local.get $iovs)))
    (local.set $want (i32.load offset=4 align=1 (local.get $iovs)))
    (if (i32.eqz (call $in (local.get $p) (local.get $want))) (then (return (i32.const ${E.FAULT}))))
    (if (i32.gt_u (local.get $want) (i32.const ${MAX_RW})) (then (local.set $want (i32.const ${MAX_RW}))))
    (global.set $kin (i32.const 1))
    (local.set $e (call $k_fd_io (global.get $pid) (local.get $fd) (local.get $want) (local.get $off) (i32.or (local.get $write) (i32.shl (local.get $at) (i32.const 1)))))
    (if (local.get $e) (then (global.set $kin (i32.const 0)) (return (local.get $e))))
    (local.set $len (call $k_io_word (i32.const ${seg(1)})))
    (local.set $kind (call $k_io_word (i32.const ${seg(0)})))
    (local.set $a (call $k_io_word (i32.const ${seg(2)})))
    (local.set $b (call $k_io_word (i32.const ${seg(3)})))
    (local.set $flags (call $k_io_word (i32.const ${res(Plan.FLAGS)})))
    ;; one segment, all the plan's bytes, at least one, no more than asked for
    (local.set $nsegs (call $k_io_word (i32.const ${res(Plan.NSEGS)})))
    (local.set $bytes (call $k_io_word (i32.const ${res(Plan.BYTES)})))
    (local.set $planned (i32.and
      (i32.and (i32.eq (local.get $nsegs) (i32.const 1)) (i32.eq (local.get $bytes) (local.get $len)))
      (i32.and (i32.ne (local.get $len) (i32.const 0)) (i32.le_u (local.get $len) (local.get $want)))))
    (local.set $lo (call $k_io_word (i32.const ${res(Plan.HOST_OFF)})))
    (local.set $hi (call $k_io_word (i32.const ${res(Plan.HOST_OFF) + 4})))
    (global.set $kin (i32.const 0))
    (if (i32.and (local.get $planned) (i32.and
          (i32.and (i32.eq (local.get $kind) (i32.const ${Seg.Host})) (i32.eq (local.get $flags) (i32.const ${PlanFlag.COMMIT})))
          (i32.lt_u (local.get $hi) (i32.const ${HOST_HI_LIMIT}))))
      (then
        ;; a host file's bytes, moved by the gofer in this thread; then the kernel takes note
        (local.set $got (call $nhost (local.get $write) (local.get $a) (local.get $lo) (local.get $hi) (local.get $p) (local.get $len)))
        (if (i32.eq (local.get $got) (i32.const ${HOST_RW_ASK}))
          (then (local.set $got (call $host (local.get $write) (local.get $a) (local.get $lo) (local.get $hi) (local.get $p) (local.get $len)))))
        (if (i32.gt_s (local.get $got) (local.get $len)) (then (call $fault (i32.const 1)) (unreachable)))
        (global.set $kin (i32.const 1))
        (local.set $e (call $k_io_commit (global.get $pid) (local.get $got)))
        (local.set $written (call $k_io_word (i32.const ${res(Plan.BYTES)})))
        (global.set $kin (i32.const 0))
        (if (local.get $e) (then (return (local.get $e))))
        (if (i32.gt_u (local.get $written) (select (local.get $got) (i32.const 0) (i32.gt_s (local.get $got) (i32.const 0))))
          (then (call $fault (i32.const 2)) (unreachable)))
        (i32.store align=1 (local.get $out) (local.get $written))
        (return (i32.const 0))))
    (if (i32.and (i32.and (i32.eq (local.get $kind) (i32.const ${Seg.Page})) (i32.eqz (local.get $flags)))
          (i32.and (i32.ne (local.get $bytes) (i32.const 0)) (i32.le_u (local.get $bytes) (local.get $want))))
      (then
        (if (i32.and (local.get $planned)
              (i32.and (i32.le_u (local.get $b) (i32.const ${Page.SIZE})) (i32.le_u (local.get $len) (i32.sub (i32.const ${Page.SIZE}) (local.get $b)))))
          (then
            ;; within one filestore page: \`page\` copies it when the page is ready (0), or not (1)
            (if (i32.eqz (call $page (local.get $write) (local.get $a) (local.get $b) (local.get $p) (local.get $len)))
              (then (i32.store align=1 (local.get $out) (local.get $len)) (return (i32.const 0)))))
          (else
            ;; a write into filestore pages only, over several pages or segments, at most
            ;; ${PIECED_MAX} bytes (a database's page): piece by piece (PIECED_MAX says why not reads
            ;; or longer plans)
            (if (i32.and (local.get $write) (i32.le_u (local.get $bytes) (i32.const ${PIECED_MAX})))
              (then
                (if (call $pages (local.get $write) (local.get $p) (local.get $nsegs) (local.get $bytes))
                  (then (i32.store align=1 (local.get $out) (local.get $bytes)) (return (i32.const 0))))))))))
    (call $slow (local.get $write) (local.get $fd) (local.get $iovs) (i32.const 1) (local.get $off) (local.get $out) (local.get $at) (i32.const 1)))

  (func (export "fd_read") (param i32 i32 i32 i32) (result i32)
    (call $rw (i32.const 0) (local.get 0) (local.get 1) (local.get 2) (i64.const 0) (local.get 3) (i32.const 0)))
  (func (export "fd_write") (param i32 i32 i32 i32) (result i32)
    (call $rw (i32.const 1) (local.get 0) (local.get 1) (local.get 2) (i64.const 0) (local.get 3) (i32.const 0)))
  (func (export "fd_pread") (param i32 i32 i32 i64 i32) (result i32)
    (call $rw (i32.const 0) (local.get 0) (local.get 1) (local.get 2) (local.get 3) (local.get 4) (i32.const 1)))
  (func (export "fd_pwrite") (param i32 i32 i32 i64 i32) (result i32)
    (call $rw (i32.const 1) (local.get 0) (local.get 1) (local.get 2) (local.get 3) (local.get 4) (i32.const 1)))

  ;; a filestat (64 bytes) from the exchange area to guest ptr (checked by the caller)
  (func $struct64 (param $ptr i32)
    ${struct64})

  (func (export "fd_filestat_get") (param $fd i32) (param $ptr i32) (result i32) (local $e i32)
    (if (global.get $checking) (then (call $check)))
    (if (i32.eqz (call $in (local.get $ptr) (i32.const 64))) (then (return (i32.const ${E.FAULT}))))
    (global.set $kin (i32.const 1))
    (local.set $e (call $k_fd_filestat_get (global.get $pid) (local.get $fd)))
    (if (i32.eqz (local.get $e)) (then (call $struct64 (local.get $ptr))))
    (global.set $kin (i32.const 0))
    (local.get $e))

  ;; an fdstat (24 bytes), the same way
  (func (export "fd_fdstat_get") (param $fd i32) (param $ptr i32) (result i32) (local $e i32)
    (if (global.get $checking) (then (call $check)))
    (if (i32.eqz (call $in (local.get $ptr) (i32.const 24))) (then (return (i32.const ${E.FAULT}))))
    (global.set $kin (i32.const 1))
    (local.set $e (call $k_fd_fdstat_get (global.get $pid) (local.get $fd)))
    (if (i32.eqz (local.get $e))
      (then
        (i64.store align=1 (local.get $ptr) (call $k_io_dword (i32.const ${Io.STRUCT})))
        (i64.store offset=8 align=1 (local.get $ptr) (call $k_io_dword (i32.const ${Io.STRUCT + 8})))
        (i64.store offset=16 align=1 (local.get $ptr) (call $k_io_dword (i32.const ${Io.STRUCT + 16})))))
    (global.set $kin (i32.const 0))
    (local.get $e))

  ;; guest path [p, p+l) into the exchange area at slot (checked by the caller)
  (func $path (param $slot i32) (param $p i32) (param $l i32) (local $i i32) (local $k i32) (local $w i64)
    (block $done (loop $next
      (br_if $done (i32.gt_u (i32.add (local.get $i) (i32.const 8)) (local.get $l)))
      (call $k_io_put (i32.add (local.get $slot) (local.get $i)) (i64.load align=1 (i32.add (local.get $p) (local.get $i))))
      (local.set $i (i32.add (local.get $i) (i32.const 8)))
      (br $next)))
    ;; the last 1-7 bytes, a byte at a time (a word load could pass the end of memory)
    (if (i32.lt_u (local.get $i) (local.get $l))
      (then
        (block $tail (loop $byte
          (br_if $tail (i32.ge_u (i32.add (local.get $i) (local.get $k)) (local.get $l)))
          (local.set $w (i64.or (local.get $w) (i64.shl (i64.load8_u (i32.add (i32.add (local.get $p) (local.get $i)) (local.get $k))) (i64.extend_i32_u (i32.shl (local.get $k) (i32.const 3))))))
          (local.set $k (i32.add (local.get $k) (i32.const 1)))
          (br $byte)))
        (call $k_io_put (i32.add (local.get $slot) (local.get $i)) (local.get $w)))))

  ;; glue.ts's rpath: a path's length checked, its bytes copied in, then an absolute path refused
  (func $rpath (param $slot i32) (param $p i32) (param $l i32) (result i32)
    (if (i32.ge_u (local.get $l) (i32.const ${Io.PATH_MAX})) (then (return (i32.const ${E.NAMETOOLONG}))))
    (if (i32.eqz (call $in (local.get $p) (local.get $l))) (then (return (i32.const ${E.FAULT}))))
    (global.set $kin (i32.const 1))
    (call $path (local.get $slot) (local.get $p) (local.get $l))
    (global.set $kin (i32.const 0))
    ;; (nested: i32.and would load the first byte of an empty path, which may lie past the end)
    (if (local.get $l) (then (if (i32.eq (i32.load8_u (local.get $p)) (i32.const 0x2f))
      (then (return (i32.const ${E.NOTCAPABLE}))))))
    (i32.const 0))

  ;; in glue.ts's order: the path, then the struct's place
  (func (export "path_filestat_get") (param $fd i32) (param $flags i32) (param $p i32) (param $l i32) (param $ptr i32) (result i32) (local $e i32)
    (if (global.get $checking) (then (call $check)))
    (local.set $e (call $rpath (i32.const ${Io.PATH1}) (local.get $p) (local.get $l)))
    (if (local.get $e) (then (return (local.get $e))))
    (if (i32.eqz (call $in (local.get $ptr) (i32.const 64))) (then (return (i32.const ${E.FAULT}))))
    (global.set $kin (i32.const 1))
    (local.set $e (call $k_path_filestat_get (global.get $pid) (local.get $fd) (local.get $flags) (local.get $l)))
    (if (i32.eqz (local.get $e)) (then (call $struct64 (local.get $ptr))))
    (global.set $kin (i32.const 0))
    (local.get $e))

  ;; in glue.ts's order: the fd's place, then the path
  (func (export "path_open") (param $fd i32) (param $dirflags i32) (param $p i32) (param $l i32) (param $oflags i32) (param $base i64) (param $inh i64) (param $fdflags i32) (param $out i32) (result i32) (local $e i32)
    (if (global.get $checking) (then (call $check)))
    (if (i32.eqz (call $in (local.get $out) (i32.const 4))) (then (return (i32.const ${E.FAULT}))))
    (local.set $e (call $rpath (i32.const ${Io.PATH1}) (local.get $p) (local.get $l)))
    (if (local.get $e) (then (return (local.get $e))))
    (global.set $kin (i32.const 1))
    (local.set $e (call $k_path_open (global.get $pid) (local.get $fd) (local.get $dirflags) (local.get $l) (local.get $oflags) (local.get $base) (local.get $inh) (local.get $fdflags)))
    (if (i32.eqz (local.get $e)) (then (i32.store align=1 (local.get $out) (call $k_io_word (i32.const ${Io.RES})))))
    (global.set $kin (i32.const 0))
    (local.get $e))

  (func (export "fd_close") (param $fd i32) (result i32) (local $e i32)
    (if (global.get $checking) (then (call $check)))
    (global.set $kin (i32.const 1))
    (local.set $e (call $k_fd_close (global.get $pid) (local.get $fd)))
    (global.set $kin (i32.const 0))
    (local.get $e))

  ${PATH_CALLS.map(
    (n) => `(func (export "${n}") (param $fd i32) (param $p i32) (param $l i32) (result i32) (local $e i32)
    (if (global.get $checking) (then (call $check)))
    (local.set $e (call $rpath (i32.const ${Io.PATH1}) (local.get $p) (local.get $l)))
    (if (local.get $e) (then (return (local.get $e))))
    (global.set $kin (i32.const 1))
    (local.set $e (call $k_${n} (global.get $pid) (local.get $fd) (local.get $l)))
    (global.set $kin (i32.const 0))
    (local.get $e))`,
  ).join('\n\n  ')}

  (func (export "path_rename") (param $ofd i32) (param $op i32) (param $ol i32) (param $nfd i32) (param $np i32) (param $nl i32) (result i32) (local $e i32)
    (if (global.get $checking) (then (call $check)))
    (local.set $e (call $rpath (i32.const ${Io.PATH1}) (local.get $op) (local.get $ol)))
    (if (local.get $e) (then (return (local.get $e))))
    (local.set $e (call $rpath (i32.const ${Io.PATH2}) (local.get $np) (local.get $nl)))
    (if (local.get $e) (then (return (local.get $e))))
    (global.set $kin (i32.const 1))
    (local.set $e (call $k_path_rename (global.get $pid) (local.get $ofd) (local.get $ol) (local.get $nfd) (local.get $nl)))
    (global.set $kin (i32.const 0))
    (local.get $e))

  ;; glue.ts's readdir: the kernel fills DATA (at most its size) a round at a time; a buffer larger
  ;; than DATA takes the whole records of each round and asks again from the cookie after them. The
  ;; records are copied out by JavaScript (out: a memcpy; by io_dword, a listing of 100 names would
  ;; be hundreds of calls)
  (func (export "fd_readdir") (param $fd i32) (param $buf i32) (param $len i32) (param $cookie i64) (param $outp i32) (result i32)
    (local $total i32) (local $room i32) (local $e i32) (local $used i32) (local $whole i32) (local $eof i32)
    (if (global.get $checking) (then (call $check)))
    (if (i32.eqz (i32.and (call $in (local.get $buf) (local.get $len)) (call $in (local.get $outp) (i32.const 4))))
      (then (return (i32.const ${E.FAULT}))))
    (block $done (loop $round
      (local.set $room (i32.sub (local.get $len) (local.get $total)))
      (global.set $kin (i32.const 1))
      (local.set $e (call $k_fd_readdir (global.get $pid) (local.get $fd) (local.get $room) (local.get $cookie)))
      (if (local.get $e) (then
        (global.set $kin (i32.const 0))
        (br_if $done (local.get $total))
        (return (local.get $e))))
      (local.set $used (call $k_io_word (i32.const ${Io.RES + 4 * Readdir.USED})))
      (local.set $whole (call $k_io_word (i32.const ${Io.RES + 4 * Readdir.WHOLE})))
      (local.set $eof (call $k_io_word (i32.const ${Io.RES + 4 * Readdir.EOF})))
      (local.set $cookie (call $k_io_dword (i32.const ${Io.RES + 8 * Readdir.COOKIE64})))
      (global.set $kin (i32.const 0))
      (if (i32.or (i32.gt_u (local.get $used) (local.get $room))
            (i32.or (i32.gt_u (local.get $whole) (local.get $used)) (i32.gt_u (local.get $used) (i32.const ${Io.DATA_SIZE}))))
        (then (call $fault (i32.const 3)) (unreachable)))
      (if (i32.or (i32.le_u (local.get $room) (i32.const ${Io.DATA_SIZE})) (local.get $eof))
        (then
          (call $out (i32.const ${Io.DATA}) (i32.add (local.get $buf) (local.get $total)) (local.get $used))
          (local.set $total (i32.add (local.get $total) (local.get $used)))
          (br $done)))
      (call $out (i32.const ${Io.DATA}) (i32.add (local.get $buf) (local.get $total)) (local.get $whole))
      (local.set $total (i32.add (local.get $total) (local.get $whole)))
      (br_if $round (local.get $whole))))
    (i32.store align=1 (local.get $outp) (local.get $total))
    (i32.const 0))

  ;; the new offset (8 bytes of RES) to guest out, checked first
  ${[
    ['fd_seek', '(param $fd i32) (param $off i64) (param $whence i32)', '(local.get $fd) (local.get $off) (local.get $whence)'],
    ['fd_tell', '(param $fd i32)', '(local.get $fd)'],
  ].map(
    ([n, params, args]) => `(func (export "${n}") ${params} (param $out i32) (result i32) (local $e i32)
    (if (global.get $checking) (then (call $check)))
    (if (i32.eqz (call $in (local.get $out) (i32.const 8))) (then (return (i32.const ${E.FAULT}))))
    (global.set $kin (i32.const 1))
    (local.set $e (call $k_${n} (global.get $pid) ${args}))
    (if (i32.eqz (local.get $e)) (then (i64.store align=1 (local.get $out) (call $k_io_dword (i32.const ${Io.RES})))))
    (global.set $kin (i32.const 0))
    (local.get $e))`,
  ).join('\n\n  ')}
)`;
}

/** The compiled modules (host/sandbox/kernel-node.ts loads them from the build). */
export interface WasmGlueModules {
  glue: WebAssembly.Module;
  trampolines: WebAssembly.Module;
  /** J, compiled when first asked for (fallbackText), or null if it cannot be. */
  fallback(): WebAssembly.Module | null;
}

/**
 * What G calls in JavaScript (GuestProcess.wasmGlueSide; each turns an error that is not a
 * KernelFault or ExitSignal into a KernelFault itself, as process.ts's guard does for imports).
 */
export interface WasmGlueSide {
  host(write: number, handle: number, lo: number, hi: number, ptr: number, len: number): number;
  /**
   * Optional: `host` made without JavaScript, for this guest memory (the addon's hostRw), which
   * answers HOST_RW_ASK for a call `host` must make instead; null where there is none.
   */
  nativeHost?(memory: WebAssembly.Memory): ((write: number, handle: number, lo: number, hi: number, ptr: number, len: number) => number) | null;
  page(write: number, page: number, off: number, ptr: number, len: number): number;
  /** Optional: `page` made without JavaScript, for this guest memory (the filestore's nativePage); null where there is none. */
  nativePage?(memory: WebAssembly.Memory): ((write: number, page: number, off: number, ptr: number, len: number) => number) | null;
  rw(write: number, fd: number, iovs: number, n: number, off: bigint, out: number, at: number, planned: number): number;
  fault(code: number): void;
  /** Copies `len` bytes of the kernel's exchange area at `slot` to guest `ptr` (G has checked both). */
  out(slot: number, ptr: number, len: number): void;
}

/** Whether `m` was built from this code's lists (glueStamp, in its custom section "wasmbox.glue"). */
export function glueStamped(m: WebAssembly.Module): boolean {
  const sec = WebAssembly.Module.customSections(m, 'wasmbox.glue');
  return sec.length === 1 && new TextDecoder().decode(sec[0]) === glueStamp();
}

/** One process's WebAssembly glue: its trampolines now, G once the guest's memory exists. */
export class WasmGlue {
  /** The guest's imports of GLUE_CALLS (T's functions). */
  readonly imports: Record<string, (...a: any[]) => any>;
  private readonly table: WebAssembly.Table;
  private kin: WebAssembly.Global | null = null;

  /**
   * `js`: the JavaScript glue's functions for GLUE_CALLS (guarded), for a guest G cannot serve.
   * `check`: what the host runs before each call (process.ts guard; it may throw ExitSignal), which
   * G then calls first in each of its functions.
   */
  constructor(
    private readonly modules: WasmGlueModules,
    private readonly kernel: Record<string, any>,
    private readonly pid: number,
    private readonly side: WasmGlueSide,
    private readonly js: Record<string, (...a: any[]) => any>,
    private readonly check?: () => void,
  ) {
    const t = new WebAssembly.Instance(modules.trampolines, {});
    this.table = t.exports.t as WebAssembly.Table;
    this.imports = {};
    for (const [name] of GLUE_CALLS) this.imports[name] = t.exports[name] as (...a: any[]) => any;
  }

  /**
   * Makes G over the guest's memory and points the trampolines at it. Returns false when G cannot
   * import that memory (a shared one): the trampolines then call the JavaScript glue (through J).
   * Throws only if neither can be had (J missing from the build).
   */
  bind(memory: WebAssembly.Memory): boolean {
    const k = this.kernel;
    let g: WebAssembly.Instance;
    try {
      g = new WebAssembly.Instance(this.modules.glue, {
        g: { memory },
        k: Object.fromEntries(KERNEL_CALLS.map(([n]) => [n, k[n]])),
        j: { host: this.side.host, nhost: this.side.nativeHost?.(memory) ?? this.side.host, page: this.side.nativePage?.(memory) ?? this.side.page, rw: this.side.rw, fault: this.side.fault, out: this.side.out, pid: this.pid, check: this.check ?? (() => {}), checking: this.check ? 1 : 0 },
      });
    } catch {
      const jm = this.modules.fallback();
      if (!jm) throw new Error('the WebAssembly glue cannot serve this guest, and the build has no fallback for it');
      const j: Record<string, (...a: any[]) => any> = {};
      for (const [name] of GLUE_CALLS) j[name] = this.js[name];
      const js = new WebAssembly.Instance(jm, { j });
      GLUE_CALLS.forEach(([name], i) => this.table.set(i, js.exports[name] as any));
      return false;
    }
    this.kin = g.exports.kin as WebAssembly.Global;
    GLUE_CALLS.forEach(([name], i) => this.table.set(i, g.exports[name] as any));
    return true;
  }

  /** Whether kernel code was running under G when the guest's stack unwound (KERNEL FAULTS). */
  inKernel(): boolean {
    return this.kin !== null && this.kin.value === 1;
  }
}
