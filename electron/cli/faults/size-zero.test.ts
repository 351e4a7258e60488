// A device that reports size 0 (or less than was written) when it is reopened
// for verification: a detached loop reopens fine, with size 0, and reads
// nothing. Verification must call that gone or short, never a pass.
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { JobEvent } from '../../../shared/job-events';
import { blockDeviceSize } from '../../engine/io/block-device';
import { prepareFlash, runFlash } from '../../engine/jobs/flash-job';
import { fixtureDir } from '../../engine/testing/image-fixtures';
import { createLoopDevice, isLoopAttached } from '../../engine/testing/loop-device';
import { MiB, describe, failedWith, faultTest, imprint, noCrash, randomImage } from './fault-bench';

const IMAGE = 12 * MiB;

/**
 * Detaches `device` only while it is still bound to one of `files`: once
 * detached, its number may already serve another program's loop.
 */
function detachIfOurs(device: string, ...files: string[]): void {
  try {
    const backing = fs.readFileSync(`/sys/block/${path.basename(device)}/loop/backing_file`, 'utf8').trim();
    if (files.includes(backing)) execFileSync('losetup', ['-d', device]);
  } catch {
    // Not attached any more.
  }
  for (const f of files) fs.rmSync(path.dirname(f), { recursive: true, force: true });
}

/**
 * What a verification of a detached loop must say. Other programs on this
 * machine attach loops all the time, and a free /dev/loopN may be taken by
 * one between our detach and the read-back: then it holds something else,
 * and the only right answer is a failure. While nobody took it, the answer is
 * exactly "gone".
 */
function goneOrTaken(device: string, code: string | undefined, takenBefore: boolean): void {
  const taken = takenBefore || isLoopAttached(device);
  if (!taken) assert.equal(code, 'E_DEVICE_GONE');
  else {
    console.log(`${device} was attached by another program before the read-back; it must still not pass (got ${code})`);
    assert.ok(code === 'E_DEVICE_GONE' || code === 'E_VERIFY_MISMATCH' || code === 'E_VERIFY_SHORT', `got ${code}`);
  }
}

/** Waits (blocking, at most 5 s) until the kernel has let go of a detached loop. */
function waitDetached(device: string): void {
  const until = Date.now() + 5_000;
  while (isLoopAttached(device) || blockDeviceSize(device) !== 0) {
    if (Date.now() > until) assert.fail(`${device} still attached 5 s after its last close`);
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
  }
}

faultTest('flash without verify, the loop detached, then imprint verify: E_DEVICE_GONE, not a pass', async () => {
  const image = randomImage(IMAGE);
  const loop = await createLoopDevice(16 * MiB);
  try {
    const written = await imprint(['flash', image, loop.device, '--no-verify', '--yes']);
    noCrash(written);
    assert.equal(written.code, 0, describe(written));
    execFileSync('losetup', ['-d', loop.device]);
    waitDetached(loop.device);
    const r = await imprint(['verify', image, loop.device]);
    noCrash(r);
    assert.equal(r.code, 1, describe(r));
    assert.equal(r.finished?.ok, false);
    assert.equal(r.finished?.targets[0]?.status, 'failed');
    goneOrTaken(loop.device, r.error?.code, false);
    if (r.error?.code === 'E_DEVICE_GONE') assert.match(r.error.message, /size of 0/);
  } finally {
    detachIfOurs(loop.device, loop.backingFile);
  }
});

faultTest('the loop replaced by a smaller one between write and verify: E_VERIFY_SHORT', async (t) => {
  const image = randomImage(IMAGE);
  const loop = await createLoopDevice(16 * MiB);
  const small = path.join(fs.mkdtempSync(path.join(fixtureDir(), 'small-')), 'small.img');
  try {
    const written = await imprint(['flash', image, loop.device, '--no-verify', '--yes']);
    assert.equal(written.code, 0, describe(written));
    execFileSync('losetup', ['-d', loop.device]);
    waitDetached(loop.device);
    // The same /dev/loopN, now over 4 MiB (someone else may have taken the number meanwhile).
    execFileSync('fallocate', ['-l', String(4 * MiB), small]);
    try {
      execFileSync('losetup', ['--direct-io=on', loop.device, small], { stdio: 'ignore' });
    } catch {
      t.skip(`${loop.device} was taken by another program before it could be reattached`);
      return;
    }
    const r = await imprint(['verify', image, loop.device]);
    const err = failedWith(r, 'E_VERIFY_SHORT');
    assert.equal(err.offset, 4 * MiB, describe(r));
  } finally {
    detachIfOurs(loop.device, loop.backingFile, small);
  }
});

faultTest('the drive vanishes between the write and the read-back of one flash: the target fails, the job is not ok', async () => {
  const image = randomImage(IMAGE);
  const loop = await createLoopDevice(16 * MiB);
  // Held open here, the loop survives `losetup -d` until this last close: the
  // flash writes it normally, and it vanishes when the read-back starts.
  const holder = fs.openSync(loop.device, 'r');
  let held = true;
  try {
    execFileSync('losetup', ['-d', loop.device]);
    assert.ok(isLoopAttached(loop.device), 'the detach waits for the last close');
    const prepared = await prepareFlash({ image, targets: [loop.device] });
    const events: JobEvent[] = [];
    const result = await runFlash(prepared, {
      verify: true,
      onEvent: (e) => {
        events.push(e);
        if (held && e.type === 'progress' && e.phase === 'verifying') {
          held = false;
          fs.closeSync(holder);
          waitDetached(loop.device);
        }
      },
    });
    assert.equal(held, false, 'the verification phase started');
    assert.equal(result.ok, false);
    assert.equal(result.targets[0]?.status, 'failed');
    goneOrTaken(loop.device, result.targets[0]?.error?.code, false);
    assert.ok(events.some((e) => e.type === 'target-failed'));
  } finally {
    if (held) fs.closeSync(holder);
    detachIfOurs(loop.device, loop.backingFile);
  }
});
