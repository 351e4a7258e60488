import { randomBytes } from 'crypto';
import * as fs from 'fs';
import type { ErrorInfo } from '../../../shared/error-codes';
import { errnoOf } from '../errors';
import { allocAligned } from '../io/aligned-buffer';
import { MARKER_BYTES, decodeMarker, encodeMarker, judgeMarkers, markerOffsets, type MarkerResult } from './capacity-markers';

/**
 * Before a flash that verifies chunks while it writes: does any address below
 * `extent` land on another? A counterfeit drive keeps only the low bits of
 * each address, so what is written past its real capacity overwrites what
 * is at the start. Verification after the whole write sees that; a chunk
 * read back early, before the chunk that lands on it is written, does not.
 * So the capacity check's markers (capacity-markers.ts) are written over the
 * image's extent only, with O_DIRECT, and read back: a marker overwritten by
 * another means the drive wraps within the image, and the flash stops before
 * writing it. A drive whose real capacity is above the image's size takes it
 * whole: that image is safe on it, and nothing is said.
 *
 * Only a wrap is judged here. Lost markers and failed sectors are left to
 * the write and the read-back, which report them exactly. Each marker's page
 * is put back as it was.
 */
export function probeWrap(fd: number, device: string, extent: number, claimedBytes: number): ErrorInfo | null {
  const offsets = markerOffsets(extent);
  if (offsets.length < 2) return null;
  const nonce = randomBytes(8).toString('hex');
  const page = allocAligned(MARKER_BYTES);
  const reader = fs.openSync(device, fs.constants.O_RDONLY | fs.constants.O_DIRECT);
  const saved = new Map<number, Buffer>();
  const written: number[] = [];
  const results: MarkerResult[] = [];
  try {
    for (const offset of offsets) {
      if (readPage(reader, page, offset)) saved.set(offset, Buffer.from(page));
    }
    for (const offset of offsets) {
      try {
        if (fs.writeSync(fd, encodeMarker(offset, nonce, page), 0, MARKER_BYTES, offset) === MARKER_BYTES) written.push(offset);
      } catch (err) {
        // A bad sector here is the write path's to report, at its exact place.
        if (errnoOf(err) === 'ENODEV' || errnoOf(err) === 'ENXIO') throw err;
      }
    }
    for (const offset of written) {
      if (!readPage(reader, page, offset)) continue;
      const found = decodeMarker(page, nonce);
      results.push(found === offset || found === null ? { offset, state: found === null ? 'lost' : 'intact' } : { offset, state: 'overwritten', by: found });
    }
  } finally {
    // The pages go back as they were (the head region as the wipe left it): a
    // flash that fails later leaves no markers behind. Last first, as in
    // capacity-check-worker.ts.
    for (const offset of written.reverse()) {
      const original = saved.get(offset);
      if (!original) continue;
      original.copy(page);
      try {
        fs.writeSync(fd, page, 0, MARKER_BYTES, offset);
      } catch {
        // The image goes over it anyway; a failing sector is the write path's to report.
      }
    }
    fs.closeSync(reader);
  }
  if (!results.some((r) => r.state === 'overwritten')) return null;
  const verdict = judgeMarkers(device, claimedBytes, results);
  if (verdict.wrapsAt === null || !verdict.error) return null;
  return { ...verdict.error, message: `${verdict.error.message} The image (${extent} bytes) does not fit in what it really holds, so it was not written.` };
}

/** One page read with O_DIRECT; false when it could not be read whole. */
function readPage(fd: number, page: Buffer, offset: number): boolean {
  try {
    return fs.readSync(fd, page, 0, MARKER_BYTES, offset) === MARKER_BYTES;
  } catch {
    return false;
  }
}
