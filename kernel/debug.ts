// DEBUG is true in the debug build (kernel.debug.wasm) and false in the release build, where
// `if (DEBUG) assert(...)` compiles to nothing. Invariant checks use it; behaviour never depends on it.
export const DEBUG: bool = !ASC_NO_ASSERT;
