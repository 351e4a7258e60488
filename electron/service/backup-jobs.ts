import type { BackupDetails, BackupRequest, RestoreRequest } from '../../shared/ipc-contract';
import type { JobEvent, JobFinishedEvent } from '../../shared/job-events';
import { prepareBackup, runBackup, type PreparedBackup } from '../engine/jobs/backup-job';
import { failedOnUnreadableSectors, rescueInsteadOfBackup, rescueOutputFor } from '../engine/jobs/backup-rescue';
import { toErrorInfo } from '../engine/errors';
import { inspectImageOrBackup, toBackupDetails } from '../engine/jobs/image-info';
import { prepareRestore, runRestore } from '../engine/jobs/restore-job';

/**
 * The engine's backup and restore jobs in the shape the service runs every
 * job: checked first (refusals are the call's error), then run with the
 * service's job id, cancel signal and event sink.
 */
export interface PreparedJob {
  /** Block devices the job reads or writes (for the busy check). */
  devices: string[];
  /** The job's source (a device or a file) and where it writes, for the event that announces it. */
  source: string;
  targets: string[];
  totalBytes: number | null;
  run(opts: { jobId: string; signal: AbortSignal; onEvent: (event: JobEvent) => void }): Promise<JobFinishedEvent>;
}

/** Reads the drive's size and partition table; refuses a bad destination before anything is read. */
export async function prepareBackupJob(req: BackupRequest): Promise<PreparedJob> {
  const prepared = await prepareBackup({ device: req.device, output: req.output, compression: req.compression, force: req.force === true });
  return {
    devices: [prepared.drive.device],
    source: prepared.drive.device,
    targets: [prepared.out.output],
    totalBytes: prepared.drive.size,
    run: (opts) => (req.rescue === true ? backupOrRescue(prepared, req.output, opts) : runBackup(prepared, opts)),
  };
}

/**
 * The backup, and if it fails on the drive's unreadable sectors, rescue mode
 * into the raw image beside it (as `imprint backup --rescue`). One job for the
 * app: the backup's failure is not announced as the job's end (the service
 * forgets a job at its job-finished), the rescue's events carry the job's id,
 * and its job-finished (details: rescuedBytes, lostBytes, badAreas...) ends it.
 */
async function backupOrRescue(
  prepared: PreparedBackup,
  output: string,
  { jobId, signal, onEvent }: { jobId: string; signal: AbortSignal; onEvent: (event: JobEvent) => void },
): Promise<JobFinishedEvent> {
  const device = prepared.drive.device;
  const backup = await runBackup(prepared, { jobId, signal, onEvent: (e) => (e.type === 'job-finished' ? undefined : onEvent(e)) });
  if (backup.ok || signal.aborted || !failedOnUnreadableSectors(device, backup.error)) {
    onEvent(backup);
    return backup;
  }
  const rescueOutput = rescueOutputFor(output);
  onEvent({ type: 'warning', jobId, message: `${device} has unreadable sectors: rescuing what can be read into ${rescueOutput} (a raw image; its map is ${rescueOutput}.map).` });
  try {
    const { finished } = await rescueInsteadOfBackup(device, output, {
      signal,
      commandLine: `imprint backup --rescue ${device} ${output} (Imprint app)`,
      onEvent: (e) => onEvent({ ...e, jobId }),
    });
    return { ...finished, jobId };
  } catch (err) {
    // Refused before reading (e.g. the raw image exists without its map): the job ends with why.
    const finished: JobFinishedEvent = { type: 'job-finished', jobId, ok: false, targets: [], bytes: 0, error: toErrorInfo(err) };
    onEvent(finished);
    return finished;
  }
}

/** Reads the backup's metadata and checks every target against it. */
export async function prepareRestoreJob(req: RestoreRequest): Promise<PreparedJob> {
  const prepared = await prepareRestore({ backup: req.backup, targets: req.targets });
  return {
    devices: prepared.flash.targets.filter((t) => t.isBlockDevice).map((t) => t.path),
    source: prepared.flash.source.path,
    targets: prepared.flash.targets.map((t) => t.path),
    totalBytes: prepared.metadata.size,
    run: ({ jobId, signal, onEvent }) => runRestore(prepared, { verify: req.verify, jobId, signal, onEvent }),
  };
}

/** What a backup says about itself, shown before a restore erases anything. */
export async function inspectBackupDetails(file: string): Promise<BackupDetails> {
  return toBackupDetails(await inspectImageOrBackup(file));
}
