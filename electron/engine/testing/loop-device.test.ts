// Plain loop devices over temp files, with real O_DIRECT I/O. Needs root.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { allocAligned } from '../io/aligned-buffer';
import { isLoopAttached, loopSysfs, withLoopDevice } from './loop-device';
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
    let seen = { device: '', file: '' };
    await withLoopDevice({ size: 8 * MiB, sparse }, async (dev) => {
      seen = dev;
      assert.equal(Number(loopSysfs(dev.device, 'size')) * 512, 8 * MiB);
      const allocated = fs.statSync(dev.file).blocks * 512;
      assert.ok(sparse ? allocated < 8 * MiB : allocated >= 8 * MiB, `sparse=${sparse}: ${allocated} bytes allocated`);
      const fd = openDirect(dev.device);
      try {
        assert.equal(fs.writeSync(fd, block('plain'), 0, BLOCK, MiB), BLOCK);
      } finally {
        fs.closeSync(fd);
      }
      const onDisk = Buffer.alloc(5);
      const file = fs.openSync(dev.file, 'r');
      fs.readSync(file, onDisk, 0, 5, MiB);
      fs.closeSync(file);
      assert.equal(onDisk.toString(), 'plain');
    });
    assert.equal(isLoopAttached(seen.device) && loopSysfs(seen.device, 'loop/backing_file') === seen.file, false);
    assert.equal(fs.existsSync(seen.file), false, 'temp file removed');
  }
});

test('a caller-given file is kept, grown to size, and its content left alone', { timeout: 60_000 }, async (t) => {
  if (skipReason) return t.skip(skipReason);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imprint-loop-test-'));
  try {
    const file = path.join(dir, 'mine.img');
    fs.writeFileSync(file, 'keep me');
    await withLoopDevice({ size: 1 * MiB, file }, async (dev) => {
      assert.equal(dev.file, file);
      assert.equal(Number(loopSysfs(dev.device, 'size')) * 512, 1 * MiB);
    });
    assert.equal(fs.statSync(file).size, 1 * MiB);
    assert.equal(fs.readFileSync(file).subarray(0, 7).toString(), 'keep me');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('readOnly: the kernel refuses writes (EPERM; root may still open it O_RDWR)', { timeout: 60_000 }, async (t) => {
  if (skipReason) return t.skip(skipReason);
  await withLoopDevice({ size: 1 * MiB, readOnly: true }, async (dev) => {
    assert.equal(loopSysfs(dev.device, 'ro'), '1');
    const fd = openDirect(dev.device);
    try {
      assert.throws(() => fs.writeSync(fd, block('no'), 0, BLOCK, 0), { code: 'EPERM' });
    } finally {
      fs.closeSync(fd);
    }
  });
});
