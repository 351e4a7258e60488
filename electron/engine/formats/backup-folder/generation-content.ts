import { ImprintError } from '../../errors';
import type { FolderKeys } from './folder-crypto';
import type { GenerationIndex } from './generation-index';
import { AHEAD, PieceReader, type PieceProblem } from './piece-store';
import { ReadPace } from './read-pace';

/** Zeros handed out for what a generation did not store (free space); read-only by the consumer's contract. */
const ZEROS = Buffer.alloc(4 << 20);

/** Pieces read the same way, one after the other or ahead (read-pace.ts decides which). */
const BATCH = 64;

/**
 * The whole drive image of a generation, in order, as a smart backup's file
 * decodes: the pieces where it stored data, zeros elsewhere. Each piece is
 * checked against its name (SHA-256) before it is handed on; a missing or
 * damaged one stops the stream with an error naming the drive bytes it held.
 * A yielded buffer is valid until the consumer asks for the next one. Once
 * the pieces come from the disk rather than the page cache (read-pace.ts),
 * the next AHEAD pieces' files are read meanwhile on libuv's threads: an
 * export of the bench drive's folder, its pages dropped, took 7.1-7.3 s
 * reading them one after the other and 6.3-6.9 s so.
 */
export async function* generationContent(folder: string, index: GenerationIndex, signal?: AbortSignal, keys: FolderKeys | null = null, pace = new ReadPace()): AsyncGenerator<Buffer> {
  const reader = new PieceReader(folder, keys);
  const scratch = Buffer.allocUnsafe(index.pieceSize);
  const size = index.metadata.size;
  const pieces = index.pieces;
  // Piece i's file goes to slot i % AHEAD: the pieces on their way are never more than AHEAD apart.
  const slots: Buffer[] = [];
  const files: Promise<Buffer | PieceProblem>[] = [];
  let ahead = false;
  let batchEnd = 0;
  let asked = 0;
  let at = 0;
  const zerosUpTo = function* (end: number): Generator<Buffer> {
    while (at < end) {
      const n = Math.min(ZEROS.length, end - at);
      yield ZEROS.subarray(0, n);
      at += n;
    }
  };
  for (let i = 0; i < pieces.length; i++) {
    if (signal?.aborted) throw new ImprintError('E_CANCELLED', 'Cancelled.');
    if (i === batchEnd) {
      ahead = pace.nextAhead();
      batchEnd = Math.min(pieces.length, i + BATCH);
      asked = i;
    }
    // Reads ahead stay inside the batch, so none is on its way when the next batch is read one by one.
    for (; ahead && asked < batchEnd && asked < i + AHEAD; asked++) {
      const length = pieces.size(asked);
      const hash = pieces.hash(asked);
      const slot = reader.slotBuffer(slots, asked % AHEAD, length);
      files.push(new Promise((resolve) => reader.readFileAhead(hash, length, slot, resolve)));
    }
    const [offset, length, hash] = pieces.at(i);
    yield* zerosUpTo(offset);
    const file = ahead ? await (files.shift() as Promise<Buffer | PieceProblem>) : pace.timed(() => reader.readFile(hash, length));
    const got = 'problem' in file ? file : reader.check(hash, length, file, scratch);
    if (!got.ok) {
      throw new ImprintError('E_CORRUPT_SOURCE', `The backup folder ${folder} is damaged: ${got.detail}; it held drive bytes ${offset} to ${offset + length} of generation ${index.id}. The drive's partition table was not written.`, { offset });
    }
    yield got.data;
    at = offset + length;
  }
  yield* zerosUpTo(size);
}
