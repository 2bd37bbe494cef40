// Path resolution, relative to a directory, inside the sandbox's own namespace.
//
// walk() resolves every component but the last, following symlinks (at most 40 in one walk, then
// ELOOP), and looks the last one up. With W.FOLLOW, or when the path ends in '/', a symlink in the
// last place is followed too, and the result describes where it leads; so O_CREAT through a dangling
// link creates its target, as on Linux. With W.PARENT the last component is only looked up. ".."
// never climbs above the process root, and an absolute symlink target restarts at the process root,
// never at the host's; with W.BENEATH (every guest call) ".." in the guest's own path may not climb
// above the directory it starts from, unless that is the root.
//
// Results are module globals (no allocation per walk), valid until the next walk:
//   wDir    the directory that holds (or would hold) the final component
//   wInode  the final object, or null when the final component does not exist
//   wDentry its entry (null when missing, or when the final component was "." / ".." / only slashes)
//   wDot    0, or DOT / DOTDOT / SLASHES for a final "." / ".." / a path of only slashes
//   wSlash  the path ended with '/'
// and the final component's name is copied to the caller's 256-byte buffer (length in wNameLen).
//
// Compare Linux fs/namei.c (link_path_walk, walk_component, trailing-slash rules in lookup_last).
import { Io } from "../abi";
import { loadLink, lookupChild, lookupForCreate } from "../fs/overlay";
import { E } from "../wasi/errno";
import { Filetype } from "../wasi/types";
import { Dentry } from "./dentry";
import { Inode } from "./inode";

export const enum W {
  /** Follow a symlink in the last place (lookups; O_CREAT without O_EXCL). */
  FOLLOW = 1,
  /**
   * Resolve only the parent: the last component is looked up but never followed, and a trailing
   * slash neither follows it nor requires a directory; the operation decides (Linux's LOOKUP_PARENT,
   * used by mkdir, unlink, rmdir, rename, link, symlink and O_CREAT).
   */
  PARENT = 2,
  /**
   * With PARENT: the caller's own request answers whether the last component exists (a create's
   * EEXIST; a rename replaces it), so a remote directory need not be asked first (one gofer request,
   * not two); wInode is then null for a name it has not cached. Not used with a trailing slash,
   * whose errors depend on what the name is.
   */
  CREATE = 4,
  /**
   * WASI's rule for a guest's path: ".." in it may not climb above the directory it is resolved
   * from (ENOTCAPABLE), unless that directory is the process root, where ".." stays at the root as
   * on Linux (wasi-libc turns a C program's "/../x" into "../x" from the root preopen, and Linux,
   * Docker and node:wasi all read it as "/x"). Symlink targets are not held to it: once a link is
   * followed, resolution is the sandbox's own, where ".." stops at the process root and "/" is it.
   */
  BENEATH = 8,
}

export const enum Dot {
  NONE = 0,
  DOT = 1,
  DOTDOT = 2,
  SLASHES = 3,
}

export const MAX_SYMLINKS: u32 = 40;
export const NAME_MAX: u32 = 255;
const EXP_SIZE: u32 = 2 * <u32>Io.PATH_MAX;

export let wDir: Inode = changetype<Inode>(0);
export let wInode: Inode | null = null;
export let wDentry: Dentry | null = null;
export let wDot: u32 = 0;
export let wSlash: bool = false;
export let wNameLen: u32 = 0;

const expA = memory.data(2 * <i32>Io.PATH_MAX); // symlink expansion buffers, EXP_SIZE each
const expB = memory.data(2 * <i32>Io.PATH_MAX);
const found = memory.data(8); // out-slot for lookupChild

const SLASH: u8 = 0x2f;
const DOTC: u8 = 0x2e;

/**
 * Resolves `path` (kernel memory, `len` bytes) from `start`; `root` is the process root. Copies the
 * final component's name to `nameOut` (256 bytes). Returns 0 or an errno; on 0 the w* globals hold
 * the result. A missing final component is not an error (wInode == null); a missing earlier one is.
 */
export function walk(root: Inode, start: Inode, path: usize, len: u32, flags: u32, nameOut: usize): u32 {
  if (len == 0) return E.NOENT;
  let buf = path;
  let pos: u32 = 0;
  let end = len;
  let cur = start;
  let links: u32 = 0;
  // W.BENEATH: how many directories below `start` the guest's own path has gone (see W.BENEATH)
  let depth: i32 = 0;
  const beneath = (flags & W.BENEATH) != 0 && start != root;
  if (load<u8>(buf) == SLASH) cur = root;
  wDentry = null;
  while (true) {
    while (pos < end && load<u8>(buf + pos) == SLASH) pos++;
    if (pos == end) {
      // only slashes (or nothing) left: the path names `cur` itself
      wDir = cur;
      wInode = cur;
      wDentry = null;
      wDot = Dot.SLASHES;
      wSlash = true;
      wNameLen = 0;
      return 0;
    }
    const s = pos;
    while (pos < end && load<u8>(buf + pos) != SLASH) pos++;
    const e = pos;
    const clen = e - s;
    if (clen > NAME_MAX) return E.NAMETOOLONG;
    let q = e;
    while (q < end && load<u8>(buf + q) == SLASH) q++;
    const last = q == end;
    const slash = last && e < end;
    if (cur.kind != Filetype.DIRECTORY) return E.NOTDIR;
    const c0 = load<u8>(buf + s);
    if (c0 == DOTC && (clen == 1 || (clen == 2 && load<u8>(buf + s + 1) == DOTC))) {
      if (clen == 2 && beneath && buf == path) {
        if (depth == 0) return E.NOTCAPABLE;
        depth--;
      }
      const next = clen == 1 || cur == root ? cur : changetype<Inode>(cur.parent);
      if (last) {
        wDir = next;
        wInode = next;
        wDentry = null;
        wDot = clen == 1 ? Dot.DOT : Dot.DOTDOT;
        wSlash = slash;
        memory.copy(nameOut, buf + s, clen);
        wNameLen = clen;
        return 0;
      }
      cur = next;
      continue;
    }
    let err = last && !slash && (flags & W.CREATE) ? lookupForCreate(cur, buf + s, clen, found) : lookupChild(cur, buf + s, clen, found);
    if (err) return err;
    const d = changetype<Dentry | null>(load<usize>(found));
    let child: Inode | null = d === null ? null : d.inode;
    // a mount point shows what is mounted on it
    while (child !== null && child.mounted !== null) child = child.mounted;
    const parentOnly = last && (flags & W.PARENT) != 0;
    if (child !== null && child.kind == Filetype.SYMBOLIC_LINK && !parentOnly && (!last || slash || (flags & W.FOLLOW))) {
      if (++links > MAX_SYMLINKS) return E.LOOP;
      err = loadLink(child);
      if (err) return err;
      const tlen = <u32>child.size;
      if (tlen == 0) return E.NOENT;
      // new path = target ++ the rest of this one (from the slash after the component)
      const restLen = last ? (slash ? 1 : 0) : end - e;
      if (tlen + restLen > EXP_SIZE) return E.NAMETOOLONG;
      const other = buf == expA ? expB : expA;
      memory.copy(other, child.target, tlen);
      if (last) {
        if (slash) store<u8>(other + tlen, SLASH);
      } else {
        memory.copy(other + tlen, buf + e, restLen);
      }
      buf = other;
      pos = 0;
      end = tlen + restLen;
      if (load<u8>(buf) == SLASH) cur = root;
      continue;
    }
    if (last) {
      wDir = cur;
      wInode = child;
      wDentry = d;
      wDot = Dot.NONE;
      wSlash = slash;
      memory.copy(nameOut, buf + s, clen);
      wNameLen = clen;
      if (child !== null && slash && !parentOnly && child.kind != Filetype.DIRECTORY) return E.NOTDIR;
      return 0;
    }
    if (child === null) return E.NOENT;
    if (child.kind != Filetype.DIRECTORY) return E.NOTDIR;
    if (buf == path) depth++;
    cur = child;
  }
  return 0;
}
