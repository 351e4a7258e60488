import type { Volume } from '../volume';
import { FatTable, type ClusterRun } from '../fat/fat-table';
import { BOOT_REGION_SECTORS, parseExfatBootRegion, type ExfatGeometry } from './exfat-boot-sector';
import { parseExfatDirectory, type ExfatDirectory, type ExfatStream } from './exfat-entries';

/**
 * An opened exFAT volume: its checked geometry, its active FAT, and reads of
 * streams (files, directories, the bitmap) cluster run by cluster run, each
 * bounded by the cluster heap.
 */

/** The spec's limit for one directory: 2^23 entries of 32 bytes. */
export const MAX_DIRECTORY_BYTES = 256 << 20;

export class ExfatVolume {
  readonly fat: FatTable;

  constructor(
    readonly volume: Volume,
    readonly g: ExfatGeometry,
  ) {
    this.fat = new FatTable(volume, g.fatByteOffset, 32, g.clusterCount);
  }

  static async open(volume: Volume): Promise<{ ok: true; fs: ExfatVolume } | { ok: false; reason: string }> {
    if (volume.size < BOOT_REGION_SECTORS * 512) return { ok: false, reason: 'exFAT boot sector: the volume is smaller than the boot region' };
    const region = await volume.read(0, Math.min(volume.size, BOOT_REGION_SECTORS * 4096));
    const parsed = parseExfatBootRegion(region, volume.size);
    return parsed.ok ? { ok: true, fs: new ExfatVolume(volume, parsed.geometry) } : parsed;
  }

  clusterOffset(cluster: number): number {
    return this.g.heapOffset + (cluster - 2) * this.g.clusterSize;
  }

  /**
   * The cluster runs holding `length` bytes of a stream. A contiguous stream
   * must fit in the heap; a chained one is followed for as many clusters as
   * the length needs (or, for a directory of unknown length, the volume has).
   */
  async runs(stream: ExfatStream, length: number | null): Promise<{ runs: ClusterRun[]; error: string | null }> {
    const { clusterCount, clusterSize } = this.g;
    const needed = length === null ? null : Math.ceil(length / clusterSize);
    if (needed === 0) return { runs: [], error: null };
    const first = stream.firstCluster;
    if (first < 2 || first > clusterCount + 1) return { runs: [], error: `its first cluster ${first} is outside the cluster heap` };
    if (stream.contiguous) {
      if (needed === null) return { runs: [], error: 'a contiguous stream without a length' };
      if (first + needed - 1 > clusterCount + 1) return { runs: [], error: `its ${needed} clusters from ${first} run past the cluster heap` };
      return { runs: [{ first, count: needed }], error: null };
    }
    const chain = await this.fat.chain(first, needed ?? clusterCount);
    if (chain.error) return { runs: chain.runs, error: chain.error };
    if (needed !== null && chain.clusters < needed) return { runs: chain.runs, error: `its cluster chain ends after ${chain.clusters} of ${needed} clusters` };
    return { runs: chain.runs, error: null };
  }

  /** All the bytes of `runs`, in order (the caller bounds their total). */
  async readRuns(runs: ClusterRun[]): Promise<Buffer> {
    const parts: Buffer[] = [];
    for (const r of runs) parts.push(await this.volume.read(this.clusterOffset(r.first), r.count * this.g.clusterSize));
    return Buffer.concat(parts);
  }

  /** A directory's entries; `stream` null means the root (a FAT chain from the boot sector's root cluster). */
  async directory(stream: ExfatStream | null): Promise<ExfatDirectory & { error: string | null }> {
    const empty = { files: [], bitmaps: [], upcase: [], label: null, problems: [] };
    let runs: ClusterRun[];
    let error: string | null;
    if (stream === null) {
      const bound = Math.max(1, Math.floor(MAX_DIRECTORY_BYTES / this.g.clusterSize));
      const chain = await this.fat.chain(this.g.rootCluster, bound);
      runs = chain.runs;
      error = chain.error ?? (chain.ended ? null : 'the root directory\'s cluster chain is longer than any directory can be');
    } else {
      if (stream.dataLength > MAX_DIRECTORY_BYTES) return { ...empty, error: `a directory of ${stream.dataLength} bytes (at most ${MAX_DIRECTORY_BYTES})` };
      ({ runs, error } = await this.runs(stream, stream.dataLength));
    }
    const dir = parseExfatDirectory(await this.readRuns(runs), stream === null);
    return { ...dir, error };
  }
}
