import * as crypto from 'crypto';
import * as fs from 'fs';
import type { BackupMetadata } from '../../../shared/backup-metadata';
import { DEFAULT_PIECE_SIZE, generationPath, openOrCreateFolder } from '../formats/backup-folder/folder-layout';
import { readGeneration, writeGeneration, type GenerationIndex } from '../formats/backup-folder/generation-index';
import { NAME_BYTES } from '../formats/backup-folder/name-set';
import { PieceList } from '../formats/backup-folder/piece-list';
import { PieceWriter } from '../formats/backup-folder/piece-store';
import { pruneFolder } from '../jobs/folder-prune';
import { listFolder } from '../jobs/folder-verify';

/**
 * Run by jobs/folder-scale.test.ts in a process of its own with a small
 * heap: two generations of a drive with `count` pieces in use (7 million
 * pieces of 64 KiB is 427 GiB), written, listed, read back and pruned.
 * Their names are random but for three pieces stored for real, so that
 * prune has something to keep and something to remove. No drive of that
 * size can be read here: the generations are made as the backup job makes
 * them (writeGeneration), from a cut of their ranges, not by a backup.
 * Prints one JSON line of what it found. With `schema2` after the count,
 * one generation is written and read back as older Imprints wrote them.
 */

const [folder, countArg] = process.argv.slice(2) as [string, string];
const count = Number(countArg);
const PIECE = DEFAULT_PIECE_SIZE;
const start = 1 << 20;
const size = start + count * PIECE;

openOrCreateFolder(folder);
const writer = new PieceWriter(folder, 1);
const stored = [0, 1, 2].map(() => {
  const data = crypto.randomBytes(PIECE);
  const hash = writer.nameOf(data);
  writer.write(hash, data);
  return hash;
});
writer.commit();
const [kept, dropped, never] = stored as [string, string, string];

const metadata: BackupMetadata = {
  kind: 'imprint-backup',
  schema: 1,
  imprintVersion: 'test',
  createdAt: new Date().toISOString(),
  size,
  sha256: '0'.repeat(64),
  compression: 'zstd',
  compressionLevel: 1,
  source: { device: '/dev/scale-test', model: null, serial: null, logicalBlockSize: 512 },
  partitionTable: null,
  filesystem: null,
  storage: { mode: 'used-blocks', storedBytes: count * PIECE, partitions: [], ranges: [[start, count * PIECE]], chunkSize: 4 << 20, chunkCrc32: Buffer.alloc(Math.ceil(size / (4 << 20)) * 4).toString('base64') },
};

/** Generation `id`: random names, but `first` at piece 5 and `kept` at the last piece. */
function generation(id: string, first: string): GenerationIndex {
  const names = crypto.randomFillSync(Buffer.allocUnsafe(count * NAME_BYTES));
  names.write(first, 5 * NAME_BYTES, 'hex');
  names.write(kept, (count - 1) * NAME_BYTES, 'hex');
  const pieces = PieceList.ofCut(metadata.storage!.ranges, PIECE, names);
  return { kind: 'imprint-backup-generation', schema: 3, id, pieceSize: PIECE, metadata, pieces, added: { pieces: count, bytes: count * PIECE, storedBytes: 0 } };
}

if (process.argv[4] === 'schema2') {
  // As older Imprints wrote it: the names in the index, as base64.
  const index = { ...generation('20261207T010000Z-000001', dropped), schema: 2 as const };
  writeGeneration(folder, index);
  const back = readGeneration(folder, index.id);
  console.log(JSON.stringify({ indexBytes: fs.statSync(generationPath(folder, index.id)).size, pieces: back.pieces.length, same: back.pieces.names.equals(index.pieces.names) }));
  process.exit(0);
}

writeGeneration(folder, generation('20261207T010000Z-000001', dropped));
writeGeneration(folder, generation('20261207T020000Z-000002', kept));
const rows = listFolder(folder);
const back = readGeneration(folder, '20261207T020000Z-000002');
const pruned = pruneFolder(folder, { keepLast: 1 });
const after = listFolder(folder);
console.log(
  JSON.stringify({
    listed: rows.map((r) => ({ id: r.id, error: r.error ?? null, storedBytes: r.storedBytes })),
    readBack: { pieces: back.pieces.length, last: back.pieces.at(count - 1), fifth: back.pieces.hash(5) },
    pruned,
    after: after.map((r) => r.id),
    stored: { kept, dropped, never },
    heapUsed: process.memoryUsage().heapUsed,
  }),
);
