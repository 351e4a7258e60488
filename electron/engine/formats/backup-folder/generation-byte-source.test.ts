import { after, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { SAMPLE_SIZE, sampleDrive, storeSample } from '../../testing/backup-folder-samples';
import { openByteSource } from '../byte-source';
import { DEFAULT_PIECE_SIZE, piecePath } from './folder-layout';
import { openGenerationSource } from './generation-byte-source';
import type { GenerationIndex, PieceRef } from './generation-index';
import { PieceList } from './piece-list';

/**
 * Random access to a backup folder generation (issue 16): reads across
 * piece edges, stored ranges and free space give the drive's bytes (zeros
 * where nothing was stored); crafted indexes whose pieces lie outside the
 * drive, overlap or are empty are refused when opened; a missing or
 * damaged piece fails only the reads that need it, naming it.
 */

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'imprint-gen-src-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = (): string => path.join(root, `f${n++}`);
const MiB = 1 << 20;
const PIECE = DEFAULT_PIECE_SIZE;

/** The drive as restore would write it: stored ranges (12 KiB at 0, 2 MiB at 1 MiB) kept, the rest zero. */
function stored(drive: Buffer): Buffer {
  const out = Buffer.alloc(SAMPLE_SIZE);
  drive.copy(out, 0, 0, 12288);
  drive.copy(out, MiB, MiB, 3 * MiB);
  return out;
}

const RANGES: [number, number][] = [
  [0, 512],
  [12288 - 100, 300],
  [MiB - 10, 20],
  [MiB + PIECE - 7, 2 * PIECE + 14],
  [3 * MiB - 5, 10],
  [SAMPLE_SIZE - 100, 100],
  [SAMPLE_SIZE - 10, 50],
  [SAMPLE_SIZE + 5, 10],
  [0, SAMPLE_SIZE],
];

test('FOLDER#1 opens through openByteSource and reads the stored drive, zeros in free space', async () => {
  const folder = fresh();
  const drive = sampleDrive();
  storeSample(folder, drive);
  const want = stored(drive);
  for (const ref of [`${folder}#1`, folder, `${folder}#20261206T070000Z-000001`]) {
    const src = await openByteSource(ref);
    try {
      assert.equal(src.access, 'piece-index');
      assert.equal(src.size(), SAMPLE_SIZE);
      for (const [o, l] of RANGES) {
        const got = await src.read(o, l);
        const end = Math.min(SAMPLE_SIZE, o + l);
        assert.ok(got.equals(want.subarray(Math.min(o, end), end)), `${ref}: ${l} bytes at ${o}`);
      }
      await assert.rejects(src.read(-1, 10), /Bad read/);
    } finally {
      await src.close();
    }
  }
  await assert.rejects(openByteSource(`${folder}#2`), /holds generations 1 to 1; there is no #2/);
  await assert.rejects(openByteSource(`${folder}#nope`), /holds no generation nope/);
});

test('crafted indexes whose pieces leave the drive, overlap or are empty are refused when opened', () => {
  const folder = fresh();
  const index = storeSample(folder, sampleDrive());
  const crafted = (edit: (p: PieceRef[]) => void, size = SAMPLE_SIZE): GenerationIndex => {
    const pieces = [...index.pieces].map((p) => [...p] as PieceRef);
    edit(pieces);
    return { ...index, pieces: PieceList.ofRefs(pieces), metadata: { ...index.metadata, size } };
  };
  const last = index.pieces.length - 1;
  const cases: [string, GenerationIndex, RegExp][] = [
    ['past the end', crafted((p) => p.push([SAMPLE_SIZE - 100, 4096, (p[0] as PieceRef)[2]])), /lies past the end/],
    ['drive shrunk under its pieces', crafted(() => undefined, 2 * MiB), /lies past the end of the 2097152-byte drive/],
    ['overlap', crafted((p) => ((p[1] as PieceRef)[0] = 100)), /overlaps or precedes/],
    ['out of order', crafted((p) => p.reverse()), /overlaps or precedes/],
    ['empty', crafted((p) => ((p[last] as PieceRef)[1] = 0)), /bad length/],
    ['longer than a piece', crafted((p) => ((p[last] as PieceRef)[1] = PIECE + 1)), /bad length/],
    ['not a number', crafted((p) => ((p[0] as unknown as unknown[])[0] = 1e300)), /past the end|overlaps|bad/],
  ];
  for (const [what, idx, re] of cases) assert.throws(() => openGenerationSource(folder, idx), re, what);
});

test('a missing or damaged piece fails the reads that need it, naming it; other reads still work', async () => {
  const folder = fresh();
  const drive = sampleDrive();
  const index = storeSample(folder, drive);
  const want = stored(drive);
  const [, , gone] = index.pieces.at(2) as PieceRef; // drive bytes 1 MiB + PIECE .. + 2 PIECE
  const [, , bad] = index.pieces.at(4) as PieceRef;
  fs.rmSync(piecePath(folder, gone));
  fs.copyFileSync(piecePath(folder, (index.pieces.at(5) as PieceRef)[2]), piecePath(folder, bad));
  const src = openGenerationSource(folder, index);
  try {
    await assert.rejects(src.read(MiB + PIECE + 10, 10), (err: Error) => err.message.includes(`piece ${gone} is missing`) && err.message.includes(`${MiB + PIECE} to ${MiB + 2 * PIECE}`));
    await assert.rejects(src.read(MiB + 3 * PIECE, 2 * PIECE), (err: Error) => err.message.includes(`piece ${bad}`) && /SHA-256/.test(err.message));
    assert.ok((await src.read(0, 12288)).equals(want.subarray(0, 12288)));
    assert.ok((await src.read(MiB, PIECE)).equals(want.subarray(MiB, MiB + PIECE)));
    assert.ok((await src.read(4 * MiB, MiB)).equals(Buffer.alloc(MiB)), 'free space needs no piece');
  } finally {
    await src.close();
  }
});
