import * as crypto from 'crypto';
import { workerPort } from './worker-port';
import { SHA256_WORKER } from './sha256-protocol';

/**
 * Takes one SHA-256 over pieces of shared memory, in the order they are
 * posted, on its own thread: a smart restore's main thread also writes the
 * drive and reads it back, and hashing there (0.5-0.9 s for the bench
 * drive's 760 MiB) held up every write behind it (pipelines/shared-sha256.ts).
 */
const port = workerPort(SHA256_WORKER);
const { memory } = port.data;
const hash = crypto.createHash('sha256');

port.onMessage((msg) => {
  if (msg.type === 'update') {
    for (const [offset, length] of msg.pieces) hash.update(Buffer.from(memory, offset, length));
    port.post({ type: 'updated', id: msg.id });
  } else {
    port.post({ type: 'digest', hex: hash.digest('hex') });
  }
});
