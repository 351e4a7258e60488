import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { ZeroRuns, deviceZeroOut } from './zero-runs';
import { readDirect, withLoopDevice, writeDirect } from '../testing/loop-device';

const MiB = 1 << 20;

/** Records what ZeroRuns asks of the drive: pure logic, checked without a disk. */
function recorder(accept = true): { calls: string[]; runs: ZeroRuns } {
  const calls: string[] = [];
  const runs = new ZeroRuns(
    (offset, length) => {
      calls.push(`zero ${offset / MiB}+${length / MiB}`);
      return accept;
    },
    (offset, length) => void calls.push(`write ${offset / MiB}+${length / MiB}`),
    512,
    16 * MiB,
  );
  return { calls, runs };
}

test('consecutive zero pieces become one run, zeroed when a data piece or the end comes', () => {
  const { calls, runs } = recorder();
  for (let at = 4; at < 24; at += 4) assert.equal(runs.add(at * MiB, 4 * MiB), 0, 'held back, not yet on the drive');
  assert.equal(runs.pending, 20 * MiB);
  assert.equal(runs.flush(), 20 * MiB);
  assert.deepEqual(calls, ['zero 4+20']);
  assert.equal(runs.zeroedBytes, 20 * MiB);
  assert.equal(runs.flush(), 0, 'nothing left');
});

test('a gap starts a new run; a short run is written as data', () => {
  const { calls, runs } = recorder();
  runs.add(0, 8 * MiB);
  assert.equal(runs.add(12 * MiB, 16 * MiB), 8 * MiB, 'the first run went out when the second began');
  runs.flush();
  assert.deepEqual(calls, ['write 0+8', 'zero 12+16']);
  assert.equal(runs.zeroedBytes, 16 * MiB);
});

test('a run the drive refuses is written instead, and the drive is not asked again', () => {
  const { calls, runs } = recorder(false);
  runs.add(0, 16 * MiB);
  runs.flush();
  runs.add(32 * MiB, 32 * MiB);
  runs.flush();
  assert.deepEqual(calls, ['zero 0+16', 'write 0+16', 'write 32+32']);
  assert.equal(runs.enabled, false);
  assert.equal(runs.zeroedBytes, 0);
});

test('a run not aligned to the sector size is written, not zeroed', () => {
  const { calls, runs } = recorder();
  runs.add(0, 16 * MiB + 100);
  runs.flush();
  assert.deepEqual(calls, ['write 0+' + (16 * MiB + 100) / MiB]);
});

// IMPRINT_ZERO_OUT=write asks for this mode: jobs/engine-settings.test.ts.
test("the 'write' mode turns the drive command off", () => {
  assert.equal(deviceZeroOut('/dev/loop0', 'write'), null);
});

test('on a real loop device the range reads back as zeros and its neighbours are untouched', async () => {
  await withLoopDevice(48 * MiB, (loop) => {
    const old = Buffer.alloc(48 * MiB, 0xa5);
    writeDirect(loop.device, 0, old);
    const zeroOut = deviceZeroOut(loop.device);
    assert.ok(zeroOut, 'Linux has the fallocate program');
    assert.equal(zeroOut(16 * MiB, 16 * MiB), true);
    const back = readDirect(loop.device, 0, 48 * MiB);
    assert.ok(back.subarray(16 * MiB, 32 * MiB).every((b) => b === 0), 'the range is zeros on the device');
    assert.ok(back.subarray(0, 16 * MiB).every((b) => b === 0xa5), 'before the range: unchanged');
    assert.ok(back.subarray(32 * MiB).every((b) => b === 0xa5), 'after the range: unchanged');
    // The loop driver carried it out as a zero-range of its backing file, not as written zeros.
    assert.match(execFileSync('filefrag', ['-v', loop.backingFile], { encoding: 'utf8' }), /unwritten/);
  });
});
