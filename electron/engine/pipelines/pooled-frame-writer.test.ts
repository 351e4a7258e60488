import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tempDir } from '../testing/test-drives';
import { SeekableZstdWriter } from '../formats/zstd-seekable-writer';
import { SeekableZstdReader } from '../formats/zstd-seekable-reader';
import { PooledFrameWriter } from './pooled-frame-writer';

const MiB = 1 << 20;

/**
 * Content handed over in odd-sized buffers (so frames span calls and a call
 * spans frames) must come out of the pool's threads as the same file the
 * single-threaded writer makes: frame for frame, in order, `zstd -dc` giving
 * the content back and Imprint's seekable reader finding every frame.
 */
test('frames compressed on a pool come out in order, byte for byte the file the one-thread writer makes', async () => {
  const t = tempDir('pooled-frames');
  try {
    // Random, compressible and zero stretches, 4 MiB frames, and a short last frame.
    const content = Buffer.concat([crypto.randomBytes(5 * MiB + 123), Buffer.alloc(9 * MiB), Buffer.from('compressible text, '.repeat(300_000)), crypto.randomBytes(MiB)]);
    const pooledParts: Buffer[] = [];
    const pooled = new SeekableZstdWriter((b) => pooledParts.push(Buffer.from(b)), { level: 3 });
    const frames = new PooledFrameWriter(pooled, 3, 2);
    for (let at = 0, n = 1; at < content.length; at += n, n = (n * 7 + 65_537) % (3 * MiB) + 1) {
      const piece = Buffer.from(content.subarray(at, at + n));
      await frames.write(piece);
      piece.fill(0xee); // the caller may reuse its buffer once write() resolves
    }
    await frames.finish();
    const pooledSummary = pooled.finish();
    const plainParts: Buffer[] = [];
    const plain = new SeekableZstdWriter((b) => plainParts.push(Buffer.from(b)), { level: 3 });
    plain.write(content);
    const plainSummary = plain.finish();
    assert.deepEqual(pooledSummary, plainSummary);
    const file = path.join(t.dir, 'pooled.zst');
    fs.writeFileSync(file, Buffer.concat(pooledParts));
    assert.ok(fs.readFileSync(file).equals(Buffer.concat(plainParts)), 'the same bytes as the one-thread writer');
    assert.ok(execFileSync('zstd', ['-dc', file], { maxBuffer: 64 * MiB }).equals(content), 'zstd -dc gives the content back');
    const fd = fs.openSync(file, 'r');
    try {
      const reader = SeekableZstdReader.open(fd, fs.fstatSync(fd).size, { file });
      assert.equal(reader.size, content.length);
      const at = 14 * MiB + 77;
      const back = Buffer.alloc(3 * MiB);
      assert.equal(reader.readInto(at, back), back.length);
      assert.ok(back.equals(content.subarray(at, at + back.length)));
    } finally {
      fs.closeSync(fd);
    }
  } finally {
    t.remove();
  }
});

test('closing the pool after a failure stops its threads, and the writer refuses more', async () => {
  const writer = new SeekableZstdWriter(() => undefined, { level: 3 });
  const frames = new PooledFrameWriter(writer, 3, 2);
  await frames.write(crypto.randomBytes(9 * MiB));
  await frames.close();
  await assert.rejects(frames.write(Buffer.alloc(1)), /after finish/);
});
