import { ImprintError } from '../errors';
import { firstDifferentChunk } from '../io/chunk-crc';

/**
 * The read-back of a backup file checked by its bytes rather than its
 * content (workers/backup-check-worker.ts, `verify: 'file-bytes'`): the
 * CRC-32 of each `chunkSize` piece of the file as read back must equal the
 * one the writer took as it wrote that piece, and the file must be as long
 * as what was written. Null when it is; else the error naming where it
 * first differs.
 */
export function fileReadBackMismatch(
  file: string,
  chunkSize: number,
  written: { bytes: number; crcs: readonly number[] },
  read: { contentBytes: number; crcs: readonly number[] },
): ImprintError | null {
  const differs = firstDifferentChunk(written.crcs, read.crcs);
  if (read.contentBytes === written.bytes && differs < 0) return null;
  // A difference only past the shorter length is the length's: say that, as the user can act on it.
  const shorter = Math.min(read.contentBytes, written.bytes);
  const lengthOnly = differs < 0 || (read.contentBytes !== written.bytes && differs * chunkSize >= shorter - (shorter % chunkSize));
  const offset = lengthOnly ? shorter : differs * chunkSize;
  const where = lengthOnly ? `reads back as ${read.contentBytes} bytes, not the ${written.bytes} written` : `reads back differently from what was written to it from byte ${offset} on`;
  return new ImprintError('E_VERIFY_MISMATCH', `The backup file ${file} ${where}. It was removed; the disk it was written to may be failing.`, { offset });
}
