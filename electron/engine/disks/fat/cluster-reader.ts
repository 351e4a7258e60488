import type { Volume } from '../volume';
import type { ClusterRun } from './fat-table';

/**
 * Reads `length` bytes at `offset` of a stream laid out in cluster runs
 * (FAT and exFAT files alike). `clusterOffset` maps a cluster to its byte
 * offset in the volume. The caller has clamped the range to the runs.
 */
export async function readFromRuns(
  volume: Volume,
  runs: readonly ClusterRun[],
  clusterSize: number,
  clusterOffset: (cluster: number) => number,
  offset: number,
  length: number,
): Promise<Buffer> {
  const parts: Buffer[] = [];
  let runStart = 0; // stream offset of the current run
  let want = length;
  let at = offset;
  for (const r of runs) {
    const runBytes = r.count * clusterSize;
    if (want <= 0) break;
    if (at < runStart + runBytes) {
      const within = at - runStart;
      const n = Math.min(want, runBytes - within);
      parts.push(await volume.read(clusterOffset(r.first) + within, n));
      at += n;
      want -= n;
    }
    runStart += runBytes;
  }
  if (want > 0) throw new Error(`the file's clusters end before byte ${at}`);
  return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
}

/** Checks a read request and clamps it to a file of `size` bytes: [offset, end). */
export function clampRead(offset: number, length: number, size: number): { offset: number; end: number } {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
    throw new RangeError(`cannot read ${length} bytes at ${offset}`);
  }
  return { offset: Math.min(offset, size), end: Math.min(size, offset + length) };
}
