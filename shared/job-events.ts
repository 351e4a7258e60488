import type { StorageSummary } from './backup-metadata';
import type { ErrorInfo } from './error-codes';

/**
 * The events a job emits, in order. The `imprint --json` command prints them
 * one per line; the desktop app receives the same objects over IPC.
 */
export type JobKind = 'flash' | 'verify' | 'hash' | 'backup' | 'restore' | 'clone' | 'rescue' | 'check' | 'format' | 'extract';

/** `copying` to `retrying` are a rescue's phases (GNU ddrescue's); `downloading` a flash from a URL's. */
export type JobPhase = 'preparing' | 'downloading' | 'decompressing' | 'writing' | 'verifying' | 'copying' | 'trimming' | 'scraping' | 'retrying' | 'done';

export type TargetStatus = 'pending' | 'writing' | 'written' | 'verifying' | 'verified' | 'failed' | 'cancelled';

export interface TargetProgress {
  device: string;
  status: TargetStatus;
  bytesWritten: number;
  bytesVerified: number;
  error?: ErrorInfo;
}

export interface JobStartedEvent {
  type: 'job-started';
  jobId: string;
  kind: JobKind;
  source: string;
  targets: string[];
  /** Bytes the job will process, or null when the source format cannot say up front. */
  totalBytes: number | null;
  /** When the job started (ISO 8601), stamped by the app's service: a window opened later can say how long it took. */
  startedAt?: string;
}

export interface ProgressEvent {
  type: 'progress';
  jobId: string;
  phase: JobPhase;
  /** Bytes done in this phase. */
  bytesDone: number;
  totalBytes: number | null;
  bytesPerSecond: number;
  /** Seconds left in this phase, or null when the total is unknown. */
  etaSeconds: number | null;
  targets: TargetProgress[];
  /** Output bytes so far divided by input bytes, for jobs that compress. */
  compressionRatio?: number;
  /** Rescue jobs: where the rescue stands, by ddrescue's block states. */
  rescue?: RescueProgress;
  /** Flashes from a URL: the download's counters. */
  download?: DownloadProgressInfo;
  /** The stage that limits the pace now, when the job can tell. */
  bottleneck?: 'network' | 'decompression' | 'drive';
}

export interface DownloadProgressInfo {
  downloadedBytes: number;
  /** The file's size once the server stated it. */
  totalBytes: number | null;
  /** Connections opened (more than 1: the download was resumed). */
  attempts: number;
  /** Waiting to reconnect after a dropped connection. */
  retrying: boolean;
  /** Served from the download cache, not the network. */
  cached: boolean;
}

export interface RescueProgress {
  rescuedBytes: number;
  nonTriedBytes: number;
  nonTrimmedBytes: number;
  nonScrapedBytes: number;
  badSectorBytes: number;
  readErrors: number;
  pass: number;
  /** Byte offset being read. */
  position: number;
}

export interface TargetFailedEvent {
  type: 'target-failed';
  jobId: string;
  device: string;
  error: ErrorInfo;
}

export interface JobWarningEvent {
  type: 'warning';
  jobId: string;
  message: string;
}

export interface JobFinishedEvent {
  type: 'job-finished';
  jobId: string;
  ok: boolean;
  targets: TargetProgress[];
  /** Bytes of image content written to each target. */
  bytes: number;
  /** Digests of the image content, hex, where computed. */
  digests?: Partial<Record<HashAlgorithm, string>>;
  error?: ErrorInfo;
  /** What the job made or found, by kind of job (backup file, rescue map...). */
  details?: JobDetails;
  /** When the job ended (ISO 8601), stamped by the app's service. */
  finishedAt?: string;
}

/** A finished backup: the file, its description, and how small it came out. */
export interface BackupJobDetails {
  kind: 'backup';
  output: string;
  /** The description beside it (OUTPUT.json). */
  sidecar: string;
  compression: 'zstd' | 'gzip' | 'xz' | 'none';
  level: number | null;
  /** Bytes of the drive. */
  size: number;
  outputBytes: number;
  /** Bytes the file takes on disk (a sparse raw backup takes less than its size). */
  storedBytes: number;
  /** storedBytes / size, to four decimals. */
  compressionRatio: number;
  sha256: string;
  metadataEmbedded: boolean;
  createdAt: string;
  /** What was stored per partition: a smart backup (used blocks) or every sector. */
  storage?: StorageSummary;
}

/** A backup into a backup folder: the generation it added, and how much new data the folder had to store. */
export interface FolderBackupJobDetails {
  kind: 'folder-backup';
  folder: string;
  generation: string;
  /** Its number in `imprint backups list` (1 = oldest). */
  number: number;
  /** Bytes of the drive. */
  size: number;
  /** Drive bytes the generation holds (the used blocks, partition tables, gaps). */
  storedBytes: number;
  pieces: number;
  /** Pieces the folder did not hold yet, their bytes, and what they take on disk compressed. */
  newPieces: number;
  newBytes: number;
  newStoredBytes: number;
  /**
   * About what those take on the folder's disk as its filesystem allocates
   * them (measured on a sample of the files; absent where it could not be):
   * several times newStoredBytes on a disk with large clusters (exFAT).
   */
  newDiskBytes?: number;
  sha256: string;
  createdAt: string;
  storage: StorageSummary;
}

/** A rescue (also a backup's, on a drive with unreadable sectors): what was saved, what was lost, where. */
export interface RescueJobDetails {
  kind: 'rescue';
  rescuedBytes: number;
  lostBytes: number;
  pendingBytes: number;
  /** The first bad areas, in order; badAreaCount says how many there are in all. */
  badAreas: { offset: number; length: number }[];
  badAreaCount: number;
  mapfile: string;
  output: string;
  readErrors: number;
  cancelled: boolean;
}

/** A restore: which backup, and what it says about the drive it came from. */
export interface RestoreJobDetails {
  kind: 'restore';
  backup: string;
  sha256: string;
  size: number;
  createdAt: string;
  sourceModel: string | null;
  sourceSerial: string | null;
  /** Where the backup's description was read: inside the file, or the sidecar beside it. */
  metadataFrom: 'embedded' | 'sidecar';
  /** A smart restore: the bytes it wrote (what the backup stored). */
  storedBytes?: number;
  /** What the user should know (a GPT moved to a larger drive's end...). */
  notes?: string[];
}

/** A clone: the drive copied. */
export interface CloneJobDetails {
  kind: 'clone';
  source: string;
  size: number;
  sourceModel: string | null;
  sourceSerial: string | null;
}

/** One capacity marker as read back. */
export type CapacityMarker =
  | { offset: number; state: 'intact' }
  /** It reads back as the marker written for another offset: that write landed here. */
  | { offset: number; state: 'overwritten'; by: number }
  /** It reads back as something else (old data, zeros). */
  | { offset: number; state: 'lost' }
  | { offset: number; state: 'write-error' | 'read-error'; errno: string };

/** A capacity check: what the drive really holds. */
export interface CheckJobDetails {
  kind: 'check';
  claimedBytes: number;
  realBytesEstimate: number;
  wrapsAt: number | null;
  markers: number;
  failedMarkers: number;
  restoredPages: number;
  notRestoredPages: number;
  /** The first markers that did not read back intact. */
  failures: CapacityMarker[];
}

/** A finished job's details, by kind of job: nothing downstream guesses a field's name. */
/** A format: the filesystem made and where. */
export interface FormatJobDetails {
  kind: 'format';
  filesystem: 'fat32' | 'exfat';
  label: string;
  /** The new partition's device, when the OS shows one. */
  partition: string | null;
}

/** An extraction ("Browse files", `imprint extract`): what was copied out, and what was not and why. */
export interface ExtractJobDetails {
  kind: 'extract';
  dest: string;
  files: number;
  folders: number;
  symlinks: number;
  bytes: number;
  /** The first entries skipped or not read (problemCount says how many in all). */
  problems: { path: string; message: string }[];
  problemCount: number;
}

export type JobDetails = BackupJobDetails | FolderBackupJobDetails | RescueJobDetails | RestoreJobDetails | CloneJobDetails | CheckJobDetails | FormatJobDetails | ExtractJobDetails;

export type JobEvent = JobStartedEvent | ProgressEvent | TargetFailedEvent | JobWarningEvent | JobFinishedEvent;

export type HashAlgorithm = 'sha256' | 'sha1' | 'md5' | 'xxh3';

/** The event's details if they are of `kind` (a backup's, a rescue's...), else undefined. */
export function detailsOf<K extends JobDetails['kind']>(event: Pick<JobFinishedEvent, 'details'>, kind: K): Extract<JobDetails, { kind: K }> | undefined {
  const d = event.details;
  return d?.kind === kind ? (d as Extract<JobDetails, { kind: K }>) : undefined;
}

/**
 * What a folder backup's new pieces take on the folder's disk, where that is
 * notably more than their compressed size (a disk with large clusters): the
 * CLI and the app show it beside the size; null otherwise.
 */
export function notableDiskBytes(d: Pick<FolderBackupJobDetails, 'newStoredBytes' | 'newDiskBytes'>): number | null {
  return d.newDiskBytes !== undefined && d.newDiskBytes >= d.newStoredBytes * 1.25 ? d.newDiskBytes : null;
}
