import type { Volume } from './volume';

/**
 * What every filesystem reader in disks/ offers. One file per filesystem
 * family (ext, fat, exfat, ntfs, swap, iso9660...) implements it, and one
 * registry line lists it. Readers are read-only and treat every byte as
 * untrusted: lengths are checked against the volume, loops are bounded, and
 * a check that fails is reported as data (`whole`, a warning), not thrown.
 */

/** A byte range inside a volume. */
export interface ByteRange {
  start: number;
  length: number;
}

/**
 * Which bytes of a volume a backup must keep. `used-blocks`: only `ranges`
 * (sorted, non-overlapping, merged, covering every block the filesystem uses,
 * its metadata and boot area included); the rest may be stored as zeros and
 * the filesystem is still whole. `whole`: copy every byte, and tell the user
 * `reason` (unknown filesystem, metadata that does not check out, a volume
 * marked dirty...).
 */
export type AllocationMap =
  | { kind: 'used-blocks'; filesystem: string; blockSize: number; usedBytes: number; ranges: ByteRange[] }
  | { kind: 'whole'; filesystem: string | null; reason: string };

/** One directory entry, as a filesystem view lists it. */
export interface FileEntry {
  /** The name as stored, decoded; may hold anything (`/`, `..`, NUL): callers check before using it as a path. */
  name: string;
  kind: 'file' | 'directory' | 'symlink' | 'other';
  size: number;
  /** POSIX mode bits where the filesystem has them. */
  mode?: number;
  /** Modification time, ms since 1970, where the filesystem has one. */
  mtimeMs?: number;
  /** Driver-private handle (inode number, cluster, MFT record...) used to list or read this entry. */
  readonly ref: unknown;
}

/** A read-only view of one filesystem's files. */
export interface FilesystemView {
  readonly filesystem: string;
  readonly label: string | null;
  /** What the reader noticed and the user should know ("volume is marked dirty; listing may be incomplete"). */
  readonly warnings: string[];
  root(): FileEntry;
  list(dir: FileEntry): Promise<FileEntry[]>;
  /** `length` bytes of a file from `offset` (holes read as zeros); fewer only at the file's end. */
  read(file: FileEntry, offset: number, length: number): Promise<Buffer>;
  readlink(link: FileEntry): Promise<string>;
  /**
   * Where a regular file's bytes lie in the volume, so that a large copy can
   * fetch them itself (jobs/extract-copy.ts) instead of through read(). Sorted
   * and non-overlapping, clipped to the file's size; bytes no extent covers
   * read as zeros. Null when the file cannot be described so (inline,
   * compressed or encrypted data): read() it. Optional for a driver.
   */
  extents?(file: FileEntry): Promise<FileExtent[] | null>;
}

/** `length` bytes of a file from `offset` lie at `volumeOffset` in its volume. */
export interface FileExtent {
  offset: number;
  length: number;
  volumeOffset: number;
  /**
   * Checks bytes of this extent against the filesystem's own checksums of
   * them (btrfs), before they are written out: `data` holds the extent's
   * bytes from its byte `at`, read at `volumeOffset`. Where they do not
   * match and the filesystem keeps another copy (btrfs DUP), it may put that
   * copy's bytes, checked, into `data` in their place; otherwise it throws,
   * naming the damage.
   */
  check?(at: number, data: Buffer): Promise<void>;
}

export interface FilesystemDriver {
  /** Family name: 'ext', 'fat', 'exfat', 'ntfs', 'swap', 'iso9660'. */
  readonly family: string;
  /** Cheap magic test on the volume's first bytes (up to 72 KiB, fewer when the volume is smaller). */
  detect(head: Uint8Array): boolean;
  /** The used-block map, or `whole` with the reason. Throws only on a read error of the source. */
  allocation?(volume: Volume): Promise<AllocationMap>;
  /**
   * The bytes in use as the filesystem counts them, from its own counters,
   * for a listing of partitions: where building the whole map walks a tree
   * as large as the filesystem's metadata (btrfs's extent tree). Null when
   * the counters cannot be read. Without it, the map's figure is shown.
   */
  usedBytes?(volume: Volume): Promise<number | null>;
  /** Opens the filesystem for listing and reading; throws an Error with a user-facing message when it cannot. */
  open?(volume: Volume): Promise<FilesystemView>;
}
