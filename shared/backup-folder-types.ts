/**
 * What the desktop app shows of a backup folder (docs/backup-folder.md):
 * its generations, and what a path the user typed holds. The CLI's
 * `imprint backups list --json` rows carry the same fields.
 */

/** One generation as listed: numbered 1 (oldest) to N in id order. */
export interface GenerationSummary {
  number: number;
  id: string;
  /** Null when the index cannot be read (then `error` says why). */
  createdAt: string | null;
  /** The drive it was taken of: its device path then, model and serial (null when unknown). */
  device: string | null;
  model: string | null;
  serial: string | null;
  /** Bytes of the drive. */
  size: number | null;
  /** Drive data the generation holds (what a smart backup stores). */
  storedBytes: number | null;
  /** What the generation added to the folder: drive data, and what it took there compressed. */
  addedBytes: number | null;
  addedStoredBytes: number | null;
  /** Why the generation cannot be read, when it cannot. */
  error?: string;
}

/**
 * What is at a path a backup folder may be given as: checked while the Back
 * up form is filled in, and listed when Restore opens a folder.
 * - `backup-folder`: an Imprint backup folder (its generations listed);
 * - `empty`: an empty folder, or one holding only a backup folder's own names (it becomes one);
 * - `new`: nothing there, but the folder it would go in exists (a backup creates it);
 * - `no-parent`: nothing there, and neither is the folder it would go in;
 * - `not-a-folder`: a file or a device;
 * - `foreign`: a folder holding other files (backups never mix with them).
 */
export type BackupFolderState = 'backup-folder' | 'empty' | 'new' | 'no-parent' | 'not-a-folder' | 'foreign';

export interface BackupFolderInfo {
  path: string;
  state: BackupFolderState;
  /** Oldest first; empty unless `state` is `backup-folder` (and, for an encrypted folder, until it is unlocked). */
  generations: GenerationSummary[];
  /** An encrypted backup folder: its generations are listed, read and added to only with its passphrase. */
  encrypted?: boolean;
}

/** An encrypted folder opened with its passphrase (`unlockBackupFolder`): its generations, and a handle that stands for the passphrase. */
export interface UnlockedBackupFolder {
  info: BackupFolderInfo;
  /**
   * An opaque handle main keeps the passphrase under (for a while), so the
   * restore's later requests (a generation's details, the restore) carry it
   * instead of the passphrase: the renderer keeps no secret.
   */
  unlock: string;
}

/** Longest passphrase accepted from the app (the CLI's file limit is 64 KiB; a person types far less). */
export const MAX_PASSPHRASE_LENGTH = 1024;
/** An unlock handle: 32 hexadecimal digits made by main. */
export const UNLOCK_PATTERN = /^[0-9a-f]{32}$/;

/** `imprint backup DEVICE --into FOLDER` from the app: a generation added to a backup folder (new or existing). */
export interface FolderBackupRequest {
  device: string;
  folder: string;
  /** Make a new folder encrypted (needs `passphrase`). */
  encrypt?: boolean;
  /** Of the new encrypted folder, or of the existing encrypted folder; sent only in this request, never echoed. */
  passphrase?: string;
}

/** A generation's reference as restore, export and Browse files take it: FOLDER#ID. */
export function generationRef(folder: string, id: string): string {
  return `${folder}#${id}`;
}
