import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as zlib from 'node:zlib';
import { ChunkCrcStream, chunkCrc, firstDifferentChunk, isAllZero } from './chunk-crc';

const CHUNK = 1 << 20;

/** A stream like a drive: data, zero runs, data after zeros inside one chunk, a short last chunk. */
function driveLike(): Buffer {
  const b = Buffer.alloc(5 * CHUNK + 12345);
  crypto.randomFillSync(b, 0, CHUNK);
  crypto.randomFillSync(b, 2 * CHUNK + 700_000, 1000);
  b[4 * CHUNK - 1] = 1;
  crypto.randomFillSync(b, 5 * CHUNK, 12345);
  return b;
}

const plainCrcs = (b: Buffer): number[] => {
  const out: number[] = [];
  for (let at = 0; at < b.length; at += CHUNK) out.push(zlib.crc32(b.subarray(at, Math.min(b.length, at + CHUNK))) >>> 0);
  return out;
};

test('per-chunk CRCs equal zlib.crc32 of each chunk, however the stream is cut into pieces', () => {
  const data = driveLike();
  const expected = plainCrcs(data);
  for (const piece of [1, 4096, 65_536 + 3, CHUNK, 3 * CHUNK + 1, data.length]) {
    const s = new ChunkCrcStream(CHUNK);
    for (let at = 0; at < data.length; at += piece) s.update(data.subarray(at, at + piece));
    assert.deepEqual(s.end(), expected, `pieces of ${piece} bytes`);
  }
  const whole: number[] = [];
  for (let at = 0; at < data.length; at += CHUNK) whole.push(chunkCrc(data.subarray(at, at + CHUNK)));
  assert.deepEqual(whole, expected);
});

test('one flipped byte anywhere, even inside a zero run, changes exactly its chunk', () => {
  const data = driveLike();
  const base = plainCrcs(data);
  for (const at of [10, 2 * CHUNK + 5, 3 * CHUNK + CHUNK / 2, 5 * CHUNK + 12344]) {
    const bad = Buffer.from(data);
    bad[at] = (bad[at] as number) ^ 0x40;
    const s = new ChunkCrcStream(CHUNK);
    s.update(bad);
    assert.equal(firstDifferentChunk(base, s.end()), Math.floor(at / CHUNK));
  }
  assert.equal(firstDifferentChunk(base, base.slice(0, -1)), base.length - 1, 'a missing last chunk is a difference');
  assert.equal(firstDifferentChunk(base, [...base]), -1);
});

test('isAllZero looks at every byte, past its 4 MiB comparison block', () => {
  const b = Buffer.alloc(9 << 20);
  assert.equal(isAllZero(b), true);
  b[b.length - 1] = 1;
  assert.equal(isAllZero(b), false);
  assert.equal(isAllZero(b.subarray(0, 0)), true);
});
