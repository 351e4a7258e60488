import { allocAligned } from '../io/aligned-buffer';
import { deviceZeroOut, MIN_ZERO_RUN } from '../io/zero-runs';
import type { ByteRange } from '../disks/filesystem-driver';
import { classifyWriteError } from '../errors';
import * as fs from 'fs';

/**
 * Zeroes what a smart restore does not write (`--wipe-free-space`): long
 * runs by the drive itself (write-zeroes, io/zero-runs.ts), the rest, and
 * everything on a drive or system that cannot, by writing zeros.
 */
export async function wipeRanges(device: string, fd: number, ranges: readonly ByteRange[], isBlockDevice: boolean): Promise<void> {
  if (!isBlockDevice) return; // a file target was created empty: its holes already read as zeros
  const zeroOut = deviceZeroOut(device);
  const zeros = allocAligned(4 << 20);
  for (const r of ranges) {
    if (zeroOut && r.length >= MIN_ZERO_RUN && r.start % 4096 === 0 && r.length % 4096 === 0 && zeroOut(r.start, r.length)) continue;
    for (let at = r.start; at < r.start + r.length; ) {
      const n = Math.min(zeros.length, r.start + r.length - at);
      await new Promise<void>((resolve, reject) =>
        fs.write(fd, zeros, 0, n, at, (err, written) => (err ? reject(classifyWriteError(err, device, at)) : written === n ? resolve() : reject(classifyWriteError(Object.assign(new Error('short write'), { code: 'ENOSPC' }), device, at + written)))),
      );
      at += n;
    }
  }
}
