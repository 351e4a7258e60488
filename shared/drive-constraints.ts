import type { Drive } from './drive';
import type { ErrorCode } from './error-codes';

/**
 * Drive-safety rules, as pure functions: the CLI, the main process and the
 * renderer all decide the same way whether a drive may be written.
 */

/** Drives above this size are rarely USB sticks or SD cards: warn first. */
export const LARGE_DRIVE_BYTES = 128e9;

export interface ImageFacts {
  /** Path of the image file, to tell whether a drive holds it. */
  path: string | null;
  /** Uncompressed size when known exactly up front, else null. */
  size: number | null;
  /** Device path the image is read from when the source is itself a drive (clone, backup). */
  sourceDevice?: string | null;
  /**
   * When `size` is null: bytes the content is known to reach at least (a
   * .gz's ISIZE trailer), so a drive smaller than that is refused before it
   * is erased rather than after.
   */
  minSize?: number | null;
}

/** Bytes the image certainly needs: its exact size, else its known lower bound, else null. */
export function bytesNeeded(image: ImageFacts): number | null {
  return image.size ?? image.minSize ?? null;
}

export interface Refusal {
  code: ErrorCode;
  reason: string;
}

function isUnder(path: string, mountpoint: string): boolean {
  if (mountpoint === '/') return path.startsWith('/');
  const base = mountpoint.replace(/[\\/]+$/, '');
  return path === base || path.startsWith(base + '/') || path.startsWith(base + '\\');
}

/** True when the image file lives on one of the drive's mounted partitions. */
export function holdsImage(drive: Drive, image: ImageFacts): boolean {
  if (image.sourceDevice && image.sourceDevice === drive.device) return true;
  if (!image.path) return false;
  if (image.path === drive.device) return true;
  return drive.mountpoints.some((mp) => isUnder(image.path as string, mp));
}

export function isTooSmall(drive: Drive, image: ImageFacts): boolean {
  const needed = bytesNeeded(image);
  return needed !== null && drive.size < needed;
}

/**
 * For the confirmation when the image's size is not known exactly: what the
 * person risks. Null when the size is known.
 */
export function unknownSizeNote(image: ImageFacts): string | null {
  if (image.size !== null) return null;
  const floor = image.minSize ? ` (at least ${image.minSize} bytes)` : '';
  return `The image's uncompressed size is not known before it is decompressed${floor}: if it turns out larger than a drive, writing stops at the drive's end and that drive's old data is erased.`;
}

export function isLarge(drive: Drive): boolean {
  return drive.size > LARGE_DRIVE_BYTES;
}

/**
 * Every reason the drive must not be written with this image, most serious
 * first. An empty list means the drive may be written (after confirmation).
 */
export function refusalsFor(drive: Drive, image: ImageFacts): Refusal[] {
  const out: Refusal[] = [];
  if (drive.system) {
    out.push({ code: 'E_TARGET_SYSTEM', reason: `${drive.device} is a system drive: writing it would destroy the running system` });
  }
  if (holdsImage(drive, image)) {
    out.push({ code: 'E_TARGET_HOLDS_SOURCE', reason: `${drive.device} holds the image being written` });
  }
  if (drive.readOnly) {
    out.push({ code: 'E_TARGET_READ_ONLY', reason: `${drive.device} is read-only (check the lock switch on the card or stick)` });
  }
  if (drive.size <= 0) {
    out.push({ code: 'E_TARGET_TOO_SMALL', reason: `${drive.device} reports a size of 0: no medium inserted?` });
  } else if (isTooSmall(drive, image)) {
    out.push({
      code: 'E_TARGET_TOO_SMALL',
      reason: image.size !== null ? `${drive.device} holds ${drive.size} bytes; the image needs ${image.size}` : `${drive.device} holds ${drive.size} bytes; the image needs at least ${image.minSize} (the size its compressed file records)`,
    });
  }
  return out;
}

/** Warnings that need the user's explicit consent but do not refuse. */
export function warningsFor(drive: Drive): string[] {
  const out: string[] = [];
  if (isLarge(drive)) {
    out.push(`${drive.device} is larger than ${LARGE_DRIVE_BYTES / 1e9} GB: it is rarely a USB stick or SD card. Make sure it is the right drive.`);
  }
  if (drive.virtual) out.push(`${drive.device} is a loop device (an image file attached as a drive).`);
  return out;
}

/** Sort for display: removable drives first, then by device path. */
export function compareDrives(a: Drive, b: Drive): number {
  if (a.removable !== b.removable) return a.removable ? -1 : 1;
  if (a.system !== b.system) return a.system ? 1 : -1;
  return a.device.localeCompare(b.device, undefined, { numeric: true });
}

/** Drives shown without "all": not system, not loop devices. */
export function isShownByDefault(drive: Drive): boolean {
  return !drive.system && !drive.virtual;
}
