import { applyFixups } from './fixups';
import { AT_FILE_NAME, AT_INDEX_ALLOCATION, AT_INDEX_ROOT, findAttributes, mftRefRecord, type MftRecord } from './mft-record';
import type { NtfsReader } from './ntfs-reader';
import { NtfsFormatError } from './runlist';

/**
 * Directory listings: the $I30 index of a directory, a B+ tree whose root
 * sits in $INDEX_ROOT (in the MFT record) and whose other nodes are INDX
 * blocks in $INDEX_ALLOCATION. Offsets from layout.h (INDEX_ROOT,
 * INDEX_HEADER, INDEX_BLOCK, INDEX_ENTRY, FILE_NAME_ATTR).
 */

export const FILE_NAME_POSIX = 0;
export const FILE_NAME_WIN32 = 1;
export const FILE_NAME_DOS = 2;
export const FILE_NAME_WIN32_AND_DOS = 3;

export const FILE_ATTR_REPARSE_POINT = 0x0400;
/** Set in a FILE_NAME's attributes when the file is a directory (it has a $I30 index). */
export const FILE_ATTR_DIRECTORY = 0x10000000;

const INDEX_ENTRY_NODE = 0x01;
const INDEX_ENTRY_END = 0x02;
/** A B+ tree deeper than this on a volume of at most 2^64 clusters is a loop or damage. */
const MAX_INDEX_DEPTH = 32;

/** One FILE_NAME as a directory index stores it (the key of an index entry). */
export interface FileNameKey {
  record: number;
  sequence: number;
  parent: number;
  name: string;
  namespace: number;
  fileAttributes: number;
  dataSize: number;
  /** Last data change, NT time (100 ns ticks since 1601). */
  mtime: bigint;
}

/** NT time (100 ns since 1601-01-01) to ms since 1970. */
export function ntTimeToMs(t: bigint): number {
  return Number((t - 116444736000000000n) / 10000n);
}

/** Parses a FILE_NAME value (an index key, or the attribute in an MFT record). */
export function parseFileName(v: Buffer, record: number, sequence: number): FileNameKey {
  if (v.length < 0x42) throw new NtfsFormatError(`a file name of MFT record ${record} is truncated`);
  const nameLength = v[0x40] ?? 0;
  if (0x42 + nameLength * 2 > v.length) throw new NtfsFormatError(`a file name of MFT record ${record} is truncated`);
  const dataSize = v.readBigInt64LE(0x30);
  return {
    record,
    sequence,
    parent: mftRefRecord(v.readBigUInt64LE(0)),
    name: v.toString('utf16le', 0x42, 0x42 + nameLength * 2),
    namespace: v[0x41] ?? 0,
    fileAttributes: v.readUInt32LE(0x38),
    dataSize: dataSize < 0n || dataSize > BigInt(Number.MAX_SAFE_INTEGER) ? 0 : Number(dataSize),
    mtime: v.readBigUInt64LE(0x10),
  };
}

/** Entries of one index node (the header at `h` in `buf`), and the child VCNs it points to. */
function parseNode(buf: Buffer, h: number, where: string, keys: FileNameKey[], children: number[]): void {
  if (h + 16 > buf.length) throw new NtfsFormatError(`${where}: index header truncated`);
  const first = h + buf.readUInt32LE(h);
  const end = h + buf.readUInt32LE(h + 4);
  if (first < h + 16 || end > buf.length || first > end) throw new NtfsFormatError(`${where}: index header out of bounds`);
  let pos = first;
  // Entries are at least 16 bytes each: the node's size bounds the loop.
  while (pos + 16 <= end) {
    const length = buf.readUInt16LE(pos + 8);
    const keyLength = buf.readUInt16LE(pos + 10);
    const flags = buf.readUInt16LE(pos + 12);
    if (length < 16 || length % 8 !== 0 || pos + length > end) throw new NtfsFormatError(`${where}: index entry of invalid length`);
    if ((flags & INDEX_ENTRY_NODE) !== 0) {
      if (length < 24) throw new NtfsFormatError(`${where}: index entry too short for its child pointer`);
      const vcn = buf.readBigInt64LE(pos + length - 8);
      if (vcn < 0n || vcn > BigInt(Number.MAX_SAFE_INTEGER)) throw new NtfsFormatError(`${where}: index entry points to an invalid block`);
      children.push(Number(vcn));
    }
    if ((flags & INDEX_ENTRY_END) !== 0) return;
    if (16 + keyLength > length) throw new NtfsFormatError(`${where}: index key larger than its entry`);
    const ref = buf.readBigUInt64LE(pos);
    keys.push(parseFileName(buf.subarray(pos + 16, pos + 16 + keyLength), mftRefRecord(ref), Number(ref >> 48n)));
    pos += length;
  }
  throw new NtfsFormatError(`${where}: index node has no end entry`);
}

/**
 * Every FILE_NAME key in the directory's $I30 index, in no particular order
 * (DOS 8.3 aliases included; the caller filters). Throws NtfsFormatError
 * when the index does not check out.
 */
export async function readDirectoryIndex(reader: NtfsReader, dir: MftRecord): Promise<FileNameKey[]> {
  const where = `directory (MFT record ${dir.number})`;
  const [root] = findAttributes(dir.attributes, AT_INDEX_ROOT, '$I30');
  if (root?.value === undefined) throw new NtfsFormatError(`${where} has no $I30 index root`);
  const rv = root.value;
  if (rv.length < 0x20 || rv.readUInt32LE(0) !== AT_FILE_NAME) throw new NtfsFormatError(`${where}: its index root is not a file name index`);
  const blockSize = rv.readUInt32LE(8);
  const keys: FileNameKey[] = [];
  let pending: Array<{ vcn: number; depth: number }> = [];
  const rootChildren: number[] = [];
  parseNode(rv, 0x10, where, keys, rootChildren);
  if (rootChildren.length === 0) return keys;

  const alloc = await reader.attributeStream(dir, AT_INDEX_ALLOCATION, '$I30');
  if (alloc === null) throw new NtfsFormatError(`${where}: its index points to blocks but it has no index allocation`);
  if (blockSize < 512 || blockSize % 512 !== 0 || blockSize > 65536 * 4) throw new NtfsFormatError(`${where}: invalid index block size ${blockSize}`);
  // Child pointers count clusters when a block is at least a cluster, else 512-byte units (layout.h, INDEX_ROOT).
  const vcnUnit = blockSize >= reader.geo.clusterSize ? reader.geo.clusterSize : 512;
  const maxBlocks = Math.floor(alloc.size / blockSize);
  const visited = new Set<number>();
  pending = rootChildren.map((vcn) => ({ vcn, depth: 1 }));
  while (pending.length > 0) {
    const { vcn, depth } = pending.pop() as { vcn: number; depth: number };
    if (depth > MAX_INDEX_DEPTH) throw new NtfsFormatError(`${where}: index tree deeper than ${MAX_INDEX_DEPTH} levels`);
    if (visited.has(vcn)) throw new NtfsFormatError(`${where}: index block at VCN ${vcn} is reached twice (a loop)`);
    visited.add(vcn);
    if (visited.size > maxBlocks) throw new NtfsFormatError(`${where}: index has more nodes than blocks`);
    const offset = vcn * vcnUnit;
    if (offset + blockSize > alloc.size) throw new NtfsFormatError(`${where}: index block at VCN ${vcn} lies outside the index`);
    const block = await reader.read(alloc, offset, blockSize);
    const damage = applyFixups(block, 'INDX');
    if (damage !== null) throw new NtfsFormatError(`${where}: index block at VCN ${vcn} is damaged: ${damage}`);
    if (block.readBigInt64LE(0x10) !== BigInt(vcn)) throw new NtfsFormatError(`${where}: index block at VCN ${vcn} says it is elsewhere`);
    const children: number[] = [];
    parseNode(block, 0x18, `${where}, index block ${vcn}`, keys, children);
    for (const c of children) pending.push({ vcn: c, depth: depth + 1 });
  }
  return keys;
}
