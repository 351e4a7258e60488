/**
 * The NTFS boot sector ($Boot, sector 0): the geometry every other read
 * depends on. Offsets from tuxera/ntfs-3g include/ntfs-3g/layout.h
 * (NTFS_BOOT_SECTOR, BIOS_PARAMETER_BLOCK).
 */

/** What the rest of the reader needs from a boot sector that checked out. */
export interface NtfsGeometry {
  bytesPerSector: number;
  clusterSize: number;
  /** Sectors the filesystem claims, from the boot sector (the backup boot sector lies just after them). */
  totalSectors: number;
  /** Whole clusters in the filesystem: the bits of $Bitmap that mean something. */
  totalClusters: number;
  mftLcn: number;
  mftMirrLcn: number;
  mftRecordSize: number;
  indexRecordSize: number;
  serial: bigint;
}

/** The 8-byte OEM id at offset 3 that every NTFS boot sector carries. */
export const NTFS_OEM_ID = 'NTFS    ';

/** Cheap magic test: OEM id and the 0x55AA end-of-sector marker. */
export function looksLikeNtfs(head: Uint8Array): boolean {
  if (head.length < 512) return false;
  const b = Buffer.from(head.buffer, head.byteOffset, 512);
  return b.toString('latin1', 3, 11) === NTFS_OEM_ID && b[510] === 0x55 && b[511] === 0xaa;
}

/**
 * Sizes of MFT and index records are stored as a signed byte: positive means
 * that many clusters, negative means 2^-value bytes (used when a record is
 * smaller than a cluster). Returns null when the encoding is out of range.
 */
function recordSize(raw: number, clusterSize: number): number | null {
  const v = raw > 127 ? raw - 256 : raw;
  if (v === 0) return null;
  if (v > 0) return v <= 64 ? v * clusterSize : null;
  const shift = -v;
  return shift >= 9 && shift <= 16 ? 2 ** shift : null;
}

const isPowerOfTwo = (n: number) => Number.isSafeInteger(n) && n > 0 && Number.isInteger(Math.log2(n));

/**
 * Parses and checks the boot sector against the volume it sits on. Returns the
 * geometry, or a sentence saying what does not check out (shown to the user as
 * the reason a backup copies the whole volume).
 */
export function parseBootSector(sector: Buffer, volumeSize: number): NtfsGeometry | string {
  if (sector.length < 512) return 'the volume is too small to hold an NTFS boot sector';
  if (sector.toString('latin1', 3, 11) !== NTFS_OEM_ID) return 'the boot sector has no NTFS signature';
  if (sector[510] !== 0x55 || sector[511] !== 0xaa) return 'the NTFS boot sector lacks its 0x55AA end marker';
  const bytesPerSector = sector.readUInt16LE(0x0b);
  if (!isPowerOfTwo(bytesPerSector) || bytesPerSector < 256 || bytesPerSector > 4096) {
    return `the NTFS boot sector gives an invalid sector size (${bytesPerSector})`;
  }
  // Sectors per cluster: 1..128 as is; above 128 the byte is a negative
  // exponent (0xF4 = 2^12 sectors), which large clusters (up to 2 MiB) need.
  const spcRaw = sector[0x0d] ?? 0;
  const sectorsPerCluster = spcRaw <= 0x80 ? spcRaw : 256 - spcRaw <= 12 ? 2 ** (256 - spcRaw) : 0;
  if (!isPowerOfTwo(sectorsPerCluster)) return `the NTFS boot sector gives an invalid cluster size (byte ${spcRaw})`;
  const clusterSize = sectorsPerCluster * bytesPerSector;
  if (clusterSize > 2 * 1024 * 1024) return `the NTFS cluster size (${clusterSize} bytes) is larger than NTFS allows`;

  const totalSectorsBig = sector.readBigInt64LE(0x28);
  const mftLcnBig = sector.readBigInt64LE(0x30);
  const mftMirrLcnBig = sector.readBigInt64LE(0x38);
  if (totalSectorsBig <= 0n || totalSectorsBig > BigInt(Number.MAX_SAFE_INTEGER)) return 'the NTFS boot sector gives an invalid filesystem size';
  const totalSectors = Number(totalSectorsBig);
  if (totalSectors * bytesPerSector > volumeSize) {
    return `the NTFS filesystem claims ${totalSectors * bytesPerSector} bytes but the volume holds only ${volumeSize}`;
  }
  const totalClusters = Math.floor((totalSectors * bytesPerSector) / clusterSize);
  if (totalClusters < 16) return 'the NTFS filesystem is too small to be real';
  if (mftLcnBig <= 0n || mftLcnBig >= BigInt(totalClusters)) return 'the NTFS boot sector places the MFT outside the filesystem';
  if (mftMirrLcnBig <= 0n || mftMirrLcnBig >= BigInt(totalClusters)) return 'the NTFS boot sector places the MFT mirror outside the filesystem';

  const mftRecordSize = recordSize(sector[0x40] ?? 0, clusterSize);
  if (mftRecordSize === null || mftRecordSize < 256 || mftRecordSize > 65536 || mftRecordSize % 512 !== 0) {
    return 'the NTFS boot sector gives an invalid MFT record size';
  }
  const indexRecordSize = recordSize(sector[0x44] ?? 0, clusterSize);
  if (indexRecordSize === null || indexRecordSize < 512 || indexRecordSize > 65536 * 4) {
    return 'the NTFS boot sector gives an invalid index record size';
  }
  return {
    bytesPerSector,
    clusterSize,
    totalSectors,
    totalClusters,
    mftLcn: Number(mftLcnBig),
    mftMirrLcn: Number(mftMirrLcnBig),
    mftRecordSize,
    indexRecordSize,
    serial: sector.readBigUInt64LE(0x48),
  };
}
