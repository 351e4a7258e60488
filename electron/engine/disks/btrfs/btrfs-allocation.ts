import { normalizeRanges, totalLength } from '../byte-ranges';
import type { AllocationMap, ByteRange } from '../filesystem-driver';
import { VolumeRangeError, type Volume } from '../volume';
import { BtrfsProblem, SUPER_MIRRORS, SUPER_OFFSET, SUPER_SIZE, parseSuper, type BtrfsSuper } from './btrfs-superblock';
import { CHUNK_ITEM_KEY, ChunkMap, TreeReader } from './btrfs-tree';

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
const ROOT_ITEM_KEY = 132;
const EXTENT_ITEM_KEY = 168;
const METADATA_ITEM_KEY = 169;
const DEV_ITEM_KEY = 216;
/** btrfs_root_item: bytenr after the 160-byte inode item and two u64s; level after 7 u64s, refs and the drop key. */
const ROOT_ITEM_BYTENR = 176;
const ROOT_ITEM_LEVEL = 238;
/** btrfs never allocates its first MiB. */
const RESERVED = 1 << 20;

export async function btrfsAllocation(volume: Volume): Promise<AllocationMap> {
  if (volume.size < SUPER_OFFSET + SUPER_SIZE) return { kind: 'whole', filesystem: null, reason: 'too small for btrfs' };
  try {
    const sb = parseSuper(await volume.read(SUPER_OFFSET, SUPER_SIZE));
    refuseUnsupported(sb, volume.size);
    return await usedBlocks(volume, sb);
  } catch (err) {
    if (err instanceof BtrfsProblem) return { kind: 'whole', filesystem: 'btrfs', reason: `btrfs: ${err.message}` };
    if (err instanceof VolumeRangeError) return { kind: 'whole', filesystem: 'btrfs', reason: `btrfs: its metadata points outside the partition (${err.message})` };
    throw err;
  }
}

function refuseUnsupported(sb: BtrfsSuper, volumeSize: number): void {
  if (sb.numDevices !== 1n) throw new BtrfsProblem(`the filesystem spans ${sb.numDevices} devices; the others are not part of this drive`);
  if (sb.seeding) throw new BtrfsProblem('it is a seed device');
  if (sb.logRoot !== 0) {
    throw new BtrfsProblem('it was not unmounted cleanly: its log tree holds writes not yet in place. Mount it once (that replays the log) and unmount it for a backup of only its used blocks');
  }
  if (sb.totalBytes > volumeSize || sb.devTotalBytes > volumeSize) throw new BtrfsProblem(`it claims ${Math.max(sb.totalBytes, sb.devTotalBytes)} bytes, but the partition holds ${volumeSize}`);
}

async function usedBlocks(volume: Volume, sb: BtrfsSuper): Promise<AllocationMap> {
  const map = new ChunkMap(sb);
  map.addSystemArray(sb.sysChunkArray);
  const trees = new TreeReader(volume, sb, map);
  let devices = 0;
  for await (const item of trees.items(sb.chunkRoot, sb.chunkRootLevel)) {
    if (item.key.type === CHUNK_ITEM_KEY) map.add(item.key.offset, item.data);
    else if (item.key.type === DEV_ITEM_KEY) devices++;
  }
  if (devices !== 1) throw new BtrfsProblem(`its chunk tree lists ${devices} devices`);
  let extentRoot: { at: number; level: number } | null = null;
  for await (const item of trees.items(sb.root, sb.rootLevel)) {
    if (item.key.type !== ROOT_ITEM_KEY || item.key.objectid !== EXTENT_TREE_OBJECTID) continue;
    if (item.data.length <= ROOT_ITEM_LEVEL) throw new BtrfsProblem('its extent tree root item is truncated');
    const at = item.data.readBigUInt64LE(ROOT_ITEM_BYTENR);
    if (at > BigInt(Number.MAX_SAFE_INTEGER)) throw new BtrfsProblem('its extent tree lies at an impossible address');
    extentRoot = { at: Number(at), level: item.data.readUInt8(ROOT_ITEM_LEVEL) };
  }
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
