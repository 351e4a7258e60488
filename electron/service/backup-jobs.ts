import type { BackupDetails, BackupRequest, RestoreRequest } from '../../shared/ipc-contract';
import type { JobEvent, JobFinishedEvent } from '../../shared/job-events';
import { prepareBackup } from '../engine/jobs/backup-job';
import { backUpElseRescue } from '../engine/jobs/backup-rescue';
import { inspectImageOrBackup, toBackupDetails } from '../engine/jobs/image-info';
import { prepareRestore, runRestore } from '../engine/jobs/restore-job';
import { DEFAULT_ENGINE_SETTINGS, type EngineSettings } from '../engine/jobs/engine-settings';
import type { DecoderChoice } from '../engine/formats/image-kind';

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
  const prepared = await prepareBackup({ device: req.device, output: req.output, compression: req.compression, force: req.force === true, sectorBySector: req.sectorBySector === true });
  return {
    devices: [prepared.drive.device],
    source: prepared.drive.device,
    targets: [prepared.out.output],
    totalBytes: prepared.drive.size,
    run: async (opts) => (await backUpElseRescue(prepared, req.output, { ...opts, rescue: req.rescue === true, commandLine: `imprint backup --rescue ${prepared.drive.device} ${req.output} (Imprint app)` })).finished,
  };
}

/** Reads the backup's metadata and checks every target against it. */
export async function prepareRestoreJob(req: RestoreRequest, settings: EngineSettings = DEFAULT_ENGINE_SETTINGS): Promise<PreparedJob> {
  const prepared = await prepareRestore({ backup: req.backup, targets: req.targets, decoders: settings.decoders });
  return {
    devices: prepared.flash.targets.filter((t) => t.isBlockDevice).map((t) => t.path),
    source: prepared.flash.source.path,
    targets: prepared.flash.targets.map((t) => t.path),
    totalBytes: prepared.metadata.size,
    run: ({ jobId, signal, onEvent }) => runRestore(prepared, { verify: req.verify, wipeFreeSpace: req.wipeFreeSpace === true, jobId, signal, onEvent, verifyWhileWriting: settings.verifyWhileWriting, zeroOut: settings.zeroOut }),
  };
}

/** What a backup says about itself, shown before a restore erases anything. */
export async function inspectBackupDetails(file: string, decoders?: DecoderChoice): Promise<BackupDetails> {
  return toBackupDetails(await inspectImageOrBackup(file, undefined, decoders));
}
