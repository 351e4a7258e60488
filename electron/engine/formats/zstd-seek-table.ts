import { ImprintError } from '../errors';
import { readFully } from '../io/full-io';

/**
 * The seek table of zstd's seekable format (facebook/zstd
 * contrib/seekable_format/zstd_seekable_compression_format.md): a skippable
 * frame at the very end of a .zst file listing every frame before it, so a
 * reader can find the frame that holds any byte of the content without
 * decoding what comes before. Ordinary decoders skip the table, so `zstd -dc`
 * still gives the whole content.
 *
 *   [magic 0x184D2A5E][frame size u32] entries... [frame count u32][descriptor u8][0x8F92EAB1]
 *   entry: [compressed size u32][decompressed size u32][checksum u32 if descriptor bit 7]
 *
 * The spec counts every frame in the data, skippable ones too (decompressed
 * size 0), and says the compressed sizes summed give each frame's offset. So
 * Imprint's metadata frame, written just before the table, is listed like any
 * other frame; the reference decoder never decodes an entry of size 0.
 */

export const SEEK_TABLE_MAGIC = 0x184d2a5e;
export const SEEKABLE_MAGIC = 0x8f92eab1;
export const SEEK_TABLE_FOOTER_SIZE = 9;
const SKIPPABLE_HEADER_SIZE = 8;
const CHECKSUM_FLAG = 0x80;
/** Bits 6-2: reserved for breaking changes; a decoder must see them zero. */
const RESERVED_BITS = 0x7c;
/** The reference implementation's limit (ZSTD_SEEKABLE_MAXFRAMES); tables are read whole, so it bounds memory too. */
export const MAX_SEEKABLE_FRAMES = 0x8000000;
/** Low 32 bits of XXH64 (seed 0) of no bytes: the checksum of a frame that holds nothing, such as a skippable one. */
export const EMPTY_CONTENT_CHECKSUM = 0x51d8e999;

/** One frame as the table lists it. */
export interface SeekTableEntry {
  compressedSize: number;
  decompressedSize: number;
  /** Low 32 bits of XXH64 of the frame's content; null when the table carries no checksums. */
  checksum: number | null;
}

/** A frame with where it sits, in the file and in the content. */
export interface SeekableFrame extends SeekTableEntry {
  index: number;
  compressedOffset: number;
  decompressedOffset: number;
}

/** The seek table frame for `entries`; every entry needs a checksum when `checksums` is set. */
export function encodeSeekTable(entries: readonly SeekTableEntry[], checksums: boolean): Buffer {
  if (entries.length > MAX_SEEKABLE_FRAMES) throw new ImprintError('E_INTERNAL', `A seek table holds at most ${MAX_SEEKABLE_FRAMES} frames; got ${entries.length}.`);
  const perEntry = checksums ? 12 : 8;
  const frameSize = entries.length * perEntry + SEEK_TABLE_FOOTER_SIZE;
  const out = Buffer.alloc(SKIPPABLE_HEADER_SIZE + frameSize);
  out.writeUInt32LE(SEEK_TABLE_MAGIC, 0);
  out.writeUInt32LE(frameSize, 4);
  let at = SKIPPABLE_HEADER_SIZE;
  for (const e of entries) {
    // writeUInt32LE throws a RangeError on a size that does not fit: a writer bug, never a wrong table.
    out.writeUInt32LE(e.compressedSize, at);
    out.writeUInt32LE(e.decompressedSize, at + 4);
    if (checksums) {
      if (e.checksum === null) throw new ImprintError('E_INTERNAL', 'A seek table with checksums was given a frame without one.');
      out.writeUInt32LE(e.checksum >>> 0, at + 8);
    }
    at += perEntry;
  }
  out.writeUInt32LE(entries.length, at);
  out.writeUInt8(checksums ? CHECKSUM_FLAG : 0, at + 4);
  out.writeUInt32LE(SEEKABLE_MAGIC, at + 5);
  return out;
}

/**
 * A parsed, validated seek table. Offsets live in typed arrays (a 2 TB drive
 * in 2 MiB frames is a million entries), with one extra slot at the end so the
 * size of frame i is always offsets[i + 1] - offsets[i].
 */
export class SeekTable {
  constructor(
    private readonly cOffsets: Float64Array,
    private readonly dOffsets: Float64Array,
    private readonly sums: Uint32Array | null,
    /** Bytes of the seek table frame itself, at the end of the file. */
    readonly tableBytes: number,
  ) {}

  get frameCount(): number {
    return this.cOffsets.length - 1;
  }

  get checksums(): boolean {
    return this.sums !== null;
  }

  /** Decompressed size of the whole content. */
  get contentSize(): number {
    return this.dOffsets[this.frameCount] as number;
  }

  /** Bytes of frames before the table (where the table starts). */
  get dataBytes(): number {
    return this.cOffsets[this.frameCount] as number;
  }

  frame(index: number): SeekableFrame {
    if (!Number.isInteger(index) || index < 0 || index >= this.frameCount) throw new RangeError(`frame ${index} of ${this.frameCount}`);
    const compressedOffset = this.cOffsets[index] as number;
    const decompressedOffset = this.dOffsets[index] as number;
    return {
      index,
      compressedOffset,
      decompressedOffset,
      compressedSize: (this.cOffsets[index + 1] as number) - compressedOffset,
      decompressedSize: (this.dOffsets[index + 1] as number) - decompressedOffset,
      checksum: this.sums ? (this.sums[index] as number) : null,
    };
  }

  *frames(): IterableIterator<SeekableFrame> {
    for (let i = 0; i < this.frameCount; i++) yield this.frame(i);
  }

  /**
   * The frame holding content byte `offset`: the last frame starting at or
   * before it that holds any bytes (frames of size 0, such as a skippable
   * one, hold none). -1 when `offset` is at or past the end.
   */
  frameAt(offset: number): number {
    if (offset < 0 || offset >= this.contentSize) return -1;
    let lo = 0;
    let hi = this.frameCount - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if ((this.dOffsets[mid] as number) <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }
}

function corrupt(file: string, why: string): ImprintError {
  return new ImprintError('E_CORRUPT_SOURCE', `${file} has a damaged seek table (the index of its zstd frames at the end of the file): ${why}. Its frames may still decode in order, e.g. with zstd -dc.`);
}

/**
 * Whether the last bytes of a file of `fileSize` bytes are a seek table's
 * footer: `footer` holds the file's last SEEK_TABLE_FOOTER_SIZE bytes.
 */
export function endsWithSeekTable(footer: Buffer, fileSize: number): boolean {
  return fileSize >= SKIPPABLE_HEADER_SIZE + SEEK_TABLE_FOOTER_SIZE && footer.length === SEEK_TABLE_FOOTER_SIZE && footer.readUInt32LE(5) === SEEKABLE_MAGIC;
}

/**
 * Parses the seek table frame `table` (the last bytes of a file of
 * `fileSize` bytes, from the frame's magic to the end). Everything is checked
 * against the file: the table must describe exactly the bytes before it, so
 * a table from another file, a file cut short and then padded, or a damaged
 * size is refused rather than sending a reader to the wrong bytes.
 */
export function parseSeekTable(table: Buffer, fileSize: number, file = 'The file'): SeekTable {
  if (table.length < SKIPPABLE_HEADER_SIZE + SEEK_TABLE_FOOTER_SIZE || table.length > fileSize) throw corrupt(file, 'it is shorter than its fixed parts');
  const footerAt = table.length - SEEK_TABLE_FOOTER_SIZE;
  if (table.readUInt32LE(footerAt + 5) !== SEEKABLE_MAGIC) throw corrupt(file, 'its closing magic number is missing');
  const count = table.readUInt32LE(footerAt);
  const descriptor = table.readUInt8(footerAt + 4);
  if (descriptor & RESERVED_BITS) throw corrupt(file, `its descriptor 0x${descriptor.toString(16)} sets reserved bits (a newer, unknown layout)`);
  const withSums = (descriptor & CHECKSUM_FLAG) !== 0;
  const perEntry = withSums ? 12 : 8;
  if (count > MAX_SEEKABLE_FRAMES) throw corrupt(file, `it claims ${count} frames`);
  const frameSize = count * perEntry + SEEK_TABLE_FOOTER_SIZE;
  if (SKIPPABLE_HEADER_SIZE + frameSize !== table.length) throw corrupt(file, `${count} frames need a table of ${SKIPPABLE_HEADER_SIZE + frameSize} bytes, not ${table.length}`);
  if (table.readUInt32LE(0) !== SEEK_TABLE_MAGIC) throw corrupt(file, 'the table does not start with its skippable-frame magic number');
  if (table.readUInt32LE(4) !== frameSize) throw corrupt(file, `its frame size field says ${table.readUInt32LE(4)} bytes, the table has ${frameSize}`);

  const cOffsets = new Float64Array(count + 1);
  const dOffsets = new Float64Array(count + 1);
  const sums = withSums ? new Uint32Array(count) : null;
  const dataBytes = fileSize - table.length;
  let c = 0;
  let d = 0;
  for (let i = 0, at = SKIPPABLE_HEADER_SIZE; i < count; i++, at += perEntry) {
    const cSize = table.readUInt32LE(at);
    const dSize = table.readUInt32LE(at + 4);
    // Every real frame takes at least a few bytes; a frame of 0 bytes would make offsets ambiguous.
    if (cSize === 0) throw corrupt(file, `frame ${i} is listed with 0 compressed bytes`);
    c += cSize;
    d += dSize;
    if (c > dataBytes) throw corrupt(file, `frames 0 to ${i} already take ${c} bytes, more than the ${dataBytes} bytes before the table (is the file cut short?)`);
    cOffsets[i + 1] = c;
    dOffsets[i + 1] = d;
    if (sums) sums[i] = table.readUInt32LE(at + 8);
  }
  if (c !== dataBytes) throw corrupt(file, `its ${count} frames take ${c} bytes, but ${dataBytes} bytes come before the table`);
  if (d > Number.MAX_SAFE_INTEGER) throw corrupt(file, 'its content size is beyond what can be addressed');
  return new SeekTable(cOffsets, dOffsets, sums, table.length);
}

/**
 * The seek table at the end of an open file, or null when the file does not
 * end with one (a plain .zst: read it as a stream). A file that ends with the
 * seekable magic but whose table does not hold up throws E_CORRUPT_SOURCE.
 */
export function readSeekTable(fd: number, fileSize: number, file = 'The file'): SeekTable | null {
  if (fileSize < SKIPPABLE_HEADER_SIZE + SEEK_TABLE_FOOTER_SIZE) return null;
  const footer = Buffer.alloc(SEEK_TABLE_FOOTER_SIZE);
  if (readFully(fd, footer, 0, footer.length, fileSize - footer.length) !== footer.length) throw corrupt(file, 'it could not be read whole (the file shrank?)');
  if (!endsWithSeekTable(footer, fileSize)) return null;
  const count = footer.readUInt32LE(0);
  const perEntry = footer.readUInt8(4) & CHECKSUM_FLAG ? 12 : 8;
  // Bounded by the file before any memory is taken: a crafted count cannot ask for more than the file holds.
  const tableBytes = SKIPPABLE_HEADER_SIZE + count * perEntry + SEEK_TABLE_FOOTER_SIZE;
  if (count > MAX_SEEKABLE_FRAMES || tableBytes > fileSize) throw corrupt(file, `it claims ${count} frames, more than a file of ${fileSize} bytes can list`);
  const table = Buffer.alloc(tableBytes);
  if (readFully(fd, table, 0, tableBytes, fileSize - tableBytes) !== tableBytes) throw corrupt(file, 'it could not be read whole (the file shrank?)');
  return parseSeekTable(table, fileSize, file);
}

/**
 * Bytes of the seek table frame that ends an open file, or 0 when it does
 * not end with one whose header and footer agree. For readers that only need
 * to look past the table (at the frame before it, e.g. Imprint's metadata),
 * without reading or checking its entries.
 */
export function seekTableFrameLength(fd: number, fileSize: number): number {
  if (fileSize < SKIPPABLE_HEADER_SIZE + SEEK_TABLE_FOOTER_SIZE) return 0;
  const footer = Buffer.alloc(SEEK_TABLE_FOOTER_SIZE);
  if (readFully(fd, footer, 0, footer.length, fileSize - footer.length) !== footer.length || !endsWithSeekTable(footer, fileSize)) return 0;
  const frameSize = footer.readUInt32LE(0) * (footer.readUInt8(4) & CHECKSUM_FLAG ? 12 : 8) + SEEK_TABLE_FOOTER_SIZE;
  const length = SKIPPABLE_HEADER_SIZE + frameSize;
  if (length > fileSize) return 0;
  const head = Buffer.alloc(SKIPPABLE_HEADER_SIZE);
  if (readFully(fd, head, 0, head.length, fileSize - length) !== head.length) return 0;
  return head.readUInt32LE(0) === SEEK_TABLE_MAGIC && head.readUInt32LE(4) === frameSize ? length : 0;
}
