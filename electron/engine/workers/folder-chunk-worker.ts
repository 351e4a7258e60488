import type * as ZstdBinding from 'zstd-napi/binding';
import { ImprintError, toErrorInfo } from '../errors';
import { crc32 } from '../io/crc32';
import { crc32AfterZeros } from '../io/crc32-zeros';
import { FOLDER_CHUNK_WORKER, pieceNames } from '../formats/backup-folder/folder-chunk-kind';
import { FolderKeys } from '../formats/backup-folder/folder-crypto';
import { PieceReader } from '../formats/backup-folder/piece-store';
import { ReadPace } from '../formats/backup-folder/read-pace';
import type { ToChunkWorker } from '../formats/zstd-chunk-pool';
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
 *
 * Pieces are read one after the other while they come from the page cache,
 * and several at once on libuv's threads once a range shows they come from
 * the disk (fill() and fillAhead() below, formats/backup-folder/read-pace.ts):
 * on this machine, with the folder's pages dropped, a restore of the bench
 * drive's folder took 5.55-5.68 s reading piece by piece and 3.5-5.6 s
 * (median 4.9 s) reading ahead, against 3.4-4.7 s for its single-file
 * backup (this machine's disk varies from hour to hour).
 */
const port = workerPort(FOLDER_CHUNK_WORKER);
const { folder, pieces, memory, crcs, readAhead, keys } = port.data;
const reader = new PieceReader(folder, keys ? FolderKeys.forPieces(keys) : null);
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

/** One piece of a range being filled: where it goes, and where its decoded bytes come from. */
interface Placed {
  i: number;
  hash: string;
  pOffset: number;
  pLength: number;
  /** Inside the range: decoded straight into place; across its edge (never, with pieces that divide the chunk): through scratch. */
  whole: boolean;
}

function damaged(detail: string, p: Placed): ImprintError {
  return new ImprintError('E_CORRUPT_SOURCE', `The backup folder ${folder} is damaged: ${detail}; it held drive bytes ${p.pOffset} to ${p.pOffset + p.pLength}. The drive's partition table was not written.`, { offset: p.pOffset });
}

/** The pieces of drive range [offset, end), in drive order. */
function placed(offset: number, end: number): Placed[] {
  const out: Placed[] = [];
  for (let i = firstEndingAfter(offset); i < pieces.count; i++) {
    const pOffset = pieces.offsets[i] as number;
    const pLength = pieces.lengths[i] as number;
    if (pOffset >= end) break;
    out.push({ i, hash: nameOf(i), pOffset, pLength, whole: pOffset >= offset && pOffset + pLength <= end });
  }
  return out;
}

/** Where piece `p` decodes to: its place in `out`, or scratch. */
function target(p: Placed, offset: number, out: Buffer): Buffer {
  if (p.whole) return out.subarray(p.pOffset - offset, p.pOffset - offset + p.pLength);
  if (!scratch || scratch.length < p.pLength) scratch = Buffer.allocUnsafe(p.pLength);
  return scratch;
}

/** Copies a piece decoded through scratch to the part of it inside the range. */
function settle(p: Placed, offset: number, out: Buffer): void {
  if (!p.whole) scratch?.copy(out, Math.max(offset, p.pOffset) - offset, Math.max(offset, p.pOffset) - p.pOffset, Math.min(offset + out.length, p.pOffset + p.pLength) - p.pOffset);
}

/** Decodes piece `p` from a frame kept earlier; false if there is none (or it does not give the piece, never: it did before). */
function fromKept(p: Placed, into: Buffer): boolean {
  const frame = pieces.repeats[p.i] === 1 ? kept.get(p.hash) : undefined;
  return frame !== undefined && decodeKept(frame, p.pLength, into);
}

/** Checks and decodes a piece's file into place, keeping its frame when the piece is repeated; throws naming the drive bytes if it is damaged. */
function accept(p: Placed, file: Buffer, into: Buffer): void {
  const got = reader.check(p.hash, p.pLength, file, into);
  if (!got.ok) throw damaged(got.detail, p);
  if (pieces.repeats[p.i] === 1) keep(p.hash, got.frame);
}

/** The CRC-32 of a drive range [offset, end), taken piece by piece in drive order, what lies between pieces as the zeros it stands for. */
class RangeCrc {
  private crc = 0;
  /** Drive offset up to which the CRC is taken. */
  private at: number;

  constructor(
    private readonly offset: number,
    private readonly end: number,
  ) {
    this.at = offset;
  }

  /** Takes piece `p`'s part of the range, in place in `out` (the range's memory). */
  add(p: Placed, out: Buffer): void {
    const from = Math.max(this.offset, p.pOffset);
    const to = Math.min(this.end, p.pOffset + p.pLength);
    this.crc = crc32(out.subarray(from - this.offset, to - this.offset), crc32AfterZeros(this.crc, from - this.at));
    this.at = to;
  }

  value(): number {
    return crc32AfterZeros(this.crc, this.end - this.at);
  }
}

/** Whether this thread's next range is read ahead (formats/backup-folder/read-pace.ts). */
const pace = new ReadPace(readAhead === true);

/**
 * Fills `out` with the pieces of drive range [offset, offset + out.length)
 * one after the other, each read, checked and decoded before the next: when
 * the pieces are in the page cache (a backup made or read a moment ago) the
 * cheapest way; each read timed, to tell when they stop being cached.
 * Returns the range's CRC-32 (zeros between pieces) when asked.
 */
function fill(offset: number, out: Buffer): number {
  const crc = new RangeCrc(offset, offset + out.length);
  for (const p of placed(offset, offset + out.length)) {
    const into = target(p, offset, out);
    if (!fromKept(p, into)) {
      const file = pace.timed(() => reader.readFile(p.hash, p.pLength));
      if ('problem' in file) throw damaged(file.detail, p);
      accept(p, file, into);
    }
    settle(p, offset, out);
    if (crcs) crc.add(p, out);
  }
  return crc.value();
}

/**
 * The same with up to AHEAD piece files read at once on libuv's threads
 * (PieceReader.readAhead), each checked and decoded as it arrives: when the
 * pieces are on the disk (a restore after a crash, from a USB disk),
 * reading them one after the other waited for the disk once per piece, and
 * a restore of the bench drive's folder took 5.6 s against 3.4-4.7 s for
 * its single-file backup. Kept pieces are decoded before any read, and a
 * piece across the range's edge (never, with pieces that divide the chunk)
 * is read on this thread, since all such pieces share one scratch buffer.
 * The CRC-32 is taken at the end, over the pieces in drive order.
 */
function fillAhead(offset: number, out: Buffer, done: (err: unknown, crc: number) => void): void {
  const list = placed(offset, offset + out.length);
  reader.readAhead(
    0,
    list.length,
    (k) => {
      const p = list[k] as Placed;
      const into = target(p, offset, out);
      if (!fromKept(p, into)) {
        if (p.whole) return { hash: p.hash, length: p.pLength };
        const file = reader.readFile(p.hash, p.pLength);
        if ('problem' in file) throw damaged(file.detail, p);
        accept(p, file, into);
      }
      settle(p, offset, out);
      return null;
    },
    (k, file) => {
      const p = list[k] as Placed;
      if ('problem' in file) throw damaged(file.detail, p);
      accept(p, file, target(p, offset, out));
    },
    (err) => {
      if (err !== null) return done(err, 0);
      const crc = new RangeCrc(offset, offset + out.length);
      try {
        if (crcs) for (const p of list) crc.add(p, out);
      } catch (e) {
        return done(e, 0);
      }
      done(null, crc.value());
    },
  );
}

/**
 * Ranges are answered in the order given (the pool gives a few at once), so
 * one is filled at a time: a range read ahead finishes before the next starts.
 */
const waiting: Extract<ToChunkWorker, { type: 'decode' }>[] = [];
let busy = false;

function reply(msg: Extract<ToChunkWorker, { type: 'decode' }>, err: unknown, crc: number): void {
  port.post(err ? { type: 'error', id: msg.id, error: toErrorInfo(err) } : { type: 'done', id: msg.id, bytes: msg.length, ...(crcs ? { crc } : {}) });
}

function pump(): void {
  while (!busy && waiting.length > 0) {
    const msg = waiting.shift() as Extract<ToChunkWorker, { type: 'decode' }>;
    const out = Buffer.from(memory, msg.at, msg.length);
    if (pace.nextAhead()) {
      busy = true;
      fillAhead(msg.offset, out, (err, crc) => {
        busy = false;
        reply(msg, err, crc);
        pump();
      });
      return;
    }
    try {
      reply(msg, null, fill(msg.offset, out));
    } catch (err) {
      reply(msg, err, 0);
    }
  }
}

port.onMessage((msg) => {
  if (msg.type === 'close') {
    port.close();
    return;
  }
  waiting.push(msg);
  pump();
});
