import type * as ZstdBinding from 'zstd-napi/binding';
import { ImprintError, toErrorInfo } from '../errors';
import { crc32 } from '../io/crc32';
import { crc32AfterZeros } from '../io/crc32-zeros';
import { FOLDER_CHUNK_WORKER, pieceNames } from '../formats/backup-folder/folder-chunk-kind';
import { PieceReader } from '../formats/backup-folder/piece-store';
import type { FromChunkWorker } from '../formats/zstd-chunk-pool';
import { workerPort } from './worker-port';

/**
 * One thread of a folder restore's pool: fills a drive range [offset,
 * offset + length) of a generation into the shared memory it is told, from
 * the pieces there; what lies between them (free space, never written nor
 * hashed: 0.07 CPU-s of zeroing per GB restored) is left as it was. Each
 * piece is checked against its name (the SHA-256 of its content), and, when
 * asked (`crcs`: a restore without read-back), the range's CRC-32 is taken
 * piece by piece while each is fresh in the cache, the free space between
 * them folded in as the zeros it stands for (io/crc32-zeros.ts): the restore
 * compares it with the CRC-32 the generation recorded before the range is
 * written. With read-back, the drive is compared with the record instead,
 * before the partition table is written (pipelines/stored-chunks.ts).
 */
const port = workerPort(FOLDER_CHUNK_WORKER);
const { folder, pieces, memory, crcs } = port.data;
const reader = new PieceReader(folder);
const nameOf = pieceNames(pieces);
let scratch: Buffer | null = null;

/**
 * Pieces whose name the list holds more than once, kept the first time
 * they are read and checked here, as their zstd frames, oldest first: the
 * other places get the same frame decoded again (the same name is the same
 * file, so reading it again would check the same bytes). Decoding is
 * deterministic, and the frame's content size and checksum are checked
 * again. Copying the decoded piece instead cost more than it saved:
 * copies into shared memory go byte by byte (io/aligned-buffer.ts), about
 * 0.1 CPU-s for the bench drive's 532 repeats (of 12,258 pieces; 313 of
 * them the zeros of a whole piece, whose frame decodes at memset speed).
 */
const kept = new Map<string, Buffer>();
/** Frames kept at most: 32, each at most compressBound of a 256 KiB piece (the largest piece size). */
const KEPT_PIECES = 32;
// eslint-disable-next-line @typescript-eslint/no-require-imports -- native binding, loaded on the thread that uses it
const zstd = require('zstd-napi/binding') as typeof ZstdBinding;
const dctx = new zstd.DCtx();

function keep(hash: string, frame: Buffer): void {
  if (kept.size >= KEPT_PIECES) kept.delete(kept.keys().next().value as string);
  kept.set(hash, Buffer.from(frame));
}

/** Decodes a kept frame of `length` bytes into `into`; false if it does not give exactly that (never: it did before). */
function decodeKept(frame: Buffer, length: number, into: Buffer): boolean {
  try {
    return dctx.decompress(into.subarray(0, length), frame) === length;
  } catch {
    return false;
  }
}

/** Index of the first piece ending after `offset` (pieces are in drive order, non-overlapping). */
function firstEndingAfter(offset: number): number {
  let lo = 0;
  let hi = pieces.count;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((pieces.offsets[mid] as number) + (pieces.lengths[mid] as number) <= offset) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Fills `out` with the pieces of drive range [offset, offset + out.length); returns the range's CRC-32 (zeros between pieces). */
function fill(offset: number, out: Buffer): number {
  const end = offset + out.length;
  let crc = 0;
  /** Drive offset up to which the CRC is taken. */
  let crcAt = offset;
  for (let i = firstEndingAfter(offset); i < pieces.count; i++) {
    const pOffset = pieces.offsets[i] as number;
    const pLength = pieces.lengths[i] as number;
    if (pOffset >= end) break;
    const hash = nameOf(i);
    const whole = pOffset >= offset && pOffset + pLength <= end;
    // A piece inside the range decodes straight into place; one across its edge (never, with pieces that divide the chunk) through scratch.
    if (!whole && (!scratch || scratch.length < pLength)) scratch = Buffer.allocUnsafe(pLength);
    const from = Math.max(offset, pOffset);
    const to = Math.min(end, pOffset + pLength);
    const into = whole ? out.subarray(pOffset - offset, pOffset - offset + pLength) : (scratch as Buffer);
    const repeated = pieces.repeats[i] === 1;
    const frame = repeated ? kept.get(hash) : undefined;
    if (!frame || !decodeKept(frame, pLength, into)) {
      const got = reader.read(hash, pLength, into);
      if (!got.ok) {
        throw new ImprintError('E_CORRUPT_SOURCE', `The backup folder ${folder} is damaged: ${got.detail}; it held drive bytes ${pOffset} to ${pOffset + pLength}. The drive's partition table was not written.`, { offset: pOffset });
      }
      if (repeated) keep(hash, got.frame);
    }
    if (!whole) scratch?.copy(out, from - offset, from - pOffset, to - pOffset);
    if (crcs) {
      crc = crc32(out.subarray(from - offset, to - offset), crc32AfterZeros(crc, from - crcAt));
      crcAt = to;
    }
  }
  return crc32AfterZeros(crc, end - crcAt);
}

port.onMessage((msg) => {
  if (msg.type === 'close') {
    port.close();
    return;
  }
  let reply: FromChunkWorker;
  try {
    const out = Buffer.from(memory, msg.at, msg.length);
    const crc = fill(msg.offset, out);
    reply = { type: 'done', id: msg.id, bytes: msg.length, ...(crcs ? { crc } : {}) };
  } catch (err) {
    reply = { type: 'error', id: msg.id, error: toErrorInfo(err) };
  }
  port.post(reply);
});
