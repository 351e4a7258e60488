import { SeekableFrameEncoder } from '../formats/zstd-seekable-writer';
import { ZSTD_FRAME_WORKER, type FromFrameWorker } from '../formats/zstd-frame-pool';
import { workerPort } from './worker-port';
import { chunkCrc } from '../io/chunk-crc';

/**
 * One thread of ZstdFramePool: compresses seekable frames straight from the
 * shared memory the content sits in (the backup's ring) into the pool's
 * shared output slot named by the task, so only sizes cross back.
 */
const port = workerPort(ZSTD_FRAME_WORKER);
const data = port.data;
const encoder = new SeekableFrameEncoder(data.level);

port.onMessage((msg) => {
  if (msg.type === 'close') {
    port.close();
    return;
  }
  let reply: FromFrameWorker;
  try {
    const dest = Buffer.from(data.out, msg.outSlot * data.outSlotSize, data.outSlotSize);
    const input = Buffer.from(data.memory, msg.offset, msg.length);
    // Taken just before compressing, on the same bytes: the backup compares it with the CRC-32 the
    // drive reader took, which ties the frame to what was read (backup-check-worker.ts says why).
    const contentCrc = data.contentCrcs ? chunkCrc(input) : undefined;
    const frame = encoder.encodeInto(input, dest);
    reply = { type: 'done', id: msg.id, length: frame.length, decompressedSize: msg.length, checksum: frame.checksum, ...(contentCrc === undefined ? {} : { contentCrc }) };
  } catch (err) {
    reply = { type: 'error', id: msg.id, message: err instanceof Error ? err.message : String(err) };
  }
  port.post(reply);
});
