import type { BackupCompression } from '../../../shared/backup-metadata';
import type { ErrorInfo } from '../../../shared/error-codes';
import type { ByteRange } from '../disks/filesystem-driver';
import { workerKind } from '../worker-host';
import type { FromSource, RingSpec, ToSource } from './messages';

/**
 * Messages between a backup's orchestrator and its compress-writer thread.
 * As in the flash pipeline, drive data stays in the shared ring; messages name
 * slots. The source side is the flash engine's own source worker.
 */
export interface CompressWriterData {
  /** The temporary file the backup is written to. */
  output: string;
  compression: BackupCompression;
  level: number;
  /** Compression threads the encoder may start (zstd nbWorkers, xz threads, gzip members in flight). */
  threads: number;
  ring: RingSpec;
}

export type ToCompressWriter =
  | { type: 'write'; slot: number; offset: number; length: number }
  /** `length` zero bytes at `offset` (a smart backup's free space), in order with the writes; they sit in no slot. */
  | { type: 'zeros'; offset: number; length: number }
  /** End the stream; `trailer` (embedded metadata) is appended after the compressed data. */
  | { type: 'finish'; totalBytes: number; trailer: Uint8Array | null }
  /** zstd, after 'finished': read back the rest of the file (io/read-back-output.ts), answer 'checked', and end. */
  | { type: 'check-rest' }
  /** Stop, close the file, write nothing more. The orchestrator removes the file. */
  | { type: 'abandon' };

export type FromCompressWriter =
  | { type: 'ready' }
  /**
   * The slot may be reused; `outputBytes` is the backup file's size so far,
   * `durableBytes` how much of it is on disk (written around the page cache) and may be read back.
   */
  | {
      type: 'written';
      slot: number | null;
      bytes: number;
      outputBytes: number;
      durableBytes: number;
      /** zstd: how much of the file has been read back and found as written (io/read-back-output.ts). */
      checkedBytes?: number;
      /** zstd: the CRC-32 of the chunk's content as the encoder took it in (io/chunk-crc.ts). */
      contentCrc?: number;
      /** zstd, a chunk compressed as one frame by the pool: the frame's content checksum (XXH64's low 32 bits). */
      contentXxh?: number;
    }
  /** The file is complete and durable (zstd: all but its end read back; 'check-rest' checks that). */
  | { type: 'finished'; outputBytes: number }
  /** zstd: the whole file read back as written. */
  | { type: 'checked' }
  | { type: 'abandoned' }
  | { type: 'error'; error: ErrorInfo };

/** The thread that reads the drive (drive-reader-worker); it speaks the flash source worker's messages. */
export interface DriveReaderData {
  device: string;
  /** Bytes to read: the drive's size when the backup started. */
  size: number;
  ring: RingSpec;
  /**
   * A smart backup's stored ranges (disks/storage-plan.ts), aligned to 4 KiB:
   * only these are read, the rest of each chunk is zeros. Absent: every byte.
   */
  keep?: ByteRange[];
  /**
   * 'xxh64': take each chunk's XXH64 (its low 32 bits, `xxh`) instead of its
   * CRC-32. A seekable zstd backup whose frames are its chunks uses it: libzstd
   * takes the same checksum of each frame's content as it compresses it, so
   * comparing the two shows that what was compressed is what was read, at
   * no cost on the compressing side; XXH64 runs at about 10 GB/s here against
   * 3-4.5 for zlib's CRC-32, on the thread that also takes the SHA-256. The
   * chunk's CRC-32 is then taken by the frame's thread.
   */
  check?: 'xxh64';
}

/** The thread that reads the backup file back while it is written (backup-check-worker). */
export interface CheckWorkerData {
  file: string;
  compression: BackupCompression;
  /** The content is compared in chunks of this size (the ring's slot size, as the drive was read). */
  chunkSize: number;
  /**
   * zstd: the level the writer compresses at. Its frame of SEEKABLE_FRAME_SIZE
   * zeros (free space) is then recognised by its bytes instead of decoded
   * (backup-check-worker.ts). Absent: every frame is decoded.
   */
  level?: number;
}

export type ToCheck =
  /** The first `bytes` of the file are written and may be read back. */
  | { type: 'available'; bytes: number }
  /** The file is complete at `bytes`: check the rest and report. */
  | { type: 'final'; bytes: number }
  | { type: 'stop' };

export type FromCheck =
  /** Content bytes decompressed and checked so far. */
  | { type: 'progress'; contentBytes: number }
  /** The file's content: its size and the CRC-32 of each chunk (io/chunk-crc.ts). */
  | { type: 'done'; contentBytes: number; crcs: number[] }
  | { type: 'stopped' }
  | { type: 'error'; error: ErrorInfo };

/*
 * The kinds the host spawns (worker-host.ts). The compress-writer stops at its
 * cancel flag, checked between pieces of native work that a message could not
 * interrupt; the checker between reads; the drive reader on its message.
 */
export const COMPRESS_WRITER_WORKER = workerKind<ToCompressWriter, FromCompressWriter, CompressWriterData>('compress-writer-worker');
export const BACKUP_CHECK_WORKER = workerKind<ToCheck, FromCheck, CheckWorkerData>('backup-check-worker');
export const DRIVE_READER_WORKER = workerKind<ToSource, FromSource, DriveReaderData>('drive-reader-worker', { cancelMessage: { type: 'cancel' } });
