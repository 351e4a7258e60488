import { ImprintError } from '../../errors';
import type { FolderKeys } from './folder-crypto';
import type { GenerationIndex } from './generation-index';
import { PieceReader } from './piece-store';

/** Zeros handed out for what a generation did not store (free space); read-only by the consumer's contract. */
const ZEROS = Buffer.alloc(4 << 20);

/**
 * The whole drive image of a generation, in order, as a smart backup's file
 * decodes: the pieces where it stored data, zeros elsewhere. Each piece is
 * checked against its name (SHA-256) before it is handed on; a missing or
 * damaged one stops the stream with an error naming the drive bytes it held.
 * A yielded buffer is valid until the consumer asks for the next one.
 */
export async function* generationContent(folder: string, index: GenerationIndex, signal?: AbortSignal, keys: FolderKeys | null = null): AsyncGenerator<Buffer> {
  const reader = new PieceReader(folder, keys);
  const scratch = Buffer.allocUnsafe(index.pieceSize);
  const size = index.metadata.size;
  let at = 0;
  const zerosUpTo = function* (end: number): Generator<Buffer> {
    while (at < end) {
      const n = Math.min(ZEROS.length, end - at);
      yield ZEROS.subarray(0, n);
      at += n;
    }
  };
  for (const [offset, length, hash] of index.pieces) {
    if (signal?.aborted) throw new ImprintError('E_CANCELLED', 'Cancelled.');
    yield* zerosUpTo(offset);
    const got = reader.read(hash, length, scratch);
    if (!got.ok) {
      throw new ImprintError('E_CORRUPT_SOURCE', `The backup folder ${folder} is damaged: ${got.detail}; it held drive bytes ${offset} to ${offset + length} of generation ${index.id}. The drive's partition table was not written.`, { offset });
    }
    yield got.data;
    at = offset + length;
  }
  yield* zerosUpTo(size);
}
