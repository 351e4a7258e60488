import { after, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { BackupStorage } from '../../../shared/backup-metadata';
import { SAMPLE_SIZE, sampleDrive, storeSample } from '../testing/backup-folder-samples';
import { startEarlyFolderPool } from './early-folder-pool';
import { chunkMemoryBytes, decodeFolderChunks, type EarlyChunkPool, type StoredChunk } from './stored-chunks';

/**
 * A folder restore's decoding threads started before the restore runs
 * (early-folder-pool.ts): the restore decodes on them exactly what it
 * decodes on threads of its own, they are handed over once, a restore that
 * cannot use them starts its own, and unclaimed they do not keep the
 * process alive.
 */

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'imprint-early-pool-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));

function recordedCrcs(storage: BackupStorage): Uint32Array {
  const bytes = Buffer.from(storage.chunkCrc32, 'base64');
  return Uint32Array.from({ length: bytes.length >> 2 }, (_, i) => bytes.readUInt32LE(i * 4));
}

async function decodeAll(folder: string, index: ReturnType<typeof storeSample>, early?: EarlyChunkPool): Promise<Buffer[]> {
  const storage = index.metadata.storage as BackupStorage;
  const out: Buffer[] = [];
  await decodeFolderChunks(folder, index, early)(storage, recordedCrcs(storage), SAMPLE_SIZE, {}, (c: StoredChunk) => {
    for (const p of c.parts) out.push(Buffer.from(c.buf.subarray(p.start - c.at, p.start - c.at + p.length)));
    return Promise.resolve();
  });
  return out;
}

test('a restore decodes on the early threads what it decodes on its own, and they are handed over once', async () => {
  const folder = path.join(root, 'ok');
  const drive = sampleDrive();
  const index = storeSample(folder, drive);
  const storage = index.metadata.storage as BackupStorage;
  const early = startEarlyFolderPool(folder, index);
  assert.ok(early, 'a plain generation with a storage plan gets early threads');
  const claims: boolean[] = [];
  const spy: EarlyChunkPool = {
    claim: (bytes) => {
      const got = early.claim(bytes);
      claims.push(got !== null);
      return got;
    },
  };
  const parts = await decodeAll(folder, index, spy);
  assert.deepEqual(claims, [true], 'the restore took the early threads');
  const expected = storage.ranges.map(([start, length]) => drive.subarray(start, start + length));
  assert.deepEqual(Buffer.concat(parts), Buffer.concat(expected), "the stored ranges' bytes, in drive order");
  assert.equal(early.claim(chunkMemoryBytes(storage.chunkSize)), null, 'threads already handed over (and closed by that restore) are not handed over again');
});

test('released or mismatched early threads are refused, and the restore starts its own', async () => {
  const folder = path.join(root, 'released');
  const drive = sampleDrive();
  const index = storeSample(folder, drive);
  const storage = index.metadata.storage as BackupStorage;
  const released = startEarlyFolderPool(folder, index);
  assert.ok(released);
  released.release();
  assert.equal(released.claim(chunkMemoryBytes(storage.chunkSize)), null);
  const mismatched = startEarlyFolderPool(folder, index);
  assert.ok(mismatched);
  assert.equal(mismatched.claim(chunkMemoryBytes(storage.chunkSize) * 2), null, 'memory of another size is not used');
  assert.equal(mismatched.claim(chunkMemoryBytes(storage.chunkSize)), null, 'a refused claim ends the threads');
  const parts = await decodeAll(folder, index, released);
  const expected = storage.ranges.map(([start, length]) => drive.subarray(start, start + length));
  assert.deepEqual(Buffer.concat(parts), Buffer.concat(expected));
});

test('unclaimed early threads do not keep the process alive', () => {
  const folder = path.join(root, 'unclaimed');
  storeSample(folder, sampleDrive());
  const script = [
    `const { startEarlyFolderPool } = require(${JSON.stringify(path.join(__dirname, 'early-folder-pool.js'))});`,
    `const { resolveGeneration } = require(${JSON.stringify(path.join(__dirname, '..', 'formats', 'backup-folder', 'generation-index.js'))});`,
    `const folder = ${JSON.stringify(folder)};`,
    'if (!startEarlyFolderPool(folder, resolveGeneration(folder, undefined))) process.exit(3);',
  ].join('\n');
  // Kept alive, the threads would hold the process until they give up waiting (a minute).
  const r = spawnSync(process.execPath, ['-e', script], { timeout: 30_000, encoding: 'utf8' });
  assert.equal(r.error, undefined, `the process did not end by itself: ${String(r.error)}`);
  assert.equal(r.status, 0, r.stderr);
});
