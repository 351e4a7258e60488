import { ImprintError, toErrorInfo } from '../errors';
import { chunkCrc } from '../io/chunk-crc';
import { FOLDER_CHUNK_WORKER } from '../formats/backup-folder/folder-chunk-kind';
import { PieceReader } from '../formats/backup-folder/piece-store';
import type { FromChunkWorker } from '../formats/zstd-chunk-pool';
import { workerPort } from './worker-port';

/**
 * One thread of a folder restore's pool: fills a drive range [offset,
 * offset + length) of a generation into the shared memory it is told, from
 * the pieces there and zeros between them, and takes the range's CRC-32.
 * A piece is decoded with its frame checksum checked, not hashed again: the
 * restore checks each chunk's CRC-32 and all the data's SHA-256 before it
 * writes the partition table (profiled: the SHA-256 of every piece and
 * zeroing whole chunks took 40% of these threads' time).
 */
const port = workerPort(FOLDER_CHUNK_WORKER);
const { folder, pieces, memory } = port.data;
const reader = new PieceReader(folder);
let scratch: Buffer | null = null;

/** Index of the first piece ending after `offset` (pieces are in drive order, non-overlapping). */
function firstEndingAfter(offset: number): number {
  let lo = 0;
  let hi = pieces.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const [o, l] = pieces[mid] as [number, number, string];
    if (o + l <= offset) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function fill(offset: number, out: Buffer): void {
  const end = offset + out.length;
  /** Bytes of `out` filled so far: a gap before the next piece is zeroed, the pieces are decoded over. */
  let done = 0;
  for (let i = firstEndingAfter(offset); i < pieces.length; i++) {
    const [pOffset, pLength, hash] = pieces[i] as [number, number, string];
    if (pOffset >= end) break;
    if (pOffset - offset > done) out.fill(0, done, pOffset - offset);
    done = Math.max(done, Math.min(end, pOffset + pLength) - offset);
    const whole = pOffset >= offset && pOffset + pLength <= end;
    // A piece inside the range decodes straight into place; one across its edge (never, with pieces that divide the chunk) through scratch.
    if (!whole && (!scratch || scratch.length < pLength)) scratch = Buffer.allocUnsafe(pLength);
    const got = reader.read(hash, pLength, whole ? out.subarray(pOffset - offset, pOffset - offset + pLength) : (scratch as Buffer), { hashCheck: false });
    if (!got.ok) {
      throw new ImprintError('E_CORRUPT_SOURCE', `The backup folder ${folder} is damaged: ${got.detail}; it held drive bytes ${pOffset} to ${pOffset + pLength}. The drive's partition table was not written.`, { offset: pOffset });
    }
    if (!whole) {
      const from = Math.max(offset, pOffset);
      const to = Math.min(end, pOffset + pLength);
      got.data.copy(out, from - offset, from - pOffset, to - pOffset);
    }
  }
  if (done < out.length) out.fill(0, done);
}

port.onMessage((msg) => {
  if (msg.type === 'close') {
    port.close();
    return;
  }
  let reply: FromChunkWorker;
  try {
    const out = Buffer.from(memory, msg.at, msg.length);
    fill(msg.offset, out);
    reply = { type: 'done', id: msg.id, bytes: msg.length, crc: chunkCrc(out) };
  } catch (err) {
    reply = { type: 'error', id: msg.id, error: toErrorInfo(err) };
  }
  port.post(reply);
});
