import type { Volume } from '../volume';
import { ExtCorruptError, INODE_FLAGS, type Inode } from './ext-inode';
import type { ExtSuperblock } from './ext-superblock';
import type { MetadataCache } from './metadata-cache';

/**
 * Where a file's bytes are: its extent tree (ext4) or its block map with
 * indirect blocks (ext2/3), both turned into one sorted list of extents,
 * and reads through that list with holes as zeros. Layouts:
 * Documentation/filesystems/ext4/ifork.rst.
 */

export interface Extent {
  /** First logical block of the file. */
  logical: number;
  /** First block on the volume. */
  physical: number;
  length: number;
  /** Allocated but never written (an "unwritten" extent): reads as zeros. */
  unwritten: boolean;
}

const EXTENT_MAGIC = 0xf30a;
/** The kernel's own limit (EXT4_MAX_EXTENT_DEPTH is 5). */
const MAX_DEPTH = 5;
/** Tree nodes read for one file at most: a 16 TiB file of 4 KiB extents needs fewer than 2^24 leaves... */
const MAX_NODES = 1 << 20;
/** ...and extents kept (16 bytes each in the kernel; tens of MiB here at most). */
const MAX_EXTENTS = 1 << 22;

function fileBlocks(sb: ExtSuperblock, inode: Inode): number {
  return Math.ceil(inode.size / sb.blockSize);
}

function checkPhysical(sb: ExtSuperblock, inode: Inode, start: number, length: number): void {
  if (start < sb.firstDataBlock || start + length > sb.blocksCount) {
    throw new ExtCorruptError(`inode ${inode.ino}: blocks ${start}+${length} lie outside the filesystem (${sb.blocksCount} blocks)`);
  }
}

async function extentTree(cache: MetadataCache, sb: ExtSuperblock, inode: Inode): Promise<Extent[]> {
  const out: Extent[] = [];
  const limit = fileBlocks(sb, inode);
  let nodes = 0;
  const walk = async (node: Buffer, expectDepth: number | null, capacity: number): Promise<void> => {
    if (++nodes > MAX_NODES) throw new ExtCorruptError(`inode ${inode.ino}: extent tree has more than ${MAX_NODES} nodes`);
    if (node.readUInt16LE(0) !== EXTENT_MAGIC) throw new ExtCorruptError(`inode ${inode.ino}: extent tree node without its magic`);
    const entries = node.readUInt16LE(2);
    const max = node.readUInt16LE(4);
    const depth = node.readUInt16LE(6);
    if (max > capacity || entries > max) throw new ExtCorruptError(`inode ${inode.ino}: extent node holds ${entries} of ${max} entries (room for ${capacity})`);
    if (depth > MAX_DEPTH || (expectDepth !== null && depth !== expectDepth)) throw new ExtCorruptError(`inode ${inode.ino}: extent tree depth ${depth}`);
    for (let i = 0; i < entries; i++) {
      const e = node.subarray(12 + i * 12, 24 + i * 12);
      const logical = e.readUInt32LE(0);
      // Entries past the end of the file (preallocated with KEEP_SIZE) hold nothing to read.
      if (logical >= limit) break;
      if (depth === 0) {
        const raw = e.readUInt16LE(4);
        const unwritten = raw > 32768;
        const length = unwritten ? raw - 32768 : raw;
        const physical = e.readUInt16LE(6) * 2 ** 32 + e.readUInt32LE(8);
        if (length === 0) continue;
        checkPhysical(sb, inode, physical, length);
        if (out.length >= MAX_EXTENTS) throw new ExtCorruptError(`inode ${inode.ino}: more than ${MAX_EXTENTS} extents`);
        out.push({ logical, physical, length, unwritten });
      } else {
        const child = e.readUInt16LE(8) * 2 ** 32 + e.readUInt32LE(4);
        checkPhysical(sb, inode, child, 1);
        await walk(await cache.read(child * sb.blockSize, sb.blockSize), depth - 1, (sb.blockSize - 12) / 12);
      }
    }
  };
  await walk(inode.iBlock, null, 4);
  out.sort((a, b) => a.logical - b.logical);
  for (let i = 1; i < out.length; i++) {
    if (out[i]!.logical < out[i - 1]!.logical + out[i - 1]!.length) throw new ExtCorruptError(`inode ${inode.ino}: extents overlap at block ${out[i]!.logical}`);
  }
  return out;
}

async function blockMap(cache: MetadataCache, sb: ExtSuperblock, inode: Inode): Promise<Extent[]> {
  const out: Extent[] = [];
  const limit = fileBlocks(sb, inode);
  const perBlock = sb.blockSize / 4;
  const add = (logical: number, physical: number) => {
    checkPhysical(sb, inode, physical, 1);
    const last = out[out.length - 1];
    if (last && last.logical + last.length === logical && last.physical + last.length === physical) last.length++;
    else out.push({ logical, physical, length: 1, unwritten: false });
  };
  // `level` 0 is a data block; each level above maps perBlock^level blocks.
  const walk = async (ptr: number, level: number, logical: number): Promise<void> => {
    if (ptr === 0 || logical >= limit) return;
    if (level === 0) return add(logical, ptr);
    checkPhysical(sb, inode, ptr, 1);
    const block = await cache.read(ptr * sb.blockSize, sb.blockSize);
    const span = perBlock ** (level - 1);
    for (let i = 0; i < perBlock && logical + i * span < limit; i++) await walk(block.readUInt32LE(i * 4), level - 1, logical + i * span);
  };
  for (let i = 0; i < 12; i++) await walk(inode.iBlock.readUInt32LE(i * 4), 0, i);
  let logical = 12;
  for (let level = 1; level <= 3; level++) {
    await walk(inode.iBlock.readUInt32LE((11 + level) * 4), level, logical);
    logical += perBlock ** level;
  }
  return out;
}

/** The file's extents, sorted by logical block; only those inside its size. */
export function fileExtents(cache: MetadataCache, sb: ExtSuperblock, inode: Inode): Promise<Extent[]> {
  return inode.flags & INODE_FLAGS.EXTENTS ? extentTree(cache, sb, inode) : blockMap(cache, sb, inode);
}

/** Whether logical block `logical` holds written data (not a hole, not unwritten). */
export function isMapped(extents: Extent[], logical: number): boolean {
  let lo = 0;
  let hi = extents.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const e = extents[mid]!;
    if (e.logical + e.length <= logical) lo = mid + 1;
    else hi = mid;
  }
  const e = extents[lo];
  return e !== undefined && e.logical <= logical && !e.unwritten;
}

/** Inline data (the inline_data feature): the first 60 bytes in i_block, the rest in `system.data`. */
export function inlineContent(inode: Inode): Buffer {
  const all = inode.inlineTail ? Buffer.concat([inode.iBlock, inode.inlineTail]) : inode.iBlock;
  if (inode.size > all.length) throw new ExtCorruptError(`inode ${inode.ino}: ${inode.size} bytes of inline data, but the inode holds ${all.length}`);
  return all.subarray(0, inode.size);
}

/** Bytes [offset, offset+length) of the file, clipped to its size; holes and unwritten extents read as zeros. */
export async function readExtents(volume: Volume, sb: ExtSuperblock, extents: Extent[], size: number, offset: number, length: number): Promise<Buffer> {
  const end = Math.min(size, offset + length);
  if (offset >= end) return Buffer.alloc(0);
  const bs = sb.blockSize;
  // First extent that ends after `offset`.
  let lo = 0;
  let hi = extents.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const e = extents[mid]!;
    if ((e.logical + e.length) * bs <= offset) lo = mid + 1;
    else hi = mid;
  }
  const first = extents[lo];
  if (first && !first.unwritten && first.logical * bs <= offset && (first.logical + first.length) * bs >= end) {
    // One extent holds the whole range (the usual case): no zero-filled copy.
    return volume.read(first.physical * bs + (offset - first.logical * bs), end - offset);
  }
  const out = Buffer.alloc(end - offset);
  for (let i = lo; i < extents.length; i++) {
    const e = extents[i]!;
    const eStart = e.logical * bs;
    if (eStart >= end) break;
    if (e.unwritten) continue;
    const from = Math.max(offset, eStart);
    const to = Math.min(end, (e.logical + e.length) * bs);
    const data = await volume.read(e.physical * bs + (from - eStart), to - from);
    data.copy(out, from - offset);
  }
  return out;
}
