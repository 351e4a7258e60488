// A counterfeit drive reports twice the capacity it has, and writes past its
// real end wrap around to the start. When the image's size is known, flash
// finds the wrap before writing it (check/wrap-probe.ts); otherwise the
// verification after the write catches it and says so. `imprint check`
// finds it in seconds, before a long write.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { withFaultyDevice } from '../../engine/testing/faulty-device';
import { compressTo, fixtureDir, pseudoRandom } from '../../engine/testing/image-fixtures';
import { readDirect, withLoopDevice } from '../../engine/testing/loop-device';
import { MiB, canRun, describe, failedWith, faultTest, imprint, noCrash, randomImage } from './fault-bench';
import { record } from './fault-tally';

const CLAIMED = 16 * MiB;
const REAL = 8 * MiB;

faultTest('flashing more than a fake drive holds: found before the image is written, with where data wraps', async () => {
  const image = randomImage(12 * MiB);
  await withFaultyDevice({ size: CLAIMED, backingSize: REAL }, async (d) => {
    const r = await imprint(['flash', image, d.device, '--yes'], { onStuck: d.kill });
    const err = failedWith(r, 'E_COUNTERFEIT');
    assert.equal(err.offset, REAL, describe(r));
    assert.match(err.message, /holds less than it claims; data wraps at about 8\.39 MB/);
    assert.match(err.message, /so it was not written/);
    assert.equal(r.finished?.targets[0]?.status, 'failed');
    assert.equal(r.finished?.targets[0]?.bytesWritten, 0, 'no byte of the image was written');
  });
});

faultTest('the same fake drive with the read-back after the write: verification finds the wrap', async () => {
  const image = randomImage(12 * MiB);
  await withFaultyDevice({ size: CLAIMED, backingSize: REAL }, async (d) => {
    const r = await imprint(['flash', image, d.device, '--yes'], { onStuck: d.kill, env: { IMPRINT_VERIFY_WHILE_WRITING: 'off' } });
    const err = failedWith(r, 'E_COUNTERFEIT');
    assert.equal(err.offset, REAL, describe(r));
    assert.match(err.message, /what was written there landed back at the start/);
    assert.equal(r.finished?.targets[0]?.bytesWritten, 12 * MiB);
  });
});

faultTest('the wrap is found in a compressed image too (its content read in one pass)', async () => {
  const image = compressTo('gz', randomImage(12 * MiB), path.join(fixtureDir(), 'random-12m.img.gz'));
  await withFaultyDevice({ size: CLAIMED, backingSize: REAL }, async (d) => {
    const r = await imprint(['flash', image, d.device, '--yes'], { onStuck: d.kill });
    assert.equal(failedWith(r, 'E_COUNTERFEIT').offset, REAL, describe(r));
  });
});

faultTest('an image more than twice what a fake drive holds: the wrap is still its real capacity, not a multiple', async () => {
  const image = randomImage(20 * MiB, 'twice and a half');
  await withFaultyDevice({ size: 32 * MiB, backingSize: REAL }, async (d) => {
    const r = await imprint(['flash', image, d.device, '--yes'], { onStuck: d.kill });
    assert.equal(failedWith(r, 'E_COUNTERFEIT').offset, REAL, describe(r));
  });
});

faultTest('an image that fits in what a fake drive really holds is written and verified: every byte reads back', async () => {
  // 6 MiB, below the real 8 MiB (the wipe of the claimed last MiB lands at 7 MiB, past the image).
  const image = randomImage(6 * MiB, 'fits the fake');
  await withFaultyDevice({ size: CLAIMED, backingSize: REAL }, async (d) => {
    const r = await imprint(['flash', image, d.device, '--yes'], { onStuck: d.kill });
    noCrash(r);
    assert.equal(r.code, 0, describe(r));
    assert.equal(r.finished?.targets[0]?.status, 'verified');
    assert.ok((await d.readBacking(0, 6 * MiB)).equals(fs.readFileSync(image)), 'the medium holds the image');
  });
});

faultTest('imprint check finds a fake drive, estimates what it really holds, and puts the data back', async () => {
  const before = pseudoRandom(16 * MiB, 'data on the fake drive');
  await withFaultyDevice({ size: 64 * MiB, backingSize: 16 * MiB, initialContent: before }, async (d) => {
    const r = await imprint(['check', d.device, '--yes'], { onStuck: d.kill });
    const err = failedWith(r, 'E_COUNTERFEIT');
    assert.match(err.message, /holds less than it claims; data wraps at about 16\.8 MB/);
    const details = r.finished?.details ?? {};
    assert.equal(details.realBytesEstimate, 16 * MiB);
    assert.equal(details.wrapsAt, 16 * MiB);
    assert.equal(details.claimedBytes, 64 * MiB);
    assert.ok((await d.readBacking(0, 16 * MiB)).equals(before), 'the pages under the markers were put back');
  });
});

faultTest('imprint check on a drive that ends early: data is not kept from about where it ends', async () => {
  await withFaultyDevice({ size: 32 * MiB, shortAfter: 20 * MiB }, async (d) => {
    const r = await imprint(['check', d.device, '--yes'], { onStuck: d.kill });
    failedWith(r, 'E_COUNTERFEIT');
    const estimate = Number(r.finished?.details?.realBytesEstimate);
    // Markers sit every 1/64th (512 KiB here): the first lost one is at most that far past the end.
    assert.ok(estimate >= 20 * MiB && estimate <= 20 * MiB + 512 * 1024, `estimate ${estimate}`);
  });
});

faultTest('imprint check on a drive with one bad sector but its full capacity: a bad sector, not a fake', async () => {
  // 5 MiB is one of the marker places (10/64ths of 32 MiB); the markers at the end come back.
  await withFaultyDevice({ size: 32 * MiB, writeErrors: [{ offset: 5 * MiB, length: 512 }] }, async (d) => {
    const r = await imprint(['check', d.device, '--yes'], { onStuck: d.kill });
    const err = failedWith(r, 'E_BAD_SECTOR');
    assert.equal(err.offset, 5 * MiB);
  });
});

test('imprint check on a genuine drive passes and leaves its data as it was', async (t) => {
  if (!canRun(t)) return;
  const before = pseudoRandom(32 * MiB, 'genuine drive data');
  await withFaultyDevice({ size: 32 * MiB, initialContent: before }, async (d) => {
    const r = await imprint(['check', d.device, '--yes'], { onStuck: d.kill });
    noCrash(r);
    assert.equal(r.code, 0, describe(r));
    assert.equal(r.finished?.ok, true);
    assert.equal(r.finished?.details?.failedMarkers, 0);
    assert.ok(Number(r.finished?.details?.markers) >= 64);
    assert.ok((await d.readBacking(0, 32 * MiB)).equals(before), 'the drive holds what it held before');
  });
});

test('imprint check refuses a file, /dev/null, and an unconfirmed run, writing nothing', async (t) => {
  const old = pseudoRandom(8 * MiB, 'unconfirmed');
  const file = path.join(fixtureDir(), 'not-a-drive.img');
  fs.writeFileSync(file, old);
  const cases: [string, string[], string][] = [
    ['a regular file', ['check', file, '--yes'], 'E_TARGET_NOT_WRITABLE_KIND'],
    ['a character device', ['check', '/dev/null', '--yes'], 'E_TARGET_NOT_WRITABLE_KIND'],
    ['no such drive', ['check', '/dev/imprint-no-such-drive', '--yes'], 'E_TARGET_NOT_FOUND'],
  ];
  for (const [what, args, code] of cases) {
    await t.test(what, async () => {
      const r = await imprint(args);
      noCrash(r);
      assert.equal(r.code, 2, describe(r));
      assert.equal(r.error?.code, code, describe(r));
      record({ kind: 'bad-input', name: `check: ${what}` });
    });
  }
  assert.ok(fs.readFileSync(file).equals(old), 'the file was written');
  await t.test('no --yes and no terminal to ask', async () => {
    await withLoopDevice(
      8 * MiB,
      async (loop) => {
        const r = await imprint(['check', loop.device]);
        assert.equal(r.code, 2, describe(r));
        assert.equal(r.error?.code, 'E_NOT_CONFIRMED');
        assert.ok(readDirect(loop.device, 0, 8 * MiB).equals(old), 'the drive was written');
        record({ kind: 'bad-input', name: 'check: not confirmed' });
      },
      { content: old },
    );
  });
});
