import * as crypto from 'crypto';
import { crc32c } from '@node-rs/crc32';
import { xxh64 } from '@node-rs/xxhash';

/**
 * The btrfs superblock and the checksum every btrfs metadata block carries.
 * Layout: torvalds/linux include/uapi/linux/btrfs_tree.h (struct
 * btrfs_super_block, btrfs_header, btrfs_dev_item). All numbers are
 * little-endian; 64-bit ones are read as bigints and turned into numbers only
 * where they must be byte offsets (and then checked to be safe integers).
 */

/** The primary superblock, and the copies at 64 MiB and 256 GiB where the filesystem reaches. */
export const SUPER_OFFSET = 0x10000;
export const SUPER_MIRRORS = [SUPER_OFFSET, 0x4000000, 0x4000000000];
export const SUPER_SIZE = 4096;
const MAGIC = Buffer.from('_BHRfS_M', 'latin1');
const MAGIC_AT = 0x40;
/** Bytes of a checksum field; the sum covers what follows it. */
export const CSUM_SIZE = 32;

/** Why a btrfs volume's metadata cannot be trusted for a used-block map: the reason the user reads. */
export class BtrfsProblem extends Error {}

/** Incompat feature bits whose on-disk layout this reader knows (btrfs_tree.h BTRFS_FEATURE_INCOMPAT_*). */
const KNOWN_INCOMPAT = new Map<number, string>([
  [0, 'mixed backrefs'],
  [1, 'default subvolume'],
  [2, 'mixed block groups'],
  [3, 'lzo'],
  [4, 'zstd'],
  [5, 'big metadata'],
  [6, 'extended inode refs'],
  [7, 'raid56'],
  [8, 'skinny metadata'],
  [9, 'no holes'],
  [10, 'metadata uuid'],
  [11, 'raid1c34'],
]);
/** Incompat bits a reader of the extent tree must not ignore: the layout they describe is not this one. */
const INCOMPAT_NAMES = new Map<number, string>([
  [12, 'zoned'],
  [13, 'extent tree v2'],
  [14, 'raid stripe tree'],
  [16, 'simple quotas'],
]);
const INCOMPAT_METADATA_UUID = 10;
const SUPER_FLAG_SEEDING = 1n << 32n;

export interface BtrfsSuper {
  /** The UUID tree blocks carry (the metadata UUID where the filesystem has one). */
  treeFsid: Buffer;
  generation: bigint;
  root: number;
  rootLevel: number;
  chunkRoot: number;
  chunkRootLevel: number;
  logRoot: number;
  /** The filesystem's size, and the bytes its extents use (data and metadata, each counted once). */
  totalBytes: number;
  bytesUsed: number;
  numDevices: bigint;
  sectorSize: number;
  nodeSize: number;
  csumType: number;
  devid: bigint;
  devTotalBytes: number;
  sysChunkArray: Buffer;
  label: string;
  seeding: boolean;
}

/** Whether a volume's first bytes (at least SUPER_OFFSET + 0x48 of them) hold btrfs's magic. */
export function hasBtrfsMagic(head: Uint8Array): boolean {
  const at = SUPER_OFFSET + MAGIC_AT;
  return head.length >= at + MAGIC.length && Buffer.from(head.buffer, head.byteOffset + at, MAGIC.length).equals(MAGIC);
}

/** A 64-bit field that must be a byte count or offset. */
export function offsetAt(buf: Buffer, at: number, what: string): number {
  const v = buf.readBigUInt64LE(at);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new BtrfsProblem(`its ${what} (${v}) is not a possible byte offset`);
  return Number(v);
}

/**
 * Whether `sum` starts with the checksum of `data` of type `csumType`
 * (crc32c, xxhash64, sha256), as btrfs stores them, little-endian; null
 * for a type this reader cannot compute (blake2b), whose data is then not
 * trusted. Tree blocks and superblocks carry theirs in a 32-byte field,
 * data sectors theirs in the checksum tree, each only as long as the type.
 */
export function sumMatches(csumType: number, data: Buffer, sum: Buffer): boolean | null {
  switch (csumType) {
    case 0:
      return sum.readUInt32LE(0) === crc32c(data) >>> 0;
    case 1:
      return sum.readBigUInt64LE(0) === xxh64(data, 0n);
    case 2:
      return crypto.createHash('sha256').update(data).digest().equals(sum.subarray(0, 32));
    default:
      return null;
  }
}

/** Whether `block` (a superblock or a tree block) carries the checksum of its bytes after the checksum field (sumMatches). */
export function checksumMatches(csumType: number, block: Buffer): boolean | null {
  return sumMatches(csumType, block.subarray(CSUM_SIZE), block);
}

export function csumName(csumType: number): string {
  return ['crc32c', 'xxhash64', 'sha256', 'blake2b'][csumType] ?? `type ${csumType}`;
}

/** The superblock in `buf` (SUPER_SIZE bytes read at SUPER_OFFSET), checked; throws BtrfsProblem saying what is wrong. */
export function parseSuper(buf: Buffer): BtrfsSuper {
  if (!buf.subarray(MAGIC_AT, MAGIC_AT + MAGIC.length).equals(MAGIC)) throw new BtrfsProblem('no btrfs superblock at 64 KiB');
  const csumType = buf.readUInt16LE(0xc4);
  const ok = checksumMatches(csumType, buf);
  if (ok === null) throw new BtrfsProblem(`its checksums are ${csumName(csumType)}, which Imprint does not check`);
  if (!ok) throw new BtrfsProblem('its superblock checksum does not match');
  if (offsetAt(buf, 0x30, 'superblock position') !== SUPER_OFFSET) throw new BtrfsProblem('its superblock does not say it lies at 64 KiB');
  const incompat = buf.readBigUInt64LE(0xbc);
  for (let bit = 0; bit < 64; bit++) {
    if ((incompat >> BigInt(bit)) & 1n && !KNOWN_INCOMPAT.has(bit)) {
      throw new BtrfsProblem(`it uses the ${INCOMPAT_NAMES.get(bit) ?? `unknown (bit ${bit})`} feature, whose allocation records Imprint does not read`);
    }
  }
  const sectorSize = buf.readUInt32LE(0x90);
  const nodeSize = buf.readUInt32LE(0x94);
  const pow2 = (n: number): boolean => n > 0 && (n & (n - 1)) === 0;
  if (!pow2(sectorSize) || sectorSize < 4096 || sectorSize > 65536) throw new BtrfsProblem(`its sector size ${sectorSize} is not possible`);
  if (!pow2(nodeSize) || nodeSize < sectorSize || nodeSize > 65536) throw new BtrfsProblem(`its node size ${nodeSize} is not possible`);
  const sysChunkArraySize = buf.readUInt32LE(0xa0);
  if (sysChunkArraySize > 2048) throw new BtrfsProblem(`its system chunk array claims ${sysChunkArraySize} bytes (at most 2048)`);
  const metadataUuid = ((incompat >> BigInt(INCOMPAT_METADATA_UUID)) & 1n) === 1n;
  const labelBytes = buf.subarray(0x12b, 0x12b + 256);
  const nul = labelBytes.indexOf(0);
  return {
    treeFsid: Buffer.from(metadataUuid ? buf.subarray(0x23b, 0x23b + 16) : buf.subarray(0x20, 0x30)),
    generation: buf.readBigUInt64LE(0x48),
    root: offsetAt(buf, 0x50, 'root tree address'),
    rootLevel: buf.readUInt8(0xc6),
    chunkRoot: offsetAt(buf, 0x58, 'chunk tree address'),
    chunkRootLevel: buf.readUInt8(0xc7),
    logRoot: offsetAt(buf, 0x60, 'log tree address'),
    totalBytes: offsetAt(buf, 0x70, 'size'),
    bytesUsed: offsetAt(buf, 0x78, 'used bytes'),
    numDevices: buf.readBigUInt64LE(0x88),
    sectorSize,
    nodeSize,
    csumType,
    // struct btrfs_dev_item at 0xc9: devid, then total_bytes.
    devid: buf.readBigUInt64LE(0xc9),
    devTotalBytes: offsetAt(buf, 0xc9 + 8, 'device size'),
    sysChunkArray: Buffer.from(buf.subarray(0x32b, 0x32b + sysChunkArraySize)),
    label: (nul < 0 ? labelBytes : labelBytes.subarray(0, nul)).toString('utf8'),
    seeding: (buf.readBigUInt64LE(0x38) & SUPER_FLAG_SEEDING) !== 0n,
  };
}
