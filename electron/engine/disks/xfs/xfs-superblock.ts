import { crc32c } from '@node-rs/crc32';

/**
 * The XFS superblock (big-endian, at byte 0 of the volume) and the CRC-32C
 * that version 5 metadata carries. Layout: torvalds/linux
 * fs/xfs/libxfs/xfs_format.h (struct xfs_dsb, xfs_agf, xfs_btree_block).
 * The CRC is the standard CRC-32C of the structure with its own field
 * zeroed, stored little-endian.
 */

/** Why an XFS volume's metadata cannot be trusted for a used-block map: the reason the user reads. */
export class XfsProblem extends Error {}

const MAGIC = 0x58465342; // "XFSB"
const VERSION_MASK = 0x000f;
const VERSION_5 = 5;
const SB_CRC_OFFSET = 224;

export interface XfsSuper {
  blockSize: number;
  sectorSize: number;
  dataBlocks: number;
  realtimeBlocks: number;
  agBlocks: number;
  agCount: number;
  /** The internal log's first filesystem block (0: the log is on another device), and its length in blocks. */
  logStart: number;
  logBlocks: number;
  /** Bits of the AG block number in a filesystem block number (sb_agblklog). */
  agBlockLog: number;
  /** Version 5: every metadata block checksummed. */
  crc: boolean;
  label: string;
  rootIno: number;
  inodeSize: number;
  /** log2 of inodes per block, and of directory blocks in filesystem blocks. */
  inodesPerBlockLog: number;
  dirBlockLog: number;
  /** Directory entries carry the file type (a byte more each). */
  hasFtype: boolean;
}

export function hasXfsMagic(head: Uint8Array): boolean {
  return head.length >= 4 && Buffer.from(head.buffer, head.byteOffset, 4).readUInt32BE(0) === MAGIC;
}

/** Whether the `length` bytes of `buf` carry their CRC-32C at `at` (little-endian, computed with the field zeroed). */
export function crcMatches(buf: Buffer, at: number): boolean {
  const copy = Buffer.from(buf);
  copy.writeUInt32LE(0, at);
  return buf.readUInt32LE(at) === crc32c(copy) >>> 0;
}

function u64(buf: Buffer, at: number, what: string): number {
  const v = buf.readBigUInt64BE(at);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new XfsProblem(`its ${what} (${v}) is out of range`);
  return Number(v);
}

/** The superblock in `buf` (at least its first sector), checked; throws XfsProblem saying what is wrong. */
export function parseSuper(buf: Buffer): XfsSuper {
  if (buf.length < 512 || buf.readUInt32BE(0) !== MAGIC) throw new XfsProblem('no XFS superblock');
  const blockSize = buf.readUInt32BE(4);
  const sectorSize = buf.readUInt16BE(102);
  const pow2 = (n: number): boolean => n > 0 && (n & (n - 1)) === 0;
  if (!pow2(blockSize) || blockSize < 512 || blockSize > 65536) throw new XfsProblem(`its block size ${blockSize} is not possible`);
  if (!pow2(sectorSize) || sectorSize < 512 || sectorSize > blockSize || sectorSize > buf.length) throw new XfsProblem(`its sector size ${sectorSize} is not possible`);
  const crc = (buf.readUInt16BE(100) & VERSION_MASK) === VERSION_5;
  if (crc && !crcMatches(buf.subarray(0, sectorSize), SB_CRC_OFFSET)) throw new XfsProblem('its superblock checksum does not match');
  if (buf.readUInt8(126) !== 0) throw new XfsProblem('mkfs.xfs did not finish making it');
  const agBlocks = buf.readUInt32BE(84);
  const agCount = buf.readUInt32BE(88);
  const dataBlocks = u64(buf, 8, 'size');
  if (agBlocks === 0 || agCount === 0 || dataBlocks > agBlocks * agCount || dataBlocks <= agBlocks * (agCount - 1)) throw new XfsProblem('its allocation groups do not add up to its size');
  const inodeSize = buf.readUInt16BE(104);
  if (!pow2(inodeSize) || inodeSize < 256 || inodeSize > 2048 || inodeSize * 2 ** buf.readUInt8(123) !== blockSize) throw new XfsProblem(`its inode size ${inodeSize} is not possible`);
  if (buf.readUInt8(192) > 8) throw new XfsProblem('its directory block size is not possible');
  const agBlockLog = buf.readUInt8(124);
  if (agBlockLog > 31 || 2 ** agBlockLog < agBlocks) throw new XfsProblem(`its AG block bits (${agBlockLog}) cannot number its ${agBlocks} blocks per group`);
  const name = buf.subarray(108, 120);
  const nul = name.indexOf(0);
  return {
    blockSize,
    sectorSize,
    dataBlocks,
    realtimeBlocks: u64(buf, 16, 'realtime size'),
    agBlocks,
    agCount,
    logStart: u64(buf, 48, 'log position'),
    logBlocks: buf.readUInt32BE(96),
    agBlockLog,
    crc,
    label: (nul < 0 ? name : name.subarray(0, nul)).toString('latin1'),
    rootIno: u64(buf, 56, 'root inode'),
    inodeSize: buf.readUInt16BE(104),
    inodesPerBlockLog: buf.readUInt8(123),
    dirBlockLog: buf.readUInt8(192),
    // v5: the incompat FTYPE feature; v4: features2's FTYPE bit.
    hasFtype: crc ? (buf.readUInt32BE(216) & 1) !== 0 : (buf.readUInt32BE(200) & 0x200) !== 0,
  };
}

/**
 * A filesystem block number as XFS writes it in the superblock: the AG
 * number in the high bits (agblklog wide), the block in the AG below.
 */
export function fsbToByte(sb: XfsSuper, fsb: number): number {
  const ag = Math.floor(fsb / 2 ** sb.agBlockLog);
  const block = fsb % 2 ** sb.agBlockLog;
  if (ag >= sb.agCount || block >= sb.agBlocks) throw new XfsProblem(`block ${fsb} lies in no allocation group`);
  return (ag * sb.agBlocks + block) * sb.blockSize;
}
