import { after, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ImprintError } from '../errors';
import { GENERATIONS_DIR, LOCK_FILE, piecePath } from '../formats/backup-folder/folder-layout';
import { generationIds } from '../formats/backup-folder/generation-index';
import { sampleDrive, storeSample } from '../testing/backup-folder-samples';
import { generationsToKeep, pruneFolder } from './folder-prune';
import { verifyFolder } from './folder-verify';

/**
 * Prune: which generations the rules keep (per drive, by count, day and
 * ISO week), and that removing the others deletes exactly the pieces no
 * kept generation names, leaving the kept ones restorable.
 */

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'imprint-prune-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));

test('rules keep the newest N, the newest of each of the last N days and weeks, per drive', () => {
  const g = (id: string, createdAt: string, drive = 'a') => ({ id, createdAt, drive });
  const gens = [
    g('1', '2026-11-23T10:00:00Z'), // Monday, ISO week 48
    g('2', '2026-11-29T10:00:00Z'), // Sunday, still week 48
    g('3', '2026-11-30T09:00:00Z'), // Monday, week 49
    g('4', '2026-11-30T18:00:00Z'),
    g('5', '2026-12-01T08:00:00Z'),
    g('b1', '2026-11-01T08:00:00Z', 'b'),
  ];
  assert.deepEqual([...generationsToKeep(gens, { keepLast: 2 })].sort(), ['4', '5', 'b1']);
  assert.deepEqual([...generationsToKeep(gens, { keepDaily: 3 })].sort(), ['2', '4', '5', 'b1']);
  assert.deepEqual([...generationsToKeep(gens, { keepWeekly: 2 })].sort(), ['2', '5', 'b1']);
  assert.deepEqual([...generationsToKeep(gens, { keepLast: 1, keepWeekly: 3 })].sort(), ['2', '5', 'b1']);
  // Week 1 of 2027 starts on Monday 2027-01-04; 2027-01-01 (a Friday) is in 2026's week 53.
  assert.deepEqual([...generationsToKeep([g('x', '2026-12-28T00:00:00Z'), g('y', '2027-01-01T00:00:00Z'), g('z', '2027-01-04T00:00:00Z')], { keepWeekly: 5 })].sort(), ['y', 'z']);
});

test('prune removes the other generations and exactly the pieces only they named; the kept ones verify', async () => {
  const folder = path.join(root, 'f');
  const drive = sampleDrive();
  const ids = ['20261201T000000Z-000001', '20261202T000000Z-000002', '20261203T000000Z-000003'];
  const indexes = ids.map((id, i) => {
    // Each generation changes one 256 KiB window: the rest is shared.
    drive.fill(i + 1, (1 << 20) + i * (256 << 10), (1 << 20) + i * (256 << 10) + 4096);
    return storeSample(folder, drive, id, { createdAt: `2026-12-0${i + 1}T00:00:00.000Z` });
  });
  const all = new Set(indexes.flatMap((x) => [...x.pieces].map((p) => p[2])));
  const keptPieces = new Set([...(indexes[2] as (typeof indexes)[number]).pieces].map((p) => p[2]));
  const stray = path.join(folder, 'pieces', 'zz-not-a-piece');
  fs.writeFileSync(stray, 'a person put this here');
  const r = pruneFolder(folder, { keepLast: 1 });
  assert.deepEqual(r.removed, ids.slice(0, 2));
  assert.deepEqual(generationIds(folder), ids.slice(2));
  assert.equal(r.piecesRemoved, [...all].filter((h) => !keptPieces.has(h)).length);
  assert.ok(r.piecesRemoved >= 2);
  for (const h of all) assert.equal(fs.existsSync(piecePath(folder, h)), keptPieces.has(h), `piece ${h.slice(0, 8)}`);
  assert.ok(fs.existsSync(stray), 'a file that is not a piece is never deleted');
  assert.equal((await verifyFolder(folder)).ok, true);
  assert.equal(fs.existsSync(path.join(folder, LOCK_FILE)), false);
  // Nothing more to remove the second time.
  assert.deepEqual(pruneFolder(folder, { keepLast: 1 }).piecesRemoved, 0);
});

test('prune refuses without a rule, while another process holds the folder, and with a damaged index', () => {
  const folder = path.join(root, 'g');
  storeSample(folder, sampleDrive(), '20261201T000000Z-000001');
  assert.throws(() => pruneFolder(folder, {}), /Say what to keep/);
  assert.throws(() => pruneFolder(folder, { keepLast: 0 }), /at least 1/);
  fs.writeFileSync(path.join(folder, LOCK_FILE), JSON.stringify({ pid: process.pid, host: os.hostname(), startedAt: 'now', purpose: 'backup of /dev/sdq' }));
  assert.throws(() => pruneFolder(folder, { keepLast: 1 }), (e: unknown) => e instanceof ImprintError && e.code === 'E_FOLDER_BUSY' && /sdq/.test(e.message));
  fs.rmSync(path.join(folder, LOCK_FILE));
  storeSample(folder, sampleDrive(), '20261202T000000Z-000002');
  fs.writeFileSync(path.join(folder, GENERATIONS_DIR, '20261202T000000Z-000002.json'), '{"kind":"imprint-backup-generation"');
  const before = fs.readdirSync(path.join(folder, 'pieces'), { recursive: true }).length;
  assert.throws(() => pruneFolder(folder, { keepLast: 1 }), /Not pruning .*generation 2/);
  assert.equal(fs.readdirSync(path.join(folder, 'pieces'), { recursive: true }).length, before, 'nothing was deleted');
});
