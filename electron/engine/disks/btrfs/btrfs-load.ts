import type { Volume } from '../volume';
import { BtrfsProblem, SUPER_OFFSET, SUPER_SIZE, parseSuper, type BtrfsSuper } from './btrfs-superblock';
import { CHUNK_ITEM_KEY, ChunkMap, TreeReader } from './btrfs-tree';

const DEV_ITEM_KEY = 216;

/** A btrfs volume's superblock and its logical address space: what both the used-block map and the file view start from. */
export interface LoadedBtrfs {
  sb: BtrfsSuper;
  trees: TreeReader;
}

/**
 * Reads the superblock, refuses what one device cannot describe (several
 * devices, a seed, a filesystem larger than its partition), and maps the
 * logical address space from the system chunk array and the chunk tree.
 * Throws BtrfsProblem with the reason.
 */
export async function loadBtrfs(volume: Volume, keepCache: boolean): Promise<LoadedBtrfs> {
  if (volume.size < SUPER_OFFSET + SUPER_SIZE) throw new BtrfsProblem('the volume is too small for btrfs');
  const sb = parseSuper(await volume.read(SUPER_OFFSET, SUPER_SIZE));
  if (sb.numDevices !== 1n) throw new BtrfsProblem(`the filesystem spans ${sb.numDevices} devices; the others are not part of this drive`);
  if (sb.seeding) throw new BtrfsProblem('it is a seed device');
  if (sb.totalBytes > volume.size || sb.devTotalBytes > volume.size) throw new BtrfsProblem(`it claims ${Math.max(sb.totalBytes, sb.devTotalBytes)} bytes, but the partition holds ${volume.size}`);
  const map = new ChunkMap(sb);
  map.addSystemArray(sb.sysChunkArray);
  const trees = new TreeReader(volume, sb, map, keepCache);
  let devices = 0;
  for await (const item of trees.items(sb.chunkRoot, sb.chunkRootLevel)) {
    if (item.key.type === CHUNK_ITEM_KEY) map.add(item.key.offset, item.data);
    else if (item.key.type === DEV_ITEM_KEY) devices++;
  }
  if (devices !== 1) throw new BtrfsProblem(`its chunk tree lists ${devices} devices`);
  return { sb, trees };
}

const ROOT_ITEM_KEY = 132;
/** btrfs_root_item: bytenr after the 160-byte inode item and two u64s; level after 7 u64s, refs and the drop key. */
const ROOT_ITEM_BYTENR = 176;
const ROOT_ITEM_LEVEL = 238;
const MAX_KEY_OFFSET = (1n << 64n) - 1n;

/** Where the tree `objectid` (the extent tree, a subvolume...) has its root: its newest ROOT_ITEM in the root tree, or null. */
export async function treeRoot(trees: TreeReader, sb: BtrfsSuper, objectid: bigint): Promise<{ at: number; level: number } | null> {
  let found: { at: number; level: number } | null = null;
  for await (const item of trees.range(sb.root, sb.rootLevel, { objectid, type: ROOT_ITEM_KEY, offset: 0n }, { objectid, type: ROOT_ITEM_KEY, offset: MAX_KEY_OFFSET })) {
    if (item.data.length <= ROOT_ITEM_LEVEL) throw new BtrfsProblem(`the root item of tree ${objectid} is truncated`);
    const at = item.data.readBigUInt64LE(ROOT_ITEM_BYTENR);
    if (at > BigInt(Number.MAX_SAFE_INTEGER)) throw new BtrfsProblem(`tree ${objectid} lies at an impossible address`);
    found = { at: Number(at), level: item.data.readUInt8(ROOT_ITEM_LEVEL) };
  }
  return found;
}
