// Write errors on chosen sectors of a target: the job fails for that target
// with "bad sector at offset X" (X the exact sector), not "drive unplugged";
// the other targets of the same job finish and verify.
import * as assert from 'node:assert/strict';
import { withFaultyDevice } from '../../engine/testing/faulty-device';
import { firstDeviceDifference, withLoopDevices } from '../../engine/testing/loop-device';
import { pseudoRandom } from '../../engine/testing/image-fixtures';
import { MiB, describe, failedWith, faultTest, headAbsent, imprint, randomImage } from './fault-bench';

const IMAGE = 12 * MiB;

faultTest('a bad sector in the middle of a 4 MiB chunk is reported at its exact offset', async () => {
  const image = randomImage(IMAGE);
  // Not at a chunk or page boundary: three sectors into a 4 KiB page, past the 5 MiB mark.
  const bad = 5 * MiB + 4096 + 3 * 512;
  await withFaultyDevice({ size: 16 * MiB, writeErrors: [{ offset: bad, length: 512 }] }, async (d) => {
    const r = await imprint(['flash', image, d.device, '--yes'], { onStuck: d.kill });
    const err = failedWith(r, 'E_BAD_SECTOR');
    assert.equal(err.offset, bad, describe(r));
    assert.match(err.message, new RegExp(`bad sector at offset ${bad}\\b`));
    assert.doesNotMatch(err.message, /unplugged|gone|removed/i);
    assert.equal(r.finished?.targets[0]?.status, 'failed');
    headAbsent(d.device, image);
  });
});

faultTest('a bad sector inside the image head (written last) is found there too', async () => {
  const image = randomImage(IMAGE);
  const bad = 7 * 512;
  await withFaultyDevice({ size: 16 * MiB, writeErrors: [{ offset: bad, length: 512 }] }, async (d) => {
    // The head region is wiped first, and that wipe meets the bad sector before any image data.
    const r = await imprint(['flash', image, d.device, '--yes'], { onStuck: d.kill });
    assert.equal(failedWith(r, 'E_BAD_SECTOR').offset, bad, describe(r));
  });
});

faultTest('a bad range: the first failing sector of the range is named', async () => {
  const image = randomImage(IMAGE);
  const from = 9 * MiB + 123 * 512;
  await withFaultyDevice({ size: 16 * MiB, writeErrors: [{ offset: from, length: 64 * 1024 }] }, async (d) => {
    const r = await imprint(['flash', image, d.device, '--yes'], { onStuck: d.kill });
    assert.equal(failedWith(r, 'E_BAD_SECTOR').offset, from, describe(r));
  });
});

faultTest('one target with a bad sector among three: the other two finish, byte for byte, and verify', async () => {
  const image = randomImage(IMAGE);
  const bad = 3 * MiB + 2048;
  await withLoopDevices(
    [16, 16].map((m) => ({ size: m * MiB, opts: { content: pseudoRandom(m * MiB, `old ${m}`) } })),
    async ([a, b]) => {
      await withFaultyDevice({ size: 16 * MiB, writeErrors: [{ offset: bad, length: 512 }] }, async (d) => {
        const [da, db] = [a?.device as string, b?.device as string];
        const r = await imprint(['flash', image, da, d.device, db, '--yes'], { onStuck: d.kill });
        failedWith(r, 'E_BAD_SECTOR');
        const by = Object.fromEntries((r.finished?.targets ?? []).map((t) => [t.device, t]));
        assert.equal(by[da]?.status, 'verified', describe(r));
        assert.equal(by[db]?.status, 'verified', describe(r));
        assert.equal(by[d.device]?.status, 'failed');
        assert.equal(by[d.device]?.error?.offset, bad);
        assert.equal(firstDeviceDifference(da, image), -1);
        assert.equal(firstDeviceDifference(db, image), -1);
        const failures = r.events.filter((e) => e.type === 'target-failed');
        assert.deepEqual(failures.map((e) => e.type === 'target-failed' && e.device), [d.device], 'only the faulty target failed');
        headAbsent(d.device, image);
      });
    },
  );
});

faultTest('a bad sector met while reading a target back is named by verification', async () => {
  const image = randomImage(IMAGE);
  const bad = 10 * MiB + 512;
  // Writes go through; reading that sector back fails.
  await withFaultyDevice({ size: 16 * MiB, readErrors: [{ offset: bad, length: 512 }] }, async (d) => {
    const r = await imprint(['flash', image, d.device, '--yes'], { onStuck: d.kill });
    const err = failedWith(r, 'E_BAD_SECTOR');
    assert.equal(err.offset, bad, describe(r));
    assert.equal(r.finished?.targets[0]?.status, 'failed');
    assert.ok(r.events.some((e) => e.type === 'progress' && e.phase === 'verifying'), 'it failed in verification');
  });
});
