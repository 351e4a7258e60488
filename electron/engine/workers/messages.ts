import type { ErrorInfo } from '../../../shared/error-codes';
import type { HashAlgorithm } from '../../../shared/job-events';
import type { SourceInfo } from '../formats/image-source';
import { workerKind } from '../worker-host';
import type { ZeroOutMode } from '../io/zero-runs';

/**
 * Messages between the job orchestrator and its worker threads. Image data
 * never travels in messages: it sits in a shared ring of aligned slots, and
 * messages name slots.
 */

export interface RingSpec {
  /** Shared, page-aligned memory holding `slots` slots of `slotSize` bytes. */
  memory: SharedArrayBuffer;
  slots: number;
  slotSize: number;
}

// ---- source worker: reads and decompresses the image into slots ----
export interface SourceWorkerData {
  source: SourceInfo;
  ring: RingSpec;
  /** Digest of the file as stored (a published checksum may refer to the compressed file). */
  fileHash: boolean;
  /** Stop after this many bytes of content (hash of a device's first N bytes). */
  limit: number | null;
}
/** 'start': read from now on. The worker is spawned while the targets open, so its start-up is not on the job's clock. */
export type ToSource = { type: 'start' } | { type: 'free'; slot: number } | { type: 'cancel' };
export type FromSource =
  /**
   * `crc` is set by readers that checksum themselves (backup's drive reader); the flash source leaves it to the hasher.
   * `xxh`, instead of `crc` (DriveReaderData.check): the low 32 bits of the chunk's XXH64, as a zstd frame of it carries.
   */
  | { type: 'chunk'; slot: number; offset: number; length: number; crc?: number; xxh?: number }
  /** A smart backup's chunk that holds nothing stored: all zeros, never read, in no slot (the backup's drive reader only). */
  | { type: 'zeros'; offset: number; length: number; crc: number }
  | { type: 'input'; bytes: number }
  | { type: 'end'; bytes: number; contentDigests: Partial<Record<HashAlgorithm, string>>; fileSha256: string | null }
  | { type: 'error'; error: ErrorInfo }
  /** The source file is closed; sent last, whatever happened. */
  | { type: 'closed' };

// ---- hasher worker: checksums each chunk and digests the content, beside the source ----
export interface HasherWorkerData {
  ring: RingSpec;
  contentHashes: HashAlgorithm[];
}
export type ToHasher = { type: 'chunk'; slot: number; offset: number; length: number } | { type: 'finish' };
export type FromHasher =
  | { type: 'hashed'; slot: number; offset: number; crc: number }
  | { type: 'digests'; contentDigests: Partial<Record<HashAlgorithm, string>> };

// ---- writer worker: writes slots to one target ----
export interface WriterWorkerData {
  target: string;
  isBlockDevice: boolean;
  ring: RingSpec;
  /** Bytes at the start of the image that are written last (partition table, boot code). */
  headBytes: number;
  /**
   * Set when chunks will be verified while the rest is written: the image's
   * size. Before writing, the writer checks that no address below it lands
   * on another (drives/wrap-probe.ts): on a drive that wraps, a chunk read
   * back early would be overwritten later by one written past the wrap.
   */
  wrapProbeExtent: number | null;
  /** How runs of zeros reach a block device (io/zero-runs.ts). */
  zeroOut: ZeroOutMode;
}
export type ToWriter =
  | { type: 'write'; slot: number; offset: number; length: number }
  | { type: 'finish'; totalBytes: number }
  | { type: 'abandon' };
export type FromWriter =
  | { type: 'ready'; deviceSize: number; blockSize: number }
  /**
   * `bytes` reached the target (a run of zeros held back counts when it is
   * zeroed, maybe with a later slot). `landed`: the [offset, length] ranges of
   * the image now on the target, in order (never the held-back head).
   */
  | { type: 'written'; slot: number; bytes: number; landed: [number, number][] }
  /** Runs of zeros the drive finished zeroing in the background, between slots: `bytes` and `landed` as for 'written'. */
  | { type: 'zeroed'; bytes: number; landed: [number, number][] }
  /** The head is written and the target flushed. `bytes`: any not reported before (none: zeros go out in 'zeroed'). */
  | { type: 'finished'; bytes: number }
  | { type: 'abandoned' }
  | { type: 'error'; error: ErrorInfo };

// ---- verify worker: reads one target back and compares chunk checksums ----
export interface VerifyWorkerData {
  target: string;
  isBlockDevice: boolean;
  chunkSize: number;
}
/** One chunk to read back: where it is, and the CRC-32 the image's content has there. */
export interface ChunkCheck {
  chunk: number;
  length: number;
  crc: number;
}
export type ToVerify =
  /** A chunk already on the drive, read back while the rest is still being written. */
  | { type: 'check'; check: ChunkCheck }
  /**
   * Writing is over: the drive is reopened (it may have gone, or shrunk
   * below `totalBytes`), and these chunks are the last to check.
   */
  | { type: 'final'; totalBytes: number; checks: ChunkCheck[] }
  | { type: 'cancel' };
export type FromVerify =
  /** A chunk matched; `bytes` verified so far, in all. */
  | { type: 'checked'; chunk: number; bytes: number }
  | { type: 'cancelled' }
  | { type: 'mismatch'; chunk: number }
  /** Every chunk of the final pass matched. */
  | { type: 'ok' }
  | { type: 'error'; error: ErrorInfo };

// ---- the kinds the host spawns (worker-host.ts): each entry file's name fixes its messages ----
export const SOURCE_WORKER = workerKind<ToSource, FromSource, SourceWorkerData>('source-worker', { cancelMessage: { type: 'cancel' } });
export const HASHER_WORKER = workerKind<ToHasher, FromHasher, HasherWorkerData>('hasher-worker');
export const WRITER_WORKER = workerKind<ToWriter, FromWriter, WriterWorkerData>('writer-worker');
export const VERIFY_WORKER = workerKind<ToVerify, FromVerify, VerifyWorkerData>('verify-worker', { cancelMessage: { type: 'cancel' } });
