/**
 * The FAT12/16/32 boot sector (BIOS parameter block), parsed and checked
 * against Microsoft's FAT specification (fatgen103). A value that does not
 * check out is returned as a reason, never thrown: the caller then copies
 * the volume whole and tells the user why.
 */

export type FatType = 'FAT12' | 'FAT16' | 'FAT32';

export interface FatGeometry {
  type: FatType;
  bytesPerSector: number;
  sectorsPerCluster: number;
  clusterSize: number;
  reservedSectors: number;
  fatCount: number;
  /** Sectors in one FAT copy. */
  fatSectors: number;
  /** FAT12/16: entries in the fixed root directory; 0 on FAT32. */
  rootEntries: number;
  rootDirSectors: number;
  totalSectors: number;
  /** Data clusters, numbered 2 .. clusterCount + 1. */
  clusterCount: number;
  /** FAT32: first cluster of the root directory; 0 on FAT12/16. */
  rootCluster: number;
  /** FAT32 with mirroring off: the one FAT in use; null when every copy is kept the same. */
  activeFat: number | null;
  /** Byte offsets inside the volume. */
  fatOffset: number;
  rootDirOffset: number;
  dataOffset: number;
  /** Bytes the filesystem spans (total sectors x sector size). */
  size: number;
  /** The boot sector's label ('NO NAME' and blanks as null), when its extended signature is there. */
  bootLabel: string | null;
  serial: number | null;
}

export type BootSectorResult = { ok: true; geometry: FatGeometry } | { ok: false; reason: string };

const isPow2 = (n: number): boolean => n > 0 && (n & (n - 1)) === 0;

/** Fewer clusters than these mean FAT12, then FAT16 (fatgen103, "FAT type determination"). */
const FAT12_MAX_CLUSTERS = 4084;
const FAT16_MAX_CLUSTERS = 65524;
/** FAT32 entries are 28 bits; 0x0FFFFFF7 and up are bad/end marks. */
const FAT32_MAX_CLUSTERS = 0x0ffffff5;

/** Cheap test: could `s` (the volume's first bytes) be a FAT boot sector? */
export function looksLikeFatBootSector(s: Uint8Array): boolean {
  if (s.length < 512 || s[510] !== 0x55 || s[511] !== 0xaa) return false;
  if (s[0] !== 0xeb && s[0] !== 0xe9) return false; // a short or near jump to the boot code
  const b = Buffer.from(s.buffer, s.byteOffset, 512);
  // exFAT and NTFS share the jump and signature; their BPB fields are zero where FAT's must not be.
  const oem = b.toString('latin1', 3, 11);
  if (oem === 'EXFAT   ' || oem === 'NTFS    ') return false;
  const bps = b.readUInt16LE(11);
  return isPow2(bps) && bps >= 512 && bps <= 4096 && isPow2(b[13] as number) && b.readUInt16LE(14) > 0 && (b[16] as number) > 0;
}

function label(b: Buffer, at: number): string | null {
  const s = b.toString('latin1', at, at + 11).replace(/[\0 ]+$/, '');
  return s === '' || s === 'NO NAME' ? null : s;
}

/** Parses and checks the boot sector `s` (at least 512 bytes) of a volume of `volumeSize` bytes. */
export function parseFatBootSector(s: Buffer, volumeSize: number): BootSectorResult {
  const fail = (reason: string): BootSectorResult => ({ ok: false, reason: `FAT boot sector: ${reason}` });
  if (!looksLikeFatBootSector(s)) return fail('no FAT boot sector signature');
  const bytesPerSector = s.readUInt16LE(11);
  const sectorsPerCluster = s[13] as number;
  const reservedSectors = s.readUInt16LE(14);
  const fatCount = s[16] as number;
  const rootEntries = s.readUInt16LE(17);
  const totalSectors = s.readUInt16LE(19) || s.readUInt32LE(32);
  const fat16Size = s.readUInt16LE(22);
  const fat32Layout = fat16Size === 0;
  const fatSectors = fat16Size || s.readUInt32LE(36);
  if (fatCount > 4) return fail(`${fatCount} FAT copies (at most 4 are plausible)`);
  if (totalSectors === 0) return fail('the total sector count is 0');
  if (fatSectors === 0) return fail('the FAT size is 0');
  const size = totalSectors * bytesPerSector;
  if (size > volumeSize) return fail(`the filesystem (${size} bytes) is larger than its volume (${volumeSize} bytes): the partition was cut short or the boot sector is wrong`);
  if (fat32Layout && rootEntries !== 0) return fail('a FAT32 layout with a fixed root directory');
  if (!fat32Layout && rootEntries === 0) return fail('a FAT12/16 layout without root directory entries');
  const rootDirSectors = Math.ceil((rootEntries * 32) / bytesPerSector);
  const firstDataSector = reservedSectors + fatCount * fatSectors + rootDirSectors;
  if (firstDataSector >= totalSectors) return fail(`the data area would start at sector ${firstDataSector}, past the ${totalSectors} sectors of the filesystem`);
  const clusterCount = Math.floor((totalSectors - firstDataSector) / sectorsPerCluster);
  if (clusterCount < 1) return fail('no data clusters');
  const type: FatType = clusterCount <= FAT12_MAX_CLUSTERS ? 'FAT12' : clusterCount <= FAT16_MAX_CLUSTERS ? 'FAT16' : 'FAT32';
  if ((type === 'FAT32') !== fat32Layout) {
    return fail(`${clusterCount} clusters make it ${type}, but its fields are laid out for ${fat32Layout ? 'FAT32' : 'FAT12/16'}`);
  }
  if (clusterCount > FAT32_MAX_CLUSTERS) return fail(`${clusterCount} clusters, more than FAT32 can number`);
  const entryBits = type === 'FAT12' ? 12 : type === 'FAT16' ? 16 : 32;
  const fatBytesNeeded = Math.ceil(((clusterCount + 2) * entryBits) / 8);
  if (fatSectors * bytesPerSector < fatBytesNeeded) {
    return fail(`each FAT holds ${fatSectors * bytesPerSector} bytes, too few for ${clusterCount} clusters (${fatBytesNeeded} bytes)`);
  }

  let rootCluster = 0;
  let activeFat: number | null = null;
  if (type === 'FAT32') {
    rootCluster = s.readUInt32LE(44);
    if (rootCluster < 2 || rootCluster > clusterCount + 1) return fail(`the root directory's cluster ${rootCluster} is outside the ${clusterCount} clusters`);
    const extFlags = s.readUInt16LE(40);
    // Bit 7: only the FAT numbered in bits 0-3 is kept up to date.
    if (extFlags & 0x80) {
      activeFat = extFlags & 0x0f;
      if (activeFat >= fatCount) return fail(`the active FAT is number ${activeFat} of ${fatCount}`);
    }
    for (const [what, at] of [['FSInfo', 48], ['backup boot', 50]] as const) {
      const sector = s.readUInt16LE(at);
      if (sector !== 0 && sector !== 0xffff && sector >= reservedSectors) return fail(`the ${what} sector ${sector} lies outside the ${reservedSectors} reserved sectors`);
    }
  }
  const sigAt = type === 'FAT32' ? 66 : 38;
  const extended = s[sigAt] === 0x29 || s[sigAt] === 0x28;
  const fatOffset = reservedSectors * bytesPerSector;
  const rootDirOffset = fatOffset + fatCount * fatSectors * bytesPerSector;
  return {
    ok: true,
    geometry: {
      type,
      bytesPerSector,
      sectorsPerCluster,
      clusterSize: bytesPerSector * sectorsPerCluster,
      reservedSectors,
      fatCount,
      fatSectors,
      rootEntries,
      rootDirSectors,
      totalSectors,
      clusterCount,
      rootCluster,
      activeFat,
      fatOffset,
      rootDirOffset,
      dataOffset: firstDataSector * bytesPerSector,
      size,
      bootLabel: s[sigAt] === 0x29 ? label(s, sigAt + 5) : null,
      serial: extended ? s.readUInt32LE(sigAt + 1) : null,
    },
  };
}
