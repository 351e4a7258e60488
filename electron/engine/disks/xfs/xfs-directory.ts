import { XfsProblem } from './xfs-superblock';

/**
 * XFS directory entries (fs/xfs/libxfs/xfs_da_format.h): a short-form
 * directory lives in its inode; any larger one keeps its entries in data
 * blocks (the file's first 32 GiB: "XD2B"/"XDB3" for a directory of one
 * block, which also holds its hash leaf and a tail, "XD2D"/"XDD3" for the
 * data blocks of larger ones), each entry 8-byte aligned and unused space
 * marked 0xffff. Names are raw bytes; the caller decides what is safe.
 */

export interface XfsDirent {
  name: Buffer;
  ino: number;
}

const BLOCK_MAGICS = [0x58443242, 0x58444233]; // "XD2B", "XDB3"
const DATA_MAGICS = [0x58443244, 0x58444433]; // "XD2D", "XDD3"
const FREE_TAG = 0xffff;

function inodeNumber(v: bigint, where: string): number {
  if (v === 0n || v > BigInt(Number.MAX_SAFE_INTEGER)) throw new XfsProblem(`${where} points at inode ${v}`);
  return Number(v);
}

/** The entries of a short-form directory (its inode's data fork). */
export function shortFormEntries(fork: Buffer, hasFtype: boolean, where: string): XfsDirent[] {
  if (fork.length < 6) throw new XfsProblem(`${where} is truncated`);
  const count = fork.readUInt8(0);
  const wide = fork.readUInt8(1) > 0;
  const inoSize = wide ? 8 : 4;
  let at = 2 + inoSize;
  const out: XfsDirent[] = [];
  for (let i = 0; i < count; i++) {
    if (at + 3 > fork.length) throw new XfsProblem(`${where}: entry ${i} lies outside the inode`);
    const nameLength = fork.readUInt8(at);
    const nameAt = at + 3;
    const inoAt = nameAt + nameLength + (hasFtype ? 1 : 0);
    if (nameLength === 0 || inoAt + inoSize > fork.length) throw new XfsProblem(`${where}: entry ${i} lies outside the inode`);
    const ino = wide ? fork.readBigUInt64BE(inoAt) : BigInt(fork.readUInt32BE(inoAt));
    out.push({ name: fork.subarray(nameAt, nameAt + nameLength), ino: inodeNumber(ino, where) });
    at = inoAt + inoSize;
  }
  return out;
}

/** The entries of one directory block (`crc`: a version 5 filesystem, whose headers are 64 bytes, not 16). */
export function blockEntries(block: Buffer, crc: boolean, hasFtype: boolean, where: string): XfsDirent[] {
  const magic = block.readUInt32BE(0);
  const single = BLOCK_MAGICS.includes(magic);
  if (!single && !DATA_MAGICS.includes(magic)) throw new XfsProblem(`${where} is not a directory block`);
  let end = block.length;
  if (single) {
    // The tail (count, stale) closes the block; the hash leaf entries, 8 bytes each, lie before it.
    const count = block.readUInt32BE(block.length - 8);
    end = block.length - 8 - count * 8;
  }
  let at = crc ? 64 : 16;
  if (end < at) throw new XfsProblem(`${where}: its leaf overruns its entries`);
  const out: XfsDirent[] = [];
  while (at < end) {
    if (at + 8 > end) throw new XfsProblem(`${where}: an entry runs past the end`);
    if (block.readUInt16BE(at) === FREE_TAG) {
      const length = block.readUInt16BE(at + 2);
      if (length < 8 || length % 8 !== 0 || at + length > end) throw new XfsProblem(`${where}: a free region of ${length} bytes is impossible`);
      at += length;
      continue;
    }
    const ino = block.readBigUInt64BE(at);
    const nameLength = block.readUInt8(at + 8);
    const size = Math.ceil((8 + 1 + nameLength + (hasFtype ? 1 : 0) + 2) / 8) * 8;
    if (nameLength === 0 || at + size > end) throw new XfsProblem(`${where}: an entry runs past the end`);
    out.push({ name: block.subarray(at + 9, at + 9 + nameLength), ino: inodeNumber(ino, where) });
    at += size;
  }
  return out;
}
