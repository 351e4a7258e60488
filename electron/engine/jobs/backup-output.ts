import * as fs from 'fs';
import * as path from 'path';
import { sidecarPathOf, type BackupCompression } from '../../../shared/backup-metadata';
import { ImprintError } from '../errors';
import { diskOfDeviceNumber, sameDevice } from '../io/block-device';

/** Suffix of the file a backup is written to until it is complete and verified. */
export const PARTIAL_SUFFIX = '.imprint-partial';

/** Where a backup goes, checked before anything is read or written. */
export interface BackupOutputPlan {
  /** Absolute path of the finished backup. */
  output: string;
  /** The temporary file beside it. */
  partial: string;
  sidecar: string;
  /** Bytes the backup could take at most, with its sidecar. */
  worstCaseBytes: number;
  /** Bytes free for this user on the destination's filesystem. */
  freeBytes: number;
  /** The destination exists and `force` allows replacing it. */
  replaces: boolean;
}

/**
 * The most room a backup of `size` bytes can take. Incompressible data grows
 * a little in every format (zstd: ZSTD_compressBound; gzip: stored blocks and
 * one member per 4 MiB; xz: LZMA2's uncompressed chunks); a raw backup may
 * have no holes at all. Plus 1 MiB for the embedded metadata and the sidecar.
 */
export function worstCaseBackupBytes(size: number, compression: BackupCompression): number {
  const slack = compression === 'none' ? 0 : Math.ceil(size / 200);
  return size + slack + (1 << 20);
}

/**
 * Resolves and checks a backup's destination: not a folder or a drive, not on
 * the drive being backed up, not an existing file unless `force`, and room
 * for the worst case unless `checkFreeSpace` is false.
 */
export function planBackupOutput(output: string, source: { device: string; size: number }, compression: BackupCompression, opts: { force: boolean; checkFreeSpace: boolean }): BackupOutputPlan {
  const abs = path.resolve(output);
  const dir = path.dirname(abs);
  let dirStat: fs.Stats;
  try {
    dirStat = fs.statSync(dir);
  } catch {
    throw new ImprintError('E_TARGET_NOT_FOUND', `Cannot create ${abs}: the folder ${dir} does not exist.`);
  }
  if (!dirStat.isDirectory()) throw new ImprintError('E_TARGET_NOT_FOUND', `Cannot create ${abs}: ${dir} is not a folder.`);

  let existing: fs.Stats | null = null;
  try {
    existing = fs.statSync(abs);
  } catch {
    existing = null;
  }
  if (existing?.isDirectory()) throw new ImprintError('E_BAD_ARGUMENTS', `${abs} is a folder. Give the backup a file name, e.g. ${path.join(abs, 'backup.img.zst')}.`);
  if (existing && !existing.isFile()) {
    throw new ImprintError('E_TARGET_NOT_WRITABLE_KIND', `${abs} is not a regular file${existing.isBlockDevice() ? ' but a drive: to copy a drive onto another, use imprint clone' : ''}.`);
  }
  const sidecar = sidecarPathOf(abs);
  const sidecarExists = fs.existsSync(sidecar);
  if ((existing || sidecarExists) && !opts.force) {
    const which = existing ? abs : sidecar;
    throw new ImprintError('E_OUTPUT_EXISTS', `${which} already exists and was left untouched. Choose another name, or pass --force to replace it.`);
  }

  // Writing the backup onto the drive being read would read the backup back into itself.
  // The folder's filesystem may sit on the drive itself or on one of its partitions (or be the partition backed up).
  const holder = diskOfDeviceNumber(dirStat.dev);
  const onSource = (holder !== null && sameDevice(holder, source.device)) || fs.statSync(source.device).rdev === dirStat.dev;
  if (onSource) {
    throw new ImprintError('E_OUTPUT_ON_SOURCE', `${dir} is on ${source.device}, the drive being backed up. Save the backup on another drive.`);
  }

  const worstCaseBytes = worstCaseBackupBytes(source.size, compression);
  const st = fs.statfsSync(dir);
  const freeBytes = st.bavail * st.bsize;
  if (opts.checkFreeSpace && freeBytes < worstCaseBytes) {
    const gb = (n: number): string => `${(n / 1e9).toFixed(n >= 1e10 ? 0 : 2)} GB`;
    throw new ImprintError(
      'E_NO_SPACE_FOR_OUTPUT',
      `Not enough free space in ${dir}: ${gb(freeBytes)} free, but the backup of ${source.device} may need up to ${gb(worstCaseBytes)} (less if the drive compresses well). Free some space, choose another destination, or pass --no-space-check to try anyway; a backup that runs out of room stops cleanly and leaves nothing behind.`,
    );
  }
  return { output: abs, partial: abs + PARTIAL_SUFFIX, sidecar, worstCaseBytes, freeBytes, replaces: existing !== null || sidecarExists };
}

/** Removes a file if it is there; a file that is not there is fine. */
export function removeQuietly(file: string): void {
  try {
    fs.unlinkSync(file);
  } catch {
    // Already gone.
  }
}

/** Makes renames in a folder durable: the folder's own entry list is fsynced. */
export function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
