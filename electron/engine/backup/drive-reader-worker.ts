import * as crypto from 'crypto';
import * as fs from 'fs';
import { workerData } from 'worker_threads';
import { ImprintError, classifyReadError, toErrorInfo } from '../errors';
import { alignUp } from '../io/aligned-buffer';
import { logicalBlockSize } from '../io/block-device';
import { diagnoseReadFailure } from '../io/device-faults';
import { SlotQueue, workerPort } from '../workers/worker-port';
import type { FromSource, ToSource } from '../workers/messages';
import type { DriveReaderData } from './backup-messages';

/**
 * Reads a whole drive into the ring for a backup, and takes its SHA-256 on
 * the way. The drive is opened read-only and O_DIRECT: nothing is ever
 * written to it, and reading it does not push the user's files out of the
 * page cache. The next read is always in flight (in libuv's pool) while this
 * thread hashes the current chunk, so the drive never waits for the hash.
 * Same messages as the flash engine's source worker; chunk CRCs are not
 * needed here and are sent as 0.
 */
const data = workerData as DriveReaderData;
const port = workerPort<ToSource, FromSource>();
const { ring, device, size } = data;
const slots = new SlotQueue(ring.slots);
let cancelled = false;

port.onMessage((msg) => {
  if (msg.type === 'free') slots.release(msg.slot);
  else {
    cancelled = true;
    slots.interrupt();
  }
});

const slotView = (slot: number): Buffer => Buffer.from(ring.memory, slot * ring.slotSize, ring.slotSize);

function readAsync(fd: number, buf: Buffer, offset: number, length: number, position: number): Promise<number> {
  return new Promise((resolve, reject) => fs.read(fd, buf, offset, length, position, (err, n) => (err ? reject(err) : resolve(n))));
}

interface Chunk {
  slot: number;
  offset: number;
  length: number;
}

async function run(): Promise<void> {
  const fd = fs.openSync(device, fs.constants.O_RDONLY | fs.constants.O_DIRECT);
  const hash = crypto.createHash('sha256');
  let next = 0;
  /** Takes a slot and fills it from the drive; null when done or cancelled. */
  const readNext = async (): Promise<Chunk | null> => {
    if (next >= size) return null;
    const slot = await slots.take(() => cancelled);
    if (slot === null) return null;
    const offset = next;
    const length = Math.min(ring.slotSize, size - offset);
    next += length;
    const buf = slotView(slot);
    // Whole pages for O_DIRECT; a drive ends on a sector, so the last read comes back short by design.
    let done = 0;
    let examined = false;
    while (done < length) {
      let n: number;
      try {
        n = await readAsync(fd, buf, done, alignUp(length - done), offset + done);
      } catch (err) {
        // Name the exact unreadable sector, or say the drive is gone (io/device-faults.ts); a
        // read that went through on a second try is read again, once.
        if (examined) throw classifyReadError(err, device, offset + done);
        examined = true;
        const error = diagnoseReadFailure(fd, device, offset + done, alignUp(length - done), logicalBlockSize(device), err);
        if (error) throw error;
        continue;
      }
      if (n === 0) {
        throw new ImprintError('E_SOURCE_CHANGED', `${device} ended at byte ${offset + done}, but it held ${size} bytes when the backup started: was the drive removed or replaced?`, { offset: offset + done });
      }
      done += n;
    }
    return { slot, offset, length };
  };
  let pending = readNext();
  try {
    for (;;) {
      const chunk = await pending;
      if (!chunk || cancelled) break;
      pending = readNext();
      pending.catch(() => {});
      hash.update(slotView(chunk.slot).subarray(0, chunk.length));
      port.post({ type: 'chunk', slot: chunk.slot, offset: chunk.offset, length: chunk.length, crc: 0 });
      port.post({ type: 'input', bytes: chunk.length });
    }
    if (cancelled) return;
    port.post({ type: 'end', bytes: size, contentDigests: { sha256: hash.digest('hex') }, fileSha256: null });
  } finally {
    // A read still in libuv's pool must not find its descriptor closed (or reused) under it.
    await pending.catch(() => null);
    fs.closeSync(fd);
  }
}

// Always a last word, so the orchestrator knows the drive is closed: the end, an error, or "cancelled".
const stoppedByCancel = { code: 'E_CANCELLED' as const, message: 'Cancelled.' };
run().then(
  () => {
    if (cancelled) port.post({ type: 'error', error: stoppedByCancel });
  },
  (err: unknown) => port.post({ type: 'error', error: cancelled ? stoppedByCancel : toErrorInfo(err) }),
);
