// Kernel heap helpers over AssemblyScript's TLSF (heap.alloc/realloc/free). All kernel objects are
// unmanaged: allocated here and freed explicitly by their owner.

/** heap.realloc that also accepts 0 (a first allocation); TLSF's realloc rejects a null pointer. */
export function reallocOrAlloc(p: usize, size: usize): usize {
  return p == 0 ? heap.alloc(size) : heap.realloc(p, size);
}
