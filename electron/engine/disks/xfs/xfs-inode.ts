import type { Volume } from '../volume';
import { XfsProblem, crcMatches, fsbToByte, type XfsSuper } from './xfs-superblock';

/**
 * XFS inodes and their data forks, read-only (fs/xfs/libxfs/xfs_format.h:
 * struct xfs_dinode, xfs_bmbt_rec, xfs_bmdr_block, xfs_btree_block). A data
 * fork is local (the bytes in the inode: short directories, short symlink
 * targets), a list of extents, or the root of a B-tree of extents. Every
 * number is checked against the volume before it is used, and a B-tree is
 * walked with its levels going down one at a time and a bounded number of
 * blocks, so a crafted one ends.
 */

const INODE_MAGIC = 0x494e; // "IN"
const BMAP_MAGIC_V4 = 0x424d4150; // "BMAP"
const BMAP_MAGIC_V5 = 0x424d4133; // "BMA3"
const LONG_HEADER_V4 = 24;
const LONG_HEADER_V5 = 72;
const DINODE_CRC_OFFSET = 100;
const FLAG2_BIGTIME = 0x8n;
const FLAG2_NREXT64 = 0x10n;
/** Seconds from 1901-12-13T20:45:52Z (a bigtime inode's zero) to 1970. */
const BIGTIME_EPOCH_OFFSET = 2 ** 31;
const MAX_BTREE_LEVELS = 9;

export const FORMAT_LOCAL = 1;
export const FORMAT_EXTENTS = 2;
export const FORMAT_BTREE = 3;

export interface XfsInode {
  ino: number;
  mode: number;
  size: number;
  mtimeMs: number;
  format: number;
  /** The data fork's bytes, as stored in the inode. */
  fork: Buffer;
  extentCount: number;
}

/** `length` blocks of the file from file block `offset` lie at filesystem block `start` (unwritten: read as zeros). */
export interface XfsExtent {
  offset: number;
  start: number;
  length: number;
  unwritten: boolean;
}

/** Reads inode `ino`, checked (magic, CRC, its own number, version). */
export async function readInode(volume: Volume, sb: XfsSuper, ino: number): Promise<XfsInode> {
  const geo = sb;
  if (!Number.isSafeInteger(ino) || ino <= 0) throw new XfsProblem(`inode number ${ino} is impossible`);
  const perBlock = 2 ** geo.inodesPerBlockLog;
  const agino = ino % 2 ** (sb.agBlockLog + geo.inodesPerBlockLog);
  const ag = Math.floor(ino / 2 ** (sb.agBlockLog + geo.inodesPerBlockLog));
  const agbno = Math.floor(agino / perBlock);
  if (ag >= sb.agCount || agbno >= sb.agBlocks) throw new XfsProblem(`inode ${ino} lies outside the filesystem`);
  const at = (ag * sb.agBlocks + agbno) * sb.blockSize + (agino % perBlock) * geo.inodeSize;
  const b = await volume.read(at, geo.inodeSize);
  if (b.readUInt16BE(0) !== INODE_MAGIC) throw new XfsProblem(`inode ${ino} is not an inode`);
  const version = b.readUInt8(4);
  const v3 = version === 3;
  if (sb.crc !== v3 || (version !== 3 && version !== 2 && version !== 1)) throw new XfsProblem(`inode ${ino} has version ${version}`);
  if (v3) {
    if (!crcMatches(b, DINODE_CRC_OFFSET)) throw new XfsProblem(`inode ${ino} fails its checksum`);
    if (b.readBigUInt64BE(152) !== BigInt(ino)) throw new XfsProblem(`inode ${ino} says it is another`);
  }
  const flags2 = v3 ? b.readBigUInt64BE(120) : 0n;
  const sec = (off: number): number => {
    if (flags2 & FLAG2_BIGTIME) return Number(b.readBigUInt64BE(off) / 1_000_000n) - BIGTIME_EPOCH_OFFSET * 1000;
    return b.readInt32BE(off) * 1000 + Math.floor(b.readUInt32BE(off + 4) / 1e6);
  };
  const size = b.readBigUInt64BE(56);
  if (size > BigInt(Number.MAX_SAFE_INTEGER)) throw new XfsProblem(`inode ${ino} claims ${size} bytes`);
  const core = v3 ? 176 : 100;
  const forkOff = b.readUInt8(82);
  const forkEnd = forkOff ? core + forkOff * 8 : geo.inodeSize;
  if (forkEnd > geo.inodeSize) throw new XfsProblem(`inode ${ino}'s attribute fork lies outside it`);
  const extentCount = flags2 & FLAG2_NREXT64 ? Number(b.readBigUInt64BE(24)) : b.readUInt32BE(76);
  return { ino, mode: b.readUInt16BE(2), size: Number(size), mtimeMs: sec(40), format: b.readUInt8(5), fork: b.subarray(core, forkEnd), extentCount };
}

function parseExtent(buf: Buffer, at: number): XfsExtent {
  const hi = buf.readBigUInt64BE(at);
  const lo = buf.readBigUInt64BE(at + 8);
  return {
    unwritten: hi >> 63n === 1n,
    offset: Number((hi >> 9n) & ((1n << 54n) - 1n)),
    start: Number(((hi & 0x1ffn) << 43n) | (lo >> 21n)),
    length: Number(lo & 0x1fffffn),
  };
}

/** The extents of an inode's data fork (extents or B-tree format), in file order, checked. */
export async function inodeExtents(volume: Volume, sb: XfsSuper, inode: XfsInode): Promise<XfsExtent[]> {
  const out: XfsExtent[] = [];
  if (inode.format === FORMAT_EXTENTS) {
    if (inode.extentCount * 16 > inode.fork.length) throw new XfsProblem(`inode ${inode.ino} lists more extents than it holds`);
    for (let i = 0; i < inode.extentCount; i++) out.push(parseExtent(inode.fork, i * 16));
  } else if (inode.format === FORMAT_BTREE) {
    const level = inode.fork.readUInt16BE(0);
    const count = inode.fork.readUInt16BE(2);
    const max = Math.floor((inode.fork.length - 4) / 16);
    if (level < 1 || level > MAX_BTREE_LEVELS || count > max) throw new XfsProblem(`inode ${inode.ino}'s extent tree root is malformed`);
    const budget = { left: Math.max(16, Math.floor(volume.size / sb.blockSize)) };
    for (let i = 0; i < count; i++) await walkBmbt(volume, sb, inode.ino, Number(inode.fork.readBigUInt64BE(4 + max * 8 + i * 8)), level - 1, out, budget);
  } else {
    throw new XfsProblem(`inode ${inode.ino}'s data is not in extents (format ${inode.format})`);
  }
  let end = 0;
  for (const e of out) {
    if (e.length === 0 || e.offset < end) throw new XfsProblem(`inode ${inode.ino}'s extents overlap`);
    end = e.offset + e.length;
    fsbToByte(sb, e.start);
    fsbToByte(sb, e.start + e.length - 1);
  }
  return out;
}

async function walkBmbt(volume: Volume, sb: XfsSuper, ino: number, fsb: number, level: number, out: XfsExtent[], budget: { left: number }): Promise<void> {
  if (--budget.left < 0) throw new XfsProblem(`inode ${ino}'s extent tree loops`);
  const at = fsbToByte(sb, fsb);
  const b = await volume.read(at, sb.blockSize);
  const header = sb.crc ? LONG_HEADER_V5 : LONG_HEADER_V4;
  if (b.readUInt32BE(0) !== (sb.crc ? BMAP_MAGIC_V5 : BMAP_MAGIC_V4) || b.readUInt16BE(4) !== level) throw new XfsProblem(`an extent tree block of inode ${ino} is not one`);
  if (sb.crc) {
    if (!crcMatches(b, 64)) throw new XfsProblem(`an extent tree block of inode ${ino} fails its checksum`);
    if (b.readBigUInt64BE(24) !== BigInt(at / 512) || b.readBigUInt64BE(56) !== BigInt(ino)) throw new XfsProblem(`an extent tree block of inode ${ino} belongs elsewhere`);
  }
  const count = b.readUInt16BE(6);
  if (level === 0) {
    if (header + count * 16 > b.length) throw new XfsProblem(`an extent tree leaf of inode ${ino} lists too many extents`);
    for (let i = 0; i < count; i++) out.push(parseExtent(b, header + i * 16));
    return;
  }
  const max = Math.floor((sb.blockSize - header) / 16);
  if (count > max) throw new XfsProblem(`an extent tree node of inode ${ino} lists too many children`);
  for (let i = 0; i < count; i++) await walkBmbt(volume, sb, ino, Number(b.readBigUInt64BE(header + max * 8 + i * 8)), level - 1, out, budget);
}
