import { crc32c } from './checksums';

/**
 * The ext2/3/4 superblock (1024 bytes at byte 1024 of the volume), parsed and
 * checked before anything else is trusted. Offsets and rules: torvalds/linux
 * Documentation/filesystems/ext4/super.rst, and the checks fs/ext4/super.c
 * makes before it mounts (ext4_fill_super).
 */

export const SUPERBLOCK_OFFSET = 1024;
export const SUPERBLOCK_SIZE = 1024;
export const EXT_MAGIC = 0xef53;

export const COMPAT = {
  HAS_JOURNAL: 0x4,
  RESIZE_INODE: 0x10,
  SPARSE_SUPER2: 0x200,
} as const;

export const INCOMPAT = {
  COMPRESSION: 0x1,
  FILETYPE: 0x2,
  RECOVER: 0x4,
  JOURNAL_DEV: 0x8,
  META_BG: 0x10,
  EXTENTS: 0x40,
  BIT64: 0x80,
  MMP: 0x100,
  FLEX_BG: 0x200,
  EA_INODE: 0x400,
  DIRDATA: 0x1000,
  CSUM_SEED: 0x2000,
  LARGEDIR: 0x4000,
  INLINE_DATA: 0x8000,
  ENCRYPT: 0x10000,
  CASEFOLD: 0x20000,
} as const;

export const RO_COMPAT = {
  SPARSE_SUPER: 0x1,
  LARGE_FILE: 0x2,
  BTREE_DIR: 0x4,
  HUGE_FILE: 0x8,
  GDT_CSUM: 0x10,
  DIR_NLINK: 0x20,
  EXTRA_ISIZE: 0x40,
  HAS_SNAPSHOT: 0x80,
  QUOTA: 0x100,
  BIGALLOC: 0x200,
  METADATA_CSUM: 0x400,
  REPLICA: 0x800,
  READONLY: 0x1000,
  PROJECT: 0x2000,
  SHARED_BLOCKS: 0x4000,
  VERITY: 0x8000,
  ORPHAN_PRESENT: 0x10000,
} as const;

/**
 * Incompatible features whose meaning for block allocation and file layout
 * this reader knows. JOURNAL_DEV is known but refused below, RECOVER sends the
 * map through the journal (ext-journal.ts);
 * COMPRESSION (never merged into Linux) and DIRDATA (Lustre) are not read.
 */
const KNOWN_INCOMPAT =
  INCOMPAT.FILETYPE | INCOMPAT.RECOVER | INCOMPAT.JOURNAL_DEV | INCOMPAT.META_BG | INCOMPAT.EXTENTS | INCOMPAT.BIT64 |
  INCOMPAT.MMP | INCOMPAT.FLEX_BG | INCOMPAT.EA_INODE | INCOMPAT.CSUM_SEED | INCOMPAT.LARGEDIR | INCOMPAT.INLINE_DATA |
  INCOMPAT.ENCRYPT | INCOMPAT.CASEFOLD;

/**
 * Read-only-compatible features that do not change what a block bitmap bit
 * means. BIGALLOC (a bit per cluster), HAS_SNAPSHOT (next3 snapshots keep
 * blocks outside the bitmaps), REPLICA and SHARED_BLOCKS are left out on
 * purpose: a filesystem with them is copied whole.
 */
const KNOWN_RO_COMPAT =
  RO_COMPAT.SPARSE_SUPER | RO_COMPAT.LARGE_FILE | RO_COMPAT.BTREE_DIR | RO_COMPAT.HUGE_FILE | RO_COMPAT.GDT_CSUM |
  RO_COMPAT.DIR_NLINK | RO_COMPAT.EXTRA_ISIZE | RO_COMPAT.QUOTA | RO_COMPAT.METADATA_CSUM | RO_COMPAT.READONLY |
  RO_COMPAT.PROJECT | RO_COMPAT.VERITY | RO_COMPAT.ORPHAN_PRESENT;

export interface ExtSuperblock {
  /** 'ext2', 'ext3' or 'ext4', named the way blkid names them. */
  flavour: 'ext2' | 'ext3' | 'ext4';
  blockSize: number;
  blocksCount: number;
  firstDataBlock: number;
  blocksPerGroup: number;
  inodesPerGroup: number;
  inodesCount: number;
  inodeSize: number;
  firstIno: number;
  groupCount: number;
  /** Size of one group descriptor: 32, or s_desc_size with the 64bit feature. */
  descSize: number;
  descPerBlock: number;
  /** Blocks of the group descriptor table (s_gdb_count in the kernel). */
  gdtBlocks: number;
  reservedGdtBlocks: number;
  firstMetaBg: number;
  backupBgs: [number, number];
  compat: number;
  incompat: number;
  roCompat: number;
  state: number;
  uuid: Buffer;
  label: string;
  /** Seed of every metadata_csum checksum (crc32c of the UUID, or s_checksum_seed). */
  csumSeed: number;
  journalInum: number;
  /** The superblock's raw bytes, for fields only some readers need. */
  raw: Buffer;
}

export type SuperblockResult = { ok: true; sb: ExtSuperblock; warnings: string[] } | { ok: false; reason: string };

/**
 * What the superblock is checked for. `allocation` refuses anything that
 * could make a bitmap-only copy lose data; `reading` (listing and reading
 * files) tolerates what a read-only mount tolerates and turns it into
 * warnings: an unreplayed journal, an unclean state, bigalloc, unknown
 * read-only-compatible features.
 */
export type SuperblockPurpose = 'allocation' | 'reading';

export function hasGroupDescCsum(sb: ExtSuperblock): boolean {
  return (sb.roCompat & (RO_COMPAT.GDT_CSUM | RO_COMPAT.METADATA_CSUM)) !== 0;
}

function isPowerOfTwo(n: number): boolean {
  return n > 0 && (n & (n - 1)) === 0;
}

function hex(n: number): string {
  return `0x${n.toString(16)}`;
}

function flavourOf(compat: number, incompat: number, roCompat: number): ExtSuperblock['flavour'] {
  const ext4Incompat = INCOMPAT.EXTENTS | INCOMPAT.BIT64 | INCOMPAT.FLEX_BG | INCOMPAT.META_BG | INCOMPAT.INLINE_DATA |
    INCOMPAT.MMP | INCOMPAT.EA_INODE | INCOMPAT.CSUM_SEED | INCOMPAT.LARGEDIR | INCOMPAT.ENCRYPT | INCOMPAT.CASEFOLD;
  const ext4RoCompat = RO_COMPAT.HUGE_FILE | RO_COMPAT.GDT_CSUM | RO_COMPAT.DIR_NLINK | RO_COMPAT.EXTRA_ISIZE |
    RO_COMPAT.METADATA_CSUM | RO_COMPAT.QUOTA | RO_COMPAT.PROJECT | RO_COMPAT.VERITY;
  if ((incompat & ext4Incompat) !== 0 || (roCompat & ext4RoCompat) !== 0) return 'ext4';
  return compat & COMPAT.HAS_JOURNAL ? 'ext3' : 'ext2';
}

/** True when `head` (the volume's first bytes) holds the ext superblock magic. */
export function hasExtMagic(head: Uint8Array): boolean {
  if (head.length < SUPERBLOCK_OFFSET + SUPERBLOCK_SIZE) return false;
  const sb = Buffer.from(head.buffer, head.byteOffset + SUPERBLOCK_OFFSET, SUPERBLOCK_SIZE);
  // Two magic bytes alone match by chance too easily; a block size and revision that exist make it an ext superblock.
  return sb.readUInt16LE(0x38) === EXT_MAGIC && sb.readUInt32LE(0x18) <= 6 && sb.readUInt32LE(0x4c) <= 1 && sb.readUInt32LE(0x20) !== 0;
}

/**
 * Parses and checks the superblock. Anything that does not check out, or
 * that this reader does not understand, is a `reason` (the caller copies
 * the volume whole and shows it), never an exception.
 */
export function parseSuperblock(raw: Buffer, volumeSize: number, purpose: SuperblockPurpose = 'allocation'): SuperblockResult {
  const fail = (reason: string): SuperblockResult => ({ ok: false, reason });
  const warnings: string[] = [];
  // A condition that stops a used-block map but only deserves a warning when reading files.
  const refuse = (reason: string): boolean => {
    if (purpose === 'allocation') return true;
    warnings.push(reason);
    return false;
  };
  if (raw.length < SUPERBLOCK_SIZE) return fail('the volume is too small to hold an ext superblock');
  if (raw.readUInt16LE(0x38) !== EXT_MAGIC) return fail('no ext2/3/4 superblock magic');
  const logBlock = raw.readUInt32LE(0x18);
  if (logBlock > 6) return fail(`ext superblock: block size 2^${10 + logBlock} is outside 1 KiB..64 KiB`);
  const blockSize = 1024 << logBlock;
  const compat = raw.readUInt32LE(0x5c);
  const revLevel = raw.readUInt32LE(0x4c);
  if (revLevel > 1) return fail(`ext superblock: unknown revision ${revLevel}`);
  // Revision 0 has no feature fields: whatever is there is not a feature.
  const incompat = revLevel === 0 ? 0 : raw.readUInt32LE(0x60);
  const roCompat = revLevel === 0 ? 0 : raw.readUInt32LE(0x64);
  const flavour = flavourOf(revLevel === 0 ? 0 : compat, incompat, roCompat);

  if (incompat & INCOMPAT.JOURNAL_DEV) return fail('this is an external ext journal device, not a filesystem');
  const unknownIncompat = incompat & ~KNOWN_INCOMPAT;
  if (unknownIncompat) return fail(`${flavour} uses incompatible features this reader does not know (${hex(unknownIncompat)})`);
  const bigalloc = (roCompat & RO_COMPAT.BIGALLOC) !== 0;
  if (bigalloc && purpose === 'allocation') return fail(`${flavour} uses bigalloc (a bitmap bit per cluster), which this reader does not map`);
  const unknownRo = roCompat & ~KNOWN_RO_COMPAT & ~RO_COMPAT.BIGALLOC;
  if (unknownRo) {
    const msg = `${flavour} uses read-only features this reader does not know (${hex(unknownRo)})`;
    if (refuse(msg)) return fail(msg);
  }
  if (incompat & INCOMPAT.RECOVER && purpose === 'reading') {
    warnings.push(`${flavour} journal was not replayed (not cleanly unmounted): recent changes may be missing`);
  }
  // For a used-block map an unreplayed journal is read too (ext-journal.ts).
  const state = raw.readUInt16LE(0x3a);
  if (!(state & 1) && !(incompat & INCOMPAT.RECOVER)) {
    const msg = `${flavour} was not cleanly unmounted; its bitmaps may be out of date (run e2fsck)`;
    if (refuse(msg)) return fail(msg);
  }
  if (state & 2) {
    const msg = `${flavour} has recorded errors; its bitmaps and files may be damaged (run e2fsck)`;
    if (refuse(msg)) return fail(msg);
  }

  const metadataCsum = (roCompat & RO_COMPAT.METADATA_CSUM) !== 0;
  if (metadataCsum) {
    if (raw[0x175] !== 1) return fail(`${flavour} superblock: unknown checksum type ${raw[0x175]}`);
    const want = raw.readUInt32LE(0x3fc);
    const got = crc32c(0xffffffff, raw.subarray(0, 0x3fc));
    if (want !== got) return fail(`${flavour} superblock checksum does not match (${hex(want)} stored, ${hex(got)} computed)`);
  }

  const blocksCount = raw.readUInt32LE(0x4) + (incompat & INCOMPAT.BIT64 ? raw.readUInt32LE(0x150) * 2 ** 32 : 0);
  const firstDataBlock = raw.readUInt32LE(0x14);
  const blocksPerGroup = raw.readUInt32LE(0x20);
  const clustersPerGroup = raw.readUInt32LE(0x24);
  const inodesPerGroup = raw.readUInt32LE(0x28);
  const inodesCount = raw.readUInt32LE(0x0);
  if (!Number.isSafeInteger(blocksCount * blockSize) || blocksCount === 0) return fail(`${flavour} superblock: bad block count ${blocksCount}`);
  const fsBytes = blocksCount * blockSize;
  if (fsBytes > volumeSize) return fail(`${flavour} says it is ${fsBytes} bytes but the volume holds only ${volumeSize}`);
  if (firstDataBlock !== (blockSize === 1024 && !bigalloc ? 1 : 0)) return fail(`${flavour} superblock: first data block ${firstDataBlock} is wrong for ${blockSize}-byte blocks`);
  const clusterRatio = bigalloc ? 2 ** Math.max(0, Math.min(30, raw.readUInt32LE(0x1c) - logBlock)) : 1;
  if (blocksPerGroup === 0 || blocksPerGroup > 8 * blockSize * clusterRatio) return fail(`${flavour} superblock: ${blocksPerGroup} blocks per group`);
  if (!bigalloc && clustersPerGroup !== blocksPerGroup) return fail(`${flavour} superblock: clusters per group (${clustersPerGroup}) differ from blocks per group (${blocksPerGroup}) without bigalloc`);
  if (inodesPerGroup === 0 || inodesPerGroup > 8 * blockSize) return fail(`${flavour} superblock: ${inodesPerGroup} inodes per group`);
  const groupCount = Math.ceil((blocksCount - firstDataBlock) / blocksPerGroup);
  if (groupCount * inodesPerGroup !== inodesCount) return fail(`${flavour} superblock: inode count ${inodesCount} is not ${groupCount} groups x ${inodesPerGroup}`);

  const inodeSize = revLevel === 0 ? 128 : raw.readUInt16LE(0x58);
  if (!isPowerOfTwo(inodeSize) || inodeSize < 128 || inodeSize > blockSize) return fail(`${flavour} superblock: inode size ${inodeSize}`);
  const firstIno = revLevel === 0 ? 11 : raw.readUInt32LE(0x54);
  if (firstIno < 11 || firstIno > inodesCount) return fail(`${flavour} superblock: first inode ${firstIno}`);
  let descSize = 32;
  if (incompat & INCOMPAT.BIT64) {
    descSize = raw.readUInt16LE(0xfe);
    if (descSize < 64 || descSize > 1024 || !isPowerOfTwo(descSize)) return fail(`${flavour} superblock: group descriptor size ${descSize}`);
  }
  const descPerBlock = blockSize / descSize;
  const gdtBlocks = Math.ceil(groupCount / descPerBlock);
  const reservedGdtBlocks = compat & COMPAT.RESIZE_INODE ? raw.readUInt16LE(0xce) : 0;
  if (reservedGdtBlocks > blockSize / 4) return fail(`${flavour} superblock: ${reservedGdtBlocks} reserved GDT blocks`);
  const firstMetaBg = incompat & INCOMPAT.META_BG ? raw.readUInt32LE(0x104) : 0;
  if (firstMetaBg > gdtBlocks) return fail(`${flavour} superblock: first meta_bg ${firstMetaBg} beyond ${gdtBlocks} descriptor blocks`);
  const backupBgs: [number, number] = [raw.readUInt32LE(0x24c), raw.readUInt32LE(0x250)];
  if (compat & COMPAT.SPARSE_SUPER2 && (backupBgs[0] >= groupCount || backupBgs[1] >= groupCount)) {
    // 0 means "none"; a group past the end is corrupt.
    if (backupBgs.some((g) => g !== 0 && g >= groupCount)) return fail(`${flavour} superblock: backup groups ${backupBgs.join(',')} beyond ${groupCount} groups`);
  }
  const uuid = Buffer.from(raw.subarray(0x68, 0x78));
  const csumSeed = incompat & INCOMPAT.CSUM_SEED ? raw.readUInt32LE(0x270) : crc32c(0xffffffff, uuid);
  const labelBytes = raw.subarray(0x78, 0x88);
  const nul = labelBytes.indexOf(0);
  const label = labelBytes.subarray(0, nul < 0 ? 16 : nul).toString('utf8');
  return {
    ok: true,
    sb: {
      flavour, blockSize, blocksCount, firstDataBlock, blocksPerGroup, inodesPerGroup, inodesCount, inodeSize, firstIno,
      groupCount, descSize, descPerBlock, gdtBlocks, reservedGdtBlocks, firstMetaBg, backupBgs, compat, incompat, roCompat,
      state, uuid, label, csumSeed, journalInum: raw.readUInt32LE(0xe0), raw,
    },
    warnings,
  };
}
