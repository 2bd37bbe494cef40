// The house's rules, read from the source tree: the untrusted kernel and the gofer import nothing
// from host/ (imports point down or sideways: host/ may use gofer/, kernel/ and native/, never the
// other way), and host/ holds only its entry points and the library API beside its rooms.
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ROOT } from './lib/sandbox';

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
    const rel = path.posix.join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name !== 'node_modules' && e.name !== 'build') out.push(...sources(rel));
    } else if (/\.(ts|mts|js|mjs)$/.test(e.name)) out.push(rel);
  }
  return out;
}

/** Every relative import of a file, resolved to a path from the project's root. */
function imports(file: string): string[] {
  const text = fs.readFileSync(path.join(ROOT, file), 'utf8');
  const specs = [...text.matchAll(/(?:from|import|require)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g)].map((m) => m[1]);
  return specs.map((s) => path.posix.normalize(path.posix.join(path.posix.dirname(file), s)));
}

test('kernel/, gofer/ and native/ import nothing from host/', () => {
  const bad: string[] = [];
  for (const dir of ['kernel', 'gofer', 'native']) {
    for (const f of sources(dir)) for (const t of imports(f)) if (t === 'host' || t.startsWith('host/')) bad.push(`${f} -> ${t}`);
  }
  assert.equal(bad, []);
});

test('host/ holds its entry points, the library API and rooms, no loose modules', () => {
  const loose = fs
    .readdirSync(path.join(ROOT, 'host'), { withFileTypes: true })
    .filter((e) => e.isFile() && !['run.js', 'pack.js', 'oci.js', 'index.ts'].includes(e.name))
    .map((e) => e.name);
  assert.equal(loose, []);
});

test('the rules can fail: the import reader sees a host/ import where there is one', () => {
  assert.ok(imports('host/index.ts').some((t) => t.startsWith('host/sandbox/')));
});

test.run();
