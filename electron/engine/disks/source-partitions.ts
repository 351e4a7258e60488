import type { PartitionTableInfo } from '../../../shared/backup-metadata';
import type { ByteSource } from '../formats/byte-source';
import type { AllocationMap, FilesystemDriver, FilesystemView } from './filesystem-driver';
import { driverForHead } from './filesystem-registry';
import { isoAtStart, mayBeIsoWindow } from './iso9660/iso-hybrid';
import { parsePartitionTable, type ReadAt } from './partition-table';
import { checkVolumeRange, type Volume } from './volume';

/**
 * The partitions of any image, backup or drive, each as a Volume read through
 * the same ByteSource as the table. An image without a partition table is
 * one partition, number 1, covering all of it.
 */

export interface SourcePartition {
  number: number;
  start: number;
  size: number;
  /** The table's name for the type ("Linux filesystem", "W95 FAT32"), or null. */
  typeName: string | null;
  volume: Volume;
}

/** Rounds of "parse, fetch what was missing, parse again" before giving up on a table that keeps asking (a looping EBR chain is bounded by the parser). */
const MAX_TABLE_ROUNDS = 200;
const HEAD = 1 << 20;
/** Bytes given to a driver's detect(). */
const DETECT_BYTES = 72 * 1024;

/** A Volume over `length` bytes at `start` of the source: exactly the bytes asked for, or an error. */
export function volumeOf(source: ByteSource, start: number, size: number): Volume {
  return {
    size,
    async read(offset, length) {
      checkVolumeRange(offset, length, size);
      const buf = await source.read(start + offset, length);
      if (buf.length !== length) throw new Error(`the image ends at byte ${start + offset + buf.length}, inside partition data`);
      return buf;
    },
  };
}

/**
 * The partition table, read through `source`. The parser is synchronous, so
 * it runs over what has been fetched; whatever it missed is fetched and it
 * runs again, until it asks for nothing new.
 */
export async function readSourceTable(source: ByteSource): Promise<PartitionTableInfo | null> {
  const fetched: { start: number; bytes: Buffer }[] = [{ start: 0, bytes: await source.read(0, HEAD) }];
  const known = source.size();
  for (let round = 0; round < MAX_TABLE_ROUNDS; round++) {
    const misses: { offset: number; length: number }[] = [];
    const read: ReadAt = (offset, length) => {
      for (const f of fetched) {
        if (offset >= f.start && offset + length <= f.start + f.bytes.length) return f.bytes.subarray(offset - f.start, offset - f.start + length);
      }
      // Past the end of the content: nothing to fetch.
      if (known !== null && offset >= known) return null;
      misses.push({ offset, length });
      return null;
    };
    const table = parsePartitionTable(read);
    if (misses.length === 0) return table;
    let progress = false;
    for (const m of misses) {
      const bytes = await source.read(m.offset, Math.min(m.length, 16 << 20));
      if (bytes.length > 0) progress = true;
      fetched.push({ start: m.offset, bytes });
    }
    if (!progress) return table;
  }
  return parsePartitionTable(() => null);
}

const EXTENDED = new Set(['Extended', 'W95 Extended (LBA)', 'Linux extended']);

/** Every partition that holds data (extended-partition containers and empty entries left out). */
export async function sourcePartitions(source: ByteSource): Promise<{ table: PartitionTableInfo | null; partitions: SourcePartition[] }> {
  const table = await readSourceTable(source);
  if (!table) {
    const size = await source.fullSize();
    return { table, partitions: [{ number: 1, start: 0, size, typeName: null, volume: volumeOf(source, 0, size) }] };
  }
  const partitions = table.partitions
    .filter((p) => p.size > 0 && !(p.typeName && EXTENDED.has(p.typeName)))
    .map((p) => ({ number: p.number, start: p.start, size: p.size, typeName: p.typeName, volume: volumeOf(source, p.start, p.size) }));
  return { table, partitions: await hybridIsoWindows(source, partitions) };
}

/** A hybrid ISO's partition that starts a few sectors in and holds no filesystem there is read from byte 0 (iso9660/iso-hybrid.ts). */
async function hybridIsoWindows(source: ByteSource, partitions: SourcePartition[]): Promise<SourcePartition[]> {
  if (!partitions.some((p) => mayBeIsoWindow(p.start))) return partitions;
  const isoBytes = await isoAtStart(source);
  if (isoBytes === null) return partitions;
  const out: SourcePartition[] = [];
  for (const p of partitions) {
    const head = mayBeIsoWindow(p.start) ? await p.volume.read(0, Math.min(DETECT_BYTES, p.size)).catch(() => null) : null;
    if (head && !driverForHead(head)) {
      const known = source.size();
      const size = Math.min(Math.max(p.start + p.size, isoBytes), known ?? Number.MAX_SAFE_INTEGER);
      out.push({ ...p, start: 0, size, volume: volumeOf(source, 0, size) });
    } else out.push(p);
  }
  return out;
}

/** What a partition holds, as far as Imprint can read it. */
export interface PartitionContents {
  driver: FilesystemDriver | null;
  view: FilesystemView | null;
  /** Why the partition cannot be listed ("not a filesystem Imprint can read"), or null. */
  problem: string | null;
}

/** Recognises the partition's filesystem and opens it for listing; never throws for what the partition holds. */
export async function openPartition(p: SourcePartition): Promise<PartitionContents> {
  let head: Buffer;
  try {
    head = await p.volume.read(0, Math.min(DETECT_BYTES, p.size));
  } catch (err) {
    return { driver: null, view: null, problem: `cannot be read: ${(err as Error).message}` };
  }
  const driver = driverForHead(head);
  if (!driver) return { driver: null, view: null, problem: 'not a filesystem Imprint can read' };
  if (!driver.open) return { driver, view: null, problem: driver.family === 'swap' ? 'swap holds no files Imprint can list' : `Imprint cannot list the files of ${driver.family} yet` };
  try {
    return { driver, view: await driver.open(p.volume), problem: null };
  } catch (err) {
    return { driver, view: null, problem: `${driver.family}: ${(err as Error).message}` };
  }
}

/** Used bytes from the driver's allocation map, or null when it cannot say. */
export async function usedBytesOf(driver: FilesystemDriver | null, volume: Volume): Promise<number | null> {
  if (driver?.usedBytes) return driver.usedBytes(volume).catch(() => null);
  if (!driver?.allocation) return null;
  try {
    const map: AllocationMap = await driver.allocation(volume);
    return map.kind === 'used-blocks' ? map.usedBytes : null;
  } catch {
    return null;
  }
}
