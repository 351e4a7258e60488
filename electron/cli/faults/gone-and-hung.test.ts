// A target that disappears mid-write (its server killed: every I/O fails
// with EIO, yet the device keeps its size), and one that stops answering
// (its writer sleeps in D state until the device is torn down).
import * as assert from 'node:assert/strict';
import { withFaultyDevice, type FaultyDevice } from '../../engine/testing/faulty-device';
import { withLoopDevice } from '../../engine/testing/loop-device';
import { MiB, describe, eventually, failedWith, faultTest, imprint, noCrash, randomImage, startImprint, within, type Imprint } from './fault-bench';

const IMAGE = 12 * MiB;
/** The stall limit for the hang tests: the report must come within it plus the abandon grace. */
const STALL_MS = 1_500;

/** Waits for the CLI's exit; if it hangs, frees it by killing the device and fails. */
async function exitOf(run: Imprint, d: FaultyDevice, what: string) {
  try {
    return await within(run.exited, 60_000, what);
  } catch (err) {
    await d.kill();
    run.child.kill('SIGKILL');
    throw err;
  }
}

/** The image head (first MiB, written last) did not reach the medium. */
async function headNotWritten(d: FaultyDevice, image: string): Promise<void> {
  const head = (await import('node:fs')).readFileSync(image).subarray(0, MiB);
  assert.ok(!(await d.readBacking(0, MiB)).equals(head), 'the image head was written although the job failed');
}

faultTest('a target that disappears mid-write: "the drive is gone", not a bad sector', async () => {
  const image = randomImage(IMAGE);
  // It stops answering after 6 MiB, so the flash cannot finish before it is "unplugged".
  await withFaultyDevice({ size: 16 * MiB, hangAfterBytesWritten: 6 * MiB }, async (d) => {
    const run = startImprint(['flash', image, d.device, '--yes']);
    await within(run.waitForEvent((e) => e.type === 'progress' && e.targets.some((t) => t.bytesWritten > 0)), 60_000, 'the first chunk written');
    await d.kill();
    const r = await exitOf(run, d, 'imprint flash after the drive went');
    const err = failedWith(r, 'E_DEVICE_GONE');
    assert.match(err.message, /the drive is gone/);
    assert.doesNotMatch(err.message, /bad sector/i);
    await headNotWritten(d, image);
  });
});

faultTest('a drive that is gone when read back: verification says gone, never a pass', async () => {
  const image = randomImage(IMAGE);
  await withFaultyDevice({ size: 16 * MiB, initialContent: image }, async (d) => {
    await d.kill();
    const r = await imprint(['verify', image, d.device], { onStuck: d.kill });
    failedWith(r, 'E_DEVICE_GONE');
    assert.equal(r.finished?.targets[0]?.status, 'failed');
  });
});

faultTest('a target that stops answering mid-write: "the drive stopped responding", reported while it still hangs', async () => {
  const image = randomImage(IMAGE);
  await withFaultyDevice({ size: 16 * MiB, hangAfterBytesWritten: 6 * MiB }, async (d) => {
    const run = startImprint(['flash', image, d.device, '--yes'], { IMPRINT_STALL_TIMEOUT_MS: String(STALL_MS) });
    try {
      // The device is still hung (nothing here frees it) when the report arrives.
      const finished = await within(run.waitForEvent((e) => e.type === 'job-finished'), 60_000, 'the report of the hung drive');
      assert.ok(finished?.type === 'job-finished');
      assert.equal(finished.ok, false);
      assert.equal(finished.error?.code, 'E_DEVICE_HUNG', run.stderr());
      assert.match(finished.error?.message ?? '', /the drive stopped responding/);
      assert.equal(finished.targets[0]?.status, 'failed');
      // A thread of the CLI sits in the kernel on the device (D state): no process can end
      // before it returns, process.exit included. The CLI says why it lingers.
      await eventually(() => /still waiting on a drive that stopped responding/.test(run.stderr()), 20_000, 'the note about the waiting thread');
    } finally {
      // Unplugging the drive (its server dies) frees the thread: the CLI ends at once.
      await d.kill();
    }
    const r = await exitOf(run, d, 'imprint flash once the hung drive was unplugged');
    noCrash(r);
    assert.equal(r.code, 1, describe(r));
    await headNotWritten(d, image);
  });
});

faultTest('a drive that hangs while being opened (its first wipe) is reported hung, not waited on forever', async () => {
  const image = randomImage(IMAGE);
  await withFaultyDevice({ size: 16 * MiB, hangAfterBytesWritten: 0 }, async (d) => {
    const run = startImprint(['flash', image, d.device, '--yes'], { IMPRINT_STALL_TIMEOUT_MS: String(STALL_MS) });
    try {
      const finished = await within(run.waitForEvent((e) => e.type === 'job-finished'), 60_000, 'the report of the hung drive');
      assert.ok(finished?.type === 'job-finished');
      assert.equal(finished.error?.code, 'E_DEVICE_HUNG', run.stderr());
      assert.match(finished.error?.message ?? '', /while it was being opened/);
    } finally {
      await d.kill();
    }
    assert.equal((await exitOf(run, d, 'imprint flash')).code, 1);
  });
});

faultTest('a drive that hangs on the final flush is reported hung: the write was never confirmed', async () => {
  const image = randomImage(8 * MiB);
  // Wipes (1 MiB at each end), then the 8 MiB image: the flush after the last byte hangs.
  await withFaultyDevice({ size: 16 * MiB, hangAfterBytesWritten: 10 * MiB }, async (d) => {
    const run = startImprint(['flash', image, d.device, '--yes'], { IMPRINT_STALL_TIMEOUT_MS: String(STALL_MS) });
    try {
      const finished = await within(run.waitForEvent((e) => e.type === 'job-finished'), 60_000, 'the report of the hung drive');
      assert.ok(finished?.type === 'job-finished');
      assert.equal(finished.ok, false);
      assert.equal(finished.error?.code, 'E_DEVICE_HUNG', run.stderr());
      assert.match(finished.error?.message ?? '', /flushed/);
      assert.notEqual(finished.targets[0]?.status, 'verified');
    } finally {
      await d.kill();
    }
    assert.equal((await exitOf(run, d, 'imprint flash')).code, 1);
  });
});

faultTest('a drive that hangs while it is read back: verification reports it hung', async () => {
  const image = randomImage(IMAGE);
  await withFaultyDevice({ size: 16 * MiB, initialContent: image, hangAfterBytesWritten: 0 }, async (d) => {
    const run = startImprint(['verify', image, d.device], { IMPRINT_STALL_TIMEOUT_MS: String(STALL_MS) });
    try {
      const finished = await within(run.waitForEvent((e) => e.type === 'job-finished'), 60_000, 'the report of the hung drive');
      assert.ok(finished?.type === 'job-finished');
      assert.equal(finished.ok, false);
      assert.equal(finished.error?.code, 'E_DEVICE_HUNG', run.stderr());
      assert.equal(finished.targets[0]?.status, 'failed');
    } finally {
      await d.kill();
    }
    assert.equal((await exitOf(run, d, 'imprint verify')).code, 1);
  });
});

faultTest('an image on a drive that stops answering part-way: "reading the image stopped", reported while it hangs', async () => {
  const image = randomImage(IMAGE);
  // The source drive answers the format check and the first chunk, then hangs every read.
  await withFaultyDevice({ size: 16 * MiB, initialContent: image, hangAfterBytesRead: 6 * MiB }, async (d) => {
    await withLoopDevice(16 * MiB, async (target) => {
      const run = startImprint(['flash', d.device, target.device, '--yes'], { IMPRINT_STALL_TIMEOUT_MS: String(STALL_MS) });
      try {
        const finished = await within(run.waitForEvent((e) => e.type === 'job-finished'), 60_000, 'the report of the hung source');
        assert.ok(finished?.type === 'job-finished');
        assert.equal(finished.ok, false);
        assert.equal(finished.error?.code, 'E_DEVICE_HUNG', run.stderr());
        assert.match(finished.error?.message ?? '', new RegExp(`${d.device}: reading the image stopped`));
        assert.equal(finished.targets[0]?.status, 'failed');
      } finally {
        await d.kill();
      }
      const r = await exitOf(run, d, 'imprint flash once the hung source was unplugged');
      noCrash(r);
      assert.equal(r.code, 1, describe(r));
    });
  });
});
