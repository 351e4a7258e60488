import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { ZeroRuns, deviceZeroOutInBackground } from './zero-runs';
import { ZeroCallSizer, ZERO_PACE, type ZeroPace } from './zero-pace';
import { readDirect, withLoopDevice, writeDirect } from '../testing/loop-device';

const MiB = 1 << 20;

/** Each run in one call, whatever its length: the tests of how runs are gathered (pacing has its own below). */
const ONE_CALL: ZeroPace = { ...ZERO_PACE, first: 2 ** 40, max: 2 ** 40 };

/** Records what ZeroRuns asks of the drive, and when each run landed: pure logic, checked without a disk. */
function recorder(accept = true, pace = ONE_CALL): { calls: string[]; runs: ZeroRuns; release: () => void } {
  const calls: string[] = [];
  let gate: () => void = () => {};
  let held = new Promise<void>((resolve) => (gate = resolve));
  const runs = new ZeroRuns(
    async (offset, length) => {
      calls.push(`zero ${offset / MiB}+${length / MiB}`);
      // The drive takes its time: nothing lands before the test lets it.
      await held;
      return accept;
    },
    (offset, length) => void calls.push(`write ${offset / MiB}+${length / MiB}`),
    512,
    16 * MiB,
    (offset, length) => void calls.push(`landed ${offset / MiB}+${length / MiB}`),
    pace,
  );
  return {
    calls,
    runs,
    release: () => {
      gate();
      held = Promise.resolve();
    },
  };
}

test('consecutive zero pieces become one run, zeroed in the background once a data piece or the end comes', async () => {
  const { calls, runs, release } = recorder();
  for (let at = 4; at < 24; at += 4) runs.add(at * MiB, 4 * MiB);
  assert.equal(runs.pending, 20 * MiB, 'held back, not yet on the drive');
  assert.deepEqual(calls, []);
  runs.flush();
  assert.equal(runs.pending, 0);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(calls, ['zero 4+20'], 'asked, and not landed while the drive works');
  let settled = false;
  const done = runs.settled().then(() => (settled = true));
  await new Promise((r) => setImmediate(r));
  assert.equal(settled, false, 'settled waits for the drive');
  release();
  await done;
  assert.deepEqual(calls, ['zero 4+20', 'landed 4+20']);
  assert.equal(runs.zeroedBytes, 20 * MiB);
  runs.flush();
  await runs.settled();
  assert.deepEqual(calls, ['zero 4+20', 'landed 4+20'], 'nothing left');
});

test('a gap starts a new run; a short run is written as data at once; runs go to the drive one at a time', async () => {
  const { calls, runs, release } = recorder();
  runs.add(0, 8 * MiB);
  runs.add(12 * MiB, 16 * MiB);
  assert.deepEqual(calls, ['write 0+8', 'landed 0+8'], 'the first run went out when the second began');
  runs.flush();
  runs.add(40 * MiB, 16 * MiB);
  runs.flush();
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(calls.slice(2), ['zero 12+16'], 'the second run waits for the first');
  release();
  await runs.settled();
  assert.deepEqual(calls.slice(2), ['zero 12+16', 'landed 12+16', 'zero 40+16', 'landed 40+16']);
  assert.equal(runs.zeroedBytes, 32 * MiB);
});

test('a run the drive refuses is written instead, and the drive is not asked again', async () => {
  const { calls, runs, release } = recorder(false);
  release();
  runs.add(0, 16 * MiB);
  runs.flush();
  await runs.settled();
  runs.add(32 * MiB, 32 * MiB);
  runs.flush();
  await runs.settled();
  // (Once refused, the writer holds no zeros back: ZeroRuns.enabled is false, and they go out as the data they are.)
  assert.deepEqual(calls, ['zero 0+16', 'write 0+16', 'landed 0+16', 'write 32+32', 'landed 32+32']);
  assert.equal(runs.enabled, false);
  assert.equal(runs.zeroedBytes, 0);
});

test('zeros written for a refused run that fail to write make settled fail', async () => {
  const runs = new ZeroRuns(
    async () => false,
    () => {
      throw new Error('EIO at 0');
    },
    512,
    16 * MiB,
  );
  runs.add(0, 16 * MiB);
  runs.flush();
  await assert.rejects(runs.settled(), /EIO at 0/);
  assert.match(String(runs.failed), /EIO at 0/);
});

test('a stopped write lands nothing more', async () => {
  const { calls, runs, release } = recorder();
  runs.add(0, 16 * MiB);
  runs.flush();
  await new Promise((r) => setImmediate(r));
  runs.stop();
  release();
  await runs.settled();
  assert.deepEqual(calls, ['zero 0+16']);
});

test('a run not aligned to the sector size is written, not zeroed', () => {
  const { calls, runs } = recorder();
  runs.add(0, 16 * MiB + 100);
  runs.flush();
  assert.deepEqual(calls, ['write 0+' + (16 * MiB + 100) / MiB, 'landed 0+' + (16 * MiB + 100) / MiB]);
});

test('pacing: calls start small, grow at most 2x on a fast drive up to 1 GiB, and shrink to about a second of a slow one', () => {
  const sizer = new ZeroCallSizer(4096);
  assert.equal(sizer.next(Infinity), 16 * MiB, 'the first call');
  assert.equal(sizer.next(5 * MiB), 5 * MiB, 'never more than is left');
  sizer.took(16 * MiB, 2);
  assert.equal(sizer.next(Infinity), 32 * MiB, 'fast: 2x, not the 8 GiB its rate would allow');
  for (const mib of [32, 64, 128, 256, 512]) sizer.took(mib * MiB, 2);
  sizer.took(1024 * MiB, 2);
  assert.equal(sizer.next(Infinity), 1024 * MiB, 'at most 1 GiB');
  sizer.took(1024 * MiB, 100_000);
  assert.equal(sizer.next(Infinity), 10 * MiB + 4096 * 61, 'a drive at 10.7 MB/s: a second of it');
  sizer.took(10 * MiB, 20_000);
  assert.equal(sizer.next(Infinity), 4 * MiB, 'at 0.5 MB/s: the floor of 4 MiB');
  sizer.took(4 * MiB, 200);
  assert.equal(sizer.next(Infinity), 8 * MiB, '20 MB/s: 2x at most');
  const odd = new ZeroCallSizer(4096);
  odd.took(16 * MiB, 3000);
  assert.equal(odd.next(Infinity) % 4096, 0, 'whole blocks');
});

test('a run longer than a call goes to the drive in several, each reported as it lands, in order', async () => {
  const { calls, runs, release } = recorder(true, ZERO_PACE);
  release();
  runs.add(0, 48 * MiB);
  runs.flush();
  await runs.settled();
  // The recorder's drive answers at once: after the first 16 MiB the next call may be 2x larger (the 32 MiB left).
  assert.deepEqual(calls, ['zero 0+16', 'landed 0+16', 'zero 16+32', 'landed 16+32']);
  assert.equal(runs.zeroedBytes, 48 * MiB);
});

test('a drive that refuses part-way: the rest of the run is written, the part zeroed stays zeroed', async () => {
  let answered = 0;
  const calls: string[] = [];
  const runs = new ZeroRuns(
    async (offset, length) => {
      calls.push(`zero ${offset / MiB}+${length / MiB}`);
      return answered++ === 0;
    },
    (offset, length) => void calls.push(`write ${offset / MiB}+${length / MiB}`),
    512,
    16 * MiB,
    (offset, length) => void calls.push(`landed ${offset / MiB}+${length / MiB}`),
  );
  runs.add(0, 40 * MiB);
  runs.flush();
  await runs.settled();
  assert.deepEqual(calls, ['zero 0+16', 'landed 0+16', 'zero 16+24', 'write 16+16', 'landed 16+16', 'write 32+8', 'landed 32+8']);
  assert.equal(runs.zeroedBytes, 16 * MiB);
  assert.equal(runs.enabled, false);
});

// IMPRINT_ZERO_OUT=write asks for this mode: jobs/engine-settings.test.ts.
test("the 'write' mode turns the drive command off", () => {
  assert.equal(deviceZeroOutInBackground('/dev/loop0', 'write'), null);
});

test('in the background, on a real loop device: the run reads back as zeros, data written meanwhile beside it stays', async () => {
  await withLoopDevice(48 * MiB, async (loop) => {
    writeDirect(loop.device, 0, Buffer.alloc(48 * MiB, 0xa5));
    const zeroOut = deviceZeroOutInBackground(loop.device);
    assert.ok(zeroOut, 'Linux has the fallocate program');
    const zeroing = zeroOut(16 * MiB, 16 * MiB);
    // The caller goes on while the drive zeroes: the next range is written before the call is awaited.
    writeDirect(loop.device, 32 * MiB, Buffer.alloc(16 * MiB, 0x5a));
    assert.equal(await zeroing, true);
    const back = readDirect(loop.device, 0, 48 * MiB);
    assert.ok(back.subarray(0, 16 * MiB).every((b) => b === 0xa5), 'before the run: unchanged');
    assert.ok(back.subarray(16 * MiB, 32 * MiB).every((b) => b === 0), 'the run is zeros on the device');
    assert.ok(back.subarray(32 * MiB).every((b) => b === 0x5a), 'after the run: the data written meanwhile');
    // The loop driver carried it out as a zero-range of its backing file, not as written zeros.
    assert.match(execFileSync('filefrag', ['-v', loop.backingFile], { encoding: 'utf8' }), /unwritten/);
  });
});

test('an aborted background call resolves false (its run is then not taken as zeroed)', async () => {
  const stop = new AbortController();
  stop.abort();
  const zeroOut = deviceZeroOutInBackground('/dev/null', 'device', stop.signal);
  assert.ok(zeroOut);
  assert.equal(await zeroOut(0, 16 * MiB), false);
});
