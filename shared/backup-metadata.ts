/**
 * What an Imprint backup says about itself. It is stored inside the image
 * where the format allows it without disturbing ordinary tools (a zstd
 * skippable frame, an empty gzip member's extra field) and always in a
 * sidecar `OUTPUT.json` a person can read. The CLI's `info`, restore's checks
 * and the desktop app's restore screen all read this one shape.
 */

export type BackupCompression = 'zstd' | 'gzip' | 'xz' | 'none';

export const BACKUP_COMPRESSIONS: readonly BackupCompression[] = ['zstd', 'gzip', 'xz', 'none'];

/** A filesystem recognised by its superblock. */
export interface FilesystemInfo {
  /** blkid's names: ext2, ext3, ext4, vfat, exfat, ntfs, iso9660, btrfs, xfs, swap, squashfs, crypto_LUKS... */
  type: string;
  label: string | null;
  uuid: string | null;
}

export interface PartitionInfo {
  /** 1-based, as the OS numbers them (sdb1...); logical MBR partitions start at 5. */
  number: number;
  /** Byte offset on the drive. */
  start: number;
  /** Bytes. */
  size: number;
  /** MBR type byte as two hex digits ("83"), or a GPT type GUID. */
  type: string;
  /** The type in words ("Linux filesystem", "EFI System"), or null when unknown. */
  typeName: string | null;
  /** GPT partition name, or null. */
  name: string | null;
  /** GPT unique partition GUID, or null. */
  uuid: string | null;
  bootable: boolean;
  /** What the partition's first bytes say it holds, where recognised. */
  filesystem: FilesystemInfo | null;
}

export interface PartitionTableInfo {
  type: 'mbr' | 'gpt';
  /** MBR disk signature (8 hex digits) or GPT disk GUID. */
  diskId: string | null;
  sectorSize: number;
  partitions: PartitionInfo[];
  /** Facts a person should know (a damaged GPT header, entries that could not be read...). */
  notes: string[];
}

/** How one partition was stored by a backup. */
export interface PartitionStorage {
  number: number;
  /** Byte offset on the drive, and bytes. */
  start: number;
  size: number;
  /** The filesystem found there (blkid's names), or null. */
  filesystem: string | null;
  /** Bytes the filesystem uses, where Imprint read its allocation map; null when stored whole. */
  usedBytes: number | null;
  /** `used-blocks`: only what the filesystem uses (the rest reads as zeros); `whole`: every byte. */
  stored: 'used-blocks' | 'whole';
  /** Why the partition was stored whole (unknown filesystem, metadata that does not check out...). */
  reason: string | null;
  /** Bytes of this partition the backup holds. */
  storedBytes: number;
}

/** What a backup keeps of a drive, per partition: shown before it starts and recorded after. */
export interface StorageSummary {
  /** `used-blocks`: a smart backup; `sector-by-sector`: every byte of the drive. */
  mode: 'used-blocks' | 'sector-by-sector';
  /** Drive bytes read and stored (partition tables and gaps included). */
  storedBytes: number;
  partitions: PartitionStorage[];
}

/**
 * A smart backup's record of what it holds. The image is still the whole
 * drive, with zeros where nothing was stored, so `zstd -dc` gives a drive
 * back; `sha256` is then the SHA-256 of the stored data: the bytes of
 * `ranges`, in drive order (not of the drive, nor of the zero-filled image).
 */
export interface BackupStorage extends StorageSummary {
  /** Stored drive ranges as [start, length] pairs, sorted; restore writes only these. */
  ranges: [number, number][];
  /** Bytes per checksummed chunk of the image. */
  chunkSize: number;
  /** CRC-32 of each chunk of the image as stored: base64 of little-endian 32-bit words. */
  chunkCrc32: string;
}

export interface BackupMetadata {
  /** Fixed marker, so a stray JSON file is not mistaken for a backup's metadata. */
  kind: 'imprint-backup';
  /** Layout of this object; bump on incompatible changes. */
  schema: 1;
  imprintVersion: string;
  /** ISO 8601, when the backup was taken. */
  createdAt: string;
  /** Bytes of drive content in the image (the whole drive). */
  size: number;
  /** SHA-256 (hex) of those bytes, taken while reading the drive. */
  sha256: string;
  compression: BackupCompression;
  compressionLevel: number | null;
  source: {
    device: string;
    model: string | null;
    serial: string | null;
    logicalBlockSize: number;
  };
  partitionTable: PartitionTableInfo | null;
  /** A filesystem on the whole drive, without a partition table (a "superfloppy" or an ISO). */
  filesystem: FilesystemInfo | null;
  /** Present on smart backups (used blocks only); absent on a whole-drive backup. */
  storage?: BackupStorage;
}

const HEX64 = /^[0-9a-f]{64}$/;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const strOrNull = (v: unknown): v is string | null => v === null || typeof v === 'string';
const isSize = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

function checkFilesystem(v: unknown): boolean {
  return v === null || (isObject(v) && typeof v.type === 'string' && strOrNull(v.label) && strOrNull(v.uuid));
}

function checkTable(v: unknown): boolean {
  if (v === null) return true;
  if (!isObject(v) || (v.type !== 'mbr' && v.type !== 'gpt') || !strOrNull(v.diskId) || !isSize(v.sectorSize) || !Array.isArray(v.partitions)) return false;
  if (!Array.isArray(v.notes) || !v.notes.every((n) => typeof n === 'string')) return false;
  return v.partitions.every(
    (p: unknown) =>
      isObject(p) &&
      isSize(p.number) &&
      isSize(p.start) &&
      isSize(p.size) &&
      typeof p.type === 'string' &&
      strOrNull(p.typeName) &&
      strOrNull(p.name) &&
      strOrNull(p.uuid) &&
      typeof p.bootable === 'boolean' &&
      checkFilesystem(p.filesystem),
  );
}

function checkPartitionStorage(p: unknown): boolean {
  return (
    isObject(p) &&
    isSize(p.number) &&
    isSize(p.start) &&
    isSize(p.size) &&
    strOrNull(p.filesystem) &&
    (p.usedBytes === null || isSize(p.usedBytes)) &&
    (p.stored === 'used-blocks' || p.stored === 'whole') &&
    strOrNull(p.reason) &&
    isSize(p.storedBytes)
  );
}

/** A storage record whose ranges are sorted, inside the drive, and add up to what it says. */
function checkStorage(v: unknown, driveSize: number): boolean {
  if (!isObject(v) || (v.mode !== 'used-blocks' && v.mode !== 'sector-by-sector') || !isSize(v.storedBytes)) return false;
  if (!Array.isArray(v.partitions) || !v.partitions.every(checkPartitionStorage)) return false;
  if (!isSize(v.chunkSize) || v.chunkSize === 0 || typeof v.chunkCrc32 !== 'string' || !Array.isArray(v.ranges)) return false;
  let end = 0;
  let total = 0;
  for (const r of v.ranges as unknown[]) {
    if (!Array.isArray(r) || r.length !== 2 || !isSize(r[0]) || !isSize(r[1]) || r[1] === 0) return false;
    if (r[0] < end || r[0] + r[1] > driveSize) return false;
    end = r[0] + r[1];
    total += r[1];
  }
  return total === v.storedBytes;
}

/**
 * Checks that parsed JSON is backup metadata Imprint can rely on, and returns
 * it typed; null when it is not (another program's JSON, a damaged file, a
 * newer schema). Types are erased at run time; this check is not.
 */
export function asBackupMetadata(v: unknown): BackupMetadata | null {
  if (!isObject(v) || v.kind !== 'imprint-backup' || v.schema !== 1) return null;
  if (typeof v.imprintVersion !== 'string' || typeof v.createdAt !== 'string') return null;
  if (!isSize(v.size) || v.size === 0 || typeof v.sha256 !== 'string' || !HEX64.test(v.sha256)) return null;
  if (typeof v.compression !== 'string' || !(BACKUP_COMPRESSIONS as readonly string[]).includes(v.compression)) return null;
  if (!(v.compressionLevel === null || typeof v.compressionLevel === 'number')) return null;
  const s = v.source;
  if (!isObject(s) || typeof s.device !== 'string' || !strOrNull(s.model) || !strOrNull(s.serial) || !isSize(s.logicalBlockSize)) return null;
  if (!checkTable(v.partitionTable) || !checkFilesystem(v.filesystem)) return null;
  if (v.storage !== undefined && !checkStorage(v.storage, v.size)) return null;
  return v as unknown as BackupMetadata;
}

/** The file name a backup suggests for itself: `name.img.zst` and so on. */
export const BACKUP_EXTENSIONS: Record<BackupCompression, string> = {
  zstd: '.img.zst',
  gzip: '.img.gz',
  xz: '.img.xz',
  none: '.img',
};

/** Where the sidecar of a backup file lives. */
export function sidecarPathOf(backupPath: string): string {
  return `${backupPath}.json`;
}
