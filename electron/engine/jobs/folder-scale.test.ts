import { after, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

/**
 * A backup folder of a large drive: a generation of 7 million pieces (427
 * GiB in use, in 64 KiB pieces). Its index as schema 2 stored the names in
 * the index, 300 MB of JSON, which the reader refused (256 MiB at most), so
 * the generation a backup had just written could not be restored; and each
 * piece took about 150 bytes of heap as [offset, length, hex name], 2 GB
 * for one such list. Here two such generations are written, listed, read
 * back and pruned in a process whose heap is held to 64 MiB
 * (testing/folder-scale-child.ts): piece lists and name sets live in
 * typed arrays, outside it.
 */

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'imprint-folder-scale-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));

const COUNT = 7_000_000;
const PIECE = 64 << 10;

test('two generations of 7 million pieces each are written, listed, read back and pruned with a 64 MiB heap', () => {
  const folder = path.join(root, 'folder');
  const child = path.join(__dirname, '..', 'testing', 'folder-scale-child.js');
  const out = execFileSync(process.execPath, ['--max-old-space-size=64', child, folder, String(COUNT)], { encoding: 'utf8', maxBuffer: 1 << 20 });
  const r = JSON.parse(out.trim().split('\n').pop() as string) as {
    listed: { id: string; error: string | null; storedBytes: number }[];
    readBack: { pieces: number; last: [number, number, string]; fifth: string };
    pruned: { kept: string[]; removed: string[]; piecesRemoved: number };
    after: string[];
    stored: { kept: string; dropped: string; never: string };
  };
  assert.deepEqual(
    r.listed.map((g) => [g.error, g.storedBytes]),
    [
      [null, COUNT * PIECE],
      [null, COUNT * PIECE],
    ],
    'both generations list, without error',
  );
  assert.equal(r.readBack.pieces, COUNT);
  assert.deepEqual(r.readBack.last, [(1 << 20) + (COUNT - 1) * PIECE, PIECE, r.stored.kept], 'the last piece is where the cut puts it, under its name');
  assert.equal(r.readBack.fifth, r.stored.kept);
  assert.deepEqual(r.pruned.removed, ['20261207T010000Z-000001']);
  assert.deepEqual(r.after, ['20261207T020000Z-000002']);
  assert.equal(r.pruned.piecesRemoved, 2, 'the piece only the pruned generation named, and the one none named');
  const files = fs.readdirSync(path.join(folder, 'pieces'), { recursive: true }).map(String).filter((f) => f.endsWith('.zst'));
  assert.deepEqual(files.map((f) => path.basename(f, '.zst')), [r.stored.kept], 'the piece the kept generation names stays');
  assert.deepEqual(fs.readdirSync(path.join(folder, 'generations')).sort(), ['20261207T020000Z-000002.json', '20261207T020000Z-000002.names'], "the pruned generation's names file went with its index");
});

test('a schema 2 generation of 7 million pieces, as older Imprints wrote them (a 299 MB index), reads back', () => {
  const folder = path.join(root, 'schema2');
  const child = path.join(__dirname, '..', 'testing', 'folder-scale-child.js');
  const out = execFileSync(process.execPath, [child, folder, String(COUNT), 'schema2'], { encoding: 'utf8', maxBuffer: 1 << 20 });
  const r = JSON.parse(out.trim().split('\n').pop() as string) as { indexBytes: number; pieces: number; same: boolean };
  assert.ok(r.indexBytes > 256 << 20, `the index is ${r.indexBytes} bytes: more than this reader took before`);
  assert.equal(r.pieces, COUNT);
  assert.equal(r.same, true, 'the same names, in the same order');
});
