import type { BackupFolderInfo, FolderBackupRequest, UnlockedBackupFolder } from './backup-folder-types';
import type { BackupCompression, FilesystemInfo, PartitionInfo, StorageSummary } from './backup-metadata';
import type { BrowseFolder, BrowsePartition, ExtractRequest } from './browse-types';
import type { Drive } from './drive';
import type { ErrorInfo } from './error-codes';
import type { JobEvent } from './job-events';
import type { CatalogueListing, CatalogueRequest, OsFlashRequest, UrlFlashRequest } from './web-source';

/**
 * The one contract between the renderer and the engine service. Electron's
 * preload exposes exactly these calls (one method each) and main binds them;
 * browser mode carries the same calls over a WebSocket. The renderer codes
 * against `ImprintApi` and does not know which transport is behind it.
 *
 * Every call resolves to a Result: errors cross as data with their code and
 * user message (a thrown error would cross IPC with its message only).
 */
export type Result<T> = { ok: true; value: T } | { ok: false; error: ErrorInfo };

export type PartitionTableType = 'mbr' | 'gpt' | null;

export interface ImageDetails {
  path: string;
  name: string;
  /** raw, gzip, xz, zstd, bzip2, zip */
  format: string;
  /** e.g. "xz", "zip archive (disk.img)" */
  formatLabel: string;
  /** Bytes on disk. */
  fileSize: number;
  /** Uncompressed size when known exactly, else null ("unknown"). */
  size: number | null;
  /** When `size` is null: a size the content certainly reaches (a .gz's ISIZE), for refusing too-small drives up front. */
  minSize?: number | null;
  /** When `size` is null: what the confirmation should say about it (drive-constraints' unknownSizeNote). */
  sizeNote?: string | null;
  partitionTable: PartitionTableType;
}

export interface FlashRequest {
  image: string;
  targets: string[];
  verify: boolean;
}

export interface BackupRequest {
  device: string;
  output: string;
  compression: 'zstd' | 'gzip' | 'xz' | 'none';
  force?: boolean;
  /**
   * If the drive has unreadable sectors, save what can be read instead
   * (`imprint backup --rescue`): a raw image at `output` without its
   * compression suffix, zeros where nothing could be read, and its map.
   */
  rescue?: boolean;
  /** Store every sector instead of only what the filesystems use (a smart backup is the default). */
  sectorBySector?: boolean;
}

export interface RestoreRequest {
  /** A backup file, or a backup folder's generation as FOLDER#ID (FOLDER alone: its latest). */
  backup: string;
  targets: string[];
  verify: boolean;
  /** A smart backup leaves the target's free space as it was; this zeroes it. */
  wipeFreeSpace?: boolean;
  /** An encrypted folder's unlock handle (unlockBackupFolder), for a generation of that folder. */
  unlock?: string;
}

/** What a backup says about itself (its metadata), shown before a restore erases anything. */
export interface BackupDetails extends ImageDetails {
  sha256: string | null;
  sourceModel: string | null;
  sourceSerial: string | null;
  sourceSize: number | null;
  createdAt: string | null;
  imprintVersion: string | null;
  /** How the backup was compressed, from its metadata (null: not an Imprint backup). */
  compression?: BackupCompression | null;
  /** Where the metadata was found: inside the file, or its sidecar OUTPUT.json. */
  metadataFrom?: 'embedded' | 'sidecar' | null;
  /** The partitions (and filesystems) recorded in the backup or found in the image. */
  partitions?: PartitionInfo[];
  /** What a smart backup stored, per partition (null: a backup of every sector, or not an Imprint backup). */
  storage?: StorageSummary | null;
}

/** What is at a backup's destination now: checked while the form is filled in, before Back up is enabled. */
export interface BackupOutputCheck {
  /** The folder it would go in exists (and is a folder). */
  folderExists: boolean;
  /** A file, or its metadata file (OUTPUT.json), is there already: replacing it needs the user's say-so. */
  exists: boolean;
  /** The path names a folder, a drive or something else that is not a file. */
  notAFile: boolean;
}

/** What is on a drive or in an image, for its drive map: partitions to scale, their filesystems and labels. */
export interface LayoutDetails {
  path: string;
  /** Bytes the map spans: the drive's or the image content's size (null when the format cannot say). */
  size: number | null;
  partitionTable: PartitionTableType;
  partitions: PartitionInfo[];
  /** A filesystem on the whole drive or image, when there is no partition table. */
  filesystem: FilesystemInfo | null;
}

/** One entry of a folder as browser mode's file browser lists it. */
export interface FolderEntry {
  name: string;
  folder: boolean;
  /** Bytes, for files. */
  size: number | null;
}

/** A folder's readable contents, for browser mode's file browser (which stands in for the native open dialog). */
export interface FolderListing {
  /** The folder, absolute, symlinks resolved. */
  path: string;
  /** Its parent, or null at the root. */
  parent: string | null;
  /** Folders first, then files, by name; hidden entries and what the user may not read are left out. */
  entries: FolderEntry[];
  /** More entries than are listed. */
  truncated: boolean;
}

export interface JobStarted {
  jobId: string;
}

export interface FormatRequest {
  drive: string;
  /** Absent: FAT32 up to 32 GiB, exFAT above (format-rules.ts). */
  filesystem?: 'fat32' | 'exfat';
  /** Absent: IMPRINT. */
  label?: string;
}

/** Request and response of every call, by name. */
export interface Calls {
  listDrives: { request: Record<string, never>; response: Drive[] };
  inspectImage: { request: { path: string }; response: ImageDetails };
  /** `unlock`: an encrypted folder's handle (unlockBackupFolder), when `path` is one of its generations. */
  inspectBackup: { request: { path: string; unlock?: string }; response: BackupDetails };
  /** A native open dialog; resolves null when the user cancels or no dialog exists (browser mode). */
  chooseImage: { request: Record<string, never>; response: string | null };
  /** A native save dialog for a backup's destination. */
  chooseBackupPath: { request: { suggestedName: string }; response: string | null };
  startFlash: { request: FlashRequest; response: JobStarted };
  startBackup: { request: BackupRequest; response: JobStarted };
  /**
   * What a backup of the drive would store, per partition (filesystem, size,
   * used, stored whole and why), before it starts; null when reading the
   * drive needs administrator rights this process does not have.
   */
  planBackup: { request: { device: string; sectorBySector?: boolean }; response: StorageSummary | null };
  startRestore: { request: RestoreRequest; response: JobStarted };
  /** "Return a stick to normal" (format-job.ts): the same refusals as a flash come back as this call's error. */
  startFormat: { request: FormatRequest; response: JobStarted };
  cancelJob: { request: { jobId: string }; response: null };
  /** Shows a file in the OS file manager (Electron only; browser mode says it cannot). */
  revealFile: { request: { path: string }; response: null };
  /** Partitions and filesystems of a drive or an image (its drive map); may read a compressed image up to its last partition. */
  inspectLayout: { request: { path: string }; response: LayoutDetails };
  /** A folder's contents, for browser mode's file browser: only what the user who started Imprint may read. */
  listFolder: { request: { path: string }; response: FolderListing };
  /** What is at a backup's destination (the form checks as the path is typed). */
  checkBackupOutput: { request: { path: string }; response: BackupOutputCheck };
  /**
   * What a client that lost its connection missed (browser mode's WebSocket
   * can drop mid-job): for each running or recently finished job, its
   * job-started event, its latest progress, and its job-finished if it ended.
   */
  jobSnapshots: { request: Record<string, never>; response: JobEvent[] };
  /**
   * An OS catalogue's folder, or its images matching a search (web-source.ts),
   * icons included as data. The first request to the network Imprint makes
   * on its own account: nothing is fetched before the user opens the catalogue.
   */
  loadCatalogue: { request: CatalogueRequest; response: CatalogueListing };
  /** Downloads an image and writes it while it arrives; refusals (a bad URL, a drive) come back as this call's error. */
  startFlashUrl: { request: UrlFlashRequest; response: JobStarted };
  /** Flashes a catalogue entry loadCatalogue listed, held to the catalogue's checksums. */
  startFlashOs: { request: OsFlashRequest; response: JobStarted };
  /** "Browse files": the partitions of an image, backup or drive, read-only (browse-types.ts). `unlock` (here and below): an encrypted folder's handle, for one of its generations. */
  browsePartitions: { request: { source: string; unlock?: string }; response: BrowsePartition[] };
  /** The entries of one folder inside a source, `where` as PART:PATH. */
  browseFolder: { request: { source: string; where: string; unlock?: string }; response: BrowseFolder };
  /** Copies files and folders out of a source into a folder, as a job (kind 'extract': progress and end as job events). */
  startExtract: { request: ExtractRequest; response: JobStarted };
  /** A native folder dialog that can create folders (a backup folder's place); null when cancelled or in browser mode. */
  chooseFolder: { request: { title: string }; response: string | null };
  /** What is at a path as a backup folder: a backup folder and its generations, a new or empty folder, or something a backup cannot go into. */
  inspectBackupFolder: { request: { path: string }; response: BackupFolderInfo };
  /** Adds a generation to a backup folder (new or existing); refusals (a foreign folder, the drive holding it) come back as this call's error. */
  startFolderBackup: { request: FolderBackupRequest; response: JobStarted };
  /** Lists an encrypted backup folder's generations with its passphrase (a wrong one is this call's error, E_WRONG_PASSPHRASE); main keeps it under the handle returned. */
  unlockBackupFolder: { request: { path: string; passphrase: string }; response: UnlockedBackupFolder };
}

export type CallName = keyof Calls;

/** Events main sends without being asked. */
export interface Events {
  onDrivesChanged: Drive[];
  onJobEvent: JobEvent;
}

export type EventName = keyof Events;

export type Unsubscribe = () => void;

/** The API as the renderer sees it (window.imprint in Electron; a WebSocket client in browser mode). */
export type ImprintApi = {
  [K in CallName]: (request: Calls[K]['request']) => Promise<Result<Calls[K]['response']>>;
} & {
  [E in EventName]: (listener: (payload: Events[E]) => void) => Unsubscribe;
};

/**
 * What Electron's preload offers beside the calls, on the same `window.imprint`
 * object: helpers that need no IPC. Browser mode has none of them, so the
 * renderer treats each as optional: `(api as ImprintApi & Partial<DesktopExtras>)`.
 */
export interface DesktopExtras {
  /**
   * The path of a file dropped on the window (Electron's webUtils.getPathForFile:
   * since Electron 32 a File has no `path`); '' when it has none.
   */
  pathForFile(file: Blob): string;
}

export const CALL_NAMES: readonly CallName[] = [
  'listDrives',
  'inspectImage',
  'inspectBackup',
  'chooseImage',
  'chooseBackupPath',
  'startFlash',
  'startBackup',
  'planBackup',
  'startRestore',
  'startFormat',
  'cancelJob',
  'revealFile',
  'jobSnapshots',
  'checkBackupOutput',
  'inspectLayout',
  'listFolder',
  'loadCatalogue',
  'startFlashUrl',
  'startFlashOs',
  'browsePartitions',
  'browseFolder',
  'startExtract',
  'chooseFolder',
  'inspectBackupFolder',
  'startFolderBackup',
  'unlockBackupFolder',
];

export const EVENT_NAMES: readonly EventName[] = ['onDrivesChanged', 'onJobEvent'];

/** IPC channel of a call or event: one place that spells them. */
export const channelOf = (name: CallName | EventName): string => `imprint:${name}`;
