import { btrfsDriver } from './btrfs/btrfs-driver';
import { exfatDriver } from './exfat/exfat-driver';
import { extDriver } from './ext/ext-driver';
import { fatDriver } from './fat/fat-driver';
import type { FilesystemDriver } from './filesystem-driver';
import { iso9660Driver } from './iso9660/iso-driver';
import { ntfsDriver } from './ntfs/ntfs-driver';
import { swapDriver } from './swap-driver';
import { xfsDriver } from './xfs/xfs-driver';

/**
 * Every filesystem reader Imprint has, one line each. A reader is found by
 * its magic bytes; the first that recognises a volume's head reads it.
 * ISO 9660 comes before FAT: a hybrid ISO starts with a boot sector that
 * may look like FAT's, while "CD001" at 32 KiB is its own.
 *
 * A driver module holds only its magic test; its reader and its allocation
 * map are required when first used. Every command that looks at a partition
 * table tries each driver on each partition's head, and few read more than
 * one or two filesystems. With the readers loaded up front, and a backup
 * folder's reading code with them (formats/byte-source.ts), `imprint ls` of
 * the bench backup's partitions took 422 ms (median of 11 runs); now 383 ms.
 */
export const FILESYSTEM_DRIVERS: readonly FilesystemDriver[] = [extDriver, iso9660Driver, fatDriver, exfatDriver, ntfsDriver, btrfsDriver, xfsDriver, swapDriver];

/** The driver that recognises a volume by its first bytes, or null. */
export function driverForHead(head: Uint8Array): FilesystemDriver | null {
  return FILESYSTEM_DRIVERS.find((d) => d.detect(head)) ?? null;
}
