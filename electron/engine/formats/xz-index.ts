/**
 * Reads the table of contents of an .xz file: every stream's Index, walked
 * backwards from the end of the file the way `xz --list` does. The Index gives
 * each block's place in the file and its uncompressed size, which is what
 * lets blocks be decoded independently and in parallel.
 *
 * Format reference: "The .xz File Format", version 1.1.0 (tukaani.org).
 */
import * as fs from 'node:fs';
import { crc32 } from 'node:zlib';
import { ImprintError } from '../errors';

/** A source that is not a well-formed .xz file: code E_CORRUPT_SOURCE, a message for a person. */
export class XzCorruptSourceError extends ImprintError {
  constructor(detail: string, options: { cause?: unknown; offset?: number } = {}) {
    super('E_CORRUPT_SOURCE', `The .xz file is truncated or corrupt: ${detail}`, options);
    this.name = 'XzCorruptSourceError';
  }
}

/** One block as listed by its stream's Index. Offsets are in bytes. */
export interface XzBlockInfo {
  /** Position of the stream (0-based, in file order) that holds this block. */
  streamIndex: number;
  /** Offset in the file of the block header's first byte. */
  compressedOffset: number;
  /** Block header + compressed data + check, without block padding (the Index's own field). */
  unpaddedSize: number;
  /** Bytes the block occupies in the file: `unpaddedSize` rounded up to a multiple of 4. */
  totalSize: number;
  /** Offset of the block's first byte in the decompressed output of the whole file. */
  uncompressedOffset: number;
  uncompressedSize: number;
}

export interface XzStreamInfo {
  /** Offset in the file of the stream header. */
  offset: number;
  /** The two Stream Flags bytes, identical in header and footer. */
  flags: Buffer;
  /** Check ID: 0 none, 1 CRC32, 4 CRC64, 10 SHA-256. */
  checkType: number;
  /** Header + blocks + Index + footer, without the stream padding that follows. */
  size: number;
  /** Zero bytes between this stream's footer and the next stream (or the end of the file). */
  paddingAfter: number;
  uncompressedOffset: number;
  uncompressedSize: number;
  blocks: XzBlockInfo[];
}

export interface XzIndex {
  fileSize: number;
  uncompressedSize: number;
  streams: XzStreamInfo[];
  /** Every block of every stream, in file order. */
  blocks: XzBlockInfo[];
}

/**
 * An open file: a descriptor, or a FileHandle. Prefer a FileHandle when reads may
 * still be in flight at close time: its close() waits for them, whereas a closed
 * descriptor number can be reused by the next open().
 */
export type XzFile = number | fs.promises.FileHandle;

const HEADER_MAGIC = Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]);
const FOOTER_MAGIC = Buffer.from([0x59, 0x5a]);
export const XZ_HEADER_SIZE = 12;
const FOOTER_SIZE = 12;
/** Smallest legal Unpadded Size: a 1-unit block header cannot be smaller (spec 4.3.1). */
const UNPADDED_SIZE_MIN = 5;
/**
 * A 1 TiB image cut into 1 MiB blocks has an Index of a few MiB; anything far
 * larger is more likely an attack on memory than an image. Beyond this limit the
 * caller falls back to streaming, which needs no Index.
 */
const MAX_INDEX_SIZE = 64 * 1024 * 1024;
/** How much of the tail is read at a time while skipping stream padding. */
const PADDING_SCAN = 64 * 1024;

/**
 * Reads and validates every stream footer, Index and stream header of an .xz file.
 * Throws {@link XzCorruptSourceError} when the structure is invalid; an ordinary
 * Error for OS failures and for an Index too large to hold (see MAX_INDEX_SIZE).
 */
export async function readXzIndex(source: string | XzFile): Promise<XzIndex> {
  if (typeof source !== 'string') return parseIndex(source);
  const handle = await fs.promises.open(source, 'r');
  try {
    return await parseIndex(handle);
  } finally {
    await handle.close();
  }
}

async function parseIndex(fd: XzFile): Promise<XzIndex> {
  const fileSize = await fstat(fd);
  // Every part of a stream and its padding is a multiple of 4 bytes, so a valid file is too.
  if (fileSize % 4 !== 0) throw new XzCorruptSourceError(`its size (${fileSize} bytes) is not a multiple of 4`);
  const backwards: XzStreamInfo[] = [];
  let end = fileSize;
  while (end > 0) {
    const streamEnd = await skipPadding(fd, end);
    if (streamEnd === 0) {
      throw new XzCorruptSourceError(backwards.length ? 'it starts with zero bytes instead of a stream header' : 'it holds only zero bytes');
    }
    const stream = await parseStreamBackwards(fd, streamEnd);
    stream.paddingAfter = end - streamEnd;
    backwards.push(stream);
    end = stream.offset;
  }
  if (backwards.length === 0) throw new XzCorruptSourceError('the file is empty');
  return assignOffsets(fileSize, backwards.reverse());
}

/** Reads one stream whose footer ends at `end`; offsets inside are filled by assignOffsets. */
async function parseStreamBackwards(fd: XzFile, end: number): Promise<XzStreamInfo> {
  if (end < XZ_HEADER_SIZE + FOOTER_SIZE) throw new XzCorruptSourceError('a stream is shorter than its header and footer');
  const footer = await readExactly(fd, end - FOOTER_SIZE, FOOTER_SIZE);
  if (!footer.subarray(10, 12).equals(FOOTER_MAGIC)) {
    throw new XzCorruptSourceError('the stream footer is missing (the download may be incomplete)');
  }
  if (crc32(footer.subarray(4, 10)) !== footer.readUInt32LE(0)) throw new XzCorruptSourceError('the stream footer fails its CRC32');
  const flags = Buffer.from(footer.subarray(8, 10));
  checkFlags(flags);
  const indexSize = (footer.readUInt32LE(4) + 1) * 4;
  const indexOffset = end - FOOTER_SIZE - indexSize;
  if (indexOffset < XZ_HEADER_SIZE) throw new XzCorruptSourceError('the stream footer points before the start of the file');
  if (indexSize > MAX_INDEX_SIZE) throw new Error(`The .xz index is ${indexSize} bytes, more than this reader holds in memory`);
  const records = decodeIndex(await readExactly(fd, indexOffset, indexSize));

  let blocksSize = 0;
  const blocks: XzBlockInfo[] = records.map(([unpaddedSize, uncompressedSize]) => {
    const totalSize = roundUp4(unpaddedSize);
    blocksSize += totalSize;
    return { streamIndex: 0, compressedOffset: 0, unpaddedSize, totalSize, uncompressedOffset: 0, uncompressedSize };
  });
  const offset = indexOffset - blocksSize - XZ_HEADER_SIZE;
  if (offset < 0) throw new XzCorruptSourceError('the index lists more data than the file holds');
  const header = await readExactly(fd, offset, XZ_HEADER_SIZE);
  if (!header.subarray(0, 6).equals(HEADER_MAGIC)) throw new XzCorruptSourceError(`no stream header where the index says one starts (offset ${offset})`);
  if (crc32(header.subarray(6, 8)) !== header.readUInt32LE(8)) throw new XzCorruptSourceError('a stream header fails its CRC32');
  if (!header.subarray(6, 8).equals(flags)) throw new XzCorruptSourceError('a stream header and footer disagree');
  const uncompressedSize = blocks.reduce((sum, b) => sum + b.uncompressedSize, 0);
  const checkType = flags[1]! & 0x0f;
  return { offset, flags, checkType, size: end - offset, paddingAfter: 0, uncompressedOffset: 0, uncompressedSize, blocks };
}

/** Fills in the file-order offsets that are only known once every stream has been read. */
function assignOffsets(fileSize: number, streams: XzStreamInfo[]): XzIndex {
  const blocks: XzBlockInfo[] = [];
  let uncompressed = 0;
  streams.forEach((stream, streamIndex) => {
    stream.uncompressedOffset = uncompressed;
    let compressed = stream.offset + XZ_HEADER_SIZE;
    for (const block of stream.blocks) {
      Object.assign(block, { streamIndex, compressedOffset: compressed, uncompressedOffset: uncompressed });
      compressed += block.totalSize;
      uncompressed += block.uncompressedSize;
      blocks.push(block);
    }
  });
  if (!Number.isSafeInteger(uncompressed)) throw new XzCorruptSourceError('the index lists an impossible size');
  return { fileSize, uncompressedSize: uncompressed, streams, blocks };
}

/** Returns the offset where trailing zero padding (in 4-byte words) before `end` begins. */
async function skipPadding(fd: XzFile, end: number): Promise<number> {
  while (end > 0) {
    const length = Math.min(PADDING_SCAN, end);
    const tail = await readExactly(fd, end - length, length);
    let i = length;
    while (i >= 4 && tail.readUInt32LE(i - 4) === 0) i -= 4;
    if (i > 0) return end - length + i;
    end -= length;
  }
  return 0;
}

/** Stream Flags: first byte reserved (0), second byte's high nibble reserved (spec 2.1.1.2). */
function checkFlags(flags: Buffer): void {
  if (flags[0] !== 0 || (flags[1]! & 0xf0) !== 0) throw new XzCorruptSourceError('a stream uses flags this reader does not know');
}

/** Parses an Index (spec 4): returns [unpadded size, uncompressed size] per record, after checking its CRC32. */
export function decodeIndex(index: Buffer): Array<[number, number]> {
  if (index[0] !== 0x00) throw new XzCorruptSourceError('the index indicator byte is wrong');
  const bodyEnd = index.length - 4;
  if (crc32(index.subarray(0, bodyEnd)) !== index.readUInt32LE(bodyEnd)) throw new XzCorruptSourceError('the index fails its CRC32');
  const cursor = { pos: 1 };
  const count = readVli(index, cursor, bodyEnd);
  // Each record takes at least two bytes; a larger count cannot be honest.
  if (count > (bodyEnd - cursor.pos) / 2) throw new XzCorruptSourceError('the index lists more blocks than it has room for');
  const records: Array<[number, number]> = [];
  for (let i = 0; i < count; i++) {
    const unpadded = readVli(index, cursor, bodyEnd);
    const uncompressed = readVli(index, cursor, bodyEnd);
    if (unpadded < UNPADDED_SIZE_MIN) throw new XzCorruptSourceError('the index lists an impossible block size');
    records.push([unpadded, uncompressed]);
  }
  if (roundUp4(cursor.pos) !== bodyEnd) throw new XzCorruptSourceError('the index has the wrong length');
  for (let i = cursor.pos; i < bodyEnd; i++) {
    if (index[i] !== 0) throw new XzCorruptSourceError('the index padding is not zero');
  }
  return records;
}

/** Multibyte integer (spec 1.2): 7 bits a byte, low first, at most 9 bytes, no superfluous zero byte. */
function readVli(buf: Buffer, cursor: { pos: number }, end: number): number {
  let value = 0;
  for (let i = 0; i < 9; i++) {
    if (cursor.pos >= end) throw new XzCorruptSourceError('the index ends in the middle of a number');
    const byte = buf[cursor.pos++]!;
    value += (byte & 0x7f) * 2 ** (7 * i);
    if ((byte & 0x80) === 0) {
      if (byte === 0 && i > 0) throw new XzCorruptSourceError('the index holds a badly encoded number');
      // Sizes beyond 2^53 cannot be real images and would lose precision in a JS number.
      if (!Number.isSafeInteger(value)) throw new XzCorruptSourceError('the index lists an impossible size');
      return value;
    }
  }
  throw new XzCorruptSourceError('the index holds a number longer than 9 bytes');
}

function writeVli(value: number, out: number[]): void {
  while (value >= 0x80) {
    out.push((value % 0x80) | 0x80);
    value = Math.floor(value / 0x80);
  }
  out.push(value);
}

/**
 * The bytes that turn one block into a complete single-block stream: a stream
 * header to put before the block, and an Index with that block's one record
 * plus a footer to put after it. liblzma then checks the block against the
 * sizes the original Index gave for it.
 */
export function singleBlockStreamParts(block: XzBlockInfo, flags: Buffer): { header: Buffer; trailer: Buffer } {
  const header = Buffer.alloc(XZ_HEADER_SIZE);
  HEADER_MAGIC.copy(header, 0);
  flags.copy(header, 6);
  header.writeUInt32LE(crc32(flags), 8);

  const body: number[] = [0x00];
  writeVli(1, body);
  writeVli(block.unpaddedSize, body);
  writeVli(block.uncompressedSize, body);
  const indexSize = roundUp4(body.length) + 4;
  const trailer = Buffer.alloc(indexSize + FOOTER_SIZE);
  Buffer.from(body).copy(trailer, 0);
  trailer.writeUInt32LE(crc32(trailer.subarray(0, indexSize - 4)), indexSize - 4);
  const footer = trailer.subarray(indexSize);
  footer.writeUInt32LE(indexSize / 4 - 1, 4);
  flags.copy(footer, 8);
  FOOTER_MAGIC.copy(footer, 10);
  footer.writeUInt32LE(crc32(footer.subarray(4, 10)), 0);
  return { header, trailer };
}

function roundUp4(n: number): number {
  return Math.ceil(n / 4) * 4;
}

async function fstat(fd: XzFile): Promise<number> {
  if (typeof fd !== 'number') return (await fd.stat()).size;
  return new Promise((resolve, reject) => fs.fstat(fd, (err, st) => (err ? reject(err) : resolve(st.size))));
}

function readOnce(fd: XzFile, target: Buffer, offset: number, length: number, position: number): Promise<number> {
  if (typeof fd !== 'number') return fd.read(target, offset, length, position).then((r) => r.bytesRead);
  return new Promise((resolve, reject) => fs.read(fd, target, offset, length, position, (err, n) => (err ? reject(err) : resolve(n))));
}

/**
 * Reads exactly `length` bytes at file `position` into `target` at `targetOffset`
 * (a fresh buffer by default), looping over short reads. An early end of file means the file is shorter than
 * its own structure says: truncated, or changed while being read.
 */
export async function readExactly(
  fd: XzFile, position: number, length: number, target = Buffer.allocUnsafe(length), targetOffset = 0,
): Promise<Buffer> {
  let done = 0;
  while (done < length) {
    const n = await readOnce(fd, target, targetOffset + done, length - done, position + done);
    if (n === 0) throw new XzCorruptSourceError(`it ends at byte ${position + done}, before the data its index lists`);
    done += n;
  }
  return target;
}
