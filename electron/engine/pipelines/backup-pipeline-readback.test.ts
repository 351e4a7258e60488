import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import { noise } from '../testing/test-drives';
import * as alignedBuffer from '../io/aligned-buffer';
import { BackupPipeline } from './backup-pipeline';
import { CHUNK_SIZE } from './write-pipeline';

/**
 * A zstd backup's writer reads its file back as it writes it
 * (io/read-back-output.ts) and the frames' threads take the CRC-32 of what
 * they compress: what was compressed must be what was read from the drive,
 * and the file changed on disk before it is read back must fail the backup.
 */

/** zlib's CRC-32 of each `chunk` bytes of `buf`, the plain way. */
const plainCrcs = (buf: Buffer, chunk: number): number[] => {
  const out: number[] = [];
  for (let at = 0; at < buf.length; at += chunk) out.push(zlib.crc32(buf.subarray(at, at + chunk)) >>> 0);
  return out;
};

/** A small "drive" file: text, noise, zeros; read O_DIRECT by the drive reader (so not on tmpfs). */
function makeDrive(dir: string): { file: string; size: number } {
  const file = path.join(dir, 'drive.img');
  const content = Buffer.concat([Buffer.from('text '.repeat(1_000_000)), noise(5 << 20, 7), Buffer.alloc(6 << 20), noise(1 << 20, 8)]);
  fs.writeFileSync(file, content);
  return { file, size: content.length };
}

async function backUp(drive: { file: string; size: number }, output: string, threads: number, onOutputComplete?: () => void): Promise<Awaited<ReturnType<BackupPipeline['run']>>> {
  const info = { path: drive.file, format: 'raw' as const, fileSize: drive.size, size: drive.size, sizeEstimate: null, isDevice: false };
  const pipeline = new BackupPipeline(info, { output, compression: 'zstd', level: 3, threads, trailer: () => null, ...(onOutputComplete ? { onOutputComplete } : {}) });
  return pipeline.run();
}

for (const threads of [1, 2]) {
  test(`zstd backup (${threads} thread(s)): the content CRCs of what was compressed match the drive's; a file changed on disk fails the backup`, async () => {
    const t = fs.mkdtempSync('/var/tmp/imprint-file-check-');
    try {
      const drive = makeDrive(t);
      const output = path.join(t, 'backup.img.zst');
      const ok = await backUp(drive, output, threads);
      assert.equal(ok.error, null);
      assert.ok(ok.check);
      assert.equal(ok.check.contentBytes, drive.size);
      assert.deepEqual(ok.check.crcs, ok.driveCrcs, 'what the encoder took in is what was read');
      assert.deepEqual(ok.driveCrcs, plainCrcs(fs.readFileSync(drive.file), CHUNK_SIZE));

      // The file's end (the seek table) is read back only after the writer finishes: change its last byte on disk then.
      let size = 0;
      const bad = await backUp(drive, output, threads, () => {
        size = fs.statSync(output).size;
        const fd = fs.openSync(output, 'r+');
        const b = Buffer.alloc(1);
        fs.readSync(fd, b, 0, 1, size - 1);
        fs.writeSync(fd, Buffer.from([(b[0] as number) ^ 0xff]), 0, 1, size - 1);
        fs.fsyncSync(fd);
        fs.closeSync(fd);
      });
      assert.equal(bad.error?.code, 'E_VERIFY_MISMATCH');
      assert.match(bad.error?.message ?? '', /reads back differently from what was written/);
      assert.equal(bad.error?.offset, size - 1, 'the changed byte is named');
      assert.equal(fs.existsSync(output), true, 'the pipeline leaves removing the file to the job');
    } finally {
      fs.rmSync(t, { recursive: true, force: true });
    }
  });
}

test('zstd backup on the frame pool: ring memory that changes between reading and compressing fails the backup', async () => {
  const t = fs.mkdtempSync('/var/tmp/imprint-file-check-');
  // The ring is the one SharedArrayBuffer of the pipeline's size: keep it, and keep changing one byte of
  // every slot, as a slot reused too early or failing memory would, while the backup runs.
  const original = alignedBuffer.allocAlignedShared;
  let ring: Uint8Array | null = null;
  const mutable = alignedBuffer as { allocAlignedShared: (bytes: number) => SharedArrayBuffer };
  mutable.allocAlignedShared = (bytes) => {
    const memory = original(bytes);
    if (bytes === 8 * CHUNK_SIZE) ring = new Uint8Array(memory);
    return memory;
  };
  const flipper = setInterval(() => {
    for (let at = 4096; ring && at < ring.length; at += CHUNK_SIZE) ring[at] = ((ring[at] as number) + 1) & 0xff;
  }, 1);
  try {
    const drive = makeDrive(t);
    const bad = await backUp(drive, path.join(t, 'backup.img.zst'), 2);
    assert.ok(ring, 'the ring was seen');
    assert.equal(bad.error?.code, 'E_VERIFY_MISMATCH');
    assert.match(bad.error?.message ?? '', /What was compressed differs from what was read/);
  } finally {
    clearInterval(flipper);
    mutable.allocAlignedShared = original;
    fs.rmSync(t, { recursive: true, force: true });
  }
});
