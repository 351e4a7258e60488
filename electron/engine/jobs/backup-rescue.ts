import * as fs from 'fs';
import type { ErrorInfo } from '../../../shared/error-codes';
import { allocAligned } from '../io/aligned-buffer';
import { logicalBlockSize } from '../io/block-device';
import { deviceResponds } from '../io/device-faults';
import { runRescue, type RescueOptions } from './rescue-job';

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
  return runRescue(device, rescueOutputFor(output), opts);
}
