import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as zlib from 'node:zlib';
import { crc32AfterZeros } from './crc32-zeros';

test('a CRC-32 continued over n zeros is zlib.crc32 of the bytes followed by n real zeros', () => {
  for (const n of [0, 1, 2, 3, 7, 8, 255, 4095, 4096, 65_537, 1 << 20, (4 << 20) - 1, 4 << 20, 5_000_000]) {
    const head = crypto.randomBytes(1 + (n % 97));
    assert.equal(crc32AfterZeros(zlib.crc32(head), n), zlib.crc32(Buffer.concat([head, Buffer.alloc(n)])), `${head.length} bytes then ${n} zeros`);
    assert.equal(crc32AfterZeros(0, n), zlib.crc32(Buffer.alloc(n)), `${n} zeros alone`);
  }
});

test('zeros between pieces: pieces and gaps folded in turn give the CRC-32 of the whole range', () => {
  const range = Buffer.alloc(300_000);
  const pieces: [number, number][] = [[4096, 8192], [65_536, 65_536], [200_000, 50_000]];
  for (const [at, length] of pieces) crypto.randomFillSync(range, at, length);
  let crc = 0;
  let done = 0;
  for (const [at, length] of pieces) {
    crc = zlib.crc32(range.subarray(at, at + length), crc32AfterZeros(crc, at - done));
    done = at + length;
  }
  assert.equal(crc32AfterZeros(crc, range.length - done), zlib.crc32(range));
});
