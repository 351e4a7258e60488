import * as fs from 'fs';
import type { FileExtent } from '../disks/filesystem-driver';
import type { SourcePartition } from '../disks/source-partitions';
import type { ByteSource } from '../formats/byte-source';
import { isAllZero } from '../io/chunk-crc';

/**
 * Copies a large file out of a seekable .zst backup straight from its
 * extents: the frames that hold them are decoded into one of two reused
 * buffers while the other is written to the destination by libuv's thread
 * (the second core), one large write per buffer.
 *
 * Through FilesystemView.read() every byte was decoded into a cached frame,
 * copied into a fresh 4 MiB buffer (the NTFS reader copied it once more into
 * a zeroed one) and written, one step after the other on one thread: of 140
 * MiB (the bench's 3 files) in 1.0 s, the copies and the page faults of fresh
 * buffers took about a third. Decoding on ZstdChunkPool's worker threads into
 * shared memory was measured too and lost: starting two threads and touching
 * 48 MiB of fresh shared memory cost 0.4-1.5 s on these machines, more than
 * the whole copy, while decoding a stored frame costs about a memcpy. So
 * was reading the next step's compressed bytes ahead on libuv's threads (two
 * more buffers): 237-344 ms for the bench's 140 MiB against 183-229 ms.
 *
 * The extents come from the filesystem's metadata and are untrusted: each
 * must lie inside the file and the volume, in order, or nothing is copied.
 */

/**
 * Bytes decoded and written per step: one frame (Imprint writes 4 MiB frames;
 * older backups have 2 MiB ones), decoded straight into the buffer, within
 * these bounds. Not two frames, as it was: the two buffers are fresh memory
 * in each `imprint extract`, and fresh memory costs its page faults, about
 * 8 ms per MiB on these machines; two 4 MiB buffers cost the bench's copy of
 * 2 MiB frames 30-60 ms, and twice as many writes of half the size cost
 * nothing measurable.
 */
const MIN_STEP = 1 << 20;
const MAX_STEP = 8 << 20;
/** Files smaller than this go through FilesystemView.read(), which caches frames for the small reads around them. */
export const COPY_MIN_BYTES = 4 << 20;

interface Piece {
  /** Offset in the file. */
  offset: number;
  /** Offset in the source's content. */
  source: number;
  length: number;
}

type SeekableSource = ByteSource & { seekable: NonNullable<ByteSource['seekable']> };

/** What an Extractor of partition `part` is given to copy its large files through `copier` (nothing without one). */
export function copyThrough(copier: ExtentCopier | null, partitions: readonly SourcePartition[], part: number): { copier?: { copier: ExtentCopier; volumeStart: number; volumeSize: number } } {
  const p = partitions.find((x) => x.number === part);
  return copier && p ? { copier: { copier, volumeStart: p.start, volumeSize: p.size } } : {};
}

export class ExtentCopier {
  /** The two buffers, kept from file to file: fresh memory costs its page faults every time. */
  private buffers: Buffer[] | null = null;
  private busy = false;

  private constructor(private readonly source: SeekableSource) {}

  /** A copier for `source`, or null when it cannot copy from it (only seekable .zst backups, for now). */
  static for(source: ByteSource): ExtentCopier | null {
    return source.seekable ? new ExtentCopier(source as SeekableSource) : null;
  }

  /**
   * Writes a file of `size` bytes whose data lies at `extents` of a volume
   * starting at `volumeStart` of the source (`volumeSize` bytes long) into
   * `fd`, from its offset 0; bytes no extent covers, and runs of zeros, are
   * left as holes (the caller sets the size). `onBytes` hears the file offset
   * reached.
   */
  async copy(fd: number, size: number, extents: readonly FileExtent[], volumeStart: number, volumeSize: number, onBytes: (reached: number) => void): Promise<void> {
    const step = this.stepFor(extents, volumeStart);
    const pieces = this.plan(size, extents, volumeStart, volumeSize, step);
    const reader = this.source.seekable.reader;
    const fresh = (): Buffer[] => [Buffer.allocUnsafeSlow(step), Buffer.allocUnsafeSlow(step)];
    // A second copy at the same time (two jobs of the app on one source) gets buffers of its own.
    if (!this.busy && (this.buffers?.[0]?.length ?? 0) < step) this.buffers = fresh();
    const mine = this.busy ? null : this.buffers;
    const buffers = mine ?? fresh();
    if (mine) this.busy = true;
    // The write still running from each buffer: it must end before the buffer is decoded into again.
    const writes: Promise<void>[] = buffers.map(() => Promise.resolve());
    let turn = 0;
    try {
      for (const p of pieces) {
        for (let done = 0; done < p.length; ) {
          const slot = turn++ % buffers.length;
          const data = buffers[slot]!.subarray(0, Math.min(step, p.length - done));
          await writes[slot];
          if (reader.readInto(p.source + done, data) !== data.length) throw new Error(`the backup ends inside the file's data (at byte ${p.source + done} of its content)`);
          const at = p.offset + done;
          // A run of zeros (a hole the filesystem allocated, mostly) stays a hole where the destination can.
          writes[slot] = isAllZero(data) ? Promise.resolve() : writeAll(fd, data, at);
          done += data.length;
          onBytes(at + data.length);
        }
      }
    } finally {
      // No write may still use a buffer (or the fd) once this returns, even on an error.
      await Promise.allSettled(writes);
      if (mine) this.busy = false;
    }
    await Promise.all(writes);
  }

  /** The step for a file: its largest frame where its extents start (frames are all one size in a backup Imprint wrote), within bounds. */
  private stepFor(extents: readonly FileExtent[], volumeStart: number): number {
    const { table } = this.source.seekable.reader;
    let largest = MIN_STEP;
    for (const e of extents) {
      const index = table.frameAt(volumeStart + e.volumeOffset);
      if (index >= 0) largest = Math.max(largest, table.frame(index).decompressedSize);
      if (largest >= MAX_STEP) return MAX_STEP;
    }
    return largest;
  }

  /** The extents checked and cut into pieces of source content no longer than a step, cut where frames start so each frame is decoded once. */
  private plan(size: number, extents: readonly FileExtent[], volumeStart: number, volumeSize: number, step: number): Piece[] {
    const { table, size: content } = this.source.seekable.reader;
    const pieces: Piece[] = [];
    let fileEnd = 0;
    for (const e of extents) {
      const ok = [e.offset, e.length, e.volumeOffset].every((n) => Number.isSafeInteger(n) && n >= 0);
      if (!ok || e.offset < fileEnd || e.offset + e.length > size || e.volumeOffset + e.length > volumeSize || volumeStart + e.volumeOffset + e.length > content) {
        throw new Error(`the filesystem places the file's bytes ${e.offset}+${e.length} at ${e.volumeOffset}, outside the file or the partition (damaged metadata)`);
      }
      fileEnd = e.offset + e.length;
      for (let done = 0; done < e.length; ) {
        const from = volumeStart + e.volumeOffset + done;
        let to = from + Math.min(e.length - done, step);
        if (to < from + e.length - done) {
          const frameStart = table.frame(table.frameAt(to)).decompressedOffset;
          if (frameStart > from) to = frameStart;
        }
        pieces.push({ offset: e.offset + done, source: from, length: to - from });
        done += to - from;
      }
    }
    return pieces;
  }
}

async function writeAll(fd: number, data: Buffer, at: number): Promise<void> {
  for (let done = 0; done < data.length; ) {
    const n = await new Promise<number>((resolve, reject) => fs.write(fd, data, done, data.length - done, at + done, (err, written) => (err ? reject(err) : resolve(written))));
    done += n;
  }
}
