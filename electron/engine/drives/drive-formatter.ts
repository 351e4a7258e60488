import { ImprintError } from '../errors';
import { formatOnLinux } from './linux-formatter';
import type { FormatOutcome, FormatSpec } from './format-spec';

export type { FormatOutcome, FormatSpec, FormatStep } from './format-spec';

/**
 * Formats a drive with the operating system's own tools: the one place a job
 * reaches for them, so each OS is one function behind this one.
 *
 * - Linux (implemented, tested on loop devices): `wipefs --all`, then the
 *   first and last MiB zeroed (the GPT backup header sits in the last 33
 *   sectors), `sfdisk` writes one MBR partition from 1 MiB to the end,
 *   `partx` tells the kernel, then `mkfs.vfat -F 32` or `mkfs.exfat`.
 * - Windows (not implemented yet): `diskpart` with a script naming the disk
 *   by number (`select disk N`, `clean`, `convert mbr`, `create partition
 *   primary`, `format fs=fat32|exfat label=... quick`, `assign`): `clean`
 *   removes the partition table at both ends; FAT32 above 32 GB needs a
 *   third-party formatter there, so the 32 GB line matches Windows's own.
 * - macOS (not implemented yet): `diskutil eraseDisk FAT32|ExFAT NAME MBRFormat
 *   /dev/diskN`, which unmounts, wipes both GPT copies and partitions in one
 *   step (FAT32 names are upper-cased by diskutil, as here).
 * Until those land, other systems get a clear refusal, never a half-done drive.
 */
export async function formatDrive(spec: FormatSpec): Promise<FormatOutcome> {
  if (process.platform === 'linux') return formatOnLinux(spec);
  const how = process.platform === 'win32' ? 'diskpart' : process.platform === 'darwin' ? 'diskutil' : null;
  throw new ImprintError(
    'E_BAD_ARGUMENTS',
    how
      ? `Formatting a drive is not available on this system yet (it will use ${how}); nothing was changed. Use the system's own disk tool meanwhile.`
      : `Formatting a drive is not available on ${process.platform}; nothing was changed.`,
  );
}
