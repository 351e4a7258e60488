import { treeRoot } from './btrfs-load';
import { BtrfsProblem, csumName, sumMatches, type BtrfsSuper } from './btrfs-superblock';
import type { TreeReader } from './btrfs-tree';

/**
 * btrfs keeps a checksum of every data sector it writes (unless the file
 * is nodatasum: `chattr +C`, or mounted nodatasum) in its checksum tree, and
 * the kernel refuses to read a sector that does not match (EIO). A file
 * taken out by Imprint is checked the same way, so damage on the drive (or
 * in the image) is reported for that file instead of being copied out as
 * if it were the file. Layout: btrfs_tree.h, EXTENT_CSUM items: key
 * (BTRFS_EXTENT_CSUM_OBJECTID, BTRFS_EXTENT_CSUM_KEY, logical address of the
 * first sector), data: one checksum per sector from there. Compressed
 * extents are summed as they lie on the disk (compressed).
 *
 * Sectors no checksum item covers are not checked: a file written while
 * mounted nodatasum, preallocated ranges, data btrfs wrote before a crash
 * without its sums. The kernel reads those too.
 */

const CSUM_TREE = 7n;
const EXTENT_CSUM_OBJECTID = (1n << 64n) - 10n;
const EXTENT_CSUM_KEY = 128;

/** Checksum sizes by csum_type: crc32c, xxhash64, sha256 (blake2b volumes are not opened, btrfs-superblock.ts). */
const SUM_SIZES: Record<number, number> = { 0: 4, 1: 8, 2: 32 };

/** A sector whose data does not match its checksum: the file's data is damaged. */
export class BtrfsDataDamage extends Error {}

export class BtrfsDataSums {
  private root: Promise<{ at: number; level: number } | null> | null = null;
  private readonly sumSize: number;
  /** Bytes of data one checksum item can cover at most: a leaf's worth of sums. A search for the item holding a sector starts that far before it. */
  private readonly itemReach: number;

  constructor(
    private readonly trees: TreeReader,
    private readonly sb: BtrfsSuper,
  ) {
    const size = SUM_SIZES[sb.csumType];
    if (size === undefined) throw new BtrfsProblem(`its checksums are ${csumName(sb.csumType)}, which Imprint does not check`);
    this.sumSize = size;
    this.itemReach = Math.ceil(sb.nodeSize / size) * sb.sectorSize;
  }

  get sectorSize(): number {
    return this.sb.sectorSize;
  }

  /**
   * Checks `data`, the bytes at logical address `logical`, against the
   * checksums the filesystem holds for them. Both must be whole sectors.
   * Throws BtrfsDataDamage naming the first sector that does not match.
   */
  async check(logical: number, data: Buffer): Promise<void> {
    const sector = this.sb.sectorSize;
    if (logical % sector !== 0 || data.length % sector !== 0) throw new Error(`internal: btrfs data checked at ${logical}+${data.length}, not in whole sectors`);
    if (data.length === 0) return;
    this.root ??= treeRoot(this.trees, this.sb, CSUM_TREE);
    const root = await this.root;
    if (!root) return;
    const end = logical + data.length;
    const lo = { objectid: EXTENT_CSUM_OBJECTID, type: EXTENT_CSUM_KEY, offset: BigInt(Math.max(0, logical - this.itemReach)) };
    const hi = { objectid: EXTENT_CSUM_OBJECTID, type: EXTENT_CSUM_KEY, offset: BigInt(end - 1) };
    for await (const item of this.trees.range(root.at, root.level, lo, hi)) {
      const start = Number(item.key.offset);
      if (!Number.isSafeInteger(start) || start % sector !== 0 || item.data.length % this.sumSize !== 0) throw new BtrfsProblem(`a checksum item at ${item.key.offset} is malformed`);
      const covered = (item.data.length / this.sumSize) * sector;
      for (let at = Math.max(start, logical); at < Math.min(start + covered, end); at += sector) {
        const want = item.data.subarray(((at - start) / sector) * this.sumSize, ((at - start) / sector + 1) * this.sumSize);
        if (sumMatches(this.sb.csumType, data.subarray(at - logical, at - logical + sector), want) !== true) {
          throw new BtrfsDataDamage(`its data at logical byte ${at} does not match the checksum btrfs keeps of it (the data on the drive is damaged; btrfs itself would refuse to read it)`);
        }
      }
    }
  }
}
