import { workerKind } from '../../worker-host';
import type { FromChunkWorker, ToChunkWorker } from '../zstd-chunk-pool';
import type { PieceKeyBytes } from './folder-crypto';
import { NAME_BYTES, firstOccurrences } from './name-set';
import type { PieceList } from './piece-list';

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
  /** Take each range's CRC-32 (pipelines/stored-chunks.ts's decodeFolderChunks says when not). */
  crcs: boolean;
  /**
   * Read every range's pieces ahead, several at once, from the start; by
   * default a thread does so only once it finds them on the disk rather
   * than in the page cache (workers/folder-chunk-worker.ts).
   */
  readAhead?: boolean;
  /** An encrypted folder's piece and name keys (FolderKeys.pieceKeyBytes); absent for a plain folder. */
  keys?: PieceKeyBytes;
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
  /**
   * 1 where the piece's name appears more than once in the list (the same
   * content at several places: runs of zeros, copies of a file): a thread
   * keeps such a piece once decoded and checked, and copies it to the other
   * places, which would read and check the same file again.
   */
  repeats: Uint8Array;
}

export { NAME_BYTES };

export function sharePieces(pieces: PieceList): SharedPieceList {
  const count = pieces.length;
  const offsets = new Float64Array(new SharedArrayBuffer(count * 8));
  const lengths = new Uint32Array(new SharedArrayBuffer(count * 4));
  const names = Buffer.from(new SharedArrayBuffer(count * NAME_BYTES));
  const repeats = new Uint8Array(new SharedArrayBuffer(count));
  offsets.set(pieces.offsets);
  lengths.set(pieces.lengths);
  names.set(pieces.names);
  const first = firstOccurrences(names);
  for (let i = 0; i < count; i++) {
    const f = first[i] as number;
    if (f !== i) repeats[i] = repeats[f] = 1;
  }
  return { count, offsets, lengths, names, repeats };
}

/** The hex name of each piece (what its file is called), by index. */
export function pieceNames(list: SharedPieceList): (i: number) => string {
  const names = Buffer.from(list.names.buffer, list.names.byteOffset, list.names.byteLength);
  return (i) => names.toString('hex', i * NAME_BYTES, (i + 1) * NAME_BYTES);
}

export const FOLDER_CHUNK_WORKER = workerKind<ToChunkWorker, FromChunkWorker, FolderChunkWorkerData>('folder-chunk-worker');
