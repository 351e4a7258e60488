import * as crypto from 'crypto';
import * as fs from 'fs';
import { ImprintError, toErrorInfo } from '../errors';
import { chunkCrc, zeroCrc } from '../io/chunk-crc';
import { ReadAhead, readChunkAt, type ChunkSource } from '../io/chunk-reader';
import { loadXxh64Low32 } from '../io/xxh64';
import { RangeCursor, zeroGaps } from '../disks/byte-ranges';
import type { ByteRange } from '../disks/filesystem-driver';
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
/** A smart backup's ranges to read; null reads every byte. */
const keep = data.keep ? new RangeCursor(data.keep) : null;
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
  /** Null for a smart backup's chunk with nothing stored: all zeros, nothing read, no slot taken. */
  slot: number | null;
  offset: number;
  length: number;
  /** Bytes of it read from the drive (the rest are zeros in a smart backup). */
  read: number;
  /** A smart backup's parts of this chunk: only they are hashed. */
  parts: ByteRange[] | null;
}

const driveChanged = (at: number): ImprintError =>
  new ImprintError('E_SOURCE_CHANGED', `${device} ended at byte ${at}, but it held ${size} bytes when the backup started: was the drive removed or replaced?`, { offset: at });

/** Fills a slot with the parts of [offset, offset+length) in `parts`, zeros elsewhere. */
async function readParts(src: ChunkSource, view: Buffer, offset: number, length: number, parts: ByteRange[]): Promise<number> {
  zeroGaps(view, offset, length, parts);
  // A fragmented filesystem gives many small parts: they are read side by side (libuv's pool), not one by one.
  const counts = await Promise.all(
    parts.map(async (part) => {
      const n = await readChunkAt(src, view.subarray(part.start - offset), part.length, part.start);
      if (n < part.length) throw driveChanged(part.start + n);
      return n;
    }),
  );
  return counts.reduce((a, b) => a + b, 0);
}

async function run(): Promise<void> {
  const fd = fs.openSync(device, fs.constants.O_RDONLY | fs.constants.O_DIRECT);
  const src: ChunkSource = { fd, path: device, isBlockDevice: true };
  const hash = crypto.createHash('sha256');
  // Loaded while the first reads are under way (hash-wasm's, where the native one is missing, takes 8 ms to compile).
  const xxhReady = data.check === 'xxh64' ? loadXxh64Low32() : null;
  xxhReady?.catch(() => {});
  let next = 0;
  let stopping = false;
  /** Takes a slot and fills it from the drive; null when done or cancelled. */
  const read = async (offset: number): Promise<Chunk | null> => {
    // A drive ends on a sector, so the last read comes back short by design.
    const length = Math.min(ring.slotSize, size - offset);
    // Clipped before the first await: reads start in drive order, as the cursor needs.
    const parts = keep ? keep.clip(offset, offset + length) : null;
    // Free space from end to end: nothing to read, and the zeros need no memory.
    if (parts && parts.length === 0) return { slot: null, offset, length, read: 0, parts };
    const slot = await slots.take(() => cancelled || stopping);
    if (slot === null) return null;
    if (parts) return { slot, offset, length, read: await readParts(src, slotView(slot), offset, length, parts), parts };
    const n = await readChunkAt(src, slotView(slot), length, offset);
    if (n < length) throw driveChanged(offset + n);
    return { slot, offset, length, read: n, parts: null };
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
    const xxh = xxhReady ? await xxhReady : null;
    while (reads.pending > 0) {
      const chunk = await reads.shift();
      if (!chunk || cancelled) break;
      startReads();
      if (chunk.slot === null) {
        port.post({ type: 'zeros', offset: chunk.offset, length: chunk.length, crc: zeroCrc(chunk.length) });
        continue;
      }
      const bytes = slotView(chunk.slot).subarray(0, chunk.length);
      // A smart backup's SHA-256 is that of the stored data (its ranges, in drive order): hashing
      // the zeros that stand for free space would cost seconds and prove nothing the CRCs do not.
      if (chunk.parts) for (const p of chunk.parts) hash.update(bytes.subarray(p.start - chunk.offset, p.start - chunk.offset + p.length));
      else hash.update(bytes);
      // The backup file is read back and compared with these, chunk by chunk (backup-check-worker.ts),
      // or what was compressed is (DriveReaderData.check).
      if (xxh) port.post({ type: 'chunk', slot: chunk.slot, offset: chunk.offset, length: chunk.length, xxh: xxh(bytes) });
      else port.post({ type: 'chunk', slot: chunk.slot, offset: chunk.offset, length: chunk.length, crc: chunkCrc(bytes) });
      port.post({ type: 'input', bytes: chunk.read });
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
