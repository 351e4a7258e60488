import * as fs from 'fs';
import { ImprintError, classifyReadError, classifyWriteError, deviceGoneError, errnoOf } from '../errors';
import { allocAligned, alignUp } from './aligned-buffer';
import { blockDeviceSize } from './block-device';
import { findReadableEnd, locateFault } from './fault-locator';
import { writeFully } from './full-io';

/**
 * What an I/O error on a block device means, decided by asking the device
 * (docs/architecture.md: a persistent EIO at a fixed offset is a bad sector, not an
 * unplugged drive; say which, with the offset):
 *  - the drive no longer answers anywhere: it is gone (E_DEVICE_GONE);
 *  - one sector fails on its own, every retry: a bad sector at that sector's offset;
 *  - "no space" before the reported end: the drive holds less than it claims;
 *  - every piece goes through on a second try: transient, the caller carries on.
 * Runs on the worker thread that met the error, with synchronous I/O.
 */

/**
 * Errnos worth locating sector by sector; others (EROFS, EACCES...) say what
 * they mean already. Whatever the errno, a drive that no longer answers is
 * gone: a drive torn away mid-write has been seen to give EINVAL, not EIO.
 */
const EXAMINED = new Set(['EIO', 'EILSEQ', 'ENOSPC', 'ETIMEDOUT', 'EAGAIN', 'EBUSY', 'EINTR']);

/**
 * Whether the drive still answers: its size is not 0, and a small O_DIRECT
 * read of its first, middle or last sector succeeds (one bad sector 0 does not
 * make a drive gone). May block if the drive hangs; callers run after an error
 * came back, and a hang is the stall watchdog's business.
 */
export function deviceResponds(device: string, sector: number): boolean {
  let size: number;
  try {
    size = blockDeviceSize(device);
  } catch {
    return false;
  }
  if (size < sector) return false;
  let fd: number;
  try {
    fd = fs.openSync(device, fs.constants.O_RDONLY | fs.constants.O_DIRECT);
  } catch {
    return false;
  }
  try {
    const buf = allocAligned(alignUp(sector));
    const middle = Math.floor(size / 2 / sector) * sector;
    return [0, middle, size - sector].some((at) => {
      try {
        return fs.readSync(fd, buf, 0, sector, at) === sector;
      } catch {
        return false;
      }
    });
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Examines a failed O_DIRECT write of `data` at `offset` to a block device
 * open as `fd`. Returns the error to report, or null when the data went
 * through on a second try (it is then all on the medium).
 */
export function diagnoseWriteFailure(fd: number, device: string, data: Buffer, offset: number, sector: number, err: unknown): ImprintError | null {
  if (!deviceResponds(device, sector)) return deviceGoneError(device, offset, err);
  if (!EXAMINED.has(errnoOf(err) ?? '')) return classifyWriteError(err, device, offset);
  const fault = locateFault((buf, at) => writeFully(fd, buf, at), data, offset, sector);
  if (!fault) return null;
  // It may have gone while being examined.
  if (!deviceResponds(device, sector)) return deviceGoneError(device, fault.offset, fault.error);
  if (errnoOf(fault.error) === 'ENOSPC') return noSpaceError(device, fault.offset, sector, fault.error);
  return classifyWriteError(fault.error, device, fault.offset);
}

/**
 * A block device said "no space" at `offset`. If it cannot be read near its
 * reported end either, it ends early: find where by reading (nothing is
 * written) and report that end. Otherwise a region refuses data.
 */
function noSpaceError(device: string, offset: number, sector: number, cause: unknown): ImprintError {
  let size: number;
  let fd: number;
  try {
    size = blockDeviceSize(device);
    fd = fs.openSync(device, fs.constants.O_RDONLY | fs.constants.O_DIRECT);
  } catch (err) {
    return deviceGoneError(device, offset, err);
  }
  try {
    const buf = allocAligned(alignUp(sector));
    const canRead = (at: number): boolean => {
      try {
        return fs.readSync(fd, buf, 0, sector, at) === sector;
      } catch {
        return false;
      }
    };
    if (!canRead(size - sector)) {
      const end = findReadableEnd(canRead, 0, Math.min(size, offset + sector), sector);
      return new ImprintError(
        'E_TARGET_END',
        `${device} ends at byte offset ${end}, although it reports ${size} bytes: writing at byte offset ${offset} failed with "no space left", and nothing from byte ${end} on can be read. The drive holds less than it claims.`,
        { cause, offset: end },
      );
    }
  } finally {
    fs.closeSync(fd);
  }
  return new ImprintError('E_NO_SPACE', `${device} refused data at byte offset ${offset} ("no space left"), before its reported end at byte ${size}: the drive holds less than it claims, or is failing.`, { cause, offset });
}

/**
 * Examines a failed O_DIRECT read of `length` bytes at `offset` from a block
 * device open as `fd`. Returns the error to report, or null when every piece
 * read on a second try (the caller reads the range again).
 */
export function diagnoseReadFailure(fd: number, device: string, offset: number, length: number, sector: number, err: unknown): ImprintError | null {
  if (!deviceResponds(device, sector)) return deviceGoneError(device, offset, err);
  if (!EXAMINED.has(errnoOf(err) ?? '')) return classifyReadError(err, device, offset);
  const buf = allocAligned(alignUp(length, sector));
  // A short read at the end of the device is not a fault: only an error is.
  const fault = locateFault((piece, at) => void fs.readSync(fd, piece, 0, piece.length, at), buf, offset, sector);
  if (!fault) return null;
  if (!deviceResponds(device, sector)) return deviceGoneError(device, fault.offset, fault.error);
  return classifyReadError(fault.error, device, fault.offset);
}
