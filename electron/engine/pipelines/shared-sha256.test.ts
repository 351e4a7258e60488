import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as crypto from 'crypto';
import { noise } from '../testing/test-drives';
import { SharedSha256 } from './shared-sha256';

/** The SHA-256 taken on its own thread is that of the pieces in the order posted, each as it was when posted. */
test('SharedSha256: the digest of the pieces in order, each read before its update resolves', async () => {
  const memory = new SharedArrayBuffer(3 << 20);
  const view = Buffer.from(memory);
  noise(3 << 20, 5).copy(view);
  const pieces: [number, number][][] = [[[2 << 20, 1000], [10, 5000]], [[0, 1 << 20]], [[(1 << 20) + 7, 300_000]]];
  const plain = crypto.createHash('sha256');
  const hash = new SharedSha256(memory);
  try {
    for (const batch of pieces) {
      for (const [offset, length] of batch) plain.update(Buffer.from(view.subarray(offset, offset + length)));
      await hash.update(batch);
      // Reused once hashed: the digest must not change.
      for (const [offset, length] of batch) view.fill(0xee, offset, offset + length);
    }
    assert.equal(await hash.digest(), plain.digest('hex'));
  } finally {
    await hash.close();
  }
});
