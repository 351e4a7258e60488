// Plain loop devices over temp files, with real O_DIRECT I/O. Needs root.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { allocAligned } from '../io/aligned-buffer';
import { createLoopDevice, firstDeviceDifference, isLoopAttached, loopSysfs, readDirect, withLoopDevice, withLoopDevices, writeDirect, type LoopDevice } from './loop-device';
import { resolveTool } from './run-tool';

const MiB = 1 << 20;
const BLOCK = 4096;
const skipReason = process.getuid?.() !== 0 || !fs.existsSync('/dev/loop-control') || !resolveTool('losetup') ? 'loop devices need root, /dev/loop-control and losetup' : '';

function block(text: string): Buffer {
  const buf = allocAligned(BLOCK).fill(0);
  buf.write(text);
  return buf;
}

function openDirect(device: string): number {
  return fs.openSync(device, fs.constants.O_RDWR | fs.constants.O_DIRECT);
}

// 60 s: attaching takes milliseconds; more means losetup is stuck.
test('withLoopDevice: a plain loop device over a sparse or pre-allocated temp file, detached after', { timeout: 60_000 }, async (t) => {
  if (skipReason) return t.skip(skipReason);
  for (const sparse of [true, false]) {
    let seen = { device: '', backingFile: '' };
    await withLoopDevice(8 * MiB, async (dev) => {
      seen = dev;
      assert.equal(Number(loopSysfs(dev.device, 'size')) * 512, 8 * MiB);
      const allocated = fs.statSync(dev.backingFile).blocks * 512;
      assert.ok(sparse ? allocated < 8 * MiB : allocated >= 8 * MiB, `sparse=${sparse}: ${allocated} bytes allocated`);
      const fd = openDirect(dev.device);
      try {
        assert.equal(fs.writeSync(fd, block('plain'), 0, BLOCK, MiB), BLOCK);
      } finally {
        fs.closeSync(fd);
      }
      const onDisk = Buffer.alloc(5);
      const file = fs.openSync(dev.backingFile, 'r');
      fs.readSync(file, onDisk, 0, 5, MiB);
      fs.closeSync(file);
      assert.equal(onDisk.toString(), 'plain');
    }, { sparse });
    assert.equal(isLoopAttached(seen.device) && loopSysfs(seen.device, 'loop/backing_file') === seen.backingFile, false);
    assert.equal(fs.existsSync(seen.backingFile), false, 'temp file removed');
  }
});

test('a caller-given file is kept, grown to size, and its content left alone', { timeout: 60_000 }, async (t) => {
  if (skipReason) return t.skip(skipReason);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imprint-loop-test-'));
  try {
    const file = path.join(dir, 'mine.img');
    fs.writeFileSync(file, 'keep me');
    await withLoopDevice(1 * MiB, async (dev) => {
      assert.equal(dev.backingFile, file);
      assert.equal(Number(loopSysfs(dev.device, 'size')) * 512, 1 * MiB);
    }, { file });
    assert.equal(fs.statSync(file).size, 1 * MiB);
    assert.equal(fs.readFileSync(file).subarray(0, 7).toString(), 'keep me');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('readOnly: the kernel refuses writes (EPERM; root may still open it O_RDWR)', { timeout: 60_000 }, async (t) => {
  if (skipReason) return t.skip(skipReason);
  await withLoopDevice(1 * MiB, async (dev) => {
    assert.equal(loopSysfs(dev.device, 'ro'), '1');
    const fd = openDirect(dev.device);
    try {
      assert.throws(() => fs.writeSync(fd, block('no'), 0, BLOCK, 0), { code: 'EPERM' });
    } finally {
      fs.closeSync(fd);
    }
  }, { readOnly: true });
});

test('direct I/O by default over pre-filled content; readDirect, writeDirect and firstDeviceDifference see the medium', { timeout: 60_000 }, async (t) => {
  if (skipReason) return t.skip(skipReason);
  const content = randomBytes(300_000); // not a block multiple: the rest of the device stays zero
  const expected = Buffer.concat([content, Buffer.alloc(MiB - content.length)]);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imprint-loop-test-'));
  try {
    await withLoopDevice(1 * MiB, async (loop) => {
      assert.equal(loopSysfs(loop.device, 'loop/dio'), '1');
      assert.ok(readDirect(loop.device, 1000, 5000).equals(content.subarray(1000, 6000)));
      assert.equal(firstDeviceDifference(loop.device, expected), -1);
      const at = 5001;
      writeDirect(loop.device, at, Buffer.from([(expected[at] as number) ^ 0xff]));
      assert.equal(readDirect(loop.device, at, 1)[0], (expected[at] as number) ^ 0xff);
      assert.equal(firstDeviceDifference(loop.device, expected), at);
      const file = path.join(dir, 'expected.img');
      fs.writeFileSync(file, expected);
      assert.equal(firstDeviceDifference(loop.device, file), at, 'the same against a file');
      assert.equal(firstDeviceDifference(loop.device, expected, at), -1, 'equal up to the given length');
    }, { content });
    await withLoopDevice(1 * MiB, (loop) => assert.equal(loopSysfs(loop.device, 'loop/dio'), '0'), { directIo: false });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('withLoopDevices removes every device and temp file when the test throws; a bad size attaches nothing', { timeout: 60_000 }, async (t) => {
  if (skipReason) return t.skip(skipReason);
  let seen: LoopDevice[] = [];
  await assert.rejects(
    withLoopDevices([{ size: 1 * MiB }, { size: 2 * MiB, opts: { readOnly: true } }], (loops) => {
      seen = loops;
      assert.deepEqual(loops.map((l) => Number(loopSysfs(l.device, 'size')) * 512), [1 * MiB, 2 * MiB]);
      assert.deepEqual(loops.map((l) => loopSysfs(l.device, 'ro')), ['0', '1']);
      throw new Error('the test failed');
    }),
    /the test failed/,
  );
  assert.equal(seen.length, 2);
  for (const l of seen) {
    assert.equal(isLoopAttached(l.device) && loopSysfs(l.device, 'loop/backing_file') === l.backingFile, false, `${l.device} still attached`);
    assert.equal(fs.existsSync(l.backingFile), false, `${l.backingFile} left behind`);
  }
  await assert.rejects(createLoopDevice(1000), /not a positive multiple of 512/);
});
