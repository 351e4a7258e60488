import { ImprintError } from '../errors';
import type { DecoderChoice } from '../formats/image-kind';
import { inspectSource, type SourceInfo } from '../formats/image-source';
import type { ZipImageEntry } from '../formats/zip-entry';
import { directoryStart, findZipImageGrowing, ZIP_EOCD_SEARCH } from '../formats/zip-growing';
import type { GrowingFile } from '../io/growing-file';
import type { HttpOptions } from '../net/http-request';
import { fetchTail } from '../net/range-request';
import { redact } from '../net/url-policy';

/**
 * What a flash from a URL needs to decode an image while it downloads
 * (flash-url-job.ts): its facts without its end, and for a zip archive, its
 * central directory fetched ahead by range requests.
 */

/**
 * The most of a zip's end fetched ahead. 64 MiB: a central directory of a
 * million entries; an OS image's zip holds a handful. A larger one is read
 * from the download once it gets there.
 */
const MAX_DIRECTORY_BYTES = 64 << 20;
/** Rounds of asking for more of the end: the record, then (zip64) its locator's record, then the directory. */
const MAX_TAIL_ROUNDS = 3;

export interface ZipLookupOptions {
  http: HttpOptions;
  /** The download's own stall limit, for the tail requests too. */
  stallMs: number;
  onWarning: (message: string) => void;
}

/**
 * The image entry of the zip archive at `url`, downloading into `file` as
 * `growing` says, `total` bytes in all. Its central directory comes from the
 * archive's end by range requests; the entry's local header from the
 * download as it arrives. Null, with a warning, when the server does not
 * answer range requests (or fails them): the caller then downloads the
 * whole archive before reading it. A corrupt archive, or one without one
 * clear image, throws as a local one would.
 */
export async function locateZipImage(url: URL, file: string, growing: GrowingFile, total: number, opts: ZipLookupOptions): Promise<ZipImageEntry | null> {
  const fallback = (why: string): null => {
    opts.onWarning(`${redact(url)}: ${why}; the zip archive is downloaded whole before it is read, so writing starts only after the download.`);
    return null;
  };
  const fetch = async (start: number): Promise<Buffer | null | 'failed'> => {
    try {
      return await fetchTail(url, start, { ...opts.http, total, stallMs: opts.stallMs, maxBytes: MAX_DIRECTORY_BYTES });
    } catch (err) {
      if (err instanceof ImprintError && err.code === 'E_CANCELLED') throw err;
      opts.onWarning(`${redact(url)}: ${(err as Error).message}`);
      return 'failed';
    }
  };
  let start = Math.max(0, total - ZIP_EOCD_SEARCH);
  let bytes = await fetch(start);
  for (let round = 0; round < MAX_TAIL_ROUNDS && Buffer.isBuffer(bytes); round++) {
    const need = directoryStart({ offset: start, bytes }, total);
    if (need === null || need >= start || total - need > MAX_DIRECTORY_BYTES) break;
    start = need;
    bytes = await fetch(start);
  }
  if (bytes === null) return fallback('the server ignores range requests (it answered with the whole file)');
  if (bytes === 'failed') return fallback('the end of the archive, where its list of files is, could not be fetched ahead');
  return findZipImageGrowing(file, growing, { offset: start, bytes }, total);
}

/**
 * The facts of an image still downloading into `file` (already its full
 * size, `total`): its kind from its first bytes, nothing read from its end.
 * A zip archive's entry was found by locateZipImage.
 */
export async function inspectFollowed(file: string, total: number, zipEntry: ZipImageEntry | null, decoders: DecoderChoice | undefined): Promise<SourceInfo> {
  if (zipEntry) {
    return { path: file, format: 'zip', fileSize: total, size: zipEntry.uncompressedSize, sizeEstimate: null, isDevice: false, zipEntry, ...(decoders ? { decoders } : {}) };
  }
  return inspectSource(file, { ...(decoders ? { decoders } : {}), growing: true });
}
