import * as fs from 'fs';
import * as os from 'os';
import type { BackupStorage } from '../../../shared/backup-metadata';
import { ImprintError } from '../errors';
import { allocAlignedShared } from '../io/aligned-buffer';
import { RangeCursor } from '../disks/byte-ranges';
import type { ByteRange } from '../disks/filesystem-driver';
import type { SourceInfo } from '../formats/image-source';
import { ZstdChunkPool, type DecodedChunk } from '../formats/zstd-chunk-pool';
import { SeekableZstdReader } from '../formats/zstd-seekable-reader';
import { SharedSha256 } from './shared-sha256';
import { FOLDER_CHUNK_WORKER, sharePieces } from '../formats/backup-folder/folder-chunk-kind';
import type { FolderKeys } from '../formats/backup-folder/folder-crypto';
import type { GenerationIndex } from '../formats/backup-folder/generation-index';

/**
 * The stored chunks of a smart backup that is a seekable .zst, decoded for a
 * restore through its seek table: only the frames that hold stored ranges
 * are read and decoded (free space is most of a drive, and its frames hold
 * zeros that a restore does not write), on several threads
 * (formats/zstd-chunk-pool.ts), and handed on in drive order. Each frame is
 * checked as it is decoded against its own content checksum (libzstd's
 * XXH64, which the seek table repeats), and the SHA-256 of the stored data
 * (its ranges in drive order) is taken on the way and compared with the
 * recorded one before the drive's first chunk, which holds its partition
 * table, is written (jobs/smart-restore.ts). The chunks' CRC-32s are not
 * taken again here: they are what the read-back compares the drive with.
 * Taking them while decoding as well (refusing a chunk before its write
 * rather than the whole before the partition table) cost about 0.25 of a
 * restore's 3.2 CPU-seconds on the smart bench drive, for a case only a
 * backup whose description disagrees with its frames would reach.
 *
 * What this does not check that decoding the whole stream did: the frames
 * that hold no stored byte. They stand for free space, nothing of them is
 * written, and the SHA-256 and CRC-32s recorded never covered them; damage
 * there changes nothing on the drive.
 */

/** One chunk of the drive that holds stored ranges, decoded and checked. */
export interface StoredChunk {
  index: number;
  /** Drive offset of the chunk. */
  at: number;
  /**
   * The chunk's content where `parts` say, in page-aligned memory reused once `onChunk`'s promise settles.
   * Elsewhere zeros from a seekable .zst; from a backup folder, whatever the memory held (only `parts` are used).
   */
  buf: Buffer;
  parts: ByteRange[];
}

/**
 * Chunk buffers in rotation, some being decoded while others are written.
 * Many, because on a busy machine every hand-over between threads waits to
 * be scheduled: with 6 x 4 MiB a restore spent most of its time waiting,
 * with little CPU used.
 */
const SLOTS = 12;

interface Job {
  index: number;
  at: number;
  length: number;
  parts: ByteRange[];
}

function corrupt(source: string, why: string, offset?: number): ImprintError {
  return new ImprintError('E_CORRUPT_SOURCE', `${source} is damaged: ${why}. The drive's partition table was not written.`, offset === undefined ? {} : { offset });
}

/**
 * How the decoded data was checked: `sha256` of all the stored data (in
 * drive order), for the caller to compare with the one recorded, or null
 * when every piece was checked against its name instead (a backup folder);
 * `crcsChecked`, whether each chunk's CRC-32 was compared with the record
 * before it was handed on. With neither, the caller must read the written
 * chunks back against the record before it writes the partition table.
 */
export interface DecodedCheck {
  sha256: string | null;
  crcsChecked: boolean;
}

/** What decodeStoredChunks and decodeFolderChunks have in common: a restore's source of checked chunks. */
export interface DecodeOptions {
  signal?: AbortSignal;
  /** Called once every chunk has been handed on, before the SHA-256 is awaited (the caller may flush its writes meanwhile). */
  onHandedOn?: () => void;
}

export type ChunkDecoder = (storage: BackupStorage, crcs: Uint32Array, size: number, opts: DecodeOptions, onChunk: (chunk: StoredChunk) => Promise<void>) => Promise<DecodedCheck | null>;

const THREADS = Math.max(1, Math.min(4, os.availableParallelism()));
/**
 * A folder's decoders also hash (each piece against its name). One per core,
 * not one more: each thread reads, decodes and hashes piece by piece (12,258
 * pieces on the bench drive), and each thread's own start-up and compiling of
 * that per-piece path cost it 0.1-0.15 CPU-s. On the bench's 2 busy cores a
 * whole restore took 2.80 / 2.79 / 3.32 s with two threads against 3.07 /
 * 2.84 / 3.41 s with three (medians of 7, 5, 7, side by side), 0.15-0.3
 * CPU-s less. (With 256 KiB pieces and the SHA-256 taken apart, three had
 * been faster: 4.99 s against 5.36 s.)
 */
const FOLDER_THREADS = THREADS;

/**
 * The stored chunks of a backup folder's generation, decoded as those of a
 * seekable .zst are: the pieces of each chunk read, decoded and checked
 * against their names on several threads (workers/folder-chunk-worker.ts),
 * free space never touched. One thread decoding and hashing every piece
 * restored at about 60% of a seekable .zst's speed (bench/folder-bench.ts).
 *
 * The names are the check of the data: each piece's SHA-256 is taken once,
 * on the thread that decodes it, so no SHA-256 of all the data is taken
 * again (on the bench's 762 MiB, 0.3-0.4 CPU-s of a 3.5-4 s restore). Each
 * chunk must then still match the CRC-32 recorded before the partition
 * table is written: with no SHA-256 of the whole, that is what ties the
 * pieces, put where the index says, to the drive the generation recorded.
 * With `crcs` each chunk's CRC-32 is taken there too, piece by piece, and
 * compared before the chunk is handed on (a restore without read-back);
 * without, the restore reads every written chunk back against the record
 * before it writes the partition table (jobs/smart-restore.ts), which it
 * reads anyway to verify: the CRC-32s taken twice cost 0.18 of a folder
 * restore's 2.8 CPU-seconds on the bench drive.
 */
export function decodeFolderChunks(folder: string, index: GenerationIndex, opts: { crcs: boolean; readAhead?: boolean; keys?: FolderKeys | null } = { crcs: true }): ChunkDecoder {
  return (storage, crcs, size, decodeOpts, onChunk) => {
    const pieces = sharePieces(index.pieces);
    // An encrypted folder's threads get its piece and name keys (only those): each opens, decodes and checks its pieces as a plain folder's do.
    const keys = opts.keys ? { keys: opts.keys.pieceKeyBytes() } : {};
    const startPool = (memory: SharedArrayBuffer) => new ZstdChunkPool(FOLDER_THREADS, { folder, pieces, memory, crcs: opts.crcs, readAhead: opts.readAhead === true, ...keys }, FOLDER_CHUNK_WORKER);
    return decodeChunks(`${folder}#${index.id}`, storage, crcs, size, decodeOpts, onChunk, startPool, { sha256: false, crcs: opts.crcs });
  };
}

/**
 * Decodes and checks the stored chunks of `info`, calling `onChunk` for each
 * in drive order; its promise says when the chunk's memory may be reused.
 * Returns null, having read nothing but the file's end, when the file is not
 * a seekable .zst (the caller then decodes it as a stream).
 */
export async function decodeStoredChunks(
  info: SourceInfo,
  storage: BackupStorage,
  crcs: Uint32Array,
  size: number,
  opts: DecodeOptions,
  onChunk: (chunk: StoredChunk) => Promise<void>,
): Promise<DecodedCheck | null> {
  if (info.format !== 'zstd') return null;
  const fd = fs.openSync(info.path, 'r');
  let reader: SeekableZstdReader | null;
  try {
    reader = SeekableZstdReader.tryOpen(fd, fs.fstatSync(fd).size, { file: info.path });
  } finally {
    fs.closeSync(fd);
  }
  if (!reader) return null;
  if (reader.size !== size) throw corrupt(info.path, `it holds ${reader.size} bytes of drive content, but its description says the drive held ${size}`);
  return decodeChunks(info.path, storage, crcs, size, opts, onChunk, (memory) => new ZstdChunkPool(THREADS, { file: info.path, memory }), { sha256: true, crcs: false });
}

async function decodeChunks(
  source: string,
  storage: BackupStorage,
  crcs: Uint32Array,
  size: number,
  opts: DecodeOptions,
  onChunk: (chunk: StoredChunk) => Promise<void>,
  startPool: (memory: SharedArrayBuffer) => { readonly capacity: number; decode(offset: number, length: number, at: number): Promise<DecodedChunk>; close(): Promise<void> },
  /** A SHA-256 of all the stored data, or none (the pieces were checked against their names); each chunk's CRC-32 compared, or not. */
  checks: { sha256: boolean; crcs: boolean },
): Promise<DecodedCheck> {
  const { chunkSize } = storage;
  const cursor = new RangeCursor(storage.ranges.map(([start, length]) => ({ start, length })));
  const jobs: Job[] = [];
  for (let at = 0, index = 0; at < size; at += chunkSize, index++) {
    const length = Math.min(chunkSize, size - at);
    const parts = cursor.clip(at, at + length);
    if (parts.length > 0) jobs.push({ index, at, length, parts });
  }

  const memory = allocAlignedShared(SLOTS * chunkSize);
  // The calling thread keeps the writes; the decoding and the SHA-256 take other threads, so a
  // write never waits behind hashing (0.5-0.9 s of a bench restore's critical path when it did).
  const pool = startPool(memory);
  const hash = checks.sha256 ? new SharedSha256(memory) : null;
  // The slot freed last is used first, and no more are decoded into than the threads can take on:
  // the memory of a slot is touched (one page fault per page, 13-18 us each here) only when needed.
  const free = Array.from({ length: SLOTS }, (_, i) => SLOTS - 1 - i);
  const pending: { job: Job; slot: number; decoded: Promise<DecodedChunk> }[] = [];
  let next = 0;
  let decoding = 0;
  let wake: (() => void) | null = null;
  let stopped = false;
  const dispatch = (): void => {
    while (!stopped && next < jobs.length && free.length > 0 && decoding < pool.capacity) {
      const job = jobs[next++] as Job;
      const slot = free.pop() as number;
      const decoded = pool.decode(job.at, job.length, slot * chunkSize);
      decoding++;
      decoded.then(
        () => {
          decoding--;
          dispatch();
        },
        () => undefined,
      );
      pending.push({ job, slot, decoded });
    }
    wake?.();
    wake = null;
  };
  const release = (slot: number): void => {
    free.push(slot);
    dispatch();
  };
  try {
    dispatch();
    while (next < jobs.length || pending.length > 0) {
      if (opts.signal?.aborted) throw new ImprintError('E_CANCELLED', 'Cancelled.');
      const head = pending.shift();
      if (!head) {
        await new Promise<void>((resolve) => (wake = resolve));
        continue;
      }
      const { job, slot } = head;
      const { bytes, crc } = await head.decoded;
      if (bytes < job.length) throw corrupt(source, `its content ends at byte ${job.at + bytes}, inside what the backup stored`, job.at + bytes);
      const buf = Buffer.from(memory, slot * chunkSize, job.length);
      if (checks.crcs && crc !== crcs[job.index]) throw corrupt(source, `its data between bytes ${job.at} and ${job.at + job.length} does not match the checksum the backup recorded`, job.at);
      const base = slot * chunkSize - job.at;
      const hashed = hash ? hash.update(job.parts.map((p): [number, number] => [base + p.start, p.length])) : Promise.resolve();
      hashed.catch(() => undefined);
      // The slot is free once it is both written (or failed) and hashed; a hashing failure shows at digest().
      void Promise.allSettled([onChunk({ index: job.index, at: job.at, buf, parts: job.parts }), hashed]).then(() => release(slot));
    }
    opts.onHandedOn?.();
    return { sha256: hash ? await hash.digest() : null, crcsChecked: checks.crcs };
  } finally {
    stopped = true;
    // Not waited for: ending the threads took about 20 ms, and the restore's flush and head need none of them.
    void Promise.all([pool.close(), hash?.close()]).catch(() => undefined);
  }
}
