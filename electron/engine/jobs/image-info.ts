import * as fs from 'fs';
import * as path from 'path';
import type { BackupDetails } from '../../../shared/ipc-contract';
import { blockDeviceSize } from '../io/block-device';
import type { DecoderChoice } from '../formats/image-kind';
import { describeSource, inspectSource, type SourceInfo } from '../formats/image-source';
import { findBackupMetadata, type FoundMetadata } from '../formats/backup-metadata';
import { layoutOfFile, layoutOfStream, type DriveLayout } from '../disks/drive-layout';

/** What `imprint info` and the restore screen show about an image, a backup or a drive. */
export interface ImageReport {
  path: string;
  /** raw, gzip, xz, zstd, bzip2, zip; "device" for a drive. */
  format: string;
  formatLabel: string;
  fileSize: number;
  /** Content size when known (from the format, or the backup's record). */
  size: number | null;
  /** The backup's own description, when it is an Imprint backup. */
  backup: FoundMetadata | null;
  layout: DriveLayout;
  /** "recorded": taken from the backup's metadata (no decompression); "read": found in the content now. */
  layoutFrom: 'recorded' | 'read';
}

/**
 * Inspects an image, a backup or a drive: its format, size, the backup's
 * metadata, and the partitions and filesystems in it. A compressed backup's
 * layout comes from its metadata (recorded when it was taken, from the drive
 * itself); other compressed images are decompressed only as far as their
 * last partition's start.
 */
export async function inspectImageOrBackup(file: string, signal?: AbortSignal, decoders?: DecoderChoice): Promise<ImageReport> {
  const source = await inspectSource(file, { decoders });
  if (source.isDevice) {
    const size = blockDeviceSize(file);
    return { path: file, format: 'device', formatLabel: 'drive', fileSize: size, size, backup: null, layout: layoutOfFile(file, size, true), layoutFrom: 'read' };
  }
  const backup = findBackupMetadata(file);
  const raw = backup?.metadata.compression === 'none' || source.format === 'raw';
  const info: SourceInfo = raw ? { ...source, format: 'raw', size: source.fileSize } : source;
  const size = info.size ?? backup?.metadata.size ?? null;
  let layout: DriveLayout;
  let layoutFrom: ImageReport['layoutFrom'] = 'read';
  if (raw) layout = layoutOfFile(file, info.fileSize, false);
  else if (backup) {
    layout = { partitionTable: backup.metadata.partitionTable, filesystem: backup.metadata.filesystem };
    layoutFrom = 'recorded';
  } else layout = await layoutOfStream(info, signal);
  return { path: file, format: info.format, formatLabel: raw ? 'raw image' : describeSource(info), fileSize: source.fileSize, size, backup, layout, layoutFrom };
}

/** The report in the IPC contract's shape, for the desktop app's restore screen. */
export function toBackupDetails(r: ImageReport): BackupDetails {
  const m = r.backup?.metadata ?? null;
  return {
    path: r.path,
    name: path.basename(r.path),
    format: r.format,
    formatLabel: r.formatLabel,
    fileSize: r.fileSize,
    size: r.size,
    partitionTable: r.layout.partitionTable?.type ?? null,
    sha256: m?.sha256 ?? null,
    sourceModel: m?.source.model ?? null,
    sourceSerial: m?.source.serial ?? null,
    sourceSize: m?.size ?? null,
    createdAt: m?.createdAt ?? null,
    imprintVersion: m?.imprintVersion ?? null,
    compression: m?.compression ?? null,
    metadataFrom: r.backup?.from ?? null,
    partitions: r.layout.partitionTable?.partitions ?? [],
    // Only the summary: the ranges and checksums are for restore, not for the screen.
    storage: m?.storage ? { mode: m.storage.mode, storedBytes: m.storage.storedBytes, partitions: m.storage.partitions } : null,
  };
}

/** Disk space a file really takes (a sparse raw backup takes less than its size). */
export function allocatedBytes(file: string): number {
  return fs.statSync(file).blocks * 512;
}
