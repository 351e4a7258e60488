import * as fs from 'fs';
import { ImprintError, classifyReadError, toErrorInfo } from '../errors';
import { allocAligned } from '../io/aligned-buffer';
import { blockDeviceSize } from '../io/block-device';
import { chunkCrc } from '../io/chunk-crc';
import { ReadAhead, readChunkAt, type ChunkSource } from '../io/chunk-reader';
import { workerPort } from './worker-port';
import { VERIFY_WORKER, type ChunkCheck } from './messages';

/**
 * Reads a target back from the medium and compares each chunk's CRC-32 with
 * the image's. Reads bypass the page cache (O_DIRECT): a verify that reads
 * cached pages can pass on data that is no longer on the device.
 *
 * Two passes. While a flash is still writing, chunks already on the drive
 * come one by one ('check') and are read back when they come. When writing
 * is over ('final'), the device is opened again and its size checked before
 * the last chunks are read: a detached loop device reopens
 * with size 0 and reads nothing, which a careless verifier would call a
 * pass, and a drive unplugged after the write must not pass on a descriptor
 * opened before.
 */
const port = workerPort(VERIFY_WORKER);
const data = port.data;
const { target, chunkSize } = data;
/** Reads kept in flight (io/chunk-reader.ts says why). */
const READS_IN_FLIGHT = 4;

const queue: ChunkCheck[] = [];
let final: { totalBytes: number; checks: ChunkCheck[] } | null = null;
let cancelled = false;
let wake: (() => void) | null = null;
port.onMessage((msg) => {
  if (msg.type === 'cancel') cancelled = true;
  else if (msg.type === 'check') queue.push(msg.check);
  else final = { totalBytes: msg.totalBytes, checks: msg.checks };
  const w = wake;
  wake = null;
  w?.();
});
const nextMessage = (): Promise<void> => new Promise((resolve) => (wake = resolve));

let verifiedBytes = 0;
const bufs = Array.from({ length: READS_IN_FLIGHT }, () => allocAligned(chunkSize));

function openForVerify(): number {
  try {
    return fs.openSync(target, fs.constants.O_RDONLY | fs.constants.O_DIRECT);
  } catch (err) {
    // Some filesystems (tmpfs) have no O_DIRECT: a file target is then read buffered.
    if (!data.isBlockDevice && (err as NodeJS.ErrnoException).code === 'EINVAL') return fs.openSync(target, 'r');
    throw classifyReadError(err, target, 0);
  }
}

function currentSize(): number {
  return data.isBlockDevice ? blockDeviceSize(target) : fs.statSync(target).size;
}

/** The drive must still hold everything written; size 0 means it is gone. */
function checkSize(totalBytes: number): void {
  const size = currentSize();
  if (size >= totalBytes) return;
  throw new ImprintError(
    size === 0 ? 'E_DEVICE_GONE' : 'E_VERIFY_SHORT',
    size === 0 ? `${target} reports a size of 0 on reopening: the drive is gone or was replaced.` : `${target} now holds ${size} bytes, less than the ${totalBytes} bytes written.`,
    { offset: size },
  );
}

/**
 * Reads back the queued checks in order, several in flight, until the queue
 * is empty. Returns false when it stopped on a mismatch or a cancel (already
 * reported).
 */
async function pass(fd: number): Promise<boolean> {
  const src: ChunkSource = { fd, path: target, isBlockDevice: data.isBlockDevice };
  const reads = new ReadAhead<number>();
  const inFlight: { check: ChunkCheck; buf: Buffer }[] = [];
  const free = [...bufs];
  try {
    for (;;) {
      while (free.length > 0 && queue.length > 0) {
        const check = queue.shift() as ChunkCheck;
        const buf = free.pop() as Buffer;
        inFlight.push({ check, buf });
        reads.push(readChunkAt(src, buf, check.length, check.chunk * chunkSize));
      }
      if (cancelled) {
        port.post({ type: 'cancelled' });
        return false;
      }
      const next = inFlight.shift();
      if (!next) return true;
      const { check, buf } = next;
      const n = await reads.shift();
      const offset = check.chunk * chunkSize;
      if (n < check.length) {
        // A drive that went away says so, rather than "ended early".
        if (currentSize() === 0) throw new ImprintError('E_DEVICE_GONE', `${target} reports a size of 0: the drive is gone or was replaced.`, { offset: offset + n });
        throw new ImprintError('E_VERIFY_SHORT', `${target} ended at byte ${offset + n} while reading back.`, { offset: offset + n });
      }
      if (chunkCrc(buf.subarray(0, n)) !== check.crc) {
        port.post({ type: 'mismatch', chunk: check.chunk });
        return false;
      }
      free.push(buf);
      verifiedBytes += n;
      port.post({ type: 'checked', chunk: check.chunk, bytes: verifiedBytes });
    }
  } finally {
    await reads.settle();
  }
}

/** Opens the target, reads back what is queued, and closes it again. */
async function readBackQueued(): Promise<boolean> {
  const fd = openForVerify();
  try {
    return await pass(fd);
  } finally {
    fs.closeSync(fd);
  }
}

async function run(): Promise<void> {
  // The early pass, while the flash writes. The drive is held open only while
  // there is something to read: once written, the job must not keep it alive.
  while (final === null && !cancelled) {
    if (queue.length === 0) await nextMessage();
    else if (!(await readBackQueued())) return;
  }
  if (cancelled) {
    port.post({ type: 'cancelled' });
    return;
  }
  const last = final as unknown as { totalBytes: number; checks: ChunkCheck[] };
  checkSize(last.totalBytes);
  queue.push(...last.checks);
  if (await readBackQueued()) port.post({ type: 'ok' });
}

run().catch((err: unknown) => port.post({ type: 'error', error: toErrorInfo(err) }));
