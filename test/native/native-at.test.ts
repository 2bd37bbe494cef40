// The addon's host calls relative to held descriptors (native/wasmbox_native.c, for
// gofer/hostdirect.ts), on real files: openat2's containment flags, statInto against Node's lstat
// and the protocol's Stat layout, the *at mutations, readlink, nanosecond times, getdents64 in
// batches, O_APPEND on and off, fstatfs, openSame (a name opened only while it holds the inode
// asked for). Failures come back as -errno, never as throws.
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Kind, Stat } from '../../gofer/protocol/messages';
import { loadNative, type NativeAddon } from '../../native/index';
import { tempDir } from '../lib/images';

const n = loadNative().addon as NativeAddon;
const have = !!n?.openat2;
if (!have) console.log(`SKIP native host calls: ${loadNative().reason ?? 'the addon lacks openat2 (rebuild it)'}`);
const t = have ? test : test.skip;
const { O_NOFOLLOW, O_DIRECTORY, O_RDONLY, O_RDWR, O_APPEND } = fs.constants;
const errno = (code: string) => -(require('node:os').constants.errno[code] as number);

const base = tempDir('native-at');
const outside = tempDir('native-at-out');
fs.writeFileSync(path.join(outside, 'secret'), 'outside\n');
fs.mkdirSync(path.join(base, 'd'));
fs.writeFileSync(path.join(base, 'f'), 'hello\n');
fs.symlinkSync(outside, path.join(base, 'out'));
fs.symlinkSync('f', path.join(base, 'in'));
execFileSync('mkfifo', [path.join(base, 'fifo')]);
const dir = fs.openSync(base, (n?.O_PATH ?? 0) | O_DIRECTORY);
const R = have ? n.RESOLVE_BENEATH! | n.RESOLVE_NO_SYMLINKS! | n.RESOLVE_NO_MAGICLINKS! : 0;
const fds: number[] = [];
const keep = (fd: number) => (fd >= 0 && fds.push(fd), fd);

t('openat2 beneath a held directory: names open; "..", symlinks (in or out) and magic links are refused', () => {
  assert.ok(keep(n.openat2!(dir, 'f', O_RDONLY, 0, R)) >= 0);
  assert.is(n.openat2!(dir, '..', n.O_PATH!, 0, R), errno('EXDEV'));
  assert.is(n.openat2!(dir, 'out', n.O_PATH!, 0, R), errno('ELOOP'));
  assert.is(n.openat2!(dir, 'in', n.O_PATH!, 0, R), errno('ELOOP'));
  assert.is(n.openat2!(dir, 'out/secret', O_RDONLY, 0, R), errno('ELOOP'));
  assert.is(n.openat2!(fs.openSync('/', O_RDONLY), 'proc/self/root/etc/passwd', O_RDONLY, 0, R), errno('ELOOP'));
  // the link itself, not followed
  const link = keep(n.openat2!(dir, 'out', n.O_PATH! | O_NOFOLLOW, 0, R));
  const b = new Uint8Array(256);
  assert.is(n.readlinkInto!(link, '', b, 0, 256), outside.length);
  assert.is(n.openat2!(dir, 'nope', n.O_PATH!, 0, R), errno('ENOENT'));
});

t('statInto writes the protocol Stat exactly as lstat reports it, for every kind, and by fd', () => {
  const b = new Uint8Array(128);
  const dv = new DataView(b.buffer);
  for (const [name, kind] of [['f', Kind.File], ['d', Kind.Dir], ['out', Kind.Symlink], ['fifo', Kind.Unknown]] as const) {
    const mode = n.statInto!(dir, name, n.AT_SYMLINK_NOFOLLOW!, b, 64);
    const st = fs.lstatSync(path.join(base, name), { bigint: true });
    assert.is(mode, Number(st.mode), name);
    assert.is(dv.getBigUint64(64 + Stat.Ino, true), st.ino, name);
    assert.is(dv.getBigUint64(64 + Stat.Size, true), st.size, name);
    for (const [off, ns] of [[Stat.Atime, st.atimeNs], [Stat.Mtime, st.mtimeNs], [Stat.Ctime, st.ctimeNs]] as const) assert.is(dv.getBigUint64(64 + off, true), ns, name);
    assert.is(dv.getUint32(64 + Stat.Mode, true), Number(st.mode) & 0o7777);
    assert.is(dv.getUint32(64 + Stat.Nlink, true), Number(st.nlink));
    assert.is(dv.getUint32(64 + Stat.Uid, true), Number(st.uid));
    assert.is(dv.getUint32(64 + Stat.Gid, true), Number(st.gid));
    assert.is(dv.getUint32(64 + Stat.Kind, true), kind, name);
    assert.is(Stat.Bytes, 64);
  }
  const fd = keep(n.openat2!(dir, 'f', O_RDONLY, 0, R));
  assert.is(n.statInto!(fd, '', n.AT_EMPTY_PATH!, b, 0), Number(fs.statSync(path.join(base, 'f')).mode));
  assert.throws(() => n.statInto!(dir, 'f', 0, b, 65), /fit/);
  assert.is(n.statInto!(dir, 'nope', 0, b, 0), errno('ENOENT'));
});

t('the *at mutations change the tree as the matching calls would; RENAME_NOREPLACE refuses an existing target', () => {
  assert.is(n.mkdirat!(dir, 'm', 0o750), 0);
  assert.is(fs.statSync(path.join(base, 'm')).mode & 0o777, 0o750 & ~process.umask());
  assert.is(n.mkdirat!(dir, 'm', 0o755), errno('EEXIST'));
  assert.is(n.symlinkat!('target', dir, 's'), 0);
  assert.is(fs.readlinkSync(path.join(base, 's')), 'target');
  assert.is(n.linkat!(dir, 'f', dir, 'hard', 0), 0);
  assert.is(fs.statSync(path.join(base, 'hard')).ino, fs.statSync(path.join(base, 'f')).ino);
  assert.is(n.renameat2!(dir, 'hard', dir, 'f', n.RENAME_NOREPLACE!), errno('EEXIST'));
  assert.is(n.renameat2!(dir, 'hard', dir, 'hard2', 0), 0);
  assert.is(n.fchmodat!(dir, 'hard2', 0o600), 0);
  assert.is(fs.statSync(path.join(base, 'f')).mode & 0o777, 0o600);
  assert.is(n.unlinkat!(dir, 'hard2', 0), 0);
  assert.is(n.unlinkat!(dir, 'm', n.AT_REMOVEDIR!), 0);
  assert.is(n.unlinkat!(dir, 'm', n.AT_REMOVEDIR!), errno('ENOENT'));
  const b = new Uint8Array(16);
  assert.is(n.readlinkInto!(dir, 's', b, 0, 16), 6);
  assert.is(Buffer.from(b.subarray(0, 6)).toString(), 'target');
  assert.is(n.readlinkInto!(dir, 's', b, 0, 6), errno('ENAMETOOLONG'));
  assert.throws(() => n.mkdirat!(dir, 'a\0b', 0o755), /NUL/);
  assert.is(n.mkdirat!(dir, new Uint8Array([0x6e, 0xff]), 0o755), 0); // raw bytes, not UTF-8
  assert.ok(fs.readdirSync(base, { encoding: 'buffer' }).some((x) => x.equals(Buffer.from([0x6e, 0xff]))));
});

t('arguments of the wrong type throw one clear error each, before any system call', () => {
  assert.throws(() => n.mkdirat!(dir, 42 as any, 0o755), /name must be a string or a Uint8Array/);
  assert.throws(() => n.mkdirat!(dir, new Uint16Array([0x61]) as any, 0o755), /name must be a string or a Uint8Array/);
  assert.throws(() => n.mkdirat!('3' as any, 'x', 0o755), /fd must be a number/);
  assert.throws(() => n.mkdirat!(dir, 'x', 1.5), /mode must be an integer/);
  assert.throws(() => n.renameat2!(dir, 'f', dir, null as any, 0), /newname must be a string or a Uint8Array/);
  assert.throws(() => n.mkdirat!(dir, 'x'.repeat(5000), 0o755), /too long/);
  assert.throws(() => n.mkdirat!(dir, new Uint8Array(5000).fill(0x61), 0o755), /too long/);
  assert.throws(() => n.preadInto!(dir, [1, 2] as any, 0, 1, 0), /buf must be a Uint8Array/);
  assert.not.ok(fs.existsSync(path.join(base, 'x')));
  // a result past 2^31 comes back whole (results below it take the small-integer path)
  const big = path.join(base, 'big');
  fs.writeFileSync(big, '');
  fs.truncateSync(big, 2 ** 32 + 5);
  const bf = n.openat2!(dir, 'big', O_RDONLY, 0, R);
  assert.ok(bf >= 0);
  assert.is(n.lseekSet!(bf, 2 ** 32 + 5), 2 ** 32 + 5);
  assert.is(n.lseekSet!(bf, 2 ** 31 - 1), 2 ** 31 - 1);
  fs.closeSync(bf);
  fs.rmSync(big);
});

t('rwAt reads and writes by one function as preadInto and pwriteStat do (the attributes only for a write that asks)', () => {
  const fd = keep(n.openat2!(dir, 'f', O_RDWR, 0, R));
  const b = new Uint8Array(200).fill(7);
  b.set(Buffer.from('HE'), 10);
  assert.is(n.rwAt!(true, fd, b, 10, 2, 0, -1), 2);
  assert.is(fs.readFileSync(path.join(base, 'f'), 'utf8'), 'HEllo\n');
  const r = new Uint8Array(8);
  assert.is(n.rwAt!(false, fd, r, 1, 6, 0, 123456), 6); // statOff is not read for a read
  assert.is(Buffer.from(r.subarray(1, 7)).toString(), 'HEllo\n');
  assert.equal([...r.subarray(0, 1)], [0]);
  assert.is(n.rwAt!(false, fd, r, 0, 8, 100, -1), 0); // past the end: nothing
  // a write that asks for the attributes gets them after the data, as pwriteStat
  assert.is(n.rwAt!(true, fd, b, 10, 2, 6, 100), 2);
  assert.is(new DataView(b.buffer).getBigUint64(100 + Stat.Size, true), 8n);
  assert.throws(() => n.rwAt!(true, fd, b, 0, 2, 0, 199), /rwAt: the range does not fit in buf/);
  assert.throws(() => n.rwAt!(1 as any, fd, b, 0, 2, 0, -1), /rwAt: write must be a boolean/);
  assert.throws(() => n.rwAt!(false, fd, b, 0, 300, 0, -1), /rwAt: the range does not fit in buf/);
  assert.is(fs.readFileSync(path.join(base, 'f'), 'utf8'), 'HEllo\nHE');
});

t('utimensat keeps nanoseconds; UTIME_OMIT keeps the atime; a symlink\'s own times with AT_SYMLINK_NOFOLLOW', () => {
  const before = fs.statSync(path.join(base, 'f'), { bigint: true }).atimeNs;
  assert.is(n.utimensat!(dir, 'f', 0, n.UTIME_OMIT!, 1_700_000_000, 622430, 0), 0);
  const st = fs.statSync(path.join(base, 'f'), { bigint: true });
  assert.is(st.mtimeNs, 1_700_000_000_000_622_430n);
  assert.is(st.atimeNs, before);
  assert.is(n.utimensat!(dir, 's', 5, 7, 6, 8, n.AT_SYMLINK_NOFOLLOW!), 0);
  assert.is(fs.lstatSync(path.join(base, 's'), { bigint: true }).mtimeNs, 6_000_000_008n);
});

t('getdentsInto lists 1,000 entries completely in batches, and lseekSet restarts the listing', () => {
  const big = path.join(base, 'big');
  fs.mkdirSync(big);
  for (let i = 0; i < 1000; i++) fs.writeFileSync(path.join(big, `e${i}`), '');
  const fd = keep(fs.openSync(big, O_RDONLY | O_DIRECTORY));
  const list = () => {
    const names: string[] = [];
    const b = new Uint8Array(8192);
    const dv = new DataView(b.buffer);
    for (;;) {
      const got = n.getdentsInto!(fd, b, 0, b.length);
      assert.ok(got >= 0);
      if (got === 0) return names;
      for (let off = 0; off < got; ) {
        const reclen = dv.getUint16(off + 16, true);
        const end = b.indexOf(0, off + 19);
        names.push(Buffer.from(b.subarray(off + 19, end)).toString());
        off += reclen;
      }
    }
  };
  const first = list().filter((x) => x !== '.' && x !== '..');
  assert.is(first.length, 1000);
  assert.is(n.lseekSet!(fd, 0), 0);
  assert.is(list().length, 1002);
});

t('setAppend turns O_APPEND off and on: a write at 0 lands at 0, then at the end', () => {
  const fd = keep(fs.openSync(path.join(base, 'app'), O_RDWR | O_APPEND | fs.constants.O_CREAT));
  fs.writeSync(fd, 'abcd', 0);
  assert.is(n.setAppend!(fd, false), 0);
  fs.writeSync(fd, 'X', 0);
  assert.is(fs.readFileSync(path.join(base, 'app'), 'utf8'), 'Xbcd');
  assert.is(n.setAppend!(fd, true), 0);
  fs.writeSync(fd, 'Y', 0);
  assert.is(fs.readFileSync(path.join(base, 'app'), 'utf8'), 'XbcdY');
  assert.is(n.setAppend!(99999, true), errno('EBADF'));
});

t('openSame opens a name only while it holds the inode and type asked for; the flags asked for, without O_NONBLOCK', () => {
  const ino = fs.statSync(path.join(base, 'f'), { bigint: true }).ino;
  const content = fs.readFileSync(path.join(base, 'f'), 'utf8');
  const fd = n.openSame!(dir, new TextEncoder().encode('f'), O_RDONLY, R, ino, fs.constants.S_IFREG);
  assert.ok(fd >= 0, `fd ${fd}`);
  assert.is(fs.readFileSync(fd, 'utf8'), content);
  // F_GETFL by /proc: the status flags of the description, octal
  const flags = parseInt(/flags:\s*(\d+)/.exec(fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))![1], 8);
  assert.is(flags & fs.constants.O_NONBLOCK, 0, 'O_NONBLOCK cleared once checked');
  fs.closeSync(fd);
  const before = fs.readdirSync('/proc/self/fd').length;
  assert.is(n.openSame!(dir, new TextEncoder().encode('f'), O_RDONLY, R, ino + 1n, fs.constants.S_IFREG), errno('ESTALE'), 'another inode');
  assert.is(n.openSame!(dir, new TextEncoder().encode('f'), O_RDONLY, R, ino, fs.constants.S_IFDIR), errno('ESTALE'), 'another type');
  const fifo = fs.statSync(path.join(base, 'fifo'), { bigint: true }).ino;
  assert.is(n.openSame!(dir, new TextEncoder().encode('fifo'), O_RDONLY, R, fifo, fs.constants.S_IFREG), errno('ESTALE'), 'a FIFO: not waited on');
  assert.is(n.openSame!(dir, new TextEncoder().encode('in'), O_RDONLY, R, ino, fs.constants.S_IFREG), errno('ELOOP'), 'a symlink is not followed');
  assert.is(n.openSame!(dir, new TextEncoder().encode('nope'), O_RDONLY, R, ino, fs.constants.S_IFREG), errno('ENOENT'));
  assert.is(fs.readdirSync('/proc/self/fd').length, before, 'nothing left open');
  assert.throws(() => n.openSame!(dir, new TextEncoder().encode('f'), O_RDONLY, R, 5 as any, fs.constants.S_IFREG), /ino must be a BigInt/);
  assert.throws(() => n.openSame!(dir, new TextEncoder().encode('f'), O_RDWR | fs.constants.O_TRUNC, R, ino, fs.constants.S_IFREG), /must not create or truncate/);
  assert.is(fs.readFileSync(path.join(base, 'f'), 'utf8'), content);
});

t('fstatfsInto gives the file system figures statfs does', () => {
  const out = new Float64Array(7);
  assert.is(n.fstatfsInto!(dir, out), 0);
  const st = fs.statfsSync(base);
  assert.is(out[0], st.blocks);
  assert.is(out[5], st.bsize);
});

t('speed: statInto against fs.lstatSync (printed, not asserted)', () => {
  const b = new Uint8Array(64);
  const N = 20000;
  let t0 = performance.now();
  for (let i = 0; i < N; i++) n.statInto!(dir, 'f', n.AT_SYMLINK_NOFOLLOW!, b, 0);
  const a = ((performance.now() - t0) * 1000) / N;
  t0 = performance.now();
  for (let i = 0; i < N; i++) fs.lstatSync(path.join(base, 'f'), { bigint: true });
  const l = ((performance.now() - t0) * 1000) / N;
  console.log(`statInto ${a.toFixed(2)} µs, fs.lstatSync (bigint) ${l.toFixed(2)} µs per call`);
});

test.after(() => {
  for (const fd of fds) fs.closeSync(fd);
  fs.closeSync(dir);
});

test.run();
