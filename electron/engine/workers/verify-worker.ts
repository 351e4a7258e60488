import * as fs from 'fs';
import { workerData } from 'worker_threads';
import { ImprintError, classifyReadError, toErrorInfo } from '../errors';
import { allocAligned } from '../io/aligned-buffer';
import { blockDeviceSize } from '../io/block-device';
import { chunkCrc } from '../io/chunk-crc';
import { ReadAhead, readChunkAt, type ChunkSource } from '../io/chunk-reader';
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
/** Reads kept in flight (io/chunk-reader.ts says why). */
const READS_IN_FLIGHT = 4;
port.onMessage((msg) => {
  if (msg.type === 'cancel') cancelled = true;
});

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
  const src: ChunkSource = { fd, path: target, isBlockDevice: data.isBlockDevice };
  const bufs = Array.from({ length: READS_IN_FLIGHT }, () => allocAligned(chunkSize));
  const chunks = crcs.length;
  const want = (i: number): number => Math.min(chunkSize, totalBytes - i * chunkSize);
  const reads = new ReadAhead<number>();
  let started = 0;
  const startRead = (): void => {
    const i = started++;
    reads.push(readChunkAt(src, bufs[i % READS_IN_FLIGHT] as Buffer, want(i), i * chunkSize));
  };
  try {
    while (started < Math.min(READS_IN_FLIGHT, chunks)) startRead();
    for (let i = 0; i < chunks; i++) {
      const n = await reads.shift();
      if (cancelled) {
        port.post({ type: 'cancelled' });
        return;
      }
      if (n < want(i)) {
        throw new ImprintError('E_VERIFY_SHORT', `${target} ended at byte ${i * chunkSize + n} while reading back; ${totalBytes} bytes were written.`, { offset: i * chunkSize + n });
      }
      if (chunkCrc((bufs[i % READS_IN_FLIGHT] as Buffer).subarray(0, n)) !== crcs[i]) {
        port.post({ type: 'mismatch', chunk: i });
        return;
      }
      // This chunk's buffer is free again: it takes the read READS_IN_FLIGHT chunks ahead.
      if (started < chunks) startRead();
      port.post({ type: 'progress', bytes: i * chunkSize + n });
    }
    port.post({ type: 'ok' });
  } finally {
    await reads.settle();
    fs.closeSync(fd);
  }
}

run().catch((err: unknown) => port.post({ type: 'error', error: toErrorInfo(err) }));
