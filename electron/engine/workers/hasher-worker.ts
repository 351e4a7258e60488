import { createHasher } from '../hash/content-hasher';
import { chunkCrc } from '../io/chunk-crc';
import { workerPort } from './worker-port';
import { HASHER_WORKER } from './messages';

/**
 * Checksums each chunk of the ring (CRC-32, which verification compares with
 * what it reads back from each drive) and feeds the content digests
 * (SHA-256 for a published or recorded checksum). It runs beside the source
 * worker so decompression and hashing use both cores. Chunks arrive in
 * order, which the running digests need.
 */
const port = workerPort(HASHER_WORKER);
const data = port.data;

// The port queues messages until the listener is attached, so none is lost
// while hash-wasm loads.
void createHasher(data.contentHashes).then((hasher) => {
  port.onMessage((msg) => {
    if (msg.type === 'finish') {
      port.post({ type: 'digests', contentDigests: hasher.digest() });
      return;
    }
    const chunk = Buffer.from(data.ring.memory, msg.slot * data.ring.slotSize, msg.length);
    if (data.contentHashes.length > 0) hasher.update(chunk);
    // An OS image is mostly zeros: chunkCrc recognises those by memcmp, several times faster.
    port.post({ type: 'hashed', slot: msg.slot, offset: msg.offset, crc: chunkCrc(chunk) });
  });
});
