import { after, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { BackupStorage } from '../../../shared/backup-metadata';
import { ImprintError } from '../errors';
import { piecePath } from '../formats/backup-folder/folder-layout';
import { SAMPLE_SIZE, sampleDrive, storeSample } from '../testing/backup-folder-samples';
import { decodeFolderChunks, type StoredChunk } from './stored-chunks';

/**
 * Pieces whose name a generation lists more than once (runs of zeros,
 * copies of a file) are read and checked once by the thread that meets them
 * (workers/folder-chunk-worker.ts), then copied to their other places: the
 * drive's bytes come back the same, a damaged repeated piece still stops
 * the restore, and the file is not opened again.
 */

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'imprint-folder-repeats-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));

const MiB = 1 << 20;
const PIECE = 64 << 10;

function recordedCrcs(storage: BackupStorage): Uint32Array {
  const bytes = Buffer.from(storage.chunkCrc32, 'base64');
  return Uint32Array.from({ length: bytes.length >> 2 }, (_, i) => bytes.readUInt32LE(i * 4));
}

/** The sample drive with repeats in its stored 2 MiB at 1 MiB: four pieces of zeros, and the 4th piece's data at two other places. */
function driveWithRepeats(): Buffer {
  const drive = sampleDrive();
  for (const k of [2, 5, 6, 20]) drive.fill(0, MiB + k * PIECE, MiB + (k + 1) * PIECE);
  for (const k of [9, 30]) drive.copy(drive, MiB + k * PIECE, MiB + 3 * PIECE, MiB + 4 * PIECE);
  return drive;
}

async function storedBytes(folder: string, index: ReturnType<typeof storeSample>, readAhead = false): Promise<Buffer> {
  const storage = index.metadata.storage as BackupStorage;
  const out: Buffer[] = [];
  await decodeFolderChunks(folder, index, { crcs: true, readAhead })(storage, recordedCrcs(storage), SAMPLE_SIZE, {}, (c: StoredChunk) => {
    for (const p of c.parts) out.push(Buffer.from(c.buf.subarray(p.start - c.at, p.start - c.at + p.length)));
    return Promise.resolve();
  });
  return Buffer.concat(out);
}

const expectedStored = (drive: Buffer, index: ReturnType<typeof storeSample>): Buffer => Buffer.concat((index.metadata.storage as BackupStorage).ranges.map(([s, l]) => drive.subarray(s, s + l)));

// Reading ahead (several pieces on their way at once), a repeat may be read again while its first place's read is on its way; the bytes must come back the same.
for (const readAhead of [false, true]) {
  const how = readAhead ? 'read ahead' : 'piece by piece';

  test(`repeated pieces come back at every place they were stored (${how})`, async () => {
    const folder = path.join(root, `ok-${readAhead}`);
    const drive = driveWithRepeats();
    const index = storeSample(folder, drive);
    const names = [...index.pieces].map((p) => p[2]);
    assert.equal(new Set(names).size, names.length - 5, 'the sample lists 3 more zero pieces and 2 more copies than it stores');
    assert.deepEqual(await storedBytes(folder, index, readAhead), expectedStored(drive, index));
  });

  test(`a damaged repeated piece stops the restore at its first place (${how})`, async () => {
    const folder = path.join(root, `damaged-${readAhead}`);
    const drive = driveWithRepeats();
    const index = storeSample(folder, drive);
    const [offset, , hash] = [...index.pieces].find((p) => p[0] === MiB + 3 * PIECE) as [number, number, string];
    const file = piecePath(folder, hash);
    const bytes = fs.readFileSync(file);
    bytes.writeUInt8((bytes.readUInt8(bytes.length - 20) ^ 0x10) & 0xff, bytes.length - 20);
    fs.writeFileSync(file, bytes);
    await assert.rejects(storedBytes(folder, index, readAhead), (err) => err instanceof ImprintError && err.code === 'E_CORRUPT_SOURCE' && err.message.includes(`piece ${hash}`) && err.message.includes(`drive bytes ${offset} to`));
  });
}

test('a repeated piece is read from its file once (piece by piece)', () => {
  const folder = path.join(root, 'once');
  const drive = driveWithRepeats();
  const index = storeSample(folder, drive);
  const zeros = [...index.pieces].find((p) => p[0] === MiB + 2 * PIECE) as [number, number, string];
  const copied = [...index.pieces].find((p) => p[0] === MiB + 3 * PIECE) as [number, number, string];
  const script = [
    `const { decodeFolderChunks } = require(${JSON.stringify(path.join(__dirname, 'stored-chunks.js'))});`,
    `const { resolveGeneration } = require(${JSON.stringify(path.join(__dirname, '..', 'formats', 'backup-folder', 'generation-index.js'))});`,
    `const folder = ${JSON.stringify(folder)};`,
    'const index = resolveGeneration(folder, undefined);',
    'const st = index.metadata.storage;',
    "const b = Buffer.from(st.chunkCrc32, 'base64');",
    'const crcs = Uint32Array.from({ length: b.length >> 2 }, (_, i) => b.readUInt32LE(i * 4));',
    `decodeFolderChunks(folder, index)(st, crcs, ${SAMPLE_SIZE}, {}, () => Promise.resolve()).then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });`,
  ].join('\n');
  // Every open of the decoding threads, counted by strace (.ci/apt-packages).
  const log = path.join(root, 'opens.log');
  execFileSync('strace', ['-f', '-qq', '-e', 'trace=openat', '-o', log, process.execPath, '-e', script], { stdio: ['ignore', 'ignore', 'inherit'] });
  const opens = fs.readFileSync(log, 'utf8').split('\n');
  const count = (hash: string): number => opens.filter((l) => l.includes(`${hash}.zst`)).length;
  assert.equal(count(zeros[2]), 1, 'the zeros, stored at 4 places, are read once');
  assert.equal(count(copied[2]), 1, 'the piece stored at 3 places is read once');
  assert.equal(count((index.pieces.at(0) as [number, number, string])[2]), 1, 'a piece stored once is read once');
});
