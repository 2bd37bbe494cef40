// Sharing one opened image among the threads of a process (many sandboxes, one image): the tree's
// tables are copied once into SharedArrayBuffers, which every thread's LowerTree then reads in
// place, and the descriptors (process-wide numbers) are used as they are. Owns only the copy.
// The thread that opened the image keeps owning it: it closes the descriptors after every thread
// that uses the shared tree is done (a LowerTree built from a SharedTree must not be close()d).
import { TABLES, type LowerTree, type TreeTables } from './tree';

/** Plain data: can be sent to a worker (postMessage / workerData) without copying the tables. */
export interface SharedTree {
  tables: TreeTables;
}

/** The tree's tables in shared memory, in the property order merge.ts uses. Fails for in-memory Sources. */
export function shareTree(tree: LowerTree): SharedTree {
  const t = tree.tables;
  if (t.fds.some((fd) => fd < 0)) throw new Error('shareTree: an image read through a Source cannot be shared between threads');
  const out = { count: t.count } as Record<string, unknown>;
  for (const [k, Ctor] of TABLES) {
    const a = t[k];
    const sab = new SharedArrayBuffer(a.byteLength);
    new Uint8Array(sab).set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
    out[k] = new Ctor(sab as unknown as ArrayBuffer, 0, a.length); // (the DOM typings want ArrayBuffer)
  }
  out.fds = t.fds.slice();
  return { tables: out as unknown as TreeTables };
}
