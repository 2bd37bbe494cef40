// --read-only and --tmpfs (kernel/fs/devices.ts): a read-only root answers EROFS to every kind of
// change, in the order Linux checks (EEXIST before EROFS for a create; EROFS before ENOENT for
// unlink, rmdir and rename), while tmpfs and bind mounts below it stay writable; a tmpfs mount is its
// own file system (EXDEV across it), starts empty over whatever the image had there, keeps to its
// size= quota with ENOSPC and no data lost, and can be read-only itself; mounts nest parents first.
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { buildImage, tempDir } from '../lib/images';
import { guestWasm, runSandbox } from '../lib/sandbox';

const img = buildImage(
  {
    layers: [
      [
        { path: 'fsops', type: 'file', data: guestWasm('fsops'), mode: 0o755 },
        { path: 'etc/passwd', type: 'file', data: 'image passwd\n' },
        { path: 'etc/dir/inner', type: 'file', data: 'inner\n' },
        { path: 'run/from-image', type: 'file', data: 'hidden by the tmpfs\n' },
      ],
    ],
    entrypoint: ['/fsops'],
  },
  { format: 'oci' },
);
const vol = tempDir('mounts-vol');

function run(args: string[], ops: string[]): (op: string) => string {
  const r = runSandbox([...args, img], { input: ['seed /', ...ops].join('\n') + '\n' });
  assert.is(r.status, 0, r.stderr);
  const lines = r.stdout.split('\n');
  return (op: string) => {
    const l = lines.find((x) => x.startsWith(op + ' -> '));
    assert.ok(l, `no result for ${op}:\n${r.stdout}`);
    return l!.slice(op.length + 4);
  };
}

test('--read-only: every change to the root is EROFS, in Linux order; reads work', () => {
  const res = run(['--read-only'], [
    'put etc/new 3 1',
    'put etc/passwd 3 1',
    'open 0 etc/passwd w',
    'open 1 etc/passwd rt',
    'open 2 etc/passwd r',
    'open 3 etc/passwd rc',
    'mkdir etc/d',
    'mkdir etc/dir',
    'rmdir etc/dir',
    'rmdir etc/none',
    'unlink etc/passwd',
    'unlink etc/none',
    'rename etc/passwd etc/p2',
    'rename etc/none etc/p2',
    'symlink x etc/l',
    'symlink x etc/passwd',
    'link etc/passwd etc/h',
    'trunc etc/passwd 1',
    'utimes etc/passwd 1000 2000',
    'cat etc/passwd',
    'ls etc',
  ]);
  const want: [string, string][] = [
    ['put etc/new 3 1', 'EROFS'],
    ['put etc/passwd 3 1', 'EROFS'],
    ['open 0 etc/passwd w', 'EROFS'],
    ['open 1 etc/passwd rt', 'EROFS'],
    ['mkdir etc/d', 'EROFS'],
    ['mkdir etc/dir', 'EEXIST'],
    ['rmdir etc/dir', 'EROFS'],
    ['rmdir etc/none', 'EROFS'],
    ['unlink etc/passwd', 'EROFS'],
    ['unlink etc/none', 'EROFS'],
    ['rename etc/passwd etc/p2', 'EROFS'],
    ['rename etc/none etc/p2', 'EROFS'],
    ['symlink x etc/l', 'EROFS'],
    ['symlink x etc/passwd', 'EEXIST'],
    ['link etc/passwd etc/h', 'EROFS'],
    ['trunc etc/passwd 1', 'EROFS'],
    ['utimes etc/passwd 1000 2000', 'EROFS'],
    ['ls etc', 'ok dir/ passwd'],
  ];
  for (const [op, r] of want) assert.is(res(op), r, op);
  assert.match(res('open 2 etc/passwd r'), /^ok f size=13/);
  assert.match(res('open 3 etc/passwd rc'), /^ok f size=13/); // O_CREAT of an existing file reads it
  assert.match(res('cat etc/passwd'), /^ok n=13 /);
});

test('--read-only leaves tmpfs and bind mounts below it writable', () => {
  const res = run(['--read-only', '--tmpfs', '/run', '-v', `${vol}:/vol`], ['put run/x 5 1', 'cat run/x', 'put vol/y 4 2', 'cat vol/y', 'put x 1 1']);
  assert.is(res('put run/x 5 1'), 'ok');
  assert.match(res('cat run/x'), /^ok n=5 /);
  assert.is(res('put vol/y 4 2'), 'ok');
  assert.is(fs.readFileSync(path.join(vol, 'y')).length, 4);
  assert.is(res('put x 1 1'), 'EROFS');
});

test('a tmpfs mount starts empty over the image, is its own file system (EXDEV), and is gone the next run', () => {
  const res = run(['--tmpfs', '/run:mode=755'], ['ls run', 'put run/a 3 1', 'rename run/a etc/a', 'link run/a etc/b', 'rename run/a run/c', 'mkdir run/d', 'ls run']);
  assert.is(res('ls run'), 'ok'); // an empty listing; the image's run/from-image is hidden
  assert.is(res('rename run/a etc/a'), 'EXDEV');
  assert.is(res('link run/a etc/b'), 'EXDEV');
  assert.is(res('rename run/a run/c'), 'ok');
  const again = run([], ['ls run']);
  assert.is(again('ls run'), 'ok from-image');
});

test('size= is a quota: ENOSPC past it, what was written stays, and deleting gives room back', () => {
  const res = run(['--tmpfs', '/small:size=64k'], [
    'put small/a 40000 1',
    'open 0 small/b wc',
    'write 0 40000 2',
    'close 0',
    'cat small/a',
    'cat small/b',
    'unlink small/a',
    'put small/c 40000 3',
    'put big 200000 4',
  ]);
  assert.is(res('put small/a 40000 1'), 'ok');
  // 10 pages are taken by a; b's write gets the 6 left (a short write of 24576 bytes), then ENOSPC
  assert.is(res('write 0 40000 2'), 'ENOSPC');
  assert.match(res('cat small/a'), /^ok n=40000 /);
  assert.match(res('cat small/b'), /^ok n=24576 /);
  assert.is(res('put small/c 40000 3'), 'ok');
  assert.is(res('put big 200000 4'), 'ok'); // the root's upper layer is not bound by the tmpfs's quota
});

test('a read-only tmpfs (ro) refuses writes; mounts nest parents first whatever the flag order', () => {
  const res = run(['--tmpfs', '/vol/inner/t', '-v', `${vol}:/vol`, '--tmpfs', '/ro:ro'], ['put ro/x 1 1', 'put vol/inner/t/x 2 1', 'cat vol/inner/t/x']);
  assert.is(res('put ro/x 1 1'), 'EROFS');
  assert.is(res('put vol/inner/t/x 2 1'), 'ok');
  assert.match(res('cat vol/inner/t/x'), /^ok n=2 /);
  // the mount point was made on the host (as Docker does); the tmpfs's file was not
  assert.ok(fs.statSync(path.join(vol, 'inner/t')).isDirectory());
  assert.equal(fs.readdirSync(path.join(vol, 'inner/t')), []);
});

test('bad --tmpfs values: 125 and a message naming the flag', () => {
  for (const [arg, re] of [
    ['run', /--tmpfs run: the path must be absolute/],
    ['/', /cannot mount over \//],
    ['/run:size=lots', /size=lots: not a size/],
    ['/run:mode=999', /mode=999: not an octal mode/],
    ['/run:bogus', /unknown option "bogus"/],
  ] as const) {
    const r = runSandbox(['--tmpfs', arg, img]);
    assert.is(r.status, 125, r.stderr);
    assert.match(r.stderr.split('\n')[0], re);
  }
});

test.run();
