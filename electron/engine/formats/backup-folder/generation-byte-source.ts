import { ImprintError } from '../../errors';
import type { ByteSource } from '../byte-source-types';
import type { SourceInfo } from '../image-source';
import type { FolderKeys } from './folder-crypto';
import type { GenerationIndex, PieceRef } from './generation-index';
import { PieceReader } from './piece-store';

/**
 * Random access to the drive image one generation of a backup folder holds,
 * so `imprint ls` / `extract` can look inside it without restoring it. A
 * read finds the pieces covering it by binary search over the index (pieces
 * come in drive order), decodes only those, each checked against its SHA-256
 * name (PieceReader), and keeps the last few decoded ones: a filesystem
 * reads its metadata in small scattered reads that mostly hit the same
 * pieces. What the generation did not store (free space) reads as zeros,
 * as it restores.
 */

/** Decoded pieces kept: 32 x 256 KiB = 8 MiB, enough for a directory walk's working set. */
const CACHED_PIECES = 32;

/**
 * Checks the parts of an index this source relies on, whatever checked it
 * before (the index is read from a folder: untrusted): every piece inside
 * the drive, non-empty, at most one piece long, after the previous one.
 * Returns why it is not usable, or null.
 */
export function pieceBoundsProblem(index: GenerationIndex): string | null {
  const size = index.metadata.size;
  if (!Number.isSafeInteger(size) || size < 0) return `its drive size ${String(size)} is not a size`;
  let end = 0;
  const { offsets, lengths } = index.pieces;
  for (let i = 0; i < offsets.length; i++) {
    const offset = offsets[i] as number;
    const length = lengths[i] as number;
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || length <= 0 || length > index.pieceSize) return `piece ${i} has a bad length (${String(length)})`;
    if (offset < end) return `piece ${i} (at byte ${offset}) overlaps or precedes the piece before it`;
    if (offset + length > size) return `piece ${i} (${length} bytes at ${offset}) lies past the end of the ${size}-byte drive`;
    end = offset + length;
  }
  return null;
}

/** Opens `index` (a generation of `folder`) for random access; throws E_CORRUPT_SOURCE when its pieces are not where a drive can hold them. */
export function openGenerationSource(folder: string, index: GenerationIndex, keys: FolderKeys | null = null): ByteSource {
  const problem = pieceBoundsProblem(index);
  if (problem) throw new ImprintError('E_CORRUPT_SOURCE', `Generation ${index.id} of ${folder} is damaged or not Imprint's: ${problem}.`);
  const size = index.metadata.size;
  const pieces = index.pieces;
  const reader = new PieceReader(folder, keys);
  // Map keeps insertion order: the first key is the least recently used.
  const cache = new Map<string, Buffer>();

  const decoded = (piece: PieceRef): Buffer => {
    const [offset, length, hash] = piece;
    const key = `${hash}:${length}`;
    const hit = cache.get(key);
    if (hit) {
      cache.delete(key);
      cache.set(key, hit);
      return hit;
    }
    const got = reader.read(hash, length);
    if (!got.ok) {
      throw new ImprintError('E_CORRUPT_SOURCE', `The backup folder ${folder} is damaged: ${got.detail}; it held drive bytes ${offset} to ${offset + length} of generation ${index.id}.`, { offset });
    }
    cache.set(key, got.data);
    if (cache.size > CACHED_PIECES) cache.delete(cache.keys().next().value as string);
    return got.data;
  };

  /** Index of the first piece that ends after `pos` (pieces.length when none does). */
  const firstEndingAfter = (pos: number): number => {
    let lo = 0;
    let hi = pieces.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (pieces.offset(mid) + pieces.size(mid) <= pos) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };

  const info: SourceInfo = { path: `${folder}#${index.id}`, format: 'zstd', fileSize: 0, size, sizeEstimate: null, isDevice: false };
  return {
    info,
    access: 'piece-index',
    note: null,
    size: () => size,
    fullSize: async () => size,
    async read(offset, length) {
      if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
        throw new ImprintError('E_INTERNAL', `Bad read of ${String(length)} bytes at ${String(offset)} in ${info.path}.`);
      }
      const end = Math.min(size, offset + length);
      if (offset >= end) return Buffer.alloc(0);
      const out = Buffer.alloc(end - offset);
      // Bounded by the pieces inside [offset, end): each one is visited once.
      for (let i = firstEndingAfter(offset); i < pieces.length; i++) {
        const piece = pieces.at(i);
        const [pOffset, pLength] = piece;
        if (pOffset >= end) break;
        const data = decoded(piece);
        const from = Math.max(offset, pOffset);
        const to = Math.min(end, pOffset + pLength);
        data.copy(out, from - offset, from - pOffset, to - pOffset);
      }
      return out;
    },
    async close() {
      cache.clear();
    },
  };
}
