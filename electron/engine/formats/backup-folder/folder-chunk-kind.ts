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
  /** Take each range's CRC-32 (pipelines/stored-chunks.ts's decodeFolderChunks says when not). */
  crcs: boolean;
  /**
   * Read every range's pieces ahead, several at once, from the start; by
   * default a thread does so only once it finds them on the disk rather
   * than in the page cache (workers/folder-chunk-worker.ts).
   */
  readAhead?: boolean;
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

export const NAME_BYTES = 32;

export function sharePieces(pieces: readonly PieceRef[]): SharedPieceList {
  const count = pieces.length;
  const offsets = new Float64Array(new SharedArrayBuffer(count * 8));
  const lengths = new Uint32Array(new SharedArrayBuffer(count * 4));
  const names = Buffer.from(new SharedArrayBuffer(count * NAME_BYTES));
  const repeats = new Uint8Array(new SharedArrayBuffer(count));
  /** Index of the first piece with each name. */
  const first = new Map<string, number>();
  // Indexed, not destructured: destructuring runs the array iterator, 10 ms for 12,258 pieces.
  for (let i = 0; i < count; i++) {
    const p = pieces[i] as PieceRef;
    offsets[i] = p[0];
    lengths[i] = p[1];
    const seen = first.get(p[2]);
    if (seen === undefined) first.set(p[2], i);
    else repeats[i] = repeats[seen] = 1;
  }
  // One decode of all the names (a write per name: 10-40 ms for 12,258); names that are not
  // 64 hex digits each (never, from a checked index) would shift the rest, so then one by one.
  const joined = pieces.map((p) => p[2]).join('');
  if (joined.length !== count * NAME_BYTES * 2 || names.write(joined, 0, 'hex') !== count * NAME_BYTES) {
    pieces.forEach(([, , hash], i) => names.write(hash, i * NAME_BYTES, NAME_BYTES, 'hex'));
  }
  return { count, offsets, lengths, names, repeats };
}

/** The hex name of each piece (what its file is called), by index. */
export function pieceNames(list: SharedPieceList): (i: number) => string {
  const names = Buffer.from(list.names.buffer, list.names.byteOffset, list.names.byteLength);
  return (i) => names.toString('hex', i * NAME_BYTES, (i + 1) * NAME_BYTES);
}

export const FOLDER_CHUNK_WORKER = workerKind<ToChunkWorker, FromChunkWorker, FolderChunkWorkerData>('folder-chunk-worker');
