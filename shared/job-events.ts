import type { ErrorInfo } from './error-codes';

/**
 * The events a job emits, in order. The `imprint --json` command prints them
 * one per line; the desktop app receives the same objects over IPC.
 */
export type JobKind = 'flash' | 'verify' | 'hash' | 'backup' | 'restore' | 'clone' | 'rescue' | 'check' | 'format';

/** `copying` to `retrying` are a rescue's phases (GNU ddrescue's). */
export type JobPhase = 'preparing' | 'decompressing' | 'writing' | 'verifying' | 'copying' | 'trimming' | 'scraping' | 'retrying' | 'done';

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
  /** Extra facts of the job kind (backup file path, rescue map...). */
  details?: Record<string, unknown>;
}

export type JobEvent = JobStartedEvent | ProgressEvent | TargetFailedEvent | JobWarningEvent | JobFinishedEvent;

export type HashAlgorithm = 'sha256' | 'sha1' | 'md5' | 'xxh3';
