import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { BackupCompression, BackupMetadata } from '../../../shared/backup-metadata';
import type { JobFinishedEvent, ProgressEvent, TargetProgress } from '../../../shared/job-events';
import { ImprintError } from '../errors';
import { firstDifferentChunk } from '../io/chunk-crc';
import { CHUNK_SIZE } from '../pipelines/write-pipeline';
import type { SourceInfo } from '../formats/image-source';
import { JobReporter, type EventSink } from './job-reporter';
import { encodeEmbeddedMetadata, imprintVersion, writeMetadataFile } from '../formats/backup-metadata';
import { fsyncDir, planBackupOutput, removeQuietly, PARTIAL_SUFFIX, type BackupOutputPlan } from './backup-output';
import { BackupPipeline } from '../pipelines/backup-pipeline';
import { layoutOfFile, type DriveLayout } from '../disks/drive-layout';
import { inspectSourceDrive, mountedWarning, type SourceDrive } from '../drives/source-drive';

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
}

/** Everything checked before the drive is read; shown to the user first. */
export interface PreparedBackup {
  drive: SourceDrive;
  out: BackupOutputPlan;
  compression: BackupCompression;
  level: number | null;
  threads: number;
  layout: DriveLayout;
  /** Things to tell the user (partitions mounted read-write...). */
  warnings: string[];
}

export const DEFAULT_LEVELS: Record<BackupCompression, number | null> = { zstd: 3, gzip: 6, xz: 6, none: null };
const LEVEL_RANGES: Record<Exclude<BackupCompression, 'none'>, [number, number]> = { zstd: [1, 19], gzip: [1, 9], xz: [0, 9] };

function checkLevel(compression: BackupCompression, level: number | null | undefined): number | null {
  if (level === null || level === undefined) return DEFAULT_LEVELS[compression];
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

/** Inspects the drive and the destination and applies every rule. Reads only the drive's partition table; writes nothing. */
export async function prepareBackup(req: BackupJobRequest): Promise<PreparedBackup> {
  const level = checkLevel(req.compression, req.level);
  const drive = await inspectSourceDrive(req.device);
  const out = planBackupOutput(req.output, drive, req.compression, { force: req.force === true, checkFreeSpace: req.checkFreeSpace !== false });
  const layout = layoutOfFile(drive.device, drive.size, true);
  const warnings = drive.writableMounts.length > 0 ? [mountedWarning(drive)] : [];
  const threads = Math.max(1, Math.min(8, os.availableParallelism()));
  return { drive, out, compression: req.compression, level, threads, layout, warnings };
}

export interface BackupRunOptions {
  signal?: AbortSignal;
  onEvent: EventSink;
  stallTimeoutMs?: number;
  /** The id the job's events carry; a fresh UUID when absent. */
  jobId?: string;
}

function metadataOf(p: PreparedBackup, sha256: string, createdAt: string): BackupMetadata {
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
  for (const w of p.warnings) reporter.warning(w);
  const createdAt = new Date().toISOString();
  const info: SourceInfo = { path: drive.device, format: 'raw', fileSize: drive.size, size: drive.size, sizeEstimate: null, isDevice: true };
  const pipeline = new BackupPipeline(info, {
    output: out.partial,
    compression: p.compression,
    level: p.level ?? 0,
    threads: p.threads,
    signal: opts.signal,
    stallTimeoutMs: opts.stallTimeoutMs,
    trailer: (end) => (end.contentDigests.sha256 ? encodeEmbeddedMetadata(p.compression, metadataOf(p, end.contentDigests.sha256, createdAt)) : null),
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
    return { done: pipeline.writtenBytes, total: drive.size, targets: [progress], extra: r === undefined ? {} : { compressionRatio: r } };
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
    const metadata = metadataOf(p, sha256, createdAt);
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
