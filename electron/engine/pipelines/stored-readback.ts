import * as fs from 'fs';
import { ImprintError, toErrorInfo } from '../errors';
import { allocAligned } from '../io/aligned-buffer';
import { chunkCrc } from '../io/chunk-crc';
import { readChunkAt, type ChunkSource } from '../io/chunk-reader';
import { zeroGaps } from '../disks/byte-ranges';
import type { ByteRange } from '../disks/filesystem-driver';

/**
 * Reading a smart restore's stored ranges back from a target and checking
 * each chunk's CRC-32 against the backup's record. Used twice: while the
 * restore is still writing (EarlyReadBack, on chunks whose writes have
 * completed, as the flash engine reads back while writing), and in the final
 * pass over whatever was not checked then (chunk 0, written last, always).
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

/**
 * Reads chunks back while the restore goes on writing the rest: each chunk
 * offered (its writes to this target completed) is read back as soon as one
 * of the few buffers is free, in the order offered; the writes never wait for
 * it. drain() reads what is still waiting; close() leaves it to the final
 * pass. The first failure is kept, and stops further reads.
 *
 * Each chunk is checked by the CRC-32 of what the drive returns against the
 * backup's record, not by comparing it with the memory it was written from
 * (a memcmp is ~4x cheaper than the CRC): that memory was checked when it
 * was decoded, and a slot reused too early (a bug) or memory that changed
 * between that check and the write would have been written wrong and then
 * compared equal. The record is the independent witness.
 *
 * Chunks offered while every buffer was busy used to be left to the final
 * pass: on the bench's 3 GiB drive a quarter of them, read after the fsync
 * while nothing else ran (0.2-0.4 s of a 2.5-3.5 s restore).
 */
export class EarlyReadBack {
  /** Chunks read back and found as restored. */
  readonly verified = new Set<number>();
  private readonly src: ChunkSource;
  /** Idle buffers; at most `buffers` are made, each when first needed (a page fault costs 13-18 us on these machines). */
  private readonly free: Buffer[] = [];
  private made = 0;
  private readonly waiting: StoredChunkRef[] = [];
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

  offer(chunk: StoredChunkRef): void {
    if (this.closed || this.failure) return;
    this.waiting.push(chunk);
    this.start();
  }

  /** Starts reads of waiting chunks while buffers are free. */
  private start(): void {
    while (!this.closed && !this.failure && this.waiting.length > 0 && (this.free.length > 0 || this.made < this.buffers)) {
      const chunk = this.waiting.shift() as StoredChunkRef;
      const buf = this.free.pop() ?? (this.made++, allocAligned(this.chunkSize));
      const run: Promise<void> = readBackChunk(this.src, buf, chunk, this.crcs[chunk.index], this.onBytes).then(
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
        this.free.push(buf);
        this.start();
      });
    }
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
    await Promise.allSettled([...this.running]);
    fs.closeSync(this.src.fd);
  }
}
