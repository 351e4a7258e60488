import type { GroupDesc } from './ext-groups';
import { BG_INODE_UNINIT } from './ext-groups';
import { INCOMPAT, hasGroupDescCsum, type ExtSuperblock } from './ext-superblock';
import type { MetadataCache } from './metadata-cache';

/**
 * Inodes: where one lives, and the fields a reader needs. Layout:
 * Documentation/filesystems/ext4/inodes.rst; inline data and in-inode
 * extended attributes: inlinedata.rst, attributes.rst.
 */

export const S_IFMT = 0o170000;
export const S_IFREG = 0o100000;
export const S_IFDIR = 0o040000;
export const S_IFLNK = 0o120000;

export const INODE_FLAGS = {
  ENCRYPT: 0x800,
  INDEX: 0x1000,
  HUGE_FILE: 0x40000,
  EXTENTS: 0x80000,
  EA_INODE: 0x200000,
  INLINE_DATA: 0x10000000,
} as const;

export const ROOT_INO = 2;

export interface Inode {
  ino: number;
  mode: number;
  size: number;
  linksCount: number;
  flags: number;
  /** i_blocks as stored (512-byte units unless the inode's HUGE_FILE flag says fs blocks). */
  blocks: number;
  fileAcl: number;
  mtimeMs: number;
  /** The 60 bytes of i_block: extent tree root, block map, inline data or a fast symlink. */
  iBlock: Buffer;
  /** Value of the in-inode `system.data` attribute (inline data past the first 60 bytes), if any. */
  inlineTail: Buffer | null;
}

/** Thrown for metadata that does not check out; the message names the inode and what is wrong. */
export class ExtCorruptError extends Error {
  readonly code = 'E_EXT_CORRUPT';
}

/** Seconds with the ext4 epoch extension (2 bits past 2038) and nanoseconds, in ms. */
function timeMs(secs: number, extra: number | null): number {
  let s = secs | 0; // signed 32-bit, as the kernel reads it
  let ns = 0;
  if (extra !== null) {
    s += (extra & 3) * 2 ** 32;
    ns = extra >>> 2;
  }
  return s * 1000 + Math.floor(ns / 1e6);
}

/** The value of in-inode xattr `system.data` (name index 7, name "data"), or null. */
function findSystemData(raw: Buffer, ibodyStart: number): Buffer | null {
  if (ibodyStart + 4 > raw.length || raw.readUInt32LE(ibodyStart) !== 0xea020000) return null;
  const base = ibodyStart + 4;
  let at = base;
  // Each entry is at least 16 bytes: the loop ends within the inode.
  while (at + 16 <= raw.length) {
    if (raw.readUInt32LE(at) === 0) break;
    const nameLen = raw[at]!;
    const nameIndex = raw[at + 1]!;
    const valueOffs = raw.readUInt16LE(at + 2);
    const valueInum = raw.readUInt32LE(at + 4);
    const valueSize = raw.readUInt32LE(at + 8);
    if (at + 16 + nameLen > raw.length) break;
    const name = raw.subarray(at + 16, at + 16 + nameLen).toString('latin1');
    if (nameIndex === 7 && name === 'data' && valueInum === 0) {
      if (base + valueOffs + valueSize > raw.length) throw new ExtCorruptError(`inline data attribute runs past the inode`);
      return raw.subarray(base + valueOffs, base + valueOffs + valueSize);
    }
    at += (16 + nameLen + 3) & ~3;
  }
  return null;
}

export async function readInode(cache: MetadataCache, sb: ExtSuperblock, groups: GroupDesc[], ino: number): Promise<Inode> {
  if (!Number.isInteger(ino) || ino < 1 || ino > sb.inodesCount) throw new ExtCorruptError(`inode number ${ino} is outside 1..${sb.inodesCount}`);
  const group = Math.floor((ino - 1) / sb.inodesPerGroup);
  const index = (ino - 1) % sb.inodesPerGroup;
  const desc = groups[group]!;
  if (hasGroupDescCsum(sb) && desc.flags & BG_INODE_UNINIT) throw new ExtCorruptError(`inode ${ino} lies in group ${group}, which has no inodes in use`);
  const raw = await cache.read(desc.inodeTable * sb.blockSize + index * sb.inodeSize, sb.inodeSize);
  const mode = raw.readUInt16LE(0x0);
  const linksCount = raw.readUInt16LE(0x1a);
  if (mode === 0 || linksCount === 0) throw new ExtCorruptError(`inode ${ino} is not in use (a deleted file?)`);
  // i_size_high is i_dir_acl for folders of filesystems without largedir (ext4_isize).
  const sizeHigh = (mode & S_IFMT) === S_IFREG || sb.incompat & INCOMPAT.LARGEDIR ? raw.readUInt32LE(0x6c) : 0;
  const size = raw.readUInt32LE(0x4) + sizeHigh * 2 ** 32;
  const flags = raw.readUInt32LE(0x20);
  const extraIsize = sb.inodeSize > 128 ? raw.readUInt16LE(0x80) : 0;
  if (sb.inodeSize > 128 && (extraIsize & 3 || 128 + extraIsize > sb.inodeSize)) throw new ExtCorruptError(`inode ${ino}: extra size ${extraIsize}`);
  const mtimeExtra = extraIsize >= 0x0c ? raw.readUInt32LE(0x88) : null;
  const tail = flags & INODE_FLAGS.INLINE_DATA && extraIsize > 0 ? findSystemData(raw, 128 + extraIsize) : null;
  // Copies: `raw` belongs to the metadata cache.
  const inlineTail = tail ? Buffer.from(tail) : null;
  return {
    ino, mode, size, linksCount, flags, inlineTail,
    blocks: raw.readUInt32LE(0x1c) + raw.readUInt16LE(0x74) * 2 ** 32,
    fileAcl: raw.readUInt32LE(0x68) + raw.readUInt16LE(0x76) * 2 ** 32,
    mtimeMs: timeMs(raw.readUInt32LE(0x10), mtimeExtra),
    iBlock: Buffer.from(raw.subarray(0x28, 0x28 + 60)),
  };
}
