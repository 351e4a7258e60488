import * as fs from 'fs';
import type { Drive } from '../../../shared/drive';
import type { FormatJobDetails, JobFinishedEvent, TargetProgress } from '../../../shared/job-events';
import { DEFAULT_FORMAT_LABEL, FORMAT_MIN_DRIVE_BYTES, MBR_TYPE_FOR, chooseFilesystem, labelProblem, storedLabel, type FormatFilesystem } from '../../../shared/format-rules';
import { ImprintError, errnoOf, toErrorInfo } from '../errors';
import { readFully } from '../io/full-io';
import { parsePartitionTable } from '../disks/partition-table';
import { probeFilesystem } from '../disks/filesystem-probe';
import { mountpointsOf } from '../drives/sysfs-drive';
import { unmountAll } from '../drives/unmount';
import { formatDrive } from '../drives/drive-formatter';
import { planTargets, type TargetPlan } from '../pipelines/target-plan';
import { JobReporter, type EventSink } from './job-reporter';

/**
 * "Return a stick to normal": after an ISO was flashed, a 64 GB stick shows a
 * tiny partition. This job wipes every old signature, writes one MBR
 * partition over the whole drive and makes a FAT32 or exFAT filesystem on it,
 * behind the same refusals and confirmation as a flash.
 */

export interface FormatRequest {
  drive: string;
  /** Null: FAT32 up to 32 GB, exFAT above (format-rules.ts). */
  filesystem?: FormatFilesystem | null;
  label?: string | null;
}

/** Everything checked before anything is changed; shown to the user for confirmation. */
export interface PreparedFormat {
  target: TargetPlan & { drive: Drive };
  filesystem: FormatFilesystem;
  /** As it will be stored (upper case on FAT32). */
  label: string;
}

/** Mountpoints of the drive and of each of its partitions (a loop device's partitions are not in any drive list). */
function allMountpoints(drive: Drive): string[] {
  const found = new Set(drive.mountpoints);
  const name = fs.realpathSync(drive.device).split('/').pop() as string;
  try {
    for (const child of fs.readdirSync(`/sys/class/block/${name}`)) {
      if (fs.existsSync(`/sys/class/block/${name}/${child}/partition`) && fs.existsSync(`/dev/${child}`)) {
        for (const mp of mountpointsOf(`/dev/${child}`)) found.add(mp);
      }
    }
  } catch {
    // No sysfs (not Linux): the drive list's mountpoints are all there is.
  }
  return [...found];
}

/** Applies every safety rule and chooses the filesystem. Changes nothing. */
export async function prepareFormat(req: FormatRequest): Promise<PreparedFormat> {
  const [plan] = await planTargets([req.drive], { path: null, size: null, isDevice: false });
  if (!plan || !plan.isBlockDevice || !plan.drive) {
    throw new ImprintError('E_TARGET_NOT_WRITABLE_KIND', `${req.drive} is not a drive: format takes a whole drive (/dev/sdX), not a file.`);
  }
  const drive = plan.drive;
  if (drive.size < FORMAT_MIN_DRIVE_BYTES) {
    throw new ImprintError('E_TARGET_TOO_SMALL', `Refusing to format ${drive.device}: it holds ${drive.size} bytes, less than the ${FORMAT_MIN_DRIVE_BYTES} a filesystem here needs.`);
  }
  const filesystem = chooseFilesystem(drive.size, req.filesystem ?? null);
  const label = req.label ?? DEFAULT_FORMAT_LABEL;
  const problem = labelProblem(label, filesystem);
  if (problem) throw new ImprintError('E_BAD_ARGUMENTS', `Cannot use the label "${label}": ${problem}.`);
  return { target: { ...plan, drive: { ...drive, mountpoints: allMountpoints(drive) } }, filesystem, label: storedLabel(label, filesystem) };
}

export interface FormatRunOptions {
  signal?: AbortSignal;
  onEvent: EventSink;
  jobId?: string;
}

/** Another program holding the drive open exclusively (a mount we could not see, a partition tool): refuse before wiping. */
function refuseIfBusy(device: string): void {
  let fd: number;
  try {
    fd = fs.openSync(device, fs.constants.O_RDONLY | fs.constants.O_EXCL);
  } catch (err) {
    if (errnoOf(err) === 'EBUSY') throw new ImprintError('E_TARGET_BUSY', `${device} is in use by another program (mounted, or open in a disk tool): close it and try again. Nothing was changed.`, { cause: err });
    throw err;
  }
  fs.closeSync(fd);
}

/** Reads back what was made, from the drive itself: one MBR partition to the last sector, holding the filesystem and label asked for. */
function checkResult(prepared: PreparedFormat, partition: string): void {
  const { drive } = prepared.target;
  const readAt = (dev: string) => {
    const fd = fs.openSync(dev, 'r');
    return {
      read: (offset: number, length: number): Uint8Array | null => {
        const buf = Buffer.alloc(length);
        const got = readFully(fd, buf, 0, length, offset);
        return got > 0 ? buf.subarray(0, got) : null;
      },
      close: () => fs.closeSync(fd),
    };
  };
  const disk = readAt(drive.device);
  let problem: string | null = null;
  try {
    const table = parsePartitionTable(disk.read);
    const only = table?.partitions[0];
    const expectedType = MBR_TYPE_FOR[prepared.filesystem].toString(16).padStart(2, '0');
    if (!table || table.type !== 'mbr' || table.partitions.length !== 1 || !only) problem = 'the drive does not hold exactly one MBR partition';
    else if (only.type !== expectedType) problem = `its partition has type ${only.type}, not ${expectedType}`;
    else if (only.start + only.size !== drive.size) problem = `its partition ends at byte ${only.start + only.size}, not at the drive's end (${drive.size})`;
  } finally {
    disk.close();
  }
  if (!problem) {
    const part = readAt(partition);
    try {
      const found = probeFilesystem(part.read);
      const type = prepared.filesystem === 'fat32' ? 'vfat' : 'exfat';
      if (found?.type !== type) problem = `its partition holds ${found?.type ?? 'no filesystem Imprint recognises'}, not ${type}`;
      else if (found.label !== prepared.label) problem = `the filesystem's label reads "${found.label ?? ''}", not "${prepared.label}"`;
    } finally {
      part.close();
    }
  }
  if (problem) throw new ImprintError('E_VERIFY_MISMATCH', `The format of ${drive.device} did not come out as intended: ${problem}. Its old data is erased; format it again.`);
}

/**
 * Unmounts, wipes, partitions and formats, then reads the result back. The
 * outcome is data in the final event; its details name the filesystem, label
 * and partition.
 */
export async function runFormat(prepared: PreparedFormat, opts: FormatRunOptions): Promise<JobFinishedEvent> {
  const { drive } = prepared.target;
  const reporter = new JobReporter(opts.onEvent, 'format', opts.jobId);
  const progress: TargetProgress = { device: drive.device, status: 'pending', bytesWritten: 0, bytesVerified: 0 };
  const details: FormatJobDetails = { kind: 'format', filesystem: prepared.filesystem, label: prepared.label, partition: null };
  const sample = () => ({ done: progress.bytesWritten, total: drive.size, targets: [progress] });
  let touched = false;
  const finish = (ok: boolean, error?: unknown): JobFinishedEvent => {
    reporter.stopSampling();
    const event: JobFinishedEvent = { type: 'job-finished', jobId: reporter.jobId, ok, targets: [{ ...progress }], bytes: progress.bytesWritten, details };
    if (error !== undefined) {
      const info = toErrorInfo(error);
      // Once wiping began the old contents are gone whatever happened next: say so.
      if (touched && !/old data is erased/.test(info.message)) info.message += ` ${drive.device}'s old data is erased; format it again before use.`;
      progress.status = opts.signal?.aborted ? 'cancelled' : 'failed';
      progress.error = info;
      event.targets = [{ ...progress }];
      event.error = info;
      if (progress.status === 'failed') reporter.targetFailed(drive.device, info);
    }
    reporter.emit(event);
    return event;
  };
  reporter.started(`format:${prepared.filesystem}`, [drive.device], drive.size);
  reporter.phaseStarted('preparing', sample);
  try {
    if (drive.mountpoints.length > 0) await unmountAll(drive.device, drive.mountpoints);
    refuseIfBusy(drive.device);
    if (opts.signal?.aborted) throw new ImprintError('E_CANCELLED', 'Cancelled before anything was changed.');
  } catch (err) {
    return finish(false, err);
  }
  reporter.phaseStarted('writing', sample);
  progress.status = 'writing';
  try {
    touched = true;
    const { partition } = await formatDrive({ device: drive.device, size: drive.size, filesystem: prepared.filesystem, label: prepared.label, signal: opts.signal });
    details.partition = partition;
    progress.bytesWritten = drive.size;
    progress.status = 'written';
    reporter.flush(sample);
    reporter.phaseStarted('verifying', () => ({ done: progress.bytesVerified, total: drive.size, targets: [progress] }));
    checkResult(prepared, partition);
    progress.bytesVerified = drive.size;
    progress.status = 'verified';
    reporter.phaseStarted('done', sample);
    return finish(true);
  } catch (err) {
    return finish(false, err);
  }
}
