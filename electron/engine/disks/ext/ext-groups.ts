import type { Volume } from '../volume';
import { crc16, crc32c, le32 } from './checksums';
import { COMPAT, INCOMPAT, RO_COMPAT, hasGroupDescCsum, type ExtSuperblock } from './ext-superblock';

/**
 * Block groups: where their descriptors are, what each says, and which of a
 * group's own blocks are fixed metadata (superblock backups, descriptor
 * blocks). Rules from Documentation/filesystems/ext4/blockgroup.rst and
 * group_descr.rst, and the kernel's fs/ext4/balloc.c (ext4_bg_has_super,
 * ext4_num_base_meta_blocks) and super.c (descriptor_loc,
 * ext4_check_descriptors, ext4_group_desc_csum).
 */

export const BG_INODE_UNINIT = 0x1;
export const BG_BLOCK_UNINIT = 0x2;

export interface GroupDesc {
  blockBitmap: number;
  inodeBitmap: number;
  inodeTable: number;
  flags: number;
  freeBlocks: number;
  /** bg_block_bitmap_csum (lo, plus hi with 64-byte descriptors). */
  blockBitmapCsum: number;
}

/** First block of group `g`. */
export function groupFirstBlock(sb: ExtSuperblock, g: number): number {
  return sb.firstDataBlock + g * sb.blocksPerGroup;
}

/** Number of blocks in group `g` (the last group may be short). */
export function groupBlocks(sb: ExtSuperblock, g: number): number {
  return Math.min(sb.blocksPerGroup, sb.blocksCount - groupFirstBlock(sb, g));
}

function isPowerOf(n: number, base: number): boolean {
  let x = base;
  while (x < n) x *= base;
  return x === n;
}

/** Whether group `g` holds a superblock (primary or backup): ext4_bg_has_super. */
export function groupHasSuper(sb: ExtSuperblock, g: number): boolean {
  if (g === 0) return true;
  if (sb.compat & COMPAT.SPARSE_SUPER2) return g === sb.backupBgs[0] || g === sb.backupBgs[1];
  if (g <= 1 || !(sb.roCompat & RO_COMPAT.SPARSE_SUPER)) return true;
  if (!(g & 1)) return false;
  return isPowerOf(g, 3) || isPowerOf(g, 5) || isPowerOf(g, 7);
}

/**
 * Blocks at the start of group `g` taken by its superblock copy, descriptor
 * table copy and reserved GDT blocks: ext4_num_base_meta_blocks.
 */
export function groupBaseMetaBlocks(sb: ExtSuperblock, g: number): number {
  const hasSuper = groupHasSuper(sb, g) ? 1 : 0;
  const metaBg = (sb.incompat & INCOMPAT.META_BG) !== 0;
  if (!metaBg || g < sb.firstMetaBg * sb.descPerBlock) {
    if (!hasSuper) return 0;
    // ext4_bg_num_gdb_nometa: with meta_bg only the first s_first_meta_bg blocks are in the old layout.
    const gdb = metaBg ? sb.firstMetaBg : sb.gdtBlocks;
    return hasSuper + gdb + sb.reservedGdtBlocks;
  }
  // ext4_bg_num_gdb_meta: a meta group's descriptor block sits in its first, second and last group.
  const first = Math.floor(g / sb.descPerBlock) * sb.descPerBlock;
  const inMeta = g === first || g === first + 1 || g === first + sb.descPerBlock - 1 ? 1 : 0;
  return hasSuper + inMeta;
}

/** Block number of descriptor block `nr` (descriptor_loc). */
export function descriptorBlock(sb: ExtSuperblock, nr: number): number {
  // The block holding the superblock (byte 1024): 1 with 1 KiB blocks even
  // when bigalloc makes the first data block 0.
  const sbBlock = sb.blockSize === 1024 ? 1 : 0;
  if (!(sb.incompat & INCOMPAT.META_BG) || nr < sb.firstMetaBg) return sbBlock + 1 + nr;
  const g = nr * sb.descPerBlock;
  let skip = groupHasSuper(sb, g) ? 1 : 0;
  if (sb.blockSize === 1024 && nr === 0 && sb.firstDataBlock === 0) skip++;
  return groupFirstBlock(sb, g) + skip;
}

function descChecksumOk(sb: ExtSuperblock, g: number, d: Buffer): boolean {
  const stored = d.readUInt16LE(0x1e);
  if (sb.roCompat & RO_COMPAT.METADATA_CSUM) {
    let c = crc32c(sb.csumSeed, le32(g));
    c = crc32c(c, d.subarray(0, 0x1e));
    c = crc32c(c, Buffer.alloc(2));
    if (d.length > 0x20) c = crc32c(c, d.subarray(0x20));
    return (c & 0xffff) === stored;
  }
  if (sb.roCompat & RO_COMPAT.GDT_CSUM) {
    let c = crc16(0xffff, sb.uuid);
    c = crc16(c, le32(g));
    c = crc16(c, d.subarray(0, 0x1e));
    if (d.length > 0x20) c = crc16(c, d.subarray(0x20));
    return c === stored;
  }
  return true;
}

export type GroupsResult = { ok: true; groups: GroupDesc[]; descriptorBlocks: number[] } | { ok: false; reason: string };

/**
 * Reads every group descriptor and checks it the way the kernel does before
 * mounting: checksums (mismatches go to `checksumWarnings` when given,
 * instead of failing), and bitmaps and inode table inside the filesystem
 * (inside their own group unless flex_bg lets them live anywhere).
 */
export async function readGroupDescriptors(volume: Volume, sb: ExtSuperblock, checksumWarnings?: string[]): Promise<GroupsResult> {
  const fail = (reason: string): GroupsResult => ({ ok: false, reason });
  const groups: GroupDesc[] = [];
  const descriptorBlocks: number[] = [];
  const itableBlocks = Math.ceil((sb.inodesPerGroup * sb.inodeSize) / sb.blockSize);
  const flexBg = (sb.incompat & INCOMPAT.FLEX_BG) !== 0;
  const wide = sb.descSize >= 64;
  for (let nr = 0; nr < sb.gdtBlocks; nr++) {
    const blockNr = descriptorBlock(sb, nr);
    if (blockNr >= sb.blocksCount) return fail(`${sb.flavour}: group descriptor block ${nr} lies past the end`);
    descriptorBlocks.push(blockNr);
    const block = await volume.read(blockNr * sb.blockSize, sb.blockSize);
    for (let i = 0; i < sb.descPerBlock && groups.length < sb.groupCount; i++) {
      const g = groups.length;
      const d = block.subarray(i * sb.descSize, (i + 1) * sb.descSize);
      if (hasGroupDescCsum(sb) && !descChecksumOk(sb, g, d)) {
        const msg = `${sb.flavour}: group ${g}'s descriptor checksum does not match`;
        // A reader may go on (the pointers are still range-checked below); a used-block map may not.
        if (!checksumWarnings) return fail(msg);
        if (checksumWarnings.length < 20) checksumWarnings.push(msg);
      }
      const hi = (off: number) => (wide ? d.readUInt32LE(off) * 2 ** 32 : 0);
      const desc: GroupDesc = {
        blockBitmap: d.readUInt32LE(0x0) + hi(0x20),
        inodeBitmap: d.readUInt32LE(0x4) + hi(0x24),
        inodeTable: d.readUInt32LE(0x8) + hi(0x28),
        freeBlocks: d.readUInt16LE(0xc) + (wide ? d.readUInt16LE(0x2c) * 65536 : 0),
        flags: d.readUInt16LE(0x12),
        blockBitmapCsum: d.readUInt16LE(0x18) + (wide ? d.readUInt16LE(0x38) * 65536 : 0),
      };
      const first = flexBg ? sb.firstDataBlock : groupFirstBlock(sb, g);
      const last = flexBg ? sb.blocksCount - 1 : groupFirstBlock(sb, g) + groupBlocks(sb, g) - 1;
      const where = flexBg ? 'the filesystem' : 'its group';
      if (desc.blockBitmap < first || desc.blockBitmap > last) return fail(`${sb.flavour}: group ${g}'s block bitmap (block ${desc.blockBitmap}) is outside ${where}`);
      if (desc.inodeBitmap < first || desc.inodeBitmap > last) return fail(`${sb.flavour}: group ${g}'s inode bitmap (block ${desc.inodeBitmap}) is outside ${where}`);
      if (desc.inodeTable < first || desc.inodeTable + itableBlocks - 1 > last) return fail(`${sb.flavour}: group ${g}'s inode table (block ${desc.inodeTable}) is outside ${where}`);
      groups.push(desc);
    }
  }
  return { ok: true, groups, descriptorBlocks };
}

/** Blocks of each group's inode table. */
export function inodeTableBlocks(sb: ExtSuperblock): number {
  return Math.ceil((sb.inodesPerGroup * sb.inodeSize) / sb.blockSize);
}
