// The reader on archives GNU tar itself wrote (not only our writer's): --format=gnu (L/K long names,
// base-256 numbers), pax (x records, nanosecond mtimes), ustar (prefix field), oldgnu, and tar -z.
// Each archive of a real directory must index to exactly what lstat says about that directory.
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { NodeKind, type LowerTree } from '../../../gofer/image/tree';
import { tempDir } from '../../lib/images';
import { open } from './util';

type Desc = { kind: string; mode: number; uid: number; gid: number; size: number; sha?: string; target?: string; mtimeS: number; mtimeNs: bigint; ino: bigint; nlink: number };

/** lstat's view of every path under dir (relative, '/'-separated), FIFOs left out. */
function describeFs(dir: string): Map<string, Desc> {
  const out = new Map<string, Desc>();
  const walk = (rel: string): void => {
    for (const name of fs.readdirSync(path.join(dir, rel))) {
      const r = rel ? `${rel}/${name}` : name;
      const p = path.join(dir, r);
      const st = fs.lstatSync(p, { bigint: true });
      const base = { mode: Number(st.mode & 0o7777n), uid: Number(st.uid), gid: Number(st.gid), mtimeS: Number(st.mtimeMs / 1000n), mtimeNs: st.mtimeNs, ino: st.ino, nlink: Number(st.nlink) };
      if (st.isDirectory()) {
        out.set(r, { kind: 'dir', size: 0, ...base });
        walk(r);
      } else if (st.isFile()) {
        const data = fs.readFileSync(p);
        out.set(r, { kind: 'file', size: data.length, sha: crypto.createHash('sha256').update(data).digest('hex'), ...base });
      } else if (st.isSymbolicLink()) {
        const target = fs.readlinkSync(p, { encoding: 'buffer' }).toString('latin1');
        out.set(r, { kind: 'link', size: Buffer.byteLength(target, 'latin1'), target, ...base });
      }
    }
  };
  walk('');
  return out;
}

/** The tree's view of every path (names decoded as UTF-8, like the file system's). */
function describeTree(t: LowerTree): Map<string, Desc & { node: number }> {
  const out = new Map<string, Desc & { node: number }>();
  const walk = (dir: number, prefix: string): void => {
    for (let e = t.entryFirst(dir); e < t.entryFirst(dir) + t.entryCount(dir); e++) {
      const n = t.entryNode(e);
      const name = Buffer.from(t.names.subarray(t.entryNameOffset(e), t.entryNameOffset(e) + t.entryNameLength(e))).toString('utf8');
      const r = prefix + name;
      const base = { node: n, mode: t.mode(n), uid: t.uid(n), gid: t.gid(n), size: t.size(n), mtimeS: Number(t.mtimeNs(n) / 1000000000n), mtimeNs: t.mtimeNs(n), ino: 0n, nlink: t.nlink(n) };
      if (t.kind(n) === NodeKind.Dir) {
        out.set(r, { kind: 'dir', ...base, size: 0 });
        walk(n, `${r}/`);
      } else if (t.kind(n) === NodeKind.File) {
        const buf = new Uint8Array(t.size(n));
        t.read(n, 0, buf.length, buf, 0);
        out.set(r, { kind: 'file', sha: crypto.createHash('sha256').update(buf).digest('hex'), ...base });
      } else {
        out.set(r, { kind: 'link', target: Buffer.from(t.readlink(n)).toString('latin1'), ...base });
      }
    }
  };
  walk(t.root, '');
  return out;
}

/** A directory exercising every header feature; `ustarSafe` keeps names and targets ustar-sized. */
function makeSource(ustarSafe: boolean): string {
  const dir = tempDir('src');
  const w = (rel: string, data: string | Uint8Array, mode = 0o644) => {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), data);
    fs.chmodSync(path.join(dir, rel), mode);
  };
  for (const n of [0, 1, 511, 512, 513, 70000]) w(`sizes/f${n}`, crypto.randomBytes(n));
  w('bin/suid', 'x', 0o4755);
  w('grüße/日本語.txt', 'unicode');
  fs.mkdirSync(path.join(dir, 'tmp'));
  fs.chmodSync(path.join(dir, 'tmp'), 0o1777);
  fs.symlinkSync('../sizes/f1', path.join(dir, 'bin/rel-link'));
  fs.symlinkSync('/no/such/target', path.join(dir, 'dangling'));
  fs.linkSync(path.join(dir, 'sizes/f513'), path.join(dir, 'bin/hard513'));
  fs.linkSync(path.join(dir, 'sizes/f513'), path.join(dir, 'hard513-again'));
  execFileSync('mkfifo', [path.join(dir, 'bin/fifo')]);
  if (ustarSafe) {
    w(`${'p'.repeat(60)}/${'r'.repeat(40)}/${'q'.repeat(90)}`, 'prefix-split'); // 193 bytes: needs the prefix field
  } else {
    const longDir = 'L'.repeat(120);
    w(`${longDir}/${'F'.repeat(200)}`, 'long name');
    w(`${longDir}/${'é'.repeat(60)}/deep.txt`, 'long and non-ASCII');
    fs.symlinkSync(`${'t/'.repeat(80)}target`, path.join(dir, 'long-link'));
    fs.linkSync(path.join(dir, longDir, 'F'.repeat(200)), path.join(dir, 'hard-to-long'));
  }
  // Fractional mtimes last, so the writes above do not disturb them.
  const all = describeFs(dir);
  let i = 0;
  for (const rel of [...all.keys()].reverse()) {
    const t = 1600000000 + i++ * 1000 + 0.25;
    fs.lutimesSync(path.join(dir, rel), t, t);
  }
  return dir;
}

function tarOf(src: string, args: string[], name = 'gnu.tar'): string {
  const out = path.join(tempDir('gnutar'), name);
  execFileSync('tar', [...args, '-cf', out, '-C', src, '.']);
  return out;
}

function compare(src: string, archive: string, opts: { ns: boolean; uid?: number; gid?: number }): void {
  const img = open(archive);
  const fsView = describeFs(src);
  const treeView = describeTree(img.tree);
  assert.equal([...treeView.keys()].sort(), [...fsView.keys()].sort());
  const byInode = new Map<bigint, number>();
  for (const [rel, want] of fsView) {
    const got = treeView.get(rel)!;
    assert.is(got.kind, want.kind, rel);
    assert.is(got.mode, want.kind === 'link' ? got.mode : want.mode, `${rel} mode`);
    assert.is(got.size, want.size, `${rel} size`);
    assert.is(got.sha, want.sha, `${rel} data`);
    assert.is(got.target, want.target, `${rel} target`);
    assert.is(got.nlink, want.nlink, `${rel} nlink`);
    if (opts.ns) assert.is(got.mtimeNs, want.mtimeNs, `${rel} mtime ns`);
    else assert.is(got.mtimeS, want.mtimeS, `${rel} mtime s`);
    assert.is(got.uid, opts.uid ?? want.uid, `${rel} uid`);
    assert.is(got.gid, opts.gid ?? want.gid, `${rel} gid`);
    if (want.kind === 'file') {
      // Hard links: one node per inode.
      const prev = byInode.get(want.ino);
      if (prev === undefined) byInode.set(want.ino, got.node);
      else assert.is(got.node, prev, `${rel} shares its inode's node`);
    }
  }
  assert.is(img.layers[0].skipped, 1); // the FIFO
  img.close();
}

const formats: { name: string; args: string[]; ustarSafe: boolean; ns: boolean }[] = [
  { name: '--format=gnu (GNU L/K long names and links)', args: ['--format=gnu'], ustarSafe: false, ns: false },
  { name: '--format=oldgnu', args: ['--format=oldgnu'], ustarSafe: false, ns: false },
  { name: '--format=pax (PAX path/linkpath, nanosecond mtimes)', args: ['--format=pax'], ustarSafe: false, ns: true },
  { name: '--format=ustar (prefix field)', args: ['--format=ustar'], ustarSafe: true, ns: false },
];

for (const f of formats) {
  test(`GNU tar ${f.name}: the index matches lstat of the source`, () => {
    const src = makeSource(f.ustarSafe);
    compare(src, tarOf(src, f.args), { ns: f.ns });
  });
}

test('GNU tar --owner/--group: uid and gid are read back', () => {
  const src = makeSource(true);
  compare(src, tarOf(src, ['--format=ustar', '--owner=1234', '--group=5678', '--numeric-owner']), { ns: false, uid: 1234, gid: 5678 });
});

test('GNU tar --format=gnu with ids beyond octal: base-256 uid/gid decode', () => {
  const src = makeSource(false);
  compare(src, tarOf(src, ['--format=gnu', '--owner=3000000', '--group=3000001', '--numeric-owner']), { ns: false, uid: 3000000, gid: 3000001 });
});

test('GNU tar --format=pax with ids beyond octal: PAX uid/gid decode', () => {
  const src = makeSource(false);
  compare(src, tarOf(src, ['--format=pax', '--owner=3000000', '--group=3000001', '--numeric-owner']), { ns: true, uid: 3000000, gid: 3000001 });
});

test('GNU tar negative mtimes: base-256 (gnu) and PAX (pax) both decode to -86400 s', () => {
  const src = makeSource(false);
  for (const format of ['gnu', 'pax']) {
    const img = open(tarOf(src, [`--format=${format}`, '--mtime=@-86400'], `${format}.tar`));
    const t = img.tree;
    assert.is(t.mtimeNs(t.walkPath('sizes/f1')), -86400n * 1000000000n, format);
    img.close();
  }
});

test('GNU tar -z: a gzip-compressed rootfs tar matches lstat of the source', () => {
  const src = makeSource(false);
  compare(src, tarOf(src, ['--format=pax', '-z'], 'rootfs.tar.gz'), { ns: true });
});

test.run();
