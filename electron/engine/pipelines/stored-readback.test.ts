import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fixtureDir, pseudoRandom } from '../testing/image-fixtures';
import { chunkCrc } from '../io/chunk-crc';
import { EarlyReadBack, type StoredChunkRef } from './stored-readback';

const CHUNK = 1 << 20;

/** A "restored" target of 6 chunks, with the CRC-32 a backup would have recorded for each (stored parts, zeros elsewhere). */
function restored(name: string): { file: string; chunks: StoredChunkRef[]; crcs: Uint32Array } {
  const data = pseudoRandom(6 * CHUNK, name);
  const chunks: StoredChunkRef[] = [];
  const crcs = new Uint32Array(6);
  for (let i = 0; i < 6; i++) {
    const at = i * CHUNK;
    // Odd chunks hold two stored parts with free space around them, even ones are stored whole.
    const parts = i % 2 ? [{ start: at + 4096, length: 8192 }, { start: at + 65536, length: 131072 }] : [{ start: at, length: CHUNK }];
    const image = Buffer.alloc(CHUNK);
    for (const p of parts) data.copy(image, p.start - at, p.start, p.start + p.length);
    crcs[i] = chunkCrc(image);
    chunks.push({ index: i, at, length: CHUNK, parts });
  }
  const dir = path.join(fixtureDir(), 'stored-readback');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}.img`);
  // Free space on the target holds junk: only the stored parts may count.
  fs.writeFileSync(file, data);
  return { file, chunks, crcs };
}

test('chunks read back while writing: stored parts that match are verified, free space around them is not looked at', async () => {
  const { file, chunks, crcs } = restored('good');
  let bytes = 0;
  const early = new EarlyReadBack(file, false, CHUNK, crcs, (n) => (bytes += n), 6);
  for (const c of chunks) early.offer(c);
  await early.close();
  assert.equal(early.error, null);
  assert.deepEqual([...early.verified].sort(), [0, 1, 2, 3, 4, 5]);
  assert.equal(bytes, 3 * CHUNK + 3 * (8192 + 131072));
});

test('a stored byte that reads back differently fails its chunk, with its offset; chunks offered with no buffer free are left to the final pass', async () => {
  const { file, chunks, crcs } = restored('bad');
  const fd = fs.openSync(file, 'r+');
  fs.writeSync(fd, Buffer.from([0x42 ^ (fs.readFileSync(file)[3 * CHUNK + 70_000] as number)]), 0, 1, 3 * CHUNK + 70_000);
  fs.closeSync(fd);
  const early = new EarlyReadBack(file, false, CHUNK, crcs, () => undefined, 2);
  for (const c of chunks) early.offer(c);
  await early.close();
  // Two buffers: chunks 0 and 1 were read, the rest were offered while both were busy.
  assert.deepEqual([...early.verified].sort(), [0, 1]);
  assert.equal(early.error, null);

  const again = new EarlyReadBack(file, false, CHUNK, crcs, () => undefined, 1);
  again.offer(chunks[3] as StoredChunkRef);
  await again.close();
  assert.equal(again.error?.code, 'E_VERIFY_MISMATCH');
  assert.equal(again.error?.offset, 3 * CHUNK);
  assert.equal(again.verified.size, 0);
});

test('drain reads back every chunk offered, in turn, however few the buffers; a bad chunk stops the reads after it', async () => {
  const { file, chunks, crcs } = restored('drain');
  let bytes = 0;
  const early = new EarlyReadBack(file, false, CHUNK, crcs, (n) => (bytes += n), 2);
  for (const c of chunks) early.offer(c);
  await early.drain();
  await early.close();
  assert.equal(early.error, null);
  assert.deepEqual([...early.verified].sort(), [0, 1, 2, 3, 4, 5]);
  assert.equal(bytes, 3 * CHUNK + 3 * (8192 + 131072));

  const fd = fs.openSync(file, 'r+');
  fs.writeSync(fd, Buffer.from([0x42 ^ (fs.readFileSync(file)[2 * CHUNK + 5] as number)]), 0, 1, 2 * CHUNK + 5);
  fs.closeSync(fd);
  const bad = new EarlyReadBack(file, false, CHUNK, crcs, () => undefined, 1);
  for (const c of chunks) bad.offer(c);
  await bad.drain();
  await bad.close();
  assert.equal(bad.error?.code, 'E_VERIFY_MISMATCH');
  assert.equal(bad.error?.offset, 2 * CHUNK);
  // One buffer: chunks 0 and 1 were read before chunk 2 failed, and nothing after it.
  assert.deepEqual([...bad.verified].sort(), [0, 1]);
});
