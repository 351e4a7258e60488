import * as fs from 'fs';
import { allocAligned, alignUp } from '../io/aligned-buffer';
import { readFully } from '../io/full-io';
import { openContent, type SourceInfo } from '../sources/image-source';

/**
 * Verification compares chunk checksums; when one differs, this finds the
 * first differing byte by reading that chunk again from the image and from
 * the target. Only runs on failure, so its cost does not matter.
 */
export async function firstDifference(info: SourceInfo, target: string, chunk: number, chunkSize: number, totalBytes: number): Promise<number> {
  const start = chunk * chunkSize;
  const length = Math.min(chunkSize, totalBytes - start);
  const expected = await readImageRange(info, start, length);
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
  for (let i = 0; i < length; i++) if (expected[i] !== actual[i]) return start + i;
  return start;
}

/** `length` bytes of the image's uncompressed content from `start`. */
export async function readImageRange(info: SourceInfo, start: number, length: number): Promise<Buffer> {
  const out = Buffer.alloc(length);
  if (info.format === 'raw') {
    const fd = fs.openSync(info.path, 'r');
    try {
      readFully(fd, out, 0, length, start);
    } finally {
      fs.closeSync(fd);
    }
    return out;
  }
  let pos = 0;
  let filled = 0;
  for await (const piece of openContent(info)) {
    const from = Math.max(0, start - pos);
    if (from < piece.length) {
      const n = piece.copy(out, filled, from, Math.min(piece.length, from + length - filled));
      filled += n;
      if (filled >= length) break;
    }
    pos += piece.length;
  }
  return out;
}
