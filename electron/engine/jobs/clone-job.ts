import * as fs from 'fs';
import type { JobFinishedEvent } from '../../../shared/job-events';
import { ImprintError } from '../errors';
import type { ZeroOutMode } from '../io/zero-runs';
import type { VerifyWhileWriting } from '../pipelines/write-pipeline-contract';
import { diskOfDeviceNumber, sameDevice } from '../io/block-device';
import { prepareFlash, runFlash, type PreparedFlash } from './flash-job';
import type { EventSink } from './job-reporter';
import { inspectSourceDrive, mountedWarning, type SourceDrive } from '../drives/source-drive';

export interface CloneJobRequest {
  source: string;
  targets: string[];
}

export interface PreparedClone {
  flash: PreparedFlash;
  drive: SourceDrive;
  /** Partitions of the source mounted read-write, and the like. */
  warnings: string[];
}

/** The whole disk a block device belongs to (itself for a whole disk). */
function wholeDisk(device: string): string | null {
  try {
    return diskOfDeviceNumber(fs.statSync(device).rdev);
  } catch {
    return null;
  }
}

/**
 * Checks a drive-to-drive copy: the source is a drive, and no target is the
 * source, a partition of it, or the disk it is a partition of.
 */
export async function prepareClone(req: CloneJobRequest): Promise<PreparedClone> {
  const drive = await inspectSourceDrive(req.source);
  const sourceDisk = wholeDisk(req.source);
  for (const t of req.targets) {
    const targetDisk = fs.existsSync(t) && fs.statSync(t).isBlockDevice() ? wholeDisk(t) : null;
    const overlaps = sameDevice(t, req.source) || (targetDisk !== null && sourceDisk !== null && (sameDevice(targetDisk, req.source) || sameDevice(t, sourceDisk)));
    if (overlaps) throw new ImprintError('E_TARGET_HOLDS_SOURCE', `Refusing to write ${t}: it is ${req.source}, or part of the same drive. A clone's target must be another drive.`);
  }
  const flash = await prepareFlash({ image: req.source, targets: req.targets, sha256: null });
  return { flash, drive, warnings: drive.writableMounts.length > 0 ? [mountedWarning(drive)] : [] };
}

export interface CloneRunOptions {
  verify: boolean;
  signal?: AbortSignal;
  onEvent: EventSink;
  jobId?: string;
  stallTimeoutMs?: number;
  verifyWhileWriting?: VerifyWhileWriting;
  zeroOut?: ZeroOutMode;
}

/** Copies the drive to every target at once (one read feeds them all), then reads each target back. */
export function runClone(p: PreparedClone, opts: CloneRunOptions): Promise<JobFinishedEvent> {
  // The run options are a flash's, plus what the job says about itself.
  return runFlash(p.flash, {
    ...opts,
    kind: 'clone',
    details: { kind: 'clone', source: p.drive.device, size: p.drive.size, sourceModel: p.drive.model, sourceSerial: p.drive.serial },
  });
}
