// A drive that lies: a write reports success, and the old bytes stay on the
// medium. The read-back finds it at its exact byte. Read back while the rest
// of the image is still being written, it fails the target there and then:
// the rest never goes to a drive known not to keep it, and the image's head
// (written last) is never written, so the drive does not look bootable.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { withFaultyDevice } from '../../engine/testing/faulty-device';
import { MiB, describe, failedWith, faultTest, headAbsent, imprint, randomImage } from './fault-bench';

/**
 * Large beside how far writes may run ahead of the read-back: at 128 MiB a quiet,
 * fast machine had written the whole image before the read-back reached the lost chunk.
 */
const IMAGE = 512 * MiB;
/** Inside the image's third 4 MiB chunk, away from any chunk or page boundary. */
const LOST = { offset: 8 * MiB + 4096 + 512, length: 512 };

/** The first byte of the lost range the image does not already have as 0 (what the drive keeps there: its old zeros). */
function firstLostByte(image: string): number {
  const fd = fs.openSync(image, 'r');
  try {
    const buf = Buffer.alloc(LOST.length);
    fs.readSync(fd, buf, 0, LOST.length, LOST.offset);
    const i = buf.findIndex((b) => b !== 0);
    assert.ok(i >= 0, 'the image has data in the lost range');
    return LOST.offset + i;
  } finally {
    fs.closeSync(fd);
  }
}

faultTest('a lost write is found while the image is still being written: the target fails at the exact byte, before its head is written', async () => {
  const image = randomImage(IMAGE, 'lost write');
  await withFaultyDevice({ size: IMAGE + 4 * MiB, lostWrites: [LOST] }, async (d) => {
    const r = await imprint(['flash', image, d.device, '--yes'], { onStuck: d.kill, env: { IMPRINT_VERIFY_WHILE_WRITING: 'always' }, timeoutMs: 180_000 });
    const err = failedWith(r, 'E_VERIFY_MISMATCH');
    assert.equal(err.offset, firstLostByte(image), describe(r));
    const failedAt = r.events.findIndex((e) => e.type === 'target-failed');
    const verifyingAt = r.events.findIndex((e) => e.type === 'progress' && e.phase === 'verifying');
    assert.ok(failedAt >= 0, 'a target-failed event');
    assert.equal(verifyingAt, -1, 'the failure came while writing, not in a read-back after it');
    assert.ok((r.finished?.targets[0]?.bytesWritten ?? IMAGE) < IMAGE, 'the rest of the image was not written');
    headAbsent(d.device, image);
  });
});

faultTest('the same lost write with the read-back after the write (IMPRINT_VERIFY_WHILE_WRITING=off): found at the same byte', async () => {
  const image = randomImage(16 * MiB, 'lost write, late');
  await withFaultyDevice({ size: 20 * MiB, lostWrites: [LOST] }, async (d) => {
    const r = await imprint(['flash', image, d.device, '--yes'], { onStuck: d.kill, env: { IMPRINT_VERIFY_WHILE_WRITING: 'off' } });
    const err = failedWith(r, 'E_VERIFY_MISMATCH');
    assert.equal(err.offset, firstLostByte(image), describe(r));
    assert.ok(r.events.some((e) => e.type === 'progress' && e.phase === 'verifying'), 'it was found by the read-back after the write');
    assert.equal(r.finished?.targets[0]?.bytesWritten, 16 * MiB, 'the whole image was written first');
  });
});
