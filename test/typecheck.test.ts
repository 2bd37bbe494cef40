// The trusted TypeScript (host/, gofer/, test/) type-checks cleanly under tsconfig.json: esbuild
// strips types without checking them, so this is where type errors are caught.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ROOT } from './lib/sandbox';

test('tsc --noEmit reports no errors', () => {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json', '--noEmit'], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 300_000,
  });
  assert.is(r.status, 0, r.stdout + r.stderr);
});

test.run();
