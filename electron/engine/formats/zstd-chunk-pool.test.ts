import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fixtureDir, pseudoRandom } from '../testing/image-fixtures';
import { ZstdChunkPool } from './zstd-chunk-pool';
import { SeekableZstdReader } from './zstd-seekable-reader';
import { SeekableZstdWriter } from './zstd-seekable-writer';

const MiB = 1 << 20;

/** Content like a smart backup's: data, long runs of zeros (free space), and a last frame shorter than the rest. */
const content = Buffer.concat([pseudoRandom(5 * MiB, 'chunk-pool-a'), Buffer.alloc(6 * MiB), Buffer.from('text '.repeat(300_000)), pseudoRandom(3 * MiB + 12_345, 'chunk-pool-b')]);

function seekableFile(name: string, data: Buffer): string {
  const parts: Buffer[] = [];
  const writer = new SeekableZstdWriter((b) => parts.push(Buffer.from(b)), { level: 3 });
  writer.write(data);
  writer.finish();
  const dir = path.join(fixtureDir(), 'zstd-chunk-pool');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, name);
  fs.writeFileSync(file, Buffer.concat(parts));
  return file;
}

const file = seekableFile('content.zst', content);

test('readInto gives the same bytes as the input, whether ranges hold whole frames, parts of frames or run past the end', () => {
  const fd = fs.openSync(file, 'r');
  try {
    const reader = SeekableZstdReader.open(fd, fs.fstatSync(fd).size, { file });
    const cases: [number, number][] = [
      [0, 4 * MiB], // two whole frames, decoded in place
      [4 * MiB, 4 * MiB],
      [MiB, 2 * MiB], // halves of two frames
      [2 * MiB - 1, 3],
      [content.length - 100, 4 * MiB], // past the end: only what there is
      [content.length, 10],
    ];
    for (const [offset, length] of cases) {
      const out = Buffer.alloc(length, 0xaa);
      const n = reader.readInto(offset, out);
      const expected = content.subarray(offset, offset + length);
      assert.equal(n, expected.length, `readInto(${offset}, ${length}) count`);
      assert.ok(out.subarray(0, n).equals(expected), `readInto(${offset}, ${length}) bytes`);
    }
  } finally {
    fs.closeSync(fd);
  }
});

test('the pool decodes ranges into shared memory, several at once', async () => {
  const chunk = 4 * MiB;
  const memory = new SharedArrayBuffer(4 * chunk);
  const pool = new ZstdChunkPool(2, { file, memory });
  try {
    const starts = [0, chunk, 2 * chunk, 3 * chunk, 4 * chunk];
    for (let round = 0; round < 2; round++) {
      const batch = starts.slice(round * 4, round * 4 + 4);
      const done = await Promise.all(batch.map((at, i) => pool.decode(at, chunk, i * chunk)));
      batch.forEach((at, i) => {
        const expected = content.subarray(at, at + chunk);
        const got = done[i];
        assert.equal(got?.bytes, expected.length, `range at ${at}: count`);
        assert.ok(Buffer.from(memory, i * chunk, expected.length).equals(expected), `range at ${at}: bytes`);
      });
    }
  } finally {
    await pool.close();
  }
  await assert.rejects(pool.decode(0, 10, 0), /stopped/);
});

test('a damaged frame is refused as a damaged file, and the pool says so for that range', async () => {
  const bytes = fs.readFileSync(file);
  // Inside the second frame (the first is 2 MiB of random bytes, stored nearly as is).
  const at = 2 * MiB + 50_000;
  for (let i = 0; i < 16; i++) bytes[at + i] = (bytes[at + i] as number) ^ 0x5a;
  const bad = path.join(path.dirname(file), 'damaged.zst');
  fs.writeFileSync(bad, bytes);
  const memory = new SharedArrayBuffer(4 * MiB);
  const pool = new ZstdChunkPool(1, { file: bad, memory });
  try {
    await assert.rejects(pool.decode(0, 4 * MiB, 0), (err: Error & { code?: string }) => err.code === 'E_CORRUPT_SOURCE' && /damaged/.test(err.message));
    // The threads go on: a range without the damage still decodes.
    const ok = await pool.decode(6 * MiB, 2 * MiB, 0);
    assert.equal(ok.bytes, 2 * MiB);
    assert.ok(Buffer.from(memory, 0, 2 * MiB).equals(content.subarray(6 * MiB, 8 * MiB)));
  } finally {
    await pool.close();
  }
});
