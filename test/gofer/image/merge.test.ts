// gofer/image/merge.ts: OCI layer semantics between and within layers (whiteouts, opaque dirs,
// replacement rules, implied parents, hard links, symlinks), checked on whole images.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Entry, Layers } from '../../../host/image/image-writer';
import { NodeKind } from '../../../gofer/image/tree';
import { buildImage } from '../../lib/images';
import { listing, open, openError, plainTar } from './util';

const f = (path: string, data = path, mode?: number): Entry => ({ path, type: 'file', data, mode });
const d = (path: string, mode?: number): Entry => ({ path, type: 'dir', mode });
const wh = (path: string): Entry => ({ path, type: 'whiteout' });
const opq = (path: string, mode?: number): Entry => ({ path, type: 'opaque', mode });
const ln = (path: string, target: string): Entry => ({ path, type: 'symlink', target });
const hl = (path: string, target: string): Entry => ({ path, type: 'hardlink', target });

function tree(layers: Layers) {
  const img = open(buildImage({ layers }, { format: 'oci' }));
  return img;
}

const cases: { name: string; layers: Layers; want: Record<string, string> }[] = [
  {
    name: 'missing parents are implied as 0755 directories',
    layers: [[f('a/b/c', 'x')]],
    want: { a: 'dir 755', 'a/b': 'dir 755', 'a/b/c': 'file 644 x' },
  },
  {
    name: 'a whiteout deletes a file of a lower layer',
    layers: [[f('a'), f('b')], [wh('a')]],
    want: { b: 'file 644 b' },
  },
  {
    name: 'a whiteout deletes a lower directory with its whole subtree',
    layers: [[f('d/x/y'), f('d/z'), f('k')], [wh('d')]],
    want: { k: 'file 644 k' },
  },
  {
    name: 'a whiteout after its own layer entry does not delete that entry',
    layers: [[f('x', 'old')], [f('x', 'new'), wh('x')]],
    want: { x: 'file 644 new' },
  },
  {
    name: 'a whiteout before its own layer entry does not delete that entry',
    layers: [[f('x', 'old')], [wh('x'), f('x', 'new')]],
    want: { x: 'file 644 new' },
  },
  {
    name: 'whiteouts act through several layers',
    layers: [[f('d/a'), f('d/b')], [f('d/c')], [wh('d/a')], [wh('d/c'), f('d/e')]],
    want: { d: 'dir 755', 'd/b': 'file 644 d/b', 'd/e': 'file 644 d/e' },
  },
  {
    name: 'a whiteout of a name no layer has is harmless',
    layers: [[f('a')], [wh('nope'), wh('deep/nope')]],
    want: { a: 'file 644 a', deep: 'dir 755' },
  },
  {
    name: 'an opaque dir hides everything lower layers have in it, but keeps its own entries',
    layers: [[f('d/a'), f('d/sub/x'), f('other')], [f('d/b')], [opq('d', 0o750), f('d/c')]],
    want: { d: 'dir 750', 'd/c': 'file 644 d/c', other: 'file 644 other' },
  },
  {
    name: 'layers above an opaque dir add to it again',
    layers: [[f('d/a')], [opq('d'), f('d/c')], [f('d/e')]],
    want: { d: 'dir 755', 'd/c': 'file 644 d/c', 'd/e': 'file 644 d/e' },
  },
  {
    name: 'the opaque marker hides only lower layers even when it follows its layer entries',
    layers: [[f('d/a')], [f('d/c'), opq('d')]],
    want: { d: 'dir 755', 'd/c': 'file 644 d/c' },
  },
  {
    name: 'opaque dirs nest: an inner opaque dir hides only its own subtree',
    layers: [[f('d/a'), f('d/s/b')], [opq('d/s'), f('d/s/c')]],
    want: { d: 'dir 755', 'd/a': 'file 644 d/a', 'd/s': 'dir 755', 'd/s/c': 'file 644 d/s/c' },
  },
  {
    name: 'an opaque dir replaces a lower non-directory',
    layers: [[f('d', 'file')], [opq('d'), f('d/x')]],
    want: { d: 'dir 755', 'd/x': 'file 644 d/x' },
  },
  {
    name: 'a later entry for the same path in one layer replaces the earlier one',
    layers: [[f('a', '1'), f('a', '2', 0o600)]],
    want: { a: 'file 600 2' },
  },
  {
    name: 'a later directory entry in one layer replaces an earlier file',
    layers: [[f('a'), d('a', 0o700), f('a/x')]],
    want: { a: 'dir 700', 'a/x': 'file 644 a/x' },
  },
  {
    name: 'a later file entry in one layer replaces an earlier directory and its subtree',
    layers: [[d('a'), f('a/x'), f('a', 'now a file')]],
    want: { a: 'file 644 now a file' },
  },
  {
    name: 'a file replaces a lower directory and its whole subtree',
    layers: [[f('d/x/y'), f('d/z')], [f('d', 'flat')]],
    want: { d: 'file 644 flat' },
  },
  {
    name: 'a symlink replaces a lower directory and its whole subtree',
    layers: [[f('d/x/y')], [ln('d', 'elsewhere')]],
    want: { d: 'link -> elsewhere' },
  },
  {
    name: 'a directory over a lower directory merges and takes the upper attributes',
    layers: [[d('d', 0o700), f('d/a')], [d('d', 0o751), f('d/b')]],
    want: { d: 'dir 751', 'd/a': 'file 644 d/a', 'd/b': 'file 644 d/b' },
  },
  {
    name: 'a directory over a lower non-directory replaces it',
    layers: [[ln('d', 'x')], [d('d', 0o711), f('d/y')]],
    want: { d: 'dir 711', 'd/y': 'file 644 d/y' },
  },
  {
    name: 'an implied parent replaces a lower non-directory in its way',
    layers: [[f('lib', 'file'), ln('bin', 'usr/bin')], [f('lib/x'), f('bin/sh')]],
    want: { bin: 'dir 755', 'bin/sh': 'file 644 bin/sh', lib: 'dir 755', 'lib/x': 'file 644 lib/x' },
  },
  {
    name: 'symlinks are stored as written, never followed or normalised',
    layers: [[ln('up', '../../etc/passwd'), ln('abs', '/usr//bin/'), ln('dangling', 'no/such'), ln('self', 'self')]],
    want: { abs: 'link -> /usr//bin/', dangling: 'link -> no/such', self: 'link -> self', up: 'link -> ../../etc/passwd' },
  },
  {
    name: 'AUFS metadata (.wh..wh.* names and what is inside them) never appears',
    layers: [[f('a')], [d('.wh..wh.plnk'), f('.wh..wh.plnk/123.456'), f('.wh..wh.aufs'), f('b')]],
    want: { a: 'file 644 a', b: 'file 644 b' },
  },
  {
    name: 'setuid, setgid and sticky bits are kept',
    layers: [[f('su', 's', 0o4755), f('sg', 's', 0o2711), d('tmp', 0o1777)]],
    want: { sg: 'file 2711 s', su: 'file 4755 s', tmp: 'dir 1777' },
  },
];

for (const c of cases) {
  test(c.name, () => {
    const img = tree(c.layers);
    assert.equal(listing(img.tree), c.want);
    img.close();
  });
}

test('implied parents have uid/gid 0 and mtime 0; listed ones keep theirs', () => {
  const img = tree([[f('a/b')]]);
  const t = img.tree;
  const a = t.walkPath('a');
  assert.is(t.uid(a), 0);
  assert.is(t.gid(a), 0);
  assert.is(t.mtimeNs(a), 0n);
  assert.is(t.mtimeNs(t.walkPath('a/b')), 1680153482n * 1000000000n);
  img.close();
});

test('hard links in one layer share ONE node and nlink counts its names', () => {
  const img = tree([[f('a', 'data'), hl('b', 'a'), hl('dir/c', 'a')]]);
  const t = img.tree;
  const a = t.walkPath('a');
  assert.is(t.walkPath('b'), a);
  assert.is(t.walkPath('dir/c'), a);
  assert.is(t.nlink(a), 3);
  assert.is(t.kind(a), NodeKind.File);
  img.close();
});

test('a hard link may name a file of a lower layer (same node, layer of the target)', () => {
  const img = tree([[f('a', 'data')], [hl('b', 'a')]]);
  const t = img.tree;
  assert.is(t.walkPath('b'), t.walkPath('a'));
  assert.is(t.nlink(t.walkPath('a')), 2);
  assert.is(t.layer(t.walkPath('b')), 0);
  img.close();
});

test('a hard link to a symlink shares the symlink node', () => {
  const img = tree([[ln('s', 'target'), hl('s2', 's')]]);
  const t = img.tree;
  assert.is(t.walkPath('s2'), t.walkPath('s'));
  assert.is(t.nlink(t.walkPath('s')), 2);
  img.close();
});

test('whiting out one name of a hard-linked file keeps the others, and nlink drops', () => {
  const img = tree([[f('a', 'data'), hl('b', 'a')], [wh('a')]]);
  const t = img.tree;
  assert.is(t.walkPath('a'), -1);
  assert.is(t.nlink(t.walkPath('b')), 1);
  assert.equal(listing(t), { b: 'file 644 data' });
  img.close();
});

test('replacing one name of a hard-linked file gives it a new node; the other keeps the old data', () => {
  const img = tree([[f('a', 'old'), hl('b', 'a')], [f('a', 'new')]]);
  const t = img.tree;
  assert.is.not(t.walkPath('a'), t.walkPath('b'));
  assert.equal(listing(t), { a: 'file 644 new', b: 'file 644 old' });
  assert.is(t.nlink(t.walkPath('a')), 1);
  assert.is(t.nlink(t.walkPath('b')), 1);
  img.close();
});

test('a hard link to a missing target is an ImageError naming both paths', () => {
  const p = plainTar([hl('b', 'a')]);
  assert.is(openError(p), 'rootfs.tar: archive has a hard link "b" to missing "a"');
  const q = buildImage({ layers: [[f('x')], [hl('b', 'gone')]] }, { format: 'docker' });
  assert.match(openError(q), /^docker\.tar: layer 1 \(sha256:[0-9a-f]{12}…\) has a hard link "b" to missing "gone"$/);
});

test('a hard link must come after its target in the same layer', () => {
  assert.is(openError(plainTar([hl('b', 'a'), f('a')])), 'rootfs.tar: archive has a hard link "b" to missing "a"');
});

test('a hard link to a directory is an ImageError', () => {
  assert.is(openError(plainTar([d('dir'), hl('b', 'dir')])), 'rootfs.tar: archive has a hard link "b" to a directory "dir"');
});

test('a hard link does not follow symlinks to reach its target', () => {
  assert.match(openError(plainTar([f('real/a'), ln('via', 'real'), hl('b', 'via/a')])), /hard link "b" to missing "via\/a"$/);
});

test('directory nlink is 2 plus the number of child directories', () => {
  const img = tree([[f('d/x'), d('d/s1'), d('d/s2'), ln('d/l', 's1')]]);
  const t = img.tree;
  assert.is(t.nlink(t.walkPath('d')), 4);
  assert.is(t.nlink(t.walkPath('d/s1')), 2);
  assert.is(t.nlink(t.root), 3);
  img.close();
});

test('layer() names the layer whose entry supplied each node', () => {
  const img = tree([[d('d'), f('d/a'), f('keep')], [f('d/b')], [d('d', 0o700)]]);
  const t = img.tree;
  assert.is(t.layer(t.walkPath('keep')), 0);
  assert.is(t.layer(t.walkPath('d/a')), 0);
  assert.is(t.layer(t.walkPath('d/b')), 1);
  assert.is(t.layer(t.walkPath('d')), 2);
  img.close();
});

test('a root entry ("./") sets the attributes of the root directory', () => {
  const img = open(plainTar([d('.', 0o700), f('./a')]));
  assert.is(img.tree.mode(img.tree.root), 0o700);
  assert.equal(listing(img.tree), { a: 'file 644 ./a' });
  img.close();
});

test('a non-directory entry for the root is an ImageError', () => {
  assert.is(openError(plainTar([f('./', 'x')])), 'rootfs.tar: archive has a non-directory entry for the root directory at byte 0');
});

test('whiteout names of "." or ".." are hostile', () => {
  assert.match(openError(plainTar([f('a/.wh...')])), /^rootfs\.tar: archive has a hostile whiteout "a\/\.wh\.\.\." at byte 0$/);
});

test('LayerInfo.files counts entries, not whiteout markers', () => {
  const img = tree([[f('a'), f('b')], [wh('a'), opq('d'), f('d/x')]]);
  assert.equal(
    img.layers.map((l) => l.files),
    [2, 2],
  );
  img.close();
});

test.run();
