// Processes: a guest spawning children through the `wasmbox.spawn` import (host/sandbox/process.ts). A
// child gets its own args, environment (with PWD) and fd table over the shared VFS; its stdio can
// be redirected to the parent's fds; its exit status comes back; its trap or exit never takes down
// the parent; a missing program is ENOENT, a non-WebAssembly file ENOEXEC, a directory EACCES.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { buildImage } from '../lib/images';
import { guestWasm, runSandbox } from '../lib/sandbox';

const img = buildImage(
  {
    layers: [
      [
        { path: 'bin/spawner', type: 'file', data: guestWasm('spawner'), mode: 0o755 },
        { path: 'bin/args', type: 'file', data: guestWasm('args'), mode: 0o755 },
        { path: 'bin/trap', type: 'file', data: guestWasm('trap'), mode: 0o755 },
        { path: 'bin/script', type: 'file', data: '#!/bin/sh\n', mode: 0o755 },
        { path: 'bin/dir', type: 'dir' },
        { path: 'tmp', type: 'dir' },
      ],
    ],
    entrypoint: ['/bin/spawner'],
    env: ['PATH=/bin', 'WANT_ENV=CHILD,PWD'],
  },
  { format: 'oci' },
);

test('a child runs with its own argv and env (PWD from the spawn), and its status comes back', () => {
  const r = runSandbox([img, 'run', '/bin/args', 'one', 'exit=5']);
  assert.is(r.status, 0, r.stderr);
  assert.is(r.stdout, 'argv[0]=/bin/args\nargv[1]=one\nargv[2]=exit=5\nenv CHILD=1\nenv PWD=/tmp\nstatus 5\n');
});

test('a bare name is found through PATH', () => {
  const r = runSandbox([img, 'run', 'args', 'exit=3']);
  assert.match(r.stdout, /status 3\n$/);
});

test('missing program: ENOENT; not WebAssembly: ENOEXEC; a directory: EACCES; bad fd: EBADF', () => {
  for (const [args, want] of [
    [['run', '/bin/nope'], 'errno ENOENT'],
    [['run', 'nope'], 'errno ENOENT'],
    [['run', '/bin/script'], 'errno ENOEXEC'],
    [['run', '/bin/dir'], 'errno EACCES'],
    [['badfd', '/bin/args'], 'errno EBADF'],
  ] as const) {
    const r = runSandbox([img, ...args]);
    assert.is(r.status, 0, r.stderr);
    assert.is(r.stdout, `${want}\n`, args.join(' '));
  }
});

test('a child that traps or exits ends only itself; the parent carries on', () => {
  let r = runSandbox([img, 'run', '/bin/trap', 'unreachable']);
  assert.is(r.status, 0);
  assert.is(r.stdout, 'trap: unreachable\nstatus 134\n');
  assert.match(r.stderr, /trap: guest trapped: unreachable/);
  r = runSandbox([img, 'run', '/bin/trap', 'exit', '9']);
  assert.is(r.stdout, 'trap: exit\nstatus 9\n');
});

test('stdout redirected to a file by the parent; the file holds the child output afterwards', () => {
  const r = runSandbox([img, 'redirect', '/tmp/out', '/bin/args', 'x', '--then', 'cat', '/tmp/out']);
  assert.is(r.status, 0, r.stderr);
  assert.is(r.stdout, 'status 0\nargv[0]=/bin/args\nargv[1]=x\nenv CHILD=1\nenv PWD=/tmp\n');
});

test('a child that traps mid-way leaves what it wrote consistent, and the VFS keeps working', () => {
  const r = runSandbox([img, 'run', '/bin/trap', 'write-trap', '--then', 'cat', '/written', '--then', 'run', '/bin/args', 'after']);
  assert.is(r.status, 0, r.stderr);
  assert.is(r.stdout, 'trap: write-trap\nstatus 134\nkept\nargv[0]=/bin/args\nargv[1]=after\nenv CHILD=1\nenv PWD=/tmp\nstatus 0\n');
});

test('children nest, up to a limit, and then spawn fails with EAGAIN', () => {
  const chain: string[] = [];
  for (let i = 0; i < 40; i++) chain.push('run', '/bin/spawner');
  const r = runSandbox([img, ...chain, 'run', '/bin/args']);
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /errno EAGAIN/);
  assert.match(r.stdout, /status 0\n$/);
});

test.run();
