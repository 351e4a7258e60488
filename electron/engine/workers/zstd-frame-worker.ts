import { SeekableFrameEncoder } from '../formats/zstd-seekable-writer';
import { ZSTD_FRAME_WORKER, type FromFrameWorker } from '../formats/zstd-frame-pool';
import { workerPort } from './worker-port';

/**
 * One thread of ZstdFramePool: compresses seekable frames straight from the
 * shared memory the content sits in (the backup's ring), so only the
 * compressed frame (a third of the bytes, or a few hundred for free space)
 * crosses back, transferred rather than copied.
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
  const transfer: ArrayBuffer[] = [];
  try {
    const frame = encoder.encode(Buffer.from(data.memory, msg.offset, msg.length));
    const bytes = new ArrayBuffer(frame.bytes.length);
    new Uint8Array(bytes).set(frame.bytes);
    transfer.push(bytes);
    reply = { type: 'done', id: msg.id, bytes, decompressedSize: frame.decompressedSize, checksum: frame.checksum };
  } catch (err) {
    reply = { type: 'error', id: msg.id, message: err instanceof Error ? err.message : String(err) };
  }
  port.post(reply, transfer);
});
