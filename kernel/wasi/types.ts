// WASI preview1 ABI constants and struct layouts used by the kernel (wasi_snapshot_preview1 witx).
// Struct layouts are the guest-visible byte layouts; the host glue copies them verbatim between the
// kernel's exchange area and guest memory, so offsets here must match the spec exactly.

export const enum Filetype {
  UNKNOWN = 0,
  BLOCK_DEVICE = 1,
  CHARACTER_DEVICE = 2,
  DIRECTORY = 3,
  REGULAR_FILE = 4,
  SOCKET_DGRAM = 5,
  SOCKET_STREAM = 6,
  SYMBOLIC_LINK = 7,
}

export const enum Whence {
  SET = 0,
  CUR = 1,
  END = 2,
}

/** oflags (path_open). */
export const enum O {
  CREAT = 1,
  DIRECTORY = 2,
  EXCL = 4,
  TRUNC = 8,
}

/** fdflags. */
export const enum FD {
  APPEND = 1,
  DSYNC = 2,
  NONBLOCK = 4,
  RSYNC = 8,
  SYNC = 16,
}

/** lookupflags. */
export const enum LOOKUP {
  SYMLINK_FOLLOW = 1,
}

/** fstflags (set_times). */
export const enum FST {
  ATIM = 1,
  ATIM_NOW = 2,
  MTIM = 4,
  MTIM_NOW = 8,
}

export const enum Advice {
  NORMAL = 0,
  SEQUENTIAL = 1,
  RANDOM = 2,
  WILLNEED = 3,
  DONTNEED = 4,
  NOREUSE = 5,
}

/** Rights bits (u64). */
export const enum R {
  FD_DATASYNC = 1 << 0,
  FD_READ = 1 << 1,
  FD_SEEK = 1 << 2,
  FD_FDSTAT_SET_FLAGS = 1 << 3,
  FD_SYNC = 1 << 4,
  FD_TELL = 1 << 5,
  FD_WRITE = 1 << 6,
  FD_ADVISE = 1 << 7,
  FD_ALLOCATE = 1 << 8,
  PATH_CREATE_DIRECTORY = 1 << 9,
  PATH_CREATE_FILE = 1 << 10,
  PATH_LINK_SOURCE = 1 << 11,
  PATH_LINK_TARGET = 1 << 12,
  PATH_OPEN = 1 << 13,
  FD_READDIR = 1 << 14,
  PATH_READLINK = 1 << 15,
  PATH_RENAME_SOURCE = 1 << 16,
  PATH_RENAME_TARGET = 1 << 17,
  PATH_FILESTAT_GET = 1 << 18,
  PATH_FILESTAT_SET_SIZE = 1 << 19,
  PATH_FILESTAT_SET_TIMES = 1 << 20,
  FD_FILESTAT_GET = 1 << 21,
  FD_FILESTAT_SET_SIZE = 1 << 22,
  FD_FILESTAT_SET_TIMES = 1 << 23,
  PATH_SYMLINK = 1 << 24,
  PATH_REMOVE_DIRECTORY = 1 << 25,
  PATH_UNLINK_FILE = 1 << 26,
  POLL_FD_READWRITE = 1 << 27,
  SOCK_SHUTDOWN = 1 << 28,
  SOCK_ACCEPT = 1 << 29,
  /** Every right defined above. */
  ALL = (1 << 30) - 1,
  /** Rights that make sense on a regular file. */
  FILE = FD_DATASYNC | FD_READ | FD_SEEK | FD_FDSTAT_SET_FLAGS | FD_SYNC | FD_TELL | FD_WRITE |
    FD_ADVISE | FD_ALLOCATE | FD_FILESTAT_GET | FD_FILESTAT_SET_SIZE | FD_FILESTAT_SET_TIMES |
    POLL_FD_READWRITE,
  /** Rights that make sense on a directory. */
  DIR = FD_FDSTAT_SET_FLAGS | FD_SYNC | FD_ADVISE | PATH_CREATE_DIRECTORY | PATH_CREATE_FILE |
    PATH_LINK_SOURCE | PATH_LINK_TARGET | PATH_OPEN | FD_READDIR | PATH_READLINK |
    PATH_RENAME_SOURCE | PATH_RENAME_TARGET | PATH_FILESTAT_GET | PATH_FILESTAT_SET_SIZE |
    PATH_FILESTAT_SET_TIMES | FD_FILESTAT_GET | FD_FILESTAT_SET_TIMES | PATH_SYMLINK |
    PATH_REMOVE_DIRECTORY | PATH_UNLINK_FILE | FD_DATASYNC,
  /** Rights of a host stream (stdio): no seek or tell, which is how wasi-libc's isatty tells a tty. */
  STREAM = FD_READ | FD_WRITE | FD_FDSTAT_SET_FLAGS | FD_FILESTAT_GET | POLL_FD_READWRITE,
  /** Rights that let an fd read, or write, file data. */
  READING = FD_READ | FD_READDIR,
  WRITING = FD_WRITE | FD_ALLOCATE | FD_FILESTAT_SET_SIZE,
}

/**
 * filestat, 64 bytes:
 *   0 dev u64   8 ino u64   16 filetype u8   24 nlink u64   32 size u64   40 atim   48 mtim   56 ctim
 */
export const enum Filestat {
  DEV = 0,
  INO = 8,
  FILETYPE = 16,
  NLINK = 24,
  SIZE = 32,
  ATIM = 40,
  MTIM = 48,
  CTIM = 56,
  SIZEOF = 64,
}

/** fdstat, 24 bytes: 0 filetype u8, 2 flags u16, 8 rights_base u64, 16 rights_inheriting u64. */
export const enum Fdstat {
  FILETYPE = 0,
  FLAGS = 2,
  RIGHTS_BASE = 8,
  RIGHTS_INHERITING = 16,
  SIZEOF = 24,
}

/** dirent header, 24 bytes, followed by the name: 0 d_next u64, 8 d_ino u64, 16 d_namlen u32, 20 d_type u8. */
export const enum Dirent {
  NEXT = 0,
  INO = 8,
  NAMLEN = 16,
  TYPE = 20,
  SIZEOF = 24,
}

/** prestat, 8 bytes: 0 tag u8 (0 = dir), 4 pr_name_len u32. */
export const enum Prestat {
  TAG = 0,
  NAME_LEN = 4,
  SIZEOF = 8,
}
