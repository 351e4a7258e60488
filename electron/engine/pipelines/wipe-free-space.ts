import { allocAligned } from '../io/aligned-buffer';
import { deviceZeroOutInBackground, MIN_ZERO_RUN } from '../io/zero-runs';
import { ZeroCallSizer } from '../io/zero-pace';
import type { ByteRange } from '../disks/filesystem-driver';
import { ImprintError, classifyWriteError } from '../errors';
import * as fs from 'fs';

/**
 * Zeroes what a smart restore does not write (`--wipe-free-space`): long
 * runs by the drive itself (write-zeroes, io/zero-runs.ts), the rest, and
 * everything on a drive or system that cannot, by writing zeros. The drive's
 * calls run in a child process, sized by its pace (io/zero-pace.ts): where
 * the kernel writes the zeros (a USB stick), gigabytes of free space take
 * minutes, and the job stays able to hear a cancel meanwhile.
 */
export async function wipeRanges(device: string, fd: number, ranges: readonly ByteRange[], isBlockDevice: boolean, signal?: AbortSignal): Promise<void> {
  if (!isBlockDevice) return; // a file target was created empty: its holes already read as zeros
  let zeroOut = deviceZeroOutInBackground(device, 'device', signal);
  const sizer = new ZeroCallSizer(4096);
  const zeros = allocAligned(4 << 20);
  const cancelled = (): void => {
    if (signal?.aborted) throw new ImprintError('E_CANCELLED', 'Cancelled.');
  };
  for (const r of ranges) {
    const end = r.start + r.length;
    let at = r.start;
    if (zeroOut && r.length >= MIN_ZERO_RUN && r.start % 4096 === 0 && r.length % 4096 === 0) {
      while (at < end) {
        cancelled();
        const n = sizer.next(end - at);
        const began = Date.now();
        if (!(await zeroOut(at, n))) {
          zeroOut = null; // refused: zeros are written from here on
          break;
        }
        sizer.took(n, Date.now() - began);
        at += n;
      }
    }
    while (at < end) {
      cancelled();
      const n = Math.min(zeros.length, end - at);
      await new Promise<void>((resolve, reject) =>
        fs.write(fd, zeros, 0, n, at, (err, written) => (err ? reject(classifyWriteError(err, device, at)) : written === n ? resolve() : reject(classifyWriteError(Object.assign(new Error('short write'), { code: 'ENOSPC' }), device, at + written)))),
      );
      at += n;
    }
  }
}
