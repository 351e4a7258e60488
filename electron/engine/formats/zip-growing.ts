import { Readable } from 'stream';
import * as yauzl from 'yauzl';
import { ImprintError } from '../errors';
import type { GrowingFile } from '../io/growing-file';
import { growingFileStream } from '../io/growing-read-stream';
import { pickZipImage, type ZipImageEntry } from './zip-entry';

/**
 * Finds the image in a zip archive that is still downloading. A zip's
 * central directory is at its end, so the caller fetches the archive's tail
 * first (a range request) and hands it over in memory; every other byte
 * (the image's local header, at the start) is read from the download as it
 * arrives. Then the entry's data, which comes before the central directory,
 * can be decoded as it downloads.
 */
export interface ZipTail {
  /** Offset of `bytes` in the archive. */
  offset: number;
  bytes: Buffer;
}

/** Bytes of an archive's end that hold its end-of-central-directory record, whatever its comment (at most 65,535 bytes). */
export const ZIP_EOCD_SEARCH = 22 + 0xffff + 20;

class TailThenGrowingReader extends yauzl.RandomAccessReader {
  constructor(
    private readonly path: string,
    private readonly growing: GrowingFile,
    private readonly tail: ZipTail,
  ) {
    super();
  }

  override _readStreamForRange(start: number, end: number): Readable {
    const { offset, bytes } = this.tail;
    if (start >= offset && end <= offset + bytes.length) return Readable.from([bytes.subarray(start - offset, end - offset)]);
    // yauzl's end is exclusive; the stream's is inclusive.
    return growingFileStream(this.path, this.growing, { start, end: end - 1 });
  }
}

const EOCD = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_EOCD = 0x06064b50;

/**
 * The offset the archive's tail must start at to hold its whole central
 * directory (and, in a zip64 archive, the zip64 record that locates it),
 * from what `tail` shows; when that is before `tail.offset`, the caller
 * fetches from there and asks again. Null when the tail holds no
 * end-of-central-directory record (yauzl then says what is wrong).
 */
export function directoryStart(tail: ZipTail, fileSize: number): number | null {
  const b = tail.bytes;
  for (let i = b.length - 22; i >= 0 && i >= b.length - ZIP_EOCD_SEARCH; i--) {
    if (b.readUInt32LE(i) !== EOCD) continue;
    // The comment must run exactly to the end of the file, or this is a false match.
    if (i + 22 + b.readUInt16LE(i + 20) !== b.length || tail.offset + b.length !== fileSize) continue;
    const offset = b.readUInt32LE(i + 16);
    if (offset !== 0xffffffff && b.readUInt32LE(i + 12) !== 0xffffffff && b.readUInt16LE(i + 10) !== 0xffff) return Math.min(offset, tail.offset + i);
    // Zip64: a locator just before the record points at the zip64 record, which holds the directory's offset.
    if (i < 20 || b.readUInt32LE(i - 20) !== ZIP64_LOCATOR) return null;
    const record = Number(b.readBigUInt64LE(i - 12));
    if (!Number.isSafeInteger(record) || record >= fileSize) return null;
    if (record < tail.offset) return record;
    const at = record - tail.offset;
    if (at + 56 > b.length || b.readUInt32LE(at) !== ZIP64_EOCD) return null;
    const directory = Number(b.readBigUInt64LE(at + 48));
    return Number.isSafeInteger(directory) ? Math.min(directory, record) : null;
  }
  return null;
}

/**
 * The image entry of the archive at `path` (`total` bytes once downloaded),
 * its end in `tail`, its start in the file as `growing` says it arrives.
 * Errors are zip-entry.ts's: a corrupt archive, no image, several images.
 */
export async function findZipImageGrowing(path: string, growing: GrowingFile, tail: ZipTail, total: number): Promise<ZipImageEntry> {
  const reader = new TailThenGrowingReader(path, growing, tail);
  let zip: yauzl.ZipFile;
  try {
    zip = await yauzl.fromRandomAccessReaderPromise(reader, total, { lazyEntries: true, autoClose: false });
  } catch (err) {
    if (err instanceof ImprintError) throw err;
    throw new ImprintError('E_CORRUPT_SOURCE', `The zip archive ${path} is truncated or corrupt: ${(err as Error).message}`, { cause: err });
  }
  return pickZipImage(zip, path);
}
