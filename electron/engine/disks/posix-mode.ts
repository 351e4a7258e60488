import type { FileEntry } from './filesystem-driver';

/** POSIX file type bits of an inode's mode, as ext, btrfs and XFS store them. */
export const S_IFMT = 0o170000;
export const S_IFREG = 0o100000;
export const S_IFDIR = 0o040000;
export const S_IFLNK = 0o120000;

/** What a FileEntry calls an inode of this mode (devices, FIFOs and sockets are 'other'). */
export function kindOfMode(mode: number): FileEntry['kind'] {
  switch (mode & S_IFMT) {
    case S_IFREG:
      return 'file';
    case S_IFDIR:
      return 'directory';
    case S_IFLNK:
      return 'symlink';
    default:
      return 'other';
  }
}
