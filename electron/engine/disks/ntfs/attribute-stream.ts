import type { Volume } from '../volume';
import { ATTR_COMPRESSION_MASK, ATTR_IS_ENCRYPTED, type Attribute } from './mft-record';
import { lznt1Decompress } from './lznt1';
import { NtfsFormatError, type Run } from './runlist';

/**
 * The value of one attribute, resident or not, as a byte stream: a
 * non-resident attribute's extents (possibly spread over several MFT records
 * through an attribute list) joined into one runlist, read through it with
 * sparse runs and the bytes past the initialized size as zeros.
 */
export interface AttributeStream {
  /** Bytes of the value. */
  size: number;
  /** Resident value, or undefined when the stream lives in clusters. */
  resident?: Buffer;
  runs: Run[];
  initializedSize: number;
  compressed: boolean;
  /** Clusters per compression unit (compressed streams only). */
  unitClusters?: number;
  encrypted: boolean;
}

/** Joins the extents of one attribute (sorted by first VCN) into one stream, checking they follow each other. */
export function streamFromExtents(extents: readonly Attribute[], where: string, clusterSize: number): AttributeStream {
  const first = extents[0];
  if (first === undefined) throw new NtfsFormatError(`${where}: attribute missing`);
  const compressed = (first.flags & ATTR_COMPRESSION_MASK) !== 0;
  const encrypted = (first.flags & ATTR_IS_ENCRYPTED) !== 0;
  if (first.value !== undefined) {
    if (extents.length !== 1) throw new NtfsFormatError(`${where}: a resident attribute is split over records`);
    return { size: first.value.length, resident: first.value, runs: [], initializedSize: first.value.length, compressed, encrypted };
  }
  const runs: Run[] = [];
  let next = 0;
  for (const ext of extents) {
    if (ext.value !== undefined || ext.lowestVcn !== next) throw new NtfsFormatError(`${where}: the attribute's extents do not follow each other`);
    runs.push(...ext.runs);
    const last = ext.runs.at(-1);
    if (last !== undefined) next = last.vcn + last.length;
  }
  if (first.dataSize > first.allocatedSize || first.initializedSize > first.dataSize) {
    throw new NtfsFormatError(`${where}: the attribute's sizes are inconsistent`);
  }
  // The runlist must cover the data (compressed streams are allocated in whole compression units; same rule).
  if (next * clusterSize < first.dataSize) {
    throw new NtfsFormatError(`${where}: the attribute's runlist covers ${next * clusterSize} bytes, less than its size ${first.dataSize}`);
  }
  const stream: AttributeStream = { size: first.dataSize, runs, initializedSize: first.initializedSize, compressed, encrypted };
  if (compressed) {
    // Units of 2^n clusters; Windows uses n = 4 and compresses only with clusters up to 4 KiB.
    if (first.compressionUnit === 0 || first.compressionUnit > 8 || clusterSize << first.compressionUnit > 1024 * 1024) {
      throw new NtfsFormatError(`${where}: invalid compression unit (${first.compressionUnit})`);
    }
    stream.unitClusters = 1 << first.compressionUnit;
  }
  return stream;
}

/** Index of the run holding virtual cluster `vcn`, or -1 (binary search; runs are sorted and contiguous). */
function runIndex(runs: readonly Run[], vcn: number): number {
  let lo = 0;
  let hi = runs.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const r = runs[mid] as Run;
    if (vcn < r.vcn) hi = mid - 1;
    else if (vcn >= r.vcn + r.length) lo = mid + 1;
    else return mid;
  }
  return -1;
}

/**
 * Up to `length` bytes of the stream from `offset` (fewer only at its end).
 * Throws for compressed or encrypted streams, which need decoding this reader
 * does not do.
 */
export async function readStream(volume: Volume, clusterSize: number, s: AttributeStream, offset: number, length: number): Promise<Buffer> {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) throw new RangeError('invalid read range');
  const end = Math.min(s.size, offset + length);
  if (end <= offset) return Buffer.alloc(0);
  if (s.resident !== undefined) return Buffer.from(s.resident.subarray(offset, end));
  if (s.compressed) return readCompressed(volume, clusterSize, s, offset, end);
  if (s.encrypted) throw new NtfsFormatError('encrypted NTFS files cannot be read without the owner\'s Windows key');
  const out = Buffer.alloc(end - offset);
  // Bytes past the initialized size read as zeros (Windows never wrote them).
  const dataEnd = Math.min(end, s.initializedSize);
  let pos = offset;
  let i = runIndex(s.runs, Math.floor(pos / clusterSize));
  while (pos < dataEnd) {
    const run = s.runs[i];
    if (run === undefined) throw new NtfsFormatError(`a runlist does not cover byte ${pos} of its attribute`);
    const runEnd = Math.min(dataEnd, (run.vcn + run.length) * clusterSize);
    if (run.lcn !== null) {
      const chunk = await volume.read(run.lcn * clusterSize + (pos - run.vcn * clusterSize), runEnd - pos);
      chunk.copy(out, pos - offset);
    }
    pos = runEnd;
    i++;
  }
  return out;
}

/**
 * One compression unit expanded. Its clusters are all stored (the unit was
 * not worth compressing), none (a hole: zeros), or some followed by a sparse
 * tail (LZNT1 data in the stored ones).
 */
async function readUnit(volume: Volume, clusterSize: number, s: AttributeStream, unit: number, unitClusters: number): Promise<Buffer> {
  const out = Buffer.alloc(unitClusters * clusterSize);
  const first = unit * unitClusters;
  const pieces: Buffer[] = [];
  let stored = 0;
  let i = runIndex(s.runs, first);
  for (let vcn = first; vcn < first + unitClusters && i >= 0 && i < s.runs.length; i++) {
    const run = s.runs[i] as Run;
    const n = Math.min(run.vcn + run.length, first + unitClusters) - vcn;
    if (run.lcn !== null) {
      if (stored !== vcn - first) throw new NtfsFormatError('a compression unit has a hole before its data');
      pieces.push(await volume.read((run.lcn + (vcn - run.vcn)) * clusterSize, n * clusterSize));
      stored += n;
    }
    vcn += n;
  }
  if (stored === unitClusters) return Buffer.concat(pieces);
  if (stored > 0) lznt1Decompress(Buffer.concat(pieces), out);
  return out;
}

async function readCompressed(volume: Volume, clusterSize: number, s: AttributeStream, offset: number, end: number): Promise<Buffer> {
  const unitClusters = s.unitClusters as number;
  const unitSize = unitClusters * clusterSize;
  const out = Buffer.alloc(end - offset);
  const dataEnd = Math.min(end, s.initializedSize);
  for (let pos = offset; pos < dataEnd; ) {
    const unit = Math.floor(pos / unitSize);
    const data = await readUnit(volume, clusterSize, s, unit, unitClusters);
    const upTo = Math.min(dataEnd, (unit + 1) * unitSize);
    data.copy(out, pos - offset, pos - unit * unitSize, upTo - unit * unitSize);
    pos = upTo;
  }
  return out;
}
