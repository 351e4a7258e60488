import * as fs from 'fs';
import type { PartitionStorage, StorageSummary } from '../../../shared/backup-metadata';
import type { DriveLayout } from './drive-layout';
import { alignRanges, complementWithin, normalizeRanges, shiftRanges, totalLength } from './byte-ranges';
import type { AllocationMap, ByteRange } from './filesystem-driver';
import { driverForHead } from './filesystem-registry';
import { volumeFromFd } from './volume';

/**
 * What a smart backup stores of a drive: every byte outside the partitions
 * (partition tables, boot code, gaps, EBRs, unpartitioned space), each
 * partition whose filesystem Imprint understands by its used blocks only,
 * and every other partition whole. Nothing is left out silently: each
 * partition stored whole says why.
 */
export interface StoragePlan extends StorageSummary {
  /** Drive byte ranges to read and store, normalized; the rest is stored as zeros. */
  ranges: ByteRange[];
}

const EXTENDED = new Set(['Extended', 'W95 Extended (LBA)', 'Linux extended']);
/** Stored ranges are whole 4 KiB pages: drives are read and written with O_DIRECT, in pages. */
export const STORAGE_ALIGN = 4096;
/** Head of a volume handed to the drivers' magic tests (the probe's window). */
const HEAD_BYTES = 72 * 1024;

interface Region {
  number: number;
  start: number;
  size: number;
  type: string | null;
}

/** The data-holding regions of a layout: its partitions, or the drive itself when a filesystem covers it. */
function regionsOf(layout: DriveLayout, driveSize: number): Region[] {
  if (layout.partitionTable) {
    return layout.partitionTable.partitions
      .filter((p) => p.size > 0 && !EXTENDED.has(p.typeName ?? '') && p.start < driveSize)
      .map((p) => ({ number: p.number, start: p.start, size: Math.min(p.size, driveSize - p.start), type: p.filesystem?.type ?? null }));
  }
  return layout.filesystem ? [{ number: 1, start: 0, size: driveSize, type: layout.filesystem.type }] : [];
}

/** The allocation map of one region, or `whole` with the reason; a read error of the drive is thrown. */
async function allocationOf(fd: number, region: Region): Promise<AllocationMap> {
  const volume = volumeFromFd(fd, region.start, region.size);
  const head = await volume.read(0, Math.min(HEAD_BYTES, region.size));
  const driver = driverForHead(head);
  if (!driver?.allocation) {
    return { kind: 'whole', filesystem: region.type, reason: region.type ? `Imprint cannot read which blocks ${region.type} uses` : 'no filesystem Imprint recognises (unknown, encrypted or empty)' };
  }
  try {
    return await driver.allocation(volume);
  } catch (err) {
    // Metadata that sends a reader outside the volume, or any other surprise in it: copy whole.
    // An error of the drive itself (EIO...) carries a syscall and stops the backup.
    if ((err as { syscall?: unknown }).syscall !== undefined) throw err;
    return { kind: 'whole', filesystem: region.type ?? driver.family, reason: `its ${driver.family} metadata does not check out (${(err as Error).message})` };
  }
}

/**
 * Builds the plan for a drive (or raw image) open read-only at `fd`. With
 * `sectorBySector`, every byte is stored, as before smart backups.
 */
export async function planStorage(fd: number, driveSize: number, layout: DriveLayout, sectorBySector: boolean): Promise<StoragePlan> {
  const whole: ByteRange[] = [{ start: 0, length: driveSize }];
  const regions = regionsOf(layout, driveSize);
  if (sectorBySector) {
    const partitions = regions.map((r) => partitionEntry(r, { kind: 'whole', filesystem: r.type, reason: 'sector-by-sector backup' }, r.size));
    return { mode: 'sector-by-sector', ranges: whole, storedBytes: driveSize, partitions };
  }
  const keep: ByteRange[] = [];
  const regionRanges = normalizeRanges(regions.map((r) => ({ start: r.start, length: r.size })));
  keep.push(...complementWithin(regionRanges, 0, driveSize));
  const partitions: PartitionStorage[] = [];
  for (const region of regions) {
    const map = await allocationOf(fd, region);
    const own = map.kind === 'used-blocks' ? normalizeRanges(clampTo(map.ranges, region.size)) : [{ start: 0, length: region.size }];
    keep.push(...shiftRanges(own, region.start));
    partitions.push(partitionEntry(region, map, totalLength(own)));
  }
  // Widened to whole pages: what is read (O_DIRECT), stored and restored is the same list.
  const ranges = alignRanges(keep, STORAGE_ALIGN, driveSize);
  return { mode: 'used-blocks', ranges, storedBytes: totalLength(ranges), partitions };
}

/** A driver's ranges cut to its volume (a driver's bug must not make the backup read another partition). */
function clampTo(ranges: readonly ByteRange[], size: number): ByteRange[] {
  return ranges.filter((r) => r.start < size).map((r) => ({ start: r.start, length: Math.min(r.length, size - r.start) }));
}

function partitionEntry(region: Region, map: AllocationMap, storedBytes: number): PartitionStorage {
  if (map.kind === 'used-blocks') {
    return { number: region.number, start: region.start, size: region.size, filesystem: map.filesystem, usedBytes: map.usedBytes, stored: 'used-blocks', reason: null, storedBytes };
  }
  return { number: region.number, start: region.start, size: region.size, filesystem: map.filesystem ?? region.type, usedBytes: null, stored: 'whole', reason: map.reason, storedBytes };
}

/** planStorage on a drive or raw image by path (opened read-only, buffered: the reads are small and scattered). */
export async function planDriveStorage(device: string, driveSize: number, layout: DriveLayout, sectorBySector: boolean): Promise<StoragePlan> {
  const fd = fs.openSync(device, fs.constants.O_RDONLY);
  try {
    return await planStorage(fd, driveSize, layout, sectorBySector);
  } finally {
    fs.closeSync(fd);
  }
}

/** What the user is told about partitions a smart backup stores whole. */
export function storageWarnings(plan: StorageSummary): string[] {
  if (plan.mode !== 'used-blocks') return [];
  return plan.partitions.filter((p) => p.stored === 'whole').map((p) => `partition ${p.number}${p.filesystem ? ` (${p.filesystem})` : ''} is stored whole: ${p.reason ?? 'no reason given'}.`);
}
