import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as crypto from 'crypto';
import { LzoError, lzo1xDecompress } from './lzo1x';

/**
 * The LZO1X decoder on hand-made streams and on garbage. Real streams,
 * written by the kernel's btrfs, are decoded in
 * electron/cli/browse/browse-btrfs.integration.test.ts against the files
 * they hold; here, what an image could be crafted to hold: it ends with an
 * error or within the output, never past a buffer and never without end.
 */

/** The end marker: a match instruction of distance 0x4000 and length 3. */
const END = [0x11, 0x00, 0x00];

test('literals, an overlapping match and the end marker decode as written', () => {
  // First byte 17 + 4: four literals "abcd"; then a 0x40-range match: length (t >> 5) + 1, distance 1 + ((t >> 2) & 7) + (next << 3).
  // t = 0x60 | (3 << 2): length 4, distance 4: "abcd" again; then t = 0x40: length 3, distance 1: "ddd", a run.
  const input = Buffer.from([17 + 4, ...Buffer.from('abcd'), 0x60 | (3 << 2), 0x00, 0x40, 0x00, ...END]);
  const out = Buffer.alloc(64);
  const n = lzo1xDecompress(input, out);
  assert.equal(out.subarray(0, n).toString('latin1'), 'abcdabcdddd');
});

test('streams that reach outside a buffer or do not end are errors', () => {
  const out = Buffer.alloc(16);
  const cases: [string, number[]][] = [
    ['a match before the start of the output', [17 + 1, 0x41, 0x7c, 0xff, ...END]],
    ['no end marker', [17 + 4, 0x61, 0x62, 0x63, 0x64]],
    ['more literals than the output holds', [0x00, 0x00, 0x05, ...new Array(300).fill(0x61), ...END]],
    ['data after the end marker', [17 + 1, 0x61, ...END, 0x00]],
    ['too short to be a stream', [0x11]],
  ];
  for (const [name, bytes] of cases) assert.throws(() => lzo1xDecompress(Buffer.from(bytes), out), LzoError, name);
});

test('garbage never runs past the output and always ends', () => {
  const out = Buffer.alloc(4096);
  for (let i = 0; i < 3000; i++) {
    const input = crypto.randomBytes(1 + (i % 700));
    try {
      assert.ok(lzo1xDecompress(input, out) <= out.length);
    } catch (err) {
      assert.ok(err instanceof LzoError, `a plain error, not ${(err as Error).name}: ${(err as Error).message}`);
    }
  }
});
