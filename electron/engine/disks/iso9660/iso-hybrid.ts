import type { ByteSource } from '../../formats/byte-source';
import { DESCRIPTORS_AT, looksLikeIso9660, parseDescriptor, SECTOR } from './iso-records';

/**
 * Hybrid ISO images (grub-mkrescue, isohybrid, xorriso's MBR options) carry
 * an MBR or GPT whose first partition often starts a sector or a few in
 * (grub-mkrescue: sector 1) and spans the ISO: a window that holds no
 * filesystem at its own start, while the ISO 9660 filesystem begins at
 * the image's first byte. Such a partition is read from byte 0, as the OS
 * does when it mounts the whole device.
 */

/** Partitions starting past this hold their own filesystem, not a window onto the ISO (its descriptors sit at 32 KiB). */
const WINDOW_BEFORE = DESCRIPTORS_AT;

/** The bytes the ISO 9660 filesystem at the start of `source` claims, or null when it holds none. */
export async function isoAtStart(source: ByteSource): Promise<number | null> {
  const head = await source.read(0, DESCRIPTORS_AT + SECTOR);
  if (!looksLikeIso9660(head)) return null;
  const d = parseDescriptor(head.subarray(DESCRIPTORS_AT, DESCRIPTORS_AT + SECTOR));
  return d && typeof d !== 'string' ? d.volumeBlocks * d.blockSize : null;
}

/** Whether a partition at `start` is a candidate window onto an ISO at the image's start. */
export function mayBeIsoWindow(start: number): boolean {
  return start > 0 && start < WINDOW_BEFORE;
}
