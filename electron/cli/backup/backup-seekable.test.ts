import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { SeekableZstdReader } from '../../engine/formats/zstd-seekable-reader';
import { SEEKABLE_FRAME_SIZE } from '../../engine/formats/zstd-seekable-writer';
import { findBackupMetadata } from '../../engine/formats/backup-metadata';
import { makeExt4Drive, tempDir } from '../../engine/testing/test-drives';
import { removeLoopDevice, type LoopDevice } from '../../engine/testing/loop-device';
import { runCli } from '../testing/run-cli';

/**
 * A zstd backup is seekable zstd (issue #14): its seek table lists every
 * frame, the drive's content reads back from any range through it, the
 * metadata frame sits before the table and is still found, and the zstd
 * program still decodes and tests the whole file.
 */

const SIZE = 40 << 20;
const t = tempDir('seekable-backup');
let drive: LoopDevice | null = null;

before(async () => {
  drive = await makeExt4Drive(path.join(t.dir, 'ext4.img'), SIZE, path.join(t.dir, 'mnt'));
});

after(async () => {
  await removeLoopDevice(drive);
  t.remove();
});

test('a zstd backup is seekable: every range reads back through the seek table, and zstd -dc still gives the drive', async () => {
  const device = (drive as LoopDevice).device;
  const out = path.join(t.dir, 'backup.img.zst');
  const backup = await runCli(['backup', device, out, '--compress', 'zstd', '--json']);
  assert.equal(backup.code, 0, backup.stderr + backup.stdout.slice(-2000));
  const content = fs.readFileSync(device);
  assert.equal(content.length, SIZE);
  // The backup used the thread pool where there is more than one core (a single core takes the one-thread path).
  if (os.availableParallelism() < 2) console.log('# one core: the backup compressed its frames on one thread');

  assert.ok(execFileSync('zstd', ['-dc', out], { maxBuffer: SIZE * 2 }).equals(content));
  execFileSync('zstd', ['-tq', out]);

  const fd = fs.openSync(out, 'r');
  try {
    const reader = SeekableZstdReader.open(fd, fs.fstatSync(fd).size, { file: out });
    assert.equal(reader.size, SIZE);
    const frames = [...reader.frames()];
    const dataFrames = Math.ceil(SIZE / SEEKABLE_FRAME_SIZE);
    assert.equal(frames.length, dataFrames + 1, 'the data frames, then the metadata frame');
    assert.ok(frames.slice(0, dataFrames).every((f) => f.decompressedSize === SEEKABLE_FRAME_SIZE && f.checksum !== null));
    assert.equal(frames[dataFrames]?.decompressedSize, 0);
    for (const [offset, length] of [[0, 4096], [SEEKABLE_FRAME_SIZE - 100, 200], [SIZE - 4096, 4096], [12345678, 3 << 20]] as const) {
      assert.ok(reader.read(offset, length).equals(content.subarray(offset, offset + length)), `read(${offset}, ${length})`);
    }
  } finally {
    fs.closeSync(fd);
  }

  const found = findBackupMetadata(out);
  assert.equal(found?.from, 'embedded', 'the metadata frame before the seek table is found');
  assert.equal(found?.metadata.size, SIZE);
  assert.ok(found?.metadata.sha256);
  assert.equal(found.metadata.sha256, backup.finished?.details?.kind === 'backup' ? backup.finished.details.sha256 : undefined);
});
