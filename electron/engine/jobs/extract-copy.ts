import * as fs from 'fs';
import type { FileExtent } from '../disks/filesystem-driver';
import type { SourcePartition } from '../disks/source-partitions';
import type { ByteSource } from '../formats/byte-source';
import { isAllZero } from '../io/chunk-crc';

/**
 * Copies a large file out of a seekable .zst backup straight from its
 * extents: each frame that holds some of them is decoded once, whole, into
 * one of two buffers while the other is written to the destination by
 * libuv's thread (the second core). The buffers are memory the seekable
 * reader has touched already (its cached frames', lent): on the machines
 * Imprint is benchmarked on, memory touched for the first time costs about
 * 3-8 ms per MiB of page faults (the VM hands freed memory back to its
 * host), more than decoding it. Not fsynced, as cp and tar do not: a copy
 * that fails is removed, and one stopped early (killed) is left shorter than
 * the file, never looking complete (plan()).
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
 * And touching the two buffers' memory ahead on libuv's thread (a read of
 * /dev/zero) while the caller reads the metadata: more page faults in all
 * (the reader's cache had touched two frames' memory anyway) and no gain on
 * two shared cores.
 *
 * The extents come from the filesystem's metadata and are untrusted: each
 * must lie inside the file and the volume, in order, or nothing is copied.
 */

/**
 * Bytes decoded and written per step: one frame (Imprint writes 4 MiB frames;
 * older backups have 2 MiB ones), decoded straight into the buffer; the
 * buffers are the size of the largest frame, within these bounds. Not two
 * frames, as it was: fresh memory costs its page faults, and two 4 MiB
 * buffers cost the bench's copy of 2 MiB frames 30-60 ms, while twice as
 * many writes of half the size cost nothing measurable.
 */
const MIN_STEP = 1 << 20;
const MAX_STEP = 8 << 20;
/** Files smaller than this go through FilesystemView.read(), which caches frames for the small reads around them. */
export const COPY_MIN_BYTES = 4 << 20;

/** One step: content decoded into a buffer, then written from it to the file. */
interface Step {
  /** Offset in the source's content, and bytes decoded from there (a whole frame where the buffer holds one). */
  source: number;
  length: number;
  /** What of the buffer goes where in the file: `at` in the buffer, `offset` in the file; checked first by `check` where the filesystem keeps checksums. */
  writes: { at: number; offset: number; length: number; check?: (data: Buffer) => Promise<void> }[];
}

type SeekableSource = ByteSource & { seekable: NonNullable<ByteSource['seekable']> };

/** What an Extractor of partition `part` is given to copy its large files through `copier` (nothing without one). */
export function copyThrough(copier: ExtentCopier | null, partitions: readonly SourcePartition[], part: number): { copier?: { copier: ExtentCopier; volumeStart: number; volumeSize: number } } {
  const p = partitions.find((x) => x.number === part);
  return copier && p ? { copier: { copier, volumeStart: p.start, volumeSize: p.size } } : {};
}

export class ExtentCopier {
  private constructor(private readonly source: SeekableSource) {}

  /** A copier for `source`, or null when it cannot copy from it (only seekable .zst backups, for now). */
  static for(source: ByteSource): ExtentCopier | null {
    return source.seekable ? new ExtentCopier(source as SeekableSource) : null;
  }

  /**
   * Writes a file of `size` bytes whose data lies at `extents` of a volume
   * starting at `volumeStart` of the source (`volumeSize` bytes long) into
   * `fd`, from its offset 0; bytes no extent covers, and runs of zeros, are
   * left as holes (the caller sets the size). `onBytes` hears the bytes of
   * the file's data copied so far (in the backup's order, not the file's).
   */
  async copy(fd: number, size: number, extents: readonly FileExtent[], volumeStart: number, volumeSize: number, onBytes: (copied: number) => void): Promise<void> {
    const { steps, step } = this.plan(size, extents, volumeStart, volumeSize);
    const reader = this.source.seekable.reader;
    // Two buffers of memory the reader has touched already (its cached frames'), given back when done: fresh
    // memory costs its page faults, ~3-8 ms per MiB here. Two copies at once (two jobs of the app) get their own.
    const buffers = reader.lend(step, 2);
    // The writes still running from each buffer: they must end before the buffer is decoded into again.
    const writes: Promise<unknown>[] = buffers.map(() => Promise.resolve());
    let copied = 0;
    try {
      for (const [i, s] of steps.entries()) {
        const slot = i % buffers.length;
        const data = buffers[slot]!.subarray(0, s.length);
        await writes[slot];
        if (reader.readInto(s.source, data) !== data.length) throw new Error(`the backup ends inside the file's data (at byte ${s.source} of its content)`);
        // Checked against the filesystem's own checksums (btrfs) before any of it is written.
        for (const w of s.writes) await w.check?.(data.subarray(w.at, w.at + w.length));
        // A run of zeros (a hole the filesystem allocated, mostly) stays a hole where the destination can.
        const pending = s.writes.map((w) => data.subarray(w.at, w.at + w.length)).map((piece, k) => (isAllZero(piece) ? null : writeAll(fd, piece, s.writes[k]!.offset)));
        writes[slot] = Promise.all(pending);
        for (const w of s.writes) copied += w.length;
        onBytes(copied);
      }
    } finally {
      // No write may still use a buffer (or the fd) once this returns, even on an error.
      await Promise.allSettled(writes);
      reader.giveBack(buffers);
    }
    await Promise.all(writes);
  }

  /**
   * The extents checked, cut where frames start, and put in the backup's
   * order: each frame is decoded once, whole, straight into a buffer, and
   * every piece of the file it holds written from there. Decoding only part
   * of a frame would go through the reader's cache, which takes fresh memory
   * and copies every byte once more. A frame larger than MAX_STEP (other
   * writers' .zst) is read in steps of MAX_STEP instead.
   */
  private plan(size: number, extents: readonly FileExtent[], volumeStart: number, volumeSize: number): { steps: Step[]; step: number } {
    const { table, size: content } = this.source.seekable.reader;
    /** `extent`: the one the piece is part of, from its byte `at`, for its check. */
    const pieces: { frame: number; source: number; offset: number; length: number; extent: FileExtent; at: number }[] = [];
    let fileEnd = 0;
    for (const e of extents) {
      const ok = [e.offset, e.length, e.volumeOffset].every((n) => Number.isSafeInteger(n) && n >= 0);
      if (!ok || e.offset < fileEnd || e.offset + e.length > size || e.volumeOffset + e.length > volumeSize || volumeStart + e.volumeOffset + e.length > content) {
        throw new Error(`the filesystem places the file's bytes ${e.offset}+${e.length} at ${e.volumeOffset}, outside the file or the partition (damaged metadata)`);
      }
      fileEnd = e.offset + e.length;
      for (let done = 0; done < e.length; ) {
        const source = volumeStart + e.volumeOffset + done;
        const frame = table.frameAt(source);
        const { decompressedOffset, decompressedSize } = table.frame(frame);
        const length = Math.min(e.length - done, decompressedOffset + decompressedSize - source);
        pieces.push({ frame, source, offset: e.offset + done, length, extent: e, at: done });
        done += length;
      }
    }
    pieces.sort((a, b) => a.source - b.source || a.offset - b.offset);
    let step = MIN_STEP;
    for (const p of pieces) step = Math.max(step, Math.min(MAX_STEP, table.frame(p.frame).decompressedSize));
    const steps: Step[] = [];
    for (const p of pieces) {
      const frame = table.frame(p.frame);
      const last = steps.at(-1);
      if (frame.decompressedSize <= step) {
        const at = p.source - frame.decompressedOffset;
        const write = { at, offset: p.offset, length: p.length, ...checkOf(p.extent, p.at) };
        if (last?.source === frame.decompressedOffset && last.length === frame.decompressedSize) last.writes.push(write);
        else steps.push({ source: frame.decompressedOffset, length: frame.decompressedSize, writes: [write] });
      } else {
        for (let done = 0; done < p.length; done += step) {
          const length = Math.min(step, p.length - done);
          steps.push({ source: p.source + done, length, writes: [{ at: 0, offset: p.offset + done, length, ...checkOf(p.extent, p.at + done) }] });
        }
      }
    }
    // The step that reaches furthest into the file goes last, and that write last in it: a copy stopped before its end (killed, a full disk)
    // leaves a file shorter than it should be, as one written in order would, and not one that looks complete.
    const end = (x: Step): number => x.writes.reduce((n, w) => Math.max(n, w.offset + w.length), 0);
    let last = 0;
    for (let i = 1; i < steps.length; i++) if (end(steps[i]!) > end(steps[last]!)) last = i;
    steps.push(...steps.splice(last, 1));
    steps.at(-1)?.writes.sort((a, b) => a.offset + a.length - (b.offset + b.length));
    return { steps, step };
  }
}

/** The check of a write of extent `e`'s bytes from its byte `at`, where the filesystem keeps checksums. */
function checkOf(e: FileExtent, at: number): { check?: (data: Buffer) => Promise<void> } {
  const check = e.check?.bind(e);
  return check ? { check: (data) => check(at, data) } : {};
}

async function writeAll(fd: number, data: Buffer, at: number): Promise<void> {
  for (let done = 0; done < data.length; ) {
    const n = await new Promise<number>((resolve, reject) => fs.write(fd, data, done, data.length - done, at + done, (err, written) => (err ? reject(err) : resolve(written))));
    done += n;
  }
}
