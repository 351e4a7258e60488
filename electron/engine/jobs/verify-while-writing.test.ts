// Reading chunks back while the rest of the image is written (write-pipeline.ts,
// VerifyWhileWriting), on real loop devices: the read-back starts before the
// write ends, covers every byte once, and the device ends up holding the image.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import type { JobEvent, JobFinishedEvent } from '../../../shared/job-events';
import { imageIn, osImage } from '../testing/image-fixtures';
import { firstDeviceDifference, withLoopDevice, withLoopDevices } from '../testing/loop-device';
import { prepareFlash, runFlash } from './flash-job';
import { verifyTargets } from '../pipelines/verify-targets';
import { CHUNK_SIZE, WritePipeline } from '../pipelines/write-pipeline';
import type { VerifyWhileWriting } from '../pipelines/write-pipeline-contract';

const MiB = 1 << 20;

async function flash(image: string, targets: string[], mode: VerifyWhileWriting): Promise<{ result: JobFinishedEvent; events: JobEvent[] }> {
  const events: JobEvent[] = [];
  const result = await runFlash(await prepareFlash({ image, targets }), { verify: true, verifyWhileWriting: mode, onEvent: (e) => events.push(e) });
  return { result, events };
}

/** The most any target had verified while the job was still in its writing phase. */
function verifiedWhileWriting(events: JobEvent[]): number {
  let most = 0;
  for (const e of events) {
    if (e.type === 'progress' && e.phase === 'writing') for (const t of e.targets) most = Math.max(most, t.bytesVerified);
  }
  return most;
}

for (const form of ['zst', 'raw'] as const) {
  test(`${form}: with read-back during the write, chunks are handed to the verifier before writing ends, and the drive holds the image`, async () => {
    const image = imageIn(form);
    await withLoopDevice(40 * MiB, async (loop) => {
      // The pipeline itself, to see which chunks it handed over while writing (progress
      // events are sampled, and a 32 MiB write can end between two samples).
      const prepared = await prepareFlash({ image, targets: [loop.device] });
      const pipeline = new WritePipeline(prepared.source, prepared.targets, { contentHashes: [], fileHash: false, verifyWhileWriting: 'always' });
      const result = await pipeline.run();
      const t = pipeline.targets[0];
      assert.ok(t && result.end && !result.error, JSON.stringify(result.error));
      assert.equal(t.progress.status, 'written');
      assert.ok((t.readback?.checked.size ?? 0) > 0, 'chunks were handed to the verifier while the image was being written');
      assert.ok(!t.readback?.checked.has(0), 'never the chunk holding the head, which is written last');
      await verifyTargets(prepared.source, [{ progress: t.progress, isBlockDevice: true, verifier: t.readback?.verifier, checked: t.readback?.checked }], result.crcs, result.end.bytes, CHUNK_SIZE);
      assert.equal(t.progress.status, 'verified', JSON.stringify(t.progress.error));
      assert.equal(t.readback?.verifier.verifiedBytes, result.end.bytes, 'every byte read back once: early and final passes together');
      assert.equal(firstDeviceDifference(loop.device, osImage()), -1, 'the drive holds the image');
    });
  });
}

test('read-back during the write on two drives at once: each is verified on its own', async () => {
  await withLoopDevices([{ size: 40 * MiB }, { size: 48 * MiB }], async (loops) => {
    const { result } = await flash(imageIn('xz'), loops.map((l) => l.device), 'always');
    assert.equal(result.ok, true, JSON.stringify(result.error));
    for (const [i, loop] of loops.entries()) {
      assert.equal(result.targets[i]?.status, 'verified');
      assert.equal(firstDeviceDifference(loop.device, osImage()), -1, `${loop.device} holds the image`);
    }
  });
});

test('off: nothing is read back until the write is over', async () => {
  await withLoopDevice(40 * MiB, async (loop) => {
    const { result, events } = await flash(imageIn('zst'), [loop.device], 'off');
    assert.equal(result.ok, true, JSON.stringify(result.error));
    assert.equal(verifiedWhileWriting(events), 0);
  });
});
