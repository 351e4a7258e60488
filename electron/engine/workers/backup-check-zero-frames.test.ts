import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import { ChunkCrcStream } from '../io/chunk-crc';
import { SEEKABLE_FRAME_SIZE, SeekableFrameEncoder, SeekableZstdWriter } from '../formats/zstd-seekable-writer';
import { runBackupCheck, type CheckOutcome } from './backup-check-testing';
import { noise, tempDir } from '../testing/test-drives';
import { runTool } from '../testing/run-tool';

/**
 * The read-back check recognises the writer's zero frame (free space) by its
 * bytes instead of decoding it. That shortcut must give the same chunk CRCs
 * as decoding, and must not let a damaged zero frame through.
 */

const LEVEL = 3;
const CHUNK = 4 << 20;

// Pieces of 3 MiB: some zero frames straddle two reads and are decoded the usual way.
const check = (file: string, level: number | undefined): Promise<CheckOutcome> => runBackupCheck(file, { compression: 'zstd', chunkSize: CHUNK, step: 3 << 20, level });

// Data, 5 zero frames, data, zeros to a short end: zero frames land across chunk boundaries.
const F = SEEKABLE_FRAME_SIZE;
const content = Buffer.concat([noise(F + 4096, 7), Buffer.alloc(5 * F - 4096), Buffer.from('text '.repeat(300000)), Buffer.alloc(3 * F + 12345)]);
const expected: number[] = [];
for (let at = 0; at < content.length; at += CHUNK) expected.push(zlib.crc32(content.subarray(at, at + CHUNK)) >>> 0);

test('ChunkCrcStream.zeros(n) gives the CRCs that n zero bytes give', () => {
  const a = new ChunkCrcStream(CHUNK);
  const b = new ChunkCrcStream(CHUNK);
  a.update(content.subarray(0, 100));
  b.update(content.subarray(0, 100));
  a.update(Buffer.alloc(9 << 20));
  b.zeros(9 << 20);
  a.update(content.subarray(100, 5000));
  b.update(content.subarray(100, 5000));
  assert.deepEqual(b.end(), a.end());
});

test('zero frames recognised by their bytes give the same CRCs as decoding; a damaged zero frame still fails', async () => {
  const t = tempDir('check-zero-frames');
  try {
    const parts: Buffer[] = [];
    const writer = new SeekableZstdWriter((b) => parts.push(Buffer.from(b)), { level: LEVEL });
    writer.write(content);
    writer.finish();
    const bytes = Buffer.concat(parts);
    const file = path.join(t.dir, 'seekable.zst');
    fs.writeFileSync(file, bytes);
    // zstd itself agrees the file holds the content.
    assert.ok((await runTool('zstd', ['-t', '-q', file])).code === 0);

    const zero = Buffer.from(new SeekableFrameEncoder(LEVEL).zeroFrame(F).bytes);
    const zeroAt = bytes.indexOf(zero);
    assert.ok(zeroAt > 0, 'the file holds the zero frame');
    for (const level of [LEVEL, undefined]) {
      assert.deepEqual(await check(file, level), { ok: true, contentBytes: content.length, crcs: expected }, `level ${level}`);
    }

    // A zero frame whose RLE byte turned 1 (its checksum byte left as it was) is no longer the zero frame: it is decoded and fails.
    const damaged = Buffer.from(bytes);
    const rleByte = zeroAt + zero.length - 5;
    damaged[rleByte] = 1;
    const bad = path.join(t.dir, 'damaged.zst');
    fs.writeFileSync(bad, damaged);
    const r = await check(bad, LEVEL);
    assert.equal(r.ok, false, 'damage in a zero frame is reported');
    assert.equal(!r.ok && r.error.code, 'E_VERIFY_MISMATCH');
  } finally {
    t.remove();
  }
});
