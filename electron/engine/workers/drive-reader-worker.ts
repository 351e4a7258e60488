import * as crypto from 'crypto';
import * as fs from 'fs';
import { ImprintError, toErrorInfo } from '../errors';
import { chunkCrc } from '../io/chunk-crc';
import { ReadAhead, readChunkAt, type ChunkSource } from '../io/chunk-reader';
import { SlotQueue, workerPort } from './worker-port';
import { DRIVE_READER_WORKER } from './backup-messages';

/**
 * Reads a whole drive into the ring for a backup, and takes its SHA-256 and
 * each chunk's CRC-32 on the way. The drive is opened read-only and O_DIRECT: nothing is ever
 * written to it, and reading it does not push the user's files out of the
 * page cache. The next reads are always in flight (in libuv's pool) while
 * this thread hashes the current chunk, so the drive never waits for the hash.
 * Same messages as the flash engine's source worker.
 */
const port = workerPort(DRIVE_READER_WORKER);
const data = port.data;
const { ring, device, size } = data;
const slots = new SlotQueue(ring.slots);
let cancelled = false;
/** Reads kept in flight, each in its own ring slot (io/chunk-reader.ts says why). */
const READS_IN_FLIGHT = 3;

port.onMessage((msg) => {
  if (msg.type === 'free') slots.release(msg.slot);
  else {
    cancelled = true;
    slots.interrupt();
  }
});

const slotView = (slot: number): Buffer => Buffer.from(ring.memory, slot * ring.slotSize, ring.slotSize);

interface Chunk {
  slot: number;
  offset: number;
  length: number;
}

async function run(): Promise<void> {
  const fd = fs.openSync(device, fs.constants.O_RDONLY | fs.constants.O_DIRECT);
  const src: ChunkSource = { fd, path: device, isBlockDevice: true };
  const hash = crypto.createHash('sha256');
  let next = 0;
  let stopping = false;
  /** Takes a slot and fills it from the drive; null when done or cancelled. */
  const read = async (offset: number): Promise<Chunk | null> => {
    const slot = await slots.take(() => cancelled || stopping);
    if (slot === null) return null;
    // A drive ends on a sector, so the last read comes back short by design.
    const length = Math.min(ring.slotSize, size - offset);
    const n = await readChunkAt(src, slotView(slot), length, offset);
    if (n < length) {
      throw new ImprintError('E_SOURCE_CHANGED', `${device} ended at byte ${offset + n}, but it held ${size} bytes when the backup started: was the drive removed or replaced?`, { offset: offset + n });
    }
    return { slot, offset, length };
  };
  // Each read's offset is fixed when it is started, so chunks come out in drive order
  // whichever read gets a free slot first.
  const reads = new ReadAhead<Chunk | null>();
  const startReads = (): void => {
    while (reads.pending < READS_IN_FLIGHT && next < size) {
      reads.push(read(next));
      next += ring.slotSize;
    }
  };
  try {
    startReads();
    while (reads.pending > 0) {
      const chunk = await reads.shift();
      if (!chunk || cancelled) break;
      startReads();
      const bytes = slotView(chunk.slot).subarray(0, chunk.length);
      hash.update(bytes);
      // The backup file is read back and compared with these, chunk by chunk (backup-check-worker.ts).
      port.post({ type: 'chunk', slot: chunk.slot, offset: chunk.offset, length: chunk.length, crc: chunkCrc(bytes) });
      port.post({ type: 'input', bytes: chunk.length });
    }
    if (cancelled) return;
    port.post({ type: 'end', bytes: size, contentDigests: { sha256: hash.digest('hex') }, fileSha256: null });
  } finally {
    // A read still in libuv's pool must not find its descriptor closed (or reused) under it.
    stopping = true;
    slots.interrupt();
    await reads.settle();
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
