import * as fs from 'fs';
import { toErrorInfo } from '../errors';
import { ZSTD_CHUNK_WORKER, type FromChunkWorker } from '../formats/zstd-chunk-pool';
import { SeekableZstdReader } from '../formats/zstd-seekable-reader';
import { workerPort } from './worker-port';

/**
 * One thread of ZstdChunkPool: decodes a range of a seekable .zst into the
 * shared memory it is told; libzstd checks every frame against its content
 * checksum as it decodes it. No CRC-32 is taken here (pipelines/stored-chunks.ts
 * says why). The file and its seek table are opened (and checked) once, on
 * the first request.
 */
const port = workerPort(ZSTD_CHUNK_WORKER);
const data = port.data;
let reader: SeekableZstdReader | null = null;
let fd = -1;

function open(): SeekableZstdReader {
  if (reader) return reader;
  fd = fs.openSync(data.file, 'r');
  // Two frames kept: a range that starts or ends inside a frame finds it again for the next range.
  reader = SeekableZstdReader.open(fd, fs.fstatSync(fd).size, { file: data.file, cachedFrames: 2 });
  return reader;
}

port.onMessage((msg) => {
  if (msg.type === 'close') {
    if (fd >= 0) fs.closeSync(fd);
    port.close();
    return;
  }
  let reply: FromChunkWorker;
  try {
    const out = Buffer.from(data.memory, msg.at, msg.length);
    const bytes = open().readInto(msg.offset, out);
    reply = { type: 'done', id: msg.id, bytes };
  } catch (err) {
    reply = { type: 'error', id: msg.id, error: toErrorInfo(err) };
  }
  port.post(reply);
});
