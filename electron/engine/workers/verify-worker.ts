import * as fs from 'fs';
import * as zlib from 'zlib';
import { workerData } from 'worker_threads';
import { ImprintError, classifyReadError, toErrorInfo } from '../errors';
import { allocAligned, alignUp } from '../io/aligned-buffer';
import { blockDeviceSize, logicalBlockSize } from '../io/block-device';
import { diagnoseReadFailure } from '../io/device-faults';
import { workerPort } from './worker-port';
import type { FromVerify, ToVerify, VerifyWorkerData } from './messages';

/**
 * Reads a target back from the medium and compares each chunk's CRC-32 with
 * the image's. Reads bypass the page cache (O_DIRECT): a verify that reads
 * cached pages can pass on data that is no longer on the device. The size is
 * checked first: a detached loop device reopens with size 0 and reads nothing,
 * which a careless verifier would call a pass.
 */
const data = workerData as VerifyWorkerData;
const port = workerPort<ToVerify, FromVerify>();
const { target, totalBytes, chunkSize, crcs } = data;
let cancelled = false;
port.onMessage((msg) => {
  if (msg.type === 'cancel') cancelled = true;
});

function readAsync(fd: number, buf: Buffer, length: number, position: number): Promise<number> {
  return new Promise((resolve, reject) => {
    fs.read(fd, buf, 0, length, position, (err, n) => (err ? reject(err) : resolve(n)));
  });
}

/** Reads `want` bytes at `position`, looping over short reads; fewer only at the end of the medium. */
async function readChunk(fd: number, buf: Buffer, want: number, position: number): Promise<number> {
  let done = 0;
  let examined = false;
  const len = alignUp(want, 4096);
  while (done < want) {
    let n: number;
    try {
      n = await readAsync(fd, buf.subarray(done), len - done, position + done);
    } catch (err) {
      // On a drive, name the exact sector or say it is gone; a read that went
      // through on a second try is read again, once.
      if (!data.isBlockDevice || examined) throw classifyReadError(err, target, position + done);
      examined = true;
      const error = diagnoseReadFailure(fd, target, position + done, len - done, logicalBlockSize(target), err);
      if (error) throw error;
      continue;
    }
    if (n === 0) break;
    done += n;
  }
  return Math.min(done, want);
}

function openForVerify(): number {
  try {
    return fs.openSync(target, fs.constants.O_RDONLY | fs.constants.O_DIRECT);
  } catch (err) {
    // Some filesystems (tmpfs) have no O_DIRECT: a file target is then read buffered.
    if (!data.isBlockDevice && (err as NodeJS.ErrnoException).code === 'EINVAL') return fs.openSync(target, 'r');
    throw classifyReadError(err, target, 0);
  }
}

async function run(): Promise<void> {
  const size = data.isBlockDevice ? blockDeviceSize(target) : fs.statSync(target).size;
  if (size < totalBytes) {
    throw new ImprintError(
      size === 0 ? 'E_DEVICE_GONE' : 'E_VERIFY_SHORT',
      size === 0
        ? `${target} reports a size of 0 on reopening: the drive is gone or was replaced.`
        : `${target} now holds ${size} bytes, less than the ${totalBytes} bytes written.`,
      { offset: size },
    );
  }
  const fd = openForVerify();
  try {
    const bufs = [allocAligned(chunkSize), allocAligned(chunkSize)];
    const chunks = crcs.length;
    const want = (i: number): number => Math.min(chunkSize, totalBytes - i * chunkSize);
    let pending = chunks > 0 ? readChunk(fd, bufs[0] as Buffer, want(0), 0) : null;
    for (let i = 0; i < chunks; i++) {
      const n = await (pending as Promise<number>);
      if (cancelled) {
        port.post({ type: 'cancelled' });
        return;
      }
      const buf = bufs[i % 2] as Buffer;
      // Start the next read before checking this chunk: the disk and the CPU work at once.
      pending = i + 1 < chunks ? readChunk(fd, bufs[(i + 1) % 2] as Buffer, want(i + 1), (i + 1) * chunkSize) : null;
      if (n < want(i)) {
        await pending?.catch(() => 0);
        throw new ImprintError('E_VERIFY_SHORT', `${target} ended at byte ${i * chunkSize + n} while reading back; ${totalBytes} bytes were written.`, { offset: i * chunkSize + n });
      }
      if (zlib.crc32(buf.subarray(0, n)) >>> 0 !== crcs[i]) {
        await pending?.catch(() => 0);
        port.post({ type: 'mismatch', chunk: i });
        return;
      }
      port.post({ type: 'progress', bytes: i * chunkSize + n });
    }
    port.post({ type: 'ok' });
  } finally {
    fs.closeSync(fd);
  }
}

run().catch((err: unknown) => port.post({ type: 'error', error: toErrorInfo(err) }));
