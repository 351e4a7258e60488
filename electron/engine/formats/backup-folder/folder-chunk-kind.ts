import { workerKind } from '../../worker-host';
import type { FromChunkWorker, ToChunkWorker } from '../zstd-chunk-pool';
import type { PieceRef } from './generation-index';

/**
 * The thread that decodes drive ranges of a backup folder's generation for
 * a restore (workers/folder-chunk-worker.ts): it takes the messages of
 * ZstdChunkPool's threads, so the same pool and the same in-order loop
 * (pipelines/stored-chunks.ts) run it.
 */
export interface FolderChunkWorkerData {
  folder: string;
  /** The generation's pieces, in drive order (checked when the index was read). */
  pieces: PieceRef[];
  memory: SharedArrayBuffer;
}

export const FOLDER_CHUNK_WORKER = workerKind<ToChunkWorker, FromChunkWorker, FolderChunkWorkerData>('folder-chunk-worker');
