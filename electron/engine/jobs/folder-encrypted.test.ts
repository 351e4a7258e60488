import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { exitCodeFor } from '../../../shared/error-codes';
import { ImprintError } from '../errors';
import { verifyFolder, listFolder } from './folder-verify';
import { pruneFolder } from './folder-prune';
import { exportGeneration } from './folder-export';
import { SAMPLE_SIZE, sampleDrive, storeSample } from '../testing/backup-folder-samples';
import { FolderKeys } from '../formats/backup-folder/folder-crypto';
import { unlockFolder } from '../formats/backup-folder/folder-keys';
import { MARKER_FILE, openFolder, piecePath } from '../formats/backup-folder/folder-layout';
import { generationContent } from '../formats/backup-folder/generation-content';
import { readGeneration, type GenerationIndex, type PieceRef } from '../formats/backup-folder/generation-index';
import { sha256Hex } from '../formats/backup-folder/piece-store';

/**
 * Encrypted backup folders without a drive (the CLI test drives a real one):
 * keys from a passphrase, a wrong one refused before anything is read, sealed
 * pieces and indexes that refuse tampering, swapping and renaming, names that
 * are keyed hashes, and a crafted marker's scrypt cost bounded.
 */

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'imprint-bfc-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));
const PASS = 'correct horse battery staple';
const folder = path.join(root, 'enc');
const plain = path.join(root, 'plain');
const drive = sampleDrive();
let keys: FolderKeys;
let index: GenerationIndex;

const files = (dir: string): string[] =>
  fs.readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));

before(() => {
  const made = FolderKeys.create(PASS);
  keys = made.keys;
  index = storeSample(folder, drive, '20261206T070000Z-000001', { secret: made });
  storeSample(plain, drive);
});

test('an encrypted generation reads back as the plain one; its pieces are sealed under keyed names', async () => {
  const back = readGeneration(folder, index.id, unlockFolder(folder, PASS));
  assert.deepEqual(back, index);
  const parts: Buffer[] = [];
  for await (const b of generationContent(folder, back, undefined, keys)) parts.push(Buffer.from(b));
  const image = Buffer.concat(parts);
  assert.equal(image.length, SAMPLE_SIZE);
  assert.equal(sha256Hex(image.subarray(0, 12288)), sha256Hex(drive.subarray(0, 12288)));
  assert.ok(image.subarray(1 << 20, 3 << 20).equals(drive.subarray(1 << 20, 3 << 20)));
  const plainIndex = readGeneration(plain, index.id);
  const plainNames = new Set([...plainIndex.pieces].map((p) => p[2]));
  assert.equal(index.pieces.length, plainIndex.pieces.length);
  assert.ok([...index.pieces].every((p) => !plainNames.has(p[2])), 'no piece is named by its SHA-256');
  for (const [, , h] of index.pieces) assert.ok(fs.existsSync(piecePath(folder, h, true)), `${h}.enc exists`);
  const marker = openFolder(folder);
  assert.equal(marker.schema, 2);
  assert.equal(marker.encryption?.kdf.N, 1 << 17);
});

test('no stored byte of the drive is readable in the encrypted folder (random data does not compress, so plain pieces would hold it)', () => {
  // 32-byte samples of the drive's data, taken across both stored ranges.
  const probes = [0, 4000, 12288 - 32, (1 << 20) + 5, (2 << 20) + 77777].map((o) => drive.subarray(o, o + 32));
  const holds = (dir: string): boolean => files(dir).some((f) => probes.some((p) => fs.readFileSync(f).includes(p)));
  assert.ok(holds(plain), 'the plain folder holds them (the probe can find data)');
  assert.ok(!holds(folder), 'the encrypted folder does not');
  const indexText = fs.readFileSync(path.join(folder, 'generations', `${index.id}.json`), 'utf8');
  assert.ok(!indexText.includes(index.metadata.sha256) && !indexText.includes('/dev/test'), 'the index hides the drive and its checksums');
});

test('a wrong or missing passphrase is refused with its own code before anything else is read', () => {
  assert.throws(() => unlockFolder(folder, 'Correct horse battery staple'), (e: unknown) => e instanceof ImprintError && e.code === 'E_WRONG_PASSPHRASE' && e.message.includes(folder));
  assert.equal(exitCodeFor('E_WRONG_PASSPHRASE'), 3);
  assert.throws(() => listFolder(folder), (e: unknown) => e instanceof ImprintError && e.code === 'E_PASSPHRASE_NEEDED');
  const before = files(folder).map((f) => [f, fs.statSync(f).mtimeMs]);
  assert.throws(() => pruneFolder(folder, { keepLast: 1 }, 'nope'), (e: unknown) => e instanceof ImprintError && e.code === 'E_WRONG_PASSPHRASE');
  assert.deepEqual(files(folder).map((f) => [f, fs.statSync(f).mtimeMs]), before, 'prune with a wrong passphrase changed nothing (not even the lock)');
  assert.equal(unlockFolder(plain, 'anything'), null, 'a plain folder needs no passphrase');
});

test('swapped pieces and a renamed index fail authentication; verify reports them as damaged', async () => {
  const dir = fs.mkdtempSync(path.join(root, 'swap-'));
  fs.cpSync(folder, dir, { recursive: true });
  const [a, b] = [index.pieces.at(1), index.pieces.at(2)] as [PieceRef, PieceRef];
  // Same length, so only the AAD's name tells them apart.
  assert.equal(a[1], b[1]);
  const fa = piecePath(dir, a[2], true);
  const fb = piecePath(dir, b[2], true);
  const tmp = fs.readFileSync(fa);
  fs.copyFileSync(fb, fa);
  fs.writeFileSync(fb, tmp);
  const r = await verifyFolder(dir, { passphrase: PASS });
  assert.equal(r.ok, false);
  assert.deepEqual(r.problems.map((p) => [p.hash, p.problem]).sort(), [[a[2], 'damaged'], [b[2], 'damaged']].sort());
  assert.ok(r.problems.every((p) => /fails authentication/.test(p.detail) && p.affects[0]?.id === index.id));
  // An index moved under another generation's name does not authenticate as that generation.
  const other = '20261206T080000Z-000002';
  fs.copyFileSync(path.join(dir, 'generations', `${index.id}.json`), path.join(dir, 'generations', `${other}.json`));
  const r2 = await verifyFolder(dir, { passphrase: PASS });
  assert.deepEqual(r2.damagedIndexes.map((d) => d.id), [other]);
  assert.match(r2.damagedIndexes[0]?.error ?? '', /fails authentication/);
});

test('a crafted marker cannot ask for an unbounded scrypt cost', () => {
  const dir = fs.mkdtempSync(path.join(root, 'crafted-'));
  fs.cpSync(folder, dir, { recursive: true });
  const m = JSON.parse(fs.readFileSync(path.join(dir, MARKER_FILE), 'utf8')) as { encryption: { kdf: { N: number } } };
  m.encryption.kdf.N = 2 ** 30;
  fs.writeFileSync(path.join(dir, MARKER_FILE), JSON.stringify(m));
  assert.throws(() => unlockFolder(dir, PASS), (e: unknown) => e instanceof ImprintError && e.code === 'E_NOT_A_BACKUP');
});

test('export of an encrypted generation is the plain standard file; prune removes an encrypted folder\'s unused pieces', async () => {
  const dir = fs.mkdtempSync(path.join(root, 'prune-'));
  fs.cpSync(folder, path.join(dir, 'f'), { recursive: true });
  const f = path.join(dir, 'f');
  const out = path.join(dir, 'g1.img.zst');
  const r = await exportGeneration(`${f}#1`, out, { passphrase: PASS });
  assert.equal(r.sha256, index.metadata.sha256);
  assert.equal(fs.readFileSync(out).readUInt32LE(0), 0xfd2fb528, 'a zstd file, not a sealed one');
  const sealed = (): number => files(path.join(f, 'pieces')).filter((x) => x.endsWith('.enc')).length;
  const first = sealed();
  storeSample(f, sampleDrive(), '20261206T090000Z-000002', { secret: { record: openFolder(f).encryption as NonNullable<ReturnType<typeof openFolder>['encryption']>, keys } });
  assert.ok(sealed() > first);
  const pruned = pruneFolder(f, { keepLast: 1 }, PASS);
  assert.deepEqual(pruned.removed, [index.id]);
  assert.equal(pruned.piecesRemoved, first, 'every piece only the first generation used is gone (random drives share none)');
  assert.equal(sealed(), first, 'the second drive\'s pieces are kept');
  assert.equal((await verifyFolder(f, { passphrase: PASS })).ok, true);
});
