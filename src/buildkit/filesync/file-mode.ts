import type { BigIntStats } from "node:fs";
import type { Stat } from "../generated/fsutil/types/Stat.js";

/** Go `os.FileMode` type and permission bits, as fsutil puts them in `Stat.mode` (docs/buildkit-wire.md#file-mode). */
export const GoFileMode = {
  Dir: 0x80000000,
  Symlink: 0x08000000,
  Device: 0x04000000,
  NamedPipe: 0x02000000,
  Socket: 0x01000000,
  Setuid: 0x00800000,
  Setgid: 0x00400000,
  CharDevice: 0x00200000,
  Sticky: 0x00100000,
  Perm: 0o777,
} as const;

const TYPE_BITS =
  GoFileMode.Dir | GoFileMode.Symlink | GoFileMode.Device | GoFileMode.NamedPipe | GoFileMode.Socket | GoFileMode.CharDevice;

const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;
const S_IFREG = 0o100000;
const S_IFBLK = 0o060000;
const S_IFCHR = 0o020000;
const S_IFIFO = 0o010000;
const S_IFSOCK = 0o140000;

/** POSIX `st_mode` → Go `os.FileMode` (unsigned 32-bit). */
export function goFileMode(posixMode: number): number {
  let mode = posixMode & GoFileMode.Perm;
  switch (posixMode & S_IFMT) {
    case S_IFDIR:
      mode |= GoFileMode.Dir;
      break;
    case S_IFLNK:
      mode |= GoFileMode.Symlink;
      break;
    case S_IFBLK:
      mode |= GoFileMode.Device;
      break;
    case S_IFCHR:
      mode |= GoFileMode.Device | GoFileMode.CharDevice;
      break;
    case S_IFIFO:
      mode |= GoFileMode.NamedPipe;
      break;
    case S_IFSOCK:
      mode |= GoFileMode.Socket;
      break;
  }
  if (posixMode & 0o4000) mode |= GoFileMode.Setuid;
  if (posixMode & 0o2000) mode |= GoFileMode.Setgid;
  if (posixMode & 0o1000) mode |= GoFileMode.Sticky;
  return mode >>> 0;
}

/** Go `os.FileMode` → the POSIX permission part (`chmod` argument: perm + setuid/setgid/sticky). */
export function posixPermissions(goMode: number): number {
  let mode = goMode & GoFileMode.Perm;
  if (goMode & GoFileMode.Setuid) mode |= 0o4000;
  if (goMode & GoFileMode.Setgid) mode |= 0o2000;
  if (goMode & GoFileMode.Sticky) mode |= 0o1000;
  return mode;
}

export type EntryKind = "file" | "dir" | "symlink" | "other";

/** What a Go `os.FileMode` describes; a regular file has no type bit at all. */
export function kindOfGoMode(goMode: number): EntryKind {
  if (goMode & GoFileMode.Dir) return "dir";
  if (goMode & GoFileMode.Symlink) return "symlink";
  if ((goMode & TYPE_BITS) >>> 0 === 0) return "file";
  return "other";
}

export function kindOfPosixMode(posixMode: number): EntryKind {
  switch (posixMode & S_IFMT) {
    case S_IFREG:
      return "file";
    case S_IFDIR:
      return "dir";
    case S_IFLNK:
      return "symlink";
    default:
      return "other";
  }
}

/**
 * The fsutil `Stat` of one entry as official clients send it: uid/gid 0, size 0 for directories, nanosecond mtime,
 * the link target for symlinks, device numbers for devices.
 */
export function toWireStat(path: string, stats: BigIntStats, linkname?: string): Stat {
  const posixMode = Number(stats.mode);
  const mode = goFileMode(posixMode);
  const kind = kindOfPosixMode(posixMode);
  const stat: Stat = { path, mode, uid: 0, gid: 0, modTime: stats.mtimeNs.toString() };
  if (kind !== "dir") stat.size = stats.size.toString();
  if (kind === "symlink") stat.linkname = linkname ?? "";
  if (mode & GoFileMode.Device) {
    const rdev = stats.rdev;
    // Linux new_encode_dev layout.
    stat.devmajor = (((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn)).toString();
    stat.devminor = ((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn)).toString();
  }
  return stat;
}
