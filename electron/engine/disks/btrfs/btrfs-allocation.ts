import { normalizeRanges, totalLength } from '../byte-ranges';
import type { AllocationMap, ByteRange } from '../filesystem-driver';
import { VolumeRangeError, type Volume } from '../volume';
import { loadBtrfs, treeRoot } from './btrfs-load';
import { BtrfsProblem, SUPER_MIRRORS, SUPER_SIZE, type BtrfsSuper } from './btrfs-superblock';
import type { TreeReader } from './btrfs-tree';

/**
 * The used-block map of a btrfs volume on one device: what its extent tree
 * records as allocated (EXTENT_ITEM: data and old-style tree blocks;
 * METADATA_ITEM: tree blocks with skinny metadata), each mapped through the
 * chunk tree to its place on the device (both copies of a DUP chunk), plus
 * the first MiB (which btrfs never allocates: boot loaders live there, and
 * the primary superblock), the superblock copies, and every tree block this
 * reader walked. btrfs writes copy-on-write, so at its last commit the
 * extent tree describes every block the trees reference; the checks below
 * refuse a volume where that cannot be relied on:
 * - a log tree (superblock log_root): the filesystem was not unmounted
 *   cleanly, and fsynced writes since the last commit are only in the log;
 * - several devices, a RAID profile, a seed device, or a feature that
 *   changes where allocation is recorded (zoned, extent tree v2...);
 * - the extent tree's sum differing from the superblock's bytes_used;
 * - any block that fails its checksum, or metadata that points outside the
 *   partition.
 * Such a volume is copied whole, with the reason. Measured against the
 * kernel's own view in btrfs-allocation.test.ts, and restored drives pass
 * `btrfs check --check-data-csum`.
 */

const EXTENT_TREE_OBJECTID = 2n;
const EXTENT_ITEM_KEY = 168;
const METADATA_ITEM_KEY = 169;
/** btrfs never allocates its first MiB. */
const RESERVED = 1 << 20;

export async function btrfsAllocation(volume: Volume): Promise<AllocationMap> {
  try {
    const { sb, trees } = await loadBtrfs(volume, false);
    if (sb.logRoot !== 0) {
      throw new BtrfsProblem('it was not unmounted cleanly: its log tree holds writes not yet in place. Mount it once (that replays the log) and unmount it for a backup of only its used blocks');
    }
    return await usedBlocks(volume, sb, trees);
  } catch (err) {
    if (err instanceof BtrfsProblem) return { kind: 'whole', filesystem: 'btrfs', reason: `btrfs: ${err.message}` };
    if (err instanceof VolumeRangeError) return { kind: 'whole', filesystem: 'btrfs', reason: `btrfs: its metadata points outside the partition (${err.message})` };
    throw err;
  }
}

async function usedBlocks(volume: Volume, sb: BtrfsSuper, trees: TreeReader): Promise<AllocationMap> {
  const map = trees.map;
  const extentRoot = await treeRoot(trees, sb, EXTENT_TREE_OBJECTID);
  if (!extentRoot) throw new BtrfsProblem('its root tree has no extent tree');
  const ranges: ByteRange[] = [{ start: 0, length: Math.min(RESERVED, volume.size) }];
  for (const at of SUPER_MIRRORS) if (at + SUPER_SIZE <= sb.totalBytes) ranges.push({ start: at, length: SUPER_SIZE });
  let accounted = 0;
  let previousEnd = 0;
  for await (const item of trees.items(extentRoot.at, extentRoot.level)) {
    const { type } = item.key;
    if (type !== EXTENT_ITEM_KEY && type !== METADATA_ITEM_KEY) continue;
    if (item.key.objectid > BigInt(Number.MAX_SAFE_INTEGER) || item.key.offset > BigInt(Number.MAX_SAFE_INTEGER)) throw new BtrfsProblem('an extent lies at an impossible address');
    const start = Number(item.key.objectid);
    const length = type === METADATA_ITEM_KEY ? sb.nodeSize : Number(item.key.offset);
    if (length === 0 || start < previousEnd) throw new BtrfsProblem(`its extent at ${start} overlaps the one before or is empty`);
    previousEnd = start + length;
    accounted += length;
    ranges.push(...map.physical(start, length));
  }
  if (accounted !== sb.bytesUsed) throw new BtrfsProblem(`its extent tree accounts for ${accounted} bytes, but its superblock says ${sb.bytesUsed} are used`);
  for (const at of trees.blocks) ranges.push(...map.physical(at, sb.nodeSize));
  for (const r of ranges) if (r.start + r.length > volume.size) throw new BtrfsProblem(`bytes ${r.start}+${r.length} lie beyond the partition`);
  const merged = normalizeRanges(ranges);
  return { kind: 'used-blocks', filesystem: 'btrfs', blockSize: sb.sectorSize, usedBytes: totalLength(merged), ranges: merged };
}
