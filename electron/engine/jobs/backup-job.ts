import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { BackupCompression, BackupMetadata, BackupStorage, StorageSummary } from '../../../shared/backup-metadata';
import type { JobFinishedEvent, ProgressEvent, TargetProgress } from '../../../shared/job-events';
import { ImprintError } from '../errors';
import { firstDifferentChunk } from '../io/chunk-crc';
import { CHUNK_SIZE } from '../pipelines/chunk-size';
import type { SourceInfo } from '../formats/image-source';
import { JobReporter, type EventSink } from './job-reporter';
import { encodeEmbeddedMetadata, imprintVersion, writeMetadataFile } from '../formats/backup-metadata';
import { fsyncDir, planBackupOutput, removeQuietly, PARTIAL_SUFFIX, type BackupOutputPlan } from './backup-output';
import { BackupPipeline } from '../pipelines/backup-pipeline';
import { layoutOfFile, type DriveLayout } from '../disks/drive-layout';
import { inspectSourceDrive, mountedWarning, type SourceDrive } from '../drives/source-drive';
import { planDriveStorage, storageWarnings, type StoragePlan } from '../disks/storage-plan';

export interface BackupJobRequest {
  device: string;
  output: string;
  compression: BackupCompression;
  /** Compression level; null for the format's usual default. */
  level?: number | null;
  /** Replace an existing OUTPUT (and its sidecar). */
  force?: boolean;
  /** False skips the up-front free-space check; running out of room still stops cleanly. */
  checkFreeSpace?: boolean;
  /** Store every byte of the drive, as dd would, instead of only what the filesystems use. */
  sectorBySector?: boolean;
}

/** Everything checked before the drive is read; shown to the user first. */
export interface PreparedBackup {
  drive: SourceDrive;
  out: BackupOutputPlan;
  compression: BackupCompression;
  level: number | null;
  threads: number;
  layout: DriveLayout;
  /** What will be read and stored, per partition. */
  storage: StoragePlan;
  /** Things to confirm before reading (partitions mounted read-write...). */
  warnings: string[];
  /** Things to tell the user that need no answer (partitions stored whole, and why). */
  notes: string[];
}

export const DEFAULT_LEVELS: Record<BackupCompression, number | null> = { zstd: 3, gzip: 6, xz: 6, none: null };
const LEVEL_RANGES: Record<Exclude<BackupCompression, 'none'>, [number, number]> = { zstd: [1, 19], gzip: [1, 9], xz: [0, 9] };

/**
 * A smart backup's zstd level when none is asked for. Level 1 (with a window
 * as wide as a frame, formats/zstd-seekable-writer.ts) compresses the bench
 * drive's 235 data frames (985 MB) in 0.83 s of CPU against 1.0 s at level 2
 * and 1.56 s at level 3 (one thread, three interleaved runs, loaded host), for
 * a file 1.6 % larger than level 2's (391.3 against 385.2 MB; about 1.03x
 * partclone | zstd -T0, whose stream is level 3; the target is at most
 * 1.05x). A whole-drive backup stays at level 3, where it is measured against
 * one `zstd -T0` stream of the drive.
 */
export const SMART_ZSTD_LEVEL = 1;

function checkLevel(compression: BackupCompression, level: number | null | undefined, smart = false): number | null {
  if (level === null || level === undefined) return compression === 'zstd' && smart ? SMART_ZSTD_LEVEL : DEFAULT_LEVELS[compression];
  if (compression === 'none') throw new ImprintError('E_BAD_ARGUMENTS', 'A raw backup (--compress none) takes no --level.');
  const [min, max] = LEVEL_RANGES[compression];
  if (!Number.isInteger(level) || level < min || level > max) throw new ImprintError('E_BAD_ARGUMENTS', `--level for ${compression} is a whole number from ${min} to ${max}; got ${level}.`);
  return level;
}

/**
 * The file read back must hold what was read from the drive, chunk by chunk
 * (io/chunk-crc.ts): null when it does, else the error naming where it first
 * differs.
 */
export function readBackMismatch(driveSize: number, driveCrcs: readonly number[], check: { contentBytes: number; crcs: readonly number[] } | null): ImprintError | null {
  const differs = check ? firstDifferentChunk(driveCrcs, check.crcs) : 0;
  if (check && check.contentBytes === driveSize && differs < 0) return null;
  const where = !check
    ? 'could not be read back'
    : differs < 0 || differs * CHUNK_SIZE >= Math.min(driveSize, check.contentBytes)
      ? `reads back as ${check.contentBytes} bytes, not ${driveSize}`
      : `reads back differently from the drive from byte ${differs * CHUNK_SIZE} on`;
  return new ImprintError('E_VERIFY_MISMATCH', `The backup file ${where}. It was removed; the disk it was written to may be failing.`, check && differs >= 0 ? { offset: differs * CHUNK_SIZE } : {});
}

/** What a backup of `device` would store, per partition (the app shows it before the user starts). Reads the drive's metadata only. */
export async function planBackupStorage(device: string, sectorBySector: boolean): Promise<StorageSummary> {
  const drive = await inspectSourceDrive(device);
  const layout = layoutOfFile(drive.device, drive.size, true);
  const { mode, storedBytes, partitions } = await planDriveStorage(drive.device, drive.size, layout, sectorBySector);
  return { mode, storedBytes, partitions };
}

/** Inspects the drive and the destination and applies every rule. Reads only the drive's partition table; writes nothing. */
export async function prepareBackup(req: BackupJobRequest): Promise<PreparedBackup> {
  checkLevel(req.compression, req.level);
  const drive = await inspectSourceDrive(req.device);
  const out = planBackupOutput(req.output, drive, req.compression, { force: req.force === true, checkFreeSpace: req.checkFreeSpace !== false });
  const layout = layoutOfFile(drive.device, drive.size, true);
  const storage = await planDriveStorage(drive.device, drive.size, layout, req.sectorBySector === true);
  const level = checkLevel(req.compression, req.level, storage.mode === 'used-blocks');
  const warnings = drive.writableMounts.length > 0 ? [mountedWarning(drive, storage.mode === 'used-blocks')] : [];
  const threads = Math.max(1, Math.min(8, os.availableParallelism()));
  return { drive, out, compression: req.compression, level, threads, layout, storage, warnings, notes: storageWarnings(storage) };
}

export interface BackupRunOptions {
  signal?: AbortSignal;
  onEvent: EventSink;
  stallTimeoutMs?: number;
  /** The id the job's events carry; a fresh UUID when absent. */
  jobId?: string;
}

/** The storage record of a backup: its ranges and the CRC-32 of each chunk of the image as stored. */
function storageRecord(p: PreparedBackup, driveCrcs: readonly number[]): BackupStorage {
  const { storage } = p;
  const crcs = Buffer.alloc(driveCrcs.length * 4);
  driveCrcs.forEach((c, i) => crcs.writeUInt32LE(c >>> 0, i * 4));
  return {
    mode: storage.mode,
    storedBytes: storage.storedBytes,
    partitions: storage.partitions,
    ranges: storage.ranges.map((r) => [r.start, r.length]),
    chunkSize: CHUNK_SIZE,
    chunkCrc32: crcs.toString('base64'),
  };
}

function metadataOf(p: PreparedBackup, sha256: string, createdAt: string, driveCrcs: readonly number[]): BackupMetadata {
  return {
    kind: 'imprint-backup',
    schema: 1,
    imprintVersion: imprintVersion(),
    createdAt,
    size: p.drive.size,
    sha256,
    compression: p.compression,
    compressionLevel: p.level,
    source: { device: p.drive.device, model: p.drive.model, serial: p.drive.serial, logicalBlockSize: p.drive.logicalBlockSize },
    partitionTable: p.layout.partitionTable,
    filesystem: p.layout.filesystem,
    storage: storageRecord(p, driveCrcs),
  };
}

/**
 * Reads the whole drive into a compressed (or sparse raw) image and reads the
 * image back from its disk as it is written, checking that it decompresses to
 * exactly what was read from the drive (same size, same SHA-256). Only then
 * are the file and its sidecar renamed into place: a failed, cancelled or
 * unverified backup leaves no file behind, let alone one that looks complete.
 */
export async function runBackup(p: PreparedBackup, opts: BackupRunOptions): Promise<JobFinishedEvent> {
  const { drive, out } = p;
  const reporter = new JobReporter(opts.onEvent, 'backup', opts.jobId);
  const progress: TargetProgress = { device: out.output, status: 'writing', bytesWritten: 0, bytesVerified: 0 };
  const sidecarPartial = out.sidecar + PARTIAL_SUFFIX;
  let completed = false;
  const finish = (ok: boolean, bytes: number, extra: Partial<JobFinishedEvent>): JobFinishedEvent => {
    reporter.stopSampling();
    const event: JobFinishedEvent = { type: 'job-finished', jobId: reporter.jobId, ok, targets: [{ ...progress }], bytes, ...extra };
    reporter.emit(event);
    return event;
  };
  const failWith = (err: ImprintError, bytes: number): JobFinishedEvent => {
    progress.status = err.code === 'E_CANCELLED' ? 'cancelled' : 'failed';
    progress.error = err.toInfo();
    return finish(false, bytes, { error: err.toInfo() });
  };

  reporter.started(drive.device, [out.output], drive.size);
  for (const w of [...p.warnings, ...p.notes]) reporter.warning(w);
  const createdAt = new Date().toISOString();
  const info: SourceInfo = { path: drive.device, format: 'raw', fileSize: drive.size, size: drive.size, sizeEstimate: null, isDevice: true };
  const pipeline = new BackupPipeline(info, {
    output: out.partial,
    compression: p.compression,
    level: p.level ?? 0,
    threads: p.threads,
    signal: opts.signal,
    stallTimeoutMs: opts.stallTimeoutMs,
    trailer: (end, driveCrcs) => (end.contentDigests.sha256 ? encodeEmbeddedMetadata(p.compression, metadataOf(p, end.contentDigests.sha256, createdAt, driveCrcs)) : null),
    ...(p.storage.mode === 'used-blocks' ? { keep: p.storage.ranges } : {}),
    onOutputComplete: () => {
      reporter.flush(writing);
      progress.status = 'verifying';
      reporter.phaseStarted('verifying', verifying);
    },
  });
  const ratio = (): number | undefined => (pipeline.writtenBytes > 0 ? Math.round((pipeline.outputBytes / pipeline.writtenBytes) * 10000) / 10000 : undefined);
  const writing = (): { done: number; total: number; targets: TargetProgress[]; extra: Partial<ProgressEvent> } => {
    progress.bytesWritten = pipeline.writtenBytes;
    progress.bytesVerified = pipeline.checkedBytes;
    const r = ratio();
    // A smart backup's progress counts what is really read: the used blocks.
    const done = p.storage.mode === 'used-blocks' ? Math.min(pipeline.readBytes, p.storage.storedBytes) : pipeline.writtenBytes;
    return { done, total: p.storage.storedBytes, targets: [progress], extra: r === undefined ? {} : { compressionRatio: r } };
  };
  // The file is read back while it is written; this phase is its last few MiB.
  const verifying = (): { done: number; total: number; targets: TargetProgress[] } => {
    progress.bytesVerified = pipeline.checkedBytes;
    return { done: pipeline.checkedBytes, total: drive.size, targets: [progress] };
  };

  try {
    reporter.phaseStarted('writing', writing);
    const result = await pipeline.run();
    reporter.flush(progress.status === 'verifying' ? verifying : writing);
    if (result.error || !result.end) return failWith(result.error ?? new ImprintError('E_INTERNAL', 'The drive was not read to its end.'), pipeline.writtenBytes);
    const sha256 = result.end.contentDigests.sha256;
    if (!sha256 || result.end.bytes !== drive.size) {
      return failWith(new ImprintError('E_SOURCE_CHANGED', `${drive.device} gave ${result.end.bytes} bytes, but it held ${drive.size} when the backup started.`), result.end.bytes);
    }
    const mismatch = readBackMismatch(drive.size, result.driveCrcs, result.check);
    if (mismatch) return failWith(mismatch, drive.size);
    progress.status = 'verified';
    progress.bytesVerified = drive.size;

    // Sidecar first: whenever the backup file exists under its name, so does its description.
    const metadata = metadataOf(p, sha256, createdAt, result.driveCrcs);
    writeMetadataFile(sidecarPartial, metadata);
    fs.renameSync(sidecarPartial, out.sidecar);
    fs.renameSync(out.partial, out.output);
    fsyncDir(path.dirname(out.output));
    completed = true;

    const st = fs.statSync(out.output);
    const allocated = st.blocks * 512;
    const stored = p.compression === 'none' ? Math.min(allocated, st.size) : st.size;
    reporter.phaseStarted('done', () => ({ done: drive.size, total: drive.size, targets: [progress] }));
    return finish(true, drive.size, {
      digests: { sha256 },
      details: {
        kind: 'backup',
        output: out.output,
        sidecar: out.sidecar,
        compression: p.compression,
        level: p.level,
        size: drive.size,
        outputBytes: st.size,
        storedBytes: stored,
        compressionRatio: Math.round((stored / drive.size) * 10000) / 10000,
        sha256,
        metadataEmbedded: p.compression === 'zstd' || p.compression === 'gzip',
        createdAt,
        storage: { mode: p.storage.mode, storedBytes: p.storage.storedBytes, partitions: p.storage.partitions },
      },
    });
  } catch (err) {
    return failWith(err instanceof ImprintError ? err : new ImprintError('E_INTERNAL', `Unexpected error (a bug in Imprint): ${(err as Error).message}`, { cause: err }), pipeline.writtenBytes);
  } finally {
    reporter.stopSampling();
    if (!completed) {
      removeQuietly(out.partial);
      removeQuietly(sidecarPartial);
    }
  }
}
