import type { BackupCompression } from '../../../shared/backup-metadata';
import type { ErrorInfo } from '../../../shared/error-codes';
import type { RingSpec } from '../workers/messages';

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
  /** The drive's size: zstd records it in the frame header. */
  totalBytes: number;
  ring: RingSpec;
  /** One Int32: set to 1 to stop at once. Checked between pieces of native work, which a message could not interrupt. */
  cancel: SharedArrayBuffer;
}

export type ToCompressWriter =
  | { type: 'write'; slot: number; offset: number; length: number }
  /** End the stream; `trailer` (embedded metadata) is appended after the compressed data. */
  | { type: 'finish'; totalBytes: number; trailer: Uint8Array | null }
  /** Stop, close the file, write nothing more. The orchestrator removes the file. */
  | { type: 'abandon' };

export type FromCompressWriter =
  | { type: 'ready' }
  /** The slot may be reused; `outputBytes` is the backup file's size so far. */
  | { type: 'written'; slot: number; bytes: number; outputBytes: number }
  | { type: 'finished'; outputBytes: number }
  | { type: 'abandoned' }
  | { type: 'error'; error: ErrorInfo };
