/**
 * The exFAT main boot region (sectors 0-11), parsed and checked as the
 * exFAT specification (Microsoft, "exFAT file system specification",
 * section 3) asks: the boot sector's fields within their ranges and
 * consistent with one another, and the region's checksum in sector 11.
 * A value that does not check out is returned as a reason, never thrown.
 */

export interface ExfatGeometry {
  bytesPerSector: number;
  clusterSize: number;
  /** Sectors the filesystem spans. */
  volumeLength: number;
  fatOffset: number;
  fatLength: number;
  fatCount: number;
  clusterHeapOffset: number;
  clusterCount: number;
  rootCluster: number;
  serial: number;
  /** VolumeFlags: ActiveFat (bit 0), VolumeDirty (bit 1), MediaFailure (bit 2). */
  activeFat: number;
  dirty: boolean;
  mediaFailure: boolean;
  /** Byte offset of cluster 2 (the cluster heap) and of FAT copy 0. */
  heapOffset: number;
  fatByteOffset: number;
  /** Bytes the filesystem spans. */
  size: number;
}

export type ExfatBootResult = { ok: true; geometry: ExfatGeometry } | { ok: false; reason: string };

/** Sectors of the main boot region; the backup region follows it. */
export const BOOT_REGION_SECTORS = 12;

/** Cheap test on the volume's first bytes. */
export function looksLikeExfatBootSector(s: Uint8Array): boolean {
  return s.length >= 512 && s[0] === 0xeb && s[1] === 0x76 && s[2] === 0x90 && Buffer.from(s.buffer, s.byteOffset + 3, 8).toString('latin1') === 'EXFAT   ' && s[510] === 0x55 && s[511] === 0xaa;
}

/** The boot region checksum over sectors 0-10, without VolumeFlags (106-107) and PercentInUse (112). */
export function bootChecksum(region: Buffer, bytesPerSector: number): number {
  let sum = 0;
  const end = 11 * bytesPerSector;
  for (let i = 0; i < end; i++) {
    if (i === 106 || i === 107 || i === 112) continue;
    sum = (((sum & 1) << 31) | (sum >>> 1)) + (region[i] as number);
    sum >>>= 0;
  }
  return sum;
}

/**
 * Parses the main boot region. `region` holds at least the first 12 sectors
 * (12 x 4096 bytes covers the largest sector size), fewer when the volume is
 * smaller; `volumeSize` is the volume's size in bytes.
 */
export function parseExfatBootRegion(region: Buffer, volumeSize: number): ExfatBootResult {
  const fail = (reason: string): ExfatBootResult => ({ ok: false, reason: `exFAT boot sector: ${reason}` });
  if (!looksLikeExfatBootSector(region)) return fail('no exFAT signature');
  for (let i = 11; i < 64; i++) if (region[i] !== 0) return fail('the area that must be zero is not');
  const sectorShift = region[108] as number;
  const clusterShift = region[109] as number;
  if (sectorShift < 9 || sectorShift > 12) return fail(`bytes per sector 2^${sectorShift}`);
  if (clusterShift > 25 - sectorShift) return fail(`a cluster of 2^${sectorShift + clusterShift} bytes (at most 32 MiB)`);
  const bytesPerSector = 2 ** sectorShift;
  if (region.length < BOOT_REGION_SECTORS * bytesPerSector) return fail('the volume is smaller than the boot region');
  const expected = bootChecksum(region, bytesPerSector);
  for (let at = 11 * bytesPerSector; at < 12 * bytesPerSector; at += 4) {
    if (region.readUInt32LE(at) !== expected) return fail('the boot region checksum does not match');
  }
  const revision = region.readUInt16LE(104);
  if (revision >> 8 !== 1) return fail(`file system revision ${revision >> 8}.${revision & 0xff} (only 1.x is known)`);
  const volumeLength = Number(region.readBigUInt64LE(72));
  const fatOffset = region.readUInt32LE(80);
  const fatLength = region.readUInt32LE(84);
  const clusterHeapOffset = region.readUInt32LE(88);
  const clusterCount = region.readUInt32LE(92);
  const rootCluster = region.readUInt32LE(96);
  const fatCount = region[110] as number;
  const flags = region.readUInt16LE(106);
  const sectorsPerCluster = 2 ** clusterShift;
  if (fatCount !== 1 && fatCount !== 2) return fail(`${fatCount} FATs`);
  if (fatOffset < 2 * BOOT_REGION_SECTORS) return fail(`the FAT starts at sector ${fatOffset}, inside the boot regions`);
  if (fatLength * bytesPerSector < (clusterCount + 2) * 4) return fail(`a FAT of ${fatLength} sectors is too short for ${clusterCount} clusters`);
  if (fatOffset + fatLength * fatCount > clusterHeapOffset) return fail('the FATs overlap the cluster heap');
  if (clusterCount === 0 || clusterCount > 0xfffffff5) return fail(`${clusterCount} clusters`);
  if (clusterHeapOffset + clusterCount * sectorsPerCluster > volumeLength) return fail('the cluster heap runs past the end of the filesystem');
  if (rootCluster < 2 || rootCluster > clusterCount + 1) return fail(`the root directory's cluster ${rootCluster} is outside the cluster heap`);
  if (fatCount === 1 && flags & 1) return fail('the second FAT is marked active on a volume with one FAT');
  const size = volumeLength * bytesPerSector;
  if (!Number.isSafeInteger(size)) return fail(`a volume of ${volumeLength} sectors`);
  if (size > volumeSize) return fail(`the filesystem (${size} bytes) is larger than its volume (${volumeSize} bytes): the partition was cut short or the boot sector is wrong`);
  return {
    ok: true,
    geometry: {
      bytesPerSector,
      clusterSize: bytesPerSector * sectorsPerCluster,
      volumeLength,
      fatOffset,
      fatLength,
      fatCount,
      clusterHeapOffset,
      clusterCount,
      rootCluster,
      serial: region.readUInt32LE(100),
      activeFat: flags & 1,
      dirty: (flags & 2) !== 0,
      mediaFailure: (flags & 4) !== 0,
      heapOffset: clusterHeapOffset * bytesPerSector,
      fatByteOffset: (fatOffset + (flags & 1) * fatLength) * bytesPerSector,
      size,
    },
  };
}
