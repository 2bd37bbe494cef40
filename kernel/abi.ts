// The kernel <-> host ABI: the layout of the exchange area and the I/O plan format.
//
// Compiled twice, by AssemblyScript (kernel) and esbuild (host glue), so it holds only const enums.
//
// The exchange area is a fixed region of kernel memory whose address the kernel exports (io_base).
// For each syscall the glue copies the guest's path arguments into PATH1/PATH2, calls the kernel
// export, then copies results out of RES/STRUCT/DATA into guest memory. The glue trusts nothing it
// reads here: every length and address is bounds-checked before use.
//
//   +0       PATH1   4096   first path argument (not NUL-terminated; its length is an argument)
//   +4096    PATH2   4096   second path argument (rename/link/symlink)
//   +8192    RES      128   result words: u32 at RES+4*i, or u64 at RES+8*i
//   +8320    STRUCT   128   a filestat/fdstat/prestat in guest layout
//   +8448    SEGS   16384   the I/O plan, up to 1024 segments of 16 bytes
//   +24832   DATA   65536   readdir records, readlink targets, names
//   +90368   end
//
// I/O plan. For reads and writes the kernel does not move file data itself. It plans: it checks the
// fd, allocates filestore pages, updates size and offset, and writes a list of segments that the
// glue then copies between guest memory and their source or destination, in order. A segment:
//   0 kind u32   4 len u32   8 a u32   12 b u32
// with
//   Seg.Page   filestore bytes [a*4096 + b, +len); may span consecutive pages of one chunk
//   Seg.Zero   len zero bytes (a hole; reads only)
//   Seg.Kmem   kernel memory [a, a+len) (for a write: only in a COMMIT plan)
//   Seg.Stream the host stream a (stdio); the glue does the host read/write, and may do fewer bytes
//   Seg.PageNew as Seg.Page, for a write into pages new to the filestore, allocated by this very
//              plan (not freed pages reused with their storage): a host-file-backed filestore writes
//              these with a system call (a first store through the mapping costs a fault). Whatever
//              the kind, the host writes by system call any page it knows to have no storage (a
//              store there could SIGBUS on a full disk). If such a write fails, the glue calls
//              io_abort with the bytes it did write, and the kernel takes the rest of the write
//              back (size, offset, pages, and zeros over reused pages it was to fill).
export const enum Io {
  PATH1 = 0,
  PATH2 = 4096,
  PATH_MAX = 4096,
  RES = 8192,
  STRUCT = 8320,
  SEGS = 8448,
  SEG_BYTES = 16,
  MAX_SEGS = 1024,
  DATA = 24832,
  DATA_SIZE = 65536,
  SIZE = 90368,
}

export const enum Seg {
  Page = 1,
  Zero = 2,
  Kmem = 3,
  Stream = 4,
  PageNew = 5,
  /**
   * A remote file's bytes, moved by the host straight between the guest's memory and the host file
   * (no copy through the kernel): { len, gofer handle, 0 }, the file offset a u64 at RES word
   * Plan.HOST_OFF. Always the plan's only segment, with PlanFlag.COMMIT; the count may come out short
   * (the end of the file, a full disk). Only when the host offered it (kernel_set_host_io).
   */
  Host = 6,
}

/** Result words of a planned read or write (u32 indexes into RES). */
export const enum Plan {
  /** Bytes this plan moves (for Seg.Stream: at most this many). */
  BYTES = 0,
  /** Number of segments. */
  NSEGS = 1,
  /** PlanFlag bits. */
  FLAGS = 2,
  /** Seg.Host: the file offset, a u64 at this u32 index (4: RES bytes 16..23). */
  HOST_OFF = 4,
}

/**
 * fd_io's flags: one kernel entry for the guest's fd_read, fd_write, fd_pread and fd_pwrite, so
 * that the glue calls the kernel from one place whichever way the bytes go (glue.ts ONE PATH).
 */
export const enum IoFlag {
  WRITE = 1,
  /** At the given offset, leaving the fd's own where it is (pread/pwrite). */
  AT = 2,
}

export const enum PlanFlag {
  /** More bytes may follow: the glue calls again for the rest (a regular file). */
  MORE = 1,
  /**
   * A remote file's I/O that the kernel finishes after the glue has carried the plan out: a write
   * into kernel memory that the kernel still has to send on, or a Seg.Host transfer the glue made
   * itself. The glue then calls io_commit(pid, result) (for Seg.Host, result is the count moved or a
   * negated errno), whose RES[0] is the count that counts.
   */
  COMMIT = 2,
}

/** Result words of fd_readdir (u32 indexes into RES; u64 at RES+8 is the resume cookie). */
export const enum Readdir {
  /** Bytes written to DATA, the last record possibly cut short. */
  USED = 0,
  /** Bytes of whole records in DATA. */
  WHOLE = 1,
  /** 1 when the directory's end was reached. */
  EOF = 4,
  /** u64 word index 1: the cookie after the last whole record. */
  COOKIE64 = 1,
}

/**
 * Filestore geometry. The filestore is a sequence of chunks of 2^18 pages (1 GiB), because a
 * JavaScript ArrayBuffer cannot exceed 4 GiB; a Seg.Page segment never crosses a chunk boundary.
 */
export const enum Page {
  SIZE = 4096,
  SHIFT = 12,
  CHUNK_SHIFT = 18,
  CHUNK_PAGES = 262144,
}

/**
 * Host stream ids a process starts with at fds 0, 1 and 2. Ids from FIRST_PIPE up are the ends of
 * pipes the host made (wasmbox.pipe): the kernel tells the host (stream_release) when the last fd
 * of such an end is closed, so that the other end sees end of input or a broken pipe.
 */
export const enum Stream {
  STDIN = 0,
  STDOUT = 1,
  STDERR = 2,
  /** The devices of /dev, served by the host: null, zero, full, random (and urandom). */
  DEV_NULL = 8,
  DEV_ZERO = 9,
  DEV_FULL = 10,
  DEV_RANDOM = 11,
  /** Not streams: /dev/stdin, /dev/stdout and /dev/stderr open the opener's own fd 0, 1 or 2 again. */
  DEV_FD0 = 12,
  FIRST_PIPE = 16,
}

/** The kind of an upper-layer record that export_next leaves in STRUCT (kernel/fs/export.ts). */
export const enum ExportKind {
  DIR = 1,
  FILE = 2,
  SYMLINK = 3,
  HARDLINK = 4,
  WHITEOUT = 5,
}
