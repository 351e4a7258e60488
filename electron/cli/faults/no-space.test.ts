// A target that fills up (a region answering "no space") and one that ends
// before its reported size: the report says which, with the offset, and the
// job never succeeds.
import * as assert from 'node:assert/strict';
import { withFaultyDevice } from '../../engine/testing/faulty-device';
import { firstDeviceDifference, withLoopDevice } from '../../engine/testing/loop-device';
import { MiB, describe, failedWith, faultTest, headAbsent, imprint, randomImage } from './fault-bench';

const IMAGE = 12 * MiB;

faultTest('a region that answers "no space": E_NO_SPACE at its first sector, before the reported end', async () => {
  const image = randomImage(IMAGE);
  const full = 6 * MiB + 5 * 512;
  await withFaultyDevice({ size: 16 * MiB, writeErrors: [{ offset: full, length: 2 * MiB, errno: 'ENOSPC' }] }, async (d) => {
    const r = await imprint(['flash', image, d.device, '--yes'], { onStuck: d.kill });
    const err = failedWith(r, 'E_NO_SPACE');
    assert.equal(err.offset, full, describe(r));
    assert.match(err.message, /holds less than it claims/);
    headAbsent(d.device, image);
  });
});

faultTest('a drive that ends before its reported size: E_TARGET_END at the real end, found by reading', async () => {
  const image = randomImage(IMAGE);
  const end = 7 * MiB;
  await withFaultyDevice({ size: 16 * MiB, shortAfter: end }, async (d) => {
    const r = await imprint(['flash', image, d.device, '--yes'], { onStuck: d.kill });
    const err = failedWith(r, 'E_TARGET_END');
    assert.equal(err.offset, end, describe(r));
    assert.match(err.message, new RegExp(`ends at byte offset ${end}, although it reports ${16 * MiB} bytes`));
    assert.equal(r.finished?.targets[0]?.status, 'failed');
  });
});

faultTest('a short drive among two targets fails alone; the healthy one is written and verified', async () => {
  const image = randomImage(IMAGE);
  await withLoopDevice(16 * MiB, async (good) => {
    await withFaultyDevice({ size: 16 * MiB, shortAfter: 10 * MiB }, async (d) => {
      const r = await imprint(['flash', image, good.device, d.device, '--yes'], { onStuck: d.kill });
      failedWith(r, 'E_TARGET_END');
      const by = Object.fromEntries((r.finished?.targets ?? []).map((t) => [t.device, t]));
      assert.equal(by[good.device]?.status, 'verified', describe(r));
      assert.equal(by[d.device]?.status, 'failed');
      assert.equal(by[d.device]?.error?.offset, 10 * MiB);
      assert.equal(firstDeviceDifference(good.device, image), -1);
    });
  });
});
