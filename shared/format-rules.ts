/**
 * What "return a stick to normal" makes of a drive, as pure rules: the CLI,
 * the main process and the renderer choose the filesystem and check a label
 * the same way. The drive-safety refusals are drive-constraints.ts's.
 */

export type FormatFilesystem = 'fat32' | 'exfat';
export const FORMAT_FILESYSTEMS: readonly FormatFilesystem[] = ['fat32', 'exfat'];

/**
 * Up to this size a drive gets FAT32, above it exFAT: the line Windows draws
 * (its format dialog offers FAT32 only up to 32 GB), so a stick formatted here
 * looks like one formatted there, and FAT32's cluster counts stay sensible.
 */
export const FAT32_MAX_DRIVE_BYTES = 32 * 1024 ** 3;

/**
 * Below this a "drive" is not a stick to return to normal (a card reader with
 * no card reports 0, a broken one a few sectors): refuse rather than make a
 * filesystem no system would want. The partition starts at 1 MiB.
 */
export const FORMAT_MIN_DRIVE_BYTES = 8 * 1024 ** 2;

export const DEFAULT_FORMAT_LABEL = 'IMPRINT';

/** MBR partition type bytes: 0x0c FAT32 with LBA addressing, 0x07 exFAT/NTFS (what Windows writes). */
export const MBR_TYPE_FOR: Record<FormatFilesystem, number> = { fat32: 0x0c, exfat: 0x07 };

/** FAT32 up to FAT32_MAX_DRIVE_BYTES, exFAT above, unless the user chose. */
export function chooseFilesystem(driveSize: number, asked: FormatFilesystem | null = null): FormatFilesystem {
  if (asked) return asked;
  return driveSize <= FAT32_MAX_DRIVE_BYTES ? 'fat32' : 'exfat';
}

export function isFormatFilesystem(value: unknown): value is FormatFilesystem {
  return typeof value === 'string' && (FORMAT_FILESYSTEMS as readonly string[]).includes(value);
}

/** Characters FAT forbids in a volume label (Microsoft's FAT specification, short names). */
const FAT_FORBIDDEN = /["*+,./:;<=>?[\\\]|]/;

/**
 * Why a label cannot be used on this filesystem, or null when it can. FAT32:
 * at most 11 bytes of plain ASCII without the characters short names forbid
 * (it is stored in upper case, as Windows does). exFAT: at most 15 UTF-16 units.
 * Neither takes control characters.
 */
export function labelProblem(label: string, fs: FormatFilesystem): string | null {
  if (label.length === 0) return 'the label is empty';
  if (/[\u0000-\u001f\u007f]/.test(label)) return 'the label holds a control character';
  if (fs === 'fat32') {
    if (!/^[\u0020-\u007e]+$/.test(label)) return 'a FAT32 label takes plain ASCII letters, digits, spaces and some punctuation only';
    if (label.length > 11) return `a FAT32 label holds at most 11 characters ("${label}" has ${label.length})`;
    if (FAT_FORBIDDEN.test(label)) return `a FAT32 label cannot contain any of " * + , . / : ; < = > ? [ \\ ] |`;
    return null;
  }
  if (label.length > 15) return `an exFAT label holds at most 15 characters ("${label}" has ${label.length})`;
  return null;
}

/** The label as the filesystem stores it: FAT32 labels in upper case, as Windows writes them. */
export function storedLabel(label: string, fs: FormatFilesystem): string {
  return fs === 'fat32' ? label.toUpperCase() : label;
}
