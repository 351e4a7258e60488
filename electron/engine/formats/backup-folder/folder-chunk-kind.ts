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
  pieces: SharedPieceList;
  memory: SharedArrayBuffer;
}

/**
 * A generation's piece list in shared memory, which every thread of the pool
 * reads in place. As an array of [offset, length, hex name] it was copied to
 * each thread: on the bench's 12,258 pieces about 50 ms of the restore's
 * own thread per copy, before any piece was read, and as long again on each
 * receiving thread.
 */
export interface SharedPieceList {
  count: number;
  offsets: Float64Array;
  lengths: Uint32Array;
  /** 32 bytes per piece: its name (a SHA-256), as bytes. */
  names: Uint8Array;
}

export const NAME_BYTES = 32;

export function sharePieces(pieces: readonly PieceRef[]): SharedPieceList {
  const count = pieces.length;
  const offsets = new Float64Array(new SharedArrayBuffer(count * 8));
  const lengths = new Uint32Array(new SharedArrayBuffer(count * 4));
  const names = Buffer.from(new SharedArrayBuffer(count * NAME_BYTES));
  pieces.forEach(([offset, length, hash], i) => {
    offsets[i] = offset;
    lengths[i] = length;
    names.write(hash, i * NAME_BYTES, NAME_BYTES, 'hex');
  });
  return { count, offsets, lengths, names };
}

/** The hex name of each piece (what its file is called), by index. */
export function pieceNames(list: SharedPieceList): (i: number) => string {
  const names = Buffer.from(list.names.buffer, list.names.byteOffset, list.names.byteLength);
  return (i) => names.toString('hex', i * NAME_BYTES, (i + 1) * NAME_BYTES);
}

export const FOLDER_CHUNK_WORKER = workerKind<ToChunkWorker, FromChunkWorker, FolderChunkWorkerData>('folder-chunk-worker');
