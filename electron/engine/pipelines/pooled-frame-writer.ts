import { ImprintError } from '../errors';
import { isAllZero } from '../io/chunk-crc';
import { fillZeros } from '../disks/byte-ranges';
import { ZstdFramePool } from '../formats/zstd-frame-pool';
import { SEEKABLE_FRAME_SIZE, SeekableFrameEncoder, type EncodedFrame, type SeekableZstdWriter } from '../formats/zstd-seekable-writer';

/**
 * Content written as a seekable .zst's frames, compressed on a pool of
 * threads (formats/zstd-frame-pool.ts) instead of the calling thread, for a
 * producer that hands over its bytes in order as plain buffers (a backup
 * folder's export: its chunks, in drive order, from the restore's decoding
 * threads).
 * The bytes are copied into one of a few frame slots of shared memory; a
 * full slot is compressed on a thread while the next fills, and frames are
 * appended to `writer` in content order. A slot of zeros (free space) gets
 * the encoder's ready-made zero frame, compressing nothing.
 *
 * Measured on the bench drive's folder (3 GiB drive, 762 MiB stored, level
 * 3, pieces in the page cache, three runs each): `backups export` took
 * 6.9-7.2 s compressing on its own thread, 5.7-6.1 s with two pool
 * threads (the pieces still read and decoded on the calling thread), and
 * 5.2-5.4 s with the pieces decoded on the restore's threads too
 * (folder-export.ts). Free space once went through writeZeros as fill(0)
 * of the slot, which V8 does byte by byte in shared memory: slower than
 * copying it (6.7-7.3 s against 5.7-6.1); it copies zeros now.
 */

/** Frames compressed or waiting at once: one per thread and as many again, so a thread finds the next frame ready. */
const SLOTS_PER_THREAD = 2;

export class PooledFrameWriter {
  private readonly memory: SharedArrayBuffer;
  private readonly pool: ZstdFramePool;
  private readonly zeros: SeekableFrameEncoder;
  private readonly slots: number;
  /** Frames on their way, in content order; each holds its slot until appended. */
  private readonly inflight: Promise<EncodedFrame>[] = [];
  private slot = 0;
  private fill = 0;
  private closed = false;

  constructor(
    private readonly writer: SeekableZstdWriter,
    level: number,
    threads: number,
    private readonly frameSize = SEEKABLE_FRAME_SIZE,
  ) {
    this.slots = Math.max(2, SLOTS_PER_THREAD * threads);
    this.memory = new SharedArrayBuffer(this.slots * frameSize);
    this.pool = new ZstdFramePool(threads, level, this.memory, frameSize);
    this.zeros = new SeekableFrameEncoder(level);
  }

  /** Appends `data` to the content (copied: the caller may reuse it when this resolves). */
  async write(data: Uint8Array): Promise<void> {
    await this.append(data.length, (slot, done) => slot.set(data.subarray(done, done + slot.length)));
  }

  /**
   * Appends `length` zero bytes (free space, a chunk a generation stored
   * nothing of) without reading any: whole frames of them are the
   * ready-made zero frame, the rest is zeroed in the slot by copying zeros
   * (disks/byte-ranges.ts's fillZeros: in shared memory V8's fill() goes
   * byte by byte).
   */
  async writeZeros(length: number): Promise<void> {
    await this.append(length, (slot) => fillZeros(slot, 0, slot.length), () => copyOf(this.zeros.zeroFrame(this.frameSize)));
  }

  /**
   * Appends `length` bytes, `put` filling each part of a slot with them
   * (`done`: how many came before it); `whole`, when given, is the frame of
   * a whole slot of them, taken instead of filling and compressing one.
   */
  private async append(length: number, put: (slot: Buffer, done: number) => void, whole?: () => EncodedFrame): Promise<void> {
    if (this.closed) throw new ImprintError('E_INTERNAL', 'PooledFrameWriter used after finish.');
    for (let done = 0; done < length; ) {
      if (this.fill === 0) await this.slotFree();
      if (whole && this.fill === 0 && length - done >= this.frameSize) {
        this.inflight.push(Promise.resolve(whole()));
        this.slot = (this.slot + 1) % this.slots;
        done += this.frameSize;
        continue;
      }
      const n = Math.min(this.frameSize - this.fill, length - done);
      put(Buffer.from(this.memory, this.slot * this.frameSize + this.fill, n), done);
      this.fill += n;
      done += n;
      if (this.fill === this.frameSize) this.submit();
    }
  }

  /** Compresses what is waiting and appends every frame; the writer may then be finished. */
  async finish(): Promise<void> {
    if (this.fill > 0) this.submit();
    try {
      while (this.inflight.length > 0) this.writer.appendFrame(await (this.inflight.shift() as Promise<EncodedFrame>));
    } finally {
      await this.close();
    }
  }

  /** Stops the threads (after finish, or on an error: frames on their way are dropped). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Frames still on their way fail once the pool stops: nothing waits for them.
    for (const p of this.inflight.splice(0)) p.catch(() => undefined);
    await this.pool.close();
  }

  /** Sends the current slot's frame on its way and moves to the next slot. */
  private submit(): void {
    const offset = this.slot * this.frameSize;
    const content = new Uint8Array(this.memory, offset, this.fill);
    this.inflight.push(isAllZero(content) ? Promise.resolve(copyOf(this.zeros.zeroFrame(this.fill))) : this.pool.encode(offset, this.fill));
    this.slot = (this.slot + 1) % this.slots;
    this.fill = 0;
  }

  /** Waits until the current slot's previous frame is appended, so its memory may be filled again. */
  private async slotFree(): Promise<void> {
    while (this.inflight.length >= this.slots) this.writer.appendFrame(await (this.inflight.shift() as Promise<EncodedFrame>));
  }
}

/** A zero frame the encoder keeps for reuse, as its own frame: appendFrame releases what it is given. */
function copyOf(frame: EncodedFrame): EncodedFrame {
  return { bytes: frame.bytes, decompressedSize: frame.decompressedSize, checksum: frame.checksum };
}
