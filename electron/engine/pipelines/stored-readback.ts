import * as fs from 'fs';
import { ImprintError, toErrorInfo } from '../errors';
import { allocAligned } from '../io/aligned-buffer';
import { chunkCrc } from '../io/chunk-crc';
import { readChunkAt, type ChunkSource } from '../io/chunk-reader';
import { zeroGaps } from '../disks/byte-ranges';
import type { ByteRange } from '../disks/filesystem-driver';

/**
 * Reading a smart restore's stored ranges back from a target. Used twice:
 * while the restore is still writing (EarlyReadBack, on chunks whose writes
 * have completed, as the flash engine reads back while writing), and in the
 * final pass over whatever was not checked then (chunk 0, written last,
 * always). A chunk still in memory, its CRC-32 already compared with the
 * backup's record when it was decoded, is compared byte for byte with what
 * the drive returns (EarlyReadBack.check); otherwise the drive's bytes get
 * their CRC-32 taken and compared with the record (readBackChunk).
 */

/** A chunk of the drive with stored ranges: index, drive offset, length, and the stored parts in it. */
export interface StoredChunkRef {
  index: number;
  at: number;
  length: number;
  parts: ByteRange[];
}

/** Opens a target to read it back: around the page cache for a drive, so what is read is what the drive holds. */
export function openForReadBack(path: string, isBlockDevice: boolean): ChunkSource {
  return { fd: fs.openSync(path, fs.constants.O_RDONLY | (isBlockDevice ? fs.constants.O_DIRECT : 0)), path, isBlockDevice };
}

/** Reads one chunk's stored parts into `buf` (zeros elsewhere) and checks its CRC-32; throws E_VERIFY_MISMATCH. */
export async function readBackChunk(src: ChunkSource, buf: Buffer, chunk: StoredChunkRef, crc: number | undefined, onBytes: (n: number) => void): Promise<void> {
  const { at, length, parts } = chunk;
  zeroGaps(buf, at, length, parts);
  await Promise.all(
    parts.map(async (part) => {
      const n = await readChunkAt(src, buf.subarray(part.start - at), part.length, part.start);
      if (n < part.length) throw new ImprintError('E_VERIFY_MISMATCH', `${src.path} ended at byte ${part.start + n} while it was read back.`, { offset: part.start + n });
      onBytes(n);
    }),
  );
  if (chunkCrc(buf.subarray(0, length)) !== crc) {
    throw new ImprintError('E_VERIFY_MISMATCH', `${src.path} does not read back what was restored, between bytes ${at} and ${at + length}: the drive may be failing or counterfeit.`, { offset: at });
  }
}

/** Where the first byte differs in two buffers of equal length that do differ. */
function firstDifference(a: Buffer, b: Buffer): number {
  let lo = 0;
  let hi = a.length;
  // Halving with memcmp: the differing byte is in the first half that differs.
  while (hi - lo > 64) {
    const mid = lo + ((hi - lo) >> 1);
    if (a.subarray(lo, mid).equals(b.subarray(lo, mid))) lo = mid;
    else hi = mid;
  }
  while (lo < hi && a[lo] === b[lo]) lo++;
  return lo;
}

/**
 * Bytes read back at once when a chunk is compared with its memory. Every
 * page of memory a restore touches for the first time costs a page fault,
 * 13-18 us each on the machines measured here, so smaller buffers were
 * tried: with 1 MiB reads (one after the other within a chunk, whose slot
 * stays held until then) the bench restore took 2.04-2.29 s against
 * 1.86-2.28 s with whole 4 MiB reads, for the same CPU (6 rounds each,
 * interleaved, load 3). Read buffers are still made only when needed.
 */
export const COMPARE_READ_BYTES = 4 << 20;

/**
 * Reads one chunk's stored parts back, `buf.length` bytes at a time, and
 * compares them with `expected`, the chunk as it was written (same layout:
 * the chunk's first byte at 0); throws E_VERIFY_MISMATCH with the first
 * differing byte. A comparison runs at about 20 GB/s here where a CRC-32
 * runs at 3 to 5.
 */
export async function compareBackChunk(src: ChunkSource, buf: Buffer, chunk: StoredChunkRef, expected: Buffer, onBytes: (n: number) => void): Promise<void> {
  for (const part of chunk.parts) {
    for (let done = 0; done < part.length; ) {
      const length = Math.min(buf.length, part.length - done);
      const position = part.start + done;
      const n = await readChunkAt(src, buf, length, position);
      if (n < length) throw new ImprintError('E_VERIFY_MISMATCH', `${src.path} ended at byte ${position + n} while it was read back.`, { offset: position + n });
      const got = buf.subarray(0, n);
      const want = expected.subarray(position - chunk.at, position - chunk.at + n);
      if (!got.equals(want)) {
        const offset = position + firstDifference(got, want);
        throw new ImprintError('E_VERIFY_MISMATCH', `${src.path} does not read back what was restored: the first differing byte is at offset ${offset}. The drive may be failing or counterfeit.`, { offset });
      }
      onBytes(n);
      done += n;
    }
  }
}

/** A chunk waiting to be read back: with the memory it was written from (check), or to be checked by its CRC-32 (offer). */
interface Waiting {
  chunk: StoredChunkRef;
  expected?: Buffer;
  /** Settles check()'s promise. */
  done?: () => void;
}

/**
 * Reads chunks back while the restore goes on writing the rest: each chunk
 * offered (its writes to this target completed) is read back as soon as one
 * of the few buffers is free, in the order offered; the writes never wait for
 * it. drain() reads what is still waiting; close() leaves it to the final
 * pass. The first failure is kept, and stops further reads. Buffers (of a
 * chunk's size, or COMPARE_READ_BYTES for a chunk compared with its memory)
 * are made when first needed.
 *
 * Chunks offered while every buffer was busy used to be left to the final
 * pass: on the bench's 3 GiB drive a quarter of them, read after the fsync
 * while nothing else ran (0.2-0.4 s of a 2.5-3.5 s restore).
 */
export class EarlyReadBack {
  /** Chunks read back and found as restored. */
  readonly verified = new Set<number>();
  private readonly src: ChunkSource;
  /** Idle buffers, by size. */
  private readonly idle = new Map<number, Buffer[]>();
  private made = 0;
  private readonly waiting: Waiting[] = [];
  private readonly running = new Set<Promise<void>>();
  private failure: ImprintError | null = null;
  private closed = false;

  constructor(
    path: string,
    isBlockDevice: boolean,
    private readonly chunkSize: number,
    private readonly crcs: Uint32Array,
    private readonly onBytes: (n: number) => void,
    private readonly buffers = 6,
  ) {
    this.src = openForReadBack(path, isBlockDevice);
  }

  get error(): ImprintError | null {
    return this.failure;
  }

  /** Reads the chunk back when a buffer is free and compares its CRC-32 with the backup's record. */
  offer(chunk: StoredChunkRef): void {
    if (this.closed || this.failure) return;
    this.waiting.push({ chunk });
    this.start();
  }

  /**
   * Reads the chunk back when a buffer is free and compares it with
   * `expected`, the memory it was written from (its CRC-32 compared with the
   * record when it was decoded), which must stay as it is until the promise
   * settles: once the chunk is checked, found bad (error), or left to the
   * final pass (closed, or an earlier chunk failed). It never rejects.
   */
  check(chunk: StoredChunkRef, expected: Buffer): Promise<void> {
    if (this.closed || this.failure) return Promise.resolve();
    return new Promise((done) => {
      this.waiting.push({ chunk, expected, done });
      this.start();
    });
  }

  /** An idle buffer of `size` bytes, a new one while fewer than `buffers` exist, or null. */
  private take(size: number): Buffer | null {
    const spare = this.idle.get(size)?.pop();
    if (spare) return spare;
    if (this.made >= this.buffers) {
      // Every buffer made is of the other size: one idle one gives way.
      const other = [...this.idle.values()].find((list) => list.length > 0);
      if (!other) return null;
      other.pop();
      this.made--;
    }
    this.made++;
    return allocAligned(size);
  }

  /** Starts reads of waiting chunks while buffers are free. */
  private start(): void {
    while (!this.closed && !this.failure && this.waiting.length > 0) {
      const { chunk, expected, done } = this.waiting[0] as Waiting;
      const size = expected ? Math.min(COMPARE_READ_BYTES, this.chunkSize) : this.chunkSize;
      const buf = this.take(size);
      if (!buf) break;
      this.waiting.shift();
      const read = expected ? compareBackChunk(this.src, buf, chunk, expected, this.onBytes) : readBackChunk(this.src, buf, chunk, this.crcs[chunk.index], this.onBytes);
      const run: Promise<void> = read.then(
        () => {
          this.verified.add(chunk.index);
        },
        (err: unknown) => {
          this.failure ??= err instanceof ImprintError ? err : new ImprintError('E_VERIFY_MISMATCH', toErrorInfo(err).message);
        },
      );
      this.running.add(run);
      void run.finally(() => {
        this.running.delete(run);
        const list = this.idle.get(size) ?? [];
        list.push(buf);
        this.idle.set(size, list);
        done?.();
        this.start();
      });
    }
    // Nothing more will be read early: what waits is left to the final pass, and its memory given back.
    if (this.closed || this.failure) for (const w of this.waiting.splice(0)) w.done?.();
  }

  /** Waits until every chunk offered has been read back (or one failed). */
  async drain(): Promise<void> {
    // Each read that ends starts the next waiting one before this loop looks again.
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }

  /** Waits for the reads in flight, then closes the target (once); chunks still waiting are left to the final pass. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.start();
    await Promise.allSettled([...this.running]);
    fs.closeSync(this.src.fd);
  }
}
