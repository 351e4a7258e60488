import type { AllocationMap } from '../filesystem-driver';
import type { Volume } from '../volume';
import { parseFatBootSector, type FatGeometry } from './fat-boot-sector';
import { FatTable, type FatWidth } from './fat-table';
import { RangeBuilder, totalLength } from './byte-ranges';

/**
 * The used-block map of a FAT12/16/32 volume: everything before the data
 * area (boot sector, FSInfo and backup boot sector in the reserved sectors,
 * every FAT copy, the FAT12/16 root directory), every cluster whose FAT
 * entry is in use, and whatever lies past the filesystem's end.
 *
 * Choices, and why:
 * - A cluster counts as used when ANY FAT copy says so. The copies should
 *   agree; when they do not, fsck asks which one to keep, and either answer
 *   then finds its clusters in the backup.
 * - Clusters marked bad are left out: they hold nothing a file can reach,
 *   and reading them from a failing drive is what makes a backup stall on
 *   I/O errors. Their FAT entries (the bad marks) are kept, so a restored
 *   volume still avoids them.
 * - A FAT volume's dirty flag does not change the map: the FAT is the only
 *   record of allocation (there is no separate bitmap that could lag
 *   behind it), and it is what fsck and every OS go by.
 * - Bytes past the filesystem's last sector but inside the partition are
 *   kept: the filesystem does not own them, so it cannot say they are free.
 */

export function fatWidth(g: FatGeometry): FatWidth {
  return g.type === 'FAT12' ? 12 : g.type === 'FAT16' ? 16 : 28;
}

export async function readGeometry(volume: Volume): Promise<{ ok: true; geometry: FatGeometry } | { ok: false; reason: string }> {
  if (volume.size < 512) return { ok: false, reason: 'the volume is smaller than one boot sector' };
  const head = await volume.read(0, Math.min(volume.size, 4096));
  return parseFatBootSector(head, volume.size);
}

export async function fatAllocation(volume: Volume): Promise<AllocationMap> {
  const parsed = await readGeometry(volume);
  if (!parsed.ok) return { kind: 'whole', filesystem: 'fat', reason: parsed.reason };
  const g = parsed.geometry;
  const filesystem = g.type.toLowerCase();
  const used = new Uint8Array(Math.ceil((g.clusterCount + 2) / 8));
  for (let copy = 0; copy < g.fatCount; copy++) {
    const table = new FatTable(volume, g.fatOffset + copy * g.fatSectors * g.bytesPerSector, fatWidth(g), g.clusterCount);
    // Any value but free and bad, even one out of range (damage fsck would repair), keeps the cluster.
    await table.markUsed(used);
  }

  const ranges = new RangeBuilder();
  ranges.add(0, g.dataOffset);
  const last = g.clusterCount + 1;
  for (let c = 2; c <= last; ) {
    if (!((used[c >> 3] as number) & (1 << (c & 7)))) {
      // Free space is mostly long runs: step over whole free bytes of the bitmap.
      c = (c & 7) === 0 && used[c >> 3] === 0 ? c + 8 : c + 1;
      continue;
    }
    const start = c;
    while (c <= last && (used[c >> 3] as number) & (1 << (c & 7))) c++;
    ranges.add(g.dataOffset + (start - 2) * g.clusterSize, (c - start) * g.clusterSize);
  }
  ranges.add(g.size, volume.size - g.size);
  const list = ranges.finish();
  return { kind: 'used-blocks', filesystem, blockSize: g.bytesPerSector, usedBytes: totalLength(list), ranges: list };
}
