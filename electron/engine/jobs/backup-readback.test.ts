import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { CHUNK_SIZE } from '../pipelines/write-pipeline';
import { readBackMismatch } from './backup-job';

/** The verdict on a backup file read back, against the drive's chunk CRCs (the worker side is in backup-check.test.ts). */
const size = 3 * CHUNK_SIZE + 100;
const drive = [11, 22, 33, 44];

test('a file that reads back as the drive passes', () => {
  assert.equal(readBackMismatch(size, drive, { contentBytes: size, crcs: [11, 22, 33, 44] }), null);
});

test('a differing chunk is named by its first byte', () => {
  const err = readBackMismatch(size, drive, { contentBytes: size, crcs: [11, 22, 99, 44] });
  assert.equal(err?.code, 'E_VERIFY_MISMATCH');
  assert.equal(err?.offset, 2 * CHUNK_SIZE);
  assert.match(err?.message ?? '', new RegExp(`from byte ${2 * CHUNK_SIZE} on`));
});

test('a file that decodes short, or not at all, fails with its size said', () => {
  const short = readBackMismatch(size, drive, { contentBytes: 3 * CHUNK_SIZE, crcs: [11, 22, 33] });
  assert.equal(short?.code, 'E_VERIFY_MISMATCH');
  assert.match(short?.message ?? '', new RegExp(`reads back as ${3 * CHUNK_SIZE} bytes, not ${size}`));
  assert.match(readBackMismatch(size, drive, null)?.message ?? '', /could not be read back/);
});
