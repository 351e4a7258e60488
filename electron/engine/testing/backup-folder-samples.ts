import * as crypto from 'crypto';
import * as zlib from 'zlib';
import type { BackupMetadata } from '../../../shared/backup-metadata';
import type { FolderEncryption, FolderKeys } from '../formats/backup-folder/folder-crypto';
import { DEFAULT_PIECE_SIZE, openOrCreateFolder } from '../formats/backup-folder/folder-layout';
import { writeGeneration, type GenerationIndex } from '../formats/backup-folder/generation-index';
import { PieceListBuilder } from '../formats/backup-folder/piece-list';
import { PieceWriter } from '../formats/backup-folder/piece-store';

/**
 * Generations made without a drive, for tests of the folder format and of
 * prune: an 8 MiB "drive" whose stored data is 12 KiB at 0 and 2 MiB at
 * 1 MiB, stored piece by piece as the backup job stores a drive.
 */

const MiB = 1 << 20;
export const SAMPLE_SIZE = 8 * MiB;
const RANGES: [number, number][] = [
  [0, 12288],
  [MiB, 2 * MiB],
];

export function sampleDrive(): Buffer {
  const drive = Buffer.alloc(SAMPLE_SIZE);
  crypto.randomFillSync(drive, 0, 12288);
  crypto.randomFillSync(drive, MiB, 2 * MiB);
  return drive;
}

/**
 * Stores a sample drive into `folder` and writes its generation index (in the
 * schema Imprint writes, unless `schema` says an older one); `secret`: as an
 * encrypted folder (made with that record if new).
 */
export function storeSample(folder: string, drive: Buffer, id = '20261206T070000Z-000001', opts: { createdAt?: string; serial?: string; secret?: { record: FolderEncryption; keys: FolderKeys }; schema?: GenerationIndex['schema'] } = {}): GenerationIndex {
  const marker = openOrCreateFolder(folder, DEFAULT_PIECE_SIZE, opts.secret?.record);
  const keys = opts.secret?.keys ?? null;
  const writer = new PieceWriter(folder, 3, keys);
  const pieces = new PieceListBuilder();
  let newPieces = 0;
  for (const [start, length] of RANGES) {
    for (let at = start; at < start + length; ) {
      const end = Math.min(start + length, (Math.floor(at / marker.pieceSize) + 1) * marker.pieceSize);
      const data = drive.subarray(at, end);
      const h = writer.nameOf(data);
      if (!writer.has(h)) {
        writer.write(h, data);
        newPieces++;
      }
      pieces.pushHex(at, end - at, h);
      at = end;
    }
  }
  writer.commit();
  const crcs = Buffer.alloc(8);
  for (let i = 0; i < 2; i++) {
    const chunk = Buffer.alloc(4 * MiB);
    for (const [s, l] of RANGES) {
      const from = Math.max(s, i * 4 * MiB);
      const to = Math.min(s + l, (i + 1) * 4 * MiB);
      if (to > from) drive.copy(chunk, from - i * 4 * MiB, from, to);
    }
    crcs.writeUInt32LE(zlib.crc32(chunk) >>> 0, i * 4);
  }
  const sha = crypto.createHash('sha256');
  for (const [s, l] of RANGES) sha.update(drive.subarray(s, s + l));
  const metadata: BackupMetadata = {
    kind: 'imprint-backup',
    schema: 1,
    imprintVersion: 'test',
    createdAt: opts.createdAt ?? new Date().toISOString(),
    size: SAMPLE_SIZE,
    sha256: sha.digest('hex'),
    compression: 'zstd',
    compressionLevel: 3,
    source: { device: '/dev/test', model: null, serial: opts.serial ?? null, logicalBlockSize: 512 },
    partitionTable: null,
    filesystem: null,
    storage: { mode: 'used-blocks', storedBytes: 12288 + 2 * MiB, partitions: [], ranges: RANGES.map(([s, l]) => [s, l]), chunkSize: 4 * MiB, chunkCrc32: crcs.toString('base64') },
  };
  const index: GenerationIndex = { kind: 'imprint-backup-generation', schema: opts.schema ?? 3, id, pieceSize: marker.pieceSize, metadata, pieces: pieces.finish(), added: { pieces: newPieces, bytes: 0, storedBytes: 0 } };
  writeGeneration(folder, index, keys);
  return index;
}
