import type * as ZstdBinding from 'zstd-napi/binding';
import { ImprintError } from '../errors';
import { isAllZero } from '../io/chunk-crc';
import { EMPTY_CONTENT_CHECKSUM, MAX_SEEKABLE_FRAMES, encodeSeekTable, type SeekTableEntry } from './zstd-seek-table';

/**
 * Writes zstd's seekable format: the content cut into independent frames of
 * SEEKABLE_FRAME_SIZE bytes, then the seek table (zstd-seek-table.ts). The
 * file is ordinary zstd to every decoder (`zstd -dc` concatenates the frames
 * and skips the table), and a reader that knows the table decodes only the
 * frames a range needs.
 *
 * Two parts, so frames can be compressed on several threads later:
 * SeekableFrameEncoder turns one frame's bytes into one zstd frame (one per
 * thread, each with its own context); SeekableZstdWriter takes frames in
 * order, writes them out and keeps the table. `write()` does both on the
 * calling thread.
 */

/**
 * Decompressed bytes per frame. Measured on a 256 MiB ext4 image (59 MiB of
 * /usr/bin, 70 MiB of /usr/lib, 59 MiB of headers and Python sources, 25 MiB
 * of random bytes, the rest free) at level 3, against one `zstd -3 -T0`
 * stream of it (81.86 MB): size over that stream, and CPU per cold 4 KiB read
 * (one frame decoded):
 *
 *   256 KiB +7.4 %, 0.5 ms;  1 MiB +2.9 %, 1.4 ms;  2 MiB +0.95 %, 3.1 ms;
 *   4 MiB -0.1 %, 6.9 ms;  8 MiB -0.5 %, 10 ms
 *
 * 4 MiB: the one size here that is no larger than a single stream, which a
 * whole-drive backup is measured against (`dd | zstd -T0`: with 2 MiB frames
 * the bench's 1 GiB drive came out 0.3 % larger, 186.95 against 186.40 MB;
 * with 4 MiB, 186.23 MB at the same CPU). It is also the restore's chunk, so
 * a chunk is one frame. A cold read decodes twice what it did at 2 MiB
 * (7 ms, not 3), which browsing pays once per frame it touches. Compression
 * speed is the same from 1 MiB up (about 270 MB/s of CPU here). Compressing
 * each frame with libzstd's own workers (nbWorkers, 512 KiB-1 MiB jobs) cost
 * 1.6-3.3 % more size: parallel frames belong on separate threads, one
 * encoder each.
 */
export const SEEKABLE_FRAME_SIZE = 4 << 20;
/** log2(SEEKABLE_FRAME_SIZE): a window that spans a whole frame. */
const FRAME_WINDOW_LOG = 22;

/** One compressed frame, ready to be written. */
export interface EncodedFrame {
  /** The whole zstd frame (header to content checksum). */
  bytes: Uint8Array;
  decompressedSize: number;
  /** Low 32 bits of XXH64 of the content: the frame's own content checksum, which the seek table repeats. */
  checksum: number;
  /**
   * Gives `bytes`' memory back to whoever lent it (a ZstdFramePool's shared
   * output slot); SeekableZstdWriter.appendFrame calls it once the sink has
   * taken the bytes.
   */
  release?: () => void;
  /** The CRC-32 of the frame's content (io/chunk-crc.ts), taken from the very bytes compressed, when asked for (ZstdFramePool). */
  contentCrc?: number;
}

function loadBinding(): typeof ZstdBinding {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- native binding, loaded on the thread that uses it
  return require('zstd-napi/binding') as typeof ZstdBinding;
}

/** Reads a frame's content checksum, the 4 bytes libzstd puts at its end when checksumFlag is set. */
function trailingChecksum(frame: Uint8Array): number {
  return Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength).readUInt32LE(frame.byteLength - 4);
}

/**
 * Compresses one frame at a time, each independent of the others, with a
 * content checksum (libzstd computes it as XXH64's low 32 bits, exactly the
 * seek table's checksum, so no second hash pass is needed) and its content
 * size in the header (`zstd -l` and readers see each frame's size).
 */
export class SeekableFrameEncoder {
  private readonly z = loadBinding();
  private readonly cctx = new this.z.CCtx();
  private out: Buffer = Buffer.alloc(0);
  /** Frames of zeros by length, made once: free space costs no compression. */
  private readonly zeroFrames = new Map<number, EncodedFrame>();

  constructor(private readonly level: number) {
    this.cctx.setParameter(this.z.CParameter.compressionLevel, level);
    // Levels 1-2 look back less than a frame (libzstd's tables); a window as wide as the frame costs
    // no measurable CPU there and makes frames smaller (bench drive's used blocks at level 2: 385.2
    // against 388.9 MB; level 1: 391.3 against 397.2). Decoders take up to 8 MiB windows by default.
    if (level <= 2) this.cctx.setParameter(this.z.CParameter.windowLog, FRAME_WINDOW_LOG);
    this.cctx.setParameter(this.z.CParameter.checksumFlag, 1);
    this.cctx.setParameter(this.z.CParameter.contentSizeFlag, 1);
  }

  /**
   * The frame for `input` (at most MAX_FRAME_CONTENT bytes). Its `bytes` are
   * this encoder's own memory, valid until the next call: copy or write them
   * before encoding again.
   */
  encode(input: Uint8Array): EncodedFrame {
    if (input.length === 0 || input.length > MAX_FRAME_CONTENT) throw new ImprintError('E_INTERNAL', `A seekable frame holds 1 to ${MAX_FRAME_CONTENT} bytes; got ${input.length}.`);
    if (isAllZero(input)) return this.zeroFrame(input.length);
    const bound = this.z.compressBound(input.length);
    if (this.out.length < bound) this.out = Buffer.allocUnsafe(bound);
    const n = this.cctx.compress2(this.out, input);
    const bytes = this.out.subarray(0, n);
    return { bytes, decompressedSize: input.length, checksum: trailingChecksum(bytes) };
  }

  /**
   * encode(), written into `dest` (at least compressBound(input.length)
   * bytes, e.g. a pool's shared output slot) instead of this encoder's own
   * memory: a frame worker then sends back only sizes, where a fresh buffer
   * per frame, filled and transferred, cost a third of its thread's time.
   * Returns the frame's length in `dest` and its checksum.
   */
  encodeInto(input: Uint8Array, dest: Buffer): { length: number; checksum: number } {
    if (input.length === 0 || input.length > MAX_FRAME_CONTENT) throw new ImprintError('E_INTERNAL', `A seekable frame holds 1 to ${MAX_FRAME_CONTENT} bytes; got ${input.length}.`);
    if (dest.length < this.z.compressBound(input.length)) throw new ImprintError('E_INTERNAL', `A frame of ${input.length} bytes needs more room than ${dest.length} bytes.`);
    if (isAllZero(input)) {
      const zero = this.zeroFrame(input.length);
      dest.set(zero.bytes);
      return { length: zero.bytes.length, checksum: zero.checksum };
    }
    const n = this.cctx.compress2(dest, input);
    return { length: n, checksum: trailingChecksum(dest.subarray(0, n)) };
  }

  /** The frame of `length` zeros, made once per length: free space costs neither compression nor a zero check. */
  zeroFrame(length: number): EncodedFrame {
    let frame = this.zeroFrames.get(length);
    if (!frame) {
      const one = new SeekableFrameEncoder(this.level);
      const made = one.encodeData(Buffer.alloc(length));
      frame = { ...made, bytes: Buffer.from(made.bytes) };
      // Used for every stretch of free space and never decoded again while backing up (the read-back
      // checks the file's bytes): shown once, here, to decode to exactly `length` zeros.
      const back = Buffer.alloc(length + 1, 1);
      const n = new this.z.DCtx().decompress(back, frame.bytes);
      if (n !== length || !isAllZero(back.subarray(0, n))) throw new ImprintError('E_INTERNAL', `libzstd's frame of ${length} zeros decodes to something else.`);
      this.zeroFrames.set(length, frame);
    }
    return frame;
  }

  /** encode() without the zero check: how the zero frame itself is made. */
  private encodeData(input: Uint8Array): EncodedFrame {
    const out = Buffer.allocUnsafe(this.z.compressBound(input.length));
    const bytes = out.subarray(0, this.cctx.compress2(out, input));
    return { bytes, decompressedSize: input.length, checksum: trailingChecksum(bytes) };
  }
}

/** A frame's content is listed as a 32-bit size; the reference tools cap it at 1 GiB. */
export const MAX_FRAME_CONTENT = 0x40000000;
const SKIPPABLE_MASK = 0xfffffff0;
const SKIPPABLE_START = 0x184d2a50;

/** What a finished seekable file holds. */
export interface SeekableSummary {
  /** Bytes of content (what `zstd -dc` gives). */
  contentBytes: number;
  /** Bytes of the whole file, seek table included. */
  fileBytes: number;
  frames: number;
}

/**
 * Lays out a seekable .zst: frames in order, then the table. Bytes go to
 * `sink` as they are ready (the backup's output file, a test's array...);
 * the sink copies or writes them before it returns (their memory is reused).
 */
export class SeekableZstdWriter {
  private readonly entries: SeekTableEntry[] = [];
  private readonly pending: Buffer;
  private fill = 0;
  private contentBytes = 0;
  private fileBytes = 0;
  private encoder: SeekableFrameEncoder | null = null;
  private finished = false;

  constructor(
    private readonly sink: (bytes: Uint8Array) => void,
    private readonly opts: { level: number; frameSize?: number },
  ) {
    const frameSize = opts.frameSize ?? SEEKABLE_FRAME_SIZE;
    if (!Number.isInteger(frameSize) || frameSize <= 0 || frameSize > MAX_FRAME_CONTENT) throw new ImprintError('E_INTERNAL', `Bad seekable frame size ${frameSize}.`);
    this.pending = Buffer.allocUnsafe(frameSize);
  }

  get frameSize(): number {
    return this.pending.length;
  }

  /** Bytes written to the sink so far. */
  get bytesOut(): number {
    return this.fileBytes;
  }

  /**
   * Content to compress on this thread: cut into frames of `frameSize`
   * bytes (the last one may be shorter). Whole frames are compressed straight
   * from `data`; only a frame split across calls is copied.
   */
  write(data: Uint8Array): void {
    this.checkOpen();
    const size = this.pending.length;
    let at = 0;
    if (this.fill > 0) {
      const n = Math.min(size - this.fill, data.length);
      this.pending.set(data.subarray(0, n), this.fill);
      this.fill += n;
      at = n;
      if (this.fill === size) this.flushPending();
    }
    for (; data.length - at >= size; at += size) this.appendFrame(this.encoderOf().encode(data.subarray(at, at + size)));
    if (at < data.length) {
      this.pending.set(data.subarray(at), 0);
      this.fill = data.length - at;
    }
  }

  /**
   * A frame compressed elsewhere (a worker's SeekableFrameEncoder), in
   * content order. Frames of any size are fine for the format; only
   * `write()` cuts at `frameSize`. Not to be mixed with a part-filled write().
   */
  appendFrame(frame: EncodedFrame): void {
    this.checkOpen();
    if (this.fill > 0) throw new ImprintError('E_INTERNAL', 'A frame was appended while part of a frame from write() was waiting.');
    if (frame.decompressedSize <= 0 || frame.decompressedSize > MAX_FRAME_CONTENT || frame.bytes.length === 0 || frame.bytes.length > 0xffffffff) {
      throw new ImprintError('E_INTERNAL', `A seekable frame of ${frame.decompressedSize} bytes in ${frame.bytes.length} cannot be listed.`);
    }
    this.emit(frame.bytes, frame.decompressedSize, frame.checksum);
    frame.release?.();
  }

  /**
   * A skippable frame (magic 0x184D2A50..5F, e.g. Imprint's metadata) at this
   * point of the file. The spec lists every frame, skippable ones with 0
   * decompressed bytes, so the table still accounts for every byte.
   */
  appendSkippable(frame: Uint8Array): void {
    this.flush();
    const view = Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength);
    if (view.length < 8 || (view.readUInt32LE(0) & SKIPPABLE_MASK) >>> 0 !== SKIPPABLE_START || view.readUInt32LE(4) !== view.length - 8) {
      throw new ImprintError('E_INTERNAL', 'appendSkippable was given something other than one whole skippable frame.');
    }
    this.emit(frame, 0, EMPTY_CONTENT_CHECKSUM);
  }

  /** Compresses what is waiting as a last, shorter frame. */
  flush(): void {
    this.checkOpen();
    if (this.fill === 0) return;
    const n = this.fill;
    this.fill = 0;
    this.emit(...frameParts(this.encoderOf().encode(this.pending.subarray(0, n))));
  }

  /** Ends the content and writes the seek table. */
  finish(): SeekableSummary {
    this.flush();
    this.finished = true;
    const table = encodeSeekTable(this.entries, true);
    this.sink(table);
    this.fileBytes += table.length;
    return { contentBytes: this.contentBytes, fileBytes: this.fileBytes, frames: this.entries.length };
  }

  private flushPending(): void {
    this.fill = 0;
    this.emit(...frameParts(this.encoderOf().encode(this.pending)));
  }

  private emit(bytes: Uint8Array, decompressedSize: number, checksum: number): void {
    if (this.entries.length >= MAX_SEEKABLE_FRAMES) throw new ImprintError('E_INTERNAL', `A seekable file holds at most ${MAX_SEEKABLE_FRAMES} frames.`);
    this.sink(bytes);
    this.entries.push({ compressedSize: bytes.length, decompressedSize, checksum });
    this.fileBytes += bytes.length;
    this.contentBytes += decompressedSize;
  }

  private encoderOf(): SeekableFrameEncoder {
    this.encoder ??= new SeekableFrameEncoder(this.opts.level);
    return this.encoder;
  }

  private checkOpen(): void {
    if (this.finished) throw new ImprintError('E_INTERNAL', 'The seekable file was already finished.');
  }
}

function frameParts(f: EncodedFrame): [Uint8Array, number, number] {
  return [f.bytes, f.decompressedSize, f.checksum];
}
