import * as fs from 'fs';
import type { ErrorInfo } from '../../../shared/error-codes';
import { allocAligned } from '../io/aligned-buffer';
import { logicalBlockSize } from '../io/block-device';
import { deviceResponds } from '../io/device-faults';
import type { JobFinishedEvent } from '../../../shared/job-events';
import { toErrorInfo } from '../errors';
import { runBackup, type BackupRunOptions, type PreparedBackup } from './backup-job';
import type { RescueOptions, RescueSummary, runRescue } from './rescue-job';

/**
 * A backup needs every byte of the drive; a drive with unreadable sectors
 * cannot give them, and the backup fails rather than store a silent hole.
 * What it can do instead is rescue mode (rescue-job.ts, GNU ddrescue's
 * method): save everything that can still be read, zeros where nothing can,
 * and a map of which is which. These helpers let a backup offer that.
 */

/** Bytes read to confirm an unreadable area: one backup chunk. */
const PROBE_BYTES = 4 << 20;

/**
 * Whether a failed backup failed because `device` has unreadable sectors at
 * the error's offset: the drive still answers, but that area does not read.
 * Asks the drive itself, so a failing destination disk (which gives the same
 * error code) or a drive that vanished is never mistaken for it.
 */
export function failedOnUnreadableSectors(device: string, error: ErrorInfo | undefined): boolean {
  if (!error || error.offset === undefined || (error.code !== 'E_BAD_SECTOR' && error.code !== 'E_SOURCE_READ')) return false;
  let sector: number;
  try {
    sector = logicalBlockSize(device);
  } catch {
    return false;
  }
  if (!deviceResponds(device, sector)) return false;
  const start = Math.floor(error.offset / sector) * sector;
  let fd: number;
  try {
    fd = fs.openSync(device, fs.constants.O_RDONLY | fs.constants.O_DIRECT);
  } catch {
    return false;
  }
  try {
    fs.readSync(fd, allocAligned(PROBE_BYTES), 0, PROBE_BYTES, start);
    return false;
  } catch {
    return true;
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Where a backup's rescue goes: a rescue is a raw image, so OUTPUT loses a
 * compression suffix it may have (disk.img.zst -> disk.img); its mapfile is
 * beside it (disk.img.map).
 */
export function rescueOutputFor(output: string): string {
  const raw = output.replace(/\.(zst|zstd|gz|xz)$/i, '');
  return raw.length > 0 && raw !== output ? raw : output;
}

/** Runs rescue mode from `device` into the raw image for `output` (rescueOutputFor). */
export function rescueInsteadOfBackup(device: string, output: string, opts: RescueOptions = {}): ReturnType<typeof runRescue> {
  // Loaded only when a drive turns out unreadable: most backups never need rescue mode's engine.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const rescue = require('./rescue-job') as typeof import('./rescue-job');
  return rescue.runRescue(device, rescueOutputFor(output), opts);
}

export interface BackupElseRescueOptions extends BackupRunOptions {
  signal: AbortSignal;
  /** Rescue when the backup fails on the drive's unreadable sectors (`--rescue`, the app's "rescue what can be read"). */
  rescue: boolean;
  /** Recorded in the rescue's mapfile heading. */
  commandLine: string;
  /** The backup failed on unreadable sectors and a rescue starts now: a front end reports the backup's failure here. */
  onRescueStarts?: (backup: JobFinishedEvent, rescueOutput: string) => void;
}

/** How a backup ended: by itself, or by the rescue that replaced it. */
export type BackupElseRescueOutcome =
  | {
      kind: 'backup';
      finished: JobFinishedEvent;
      /** It failed on the drive's unreadable sectors: a rescue into `rescueOutput` would save what can be read. */
      unreadable: boolean;
      rescueOutput: string;
    }
  /** `summary` is null when the rescue was refused before reading (e.g. the raw image exists without its map): `finished.error` says why. */
  | { kind: 'rescue'; finished: JobFinishedEvent; summary: RescueSummary | null };

/**
 * The backup use case of every front end (CLI, service, and the app through
 * the privileged helper, which runs the CLI): the backup, and if it fails on
 * the drive's unreadable sectors and `rescue` is set, rescue mode into the
 * raw image beside it. One job: the backup's failure is not announced as the
 * job's end (the service forgets a job at its job-finished), the rescue's
 * events carry the backup's job id, and its job-finished (details:
 * rescuedBytes, lostBytes, badAreas...) ends it.
 */
export async function backUpElseRescue(prepared: PreparedBackup, output: string, opts: BackupElseRescueOptions): Promise<BackupElseRescueOutcome> {
  const { signal, onEvent, commandLine } = opts;
  const device = prepared.drive.device;
  const rescueOutput = rescueOutputFor(output);
  const held: JobFinishedEvent[] = [];
  const backup = await runBackup(prepared, { jobId: opts.jobId, signal, stallTimeoutMs: opts.stallTimeoutMs, onEvent: (e) => (e.type === 'job-finished' ? held.push(e) : onEvent(e)) });
  const unreadable = !backup.ok && !signal.aborted && failedOnUnreadableSectors(device, backup.error);
  if (!unreadable || !opts.rescue) {
    for (const e of held) onEvent(e);
    return { kind: 'backup', finished: backup, unreadable, rescueOutput };
  }
  const jobId = backup.jobId;
  opts.onRescueStarts?.(backup, rescueOutput);
  onEvent({ type: 'warning', jobId, message: `${device} has unreadable sectors: rescuing what can be read into ${rescueOutput} (a raw image; its map is ${rescueOutput}.map).` });
  try {
    const { finished, summary } = await rescueInsteadOfBackup(device, output, {
      signal,
      commandLine,
      onEvent: (e) => onEvent({ ...e, jobId }),
    });
    return { kind: 'rescue', finished: { ...finished, jobId }, summary };
  } catch (err) {
    // Refused before reading (e.g. the raw image exists without its map): the job ends with why.
    const finished: JobFinishedEvent = { type: 'job-finished', jobId, ok: false, targets: [], bytes: 0, error: toErrorInfo(err) };
    onEvent(finished);
    return { kind: 'rescue', finished, summary: null };
  }
}
