import * as fs from 'fs';
import { allocAligned, alignUp } from '../io/aligned-buffer';
import { readFully } from '../io/full-io';
import { openContent, type SourceInfo } from '../formats/image-source';

/**
 * Verification compares chunk checksums; when one differs, this finds the
 * first differing byte by reading that chunk again from the image and from
 * the target, and asks whether the drive is counterfeit. Only runs on
 * failure, so its cost does not matter.
 */

/** What a differing chunk tells about the drive. */
export interface MismatchFindings {
  /** First byte offset where the target differs from the image. */
  offset: number;
  /**
   * Set when the target holds, where it differs, the image's data from
   * exactly this many bytes further on (or back): the drive keeps only the
   * low bits of each address, as counterfeit drives do, and this is about its
   * real capacity. Null when the difference looks like anything else.
   */
  wrapsAt: number | null;
}

/** The compared unit: a page, so one match is thousands of bytes agreeing. */
const BLOCK = 4096;
/** Smallest and largest wrap periods tried: 1 MiB (the smallest fake seen in tests) to 2^50 bytes. */
const MIN_PERIOD_BITS = 20;
const MAX_PERIOD_BITS = 50;
/** Differing blocks of the chunk examined for a wrap before giving up. */
const BLOCKS_EXAMINED = 4;

export async function examineMismatch(info: SourceInfo, target: string, chunk: number, chunkSize: number, totalBytes: number): Promise<MismatchFindings> {
  const start = chunk * chunkSize;
  const length = Math.min(chunkSize, totalBytes - start);
  const expected = await readImageRange(info, start, length);
  const actual = readTarget(target, start, length);
  let offset = start;
  for (let i = 0; i < length; i++) {
    if (expected[i] !== actual[i]) {
      offset = start + i;
      break;
    }
  }
  const wrap = await findWrap(info, expected, actual, start, totalBytes);
  return { offset, wrapsAt: wrap && refinePeriod(target, actual, start, wrap) };
}

/** As examineMismatch, the first differing offset only. */
export async function firstDifference(info: SourceInfo, target: string, chunk: number, chunkSize: number, totalBytes: number): Promise<number> {
  return (await examineMismatch(info, target, chunk, chunkSize, totalBytes)).offset;
}

function readTarget(target: string, start: number, length: number): Buffer {
  const actual = allocAligned(alignUp(length));
  let fd: number;
  try {
    fd = fs.openSync(target, fs.constants.O_RDONLY | fs.constants.O_DIRECT);
  } catch {
    fd = fs.openSync(target, 'r');
  }
  try {
    readFully(fd, actual, 0, alignUp(length), start);
  } finally {
    fs.closeSync(fd);
  }
  return actual.subarray(0, length);
}

/**
 * Looks for a wrap: a differing block of the target that equals the image's
 * block one power of two further on (a later write landed on it) or back (a
 * read wrapped onto earlier data). Blocks of one repeated byte (zeros, 0xff)
 * prove nothing and are skipped.
 */
async function findWrap(info: SourceInfo, expected: Buffer, actual: Buffer, start: number, totalBytes: number): Promise<{ block: number; period: number } | null> {
  const blocks: number[] = [];
  for (let at = 0; at + BLOCK <= actual.length && blocks.length < BLOCKS_EXAMINED; at += BLOCK) {
    const got = actual.subarray(at, at + BLOCK);
    if (!got.equals(expected.subarray(at, at + BLOCK)) && !isUniform(got)) blocks.push(at);
  }
  if (blocks.length === 0) return null;
  const wanted = new Map<number, { block: number; period: number }[]>();
  for (const block of blocks) {
    for (let bits = MIN_PERIOD_BITS; bits <= MAX_PERIOD_BITS; bits++) {
      const period = 2 ** bits;
      for (const at of [start + block + period, start + block - period]) {
        if (at >= 0 && at + BLOCK <= totalBytes) wanted.set(at, [...(wanted.get(at) ?? []), { block, period }]);
      }
    }
  }
  const image = await readImageBlocks(info, [...wanted.keys()], BLOCK);
  let best: { block: number; period: number } | null = null;
  for (const [at, asks] of wanted) {
    const data = image.get(at);
    if (!data) continue;
    for (const ask of asks) {
      if (data.equals(actual.subarray(ask.block, ask.block + BLOCK)) && (best === null || ask.period < best.period)) best = ask;
    }
  }
  return best;
}

/**
 * The match says the real capacity divides `wrap.period`, not that it equals
 * it: with an image more than twice the real capacity, the last write to a
 * place came from two periods on. On a wrapping drive, reading the target one
 * real capacity further on returns the same place: halve the period while the
 * target reads the same block there.
 */
function refinePeriod(target: string, actual: Buffer, start: number, wrap: { block: number; period: number }): number {
  const here = actual.subarray(wrap.block, wrap.block + BLOCK);
  let period = wrap.period;
  while (period / 2 >= 2 ** MIN_PERIOD_BITS) {
    const there = readTarget(target, start + wrap.block + period / 2, BLOCK);
    if (!there.equals(here)) break;
    period /= 2;
  }
  return period;
}

function isUniform(b: Buffer): boolean {
  const first = b[0];
  for (let i = 1; i < b.length; i++) if (b[i] !== first) return false;
  return true;
}

/** `length` bytes of the image's uncompressed content from `start`. */
export async function readImageRange(info: SourceInfo, start: number, length: number): Promise<Buffer> {
  const got = (await readImageBlocks(info, [start], length)).get(start) ?? Buffer.alloc(0);
  // Past the image's end reads as zeros, as before.
  return got.length === length ? got : Buffer.concat([got, Buffer.alloc(length - got.length)]);
}

/**
 * Blocks of `length` bytes of the image's uncompressed content at each
 * offset, in one pass over a compressed image. Blocks past the end are short.
 */
export async function readImageBlocks(info: SourceInfo, offsets: number[], length: number): Promise<Map<number, Buffer>> {
  const out = new Map<number, Buffer>();
  if (info.format === 'raw') {
    const fd = fs.openSync(info.path, 'r');
    try {
      for (const at of offsets) {
        const buf = Buffer.alloc(length);
        out.set(at, buf.subarray(0, readFully(fd, buf, 0, length, at)));
      }
    } finally {
      fs.closeSync(fd);
    }
    return out;
  }
  const pending = [...new Set(offsets)].sort((a, b) => a - b).map((at) => ({ at, buf: Buffer.alloc(length), filled: 0 }));
  const last = pending.length > 0 ? (pending[pending.length - 1] as { at: number }).at + length : 0;
  let pos = 0;
  // Pieces are copied out before the next is asked for.
  for await (const piece of openContent(info, { transient: true })) {
    const end = pos + piece.length;
    for (const p of pending) {
      if (p.at + length <= pos || p.at >= end) continue;
      const from = Math.max(p.at, pos);
      const to = Math.min(p.at + length, end);
      piece.copy(p.buf, from - p.at, from - pos, to - pos);
      p.filled = Math.max(p.filled, to - p.at);
    }
    pos = end;
    if (pos >= last) break;
  }
  for (const p of pending) out.set(p.at, p.buf.subarray(0, p.filled));
  return out;
}
