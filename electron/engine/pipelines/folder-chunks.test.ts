import { after, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { BackupStorage } from '../../../shared/backup-metadata';
import { ImprintError } from '../errors';
import { piecePath } from '../formats/backup-folder/folder-layout';
import { SAMPLE_SIZE, sampleDrive, storeSample } from '../testing/backup-folder-samples';
import { decodeFolderChunks, type StoredChunk } from './stored-chunks';

/**
 * A backup folder's generation decoded for a restore on the pool's threads
 * (workers/folder-chunk-worker.ts): the chunks are the drive's bytes where
 * it stored data (their parts), in order; a piece whose file holds other
 * (valid) data, or whose frame is damaged, stops the restore before its
 * chunk is handed on, named, and so does a chunk whose CRC-32 is not the
 * one recorded. The pieces' names are the check of the data: no SHA-256 of
 * all of it is returned for the caller to compare.
 */

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'imprint-folder-chunks-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));

/** The CRC-32s a smart backup records, as little-endian words (jobs/smart-restore.ts reads them the same way). */
function recordedCrcs(storage: BackupStorage): Uint32Array {
  const bytes = Buffer.from(storage.chunkCrc32, 'base64');
  return Uint32Array.from({ length: bytes.length >> 2 }, (_, i) => bytes.readUInt32LE(i * 4));
}

/**
 * The threads read pieces one by one while they come from the page cache,
 * and several at once when they come from the disk; each test runs both
 * ways (`readAhead` asks for the second from the start).
 */
const MODES = [
  { name: 'piece by piece', readAhead: false },
  { name: 'read ahead', readAhead: true },
];

async function decodeAll(folder: string, index: ReturnType<typeof storeSample>, readAhead: boolean, crcs?: Uint32Array): Promise<{ chunks: { index: number; at: number; bytes: Buffer; parts: [number, number][] }[]; sha256: string | null | undefined }> {
  const storage = index.metadata.storage as BackupStorage;
  const chunks: { index: number; at: number; bytes: Buffer; parts: [number, number][] }[] = [];
  const r = await decodeFolderChunks(folder, index, { crcs: true, readAhead })(storage, crcs ?? recordedCrcs(storage), SAMPLE_SIZE, {}, (c: StoredChunk) => {
    chunks.push({ index: c.index, at: c.at, bytes: Buffer.from(c.buf), parts: c.parts.map((p) => [p.start, p.length]) });
    return Promise.resolve();
  });
  return { chunks, sha256: r?.sha256 };
}

for (const mode of MODES) {
  test(`the chunks holding stored data come back in order with the drive bytes in their parts (${mode.name})`, async () => {
    const folder = path.join(root, `ok-${mode.readAhead}`);
    const drive = sampleDrive();
    // Junk in what the sample does not store: a restore must not write it (nothing outside the parts is).
    drive.fill(0xee, 12288, 1 << 20);
    const index = storeSample(folder, drive);
    const { chunks, sha256 } = await decodeAll(folder, index, mode.readAhead);
    assert.deepEqual(chunks.map((c) => c.index), [0], 'the sample stores data in the first 4 MiB chunk only');
    const chunk = chunks[0] as { bytes: Buffer; parts: [number, number][] };
    assert.deepEqual(chunk.parts, [[0, 12288], [1 << 20, 2 << 20]], 'the sample stores its first 12 KiB and 2 MiB from 1 MiB on');
    for (const [start, length] of chunk.parts) assert.ok(chunk.bytes.subarray(start, start + length).equals(drive.subarray(start, start + length)), `drive bytes ${start} to ${start + length}`);
    assert.equal(sha256, null, 'checked piece by piece, not by a SHA-256 of all the data');
  });

  test(`a piece file holding another piece, or a damaged frame, fails the restore naming the drive bytes (${mode.name})`, async () => {
    const folder = path.join(root, `bad-${mode.readAhead}`);
    const index = storeSample(folder, sampleDrive());
    const [pa, pb] = [...index.pieces].slice(-2) as [[number, number, string], [number, number, string]];
    fs.copyFileSync(piecePath(folder, pb[2]), piecePath(folder, pa[2]));
    await assert.rejects(
      decodeAll(folder, index, mode.readAhead),
      (err) => err instanceof ImprintError && err.code === 'E_CORRUPT_SOURCE' && err.message.includes(`piece ${pa[2]} does not hold the data it is named by`) && err.message.includes(`drive bytes ${pa[0]} to`),
    );
    const folder2 = path.join(root, `bad2-${mode.readAhead}`);
    const index2 = storeSample(folder2, sampleDrive());
    const [offset, , hash] = index2.pieces.at(3) as [number, number, string];
    const file = piecePath(folder2, hash);
    const bytes = fs.readFileSync(file);
    bytes.writeUInt8((bytes.readUInt8(bytes.length - 20) ^ 0x10) & 0xff, bytes.length - 20);
    fs.writeFileSync(file, bytes);
    await assert.rejects(decodeAll(folder2, index2, mode.readAhead), (err) => err instanceof ImprintError && err.code === 'E_CORRUPT_SOURCE' && err.message.includes(`piece ${hash}`) && err.message.includes(`drive bytes ${offset} to`));
  });

  test(`a missing piece fails the restore naming it and the drive bytes it held (${mode.name})`, async () => {
    const folder = path.join(root, `missing-${mode.readAhead}`);
    const index = storeSample(folder, sampleDrive());
    const [offset, , hash] = index.pieces.at(20) as [number, number, string];
    fs.rmSync(piecePath(folder, hash));
    await assert.rejects(decodeAll(folder, index, mode.readAhead), (err) => err instanceof ImprintError && err.code === 'E_CORRUPT_SOURCE' && err.message.includes(`piece ${hash} is missing`) && err.message.includes(`drive bytes ${offset} to`));
  });

  test(`a chunk whose pieces hold their names' data but not the CRC-32 recorded for it is not handed on (${mode.name})`, async () => {
    const folder = path.join(root, `crc-${mode.readAhead}`);
    const index = storeSample(folder, sampleDrive());
    const crcs = recordedCrcs(index.metadata.storage as BackupStorage);
    crcs[0] = ((crcs[0] as number) ^ 1) >>> 0;
    await assert.rejects(decodeAll(folder, index, mode.readAhead, crcs), (err) => err instanceof ImprintError && err.code === 'E_CORRUPT_SOURCE' && err.message.includes('between bytes 0 and') && err.message.includes('does not match the checksum'));
  });
}
