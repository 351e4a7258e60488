import type { AllocationMap, ByteRange } from '../filesystem-driver';
import { VolumeRangeError, type Volume } from '../volume';
import type { AttributeStream } from './attribute-stream';
import { AT_DATA } from './mft-record';
import { FILE_BITMAP, NtfsReader } from './ntfs-reader';
import { NtfsFormatError } from './runlist';
import { hibernationProblem, logFileProblem, readVolumeInfo } from './volume-state';

/**
 * The NTFS used-cluster map: $Bitmap (MFT record 6) has one bit per
 * cluster, least significant bit first. The boot sector is cluster 0 (always
 * marked); the backup boot sector lies past the last cluster and is added
 * here.
 */

/** $Bitmap is read in pieces of this size: a 16 TiB volume of 4 KiB clusters has a 512 MiB bitmap. */
const BITMAP_CHUNK = 1024 * 1024;

const whole = (reason: string): AllocationMap => ({ kind: 'whole', filesystem: 'ntfs', reason });

/** Appends [start, start+length) to sorted `ranges`, merging with the last range when they touch. */
function pushRange(ranges: ByteRange[], start: number, length: number): void {
  const last = ranges.at(-1);
  if (last !== undefined && last.start + last.length >= start) {
    last.length = Math.max(last.length, start + length - last.start);
  } else {
    ranges.push({ start, length });
  }
}

/** Cluster ranges [first, end) of the set bits of `bits` (bit i = cluster base+i), for clusters below `limit`. */
function setBitRuns(bits: Buffer, base: number, limit: number, out: Array<[number, number]>): void {
  let runStart = -1;
  const last = out.at(-1);
  // A run may continue from the previous chunk.
  if (last !== undefined && last[1] === base) {
    runStart = last[0];
    out.pop();
  }
  const n = Math.min(bits.length * 8, limit - base);
  for (let i = 0; i < n; ) {
    const byte = bits[i >> 3] as number;
    if ((i & 7) === 0 && (byte === 0 || byte === 0xff) && i + 8 <= n) {
      if (byte === 0xff && runStart < 0) runStart = base + i;
      if (byte === 0 && runStart >= 0) {
        out.push([runStart, base + i]);
        runStart = -1;
      }
      i += 8;
      continue;
    }
    const set = (byte >> (i & 7)) & 1;
    if (set && runStart < 0) runStart = base + i;
    if (!set && runStart >= 0) {
      out.push([runStart, base + i]);
      runStart = -1;
    }
    i++;
  }
  if (runStart >= 0) out.push([runStart, base + n]);
}

/** True when every cluster of `runs` is inside one of the sorted cluster runs `used`. */
function covered(used: Array<[number, number]>, lcn: number, length: number): boolean {
  let lo = 0;
  let hi = used.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const [s, e] = used[mid] as [number, number];
    if (lcn < s) hi = mid - 1;
    else if (lcn >= e) lo = mid + 1;
    else return lcn + length <= e;
  }
  return false;
}

function streamCovered(used: Array<[number, number]>, s: AttributeStream): boolean {
  return s.runs.every((r) => r.lcn === null || covered(used, r.lcn, r.length));
}

/** The used-cluster map of an NTFS volume, or `whole` with the reason. Throws only when the source cannot be read. */
export async function ntfsAllocation(volume: Volume): Promise<AllocationMap> {
  try {
    return await allocationOf(volume);
  } catch (err) {
    if (err instanceof NtfsFormatError) return whole(`NTFS metadata does not check out: ${err.message}`);
    if (err instanceof VolumeRangeError) return whole(`NTFS metadata points outside the volume: ${err.message}`);
    throw err;
  }
}

async function allocationOf(volume: Volume): Promise<AllocationMap> {
  const reader = await NtfsReader.open(volume);
  const geo = reader.geo;
  const info = await readVolumeInfo(reader);
  if (info.dirty) return whole('NTFS volume is marked dirty (not cleanly unmounted)');
  const log = await logFileProblem(reader);
  if (log !== null) return whole(log);
  const hiber = await hibernationProblem(reader);
  if (hiber !== null) return whole(hiber);

  const bitmap = await reader.attributeStream(await reader.readRecord(FILE_BITMAP), AT_DATA);
  if (bitmap === null) throw new NtfsFormatError('$Bitmap has no data');
  const bitmapBytes = Math.ceil(geo.totalClusters / 8);
  if (bitmap.size < bitmapBytes) throw new NtfsFormatError(`$Bitmap holds ${bitmap.size} bytes, fewer than the ${bitmapBytes} its ${geo.totalClusters} clusters need`);
  const used: Array<[number, number]> = [];
  for (let off = 0; off < bitmapBytes; off += BITMAP_CHUNK) {
    const bits = await reader.read(bitmap, off, Math.min(BITMAP_CHUNK, bitmapBytes - off));
    setBitRuns(bits, off * 8, geo.totalClusters, used);
  }
  // The bitmap must at least mark NTFS's own structures; if it does not, it cannot be trusted for anything else.
  if (!covered(used, 0, 1) || !streamCovered(used, reader.mftStream) || !streamCovered(used, bitmap)) {
    return whole('NTFS $Bitmap does not mark the boot sector, $MFT or itself as used: the bitmap is damaged');
  }

  const ranges: ByteRange[] = [];
  for (const [s, e] of used) pushRange(ranges, s * geo.clusterSize, (e - s) * geo.clusterSize);
  // Backup boot sector: just after the sectors the filesystem claims, which
  // on a partition made for it is the partition's last sector; also the
  // partition's last sector when the filesystem is smaller (after a shrink).
  const sector = geo.bytesPerSector;
  const backups = new Set([geo.totalSectors * sector, Math.floor(volume.size / sector) * sector - sector]);
  for (const at of [...backups].sort((a, b) => a - b)) {
    if (at + sector <= volume.size) pushRange(ranges, at, sector);
  }
  ranges.sort((a, b) => a.start - b.start);
  const merged: ByteRange[] = [];
  for (const r of ranges) pushRange(merged, r.start, r.length);
  const usedBytes = merged.reduce((n, r) => n + r.length, 0);
  return { kind: 'used-blocks', filesystem: 'ntfs', blockSize: geo.clusterSize, usedBytes, ranges: merged };
}
