// corpus: a WASI guest written in AssemblyScript (with @assemblyscript/wasi-shim, as AssemblyScript
// programs reach WASI), so that the sandbox is checked against a toolchain other than wasi-libc. It
// exercises the calls that are not about files, and fd_readdir with cookies: args, environ,
// clock_res_get/clock_time_get, random_get, poll_oneoff with clock and fd subscriptions, and a
// listing read back in small pieces.
//
// Output: one line per check, deterministic across runtimes (no times, fds or random bytes, only
// relations: "ok" or "bad <why>"); the last line is "done". test/guests/corpus.test.ts runs it in the
// sandbox and under node:wasi and compares the two. Usage: corpus SCRATCH [ARG...]: SCRATCH is a
// directory to make under the '/' preopen (fd 3), left removed at the end.
import {
  clock_res_get, clock_time_get, clockid, errno, errnoToString, fd_close, fd_readdir, path_create_directory, path_open,
  path_remove_directory, path_unlink_file, poll_oneoff, random_get, rights, oflags,
} from "@assemblyscript/wasi-shim/assembly/bindings/wasi_snapshot_preview1";

const ROOT: u32 = 3;

function say(s: string): void {
  console.log(s);
}

function check(what: string, ok: bool, why: string = ""): void {
  say(what + (ok ? " ok" : " bad " + why));
}

function err(e: errno): string {
  return e == 0 ? "ok" : errnoToString(e);
}

/** A UTF-8 copy of `s` in linear memory (pointer; length from String.UTF8.byteLength). */
function utf8(s: string): usize {
  return changetype<usize>(String.UTF8.encode(s));
}

function now(clock: u32): u64 {
  const out = memory.data(8);
  if (clock_time_get(clock, 1, out) != 0) return 0;
  return load<u64>(out);
}

// --- args and environ
const argv = process.argv;
say("argc " + argv.length.toString());
for (let i = 1; i < argv.length; i++) say("arg " + argv[i]);
const keys = process.env.keys();
const mine: string[] = [];
for (let i = 0; i < keys.length; i++) if (keys[i].startsWith("CORPUS_")) mine.push(keys[i]);
mine.sort();
for (let i = 0; i < mine.length; i++) say("env " + mine[i] + "=" + process.env.get(mine[i]));

// --- clocks
const res = memory.data(8);
let e = clock_res_get(clockid.REALTIME, res);
check("clock_res_get realtime", e == 0 && load<u64>(res) > 0 && load<u64>(res) <= 1000000000, err(e));
e = clock_res_get(clockid.MONOTONIC, res);
check("clock_res_get monotonic", e == 0 && load<u64>(res) > 0 && load<u64>(res) <= 1000000000, err(e));
say("clock_res_get of an unknown clock -> " + err(clock_res_get(99, res)));
say("clock_time_get of an unknown clock -> " + err(clock_time_get(99, 1, res)));
const wall = now(clockid.REALTIME);
check("realtime is after 2020 and before 2100", wall > 1577836800000000000 && wall < 4102444800000000000);
let last = now(clockid.MONOTONIC);
let backwards = false;
for (let i = 0; i < 1000; i++) {
  const t = now(clockid.MONOTONIC);
  if (t < last) backwards = true;
  last = t;
}
check("monotonic never goes back over 1000 reads", !backwards);

// --- random_get
const a = memory.data(64);
const b = memory.data(64);
check("random_get", random_get(a, 64) == 0 && random_get(b, 64) == 0);
let same = true;
let zero = true;
for (let i = 0; i < 64; i++) {
  if (load<u8>(a + i) != load<u8>(b + i)) same = false;
  if (load<u8>(a + i) != 0) zero = false;
}
check("random_get gives different, non-zero bytes", !same && !zero);
check("random_get of 0 bytes", random_get(a, 0) == 0);

// --- poll_oneoff: subscriptions are 48 bytes, events 32
const subs = memory.data(48 * 2);
const evs = memory.data(32 * 2);
const nev = memory.data(8);
function clockSub(at: usize, userdata: u64, ns: u64): void {
  memory.fill(at, 0, 48);
  store<u64>(at, userdata);
  store<u8>(at + 8, 0); // eventtype.CLOCK
  store<u32>(at + 16, clockid.MONOTONIC);
  store<u64>(at + 24, ns); // relative timeout
}
function fdSub(at: usize, userdata: u64, type: u8, fd: u32): void {
  memory.fill(at, 0, 48);
  store<u64>(at, userdata);
  store<u8>(at + 8, type); // 1 FD_READ, 2 FD_WRITE
  store<u32>(at + 16, fd);
}
clockSub(subs, 7, 20000000);
let t0 = now(clockid.MONOTONIC);
e = poll_oneoff(subs, evs, 1, nev);
let took = now(clockid.MONOTONIC) - t0;
check("poll_oneoff clock 20 ms", e == 0 && load<u32>(nev) == 1 && load<u64>(evs) == 7 && load<u8>(evs + 10) == 0 && load<u16>(evs + 8) == 0, err(e));
check("poll_oneoff clock waited at least 20 ms", took >= 20000000, took.toString());
fdSub(subs, 9, 2, 1);
e = poll_oneoff(subs, evs, 1, nev);
check("poll_oneoff fd_write on stdout", e == 0 && load<u32>(nev) == 1 && load<u64>(evs) == 9 && load<u8>(evs + 10) == 2 && load<u16>(evs + 8) == 0, err(e));
clockSub(subs, 7, 5000000000);
fdSub(subs + 48, 9, 2, 1);
t0 = now(clockid.MONOTONIC);
e = poll_oneoff(subs, evs, 2, nev);
took = now(clockid.MONOTONIC) - t0;
check("poll_oneoff 5 s clock and a ready fd: the fd, at once", e == 0 && load<u32>(nev) == 1 && load<u64>(evs) == 9 && took < 2000000000, err(e));
say("poll_oneoff of nothing -> " + err(poll_oneoff(subs, evs, 0, nev)));

// --- fd_readdir with cookies, a small buffer at a time
const scratch = argv.length > 1 ? argv[1] : "corpus";
e = path_create_directory(ROOT, utf8(scratch), String.UTF8.byteLength(scratch));
check("mkdir scratch", e == 0, err(e));
const fdOut = memory.data(8);
const N = 30;
for (let i = 0; i < N; i++) {
  const name = scratch + "/file-" + (i < 10 ? "0" : "") + i.toString();
  e = path_open(ROOT, 0, utf8(name), String.UTF8.byteLength(name), oflags.CREAT, rights.FD_WRITE, 0, 0, fdOut);
  if (e != 0) {
    check("create " + name, false, err(e));
    break;
  }
  fd_close(load<u32>(fdOut));
}
e = path_open(ROOT, 0, utf8(scratch), String.UTF8.byteLength(scratch), oflags.DIRECTORY, rights.FD_READDIR, 0, 0, fdOut);
check("open scratch for reading", e == 0, err(e));
const dir = load<u32>(fdOut);
const BUF: usize = 100; // two or three entries per call
const buf = memory.data(100);
const used = memory.data(8);
let cookie: u64 = 0;
const names: string[] = [];
let calls = 0;
while (calls < 1000) {
  calls++;
  e = fd_readdir(dir, buf, BUF, cookie, used);
  if (e != 0) {
    check("fd_readdir", false, err(e));
    break;
  }
  const n = <usize>load<u32>(used);
  let at: usize = 0;
  // dirent: next u64, ino u64, namlen u32, type u8, then the name; a last entry may be cut short
  while (at + 24 <= n) {
    const namlen = load<u32>(buf + at + 16);
    if (at + 24 + namlen > n) break;
    const name = String.UTF8.decodeUnsafe(buf + at + 24, namlen);
    if (name != "." && name != "..") names.push(name); // node:wasi never lists them, Linux does
    cookie = load<u64>(buf + at);
    at += 24 + namlen;
  }
  if (n < BUF) break;
}
fd_close(dir);
names.sort();
let listed = names.length == N;
for (let i = 0; listed && i < N; i++) listed = names[i] == "file-" + (i < 10 ? "0" : "") + i.toString();
check("fd_readdir in 100-byte pieces lists every file once", listed, names.length.toString() + " names");
check("fd_readdir took several calls", calls > 5, calls.toString());
for (let i = 0; i < N; i++) {
  const name = scratch + "/file-" + (i < 10 ? "0" : "") + i.toString();
  path_unlink_file(ROOT, utf8(name), String.UTF8.byteLength(name));
}
e = path_remove_directory(ROOT, utf8(scratch), String.UTF8.byteLength(scratch));
check("rmdir scratch", e == 0, err(e));
say("done");
