import type { AllocationMap } from '../filesystem-driver';
import type { Volume } from '../volume';
import { RangeBuilder, totalLength } from '../fat/byte-ranges';
import type { ClusterRun } from '../fat/fat-table';
import { BOOT_REGION_SECTORS } from './exfat-boot-sector';
import { ExfatVolume } from './exfat-volume';

/**
 * The used-block map of an exFAT volume: the main and backup boot regions,
 * every FAT copy, the clusters the allocation bitmap marks in use, and
 * whatever lies past the filesystem's end inside the partition (the
 * filesystem does not own it, so it cannot say it is free).
 *
 * The allocation bitmap, not the FAT, is the record of what is in use: a
 * file written contiguously (NoFatChain) has no FAT chain at all. So:
 * - a volume marked dirty is copied whole: its bitmap may lag behind what
 *   was written before it was pulled out;
 * - the clusters of the bitmap itself, the up-case table and the root
 *   directory must be marked in it; if one is not, the bitmap is not
 *   trusted and the volume is copied whole.
 * The alignment gaps between the boot regions, the FAT and the cluster heap
 * hold nothing the specification defines, and are left out.
 */

const whole = (reason: string): AllocationMap => ({ kind: 'whole', filesystem: 'exfat', reason });

/** Bitmap bytes read at a time. */
const BITMAP_STEP = 4 << 20;

export async function exfatAllocation(volume: Volume): Promise<AllocationMap> {
  const opened = await ExfatVolume.open(volume);
  if (!opened.ok) return whole(opened.reason);
  const fs = opened.fs;
  const g = fs.g;
  if (g.dirty) return whole('the exFAT volume was not cleanly unmounted (marked dirty): its allocation bitmap may be stale');

  const root = await fs.directory(null);
  if (root.error) return whole(`exFAT root directory: ${root.error}`);
  const entry = root.bitmaps.find((b) => b.which === g.activeFat);
  if (!entry) return whole(`exFAT root directory: no allocation bitmap for FAT ${g.activeFat}`);
  const bitmapBytes = Math.ceil(g.clusterCount / 8);
  if (entry.stream.dataLength < bitmapBytes) return whole(`exFAT allocation bitmap: ${entry.stream.dataLength} bytes, too short for ${g.clusterCount} clusters`);
  const bitmapRuns = await fs.runs(entry.stream, bitmapBytes);
  if (bitmapRuns.error) return whole(`exFAT allocation bitmap: ${bitmapRuns.error}`);
  const bitmapRun = bitmapRuns.runs[0] as ClusterRun;
  const bitmapAt = fs.clusterOffset(bitmapRun.first);

  // Which clusters must be marked: the bitmaps', the up-case table's, the root's.
  const required: { what: string; runs: ClusterRun[] }[] = [];
  for (const b of root.bitmaps) {
    const r = await fs.runs(b.stream, b.stream.dataLength);
    if (r.error) return whole(`exFAT allocation bitmap: ${r.error}`);
    required.push({ what: 'the allocation bitmap', runs: r.runs });
  }
  if (root.upcase.length === 0) return whole('exFAT root directory: no up-case table');
  for (const u of root.upcase) {
    const r = await fs.runs(u, u.dataLength);
    if (r.error) return whole(`exFAT up-case table: ${r.error}`);
    required.push({ what: 'the up-case table', runs: r.runs });
  }
  const rootChain = await fs.fat.chain(g.rootCluster, g.clusterCount);
  required.push({ what: 'the root directory', runs: rootChain.runs });

  const ranges = new RangeBuilder();
  ranges.add(0, 2 * BOOT_REGION_SECTORS * g.bytesPerSector);
  ranges.add(g.fatOffset * g.bytesPerSector, g.fatCount * g.fatLength * g.bytesPerSector);
  const marked = (bitmap: Buffer, base: number, c: number) => ((bitmap[(c - base) >> 3] as number) >> ((c - base) & 7)) & 1;
  let runStart = -1;
  for (let byte = 0; byte < bitmapBytes; byte += BITMAP_STEP) {
    const chunk = await volume.read(bitmapAt + byte, Math.min(BITMAP_STEP, bitmapBytes - byte));
    const base = 2 + byte * 8;
    const end = Math.min(g.clusterCount + 2, base + chunk.length * 8);
    for (const req of required) {
      for (const r of req.runs) {
        for (let c = Math.max(r.first, base); c < Math.min(r.first + r.count, end); c++) {
          if (!marked(chunk, base, c)) return whole(`exFAT allocation bitmap: cluster ${c} of ${req.what} is not marked in use, so the bitmap cannot be trusted`);
        }
      }
    }
    for (let c = base; c < end; c++) {
      // Skip whole free bytes quickly: most of a volume's free space is long runs.
      if (runStart < 0 && ((c - base) & 7) === 0 && chunk[(c - base) >> 3] === 0 && c + 8 <= end) {
        c += 7;
        continue;
      }
      const used = marked(chunk, base, c);
      if (used && runStart < 0) runStart = c;
      else if (!used && runStart >= 0) {
        ranges.add(fs.clusterOffset(runStart), (c - runStart) * g.clusterSize);
        runStart = -1;
      }
    }
  }
  if (runStart >= 0) ranges.add(fs.clusterOffset(runStart), (g.clusterCount + 2 - runStart) * g.clusterSize);
  ranges.add(g.size, volume.size - g.size);
  const list = ranges.finish();
  return { kind: 'used-blocks', filesystem: 'exfat', blockSize: g.bytesPerSector, usedBytes: totalLength(list), ranges: list };
}
