/**
 * "Browse files" (issue #16): what the desktop app asks the service about
 * the inside of an image, a backup or a drive, and how it asks for files to
 * be copied out. Places are written as the CLI writes them: `PART:PATH`
 * ("1:/home/user"), the partition number as `imprint info` prints it.
 */

/** One partition of a source, as the browse tree's top level shows it. */
export interface BrowsePartition {
  number: number;
  size: number;
  filesystem: string | null;
  label: string | null;
  /** Why its files cannot be listed ("not a filesystem Imprint can read"), or null. */
  problem: string | null;
  warnings: string[];
}

/** One entry of a folder inside a source. */
export interface BrowseEntry {
  name: string;
  kind: 'file' | 'directory' | 'symlink' | 'other';
  /** Bytes, for files; 0 otherwise. */
  size: number;
  /** Modification time, ms since 1970, when the filesystem keeps one. */
  mtimeMs: number | null;
}

export interface BrowseFolder {
  /** The folder's PART:PATH, normalised ("1:/docs"). */
  where: string;
  entries: BrowseEntry[];
  /** What the reader noticed while listing (a damaged entry left out). */
  warnings: string[];
}

export interface ExtractRequest {
  /** The image, backup or drive. */
  source: string;
  /** PART:PATH of each file or folder to copy out. */
  items: string[];
  /** The folder they go into (created when missing). */
  dest: string;
  /** An encrypted backup folder's unlock handle (unlockBackupFolder), when `source` is one of its generations. */
  unlock?: string;
}

/** A `PART:PATH` as the renderer sends it; checked again by the engine (parsePartPath). */
export const PART_PATH_PATTERN = /^\d{1,4}:\/[^\0]*$/;
