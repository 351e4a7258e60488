import type * as ZstdBinding from 'zstd-napi/binding';
import { ImprintError } from '../errors';
import { readFully } from '../io/full-io';
import { readSeekTable, type SeekTable, type SeekableFrame } from './zstd-seek-table';
import { MAX_FRAME_CONTENT } from './zstd-seekable-writer';

/**
 * Random access to the content of a seekable .zst (zstd-seek-table.ts):
 * `read(offset, length)` decodes only the frames that hold the range, and
 * keeps the last few decoded frames, since a reader walking a filesystem in
 * the image comes back to the same frames (inode tables, directories) again
 * and again.
 *
 * The file is untrusted: the table is checked against the file's size when
 * opened, and each frame when decoded must be exactly one zstd frame of the
 * listed compressed size that decodes to exactly the listed content size,
 * with its checksums agreeing.
 */

const ZSTD_MAGIC = 0xfd2fb528;
const SKIPPABLE_MASK = 0xfffffff0;
const SKIPPABLE_START = 0x184d2a50;
/** Decoded frames kept: 8 x 2 MiB frames is 16 MiB, enough for a filesystem walk's working set. */
const DEFAULT_CACHED_FRAMES = 8;
/** Frame indices remembered as decoded before (4096 numbers: a few tens of KiB). */
const SEEN_FRAMES = 4096;

function loadBinding(): typeof ZstdBinding {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- native binding, loaded on the thread that uses it
  return require('zstd-napi/binding') as typeof ZstdBinding;
}

/** Whether `head` (a file's first bytes) starts like zstd: a frame or a skippable frame. */
function looksLikeZstd(head: Buffer): boolean {
  if (head.length < 4) return false;
  const magic = head.readUInt32LE(0);
  return magic === ZSTD_MAGIC || (magic & SKIPPABLE_MASK) >>> 0 === SKIPPABLE_START;
}

export class SeekableZstdReader {
  private readonly z = loadBinding();
  private readonly dctx = new this.z.DCtx();
  /** Decoded frames by index, least recently used first (a Map keeps insertion order). */
  private readonly cache = new Map<number, Buffer>();
  /** Compressed bytes of the frame being decoded, reused between frames. */
  private input: Buffer = Buffer.alloc(0);
  /**
   * Memory of frames evicted from the cache (and given back by `lend`'s
   * borrowers), decoded into next: a fresh 2 MiB buffer per frame costs its
   * page faults every time, and halved the speed of reading a file from end
   * to end. At most `cachedFrames` kept.
   */
  private readonly spares: Buffer[] = [];
  /**
   * Frames decoded at least once (bounded). The cache takes new memory only
   * for a frame decoded before: one read once (the metadata on the way to a
   * large file) is decoded into the memory of the oldest cached frame
   * instead. Fresh memory costs its page faults: about 8 ms per MiB on these
   * machines, and the 8 frames a first `imprint extract` filled cost it
   * 40-60 ms of its 120-160 ms of reading metadata (measured side by side).
   * A walk comes back to its frames, and the cache grows to its full size.
   */
  private readonly seen = new Set<number>();

  private constructor(
    private readonly fd: number,
    readonly table: SeekTable,
    private readonly file: string,
    private readonly cachedFrames: number,
  ) {}

  /**
   * A reader over an open file of `fileSize` bytes (the caller owns `fd` and
   * closes it), or null when the file has no seek table at its end: a plain
   * .zst, to be read as a stream instead. A damaged table throws.
   */
  static tryOpen(fd: number, fileSize: number, opts: { file?: string; cachedFrames?: number } = {}): SeekableZstdReader | null {
    const file = opts.file ?? 'The file';
    const table = readSeekTable(fd, fileSize, file);
    if (!table) return null;
    for (let i = 0; i < table.frameCount; i++) {
      const size = table.frame(i).decompressedSize;
      if (size > MAX_FRAME_CONTENT) {
        throw new ImprintError('E_UNSUPPORTED_FORMAT', `${file} has a frame of ${size} bytes; Imprint reads seekable zstd files whose frames hold at most ${MAX_FRAME_CONTENT} bytes (as the reference tools write them).`);
      }
    }
    return new SeekableZstdReader(fd, table, file, Math.max(1, opts.cachedFrames ?? DEFAULT_CACHED_FRAMES));
  }

  /** Like tryOpen, but a file without a seek table is an error that says what it is. */
  static open(fd: number, fileSize: number, opts: { file?: string; cachedFrames?: number } = {}): SeekableZstdReader {
    const reader = SeekableZstdReader.tryOpen(fd, fileSize, opts);
    if (reader) return reader;
    const file = opts.file ?? 'The file';
    const head = Buffer.alloc(4);
    const zstd = looksLikeZstd(head.subarray(0, readFully(fd, head, 0, 4, 0)));
    throw new ImprintError(
      'E_UNSUPPORTED_FORMAT',
      zstd
        ? `${file} is not seekable: it is zstd without a seek table at its end (a plain .zst, or one cut short), so it can only be read from start to end.`
        : `${file} is not a zstd file.`,
    );
  }

  /** Bytes of content (what `zstd -dc` outputs). */
  get size(): number {
    return this.table.contentSize;
  }

  frames(): IterableIterator<SeekableFrame> {
    return this.table.frames();
  }

  /**
   * Content bytes from `offset`: `length` of them, fewer only where the
   * content ends. Decodes the frames the range touches, and no others.
   */
  read(offset: number, length: number): Buffer {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) throw new RangeError(`read(${offset}, ${length})`);
    const end = Math.min(this.size, offset + length);
    const out = Buffer.allocUnsafe(Math.max(0, end - offset));
    let at = offset;
    while (at < end) {
      const index = this.table.frameAt(at);
      const frame = this.table.frame(index);
      const content = this.decoded(frame);
      const from = at - frame.decompressedOffset;
      const n = Math.min(end - at, frame.decompressedSize - from);
      content.copy(out, at - offset, from, from + n);
      at += n;
    }
    return out;
  }

  /**
   * Content bytes from `offset` into `out`: `out.length` of them, fewer only
   * where the content ends; returns the count. A frame wholly inside the range
   * is decoded straight into `out`, past the cache: a restore reads each frame
   * once, and a copy of every byte cost it more than the cache saves.
   */
  readInto(offset: number, out: Buffer): number {
    if (!Number.isSafeInteger(offset) || offset < 0) throw new RangeError(`readInto(${offset})`);
    const end = Math.min(this.size, offset + out.length);
    let at = offset;
    while (at < end) {
      const frame = this.table.frame(this.table.frameAt(at));
      const from = at - frame.decompressedOffset;
      const n = Math.min(end - at, frame.decompressedSize - from);
      if (from === 0 && n === frame.decompressedSize && !this.cache.has(frame.index)) this.decode(frame, out.subarray(at - offset, at - offset + n));
      else this.decoded(frame).copy(out, at - offset, from, from + n);
      at += n;
    }
    return Math.max(0, end - offset);
  }

  /** Frame `frame`'s content, from the cache or decoded now. */
  private decoded(frame: SeekableFrame): Buffer {
    const hit = this.cache.get(frame.index);
    if (hit) {
      this.cache.delete(frame.index);
      this.cache.set(frame.index, hit);
      return hit;
    }
    const again = this.seen.has(frame.index);
    if (!again) {
      if (this.seen.size >= SEEN_FRAMES) this.seen.clear();
      this.seen.add(frame.index);
    }
    if (this.cache.size >= this.cachedFrames || (!again && this.cache.size > 0 && this.spares.length === 0)) this.evictOldest();
    const content = this.decode(frame);
    this.cache.set(frame.index, content);
    return content;
  }

  /**
   * `count` buffers of at least `size` bytes for a caller that decodes with
   * readInto (extract-copy.ts), made of memory this reader has touched
   * already where it can: spare memory first, then the least recently used
   * cached frames'. Fresh memory costs its page faults, about 3-8 ms per MiB
   * on the machines Imprint is benchmarked on, more than decoding a frame
   * again later. `giveBack` them when done.
   */
  lend(size: number, count: number): Buffer[] {
    const out: Buffer[] = [];
    while (out.length < count) {
      const i = this.spares.findIndex((b) => b.length >= size);
      if (i >= 0) out.push(...this.spares.splice(i, 1));
      else if (this.cache.size > 0) this.evictOldest();
      else out.push(Buffer.allocUnsafeSlow(size));
    }
    return out;
  }

  /** Buffers from `lend`, no longer used by the borrower. */
  giveBack(buffers: readonly Buffer[]): void {
    for (const b of buffers) if (this.spares.length < this.cachedFrames) this.spares.push(b);
  }

  private evictOldest(): void {
    const oldest = this.cache.keys().next().value as number;
    const memory = this.cache.get(oldest);
    this.cache.delete(oldest);
    // All of its memory: a smaller frame (a backup's last) was decoded into the start of it. Cached frames' memory is
    // always this reader's own (allocUnsafeSlow, never Node's shared pool of small buffers), so all of it is free to reuse.
    if (memory && this.spares.length < this.cachedFrames) this.spares.push(Buffer.from(memory.buffer, memory.byteOffset, memory.buffer.byteLength - memory.byteOffset));
  }

  /** Decodes one frame, into `into` (exactly its content size) when given, else into memory of its own. */
  private decode(frame: SeekableFrame, into?: Buffer): Buffer {
    const where = `frame ${frame.index} (at byte ${frame.compressedOffset} of the file)`;
    const bad = (why: string, cause?: unknown): ImprintError =>
      new ImprintError('E_CORRUPT_SOURCE', `${this.file} is damaged: ${where} ${why}.`, { cause, offset: frame.compressedOffset });
    // Room for the largest a frame of this content size can be (an incompressible one), so the buffer is not
    // replaced, and its memory touched afresh, each time a frame compresses a little less than the last.
    if (this.input.length < frame.compressedSize) this.input = Buffer.allocUnsafe(Math.max(frame.compressedSize, frame.decompressedSize + (frame.decompressedSize >> 7) + 4096));
    const src = this.input.subarray(0, frame.compressedSize);
    if (readFully(this.fd, src, 0, src.length, frame.compressedOffset) !== src.length) throw bad('ends early (the file shrank while open?)');
    if (src.length < 4 || src.readUInt32LE(0) !== ZSTD_MAGIC) throw bad('does not start with a zstd frame header');
    let frameBytes: number;
    try {
      frameBytes = this.z.findFrameCompressedSize(src);
    } catch (err) {
      throw bad('has a damaged header', err);
    }
    if (frameBytes !== src.length) throw bad(`is ${frameBytes} bytes long, but the seek table lists ${src.length}`);
    const declared = this.z.getFrameContentSize(src);
    if (declared !== null && declared !== frame.decompressedSize) throw bad(`declares ${declared} bytes of content, but the seek table lists ${frame.decompressedSize}`);
    const fhd = src[4] as number;
    // The frame's own content checksum (libzstd verifies the content against it while decoding) must be the table's.
    // A frame written without one (other writers may) leaves the table's checksum unchecked: Imprint has no XXH64 of its own.
    if (frame.checksum !== null && fhd & 0x04 && src.readUInt32LE(src.length - 4) !== frame.checksum) throw bad('has a checksum that disagrees with the seek table');
    const spare = into ? -1 : this.spares.findIndex((b) => b.length >= frame.decompressedSize);
    const out = into ?? (spare >= 0 ? (this.spares.splice(spare, 1)[0] as Buffer).subarray(0, frame.decompressedSize) : Buffer.allocUnsafeSlow(frame.decompressedSize));
    let n: number;
    try {
      n = this.dctx.decompress(out, src);
    } catch (err) {
      throw bad(`does not decode (${err instanceof Error ? err.message : String(err)})`, err);
    }
    if (n !== frame.decompressedSize) throw bad(`decodes to ${n} bytes, but the seek table lists ${frame.decompressedSize}`);
    return out;
  }
}
