import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import { CompressedOutput } from '../io/output-file';
import { runBackupCheck } from '../workers/backup-check-testing';
import { noise, tempDir } from '../testing/test-drives';
import { fileReadBackMismatch } from './backup-file-check';
import { BackupPipeline } from './backup-pipeline';
import { CHUNK_SIZE } from './write-pipeline';

/**
 * A zstd backup is read back by its bytes (backup-check-worker.ts,
 * `verify: 'file-bytes'`): the CRC-32s the writer takes as it writes must be
 * those of the file as read back, and any change to the file on disk, or a
 * file of another length, must fail the check, naming where.
 */

const CHUNK = 1 << 20;
/** zlib's CRC-32 of each CHUNK of `buf`, the plain way. */
const plainCrcs = (buf: Buffer, chunk = CHUNK): number[] => {
  const out: number[] = [];
  for (let at = 0; at < buf.length; at += chunk) out.push(zlib.crc32(buf.subarray(at, at + chunk)) >>> 0);
  return out;
};

/** Writes `pieces` through CompressedOutput as the backup writer does; returns the writer's file CRCs. */
function writeOutput(file: string, pieces: Buffer[]): { bytes: number; crcs: number[] } {
  const out = new CompressedOutput(file, CHUNK);
  for (const p of pieces) out.append(p);
  const bytes = out.finish();
  return { bytes, crcs: out.fileCrcs() };
}

test('file-bytes check: the writer\'s CRCs are the file\'s; a changed byte or a short file fails, named by offset', async () => {
  const t = tempDir('file-check');
  try {
    const file = path.join(t.dir, 'backup.zst');
    // Odd-sized pieces, so chunk and staging boundaries fall inside pieces; a short last chunk.
    const pieces = [noise(700_001, 1), Buffer.alloc(1_500_000), noise(3_333_333, 2), Buffer.from('tail '.repeat(1000))];
    const written = writeOutput(file, pieces);
    const bytes = fs.readFileSync(file);
    assert.equal(written.bytes, bytes.length);
    assert.deepEqual(written.crcs, plainCrcs(bytes), 'the writer took the CRC-32 of exactly what is in the file');

    for (const step of [CHUNK, 4096 * 5]) {
      const r = await runBackupCheck(file, { compression: 'zstd', chunkSize: CHUNK, step, verify: 'file-bytes' });
      assert.ok(r.ok, `pieces of ${step}`);
      assert.equal(fileReadBackMismatch(file, CHUNK, written, r), null);
    }

    // One byte changed on disk, in the third chunk.
    const at = 2 * CHUNK + 12345;
    const fd = fs.openSync(file, 'r+');
    fs.writeSync(fd, Buffer.from([(bytes[at] as number) ^ 0x01]), 0, 1, at);
    fs.closeSync(fd);
    const damaged = await runBackupCheck(file, { compression: 'zstd', chunkSize: CHUNK, step: CHUNK, verify: 'file-bytes' });
    assert.ok(damaged.ok);
    const err = fileReadBackMismatch(file, CHUNK, written, damaged);
    assert.equal(err?.code, 'E_VERIFY_MISMATCH');
    assert.equal(err?.offset, 2 * CHUNK);

    // Cut short: the length is checked, not only the CRCs of what is there.
    fs.writeFileSync(file, bytes.subarray(0, 3 * CHUNK));
    const cut = await runBackupCheck(file, { compression: 'zstd', chunkSize: CHUNK, step: CHUNK, verify: 'file-bytes' });
    assert.ok(cut.ok);
    const short = fileReadBackMismatch(file, CHUNK, written, cut);
    assert.equal(short?.code, 'E_VERIFY_MISMATCH');
    assert.match(short?.message ?? '', new RegExp(`reads back as ${3 * CHUNK} bytes, not the ${bytes.length} written`));
  } finally {
    t.remove();
  }
});

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
      const bad = await backUp(drive, output, threads, () => {
        const size = fs.statSync(output).size;
        const fd = fs.openSync(output, 'r+');
        const b = Buffer.alloc(1);
        fs.readSync(fd, b, 0, 1, size - 1);
        fs.writeSync(fd, Buffer.from([(b[0] as number) ^ 0xff]), 0, 1, size - 1);
        fs.fsyncSync(fd);
        fs.closeSync(fd);
      });
      assert.equal(bad.error?.code, 'E_VERIFY_MISMATCH');
      assert.match(bad.error?.message ?? '', /reads back differently from what was written/);
    } finally {
      fs.rmSync(t, { recursive: true, force: true });
    }
  });
}
